//! Faults the emulator cannot produce, injected with aws-smithy-mocks: every AWS call the
//! function makes, throttled, answering HTTP 500, and answering its modelled final error; the
//! one-export-per-account limit; failures in the middle of the rotation; paging over 100+
//! snapshots (moto ignores MaxRecords); exports followed across runs.

use std::time::{Duration as StdDuration, Instant};

use aws_sdk_cloudwatchlogs::operation::create_export_task::CreateExportTaskError;
use aws_sdk_cloudwatchlogs::operation::describe_export_tasks::DescribeExportTasksOutput;
use aws_sdk_cloudwatchlogs::types::ExportTaskStatusCode;
use aws_sdk_docdb::operation::delete_db_cluster_snapshot::{
    DeleteDBClusterSnapshotError, DeleteDbClusterSnapshotOutput,
};
use aws_sdk_docdb::operation::describe_db_cluster_snapshots::DescribeDbClusterSnapshotsOutput;
use aws_smithy_mocks::{Rule, mock};
use chrono::Duration;
use phoenix_core::{ActionStatus, Function, Invocation, Outcome, RetryableError, Severity};
use serde_json::json;

use super::mocks::{
    BUCKET, CLUSTER, Call, FakeTable, Fault, Scenario, export_status, meta, mocked, now, scheduled,
    snapshot,
};
use crate::progress::lease_key;

async fn handle(
    mocked: &super::mocks::Mocked,
    payload: serde_json::Value,
) -> Result<Outcome, RetryableError> {
    mocked
        .backup
        .handle(Invocation::new(payload, now()).request_id("req-1"))
        .await
}

fn failed_calls(outcome: &Outcome) -> Vec<&str> {
    outcome
        .actions
        .iter()
        .filter(|a| a.status == ActionStatus::Failed)
        .map(|a| a.call.as_str())
        .collect()
}

/// What a final error of each call leads to: the decision, and a text the Outcome must carry.
fn after_final_error(call: Call) -> (&'static str, &'static str) {
    match call {
        Call::DescribeSnapshots => ("backup-failed", "rotation skipped (snapshots not listed)"),
        Call::ListTags => ("backup-done", "tags unreadable, snapshot kept"),
        Call::CreateSnapshot => ("backup-failed", "snapshot not created"),
        Call::DeleteSnapshot => ("backup-failed", "rotation stopped"),
        Call::CreateExportTask => ("backup-failed", "/ecs/phoenix 2026-11-20 not exported"),
        Call::DescribeExportTasks => ("backup-failed", "not followed"),
        Call::GetLifecycle => ("backup-done", "cannot check the bucket's lifecycle rule"),
        Call::GetObject => ("backup-failed", "ecs-phoenix.json not exported"),
        Call::PutObject => ("backup-failed", "its intent could not be recorded"),
        Call::ListObjects => ("backup-done", "exported objects not listed"),
        Call::PutItem => ("backup-failed", "the run lease could not be taken"),
        Call::GetItem => ("backup-failed", "ledger entry could not be read"),
        Call::UpdateItem => ("backup-done", "progress was not recorded"),
        Call::DeleteItem => ("backup-done", ""),
        Call::Publish => ("backup-done", ""),
    }
}

