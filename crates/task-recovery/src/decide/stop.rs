// pure: the plan for a stopped task, from its classification, ECS's state, the policy and now.
//! [`plan_stop`]: what to do about a stopped task.

use chrono::{DateTime, Duration, Utc};
use phoenix_core::Severity;

use super::{
    CrashLoop, Decision, IMAGE_MISSING_KEEP, Plan, Policy, Step, at, force, image_missing_key,
    is_deploying, is_short,
};
use crate::classify::{Classification, StopKind, classify};
use crate::event::{StoppedTask, TaskGroup};
use crate::observe::{Observed, RecentStop};
use crate::recheck::{Recheck, SCHEMA};

/// Failures of the task's group within the window ending at its stop, this one included, and
/// how many of them came **before** it (in stop time, ties broken by task ARN). The second number
/// makes "the first failure of a crash loop" one stop, whatever order the events arrive in and
/// however many tasks fail in the same instant: the stop whose place in time is the threshold.
pub fn count_failures(
    task: &StoppedTask,
    kind: &StopKind,
    recent: &[RecentStop],
    window: Duration,
) -> FailureCount {
    let end = task.stopped_at;
    let start = end
        .checked_sub_signed(window)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let mut counted: Vec<&str> = Vec::new();
    let mut before = 0_u32;
    if kind.is_failure() {
        counted.push(&task.task_arn);
    }
    for stop in recent {
        let Some(at) = stop.stopped_at.filter(|t| *t >= start && *t <= end) else {
            continue;
        };
        if !counted.contains(&stop.task_arn.as_str()) && classify(&stop.facts).kind.is_failure() {
            counted.push(&stop.task_arn);
            if (at, stop.task_arn.as_str()) < (end, task.task_arn.as_str()) {
                before += 1;
            }
        }
    }
    FailureCount {
        in_window: u32::try_from(counted.len()).unwrap_or(u32::MAX),
        before,
    }
}

/// What [`count_failures`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureCount {
    /// Failures in the window, this stop included when it is one.
    pub in_window: u32,
    /// Those that stopped before this one.
    pub before: u32,
}

/// How urgent a stop of this kind is, outside a crash loop.
fn severity_of(kind: &StopKind) -> Option<Severity> {
    match kind {
        StopKind::Planned { .. } => None,
        StopKind::Crash { .. } | StopKind::OutOfMemory { .. } | StopKind::FailedToStart => {
            Some(Severity::Error)
        }
        StopKind::ImageMissing { .. }
        | StopKind::HealthCheckFailed
        | StopKind::Infrastructure
        | StopKind::Unknown => Some(Severity::Warning),
    }
}

fn first_recheck(
    task: &StoppedTask,
    service: &str,
    kind: &StopKind,
    policy: &Policy,
    due_at: DateTime<Utc>,
    forced: bool,
) -> Recheck {
    Recheck {
        schema: SCHEMA.to_owned(),
        cluster_arn: task.cluster_arn.clone(),
        service: service.to_owned(),
        task_arn: task.task_arn.clone(),
        event_id: task.event_id.clone(),
        stop_kind: kind.name().to_owned(),
        attempt: 1,
        max_attempts: policy.recheck_max_attempts,
        due_at,
        stopped_at: task.stopped_at,
        forced,
    }
}

