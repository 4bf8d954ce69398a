//! The stage of the backup end-to-end tests: the schedule's clock, the seeded world, the
//! handler configured for it, ten days of backdated snapshots, and readers of what happened
//! (snapshots, exported objects, Notices, the Outcome's calls).

use std::collections::BTreeMap;

use backup::Backup;
use chrono::{DateTime, Duration, TimeZone, Utc};
use phoenix_core::lambda::load_config;
use phoenix_core::{ActionStatus, Function, Invocation, Notice, Outcome, Vars};
use phoenix_testkit::docdb_clock::SnapshotClock;
use phoenix_testkit::world::{self, read_tap};
use phoenix_testkit::{Emulator, World, WorldSpec, fixture, new_account};
use serde_json::{Value, json};

/// When the world's log lines were written.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 15, 42)
        .single()
        .expect("valid")
}

/// The daily schedule's next firing, and the handler's clock a few seconds later.
pub fn schedule_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 3, 0, 0)
        .single()
        .expect("valid")
}

pub fn now() -> DateTime<Utc> {
    schedule_time() + Duration::seconds(5)
}

pub fn scheduled_event() -> Value {
    let mut event = fixture("scheduled-event.json");
    event["time"] = json!("2026-11-21T03:00:00Z");
    event
}

pub async fn seeded() -> World {
    let spec = WorldSpec::new(&new_account(), "http://127.0.0.1:9/unused", t0());
    World::seed(Emulator::shared(), &spec)
        .await
        .expect("world seeds")
}

pub async fn handler(world: &World, clock: &SnapshotClock, overrides: &[(&str, &str)]) -> Backup {
    let mut env = world.env();
    for (k, v) in overrides {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    let config = load_config::<Backup>(Vars::new(|k| env.get(k).cloned())).expect("config");
    Backup::from_sdk(config, &clock.sdk_config(&world.sdk))
}

pub async fn run(handler: &Backup, payload: Value, now: DateTime<Utc>) -> Outcome {
    handler
        .handle(Invocation::new(payload, now))
        .await
        .expect("handled")
}

/// Creates a manual snapshot of `cluster` and backdates it.
pub async fn old_snapshot(
    world: &World,
    clock: &SnapshotClock,
    cluster: &str,
    id: &str,
    created: DateTime<Utc>,
    tags: &[(&str, &str)],
) {
    clock
        .seed_snapshot(&world.sdk, cluster, id, created, tags)
        .await
        .expect("seed snapshot");
}

/// Ten days of phoenix-ops snapshots (one a day at 03:00, 2026-11-11 .. 2026-11-20) and foreign
/// ones: a DBA's manual snapshot, one named like ours without our tag, and one of another cluster.
pub async fn ten_days_of_snapshots(world: &World, clock: &SnapshotClock) {
    let ours = [("created-by", "phoenix-ops")];
    for day in 11..=20 {
        let created = Utc
            .with_ymd_and_hms(2026, 11, day, 3, 0, 0)
            .single()
            .expect("valid");
        let id = format!("phoenix-ops-phoenix-docdb-2026-11-{day:02}");
        old_snapshot(world, clock, world::DOCDB_CLUSTER, &id, created, &ours).await;
    }
    let month_ago = now() - Duration::days(30);
    old_snapshot(
        world,
        clock,
        world::DOCDB_CLUSTER,
        "dba-before-migration",
        month_ago,
        &[("owner", "dba")],
    )
    .await;
    old_snapshot(
        world,
        clock,
        world::DOCDB_CLUSTER,
        "phoenix-ops-phoenix-docdb-2026-10-01",
        month_ago,
        &[],
    )
    .await;
    aws_sdk_docdb::Client::new(&world.sdk)
        .create_db_cluster()
        .db_cluster_identifier("billing-docdb")
        .engine("aurora-postgresql")
        .master_username("billing")
        .master_user_password("billing-password")
        .send()
        .await
        .expect("second cluster");
    old_snapshot(
        world,
        clock,
        "billing-docdb",
        "phoenix-ops-billing-docdb-2026-10-01",
        month_ago,
        &ours,
    )
    .await;
}

/// Snapshot id → type, for every snapshot in the account.
pub async fn snapshots(world: &World) -> BTreeMap<String, String> {
    aws_sdk_docdb::Client::new(&world.sdk)
        .describe_db_cluster_snapshots()
        .send()
        .await
        .expect("describe")
        .db_cluster_snapshots()
        .iter()
        .map(|s| {
            (
                s.db_cluster_snapshot_identifier()
                    .unwrap_or_default()
                    .to_owned(),
                s.snapshot_type().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

pub async fn objects(world: &World, prefix: &str) -> Vec<String> {
    aws_sdk_s3::Client::new(&world.sdk)
        .list_objects_v2()
        .bucket(&world.bucket)
        .prefix(prefix)
        .send()
        .await
        .expect("list")
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

pub async fn notices(world: &World) -> Vec<Notice> {
    read_tap(&world.sdk, &world.alerts_queue_url, 2)
        .await
        .expect("tap")
        .iter()
        .filter_map(|p| Notice::from_json(&p.message))
        .collect()
}

pub fn calls<'a>(outcome: &'a Outcome, call: &str, status: ActionStatus) -> Vec<&'a str> {
    outcome
        .actions
        .iter()
        .filter(|a| a.call == call && a.status == status)
        .map(|a| a.target.as_str())
        .collect()
}
