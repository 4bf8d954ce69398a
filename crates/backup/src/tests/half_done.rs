//! No half-done step, proven against the emulator (moto: DocumentDB, CloudWatch Logs exports
//! that really write to S3, S3, SNS, and the ledger in DynamoDB with its real conditions).
//!
//! A clean scheduled run is made once to list its calls. Then, for **every** call in turn, a
//! fresh world where that call is answered HTTP 500 *after* the emulator carried it out (the
//! effect happened; the caller is told it failed: the harshest case), and Lambda's retry of the
//! invocation (same request id, a minute later). After the retry, whatever failed:
//!
//! * one snapshot for the slot, the two old ones rotated, nothing else deleted;
//! * one export task per log group and window, and every checkpoint moved past it;
//! * the last Notice tells what the **whole run** did (two Notices only when the 500 hid a
//!   successful publish);
//! * the lease is free.
//!
//! The same for a manual run retried under its request id: one snapshot, with the identifier
//! the first attempt recorded. The SDK's own retries are off here (one request per call), so
//! the fault reaches the handler on the first try; `act::start_export` runs without them in
//! production too.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use chrono::{DateTime, Duration, TimeZone, Utc};
use phoenix_core::lambda::load_config;
use phoenix_core::{Function, Invocation, Notice, Outcome, RetryableError, SdkConfig, Vars};
use phoenix_testkit::docdb_clock::SnapshotClock;
use phoenix_testkit::{Emulator, new_account};
use serde_json::{Value, json};

use crate::progress::lease_key;
use crate::{Backup, Clients};

const CLUSTER: &str = "phoenix-docdb";
const GROUPS: [&str; 2] = ["/ecs/phoenix", "/aws/lambda/phoenix-ops"];
const TABLE: &str = "phoenix-ledger";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 3, 0, 5)
        .single()
        .expect("valid")
}

fn scheduled() -> Value {
    let mut event = phoenix_testkit::fixture("scheduled-event.json");
    event["time"] = json!("2026-11-21T03:00:00Z");
    event
}

/// Which request to break, and what every request was.
#[derive(Debug, Default)]
struct Faults {
    /// Break the request with this index (0-based, over every AWS request of the run).
    target: Option<usize>,
    seen: Vec<String>,
    /// Notices published (the emulator got them, whatever the caller was told).
    notices: Vec<Notice>,
}

type Shared = Arc<Mutex<Faults>>;

fn lock(faults: &Shared) -> std::sync::MutexGuard<'_, Faults> {
    faults.lock().unwrap_or_else(|p| p.into_inner())
}

/// `service:Operation` of a request, read off the wire.
fn operation(request: &HttpRequest) -> String {
    let body = request
        .body()
        .bytes()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    if let Some(target) = request.headers().get("x-amz-target") {
        let (service, op) = target.split_once('.').unwrap_or(("?", target));
        let service = if service.starts_with("DynamoDB") {
            "dynamodb"
        } else {
            "logs"
        };
        return format!("{service}:{op}");
    }
    if let Some(action) = body
        .strip_prefix("Action=")
        .and_then(|rest| rest.split('&').next())
    {
        let service = if action == "Publish" { "sns" } else { "rds" };
        return format!("{service}:{action}");
    }
    let uri = request.uri();
    let op = match request.method() {
        "GET" if uri.contains("lifecycle") => "GetBucketLifecycleConfiguration",
        "GET" if uri.contains("list-type=2") => "ListObjectsV2",
        "GET" => "GetObject",
        "PUT" => "PutObject",
        other => other,
    };
    format!("s3:{op}")
}

/// `application/x-www-form-urlencoded` value of `name`.
fn form_value(body: &str, name: &str) -> Option<String> {
    let raw = body
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))?;
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'+' {
            out.push(b' ');
            i += 1;
            continue;
        }
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[derive(Debug)]
struct FaultClient {
    faults: Shared,
    inner: SharedHttpClient,
}

impl HttpClient for FaultClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(FaultConnector {
            faults: self.faults.clone(),
            inner: self.inner.http_connector(settings, components),
        })
    }
}

