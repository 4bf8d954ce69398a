//! Act: carries out a message's plan. Per channel (Slack first, then `oncall`; both always
//! attempted): claim the ledger key, deliver, complete the key with what was done, or release
//! it when the delivery failed, so Lambda's retry redoes only that channel and a duplicate
//! delivery in another container sends nothing. Then remembers when an ALARM began.
//!
//! Ledger trouble never loses a message: a claim that fails for good (no table, no permission)
//! delivers without the guarantee (a page twice beats no page) and says so; a claim that fails
//! for now postpones the channel (the invocation fails and is retried); a completion or a
//! release that fails is reported, and the delivery stands.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use phoenix_core::{Action, ActionStatus, AwsFailure, Claim, Ledger};
use tokio::sync::OnceCell;

use crate::decide::{
    ALARM_START_KEEP_DAYS, ALARM_START_OWNER, Acted, Channel, Delivery, MessagePlan, Skip, Step,
};
use crate::deliver::{self, HttpClient, Webhook};
use crate::render::Rendered;

/// Time kept back from the invocation's budget for the `oncall` publish and the answer.
pub const PUBLISH_RESERVE: Duration = Duration::from_secs(3);
/// A claim's lease outlives the invocation's deadline by this much: past it, the holder is
/// gone (Lambda ended it), and another invocation may take the key over.
pub const LEASE_MARGIN: Duration = Duration::from_secs(10);

/// The clients and per-container caches delivery needs.
#[derive(Debug)]
pub struct Adapters {
    pub secrets: aws_sdk_secretsmanager::Client,
    pub sns: aws_sdk_sns::Client,
    pub ledger: Ledger,
    pub slack_secret_arn: String,
    pub oncall_topic_arn: String,
    /// The webhook URL, read once per container (a secret: never logged).
    pub webhook: OnceCell<Webhook>,
    /// The HTTP client, built once per container (loading TLS roots takes time).
    pub http: OnceCell<HttpClient>,
}

/// What the act step knows of the invocation.
#[derive(Debug, Clone)]
pub struct Moment {
    pub request_id: String,
    pub now: DateTime<Utc>,
    /// The invocation's time left when it started, and when that was.
    pub time_left: Duration,
    pub started: Instant,
    /// How long a delivery is remembered in the ledger.
    pub keep: chrono::Duration,
}

impl Moment {
    fn left(&self) -> Duration {
        self.time_left.saturating_sub(self.started.elapsed())
    }

    fn lease(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.left() + LEASE_MARGIN)
            .unwrap_or_else(|_| chrono::Duration::minutes(15))
    }
}

fn ledger_failure(failure: &AwsFailure, consequence: &str) -> Action {
    Action::new(&failure.call, &failure.resource, ActionStatus::Failed)
        .detail(format!("{failure}: {consequence}"))
}

