// pure: builds Notices and the Outcome's observations from what was read, decided and done.
//! The Notices that say why a task died, what a re-check found and what ECS reported about a
//! deployment, and the Outcome's `observed` record of each (what the digest and the dashboard
//! count, from the one Outcome line). Text we did not write (stopped reasons, container log
//! lines, ECS's messages) is passed through `redact_secrets` before it reaches a Notice.

use chrono::{DateTime, Utc};
use phoenix_core::text::{human_duration, redact_secrets};
use phoenix_core::{Notice, Severity, console};
use serde_json::{Value, json};

use crate::act::{Effect, recheck_words};
use crate::classify::{Classification, StopKind};
use crate::decide::{Decision, Plan, Step};
use crate::event::{ServiceEvent, StoppedTask, TaskGroup};
use crate::observe::{DeploymentState, Diagnosis, Observed, ServiceState};
use crate::recheck::Recheck;

/// Everything the report of a stopped task is made of.
pub struct StopReport<'a> {
    pub task: &'a StoppedTask,
    pub classification: &'a Classification,
    pub plan: &'a Plan,
    pub observed: &'a Observed,
    pub diagnosis: &'a Diagnosis,
    pub effects: &'a [Effect],
    pub now: DateTime<Utc>,
    pub source: &'static str,
}

fn what_happened(kind: &StopKind) -> String {
    match kind {
        StopKind::Crash { exit_code, .. } => format!("crashed (exit {exit_code})"),
        StopKind::OutOfMemory { .. } => "was killed for memory (OOM)".to_owned(),
        StopKind::HealthCheckFailed => "failed its health checks".to_owned(),
        StopKind::ImageMissing { .. } => "could not start: its image does not exist".to_owned(),
        StopKind::FailedToStart => "failed to start".to_owned(),
        StopKind::Infrastructure => "was stopped by the infrastructure".to_owned(),
        StopKind::Planned { .. } => "stopped as planned".to_owned(),
        StopKind::Unknown => "stopped for an unknown reason".to_owned(),
    }
}

/// What the act step did, in words (the first that applies).
pub fn what_was_done(plan: &Plan, effects: &[Effect]) -> String {
    let failed = effects.iter().find_map(|e| match e {
        Effect::Failed { why, .. } => Some(why.as_str()),
        _ => None,
    });
    if let Some(why) = failed {
        return format!("recovery failed: {why}");
    }
    for effect in effects {
        let words = match effect {
            Effect::Replacement(arn) => format!(
                "replacement {} started",
                arn.rsplit('/').next().unwrap_or(arn)
            ),
            Effect::ForcedDeployment { .. } => "forced a new deployment".to_owned(),
            Effect::ForcedElsewhere { .. } => "a new deployment was already forced".to_owned(),
            Effect::WouldDo(Step::ForceNewDeployment { .. }) => {
                "would force a new deployment (dry run)".to_owned()
            }
            Effect::WouldDo(Step::StartReplacement { .. }) => {
                "would start a replacement (dry run)".to_owned()
            }
            _ => continue,
        };
        return words;
    }
    plan.decision.words().to_owned()
}

fn severity(plan: &Plan, effects: &[Effect]) -> Option<Severity> {
    let failed = effects.iter().any(|e| matches!(e, Effect::Failed { .. }));
    match (&plan.severity, failed) {
        (Some(s), true) => Some(s.clone().at_least(Severity::Error)),
        (None, true) => Some(Severity::Error),
        (s, false) => s.clone(),
    }
}

fn reported_before(effects: &[Effect]) -> bool {
    effects
        .iter()
        .any(|e| matches!(e, Effect::ReportedBefore(_)))
}

/// The re-check scheduled (or that would be), and its delay.
fn scheduled(effects: &[Effect], now: DateTime<Utc>) -> Option<(&Recheck, i32)> {
    effects.iter().find_map(|e| match e {
        Effect::RecheckScheduled {
            recheck,
            delay_seconds,
        } => Some((recheck, *delay_seconds)),
        Effect::WouldDo(Step::ScheduleRecheck { recheck }) => {
            Some((recheck, recheck.delay_seconds(now)))
        }
        _ => None,
    })
}

fn or_none(text: &str) -> String {
    if text.trim().is_empty() {
        "(none)".to_owned()
    } else {
        redact_secrets(text)
    }
}

