//! daily-digest: once a day, the last 24 hours of the control plane in one message — crashes by
//! kind and what was done, scale actions and the peak requests per minute, backups and exports
//! with their ages, alarms raised and how long they lasted, and what is still open.
//!
//! `event` ([`event::parse`]: the schedule, or a manual payload) → `observe` ([`observe`]:
//! CloudWatch metrics, alarm states and history, the functions' Outcome lines, the service) →
//! `decide` ([`decide::build`], pure: the [`decide::Digest`]) → `report` ([`report::notice`],
//! pure wording) → act: one Notice to `alerts` (alarm-notifier renders it), once per window
//! across containers (the ledger), nothing in a dry run.
//!
//! It reads CloudWatch, never a store of its own, and emits no metric. A source it cannot read
//! (after the SDK's own retries) is named in the digest and in the Outcome, never hidden and
//! never a reason to send nothing.

pub mod decide;
pub mod event;
pub mod lines;
pub mod observe;
pub mod outcomes;
pub mod report;

#[cfg(test)]
mod tests;

use chrono::Duration;
use phoenix_core::ledger::Claim;
use phoenix_core::outcome::NoticeDelivery;
use phoenix_core::{
    Action, ActionStatus, AwsFailure, Function, Invocation, Ledger, NoticePublisher, Outcome,
    RetryableError, SdkConfig, Vars,
};
use serde_json::json;

use crate::decide::{Observation, Read};
use crate::event::{NotHandled, Request};

/// How long one invocation holds the digest's ledger key (more than the 60 s timeout).
const LEASE_SECONDS: i64 = 120;
/// How long the ledger remembers a published digest (beyond any retry of its schedule).
const KEEP_HOURS: i64 = 48;

/// Settings, read once at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    pub alerts_topic_arn: String,
    pub ledger_table: String,
    /// Where the functions write their Outcome lines.
    pub log_groups: Vec<String>,
    /// The alarms the digest tells about (those that report to `alerts`).
    pub alarm_names: Vec<String>,
    pub cluster: String,
    pub service: String,
    /// `LoadBalancer` dimension (`app/NAME/ID`).
    pub load_balancer: String,
    /// `TargetGroup` dimension (`targetgroup/NAME/ID`).
    pub target_group: String,
    pub dry_run: bool,
}

/// The AWS clients this function uses.
#[derive(Debug, Clone)]
pub struct Clients {
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub sns: aws_sdk_sns::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

impl Clients {
    pub fn from_sdk(sdk: &SdkConfig) -> Self {
        Self {
            cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
            logs: aws_sdk_cloudwatchlogs::Client::new(sdk),
            ecs: aws_sdk_ecs::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
        }
    }
}

pub struct DailyDigest {
    pub config: Config,
    pub clients: Clients,
}

/// The region of an ARN (`arn:aws:sns:REGION:…`).
fn region_of(arn: &str) -> &str {
    arn.split(':')
        .nth(3)
        .filter(|r| !r.is_empty())
        .unwrap_or("us-east-1")
}

/// Longest service message kept in the digest's "Not read" lines (the Outcome keeps it whole).
const WHY_MAX_CHARS: usize = 160;

/// Why a read failed, in one short line for people: the call, the service's code or the HTTP
/// status, and the start of the message.
fn why(failure: &AwsFailure) -> String {
    let cause = match (&failure.code, failure.status) {
        (Some(code), _) => code.clone(),
        (None, Some(status)) => format!("HTTP {status}"),
        (None, None) => format!("{:?}", failure.kind).to_lowercase(),
    };
    // an error the SDK could not parse carries its whole context: its first clause says enough
    let first = failure
        .message
        .split(" (")
        .next()
        .unwrap_or_default()
        .trim();
    let message = phoenix_core::text::truncate_chars(first, WHY_MAX_CHARS);
    let retry = if failure.retryable {
        "retried, still failing"
    } else {
        "final"
    };
    format!("{} failed: {cause} ({retry}): {message}", failure.call)
}

/// A read, with its failure kept for the Outcome.
fn read<T>(result: Result<T, AwsFailure>, failures: &mut Vec<AwsFailure>) -> Read<T> {
    result.map_err(|failure| {
        let why = why(&failure);
        failures.push(failure);
        why
    })
}

impl DailyDigest {
    pub fn new(config: Config, clients: Clients) -> Self {
        Self { config, clients }
    }

