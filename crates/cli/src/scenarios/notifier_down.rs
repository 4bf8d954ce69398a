//! `notifier-down`: a bad release of alarm-notifier — its configuration no longer loads (the
//! webhook URL was put where the secret's ARN belongs), so every invocation fails at init. A task
//! crashes meanwhile. The notifier cannot tell anyone about itself: only its own alarms (errors,
//! dead-letter queue), whose actions page `oncall` directly, can.
//!
//! What a user cares about: a person learns within minutes that notifications are broken, and
//! the messages that could not be delivered are kept (dead-letter queue), not lost.

use chrono::Duration;
use phoenix_testkit::emulator::Emulator;
use phoenix_testkit::sim::SimError;

use super::runner::{Report, Setup, Sim, Target};

pub async fn run(emulator: &Emulator) -> Result<Report, SimError> {
    let mut sim = Sim::start(
        "notifier-down",
        emulator,
        Setup {
            env: vec![(
                Target::AlarmNotifier,
                "SLACK_WEBHOOK_SECRET_ARN",
                "https://hooks.slack.com/services/T0PHOENIX/B0OPS/pasted-by-mistake",
            )],
            ..Setup::default()
        },
    )
    .await?;
    let broken = sim.broken.contains_key(&Target::AlarmNotifier);
    sim.act("alarm-notifier's new release does not start; then a task crashes");
    sim.run_until(sim.at(2)).await?;
    let crash_at = sim.now;
    sim.crash_a_task().await?;
    sim.run_until(sim.at(20)).await?;

    sim.act("invariants");
    sim.check(
        "(set-up) the bad release breaks alarm-notifier",
        broken,
        "alarm-notifier still starts with a webhook URL in SLACK_WEBHOOK_SECRET_ARN",
    );
    let watching = sim.alarms_on(Target::AlarmNotifier);
    let told = sim.paged_about(&watching).map(|p| p.at - crash_at);
    let unseen: Vec<String> = sim
        .oncall
        .unseen
        .iter()
        .map(|m| {
            format!(
                "{} ({})",
                m.subject,
                m.severity().unwrap_or("no severity attribute")
            )
        })
        .collect();
    sim.check(
        "a person learns within 10 min that notifications are broken (the notifier's own alarms page)",
        told.is_some_and(|d| d <= Duration::minutes(10)),
        format!(
            "paged after {} (alarms on the notifier: {}); filtered out on the way: {}",
            Sim::took(told),
            watching.join(", "),
            if unseen.is_empty() {
                "nothing".to_owned()
            } else {
                unseen.join("; ")
            }
        ),
    );
    let crash_kept = sim
        .facts
        .dead_letters
        .iter()
        .any(|d| d.about.starts_with("notice:task-recovery:"));
    sim.check(
        "the crash's Notice is not lost: it waits in the notifier's dead-letter queue",
        crash_kept,
        format!("{} dead letter(s)", sim.facts.dead_letters.len()),
    );
    sim.figure("time until a person knows", Sim::took(told));
    sim.figure("dead letters", sim.facts.dead_letters.len().to_string());
    Ok(sim.finish())
}
