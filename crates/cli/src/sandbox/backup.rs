//! The backup act: the next morning's daily backup runs with ten days of older phoenix-ops
//! snapshots present (and a DBA's own snapshot): a new snapshot, the old ones rotated, the
//! DBA's kept, yesterday's logs exported to S3; the same event delivered again does nothing and
//! says nothing (the run's record in the ledger); while a person's manual backup holds the run
//! lease, a late delivery of the schedule does nothing and warns; then the ad-hoc manual backup
//! "before release 1.5".
//!
//! moto stamps snapshots with the real clock: the older snapshots are backdated in the harness
//! (`phoenix_testkit::docdb_clock::SnapshotClock`), visibly. The ledger table (`LEDGER_TABLE`)
//! is the world's.

use std::collections::BTreeSet;
use std::time::Duration;

use ::backup::Backup;
use chrono::{Days, TimeZone, Utc};
use phoenix_core::lambda::load_config;
use phoenix_core::{ActionStatus, Function, Outcome, Vars};
use phoenix_testkit::docdb_clock::SnapshotClock;
use phoenix_testkit::world;
use serde_json::json;

use super::Stage;

fn targets(outcome: &Option<Outcome>, call: &str, status: ActionStatus) -> Vec<String> {
    outcome
        .iter()
        .flat_map(|o| o.actions.iter())
        .filter(|a| a.call == call && a.status == status)
        .map(|a| a.target.clone())
        .collect()
}

async fn snapshot_ids(backup: &Backup) -> BTreeSet<String> {
    match backup
        .clients
        .docdb
        .describe_db_cluster_snapshots()
        .send()
        .await
    {
        Ok(out) => out
            .db_cluster_snapshots()
            .iter()
            .filter_map(|s| s.db_cluster_snapshot_identifier().map(str::to_owned))
            .collect(),
        Err(_) => BTreeSet::new(),
    }
}

