//! A whole AWS for the handler, with aws-smithy-mocks: ten days of snapshots over two pages,
//! exports that complete, checkpoints kept in memory, and the ledger table kept in memory with
//! the conditions `phoenix_core::ledger` writes (so a lease, a record and a retry behave as in
//! DynamoDB). Every client panics on a call no rule expects: "no such call" holds by
//! construction. A [`Fault`] can be put in front of any one [`Call`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use aws_sdk_cloudwatchlogs::operation::create_export_task::{
    CreateExportTaskError, CreateExportTaskOutput,
};
use aws_sdk_cloudwatchlogs::operation::describe_export_tasks::{
    DescribeExportTasksError, DescribeExportTasksOutput,
};
use aws_sdk_cloudwatchlogs::types::{ExportTask, ExportTaskStatus, ExportTaskStatusCode};
use aws_sdk_docdb::operation::create_db_cluster_snapshot::{
    CreateDBClusterSnapshotError, CreateDbClusterSnapshotOutput,
};
use aws_sdk_docdb::operation::delete_db_cluster_snapshot::{
    DeleteDBClusterSnapshotError, DeleteDbClusterSnapshotOutput,
};
use aws_sdk_docdb::operation::describe_db_cluster_snapshots::{
    DescribeDBClusterSnapshotsError, DescribeDbClusterSnapshotsOutput,
};
use aws_sdk_docdb::operation::list_tags_for_resource::{
    ListTagsForResourceError, ListTagsForResourceOutput,
};
use aws_sdk_docdb::types::{DbClusterSnapshot, Tag};
use aws_sdk_dynamodb::operation::delete_item::{DeleteItemError, DeleteItemOutput};
use aws_sdk_dynamodb::operation::get_item::{GetItemError, GetItemOutput};
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::operation::get_bucket_lifecycle_configuration::{
    GetBucketLifecycleConfigurationError, GetBucketLifecycleConfigurationOutput,
};
use aws_sdk_s3::operation::get_object::{GetObjectError, GetObjectOutput};
use aws_sdk_s3::operation::list_objects_v2::{ListObjectsV2Error, ListObjectsV2Output};
use aws_sdk_s3::operation::put_object::{PutObjectError, PutObjectOutput};
use aws_sdk_s3::types::{
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, Object,
};
use aws_sdk_sns::operation::publish::{PublishError, PublishOutput};
use aws_smithy_mocks::{MockResponse, Rule, RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use chrono::{DateTime, Duration, TimeZone, Utc};
use phoenix_core::lambda::load_config;
use phoenix_core::{Notice, Vars};
use serde_json::{Value, json};

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

/// Every AWS call the function makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Call {
    DescribeSnapshots,
    ListTags,
    CreateSnapshot,
    DeleteSnapshot,
    CreateExportTask,
    DescribeExportTasks,
    GetLifecycle,
    GetObject,
    PutObject,
    ListObjects,
    PutItem,
    GetItem,
    UpdateItem,
    DeleteItem,
    Publish,
}

impl Call {
    pub const ALL: [Call; 15] = [
        Call::DescribeSnapshots,
        Call::ListTags,
        Call::CreateSnapshot,
        Call::DeleteSnapshot,
        Call::CreateExportTask,
        Call::DescribeExportTasks,
        Call::GetLifecycle,
        Call::GetObject,
        Call::PutObject,
        Call::ListObjects,
        Call::PutItem,
        Call::GetItem,
        Call::UpdateItem,
        Call::DeleteItem,
        Call::Publish,
    ];

    /// The IAM action, as the code labels it.
    pub fn label(self) -> &'static str {
        match self {
            Call::DescribeSnapshots => "rds:DescribeDBClusterSnapshots",
            Call::ListTags => "rds:ListTagsForResource",
            Call::CreateSnapshot => "rds:CreateDBClusterSnapshot",
            Call::DeleteSnapshot => "rds:DeleteDBClusterSnapshot",
            Call::CreateExportTask => "logs:CreateExportTask",
            Call::DescribeExportTasks => "logs:DescribeExportTasks",
            Call::GetLifecycle => "s3:GetLifecycleConfiguration",
            Call::GetObject => "s3:GetObject",
            Call::PutObject => "s3:PutObject",
            Call::ListObjects => "s3:ListBucket",
            Call::PutItem => "dynamodb:PutItem",
            Call::GetItem => "dynamodb:GetItem",
            Call::UpdateItem => "dynamodb:UpdateItem",
            Call::DeleteItem => "dynamodb:DeleteItem",
            Call::Publish => "sns:Publish",
        }
    }

    /// A final error this call can really answer (the service's own code).
    pub fn final_code(self) -> &'static str {
        match self {
            Call::DescribeSnapshots => "AccessDenied",
            Call::ListTags => "DBClusterSnapshotNotFoundFault",
            Call::CreateSnapshot => "InvalidDBClusterStateFault",
            Call::DeleteSnapshot => "InvalidDBClusterSnapshotStateFault",
            Call::CreateExportTask => "InvalidParameterException",
            Call::DescribeExportTasks => "AccessDeniedException",
            Call::GetLifecycle | Call::GetObject | Call::PutObject | Call::ListObjects => {
                "AccessDenied"
            }
            Call::PutItem | Call::GetItem | Call::DeleteItem => "ResourceNotFoundException",
            Call::UpdateItem => "ValidationException",
            Call::Publish => "AuthorizationError",
        }
    }
}

