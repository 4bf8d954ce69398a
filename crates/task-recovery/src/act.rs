//! Executes a plan's steps: ECS (UpdateService, RunTask), SQS (the delayed re-check) and the
//! ledger (claims and markers that make each effect happen once across containers). Thin
//! adapters: the planner already decided. In a dry run nothing is written, the ledger included.

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, ContainerOverride,
    KeyValuePair, LaunchType, NetworkConfiguration, PropagateTags, Tag, TaskOverride,
};
use chrono::{DateTime, Utc};
use phoenix_core::aws::FailureKind;
use phoenix_core::{Action, ActionStatus, AwsFailure, Claim, Ledger, Outcome};
use serde_json::Value;

use crate::config::NetworkSettings;
use crate::decide::{KEEP, LEASE, Plan, Step};
use crate::event::StoppedTask;
use crate::observe::{REPLACES_TAG, STARTED_BY};
use crate::recheck::Recheck;

/// What executing a step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    ForcedDeployment {
        service: String,
    },
    /// Another invocation forced (or is forcing) the deployment: not forced twice.
    ForcedElsewhere {
        service: String,
        when: String,
    },
    /// The replacement task's ARN.
    Replacement(String),
    RecheckScheduled {
        recheck: Recheck,
        delay_seconds: i32,
    },
    /// The one-time marker was written now: people are told.
    FirstReport,
    /// People were told before (at this time): no Notice this time.
    ReportedBefore(DateTime<Utc>),
    /// Dry run: the step that would have run.
    WouldDo(Step),
    /// A final failure of this step.
    Failed {
        call: String,
        why: String,
    },
}

impl Effect {
    /// True when this effect changed something in AWS.
    pub fn changed_aws(&self) -> bool {
        matches!(
            self,
            Self::ForcedDeployment { .. } | Self::Replacement(_) | Self::RecheckScheduled { .. }
        )
    }
}

/// Everything the act step writes to, and for whom.
pub struct Actor<'a> {
    pub ecs: &'a aws_sdk_ecs::Client,
    pub sqs: &'a aws_sdk_sqs::Client,
    pub ledger: &'a Ledger,
    /// The watched cluster (events were checked to be of it).
    pub cluster_arn: &'a str,
    pub recheck_queue_url: &'a str,
    pub recheck_queue_name: &'a str,
    pub network: &'a NetworkSettings,
    pub dry_run: bool,
    /// The invocation's request id: the owner of its ledger claims.
    pub owner: &'a str,
    pub now: DateTime<Utc>,
}

// ---- the guard around one delivery: claimed once across containers

/// What a claim on a delivery found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guard {
    /// This invocation holds the key (or runs unguarded: dry run, ledger unusable).
    Go { claimed: bool },
    /// Already handled: why, for the Outcome's `ignored`.
    Done(String),
    /// Another invocation is handling it right now.
    Busy(String),
}