async fn exported(backup: &Backup, bucket: &str) -> Vec<(String, i64)> {
    match backup
        .clients
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix("logs/")
        .send()
        .await
    {
        Ok(out) => out
            .contents()
            .iter()
            .map(|o| {
                (
                    o.key().unwrap_or_default().to_owned(),
                    o.size().unwrap_or(0),
                )
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

pub async fn act(stage: &mut Stage) {
    stage.act("backup");
    stage.say("scenario: the next daily backup at 03:00 with ten days of older snapshots, a repeat delivery, then a manual backup");

    // Scenario time: tomorrow 03:00 UTC (so today's log lines are yesterday's, exportable).
    let today = stage.clock.date_naive();
    let Some(tomorrow) = today.checked_add_days(Days::new(1)) else {
        return stage.check("the backup is staged", false, "date overflow");
    };
    let fire = Utc.from_utc_datetime(&tomorrow.and_hms_opt(3, 0, 0).unwrap_or_default());
    let ahead = (fire - stage.clock).to_std().unwrap_or_default();
    stage.advance(ahead + Duration::from_secs(5));

    // Ten days of older phoenix-ops snapshots, and one a DBA made by hand.
    let clock = SnapshotClock::default();
    let sdk = clock.sdk_config(&stage.world.sdk);
    for days_ago in 1..=10u64 {
        let Some(day) = tomorrow.checked_sub_days(Days::new(days_ago)) else {
            continue;
        };
        let created = Utc.from_utc_datetime(&day.and_hms_opt(3, 0, 0).unwrap_or_default());
        let id = format!(
            "phoenix-ops-{}-{}",
            world::DOCDB_CLUSTER,
            day.format("%Y-%m-%d")
        );
        if let Err(e) = clock
            .seed_snapshot(
                &stage.world.sdk,
                world::DOCDB_CLUSTER,
                &id,
                created,
                &[("created-by", "phoenix-ops")],
            )
            .await
        {
            return stage.check("ten days of snapshots are seeded", false, e);
        }
    }
    let dba = "dba-before-index-rebuild";
    let month_ago = fire - chrono::Duration::days(30);
    if let Err(e) = clock
        .seed_snapshot(
            &stage.world.sdk,
            world::DOCDB_CLUSTER,
            dba,
            month_ago,
            &[("owner", "dba")],
        )
        .await
    {
        return stage.check("the DBA's snapshot is seeded", false, e);
    }
    stage.say(format!(
        "{} holds ten daily phoenix-ops snapshots ({} .. {}) and {dba} (30 days old, not ours)",
        world::DOCDB_CLUSTER,
        tomorrow.checked_sub_days(Days::new(10)).unwrap_or(today),
        today
    ));

    let env = stage.env(&[]);
    let backup = match load_config::<Backup>(Vars::new(|k| env.get(k).cloned())) {
        Ok(config) => Backup::from_sdk(config, &sdk),
        Err(e) => return stage.check("backup starts", false, e),
    };

    // 1. The daily schedule fires.
    let mut event = phoenix_testkit::fixture("scheduled-event.json");
    event["time"] = json!(fire.to_rfc3339());
    event["account"] = json!(stage.world.account);
    stage.say(format!(
        "EventBridge Scheduled Event (daily, {}) → backup",
        fire.format("%Y-%m-%d %H:%M")
    ));
    let first = stage.run(&backup, event.clone()).await.ok();
    let slot_id = format!(
        "phoenix-ops-{}-{}",
        world::DOCDB_CLUSTER,
        tomorrow.format("%Y-%m-%d")
    );
    let after = snapshot_ids(&backup).await;
    let created = targets(&first, "rds:CreateDBClusterSnapshot", ActionStatus::Done);
    stage.check(
        "the daily snapshot is created from the schedule slot",
        created == [slot_id.clone()] && after.contains(&slot_id),
        format!("created {created:?}"),
    );
    let rotated = targets(&first, "rds:DeleteDBClusterSnapshot", ActionStatus::Done);
    let oldest_gone = rotated.iter().all(|id| !after.contains(id)) && rotated.len() == 4;
    stage.check(
        "snapshots older than 7 days are rotated (4 of 10), the rest kept",
        oldest_gone,
        format!("rotated {rotated:?}"),
    );
    stage.check(
        "the DBA's snapshot and the automated one survive",
        after.contains(dba) && after.iter().any(|id| id.starts_with("rds:")),
        format!("{after:?}"),
    );
    let slack = stage.relay_alerts().await;
    stage.check(
        "one info line reaches Slack",
        slack
            .iter()
            .any(|m| m.body.contains("Backup of phoenix-docdb done")),
        format!("{} Slack message(s)", slack.len()),
    );

    // 2. What landed in S3.
    let objects = exported(&backup, &stage.world.bucket).await;
    stage.say(format!(
        "s3://{}/logs/ now holds {} object(s):",
        stage.world.bucket,
        objects.len()
    ));
    for (key, size) in &objects {
        println!("              {key}  ({size} bytes)");
    }
    let day = today.format("%Y-%m-%d").to_string();
    let both = ["ecs-phoenix", "aws-lambda-phoenix-ops"].iter().all(|g| {
        objects
            .iter()
            .any(|(k, _)| k.starts_with(&format!("logs/{g}/{day}/")) && k.ends_with(".gz"))
    });
    stage.check(
        "yesterday's logs of both groups are exported under logs/<group>/<date>/",
        both,
        format!("{} objects", objects.len()),
    );

    // 3. EventBridge delivers the same event again.
    stage.advance(Duration::from_secs(60));
    stage.say("the same Scheduled Event is delivered again (at-least-once delivery)");
    let again = stage.run(&backup, event.clone()).await.ok();
    let unchanged = snapshot_ids(&backup).await == after
        && exported(&backup, &stage.world.bucket).await.len() == objects.len();
    stage.check(
        "a repeated delivery creates nothing new",
        unchanged && targets(&again, "rds:CreateDBClusterSnapshot", ActionStatus::Done).is_empty(),
        "a snapshot or an export was added",
    );
    let decision = again.as_ref().and_then(|o| o.decision.clone());
    let slack = stage.relay_alerts().await;
    stage.check(
        "and says nothing: the run's record says it was done and reported",
        decision.as_deref() == Some("already-done") && slack.is_empty(),
        format!("decision {decision:?}, {} Slack message(s)", slack.len()),
    );

    // 4. The next morning a person's manual backup is still running (another container) when
    //    the schedule fires: one run at a time, without reserved concurrency.
    stage.advance(Duration::from_secs(24 * 3600 - 60));
    let ledger =
        phoenix_core::Ledger::new(backup.clients.dynamodb.clone(), &stage.world.ledger_table);
    let lease = ::backup::progress::lease_key(world::DOCDB_CLUSTER);
    let owner = ::backup::progress::lease_owner("manual-sandbox", "sandbox");
    let held = ledger
        .claim(
            &lease,
            &owner,
            stage.clock,
            chrono::Duration::minutes(6),
            chrono::Duration::minutes(6),
        )
        .await;
    stage.say("a person's manual backup holds the run lease when the next day's schedule fires");
    let mut next_day = event;
    next_day["time"] = json!((fire + chrono::Duration::days(1)).to_rfc3339());
    let skipped = stage.run(&backup, next_day).await.ok();
    let decision = skipped.as_ref().and_then(|o| o.decision.clone());
    let slack = stage.relay_alerts().await;
    stage.check(
        "the scheduled run does nothing while another holds the lease, and warns",
        matches!(held, Ok(phoenix_core::Claim::Acquired))
            && decision.as_deref() == Some("another-run-in-progress")
            && snapshot_ids(&backup).await == after
            && slack
                .iter()
                .any(|m| m.body.contains("skipped: another run is in progress")),
        format!(
            "lease {held:?}, decision {decision:?}, {} Slack message(s)",
            slack.len()
        ),
    );
    let _ = ledger.release(&lease, &owner).await;

    // 5. That manual backup, "before release 1.5" (shown here once the lease is free again).
    stage.advance(Duration::from_secs(60));
    let payload = json!({"database": true, "logs": true, "reason": "before release 1.5"});
    stage.say(format!(
        "aws lambda invoke --function-name backup --payload '{payload}' out.json"
    ));
    let manual = stage.run(&backup, payload).await.ok();
    let manual_ids = targets(&manual, "rds:CreateDBClusterSnapshot", ActionStatus::Done);
    let expected_prefix = format!(
        "phoenix-ops-{}-manual-{}",
        world::DOCDB_CLUSTER,
        stage.clock.format("%Y%m%d-%H")
    );
    stage.check(
        "the manual backup makes its own snapshot",
        manual_ids.len() == 1 && manual_ids[0].starts_with(&expected_prefix),
        format!("{manual_ids:?}"),
    );
    let slack = stage.relay_alerts().await;
    stage.check(
        "Slack says why (the reason in the payload)",
        slack.iter().any(|m| m.body.contains("before release 1.5")),
        format!("{} Slack message(s)", slack.len()),
    );
}