/// Every call × {throttling, HTTP 500, modelled final error}: a retryable fault fails the
/// invocation (so Lambda retries it) naming the call, except where a retry would repeat what
/// people already saw (the lease release, once the Notice is out); a final one is reported and
/// the run goes on as its rule says. The lease is never left held, whatever failed.
#[tokio::test]
async fn every_call_throttled_failing_with_500_and_with_its_final_error() {
    let mut table = Vec::new();
    for call in Call::ALL {
        for fault in [Fault::Throttling, Fault::ServerError, Fault::Final] {
            let ledger = FakeTable::default();
            let m = mocked(
                Scenario {
                    fault: Some((call, fault)),
                    ..Scenario::default()
                },
                &ledger,
            );
            let result = handle(&m, scheduled()).await;
            let case = format!("{call:?} {fault:?}");
            let retried = result.is_err();
            match (fault, result) {
                (Fault::Throttling | Fault::ServerError, Err(error)) => {
                    assert!(error.0.starts_with(call.label()), "{case}: {error}");
                    assert!(error.0.ends_with("retryable)"), "{case}: {error}");
                }
                (Fault::Throttling | Fault::ServerError, Ok(outcome)) => {
                    // only the release may fail without a retry: the run is over
                    assert_eq!(call, Call::DeleteItem, "{case}: {outcome:#?}");
                    assert_eq!(outcome.decision.as_deref(), Some("backup-done"));
                }
                (Fault::Final, Err(error)) => {
                    panic!("{case}: a final error is not retried: {error}")
                }
                (Fault::Final, Ok(outcome)) => {
                    let (decision, says) = after_final_error(call);
                    assert_eq!(
                        outcome.decision.as_deref(),
                        Some(decision),
                        "{case}: {outcome:#?}"
                    );
                    let text = outcome.to_json().to_string();
                    assert!(text.contains(says), "{case}: {says:?} not in {text}");
                    if call != Call::DeleteItem {
                        assert!(
                            failed_calls(&outcome).contains(&call.label()),
                            "{case}: {:?}",
                            failed_calls(&outcome)
                        );
                    }
                    if matches!(call, Call::PutItem | Call::GetItem) {
                        assert_eq!(
                            m.calls(Call::CreateSnapshot),
                            0,
                            "{case}: nothing done without the lease and the record"
                        );
                    }
                    let succeeded = outcome.metrics.iter().any(|x| x.name == "BackupSucceeded");
                    assert_eq!(
                        succeeded,
                        !matches!(call, Call::CreateSnapshot | Call::PutItem | Call::GetItem),
                        "{case}: the heartbeat counts only a snapshot that exists"
                    );
                }
            }
            if call != Call::DeleteItem {
                assert_eq!(
                    ledger.entry(&lease_key(CLUSTER)),
                    None,
                    "{case}: the lease is released"
                );
            }
            table.push(format!(
                "{:<32} {:<12} {}",
                call.label(),
                format!("{fault:?}"),
                if retried {
                    "retried by Lambda"
                } else {
                    "reported, run goes on"
                }
            ));
        }
    }
    println!("{} fault cases:\n{}", table.len(), table.join("\n"));
    assert_eq!(table.len(), 45);
}

