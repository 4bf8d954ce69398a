//! The local AWS emulator (moto in server mode), shared by every test of a run.
//!
//! `scripts/test.sh` starts one server and exports `PHOENIX_EMULATOR_URL`; a test process run
//! by hand (plain `cargo test`) starts its own through `scripts/emulator.py`, which exits when
//! the test process does. Tests never reset the shared server: each test works in its own
//! account, selected with moto's `x-moto-account-id` request header, which [`Emulator::sdk_config`]
//! adds to every request through a wrapping HTTP client (handlers stay emulator-agnostic).
//!
//! The same wrapper, visibly and only in the harness:
//! * records every call ([`CallLog`]: account, service, operation, mutating or not);
//! * translates CloudWatch's RPC-v2 CBOR (what the SDK speaks) to moto's JSON 1.0 and back
//!   ([`crate::cloudwatch_cbor`]);
//! * fills what moto's ECS cannot produce ([`EcsGaps`]): a stopped task's stop code, stop time and
//!   exit codes (moto's StopTask sets none), and a service whose running + pending count is below
//!   its desired count (moto keeps them equal).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sns::config::{Credentials, SharedCredentialsProvider};
use aws_smithy_async::rt::sleep::{SharedAsyncSleep, TokioSleep};
use aws_smithy_async::time::{SharedTimeSource, SystemTimeSource};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

use crate::HarnessError;
use crate::calls::{Call, CallLog, identify, is_read_only};
use crate::cloudwatch_cbor;

/// Region of every emulated world.
pub const REGION: &str = "eu-west-1";
/// moto's default account (what `phoenix-ops invoke` and `sandbox up` use).
pub const DEFAULT_ACCOUNT: &str = "123456789012";
/// The header moto reads to pick the account of a request.
pub const ACCOUNT_HEADER: &str = "x-moto-account-id";

/// The repository root (testkit lives at `crates/testkit`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A running emulator.
#[derive(Debug)]
pub struct Emulator {
    url: String,
    child: Option<Child>,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Emulator {
    /// The emulator of this process: the one named by `PHOENIX_EMULATOR_URL`, or one started now.
    /// Panics with a clear message if it cannot start (tests cannot run without it).
    pub fn shared() -> &'static Emulator {
        static SHARED: OnceLock<Emulator> = OnceLock::new();
        SHARED.get_or_init(|| match std::env::var("PHOENIX_EMULATOR_URL") {
            Ok(url) if !url.trim().is_empty() => Emulator {
                url: url.trim().trim_end_matches('/').to_owned(),
                child: None,
            },
            _ => match Emulator::start() {
                Ok(emulator) => emulator,
                Err(e) => panic!("{e}"),
            },
        })
    }

    /// Starts a private emulator on a free port (blocking until it answers).
    pub fn start() -> Result<Emulator, HarnessError> {
        let root = repo_root();
        let python = std::env::var("PHOENIX_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|_| root.join(".venv/emulator/bin/python"));
        if !python.exists() {
            return Err(HarnessError::Setup(format!(
                "the emulator's Python is missing at {}: run scripts/setup.sh first",
                python.display()
            )));
        }
        let mut child = Command::new(&python)
            .arg(root.join("scripts/emulator.py"))
            .arg("--watch-parent")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| HarnessError::Setup(format!("cannot start {}: {e}", python.display())))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| HarnessError::Setup("emulator stdout missing".into()))?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map_err(|e| {
            HarnessError::Setup(format!("emulator did not report its address: {e}"))
        })?;
        match line.trim().strip_prefix("PHOENIX_EMULATOR_URL=") {
            Some(url) => Ok(Emulator {
                url: url.to_owned(),
                child: Some(child),
            }),
            None => {
                let _ = child.kill();
                Err(HarnessError::Setup(format!(
                    "the emulator did not start (it printed {line:?}); see its error above"
                )))
            }
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// An SDK configuration that talks to this emulator, in `account`.
    pub fn sdk_config(&self, account: &str) -> SdkConfig {
        self.sdk_config_with_gaps(account, EcsGaps::default())
    }

    /// As [`Emulator::sdk_config`], with ECS responses completed from `gaps`.
    pub fn sdk_config_with_gaps(&self, account: &str, gaps: EcsGaps) -> SdkConfig {
        self.sdk_config_recording(account, gaps, CallLog::default())
    }

    /// As [`Emulator::sdk_config_with_gaps`], recording every call in `calls`.
    pub fn sdk_config_recording(&self, account: &str, gaps: EcsGaps, calls: CallLog) -> SdkConfig {
        let https = phoenix_core::aws::https_client();
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&self.url)
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKIAPHOENIXTEST",
                "phoenix-test-secret",
                None,
                None,
                "phoenix-testkit",
            )))
            .http_client(SharedHttpClient::new(AccountHeaderClient {
                account: account.to_owned(),
                gaps,
                calls,
                inner: https,
            }))
            .retry_config(phoenix_core::aws::retry_config())
            .timeout_config(phoenix_core::aws::timeout_config())
            .sleep_impl(SharedAsyncSleep::new(TokioSleep::new()))
            .time_source(SharedTimeSource::new(SystemTimeSource::new()))
            .build()
    }
}

