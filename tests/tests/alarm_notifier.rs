//! alarm-notifier end to end: messages published to the emulator's `alerts` topic, delivered to
//! the handler as the SNS subscription would (read from the topic's tap queue, wrapped as an
//! SNS event), posted to a real local Slack sink, published to the `oncall` topic (read back
//! from its tap queue, with its `severity` attribute and a people's subscription filtered on
//! it), the ledger in the emulator's DynamoDB. Each `notifier(&world)` is a separate container.

use std::time::Duration;

use alarm_notifier::AlarmNotifier;
use aws_sdk_sqs::types::QueueAttributeName;
use chrono::{DateTime, TimeZone, Utc};
use phoenix_core::lambda::load_config;
use phoenix_core::{Function, Invocation, Outcome, RetryableError, Vars};
use phoenix_testkit::world::{Published, as_sns_event, read_tap};
use phoenix_testkit::{Emulator, Reply, SlackSink, World, WorldSpec, new_account};
use serde_json::Value;

const DASHBOARD: &str = "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards:name=phoenix-ops-phoenix";
const LEDGER_TABLE: &str = "phoenix-ledger";

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
    let world = World::seed(
        Emulator::shared(),
        &WorldSpec::new(&new_account(), webhook_url, t0()),
    )
    .await
    .expect("world seeds");
    if !world.env().contains_key("LEDGER_TABLE") {
        create_ledger_table(&world).await;
    }
    world
}

/// The ledger table, for a world seeded before the test kit made it (the kit's world seeds it
/// and sets `LEDGER_TABLE`; then this is not called). DynamoDB CreateTable in moto's JSON
/// protocol over plain HTTP, since this test package links no DynamoDB client: the same spec
/// as the template (`pk` string hash key, on demand).
async fn create_ledger_table(world: &World) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = Emulator::shared().url().to_owned();
    let host = url.trim_start_matches("http://").to_owned();
    let body = format!(
        r#"{{"TableName":"{LEDGER_TABLE}","AttributeDefinitions":[{{"AttributeName":"pk","AttributeType":"S"}}],"KeySchema":[{{"AttributeName":"pk","KeyType":"HASH"}}],"BillingMode":"PAY_PER_REQUEST"}}"#
    );
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-amz-json-1.0\r\n\
         X-Amz-Target: DynamoDB_20120810.CreateTable\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=AKIAPHOENIXTEST/20261120/{}/dynamodb/aws4_request, SignedHeaders=host, Signature=0\r\n\
         x-moto-account-id: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        world.region,
        world.account,
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(&host)
        .await
        .expect("the emulator answers");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("CreateTable sent");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .await
        .expect("CreateTable answered");
    assert!(
        answer.starts_with("HTTP/1.1 200") || answer.contains("ResourceInUseException"),
        "CreateTable: {answer}"
    );
}

