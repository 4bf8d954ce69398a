//! Faults the emulator cannot produce, injected with aws-smithy-mocks, and random input. A mocked
//! client panics on a call no rule expects, so "no AWS call" is asserted by construction.

use aws_sdk_cloudwatch::operation::get_metric_data::{GetMetricDataError, GetMetricDataOutput};
use aws_sdk_cloudwatch::primitives::DateTime as CwDateTime;
use aws_sdk_cloudwatch::types::MetricDataResult;
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::operation::update_service::{UpdateServiceError, UpdateServiceOutput};
use aws_sdk_ecs::types::{Deployment, DeploymentRolloutState, Service};
use aws_sdk_sns::operation::publish::{PublishError, PublishOutput};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;
use chrono::{DateTime, TimeZone, Utc};
use phoenix_core::lambda::load_config;
use phoenix_core::{ActionStatus, Function, Invocation, Vars};
use proptest::prelude::*;
use request_scaler::{Clients, RequestScaler};
use serde_json::{Value, json};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 10, 30)
        .single()
        .expect("valid")
}

fn schedule(id: &str) -> Value {
    json!({"version": "0", "id": id, "detail-type": "Scheduled Event", "source": "aws.events",
           "account": "111122223333", "time": "2026-11-25T12:10:00Z", "region": "eu-west-1",
           "resources": [], "detail": {}})
}

fn handler(rules_ecs: &[&Rule], rules_cw: &[&Rule], rules_sns: &[&Rule]) -> RequestScaler {
    let env = [
        ("CLUSTER_NAME", "phoenix-cluster"),
        ("SERVICE_NAME", "phoenix-service"),
        (
            "LOAD_BALANCER_DIMENSION",
            "app/phoenix-alb/50dc6c495c0c9188",
        ),
        (
            "TARGET_GROUP_DIMENSION",
            "targetgroup/phoenix-tg/73e2d6bc24d8a067",
        ),
        (
            "ALERTS_TOPIC_ARN",
            "arn:aws:sns:eu-west-1:111122223333:phoenix-alerts",
        ),
    ];
    let config = load_config::<RequestScaler>(Vars::from_pairs(&env)).expect("config");
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, rules_ecs);
    let cloudwatch = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, rules_cw);
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, rules_sns);
    RequestScaler::new(
        config,
        Clients {
            ecs,
            cloudwatch,
            sns,
        },
    )
}

/// RequestCount datapoints for 12:02..=12:08 (complete at 12:10:30): 50 each, and `newest` at
/// 12:08, the newest complete minute.
fn metrics(newest: f64) -> Rule {
    mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_output(move || {
        let mut result = MetricDataResult::builder().id("requests");
        for minute in 2..=8 {
            let at = Utc
                .with_ymd_and_hms(2026, 11, 25, 12, minute, 0)
                .single()
                .expect("valid");
            let value = if minute == 8 { newest } else { 50.0 };
            result = result
                .timestamps(CwDateTime::from_secs(at.timestamp()))
                .values(value);
        }
        GetMetricDataOutput::builder()
            .metric_data_results(result.build())
            .build()
    })
}

fn service(desired: i32, rolling: bool) -> Rule {
    mock!(aws_sdk_ecs::Client::describe_services).then_output(move || {
        let state = if rolling {
            DeploymentRolloutState::InProgress
        } else {
            DeploymentRolloutState::Completed
        };
        DescribeServicesOutput::builder()
            .services(
                Service::builder()
                    .service_name("phoenix-service")
                    .status("ACTIVE")
                    .desired_count(desired)
                    .running_count(desired)
                    .deployments(
                        Deployment::builder()
                            .status("PRIMARY")
                            .rollout_state(state)
                            .build(),
                    )
                    .build(),
            )
            .build()
    })
}

fn update_ok() -> Rule {
    mock!(aws_sdk_ecs::Client::update_service)
        .then_output(|| UpdateServiceOutput::builder().build())
}

fn publish_ok() -> Rule {
    mock!(aws_sdk_sns::Client::publish)
        .then_output(|| PublishOutput::builder().message_id("m-1").build())
}

fn service_error<E>(code: &'static str, make: fn(ErrorMetadata) -> E) -> impl Fn() -> E {
    move || {
        make(
            ErrorMetadata::builder()
                .code(code)
                .message("injected")
                .build(),
        )
    }
}

#[tokio::test]
async fn throttled_get_metric_data_injected_is_retryable_and_changes_nothing() {
    let throttled = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .then_error(service_error("Throttling", GetMetricDataError::generic));
    let (describe, update, publish) = (service(2, false), update_ok(), publish_ok());
    let scaler = handler(&[&describe, &update], &[&throttled], &[&publish]);
    let error = scaler
        .handle(Invocation::new(schedule("e-1"), now()))
        .await
        .expect_err("retryable");
    assert!(
        error.0.contains("cloudwatch:GetMetricData") && error.0.contains("Throttling"),
        "{error}"
    );
    assert_eq!(
        (
            describe.num_calls(),
            update.num_calls(),
            publish.num_calls()
        ),
        (0, 0, 0)
    );
}