impl Adapters {
    async fn post_slack(&self, rendered: &Rendered, budget: Duration) -> Result<String, String> {
        let webhook = self
            .webhook
            .get_or_try_init(|| deliver::webhook_url(&self.secrets, &self.slack_secret_arn))
            .await
            .map_err(|e| format!("cannot read the Slack webhook: {e}"))?;
        let http = self
            .http
            .get_or_try_init(|| async { deliver::http_client() })
            .await?;
        let delivery = deliver::post_to_slack(http, webhook, &rendered.slack, budget).await?;
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

    /// Delivers to one channel; `Ok` says how, `Err` why not.
    async fn send(
        &self,
        channel: Channel,
        rendered: &Rendered,
        moment: &Moment,
    ) -> Result<String, String> {
        match channel {
            Channel::Slack => {
                let budget = moment.left().saturating_sub(PUBLISH_RESERVE);
                // Boxed: hyper's and the SDK's futures nest deep enough to overflow the layout
                // query of the Lambda main future.
                Box::pin(self.post_slack(rendered, budget)).await
            }
            Channel::Oncall => deliver::publish_oncall(&self.sns, &self.oncall_topic_arn, rendered)
                .await
                .map(|id| format!("message id {id}"))
                .map_err(|failure| failure.to_string()),
        }
    }

    /// Claims `key`, delivers, completes or releases it.
    async fn deliver_guarded(
        &self,
        channel: Channel,
        key: &str,
        rendered: &Rendered,
        moment: &Moment,
        actions: &mut Vec<Action>,
    ) -> Delivery {
        let owner = moment.request_id.as_str();
        let claim = self
            .ledger
            .claim(key, owner, moment.now, moment.lease(), moment.keep)
            .await;
        match claim {
            Ok(Claim::Acquired) => {}
            Ok(Claim::Done { at, note }) => {
                return Delivery::Skipped(Skip::AlreadyDone { at, note });
            }
            Ok(Claim::Held { until, by }) => {
                return Delivery::Skipped(Skip::HeldElsewhere {
                    until: Some(until),
                    by,
                });
            }
            Err(failure) if failure.retryable => {
                return Delivery::Failed {
                    why: format!("not sent: the delivery cannot be claimed now: {failure}"),
                };
            }
            Err(failure) => {
                actions.push(ledger_failure(
                    &failure,
                    "delivering without the once-only guarantee",
                ));
                return self
                    .deliver_unguarded(channel, rendered, moment, &failure.to_string())
                    .await;
            }
        }
        match self.send(channel, rendered, moment).await {
            Ok(detail) => {
                let completed = self
                    .ledger
                    .complete(key, owner, moment.now, moment.keep, &detail)
                    .await;
                if let Err(failure) = completed {
                    actions.push(ledger_failure(
                        &failure,
                        "delivered, but not recorded as done: a repeat after the claim's lease may send it again",
                    ));
                }
                Delivery::Sent {
                    detail,
                    guarded: true,
                }
            }
            Err(why) => {
                if let Err(failure) = self.ledger.release(key, owner).await {
                    actions.push(ledger_failure(
                        &failure,
                        "the claim stays until its lease runs out (this invocation's retry takes it over)",
                    ));
                }
                Delivery::Failed { why }
            }
        }
    }

    async fn deliver_unguarded(
        &self,
        channel: Channel,
        rendered: &Rendered,
        moment: &Moment,
        why: &str,
    ) -> Delivery {
        match self.send(channel, rendered, moment).await {
            Ok(detail) => Delivery::Sent {
                detail: format!("{detail} (not guarded by the ledger: {why})"),
                guarded: false,
            },
            Err(why) => Delivery::Failed { why },
        }
    }

    /// Remembers when an alarm went to ALARM (an upsert: the latest ALARM wins), for the
    /// duration on its OK, whichever container handles it.
    async fn remember_alarm_start(
        &self,
        key: &str,
        start: DateTime<Utc>,
        moment: &Moment,
        actions: &mut Vec<Action>,
    ) {
        let note = start.to_rfc3339();
        let keep = chrono::Duration::days(ALARM_START_KEEP_DAYS);
        let written = match self
            .ledger
            .record(key, ALARM_START_OWNER, moment.now, keep, &note)
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => self
                .ledger
                .complete(key, ALARM_START_OWNER, moment.now, keep, &note)
                .await
                .map(|_| ()),
            Err(failure) => Err(failure),
        };
        actions.push(match written {
            Ok(()) => Action::new("dynamodb:PutItem", self.ledger.table(), ActionStatus::Done)
                .detail(format!(
                    "remembered that the alarm began at {} (for how long it lasted, on its OK)",
                    start.format("%Y-%m-%d %H:%M:%S UTC")
                )),
            Err(failure) => {
                ledger_failure(&failure, "its OK will not say how long the alarm lasted")
            }
        });
    }

    /// Carries out one message's plan.
    pub async fn act(&self, plan: &MessagePlan, moment: &Moment) -> Acted {
        let mut acted = Acted::default();
        for channel_plan in &plan.channels {
            let channel = channel_plan.channel;
            let delivery = match &channel_plan.step {
                Step::Deliver { key } => {
                    self.deliver_guarded(channel, key, &plan.rendered, moment, &mut acted.actions)
                        .await
                }
                Step::DeliverUnguarded { why } => {
                    self.deliver_unguarded(channel, &plan.rendered, moment, why)
                        .await
                }
                Step::Skip(skip) => Delivery::Skipped(skip.clone()),
                Step::Postpone { why } => Delivery::Failed {
                    why: format!("not sent: {why}"),
                },
                Step::WouldDeliver => Delivery::WouldSend,
                Step::WouldSkip(skip) => Delivery::WouldSkip(skip.clone()),
            };
            acted.deliveries.push((channel, delivery));
        }
        if let Some((key, start)) = &plan.remember_alarm_start {
            self.remember_alarm_start(key, *start, moment, &mut acted.actions)
                .await;
        }
        acted
    }
}
