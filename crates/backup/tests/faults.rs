//! Faults the emulator cannot produce, injected with aws-smithy-mocks: the one-export-per-account
//! limit, throttling, a failure in the middle of the rotation, and paging over 100+ snapshots
//! (moto ignores MaxRecords). Every mocked client rejects calls no rule expects (aws-smithy-mocks
//! panics on an unmatched request), so "no such call" is asserted by construction, and the call
//! counts are asserted where they matter.

use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use aws_sdk_cloudwatchlogs::operation::create_export_task::{
    CreateExportTaskError, CreateExportTaskOutput,
};
use aws_sdk_cloudwatchlogs::operation::describe_export_tasks::DescribeExportTasksOutput;
use aws_sdk_cloudwatchlogs::types::{ExportTask, ExportTaskStatus, ExportTaskStatusCode};
use aws_sdk_docdb::operation::create_db_cluster_snapshot::CreateDbClusterSnapshotOutput;
use aws_sdk_docdb::operation::delete_db_cluster_snapshot::{
    DeleteDBClusterSnapshotError, DeleteDbClusterSnapshotOutput,
};
use aws_sdk_docdb::operation::describe_db_cluster_snapshots::{
    DescribeDBClusterSnapshotsError, DescribeDbClusterSnapshotsOutput,
};
use aws_sdk_docdb::operation::list_tags_for_resource::ListTagsForResourceOutput;
use aws_sdk_docdb::types::{DbClusterSnapshot, Tag};
use aws_sdk_s3::operation::get_bucket_lifecycle_configuration::GetBucketLifecycleConfigurationOutput;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_s3::types::{
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, Object,
};
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{MockResponse, Rule, RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use backup::{Backup, Clients};
use chrono::{DateTime, Duration, TimeZone, Utc};
use phoenix_core::lambda::load_config;
use phoenix_core::{ActionStatus, Function, Invocation, Severity, Vars};
use serde_json::{Value, json};

const CLUSTER: &str = "phoenix-docdb";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 3, 0, 5)
        .single()
        .expect("valid")
}