/// The Notice about a stopped task, or `None` when no human needs to know (planned stops, a
/// missing image already reported).
pub fn stop_notice(r: &StopReport<'_>) -> Option<Notice> {
    let StopReport {
        task,
        classification,
        plan,
        observed,
        diagnosis,
        effects,
        now,
        source,
    } = r;
    let severity = severity(plan, effects)?;
    if reported_before(effects) {
        return None;
    }
    let owner = task.group.name();
    let title = match (&classification.kind, plan.crash_loop) {
        (_, Some(l)) if l.first && plan.decision == Decision::CrashLoop => format!(
            "{owner} is crash-looping: {} failures in {} min",
            l.failures, l.window_minutes
        ),
        (StopKind::ImageMissing { image }, _) => {
            format!("{owner}: image {image} does not exist — not restarted")
        }
        (kind, _) => format!(
            "{owner} task {} — {}",
            what_happened(kind),
            what_was_done(plan, effects)
        ),
    };
    let mut notice = Notice::new(severity, source, title, redact_secrets(&plan.reason), *now)
        .event_id(Some(&task.event_id))
        .field("Stop kind", classification.kind.name());
    if let StopKind::ImageMissing { image } = &classification.kind {
        notice = notice.field("Image", image).field(
            "What to do",
            format!(
                "push the image, or park {owner} at 0 until it exists \
                 (aws ecs update-service --cluster {} --service {owner} --desired-count 0); \
                 unpark by setting the count back",
                task.cluster_name
            ),
        );
    }
    notice = notice
        .field(
            "Stop code",
            task.facts
                .stop_code
                .as_ref()
                .map_or("(none)", |c| c.as_str()),
        )
        .field("Stopped reason", or_none(&task.facts.stopped_reason));
    for c in &task.facts.containers {
        let exit = c
            .exit_code
            .map_or_else(|| "none".to_owned(), |e| e.to_string());
        let reason = c
            .reason
            .as_deref()
            .map(|r| format!(" ({})", redact_secrets(r)))
            .unwrap_or_default();
        notice = notice.field(
            format!("Container {}", c.name),
            format!("exit {exit}{reason}"),
        );
    }
    notice = notice
        .field("Task", &task.task_id)
        .field("Task definition", task.task_definition())
        .field("Group", task.group.as_group());
    if let Some(lived) = task.lifetime() {
        notice = notice.field("Lived", human_duration(lived));
    }
    if let Some(service) = &observed.service {
        notice = notice.field("Service tasks", service.counts());
    }
    if plan.failures_in_window > 0 {
        notice = notice.field(
            "Failures in window",
            format!("{} in {} min", plan.failures_in_window, plan.window_minutes),
        );
    }
    if let Some((recheck, delay)) = scheduled(effects, *now) {
        notice = notice.field("Re-check", recheck_words(recheck, delay));
    }
    if let Some(Effect::Replacement(arn)) =
        effects.iter().find(|e| matches!(e, Effect::Replacement(_)))
    {
        notice = notice.field("Replacement", arn.rsplit('/').next().unwrap_or(arn));
    }
    notice = notice.link(
        "Task",
        console::ecs_task(&task.region, &task.cluster_name, &task.task_id),
    );
    if let TaskGroup::Service(name) = &task.group {
        notice = notice.link(
            "Service",
            console::ecs_service(&task.region, &task.cluster_name, name),
        );
    }
    if let (Some(group), Some(stream)) = (&diagnosis.log_group, &diagnosis.log_stream) {
        notice = notice.link("Logs", console::log_stream(&task.region, group, stream));
    }
    if matches!(classification.kind, StopKind::ImageMissing { .. }) {
        return Some(notice);
    }
    let details = match (&diagnosis.problem, diagnosis.lines.is_empty()) {
        (Some(problem), _) => format!("(last log lines unavailable: {problem})"),
        (None, true) => "(the log stream is empty)".to_owned(),
        (None, false) => redact_secrets(&diagnosis.lines.join("\n")),
    };
    Some(notice.details(details))
}

