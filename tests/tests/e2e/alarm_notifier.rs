//! alarm-notifier end to end: messages published to the emulator's `alerts` topic, delivered to
//! the handler as the SNS subscription would (read from the topic's tap queue, wrapped as an
//! SNS event), posted to a real local Slack sink, published to the `oncall` topic (read back
//! from its tap queue; people's inboxes are HTTP subscriptions filtered on the `severity`
//! attribute), the ledger in the world's DynamoDB table. Each `notifier(&world)` is a separate
//! container.

use std::time::Duration;

use alarm_notifier::AlarmNotifier;
use chrono::{DateTime, TimeZone, Utc};
use phoenix_core::lambda::load_config;
use phoenix_core::{Function, Invocation, Outcome, RetryableError, Vars};
use phoenix_testkit::world::{Published, as_sns_event, read_tap};
use phoenix_testkit::{Emulator, Reply, SlackSink, World, WorldSpec, new_account};
use serde_json::Value;

const DASHBOARD: &str = "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards:name=phoenix-ops-phoenix";

/// `events/<name>` of this checkout (read where cargo runs the tests: the shared target
/// directory may hold a test kit built from another checkout).
fn fixture(name: &str) -> Value {
    let package_dir = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned());
    let path = std::path::Path::new(&package_dir)
        .join("../events")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

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

/// One container of the notifier, configured as the template configures it.
fn notifier(world: &World) -> AlarmNotifier {
    let mut env = world.env();
    env.insert("DASHBOARD_URL".to_owned(), DASHBOARD.to_owned());
    let config = load_config::<AlarmNotifier>(Vars::new(|k| env.get(k).cloned())).expect("config");
    AlarmNotifier::from_sdk(config, &world.sdk)
}

/// The body CloudWatch publishes for an alarm (the `Message` of an SNS fixture).
fn body_of(fixture_name: &str) -> String {
    fixture(fixture_name)["Records"][0]["Sns"]["Message"]
        .as_str()
        .expect("message")
        .to_owned()
}

