//! The planners as tables: every fixture, every service state, every re-check, every ECS event.

use chrono::{DateTime, Duration, Utc};
use phoenix_core::Severity;

use super::recheck::recheck;
use super::{at, config, stop_time, stopped};
use crate::classify::classify;
use crate::decide::{
    Decision, Plan, Policy, Step, count_failures, is_early, plan_recheck, plan_stop,
};
use crate::event::{ContainerExit, StopCode, StopFacts, TaskGroup};
use crate::observe::{DeploymentState, Observed, RecentStop, ServiceState};
use crate::recheck::{Recheck, SCHEMA};

pub(super) fn policy() -> Policy {
    config().policy
}

pub(super) fn deployment(status: &str, task_definition: &str, rollout: &str) -> DeploymentState {
    DeploymentState {
        id: format!("ecs-svc/{task_definition}"),
        status: status.into(),
        task_definition: task_definition.into(),
        rollout_state: Some(rollout.into()),
        rollout_reason: None,
        desired: 2,
        running: 1,
        failed_tasks: 0,
    }
}

pub(super) fn service(desired: i32, running: i32, pending: i32) -> ServiceState {
    ServiceState {
        name: "phoenix-service".into(),
        status: "ACTIVE".into(),
        desired,
        running,
        pending,
        deployments: vec![deployment("PRIMARY", "phoenix:7", "COMPLETED")],
        messages: Vec::new(),
    }
}

pub(super) fn with_service(s: ServiceState) -> Observed {
    Observed {
        service: Some(s),
        ..Observed::default()
    }
}

pub(super) fn deploying(mut s: ServiceState) -> ServiceState {
    s.deployments
        .push(deployment("ACTIVE", "phoenix:6", "COMPLETED"));
    s
}

fn crash_at(arn: &str, t: DateTime<Utc>) -> RecentStop {
    RecentStop {
        task_arn: arn.into(),
        facts: StopFacts {
            stop_code: Some(StopCode::EssentialContainerExited),
            stopped_reason: "Essential container in task exited".into(),
            containers: vec![ContainerExit {
                name: "phoenix".into(),
                exit_code: Some(1),
                reason: None,
                image: None,
            }],
        },
        stopped_at: Some(t),
    }
}

fn decide(name: &str, observed: &Observed, now: DateTime<Utc>) -> Plan {
    let task = stopped(name);
    plan_stop(&task, &classify(&task.facts), observed, &policy(), now)
}

/// The kinds of steps, in order (their content is checked where it matters).
pub(super) fn steps(plan: &Plan) -> Vec<&'static str> {
    plan.steps
        .iter()
        .map(|s| match s {
            Step::ForceNewDeployment { .. } => "force",
            Step::StartReplacement { .. } => "run-task",
            Step::ScheduleRecheck { .. } => "recheck",
            Step::ReportOnce { .. } => "report-once",
        })
        .collect()
}

