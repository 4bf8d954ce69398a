//! backup end to end: the real handler against the emulator's DocumentDB (moto, `aurora-postgresql`
//! engine), CloudWatch Logs (CreateExportTask really writes to S3), S3 and SNS.
//!
//! Emulator gap filled in the harness, visibly: moto stamps snapshots with the real clock, so the
//! "ten days of older snapshots" are created now and **backdated** through
//! `phoenix_testkit::docdb_clock::SnapshotClock` (DescribeDBClusterSnapshots answers rewritten).
//! moto ignores DescribeDBClusterSnapshots' MaxRecords (one page, no Marker): paging is covered
//! by the aws-smithy-mocks tests in `crates/backup/src/tests/faults.rs`; a 500 after each call,
//! then Lambda's retry, is the emulator matrix in `crates/backup/src/tests/half_done.rs`.
//!
//! The ledger table (`LEDGER_TABLE`: the run lease and the run records) is the world's.

mod stage;

use std::time::Instant;

use chrono::Duration;
use phoenix_core::{ActionStatus, Function, Invocation, Severity};
use phoenix_testkit::docdb_clock::SnapshotClock;
use phoenix_testkit::world;
use serde_json::{Value, json};

use stage::{
    calls, handler, notices, now, objects, old_snapshot, run, schedule_time, scheduled_event,
    seeded, snapshots, ten_days_of_snapshots,
};

#[tokio::test]
async fn a_scheduled_run_snapshots_rotates_exports_and_a_second_delivery_creates_nothing() {
    let world = seeded().await;
    let clock = SnapshotClock::default();
    ten_days_of_snapshots(&world, &clock).await;
    let backup = handler(&world, &clock, &[]).await;

    let outcome = run(&backup, scheduled_event(), now()).await;
    assert_eq!(
        outcome.decision.as_deref(),
        Some("backup-done"),
        "{:#?}",
        outcome
    );

    // The slot's snapshot, tagged.
    let after = snapshots(&world).await;
    let today = "phoenix-ops-phoenix-docdb-2026-11-21";
    assert_eq!(
        after.get(today).map(String::as_str),
        Some("manual"),
        "{after:?}"
    );
    assert_eq!(
        calls(&outcome, "rds:CreateDBClusterSnapshot", ActionStatus::Done),
        [today]
    );
    let docdb = aws_sdk_docdb::Client::new(&world.sdk);
    let arn = format!(
        "arn:aws:rds:{}:{}:cluster-snapshot:{today}",
        world.region, world.account
    );
    let tags = docdb
        .list_tags_for_resource()
        .resource_name(&arn)
        .send()
        .await
        .expect("tags");
    assert!(
        tags.tag_list()
            .iter()
            .any(|t| t.key() == Some("created-by") && t.value() == Some("phoenix-ops")),
        "{tags:?}"
    );

    // Rotation: older than 7 days (11th..14th at 03:00; the 14th is 7 days and 5 s old) went.
    let mut deleted = calls(&outcome, "rds:DeleteDBClusterSnapshot", ActionStatus::Done);
    deleted.sort_unstable();
    assert_eq!(
        deleted,
        [
            "phoenix-ops-phoenix-docdb-2026-11-11",
            "phoenix-ops-phoenix-docdb-2026-11-12",
            "phoenix-ops-phoenix-docdb-2026-11-13",
            "phoenix-ops-phoenix-docdb-2026-11-14"
        ]
    );
    for gone in &deleted {
        assert!(!after.contains_key(*gone), "{gone} still there");
    }
    for kept in [
        "phoenix-ops-phoenix-docdb-2026-11-15",
        "phoenix-ops-phoenix-docdb-2026-11-20",
        "dba-before-migration",
        "phoenix-ops-phoenix-docdb-2026-10-01",
        "phoenix-ops-billing-docdb-2026-10-01",
    ] {
        assert!(after.contains_key(kept), "{kept} must survive: {after:?}");
    }
    assert!(
        after.values().any(|t| t == "automated"),
        "the automated snapshot survives"
    );

    // Exports: yesterday (the 20th) of both groups, under <prefix>/<group>/<date>/.
    for group in ["ecs-phoenix", "aws-lambda-phoenix-ops"] {
        let found = objects(&world, &format!("logs/{group}/2026-11-20/")).await;
        assert!(
            found.iter().any(|k| k.ends_with(".gz")),
            "exported objects of {group}: {found:?}"
        );
    }
    let ecs_objects = objects(&world, "logs/ecs-phoenix/2026-11-20/").await;
    assert!(
        ecs_objects.len() >= 3,
        "one object per stream: {ecs_objects:?}"
    );
    let checkpoints = objects(&world, "checkpoints/log-exports/").await;
    assert_eq!(
        checkpoints,
        [
            "checkpoints/log-exports/aws-lambda-phoenix-ops.json",
            "checkpoints/log-exports/ecs-phoenix.json"
        ]
    );
    let published = notices(&world).await;
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(published[0].severity, Severity::Info);
    assert!(
        published[0].title.starts_with("Backup of phoenix-docdb done: snapshot phoenix-ops-phoenix-docdb-2026-11-21 created; 4 old snapshot(s) deleted; 2 log export(s) exported"),
        "{}",
        published[0].title
    );

    // The same event delivered again (another container, a minute later): nothing new, and no
    // second Notice: the run's record in the ledger says it was done and reported.
    let objects_before = objects(&world, "logs/").await;
    let again = run(
        &handler(&world, &clock, &[]).await,
        scheduled_event(),
        now() + Duration::minutes(1),
    )
    .await;
    assert_eq!(
        again.decision.as_deref(),
        Some("already-done"),
        "{again:#?}"
    );
    assert!(
        again.reason.as_deref().is_some_and(|r| r.contains(
            "snapshot phoenix-ops-phoenix-docdb-2026-11-21 created; 4 old snapshot(s) deleted; 2 log export(s) exported"
        )),
        "{:?}",
        again.reason
    );
    assert!(again.actions.is_empty(), "{again:#?}");
    assert_eq!(
        snapshots(&world).await,
        after,
        "no new snapshot, nothing else deleted"
    );
    assert_eq!(
        objects(&world, "logs/").await,
        objects_before,
        "no second export"
    );
    assert!(notices(&world).await.is_empty(), "no second Notice");
    assert!(again.metrics.is_empty());
    let heartbeats: Vec<_> = outcome
        .metrics
        .iter()
        .map(|m| (m.name.as_str(), m.value))
        .collect();
    // the checkpoints end at 2026-11-21 00:00; the run is at 03:00:05
    assert_eq!(
        heartbeats,
        [("BackupSucceeded", 1.0), ("LogExportLagHours", 3.0)]
    );
}