/// Publishes to `alerts` as an alarm action (or a function) would, and returns the SNS event
/// the notifier's subscription would receive.
async fn raise(world: &World, fixture_name: &str) -> Value {
    let sns = aws_sdk_sns::Client::new(&world.sdk);
    sns.publish()
        .topic_arn(&world.alerts_topic_arn)
        .subject("ALARM: \"phoenix-cpu-high\" in EU (Ireland)")
        .message(body_of(fixture_name))
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
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<Outcome, RetryableError> {
    n.handle(
        Invocation::new(event.clone(), now)
            .request_id(request_id)
            .time_left(Duration::from_secs(30)),
    )
    .await
}

/// What reached the `oncall` topic (its tap queue): (subject, message).
async fn oncall(world: &World) -> Vec<(String, String)> {
    read_tap(&world.sdk, &world.oncall_queue_url, 2)
        .await
        .expect("oncall tap")
        .into_iter()
        .map(|p| (p.subject.unwrap_or_default(), p.message))
        .collect()
}

/// A person's inbox: an HTTP subscription to `oncall` (moto POSTs every notification that
/// passes the subscription's filter), filtered on the `severity` attribute the notifier sets, as
/// the template filters people's subscriptions (warning and above by default).
async fn inbox(world: &World, severities: &[&str]) -> SlackSink {
    let inbox = SlackSink::start().await.expect("inbox");
    let filter = serde_json::json!({ "severity": severities }).to_string();
    aws_sdk_sns::Client::new(&world.sdk)
        .subscribe()
        .topic_arn(&world.oncall_topic_arn)
        .protocol("http")
        .endpoint(inbox.url())
        .attributes("FilterPolicy", filter)
        .send()
        .await
        .expect("subscribe");
    inbox
}

/// The subjects of the notifications an inbox received.
fn subjects(inbox: &SlackSink) -> Vec<String> {
    inbox
        .received()
        .iter()
        .map(|r| r.json())
        .filter(|body| body["Type"] == "Notification")
        .map(|body| body["Subject"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn an_alarm_reaches_slack_once_with_the_dashboard_and_oncall_with_its_severity() {
    let sink = SlackSink::start().await.expect("sink");
    let world = seeded(&sink.url()).await;
    let person = inbox(&world, &["warning", "error", "critical"]).await;
    let errors = inbox(&world, &["error"]).await;
    let event = raise(&world, "sns-cloudwatch-alarm-cpu.json").await;
    let outcome = run(&notifier(&world), &event, "req-1", t0())
        .await
        .expect("delivered");
    assert_eq!(
        outcome.decision.as_deref(),
        Some("delivered"),
        "{outcome:?}"
    );

    let slack = sink.delivered();
    assert_eq!(slack.len(), 1);
    assert_eq!(slack[0].path, "/services/T0PHOENIX/B0OPS/sandbox");
    let payload = slack[0].json();
    assert_eq!(
        payload["blocks"][0]["text"]["text"],
        "🔴 ALARM: phoenix-cpu-high"
    );
    assert_eq!(
        payload["blocks"][1]["text"]["text"],
        "*CPUUtilization 93.4% &gt; 80% on phoenix-cluster/phoenix-service*"
    );
    assert!(
        payload
            .to_string()
            .contains(&format!("\"url\":\"{DASHBOARD}\"")),
        "a button to the dashboard"
    );

    let oncall = oncall(&world).await;
    assert_eq!(oncall.len(), 1, "{oncall:?}");
    let (subject, text) = &oncall[0];
    assert_eq!(subject, "ALARM: phoenix-cpu-high");
    assert!(
        text.starts_with("🔴 ALARM: phoenix-cpu-high\nCPUUtilization 93.4% > 80% on phoenix-cluster/phoenix-service\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("Dashboard: {DASHBOARD}\n")),
        "{text}"
    );
    // severity=error: it reaches people, and a subscription to errors only.
    assert_eq!(subjects(&person), ["ALARM: phoenix-cpu-high"]);
    assert_eq!(subjects(&errors), ["ALARM: phoenix-cpu-high"]);
    // Never re-published to alerts.
    let alerts = read_tap(&world.sdk, &world.alerts_queue_url, 1)
        .await
        .expect("alerts tap");
    assert!(alerts.is_empty(), "{alerts:?}");
}

#[tokio::test]
async fn the_same_sns_message_in_two_containers_is_posted_once_and_paged_once() {
    let sink = SlackSink::start().await.expect("sink");
    let world = seeded(&sink.url()).await;
    let event = raise(&world, "sns-cloudwatch-alarm-cpu.json").await;
    let (a, b) = (notifier(&world), notifier(&world));
    let (first, second) = tokio::join!(
        run(&a, &event, "req-a", t0()),
        run(&b, &event, "req-b", t0())
    );
    for outcome in [first.expect("a"), second.expect("b")] {
        assert!(
            matches!(
                outcome.decision.as_deref(),
                Some("delivered" | "collapsed-duplicate")
            ),
            "{outcome:?}"
        );
    }
    // SNS delivers it once more, later, to a third container.
    let late = run(
        &notifier(&world),
        &event,
        "req-c",
        t0() + chrono::Duration::seconds(40),
    )
    .await
    .expect("collapsed");
    assert_eq!(late.decision.as_deref(), Some("collapsed-duplicate"));
    assert_eq!(sink.received().len(), 1, "one Slack post");
    let oncall = oncall(&world).await;
    assert_eq!(oncall.len(), 1, "one page: {oncall:?}");
}

#[tokio::test]
async fn the_recovery_handled_by_another_container_says_how_long_the_alarm_lasted() {
    let sink = SlackSink::start().await.expect("sink");
    let world = seeded(&sink.url()).await;
    let person = inbox(&world, &["warning", "error", "critical"]).await;
    let infos = inbox(&world, &["info"]).await;
    let alarm = raise(&world, "sns-cloudwatch-alarm-cpu.json").await;
    run(&notifier(&world), &alarm, "req-1", t0())
        .await
        .expect("alarm delivered");
    let ok = raise(&world, "sns-cloudwatch-alarm-ok.json").await;
    let outcome = run(
        &notifier(&world),
        &ok,
        "req-2",
        t0() + chrono::Duration::minutes(35),
    )
    .await
    .expect("ok delivered");
    assert_eq!(outcome.observed["messages"][0]["lasted_seconds"], 35 * 60);
    let slack = sink.delivered();
    assert_eq!(slack.len(), 2);
    let recovery = slack[1].json();
    assert_eq!(
        recovery["blocks"][1]["text"]["text"],
        "*CPUUtilization back to 41.2% (alarm at &gt; 80%) on phoenix-cluster/phoenix-service — alarm lasted 35m 0s*"
    );
    assert_eq!(recovery["attachments"][0]["color"], "#2EB67D");
    // on-call has both, people only the ALARM: a recovery is information (severity info).
    assert_eq!(oncall(&world).await.len(), 2);
    assert_eq!(subjects(&person), ["ALARM: phoenix-cpu-high"]);
    assert_eq!(subjects(&infos), ["OK: phoenix-cpu-high"]);
}

#[tokio::test]
async fn a_documentdb_failover_and_the_daily_digest_reach_slack_and_oncall() {
    let sink = SlackSink::start().await.expect("sink");
    let world = seeded(&sink.url()).await;
    let warnings = inbox(&world, &["warning"]).await;
    let n = notifier(&world);
    // The failover arrives from EventBridge directly.
    let failover = run(&n, &fixture("docdb-cluster-failover.json"), "req-1", t0())
        .await
        .expect("delivered");
    assert_eq!(failover.decision.as_deref(), Some("delivered"));
    // The digest arrives on alerts like every Notice.
    let digest = raise(&world, "sns-notice-digest.json").await;
    run(&n, &digest, "req-2", t0()).await.expect("delivered");
    let headers: Vec<String> = sink
        .delivered()
        .iter()
        .map(|m| {
            m.json()["blocks"][0]["text"]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(
        headers,
        [
            "🟠 WARNING: DocumentDB failover on cluster phoenix-docdb",
            "📊 Daily digest for phoenix-ops-prod: 19 Nov 07:00 to 20 Nov 07:00 UTC — needs attention"
        ]
    );
    // both are warnings: a warning-only subscription gets both
    assert_eq!(
        subjects(&warnings),
        [
            "WARNING: DocumentDB failover on cluster phoenix-docdb",
            "Daily digest for phoenix-ops-prod: 19 Nov 07:00 to 20 Nov 07:00 UTC - needs attention"
        ]
    );
    assert_eq!(oncall(&world).await.len(), 2);
}

#[tokio::test]
async fn slack_answering_429_then_200_is_delivered_once_after_waiting_retry_after() {
    let sink = SlackSink::start().await.expect("sink");
    sink.reply_next([Reply::RateLimited {
        retry_after_secs: 1,
    }]);
    let world = seeded(&sink.url()).await;
    let event = raise(&world, "sns-cloudwatch-alarm-cpu.json").await;
    let outcome = run(&notifier(&world), &event, "req-1", t0())
        .await
        .expect("delivered");
    let received = sink.received();
    assert_eq!(
        received.iter().map(|r| r.answered).collect::<Vec<_>>(),
        [429, 200]
    );
    let waited = received[1].at - received[0].at;
    assert!(waited >= Duration::from_secs(1), "waited only {waited:?}");
    let detail = outcome.actions[0].detail.clone().unwrap_or_default();
    assert!(
        detail.contains("after 2 attempts (retried after 429 (Retry-After 1 s)"),
        "{detail}"
    );
}

#[tokio::test]
async fn slack_answering_404_fails_the_invocation_and_its_retry_does_not_page_twice() {
    let sink = SlackSink::start().await.expect("sink");
    sink.always(Reply::NotFound);
    let world = seeded(&sink.url()).await;
    let event = raise(&world, "sns-cloudwatch-alarm-cpu.json").await;
    let error = run(&notifier(&world), &event, "req-1", t0())
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
    assert_eq!(sink.received().len(), 1, "a 404 is not retried at once");
    assert_eq!(oncall(&world).await.len(), 1);
    // Lambda retries the event (same request id), in another container: Slack is tried again,
    // on-call is not paged twice.
    sink.always(Reply::Ok);
    let retried = run(&notifier(&world), &event, "req-1", t0())
        .await
        .expect("delivered on the retry");
    assert_eq!(retried.decision.as_deref(), Some("delivered"));
    assert_eq!(sink.delivered().len(), 1);
    assert!(oncall(&world).await.is_empty(), "not paged twice");
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
    let error = run(&notifier(&world), &event, "req-1", t0())
        .await
        .expect_err("retryable");
    assert!(
        error.0.contains(&format!(
            "Slack webhook unreachable after 3 attempts: http://127.0.0.1:{port}"
        )) && error.0.to_lowercase().contains("connection refused"),
        "{error}"
    );
}
