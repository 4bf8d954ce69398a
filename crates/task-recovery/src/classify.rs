//! Why did the task stop? One pure function, [`classify`], turns ECS's stop code, stopped reason
//! and container exits into a [`StopKind`]. A stop code we have never seen is a case (Unknown),
//! never a panic.

use serde::Serialize;

phoenix_core::string_enum! {
    /// ECS `stopCode`.
    pub enum StopCode {
        TaskFailedToStart = "TaskFailedToStart",
        EssentialContainerExited = "EssentialContainerExited",
        UserInitiated = "UserInitiated",
        ServiceSchedulerInitiated = "ServiceSchedulerInitiated",
        SpotInterruption = "SpotInterruption",
        TerminationNotice = "TerminationNotice",
        InfrastructureHealth = "InfrastructureHealth",
    }
}

/// One container's end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerExit {
    pub name: String,
    pub exit_code: Option<i64>,
    pub reason: Option<String>,
}

/// What ECS says about a stop (from an event or from DescribeTasks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StopFacts {
    pub stop_code: Option<StopCode>,
    pub stopped_reason: String,
    pub containers: Vec<ContainerExit>,
}

/// A planned stop's origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Planned {
    /// A deployment or a scale-in by the service scheduler.
    ScalingOrDeployment,
    /// StopTask by a person or a tool.
    UserStop,
    /// An essential container exited 0: the task finished its work.
    Completed,
}

/// The kind of stop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum StopKind {
    /// An essential container exited non-zero (Phoenix's `GET /crash` exits 1).
    Crash { container: String, exit_code: i64 },
    /// Killed for memory (exit 137 with an OutOfMemory reason).
    OutOfMemory { container: String },
    /// Failed ELB or container health checks (arrives as `ServiceSchedulerInitiated`).
    HealthCheckFailed,
    /// Never started (image pull, resource initialisation): restarting will not help.
    FailedToStart,
    /// Deployment, scale-in, user stop, finished work.
    Planned { origin: Planned },
    /// Spot interruption, termination notice, infrastructure health or maintenance.
    Infrastructure,
    /// A stop we cannot explain: handled conservatively.
    Unknown,
}

impl StopKind {
    /// Short name for metrics and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Crash { .. } => "crash",
            Self::OutOfMemory { .. } => "out-of-memory",
            Self::HealthCheckFailed => "health-check-failed",
            Self::FailedToStart => "failed-to-start",
            Self::Planned { .. } => "planned",
            Self::Infrastructure => "infrastructure",
            Self::Unknown => "unknown",
        }
    }

    /// The application failed (what a crash loop counts).
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Self::Crash { .. }
                | Self::OutOfMemory { .. }
                | Self::HealthCheckFailed
                | Self::FailedToStart
        )
    }

    pub fn is_planned(&self) -> bool {
        matches!(self, Self::Planned { .. })
    }
}

/// The classification and, in words, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classification {
    #[serde(flatten)]
    pub kind: StopKind,
    pub why: String,
}

fn contains(haystack: &str, needle: &str) -> bool {
    haystack
        .to_ascii_lowercase()
        .contains(&needle.to_ascii_lowercase())
}

fn is_oom(container: &ContainerExit, stopped_reason: &str) -> bool {
    container.exit_code == Some(137)
        && (container
            .reason
            .as_deref()
            .is_some_and(|r| contains(r, "OutOfMemory"))
            || contains(stopped_reason, "OutOfMemory"))
}

