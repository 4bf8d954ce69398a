//! `late-duplicate`: every event and message is delivered twice — the copy 90 s late, so after
//! the ones that follow it, and to another Lambda container. A service task crashes (ECS replaces it),
//! the standalone worker crashes (phoenix-ops restarts it), the CPU alarm fires and recovers.
//!
//! What a user cares about: every effect once — one replacement, one Slack post and one page per
//! message — and Slack's last word on an alarm is its real state.

use chrono::Duration;
use phoenix_testkit::emulator::Emulator;
use phoenix_testkit::sim::SimError;
use phoenix_testkit::sim::delivery::Chaos;

use super::runner::{Report, Setup, Sim};

pub async fn run(emulator: &Emulator) -> Result<Report, SimError> {
    let mut sim = Sim::start(
        "late-duplicate",
        emulator,
        Setup {
            chaos: Chaos::duplicates(Duration::seconds(90)),
            ..Setup::default()
        },
    )
    .await?;
    sim.act("every delivery twice, the second copy 90 s late, to another container");
    sim.run_until(sim.at(2)).await?;
    let crash_at = sim.now;
    sim.crash_a_task().await?;
    sim.run_until(sim.at(4)).await?;
    sim.crash_the_worker().await?;
    sim.run_until(sim.at(6)).await?;
    let (from, until) = (sim.at(6), sim.at(7));
    sim.alb.burn_cpu(from, until, 95.0);
    sim.say("GET /generatecert: one minute of CPU at 95 %");
    sim.run_until(sim.at(16)).await?;

    sim.act("invariants");
    let started = sim.facts.started_tasks.len();
    sim.check(
        "the crashed worker is restarted exactly once",
        started == 1,
        format!("{started} task(s) started by phoenix-ops"),
    );
    let repeats = sim.slack_repeats();
    sim.check(
        "one Slack post per message",
        repeats.is_empty(),
        repeats
            .iter()
            .map(|(about, n)| format!("{about} ×{n}"))
            .collect::<Vec<_>>()
            .join("; "),
    );
    let page_repeats = sim.page_repeats();
    sim.check(
        "one page per message",
        page_repeats.is_empty(),
        page_repeats
            .iter()
            .map(|(about, n)| format!("{about} ×{n}"))
            .collect::<Vec<_>>()
            .join("; "),
    );
    // An alarm identity ends with its state change time (ISO 8601: ordered as text).
    let mut newest_ok: Option<String> = None;
    let mut stale = Vec::new();
    for post in sim
        .facts
        .slack
        .iter()
        .filter(|p| p.about.starts_with("alarm:") && p.about.contains("cpu"))
    {
        let changed = post.about.rsplit_once(":OK:").map(|(_, t)| t.to_owned());
        if let Some(ok) = changed {
            newest_ok = newest_ok.max(Some(ok));
        } else if let (Some((_, alarm)), Some(ok)) =
            (post.about.rsplit_once(":ALARM:"), newest_ok.as_ref())
            && alarm < ok.as_str()
        {
            stale.push(format!(
                "ALARM of {alarm} posted at +{} s after the OK of {ok}",
                (post.at - sim.t0).num_seconds()
            ));
        }
    }
    sim.check(
        "Slack never shows a stale alarm (no ALARM posted after the OK that followed it)",
        stale.is_empty(),
        stale.join("; "),
    );
    let back = sim.capacity_after(crash_at, 2);
    sim.check(
        "capacity is back within 3 min of the service crash",
        back.is_some_and(|d| d <= Duration::minutes(3)),
        format!("after {}", Sim::took(back)),
    );
    let changes = sim.facts.desired_changes.len();
    sim.check(
        "duplicate schedule ticks change nothing at steady load",
        changes == 0,
        format!("{changes} desiredCount change(s)"),
    );
    sim.figure("time to capacity", Sim::took(back));
    Ok(sim.finish())
}
