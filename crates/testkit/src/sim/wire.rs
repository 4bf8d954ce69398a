//! The wire: a layer around the world's HTTP client that every simulated actor (each function,
//! CloudFormation, ECS, people) talks through. It
//!
//! * records every AWS call with its actor, simulated time, operation, request and answer status,
//!   so the scenarios can say who changed `desiredCount`, who paged whom, what each function did;
//! * answers `DescribeServices` with the counts and deployments of the ECS model (moto keeps one
//!   deployment forever and moves `runningCount` only on UpdateService: see [`super::ecs`]);
//! * takes SQS `DelaySeconds` out of `SendMessage` (moto would delay in *real* time) and keeps the
//!   due time in *simulated* time instead, keyed by the message id SQS returns; the delivery model
//!   hands the message over when it is due ([`Wire::due_time`]).
//!
//! Nothing here changes what a handler sees except those two gap fills, both visible here.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use chrono::{DateTime, Duration, Utc};
use phoenix_core::SdkConfig;
use serde_json::{Map, Value};

/// One AWS call, as the wire saw it.
#[derive(Debug, Clone)]
pub struct Call {
    /// Who made it (`task-recovery#1`, `cloudformation`, `ecs`…).
    pub actor: String,
    /// Simulated time of the call.
    pub at: DateTime<Utc>,
    /// The signing name (`ecs`, `sns`, `sqs`, `dynamodb`…).
    pub service: String,
    /// `UpdateService`, `Publish`, `SendMessage`…
    pub operation: String,
    /// The JSON request, or the form fields of a query request.
    pub request: Value,
    /// HTTP status of the answer (0: no answer).
    pub status: u16,
}

impl Call {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// `service:Operation`, as IAM names it.
    pub fn label(&self) -> String {
        format!("{}:{}", self.service, self.operation)
    }

    /// A string field of the request.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.request.get(name).and_then(Value::as_str)
    }

    /// The string message attributes of an SNS Publish (query form fields
    /// `MessageAttributes.entry.N.Name` / `.Value.StringValue`).
    pub fn sns_attributes(&self) -> BTreeMap<String, String> {
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        let mut values: BTreeMap<String, String> = BTreeMap::new();
        if let Some(fields) = self.request.as_object() {
            for (key, value) in fields {
                let Some(rest) = key.strip_prefix("MessageAttributes.entry.") else {
                    continue;
                };
                let Some((n, field)) = rest.split_once('.') else {
                    continue;
                };
                let text = value.as_str().unwrap_or_default().to_owned();
                match field {
                    "Name" => {
                        names.insert(n.to_owned(), text);
                    }
                    "Value.StringValue" => {
                        values.insert(n.to_owned(), text);
                    }
                    _ => {}
                }
            }
        }
        names
            .into_iter()
            .filter_map(|(n, name)| values.get(&n).map(|v| (name, v.clone())))
            .collect()
    }
}

/// What DescribeServices answers for one service (from the ECS model).
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceView {
    pub running: i64,
    pub pending: i64,
    pub task_definition: String,
    /// DescribeServices `deployments` entries (JSON, as ECS writes them).
    pub deployments: Vec<Value>,
}

#[derive(Debug, Default)]
struct WireState {
    now: Option<DateTime<Utc>>,
    calls: Vec<Call>,
    services: HashMap<String, ServiceView>,
    /// SQS message id → due (simulated).
    due: HashMap<String, DateTime<Utc>>,
    /// Queue URL → the queue's own DelaySeconds attribute.
    queue_delays: HashMap<String, i64>,
}

/// The shared layer; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Wire {
    state: Arc<Mutex<WireState>>,
}

impl Wire {
    fn lock(&self) -> MutexGuard<'_, WireState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An SDK configuration for one actor: the world's, with this layer around its HTTP client.
    pub fn sdk_for(&self, base: &SdkConfig, actor: &str) -> SdkConfig {
        let mut builder = base.to_builder();
        if let Some(inner) = base.http_client() {
            builder = builder.http_client(WireClient {
                wire: self.clone(),
                actor: actor.to_owned(),
                inner,
            });
        }
        builder.build()
    }

    /// Simulated time stamped on calls from now on.
    pub fn set_now(&self, now: DateTime<Utc>) {
        self.lock().now = Some(now);
    }

    /// Every call since the last take.
    pub fn take_calls(&self) -> Vec<Call> {
        std::mem::take(&mut self.lock().calls)
    }

    /// From now on DescribeServices answers these counts for the service.
    pub fn set_service_view(&self, service: &str, view: ServiceView) {
        self.lock().services.insert(service.to_owned(), view);
    }

