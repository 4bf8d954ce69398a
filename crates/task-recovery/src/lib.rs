//! task-recovery: reacts to `ECS Task State Change` (STOPPED) events. Tells a crash from a
//! planned stop, makes sure capacity comes back (forces a new deployment of a stuck service,
//! restarts allow-listed standalone tasks), detects crash loops, and reports why the task died
//! with the dead container's last log lines.
//!
//! `event` ([`event::parse`]) → `observe` ([`observe`]) → `decide` ([`classify::classify`],
//! [`plan::plan_recovery`]) → `act` ([`act`]) → `report` ([`report::build_notice`]).

pub mod act;
pub mod classify;
pub mod event;
pub mod observe;
pub mod plan;
pub mod report;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration as StdDuration;

use chrono::Duration;
use phoenix_core::SdkConfig;
use phoenix_core::metrics::Metric;
use phoenix_core::{
    Action, ActionStatus, AwsFailure, Function, Invocation, NoticePublisher, Outcome,
    RetryableError, Vars,
};
use serde_json::json;

use crate::act::NetworkSettings;
use crate::classify::{StopKind, classify};
use crate::event::{NotOurs, StoppedTask, TaskGroup};
use crate::plan::{Observed, Plan, Policy, Step, plan_recovery};
use crate::report::{Diagnosis, Done, NoticeInput, build_notice};

/// Settings, read once at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Name (or ARN) of the cluster whose tasks this function watches.
    pub cluster: String,
    pub alerts_topic_arn: String,
    pub policy: Policy,
    pub network: NetworkSettings,
    /// Log lines attached to the Notice.
    pub log_lines: i32,
    pub dry_run: bool,
}

/// The AWS clients this function uses.
#[derive(Debug, Clone)]
pub struct Clients {
    pub ecs: aws_sdk_ecs::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub sns: aws_sdk_sns::Client,
}

impl Clients {
    pub fn from_sdk(sdk: &SdkConfig) -> Self {
        Self {
            ecs: aws_sdk_ecs::Client::new(sdk),
            logs: aws_sdk_cloudwatchlogs::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
        }
    }
}

/// Highest `detail.version` handled per task, in this container: a repeated or older event is
/// ignored. (Across containers, the replacement tag and RunTask's client token keep effects
/// single.)
#[derive(Debug, Default)]
struct SeenVersions {
    versions: Mutex<HashMap<String, i64>>,
}

impl SeenVersions {
    const CAPACITY: usize = 2_000;

    fn seen(&self, task_arn: &str) -> Option<i64> {
        self.versions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(task_arn)
            .copied()
    }

    fn record(&self, task_arn: &str, version: i64) {
        let mut versions = self.versions.lock().unwrap_or_else(|p| p.into_inner());
        if versions.len() >= Self::CAPACITY {
            versions.clear();
        }
        let entry = versions.entry(task_arn.to_owned()).or_insert(version);
        *entry = (*entry).max(version);
    }
}

pub struct TaskRecovery {
    pub config: Config,
    pub clients: Clients,
    seen: SeenVersions,
}

impl TaskRecovery {
    pub fn new(config: Config, clients: Clients) -> Self {
        Self {
            config,
            clients,
            seen: SeenVersions::default(),
        }
    }

    /// Everything the planner needs, read before anything is changed.
    async fn observe(&self, task: &StoppedTask) -> Result<Observed, AwsFailure> {
        let ecs = &self.clients.ecs;
        let cluster = &task.cluster_arn;
        let mut observed = Observed {
            recent_stops: observe::recent_stops(ecs, cluster, &task.group).await?,
            ..Observed::default()
        };
        match &task.group {
            TaskGroup::Service(name) => {
                observed.service = observe::service_state(ecs, cluster, name).await?
            }
            TaskGroup::Family(family)
                if self.config.policy.standalone_families.contains(family) =>
            {
                observed.replacement =
                    observe::replacement_of(ecs, cluster, family, &task.task_id).await?;
            }
            _ => {}
        }
        Ok(observed)
    }

    /// Waits out the replacement grace (within the time left), then looks at the service again.
    async fn wait_for_scheduler(
        &self,
        task: &StoppedTask,
        classification: &classify::Classification,
        observed: &mut Observed,
        plan: Plan,
        invocation: &Invocation,
    ) -> Result<Plan, AwsFailure> {
        let Step::WaitForScheduler { until } = plan.step else {
            return Ok(plan);
        };
        let budget = invocation
            .time_left
            .saturating_sub(StdDuration::from_secs(5));
        let wait = (until - invocation.now)
            .to_std()
            .unwrap_or_default()
            .min(budget);
        tokio::time::sleep(wait).await;
        let now = invocation.now + Duration::from_std(wait).unwrap_or_default();
        if let TaskGroup::Service(name) = &task.group {
            observed.service =
                observe::service_state(&self.clients.ecs, &task.cluster_arn, name).await?;
        }
        let mut plan = plan_recovery(task, classification, observed, &self.config.policy, now);
        if matches!(plan.step, Step::WaitForScheduler { .. }) {
            plan.decision = "scheduler-not-verified";
            plan.reason
                .push_str("; no time left to wait: ECS normally replaces service tasks on its own");
            plan.step = Step::Nothing;
        }
        Ok(plan)
    }