/// One container of the notifier, configured as the template configures it.
fn notifier(world: &World) -> AlarmNotifier {
    let mut env = world.env();
    env.entry("LEDGER_TABLE".to_owned())
        .or_insert_with(|| LEDGER_TABLE.to_owned());
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

/// What reached a queue subscribed to `oncall`: (subject, severity attribute, message).
async fn oncall_messages(world: &World, queue_url: &str) -> Vec<(String, String, String)> {
    let sqs = aws_sdk_sqs::Client::new(&world.sdk);
    let mut out = Vec::new();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(if out.is_empty() { 2 } else { 0 })
            .send()
            .await
            .expect("receive");
        if received.messages().is_empty() {
            return out;
        }
        for message in received.messages() {
            let body: Value =
                serde_json::from_str(message.body().unwrap_or("{}")).expect("SNS envelope");
            out.push((
                body["Subject"].as_str().unwrap_or_default().to_owned(),
                body["MessageAttributes"]["severity"]["Value"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                body["Message"].as_str().unwrap_or_default().to_owned(),
            ));
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("delete");
        }
    }
}

/// A person's subscription to `oncall`, filtered as the template filters it: warning and up.
async fn people(world: &World) -> String {
    let (sqs, sns) = (
        aws_sdk_sqs::Client::new(&world.sdk),
        aws_sdk_sns::Client::new(&world.sdk),
    );
    let url = sqs
        .create_queue()
        .queue_name("phoenix-people")
        .send()
        .await
        .expect("queue")
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue ARN")
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .unwrap_or_default();
    sns.subscribe()
        .topic_arn(&world.oncall_topic_arn)
        .protocol("sqs")
        .endpoint(arn)
        .attributes(
            "FilterPolicy",
            r#"{"severity": ["warning", "error", "critical"]}"#,
        )
        .send()
        .await
        .expect("subscribe");
    url
}

#[tokio::test]
async fn an_alarm_reaches_slack_once_with_the_dashboard_and_oncall_with_its_severity() {
    let sink = SlackSink::start().await.expect("sink");
    let world = seeded(&sink.url()).await;
    let person = people(&world).await;
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

    let oncall = oncall_messages(&world, &world.oncall_queue_url).await;
    assert_eq!(oncall.len(), 1, "{oncall:?}");
    let (subject, severity, text) = &oncall[0];
    assert_eq!(subject, "ALARM: phoenix-cpu-high");
    assert_eq!(severity, "error");
    assert!(
        text.starts_with("🔴 ALARM: phoenix-cpu-high\nCPUUtilization 93.4% > 80% on phoenix-cluster/phoenix-service\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("Dashboard: {DASHBOARD}\n")),
        "{text}"
    );
    assert_eq!(
        oncall_messages(&world, &person).await.len(),
        1,
        "an error reaches people"
    );
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
    let oncall = oncall_messages(&world, &world.oncall_queue_url).await;
    assert_eq!(oncall.len(), 1, "one page: {oncall:?}");
}

#[tokio::test]
async fn the_recovery_handled_by_another_container_says_how_long_the_alarm_lasted() {
    let sink = SlackSink::start().await.expect("sink");
    let world = seeded(&sink.url()).await;
    let person = people(&world).await;
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
    let severities: Vec<String> = oncall_messages(&world, &world.oncall_queue_url)
        .await
        .into_iter()
        .map(|(_, severity, _)| severity)
        .collect();
    assert_eq!(severities, ["error", "info"]);
    let paged: Vec<String> = oncall_messages(&world, &person)
        .await
        .into_iter()
        .map(|(subject, _, _)| subject)
        .collect();
    assert_eq!(paged, ["ALARM: phoenix-cpu-high"]);
}

#[tokio::test]
async fn a_documentdb_failover_and_the_daily_digest_reach_slack_and_oncall() {
    let sink = SlackSink::start().await.expect("sink");
    let world = seeded(&sink.url()).await;
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
    let oncall: Vec<(String, String)> = oncall_messages(&world, &world.oncall_queue_url)
        .await
        .into_iter()
        .map(|(subject, severity, _)| (subject, severity))
        .collect();
    assert_eq!(
        oncall,
        [
            (
                "WARNING: DocumentDB failover on cluster phoenix-docdb".to_owned(),
                "warning".to_owned()
            ),
            (
                "Daily digest for phoenix-ops-prod: 19 Nov 07:00 to 20 Nov 07:00 UTC ? needs attention"
                    .to_owned(),
                "warning".to_owned()
            ),
        ]
    );
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
    assert_eq!(
        oncall_messages(&world, &world.oncall_queue_url).await.len(),
        1
    );
    // Lambda retries the event (same request id), in another container: Slack is tried again,
    // on-call is not paged twice.
    sink.always(Reply::Ok);
    let retried = run(&notifier(&world), &event, "req-1", t0())
        .await
        .expect("delivered on the retry");
    assert_eq!(retried.decision.as_deref(), Some("delivered"));
    assert_eq!(sink.delivered().len(), 1);
    assert!(
        oncall_messages(&world, &world.oncall_queue_url)
            .await
            .is_empty(),
        "not paged twice"
    );
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