/// The one rule.
pub fn classify(facts: &StopFacts) -> Classification {
    let reason = facts.stopped_reason.as_str();
    let said = |kind: StopKind, why: String| Classification { kind, why };
    match &facts.stop_code {
        Some(StopCode::TaskFailedToStart) => said(
            StopKind::FailedToStart,
            format!("the task failed to start: {reason}"),
        ),
        Some(StopCode::UserInitiated) => said(
            StopKind::Planned {
                origin: Planned::UserStop,
            },
            format!("stopped on request: {reason}"),
        ),
        Some(
            StopCode::SpotInterruption
            | StopCode::TerminationNotice
            | StopCode::InfrastructureHealth,
        ) => said(
            StopKind::Infrastructure,
            format!(
                "{} — {reason}",
                facts
                    .stop_code
                    .as_ref()
                    .map(StopCode::as_str)
                    .unwrap_or_default()
            ),
        ),
        Some(StopCode::ServiceSchedulerInitiated) => {
            if contains(reason, "health check") {
                said(
                    StopKind::HealthCheckFailed,
                    format!("the scheduler replaced it: {reason}"),
                )
            } else if contains(reason, "Scaling activity initiated by")
                || contains(reason, "deployment")
            {
                said(
                    StopKind::Planned {
                        origin: Planned::ScalingOrDeployment,
                    },
                    format!("planned by the service scheduler: {reason}"),
                )
            } else if contains(reason, "maintenance") || contains(reason, "infrastructure") {
                said(
                    StopKind::Infrastructure,
                    format!("the scheduler moved it: {reason}"),
                )
            } else {
                said(
                    StopKind::Unknown,
                    format!("the scheduler stopped it for a reason we do not know: {reason:?}"),
                )
            }
        }
        Some(StopCode::EssentialContainerExited) | None => classify_exits(facts),
        Some(StopCode::Unknown(code)) => {
            let exits = classify_exits(facts);
            said(
                StopKind::Unknown,
                format!(
                    "unknown stop code {code:?} ({}); handled conservatively",
                    exits.why
                ),
            )
        }
    }
}