/// A clean scheduled run makes exactly these calls, in this order of kinds.
#[tokio::test]
async fn a_clean_run_makes_the_calls_it_should_and_emits_the_two_heartbeats() {
    let ledger = FakeTable::default();
    let m = mocked(Scenario::default(), &ledger);
    let outcome = handle(&m, scheduled()).await.expect("handled");
    assert_eq!(
        outcome.decision.as_deref(),
        Some("backup-done"),
        "{outcome:#?}"
    );
    let counts: Vec<(Call, usize)> = Call::ALL.iter().map(|c| (*c, m.calls(*c))).collect();
    assert_eq!(
        counts,
        [
            (Call::DescribeSnapshots, 2),
            (Call::ListTags, 5),
            (Call::CreateSnapshot, 1),
            (Call::DeleteSnapshot, 4),
            (Call::CreateExportTask, 2),
            (Call::DescribeExportTasks, 2),
            (Call::GetLifecycle, 1),
            (Call::GetObject, 2),
            (Call::PutObject, 6),
            (Call::ListObjects, 2),
            (Call::PutItem, 2),
            (Call::GetItem, 1),
            (Call::UpdateItem, 2),
            (Call::DeleteItem, 1),
            (Call::Publish, 1),
        ]
    );
    let metrics: Vec<_> = outcome
        .metrics
        .iter()
        .map(|x| (x.name.as_str(), x.value))
        .collect();
    // checkpoints end at 2026-11-21 00:00, now is 03:00:05
    assert_eq!(
        metrics,
        [("BackupSucceeded", 1.0), ("LogExportLagHours", 3.0)]
    );
    let record = ledger
        .entry("backup/phoenix-docdb/run/slot-2026-11-21")
        .expect("the run's record");
    assert!(record.2.contains(r#""stage":"notified""#), "{record:?}");
    assert_eq!(
        ledger.keys(),
        ["backup/phoenix-docdb/run/slot-2026-11-21"],
        "lease released"
    );
}

#[tokio::test]
async fn limit_exceeded_on_create_export_task_injected_stops_cleanly_and_leaves_the_rest() {
    let ledger = FakeTable::default();
    let limit = mock!(aws_sdk_cloudwatchlogs::Client::create_export_task).then_error(|| {
        CreateExportTaskError::generic(meta("LimitExceededException", "Resource limit exceeded."))
    });
    let m = mocked(
        Scenario {
            before: vec![(Call::CreateExportTask, limit)],
            ..Scenario::default()
        },
        &ledger,
    );
    let outcome = handle(&m, json!({"database": false, "reason": "logs only"}))
        .await
        .expect("a limit is not an error");
    assert_eq!(
        outcome.decision.as_deref(),
        Some("backup-partial"),
        "{outcome:#?}"
    );
    assert!(!outcome.has_failures(), "{outcome:#?}");
    assert_eq!(
        m.calls(Call::CreateExportTask),
        1,
        "tried once: the SDK does not retry it"
    );
    assert_eq!(
        m.calls(Call::GetObject),
        2,
        "the second group's checkpoint is read (for the lag heartbeat), its export is not tried"
    );
    let keys: Vec<String> = m.puts().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        ["checkpoints/log-exports/ecs-phoenix.json"],
        "only the intent"
    );
    let left: Vec<_> = outcome
        .actions
        .iter()
        .filter(|a| a.call == "logs:CreateExportTask" && a.status == ActionStatus::Skipped)
        .map(|a| (a.target.as_str(), a.detail.as_deref().unwrap_or_default()))
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert_eq!(left[0].0, "/ecs/phoenix 2026-11-20");
    assert_eq!(left[1].0, "/aws/lambda/phoenix-ops 2026-11-20");
    assert!(
        left[0]
            .1
            .starts_with("left for the next run: another export task is running in the account (LimitExceededException"),
        "{left:?}"
    );
    assert_eq!(outcome.notice.expect("reported").severity, Severity::Info);
    assert_eq!(m.calls(Call::Publish), 1);
}

/// Deletes go oldest first; the one named `failing` fails with `code`.
fn delete_failing_on(failing: &'static str, code: &'static str) -> Rule {
    mock!(aws_sdk_docdb::Client::delete_db_cluster_snapshot)
        .match_requests(move |r| r.db_cluster_snapshot_identifier() == Some(failing))
        .then_error(move || DeleteDBClusterSnapshotError::generic(meta(code, "injected")))
}

fn deleted_ids(outcome: &Outcome) -> Vec<&str> {
    outcome
        .actions
        .iter()
        .filter(|a| a.call == "rds:DeleteDBClusterSnapshot" && a.status == ActionStatus::Done)
        .map(|a| a.target.as_str())
        .collect()
}

#[tokio::test]
async fn a_final_failure_in_the_middle_of_rotation_injected_stops_deleting_and_reports_what_was_kept()
 {
    let ledger = FakeTable::default();
    let m = mocked(
        Scenario {
            env: vec![("LOG_GROUPS", "")],
            before: vec![(
                Call::DeleteSnapshot,
                delete_failing_on(
                    "phoenix-ops-phoenix-docdb-day-09",
                    "InvalidDBClusterSnapshotStateFault",
                ),
            )],
            ..Scenario::default()
        },
        &ledger,
    );
    let outcome = handle(&m, scheduled())
        .await
        .expect("a final failure is reported");
    assert_eq!(m.calls(Call::DescribeSnapshots), 2, "both pages read");
    assert_eq!(deleted_ids(&outcome), ["phoenix-ops-phoenix-docdb-day-10"]);
    assert_eq!(
        m.calls(Call::DeleteSnapshot),
        2,
        "nothing after the failure"
    );
    assert_eq!(outcome.decision.as_deref(), Some("backup-failed"));
    let notice = outcome.notice.expect("reported");
    assert_eq!(notice.severity, Severity::Error);
    assert!(
        notice.title.starts_with("Backup of phoenix-docdb failed: rotation stopped: rds:DeleteDBClusterSnapshot on phoenix-ops-phoenix-docdb-day-09 failed: InvalidDBClusterSnapshotStateFault"),
        "{}",
        notice.title
    );
    assert!(
        notice.summary.contains("kept 2 snapshot(s) it would have deleted (phoenix-ops-phoenix-docdb-day-08, phoenix-ops-phoenix-docdb-day-07)"),
        "{}",
        notice.summary
    );
    assert_eq!(
        m.calls(Call::CreateSnapshot),
        1,
        "the new snapshot was taken first"
    );
}

#[tokio::test]
async fn throttling_in_the_middle_of_rotation_injected_is_retried_and_the_retry_tells_the_whole_run()
 {
    let ledger = FakeTable::default();
    let throttled = || {
        mock!(aws_sdk_docdb::Client::delete_db_cluster_snapshot)
            .match_requests(|r| {
                r.db_cluster_snapshot_identifier() == Some("phoenix-ops-phoenix-docdb-day-09")
            })
            .sequence()
            .error(|| DeleteDBClusterSnapshotError::generic(meta("Throttling", "Rate exceeded")))
            .times(3)
            .build()
    };
    let env = vec![("LOG_GROUPS", "")];
    let first = mocked(
        Scenario {
            env: env.clone(),
            before: vec![(Call::DeleteSnapshot, throttled())],
            ..Scenario::default()
        },
        &ledger,
    );
    let error = handle(&first, scheduled()).await.expect_err("retryable");
    assert!(error.0.contains("Throttling"), "{error}");
    assert_eq!(
        first.calls(Call::DeleteSnapshot),
        4,
        "day 10, then day 9 three times"
    );
    assert!(first.published().is_empty());

    // Lambda's retry (same request id): day 10 is gone, the listing no longer shows it
    let gone =
        mock!(aws_sdk_docdb::Client::describe_db_cluster_snapshots).then_compute_output(|_| {
            DescribeDbClusterSnapshotsOutput::builder()
                .set_db_cluster_snapshots(Some(
                    (1..10)
                        .map(|d| {
                            snapshot(
                                &format!("phoenix-ops-phoenix-docdb-day-{d:02}"),
                                CLUSTER,
                                Duration::days(d) + Duration::hours(1),
                            )
                        })
                        .chain(std::iter::once(snapshot(
                            "phoenix-ops-phoenix-docdb-2026-11-21",
                            CLUSTER,
                            Duration::seconds(60),
                        )))
                        .collect(),
                ))
                .build()
        });
    let retry = mocked(
        Scenario {
            env,
            before: vec![(Call::DescribeSnapshots, gone)],
            ..Scenario::default()
        },
        &ledger,
    );
    let outcome = handle(&retry, scheduled())
        .await
        .expect("the retry finishes");
    assert_eq!(
        retry.calls(Call::CreateSnapshot),
        0,
        "created by the first attempt, not again"
    );
    assert_eq!(deleted_ids(&outcome).len(), 3, "days 9, 8, 7");
    let notice = retry.published().pop().expect("one Notice");
    assert_eq!(
        notice.title,
        "Backup of phoenix-docdb done: snapshot phoenix-ops-phoenix-docdb-2026-11-21 created; 4 old snapshot(s) deleted",
        "the whole run: the snapshot and day 10 came from the first attempt"
    );
}

#[tokio::test]
async fn a_dry_run_makes_no_mutating_call_and_never_touches_the_ledger() {
    let ledger = FakeTable::default();
    let m = mocked(
        Scenario {
            env: vec![("DRY_RUN", "true")],
            ..Scenario::default()
        },
        &ledger,
    );
    let outcome = handle(&m, scheduled()).await.expect("handled");
    for call in [
        Call::CreateSnapshot,
        Call::DeleteSnapshot,
        Call::CreateExportTask,
        Call::PutObject,
        Call::Publish,
        Call::PutItem,
        Call::GetItem,
        Call::UpdateItem,
        Call::DeleteItem,
    ] {
        assert_eq!(m.calls(call), 0, "{call:?}");
    }
    let dry: Vec<_> = outcome
        .actions
        .iter()
        .filter(|a| a.status == ActionStatus::DryRun)
        .map(|a| a.call.as_str())
        .collect();
    assert_eq!(
        dry,
        [
            "rds:CreateDBClusterSnapshot",
            "rds:DeleteDBClusterSnapshot",
            "rds:DeleteDBClusterSnapshot",
            "rds:DeleteDBClusterSnapshot",
            "rds:DeleteDBClusterSnapshot",
            "logs:CreateExportTask",
            "logs:CreateExportTask"
        ]
    );
    assert!(
        outcome.metrics.is_empty(),
        "a dry run backs nothing up: no heartbeat"
    );
}

#[tokio::test]
async fn an_export_is_recorded_before_and_after_it_starts_then_followed_to_completed() {
    let ledger = FakeTable::default();
    let status = mock!(aws_sdk_cloudwatchlogs::Client::describe_export_tasks)
        .sequence()
        .output(|| {
            export_status(
                "task-ecs-phoenix-1795132800000",
                ExportTaskStatusCode::Running,
            )
        })
        .output(|| {
            export_status(
                "task-ecs-phoenix-1795132800000",
                ExportTaskStatusCode::Completed,
            )
        })
        .build();
    let m = mocked(
        Scenario {
            env: vec![("LOG_GROUPS", "/ecs/phoenix")],
            before: vec![(Call::DescribeExportTasks, status)],
            ..Scenario::default()
        },
        &ledger,
    );
    let outcome = handle(&m, json!({"database": false}))
        .await
        .expect("handled");
    assert_eq!(
        m.exports(),
        [("/ecs/phoenix".to_owned(), 1_795_132_800_000)]
    );
    assert_eq!(
        m.calls(Call::DescribeExportTasks),
        2,
        "polled until COMPLETED"
    );
    let bodies: Vec<String> = m.puts().into_iter().map(|(_, b)| b).collect();
    assert_eq!(bodies.len(), 3, "intent, task id, moved: {bodies:?}");
    assert!(
        bodies[0].contains(r#""task_name": "phoenix-ops-ecs-phoenix-2026-11-20""#)
            && !bodies[0].contains("task_id"),
        "{}",
        bodies[0]
    );
    assert!(
        bodies[1].contains(r#""task_id": "task-ecs-phoenix-1795132800000""#),
        "{}",
        bodies[1]
    );
    assert!(
        bodies[2].contains(r#""exported_until": "2026-11-21T00:00:00Z""#)
            && !bodies[2].contains("pending"),
        "{}",
        bodies[2]
    );
    let done = outcome
        .actions
        .iter()
        .find(|a| a.call == "logs:CreateExportTask")
        .expect("export action");
    assert_eq!(done.status, ActionStatus::Done);
    assert!(
        done.detail.as_deref().is_some_and(|d| d.contains(&format!(
            "s3://{BUCKET}/logs/ecs-phoenix/2026-11-20/ (1 object(s), 65 bytes)"
        ))),
        "{done:?}"
    );
}

fn pending_checkpoint(task_id: Option<&str>) -> (String, String) {
    let id = task_id
        .map(|id| format!(r#","task_id":"{id}""#))
        .unwrap_or_default();
    (
        "checkpoints/log-exports/ecs-phoenix.json".to_owned(),
        format!(
            r#"{{"log_group":"/ecs/phoenix","exported_until":"2026-11-19T00:00:00Z",
               "pending":{{"task_name":"phoenix-ops-ecs-phoenix-2026-11-19"{id},
               "window":{{"from":"2026-11-19T00:00:00Z","to":"2026-11-20T00:00:00Z"}}}},
               "updated_at":"2026-11-20T03:04:00Z"}}"#
        ),
    )
}

#[tokio::test]
async fn an_earlier_export_still_running_injected_is_followed_within_the_time_left_never_duplicated()
 {
    let ledger = FakeTable::default();
    let running = mock!(aws_sdk_cloudwatchlogs::Client::describe_export_tasks)
        .match_requests(|r| r.task_id() == Some("t-0"))
        .then_output(|| export_status("t-0", ExportTaskStatusCode::Running));
    let m = mocked(
        Scenario {
            before: vec![(Call::DescribeExportTasks, running)],
            objects: vec![pending_checkpoint(Some("t-0"))],
            ..Scenario::default()
        },
        &ledger,
    );
    let started = Instant::now();
    let outcome = m
        .backup
        .handle(
            Invocation::new(json!({"database": false}), now()).time_left(StdDuration::from_secs(7)),
        )
        .await
        .expect("handled");
    assert!(
        started.elapsed() < StdDuration::from_secs(6),
        "stops at the deadline"
    );
    assert_eq!(
        outcome.decision.as_deref(),
        Some("backup-partial"),
        "{outcome:#?}"
    );
    assert!(
        m.calls(Call::DescribeExportTasks) >= 2,
        "followed while time was left"
    );
    assert_eq!(
        m.calls(Call::CreateExportTask),
        0,
        "never started again, nor the next group's"
    );
    assert_eq!(
        m.calls(Call::GetObject),
        2,
        "the second group is read for the heartbeat"
    );
    assert!(
        m.puts().is_empty(),
        "nothing to record: the task id is in the checkpoint already"
    );
    assert!(!outcome.has_failures());
}

#[tokio::test]
async fn an_earlier_export_found_completed_moves_the_checkpoint_then_exports_the_next_day() {
    let ledger = FakeTable::default();
    let m = mocked(
        Scenario {
            env: vec![("LOG_GROUPS", "/ecs/phoenix")],
            objects: vec![pending_checkpoint(Some("t-0"))],
            ..Scenario::default()
        },
        &ledger,
    );
    let outcome = handle(&m, json!({"database": false}))
        .await
        .expect("handled");
    assert_eq!(
        outcome.decision.as_deref(),
        Some("backup-done"),
        "{outcome:#?}"
    );
    assert_eq!(
        m.exports(),
        [("/ecs/phoenix".to_owned(), 1_795_132_800_000)],
        "only the next day (2026-11-20): the pending one is not exported twice"
    );
    let bodies: Vec<String> = m.puts().into_iter().map(|(_, b)| b).collect();
    assert!(
        bodies[0].contains(r#""exported_until": "2026-11-20T00:00:00Z""#),
        "{}",
        bodies[0]
    );
    assert!(
        bodies
            .last()
            .is_some_and(|b| b.contains(r#""exported_until": "2026-11-21T00:00:00Z""#))
    );
    assert_eq!(
        outcome.notice.expect("notice").title,
        "Backup of phoenix-docdb done: 2 log export(s) exported"
    );
}

#[tokio::test]
async fn an_intent_without_a_task_id_is_looked_up_by_name_and_followed_not_started_again() {
    let ledger = FakeTable::default();
    // CreateExportTask made the task, then the run failed before recording its id
    let list = mock!(aws_sdk_cloudwatchlogs::Client::describe_export_tasks)
        .match_requests(|r| r.task_id().is_none())
        .then_output(|| {
            let task = |id: &str, name: &str| {
                aws_sdk_cloudwatchlogs::types::ExportTask::builder()
                    .task_id(id)
                    .task_name(name)
                    .log_group_name("/ecs/phoenix")
                    .from(1_795_046_400_000)
                    .status(
                        aws_sdk_cloudwatchlogs::types::ExportTaskStatus::builder()
                            .code(ExportTaskStatusCode::Completed)
                            .build(),
                    )
                    .build()
            };
            DescribeExportTasksOutput::builder()
                .export_tasks(task("t-other", "phoenix-ops-ecs-phoenix-2026-11-18"))
                .export_tasks(task("t-lost", "phoenix-ops-ecs-phoenix-2026-11-19"))
                .build()
        });
    let m = mocked(
        Scenario {
            env: vec![("LOG_GROUPS", "/ecs/phoenix")],
            before: vec![(Call::DescribeExportTasks, list)],
            objects: vec![pending_checkpoint(None)],
            ..Scenario::default()
        },
        &ledger,
    );
    let outcome = handle(&m, json!({"database": false}))
        .await
        .expect("handled");
    assert_eq!(
        m.exports(),
        [("/ecs/phoenix".to_owned(), 1_795_132_800_000)],
        "the 19th was found and followed; only the 20th is started"
    );
    let found = outcome
        .actions
        .iter()
        .find(|a| a.call == "logs:DescribeExportTasks")
        .expect("found");
    assert_eq!(found.target, "t-lost");
    assert_eq!(
        outcome.notice.expect("notice").title,
        "Backup of phoenix-docdb done: 2 log export(s) exported"
    );
}

#[tokio::test]
async fn an_intent_whose_task_never_started_is_exported_once() {
    let ledger = FakeTable::default();
    let m = mocked(
        Scenario {
            env: vec![("LOG_GROUPS", "/ecs/phoenix")],
            objects: vec![pending_checkpoint(None)],
            ..Scenario::default()
        },
        &ledger,
    );
    handle(&m, json!({"database": false}))
        .await
        .expect("handled");
    assert_eq!(
        m.exports(),
        [
            ("/ecs/phoenix".to_owned(), 1_795_046_400_000),
            ("/ecs/phoenix".to_owned(), 1_795_132_800_000)
        ]
    );
}

/// Measured figures: calls and time for a rotation over 250 manual snapshots in 3 pages
/// (60 phoenix-ops daily snapshots, 190 of other clusters), with mocked AWS (handler + SDK cost,
/// no network), and the pure rule alone over 1,000 snapshots.
#[tokio::test]
async fn measure_a_rotation_over_250_snapshots_across_three_pages() {
    let describe =
        mock!(aws_sdk_docdb::Client::describe_db_cluster_snapshots).then_compute_output(|req| {
            let all: Vec<_> = (0..60)
                .map(|d| {
                    snapshot(
                        &format!("phoenix-ops-phoenix-docdb-day-{d:02}"),
                        CLUSTER,
                        Duration::days(d) + Duration::hours(1),
                    )
                })
                .chain((0..190).map(|i| {
                    snapshot(
                        &format!("billing-{i:03}"),
                        "billing-docdb",
                        Duration::days(1),
                    )
                }))
                .collect();
            let start: usize = req.marker().and_then(|m| m.parse().ok()).unwrap_or(0);
            let end = (start + 100).min(all.len());
            let page = DescribeDbClusterSnapshotsOutput::builder()
                .set_db_cluster_snapshots(Some(all[start..end].to_vec()));
            if end < all.len() {
                page.marker(end.to_string()).build()
            } else {
                page.build()
            }
        });
    let ledger = FakeTable::default();
    let m = mocked(
        Scenario {
            env: vec![("LOG_GROUPS", "")],
            before: vec![(Call::DescribeSnapshots, describe)],
            ..Scenario::default()
        },
        &ledger,
    );
    let started = Instant::now();
    let outcome = handle(&m, scheduled()).await.expect("handled");
    let elapsed = started.elapsed();
    let docdb = [
        Call::DescribeSnapshots,
        Call::ListTags,
        Call::CreateSnapshot,
        Call::DeleteSnapshot,
    ];
    let calls: usize = docdb.iter().map(|c| m.calls(*c)).sum();
    println!(
        "rotation over 250 manual snapshots (60 ours): {calls} DocumentDB calls = {} pages + {} ListTagsForResource + {} create + {} delete; handler {} ms with mocked AWS",
        m.calls(Call::DescribeSnapshots),
        m.calls(Call::ListTags),
        m.calls(Call::CreateSnapshot),
        m.calls(Call::DeleteSnapshot),
        elapsed.as_millis()
    );
    assert_eq!(m.calls(Call::DescribeSnapshots), 3);
    assert_eq!(
        m.calls(Call::ListTags),
        54,
        "53 candidates + the newest available"
    );
    assert_eq!(m.calls(Call::DeleteSnapshot), 53);
    assert_eq!(outcome.decision.as_deref(), Some("backup-done"));
    assert_eq!(outcome.observed["snapshots"]["manual_in_region"], 250);

    let snapshots: Vec<crate::rotation::SnapshotInfo> = (0..1000)
        .map(|i| crate::rotation::SnapshotInfo {
            id: format!("phoenix-ops-phoenix-docdb-{i:04}"),
            arn: String::new(),
            cluster: CLUSTER.into(),
            kind: crate::rotation::SnapshotType::Manual,
            status: crate::rotation::SnapshotStatus::Available,
            created: Some(now() - Duration::hours(i)),
            tags: Some([("created-by".to_owned(), "phoenix-ops".to_owned())].into()),
        })
        .collect();
    let policy = crate::rotation::SnapshotRetention {
        retention: Duration::days(7),
    };
    let started = Instant::now();
    let plan = crate::rotation::plan_rotation(&snapshots, CLUSTER, now(), policy, 1);
    println!(
        "plan_rotation over 1000 snapshots: {} µs ({} to delete)",
        started.elapsed().as_micros(),
        plan.deletions()
    );
    assert_eq!(plan.deletions(), 1000 - 169);
}

#[tokio::test]
async fn deletes_run_oldest_first_and_only_for_our_prefix() {
    let ledger = FakeTable::default();
    let m = mocked(
        Scenario {
            env: vec![("LOG_GROUPS", "")],
            ..Scenario::default()
        },
        &ledger,
    );
    let outcome = handle(&m, scheduled()).await.expect("handled");
    assert_eq!(
        deleted_ids(&outcome),
        [
            "phoenix-ops-phoenix-docdb-day-10",
            "phoenix-ops-phoenix-docdb-day-09",
            "phoenix-ops-phoenix-docdb-day-08",
            "phoenix-ops-phoenix-docdb-day-07"
        ]
    );
    let prefix = crate::rotation::snapshot_prefix(CLUSTER);
    for action in outcome
        .actions
        .iter()
        .filter(|a| a.call.starts_with("rds:") && a.call != "rds:DescribeDBClusterSnapshots")
    {
        assert!(
            action.target.starts_with(&prefix) || action.status != ActionStatus::Done,
            "{action:?}"
        );
    }
    let _ = DeleteDbClusterSnapshotOutput::builder().build();
}