fn scheduled() -> Value {
    let text = std::fs::read_to_string(format!(
        "{}/../../events/scheduled-event.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture");
    let mut event: Value = serde_json::from_str(&text).expect("json");
    event["time"] = json!("2026-11-21T03:00:00Z");
    event
}

fn config(overrides: &[(&str, &str)]) -> backup::Config {
    // `Vars::from_pairs` takes the first pair of a name: overrides go first.
    let mut env = overrides.to_vec();
    env.extend_from_slice(&[
        ("DOCDB_CLUSTER_ID", CLUSTER),
        ("BACKUP_BUCKET", "phoenix-backups-111122223333"),
        ("LOG_GROUPS", "/ecs/phoenix,/aws/lambda/phoenix-ops"),
        ("EXPORT_LAG_HOURS", "0"),
        (
            "ALERTS_TOPIC_ARN",
            "arn:aws:sns:eu-west-1:111122223333:phoenix-alerts",
        ),
    ]);
    load_config::<Backup>(Vars::from_pairs(&env)).expect("config")
}

fn error_meta(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

fn fast_retries(c: aws_sdk_docdb::config::Builder) -> aws_sdk_docdb::config::Builder {
    c.retry_config(
        RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(StdDuration::from_millis(1)),
    )
}

/// A phoenix-ops snapshot `age` old.
fn ours(id: &str, age: Duration) -> DbClusterSnapshot {
    snapshot(id, CLUSTER, age)
}

fn snapshot(id: &str, cluster: &str, age: Duration) -> DbClusterSnapshot {
    let created = now() - age;
    DbClusterSnapshot::builder()
        .db_cluster_snapshot_identifier(id)
        .db_cluster_snapshot_arn(format!(
            "arn:aws:rds:eu-west-1:111122223333:cluster-snapshot:{id}"
        ))
        .db_cluster_identifier(cluster)
        .snapshot_type("manual")
        .status("available")
        .snapshot_create_time(aws_smithy_types::DateTime::from_secs(created.timestamp()))
        .build()
}

/// Ten daily phoenix-ops snapshots, 1 .. 10 days (plus 1 h) old, over two pages.
fn ten_days_in_two_pages() -> Rule {
    mock!(aws_sdk_docdb::Client::describe_db_cluster_snapshots).then_compute_output(|req| {
        let page = |days: std::ops::Range<i64>| -> Vec<DbClusterSnapshot> {
            days.map(|d| {
                ours(
                    &format!("phoenix-ops-phoenix-docdb-day-{d:02}"),
                    Duration::days(d) + Duration::hours(1),
                )
            })
            .collect()
        };
        match req.marker() {
            None => DescribeDbClusterSnapshotsOutput::builder()
                .set_db_cluster_snapshots(Some(page(1..6)))
                .marker("page-2")
                .build(),
            Some(_) => DescribeDbClusterSnapshotsOutput::builder()
                .set_db_cluster_snapshots(Some(page(6..11)))
                .build(),
        }
    })
}

fn tagged_ours() -> Rule {
    mock!(aws_sdk_docdb::Client::list_tags_for_resource).then_output(|| {
        ListTagsForResourceOutput::builder()
            .tag_list(
                Tag::builder()
                    .key("created-by")
                    .value("phoenix-ops")
                    .build(),
            )
            .build()
    })
}

fn create_ok() -> Rule {
    mock!(aws_sdk_docdb::Client::create_db_cluster_snapshot)
        .then_output(|| CreateDbClusterSnapshotOutput::builder().build())
}

fn publish_ok() -> Rule {
    mock!(aws_sdk_sns::Client::publish)
        .then_output(|| PublishOutput::builder().message_id("m-1").build())
}

fn seven_day_rule() -> Rule {
    mock!(aws_sdk_s3::Client::get_bucket_lifecycle_configuration).then_output(|| {
        GetBucketLifecycleConfigurationOutput::builder()
            .rules(
                LifecycleRule::builder()
                    .id("expire-log-exports-after-7-days")
                    .status(ExpirationStatus::Enabled)
                    .filter(LifecycleRuleFilter::builder().prefix("logs/").build())
                    .expiration(LifecycleExpiration::builder().days(7).build())
                    .build()
                    .expect("rule"),
            )
            .build()
    })
}

fn no_checkpoint() -> Rule {
    mock!(aws_sdk_s3::Client::get_object)
        .then_error(|| GetObjectError::generic(error_meta("NoSuchKey", "no such key")))
}

fn logs_untouched() -> aws_sdk_cloudwatchlogs::Client {
    mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, &[])
}

fn s3_untouched() -> aws_sdk_s3::Client {
    mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[])
}

#[tokio::test]
async fn limit_exceeded_on_create_export_task_injected_stops_cleanly_and_leaves_the_rest() {
    // Only the first group's window may be tried: a call for another group matches no rule.
    let create = mock!(aws_sdk_cloudwatchlogs::Client::create_export_task)
        .match_requests(|r| r.log_group_name() == Some("/ecs/phoenix"))
        .then_error(|| {
            CreateExportTaskError::generic(error_meta(
                "LimitExceededException",
                "Resource limit exceeded.",
            ))
        });
    let logs = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, &[&create]);
    let (lifecycle, get, put) = (
        seven_day_rule(),
        no_checkpoint(),
        mock!(aws_sdk_s3::Client::put_object).then_output(|| PutObjectOutput::builder().build()),
    );
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&lifecycle, &get, &put]);
    let publish = publish_ok();
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&publish]);
    let docdb = mock_client!(aws_sdk_docdb, RuleMode::MatchAny, &[]);
    let backup = Backup::new(
        config(&[]),
        Clients {
            docdb,
            logs,
            s3,
            sns,
        },
    );

    let outcome = backup
        .handle(Invocation::new(
            json!({"database": false, "reason": "logs only"}),
            now(),
        ))
        .await
        .expect("a limit is not an error");
    assert_eq!(
        outcome.decision.as_deref(),
        Some("backup-partial"),
        "{outcome:#?}"
    );
    assert!(!outcome.has_failures(), "{outcome:#?}");
    // The SDK itself retries LimitExceededException (a throttling code to its standard retry
    // mode) 3 times; then the handler stops and never tries the second group (no rule for it).
    assert_eq!(
        create.num_calls(),
        3,
        "one window tried, with the SDK's own retries"
    );
    assert_eq!(
        get.num_calls(),
        1,
        "the second group's checkpoint is not even read"
    );
    assert_eq!(put.num_calls(), 0, "no checkpoint moves");
    let left: Vec<_> = outcome
        .actions
        .iter()
        .filter(|a| a.call == "logs:CreateExportTask" && a.status == ActionStatus::Skipped)
        .map(|a| (a.target.as_str(), a.detail.as_deref().unwrap_or_default()))
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert_eq!(left[0].0, "/ecs/phoenix 2026-11-20");
    assert!(
        left[0]
            .1
            .starts_with("left for the next run: another export task is running"),
        "{left:?}"
    );
    let notice = outcome.notice.expect("reported");
    assert_eq!(notice.severity, Severity::Info);
    assert_eq!(publish.num_calls(), 1);
}

