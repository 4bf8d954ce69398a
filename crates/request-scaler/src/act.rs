//! Executes the decision: `ecs:UpdateService(desiredCount)`, only when the count changes, never
//! in a dry run. It *sets* the count (never increments it), so a repeated evaluation of the same
//! minute changes nothing.

use phoenix_core::{Action, ActionStatus, AwsFailure, Outcome};

use crate::decide::Decision;

/// UpdateService(desiredCount).
pub async fn set_desired(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
    desired: u32,
) -> Result<(), AwsFailure> {
    ecs.update_service()
        .cluster(cluster)
        .service(service)
        .desired_count(i32::try_from(desired).unwrap_or(i32::MAX))
        .send()
        .await
        .map_err(|e| AwsFailure::from_sdk("ecs:UpdateService", service, &e))?;
    Ok(())
}

/// Applies `decision` to the service and records the action in `outcome`. A failure is returned
/// (the caller decides whether a retry helps); nothing is recorded for it.
pub async fn apply(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
    decision: &Decision,
    dry_run: bool,
    outcome: &mut Outcome,
) -> Result<(), AwsFailure> {
    if !decision.changes() {
        return Ok(());
    }
    let detail = format!("desiredCount {} → {}", decision.previous, decision.desired);
    if !dry_run {
        set_desired(ecs, cluster, service, decision.desired).await?;
    }
    outcome.action(
        Action::new(
            "ecs:UpdateService",
            service,
            if dry_run {
                ActionStatus::DryRun
            } else {
                ActionStatus::Done
            },
        )
        .detail(detail),
    );
    Ok(())
}