#[tokio::test]
async fn a_manual_invoke_with_a_bad_payload_changes_nothing() {
    let world = seeded().await;
    let clock = SnapshotClock::default();
    let before = snapshots(&world).await;
    let backup = handler(&world, &clock, &[]).await;
    for payload in [
        json!({"database": "yes"}),
        json!({"databse": true, "reason": "typo"}),
        json!({"database": false, "logs": false}),
    ] {
        let outcome = run(&backup, payload.clone(), now()).await;
        assert!(
            outcome
                .rejected
                .as_deref()
                .is_some_and(|r| r.starts_with("invalid manual payload")),
            "{payload}: {outcome:?}"
        );
        assert!(outcome.actions.is_empty());
    }
    assert_eq!(snapshots(&world).await, before);
    assert!(
        objects(&world, "")
            .await
            .iter()
            .all(|k| !k.starts_with("logs/") && !k.starts_with("checkpoints/"))
    );
    assert!(notices(&world).await.is_empty());
}

#[tokio::test]
async fn a_dry_run_lists_what_it_would_do_and_changes_nothing() {
    let world = seeded().await;
    let clock = SnapshotClock::default();
    ten_days_of_snapshots(&world, &clock).await;
    let before = snapshots(&world).await;
    let outcome = run(
        &handler(&world, &clock, &[]).await,
        json!({"dry_run": true, "reason": "what would happen?"}),
        now(),
    )
    .await;
    assert!(outcome.dry_run);
    assert_eq!(
        calls(
            &outcome,
            "rds:CreateDBClusterSnapshot",
            ActionStatus::DryRun
        )
        .len(),
        1
    );
    assert_eq!(
        calls(
            &outcome,
            "rds:DeleteDBClusterSnapshot",
            ActionStatus::DryRun
        )
        .len(),
        4
    );
    assert_eq!(
        calls(&outcome, "logs:CreateExportTask", ActionStatus::DryRun).len(),
        2
    );
    assert!(
        outcome
            .actions
            .iter()
            .all(|a| a.status != ActionStatus::Done),
        "{outcome:#?}"
    );
    assert_eq!(snapshots(&world).await, before);
    assert!(objects(&world, "logs/").await.is_empty());
    assert!(objects(&world, "checkpoints/").await.is_empty());
    assert!(notices(&world).await.is_empty(), "no Notice in a dry run");
    assert!(outcome.notice.is_some(), "but it is rendered");
}

