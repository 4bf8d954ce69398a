//! Faults the emulator cannot produce, injected with aws-smithy-mocks, against a real local
//! Slack sink (testkit's `SlackSink`). Every mocked client rejects calls no rule expects, so
//! "no AWS call" is asserted by construction; call counts say the rest.

use std::time::Duration;

use alarm_notifier::{AlarmNotifier, Clients};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
use aws_sdk_sns::operation::publish::{PublishError, PublishOutput};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::error::ErrorMetadata;
use chrono::{DateTime, TimeZone, Utc};
use phoenix_core::lambda::load_config;
use phoenix_core::{ActionStatus, Function, Invocation, Vars};
use phoenix_testkit::{Reply, SlackSink};
use proptest::prelude::*;
use serde_json::Value;

const SECRET: &str =
    "arn:aws:secretsmanager:eu-west-1:111122223333:secret:phoenix/slack-webhook-AbCdEf";
const ONCALL: &str = "arn:aws:sns:eu-west-1:111122223333:phoenix-oncall";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 15, 12)
        .single()
        .expect("valid")
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect("json")
}

fn config(dry_run: bool) -> alarm_notifier::Config {
    let dry = if dry_run { "true" } else { "false" };
    let env = [
        ("SLACK_WEBHOOK_SECRET_ARN", SECRET),
        ("ONCALL_TOPIC_ARN", ONCALL),
        ("DRY_RUN", dry),
    ];
    load_config::<AlarmNotifier>(Vars::from_pairs(&env)).expect("config")
}

fn secret_is(url: String) -> Rule {
    mock!(aws_sdk_secretsmanager::Client::get_secret_value)
        .match_requests(|r| r.secret_id() == Some(SECRET))
        .then_output(move || {
            GetSecretValueOutput::builder()
                .secret_string(url.clone())
                .build()
        })
}

fn publish_ok() -> Rule {
    mock!(aws_sdk_sns::Client::publish)
        .match_requests(|r| r.topic_arn() == Some(ONCALL))
        .then_output(|| PublishOutput::builder().message_id("oncall-1").build())
}

fn notifier(
    secrets: aws_sdk_secretsmanager::Client,
    sns: aws_sdk_sns::Client,
    dry_run: bool,
) -> AlarmNotifier {
    AlarmNotifier::new(config(dry_run), Clients { secrets, sns })
}

async fn handle(
    n: &AlarmNotifier,
    payload: &Value,
) -> Result<phoenix_core::Outcome, phoenix_core::RetryableError> {
    n.handle(Invocation::new(payload.clone(), now()).time_left(Duration::from_secs(20)))
        .await
}

#[tokio::test]
async fn secrets_manager_unavailable_injected_is_retryable_and_nothing_reaches_slack() {
    let sink = SlackSink::start().await.expect("sink");
    let secret = mock!(aws_sdk_secretsmanager::Client::get_secret_value)
        .sequence()
        .http_response(|| {
            Response::new(
                StatusCode::try_from(503).expect("status"),
                SdkBody::from(
                    r#"{"__type":"ServiceUnavailable","message":"Service is unavailable"}"#,
                ),
            )
        })
        .repeatedly()
        .build();
    let publish = publish_ok();
    let secrets = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, &[&secret]);
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&publish]);
    let n = notifier(secrets, sns, false);
    let error = handle(&n, &fixture("sns-cloudwatch-alarm-cpu.json"))
        .await
        .expect_err("retryable");
    assert!(
        error.0.contains("Slack: cannot read the Slack webhook: secretsmanager:GetSecretValue on arn:aws:secretsmanager:eu-west-1:111122223333:secret:phoenix/slack-webhook-AbCdEf failed")
            && error.0.contains("(HTTP 503, retryable)"),
        "{error}"
    );
    assert!(sink.received().is_empty());
    assert_eq!(publish.num_calls(), 1, "on-call still hears about it");
    assert!(secret.num_calls() >= 1);
}

#[tokio::test]
async fn an_sns_publish_failure_injected_fails_the_invocation_and_the_retry_does_not_post_slack_twice()
 {
    let sink = SlackSink::start().await.expect("sink");
    let secret = secret_is(sink.url());
    let publish = mock!(aws_sdk_sns::Client::publish)
        .sequence()
        .error(|| {
            PublishError::generic(
                ErrorMetadata::builder()
                    .code("AuthorizationError")
                    .message("User is not authorized to perform: SNS:Publish")
                    .build(),
            )
        })
        .output(|| PublishOutput::builder().message_id("oncall-2").build())
        .repeatedly()
        .build();
    let secrets = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, &[&secret]);
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&publish]);
    let n = notifier(secrets, sns, false);
    let event = fixture("sns-cloudwatch-alarm-cpu.json");
    let error = handle(&n, &event)
        .await
        .expect_err("never a silent success");
    assert!(
        error.0.contains("oncall: sns:Publish on arn:aws:sns:eu-west-1:111122223333:phoenix-oncall failed: AuthorizationError"),
        "{error}"
    );
    assert_eq!(sink.delivered().len(), 1, "Slack got it");

    // SNS/Lambda retries the event: Slack is not posted twice, on-call gets it now.
    let outcome = handle(&n, &event).await.expect("delivered");
    assert_eq!(
        outcome.decision.as_deref(),
        Some("delivered"),
        "{outcome:?}"
    );
    assert_eq!(outcome.actions[0].status, ActionStatus::Skipped);
    assert_eq!(outcome.actions[1].status, ActionStatus::Done);
    assert_eq!(sink.received().len(), 1);
    assert_eq!(publish.num_calls(), 2);
    assert_eq!(
        secret.num_calls(),
        1,
        "the webhook is read once per container"
    );
}

