//! Faults the emulator cannot produce, injected with aws-smithy-mocks, and random input.
//! Every mocked client rejects calls no rule expects (aws-smithy-mocks panics on an unmatched
//! request), so "no AWS call" is asserted by construction.

use std::time::Duration;

use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::operation::list_tasks::{ListTasksError, ListTasksOutput};
use aws_sdk_ecs::operation::run_task::{RunTaskError, RunTaskOutput};
use aws_sdk_ecs::operation::update_service::UpdateServiceOutput;
use aws_sdk_ecs::types::{Service, Task};
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::error::ErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use chrono::{DateTime, TimeZone, Utc};
use phoenix_core::lambda::load_config;
use phoenix_core::{ActionStatus, Function, Invocation, Severity, Vars};
use proptest::prelude::*;
use serde_json::{Value, json};
use task_recovery::{Clients, TaskRecovery};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 17, 0)
        .single()
        .expect("valid")
}

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(format!(
        "{}/../../events/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture");
    serde_json::from_str(&text).expect("json")
}

fn config() -> task_recovery::Config {
    let env = [
        ("CLUSTER_NAME", "phoenix-cluster"),
        (
            "ALERTS_TOPIC_ARN",
            "arn:aws:sns:eu-west-1:111122223333:phoenix-alerts",
        ),
        ("STANDALONE_FAMILIES", "phoenix-worker"),
        ("TASK_SUBNETS", "subnet-1,subnet-2"),
        ("TASK_SECURITY_GROUPS", "sg-1"),
    ];
    load_config::<TaskRecovery>(Vars::from_pairs(&env)).expect("config")
}

fn throttled_list_tasks() -> Rule {
    mock!(aws_sdk_ecs::Client::list_tasks).then_error(|| {
        ListTasksError::generic(
            ErrorMetadata::builder()
                .code("ThrottlingException")
                .message("Rate exceeded")
                .build(),
        )
    })
}

fn empty_list_tasks() -> Rule {
    mock!(aws_sdk_ecs::Client::list_tasks).then_output(|| ListTasksOutput::builder().build())
}

fn run_task_ok() -> Rule {
    mock!(aws_sdk_ecs::Client::run_task).then_output(|| {
        RunTaskOutput::builder()
            .tasks(
                Task::builder()
                    .task_arn("arn:aws:ecs:eu-west-1:111122223333:task/phoenix-cluster/new")
                    .build(),
            )
            .build()
    })
}

fn update_service_ok() -> Rule {
    mock!(aws_sdk_ecs::Client::update_service)
        .then_output(|| UpdateServiceOutput::builder().build())
}

fn publish_ok() -> Rule {
    mock!(aws_sdk_sns::Client::publish)
        .then_output(|| PublishOutput::builder().message_id("m-1").build())
}

/// The diagnosis read fails: the Notice says so, recovery goes on.
fn describe_task_definition_denied() -> Rule {
    mock!(aws_sdk_ecs::Client::describe_task_definition).then_error(|| {
        aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .message("no")
                .build(),
        )
    })
}

fn handler(ecs: aws_sdk_ecs::Client, sns: aws_sdk_sns::Client) -> TaskRecovery {
    let logs = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, &[]);
    TaskRecovery::new(config(), Clients { ecs, logs, sns })
}

#[tokio::test]
async fn throttled_list_tasks_injected_is_retryable_and_starts_nothing() {
    let (list, run, update) = (throttled_list_tasks(), run_task_ok(), update_service_ok());
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&list, &run, &update]);
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[]);
    let error = handler(ecs, sns)
        .handle(Invocation::new(
            fixture("ecs-task-stopped-standalone-crash.json"),
            now(),
        ))
        .await
        .expect_err("retryable");
    assert!(
        error.0.starts_with(
            "ecs:ListTasks on family:phoenix-worker failed: ThrottlingException: Rate exceeded"
        ),
        "{error}"
    );
    assert_eq!(
        (run.num_calls(), update.num_calls()),
        (0, 0),
        "no partial action"
    );
}

#[tokio::test]
async fn a_server_error_on_describe_services_injected_is_retryable_and_forces_nothing() {
    let describe = mock!(aws_sdk_ecs::Client::describe_services).then_http_response(|| {
        Response::new(
            StatusCode::try_from(500).expect("status"),
            SdkBody::from(r#"{"__type":"ServerException","message":"internal failure"}"#),
        )
    });
    let (list, update) = (empty_list_tasks(), update_service_ok());
    let ecs = mock_client!(
        aws_sdk_ecs,
        RuleMode::MatchAny,
        &[&list, &describe, &update]
    );
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[]);
    let error = handler(ecs, sns)
        .handle(Invocation::new(
            fixture("ecs-task-stopped-crash.json"),
            now(),
        ))
        .await
        .expect_err("retryable");
    assert!(
        error
            .0
            .contains("ecs:DescribeServices on phoenix-service failed: ServerException"),
        "{error}"
    );
    assert_eq!(update.num_calls(), 0);
}

