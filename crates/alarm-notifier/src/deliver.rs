//! Delivery adapters: the Slack webhook (URL from Secrets Manager, HTTP POST with the retry rule
//! of [`crate::slack_retry::after_attempt`]) and the `oncall` topic (SNS Publish with the
//! `severity` attribute people's subscriptions filter on).
//!
//! The HTTP client is hyper 1 + hyper-util's client + hyper-rustls on ring: the same stack
//! the AWS SDK already links (no second TLS stack). It speaks plain `http://` too (the local
//! Slack sink). The webhook URL is a secret: it is never logged, never put in an error or an
//! Outcome (errors name the secret's ARN and the host only).

use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Uri, header};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use phoenix_core::AwsFailure;

use crate::render::Rendered;
use crate::slack_retry::{NextStep, SlackReply, after_attempt};

/// Longest wait for one POST's answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The least time one POST is given, whatever the budget says.
const MIN_ATTEMPT_TIME: Duration = Duration::from_secs(1);
/// Longest Slack error body kept (Slack answers a short code such as `no_service`).
const ERROR_BODY_MAX: usize = 200;

/// The HTTP client type (hyper-util legacy client over hyper-rustls).
pub type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Reads the webhook URL from the secret. The secret holds the URL itself, or a JSON object
/// with a `url` / `webhook_url` / `webhookUrl` / `slack_webhook_url` key.
pub async fn webhook_url(
    secrets: &aws_sdk_secretsmanager::Client,
    secret_arn: &str,
) -> Result<Webhook, WebhookError> {
    let output = secrets
        .get_secret_value()
        .secret_id(secret_arn)
        .send()
        .await
        .map_err(|e| {
            WebhookError::Aws(AwsFailure::from_sdk(
                "secretsmanager:GetSecretValue",
                secret_arn,
                &e,
            ))
        })?;
    let text = output.secret_string().unwrap_or_default().trim();
    Webhook::from_secret(text).ok_or_else(|| {
        WebhookError::NotAWebhook(format!(
            "secret {secret_arn} does not hold a Slack webhook URL (an http(s) URL, or JSON with a \"url\" key)"
        ))
    })
}

/// Why the webhook URL could not be had.
#[derive(Debug, Clone, PartialEq)]
pub enum WebhookError {
    Aws(AwsFailure),
    NotAWebhook(String),
}

impl std::fmt::Display for WebhookError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Aws(failure) => failure.fmt(f),
            Self::NotAWebhook(why) => f.write_str(why),
        }
    }
}

/// A Slack incoming webhook. `Debug` shows the host only: the URL is a secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Webhook {
    uri: Uri,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Webhook({})", self.host())
    }
}

impl Webhook {
    /// The webhook in a secret's text, if it holds one.
    pub fn from_secret(text: &str) -> Option<Self> {
        let text = text.trim();
        let url = if text.starts_with('{') {
            let value: serde_json::Value = serde_json::from_str(text).ok()?;
            ["url", "webhook_url", "webhookUrl", "slack_webhook_url"]
                .iter()
                .find_map(|k| value.get(*k).and_then(|v| v.as_str()))?
                .trim()
                .to_owned()
        } else {
            text.to_owned()
        };
        let uri: Uri = url.parse().ok()?;
        let scheme_ok = matches!(uri.scheme_str(), Some("https") | Some("http"));
        (scheme_ok && uri.host().is_some()).then_some(Self { uri })
    }

    /// `scheme://host[:port]`: safe to show.
    pub fn host(&self) -> String {
        let scheme = self.uri.scheme_str().unwrap_or("https");
        let authority = self.uri.authority().map(|a| a.as_str()).unwrap_or("?");
        // An authority may carry user info: never show it.
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        format!("{scheme}://{authority}")
    }
}