#[tokio::test]
async fn a_repeated_delivery_is_collapsed_and_the_webhook_is_read_once() {
    let sink = SlackSink::start().await.expect("sink");
    let (secret, publish) = (secret_is(sink.url()), publish_ok());
    let secrets = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, &[&secret]);
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&publish]);
    let n = notifier(secrets, sns, false);
    let first = handle(&n, &fixture("sns-cloudwatch-alarm-cpu.json"))
        .await
        .expect("ok");
    assert_eq!(first.decision.as_deref(), Some("delivered"));
    let again = handle(&n, &fixture("sns-cloudwatch-alarm-cpu.json"))
        .await
        .expect("ok");
    assert_eq!(
        again.decision.as_deref(),
        Some("collapsed-duplicate"),
        "{again:?}"
    );
    // The same state change by EventBridge is the same alarm: collapsed too.
    let by_event = handle(&n, &fixture("cloudwatch-alarm-cpu-alarm.json"))
        .await
        .expect("ok");
    assert_eq!(by_event.decision.as_deref(), Some("collapsed-duplicate"));
    // A different message is delivered, with the webhook already cached.
    let other = handle(&n, &fixture("sns-notice.json")).await.expect("ok");
    assert_eq!(other.decision.as_deref(), Some("delivered"));
    assert_eq!(sink.received().len(), 2);
    assert_eq!(publish.num_calls(), 2);
    assert_eq!(secret.num_calls(), 1);
}

#[tokio::test]
async fn a_slack_server_error_injected_is_retried_and_delivered_once() {
    let sink = SlackSink::start().await.expect("sink");
    sink.reply_next([Reply::ServerError, Reply::ServerError]);
    let (secret, publish) = (secret_is(sink.url()), publish_ok());
    let secrets = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, &[&secret]);
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&publish]);
    let outcome = handle(&notifier(secrets, sns, false), &fixture("sns-notice.json"))
        .await
        .expect("delivered");
    let detail = outcome.actions[0].detail.clone().unwrap_or_default();
    assert!(
        detail.contains("after 3 attempts (retried after 500, 500"),
        "{detail}"
    );
    assert_eq!(sink.delivered().len(), 1);
}

#[tokio::test]
async fn dry_run_renders_and_reports_without_any_call() {
    let sink = SlackSink::start().await.expect("sink");
    let secrets = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, &[]);
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[]);
    let outcome = handle(
        &notifier(secrets, sns, true),
        &fixture("sns-cloudwatch-alarm-cpu.json"),
    )
    .await
    .expect("dry run");
    assert_eq!(outcome.decision.as_deref(), Some("dry-run"));
    assert!(outcome.dry_run);
    assert!(
        outcome
            .actions
            .iter()
            .all(|a| a.status == ActionStatus::DryRun)
    );
    let rendered = &outcome.observed["messages"][0]["rendered"];
    assert_eq!(
        rendered["slack"]["blocks"][0]["text"]["text"],
        "🔴 ALARM: phoenix-cpu-high"
    );
    assert!(
        rendered["text"]
            .as_str()
            .unwrap_or_default()
            .contains("CPUUtilization 93.4%")
    );
    assert!(sink.received().is_empty());
}

#[tokio::test]
async fn events_that_are_not_ours_are_ignored_without_any_call() {
    let secrets = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, &[]);
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[]);
    let n = notifier(secrets, sns, false);
    for payload in [
        fixture("ecs-task-stopped-crash.json"),
        serde_json::json!({}),
    ] {
        let outcome = handle(&n, &payload).await.expect("ignored");
        assert!(outcome.ignored.is_some(), "{outcome:?}");
    }
}

fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
    phoenix_testkit::arbitrary::json_value(
        &["CloudWatch Alarm State Change", "ALARM"],
        &[
            "detail-type",
            "detail",
            "alarmName",
            "alarmData",
            "Records",
            "AlarmName",
            "schema",
        ],
    )
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

    /// Random JSON: never a panic; what is not ours is ignored without any AWS call.
    #[test]
    fn random_json_is_ignored_without_any_aws_call_when_not_ours(payload in json_value()) {
        if alarm_notifier::input::parse_event(&payload).is_err() {
            let secrets = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, &[]);
            let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[]);
            let n = notifier(secrets, sns, false);
            let outcome = block_on(n.handle(Invocation::new(payload, now()))).expect("never an error");
            prop_assert!(outcome.ignored.is_some(), "{outcome:?}");
        }
    }
}