#[test]
fn every_stop_fixture_gets_a_plan() {
    let later = at(10, 17, 0);
    let replaced = Observed {
        replacement: Some("arn:aws:ecs:eu-west-1:1:task/phoenix-cluster/new".into()),
        ..Observed::default()
    };
    let stuck = with_service(service(2, 1, 0));
    let steady = with_service(service(2, 1, 1));
    let parked = with_service(service(0, 0, 0));
    let problem = Observed {
        problem: Some(
            "ecs:ListTasks on service:phoenix-service failed: AccessDeniedException".into(),
        ),
        ..Observed::default()
    };
    let none = Observed::default();
    type Case<'a> = (
        &'a str,
        &'a Observed,
        DateTime<Utc>,
        Decision,
        &'a [&'a str],
        Option<Severity>,
    );
    let cases: Vec<Case> = vec![
        (
            "ecs-task-stopped-crash.json",
            &steady,
            later,
            Decision::EcsReplacing,
            &[],
            Some(Severity::Error),
        ),
        (
            "ecs-task-stopped-crash.json",
            &stuck,
            later,
            Decision::ForceNewDeployment,
            &["force", "recheck"],
            Some(Severity::Error),
        ),
        (
            "ecs-task-stopped-crash.json",
            &stuck,
            at(10, 16, 0),
            Decision::WaitingForScheduler,
            &["recheck"],
            Some(Severity::Error),
        ),
        (
            "ecs-task-stopped-crash.json",
            &parked,
            later,
            Decision::ServiceParked,
            &[],
            Some(Severity::Error),
        ),
        (
            "ecs-task-stopped-crash.json",
            &none,
            later,
            Decision::ServiceNotActive,
            &[],
            Some(Severity::Error),
        ),
        (
            "ecs-task-stopped-crash.json",
            &problem,
            later,
            Decision::CouldNotObserve,
            &[],
            Some(Severity::Error),
        ),
        (
            "ecs-task-stopped-elb-health.json",
            &steady,
            later,
            Decision::EcsReplacing,
            &[],
            Some(Severity::Warning),
        ),
        (
            "ecs-task-stopped-scale-in.json",
            &stuck,
            later,
            Decision::PlannedStop,
            &[],
            None,
        ),
        (
            "ecs-task-stopped-user.json",
            &stuck,
            later,
            Decision::PlannedStop,
            &[],
            None,
        ),
        (
            "ecs-task-stopped-image-missing.json",
            &stuck,
            later,
            Decision::ImageMissing,
            &["report-once"],
            Some(Severity::Warning),
        ),
        (
            "ecs-task-stopped-standalone-crash.json",
            &none,
            later,
            Decision::StartReplacement,
            &["run-task"],
            Some(Severity::Error),
        ),
        (
            "ecs-task-stopped-standalone-crash.json",
            &replaced,
            later,
            Decision::AlreadyReplaced,
            &[],
            Some(Severity::Error),
        ),
    ];
    for (name, observed, now, decision, want_steps, severity) in cases {
        let plan = decide(name, observed, now);
        assert_eq!(
            (plan.decision, steps(&plan).as_slice(), &plan.severity),
            (decision, want_steps, &severity),
            "{name}: {}",
            plan.reason
        );
    }
}

#[test]
fn within_the_grace_a_durable_recheck_is_scheduled_not_a_wait() {
    let plan = decide(
        "ecs-task-stopped-crash.json",
        &with_service(service(2, 1, 0)),
        at(10, 16, 0),
    );
    let recheck = plan.recheck().expect("a re-check");
    assert_eq!(recheck.due_at, stop_time() + Duration::seconds(60));
    assert_eq!(
        (recheck.attempt, recheck.max_attempts, recheck.forced),
        (1, 3, false)
    );
    assert_eq!(recheck.service, "phoenix-service");
    assert_eq!(recheck.schema, SCHEMA);
    assert_eq!(recheck.delay_seconds(at(10, 16, 0)), 41);
    assert!(
        plan.reason
            .ends_with("re-check at 10:16:41 UTC (attempt 1 of 3)"),
        "{}",
        plan.reason
    );
}

#[test]
fn past_the_grace_the_stuck_service_is_forced_once_and_looked_at_again() {
    let plan = decide(
        "ecs-task-stopped-crash.json",
        &with_service(service(2, 1, 0)),
        at(10, 17, 0),
    );
    let Step::ForceNewDeployment {
        service,
        guard,
        keep,
    } = &plan.steps[0]
    else {
        panic!("{plan:?}");
    };
    assert_eq!(service, "phoenix-service");
    assert_eq!(
        guard,
        "task-recovery:force:arn:aws:ecs:eu-west-1:111122223333:cluster/phoenix-cluster/phoenix-service"
    );
    assert_eq!(
        *keep,
        Duration::minutes(7),
        "one forced deployment per re-check span"
    );
    let recheck = plan.recheck().expect("verified later");
    assert!(recheck.forced);
    assert_eq!(recheck.due_at, at(10, 18, 0));
}

#[test]
fn a_deployment_in_progress_is_never_forced_again_but_looked_at_later() {
    let plan = decide(
        "ecs-task-stopped-crash.json",
        &with_service(deploying(service(2, 1, 0))),
        at(10, 20, 0),
    );
    assert_eq!(plan.decision, Decision::DeploymentInProgress);
    assert_eq!(steps(&plan), ["recheck"]);
    let mut primary_in_progress = service(2, 1, 0);
    primary_in_progress.deployments[0].rollout_state = Some("IN_PROGRESS".into());
    let plan = decide(
        "ecs-task-stopped-crash.json",
        &with_service(primary_in_progress),
        at(10, 20, 0),
    );
    assert_eq!(
        plan.decision,
        Decision::DeploymentInProgress,
        "phoenix-core's rule"
    );
}

