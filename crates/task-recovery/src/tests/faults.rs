//! Faults the emulator cannot make, injected with aws-smithy-mocks on every AWS call the
//! function makes: throttling, a 5xx and a modelled final error each, as real HTTP answers of
//! each protocol (so the SDK's own error parsing runs). Each case asserts the Outcome or the
//! retryable error, and which calls that change something were made. A mocked client panics on
//! a call no rule expects, so an unexpected call fails the test.
//!
//! The main scenario is the one that calls everything: a service task crashed and the service is
//! still short past the grace (claim, ListTasks, DescribeTasks, DescribeServices, force claim,
//! UpdateService, SendMessage, DescribeTaskDefinition, GetLogEvents, Publish, completes).

use aws_smithy_mocks::mock;
use phoenix_core::Severity;

use super::at;
use super::mocks::{Api, FAULTS, Fault, Faults, Mocked, STUCK, answer, failed_call, retryable};

use aws_smithy_mocks::Rule;

#[tokio::test]
async fn the_stuck_service_scenario_makes_every_call_once_without_faults() {
    let mocked = Mocked::new(Faults::default(), 1);
    let outcome = mocked.handle(STUCK.0, STUCK.1()).await.expect("handled");
    assert_eq!(
        outcome.decision.as_deref(),
        Some("force-new-deployment"),
        "{outcome:?}"
    );
    assert_eq!(mocked.effects(), (1, 0, 1, 1), "{outcome:?}");
    assert_eq!(
        mocked.calls("PutItem"),
        2,
        "the stop and the forced deployment claimed"
    );
    assert_eq!(mocked.calls("UpdateItem"), 2, "both completed");
    assert_eq!(mocked.calls("DeleteItem"), 0);
    assert!(!outcome.has_failures(), "{outcome:?}");
    let notice = outcome.notice.expect("told");
    assert!(
        notice
            .details
            .unwrap_or_default()
            .contains("DB_PASSWORD=[redacted]")
    );
}

/// A read of ECS fails: retryable → nothing done, the claim released; final → nothing decided on
/// half a picture, an error Notice.
#[tokio::test]
async fn ecs_reads_fail_safely() {
    for (op, rule) in [
        (
            "ecs:ListTasks",
            (|f| {
                mock!(aws_sdk_ecs::Client::list_tasks)
                    .then_http_response(move || answer(Api::Ecs, f))
            }) as fn(Fault) -> Rule,
        ),
        ("ecs:DescribeTasks", |f| {
            mock!(aws_sdk_ecs::Client::describe_tasks)
                .then_http_response(move || answer(Api::Ecs, f))
        }),
        ("ecs:DescribeServices", |f| {
            mock!(aws_sdk_ecs::Client::describe_services)
                .then_http_response(move || answer(Api::Ecs, f))
        }),
    ] {
        for fault in FAULTS {
            let mocked = Mocked::new(
                Faults {
                    ecs: vec![rule(fault)],
                    ..Faults::default()
                },
                1,
            );
            let result = mocked.handle(STUCK.0, STUCK.1()).await;
            if fault == Fault::Final {
                let outcome = result.expect("a final error is reported, not retried");
                assert_eq!(
                    outcome.decision.as_deref(),
                    Some("could-not-observe"),
                    "{op}"
                );
                assert!(failed_call(&outcome, op), "{op}: {outcome:?}");
                assert_eq!(
                    outcome.notice.map(|n| n.severity),
                    Some(Severity::Error),
                    "{op}"
                );
                assert_eq!(
                    mocked.effects(),
                    (0, 0, 0, 1),
                    "{op}: nothing changed, people told"
                );
            } else {
                assert!(retryable(&result, op), "{op} {fault:?}: {result:?}");
                assert_eq!(mocked.effects(), (0, 0, 0, 0), "{op} {fault:?}");
                assert_eq!(
                    mocked.calls("DeleteItem"),
                    1,
                    "{op} {fault:?}: the claim is given back"
                );
            }
        }
    }
}

#[tokio::test]
async fn update_service_faults() {
    for fault in FAULTS {
        let rule = mock!(aws_sdk_ecs::Client::update_service)
            .then_http_response(move || answer(Api::Ecs, fault));
        let mocked = Mocked::new(
            Faults {
                ecs: vec![rule],
                ..Faults::default()
            },
            1,
        );
        let result = mocked.handle(STUCK.0, STUCK.1()).await;
        if fault == Fault::Final {
            let outcome = result.expect("final");
            assert!(failed_call(&outcome, "ecs:UpdateService"), "{outcome:?}");
            assert_eq!(
                mocked.effects(),
                (0, 0, 1, 1),
                "the re-check still goes out"
            );
            let notice = outcome.notice.expect("told");
            assert_eq!(notice.severity, Severity::Error);
            assert!(notice.title.contains("recovery failed: ecs:UpdateService on phoenix-service failed: AccessDeniedException"), "{}", notice.title);
        } else {
            assert!(
                retryable(&result, "ecs:UpdateService"),
                "{fault:?}: {result:?}"
            );
            assert_eq!(mocked.effects(), (0, 0, 0, 0));
            assert_eq!(
                mocked.calls("DeleteItem"),
                2,
                "the force claim and the stop claim released"
            );
        }
    }
}