#[tokio::test]
async fn an_ad_hoc_manual_backup_gets_its_own_snapshot_and_a_drifted_expiry_is_warned() {
    let world = seeded().await;
    let clock = SnapshotClock::default();
    // Someone changed the bucket's rule to 30 days.
    let s3 = aws_sdk_s3::Client::new(&world.sdk);
    let mut rules = world::seven_day_rule().expect("rule");
    if let Some(rule) = rules.rules.first_mut() {
        rule.expiration = Some(
            aws_sdk_s3::types::LifecycleExpiration::builder()
                .days(30)
                .build(),
        );
    }
    s3.put_bucket_lifecycle_configuration()
        .bucket(&world.bucket)
        .lifecycle_configuration(rules)
        .send()
        .await
        .expect("drift");
    let backup = handler(&world, &clock, &[]).await;
    let mut invocation = Invocation::new(
        json!({"database": true, "logs": true, "reason": "before release 1.5"}),
        now(),
    );
    invocation.request_id = "7f3c9a10-0b1e-4c55-9d7e-2a9b8c7d6e5f".into();
    let outcome = backup.handle(invocation).await.expect("handled");
    let id = "phoenix-ops-phoenix-docdb-manual-20261121-030005-7f3c9a10";
    assert_eq!(
        calls(&outcome, "rds:CreateDBClusterSnapshot", ActionStatus::Done),
        [id]
    );
    assert!(snapshots(&world).await.contains_key(id));
    let published = notices(&world).await;
    assert_eq!(published.len(), 1);
    assert_eq!(
        published[0].severity,
        Severity::Warning,
        "{:?}",
        published[0]
    );
    assert!(
        published[0]
            .title
            .contains("no enabled lifecycle rule expires logs/ within 7 days"),
        "{}",
        published[0].title
    );
    assert!(
        published[0]
            .summary
            .contains("(reason: before release 1.5)")
    );
}

/// Measured figures: a rotation over 120 snapshots against the emulator (one page: moto ignores
/// MaxRecords). Calls are counted from the Outcome (pages, tag reads, creates, deletes).
#[tokio::test]
async fn measure_a_rotation_over_120_snapshots() {
    let world = seeded().await;
    let clock = SnapshotClock::default();
    let ours = [("created-by", "phoenix-ops")];
    for i in 0..120 {
        let created = schedule_time() - Duration::hours(6 * (i + 1));
        let id = format!("phoenix-ops-phoenix-docdb-seed-{i:03}");
        old_snapshot(&world, &clock, world::DOCDB_CLUSTER, &id, created, &ours).await;
    }
    let backup = handler(&world, &clock, &[("LOG_GROUPS", "")]).await;
    let started = Instant::now();
    let outcome = run(&backup, scheduled_event(), now()).await;
    let elapsed = started.elapsed();
    let observed = &outcome.observed["snapshots"];
    let pages = observed["pages"].as_u64().unwrap_or_default();
    let tag_reads = observed["tag_reads"].as_u64().unwrap_or_default();
    let deletes = calls(&outcome, "rds:DeleteDBClusterSnapshot", ActionStatus::Done).len();
    let creates = calls(&outcome, "rds:CreateDBClusterSnapshot", ActionStatus::Done).len();
    println!(
        "rotation over {} manual snapshots: {} calls (describe pages {pages}, ListTagsForResource {tag_reads}, create {creates}, delete {deletes}) + 1 lifecycle read + 1 publish, {} ms against moto",
        observed["manual_in_region"],
        pages as usize + tag_reads as usize + creates + deletes,
        elapsed.as_millis()
    );
    // Ages 6 h .. 30 d (plus 5 s): the 27 within 7 days stay, the 93 older go.
    assert_eq!(deletes, 93, "{outcome:#?}");
    assert_eq!(tag_reads, 94, "candidates + the guard only");
    assert_eq!(snapshots(&world).await.len(), 120 + 2 - 93);
}