    async fn act(
        &self,
        task: &StoppedTask,
        plan: &Plan,
        outcome: &mut Outcome,
    ) -> Result<Done, RetryableError> {
        let dry_run = self.config.dry_run;
        let ecs = &self.clients.ecs;
        let (call, target) = match &plan.step {
            Step::Nothing | Step::WaitForScheduler { .. } => return Ok(Done::Nothing),
            Step::ForceNewDeployment { service } => ("ecs:UpdateService", service.clone()),
            Step::StartReplacement { family } => ("ecs:RunTask", family.clone()),
        };
        if dry_run {
            outcome.action(Action::new(call, target, ActionStatus::DryRun).detail(plan.decision));
            return Ok(Done::WouldDo(plan.step.clone()));
        }
        let result = match &plan.step {
            Step::ForceNewDeployment { service } => {
                act::force_new_deployment(ecs, &task.cluster_arn, service)
                    .await
                    .map(|()| Done::ForcedDeployment)
            }
            Step::StartReplacement { .. } => {
                act::start_replacement(ecs, task, &self.config.network)
                    .await
                    .map(Done::Replacement)
            }
            Step::Nothing | Step::WaitForScheduler { .. } => Ok(Done::Nothing),
        };
        match result {
            Ok(done) => {
                let detail = match &done {
                    Done::Replacement(arn) => format!(
                        "replacement {arn}, client token {}",
                        act::client_token(&task.event_id)
                    ),
                    _ => "forceNewDeployment (desired count unchanged)".to_owned(),
                };
                outcome.action(Action::new(call, target, ActionStatus::Done).detail(detail));
                let metric = if matches!(done, Done::Replacement(_)) {
                    "TaskReplacements"
                } else {
                    "ForcedDeployments"
                };
                outcome.metrics.push(Metric::count(metric, 1.0));
                Ok(done)
            }
            Err(failure) if failure.retryable => Err(failure.into()),
            Err(failure) => {
                outcome.action(
                    Action::new(call, target, ActionStatus::Failed).detail(failure.to_string()),
                );
                Ok(Done::Failed(failure.to_string()))
            }
        }
    }
}

impl Function for TaskRecovery {
    const NAME: &'static str = "task-recovery";
    type Config = Config;

    fn read_config(vars: &mut Vars<'_>) -> Config {
        let cluster = vars.required("CLUSTER_NAME");
        let alerts_topic_arn = vars.required_arn("ALERTS_TOPIC_ARN", "sns");
        let standalone_families = vars.list("STANDALONE_FAMILIES");
        let subnets = vars.list("TASK_SUBNETS");
        let security_groups = vars.list("TASK_SECURITY_GROUPS");
        let assign_public_ip = vars.flag("TASK_ASSIGN_PUBLIC_IP", false);
        let threshold = vars.number_in("CRASH_LOOP_THRESHOLD", 3, 1, 100);
        let window = vars.number_in("CRASH_LOOP_WINDOW_MINUTES", 10, 1, 60);
        let grace = vars.number_in("REPLACEMENT_GRACE_SECONDS", 60, 0, 600);
        let log_lines = vars.number_in("LOG_LINES", 20, 0, 100);
        let dry_run = vars.flag("DRY_RUN", false);
        if !standalone_families.is_empty() && subnets.is_empty() {
            vars.invalid(
                "TASK_SUBNETS",
                "must list the subnets for replacements when STANDALONE_FAMILIES is set",
            );
        }
        Config {
            cluster,
            alerts_topic_arn,
            policy: Policy {
                standalone_families,
                crash_loop_threshold: threshold,
                crash_loop_window: Duration::minutes(i64::from(window)),
                replacement_grace: Duration::seconds(i64::from(grace)),
            },
            network: NetworkSettings {
                subnets,
                security_groups,
                assign_public_ip,
            },
            log_lines: i32::try_from(log_lines).unwrap_or(20),
            dry_run,
        }
    }

    fn from_sdk(config: Config, sdk: &SdkConfig) -> Self {
        Self::new(config, Clients::from_sdk(sdk))
    }

