//! Exports across attempts and runs, with mocked CloudWatch Logs and S3: recorded before and
//! after they start, followed to COMPLETED, continued from the checkpoint (a task id is
//! followed, an intent is looked up by name), one export at a time per account.

use std::time::{Duration as StdDuration, Instant};

use aws_sdk_cloudwatchlogs::operation::create_export_task::CreateExportTaskError;
use aws_sdk_cloudwatchlogs::operation::describe_export_tasks::DescribeExportTasksOutput;
use aws_sdk_cloudwatchlogs::types::ExportTaskStatusCode;
use aws_smithy_mocks::mock;
use phoenix_core::{ActionStatus, Function, Invocation, Severity};
use serde_json::json;

use super::mocks::{BUCKET, Call, FakeTable, Scenario, export_status, handle, meta, mocked, now};

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
