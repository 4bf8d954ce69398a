//! A whole AWS for the handler, with aws-smithy-mocks: ten days of snapshots over two pages,
//! exports that complete, checkpoints kept in memory, and the ledger table kept in memory with
//! the conditions `phoenix_core::ledger` writes (so a lease, a record and a retry behave as in
//! DynamoDB). Every client panics on a call no rule expects: "no such call" holds by
//! construction. A [`Fault`] can be put in front of any one [`Call`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use aws_sdk_cloudwatchlogs::operation::create_export_task::CreateExportTaskOutput;
use aws_sdk_cloudwatchlogs::operation::describe_export_tasks::DescribeExportTasksOutput;
use aws_sdk_cloudwatchlogs::types::{ExportTask, ExportTaskStatus, ExportTaskStatusCode};
use aws_sdk_docdb::operation::create_db_cluster_snapshot::CreateDbClusterSnapshotOutput;
use aws_sdk_docdb::operation::delete_db_cluster_snapshot::DeleteDbClusterSnapshotOutput;
use aws_sdk_docdb::operation::describe_db_cluster_snapshots::DescribeDbClusterSnapshotsOutput;
use aws_sdk_docdb::operation::list_tags_for_resource::ListTagsForResourceOutput;
use aws_sdk_docdb::types::{DbClusterSnapshot, Tag};
use aws_sdk_s3::operation::get_bucket_lifecycle_configuration::GetBucketLifecycleConfigurationOutput;
use aws_sdk_s3::operation::get_object::{GetObjectError, GetObjectOutput};
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_s3::types::{
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, Object,
};
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{MockResponse, Rule, RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use chrono::{DateTime, Duration, TimeZone, Utc};
use phoenix_core::lambda::load_config;
use phoenix_core::{Function, Invocation, Notice, Outcome, RetryableError, Vars};
use serde_json::{Value, json};

pub use super::fake_table::FakeTable;
pub use super::fault_rules::{Call, Fault, fault};
use crate::{Backup, Clients, Config};

pub const CLUSTER: &str = "phoenix-docdb";
pub const BUCKET: &str = "phoenix-backups-111122223333";
pub const TABLE: &str = "phoenix-ledger";

/// The handler's clock: the daily schedule's firing on 2026-11-21, five seconds later.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 3, 0, 5)
        .single()
        .expect("valid")
}

/// The scheduled fixture, fired on 2026-11-21 03:00.
pub fn scheduled() -> Value {
    let mut event = phoenix_testkit::fixture("scheduled-event.json");
    event["time"] = json!("2026-11-21T03:00:00Z");
    event
}

pub fn config(overrides: &[(&str, &str)]) -> Config {
    // `Vars::from_pairs` takes the first pair of a name: overrides go first.
    let mut env = overrides.to_vec();
    env.extend_from_slice(&[
        ("DOCDB_CLUSTER_ID", CLUSTER),
        ("BACKUP_BUCKET", BUCKET),
        ("LOG_GROUPS", "/ecs/phoenix,/aws/lambda/phoenix-ops"),
        ("EXPORT_LAG_HOURS", "0"),
        (
            "ALERTS_TOPIC_ARN",
            "arn:aws:sns:eu-west-1:111122223333:phoenix-alerts",
        ),
        ("LEDGER_TABLE", TABLE),
    ]);
    load_config::<Backup>(Vars::from_pairs(&env)).expect("config")
}