/// The Outcome's `observed` for a stopped task.
pub fn stop_observed(r: &StopReport<'_>) -> Value {
    let scheduled = scheduled(r.effects, r.now).map(|(c, delay)| {
        json!({"due_at": c.due_at, "attempt": c.attempt, "of": c.max_attempts, "delay_seconds": delay})
    });
    json!({
        "trigger": "task-stopped",
        "task": r.task.task_id,
        "group": r.task.group.as_group(),
        "task_definition": r.task.task_definition(),
        "version": r.task.version,
        "stopped_at": r.task.stopped_at,
        "classification": r.classification,
        "service": r.observed.service,
        "failures_in_window": r.plan.failures_in_window,
        "crash_loop": r.plan.crash_loop,
        "replacement": r.observed.replacement,
        "recheck": scheduled,
        "observe_problem": r.observed.problem,
        "log_lines": r.diagnosis.lines.len(),
        "log_problem": r.diagnosis.problem,
    })
}

fn deployments_field(service: &ServiceState) -> String {
    service
        .deployments
        .iter()
        .map(|d| {
            format!(
                "{} {} {}{}",
                d.status,
                d.task_definition,
                d.rollout_state.as_deref().unwrap_or("-"),
                if d.failed_tasks > 0 {
                    format!(" ({} failed tasks)", d.failed_tasks)
                } else {
                    String::new()
                }
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The Notice of a re-check: a forced deployment, a service that stays short, capacity back
/// after a forced deployment, or a failure; `None` otherwise (the stop's Notice said enough).
pub fn recheck_notice(
    recheck: &Recheck,
    plan: &Plan,
    observed: &Observed,
    effects: &[Effect],
    (region, cluster_name): (&str, &str),
    now: DateTime<Utc>,
    source: &'static str,
) -> Option<Notice> {
    let severity = severity(plan, effects)?;
    let forced_elsewhere = effects
        .iter()
        .any(|e| matches!(e, Effect::ForcedElsewhere { .. }));
    if reported_before(effects)
        || (plan.decision == Decision::ForceNewDeployment && forced_elsewhere)
    {
        // Another chain of re-checks of the same service already told people.
        return None;
    }
    let service = &recheck.service;
    let since = human_duration(now.signed_duration_since(recheck.stopped_at));
    let title = match plan.decision {
        Decision::CapacityBack => {
            format!("{service} is back to full capacity ({since} after a task stopped)")
        }
        Decision::StaysShort => format!(
            "{service} is still short of tasks {since} after a task stopped — a person must look"
        ),
        _ => format!(
            "{service} still short {since} after a task stopped — {}",
            what_was_done(plan, effects)
        ),
    };
    let mut notice = Notice::new(severity, source, title, redact_secrets(&plan.reason), now)
        .event_id(Some(&format!(
            "{}#recheck-{}",
            recheck.event_id, recheck.attempt
        )))
        .field("Re-check", recheck.progress())
        .field("Stopped task", recheck.task_id())
        .field("Stop kind", &recheck.stop_kind);
    if let Some(state) = &observed.service {
        notice = notice
            .field("Service tasks", state.counts())
            .field("Deployments", deployments_field(state));
        if !state.messages.is_empty() {
            notice = notice.details(redact_secrets(&state.messages.join("\n")));
        }
    }
    if let Some((next, delay)) = scheduled(effects, now) {
        notice = notice.field("Next re-check", recheck_words(next, delay));
    }
    Some(notice.link(
        "Service",
        console::ecs_service(region, cluster_name, service),
    ))
}

/// The Outcome's `observed` for a re-check.
pub fn recheck_observed(
    recheck: &Recheck,
    observed: &Observed,
    effects: &[Effect],
    now: DateTime<Utc>,
) -> Value {
    let next = scheduled(effects, now).map(|(c, delay)| {
        json!({"due_at": c.due_at, "attempt": c.attempt, "of": c.max_attempts, "delay_seconds": delay})
    });
    json!({
        "trigger": "recheck",
        "service": recheck.service,
        "stopped_task": recheck.task_id(),
        "stop_kind": recheck.stop_kind,
        "attempt": recheck.attempt,
        "of": recheck.max_attempts,
        "due_at": recheck.due_at,
        "forced_before": recheck.forced,
        "state": observed.service,
        "observe_problem": observed.problem,
        "next": next,
    })
}

/// An ECS event name in words: `SERVICE_TASK_PLACEMENT_FAILURE` → "unable to place tasks".
fn event_words(name: &str) -> String {
    match name {
        "SERVICE_DEPLOYMENT_FAILED" => "deployment failed".to_owned(),
        "SERVICE_DEPLOYMENT_IN_PROGRESS" => "deployment in progress".to_owned(),
        "SERVICE_TASK_PLACEMENT_FAILURE" => "unable to place tasks".to_owned(),
        "SERVICE_TASK_CONFIGURATION_FAILURE" => "task configuration failure".to_owned(),
        "SERVICE_TASK_START_IMPAIRED" => "unable to start tasks consistently".to_owned(),
        "ECS_OPERATION_THROTTLED" => "ECS throttled the service scheduler".to_owned(),
        other => other.to_ascii_lowercase().replace('_', " "),
    }
}

/// The deployment the event is about ("after") and the one the service ran or runs besides it
/// ("before", the rollback target).
fn before_and_after<'a>(
    event: &ServiceEvent,
    service: &'a ServiceState,
) -> (Option<&'a DeploymentState>, Option<&'a DeploymentState>) {
    let after = event
        .deployment_id
        .as_deref()
        .and_then(|id| service.deployments.iter().find(|d| d.id == id));
    let before = service
        .deployments
        .iter()
        .filter(|d| Some(d.id.as_str()) != after.map(|a| a.id.as_str()))
        .find(|d| d.status == "PRIMARY")
        .or_else(|| {
            service
                .deployments
                .iter()
                .find(|d| Some(d.id.as_str()) != after.map(|a| a.id.as_str()))
        });
    (before, after)
}

/// The Notice of a deployment failure, a rollback or a service problem.
pub fn service_event_notice(
    event: &ServiceEvent,
    plan: &Plan,
    observed: &Observed,
    now: DateTime<Utc>,
    source: &'static str,
) -> Option<Notice> {
    let severity = plan.severity.clone()?;
    let service = &event.service;
    let title = match plan.decision {
        Decision::DeploymentFailed => format!(
            "{service}: deployment {} failed",
            event.deployment_id.as_deref().unwrap_or("(unnamed)")
        ),
        Decision::RollingBack => {
            format!("{service}: the circuit breaker is rolling back a failed deployment")
        }
        _ => format!("{service}: {}", event_words(&event.name)),
    };
    let mut notice = Notice::new(severity, source, title, redact_secrets(&plan.reason), now)
        .event_id(Some(&event.event_id))
        .field("ECS event", &event.name)
        .field("Reason", or_none(&event.reason));
    if let Some(id) = &event.deployment_id {
        notice = notice.field("Deployment", id);
    }
    if let Some(state) = &observed.service {
        let (before, after) = before_and_after(event, state);
        let (after_label, before_label) = match plan.decision {
            Decision::RollingBack => (
                "Task definition (rolling back to)",
                "Task definition (failed deployment)",
            ),
            _ if event.deployment_id.is_some() => (
                "Task definition (failed deployment)",
                "Task definition (before / rolled back to)",
            ),
            _ => ("Task definition (deployment)", "Task definition"),
        };
        if let Some(after) = after {
            notice = notice.field(after_label, &after.task_definition);
            if let Some(why) = &after.rollout_reason {
                notice = notice.field(
                    "Rollout",
                    format!(
                        "{}: {}",
                        after.rollout_state.as_deref().unwrap_or("-"),
                        redact_secrets(why)
                    ),
                );
            }
        }
        // the event's deployment is no longer listed (ECS drops an inactive deployment
        // quickly): said so, never guessed from another one
        if after.is_none() && event.deployment_id.is_some() {
            notice = notice.field(after_label, "no longer listed by ECS (see Deployments)");
        }
        // the service's PRIMARY deployment (what it runs now) is no guess
        if let Some(before) = before {
            notice = notice.field(
                before_label,
                format!("{} ({})", before.task_definition, before.status),
            );
        }
        notice = notice
            .field("Service tasks", state.counts())
            .field("Deployments", deployments_field(state));
        if !state.messages.is_empty() {
            notice = notice.details(redact_secrets(&state.messages.join("\n")));
        }
    }
    if let Some(problem) = &observed.problem {
        notice = notice.field("Service state unavailable", problem);
    }
    Some(notice.link(
        "Service",
        console::ecs_service(&event.region, &event.cluster_name, service),
    ))
}

/// The Outcome's `observed` for an ECS service event.
pub fn service_event_observed(event: &ServiceEvent, observed: &Observed) -> Value {
    json!({
        "trigger": "service-event",
        "source": event.source,
        "event": event.name,
        "level": event.level,
        "service": event.service,
        "deployment": event.deployment_id,
        "at": event.at,
        "state": observed.service,
        "observe_problem": observed.problem,
    })
}
