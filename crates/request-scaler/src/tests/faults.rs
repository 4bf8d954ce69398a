//! Faults the emulator cannot produce, injected with aws-smithy-mocks into every AWS call the
//! scaler makes (GetMetricData, GetMetricStatistics, DescribeServices, UpdateService, SNS Publish): throttling, 5xx
//! and a modelled final error. Each asserts what the handler returns and which calls were (not)
//! made. Retryable faults fail the invocation (Lambda and the next minute retry); final ones
//! return a success that says what failed, and tell a person once.

use aws_smithy_mocks::Rule;
use phoenix_core::{ActionStatus, Function, Outcome, Severity};

use super::mocks::*;

fn failed_call(outcome: &Outcome, call: &str) -> bool {
    outcome
        .actions
        .iter()
        .any(|a| a.call == call && a.status == ActionStatus::Failed)
}

fn calls(rules: &[&Rule]) -> Vec<usize> {
    rules.iter().map(|r| r.num_calls()).collect()
}

#[tokio::test]
async fn get_metric_data_faults_injected() {
    for fault in FAULTS {
        let cw = get_metric_data_fails(fault);
        let (describe, update, publish) = (service(2, false), update_ok(), publish_ok());
        let scaler = handler(&[&describe, &update], &[&cw], &[&publish]);
        let result = scaler.handle(invocation(schedule("e-1"))).await;
        match fault {
            Fault::Throttled | Fault::Unavailable => {
                let error = result.expect_err("retryable");
                assert!(
                    error.0.contains("cloudwatch:GetMetricData"),
                    "{fault:?}: {error}"
                );
                assert_eq!(
                    calls(&[&cw, &describe, &update, &publish]),
                    [1, 0, 0, 0],
                    "{fault:?}"
                );
            }
            Fault::Final => {
                let outcome = result.expect("a final failure is a success for Lambda");
                assert_eq!(outcome.decision.as_deref(), Some("failed"));
                assert!(
                    failed_call(&outcome, "cloudwatch:GetMetricData"),
                    "{outcome:?}"
                );
                assert!(
                    outcome
                        .reason
                        .as_deref()
                        .is_some_and(|r| r.contains("AccessDenied") && r.contains("IAM"))
                );
                let notice = outcome.notice.as_ref().expect("a person is told");
                assert_eq!(notice.severity, Severity::Error);
                assert_eq!(calls(&[&cw, &describe, &update, &publish]), [1, 0, 0, 1]);
                // the next minute fails alike: no second Notice within the hour
                let again = scaler
                    .handle(invocation(schedule("e-2")))
                    .await
                    .expect("success");
                assert_eq!(again.decision.as_deref(), Some("failed"));
                assert!(again.notice.is_none());
                assert_eq!(publish.num_calls(), 1);
            }
        }
    }
}

#[tokio::test]
async fn get_metric_statistics_faults_injected() {
    for fault in FAULTS {
        // the container's first evaluation reads the previous days (GetMetricData, fine); the
        // next minute's read of the last hour (GetMetricStatistics, one call per signal) fails
        let (gmd, _) = recording_metrics(50.0);
        let gms = get_metric_statistics_fails(fault);
        let (describe, update, publish) = (service(1, false), update_ok(), publish_ok());
        let scaler = handler(&[&describe, &update], &[&gmd, &gms], &[&publish]);
        let first = scaler
            .handle(invocation(schedule("e-1")))
            .await
            .expect("handled");
        assert_eq!(
            first.decision.as_deref(),
            Some("hold"),
            "{fault:?}: {first:?}"
        );
        let later =
            phoenix_core::Invocation::new(schedule("e-2"), now() + chrono::Duration::minutes(1));
        let result = scaler.handle(later).await;
        match fault {
            Fault::Throttled | Fault::Unavailable => {
                let error = result.expect_err("retryable");
                assert!(
                    error.0.contains("cloudwatch:GetMetricStatistics"),
                    "{fault:?}: {error}"
                );
                assert_eq!(
                    calls(&[&gmd, &gms, &describe, &update, &publish]),
                    [1, 2, 1, 0, 0],
                    "{fault:?}"
                );
            }
            Fault::Final => {
                let outcome = result.expect("a final failure is a success for Lambda");
                assert_eq!(outcome.decision.as_deref(), Some("failed"));
                assert!(
                    failed_call(&outcome, "cloudwatch:GetMetricStatistics"),
                    "{outcome:?}"
                );
                let notice = outcome.notice.as_ref().expect("a person is told");
                assert_eq!(notice.severity, Severity::Error);
                assert_eq!(
                    calls(&[&gmd, &gms, &describe, &update, &publish]),
                    [1, 2, 1, 0, 1]
                );
            }
        }
    }
}

#[tokio::test]
async fn describe_services_faults_injected() {
    for fault in FAULTS {
        let describe = describe_services_fails(fault);
        let (cw, update, publish) = (metrics(700.0, None), update_ok(), publish_ok());
        let scaler = handler(&[&describe, &update], &[&cw], &[&publish]);
        let result = scaler.handle(invocation(schedule("e-1"))).await;
        match fault {
            Fault::Throttled | Fault::Unavailable => {
                let error = result.expect_err("retryable");
                assert!(
                    error.0.contains("ecs:DescribeServices"),
                    "{fault:?}: {error}"
                );
                assert_eq!(
                    calls(&[&cw, &describe, &update, &publish]),
                    [1, 1, 0, 0],
                    "{fault:?}"
                );
            }
            Fault::Final => {
                let outcome = result.expect("success");
                assert_eq!(outcome.decision.as_deref(), Some("failed"));
                assert!(failed_call(&outcome, "ecs:DescribeServices"));
                assert!(
                    outcome
                        .reason
                        .as_deref()
                        .is_some_and(|r| r.contains("CLUSTER_NAME"))
                );
                assert_eq!(calls(&[&cw, &describe, &update, &publish]), [1, 1, 0, 1]);
            }
        }
    }
}