/// A fresh 12-digit account id, unique within this run (process id + counter), so tests that
/// share one emulator never see each other's resources.
pub fn new_account() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{:06}{:06}", std::process::id() % 1_000_000, n % 1_000_000)
}

/// What real ECS would say about a stopped task that moto cannot say.
#[derive(Debug, Clone, PartialEq)]
pub struct StoppedTaskFacts {
    pub stop_code: String,
    pub stopped_reason: String,
    pub stopped_at: chrono::DateTime<chrono::Utc>,
    /// Exit code of every container (moto leaves 0).
    pub exit_code: Option<i32>,
    pub container_reason: Option<String>,
}

#[derive(Debug, Default)]
struct GapState {
    stopped_tasks: HashMap<String, StoppedTaskFacts>,
    /// Service name -> (running, pending).
    service_counts: HashMap<String, (i64, i64)>,
    /// Deployments (by id) that reached steady state once: ECS keeps them `COMPLETED`.
    settled_deployments: std::collections::HashSet<String>,
}

/// The ECS facts the harness adds to moto's DescribeTasks/DescribeServices answers.
#[derive(Debug, Clone, Default)]
pub struct EcsGaps {
    state: Arc<Mutex<GapState>>,
}

impl EcsGaps {
    fn with<T>(&self, f: impl FnOnce(&mut GapState) -> T) -> T {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut state)
    }

    /// From now on DescribeTasks reports this task stopped with these facts.
    pub fn task_stopped(&self, task_arn: &str, facts: StoppedTaskFacts) {
        self.with(|s| s.stopped_tasks.insert(task_arn.to_owned(), facts));
    }

    /// From now on DescribeServices reports these running/pending counts for the service.
    pub fn service_counts(&self, service: &str, running: i64, pending: i64) {
        self.with(|s| {
            s.service_counts
                .insert(service.to_owned(), (running, pending))
        });
    }

    /// Back to moto's own counts.
    pub fn clear_service_counts(&self, service: &str) {
        self.with(|s| s.service_counts.remove(service));
    }

    fn is_empty(&self) -> bool {
        self.with(|s| s.stopped_tasks.is_empty() && s.service_counts.is_empty())
    }

    /// Completes a DescribeTasks or DescribeServices JSON answer.
    fn complete(&self, operation: &str, body: &[u8]) -> Option<Vec<u8>> {
        let mut json: serde_json::Value = serde_json::from_slice(body).ok()?;
        self.with(|state| match operation {
            "DescribeTasks" => {
                for task in json["tasks"].as_array_mut()? {
                    let arn = task["taskArn"].as_str()?.to_owned();
                    if let Some(facts) = state.stopped_tasks.get(&arn) {
                        let at = facts.stopped_at.timestamp_millis() as f64 / 1000.0;
                        task["lastStatus"] = "STOPPED".into();
                        task["desiredStatus"] = "STOPPED".into();
                        task["stopCode"] = facts.stop_code.clone().into();
                        task["stoppedReason"] = facts.stopped_reason.clone().into();
                        task["stoppedAt"] = at.into();
                        task["stoppingAt"] = at.into();
                        task["executionStoppedAt"] = at.into();
                        for container in task["containers"].as_array_mut().into_iter().flatten() {
                            container["lastStatus"] = "STOPPED".into();
                            container["exitCode"] = facts.exit_code.into();
                            if let Some(reason) = &facts.container_reason {
                                container["reason"] = reason.clone().into();
                            }
                        }
                    }
                }
                Some(())
            }
            "DescribeServices" => {
                for service in json["services"].as_array_mut()? {
                    let name = service["serviceName"].as_str()?.to_owned();
                    if let Some((running, pending)) = state.service_counts.get(&name) {
                        service["runningCount"] = (*running).into();
                        service["pendingCount"] = (*pending).into();
                    }
                    // moto fixes a deployment's rolloutState when the service is created (and
                    // CreateService starts with 0 running, so IN_PROGRESS forever); ECS completes
                    // the rollout once the running count reaches the desired count, and a
                    // completed rollout stays COMPLETED when a task dies later.
                    let settled =
                        service["runningCount"].as_i64() >= service["desiredCount"].as_i64();
                    if let Some(deployments) = service["deployments"].as_array_mut()
                        && deployments.len() == 1
                    {
                        let id = deployments[0]["id"].as_str().unwrap_or_default().to_owned();
                        if settled {
                            state.settled_deployments.insert(id.clone());
                        }
                        if state.settled_deployments.contains(&id) {
                            deployments[0]["rolloutState"] = "COMPLETED".into();
                        }
                    }
                }
                Some(())
            }
            _ => None,
        })?;
        serde_json::to_vec(&json).ok()
    }
}

