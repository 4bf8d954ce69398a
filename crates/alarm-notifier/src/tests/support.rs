//! Test set-up shared by the notifier's tests: fixtures, configuration, the ledger table in the
//! emulator, a fault injector for the ledger's DynamoDB calls, and servers that refuse or never
//! answer.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use chrono::{DateTime, TimeZone, Utc};
use phoenix_core::lambda::load_config;
use phoenix_core::{SdkConfig, Vars};
use phoenix_testkit::Emulator;
use serde_json::Value;

use crate::{AlarmNotifier, Clients, Config};

pub const SECRET: &str =
    "arn:aws:secretsmanager:eu-west-1:111122223333:secret:phoenix/slack-webhook-AbCdEf";
pub const ONCALL: &str = "arn:aws:sns:eu-west-1:111122223333:phoenix-oncall";
pub const TABLE: &str = "phoenix-ledger";
/// The dashboard of the sample stack (as the template's `DashboardUrl` output spells it).
pub const DASHBOARD: &str = "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards:name=phoenix-ops-phoenix";

/// The fixed time of the tests (the fixtures' alarm changed state at 10:15:10).
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 15, 12)
        .single()
        .expect("valid time")
}

/// `events/<name>` of this checkout. Read from the directory cargo runs the tests for (the
/// shared target directory may hold a test kit built from another checkout, whose
/// `phoenix_testkit::fixture` would read that checkout's `events/`).
pub fn fixture(name: &str) -> Value {
    let crate_dir = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned());
    let path = std::path::Path::new(&crate_dir)
        .join("../../events")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The body of an SNS fixture's first record.
pub fn sns_body(name: &str) -> String {
    fixture(name)["Records"][0]["Sns"]["Message"]
        .as_str()
        .expect("an SNS fixture")
        .to_owned()
}

/// The notifier's configuration, as the template sets it, with `extra` on top.
pub fn config_with(extra: &[(&str, &str)]) -> Config {
    let mut env = vec![
        ("SLACK_WEBHOOK_SECRET_ARN", SECRET),
        ("ONCALL_TOPIC_ARN", ONCALL),
        ("LEDGER_TABLE", TABLE),
        ("DASHBOARD_URL", DASHBOARD),
    ];
    env.extend_from_slice(extra);
    load_config::<AlarmNotifier>(Vars::new(|k| {
        env.iter()
            .rev()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| (*v).to_owned())
    }))
    .expect("valid configuration")
}

pub fn notifier(clients: Clients, dry_run: bool) -> AlarmNotifier {
    let dry = if dry_run { "true" } else { "false" };
    AlarmNotifier::new(config_with(&[("DRY_RUN", dry)]), clients)
}

/// An SDK configuration for a fresh account of the shared emulator, with the ledger table
/// created in it (the same spec as the template and the test kit: `pk` string hash key,
/// on demand). A table the world already made is fine.
pub async fn emulator_with_ledger() -> SdkConfig {
    let account = phoenix_testkit::new_account();
    let sdk = Emulator::shared().sdk_config(&account);
    create_ledger_table(&aws_sdk_dynamodb::Client::new(&sdk)).await;
    sdk
}

pub async fn create_ledger_table(dynamodb: &aws_sdk_dynamodb::Client) {
    let created = dynamodb
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
        .await;
    if let Err(e) = created {
        let code = aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&e);
        assert_eq!(code, Some("ResourceInUseException"), "create table: {e:?}");
    }
}

/// Every item of the ledger table, `pk` → `state`.
pub async fn ledger_items(sdk: &SdkConfig) -> Vec<(String, String)> {
    let out = aws_sdk_dynamodb::Client::new(sdk)
        .scan()
        .table_name(TABLE)
        .send()
        .await
        .expect("scan the ledger");
    let mut items: Vec<(String, String)> = out
        .items()
        .iter()
        .map(|item| {
            let text = |k: &str| {
                item.get(k)
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default()
            };
            (text("pk"), text("state"))
        })
        .collect();
    items.sort();
    items
}

