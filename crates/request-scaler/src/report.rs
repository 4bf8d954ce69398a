// pure: Outcome and Notice wording from a decision already taken (no I/O, no clock: `now` is passed in)
//! Reports a decision: the Outcome's observations and metric, and the Notice when a human
//! should know (info per scale action, saying which signal drove a scale-out; a warning when
//! demand goes beyond the maximum). A hold or a parked service says nothing.

use chrono::{DateTime, Utc};
use phoenix_core::{AwsFailure, Notice, Severity, console};
use serde_json::{Value, json};

use crate::config::Config;
use crate::decide::{Decision, Verdict};
use crate::event::Trigger;
use crate::history::{FetchPlan, Recent, ServiceCounts};

/// The function's name in Notices.
const SOURCE: &str = "request-scaler";

/// What the Outcome says it saw.
pub fn observed(
    trigger: &Trigger,
    recent: &Recent,
    service: &ServiceCounts,
    plan: &FetchPlan,
    config: &Config,
    decision: &Decision,
) -> Value {
    json!({
        "trigger": trigger.describe(),
        "minutes": recent,
        "service": service,
        "fetched": {
            "start": plan.start,
            "end": plan.end,
            "previous_days": plan.refresh_days,
            "call": if plan.refresh_days { "GetMetricData" } else { "GetMetricStatistics" },
            "metrics": config.metrics.metrics_per_call(),
        },
        "policy": config.policy,
        "decision": decision,
    })
}

/// The Notice for a decision, if any. Its event id names the service, the change and the
/// newest complete minute, so the notifier collapses the same news from two triggers of the
/// same minute.
pub fn notice(
    config: &Config,
    trigger: &Trigger,
    decision: &Decision,
    newest_complete_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<Notice> {
    let policy = &config.policy;
    let service = &config.service;
    let scaled_out = matches!(
        decision.verdict,
        Verdict::ScaleOut { .. } | Verdict::BelowMinimum
    );
    let warn = decision.demand_exceeds_max
        && decision.verdict != Verdict::Parked
        && (scaled_out || decision.newly_exceeds_max);
    let change = format!("{} → {}", decision.previous, decision.desired);
    let (severity, title, kind) = if warn {
        (
            Severity::Warning,
            format!(
                "{service} needs {} tasks but is capped at {}",
                decision.raw_need, policy.max_tasks
            ),
            "exceeds-max",
        )
    } else {
        match decision.verdict {
            Verdict::ScaleOut { .. } | Verdict::BelowMinimum => (
                Severity::Info,
                format!("{service} scaled out {change} tasks"),
                "scale-out",
            ),
            Verdict::ScaleIn { .. } | Verdict::AboveMaximum => (
                Severity::Info,
                format!("{service} scaled in {change} tasks"),
                "scale-in",
            ),
            Verdict::Parked | Verdict::Hold(_) => return None,
        }
    };
    let region = region_of(&config.alerts_topic_arn).unwrap_or(trigger.region());
    let mut notice = Notice::new(severity, SOURCE, title, decision.reason.clone(), now);
    if let Some(driver) = decision.driven_by() {
        notice = notice.field("Driven by", driver);
    }
    notice = notice
        .field(
            "Requests/min (newest)",
            decision.requests.newest.to_string(),
        )
        .field(
            "Forecast",
            format!(
                "{:.0} req/min → {} task(s)",
                decision.requests.forecast, decision.requests.raw_need
            ),
        );
    if let Some(cpu) = &decision.cpu {
        notice = notice.field(
            "CPU (newest)",
            format!(
                "{:.0} % of {} task(s) → {} task(s) at {} %",
                cpu.newest.percent, cpu.newest.tasks, cpu.raw_need, policy.target_cpu_percent
            ),
        );
    }
    Some(
        notice
            .field(
                "Target per task",
                format!("{} req/min", policy.target_per_task),
            )
            .field("Tasks", change.clone())
            .field(
                "Limits",
                format!("min {}, max {}", policy.min_tasks, policy.max_tasks),
            )
            .field("Trigger", trigger.describe())
            .link(
                "ECS service",
                console::ecs_service(region, &config.cluster, service),
            )
            .event_id(Some(&format!(
                "{service}:{kind}:{}->{}:{}",
                decision.previous,
                decision.desired,
                newest_complete_at.format("%Y-%m-%dT%H:%MZ")
            ))),
    )
}

/// The Outcome `decision` when an AWS call failed for good (a retry would not help).
pub const FAILED: &str = "failed";

/// What a person should check when `failure` stops the scaler.
fn remedy(failure: &AwsFailure) -> &'static str {
    match failure.code.as_deref() {
        Some(code) if code.contains("AccessDenied") || code.contains("Unauthorized") => {
            "the function's IAM policy (infra/template.yaml) does not allow this call"
        }
        Some("ServiceNotActive" | "ServiceNotFoundException" | "ClusterNotFoundException") => {
            "CLUSTER_NAME and SERVICE_NAME must name an ACTIVE service (parked is fine: desiredCount 0)"
        }
        _ => "read the error; the scaler tries again every minute",
    }
}

/// The reason of an Outcome stopped by `failure`.
pub fn failure_reason(failure: &AwsFailure) -> String {
    format!("{failure}; {}", remedy(failure))
}

/// The Notice when the scaler cannot work: the service is not scaled until it is fixed.
/// Its event id names the failure and the hour, so the notifier collapses repeats.
pub fn failure_notice(config: &Config, failure: &AwsFailure, now: DateTime<Utc>) -> Notice {
    let region = region_of(&config.alerts_topic_arn).unwrap_or_default();
    Notice::new(
        Severity::Error,
        SOURCE,
        format!(
            "{} is not being scaled: {} failed",
            config.service, failure.call
        ),
        failure_reason(failure),
        now,
    )
    .field("Call", failure.call.clone())
    .field(
        "Error",
        failure.code.clone().unwrap_or_else(|| "none".to_owned()),
    )
    .field("Resource", failure.resource.clone())
    .link(
        "ECS service",
        console::ecs_service(region, &config.cluster, &config.service),
    )
    .event_id(Some(&format!(
        "{}:failed:{}:{}:{}",
        config.service,
        failure.call,
        failure.code.as_deref().unwrap_or("none"),
        now.format("%Y-%m-%dT%HZ")
    )))
}

/// The region of an ARN (`arn:aws:sns:REGION:…`).
fn region_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}