pub fn meta(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

/// What a scenario changes from the defaults.
#[derive(Default)]
pub struct Scenario {
    pub env: Vec<(&'static str, &'static str)>,
    /// Rules tried before the defaults.
    pub before: Vec<(Call, Rule)>,
    pub fault: Option<(Call, Fault)>,
    /// Objects already in the bucket (checkpoints), by key.
    pub objects: Vec<(String, String)>,
}

/// The mocked AWS of one scenario, and what it saw.
pub struct Mocked {
    pub backup: Backup,
    pub rules: Vec<(Call, Rule)>,
    #[allow(dead_code, reason = "kept with the mocks for tests that inspect it")]
    pub ledger: FakeTable,
    /// Bucket objects written (key → body), in order, and the state after.
    pub puts: Arc<Mutex<Vec<(String, String)>>>,
    pub published: Arc<Mutex<Vec<Notice>>>,
    /// CreateExportTask requests: (group, from ms).
    pub exports: Arc<Mutex<Vec<(String, i64)>>>,
}

impl Mocked {
    /// Calls of one kind, every rule counted.
    pub fn calls(&self, call: Call) -> usize {
        self.rules
            .iter()
            .filter(|(c, _)| *c == call)
            .map(|(_, r)| r.num_calls())
            .sum()
    }

    pub fn puts(&self) -> Vec<(String, String)> {
        self.puts.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn published(&self) -> Vec<Notice> {
        self.published
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn exports(&self) -> Vec<(String, i64)> {
        self.exports
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A phoenix-ops snapshot `age` old, or anyone's.
pub fn snapshot(id: &str, cluster: &str, age: Duration) -> DbClusterSnapshot {
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
pub fn ten_days_in_two_pages() -> Rule {
    mock!(aws_sdk_docdb::Client::describe_db_cluster_snapshots).then_compute_output(|req| {
        let page = |days: std::ops::Range<i64>| -> Vec<DbClusterSnapshot> {
            days.map(|d| {
                snapshot(
                    &format!("phoenix-ops-phoenix-docdb-day-{d:02}"),
                    CLUSTER,
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

pub fn export_task(id: &str, code: ExportTaskStatusCode) -> ExportTask {
    ExportTask::builder()
        .task_id(id)
        .status(ExportTaskStatus::builder().code(code).build())
        .build()
}

pub fn export_status(id: &str, code: ExportTaskStatusCode) -> DescribeExportTasksOutput {
    DescribeExportTasksOutput::builder()
        .export_tasks(export_task(id, code))
        .build()
}

fn seven_day_rule() -> GetBucketLifecycleConfigurationOutput {
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
}

/// Builds the mocked AWS and the handler for `scenario`, on `ledger` (shared across runs to
/// play retries).
pub fn mocked(scenario: Scenario, ledger: &FakeTable) -> Mocked {
    let puts: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let published: Arc<Mutex<Vec<Notice>>> = Arc::default();
    let exports: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
    let bucket: Arc<Mutex<HashMap<String, String>>> =
        Arc::new(Mutex::new(scenario.objects.iter().cloned().collect()));

    let mut rules: Vec<(Call, Rule)> = Vec::new();
    if let Some((call, kind)) = scenario.fault {
        rules.push((call, fault(call, kind)));
    }
    rules.extend(scenario.before);
    let (b, p) = (bucket.clone(), puts.clone());
    let (b2, ex, pu) = (bucket.clone(), exports.clone(), published.clone());
    let defaults: Vec<(Call, Rule)> = vec![
        (Call::DescribeSnapshots, ten_days_in_two_pages()),
        (
            Call::ListTags,
            mock!(aws_sdk_docdb::Client::list_tags_for_resource).then_output(|| {
                ListTagsForResourceOutput::builder()
                    .tag_list(
                        Tag::builder()
                            .key("created-by")
                            .value("phoenix-ops")
                            .build(),
                    )
                    .build()
            }),
        ),
        (
            Call::CreateSnapshot,
            mock!(aws_sdk_docdb::Client::create_db_cluster_snapshot)
                .then_output(|| CreateDbClusterSnapshotOutput::builder().build()),
        ),
        (
            Call::DeleteSnapshot,
            mock!(aws_sdk_docdb::Client::delete_db_cluster_snapshot)
                .then_output(|| DeleteDbClusterSnapshotOutput::builder().build()),
        ),
        (
            Call::CreateExportTask,
            mock!(aws_sdk_cloudwatchlogs::Client::create_export_task).then_compute_output(
                move |r| {
                    let group = r.log_group_name().unwrap_or_default().to_owned();
                    let from = r.from().unwrap_or_default();
                    lock(&ex).push((group.clone(), from));
                    CreateExportTaskOutput::builder()
                        .task_id(format!(
                            "task-{}-{from}",
                            crate::windows::sanitise_group(&group)
                        ))
                        .build()
                },
            ),
        ),
        (
            Call::DescribeExportTasks,
            mock!(aws_sdk_cloudwatchlogs::Client::describe_export_tasks).then_compute_output(|r| {
                match r.task_id() {
                    Some(id) => export_status(id, ExportTaskStatusCode::Completed),
                    None => DescribeExportTasksOutput::builder().build(),
                }
            }),
        ),
        (
            Call::GetLifecycle,
            mock!(aws_sdk_s3::Client::get_bucket_lifecycle_configuration)
                .then_output(seven_day_rule),
        ),
        (
            Call::GetObject,
            mock!(aws_sdk_s3::Client::get_object).then_compute_response(move |r| {
                match lock(&b).get(r.key().unwrap_or_default()) {
                    Some(body) => MockResponse::Output(
                        GetObjectOutput::builder()
                            .body(aws_sdk_s3::primitives::ByteStream::from(
                                body.clone().into_bytes(),
                            ))
                            .build(),
                    ),
                    None => MockResponse::Error(GetObjectError::generic(meta(
                        "NoSuchKey",
                        "no such key",
                    ))),
                }
            }),
        ),
        (
            Call::PutObject,
            mock!(aws_sdk_s3::Client::put_object).then_compute_output(move |r| {
                let key = r.key().unwrap_or_default().to_owned();
                let body = r
                    .body()
                    .bytes()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                lock(&p).push((key.clone(), body.clone()));
                lock(&b2).insert(key, body);
                PutObjectOutput::builder().build()
            }),
        ),
        (
            Call::ListObjects,
            mock!(aws_sdk_s3::Client::list_objects_v2).then_compute_output(|r| {
                ListObjectsV2Output::builder()
                    .contents(
                        Object::builder()
                            .key(format!(
                                "{}task/stream/000000.gz",
                                r.prefix().unwrap_or_default()
                            ))
                            .size(65)
                            .build(),
                    )
                    .build()
            }),
        ),
        (
            Call::Publish,
            mock!(aws_sdk_sns::Client::publish).then_compute_output(move |r| {
                if let Some(notice) = r.message().and_then(Notice::from_json) {
                    lock(&pu).push(notice);
                }
                PublishOutput::builder().message_id("m-1").build()
            }),
        ),
    ];
    rules.extend(defaults);
    rules.extend(ledger.rules());

    let of = |wanted: &[Call]| -> Vec<Rule> {
        rules
            .iter()
            .filter(|(c, _)| wanted.contains(c))
            .map(|(_, r)| r.clone())
            .collect()
    };
    let docdb_rules = of(&[
        Call::DescribeSnapshots,
        Call::ListTags,
        Call::CreateSnapshot,
        Call::DeleteSnapshot,
    ]);
    let logs_rules = of(&[Call::CreateExportTask, Call::DescribeExportTasks]);
    let s3_rules = of(&[
        Call::GetLifecycle,
        Call::GetObject,
        Call::PutObject,
        Call::ListObjects,
    ]);
    let dynamo_rules = of(&[
        Call::PutItem,
        Call::GetItem,
        Call::UpdateItem,
        Call::DeleteItem,
    ]);
    let sns_rules = of(&[Call::Publish]);
    let clients = Clients {
        docdb: mock_client!(aws_sdk_docdb, RuleMode::MatchAny, docdb_rules.iter(), |c| c
            .retry_config(fast_retries())),
        logs: mock_client!(
            aws_sdk_cloudwatchlogs,
            RuleMode::MatchAny,
            logs_rules.iter(),
            |c| c.retry_config(fast_retries())
        ),
        s3: mock_client!(aws_sdk_s3, RuleMode::MatchAny, s3_rules.iter(), |c| c
            .retry_config(fast_retries())),
        sns: mock_client!(aws_sdk_sns, RuleMode::MatchAny, sns_rules.iter(), |c| c
            .retry_config(fast_retries())),
        dynamodb: mock_client!(
            aws_sdk_dynamodb,
            RuleMode::MatchAny,
            dynamo_rules.iter(),
            |c| c.retry_config(fast_retries())
        ),
    };
    Mocked {
        backup: Backup::new(config(&scenario.env), clients),
        rules,
        ledger: ledger.clone(),
        puts,
        published,
        exports,
    }
}

/// The SDK's standard retries (3 attempts), without waiting.
pub fn fast_retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(StdDuration::from_millis(1))
}

/// Runs the handler on `payload` at [`now`], as request `req-1`.
pub async fn handle(m: &Mocked, payload: Value) -> Result<Outcome, RetryableError> {
    m.backup
        .handle(Invocation::new(payload, now()).request_id("req-1"))
        .await
}
