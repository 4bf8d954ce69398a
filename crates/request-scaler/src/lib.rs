//! request-scaler: keeps the Phoenix service at `ceil(requests per minute / target per task)`
//! tasks, from the ALB's RequestCount, every minute (and at once when the request alarm fires).
//!
//! `event` ([`event::parse`]) → `observe` ([`observe`]) → `decide` ([`decide::decide`], pure) →
//! act (UpdateService desiredCount, only when it changes) → report (a Notice per scale action, a
//! warning when demand goes beyond the maximum). [`simulate`] replays traffic traces through the
//! same rule and through a model of AWS target tracking.

pub mod decide;
pub mod event;
pub mod observe;
pub mod simulate;

use std::collections::VecDeque;
use std::sync::Mutex;

use phoenix_core::SdkConfig;
use phoenix_core::metrics::Metric;
use phoenix_core::{
    Action, ActionStatus, Function, Invocation, Notice, NoticePublisher, Outcome, RetryableError,
    Severity, Vars, console,
};
use serde_json::json;

use crate::decide::{Decision, Observation, Policy, Verdict, decide};
use crate::event::Trigger;
use crate::observe::RequestMetric;

/// Settings, read once at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    pub cluster: String,
    pub service: String,
    pub metric: RequestMetric,
    pub alerts_topic_arn: String,
    pub policy: Policy,
    pub dry_run: bool,
}

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

pub struct RequestScaler {
    pub config: Config,
    pub clients: Clients,
    /// Trigger ids evaluated by this container: a repeated delivery is ignored.
    seen: Mutex<VecDeque<String>>,
}

impl RequestScaler {
    /// Trigger ids remembered (an hour of one-minute schedules and alarms).
    const SEEN: usize = 128;

    pub fn new(config: Config, clients: Clients) -> Self {
        Self {
            config,
            clients,
            seen: Mutex::new(VecDeque::new()),
        }
    }

    /// True when this container already evaluated the trigger to the end.
    fn already_evaluated(&self, event_id: &str) -> bool {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.iter().any(|id| id == event_id)
    }

    /// Remembers a trigger evaluated to the end (a failed one is left for Lambda's retry).
    fn record(&self, event_id: &str) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= Self::SEEN {
            seen.pop_front();
        }
        seen.push_back(event_id.to_owned());
    }

    /// Complete minutes fetched: the stabilization window plus one to tell when demand first
    /// went beyond the maximum.
    fn complete_minutes(&self) -> usize {
        self.config.policy.window_minutes() + 1
    }

    /// The Notice for a decision: info per scale action, a warning when demand goes beyond the
    /// maximum. Its event id names the service, the change and the minute evaluated, so the
    /// notifier collapses the same news from two triggers of the same minute.
    fn notice(
        &self,
        trigger: &Trigger,
        decision: &Decision,
        minutes: &observe::Minutes,
        invocation: &Invocation,
    ) -> Option<Notice> {
        let policy = &self.config.policy;
        let service = &self.config.service;
        let warn = decision.demand_exceeds_max
            && (decision.verdict == Verdict::ScaleOut || decision.newly_exceeds_max);
        let (severity, title) = match decision.verdict {
            _ if warn => (
                Severity::Warning,
                format!(
                    "{service} needs {} tasks but is capped at {}",
                    decision.raw_need, policy.max_tasks
                ),
            ),
            Verdict::ScaleOut => (
                Severity::Info,
                format!(
                    "{service} scaled out {} → {} tasks",
                    decision.previous, decision.desired
                ),
            ),
            Verdict::ScaleIn => (
                Severity::Info,
                format!(
                    "{service} scaled in {} → {} tasks",
                    decision.previous, decision.desired
                ),
            ),
            Verdict::Hold => return None,
        };
        let region = region_of(&self.config.alerts_topic_arn).unwrap_or(trigger.region());
        Some(
            Notice::new(
                severity,
                Self::NAME,
                title,
                decision.reason.clone(),
                invocation.now,
            )
            .field(
                "Requests/min (newest)",
                decision.newest_requests.to_string(),
            )
            .field("Peak of window", decision.window_peak.to_string())
            .field("Target per task", policy.target_per_task.to_string())
            .field(
                "Tasks",
                format!("{} → {}", decision.previous, decision.desired),
            )
            .field(
                "Limits",
                format!("min {}, max {}", policy.min_tasks, policy.max_tasks),
            )
            .field("Trigger", trigger.describe())
            .link(
                "ECS service",
                console::ecs_service(region, &self.config.cluster, service),
            )
            .event_id(Some(&format!(
                "{service}:{}:{}->{}:{}",
                if warn {
                    "exceeds-max"
                } else {
                    decision.verdict.name()
                },
                decision.previous,
                decision.desired,
                minutes
                    .newest_complete_at
                    .map(|t| t.format("%Y-%m-%dT%H:%MZ").to_string())
                    .unwrap_or_default()
            ))),
        )
    }
}