/// One injected fault: the next `times` answers to `operation` are replaced by `status` with
/// the error `code`. `applied`: the request reached the emulator and took effect (a lost
/// answer); otherwise it was spoiled on the way, so nothing changed (a failed write).
#[derive(Debug, Clone)]
struct Fault {
    operation: &'static str,
    status: u16,
    code: &'static str,
    times: usize,
    applied: bool,
}

/// Injects faults into a client's answers (an interceptor): what the emulator cannot produce.
#[derive(Debug, Clone, Default)]
pub struct Faults(Arc<Mutex<Vec<Fault>>>);

impl Faults {
    /// The next `times` answers to `operation` become `status` / `code`; the requests took
    /// effect (the answers were lost).
    pub fn fail(&self, operation: &'static str, status: u16, code: &'static str, times: usize) {
        self.push(operation, status, code, times, true);
    }

    /// The next `times` calls of `operation` fail with `status` / `code` and change nothing.
    pub fn fail_unapplied(
        &self,
        operation: &'static str,
        status: u16,
        code: &'static str,
        times: usize,
    ) {
        self.push(operation, status, code, times, false);
    }

    fn push(
        &self,
        operation: &'static str,
        status: u16,
        code: &'static str,
        times: usize,
        applied: bool,
    ) {
        self.0.lock().expect("faults lock").push(Fault {
            operation,
            status,
            code,
            times,
            applied,
        });
    }

    fn active(&self, cfg: &ConfigBag) -> Option<(usize, Fault)> {
        let operation = cfg.load::<Metadata>()?.name().to_owned();
        let faults = self.0.lock().expect("faults lock");
        faults
            .iter()
            .enumerate()
            .find(|(_, f)| f.operation == operation && f.times > 0)
            .map(|(i, f)| (i, f.clone()))
    }
}

impl Intercept for Faults {
    fn name(&self) -> &'static str {
        "Faults"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some((_, fault)) = self.active(cfg)
            && !fault.applied
        {
            // Point the request at a table that does not exist: the emulator refuses it and
            // changes nothing.
            let request = context.request_mut();
            let mut body: Value = request
                .body()
                .bytes()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or_default();
            body["TableName"] = Value::from("no-such-table-spoiled-by-the-test");
            let body = body.to_string();
            request
                .headers_mut()
                .insert("content-length", body.len().to_string());
            *request.body_mut() = SdkBody::from(body);
        }
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some((index, fault)) = self.active(cfg) {
            self.0.lock().expect("faults lock")[index].times -= 1;
            let body = format!(
                r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{}","message":"injected by the test"}}"#,
                fault.code
            );
            *context.response_mut() =
                Response::new(StatusCode::try_from(fault.status)?, SdkBody::from(body));
        }
        Ok(())
    }
}

/// A DynamoDB client on the emulator whose answers `faults` can replace.
pub fn dynamodb_with_faults(sdk: &SdkConfig, faults: &Faults) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::config::Builder::from(sdk)
        .interceptor(faults.clone())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// An SDK configuration whose every call goes to `endpoint` (a closed port, a silent server),
/// with short timeouts and two attempts, so that connection failures and timeouts are quick.
pub fn sdk_at(endpoint: &str) -> SdkConfig {
    use aws_sdk_dynamodb::config::{Credentials, Region, SharedCredentialsProvider};
    let credentials = Credentials::new("AKIATEST", "test-secret", None, None, "tests");
    phoenix_core::aws::base_config()
        .region(Region::new("eu-west-1"))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .endpoint_url(endpoint)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(2)
                .with_initial_backoff(Duration::from_millis(20)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(300))
                .operation_attempt_timeout(Duration::from_millis(400))
                .operation_timeout(Duration::from_secs(2))
                .build(),
        )
        .build()
}

/// `http://127.0.0.1:PORT` where nobody listens (bound, then released).
pub fn closed_port_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    format!("http://127.0.0.1:{port}")
}

/// A server that accepts connections, reads what is sent, and never answers (a timeout).
/// Returns its URL and how many connections it accepted.
pub async fn silent_server() -> (String, Arc<Mutex<usize>>) {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let accepted = Arc::new(Mutex::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            *count.lock().expect("count") += 1;
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buffer).await {
                    if n == 0 {
                        break;
                    }
                }
            });
        }
    });
    (url, accepted)
}