impl Actor<'_> {
    /// Claims `key` for this invocation. A final ledger failure does not stop recovery: it is
    /// recorded as a failed action and the delivery is handled unguarded.
    pub async fn claim(&self, key: &str, outcome: &mut Outcome) -> Result<Guard, AwsFailure> {
        if self.dry_run {
            return Ok(Guard::Go { claimed: false });
        }
        match self
            .ledger
            .claim(key, self.owner, self.now, LEASE, KEEP)
            .await
        {
            Ok(Claim::Acquired) => Ok(Guard::Go { claimed: true }),
            Ok(Claim::Done { at, note }) => Ok(Guard::Done(format!(
                "duplicate delivery: already handled at {} ({note})",
                at.to_rfc3339()
            ))),
            Ok(Claim::Held { until, by }) => Ok(Guard::Busy(format!(
                "being handled by invocation {by} (claim held until {})",
                until.to_rfc3339()
            ))),
            Err(failure) if failure.retryable => Err(failure),
            Err(failure) => {
                outcome.action(
                    failed_action(&failure)
                        .detail(format!("{failure}; handled without the once-only guard")),
                );
                Ok(Guard::Go { claimed: false })
            }
        }
    }

    /// Marks the delivery done. A failure here is recorded, never fatal: the effect happened.
    pub async fn finish(&self, key: &str, guard: &Guard, note: &str, outcome: &mut Outcome) {
        if !matches!(guard, Guard::Go { claimed: true }) {
            return;
        }
        let keep = KEEP;
        if let Err(failure) = self
            .ledger
            .complete(key, self.owner, self.now, keep, note)
            .await
        {
            outcome.action(failed_action(&failure));
        }
    }

    /// Gives the claim up after a retryable failure, so a retry can take it at once. A failure
    /// here only delays that retry until the lease runs out.
    pub async fn abandon(&self, key: &str, guard: &Guard) {
        if matches!(guard, Guard::Go { claimed: true }) {
            let _ = self.ledger.release(key, self.owner).await;
        }
    }

    /// Executes every step of the plan, in order. A retryable failure stops here (the
    /// invocation is retried; effects already done are guarded against repetition); a final one
    /// is recorded and the next step still runs.
    pub async fn execute(
        &self,
        task: Option<&StoppedTask>,
        plan: &Plan,
        outcome: &mut Outcome,
    ) -> Result<Vec<Effect>, AwsFailure> {
        let mut effects = Vec::new();
        for step in &plan.steps {
            let effect = if self.dry_run {
                outcome.action(
                    Action::new(
                        step_call(step),
                        step_target(step, self),
                        ActionStatus::DryRun,
                    )
                    .detail(self.dry_run_detail(step)),
                );
                Effect::WouldDo(step.clone())
            } else {
                self.run(task, step, outcome).await?
            };
            effects.push(effect);
        }
        Ok(effects)
    }

    async fn run(
        &self,
        task: Option<&StoppedTask>,
        step: &Step,
        outcome: &mut Outcome,
    ) -> Result<Effect, AwsFailure> {
        let result = match step {
            Step::ForceNewDeployment {
                service,
                guard,
                keep,
            } => self.force(service, guard, *keep, outcome).await,
            Step::StartReplacement { family } => match task {
                Some(task) => start_replacement(self.ecs, task, self.network)
                    .await
                    .map(Effect::Replacement),
                None => Err(AwsFailure::new(
                    "ecs:RunTask",
                    family.as_str(),
                    FailureKind::Construction,
                    None,
                    "a replacement needs the stopped task's event",
                    None,
                )),
            },
            Step::ScheduleRecheck { recheck } => self.schedule(recheck).await,
            Step::ReportOnce { key, keep } => {
                match self
                    .ledger
                    .record(key, self.owner, self.now, *keep, "reported")
                    .await
                {
                    Ok(true) => Ok(Effect::FirstReport),
                    Ok(false) => match self.ledger.read(key, self.now).await {
                        Ok(entry) => Ok(Effect::ReportedBefore(entry.map_or(self.now, |e| e.at))),
                        Err(failure) => Err(failure),
                    },
                    Err(failure) => Err(failure),
                }
            }
        };
        match result {
            Ok(effect) => {
                outcome.action(self.action_for(task, step, &effect));
                Ok(effect)
            }
            Err(failure) if failure.retryable => Err(failure),
            Err(failure) => {
                outcome.action(failed_action(&failure));
                // A marker that cannot be written must not silence the report.
                if matches!(step, Step::ReportOnce { .. }) {
                    return Ok(Effect::FirstReport);
                }
                Ok(Effect::Failed {
                    call: failure.call.clone(),
                    why: failure.to_string(),
                })
            }
        }
    }

    /// UpdateService(forceNewDeployment), once per service and period across containers.
    async fn force(
        &self,
        service: &str,
        guard: &str,
        keep: chrono::Duration,
        outcome: &mut Outcome,
    ) -> Result<Effect, AwsFailure> {
        let claimed = match self
            .ledger
            .claim(guard, self.owner, self.now, LEASE, keep)
            .await
        {
            Ok(Claim::Acquired) => true,
            Ok(Claim::Done { at, .. }) => {
                return Ok(Effect::ForcedElsewhere {
                    service: service.to_owned(),
                    when: format!("forced at {}", at.to_rfc3339()),
                });
            }
            Ok(Claim::Held { by, .. }) => {
                return Ok(Effect::ForcedElsewhere {
                    service: service.to_owned(),
                    when: format!("being forced by invocation {by}"),
                });
            }
            Err(failure) if failure.retryable => return Err(failure),
            Err(failure) => {
                outcome.action(
                    failed_action(&failure)
                        .detail(format!("{failure}; forcing without the once-only guard")),
                );
                false
            }
        };
        match force_new_deployment(self.ecs, self.cluster_arn, service).await {
            Ok(()) => {
                if claimed
                    && let Err(failure) = self
                        .ledger
                        .complete(guard, self.owner, self.now, keep, "forceNewDeployment")
                        .await
                {
                    outcome.action(failed_action(&failure));
                }
                Ok(Effect::ForcedDeployment {
                    service: service.to_owned(),
                })
            }
            Err(failure) => {
                if claimed {
                    let _ = self.ledger.release(guard, self.owner).await;
                }
                Err(failure)
            }
        }
    }

    async fn schedule(&self, recheck: &Recheck) -> Result<Effect, AwsFailure> {
        let delay_seconds = recheck.delay_seconds(self.now);
        self.sqs
            .send_message()
            .queue_url(self.recheck_queue_url)
            .message_body(recheck.to_body())
            .delay_seconds(delay_seconds)
            .send()
            .await
            .map_err(|e| AwsFailure::from_sdk("sqs:SendMessage", self.recheck_queue_name, &e))?;
        Ok(Effect::RecheckScheduled {
            recheck: recheck.clone(),
            delay_seconds,
        })
    }

    fn dry_run_detail(&self, step: &Step) -> String {
        match step {
            Step::ForceNewDeployment { .. } => {
                "would force a new deployment (desired count unchanged)".to_owned()
            }
            Step::StartReplacement { .. } => "would start a replacement".to_owned(),
            Step::ScheduleRecheck { recheck } => format!(
                "would schedule {}",
                recheck_words(recheck, recheck.delay_seconds(self.now))
            ),
            Step::ReportOnce { .. } => {
                "would report once (no ledger write in a dry run)".to_owned()
            }
        }
    }

    fn action_for(&self, task: Option<&StoppedTask>, step: &Step, effect: &Effect) -> Action {
        let (status, detail) = match effect {
            Effect::ForcedDeployment { .. } => (
                ActionStatus::Done,
                "forceNewDeployment (desired count unchanged)".to_owned(),
            ),
            Effect::ForcedElsewhere { when, .. } => {
                (ActionStatus::Skipped, format!("not forced twice: {when}"))
            }
            Effect::Replacement(arn) => (
                ActionStatus::Done,
                format!(
                    "replacement {arn}, client token {}",
                    task.map(|t| client_token(&t.event_id)).unwrap_or_default()
                ),
            ),
            Effect::RecheckScheduled {
                recheck,
                delay_seconds,
            } => (
                ActionStatus::Done,
                format!("scheduled {}", recheck_words(recheck, *delay_seconds)),
            ),
            Effect::FirstReport => (
                ActionStatus::Done,
                "first report: marker written".to_owned(),
            ),
            Effect::ReportedBefore(at) => (
                ActionStatus::Skipped,
                format!("already reported at {}: no second Notice", at.to_rfc3339()),
            ),
            Effect::WouldDo(_) | Effect::Failed { .. } => (ActionStatus::Skipped, String::new()),
        };
        Action::new(step_call(step), step_target(step, self), status).detail(detail)
    }
}

