//! alarm-notifier: reads the `alerts` SNS topic (CloudWatch alarm messages and every function's
//! Notices; EventBridge `CloudWatch Alarm State Change` events work too), renders each message
//! for humans, and delivers it to Slack (Block Kit, webhook from Secrets Manager) and to the
//! `oncall` topic (plain text for email/SMS). Never a silent success: a message Slack did not
//! take fails the invocation, so it is retried and finally parked in the DLQ.
//!
//! `event` ([`input::parse_event`]) → `decide` ([`policy`]: repeats, how long an alarm lasted,
//! Slack retries) → `render` ([`render::render`], pure) → `act` ([`deliver`]) → the Outcome.

pub mod deliver;
pub mod input;
pub mod policy;
pub mod render;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use phoenix_core::SdkConfig;
use phoenix_core::metrics::Metric;
use phoenix_core::publish::publish_message;
use phoenix_core::{Action, ActionStatus, Function, Invocation, Outcome, RetryableError, Vars};
use serde_json::{Value, json};

use crate::deliver::{Webhook, post_to_slack};
use crate::input::{AlarmState, Incoming, Message, NotOurs};
pub use crate::render::{RenderContext, Rendered, render};

/// Time kept back from the invocation's budget for the `oncall` publish and the answer.
const PUBLISH_RESERVE: Duration = Duration::from_secs(3);
/// Entries kept in the per-container memory before old ones are dropped.
const MEMORY_CAPACITY: usize = 5_000;

/// The Outcome action name for a Slack post (not an AWS call: no IAM action).
pub const SLACK_CALL: &str = "slack:IncomingWebhook";

/// Settings, read once at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Secrets Manager secret holding the Slack incoming-webhook URL.
    pub slack_secret_arn: String,
    /// SNS topic for the plain-text form (email/SMS subscriptions). Never the alerts topic.
    pub oncall_topic_arn: String,
    /// Repeated deliveries of the same message within this window are collapsed.
    pub dedupe_window: chrono::Duration,
    pub dry_run: bool,
}

/// The AWS clients this function uses.
#[derive(Debug, Clone)]
pub struct Clients {
    pub secrets: aws_sdk_secretsmanager::Client,
    pub sns: aws_sdk_sns::Client,
}

impl Clients {
    pub fn from_sdk(sdk: &SdkConfig) -> Self {
        Self {
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
        }
    }
}

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Channel {
    Slack,
    Oncall,
}

/// What this container remembers: which keys each channel delivered (and when), and when each
/// alarm's current ALARM began (for "lasted" on the OK).
#[derive(Debug, Default)]
struct Memory {
    delivered: Mutex<HashMap<(Channel, String), DateTime<Utc>>>,
    alarm_starts: Mutex<HashMap<String, DateTime<Utc>>>,
}

impl Memory {
    fn delivered_at(&self, channel: Channel, keys: &[String]) -> Option<(String, DateTime<Utc>)> {
        let delivered = self.delivered.lock().unwrap_or_else(|p| p.into_inner());
        keys.iter().find_map(|k| {
            delivered
                .get(&(channel, k.clone()))
                .map(|at| (k.clone(), *at))
        })
    }

    fn record(&self, channel: Channel, keys: &[String], now: DateTime<Utc>) {
        let mut delivered = self.delivered.lock().unwrap_or_else(|p| p.into_inner());
        if delivered.len() >= MEMORY_CAPACITY {
            delivered.clear();
        }
        for key in keys {
            delivered.insert((channel, key.clone()), now);
        }
    }

    fn alarm_start(&self, key: &str) -> Option<DateTime<Utc>> {
        let starts = self.alarm_starts.lock().unwrap_or_else(|p| p.into_inner());
        starts.get(key).copied()
    }

    fn set_alarm_start(&self, key: &str, start: Option<DateTime<Utc>>) {
        let mut starts = self.alarm_starts.lock().unwrap_or_else(|p| p.into_inner());
        if starts.len() >= MEMORY_CAPACITY {
            starts.clear();
        }
        match start {
            Some(start) => starts.insert(key.to_owned(), start),
            None => starts.remove(key),
        };
    }
}

pub struct AlarmNotifier {
    pub config: Config,
    pub clients: Clients,
    webhook: tokio::sync::OnceCell<Webhook>,
    http: tokio::sync::OnceCell<deliver::HttpClient>,
    memory: Memory,
}

/// What happened to one message.
struct Report {
    decision: &'static str,
    reason: String,
    observed: Value,
    failures: Vec<String>,
}