/// The region of an ARN (`arn:aws:sns:REGION:…`).
fn region_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

impl Function for RequestScaler {
    const NAME: &'static str = "request-scaler";
    type Config = Config;

    fn read_config(vars: &mut Vars<'_>) -> Config {
        let cluster = vars.required("CLUSTER_NAME");
        let service = vars.required("SERVICE_NAME");
        let load_balancer = vars.required("LOAD_BALANCER_DIMENSION");
        let target_group = vars.required("TARGET_GROUP_DIMENSION");
        let alerts_topic_arn = vars.required_arn("ALERTS_TOPIC_ARN", "sns");
        let target_per_task = vars.number_in("TARGET_REQUESTS_PER_TASK", 100, 1, 1_000_000);
        let min_tasks = vars.number_in("MIN_TASKS", 1, 0, 1_000);
        let max_tasks = vars.number_in("MAX_TASKS", 10, 1, 1_000);
        let stabilization_minutes = vars.number_in("SCALE_IN_STABILIZATION_MINUTES", 5, 1, 60);
        let dry_run = vars.flag("DRY_RUN", false);
        if min_tasks > max_tasks {
            vars.invalid(
                "MIN_TASKS",
                format!("{min_tasks} is above MAX_TASKS ({max_tasks})"),
            );
        }
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
            cluster,
            service,
            metric: RequestMetric {
                load_balancer,
                target_group,
            },
            alerts_topic_arn,
            policy: Policy {
                target_per_task,
                min_tasks,
                max_tasks,
                stabilization_minutes,
            },
            dry_run,
        }
    }

    fn from_sdk(config: Config, sdk: &SdkConfig) -> Self {
        Self::new(config, Clients::from_sdk(sdk))
    }

    async fn handle(&self, invocation: Invocation) -> Result<Outcome, RetryableError> {
        let trigger = match event::parse(&invocation.payload) {
            Ok(trigger) => trigger,
            Err(why) => {
                return Ok(Outcome::ignored(
                    Self::NAME,
                    event::event_id(&invocation.payload),
                    why,
                ));
            }
        };
        if self.already_evaluated(trigger.event_id()) {
            return Ok(Outcome::ignored(
                Self::NAME,
                Some(trigger.event_id()),
                "duplicate delivery: this trigger was already evaluated",
            ));
        }
        let config = &self.config;
        let dry_run = config.dry_run;
        let mut outcome = Outcome::handled(Self::NAME, Some(trigger.event_id()), dry_run);

        // observe: any failure here is retried (the next minute's run retries anyway)
        let points = observe::requests(
            &self.clients.cloudwatch,
            &config.metric,
            invocation.now,
            self.complete_minutes(),
        )
        .await
        .map_err(RetryableError::from)?;
        let minutes = observe::arrange(&points, invocation.now, self.complete_minutes());
        let Some(service) = observe::service(&self.clients.ecs, &config.cluster, &config.service)
            .await
            .map_err(RetryableError::from)?
        else {
            return Err(RetryableError(format!(
                "service {} is not an ACTIVE service of cluster {}: nothing to scale (check SERVICE_NAME and CLUSTER_NAME)",
                config.service, config.cluster
            )));
        };

        // decide
        let observation = Observation {
            complete: minutes.complete.clone(),
            partial: minutes.partial.clone(),
            desired: service.desired,
            running: service.running,
            pending: service.pending,
            deployment_in_progress: service.deployment_in_progress,
        };
        let decision = decide(&observation, &config.policy);
        outcome = outcome
            .decided(decision.verdict.name(), decision.reason.clone())
            .observed(json!({
                "trigger": trigger.describe(),
                "minutes": minutes,
                "service": service,
                "policy": config.policy,
                "decision": decision,
            }));
        outcome.metrics.push(
            Metric::count("ScalingDecisions", 1.0).dimension("Decision", decision.verdict.name()),
        );

        // act: set, never increment; nothing when the count does not change
        if decision.changes() {
            let detail = format!("desiredCount {} → {}", decision.previous, decision.desired);
            if dry_run {
                outcome.action(
                    Action::new("ecs:UpdateService", &config.service, ActionStatus::DryRun)
                        .detail(detail),
                );
            } else {
                match observe::set_desired(
                    &self.clients.ecs,
                    &config.cluster,
                    &config.service,
                    decision.desired,
                )
                .await
                {
                    Ok(()) => outcome.action(
                        Action::new("ecs:UpdateService", &config.service, ActionStatus::Done)
                            .detail(detail),
                    ),
                    Err(failure) => return Err(failure.into()),
                }
            }
        }

        // report
        if let Some(notice) = self.notice(&trigger, &decision, &minutes, &invocation) {
            // once desiredCount changed, a retry would find nothing to do and never resend
            NoticePublisher::new(self.clients.sns.clone(), &config.alerts_topic_arn)
                .deliver(notice, &mut outcome, dry_run, !decision.changes())
                .await?;
        }
        self.record(trigger.event_id());
        Ok(outcome)
    }
}