/// From the containers' exit codes (EssentialContainerExited, or no stop code at all).
fn classify_exits(facts: &StopFacts) -> Classification {
    let reason = facts.stopped_reason.as_str();
    if let Some(c) = facts.containers.iter().find(|c| is_oom(c, reason)) {
        return Classification {
            kind: StopKind::OutOfMemory {
                container: c.name.clone(),
            },
            why: format!(
                "container {} was killed for memory (exit 137: {})",
                c.name,
                c.reason.as_deref().unwrap_or(reason)
            ),
        };
    }
    if let Some((c, code)) = facts
        .containers
        .iter()
        .find_map(|c| c.exit_code.filter(|code| *code != 0).map(|code| (c, code)))
    {
        let detail = c
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        return Classification {
            kind: StopKind::Crash {
                container: c.name.clone(),
                exit_code: code,
            },
            why: format!("container {} exited with code {code}{detail}", c.name),
        };
    }
    if !facts.containers.is_empty() && facts.containers.iter().all(|c| c.exit_code == Some(0)) {
        return Classification {
            kind: StopKind::Planned {
                origin: Planned::Completed,
            },
            why: "every container exited with code 0: the task finished".into(),
        };
    }
    Classification {
        kind: StopKind::Unknown,
        why: if facts.containers.is_empty() {
            format!("no container information ({reason:?})")
        } else {
            format!("no exit code reported ({reason:?})")
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(code: Option<&str>, reason: &str, exits: &[(Option<i64>, Option<&str>)]) -> StopFacts {
        StopFacts {
            stop_code: code.map(StopCode::from),
            stopped_reason: reason.into(),
            containers: exits
                .iter()
                .map(|(exit_code, r)| ContainerExit {
                    name: "phoenix".into(),
                    exit_code: *exit_code,
                    reason: r.map(str::to_owned),
                })
                .collect(),
        }
    }

    #[test]
    fn every_stop_has_a_kind() {
        let crash = StopKind::Crash {
            container: "phoenix".into(),
            exit_code: 1,
        };
        let scaled = StopKind::Planned {
            origin: Planned::ScalingOrDeployment,
        };
        let cases: Vec<(StopFacts, StopKind)> = vec![
            (
                facts(
                    Some("EssentialContainerExited"),
                    "Essential container in task exited",
                    &[(Some(1), None)],
                ),
                crash.clone(),
            ),
            (
                facts(
                    None,
                    "Essential container in task exited",
                    &[(Some(1), None)],
                ),
                crash,
            ),
            (
                facts(
                    Some("EssentialContainerExited"),
                    "Essential container in task exited",
                    &[(
                        Some(137),
                        Some("OutOfMemoryError: Container killed due to memory usage"),
                    )],
                ),
                StopKind::OutOfMemory {
                    container: "phoenix".into(),
                },
            ),
            (
                facts(
                    Some("EssentialContainerExited"),
                    "OutOfMemoryError: Container killed due to memory usage",
                    &[(Some(137), None)],
                ),
                StopKind::OutOfMemory {
                    container: "phoenix".into(),
                },
            ),
            // 137 without a memory reason: killed (SIGKILL), still a crash of the app.
            (
                facts(
                    Some("EssentialContainerExited"),
                    "Essential container in task exited",
                    &[(Some(137), None)],
                ),
                StopKind::Crash {
                    container: "phoenix".into(),
                    exit_code: 137,
                },
            ),
            (
                facts(
                    Some("EssentialContainerExited"),
                    "Essential container in task exited",
                    &[(Some(0), None)],
                ),
                StopKind::Planned {
                    origin: Planned::Completed,
                },
            ),
            (
                facts(
                    Some("EssentialContainerExited"),
                    "Essential container in task exited",
                    &[(None, None)],
                ),
                StopKind::Unknown,
            ),
            (
                facts(
                    Some("EssentialContainerExited"),
                    "Essential container in task exited",
                    &[],
                ),
                StopKind::Unknown,
            ),
            (
                facts(
                    Some("ServiceSchedulerInitiated"),
                    "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/phoenix-tg/1)",
                    &[(Some(137), None)],
                ),
                StopKind::HealthCheckFailed,
            ),
            (
                facts(
                    Some("ServiceSchedulerInitiated"),
                    "Task failed container health checks",
                    &[(Some(143), None)],
                ),
                StopKind::HealthCheckFailed,
            ),
            (
                facts(
                    Some("ServiceSchedulerInitiated"),
                    "Scaling activity initiated by (deployment ecs-svc/1)",
                    &[(Some(0), None)],
                ),
                scaled,
            ),
            (
                facts(
                    Some("ServiceSchedulerInitiated"),
                    "ECS is performing maintenance on the underlying infrastructure hosting the task",
                    &[],
                ),
                StopKind::Infrastructure,
            ),
            (
                facts(
                    Some("ServiceSchedulerInitiated"),
                    "something new",
                    &[(Some(0), None)],
                ),
                StopKind::Unknown,
            ),
            (
                facts(
                    Some("UserInitiated"),
                    "Task stopped by user",
                    &[(Some(137), None)],
                ),
                StopKind::Planned {
                    origin: Planned::UserStop,
                },
            ),
            (
                facts(
                    Some("TaskFailedToStart"),
                    "CannotPullContainerError: pull image manifest has been retried 5 time(s)",
                    &[],
                ),
                StopKind::FailedToStart,
            ),
            (
                facts(
                    Some("TaskFailedToStart"),
                    "ResourceInitializationError: unable to pull secrets",
                    &[],
                ),
                StopKind::FailedToStart,
            ),
            (
                facts(
                    Some("SpotInterruption"),
                    "Your Spot Task was interrupted.",
                    &[(Some(143), None)],
                ),
                StopKind::Infrastructure,
            ),
            (
                facts(
                    Some("TerminationNotice"),
                    "Task stopped due to termination notice",
                    &[],
                ),
                StopKind::Infrastructure,
            ),
            (
                facts(Some("InfrastructureHealth"), "Host unhealthy", &[]),
                StopKind::Infrastructure,
            ),
            (
                facts(
                    Some("BrandNewStopCode2027"),
                    "Essential container in task exited",
                    &[(Some(1), None)],
                ),
                StopKind::Unknown,
            ),
        ];
        for (input, want) in cases {
            let got = classify(&input);
            assert_eq!(got.kind, want, "{input:?} → {}", got.why);
        }
    }

    #[test]
    fn the_reason_is_said_in_words() {
        let c = classify(&facts(
            Some("EssentialContainerExited"),
            "Essential container in task exited",
            &[(Some(1), Some("Error: boom"))],
        ));
        assert_eq!(c.why, "container phoenix exited with code 1: Error: boom");
        let u = classify(&facts(Some("NewCode"), "x", &[(Some(2), None)]));
        assert_eq!(
            u.why,
            "unknown stop code \"NewCode\" (container phoenix exited with code 2); handled conservatively"
        );
    }

    #[test]
    fn failures_are_what_a_crash_loop_counts() {
        assert!(
            StopKind::Crash {
                container: "c".into(),
                exit_code: 1
            }
            .is_failure()
        );
        assert!(StopKind::HealthCheckFailed.is_failure());
        assert!(StopKind::FailedToStart.is_failure());
        assert!(!StopKind::Infrastructure.is_failure());
        assert!(
            !StopKind::Planned {
                origin: Planned::UserStop
            }
            .is_failure()
        );
        assert!(!StopKind::Unknown.is_failure());
    }
}