#[tokio::test]
async fn throttled_describe_db_cluster_snapshots_injected_is_retryable_and_deletes_nothing() {
    let describe = mock!(aws_sdk_docdb::Client::describe_db_cluster_snapshots).then_error(|| {
        DescribeDBClusterSnapshotsError::generic(error_meta("Throttling", "Rate exceeded"))
    });
    let (create, delete) = (
        create_ok(),
        mock!(aws_sdk_docdb::Client::delete_db_cluster_snapshot)
            .then_output(|| DeleteDbClusterSnapshotOutput::builder().build()),
    );
    let docdb = mock_client!(
        aws_sdk_docdb,
        RuleMode::MatchAny,
        &[&describe, &create, &delete],
        fast_retries
    );
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[]);
    let backup = Backup::new(
        config(&[]),
        Clients {
            docdb,
            logs: logs_untouched(),
            s3: s3_untouched(),
            sns,
        },
    );
    let error = backup
        .handle(Invocation::new(scheduled(), now()))
        .await
        .expect_err("retryable");
    assert!(
        error.0.starts_with(
            "rds:DescribeDBClusterSnapshots on manual cluster snapshots failed: Throttling: Rate exceeded"
        ),
        "{error}"
    );
    assert_eq!(describe.num_calls(), 3, "the SDK's own retries first");
    assert_eq!(
        (create.num_calls(), delete.num_calls()),
        (0, 0),
        "nothing changed"
    );
}

/// Deletes go oldest first; the one named `failing` fails with `code`.
fn delete_failing_on(
    failing: &'static str,
    code: &'static str,
    seen: Arc<Mutex<Vec<String>>>,
) -> Rule {
    mock!(aws_sdk_docdb::Client::delete_db_cluster_snapshot).then_compute_response(move |req| {
        let id = req
            .db_cluster_snapshot_identifier()
            .unwrap_or_default()
            .to_owned();
        seen.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(id.clone());
        if id == failing {
            MockResponse::Error(DeleteDBClusterSnapshotError::generic(error_meta(
                code, "injected",
            )))
        } else {
            MockResponse::Output(DeleteDbClusterSnapshotOutput::builder().build())
        }
    })
}

#[tokio::test]
async fn a_final_failure_in_the_middle_of_rotation_injected_stops_deleting_and_reports_what_was_kept()
 {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (describe, tags, create) = (ten_days_in_two_pages(), tagged_ours(), create_ok());
    let delete = delete_failing_on(
        "phoenix-ops-phoenix-docdb-day-09",
        "InvalidDBClusterSnapshotStateFault",
        seen.clone(),
    );
    let docdb = mock_client!(
        aws_sdk_docdb,
        RuleMode::MatchAny,
        &[&describe, &tags, &create, &delete]
    );
    let publish = publish_ok();
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&publish]);
    let backup = Backup::new(
        config(&[("LOG_GROUPS", "")]),
        Clients {
            docdb,
            logs: logs_untouched(),
            s3: mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&seven_day_rule()]),
            sns,
        },
    );
    let outcome = backup
        .handle(Invocation::new(scheduled(), now()))
        .await
        .expect("a final failure is reported, not retried");
    assert_eq!(describe.num_calls(), 2, "both pages read");
    // Planned: days 7..10 (older than 7 days), oldest first. Day 9 fails: days 8 and 7 are kept.
    assert_eq!(
        *seen.lock().expect("seen"),
        [
            "phoenix-ops-phoenix-docdb-day-10",
            "phoenix-ops-phoenix-docdb-day-09"
        ],
        "nothing within retention was ever asked to be deleted, and nothing after the failure"
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
    assert_eq!(publish.num_calls(), 1);
    assert_eq!(create.num_calls(), 1, "the new snapshot was taken first");
}