#[test]
fn the_third_failure_in_ten_minutes_is_a_loop_and_only_it_is_critical() {
    let stop = stop_time();
    let two_before = vec![
        crash_at("a", stop - Duration::minutes(2)),
        crash_at("b", stop - Duration::minutes(6)),
    ];
    let observed = Observed {
        recent_stops: two_before.clone(),
        ..Observed::default()
    };
    let plan = decide(
        "ecs-task-stopped-standalone-crash.json",
        &observed,
        at(10, 16, 0),
    );
    assert_eq!(
        (plan.decision, plan.steps.len()),
        (Decision::CrashLoop, 0),
        "no restart in a loop"
    );
    assert_eq!(plan.severity, Some(Severity::Critical));
    assert!(
        plan.reason
            .contains("crash loop: 3 failures in 10 min (threshold 3)"),
        "{}",
        plan.reason
    );
    let mut three_before = two_before.clone();
    three_before.push(crash_at("c", stop - Duration::minutes(9)));
    let fourth = decide(
        "ecs-task-stopped-standalone-crash.json",
        &Observed {
            recent_stops: three_before,
            ..Observed::default()
        },
        at(10, 16, 0),
    );
    assert_eq!(
        (fourth.decision, fourth.severity),
        (Decision::CrashLoop, Some(Severity::Error))
    );
    let service_loop = decide(
        "ecs-task-stopped-crash.json",
        &Observed {
            recent_stops: two_before,
            service: Some(service(2, 1, 0)),
            ..Observed::default()
        },
        at(10, 20, 0),
    );
    assert_eq!(
        (service_loop.decision, service_loop.steps.len()),
        (Decision::CrashLoop, 0)
    );
}

#[test]
fn a_missing_image_is_reported_once_never_restarted_never_a_loop() {
    // Two crashes before, then a task that cannot even pull its image: no crash loop.
    let stop = stop_time();
    let observed = Observed {
        recent_stops: vec![
            crash_at("a", stop - Duration::minutes(2)),
            crash_at("b", stop - Duration::minutes(3)),
        ],
        service: Some(service(2, 1, 0)),
        ..Observed::default()
    };
    let plan = decide(
        "ecs-task-stopped-image-missing.json",
        &observed,
        at(10, 20, 0),
    );
    assert_eq!(plan.decision, Decision::ImageMissing);
    assert_eq!(plan.crash_loop, None);
    assert_eq!(plan.failures_in_window, 2, "itself not counted");
    assert_eq!(plan.severity, Some(Severity::Warning), "no critical page");
    let Step::ReportOnce { key, keep } = &plan.steps[0] else {
        panic!("{plan:?}");
    };
    assert_eq!(
        key,
        "task-recovery:image-missing:arn:aws:ecs:eu-west-1:111122223333:cluster/phoenix-cluster/service:phoenix-service#111122223333.dkr.ecr.eu-west-1.amazonaws.com/phoenix:latest"
    );
    assert_eq!(*keep, Duration::hours(24));
    // And previous missing-image stops do not make a crash loop either.
    let image_missing = stopped("ecs-task-stopped-image-missing.json");
    let recent: Vec<RecentStop> = (0..5)
        .map(|i| RecentStop {
            task_arn: format!("t{i}"),
            facts: image_missing.facts.clone(),
            stopped_at: Some(stop - Duration::minutes(i)),
        })
        .collect();
    let crash = stopped("ecs-task-stopped-crash.json");
    let kind = classify(&crash.facts).kind;
    assert_eq!(
        count_failures(&crash, &kind, &recent, Duration::minutes(10)).in_window,
        1
    );
}

#[test]
fn exactly_one_stop_is_the_first_of_a_crash_loop_whatever_the_order() {
    // two earlier crashes, then two tasks crash in the same instant: the count jumps from 2 to
    // 4, and the first of the two (by task ARN) is the third failure, the one that pages
    let crash = stopped("ecs-task-stopped-crash.json");
    let stop = crash.stopped_at;
    let kind = classify(&crash.facts).kind;
    let peers = |arns: &[&str]| -> Vec<RecentStop> {
        arns.iter()
            .map(|arn| RecentStop {
                task_arn: (*arn).to_owned(),
                facts: crash.facts.clone(),
                stopped_at: Some(stop),
            })
            .chain([
                RecentStop {
                    task_arn: "early-1".into(),
                    facts: crash.facts.clone(),
                    stopped_at: Some(stop - Duration::minutes(5)),
                },
                RecentStop {
                    task_arn: "early-2".into(),
                    facts: crash.facts.clone(),
                    stopped_at: Some(stop - Duration::minutes(3)),
                },
            ])
            .collect()
    };
    let mut firsts = 0;
    for (me, other) in [("arn:a", "arn:b"), ("arn:b", "arn:a")] {
        let mut task = crash.clone();
        task.task_arn = me.to_owned();
        let count = count_failures(&task, &kind, &peers(&[other]), Duration::minutes(10));
        assert_eq!(count.in_window, 4, "{me}");
        let plan = plan_stop(
            &task,
            &classify(&task.facts),
            &Observed {
                recent_stops: peers(&[other]),
                ..with_service(service(2, 0, 0))
            },
            &policy(),
            stop,
        );
        let l = plan.crash_loop.expect("a crash loop");
        if l.first {
            firsts += 1;
            assert_eq!(me, "arn:a");
            assert_eq!(plan.severity, Some(Severity::Critical));
        } else {
            assert_eq!(plan.severity, Some(Severity::Error));
        }
    }
    assert_eq!(firsts, 1, "one critical page, not zero and not two");
}