#[derive(Debug)]
struct FaultConnector {
    faults: Shared,
    inner: SharedHttpConnector,
}

impl HttpConnector for FaultConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let op = operation(&request);
        let broken = {
            let mut faults = lock(&self.faults);
            let index = faults.seen.len();
            faults.seen.push(op.clone());
            if op == "sns:Publish" {
                let body = request
                    .body()
                    .bytes()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                if let Some(notice) =
                    form_value(&body, "Message").and_then(|m| Notice::from_json(&m))
                {
                    faults.notices.push(notice);
                }
            }
            faults.target == Some(index)
        };
        let pending = self.inner.call(request);
        if !broken {
            return pending;
        }
        // carried out by the emulator, then reported as a server error
        HttpConnectorFuture::new(async move {
            let _done = pending.await?;
            Ok(HttpResponse::new(
                aws_smithy_runtime_api::http::StatusCode::try_from(500).expect("status"),
                SdkBody::from("injected: the request was carried out, the answer lost"),
            ))
        })
    }
}

/// A small world of its own account: the cluster with one recent and two old phoenix-ops
/// snapshots (backdated), the bucket with its expiry rule, two log groups, the alerts topic and
/// the ledger table.
struct World {
    sdk: SdkConfig,
    clock: SnapshotClock,
    bucket: String,
    topic: String,
}

async fn world() -> World {
    let account = new_account();
    let sdk = Emulator::shared().sdk_config(&account);
    let clock = SnapshotClock::default();
    let docdb = aws_sdk_docdb::Client::new(&sdk);
    docdb
        .create_db_cluster()
        .db_cluster_identifier(CLUSTER)
        .engine("aurora-postgresql")
        .master_username("phoenix")
        .master_user_password("phoenix-test-password")
        .send()
        .await
        .expect("cluster");
    for (day, age) in [("2026-11-20", 1), ("2026-11-13", 8), ("2026-11-12", 9)] {
        clock
            .seed_snapshot(
                &sdk,
                CLUSTER,
                &format!("phoenix-ops-{CLUSTER}-{day}"),
                now() - Duration::days(age),
                &[("created-by", "phoenix-ops")],
            )
            .await
            .expect("snapshot");
    }
    let bucket = format!("phoenix-backups-{account}");
    let s3 = aws_sdk_s3::Client::new(&sdk);
    s3.create_bucket()
        .bucket(&bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                    phoenix_testkit::emulator::REGION,
                ))
                .build(),
        )
        .send()
        .await
        .expect("bucket");
    s3.put_bucket_lifecycle_configuration()
        .bucket(&bucket)
        .lifecycle_configuration(phoenix_testkit::world::seven_day_rule().expect("rule"))
        .send()
        .await
        .expect("lifecycle");
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    for group in GROUPS {
        logs.create_log_group()
            .log_group_name(group)
            .send()
            .await
            .expect("group");
        phoenix_testkit::world::write_log_lines(
            &logs,
            group,
            "stream-1",
            &["one line".to_owned()],
            Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0)
                .single()
                .expect("valid"),
        )
        .await
        .expect("lines");
    }
    let topic = aws_sdk_sns::Client::new(&sdk)
        .create_topic()
        .name("phoenix-alerts")
        .send()
        .await
        .expect("topic")
        .topic_arn()
        .unwrap_or_default()
        .to_owned();
    create_ledger(&aws_sdk_dynamodb::Client::new(&sdk)).await;
    World {
        sdk,
        clock,
        bucket,
        topic,
    }
}

/// The ledger table, as the template makes it: `pk` string hash key, on demand.
pub async fn create_ledger(dynamodb: &aws_sdk_dynamodb::Client) {
    dynamodb
        .create_table()
        .table_name(TABLE)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .expect("key"),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("ledger table");
}

