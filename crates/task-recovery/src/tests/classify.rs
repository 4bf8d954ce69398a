//! Why a task stopped: every stop code, exit and reason gets a kind, a missing image included.

use crate::classify::{Planned, StopKind, classify, missing_image};
use crate::event::{ContainerExit, StopCode, StopFacts};

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
                image: None,
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

fn failed_to_start(reason: &str, image: Option<&str>) -> StopFacts {
    StopFacts {
        stop_code: Some(StopCode::TaskFailedToStart),
        stopped_reason: reason.into(),
        containers: vec![ContainerExit {
            name: "phoenix".into(),
            exit_code: None,
            reason: Some(reason.into()),
            image: image.map(str::to_owned),
        }],
    }
}

/// Real ECS wordings (Fargate/containerd, EC2/Docker, Docker Hub): a missing image is its own
/// kind; a pull that fails on the network or on permissions is not a missing image.
#[test]
fn a_missing_image_is_told_apart_from_other_failures_to_start() {
    let ecr = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/phoenix:latest";
    let missing = [
        format!("CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref {ecr}: {ecr}: not found"),
        format!("CannotPullContainerError: Error response from daemon: manifest for {ecr} not found: manifest unknown: Requested image not found"),
        "CannotPullContainerError: ref pull has been retried 1 time(s): failed to resolve reference \"docker.io/library/phoenix:9\": docker.io/library/phoenix:9: not found".to_owned(),
        "CannotPullContainerError: Error response from daemon: pull access denied for phoenix, repository does not exist or may require 'docker login'".to_owned(),
        format!("CannotPullContainerError: inspect image has been retried 1 time(s): failed to resolve ref {ecr}@sha256:abc: not found"),
    ];
    for reason in &missing {
        let kind = classify(&failed_to_start(reason, Some(ecr))).kind;
        assert_eq!(
            kind,
            StopKind::ImageMissing { image: ecr.into() },
            "{reason}"
        );
        assert!(!kind.is_failure(), "a missing image is not a crash");
    }
    let not_missing = [
        format!("CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref {ecr}: failed to do request: Head \"https://x/v2/phoenix/manifests/latest\": dial tcp 10.0.3.17:443: i/o timeout"),
        "CannotPullContainerError: Error response from daemon: Get https://x/v2/: net/http: request canceled while waiting for connection".to_owned(),
        format!("CannotPullContainerError: failed to resolve ref {ecr}: unexpected status from HEAD request: 403 Forbidden"),
        "CannotPullContainerError: toomanyrequests: You have reached your pull rate limit".to_owned(),
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed".to_owned(),
        "Task failed to start".to_owned(),
    ];
    for reason in &not_missing {
        let kind = classify(&failed_to_start(reason, Some(ecr))).kind;
        assert_eq!(kind, StopKind::FailedToStart, "{reason}");
    }
}

#[test]
fn the_missing_image_is_named_from_the_container_or_from_the_reason() {
    let reason = "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref 1.dkr.ecr.eu-west-1.amazonaws.com/app:v9: 1.dkr.ecr.eu-west-1.amazonaws.com/app:v9: not found";
    assert_eq!(
        missing_image(&failed_to_start(reason, None)).as_deref(),
        Some("1.dkr.ecr.eu-west-1.amazonaws.com/app:v9")
    );
    let docker = "CannotPullContainerError: Error response from daemon: manifest for nginx:nope not found: manifest unknown";
    assert_eq!(
        missing_image(&failed_to_start(docker, None)).as_deref(),
        Some("nginx:nope")
    );
    let mut unnamed = failed_to_start("CannotPullContainerError: not found", None);
    unnamed.containers.clear();
    assert_eq!(
        missing_image(&unnamed).as_deref(),
        Some("(image not named by ECS)")
    );
    let c = classify(&failed_to_start(reason, Some("x:1")));
    assert!(
        c.why
            .starts_with("the image x:1 does not exist: CannotPullContainerError"),
        "{}",
        c.why
    );
}
