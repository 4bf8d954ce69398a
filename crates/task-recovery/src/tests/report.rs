//! The Notices as people read them: what happened, what was done, the right severity, secrets
//! redacted, links only to the console.

use phoenix_core::{Notice, Severity, console};

use super::{at, fixture, parse_at, stopped};
use crate::act::Effect;
use crate::classify::classify;
use crate::decide::{Decision, Policy, Step, plan_recheck, plan_service_event, plan_stop};
use crate::event::Trigger;
use crate::observe::{DeploymentState, Diagnosis, Observed, ServiceState};
use crate::recheck::Recheck;
use crate::report::{StopReport, recheck_notice, service_event_notice, stop_notice, what_was_done};

fn policy() -> Policy {
    super::config().policy
}

fn field<'a>(notice: &'a Notice, label: &str) -> Option<&'a str> {
    notice
        .fields
        .iter()
        .find(|f| f.label == label)
        .map(|f| f.value.as_str())
}

fn links_are_console_only(notice: &Notice) {
    for link in &notice.links {
        assert!(console::is_allowed_link(&link.url, None), "{}", link.url);
    }
}

fn state(desired: i32, running: i32, deployments: Vec<DeploymentState>) -> ServiceState {
    ServiceState {
        name: "phoenix-service".into(),
        status: "ACTIVE".into(),
        desired,
        running,
        pending: 0,
        deployments,
        messages: vec![
            "(service phoenix-service) was unable to place a task. Reason: password=hunter2".into(),
        ],
    }
}

fn deployment(
    id: &str,
    status: &str,
    td: &str,
    rollout: &str,
    reason: Option<&str>,
) -> DeploymentState {
    DeploymentState {
        id: id.into(),
        status: status.into(),
        task_definition: td.into(),
        rollout_state: Some(rollout.into()),
        rollout_reason: reason.map(str::to_owned),
        desired: 2,
        running: 0,
        failed_tasks: 3,
    }
}

fn notice_for(
    name: &str,
    observed: &Observed,
    diagnosis: &Diagnosis,
    effects: &[Effect],
) -> Option<Notice> {
    let task = stopped(name);
    let classification = classify(&task.facts);
    let plan = plan_stop(&task, &classification, observed, &policy(), at(10, 16, 0));
    stop_notice(&StopReport {
        task: &task,
        classification: &classification,
        plan: &plan,
        observed,
        diagnosis,
        effects,
        now: at(10, 16, 0),
        source: "task-recovery",
    })
}

#[test]
fn a_crash_notice_says_why_with_redacted_log_lines() {
    let observed = Observed {
        service: Some(state(
            2,
            1,
            vec![deployment(
                "ecs-svc/1",
                "PRIMARY",
                "phoenix:7",
                "COMPLETED",
                None,
            )],
        )),
        ..Observed::default()
    };
    let diagnosis = Diagnosis {
        log_group: Some("/ecs/phoenix".into()),
        log_stream: Some("ecs/phoenix/00000001c0ffee4b1a9e43e0a6d10001".into()),
        lines: vec![
            "connecting to mongodb://phoenix:s3cr3t-pw@docdb.internal:27017/app".into(),
            "DB_PASSWORD=hunter2 AWS key AKIAIOSFODNN7EXAMPLE".into(),
            "Error: boom".into(),
        ],
        problem: None,
    };
    let task = stopped("ecs-task-stopped-crash.json");
    let recheck = Recheck {
        schema: crate::recheck::SCHEMA.into(),
        cluster_arn: super::CLUSTER_ARN.into(),
        service: "phoenix-service".into(),
        task_arn: task.task_arn.clone(),
        event_id: task.event_id.clone(),
        stop_kind: "crash".into(),
        attempt: 1,
        max_attempts: 3,
        due_at: at(10, 16, 41),
        stopped_at: task.stopped_at,
        forced: false,
    };
    let effects = [Effect::RecheckScheduled {
        recheck,
        delay_seconds: 41,
    }];
    let notice = notice_for(
        "ecs-task-stopped-crash.json",
        &observed,
        &diagnosis,
        &effects,
    )
    .expect("a crash is told");
    assert_eq!(notice.severity, Severity::Error);
    assert_eq!(
        notice.title,
        "phoenix-service task crashed (exit 1) — ECS should replace it; re-check scheduled"
    );
    assert_eq!(
        notice.event_id.as_deref(),
        Some("00000000-0000-0000-5418-ad0d00000001")
    );
    assert_eq!(field(&notice, "Stop kind"), Some("crash"));
    assert_eq!(field(&notice, "Container phoenix"), Some("exit 1"));
    assert_eq!(field(&notice, "Lived"), Some("1h 13m 5s"));
    assert_eq!(
        field(&notice, "Service tasks"),
        Some("running 1 + pending 0 of desired 2")
    );
    assert_eq!(
        field(&notice, "Re-check"),
        Some("re-check of phoenix-service at 10:16:41 UTC (in 41 s), attempt 1 of 3")
    );
    let details = notice.details.clone().unwrap_or_default();
    assert!(!details.contains("s3cr3t-pw"), "{details}");
    assert!(!details.contains("hunter2"), "{details}");
    assert!(!details.contains("AKIAIOSFODNN7EXAMPLE"), "{details}");
    assert!(
        details.contains("mongodb://phoenix:[redacted]@docdb.internal"),
        "{details}"
    );
    assert!(details.ends_with("Error: boom"), "{details}");
    let labels: Vec<&str> = notice.links.iter().map(|l| l.label.as_str()).collect();
    assert_eq!(labels, ["Task", "Service", "Logs"]);
    links_are_console_only(&notice);
}

