//! ECS facts that more than one function reads the same way. Pure: plain data in, answer out.

/// One entry of a service's `deployments`, as DescribeServices lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeploymentView<'a> {
    /// `PRIMARY`, `ACTIVE` or `INACTIVE`.
    pub status: &'a str,
    /// `IN_PROGRESS`, `COMPLETED`, `FAILED` (absent on services without the circuit breaker).
    pub rollout_state: Option<&'a str>,
}

/// The one rule for "a deployment is rolling out": more than one deployment is listed (the old
/// tasks are still being replaced), or the primary deployment's rollout is still `IN_PROGRESS`.
/// While it holds, nobody else should force a deployment or scale in.
pub fn deployment_in_progress(deployments: &[DeploymentView<'_>]) -> bool {
    deployments.len() > 1
        || deployments
            .iter()
            .any(|d| d.status == "PRIMARY" && d.rollout_state == Some("IN_PROGRESS"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(status: &'static str, rollout_state: Option<&'static str>) -> DeploymentView<'static> {
        DeploymentView {
            status,
            rollout_state,
        }
    }

    #[test]
    fn a_rollout_is_two_deployments_or_a_primary_in_progress() {
        let cases: &[(&[DeploymentView<'static>], bool)] = &[
            (&[], false),
            (&[d("PRIMARY", Some("COMPLETED"))], false),
            (&[d("PRIMARY", None)], false),
            (&[d("PRIMARY", Some("IN_PROGRESS"))], true),
            (&[d("PRIMARY", Some("FAILED"))], false),
            (
                &[
                    d("PRIMARY", Some("COMPLETED")),
                    d("ACTIVE", Some("COMPLETED")),
                ],
                true,
            ),
        ];
        for (deployments, want) in cases {
            assert_eq!(
                deployment_in_progress(deployments),
                *want,
                "{deployments:?}"
            );
        }
    }
}