fn delete_of(
    days: &'static [&'static str],
) -> aws_smithy_mocks::RuleBuilder<
    aws_sdk_docdb::operation::delete_db_cluster_snapshot::DeleteDbClusterSnapshotInput,
    DeleteDbClusterSnapshotOutput,
    DeleteDBClusterSnapshotError,
> {
    mock!(aws_sdk_docdb::Client::delete_db_cluster_snapshot).match_requests(move |r| {
        r.db_cluster_snapshot_identifier()
            .and_then(|id| id.strip_prefix("phoenix-ops-phoenix-docdb-day-"))
            .is_some_and(|d| days.contains(&d))
    })
}

#[tokio::test]
async fn throttling_in_the_middle_of_rotation_injected_is_retryable_and_stops_deleting() {
    let (describe, tags, create) = (ten_days_in_two_pages(), tagged_ours(), create_ok());
    let oldest =
        delete_of(&["10"]).then_output(|| DeleteDbClusterSnapshotOutput::builder().build());
    let throttled = delete_of(&["09"]).then_error(|| {
        DeleteDBClusterSnapshotError::generic(error_meta("Throttling", "Rate exceeded"))
    });
    let after =
        delete_of(&["08", "07"]).then_output(|| DeleteDbClusterSnapshotOutput::builder().build());
    let docdb = mock_client!(
        aws_sdk_docdb,
        RuleMode::MatchAny,
        &[&describe, &tags, &create, &oldest, &throttled, &after],
        fast_retries
    );
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[]);
    let backup = Backup::new(
        config(&[("LOG_GROUPS", "")]),
        Clients {
            docdb,
            logs: logs_untouched(),
            s3: s3_untouched(),
            sns,
        },
    );
    let error = backup
        .handle(Invocation::new(scheduled(), now()))
        .await
        .expect_err("retryable");
    assert!(
        error.0.contains(
            "rds:DeleteDBClusterSnapshot on phoenix-ops-phoenix-docdb-day-09 failed: Throttling"
        ),
        "{error}"
    );
    assert_eq!(oldest.num_calls(), 1);
    assert_eq!(throttled.num_calls(), 3, "the SDK's own retries");
    assert_eq!(after.num_calls(), 0, "no deletion after the failure");
}

#[tokio::test]
async fn dry_run_injected_makes_zero_mutating_calls() {
    let (describe, tags, create) = (ten_days_in_two_pages(), tagged_ours(), create_ok());
    let delete = mock!(aws_sdk_docdb::Client::delete_db_cluster_snapshot)
        .then_output(|| DeleteDbClusterSnapshotOutput::builder().build());
    let docdb = mock_client!(
        aws_sdk_docdb,
        RuleMode::MatchAny,
        &[&describe, &tags, &create, &delete]
    );
    let export = mock!(aws_sdk_cloudwatchlogs::Client::create_export_task)
        .then_output(|| CreateExportTaskOutput::builder().task_id("t").build());
    let logs = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, &[&export]);
    let (lifecycle, get) = (seven_day_rule(), no_checkpoint());
    let put =
        mock!(aws_sdk_s3::Client::put_object).then_output(|| PutObjectOutput::builder().build());
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&lifecycle, &get, &put]);
    let publish = publish_ok();
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&publish]);
    let backup = Backup::new(
        config(&[("DRY_RUN", "true")]),
        Clients {
            docdb,
            logs,
            s3,
            sns,
        },
    );
    let outcome = backup
        .handle(Invocation::new(scheduled(), now()))
        .await
        .expect("handled");
    assert_eq!(
        (
            create.num_calls(),
            delete.num_calls(),
            export.num_calls(),
            put.num_calls(),
            publish.num_calls()
        ),
        (0, 0, 0, 0, 0),
        "a dry run changes nothing and publishes nothing"
    );
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
}