#[test]
fn a_stopped_reason_with_a_secret_is_redacted_too() {
    let mut event = fixture("ecs-task-stopped-crash.json");
    event["detail"]["stoppedReason"] = "Essential container exited: token=abcd1234secret".into();
    event["detail"]["containers"][0]["reason"] =
        "Error: connect mongodb://u:pw123@host:27017 refused".into();
    let Ok(Trigger::TaskStopped(task)) = parse_at(&event, at(10, 16, 0)) else {
        panic!("parsed");
    };
    let classification = classify(&task.facts);
    let plan = plan_stop(
        &task,
        &classification,
        &Observed::default(),
        &policy(),
        at(10, 16, 0),
    );
    let notice = stop_notice(&StopReport {
        task: &task,
        classification: &classification,
        plan: &plan,
        observed: &Observed::default(),
        diagnosis: &Diagnosis::default(),
        effects: &[],
        now: at(10, 16, 0),
        source: "task-recovery",
    })
    .expect("told");
    let text = serde_json::to_string(&notice).expect("json");
    assert!(
        !text.contains("abcd1234secret") && !text.contains("pw123"),
        "{text}"
    );
}

#[test]
fn a_missing_image_is_one_clear_warning_then_silence() {
    let observed = Observed {
        service: Some(state(2, 1, Vec::new())),
        ..Observed::default()
    };
    let notice = notice_for(
        "ecs-task-stopped-image-missing.json",
        &observed,
        &Diagnosis::default(),
        &[Effect::FirstReport],
    )
    .expect("told once");
    assert_eq!(notice.severity, Severity::Warning);
    assert_eq!(
        notice.title,
        "phoenix-service: image 111122223333.dkr.ecr.eu-west-1.amazonaws.com/phoenix:latest does not exist — not restarted"
    );
    assert!(
        field(&notice, "What to do")
            .is_some_and(|w| w.starts_with("push the image, or park phoenix-service at 0")),
        "{notice:?}"
    );
    assert_eq!(
        notice.details, None,
        "a task that never ran has no log lines"
    );
    assert!(
        notice_for(
            "ecs-task-stopped-image-missing.json",
            &observed,
            &Diagnosis::default(),
            &[Effect::ReportedBefore(at(9, 0, 0))],
        )
        .is_none(),
        "reported before: no second Notice"
    );
}

#[test]
fn a_failed_recovery_is_at_least_an_error_and_says_so() {
    let effects = [Effect::Failed {
        call: "ecs:RunTask".into(),
        why: "ecs:RunTask on phoenix-worker failed: AccessDeniedException: no (HTTP 400, final)"
            .into(),
    }];
    let notice = notice_for(
        "ecs-task-stopped-standalone-crash.json",
        &Observed::default(),
        &Diagnosis {
            problem: Some("LOG_LINES is 0".into()),
            ..Diagnosis::default()
        },
        &effects,
    )
    .expect("told");
    assert_eq!(notice.severity, Severity::Error);
    assert!(
        notice
            .title
            .contains("— recovery failed: ecs:RunTask on phoenix-worker failed"),
        "{}",
        notice.title
    );
    assert_eq!(
        notice.details.as_deref(),
        Some("(last log lines unavailable: LOG_LINES is 0)")
    );
}

