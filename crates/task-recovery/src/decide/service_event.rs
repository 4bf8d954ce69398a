// pure: the plan for a problem ECS reported about a service (a Notice, nothing else).
//! [`plan_service_event`]: deployment failures, rollbacks and service problems.

use phoenix_core::Severity;

use super::{Decision, Plan};
use crate::event::{EventLevel, ServiceEvent};

/// The plan for a problem ECS reported about a service: a Notice, nothing else. A rollback by
/// the circuit breaker is a warning (the failure itself is its own error); a failed deployment
/// an error; any other problem as ECS rates it (`ERROR` → error, `WARN` or unrated → warning).
pub fn plan_service_event(event: &ServiceEvent) -> Plan {
    let (decision, severity) = if event.is_rollback() {
        (Decision::RollingBack, Severity::Warning)
    } else if event.name == "SERVICE_DEPLOYMENT_FAILED" {
        (Decision::DeploymentFailed, Severity::Error)
    } else if event.level == EventLevel::Error {
        (Decision::ServiceProblem, Severity::Error)
    } else {
        (Decision::ServiceProblem, Severity::Warning)
    };
    let reason = if event.reason.is_empty() {
        "ECS gave no reason".to_owned()
    } else {
        event.reason.clone()
    };
    Plan::new(
        decision,
        format!("{} on service {}: {reason}", event.name, event.service),
        Some(severity),
    )
}
