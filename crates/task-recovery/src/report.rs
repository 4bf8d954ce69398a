//! The Notice that says why a task died and what was done about it. Pure: everything it shows
//! was observed or decided before.

use chrono::{DateTime, Utc};
use phoenix_core::{Notice, console};

use crate::classify::{Classification, StopKind};
use crate::event::{StoppedTask, TaskGroup};
use crate::plan::{Observed, Plan, Step};

/// The dead container's last log lines, or why they are missing.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Diagnosis {
    pub log_group: Option<String>,
    pub log_stream: Option<String>,
    pub lines: Vec<String>,
    /// Why no lines could be read (never fatal).
    pub problem: Option<String>,
}

/// What the act step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    Nothing,
    ForcedDeployment,
    /// The replacement task's ARN.
    Replacement(String),
    /// Dry run: the step that would have run.
    WouldDo(Step),
    /// A final failure of the act step.
    Failed(String),
}

use phoenix_core::text::human_duration;

fn what_happened(kind: &StopKind) -> String {
    match kind {
        StopKind::Crash { exit_code, .. } => format!("crashed (exit {exit_code})"),
        StopKind::OutOfMemory { .. } => "was killed for memory (OOM)".to_owned(),
        StopKind::HealthCheckFailed => "failed its health checks".to_owned(),
        StopKind::FailedToStart => "failed to start".to_owned(),
        StopKind::Infrastructure => "was stopped by the infrastructure".to_owned(),
        StopKind::Planned { .. } => "stopped as planned".to_owned(),
        StopKind::Unknown => "stopped for an unknown reason".to_owned(),
    }
}

fn what_was_done(plan: &Plan, done: &Done) -> String {
    match done {
        Done::ForcedDeployment => "forced a new deployment".to_owned(),
        Done::Replacement(arn) => format!(
            "replacement {} started",
            arn.rsplit('/').next().unwrap_or(arn)
        ),
        Done::WouldDo(Step::ForceNewDeployment { .. }) => {
            "would force a new deployment (dry run)".to_owned()
        }
        Done::WouldDo(Step::StartReplacement { .. }) => {
            "would start a replacement (dry run)".to_owned()
        }
        Done::Failed(why) => format!("recovery failed: {why}"),
        Done::WouldDo(_) | Done::Nothing => match plan.decision {
            "ecs-replacing" => "ECS is replacing it".to_owned(),
            "crash-loop" => "crash loop: not restarting".to_owned(),
            "already-replaced" => "already replaced".to_owned(),
            "not-on-allow-list" => "not restarted (family not allowed)".to_owned(),
            "not-restarting-failed-to-start" => "not restarted: fix the cause first".to_owned(),
            "not-restarting-unknown-stop" => "not restarted: needs a human".to_owned(),
            "deployment-in-progress" => "a deployment is rolling out".to_owned(),
            "waiting-for-scheduler" | "scheduler-not-verified" => {
                "waiting for ECS to replace it".to_owned()
            }
            other => other.replace('-', " "),
        },
    }
}

/// Everything the Notice is made of.
pub struct NoticeInput<'a> {
    pub task: &'a StoppedTask,
    pub classification: &'a Classification,
    pub plan: &'a Plan,
    pub observed: &'a Observed,
    pub diagnosis: &'a Diagnosis,
    pub done: &'a Done,
    pub now: DateTime<Utc>,
    pub source: &'static str,
}

/// The Notice, or `None` when no human needs to know (planned stops).
pub fn build_notice(input: &NoticeInput<'_>) -> Option<Notice> {
    let NoticeInput {
        task,
        classification,
        plan,
        observed,
        diagnosis,
        done,
        now,
        source,
    } = input;
    let mut severity = plan.severity.clone()?;
    if matches!(done, Done::Failed(_)) {
        severity = severity.at_least(phoenix_core::Severity::Error);
    }
    let owner = task.group.name();
    let title = match plan.crash_loop {
        Some(l) if l.first => format!(
            "{owner} is crash-looping: {} failures in {} min",
            l.failures, l.window_minutes
        ),
        _ => format!(
            "{owner} task {} — {}",
            what_happened(&classification.kind),
            what_was_done(plan, done)
        ),
    };
    let mut notice = Notice::new(severity, source, title, plan.reason.clone(), *now)
        .event_id(Some(&task.event_id))
        .field("Stop kind", classification.kind.name())
        .field(
            "Stop code",
            task.facts
                .stop_code
                .as_ref()
                .map(|c| c.as_str())
                .unwrap_or("(none)"),
        )
        .field(
            "Stopped reason",
            if task.facts.stopped_reason.is_empty() {
                "(none)"
            } else {
                &task.facts.stopped_reason
            },
        );
    for c in &task.facts.containers {
        let exit = c
            .exit_code
            .map(|e| e.to_string())
            .unwrap_or_else(|| "none".into());
        let reason = c
            .reason
            .as_deref()
            .map(|r| format!(" ({r})"))
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
    if let Done::Replacement(arn) = done {
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
    let details = match (&diagnosis.problem, diagnosis.lines.is_empty()) {
        (Some(problem), _) => format!("(last log lines unavailable: {problem})"),
        (None, true) => "(the log stream is empty)".to_owned(),
        (None, false) => diagnosis.lines.join("\n"),
    };
    Some(notice.details(details))
}