    /// Every source, each read on its own; the failures are returned for the Outcome.
    async fn observe(
        &self,
        request: &Request,
        invocation: &Invocation,
    ) -> (Observation, Vec<AwsFailure>) {
        let c = &self.config;
        let cw = &self.clients.cloudwatch;
        let window = &request.window;
        let (requests, backups, alarms, history, lines, service) = tokio::join!(
            observe::requests(cw, &c.load_balancer, &c.target_group, window),
            observe::backup_metrics(cw, &invocation.stack, invocation.now),
            async {
                if c.alarm_names.is_empty() {
                    Ok(Vec::new())
                } else {
                    observe::alarms(cw, &c.alarm_names).await
                }
            },
            async {
                if c.alarm_names.is_empty() {
                    Ok(Vec::new())
                } else {
                    observe::history(cw, &c.alarm_names, window).await
                }
            },
            observe::log_lines(&self.clients.logs, &c.log_groups, window),
            observe::service(&self.clients.ecs, &c.cluster, &c.service),
        );
        let mut failures = Vec::new();
        let (backups_succeeded, export_lag) = match backups {
            Ok((succeeded, lag)) => (Ok(succeeded), Ok(lag)),
            Err(failure) => {
                let why = why(&failure);
                failures.push(failure);
                (Err(why.clone()), Err(why))
            }
        };
        let (lines, lines_truncated) = match lines {
            Ok((lines, truncated)) => (Ok(lines), truncated),
            Err(failure) => (read(Err(failure), &mut failures), false),
        };
        let observation = Observation {
            window: *window,
            now: invocation.now,
            stack: invocation.stack.clone(),
            requests: read(requests, &mut failures),
            backups_succeeded,
            export_lag,
            alarms: read(alarms, &mut failures),
            history: read(history, &mut failures),
            lines,
            lines_truncated,
            service: read(service, &mut failures),
        };
        (observation, failures)
    }
}

impl Function for DailyDigest {
    const NAME: &'static str = "daily-digest";
    type Config = Config;

    fn read_config(vars: &mut Vars<'_>) -> Config {
        let alerts_topic_arn = vars.required_arn("ALERTS_TOPIC_ARN", "sns");
        let ledger_table = vars.required("LEDGER_TABLE");
        let log_groups: Vec<String> = vars
            .required("FUNCTION_LOG_GROUPS")
            .split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_owned)
            .collect();
        let alarm_names = vars.list("ALARM_NAMES");
        let cluster = vars.required("CLUSTER_NAME");
        let service = vars.required("SERVICE_NAME");
        let load_balancer = vars.required("LOAD_BALANCER_DIMENSION");
        let target_group = vars.required("TARGET_GROUP_DIMENSION");
        let dry_run = vars.flag("DRY_RUN", false);
        if !load_balancer.is_empty() && !load_balancer.starts_with("app/") {
            vars.invalid(
                "LOAD_BALANCER_DIMENSION",
                format!("`{load_balancer}` is not an ALB dimension (app/NAME/ID)"),
            );
        }
        if !target_group.is_empty() && !target_group.starts_with("targetgroup/") {
            vars.invalid(
                "TARGET_GROUP_DIMENSION",
                format!("`{target_group}` is not a target group dimension (targetgroup/NAME/ID)"),
            );
        }
        Config {
            alerts_topic_arn,
            ledger_table,
            log_groups,
            alarm_names,
            cluster,
            service,
            load_balancer,
            target_group,
            dry_run,
        }
    }

