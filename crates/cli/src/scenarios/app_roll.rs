//! `app-roll`: a new version is deployed with a stack update (scripts/push-app.sh) in the middle
//! of a traffic spike the scaler has just answered.
//!
//! What a user cares about: the scaler's count survives the deploy (nothing else owns
//! desiredCount), the service keeps enough capacity through the roll, the new version is out
//! within minutes, and nobody is paged for a routine deploy.

use chrono::Duration;
use phoenix_testkit::emulator::Emulator;
use phoenix_testkit::sim::SimError;
use phoenix_testkit::sim::ecs::{Image, image_tag};

use super::runner::{Report, Setup, Sim};

pub async fn run(emulator: &Emulator) -> Result<Report, SimError> {
    let mut sim = Sim::start("app-roll", emulator, Setup::default()).await?;
    sim.act("steady traffic, then a spike to 800 requests per minute");
    sim.run_until(sim.at(5)).await?;
    let spike_at = sim.now;
    sim.set_traffic(800);
    sim.run_until(sim.at(12)).await?;

    sim.act("a new version is deployed during the spike");
    let scaled_to = sim.ecs.desired;
    let deploy_at = sim.now;
    sim.push_app("1.5.0", Image::Healthy).await?;
    sim.run_until(sim.at(25)).await?;

    sim.act("invariants");
    let others: Vec<String> = sim
        .facts
        .desired_changes
        .iter()
        .filter(|c| !c.actor.starts_with("request-scaler"))
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
        "only request-scaler changes desiredCount (the deploy never resets it)",
        others.is_empty(),
        others.join("; "),
    );
    let from = spike_at + Duration::minutes(4);
    let short: Vec<String> = sim
        .minutes(from, sim.now)
        .iter()
        .filter(|m| m.capacity < m.offered)
        .map(|m| {
            format!(
                "+{} min: {} tasks for {} req",
                (m.minute - sim.t0).num_minutes(),
                m.serving,
                m.offered
            )
        })
        .collect();
    sim.check(
        "capacity never falls below demand from 4 min after the spike began, deploy included",
        short.is_empty(),
        short.join("; "),
    );
    let rolled = sim
        .facts
        .deployment_events
        .iter()
        .find(|(at, name, _)| *at >= deploy_at && name == "SERVICE_DEPLOYMENT_COMPLETED")
        .map(|(at, _, _)| *at - deploy_at);
    let on_new = sim.ecs.image_of(&sim.ecs.task_definition()).map(image_tag) == Some("1.5.0");
    sim.check(
        "the new version is out within 5 min",
        on_new && rolled.is_some_and(|d| d <= Duration::minutes(5)),
        format!("deployment completed after {}", Sim::took(rolled)),
    );
    let after: Vec<String> = sim
        .pages_between(deploy_at, sim.now)
        .iter()
        .map(|p| p.subject.clone())
        .collect();
    sim.check(
        "nobody is paged because of the deploy (no page after it)",
        after.is_empty(),
        format!("{} page(s): {}", after.len(), after.join("; ")),
    );
    let lowest = sim
        .minutes(deploy_at, sim.now)
        .iter()
        .map(|m| m.serving)
        .min()
        .unwrap_or(0);
    sim.figure("scaled to before the deploy", scaled_to.to_string());
    sim.figure("fewest serving tasks during the roll", lowest.to_string());
    sim.figure("time to roll out", Sim::took(rolled));
    Ok(sim.finish())
}