impl World {
    /// The handler, every request going through `faults`, the SDK's own retries off.
    fn handler(&self, faults: &Shared) -> Backup {
        let inner = self.clock.sdk_config(&self.sdk);
        let http = inner.http_client().expect("an HTTP client");
        let sdk = inner
            .to_builder()
            .http_client(FaultClient {
                faults: faults.clone(),
                inner: http,
            })
            .retry_config(RetryConfig::standard().with_max_attempts(1))
            .build();
        let env: BTreeMap<&str, String> = [
            ("DOCDB_CLUSTER_ID", CLUSTER.to_owned()),
            ("BACKUP_BUCKET", self.bucket.clone()),
            ("LOG_GROUPS", GROUPS.join(",")),
            ("EXPORT_LAG_HOURS", "0".to_owned()),
            ("ALERTS_TOPIC_ARN", self.topic.clone()),
            ("LEDGER_TABLE", TABLE.to_owned()),
        ]
        .into_iter()
        .collect();
        let config = load_config::<Backup>(Vars::new(|k| env.get(k).cloned())).expect("config");
        Backup::new(config, Clients::from_sdk(&sdk))
    }

    /// Snapshot ids of the cluster.
    async fn snapshots(&self) -> Vec<String> {
        let mut ids: Vec<String> = aws_sdk_docdb::Client::new(&self.sdk)
            .describe_db_cluster_snapshots()
            .snapshot_type("manual")
            .send()
            .await
            .expect("describe")
            .db_cluster_snapshots()
            .iter()
            .filter_map(|s| s.db_cluster_snapshot_identifier().map(str::to_owned))
            .collect();
        ids.sort();
        ids
    }

    /// Export tasks per (group, from).
    async fn exports(&self) -> BTreeMap<(String, i64), usize> {
        let mut out = BTreeMap::new();
        let tasks = aws_sdk_cloudwatchlogs::Client::new(&self.sdk)
            .describe_export_tasks()
            .send()
            .await
            .expect("export tasks");
        for task in tasks.export_tasks() {
            let key = (
                task.log_group_name().unwrap_or_default().to_owned(),
                task.from().unwrap_or_default(),
            );
            *out.entry(key).or_default() += 1;
        }
        out
    }