    /// Messages sent to this queue without their own delay wait this long (the queue's
    /// `DelaySeconds` attribute, kept here instead of in moto).
    pub fn set_queue_delay(&self, queue_url: &str, seconds: i64) {
        self.lock()
            .queue_delays
            .insert(queue_url.to_owned(), seconds);
    }

    /// When an SQS message sent with a delay becomes visible, in simulated time.
    pub fn due_time(&self, message_id: &str) -> Option<DateTime<Utc>> {
        self.lock().due.get(message_id).copied()
    }

    fn record(&self, call: Call) {
        self.lock().calls.push(call);
    }
}

#[derive(Debug)]
struct WireClient {
    wire: Wire,
    actor: String,
    inner: SharedHttpClient,
}

impl HttpClient for WireClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(WireConnector {
            wire: self.wire.clone(),
            actor: self.actor.clone(),
            inner: self.inner.http_connector(settings, components),
        })
    }
}

#[derive(Debug)]
struct WireConnector {
    wire: Wire,
    actor: String,
    inner: SharedHttpConnector,
}

/// The signing name in `Authorization: AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request`.
fn signing_name(request: &HttpRequest) -> String {
    request
        .headers()
        .get("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(3))
        .unwrap_or("unknown")
        .to_owned()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 3 <= bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `a=1&b=2` as a JSON object of strings.
fn form_fields(body: &str) -> Value {
    let fields: Map<String, Value> = body
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), Value::String(percent_decode(v)))
        })
        .collect();
    Value::Object(fields)
}

/// Operation name and request fields.
fn describe(request: &HttpRequest) -> (String, Value) {
    let body = request.body().bytes().unwrap_or_default();
    if let Some(target) = request.headers().get("x-amz-target") {
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        let json = serde_json::from_slice(body).unwrap_or(Value::Null);
        return (operation, json);
    }
    let text = String::from_utf8_lossy(body);
    if text.contains("Action=") {
        let fields = form_fields(&text);
        let operation = fields
            .get("Action")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_owned();
        return (operation, fields);
    }
    let path = request
        .uri()
        .split('?')
        .next()
        .unwrap_or_default()
        .to_owned();
    (format!("{} {path}", request.method()), Value::Null)
}

/// Removes `DelaySeconds` (≤ 900, the SQS maximum) from a SendMessage/SendMessageBatch request;
/// returns the delays by batch entry id (`""` for SendMessage) and the new body.
fn strip_delays(
    operation: &str,
    request: &mut Value,
    queue_default: i64,
) -> Option<HashMap<String, i64>> {
    let mut delays = HashMap::new();
    let mut take = |object: &mut Map<String, Value>, id: String| {
        let delay = object
            .get("DelaySeconds")
            .and_then(Value::as_i64)
            .unwrap_or(queue_default);
        if (1..=900).contains(&delay) {
            object.remove("DelaySeconds");
            delays.insert(id, delay);
        }
    };
    match operation {
        "SendMessage" => take(request.as_object_mut()?, String::new()),
        "SendMessageBatch" => {
            for entry in request.get_mut("Entries")?.as_array_mut()? {
                let id = entry.get("Id")?.as_str()?.to_owned();
                take(entry.as_object_mut()?, id);
            }
        }
        _ => return None,
    }
    (!delays.is_empty()).then_some(delays)
}

impl HttpConnector for WireConnector {
    fn call(&self, mut request: HttpRequest) -> HttpConnectorFuture {
        let service = signing_name(&request);
        let (operation, mut fields) = describe(&request);
        let now = self.wire.lock().now.unwrap_or_else(Utc::now);
        let mut delays = None;
        if service == "sqs" {
            let queue = fields
                .get("QueueUrl")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let default = self
                .wire
                .lock()
                .queue_delays
                .get(&queue)
                .copied()
                .unwrap_or(0);
            let mut rewritten = fields.clone();
            delays = strip_delays(&operation, &mut rewritten, default);
            if delays.is_some() {
                let body = rewritten.to_string();
                request
                    .headers_mut()
                    .insert("content-length", body.len().to_string());
                *request.body_mut() = SdkBody::from(body);
            }
        }
        let rewrite_services = operation == "DescribeServices";
        let pending = self.inner.call(request);
        let wire = self.wire.clone();
        let actor = self.actor.clone();
        HttpConnectorFuture::new(async move {
            let result = pending.await;
            let mut response = match result {
                Ok(response) => response,
                Err(e) => {
                    wire.record(Call {
                        actor,
                        at: now,
                        service,
                        operation,
                        request: fields,
                        status: 0,
                    });
                    return Err(e);
                }
            };
            let status = response.status().as_u16();
            if (200..300).contains(&status) && (rewrite_services || delays.is_some()) {
                let body = response.take_body();
                let bytes = aws_smithy_types::byte_stream::ByteStream::new(body)
                    .collect()
                    .await
                    .map(|b| b.into_bytes().to_vec())
                    .unwrap_or_default();
                let mut json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                let mut out = bytes;
                if rewrite_services && wire.complete_services(&mut json) {
                    out = serde_json::to_vec(&json).unwrap_or(out);
                }
                if let Some(delays) = &delays {
                    wire.remember_delays(&operation, &json, delays, now);
                }
                response
                    .headers_mut()
                    .insert("content-length", out.len().to_string());
                *response.body_mut() = SdkBody::from(out);
            }
            if let Some(object) = fields.as_object_mut() {
                // Keep the record small: message bodies of SQS and SNS stay, signatures do not.
                object.remove("Signature");
            }
            wire.record(Call {
                actor,
                at: now,
                service,
                operation,
                request: fields,
                status,
            });
            Ok(response)
        })
    }
}