/// `re-check of phoenix-service at 10:16:41 UTC (in 59 s), attempt 1 of 3`.
pub fn recheck_words(recheck: &Recheck, delay_seconds: i32) -> String {
    format!(
        "re-check of {} at {} (in {delay_seconds} s), {}",
        recheck.service,
        recheck.due_at.format("%H:%M:%S UTC"),
        recheck.progress()
    )
}

fn step_call(step: &Step) -> &'static str {
    match step {
        Step::ForceNewDeployment { .. } => "ecs:UpdateService",
        Step::StartReplacement { .. } => "ecs:RunTask",
        Step::ScheduleRecheck { .. } => "sqs:SendMessage",
        Step::ReportOnce { .. } => "dynamodb:PutItem",
    }
}

fn step_target(step: &Step, actor: &Actor<'_>) -> String {
    match step {
        Step::ForceNewDeployment { service, .. } => service.clone(),
        Step::StartReplacement { family } => family.clone(),
        Step::ScheduleRecheck { .. } => actor.recheck_queue_name.to_owned(),
        Step::ReportOnce { .. } => actor.ledger.table().to_owned(),
    }
}

fn failed_action(failure: &AwsFailure) -> Action {
    Action::new(
        &failure.call,
        failure.resource.clone(),
        ActionStatus::Failed,
    )
    .detail(failure.to_string())
}

/// UpdateService(forceNewDeployment). Never touches desiredCount.
pub async fn force_new_deployment(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
) -> Result<(), AwsFailure> {
    ecs.update_service()
        .cluster(cluster)
        .service(service)
        .force_new_deployment(true)
        .send()
        .await
        .map_err(|e| AwsFailure::from_sdk("ecs:UpdateService", service, &e))?;
    Ok(())
}

/// RunTask idempotency token: the EventBridge event id (ECS allows 64 characters).
pub fn client_token(event_id: &str) -> String {
    event_id.chars().take(64).collect()
}

fn strings(value: &Value) -> Option<Vec<String>> {
    value.as_array().map(|items| {
        items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect()
    })
}

fn int(value: &Value) -> Option<i32> {
    value.as_i64().and_then(|n| i32::try_from(n).ok())
}

