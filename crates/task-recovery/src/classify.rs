// pure: classifies a stop from ECS's facts; no I/O, no clock, no environment.
//! Why did the task stop? One pure function, [`classify`], turns ECS's stop code, stopped reason
//! and container exits into a [`StopKind`]. A stop code we have never seen is a case (Unknown),
//! never a panic. A task whose image does not exist is its own kind ([`StopKind::ImageMissing`]):
//! restarting cannot help and it is not a crash of the application.

use serde::Serialize;

use crate::event::{ContainerExit, StopCode, StopFacts};

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
    /// Never started because its image does not exist (not pushed yet, or a wrong tag): not a
    /// crash, never restarted, reported once per service and image.
    ImageMissing { image: String },
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
            Self::ImageMissing { .. } => "image-missing",
            Self::FailedToStart => "failed-to-start",
            Self::Planned { .. } => "planned",
            Self::Infrastructure => "infrastructure",
            Self::Unknown => "unknown",
        }
    }

    /// The application failed (what a crash loop counts). A missing image is not one: the
    /// application never ran.
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

/// What ECS says when the image is not in the registry (ECR, Docker Hub, containerd and Docker
/// wordings): `…: not found`, `manifest unknown`, `Requested image not found`,
/// `repository … does not exist` (Docker Hub says it with "pull access denied": still missing).
/// A pull that fails on the network (`i/o timeout`, `dial tcp`) or
/// on permissions (`403`, `AccessDenied`, `no basic auth`) is not a missing image.
const IMAGE_MISSING: &[&str] = &[
    ": not found",
    "manifest unknown",
    "requested image not found",
    "does not exist",
    "notfound",
];
const PULL_TROUBLE: &[&str] = &[
    "timeout",
    "dial tcp",
    "connection refused",
    "no such host",
    "403",
    "forbidden",
    "accessdenied",
    "access denied",
    "unauthorized",
    "no basic auth",
    "toomanyrequests",
];

fn pull_says_missing(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    text.contains("cannotpullcontainererror")
        && (text.contains("repository does not exist")
            || (IMAGE_MISSING.iter().any(|m| text.contains(m))
                && !PULL_TROUBLE.iter().any(|m| text.contains(m))))
}

/// The image a failed start could not find, when the failure says the image does not exist.
pub fn missing_image(facts: &StopFacts) -> Option<String> {
    let failed = facts
        .containers
        .iter()
        .find(|c| c.reason.as_deref().is_some_and(pull_says_missing));
    if failed.is_none() && !pull_says_missing(&facts.stopped_reason) {
        return None;
    }
    let image = failed
        .and_then(|c| c.image.clone())
        .or_else(|| facts.containers.iter().find_map(|c| c.image.clone()))
        .or_else(|| {
            failed
                .and_then(|c| c.reason.as_deref())
                .and_then(image_in_reason)
        })
        .or_else(|| image_in_reason(&facts.stopped_reason))
        .unwrap_or_else(|| "(image not named by ECS)".to_owned());
    Some(image)
}

/// The image reference inside a pull error (`failed to resolve ref "X"`, `manifest for X not
/// found`, `reference "X"`), when the event names no container image.
fn image_in_reason(reason: &str) -> Option<String> {
    for marker in [
        "resolve ref ",
        "resolve reference ",
        "manifest for ",
        "pull access denied for ",
    ] {
        if let Some(at) = reason.find(marker) {
            let rest = reason[at + marker.len()..].trim_start_matches('"');
            let image: String = rest
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '"' && *c != ',')
                .collect();
            let image = image.trim_end_matches(':').to_owned();
            if !image.is_empty() {
                return Some(image);
            }
        }
    }
    None
}

/// The one rule.
pub fn classify(facts: &StopFacts) -> Classification {
    let reason = facts.stopped_reason.as_str();
    let said = |kind: StopKind, why: String| Classification { kind, why };
    match &facts.stop_code {
        Some(StopCode::TaskFailedToStart) => match missing_image(facts) {
            Some(image) => said(
                StopKind::ImageMissing {
                    image: image.clone(),
                },
                format!("the image {image} does not exist: {reason}"),
            ),
            None => said(
                StopKind::FailedToStart,
                format!("the task failed to start: {reason}"),
            ),
        },
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