    fn from_sdk(config: Config, sdk: &SdkConfig) -> Self {
        Self::new(config, Clients::from_sdk(sdk))
    }

    async fn handle(&self, invocation: Invocation) -> Result<Outcome, RetryableError> {
        let request =
            match event::parse(&invocation.payload, invocation.now, &invocation.request_id) {
                Ok(request) => request,
                Err(NotHandled::Ignored(why)) => {
                    return Ok(Outcome::ignored(
                        Self::NAME,
                        event::event_id(&invocation.payload),
                        why,
                    ));
                }
                Err(NotHandled::Rejected(why)) => {
                    return Ok(Outcome::rejected(
                        Self::NAME,
                        event::event_id(&invocation.payload),
                        why,
                    ));
                }
            };
        let config = &self.config;
        let dry_run = config.dry_run || request.dry_run;
        let now = invocation.now;
        let owner = invocation.request_id.as_str();
        let key = format!(
            "digest:{}:{}",
            invocation.stack,
            request.window.end.format("%Y-%m-%dT%H:%MZ")
        );
        let mut outcome = Outcome::handled(Self::NAME, Some(&request.event_id), dry_run);
        let ledger = Ledger::new(self.clients.dynamodb.clone(), &config.ledger_table);
        let (lease, keep) = (
            Duration::seconds(LEASE_SECONDS),
            Duration::hours(KEEP_HOURS),
        );

        // once per window across containers (a dry run leaves no trace)
        let mut claimed = false;
        if !dry_run {
            match ledger.claim(&key, owner, now, lease, keep).await {
                Ok(Claim::Acquired) => claimed = true,
                Ok(Claim::Done { at, note }) => {
                    return Ok(outcome.decided(
                        "already-published",
                        format!("the digest {key} was published at {at} ({note}): not sent again"),
                    ));
                }
                Ok(Claim::Held { until, by }) => {
                    return Ok(outcome.decided(
                        "published-elsewhere",
                        format!(
                            "invocation {by} is publishing the digest {key} (lease until {until})"
                        ),
                    ));
                }
                Err(failure) if failure.retryable => return Err(failure.into()),
                // the ledger is unusable: a possible duplicate digest beats none
                Err(failure) => outcome.action(
                    Action::new(
                        &failure.call,
                        failure.resource.clone(),
                        ActionStatus::Failed,
                    )
                    .detail(failure.to_string()),
                ),
            }
        }

        // observe
        let (observation, failures) = self.observe(&request, &invocation).await;
        for failure in failures {
            outcome.action(
                Action::new(
                    &failure.call,
                    failure.resource.clone(),
                    ActionStatus::Failed,
                )
                .detail(failure.to_string()),
            );
        }

        // decide
        let digest = decide::build(&observation, Self::NAME);
        let notice = report::notice(&digest, region_of(&config.alerts_topic_arn), &key);
        outcome = outcome
            .decided("published", report::title(&digest))
            .observed(json!({
                "window": request.window,
                "manual": request.manual,
                "digest": digest,
            }));

        // act + report: one Notice
        let publisher = NoticePublisher::new(self.clients.sns.clone(), &config.alerts_topic_arn);
        if let Err(failure) = publisher.deliver(notice, &mut outcome, dry_run, true).await {
            if claimed {
                let _ = ledger.release(&key, owner).await;
            }
            return Err(failure.into());
        }
        if claimed {
            match &outcome.notice_delivery {
                Some(NoticeDelivery::Published { message_id }) => {
                    let note = format!("SNS message {message_id}");
                    if let Err(failure) = ledger.complete(&key, owner, now, keep, &note).await {
                        outcome.action(
                            Action::new(
                                &failure.call,
                                failure.resource.clone(),
                                ActionStatus::Failed,
                            )
                            .detail(failure.to_string()),
                        );
                    }
                }
                // not published (a final failure, recorded): a rerun may try again
                _ => {
                    let _ = ledger.release(&key, owner).await;
                }
            }
        }
        Ok(outcome)
    }
}