#[tokio::test]
async fn an_export_completes_then_its_checkpoint_is_written() {
    let export = mock!(aws_sdk_cloudwatchlogs::Client::create_export_task)
        .match_requests(|r| {
            r.from() == Some(1_795_132_800_000) && r.to() == Some(1_795_219_199_999)
        })
        .then_output(|| CreateExportTaskOutput::builder().task_id("task-1").build());
    let status = mock!(aws_sdk_cloudwatchlogs::Client::describe_export_tasks)
        .sequence()
        .output(|| export_task("task-1", ExportTaskStatusCode::Running))
        .output(|| export_task("task-1", ExportTaskStatusCode::Completed))
        .build();
    let logs = mock_client!(
        aws_sdk_cloudwatchlogs,
        RuleMode::MatchAny,
        &[&export, &status]
    );
    let written = Arc::new(Mutex::new(Vec::new()));
    let w = written.clone();
    let put = mock!(aws_sdk_s3::Client::put_object).then_compute_output(move |r| {
        w.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(r.key().unwrap_or_default().to_owned());
        PutObjectOutput::builder().build()
    });
    let list = mock!(aws_sdk_s3::Client::list_objects_v2).then_output(|| {
        ListObjectsV2Output::builder()
            .contents(
                Object::builder()
                    .key("logs/ecs-phoenix/2026-11-20/task-1/s/000000.gz")
                    .size(65)
                    .build(),
            )
            .build()
    });
    let (lifecycle, get) = (seven_day_rule(), no_checkpoint());
    let s3 = mock_client!(
        aws_sdk_s3,
        RuleMode::MatchAny,
        &[&lifecycle, &get, &put, &list]
    );
    let publish = publish_ok();
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&publish]);
    let backup = Backup::new(
        config(&[("LOG_GROUPS", "/ecs/phoenix")]),
        Clients {
            docdb: mock_client!(aws_sdk_docdb, RuleMode::MatchAny, &[]),
            logs,
            s3,
            sns,
        },
    );
    let outcome = backup
        .handle(Invocation::new(json!({"database": false}), now()))
        .await
        .expect("handled");
    assert_eq!(status.num_calls(), 2, "polled until COMPLETED");
    assert_eq!(
        *written.lock().expect("written"),
        ["checkpoints/log-exports/ecs-phoenix.json"]
    );
    let done = outcome
        .actions
        .iter()
        .find(|a| a.call == "logs:CreateExportTask")
        .expect("export action");
    assert_eq!(done.status, ActionStatus::Done);
    assert!(
        done.detail.as_deref().is_some_and(|d| d.contains(
            "s3://phoenix-backups-111122223333/logs/ecs-phoenix/2026-11-20/ (1 object(s), 65 bytes)"
        )),
        "{done:?}"
    );
}

fn export_task(id: &str, code: ExportTaskStatusCode) -> DescribeExportTasksOutput {
    DescribeExportTasksOutput::builder()
        .export_tasks(
            ExportTask::builder()
                .task_id(id)
                .status(ExportTaskStatus::builder().code(code).build())
                .build(),
        )
        .build()
}

