//! request-scaler: keeps the Phoenix service at the tasks its demand needs — ALB requests per
//! minute and the service's CPU — provisioned for where the load will be when a new task serves
//! (trend, daily pattern), every minute (and at once when the request alarm fires).
//!
//! `event` ([`event::parse`], pure) → `observe` ([`observe`]: the signals (GetMetricStatistics, or
//! GetMetricData hourly for the previous days), DescribeServices) → `decide` ([`decide::decide`], pure, with [`forecast`] and the container's
//! [`history`]) → `act` ([`act`]: UpdateService, only when the count changes) → `report`
//! ([`report`]: Outcome, Notice). [`simulate`] replays traces through the same rule and through
//! a model of AWS target tracking.

pub mod act;
pub mod config;
pub mod decide;
pub mod event;
pub mod forecast;
pub mod history;
pub mod observe;
pub mod policy;
pub mod report;
pub mod simulate;
#[cfg(test)]
mod tests;
pub mod verdict;

use std::collections::VecDeque;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use phoenix_core::SdkConfig;
use phoenix_core::aws::FailureKind;
use phoenix_core::{
    Action, ActionStatus, AwsFailure, Function, Invocation, NoticePublisher, Outcome,
    RetryableError, Vars,
};

pub use crate::config::Config;
use crate::decide::decide;
use crate::event::Trigger;
use crate::history::{Memory, Recent, newest_complete};

/// The AWS clients this function uses.
#[derive(Debug, Clone)]
pub struct Clients {
    pub ecs: aws_sdk_ecs::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sns: aws_sdk_sns::Client,
}

impl Clients {
    pub fn from_sdk(sdk: &SdkConfig) -> Self {
        Self {
            ecs: aws_sdk_ecs::Client::new(sdk),
            cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
        }
    }
}

/// Trigger ids remembered (two hours of one-minute schedules and alarms).
const SEEN: usize = 128;
/// The same failure is reported to people at most once in this many minutes per container.
const FAILURE_NOTICE_EVERY_MINUTES: i64 = 60;

pub struct RequestScaler {
    pub config: Config,
    pub clients: Clients,
    /// Trigger ids evaluated to the end by this container: a repeated delivery is ignored.
    seen: Mutex<VecDeque<String>>,
    /// Previous days and tasks per minute, kept between evaluations.
    memory: Mutex<Memory>,
    /// The last failure reported to people (call and code), and when.
    last_failure_notice: Mutex<Option<(String, DateTime<Utc>)>>,
}

impl RequestScaler {
    pub fn new(config: Config, clients: Clients) -> Self {
        Self {
            config,
            clients,
            seen: Mutex::new(VecDeque::new()),
            memory: Mutex::new(Memory::default()),
            last_failure_notice: Mutex::new(None),
        }
    }

    fn already_evaluated(&self, id: Option<&str>) -> bool {
        let Some(id) = id else { return false };
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.iter().any(|s| s == id)
    }

    /// Remembers a trigger evaluated to the end (a failed one is left for Lambda's retry; one
    /// without an id is never remembered).
    fn record(&self, id: Option<&str>) {
        let Some(id) = id else { return };
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= SEEN {
            seen.pop_front();
        }
        seen.push_back(id.to_owned());
    }

    /// True when `failure` was not reported in the last hour (and remembers it now).
    fn failure_is_news(&self, failure: &AwsFailure, now: DateTime<Utc>) -> bool {
        let key = format!("{}:{}", failure.call, failure.code.as_deref().unwrap_or(""));
        let mut last = self
            .last_failure_notice
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let news = last.as_ref().is_none_or(|(k, at)| {
            *k != key
                || now < *at
                || now - *at >= chrono::Duration::minutes(FAILURE_NOTICE_EVERY_MINUTES)
        });
        if news {
            *last = Some((key, now));
        }
        news
    }

