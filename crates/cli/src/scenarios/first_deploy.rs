//! `first-deploy`: a new account (Lambda concurrency quota 10) creates the stack before any image
//! exists; 20 minutes later the first image is pushed (scripts/push-app.sh) and people start
//! using the app.
//!
//! What a user cares about: the stack can be created at all; while there is no image nothing is
//! started, nothing pages and the scaler leaves the parked service alone; once the image exists,
//! capacity comes within a stated time; nothing ever looks like a crash loop.

use chrono::Duration;
use phoenix_testkit::emulator::Emulator;
use phoenix_testkit::sim::SimError;
use phoenix_testkit::sim::ecs::Image;
use phoenix_testkit::sim::quota::ConcurrencyQuota;

use super::runner::{Report, Setup, Sim};

pub async fn run(emulator: &Emulator) -> Result<Report, SimError> {
    let mut sim = Sim::start(
        "first-deploy",
        emulator,
        Setup {
            service_tasks: 0,
            params: vec![("AppImageTag", String::new())],
            traffic: 0,
            ..Setup::default()
        },
    )
    .await?;

    sim.act("stack creation in a new account: Lambda concurrency quota 10");
    let quota = ConcurrencyQuota::new_account();
    let created = quota.create_stack(&sim.wiring);
    let reserved: Vec<String> = sim
        .wiring
        .functions
        .iter()
        .filter_map(|f| {
            f.settings
                .reserved_concurrency
                .map(|n| format!("{} {n}", f.settings.logical_id))
        })
        .collect();
    sim.say(format!(
        "the template reserves concurrency for {} (account quota {}, at least {} must stay unreserved)",
        if reserved.is_empty() {
            "no function".to_owned()
        } else {
            reserved.join(", ")
        },
        quota.account,
        quota.min_unreserved
    ));

    sim.act("20 minutes without an image");
    let t0 = sim.t0;
    sim.run_until(sim.at(20)).await?;
    let push_at = sim.now;
    let pages_before = sim.pages_between(t0, push_at).len();
    let launches_before = sim.ecs.launches;
    let changes_before: Vec<String> = sim
        .facts
        .desired_changes
        .iter()
        .filter(|c| c.at < push_at)
        .map(|c| format!("{} set {}→{}", c.actor, c.from, c.to))
        .collect();

    sim.act("the first image is pushed; people start using the app 2 minutes later");
    sim.push_app("1.0.0", Image::Healthy).await?;
    sim.run_until(push_at + Duration::minutes(2)).await?;
    sim.set_traffic(150);
    sim.run_until(sim.at(35)).await?;

    sim.act("invariants");
    sim.check(
        "the stack can be created in an account with a concurrency quota of 10",
        created.is_ok(),
        created.err().unwrap_or_default(),
    );
    sim.check(
        "no page while there is no image",
        pages_before == 0,
        format!("{pages_before} page(s) before the image existed"),
    );
    sim.check(
        "nothing is started while there is no image (desiredCount stays 0, the scaler leaves it alone)",
        launches_before == 0 && changes_before.is_empty(),
        format!(
            "{launches_before} task launch(es); {}",
            if changes_before.is_empty() {
                "no desiredCount change".to_owned()
            } else {
                changes_before.join(", ")
            }
        ),
    );
    let first = sim.capacity_after(push_at, 1);
    sim.check(
        "a task serves within 5 min of the first image",
        first.is_some_and(|d| d <= Duration::minutes(5)),
        format!("first serving task after {}", Sim::took(first)),
    );
    let demand = sim.capacity_after(push_at, 2);
    sim.check(
        "the users' demand (150 req/min, 2 tasks) is served within 8 min of the first image",
        demand.is_some_and(|d| d <= Duration::minutes(8)),
        format!("2 tasks serving after {}", Sim::took(demand)),
    );
    let critical = sim
        .oncall
        .pages
        .iter()
        .filter(|p| p.severity() == Some("critical"))
        .count();
    sim.check(
        "no critical page (there is no crash loop on a first deploy)",
        critical == 0,
        format!("{critical} critical page(s)"),
    );
    sim.figure("time to capacity after the image", Sim::took(first));
    sim.figure("pages before the image", pages_before.to_string());
    sim.figure("launches before the image", launches_before.to_string());
    Ok(sim.finish())
}
