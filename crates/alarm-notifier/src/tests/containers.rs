//! Once across containers, against the emulator's ledger table: two separate function
//! instances (two containers) handling the same message — at the same time, or one after the
//! other, by SNS and by EventBridge — post once and page once; and the OK handled by another
//! container than its ALARM still says how long the alarm lasted.

use std::time::Duration;

use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use phoenix_core::{Function, Invocation, Outcome, RetryableError, SdkConfig};
use phoenix_testkit::SlackSink;
use serde_json::Value;

use super::support::{emulator_with_ledger, fixture, ledger_items, notifier, now};
use crate::{AlarmNotifier, Clients};

struct Container {
    notifier: AlarmNotifier,
    publish: Rule,
}

fn container(sdk: &SdkConfig, sink: &SlackSink) -> Container {
    let url = sink.url();
    let secret = mock!(aws_sdk_secretsmanager::Client::get_secret_value).then_output(move || {
        GetSecretValueOutput::builder()
            .secret_string(url.clone())
            .build()
    });
    let publish = mock!(aws_sdk_sns::Client::publish)
        .then_output(|| PublishOutput::builder().message_id("m").build());
    let clients = Clients {
        secrets: mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, &[&secret]),
        sns: mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&publish]),
        dynamodb: aws_sdk_dynamodb::Client::new(sdk),
    };
    Container {
        notifier: notifier(clients, false),
        publish,
    }
}

async fn handle(
    c: &Container,
    payload: &Value,
    request_id: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Outcome, RetryableError> {
    c.notifier
        .handle(
            Invocation::new(payload.clone(), at)
                .request_id(request_id)
                .time_left(Duration::from_secs(20)),
        )
        .await
}

#[tokio::test]
async fn the_same_message_in_two_containers_at_once_is_posted_once_and_paged_once() {
    let sdk = emulator_with_ledger().await;
    let sink = SlackSink::start().await.expect("sink");
    let (a, b) = (container(&sdk, &sink), container(&sdk, &sink));
    let event = fixture("sns-cloudwatch-alarm-cpu.json");
    let (first, second) = tokio::join!(
        handle(&a, &event, "req-a", now()),
        handle(&b, &event, "req-b", now())
    );
    let (first, second) = (first.expect("a"), second.expect("b"));
    // Who wins which channel is a race; that each channel is sent once is not.
    for outcome in [&first, &second] {
        assert!(
            matches!(
                outcome.decision.as_deref(),
                Some("delivered" | "collapsed-duplicate")
            ),
            "{outcome:?}"
        );
    }
    assert_eq!(sink.received().len(), 1, "one Slack post");
    assert_eq!(a.publish.num_calls() + b.publish.num_calls(), 1, "one page");
    let items = ledger_items(&sdk).await;
    assert_eq!(
        items,
        [
            ("alarm-notifier:alarm-since:arn:aws:cloudwatch:eu-west-1:111122223333:alarm:phoenix-cpu-high".to_owned(), "done".to_owned()),
            ("alarm-notifier:oncall:alarm:arn:aws:cloudwatch:eu-west-1:111122223333:alarm:phoenix-cpu-high:ALARM:2026-11-20T10:15:10.123+00:00".to_owned(), "done".to_owned()),
            ("alarm-notifier:slack:alarm:arn:aws:cloudwatch:eu-west-1:111122223333:alarm:phoenix-cpu-high:ALARM:2026-11-20T10:15:10.123+00:00".to_owned(), "done".to_owned()),
        ]
    );
}

#[tokio::test]
async fn the_same_state_change_by_sns_and_by_eventbridge_is_one_message() {
    let sdk = emulator_with_ledger().await;
    let sink = SlackSink::start().await.expect("sink");
    let (a, b) = (container(&sdk, &sink), container(&sdk, &sink));
    let by_sns = handle(
        &a,
        &fixture("sns-cloudwatch-alarm-cpu.json"),
        "req-a",
        now(),
    )
    .await
    .expect("delivered");
    assert_eq!(by_sns.decision.as_deref(), Some("delivered"));
    let later = now() + chrono::Duration::seconds(40);
    let by_event = handle(
        &b,
        &fixture("cloudwatch-alarm-cpu-alarm.json"),
        "req-b",
        later,
    )
    .await
    .expect("collapsed");
    assert_eq!(
        by_event.decision.as_deref(),
        Some("collapsed-duplicate"),
        "{by_event:?}"
    );
    assert!(
        by_event.actions[0]
            .detail
            .clone()
            .unwrap_or_default()
            .starts_with("already delivered 40 s ago (posted to http://127.0.0.1:"),
        "{:?}",
        by_event.actions
    );
    assert_eq!(sink.received().len(), 1);
    assert_eq!(a.publish.num_calls() + b.publish.num_calls(), 1);
    // A message that is not the same is delivered.
    let notice = handle(&b, &fixture("sns-notice.json"), "req-c", later)
        .await
        .expect("delivered");
    assert_eq!(notice.decision.as_deref(), Some("delivered"));
    assert_eq!(sink.received().len(), 2);
}

#[tokio::test]
async fn an_ok_in_another_container_says_how_long_the_alarm_lasted() {
    let sdk = emulator_with_ledger().await;
    let sink = SlackSink::start().await.expect("sink");
    let (a, b) = (container(&sdk, &sink), container(&sdk, &sink));
    handle(
        &a,
        &fixture("sns-cloudwatch-alarm-cpu.json"),
        "req-a",
        now(),
    )
    .await
    .expect("ALARM delivered");
    let ok = handle(
        &b,
        &fixture("sns-cloudwatch-alarm-ok.json"),
        "req-b",
        now() + chrono::Duration::minutes(35),
    )
    .await
    .expect("OK delivered");
    assert_eq!(ok.observed["messages"][0]["lasted_seconds"], 35 * 60);
    let slack = sink.delivered();
    assert_eq!(slack.len(), 2);
    assert_eq!(
        slack[1].json()["blocks"][1]["text"]["text"],
        "*CPUUtilization back to 41.2% (alarm at &gt; 80%) on phoenix-cluster/phoenix-service — alarm lasted 35m 0s*"
    );
}