/// Adds `x-moto-account-id` to every request of the wrapped client, records the call, translates
/// CloudWatch CBOR, and completes ECS answers.
#[derive(Debug)]
struct AccountHeaderClient {
    account: String,
    gaps: EcsGaps,
    calls: CallLog,
    inner: SharedHttpClient,
}

impl HttpClient for AccountHeaderClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(AccountHeaderConnector {
            account: self.account.clone(),
            gaps: self.gaps.clone(),
            calls: self.calls.clone(),
            inner: self.inner.http_connector(settings, components),
        })
    }
}

#[derive(Debug)]
struct AccountHeaderConnector {
    account: String,
    gaps: EcsGaps,
    calls: CallLog,
    inner: SharedHttpConnector,
}

const ECS_TARGET_PREFIX: &str = "AmazonEC2ContainerServiceV20141113.";

/// Replaces a response's body (and its length).
fn set_body(response: &mut HttpResponse, body: Vec<u8>) {
    response
        .headers_mut()
        .insert("content-length", body.len().to_string());
    *response.body_mut() = SdkBody::from(body);
}

async fn read_body(response: &mut HttpResponse) -> Vec<u8> {
    let body = response.take_body();
    aws_smithy_types::byte_stream::ByteStream::new(body)
        .collect()
        .await
        .map(|b| b.into_bytes().to_vec())
        .unwrap_or_default()
}

/// Rewrites a CloudWatch RPC-v2 CBOR request into moto's JSON 1.0 (see [`cloudwatch_cbor`]).
fn cbor_request_to_json(request: &mut HttpRequest, operation: &str) -> Result<(), String> {
    let gzip = request.headers().get("content-encoding") == Some("gzip");
    let body = request
        .body()
        .bytes()
        .ok_or("a streaming CloudWatch request body")?;
    let json = cloudwatch_cbor::request_to_json(body, gzip)?;
    let uri = request.uri().to_owned();
    let path = request.uri().split('?').next().unwrap_or_default();
    let path = path
        .find("/service/")
        .map(|at| &path[at..])
        .unwrap_or(path)
        .to_owned();
    request
        .set_uri(uri.replacen(&path, "/", 1))
        .map_err(|e| format!("rewriting {uri}: {e}"))?;
    let headers = request.headers_mut();
    for name in ["smithy-protocol", "content-encoding", "x-amzn-query-mode"] {
        headers.remove(name);
    }
    headers.insert("accept", "application/json");
    headers.insert("content-type", "application/x-amz-json-1.0");
    headers.insert(
        "x-amz-target",
        format!("{}{operation}", cloudwatch_cbor::TARGET_PREFIX),
    );
    headers.insert("content-length", json.len().to_string());
    *request.body_mut() = SdkBody::from(json);
    Ok(())
}