/// A fault put in front of the first call of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `Throttling` on every attempt of the call.
    Throttling,
    /// HTTP 500 on every attempt of the call.
    ServerError,
    /// The call's modelled final error ([`Call::final_code`]), once.
    Final,
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

fn http_500() -> aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    aws_smithy_runtime_api::client::orchestrator::HttpResponse::new(
        aws_smithy_runtime_api::http::StatusCode::try_from(500).expect("status"),
        aws_smithy_types::body::SdkBody::from("internal error"),
    )
}

/// The fault rule for `call`: `attempts` answers (the SDK's retries), then the defaults again.
macro_rules! fault_rule {
    ($op:path, $err:ty, $fault:expr, $code:expr, $attempts:expr) => {{
        let builder = mock!($op).sequence();
        match $fault {
            Fault::Throttling => builder
                .error(|| <$err>::generic(meta("Throttling", "Rate exceeded")))
                .times($attempts)
                .build(),
            Fault::ServerError => builder.http_response(http_500).times($attempts).build(),
            Fault::Final => builder
                .error(move || <$err>::generic(meta($code, "injected final error")))
                .build(),
        }
    }};
}

fn fault(call: Call, fault: Fault) -> Rule {
    // the SDK tries 3 times, CreateExportTask once (it is not idempotent)
    let attempts = if call == Call::CreateExportTask { 1 } else { 3 };
    let code = call.final_code();
    use aws_sdk_cloudwatchlogs::Client as Logs;
    use aws_sdk_docdb::Client as Docdb;
    use aws_sdk_dynamodb::Client as Dynamo;
    use aws_sdk_s3::Client as S3;
    use aws_sdk_sns::Client as Sns;
    match call {
        Call::DescribeSnapshots => fault_rule!(
            Docdb::describe_db_cluster_snapshots,
            DescribeDBClusterSnapshotsError,
            fault,
            code,
            attempts
        ),
        Call::ListTags => fault_rule!(
            Docdb::list_tags_for_resource,
            ListTagsForResourceError,
            fault,
            code,
            attempts
        ),
        Call::CreateSnapshot => fault_rule!(
            Docdb::create_db_cluster_snapshot,
            CreateDBClusterSnapshotError,
            fault,
            code,
            attempts
        ),
        Call::DeleteSnapshot => fault_rule!(
            Docdb::delete_db_cluster_snapshot,
            DeleteDBClusterSnapshotError,
            fault,
            code,
            attempts
        ),
        Call::CreateExportTask => fault_rule!(
            Logs::create_export_task,
            CreateExportTaskError,
            fault,
            code,
            attempts
        ),
        Call::DescribeExportTasks => fault_rule!(
            Logs::describe_export_tasks,
            DescribeExportTasksError,
            fault,
            code,
            attempts
        ),
        Call::GetLifecycle => fault_rule!(
            S3::get_bucket_lifecycle_configuration,
            GetBucketLifecycleConfigurationError,
            fault,
            code,
            attempts
        ),
        Call::GetObject => fault_rule!(S3::get_object, GetObjectError, fault, code, attempts),
        Call::PutObject => fault_rule!(S3::put_object, PutObjectError, fault, code, attempts),
        Call::ListObjects => fault_rule!(
            S3::list_objects_v2,
            ListObjectsV2Error,
            fault,
            code,
            attempts
        ),
        Call::PutItem => fault_rule!(Dynamo::put_item, PutItemError, fault, code, attempts),
        Call::GetItem => fault_rule!(Dynamo::get_item, GetItemError, fault, code, attempts),
        Call::UpdateItem => {
            fault_rule!(Dynamo::update_item, UpdateItemError, fault, code, attempts)
        }
        Call::DeleteItem => {
            fault_rule!(Dynamo::delete_item, DeleteItemError, fault, code, attempts)
        }
        Call::Publish => fault_rule!(Sns::publish, PublishError, fault, code, attempts),
    }
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

type Item = HashMap<String, AttributeValue>;

/// The ledger table in memory, answering PutItem, GetItem, UpdateItem and DeleteItem with the
/// conditions `phoenix_core::ledger` writes (a failed condition is
/// `ConditionalCheckFailedException`, as DynamoDB answers).
#[derive(Debug, Clone, Default)]
pub struct FakeTable {
    items: Arc<Mutex<BTreeMap<String, Item>>>,
}

fn s(item: &Item, name: &str) -> String {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

fn n(item: &Item, name: &str) -> i64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_default()
}

fn value_s(values: Option<&Item>, name: &str) -> String {
    values.map(|v| s(v, name)).unwrap_or_default()
}

fn value_n(values: Option<&Item>, name: &str) -> i64 {
    values.map(|v| n(v, name)).unwrap_or_default()
}

const CONDITION: &str = "ConditionalCheckFailedException";

impl FakeTable {
    /// The entry under `key`, as (state, owner, note).
    pub fn entry(&self, key: &str) -> Option<(String, String, String)> {
        lock(&self.items)
            .get(key)
            .map(|i| (s(i, "state"), s(i, "owner"), s(i, "note")))
    }

    pub fn keys(&self) -> Vec<String> {
        lock(&self.items).keys().cloned().collect()
    }

    /// `lease_until` of the entry under `key`.
    pub fn lease_until(&self, key: &str) -> Option<i64> {
        lock(&self.items).get(key).map(|i| n(i, "lease_until"))
    }

    /// Puts an entry as another invocation would have.
    pub fn put(&self, key: &str, state: &str, owner: &str, until: DateTime<Utc>, note: &str) {
        let mut item = Item::new();
        item.insert("pk".into(), AttributeValue::S(key.into()));
        item.insert("state".into(), AttributeValue::S(state.into()));
        item.insert("owner".into(), AttributeValue::S(owner.into()));
        item.insert("note".into(), AttributeValue::S(note.into()));
        for name in ["at", "lease_until", "expires_at"] {
            let t = if name == "at" { now() } else { until };
            item.insert(name.into(), AttributeValue::N(t.timestamp().to_string()));
        }
        lock(&self.items).insert(key.into(), item);
    }

    pub fn rules(&self) -> Vec<(Call, Rule)> {
        let (a, b, c, d) = (
            self.items.clone(),
            self.items.clone(),
            self.items.clone(),
            self.items.clone(),
        );
        vec![
            (
                Call::PutItem,
                mock!(aws_sdk_dynamodb::Client::put_item).then_compute_response(move |r| {
                    let Some(item) = r.item().cloned() else {
                        return MockResponse::Error(PutItemError::generic(meta(
                            "ValidationException",
                            "no item",
                        )));
                    };
                    let key = s(&item, "pk");
                    let values = r.expression_attribute_values();
                    let now = value_n(values, ":now");
                    let mut items = lock(&a);
                    let free = match items.get(&key) {
                        None => true,
                        Some(old) if n(old, "expires_at") < now => true,
                        // a claim (the record of a done marker has no lease condition)
                        Some(old)
                            if r.condition_expression()
                                .is_some_and(|c| c.contains("lease_until")) =>
                        {
                            (s(old, "state") == "held" && n(old, "lease_until") < now)
                                || s(old, "owner") == value_s(values, ":owner")
                        }
                        Some(_) => false,
                    };
                    if !free {
                        return MockResponse::Error(PutItemError::generic(meta(
                            CONDITION, "taken",
                        )));
                    }
                    items.insert(key, item);
                    MockResponse::Output(PutItemOutput::builder().build())
                }),
            ),
            (
                Call::GetItem,
                mock!(aws_sdk_dynamodb::Client::get_item).then_compute_output(move |r| {
                    let key = r.key().map(|k| s(k, "pk")).unwrap_or_default();
                    GetItemOutput::builder()
                        .set_item(lock(&b).get(&key).cloned())
                        .build()
                }),
            ),
            (
                Call::UpdateItem,
                mock!(aws_sdk_dynamodb::Client::update_item).then_compute_response(move |r| {
                    let key = r.key().map(|k| s(k, "pk")).unwrap_or_default();
                    let values = r.expression_attribute_values();
                    let mut items = lock(&c);
                    match items.get_mut(&key) {
                        Some(item) if s(item, "owner") == value_s(values, ":owner") => {
                            for (name, value) in [
                                ("state", ":done"),
                                ("note", ":note"),
                                ("at", ":now"),
                                ("expires_at", ":exp"),
                            ] {
                                if let Some(v) = values.and_then(|v| v.get(value)) {
                                    item.insert(name.into(), v.clone());
                                }
                            }
                            MockResponse::Output(UpdateItemOutput::builder().build())
                        }
                        _ => MockResponse::Error(UpdateItemError::generic(meta(
                            CONDITION,
                            "not the owner",
                        ))),
                    }
                }),
            ),
            (
                Call::DeleteItem,
                mock!(aws_sdk_dynamodb::Client::delete_item).then_compute_response(move |r| {
                    let key = r.key().map(|k| s(k, "pk")).unwrap_or_default();
                    let values = r.expression_attribute_values();
                    let mut items = lock(&d);
                    let held_by_caller = items.get(&key).is_some_and(|i| {
                        s(i, "owner") == value_s(values, ":owner") && s(i, "state") == "held"
                    });
                    if held_by_caller {
                        items.remove(&key);
                        MockResponse::Output(DeleteItemOutput::builder().build())
                    } else {
                        MockResponse::Error(DeleteItemError::generic(meta(
                            CONDITION,
                            "not held by the caller",
                        )))
                    }
                }),
            ),
        ]
    }
}