impl AlarmNotifier {
    pub fn new(config: Config, clients: Clients) -> Self {
        Self {
            config,
            clients,
            webhook: tokio::sync::OnceCell::new(),
            http: tokio::sync::OnceCell::new(),
            memory: Memory::default(),
        }
    }

    /// Renders a message as it would be delivered now (memory of earlier alarms included).
    fn render_incoming(&self, incoming: &Incoming) -> (Rendered, Option<chrono::Duration>) {
        let lasted = match &incoming.message {
            Message::Alarm(alarm) => {
                policy::alarm_lasted(alarm, self.memory.alarm_start(alarm.memory_key()))
            }
            _ => None,
        };
        let context = RenderContext {
            lasted,
            trace: incoming
                .via
                .id()
                .map(|id| format!("{} {id}", incoming.via.name())),
        };
        (render(&incoming.message, &context), lasted)
    }

    async fn post_slack(&self, rendered: &Rendered, budget: Duration) -> Result<String, String> {
        let webhook = self
            .webhook
            .get_or_try_init(|| {
                deliver::webhook_url(&self.clients.secrets, &self.config.slack_secret_arn)
            })
            .await
            .map_err(|e| format!("cannot read the Slack webhook: {e}"))?;
        let http = self
            .http
            .get_or_try_init(|| async { deliver::http_client() })
            .await?;
        let delivery = post_to_slack(http, webhook, &rendered.slack, budget).await?;
        Ok(if delivery.retried.is_empty() {
            format!("posted to {} (1 attempt)", webhook.host())
        } else {
            format!(
                "posted to {} after {} attempts (retried after {}; waited {} ms)",
                webhook.host(),
                delivery.attempts,
                delivery.retried.join(", "),
                delivery.waited.as_millis()
            )
        })
    }

    async fn deliver_one(
        &self,
        incoming: &Incoming,
        invocation: &Invocation,
        outcome: &mut Outcome,
    ) -> Report {
        let now = invocation.now;
        let keys = incoming.dedupe_keys();
        let (rendered, lasted) = self.render_incoming(incoming);
        let what = describe(incoming);
        let observed = json!({
            "kind": incoming.message.kind(),
            "via": incoming.via.name(),
            "id": incoming.via.id(),
            "headline": rendered.headline,
            "lasted_seconds": lasted.map(|d| d.num_seconds()),
            "dedupe_keys": keys,
            "rendered": {"subject": rendered.subject, "text": rendered.text, "slack": rendered.slack},
        });
        let secret = &self.config.slack_secret_arn;
        let oncall = &self.config.oncall_topic_arn;
        if self.config.dry_run {
            outcome.action(
                Action::new(SLACK_CALL, secret, ActionStatus::DryRun)
                    .detail("rendered, not posted"),
            );
            outcome.action(
                Action::new("sns:Publish", oncall, ActionStatus::DryRun)
                    .detail("rendered, not published"),
            );
            return Report {
                decision: "dry-run",
                reason: format!("{what}: rendered, nothing sent (dry run)"),
                observed,
                failures: Vec::new(),
            };
        }

        let window = self.config.dedupe_window;
        let repeat = |channel| {
            self.memory
                .delivered_at(channel, &keys)
                .filter(|(_, at)| policy::is_repeat(Some(*at), now, window))
        };
        let (slack_repeat, oncall_repeat) = (repeat(Channel::Slack), repeat(Channel::Oncall));
        let mut failures = Vec::new();
        let mut done = Vec::new();

        match &slack_repeat {
            Some((key, at)) => outcome.action(
                Action::new(SLACK_CALL, secret, ActionStatus::Skipped).detail(format!(
                    "repeat of {key}, posted {} s ago",
                    (now - *at).num_seconds()
                )),
            ),
            None => {
                let budget = invocation.time_left.saturating_sub(PUBLISH_RESERVE);
                // Boxed: hyper's and the SDK's futures nest deep enough to overflow the layout
                // query of the Lambda main future.
                match Box::pin(self.post_slack(&rendered, budget)).await {
                    Ok(detail) => {
                        self.memory.record(Channel::Slack, &keys, now);
                        done.push("posted to Slack");
                        outcome.action(
                            Action::new(SLACK_CALL, secret, ActionStatus::Done).detail(detail),
                        );
                    }
                    Err(why) => {
                        outcome.action(
                            Action::new(SLACK_CALL, secret, ActionStatus::Failed)
                                .detail(why.clone()),
                        );
                        failures.push(format!("Slack: {why}"));
                    }
                }
            }
        }
        match &oncall_repeat {
            Some((key, at)) => outcome.action(
                Action::new("sns:Publish", oncall, ActionStatus::Skipped).detail(format!(
                    "repeat of {key}, published {} s ago",
                    (now - *at).num_seconds()
                )),
            ),
            None => {
                let published = publish_message(
                    &self.clients.sns,
                    oncall,
                    &rendered.subject,
                    rendered.text.clone(),
                    &rendered.severity,
                )
                .await;
                match published {
                    Ok(message_id) => {
                        self.memory.record(Channel::Oncall, &keys, now);
                        done.push("published to oncall");
                        outcome.action(
                            Action::new("sns:Publish", oncall, ActionStatus::Done)
                                .detail(format!("message id {message_id}")),
                        );
                    }
                    Err(failure) => {
                        outcome.action(
                            Action::new("sns:Publish", oncall, ActionStatus::Failed)
                                .detail(failure.to_string()),
                        );
                        failures.push(format!("oncall: {failure}"));
                    }
                }
            }
        }

        // Remember when this alarm began (for "lasted" on its OK), once it was delivered.
        if let (true, Message::Alarm(alarm)) = (failures.is_empty(), &incoming.message) {
            let start = match alarm.state {
                AlarmState::Alarm => Some(alarm.changed_at.unwrap_or(now)),
                _ => None,
            };
            self.memory.set_alarm_start(alarm.memory_key(), start);
        }
        let (decision, reason) = match (slack_repeat.is_some(), oncall_repeat.is_some()) {
            (true, true) => (
                "collapsed-duplicate",
                format!(
                    "{what}: already delivered within {} s (same message), not sent again",
                    window.num_seconds()
                ),
            ),
            _ if !failures.is_empty() => (
                "delivery-failed",
                format!("{what}: {}", failures.join("; ")),
            ),
            _ => ("delivered", format!("{what}: {}", done.join(" and "))),
        };
        Report {
            decision,
            reason,
            observed,
            failures,
        }
    }
}