#[tokio::test]
async fn throttling_then_success_injected_is_absorbed_by_sdk_retries() {
    let list = mock!(aws_sdk_ecs::Client::list_tasks)
        .sequence()
        .error(|| {
            ListTasksError::generic(
                ErrorMetadata::builder()
                    .code("ThrottlingException")
                    .message("slow down")
                    .build(),
            )
        })
        .output(|| ListTasksOutput::builder().build())
        .repeatedly()
        .build();
    let (run, publish, definition) = (
        run_task_ok(),
        publish_ok(),
        describe_task_definition_denied(),
    );
    let ecs = mock_client!(
        aws_sdk_ecs,
        RuleMode::MatchAny,
        &[&list, &run, &definition],
        |c| c.retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1))
        )
    );
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&publish]);
    let outcome = handler(ecs, sns)
        .handle(Invocation::new(
            fixture("ecs-task-stopped-standalone-crash.json"),
            now(),
        ))
        .await
        .expect("recovered");
    assert_eq!(outcome.decision.as_deref(), Some("start-replacement"));
    assert_eq!(run.num_calls(), 1, "one replacement");
    assert_eq!(publish.num_calls(), 1, "one Notice");
}

#[tokio::test]
async fn access_denied_on_run_task_injected_is_final_reported_and_not_retried() {
    let run = mock!(aws_sdk_ecs::Client::run_task).then_error(|| {
        RunTaskError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .message("not authorized to perform ecs:RunTask")
                .build(),
        )
    });
    let (list, publish, definition) = (
        empty_list_tasks(),
        publish_ok(),
        describe_task_definition_denied(),
    );
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&list, &run, &definition]);
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&publish]);
    let outcome = handler(ecs, sns)
        .handle(Invocation::new(
            fixture("ecs-task-stopped-standalone-crash.json"),
            now(),
        ))
        .await
        .expect("a final error is reported, not retried");
    assert_eq!(outcome.actions[0].status, ActionStatus::Failed);
    let notice = outcome.notice.expect("a human must know");
    assert_eq!(notice.severity, Severity::Error);
    assert!(
        notice.title.contains(
            "recovery failed: ecs:RunTask on phoenix-worker failed: AccessDeniedException"
        ),
        "{}",
        notice.title
    );
    assert_eq!(publish.num_calls(), 1);
    let details = notice.details.unwrap_or_default();
    assert!(details.starts_with("(last log lines unavailable: ecs:DescribeTaskDefinition on phoenix:7 failed: AccessDeniedException"), "{details}");
}

#[tokio::test]
async fn a_stuck_service_is_forced_once_with_the_desired_count_untouched() {
    let describe = mock!(aws_sdk_ecs::Client::describe_services).then_output(|| {
        DescribeServicesOutput::builder()
            .services(
                Service::builder()
                    .service_name("phoenix-service")
                    .status("ACTIVE")
                    .desired_count(2)
                    .running_count(1)
                    .pending_count(0)
                    .build(),
            )
            .build()
    });
    let update = mock!(aws_sdk_ecs::Client::update_service)
        .match_requests(|r| r.force_new_deployment() == Some(true) && r.desired_count().is_none())
        .then_output(|| UpdateServiceOutput::builder().build());
    let (list, publish, definition) = (
        empty_list_tasks(),
        publish_ok(),
        describe_task_definition_denied(),
    );
    let ecs = mock_client!(
        aws_sdk_ecs,
        RuleMode::MatchAny,
        &[&list, &describe, &update, &definition]
    );
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&publish]);
    let outcome = handler(ecs, sns)
        .handle(Invocation::new(
            fixture("ecs-task-stopped-crash.json"),
            now(),
        ))
        .await
        .expect("handled");
    assert_eq!(outcome.decision.as_deref(), Some("force-new-deployment"));
    assert_eq!(update.num_calls(), 1);
}

fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
    phoenix_testkit::arbitrary::json_value(
        &["ECS Task State Change", "STOPPED", "aws.ecs"],
        &["detail", "detail-type", "source", "id", "lastStatus"],
    )
}

fn untouchable() -> TaskRecovery {
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[]);
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[]);
    handler(ecs, sns)
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Random JSON is ignored, never a panic, never an AWS call.
    #[test]
    fn random_json_is_ignored_without_any_aws_call(payload in json_value()) {
        let outcome = block_on(untouchable().handle(Invocation::new(payload, now()))).expect("never an error");
        prop_assert!(outcome.ignored.is_some(), "{outcome:?}");
    }

    /// The real event with one field of `detail` replaced by junk: never a panic; when the damage
    /// makes the event malformed it is ignored without any AWS call.
    #[test]
    fn a_damaged_event_never_panics_and_is_ignored_when_malformed(
        key in prop_oneof![Just("taskArn"), Just("clusterArn"), Just("lastStatus"), Just("containers"), Just("version"), Just("stoppedAt"), Just("group"), Just("stopCode")],
        junk in prop_oneof![Just(json!([])), Just(json!({})), Just(json!(12)), Just(json!("not-a-date")), Just(json!(null)), Just(json!([{"exitCode": "one"}]))],
    ) {
        let mut event = fixture("ecs-task-stopped-crash.json");
        event["detail"][key] = junk.clone();
        let must_break = matches!(key, "taskArn" | "clusterArn" | "lastStatus")
            || (key == "containers" && !junk.is_null() && junk != json!([]))
            || (key == "version" && !junk.is_null() && !junk.is_i64())
            || (matches!(key, "stoppedAt" | "group" | "stopCode") && !junk.is_null() && !junk.is_string())
            || (key == "stoppedAt" && junk.is_string());
        match task_recovery::event::parse(&event, "phoenix-cluster") {
            Err(_) => {
                let outcome = block_on(untouchable().handle(Invocation::new(event.clone(), now()))).expect("never an error");
                prop_assert!(outcome.ignored.is_some(), "{outcome:?}");
            }
            Ok(_) => prop_assert!(!must_break, "{key} = {junk} must make the event malformed"),
        }
    }
}
