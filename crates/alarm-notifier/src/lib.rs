//! alarm-notifier: reads the `alerts` SNS topic (CloudWatch alarm messages, every function's
//! Notices, the daily digest) and DocumentDB / CloudWatch alarm events from EventBridge, renders
//! each message for people, and delivers it **once** — across containers — to Slack (Block Kit,
//! webhook from Secrets Manager) and to the `oncall` topic (plain text for e-mail/SMS, with a
//! `severity` attribute people's subscriptions filter on). Never a silent success: a message a
//! channel did not take fails the invocation, so it is retried and finally parked in the DLQ.
//!
//! The pipeline, one module per step (pure ones marked `// pure:`):
//! [`event`] (envelopes; [`alarm`], [`docdb`] and core's Notice parse the bodies) →
//! [`observe`] (what the ledger says) → [`decide`] (what to send where; [`render`] lays it out;
//! [`slack_retry`] is the Slack retry rule) → [`act`] (claim, deliver through [`deliver`],
//! complete or release) → [`report`] (the Outcome, or the retryable error).

pub mod act;
pub mod alarm;
pub mod config;
pub mod decide;
pub mod deliver;
pub mod docdb;
pub mod event;
mod lenient;
pub mod message;
pub mod observe;
pub mod render;
pub mod report;
pub mod slack_retry;

#[cfg(test)]
mod tests;

use std::time::Instant;

use phoenix_core::{Function, Invocation, Ledger, Outcome, RetryableError, SdkConfig, Vars};
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::act::{Adapters, Moment};
pub use crate::config::Config;
use crate::decide::Settings;
use crate::event::NotOurs;
pub use crate::render::{RenderContext, Rendered, render};
use crate::report::{FUNCTION, MessageRun, Targets};

/// The AWS clients this function uses.
#[derive(Debug, Clone)]
pub struct Clients {
    pub secrets: aws_sdk_secretsmanager::Client,
    pub sns: aws_sdk_sns::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

impl Clients {
    pub fn from_sdk(sdk: &SdkConfig) -> Self {
        Self {
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
        }
    }
}

/// The function: its configuration and its adapters (with the per-container caches of the
/// webhook URL and the HTTP client). What was delivered is kept in the ledger, not here.
#[derive(Debug)]
pub struct AlarmNotifier {
    pub config: Config,
    adapters: Adapters,
}

impl AlarmNotifier {
    pub fn new(config: Config, clients: Clients) -> Self {
        let adapters = Adapters {
            secrets: clients.secrets,
            sns: clients.sns,
            ledger: Ledger::new(clients.dynamodb, config.ledger_table.clone()),
            slack_secret_arn: config.slack_secret_arn.clone(),
            oncall_topic_arn: config.oncall_topic_arn.clone(),
            webhook: OnceCell::new(),
            http: OnceCell::new(),
        };
        Self { config, adapters }
    }
}

/// Parses and renders every message of a payload as the notifier would, without the ledger
/// (so without the duration of an alarm that only the ledger remembers) and without a
/// dashboard button. Pure: for benchmarks, the README and `phoenix-ops`.
pub fn render_event(payload: &Value) -> Result<Vec<Rendered>, NotOurs> {
    render_event_with(payload, None)
}

/// [`render_event`] with the stack's dashboard (`DASHBOARD_URL`), as deployed.
pub fn render_event_with(
    payload: &Value,
    dashboard_url: Option<&str>,
) -> Result<Vec<Rendered>, NotOurs> {
    let settings = Settings {
        dry_run: true,
        dashboard_url: dashboard_url.map(str::to_owned),
        request_id: String::new(),
    };
    Ok(event::parse_event(payload)?
        .iter()
        .map(|incoming| decide::plan(incoming, &Default::default(), &settings).rendered)
        .collect())
}

impl Function for AlarmNotifier {
    const NAME: &'static str = FUNCTION;
    type Config = Config;

    fn read_config(vars: &mut Vars<'_>) -> Config {
        Config::read(vars)
    }

    fn from_sdk(config: Config, sdk: &SdkConfig) -> Self {
        Self::new(config, Clients::from_sdk(sdk))
    }

    async fn handle(&self, invocation: Invocation) -> Result<Outcome, RetryableError> {
        let started = Instant::now();
        let event_id = event::event_id(&invocation.payload).map(str::to_owned);
        let incoming = match event::parse_event(&invocation.payload) {
            Ok(incoming) => incoming,
            Err(NotOurs(why)) => return Ok(Outcome::ignored(FUNCTION, event_id.as_deref(), why)),
        };
        let settings = Settings {
            dry_run: self.config.dry_run,
            dashboard_url: self.config.dashboard_url.clone(),
            request_id: invocation.request_id.clone(),
        };
        let moment = Moment {
            request_id: invocation.request_id.clone(),
            now: invocation.now,
            time_left: invocation.time_left,
            started,
            keep: self.config.dedupe_window,
        };
        let mut runs = Vec::new();
        for incoming in incoming {
            let observed = Box::pin(observe::observe(
                &self.adapters.ledger,
                &incoming,
                &invocation.request_id,
                invocation.now,
            ))
            .await;
            let plan = decide::plan(&incoming, &observed, &settings);
            let acted = Box::pin(self.adapters.act(&plan, &moment)).await;
            runs.push(MessageRun {
                incoming,
                observed,
                plan,
                acted,
            });
        }
        let targets = Targets {
            slack_secret_arn: &self.config.slack_secret_arn,
            oncall_topic_arn: &self.config.oncall_topic_arn,
        };
        report::report(
            event_id.as_deref(),
            self.config.dry_run,
            &runs,
            targets,
            invocation.now,
        )
    }
}
