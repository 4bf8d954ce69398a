// pure: the plan for a re-check of a service that was short of tasks after a stop.
//! [`plan_recheck`]: look again at a service, force a deployment once, give up with a warning.

use chrono::{DateTime, Utc};
use phoenix_core::Severity;

use super::{
    Decision, EARLY_TOLERANCE, Plan, Policy, Step, at, force, is_deploying, is_short, once_per_span,
};
use crate::observe::Observed;
use crate::recheck::Recheck;

/// A re-check that arrived well before it is due (it is sent back to wait, nothing read).
pub fn is_early(recheck: &Recheck, now: DateTime<Utc>) -> bool {
    now < recheck
        .due_at
        .checked_sub_signed(EARLY_TOLERANCE)
        .unwrap_or(recheck.due_at)
}

/// The plan for a re-check of a service that was short after a stop.
pub fn plan_recheck(
    recheck: &Recheck,
    observed: &Observed,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Plan {
    let name = &recheck.service;
    let progress = recheck.progress();
    let since = now.signed_duration_since(recheck.stopped_at).num_seconds();
    if is_early(recheck, now) {
        return Plan::new(
            Decision::RecheckEarly,
            format!(
                "re-check of {name} ({progress}) arrived before it is due ({}): sent back to wait",
                recheck.due_at.format("%H:%M:%S UTC")
            ),
            None,
        )
        .step(Step::ScheduleRecheck {
            recheck: recheck.clone(),
        });
    }
    if let Some(problem) = &observed.problem {
        return Plan::new(
            Decision::CouldNotObserve,
            format!("re-check of {name} ({progress}): cannot see the service: {problem}"),
            Some(Severity::Error),
        );
    }
    let Some(service) = observed.service.as_ref().filter(|s| s.status == "ACTIVE") else {
        let status = observed
            .service
            .as_ref()
            .map_or("missing", |s| s.status.as_str());
        return Plan::new(
            Decision::ServiceNotActive,
            format!("re-check of {name} ({progress}): the service is {status}: nothing to do"),
            None,
        );
    };
    if service.desired == 0 {
        return Plan::new(
            Decision::ServiceParked,
            format!("re-check of {name} ({progress}): parked at 0 tasks: nothing to do"),
            None,
        );
    }
    if !is_short(service) {
        let after = if recheck.forced {
            " after the forced deployment"
        } else {
            ""
        };
        let plan = Plan::new(
            Decision::CapacityBack,
            format!(
                "re-check of {name} ({progress}): {}{after}, {since}s after the stop",
                service.counts()
            ),
            recheck.forced.then_some(Severity::Info),
        );
        // Several chains (one per crashed task) may see it: told once per service and span.
        return if recheck.forced {
            plan.step(once_per_span("capacity-back", recheck, policy))
        } else {
            plan
        };
    }
    let deploying = is_deploying(service);
    let last = recheck.attempt >= recheck.max_attempts;
    let next_due = at(now, policy.recheck_delay(recheck.attempt));
    if !deploying && !recheck.forced {
        let mut plan = Plan::new(
            if last { Decision::StaysShort } else { Decision::ForceNewDeployment },
            format!(
                "re-check of {name} ({progress}): still {} {since}s after the stop and no deployment is rolling out: forcing a new deployment (desired count unchanged)",
                service.counts()
            ),
            Some(Severity::Warning),
        )
        .step(force(&recheck.cluster_arn, name, policy));
        if !last {
            let next = recheck.next(next_due, true);
            plan.reason.push_str(&format!(
                "; re-check at {} ({})",
                next_due.format("%H:%M:%S UTC"),
                next.progress()
            ));
            plan = plan.step(Step::ScheduleRecheck { recheck: next });
        } else {
            plan.reason
                .push_str("; this was the last re-check: a person must look");
            plan = plan.step(once_per_span("stays-short", recheck, policy));
        }
        return plan;
    }
    let state = if deploying {
        "a deployment is still rolling out"
    } else {
        "the forced deployment did not bring the tasks back"
    };
    if last {
        return Plan::new(
            Decision::StaysShort,
            format!(
                "re-check of {name} ({progress}): still {} {since}s after the stop; {state}; no more re-checks: a person must look (placement, image, health checks)",
                service.counts()
            ),
            Some(Severity::Warning),
        )
        .step(once_per_span("stays-short", recheck, policy));
    }
    let next = recheck.next(next_due, false);
    Plan::new(
        Decision::StillShort,
        format!(
            "re-check of {name} ({progress}): still {}; {state}; re-check at {} ({})",
            service.counts(),
            next_due.format("%H:%M:%S UTC"),
            next.progress()
        ),
        None,
    )
    .step(Step::ScheduleRecheck { recheck: next })
}