/// Measured figures: calls and time for a rotation over 250 manual snapshots in 3 pages
/// (60 phoenix-ops daily snapshots, 190 of other clusters), with mocked AWS (handler + SDK cost,
/// no network), and the pure rule alone over 1,000 snapshots.
#[tokio::test]
async fn measure_a_rotation_over_250_snapshots_across_three_pages() {
    let describe =
        mock!(aws_sdk_docdb::Client::describe_db_cluster_snapshots).then_compute_output(|req| {
            let all: Vec<DbClusterSnapshot> = (0..60)
                .map(|d| {
                    ours(
                        &format!("phoenix-ops-phoenix-docdb-day-{d:02}"),
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
    let (tags, create) = (tagged_ours(), create_ok());
    let delete = mock!(aws_sdk_docdb::Client::delete_db_cluster_snapshot)
        .match_requests(|r| {
            r.db_cluster_snapshot_identifier()
                .and_then(|id| id.strip_prefix("phoenix-ops-phoenix-docdb-day-"))
                .and_then(|d| d.parse::<i64>().ok())
                .is_some_and(|d| d >= 7)
        })
        .then_output(|| DeleteDbClusterSnapshotOutput::builder().build());
    let docdb = mock_client!(
        aws_sdk_docdb,
        RuleMode::MatchAny,
        &[&describe, &tags, &create, &delete]
    );
    let publish = publish_ok();
    let backup = Backup::new(
        config(&[("LOG_GROUPS", "")]),
        Clients {
            docdb,
            logs: logs_untouched(),
            s3: mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&seven_day_rule()]),
            sns: mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&publish]),
        },
    );
    let started = Instant::now();
    let outcome = backup
        .handle(Invocation::new(scheduled(), now()))
        .await
        .expect("handled");
    let elapsed = started.elapsed();
    let calls = describe.num_calls() + tags.num_calls() + create.num_calls() + delete.num_calls();
    println!(
        "rotation over 250 manual snapshots (60 ours): {calls} DocumentDB calls = {} DescribeDBClusterSnapshots pages + {} ListTagsForResource + {} CreateDBClusterSnapshot + {} DeleteDBClusterSnapshot; handler {} ms with mocked AWS",
        describe.num_calls(),
        tags.num_calls(),
        create.num_calls(),
        delete.num_calls(),
        elapsed.as_millis()
    );
    assert_eq!(describe.num_calls(), 3);
    assert_eq!(tags.num_calls(), 54, "53 candidates + the newest available");
    assert_eq!(delete.num_calls(), 53);
    assert_eq!(outcome.decision.as_deref(), Some("backup-done"));
    assert_eq!(outcome.observed["snapshots"]["manual_in_region"], 250);

    // The pure rule alone over 1,000 snapshots.
    let snapshots: Vec<backup::rotation::SnapshotInfo> = (0..1000)
        .map(|i| backup::rotation::SnapshotInfo {
            id: format!("phoenix-ops-phoenix-docdb-{i:04}"),
            arn: String::new(),
            cluster: CLUSTER.into(),
            kind: backup::rotation::SnapshotType::Manual,
            status: backup::rotation::SnapshotStatus::Available,
            created: Some(now() - Duration::hours(i)),
            tags: Some([("created-by".to_owned(), "phoenix-ops".to_owned())].into()),
        })
        .collect();
    let started = Instant::now();
    let policy = backup::rotation::SnapshotRetention {
        retention: Duration::days(7),
    };
    let plan = backup::rotation::plan_rotation(&snapshots, CLUSTER, now(), policy, 1);
    println!(
        "plan_rotation over 1000 snapshots: {} µs ({} to delete)",
        started.elapsed().as_micros(),
        plan.deletions()
    );
    assert_eq!(plan.deletions(), 1000 - 169);
}

fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
    phoenix_testkit::arbitrary::json_value(
        &["Scheduled Event", "aws.events"],
        &[
            "database",
            "logs",
            "dry_run",
            "reason",
            "detail-type",
            "source",
            "time",
        ],
    )
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// Random JSON never panics; whatever the trigger parser refuses is ignored or rejected
    /// without any AWS call (every client below panics on any call).
    #[test]
    fn random_json_is_refused_without_any_aws_call_unless_it_is_a_valid_trigger(payload in json_value()) {
        if backup::request::parse(&payload, "r", now(), 24).is_err() {
            let backup = Backup::new(config(&[]), Clients {
                docdb: mock_client!(aws_sdk_docdb, RuleMode::MatchAny, &[]),
                logs: logs_untouched(),
                s3: s3_untouched(),
                sns: mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[]),
            });
            let outcome = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(backup.handle(Invocation::new(payload.clone(), now())))
                .expect("never an error");
            proptest::prop_assert!(outcome.ignored.is_some() || outcome.rejected.is_some(), "{outcome:?}");
            proptest::prop_assert!(outcome.actions.is_empty());
        }
    }
}