    /// A call failed for good: no retry can help. The Outcome says so (a failed action), a
    /// person is told (an error Notice, at most hourly), and Lambda gets a success.
    async fn stopped(
        &self,
        mut outcome: Outcome,
        trigger: &Trigger,
        failure: AwsFailure,
        now: DateTime<Utc>,
    ) -> Result<Outcome, RetryableError> {
        if outcome.decision.is_none() {
            outcome = outcome.decided(report::FAILED, report::failure_reason(&failure));
        }
        outcome.action(
            Action::new(&failure.call, &failure.resource, ActionStatus::Failed)
                .detail(failure.to_string()),
        );
        if self.failure_is_news(&failure, now) {
            let notice = report::failure_notice(&self.config, &failure, now);
            NoticePublisher::new(self.clients.sns.clone(), &self.config.alerts_topic_arn)
                .deliver(notice, &mut outcome, self.config.dry_run, false)
                .await?;
        }
        self.record(trigger.event_id());
        Ok(outcome)
    }
}

impl Function for RequestScaler {
    const NAME: &'static str = "request-scaler";
    type Config = Config;

    fn read_config(vars: &mut Vars<'_>) -> Config {
        config::read(vars)
    }

    fn from_sdk(config: Config, sdk: &SdkConfig) -> Self {
        Self::new(config, Clients::from_sdk(sdk))
    }

    async fn handle(&self, invocation: Invocation) -> Result<Outcome, RetryableError> {
        // event
        let trigger = match event::parse(&invocation.payload) {
            Ok(trigger) => trigger,
            Err(why) => {
                let id = event::event_id(&invocation.payload);
                return Ok(Outcome::ignored(Self::NAME, id, why));
            }
        };
        if self.already_evaluated(trigger.event_id()) {
            return Ok(Outcome::ignored(
                Self::NAME,
                trigger.event_id(),
                "duplicate delivery: this trigger was already evaluated",
            ));
        }
        let config = &self.config;
        let now = invocation.now;
        let outcome = Outcome::handled(Self::NAME, trigger.event_id(), config.dry_run);

        // observe: throttling and 5xx are retried (and the next minute comes anyway)
        let plan = self
            .memory
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .plan(now);
        let fetched = match observe::metrics(&self.clients.cloudwatch, &config.metrics, &plan).await
        {
            Ok(fetched) => fetched,
            Err(failure) if failure.retryable => return Err(failure.into()),
            Err(failure) => return self.stopped(outcome, &trigger, failure, now).await,
        };
        let service =
            match observe::service(&self.clients.ecs, &config.cluster, &config.service).await {
                Ok(Some(service)) => service,
                Ok(None) => {
                    let failure = AwsFailure::new(
                        "ecs:DescribeServices",
                        &config.service,
                        FailureKind::Service,
                        Some("ServiceNotActive"),
                        format!(
                            "no ACTIVE service of that name in cluster {}",
                            config.cluster
                        ),
                        None,
                    );
                    return self.stopped(outcome, &trigger, failure, now).await;
                }
                Err(failure) if failure.retryable => return Err(failure.into()),
                Err(failure) => return self.stopped(outcome, &trigger, failure, now).await,
            };
        let observation = {
            let mut memory = self.memory.lock().unwrap_or_else(|p| p.into_inner());
            memory.remember(&plan, &fetched, now, service.running);
            memory.observation(&fetched, now, &service)
        };

        // decide
        let decision = decide(&observation, &config.policy);
        let recent = Recent::of(&observation, now);
        let mut outcome = outcome
            .decided(decision.verdict.name(), decision.reason.clone())
            .observed(report::observed(
                &trigger, &recent, &service, &plan, config, &decision,
            ));
        // no custom metric: each costs 0.30 USD a month, and the scaler's heartbeat alarm reads
        // Lambda's own Invocations and Errors; the decision is in the Outcome line.

        // act: set, never increment; nothing when the count does not change
        let acted = act::apply(
            &self.clients.ecs,
            &config.cluster,
            &config.service,
            &decision,
            config.dry_run,
            &mut outcome,
        )
        .await;
        match acted {
            Ok(()) => {}
            Err(failure) if failure.retryable => return Err(failure.into()),
            Err(failure) => return self.stopped(outcome, &trigger, failure, now).await,
        }

        // report
        if let Some(notice) = report::notice(config, &trigger, &decision, newest_complete(now), now)
        {
            // once desiredCount changed, a retry would find nothing to do and never resend
            NoticePublisher::new(self.clients.sns.clone(), &config.alerts_topic_arn)
                .deliver(notice, &mut outcome, config.dry_run, !decision.changes())
                .await?;
        }
        self.record(trigger.event_id());
        Ok(outcome)
    }
}