/// The HTTP client, built once per container (loading the system's TLS roots takes time): on
/// phoenix-core's one HTTPS stack, the one the AWS SDK uses.
pub fn http_client() -> Result<HttpClient, String> {
    let https = phoenix_core::http::https_connector(None)?;
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// One POST: the answer, or why there was none.
async fn post_once(
    client: &HttpClient,
    webhook: &Webhook,
    body: &Bytes,
    wait: Duration,
) -> SlackReply {
    let request = Request::post(webhook.uri.clone())
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header(header::USER_AGENT, "phoenix-ops-alarm-notifier")
        .body(Full::new(body.clone()));
    let request = match request {
        Ok(r) => r,
        Err(e) => return SlackReply::Unreachable(format!("cannot build the request: {e}")),
    };
    let response = match tokio::time::timeout(wait, client.request(request)).await {
        Err(_) => {
            return SlackReply::Unreachable(format!(
                "no answer from {} within {} ms",
                webhook.host(),
                wait.as_millis()
            ));
        }
        Ok(Err(e)) => {
            return SlackReply::Unreachable(format!("{}: {}", webhook.host(), error_chain(&e)));
        }
        Ok(Ok(response)) => response,
    };
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = match tokio::time::timeout(wait, response.into_body().collect()).await {
        Ok(Ok(collected)) => String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
        _ => String::new(),
    };
    SlackReply::Answer {
        status,
        retry_after,
        body: phoenix_core::text::truncate_chars(body.trim(), ERROR_BODY_MAX),
    }
}

/// `client error (Connect): tcp connect error: Connection refused (os error 111)`.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let next = e.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = e.source();
    }
    text
}

/// How a delivery to Slack went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackDelivery {
    pub attempts: u32,
    /// What happened before the last attempt, e.g. `429 (Retry-After 1 s)`.
    pub retried: Vec<String>,
    pub waited: Duration,
}

fn short(reply: &SlackReply) -> String {
    match reply {
        SlackReply::Answer {
            status,
            retry_after: Some(after),
            ..
        } => format!("{status} (Retry-After {} s)", after.as_secs()),
        SlackReply::Answer { status, .. } => status.to_string(),
        SlackReply::Unreachable(why) => format!("unreachable ({why})"),
    }
}

/// Posts one payload, retrying as [`after_attempt`] says within `budget`.
pub async fn post_to_slack(
    client: &HttpClient,
    webhook: &Webhook,
    payload: &serde_json::Value,
    budget: Duration,
) -> Result<SlackDelivery, String> {
    let body = Bytes::from(payload.to_string());
    let started = Instant::now();
    let mut delivery = SlackDelivery {
        attempts: 0,
        retried: Vec::new(),
        waited: Duration::ZERO,
    };
    loop {
        delivery.attempts += 1;
        let left = budget.saturating_sub(started.elapsed());
        // Even with almost no time left, one real attempt is made.
        let wait = left.min(REQUEST_TIMEOUT).max(MIN_ATTEMPT_TIME);
        let reply = post_once(client, webhook, &body, wait).await;
        let left = budget.saturating_sub(started.elapsed());
        match after_attempt(delivery.attempts, &reply, left) {
            NextStep::Delivered => return Ok(delivery),
            NextStep::GiveUp(why) => return Err(why),
            NextStep::RetryAfter(wait) => {
                tracing::warn!(
                    attempt = delivery.attempts,
                    reply = %short(&reply),
                    wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "Slack did not take the message yet: retrying"
                );
                delivery.retried.push(short(&reply));
                delivery.waited += wait;
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// Publishes the plain text to the `oncall` topic, with the subject and the `severity`
/// attribute; returns the SNS message id.
pub async fn publish_oncall(
    sns: &aws_sdk_sns::Client,
    topic_arn: &str,
    rendered: &Rendered,
) -> Result<String, AwsFailure> {
    phoenix_core::publish::publish_message(
        sns,
        topic_arn,
        &rendered.subject,
        rendered.text.clone(),
        &rendered.severity,
    )
    .await
}