#[tokio::test]
async fn a_failed_evaluation_is_not_remembered_so_lambdas_retry_runs_it() {
    let throttled = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .sequence()
        .error(service_error("Throttling", GetMetricDataError::generic))
        .build();
    let fine = metrics(700.0);
    let (describe, update, publish) = (service(2, false), update_ok(), publish_ok());
    let scaler = handler(&[&describe, &update], &[&throttled, &fine], &[&publish]);
    assert!(
        scaler
            .handle(Invocation::new(schedule("e-2"), now()))
            .await
            .is_err()
    );
    let outcome = scaler
        .handle(Invocation::new(schedule("e-2"), now()))
        .await
        .expect("the retry runs");
    assert_eq!(outcome.decision.as_deref(), Some("scale-out"));
    assert_eq!(update.num_calls(), 1);
    // … and a third delivery of the same event is a duplicate
    let outcome = scaler
        .handle(Invocation::new(schedule("e-2"), now()))
        .await
        .expect("ignored");
    assert!(outcome.ignored.is_some_and(|why| why.contains("duplicate")));
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn throttled_update_service_injected_is_retryable() {
    let (cw, describe) = (metrics(700.0), service(2, false));
    let update = mock!(aws_sdk_ecs::Client::update_service).then_error(service_error(
        "ThrottlingException",
        UpdateServiceError::generic,
    ));
    let publish = publish_ok();
    let scaler = handler(&[&describe, &update], &[&cw], &[&publish]);
    let error = scaler
        .handle(Invocation::new(schedule("e-3"), now()))
        .await
        .expect_err("retryable");
    assert!(error.0.contains("ecs:UpdateService"), "{error}");
    assert_eq!(
        publish.num_calls(),
        0,
        "no Notice for a change that did not happen"
    );
}

#[tokio::test]
async fn a_failed_notice_after_scaling_injected_is_reported_not_retried() {
    let (cw, describe, update) = (metrics(700.0), service(2, false), update_ok());
    let publish = mock!(aws_sdk_sns::Client::publish)
        .then_error(service_error("AuthorizationError", PublishError::generic));
    let scaler = handler(&[&describe, &update], &[&cw], &[&publish]);
    let outcome = scaler
        .handle(Invocation::new(schedule("e-4"), now()))
        .await
        .expect("the scaling stands");
    assert_eq!(update.num_calls(), 1);
    assert!(
        outcome
            .actions
            .iter()
            .any(|a| a.call == "sns:Publish" && a.status == ActionStatus::Failed)
    );
}

#[tokio::test]
async fn no_scale_in_during_a_deployment_and_dry_run_changes_nothing() {
    let (cw, describe) = (metrics(0.0), service(6, true));
    let scaler = handler(&[&describe], &[&cw], &[]);
    let outcome = scaler
        .handle(Invocation::new(schedule("e-5"), now()))
        .await
        .expect("handled");
    // minutes of 50 need 1 task, but a deployment is rolling out
    assert_eq!(outcome.decision.as_deref(), Some("hold"));
    assert!(outcome.reason.unwrap_or_default().contains("deployment"));

    let env = [
        ("CLUSTER_NAME", "phoenix-cluster"),
        ("SERVICE_NAME", "phoenix-service"),
        ("LOAD_BALANCER_DIMENSION", "app/phoenix-alb/1"),
        ("TARGET_GROUP_DIMENSION", "targetgroup/phoenix-tg/1"),
        (
            "ALERTS_TOPIC_ARN",
            "arn:aws:sns:eu-west-1:111122223333:phoenix-alerts",
        ),
        ("DRY_RUN", "true"),
    ];
    let config = load_config::<RequestScaler>(Vars::from_pairs(&env)).expect("config");
    let (cw, describe) = (metrics(900.0), service(2, false));
    let scaler = RequestScaler::new(
        config,
        Clients {
            ecs: mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&describe]),
            cloudwatch: mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, &[&cw]),
            sns: mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[]),
        },
    );
    let outcome = scaler
        .handle(Invocation::new(schedule("e-6"), now()))
        .await
        .expect("handled");
    assert_eq!(outcome.decision.as_deref(), Some("scale-out"));
    assert_eq!(outcome.actions.len(), 1);
    assert_eq!(outcome.actions[0].status, ActionStatus::DryRun);
}

#[test]
fn bad_config_names_every_bad_variable() {
    let env = [
        ("CLUSTER_NAME", "c"),
        ("LOAD_BALANCER_DIMENSION", "phoenix-alb"),
        ("TARGET_GROUP_DIMENSION", "targetgroup/x/1"),
        ("ALERTS_TOPIC_ARN", "arn:aws:sns:eu-west-1:1:a"),
        ("MIN_TASKS", "5"),
        ("MAX_TASKS", "3"),
    ];
    let errors = load_config::<RequestScaler>(Vars::from_pairs(&env)).expect_err("invalid");
    let vars = errors.vars();
    assert_eq!(
        vars,
        vec!["SERVICE_NAME", "MIN_TASKS", "LOAD_BALANCER_DIMENSION"],
        "{errors}"
    );
}

fn arbitrary_json() -> impl proptest::strategy::Strategy<Value = Value> {
    phoenix_testkit::arbitrary::json_value(
        &[
            "aws.events",
            "aws.cloudwatch",
            "Scheduled Event",
            "CloudWatch Alarm State Change",
            "ALARM",
        ],
        &["source", "detail-type", "detail", "id", "state", "value"],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    /// Random JSON never panics and, unless it is exactly a trigger, makes no AWS call.
    #[test]
    fn random_events_never_panic_and_call_nothing_unless_a_trigger(payload in arbitrary_json()) {
        let is_trigger = request_scaler::event::parse(&payload).is_ok();
        prop_assume!(!is_trigger);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        let scaler = handler(&[], &[], &[]);
        let outcome = runtime
            .block_on(scaler.handle(Invocation::new(payload, now())))
            .expect("ignored, not failed");
        prop_assert!(outcome.ignored.is_some());
    }
}
