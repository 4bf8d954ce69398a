//! alarm-notifier end to end: CloudWatch alarm messages published to the emulator's `alerts`
//! topic, delivered to the handler as the SNS subscription would (read from the topic's tap
//! queue, wrapped as an SNS event), posted to a real local Slack sink, and published to the
//! `oncall` topic (read back from its tap queue).

use std::time::Duration;

use alarm_notifier::AlarmNotifier;
use chrono::{DateTime, TimeZone, Utc};
use phoenix_core::lambda::load_config;
use phoenix_core::{Function, Invocation, Outcome, RetryableError, Vars};
use phoenix_testkit::world::{Published, as_sns_event, read_tap};
use phoenix_testkit::{Emulator, Reply, SlackSink, World, WorldSpec, fixture, new_account};
use serde_json::Value;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 15, 12)
        .single()
        .expect("valid")
}

async fn seeded(webhook_url: &str) -> World {
    World::seed(
        Emulator::shared(),
        &WorldSpec::new(&new_account(), webhook_url, t0()),
    )
    .await
    .expect("world seeds")
}

fn notifier(world: &World) -> AlarmNotifier {
    let env = world.env();
    let config = load_config::<AlarmNotifier>(Vars::new(|k| env.get(k).cloned())).expect("config");
    AlarmNotifier::from_sdk(config, &world.sdk)
}

/// The body CloudWatch publishes for an alarm (the `Message` of an SNS fixture).
fn alarm_body(fixture_name: &str) -> String {
    fixture(fixture_name)["Records"][0]["Sns"]["Message"]
        .as_str()
        .expect("message")
        .to_owned()
}

/// Publishes to `alerts` as a CloudWatch alarm action would, and returns the SNS event the
/// notifier's subscription would receive.
async fn raise(world: &World, fixture_name: &str) -> Value {
    let sns = aws_sdk_sns::Client::new(&world.sdk);
    sns.publish()
        .topic_arn(&world.alerts_topic_arn)
        .subject("ALARM: \"phoenix-cpu-high\" in EU (Ireland)")
        .message(alarm_body(fixture_name))
        .send()
        .await
        .expect("publish to alerts");
    let published: Vec<Published> = read_tap(&world.sdk, &world.alerts_queue_url, 5)
        .await
        .expect("alerts tap");
    assert_eq!(published.len(), 1, "{published:?}");
    as_sns_event(&world.alerts_topic_arn, &published)
}

async fn run(
    n: &AlarmNotifier,
    event: &Value,
    now: DateTime<Utc>,
) -> Result<Outcome, RetryableError> {
    n.handle(Invocation::new(event.clone(), now).time_left(Duration::from_secs(30)))
        .await
}

#[tokio::test]
async fn an_alarm_published_to_alerts_reaches_slack_once_and_oncall_as_text() {
    let sink = SlackSink::start().await.expect("sink");
    let world = seeded(&sink.url()).await;
    let event = raise(&world, "sns-cloudwatch-alarm-cpu.json").await;
    let outcome = run(&notifier(&world), &event, t0())
        .await
        .expect("delivered");
    assert_eq!(
        outcome.decision.as_deref(),
        Some("delivered"),
        "{outcome:?}"
    );

    let slack = sink.delivered();
    assert_eq!(slack.len(), 1);
    assert_eq!(slack[0].method, "POST");
    assert_eq!(slack[0].path, "/services/T0PHOENIX/B0OPS/sandbox");
    assert!(
        slack[0]
            .content_type
            .as_deref()
            .unwrap_or_default()
            .starts_with("application/json")
    );
    let payload = slack[0].json();
    assert_eq!(
        payload["blocks"][0]["text"]["text"],
        "🔴 ALARM: phoenix-cpu-high"
    );
    assert_eq!(
        payload["blocks"][1]["text"]["text"],
        "*CPUUtilization 93.4% &gt; 80% on phoenix-cluster/phoenix-service*"
    );
    assert_eq!(payload["attachments"][0]["color"], "#D93025");

    let oncall = read_tap(&world.sdk, &world.oncall_queue_url, 5)
        .await
        .expect("oncall tap");
    assert_eq!(oncall.len(), 1, "{oncall:?}");
    assert_eq!(
        oncall[0].subject.as_deref(),
        Some("ALARM: phoenix-cpu-high")
    );
    assert!(
        oncall[0].message.starts_with("🔴 ALARM: phoenix-cpu-high\nCPUUtilization 93.4% > 80% on phoenix-cluster/phoenix-service\n"),
        "{}",
        oncall[0].message
    );
    assert!(oncall[0].message.contains("Time: 2026-11-20 10:15:10 UTC"));
    // Never re-published to alerts.
    let alerts = read_tap(&world.sdk, &world.alerts_queue_url, 1)
        .await
        .expect("alerts tap");
    assert!(alerts.is_empty(), "{alerts:?}");
}