impl Wire {
    /// Rewrites a DescribeServices answer from the ECS model's views; true when changed.
    fn complete_services(&self, json: &mut Value) -> bool {
        let state = self.lock();
        let Some(services) = json.get_mut("services").and_then(Value::as_array_mut) else {
            return false;
        };
        let mut changed = false;
        for service in services {
            let Some(name) = service.get("serviceName").and_then(Value::as_str) else {
                continue;
            };
            let Some(view) = state.services.get(name) else {
                continue;
            };
            service["runningCount"] = view.running.into();
            service["pendingCount"] = view.pending.into();
            service["taskDefinition"] = view.task_definition.clone().into();
            service["deployments"] = Value::Array(view.deployments.clone());
            changed = true;
        }
        changed
    }

    fn remember_delays(
        &self,
        operation: &str,
        json: &Value,
        delays: &HashMap<String, i64>,
        now: DateTime<Utc>,
    ) {
        let mut state = self.lock();
        let mut due = |message_id: &str, delay: i64| {
            state
                .due
                .insert(message_id.to_owned(), now + Duration::seconds(delay));
        };
        if operation == "SendMessage" {
            if let (Some(id), Some(delay)) = (
                json.get("MessageId").and_then(Value::as_str),
                delays.get(""),
            ) {
                due(id, *delay);
            }
            return;
        }
        for entry in json
            .get("Successful")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(entry_id), Some(message_id)) = (
                entry.get("Id").and_then(Value::as_str),
                entry.get("MessageId").and_then(Value::as_str),
            ) && let Some(delay) = delays.get(entry_id)
            {
                due(message_id, *delay);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_forms_and_sns_attributes_are_read() {
        let fields = form_fields(
            "Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aeu-west-1%3A1%3Aoncall&Subject=A+b&MessageAttributes.entry.1.Name=severity&MessageAttributes.entry.1.Value.DataType=String&MessageAttributes.entry.1.Value.StringValue=error",
        );
        let call = Call {
            actor: "a".into(),
            at: Utc::now(),
            service: "sns".into(),
            operation: "Publish".into(),
            request: fields,
            status: 200,
        };
        assert_eq!(
            call.field("TopicArn"),
            Some("arn:aws:sns:eu-west-1:1:oncall")
        );
        assert_eq!(call.field("Subject"), Some("A b"));
        assert_eq!(
            call.sns_attributes(),
            BTreeMap::from([("severity".to_owned(), "error".to_owned())])
        );
        assert_eq!(call.label(), "sns:Publish");
    }

    #[test]
    fn delays_are_taken_out_of_sqs_sends() {
        let mut send = serde_json::json!({"QueueUrl": "q", "MessageBody": "x", "DelaySeconds": 60});
        let delays = strip_delays("SendMessage", &mut send, 0).expect("a delay");
        assert_eq!(delays.get(""), Some(&60));
        assert!(send.get("DelaySeconds").is_none());
        let mut plain = serde_json::json!({"QueueUrl": "q", "MessageBody": "x"});
        assert!(strip_delays("SendMessage", &mut plain, 0).is_none());
        let mut default = serde_json::json!({"QueueUrl": "q", "MessageBody": "x"});
        assert_eq!(
            strip_delays("SendMessage", &mut default, 30).and_then(|d| d.get("").copied()),
            Some(30)
        );
        let mut too_long = serde_json::json!({"QueueUrl": "q", "DelaySeconds": 901});
        assert!(
            strip_delays("SendMessage", &mut too_long, 0).is_none(),
            "beyond 900 s SQS refuses it: left to the emulator"
        );
        let mut batch = serde_json::json!({"Entries": [
            {"Id": "a", "MessageBody": "1", "DelaySeconds": 5},
            {"Id": "b", "MessageBody": "2"}
        ]});
        let delays = strip_delays("SendMessageBatch", &mut batch, 0).expect("delays");
        assert_eq!(delays.len(), 1);
        assert_eq!(delays.get("a"), Some(&5));
    }
}
