//! Faults of every call the notifier makes — Secrets Manager `GetSecretValue`, SNS `Publish`,
//! the ledger's DynamoDB `GetItem` / `PutItem` / `UpdateItem` / `DeleteItem`, and the Slack
//! webhook — each with what a retry must do: the invocation fails (never a silent success),
//! what was delivered stays delivered, and **a retry never posts twice**.
//!
//! How: the ledger is the emulator's real table (conditional writes and all); faults the
//! emulator cannot make are injected — Secrets Manager and SNS answers with aws-smithy-mocks,
//! DynamoDB answers replaced by an interceptor after the request reached the emulator (a lost
//! answer), refused connections on a closed port, timeouts on a server that never answers.
//! Lambda's retry is the same event with the same request id, in a healthy container.
mod aws_calls;
mod ledger;
mod slack;

use std::time::Duration;

use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use phoenix_core::{ActionStatus, Function, Invocation, Outcome, RetryableError, SdkConfig};
use phoenix_testkit::SlackSink;
use serde_json::Value;

use super::support::{SECRET, emulator_with_ledger, fixture, notifier, now};
use crate::{AlarmNotifier, Clients};

const EVENT: &str = "sns-cloudwatch-alarm-cpu.json";

pub fn http(status: u16, body: &'static str) -> Response {
    Response::new(
        StatusCode::try_from(status).expect("status"),
        SdkBody::from(body),
    )
}

pub fn secret_is(url: String) -> Rule {
    mock!(aws_sdk_secretsmanager::Client::get_secret_value)
        .match_requests(|r| r.secret_id() == Some(SECRET))
        .then_output(move || {
            GetSecretValueOutput::builder()
                .secret_string(url.clone())
                .build()
        })
}

pub fn secret_fails(status: u16, body: &'static str) -> Rule {
    mock!(aws_sdk_secretsmanager::Client::get_secret_value)
        .then_http_response(move || http(status, body))
}

pub fn publish_ok() -> Rule {
    mock!(aws_sdk_sns::Client::publish).then_output(|| {
        PublishOutput::builder()
            .message_id("oncall-message-1")
            .build()
    })
}

pub fn publish_fails(status: u16, body: &'static str) -> Rule {
    mock!(aws_sdk_sns::Client::publish).then_http_response(move || http(status, body))
}

pub fn secrets_with(rule: &Rule) -> aws_sdk_secretsmanager::Client {
    mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, &[rule])
}

pub fn sns_with(rule: &Rule) -> aws_sdk_sns::Client {
    mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[rule])
}

/// One container: its clients.
pub fn container(
    secrets: aws_sdk_secretsmanager::Client,
    sns: aws_sdk_sns::Client,
    dynamodb: aws_sdk_dynamodb::Client,
) -> AlarmNotifier {
    notifier(
        Clients {
            secrets,
            sns,
            dynamodb,
        },
        false,
    )
}

pub async fn handle(
    n: &AlarmNotifier,
    payload: &Value,
    request_id: &str,
    time_left: Duration,
) -> Result<Outcome, RetryableError> {
    n.handle(
        Invocation::new(payload.clone(), now())
            .request_id(request_id)
            .time_left(time_left),
    )
    .await
}

pub const ROOMY: Duration = Duration::from_secs(20);

/// A test world: the emulator's ledger, a Slack sink, and a healthy container's clients.
pub struct Rig {
    pub sdk: SdkConfig,
    pub sink: SlackSink,
}

impl Rig {
    pub async fn new() -> Rig {
        Rig {
            sdk: emulator_with_ledger().await,
            sink: SlackSink::start().await.expect("Slack sink"),
        }
    }

    pub fn ledger(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }

    /// Lambda's retry: the same event and request id, in a healthy container. Returns its
    /// Outcome and how many times it published to `oncall`.
    pub async fn retry(&self, request_id: &str) -> (Outcome, usize) {
        let (secret, publish) = (secret_is(self.sink.url()), publish_ok());
        let healthy = container(secrets_with(&secret), sns_with(&publish), self.ledger());
        let outcome = handle(&healthy, &fixture(EVENT), request_id, ROOMY)
            .await
            .expect("the retry delivers");
        (outcome, publish.num_calls())
    }
}

pub fn statuses(outcome: &Outcome) -> Vec<(String, ActionStatus)> {
    outcome
        .actions
        .iter()
        .map(|a| (a.call.clone(), a.status))
        .collect()
}