fn checkpoint_with_pending() -> Rule {
    mock!(aws_sdk_s3::Client::get_object).then_output(|| {
        aws_sdk_s3::operation::get_object::GetObjectOutput::builder()
            .body(aws_sdk_s3::primitives::ByteStream::from_static(
                br#"{"log_group":"/ecs/phoenix","exported_until":"2026-11-19T00:00:00Z",
                     "pending":{"task_id":"t-0","window":{"from":"2026-11-19T00:00:00Z","to":"2026-11-20T00:00:00Z"}},
                     "updated_at":"2026-11-20T03:04:00Z"}"#,
            ))
            .build()
    })
}

#[tokio::test]
async fn an_earlier_export_still_running_injected_is_waited_for_not_duplicated() {
    let status = mock!(aws_sdk_cloudwatchlogs::Client::describe_export_tasks)
        .match_requests(|r| r.task_id() == Some("t-0"))
        .then_output(|| export_task("t-0", ExportTaskStatusCode::Running));
    // No CreateExportTask rule: starting a second export would panic.
    let logs = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, &[&status]);
    let (lifecycle, get) = (seven_day_rule(), checkpoint_with_pending());
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&lifecycle, &get]);
    let publish = publish_ok();
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&publish]);
    let backup = Backup::new(
        config(&[]),
        Clients {
            docdb: mock_client!(aws_sdk_docdb, RuleMode::MatchAny, &[]),
            logs,
            s3,
            sns,
        },
    );
    let outcome = backup
        .handle(Invocation::new(json!({"database": false}), now()))
        .await
        .expect("handled");
    assert_eq!(
        outcome.decision.as_deref(),
        Some("backup-partial"),
        "{outcome:#?}"
    );
    assert_eq!(status.num_calls(), 1);
    assert_eq!(
        get.num_calls(),
        1,
        "the second group waits too (one export per account)"
    );
    assert!(!outcome.has_failures());
}

#[tokio::test]
async fn an_earlier_export_found_completed_moves_the_checkpoint_then_exports_the_next_day() {
    let status =
        mock!(aws_sdk_cloudwatchlogs::Client::describe_export_tasks).then_compute_output(|r| {
            export_task(
                r.task_id().unwrap_or_default(),
                ExportTaskStatusCode::Completed,
            )
        });
    let export = mock!(aws_sdk_cloudwatchlogs::Client::create_export_task)
        .match_requests(|r| r.from() == Some(1_795_132_800_000)) // 2026-11-20, the day after the pending one
        .then_output(|| CreateExportTaskOutput::builder().task_id("t-1").build());
    let logs = mock_client!(
        aws_sdk_cloudwatchlogs,
        RuleMode::MatchAny,
        &[&status, &export]
    );
    let written = Arc::new(Mutex::new(Vec::new()));
    let w = written.clone();
    let put = mock!(aws_sdk_s3::Client::put_object).then_compute_output(move |r| {
        let body = r
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        w.lock().unwrap_or_else(|p| p.into_inner()).push(body);
        PutObjectOutput::builder().build()
    });
    let list = mock!(aws_sdk_s3::Client::list_objects_v2)
        .then_output(|| ListObjectsV2Output::builder().build());
    let (lifecycle, get) = (seven_day_rule(), checkpoint_with_pending());
    let s3 = mock_client!(
        aws_sdk_s3,
        RuleMode::MatchAny,
        &[&lifecycle, &get, &put, &list]
    );
    let publish = publish_ok();
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&publish]);
    let backup = Backup::new(
        config(&[("LOG_GROUPS", "/ecs/phoenix")]),
        Clients {
            docdb: mock_client!(aws_sdk_docdb, RuleMode::MatchAny, &[]),
            logs,
            s3,
            sns,
        },
    );
    let outcome = backup
        .handle(Invocation::new(json!({"database": false}), now()))
        .await
        .expect("handled");
    assert_eq!(
        outcome.decision.as_deref(),
        Some("backup-done"),
        "{outcome:#?}"
    );
    assert_eq!(
        export.num_calls(),
        1,
        "only the next day: the pending one is not exported twice"
    );
    let written = written.lock().expect("written").clone();
    assert_eq!(written.len(), 2, "{written:?}");
    assert!(
        written[0].contains(r#""exported_until": "2026-11-20T00:00:00Z""#),
        "{}",
        written[0]
    );
    assert!(
        written[1].contains(r#""exported_until": "2026-11-21T00:00:00Z""#),
        "{}",
        written[1]
    );
}
