//! The harness is real: the world is seeded in the emulator over HTTP with the AWS SDK for Rust,
//! a Notice published to `alerts` comes back through the SQS tap, and the Slack sink is a real
//! HTTP server that answers what it is told.

use chrono::{TimeZone, Utc};
use phoenix_core::{Notice, NoticePublisher, Severity};
use phoenix_testkit::world::{self, read_tap};
use phoenix_testkit::{Emulator, Reply, SlackSink, World, WorldSpec, new_account};

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 15, 42)
        .single()
        .expect("valid")
}

async fn seeded() -> World {
    let spec = WorldSpec::new(&new_account(), "http://127.0.0.1:9/unused", now());
    World::seed(Emulator::shared(), &spec)
        .await
        .expect("world seeds")
}

#[tokio::test]
async fn the_world_is_seeded_as_phoenix_runs() {
    let world = seeded().await;
    let ecs = aws_sdk_ecs::Client::new(&world.sdk);
    let service = ecs
        .describe_services()
        .cluster(world::CLUSTER)
        .services(world::SERVICE)
        .send()
        .await
        .expect("describe");
    let service = &service.services()[0];
    assert_eq!((service.desired_count(), service.running_count()), (2, 2));
    assert_eq!(world.service_task_arns.len(), 2);
    let tasks = ecs
        .describe_tasks()
        .cluster(world::CLUSTER)
        .set_tasks(Some(world.service_task_arns.clone()))
        .send()
        .await
        .expect("tasks");
    for task in tasks.tasks() {
        assert_eq!(task.last_status(), Some("RUNNING"));
        assert_eq!(task.group(), Some("service:phoenix-service"));
    }
    let logs = aws_sdk_cloudwatchlogs::Client::new(&world.sdk);
    let stream = format!(
        "ecs/phoenix/{}",
        world::task_id(&world.service_task_arns[0])
    );
    let events = logs
        .get_log_events()
        .log_group_name(world::APP_LOG_GROUP)
        .log_stream_name(&stream)
        .send()
        .await
        .expect("log events");
    assert_eq!(events.events().len(), 30);
    let env = world.env();
    assert!(
        env["TARGET_GROUP_DIMENSION"].starts_with("targetgroup/phoenix-tg/"),
        "{env:?}"
    );
    assert!(
        env["LOAD_BALANCER_DIMENSION"].starts_with("app/phoenix-alb/"),
        "{env:?}"
    );
}

#[tokio::test]
async fn accounts_isolate_tests_sharing_one_emulator() {
    let a = seeded().await;
    let b = seeded().await;
    assert_ne!(a.alerts_topic_arn, b.alerts_topic_arn);
    assert!(
        a.alerts_topic_arn.contains(&a.account),
        "{}",
        a.alerts_topic_arn
    );
}

#[tokio::test]
async fn a_notice_published_to_alerts_comes_back_through_the_sqs_tap() {
    let world = seeded().await;
    let publisher = NoticePublisher::new(
        aws_sdk_sns::Client::new(&world.sdk),
        &world.alerts_topic_arn,
    );
    let notice = Notice::new(
        Severity::Warning,
        "harness",
        "a test notice",
        "published and read back",
        now(),
    )
    .field("Account", &world.account)
    .event_id(Some("evt-harness"));
    let message_id = publisher.publish(&notice).await.expect("published");
    let published = read_tap(&world.sdk, &world.alerts_queue_url, 5)
        .await
        .expect("tap read");
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(published[0].message_id, message_id);
    assert_eq!(
        published[0].subject.as_deref(),
        Some("[WARNING] a test notice")
    );
    assert_eq!(Notice::from_json(&published[0].message), Some(notice));
}

#[tokio::test]
async fn the_slack_sink_records_posts_and_answers_as_scripted() {
    let sink = SlackSink::start().await.expect("sink");
    sink.reply_next([
        Reply::RateLimited {
            retry_after_secs: 1,
        },
        Reply::NotFound,
    ]);
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(post(&sink.url(), r#"{"text":"hi"}"#).await);
    }
    assert_eq!(statuses, [429, 404, 200]);
    let received = sink.received();
    assert_eq!(received.len(), 3);
    assert_eq!(received[0].json()["text"], "hi");
    assert_eq!(received[0].path, "/services/T0PHOENIX/B0OPS/sandbox");
    assert_eq!(sink.delivered().len(), 1);
}

async fn post(url: &str, body: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_once('/').expect("path");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let request = format!(
        "POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}