#[test]
fn what_was_done_reads_the_effects_first() {
    let task = stopped("ecs-task-stopped-standalone-crash.json");
    let plan = plan_stop(
        &task,
        &classify(&task.facts),
        &Observed::default(),
        &policy(),
        at(10, 16, 0),
    );
    assert_eq!(
        what_was_done(
            &plan,
            &[Effect::Replacement(
                "arn:aws:ecs:eu-west-1:1:task/c/abc".into()
            )]
        ),
        "replacement abc started"
    );
    assert_eq!(
        what_was_done(
            &plan,
            &[Effect::WouldDo(Step::StartReplacement {
                family: "phoenix-worker".into()
            })]
        ),
        "would start a replacement (dry run)"
    );
    assert_eq!(
        what_was_done(&plan, &[]),
        Decision::StartReplacement.words()
    );
}

fn recheck(attempt: u32, forced: bool) -> Recheck {
    let task = stopped("ecs-task-stopped-crash.json");
    Recheck {
        schema: crate::recheck::SCHEMA.into(),
        cluster_arn: super::CLUSTER_ARN.into(),
        service: "phoenix-service".into(),
        task_arn: task.task_arn,
        event_id: task.event_id,
        stop_kind: "crash".into(),
        attempt,
        max_attempts: 3,
        due_at: at(10, 17, 0),
        stopped_at: task.stopped_at,
        forced,
    }
}

#[test]
fn recheck_notices_tell_a_forced_deployment_a_give_up_and_a_recovery() {
    let now = at(10, 17, 1);
    let short = Observed {
        service: Some(state(
            2,
            1,
            vec![deployment(
                "ecs-svc/1",
                "PRIMARY",
                "phoenix:7",
                "COMPLETED",
                None,
            )],
        )),
        ..Observed::default()
    };
    let full = Observed {
        service: Some(state(2, 2, Vec::new())),
        ..Observed::default()
    };
    let notice = |r: &Recheck, observed: &Observed, effects: &[Effect]| {
        let plan = plan_recheck(r, observed, &policy(), now);
        recheck_notice(
            r,
            &plan,
            observed,
            effects,
            ("eu-west-1", "phoenix-cluster"),
            now,
            "task-recovery",
        )
    };
    let forced = notice(
        &recheck(1, false),
        &short,
        &[Effect::ForcedDeployment {
            service: "phoenix-service".into(),
        }],
    )
    .expect("a forced deployment is told");
    assert_eq!(forced.severity, Severity::Warning);
    assert_eq!(
        forced.title,
        "phoenix-service still short 1m 19s after a task stopped — forced a new deployment"
    );
    assert_eq!(
        forced.event_id.as_deref(),
        Some("00000000-0000-0000-5418-ad0d00000001#recheck-1")
    );
    assert_eq!(
        field(&forced, "Deployments"),
        Some("PRIMARY phoenix:7 COMPLETED (3 failed tasks)")
    );
    assert!(
        !forced
            .details
            .clone()
            .unwrap_or_default()
            .contains("hunter2")
    );
    links_are_console_only(&forced);

    let gave_up = notice(&recheck(3, true), &short, &[]).expect("a person must look");
    assert_eq!(gave_up.severity, Severity::Warning);
    assert_eq!(
        gave_up.title,
        "phoenix-service is still short of tasks 1m 19s after a task stopped — a person must look"
    );
    let back = notice(&recheck(2, true), &full, &[]).expect("info after forcing");
    assert_eq!(back.severity, Severity::Info);
    assert!(
        notice(&recheck(1, false), &full, &[]).is_none(),
        "back on its own: the stop's Notice said enough"
    );
    assert!(
        notice(&recheck(2, true), &short, &[]).is_none(),
        "still short, looking again: quiet"
    );
    let failed = notice(
        &recheck(2, true),
        &short,
        &[Effect::Failed {
            call: "sqs:SendMessage".into(),
            why: "AccessDenied".into(),
        }],
    )
    .expect("a broken chain is told");
    assert_eq!(failed.severity, Severity::Error);
}

/// The Notice task-recovery writes for the service event in `fixture_name`, read at 10:35 with
/// the service at `running` of 2 tasks and these deployments listed.
fn service_event_told(
    fixture_name: &str,
    running: i32,
    deployments: Vec<DeploymentState>,
) -> Notice {
    let now = at(10, 35, 0);
    let Ok(Trigger::ServiceEvent(event)) = parse_at(&fixture(fixture_name), now) else {
        panic!("parsed");
    };
    let observed = Observed {
        service: Some(state(2, running, deployments)),
        ..Observed::default()
    };
    let plan = plan_service_event(&event);
    service_event_notice(&event, &plan, &observed, now, "task-recovery").expect("told")
}