    async fn handle(&self, invocation: Invocation) -> Result<Outcome, RetryableError> {
        let event_id = event::event_id(&invocation.payload).map(str::to_owned);
        let task = match event::parse(&invocation.payload, &self.config.cluster) {
            Ok(task) => task,
            Err(NotOurs(why)) => return Ok(Outcome::ignored(Self::NAME, event_id.as_deref(), why)),
        };
        if let Some(seen) = self
            .seen
            .seen(&task.task_arn)
            .filter(|seen| *seen >= task.version)
        {
            return Ok(Outcome::ignored(
                Self::NAME,
                Some(&task.event_id),
                format!(
                    "duplicate or out-of-date event: version {} of task {} (version {seen} already handled)",
                    task.version, task.task_id
                ),
            ));
        }
        let classification = classify(&task.facts);
        let mut outcome = Outcome::handled(Self::NAME, Some(&task.event_id), self.config.dry_run);
        outcome.metrics.push(
            Metric::count("TaskStops", 1.0).dimension("StopKind", classification.kind.name()),
        );

        // observe (nothing for planned stops: no AWS call is needed to leave them alone)
        let mut observed = Observed::default();
        if !classification.kind.is_planned() {
            match self.observe(&task).await {
                Ok(o) => observed = o,
                Err(failure) if failure.retryable => return Err(failure.into()),
                Err(failure) => {
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
        }

        // decide (and, for a service short of tasks, give ECS its grace period)
        let plan = plan_recovery(
            &task,
            &classification,
            &observed,
            &self.config.policy,
            invocation.now,
        );
        let plan = self
            .wait_for_scheduler(&task, &classification, &mut observed, plan, &invocation)
            .await
            .map_err(RetryableError::from)?;
        if let Some(l) = plan.crash_loop.filter(|l| l.first) {
            outcome
                .metrics
                .push(Metric::count("CrashLoops", 1.0).dimension("Group", task.group.as_group()));
            tracing::warn!(event_id = %task.event_id, failures = l.failures, "crash loop detected");
        }

        // act
        let done = self.act(&task, &plan, &mut outcome).await?;

        // report
        let diagnosis = if plan.severity.is_some() {
            let container = match &classification.kind {
                StopKind::Crash { container, .. } | StopKind::OutOfMemory { container } => {
                    Some(container.as_str())
                }
                _ => None,
            };
            observe::diagnose(
                &self.clients.ecs,
                &self.clients.logs,
                &task,
                container,
                self.config.log_lines,
            )
            .await
        } else {
            Diagnosis::default()
        };
        let notice = build_notice(&NoticeInput {
            task: &task,
            classification: &classification,
            plan: &plan,
            observed: &observed,
            diagnosis: &diagnosis,
            done: &done,
            now: invocation.now,
            source: Self::NAME,
        });
        outcome = outcome
            .decided(plan.decision, plan.reason.clone())
            .observed(json!({
                "task": task.task_id,
                "group": task.group.as_group(),
                "version": task.version,
                "classification": classification,
                "service": observed.service,
                "failures_in_window": plan.failures_in_window,
                "crash_loop": plan.crash_loop,
                "replacement": observed.replacement,
                "log_lines": diagnosis.lines.len(),
                "log_problem": diagnosis.problem,
            }));
        if let Some(notice) = notice {
            NoticePublisher::new(self.clients.sns.clone(), &self.config.alerts_topic_arn)
                .deliver(notice, &mut outcome, self.config.dry_run, true)
                .await?;
        }
        self.seen.record(&task.task_arn, task.version);
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phoenix_core::lambda::{config_vars, load_config, required_config_vars};

    #[test]
    fn configuration_names_every_bad_variable() {
        let env = [
            ("STANDALONE_FAMILIES", "phoenix-worker"),
            ("CRASH_LOOP_THRESHOLD", "zero"),
        ];
        let err = load_config::<TaskRecovery>(Vars::from_pairs(&env)).expect_err("bad");
        assert_eq!(
            err.vars(),
            [
                "CLUSTER_NAME",
                "ALERTS_TOPIC_ARN",
                "CRASH_LOOP_THRESHOLD",
                "TASK_SUBNETS"
            ]
        );
        assert_eq!(
            required_config_vars::<TaskRecovery>(),
            ["CLUSTER_NAME", "ALERTS_TOPIC_ARN"]
        );
        assert_eq!(config_vars::<TaskRecovery>().len(), 11);
    }

    #[test]
    fn defaults_match_the_documentation() {
        let env = [
            ("CLUSTER_NAME", "phoenix-cluster"),
            ("ALERTS_TOPIC_ARN", "arn:aws:sns:eu-west-1:1:alerts"),
        ];
        let config = load_config::<TaskRecovery>(Vars::from_pairs(&env)).expect("valid");
        assert_eq!(config.policy.crash_loop_threshold, 3);
        assert_eq!(config.policy.crash_loop_window, Duration::minutes(10));
        assert_eq!(config.policy.replacement_grace, Duration::seconds(60));
        assert_eq!(config.log_lines, 20);
        assert!(!config.dry_run && config.policy.standalone_families.is_empty());
    }
}