#[tokio::test]
async fn a_service_that_is_not_active_is_a_final_failure_not_a_retry() {
    let (cw, describe, update, publish) = (
        metrics(700.0, None),
        no_service(),
        update_ok(),
        publish_ok(),
    );
    let scaler = handler(&[&describe, &update], &[&cw], &[&publish]);
    let outcome = scaler
        .handle(invocation(schedule("e-1")))
        .await
        .expect("success");
    assert_eq!(outcome.decision.as_deref(), Some("failed"));
    assert!(
        outcome
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("no ACTIVE service")),
        "{outcome:?}"
    );
    assert_eq!(calls(&[&update, &publish]), [0, 1]);
}

#[tokio::test]
async fn update_service_faults_injected() {
    for fault in FAULTS {
        let update = update_service_fails(fault);
        let (cw, describe, publish) = (metrics(700.0, None), service(2, false), publish_ok());
        // Lambda's retry reads the last hour with GetMetricStatistics (the days are kept)
        let (gms, _) = recording_statistics(700.0, 40.0);
        let scaler = handler(&[&describe, &update], &[&cw, &gms], &[&publish]);
        let result = scaler.handle(invocation(schedule("e-1"))).await;
        match fault {
            Fault::Throttled | Fault::Unavailable => {
                let error = result.expect_err("retryable");
                assert!(error.0.contains("ecs:UpdateService"), "{fault:?}: {error}");
                // no Notice for a change that did not happen
                assert_eq!(
                    calls(&[&cw, &describe, &update, &publish]),
                    [1, 1, 1, 0],
                    "{fault:?}"
                );
                // not remembered: Lambda's retry of the same event runs again
                assert!(scaler.handle(invocation(schedule("e-1"))).await.is_err());
                assert_eq!(update.num_calls(), 2);
            }
            Fault::Final => {
                let outcome = result.expect("success");
                // the decision stands in the Outcome; the action failed; a person is told
                assert_eq!(outcome.decision.as_deref(), Some("scale-out"));
                assert!(failed_call(&outcome, "ecs:UpdateService"));
                let notice = outcome.notice.as_ref().expect("told");
                assert_eq!(notice.severity, Severity::Error);
                assert!(
                    notice.title.contains("is not being scaled"),
                    "{}",
                    notice.title
                );
                assert_eq!(calls(&[&cw, &describe, &update, &publish]), [1, 1, 1, 1]);
            }
        }
    }
}

#[tokio::test]
async fn publish_faults_after_a_scale_out_injected_are_recorded_never_retried() {
    for fault in FAULTS {
        let publish = publish_fails(fault);
        let (cw, describe, update) = (metrics(700.0, None), service(2, false), update_ok());
        let scaler = handler(&[&describe, &update], &[&cw], &[&publish]);
        // desiredCount changed: a retry would find nothing to do and never resend
        let outcome = scaler
            .handle(invocation(schedule("e-1")))
            .await
            .expect("the scaling stands");
        assert_eq!(outcome.decision.as_deref(), Some("scale-out"), "{fault:?}");
        assert!(
            failed_call(&outcome, "sns:Publish"),
            "{fault:?}: {outcome:?}"
        );
        assert_eq!(calls(&[&update, &publish]), [1, 1], "{fault:?}");
    }
}

#[tokio::test]
async fn publish_faults_on_a_warning_without_a_change_injected() {
    // at the maximum already (10), demand jumps beyond it: a warning, no UpdateService
    for fault in FAULTS {
        let publish = publish_fails(fault);
        let (cw, describe, update) = (metrics(1_500.0, None), service(10, false), update_ok());
        let scaler = handler(&[&describe, &update], &[&cw], &[&publish]);
        let result = scaler.handle(invocation(schedule("e-1"))).await;
        match fault {
            // nothing changed: retrying the invocation is safe and resends the warning
            Fault::Throttled | Fault::Unavailable => {
                let error = result.expect_err("retryable");
                assert!(error.0.contains("sns:Publish"), "{error}");
            }
            Fault::Final => {
                let outcome = result.expect("success");
                assert_eq!(outcome.decision.as_deref(), Some("hold"));
                assert!(failed_call(&outcome, "sns:Publish"));
            }
        }
        assert_eq!(calls(&[&update, &publish]), [0, 1], "{fault:?}");
    }
}

#[tokio::test]
async fn a_final_failure_whose_notice_cannot_be_published_is_still_a_success() {
    let (cw, describe, update) = (
        get_metric_data_fails(Fault::Final),
        service(2, false),
        update_ok(),
    );
    let publish = publish_fails(Fault::Throttled);
    let scaler = handler(&[&describe, &update], &[&cw], &[&publish]);
    let outcome = scaler
        .handle(invocation(schedule("e-1")))
        .await
        .expect("success");
    assert!(
        failed_call(&outcome, "cloudwatch:GetMetricData") && failed_call(&outcome, "sns:Publish")
    );
}