/// The service back on `phoenix:7` (PRIMARY, rolling out) beside the failed `phoenix:8` (ACTIVE).
fn back_on_7_after_8_failed(rollout_reason: Option<&str>) -> Vec<DeploymentState> {
    vec![
        deployment(
            "ecs-svc/9182736450918273645",
            "PRIMARY",
            "phoenix:7",
            "IN_PROGRESS",
            None,
        ),
        deployment(
            "ecs-svc/8273651093847561234",
            "ACTIVE",
            "phoenix:8",
            "FAILED",
            rollout_reason,
        ),
    ]
}

#[test]
fn a_deployment_failure_names_the_task_definitions_before_and_after() {
    let now = at(10, 35, 0);
    let notice = service_event_told(
        "ecs-deployment-failed.json",
        2,
        back_on_7_after_8_failed(Some(
            "ECS deployment circuit breaker: tasks failed to start.",
        )),
    );
    assert_eq!(notice.severity, Severity::Error);
    assert_eq!(
        notice.title,
        "phoenix-service: deployment ecs-svc/8273651093847561234 failed"
    );
    assert_eq!(
        field(&notice, "Task definition (failed deployment)"),
        Some("phoenix:8")
    );
    assert_eq!(
        field(&notice, "Task definition (before / rolled back to)"),
        Some("phoenix:7 (PRIMARY)")
    );
    assert_eq!(
        field(&notice, "Reason"),
        Some("ECS deployment circuit breaker: task failed to start.")
    );
    assert_eq!(
        field(&notice, "Rollout"),
        Some("FAILED: ECS deployment circuit breaker: tasks failed to start.")
    );
    assert_eq!(
        notice.event_id.as_deref(),
        Some("00000000-0000-0000-5418-ad0d00000021")
    );
    let labels: Vec<&str> = notice.links.iter().map(|l| l.label.as_str()).collect();
    assert_eq!(labels, ["Service"]);
    links_are_console_only(&notice);

    let Ok(Trigger::ServiceEvent(placement)) =
        parse_at(&fixture("ecs-service-placement-failure.json"), now)
    else {
        panic!("parsed");
    };
    let plan = plan_service_event(&placement);
    let notice = service_event_notice(
        &placement,
        &plan,
        &Observed {
            problem: Some(
                "ecs:DescribeServices on phoenix-service failed: AccessDeniedException".into(),
            ),
            ..Observed::default()
        },
        now,
        "task-recovery",
    )
    .expect("told even without the service's state");
    assert_eq!(notice.title, "phoenix-service: unable to place tasks");
    assert_eq!(field(&notice, "Reason"), Some("RESOURCE:FARGATE"));
    assert!(field(&notice, "Service state unavailable").is_some());
}

#[test]
fn a_deployment_ecs_no_longer_lists_is_said_so_and_what_runs_is_named() {
    // only the deployment the service is back on: the failed one is gone from the list
    let notice = service_event_told(
        "ecs-deployment-failed.json",
        2,
        vec![deployment(
            "ecs-svc/1111111111111111111",
            "PRIMARY",
            "phoenix:7",
            "COMPLETED",
            None,
        )],
    );
    assert_eq!(
        field(&notice, "Task definition (failed deployment)"),
        Some("no longer listed by ECS (see Deployments)")
    );
    // what the service runs now is listed, so it is named
    assert_eq!(
        field(&notice, "Task definition (before / rolled back to)"),
        Some("phoenix:7 (PRIMARY)")
    );
    assert!(
        field(&notice, "Deployments").is_some_and(|d| d.contains("phoenix:7")),
        "the list still says what runs"
    );
}

#[test]
fn a_rollback_names_the_target_and_the_failed_task_definition() {
    let notice = service_event_told(
        "ecs-deployment-rollback.json",
        1,
        back_on_7_after_8_failed(None),
    );
    assert_eq!(notice.severity, Severity::Warning);
    assert_eq!(
        field(&notice, "Task definition (rolling back to)"),
        Some("phoenix:7")
    );
    assert_eq!(
        field(&notice, "Task definition (failed deployment)"),
        Some("phoenix:8 (ACTIVE)")
    );
}