#[tokio::test]
async fn the_same_sns_message_delivered_twice_is_posted_once() {
    let sink = SlackSink::start().await.expect("sink");
    let world = seeded(&sink.url()).await;
    let event = raise(&world, "sns-cloudwatch-alarm-cpu.json").await;
    let n = notifier(&world);
    run(&n, &event, t0()).await.expect("delivered");
    let again = run(&n, &event, t0() + chrono::Duration::seconds(40))
        .await
        .expect("collapsed");
    assert_eq!(
        again.decision.as_deref(),
        Some("collapsed-duplicate"),
        "{again:?}"
    );
    assert_eq!(sink.received().len(), 1);
    let oncall = read_tap(&world.sdk, &world.oncall_queue_url, 3)
        .await
        .expect("oncall tap");
    assert_eq!(oncall.len(), 1);
}

#[tokio::test]
async fn the_recovery_to_ok_says_how_long_the_alarm_lasted() {
    let sink = SlackSink::start().await.expect("sink");
    let world = seeded(&sink.url()).await;
    let n = notifier(&world);
    let alarm = raise(&world, "sns-cloudwatch-alarm-cpu.json").await;
    run(&n, &alarm, t0()).await.expect("alarm delivered");
    let ok = raise(&world, "sns-cloudwatch-alarm-ok.json").await;
    let outcome = run(&n, &ok, t0() + chrono::Duration::minutes(35))
        .await
        .expect("ok delivered");
    assert_eq!(outcome.observed["messages"][0]["lasted_seconds"], 35 * 60);
    let slack = sink.delivered();
    assert_eq!(slack.len(), 2);
    let recovery = slack[1].json();
    assert_eq!(
        recovery["blocks"][0]["text"]["text"],
        "✅ OK: phoenix-cpu-high"
    );
    assert_eq!(
        recovery["blocks"][1]["text"]["text"],
        "*CPUUtilization back to 41.2% (alarm at &gt; 80%) on phoenix-cluster/phoenix-service — alarm lasted 35m 0s*"
    );
    assert_eq!(recovery["attachments"][0]["color"], "#2EB67D");
}

#[tokio::test]
async fn slack_answering_429_then_200_is_delivered_once_after_waiting_retry_after() {
    let sink = SlackSink::start().await.expect("sink");
    sink.reply_next([Reply::RateLimited {
        retry_after_secs: 1,
    }]);
    let world = seeded(&sink.url()).await;
    let event = raise(&world, "sns-cloudwatch-alarm-cpu.json").await;
    let outcome = run(&notifier(&world), &event, t0())
        .await
        .expect("delivered");
    let received = sink.received();
    assert_eq!(
        received.iter().map(|r| r.answered).collect::<Vec<_>>(),
        [429, 200]
    );
    assert_eq!(sink.delivered().len(), 1);
    let waited = received[1].at - received[0].at;
    assert!(waited >= Duration::from_secs(1), "waited only {waited:?}");
    let detail = outcome.actions[0].detail.clone().unwrap_or_default();
    assert!(
        detail.contains("after 2 attempts (retried after 429 (Retry-After 1 s)"),
        "{detail}"
    );
}

#[tokio::test]
async fn slack_answering_404_fails_the_invocation_with_a_clear_error() {
    let sink = SlackSink::start().await.expect("sink");
    sink.always(Reply::NotFound);
    let world = seeded(&sink.url()).await;
    let event = raise(&world, "sns-cloudwatch-alarm-cpu.json").await;
    let n = notifier(&world);
    let error = run(&n, &event, t0())
        .await
        .expect_err("never a silent success");
    assert!(
        error.0.contains("Slack: Slack webhook answered 404 no_service: the webhook was revoked or its channel deleted — the message was NOT delivered"),
        "{error}"
    );
    assert!(
        !error.0.contains("/services/"),
        "the webhook URL is a secret: {error}"
    );
    assert_eq!(
        sink.received().len(),
        1,
        "a 404 is not retried within the invocation"
    );
    // On-call still got it; the retry of the event tries Slack again (and only Slack).
    let oncall = read_tap(&world.sdk, &world.oncall_queue_url, 3)
        .await
        .expect("oncall tap");
    assert_eq!(oncall.len(), 1);
    run(&n, &event, t0()).await.expect_err("still failing");
    assert_eq!(sink.received().len(), 2);
    let oncall = read_tap(&world.sdk, &world.oncall_queue_url, 1)
        .await
        .expect("oncall tap");
    assert!(oncall.is_empty(), "not published twice: {oncall:?}");
}

#[tokio::test]
async fn slack_down_is_a_retryable_error() {
    // A port nobody listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let world = seeded(&format!("http://127.0.0.1:{port}/services/T0/B0/down")).await;
    let event = raise(&world, "sns-cloudwatch-alarm-cpu.json").await;
    let error = run(&notifier(&world), &event, t0())
        .await
        .expect_err("retryable");
    assert!(
        error.0.contains(&format!(
            "Slack webhook unreachable after 3 attempts: http://127.0.0.1:{port}"
        )) && error.0.to_lowercase().contains("connection refused"),
        "{error}"
    );
}