/// `metric-alarm phoenix-cpu-high ALARM`, `notice "title"`, `plain-text "subject"`.
fn describe(incoming: &Incoming) -> String {
    match &incoming.message {
        Message::Alarm(alarm) => format!("{} {} {}", alarm.kind.name(), alarm.name, alarm.state),
        Message::Notice(notice) => format!("notice \"{}\"", notice.title),
        Message::Text(text) => format!(
            "plain-text \"{}\"",
            text.subject.as_deref().unwrap_or("(no subject)")
        ),
    }
}

/// Parses and renders every message of a payload, as the notifier would (without memory of
/// earlier deliveries). Pure: for benchmarks, the README and `phoenix-ops`.
pub fn render_event(payload: &Value) -> Result<Vec<Rendered>, NotOurs> {
    let incoming = input::parse_event(payload)?;
    Ok(incoming
        .iter()
        .map(|i| {
            let lasted = match &i.message {
                Message::Alarm(alarm) => policy::alarm_lasted(alarm, None),
                _ => None,
            };
            let context = RenderContext {
                lasted,
                trace: i.via.id().map(|id| format!("{} {id}", i.via.name())),
            };
            render(&i.message, &context)
        })
        .collect())
}

impl Function for AlarmNotifier {
    const NAME: &'static str = "alarm-notifier";
    type Config = Config;

    fn read_config(vars: &mut Vars<'_>) -> Config {
        let slack_secret_arn = vars.required_arn("SLACK_WEBHOOK_SECRET_ARN", "secretsmanager");
        let oncall_topic_arn = vars.required_arn("ONCALL_TOPIC_ARN", "sns");
        let alerts_topic_arn = vars.optional("ALERTS_TOPIC_ARN");
        let window = vars.number_in("DEDUPE_WINDOW_SECONDS", 600, 0, 86_400);
        let dry_run = vars.flag("DRY_RUN", false);
        if !oncall_topic_arn.is_empty()
            && alerts_topic_arn.as_deref() == Some(oncall_topic_arn.as_str())
        {
            vars.invalid(
                "ONCALL_TOPIC_ARN",
                "must not be the alerts topic (the notifier would read its own messages)",
            );
        }
        Config {
            slack_secret_arn,
            oncall_topic_arn,
            dedupe_window: chrono::Duration::seconds(i64::from(window)),
            dry_run,
        }
    }

