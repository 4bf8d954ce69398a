//! `slack-outage`: Slack's webhook answers 500 for 10 minutes, then recovers. Meanwhile
//! `GET /generatecert` burns CPU and the CPU peak alarm fires (and later recovers); the failing
//! notifier raises its own errors alarm and, once a message gives up, its dead-letter alarm.
//!
//! What a user cares about: every message arrives once (no Slack duplicate from retries), none is
//! lost (each reached Slack or waits, accounted, in the notifier's dead-letter queue, whose alarm
//! reached a person), and pages still reach people during the outage, once each.

use chrono::Duration;
use phoenix_testkit::emulator::Emulator;
use phoenix_testkit::sim::SimError;

use super::runner::{Report, Setup, Sim, Target};

pub async fn run(emulator: &Emulator) -> Result<Report, SimError> {
    let mut sim = Sim::start("slack-outage", emulator, Setup::default()).await?;
    sim.act("Slack goes down; GET /generatecert burns CPU for 8 minutes");
    sim.run_until(sim.at(1)).await?;
    let down_at = sim.now;
    sim.slack_answers(false);
    let (from, until) = (sim.at(1), sim.at(9));
    sim.alb.burn_cpu(from, until, 95.0);
    sim.say("GET /generatecert in a loop: the service's CPU at 95 % until +9 min");
    sim.run_until(sim.at(11)).await?;
    let up_at = sim.now;
    sim.act("Slack recovers");
    sim.slack_answers(true);
    sim.run_until(sim.at(25)).await?;

    sim.act("invariants");
    let repeats = sim.slack_repeats();
    sim.check(
        "no message is posted to Slack twice",
        repeats.is_empty(),
        repeats
            .iter()
            .map(|(about, n)| format!("{about} ×{n}"))
            .collect::<Vec<_>>()
            .join("; "),
    );
    let mut lost = Vec::new();
    let mut parked = 0;
    let mut distinct: Vec<String> = sim.facts.alerts.iter().map(|a| a.about.clone()).collect();
    distinct.sort();
    distinct.dedup();
    for about in &distinct {
        let posted = sim.facts.slack.iter().any(|p| &p.about == about);
        let dead = sim.facts.dead_letters.iter().any(|d| &d.about == about);
        if dead && !posted {
            parked += 1;
        }
        if !posted && !dead {
            lost.push(about.clone());
        }
    }
    sim.check(
        "none lost: every message reached Slack or waits in the notifier's dead-letter queue",
        lost.is_empty(),
        lost.join("; "),
    );
    let watching = sim.alarms_on(Target::AlarmNotifier);
    let dlq_paged = sim.paged_about(&watching).is_some();
    sim.check(
        "the parked messages are noticed: an alarm on the notifier paged a person",
        sim.facts.dead_letters.is_empty() || dlq_paged,
        format!(
            "{} message(s) parked; a page about the notifier's own alarms ({}): {}",
            sim.facts.dead_letters.len(),
            watching.join(", "),
            if dlq_paged { "yes" } else { "no" }
        ),
    );
    let cpu_alarm = sim
        .facts
        .alarm_changes
        .iter()
        .find(|(_, name, state)| name.contains("cpu") && *state == "ALARM")
        .map(|(at, _, _)| *at);
    let cpu_paged = cpu_alarm.and_then(|at| {
        sim.oncall
            .pages
            .iter()
            .find(|p| p.about.contains("cpu") && p.about.contains(":ALARM:") && p.at >= at)
            .map(|p| p.at - at)
    });
    sim.check(
        "pages reach people during the outage: the CPU alarm pages within 2 min",
        cpu_paged.is_some_and(|d| d <= Duration::minutes(2))
            && cpu_alarm.is_some_and(|a| a < up_at),
        format!("CPU alarm paged after {}", Sim::took(cpu_paged)),
    );
    let page_repeats = sim.page_repeats();
    sim.check(
        "each message pages at most once",
        page_repeats.is_empty(),
        page_repeats
            .iter()
            .map(|(about, n)| format!("{about} ×{n}"))
            .collect::<Vec<_>>()
            .join("; "),
    );
    sim.figure(
        "outage",
        format!(
            "+{} to +{} min",
            (down_at - sim.t0).num_minutes(),
            (up_at - sim.t0).num_minutes()
        ),
    );
    sim.figure("Slack answers 500", sim.facts.slack_failures.to_string());
    sim.figure("messages to alerts", distinct.len().to_string());
    sim.figure("parked in the DLQ", parked.to_string());
    Ok(sim.finish())
}