    async fn checkpoint(&self, group: &str) -> String {
        let out = aws_sdk_s3::Client::new(&self.sdk)
            .get_object()
            .bucket(&self.bucket)
            .key(crate::windows::checkpoint_key(group))
            .send()
            .await
            .expect("checkpoint");
        let bytes = out.body.collect().await.expect("body").into_bytes();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    async fn lease_is_free(&self) -> bool {
        phoenix_core::Ledger::new(aws_sdk_dynamodb::Client::new(&self.sdk), TABLE)
            .read(&lease_key(CLUSTER), now())
            .await
            .expect("ledger")
            .is_none()
    }
}

async fn attempt(
    backup: &Backup,
    payload: &Value,
    at: DateTime<Utc>,
    request_id: &str,
) -> Result<Outcome, RetryableError> {
    backup
        .handle(Invocation::new(payload.clone(), at).request_id(request_id))
        .await
}

/// Runs `payload` with the request `target` broken, then Lambda's retry when it failed.
/// Returns what the first attempt said, the retry's Outcome (if any) and the notices.
async fn broken_then_retried(
    world: &World,
    payload: &Value,
    target: Option<usize>,
) -> (Result<Outcome, RetryableError>, Option<Outcome>, Faults) {
    let faults: Shared = Arc::new(Mutex::new(Faults {
        target,
        ..Faults::default()
    }));
    let first = attempt(&world.handler(&faults), payload, now(), "req-1").await;
    let retry = match &first {
        Err(_) => {
            lock(&faults).target = None;
            let at = now() + Duration::minutes(1);
            Some(
                attempt(&world.handler(&faults), payload, at, "req-1")
                    .await
                    .expect("the retry succeeds"),
            )
        }
        Ok(_) => None,
    };
    let faults = std::mem::take(&mut *lock(&faults));
    (first, retry, faults)
}

const WHOLE_RUN: &str = "Backup of phoenix-docdb done: snapshot phoenix-ops-phoenix-docdb-2026-11-21 created; 2 old snapshot(s) deleted; 2 log export(s) exported";

#[tokio::test]
async fn a_500_after_any_step_then_lambdas_retry_leaves_one_snapshot_one_export_per_window_and_tells_the_whole_run()
 {
    // the clean run: the calls, in order
    let clean = world().await;
    let (first, _, faults) = broken_then_retried(&clean, &scheduled(), None).await;
    let outcome = first.expect("a clean run");
    assert_eq!(
        outcome.decision.as_deref(),
        Some("backup-done"),
        "{outcome:#?}"
    );
    let calls = faults.seen;
    assert_eq!(faults.notices.len(), 1);
    assert_eq!(faults.notices[0].title, WHOLE_RUN);
    println!(
        "{} calls in a clean scheduled run: {}",
        calls.len(),
        calls.join(", ")
    );

    let started = std::time::Instant::now();
    let mut rows = Vec::new();
    for (index, call) in calls.iter().enumerate() {
        let world = world().await;
        let (first, retry, faults) = broken_then_retried(&world, &scheduled(), Some(index)).await;
        let case = format!("500 after call {index} ({call})");
        let last = retry.as_ref().or(first.as_ref().ok()).expect("an outcome");
        assert_eq!(
            last.decision.as_deref(),
            Some("backup-done"),
            "{case}: {last:#?}"
        );

        let snapshots = world.snapshots().await;
        assert_eq!(
            snapshots,
            [
                "phoenix-ops-phoenix-docdb-2026-11-20",
                "phoenix-ops-phoenix-docdb-2026-11-21"
            ],
            "{case}: one snapshot for the slot, the two old ones rotated"
        );
        let exports = world.exports().await;
        assert_eq!(exports.len(), 2, "{case}: {exports:?}");
        assert!(
            exports.values().all(|n| *n == 1),
            "{case}: two exports of one window: {exports:?}"
        );
        for group in GROUPS {
            let checkpoint = world.checkpoint(group).await;
            assert!(
                checkpoint.contains(r#""exported_until": "2026-11-21T00:00:00Z""#)
                    && !checkpoint.contains("pending"),
                "{case}: {checkpoint}"
            );
        }
        let notice = faults.notices.last().expect("a Notice");
        assert_eq!(notice.title, WHOLE_RUN, "{case}");
        let expected_notices = if call == "sns:Publish" { 2 } else { 1 };
        assert_eq!(faults.notices.len(), expected_notices, "{case}");
        assert!(
            world.lease_is_free().await || call == "dynamodb:DeleteItem",
            "{case}: the lease is free"
        );
        rows.push(format!(
            "{index:>2} {call:<36} {}",
            match (&first, &retry) {
                (Err(_), Some(_)) => "failed, retried: done once",
                (Ok(_), _) => "not retried (run already complete): done once",
                (Err(_), None) => "?",
            }
        ));
    }
    println!(
        "500 after each of {} calls, each with Lambda's retry, in {:.1} s:\n{}",
        calls.len(),
        started.elapsed().as_secs_f64(),
        rows.join("\n")
    );
}

#[tokio::test]
async fn a_manual_run_retried_after_a_500_on_its_snapshot_makes_one_snapshot() {
    let payload = json!({"database": true, "logs": false, "reason": "before release 1.5"});
    let clean = world().await;
    let (_, _, faults) = broken_then_retried(&clean, &payload, None).await;
    let create = faults
        .seen
        .iter()
        .position(|c| c == "rds:CreateDBClusterSnapshot")
        .expect("a create");
    // the 500 on the create itself, and on the call right after it
    for target in [create, create + 1] {
        let world = world().await;
        let (first, retry, faults) = broken_then_retried(&world, &payload, Some(target)).await;
        assert!(first.is_err(), "{target}: retried");
        let retry = retry.expect("retried");
        assert_eq!(retry.decision.as_deref(), Some("backup-done"), "{retry:#?}");
        let made: Vec<String> = world
            .snapshots()
            .await
            .into_iter()
            .filter(|id| id.contains("-manual-"))
            .collect();
        assert_eq!(
            made,
            ["phoenix-ops-phoenix-docdb-manual-20261121-030005-req1"],
            "one snapshot, named by the first attempt (03:00:05), none at 03:01:05"
        );
        assert!(
            faults
                .notices
                .last()
                .is_some_and(|n| n.title.contains("manual-20261121-030005-req1 created")),
            "{:?}",
            faults.notices
        );
    }
}