    fn from_sdk(config: Config, sdk: &SdkConfig) -> Self {
        Self::new(config, Clients::from_sdk(sdk))
    }

    async fn handle(&self, invocation: Invocation) -> Result<Outcome, RetryableError> {
        let event_id = input::event_id(&invocation.payload).map(str::to_owned);
        let incoming = match input::parse_event(&invocation.payload) {
            Ok(incoming) => incoming,
            Err(NotOurs(why)) => return Ok(Outcome::ignored(Self::NAME, event_id.as_deref(), why)),
        };
        let mut outcome = Outcome::handled(Self::NAME, event_id.as_deref(), self.config.dry_run);
        let mut reports = Vec::new();
        for message in &incoming {
            let report = Box::pin(self.deliver_one(message, &invocation, &mut outcome)).await;
            outcome.metrics.push(
                Metric::count("Notifications", 1.0)
                    .dimension("Kind", message.message.kind())
                    .dimension("Result", report.decision),
            );
            reports.push(report);
        }
        let failures: Vec<String> = reports.iter().flat_map(|r| r.failures.clone()).collect();
        if !failures.is_empty() {
            // Never a silent success: the event is retried (what was delivered is remembered
            // and not sent twice by this container), then parked in the DLQ.
            return Err(RetryableError(format!(
                "alarm-notifier could not deliver {}: {}",
                event_id.as_deref().unwrap_or("the message"),
                failures.join("; ")
            )));
        }
        let decision = if reports.iter().all(|r| r.decision == reports[0].decision) {
            reports[0].decision
        } else {
            "delivered"
        };
        let reason = reports
            .iter()
            .map(|r| r.reason.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        let observed =
            json!({"messages": reports.into_iter().map(|r| r.observed).collect::<Vec<_>>()});
        Ok(outcome.decided(decision, reason).observed(observed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phoenix_core::lambda::{config_vars, load_config, required_config_vars};

    #[test]
    fn configuration_names_every_bad_variable() {
        let env = [
            (
                "SLACK_WEBHOOK_SECRET_ARN",
                "https://hooks.slack.com/services/x",
            ),
            ("DEDUPE_WINDOW_SECONDS", "-1"),
        ];
        let err = load_config::<AlarmNotifier>(Vars::from_pairs(&env)).expect_err("bad");
        assert_eq!(
            err.vars(),
            [
                "SLACK_WEBHOOK_SECRET_ARN",
                "ONCALL_TOPIC_ARN",
                "DEDUPE_WINDOW_SECONDS"
            ]
        );
        assert_eq!(
            required_config_vars::<AlarmNotifier>(),
            ["SLACK_WEBHOOK_SECRET_ARN", "ONCALL_TOPIC_ARN"]
        );
        assert_eq!(
            config_vars::<AlarmNotifier>(),
            [
                "SLACK_WEBHOOK_SECRET_ARN",
                "ONCALL_TOPIC_ARN",
                "ALERTS_TOPIC_ARN",
                "DEDUPE_WINDOW_SECONDS",
                "DRY_RUN"
            ]
        );
    }

    #[test]
    fn the_oncall_topic_can_never_be_the_alerts_topic() {
        let topic = "arn:aws:sns:eu-west-1:111122223333:phoenix-alerts";
        let env = [
            (
                "SLACK_WEBHOOK_SECRET_ARN",
                "arn:aws:secretsmanager:eu-west-1:111122223333:secret:slack-AbCdEf",
            ),
            ("ONCALL_TOPIC_ARN", topic),
            ("ALERTS_TOPIC_ARN", topic),
        ];
        let err = load_config::<AlarmNotifier>(Vars::from_pairs(&env)).expect_err("loop");
        assert_eq!(err.vars(), ["ONCALL_TOPIC_ARN"]);
    }

    #[test]
    fn defaults_match_the_documentation() {
        let env = [
            (
                "SLACK_WEBHOOK_SECRET_ARN",
                "arn:aws:secretsmanager:eu-west-1:111122223333:secret:slack-AbCdEf",
            ),
            (
                "ONCALL_TOPIC_ARN",
                "arn:aws:sns:eu-west-1:111122223333:phoenix-oncall",
            ),
        ];
        let config = load_config::<AlarmNotifier>(Vars::from_pairs(&env)).expect("valid");
        assert_eq!(config.dedupe_window, chrono::Duration::seconds(600));
        assert!(!config.dry_run);
    }
}