/// The event's `overrides` as a RunTask override (container commands, environment, sizes, roles).
pub fn task_override(overrides: &Value) -> Option<TaskOverride> {
    if !overrides.is_object() {
        return None;
    }
    let containers = overrides["containerOverrides"].as_array().map(|list| {
        list.iter()
            .map(|c| {
                let environment = c["environment"].as_array().map(|vars| {
                    vars.iter()
                        .map(|v| {
                            KeyValuePair::builder()
                                .set_name(v["name"].as_str().map(str::to_owned))
                                .set_value(v["value"].as_str().map(str::to_owned))
                                .build()
                        })
                        .collect()
                });
                ContainerOverride::builder()
                    .set_name(c["name"].as_str().map(str::to_owned))
                    .set_command(strings(&c["command"]))
                    .set_environment(environment)
                    .set_cpu(int(&c["cpu"]))
                    .set_memory(int(&c["memory"]))
                    .set_memory_reservation(int(&c["memoryReservation"]))
                    .build()
            })
            .collect()
    });
    Some(
        TaskOverride::builder()
            .set_container_overrides(containers)
            .set_cpu(overrides["cpu"].as_str().map(str::to_owned))
            .set_memory(overrides["memory"].as_str().map(str::to_owned))
            .set_task_role_arn(overrides["taskRoleArn"].as_str().map(str::to_owned))
            .set_execution_role_arn(overrides["executionRoleArn"].as_str().map(str::to_owned))
            .build(),
    )
}

/// RunTask failures worth a retry (capacity and agent trouble pass).
pub fn run_task_failure_is_retryable(reason: &str) -> bool {
    reason.starts_with("RESOURCE")
        || reason.starts_with("AGENT")
        || reason.contains("capacity")
        || reason.contains("Capacity")
}

/// Starts a replacement of a standalone task: the task definition the planner checked (same
/// family as the group, on the allow-list), launch type or capacity provider, platform version,
/// overrides and group; the configured network; tagged with the task it replaces; the event id
/// as idempotency token. Returns the new task's ARN.
pub async fn start_replacement(
    ecs: &aws_sdk_ecs::Client,
    task: &StoppedTask,
    network: &NetworkSettings,
) -> Result<String, AwsFailure> {
    let construction = |e: &dyn std::fmt::Display| {
        AwsFailure::new(
            "ecs:RunTask",
            task.group.name(),
            FailureKind::Construction,
            None,
            e.to_string(),
            None,
        )
    };
    let Some(definition) = &task.task_definition else {
        return Err(construction(&"the event names no task definition"));
    };
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(network.subnets.clone()))
        .set_security_groups(Some(network.security_groups.clone()))
        .assign_public_ip(if network.assign_public_ip {
            AssignPublicIp::Enabled
        } else {
            AssignPublicIp::Disabled
        })
        .build()
        .map_err(|e| construction(&e))?;
    let tag = |key: &str, value: &str| Tag::builder().key(key).value(value).build();
    let mut request = ecs
        .run_task()
        .cluster(&task.cluster_arn)
        .task_definition(&definition.arn)
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(vpc)
                .build(),
        )
        .group(task.group.as_group())
        .started_by(STARTED_BY)
        .client_token(client_token(&task.event_id))
        .tags(tag(REPLACES_TAG, &task.task_id))
        .tags(tag("phoenix-ops:event-id", &task.event_id))
        .propagate_tags(PropagateTags::TaskDefinition)
        .set_platform_version(task.platform_version.clone())
        .set_overrides(task_override(&task.overrides));
    // Keep a capacity provider choice (e.g. FARGATE_SPOT) when it differs from the launch type.
    let provider = task
        .capacity_provider
        .as_deref()
        .filter(|p| Some(*p) != task.launch_type.as_deref());
    request = match (provider, task.launch_type.as_deref()) {
        (Some(provider), _) => request.capacity_provider_strategy(
            CapacityProviderStrategyItem::builder()
                .capacity_provider(provider)
                .weight(1)
                .build()
                .map_err(|e| construction(&e))?,
        ),
        (None, Some(launch_type)) => request.launch_type(LaunchType::from(launch_type)),
        (None, None) => request,
    };
    let out = request
        .send()
        .await
        .map_err(|e| AwsFailure::from_sdk("ecs:RunTask", task.group.name(), &e))?;
    if let Some(arn) = out.tasks().first().and_then(|t| t.task_arn()) {
        return Ok(arn.to_owned());
    }
    let reason = out
        .failures()
        .first()
        .map(|f| {
            format!(
                "{} {}",
                f.reason().unwrap_or("unknown"),
                f.detail().unwrap_or_default()
            )
        })
        .unwrap_or_else(|| "no task and no failure returned".to_owned());
    let kind = if run_task_failure_is_retryable(&reason) {
        FailureKind::Capacity
    } else {
        FailureKind::Service
    };
    Err(AwsFailure::new(
        "ecs:RunTask",
        task.group.name(),
        kind,
        Some("RunTaskFailure"),
        reason.trim(),
        None,
    ))
}