#[test]
fn standalone_rules_never_restart_on_a_guess_or_another_family() {
    let now = at(10, 17, 0);
    let mut task = stopped("ecs-task-stopped-standalone-crash.json");
    let plan_for = |task: &crate::event::StoppedTask, policy: &Policy| {
        plan_stop(
            task,
            &classify(&task.facts),
            &Observed::default(),
            policy,
            now,
        )
    };
    let mut not_allowed = policy();
    not_allowed.standalone_families.clear();
    assert_eq!(
        plan_for(&task, &not_allowed).decision,
        Decision::NotOnAllowList
    );

    // The group says phoenix-worker, the task definition is phoenix (the old sample's mismatch).
    let mut mismatch = task.clone();
    mismatch.task_definition = crate::arn::TaskDefinitionRef::parse(
        &config().cluster,
        "arn:aws:ecs:eu-west-1:111122223333:task-definition/phoenix:7",
    )
    .ok();
    let plan = plan_for(&mismatch, &policy());
    assert_eq!(
        (plan.decision, plan.steps.len()),
        (Decision::TaskDefinitionMismatch, 0)
    );
    mismatch.task_definition = None;
    assert_eq!(
        plan_for(&mismatch, &policy()).decision,
        Decision::TaskDefinitionMismatch
    );

    task.facts.stop_code = Some("TaskFailedToStart".into());
    task.facts.stopped_reason = "ResourceInitializationError: unable to pull secrets".into();
    assert_eq!(
        plan_for(&task, &policy()).decision,
        Decision::NotRestartingFailedToStart
    );
    task.facts.stop_code = Some("SomethingNew".into());
    let plan = plan_for(&task, &policy());
    assert_eq!(
        (plan.decision, plan.severity),
        (Decision::NotRestartingUnknownStop, Some(Severity::Warning))
    );
    task.facts.stop_code = Some("SpotInterruption".into());
    assert_eq!(
        plan_for(&task, &policy()).decision,
        Decision::StartReplacement
    );
    task.facts.stop_code = Some("EssentialContainerExited".into());
    task.facts.containers[0].exit_code = Some(0);
    assert_eq!(
        (
            plan_for(&task, &policy()).decision,
            plan_for(&task, &policy()).severity
        ),
        (Decision::PlannedStop, None)
    );
    task.group = TaskGroup::Other("batch".into());
    task.facts.containers[0].exit_code = Some(2);
    assert_eq!(plan_for(&task, &policy()).decision, Decision::NotManaged);
}

#[test]
fn times_at_the_limits_never_overflow() {
    let mut task = stopped("ecs-task-stopped-crash.json");
    let observed = Observed {
        recent_stops: vec![
            crash_at("x", DateTime::<Utc>::MIN_UTC),
            crash_at("y", DateTime::<Utc>::MAX_UTC),
        ],
        service: Some(service(2, 1, 0)),
        ..Observed::default()
    };
    for (stopped_at, now) in [
        (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC),
        (DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MIN_UTC),
        (DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MAX_UTC),
        (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MIN_UTC),
    ] {
        task.stopped_at = stopped_at;
        let plan = plan_stop(&task, &classify(&task.facts), &observed, &policy(), now);
        assert!(!plan.reason.is_empty());
        let recheck = Recheck {
            due_at: stopped_at,
            stopped_at,
            ..recheck(1, false)
        };
        let _ = plan_recheck(&recheck, &observed, &policy(), now);
        let _ = recheck.delay_seconds(now);
        let _ = is_early(&recheck, now);
    }
}