/// One run at a time without reserved concurrency: while a manual run holds the lease, the
/// schedule's run does nothing (no snapshot, no export, no checkpoint raced) and says so.
#[tokio::test]
async fn a_scheduled_run_while_a_manual_one_holds_the_lease_does_nothing_and_warns() {
    let world = seeded().await;
    let clock = SnapshotClock::default();
    let backup = handler(&world, &clock, &[]).await;
    let before = snapshots(&world).await;
    // a person's manual run, in another container, holds the lease
    let ledger = phoenix_core::Ledger::new(backup.clients.dynamodb.clone(), &world.ledger_table);
    let lease = backup::progress::lease_key(world::DOCDB_CLUSTER);
    let owner = backup::progress::lease_owner("manual-7f3c9a10", "7f3c9a10");
    let claim = ledger
        .claim(
            &lease,
            &owner,
            now(),
            Duration::minutes(6),
            Duration::minutes(6),
        )
        .await
        .expect("ledger");
    assert_eq!(claim, phoenix_core::Claim::Acquired);

    let outcome = run(&backup, scheduled_event(), now()).await;
    assert_eq!(
        outcome.decision.as_deref(),
        Some("another-run-in-progress"),
        "{outcome:#?}"
    );
    assert!(outcome.actions.is_empty());
    assert_eq!(snapshots(&world).await, before, "no snapshot");
    assert!(objects(&world, "logs/").await.is_empty(), "no export");
    assert!(
        objects(&world, "checkpoints/").await.is_empty(),
        "no checkpoint"
    );
    let published = notices(&world).await;
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(published[0].severity, Severity::Warning);
    assert_eq!(
        published[0].title,
        "Scheduled backup of phoenix-docdb for 2026-11-21 skipped: another run is in progress"
    );

    // the manual run ends: the next delivery runs normally
    ledger.release(&lease, &owner).await.expect("released");
    let outcome = run(&backup, scheduled_event(), now() + Duration::minutes(5)).await;
    assert_eq!(
        outcome.decision.as_deref(),
        Some("backup-done"),
        "{outcome:#?}"
    );
}

/// Validated slots: a scheduled event stamped far in the past (the stale sample) or in the
/// future is ignored with its reason, and nothing at all is created, not even in the ledger.
#[tokio::test]
async fn a_stale_or_future_scheduled_event_creates_nothing() {
    let world = seeded().await;
    let clock = SnapshotClock::default();
    let backup = handler(&world, &clock, &[]).await;
    let before = snapshots(&world).await;
    // read from this checkout (the test kit's `fixture` resolves its own crate's directory)
    let stale: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../events/backup-scheduled-stale.json"
        ))
        .expect("the stale sample"),
    )
    .expect("json");
    let mut future = scheduled_event();
    future["time"] = json!("2026-11-22T03:00:00Z");
    for (event, says) in [
        (stale, "beyond EventBridge's retry horizon"),
        (future, "ahead of the clock"),
    ] {
        let outcome = run(&backup, event, now()).await;
        let ignored = outcome.ignored.as_deref().unwrap_or_default();
        assert!(ignored.contains(says), "{outcome:#?}");
        assert!(outcome.actions.is_empty());
    }
    assert_eq!(snapshots(&world).await, before);
    assert!(
        objects(&world, "")
            .await
            .iter()
            .all(|k| !k.starts_with("checkpoints/"))
    );
    assert!(notices(&world).await.is_empty());
    let ledger = phoenix_core::Ledger::new(backup.clients.dynamodb.clone(), &world.ledger_table);
    let lease = backup::progress::lease_key(world::DOCDB_CLUSTER);
    assert_eq!(ledger.read(&lease, now()).await.expect("ledger"), None);
}