impl HttpConnector for AccountHeaderConnector {
    fn call(&self, mut request: HttpRequest) -> HttpConnectorFuture {
        request
            .headers_mut()
            .insert(ACCOUNT_HEADER, self.account.clone());
        let (service, operation) = {
            let headers = request.headers();
            identify(
                request.method(),
                request
                    .uri()
                    .split_once("://")
                    .map_or(request.uri(), |(_, rest)| {
                        rest.find('/').map_or("/", |at| &rest[at..])
                    }),
                &|name| headers.get(name).map(str::to_owned),
                request.body().bytes(),
            )
        };
        self.calls.record(Call {
            account: self.account.clone(),
            mutating: !is_read_only(&service, &operation),
            service,
            operation,
        });

        // CloudWatch: CBOR in, JSON to moto, CBOR back.
        let path = request
            .uri()
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|at| rest[at..].to_owned()))
            .unwrap_or_default();
        if let Some(operation) =
            cloudwatch_cbor::cbor_operation(&path, request.headers().get("smithy-protocol"))
        {
            if let Err(e) = cbor_request_to_json(&mut request, &operation) {
                let answer = cloudwatch_cbor::answer_to_cbor(&operation, 400, None, e.as_bytes());
                return HttpConnectorFuture::ready(cbor_response(answer));
            }
            let pending = self.inner.call(request);
            return HttpConnectorFuture::new(async move {
                let mut response = pending.await?;
                let body = read_body(&mut response).await;
                let answer = cloudwatch_cbor::answer_to_cbor(
                    &operation,
                    response.status().as_u16(),
                    response.headers().get("x-amzn-query-error"),
                    &body,
                );
                let mut translated = cbor_response(answer)?;
                if let Some(id) = response.headers().get("x-amzn-requestid") {
                    translated
                        .headers_mut()
                        .insert("x-amzn-requestid", id.to_owned());
                }
                Ok(translated)
            });
        }

        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.strip_prefix(ECS_TARGET_PREFIX))
            .filter(|op| matches!(*op, "DescribeTasks" | "DescribeServices"))
            .map(str::to_owned);
        let pending = self.inner.call(request);
        match operation {
            Some(operation) if operation == "DescribeServices" || !self.gaps.is_empty() => {
                let gaps = self.gaps.clone();
                HttpConnectorFuture::new(async move {
                    let mut response = pending.await?;
                    let bytes = read_body(&mut response).await;
                    let completed = gaps.complete(&operation, &bytes).unwrap_or(bytes);
                    set_body(&mut response, completed);
                    Ok(response)
                })
            }
            _ => pending,
        }
    }
}

/// An HTTP answer in RPC-v2 CBOR.
fn cbor_response(answer: cloudwatch_cbor::CborAnswer) -> Result<HttpResponse, ConnectorError> {
    let mut builder = hyper::Response::builder()
        .status(answer.status)
        .header("smithy-protocol", "rpc-v2-cbor")
        .header("content-type", "application/cbor")
        .header("content-length", answer.body.len().to_string());
    if let Some(query_error) = answer.query_error {
        builder = builder.header("x-amzn-query-error", query_error);
    }
    builder
        .body(SdkBody::from(answer.body))
        .map_err(|e| ConnectorError::other(e.into(), None))
        .and_then(|r| HttpResponse::try_from(r).map_err(|e| ConnectorError::other(e.into(), None)))
}