#[tokio::test]
async fn run_task_faults() {
    for fault in FAULTS {
        let rule = mock!(aws_sdk_ecs::Client::run_task)
            .then_http_response(move || answer(Api::Ecs, fault));
        let mocked = Mocked::new(
            Faults {
                ecs: vec![rule],
                ..Faults::default()
            },
            1,
        );
        let result = mocked
            .handle("ecs-task-stopped-standalone-crash.json", at(10, 17, 0))
            .await;
        if fault == Fault::Final {
            let outcome = result.expect("final");
            assert_eq!(outcome.decision.as_deref(), Some("start-replacement"));
            assert!(failed_call(&outcome, "ecs:RunTask"), "{outcome:?}");
            assert_eq!(outcome.notice.map(|n| n.severity), Some(Severity::Error));
            assert_eq!(mocked.effects(), (0, 0, 0, 1));
        } else {
            assert!(retryable(&result, "ecs:RunTask"), "{fault:?}: {result:?}");
            assert_eq!(mocked.effects(), (0, 0, 0, 0));
        }
    }
}

#[tokio::test]
async fn the_diagnosis_never_blocks_recovery() {
    for (op, rule) in [
        (
            "ecs:DescribeTaskDefinition",
            (|f| {
                mock!(aws_sdk_ecs::Client::describe_task_definition)
                    .then_http_response(move || answer(Api::Ecs, f))
            }) as fn(Fault) -> Rule,
        ),
        ("logs:GetLogEvents", |f| {
            mock!(aws_sdk_cloudwatchlogs::Client::get_log_events)
                .then_http_response(move || answer(Api::Logs, f))
        }),
    ] {
        for fault in FAULTS {
            let faults = if op.starts_with("logs") {
                Faults {
                    logs: vec![rule(fault)],
                    ..Faults::default()
                }
            } else {
                Faults {
                    ecs: vec![rule(fault)],
                    ..Faults::default()
                }
            };
            let mocked = Mocked::new(faults, 1);
            let outcome = mocked
                .handle(STUCK.0, STUCK.1())
                .await
                .expect("recovered anyway");
            assert_eq!(mocked.effects(), (1, 0, 1, 1), "{op} {fault:?}");
            let details = outcome.notice.and_then(|n| n.details).unwrap_or_default();
            assert!(
                details.starts_with(&format!("(last log lines unavailable: {op}")),
                "{op} {fault:?}: {details}"
            );
        }
    }
}

#[tokio::test]
async fn send_message_faults() {
    for fault in FAULTS {
        let rule = mock!(aws_sdk_sqs::Client::send_message)
            .then_http_response(move || answer(Api::Sqs, fault));
        let mocked = Mocked::new(
            Faults {
                sqs: vec![rule],
                ..Faults::default()
            },
            1,
        );
        let result = mocked.handle(STUCK.0, STUCK.1()).await;
        if fault == Fault::Final {
            let outcome = result.expect("final");
            assert!(failed_call(&outcome, "sqs:SendMessage"), "{outcome:?}");
            assert_eq!(
                outcome.notice.map(|n| n.severity),
                Some(Severity::Error),
                "a broken re-check is told"
            );
            assert_eq!(mocked.effects(), (1, 0, 0, 1));
        } else {
            assert!(
                retryable(&result, "sqs:SendMessage on phoenix-recheck"),
                "{fault:?}: {result:?}"
            );
            // The deployment was forced and its claim completed: the retry will not force again.
            assert_eq!(mocked.effects(), (1, 0, 0, 0));
            assert_eq!(mocked.calls("UpdateItem"), 1, "the force claim completed");
        }
    }
}

#[tokio::test]
async fn publish_faults_after_a_change_are_recorded_before_one_they_are_retried() {
    for fault in FAULTS {
        let rule = || {
            mock!(aws_sdk_sns::Client::publish).then_http_response(move || answer(Api::Sns, fault))
        };
        // After UpdateService: a retry would repeat work, so the failure is recorded.
        let mocked = Mocked::new(
            Faults {
                sns: vec![rule()],
                ..Faults::default()
            },
            1,
        );
        let outcome = mocked
            .handle(STUCK.0, STUCK.1())
            .await
            .expect("recorded, not retried");
        assert!(
            failed_call(&outcome, "sns:Publish"),
            "{fault:?}: {outcome:?}"
        );
        assert_eq!(mocked.effects(), (1, 0, 1, 0));
        // Nothing changed yet (ECS is replacing the task): a retryable failure is retried.
        let mocked = Mocked::new(
            Faults {
                sns: vec![rule()],
                ..Faults::default()
            },
            2,
        );
        let result = mocked.handle(STUCK.0, STUCK.1()).await;
        if fault == Fault::Final {
            assert!(
                result.is_ok_and(|o| failed_call(&o, "sns:Publish")),
                "{fault:?}"
            );
        } else {
            assert!(retryable(&result, "sns:Publish"), "{fault:?}: {result:?}");
            assert_eq!(
                mocked.calls("DeleteItem"),
                1,
                "the claim is given back for the retry"
            );
        }
    }
}