/// The plan for a stopped task.
pub fn plan_stop(
    task: &StoppedTask,
    classification: &Classification,
    observed: &Observed,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Plan {
    let kind = &classification.kind;
    let why = &classification.why;
    let count = count_failures(task, kind, &observed.recent_stops, policy.crash_loop_window);
    let failures = count.in_window;
    let window_minutes = policy.crash_loop_window.num_minutes();
    let crash_loop =
        (kind.is_failure() && failures >= policy.crash_loop_threshold).then_some(CrashLoop {
            failures,
            window_minutes,
            // this stop is the threshold-th failure in time: one stop is first, even when two
            // tasks fail at once (the count jumps past the threshold) or events arrive late
            first: count.before + 1 == policy.crash_loop_threshold,
        });
    let mut plan = match &observed.problem {
        Some(problem) if !kind.is_planned() => Plan::new(
            Decision::CouldNotObserve,
            format!("{why}; cannot see what ECS is doing: {problem}"),
            Some(
                severity_of(kind)
                    .unwrap_or(Severity::Error)
                    .at_least(Severity::Error),
            ),
        ),
        _ => stop_rules(
            task,
            classification,
            observed,
            policy,
            now,
            (failures, crash_loop),
        ),
    };
    plan.failures_in_window = failures;
    plan.window_minutes = window_minutes;
    plan.crash_loop = crash_loop;
    if plan.decision == Decision::CrashLoop
        && let Some(l) = crash_loop
    {
        plan.severity = Some(if l.first {
            Severity::Critical
        } else {
            Severity::Error
        });
        plan.reason = format!(
            "{why}; crash loop: {} failures in {} min (threshold {}); {}",
            l.failures, l.window_minutes, policy.crash_loop_threshold, plan.reason
        );
    }
    plan
}

fn stop_rules(
    task: &StoppedTask,
    classification: &Classification,
    observed: &Observed,
    policy: &Policy,
    now: DateTime<Utc>,
    (failures, crash_loop): (u32, Option<CrashLoop>),
) -> Plan {
    let kind = &classification.kind;
    let why = &classification.why;
    if kind.is_planned() {
        return Plan::new(
            Decision::PlannedStop,
            format!("{why}: nothing to recover"),
            None,
        );
    }
    let severity = severity_of(kind);
    if let StopKind::ImageMissing { image } = kind {
        return Plan::new(
            Decision::ImageMissing,
            format!(
                "{why}; not a crash and not restarted: push the image, or park the service at 0 until it exists"
            ),
            severity,
        )
        .step(Step::ReportOnce {
            key: image_missing_key(&task.cluster_arn, &task.group, image),
            keep: IMAGE_MISSING_KEEP,
        });
    }
    match &task.group {
        TaskGroup::Service(name) => {
            let Some(service) = observed.service.as_ref().filter(|s| s.status == "ACTIVE") else {
                let status = observed
                    .service
                    .as_ref()
                    .map_or("missing", |s| s.status.as_str());
                return Plan::new(
                    Decision::ServiceNotActive,
                    format!("{why}; service {name} is {status}: nothing to recover"),
                    severity,
                );
            };
            if crash_loop.is_some() {
                return Plan::new(
                    Decision::CrashLoop,
                    format!(
                        "ECS keeps replacing the task ({}); forcing deployments would not help",
                        service.counts()
                    ),
                    severity,
                );
            }
            if service.desired == 0 {
                return Plan::new(
                    Decision::ServiceParked,
                    format!("{why}; service {name} is parked at 0 tasks: nothing to replace"),
                    severity,
                );
            }
            if !is_short(service) {
                return Plan::new(
                    Decision::EcsReplacing,
                    format!("{why}; {}: ECS has started a replacement", service.counts()),
                    severity,
                );
            }
            let interval = policy.recheck_interval();
            if is_deploying(service) {
                let recheck = first_recheck(task, name, kind, policy, at(now, interval), false);
                return Plan::new(
                    Decision::DeploymentInProgress,
                    format!(
                        "{why}; {} but a deployment is rolling out: not forcing another; re-check at {} ({})",
                        service.counts(),
                        recheck.due_at.format("%H:%M:%S UTC"),
                        recheck.progress()
                    ),
                    severity,
                )
                .step(Step::ScheduleRecheck { recheck });
            }
            let elapsed = now.signed_duration_since(task.stopped_at);
            let grace = policy.replacement_grace;
            if elapsed < grace {
                let due = at(task.stopped_at, grace);
                let recheck = first_recheck(task, name, kind, policy, due, false);
                return Plan::new(
                    Decision::WaitingForScheduler,
                    format!(
                        "{why}; {}, {}s after the stop (grace {}s): ECS should start a replacement; re-check at {} ({})",
                        service.counts(),
                        elapsed.num_seconds(),
                        grace.num_seconds(),
                        due.format("%H:%M:%S UTC"),
                        recheck.progress()
                    ),
                    severity,
                )
                .step(Step::ScheduleRecheck { recheck });
            }
            let recheck = first_recheck(task, name, kind, policy, at(now, interval), true);
            Plan::new(
                Decision::ForceNewDeployment,
                format!(
                    "{why}; {} {}s after the stop (grace {}s): forcing a new deployment to unstick the service (desired count unchanged); re-check at {} ({})",
                    service.counts(),
                    elapsed.num_seconds(),
                    grace.num_seconds(),
                    recheck.due_at.format("%H:%M:%S UTC"),
                    recheck.progress()
                ),
                severity,
            )
            .step(force(&task.cluster_arn, name, policy))
            .step(Step::ScheduleRecheck { recheck })
        }
        TaskGroup::Family(family) => {
            if !policy.standalone_families.iter().any(|f| f == family) {
                return Plan::new(
                    Decision::NotOnAllowList,
                    format!("{why}; family {family} is not in STANDALONE_FAMILIES: not restarted"),
                    severity,
                );
            }
            let definition_family = task.task_definition.as_ref().map(|d| d.family.as_str());
            if definition_family != Some(family.as_str()) {
                return Plan::new(
                    Decision::TaskDefinitionMismatch,
                    format!(
                        "{why}; the group says family {family} but the task definition is {}: not restarted (RunTask would start another family)",
                        task.task_definition()
                    ),
                    severity.map(|s| s.at_least(Severity::Warning)),
                );
            }
            if matches!(kind, StopKind::FailedToStart) {
                return Plan::new(
                    Decision::NotRestartingFailedToStart,
                    format!("{why}; restarting will not help until the cause is fixed"),
                    severity,
                );
            }
            if matches!(kind, StopKind::Unknown) {
                return Plan::new(
                    Decision::NotRestartingUnknownStop,
                    format!("{why}; not restarted on a guess: a human should look"),
                    severity,
                );
            }
            if crash_loop.is_some() {
                return Plan::new(Decision::CrashLoop, "restarts stopped".to_owned(), severity);
            }
            if let Some(replacement) = &observed.replacement {
                return Plan::new(
                    Decision::AlreadyReplaced,
                    format!(
                        "{why}; replacement {} was already started by phoenix-ops (repeated event)",
                        replacement.rsplit('/').next().unwrap_or(replacement)
                    ),
                    severity,
                );
            }
            Plan::new(
                Decision::StartReplacement,
                format!(
                    "{why}; {failures} failure(s) in {} min (threshold {}): starting a replacement",
                    policy.crash_loop_window.num_minutes(),
                    policy.crash_loop_threshold
                ),
                severity,
            )
            .step(Step::StartReplacement {
                family: family.clone(),
            })
        }
        TaskGroup::Other(group) => Plan::new(
            Decision::NotManaged,
            format!("{why}; group {group:?} is neither a service nor a family: reported only"),
            severity,
        ),
    }
}
