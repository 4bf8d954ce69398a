//! `parked-by-person`: at night a person parks the service (desiredCount 0); later they unpark it
//! (desiredCount 2) as traffic returns.
//!
//! What a user cares about: a parked service stays parked — nobody else owns desiredCount while
//! it is at 0, and nothing pages; once unparked, the scaler follows demand again.

use chrono::Duration;
use phoenix_testkit::emulator::Emulator;
use phoenix_testkit::sim::SimError;

use super::runner::{Report, Setup, Sim};

pub async fn run(emulator: &Emulator) -> Result<Report, SimError> {
    let mut sim = Sim::start(
        "parked-by-person",
        emulator,
        Setup {
            service_tasks: 1,
            traffic: 40,
            ..Setup::default()
        },
    )
    .await?;
    sim.act("a quiet night; a person parks the service");
    sim.run_until(sim.at(8)).await?;
    let park_at = sim.now;
    sim.say("person: parks the service for the night (UpdateService desiredCount 0)");
    sim.person_sets_desired(0).await?;
    sim.run_until(sim.at(23)).await?;

    sim.act("morning: the person unparks it as traffic returns");
    let unpark_at = sim.now;
    sim.set_traffic(300);
    sim.say("person: unparks the service (UpdateService desiredCount 2)");
    sim.person_sets_desired(2).await?;
    sim.run_until(sim.at(33)).await?;

    sim.act("invariants");
    let others: Vec<String> = sim
        .facts
        .desired_changes
        .iter()
        .filter(|c| c.at >= park_at && c.at < unpark_at && c.actor != "person")
        .map(|c| {
            format!(
                "{} set {}→{} at +{} s",
                c.actor,
                c.from,
                c.to,
                (c.at - sim.t0).num_seconds()
            )
        })
        .collect();
    sim.check(
        "a parked service stays parked: nobody else changes desiredCount",
        others.is_empty(),
        others.join("; "),
    );
    let pages: Vec<String> = sim
        .pages_between(park_at, unpark_at)
        .iter()
        .map(|p| p.subject.clone())
        .collect();
    sim.check(
        "nothing pages while the service is parked",
        pages.is_empty(),
        pages.join("; "),
    );
    let served = sim.capacity_after(unpark_at, 3);
    sim.check(
        "once unparked, the scaler follows demand: 3 tasks for 300 req/min within 6 min",
        served.is_some_and(|d| d <= Duration::minutes(6)),
        format!("3 tasks serving after {}", Sim::took(served)),
    );
    sim.figure("time to capacity after unparking", Sim::took(served));
    Ok(sim.finish())
}
