// pure: the plan for a problem ECS reported about a service (a Notice, nothing else).
//! [`plan_service_event`]: deployment failures, rollbacks and service problems.

use phoenix_core::Severity;

use super::{Decision, Plan};
use crate::event::{EventLevel, ServiceEvent, ServiceEventSource};

/// The plan for a problem ECS reported about a service: a Notice, nothing else.
pub fn plan_service_event(event: &ServiceEvent) -> Plan {
    let (decision, severity) = match (event.source, &event.level) {
        (_, EventLevel::Info) => (Decision::RollingBack, Severity::Warning),
        (ServiceEventSource::Deployment, _) => (Decision::DeploymentFailed, Severity::Error),
        (ServiceEventSource::ServiceAction, EventLevel::Error) => {
            (Decision::ServiceProblem, Severity::Error)
        }
        (ServiceEventSource::ServiceAction, _) => (Decision::ServiceProblem, Severity::Warning),
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
