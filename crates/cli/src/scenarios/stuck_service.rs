//! `stuck-service`: a task crashes (`GET /crash`) and ECS's scheduler does not replace it.
//!
//! What a user cares about: capacity is back within a stated time (task-recovery's re-check after
//! the grace period forces a deployment, once); task-recovery never sits waiting inside an
//! invocation; Slack never says "waiting for ECS" and then nothing; nobody but the scaler touches
//! desiredCount.

use std::time::Duration as StdDuration;

use chrono::Duration;
use phoenix_testkit::emulator::Emulator;
use phoenix_testkit::sim::SimError;

use super::runner::{Report, Setup, Sim, Target};

pub async fn run(emulator: &Emulator) -> Result<Report, SimError> {
    let mut sim = Sim::start("stuck-service", emulator, Setup::default()).await?;
    sim.act("steady service; then ECS's scheduler gets stuck and a task crashes");
    sim.run_until(sim.at(3)).await?;
    sim.ecs.set_stuck(true);
    sim.say("ECS's service scheduler is stuck: it will not replace stopped tasks (until a new deployment)");
    let crash_at = sim.now;
    sim.crash_a_task().await?;
    sim.run_until(sim.at(15)).await?;

    sim.act("invariants");
    let back = sim.capacity_after(crash_at, 2);
    sim.check(
        "capacity is back within 5 min of the crash",
        back.is_some_and(|d| d <= Duration::minutes(5)),
        format!("2 tasks serving again after {}", Sim::took(back)),
    );
    let forced = sim.facts.forced_deployments.clone();
    let early: Vec<i64> = forced
        .iter()
        .filter(|(at, _)| *at < crash_at + Duration::seconds(60))
        .map(|(at, _)| (*at - crash_at).num_seconds())
        .collect();
    sim.check(
        "at most one forced deployment, never before the 60 s grace",
        forced.len() <= 1 && early.is_empty(),
        format!(
            "{} forced deployment(s){}",
            forced.len(),
            if early.is_empty() {
                String::new()
            } else {
                format!(", {early:?} s after the crash")
            }
        ),
    );
    let longest = sim.longest(Target::TaskRecovery);
    sim.check(
        "task-recovery never waits inside an invocation (each run under 10 s)",
        longest < StdDuration::from_secs(10),
        format!("longest run {:.1} s", longest.as_secs_f64()),
    );
    let waiting = sim
        .facts
        .slack
        .iter()
        .rev()
        .find(|p| p.text.to_lowercase().contains("waiting"))
        .map(|p| p.at);
    let answered = waiting.map(|at| sim.capacity_after(at, 2).is_some());
    sim.check(
        "Slack never says \"waiting\" forever: capacity came back after it said so",
        answered != Some(false),
        match waiting {
            Some(at) => format!(
                "Slack said \"waiting\" at +{} s and the service is still short",
                (at - sim.t0).num_seconds()
            ),
            None => String::new(),
        },
    );
    let touched: Vec<String> = sim
        .facts
        .desired_changes
        .iter()
        .filter(|c| !c.actor.starts_with("request-scaler"))
        .map(|c| format!("{} {}→{}", c.actor, c.from, c.to))
        .collect();
    sim.check(
        "desiredCount is left to the scaler",
        touched.is_empty(),
        touched.join(", "),
    );
    sim.figure("time to capacity", Sim::took(back));
    sim.figure("forced deployments", forced.len().to_string());
    sim.figure(
        "longest task-recovery run",
        format!("{:.1} s", longest.as_secs_f64()),
    );
    Ok(sim.finish())
}
