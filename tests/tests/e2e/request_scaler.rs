//! request-scaler end to end: RequestCount datapoints put into the emulator's CloudWatch, the
//! real handler reads them with GetMetricData and sets the service's desiredCount in its ECS.

use chrono::{DateTime, Duration, TimeZone, Utc};
use phoenix_core::lambda::load_config;
use phoenix_core::{Function, Invocation, Notice, Outcome, Severity, Vars};
use phoenix_testkit::world::{self, read_tap};
use phoenix_testkit::{Emulator, World, WorldSpec, new_account};
use request_scaler::RequestScaler;
use serde_json::{Value, json};

/// Evaluation time: the newest complete minute is 12:08.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 10, 30)
        .single()
        .expect("valid")
}

fn minute(m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, m, 0)
        .single()
        .expect("valid")
}

fn schedule(id: &str, at: DateTime<Utc>) -> Value {
    json!({"version": "0", "id": id, "detail-type": "Scheduled Event", "source": "aws.events",
           "account": "111122223333", "time": at.to_rfc3339(), "region": "eu-west-1",
           "resources": ["arn:aws:events:eu-west-1:111122223333:rule/phoenix-scaler"], "detail": {}})
}

async fn seeded() -> World {
    let spec = WorldSpec::new(&new_account(), "http://127.0.0.1:9/unused", now());
    World::seed(Emulator::shared(), &spec)
        .await
        .expect("world seeds")
}

fn scaler(world: &World) -> RequestScaler {
    let env = world.env();
    let config = load_config::<RequestScaler>(Vars::new(|k| env.get(k).cloned())).expect("config");
    RequestScaler::from_sdk(config, &world.sdk)
}

async fn run(scaler: &RequestScaler, event: Value, at: DateTime<Utc>) -> Outcome {
    scaler
        .handle(Invocation::new(event, at))
        .await
        .expect("handled")
}

async fn desired(world: &World) -> i32 {
    let ecs = aws_sdk_ecs::Client::new(&world.sdk);
    let out = ecs
        .describe_services()
        .cluster(world::CLUSTER)
        .services(world::SERVICE)
        .send()
        .await
        .expect("describe");
    out.services()[0].desired_count()
}

async fn notices(world: &World) -> Vec<Notice> {
    read_tap(&world.sdk, &world.alerts_queue_url, 1)
        .await
        .expect("tap")
        .iter()
        .filter_map(|p| Notice::from_json(&p.message))
        .collect()
}

#[tokio::test]
async fn a_spike_scales_out_at_once_and_the_same_data_changes_nothing() {
    let world = seeded().await;
    assert_eq!(desired(&world).await, 2);
    // 12:00..=12:08: 50 req/min, then 700 in the newest complete minute
    world
        .put_requests(minute(0), &[50, 50, 50, 50, 50, 50, 50, 50, 700])
        .await
        .expect("metrics");
    let scaler = scaler(&world);
    let outcome = run(&scaler, schedule("s-1", now()), now()).await;
    assert_eq!(
        outcome.decision.as_deref(),
        Some("scale-out"),
        "{outcome:?}"
    );
    assert!(
        outcome
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("newest minute 700 req → 7 task(s)")),
        "{:?}",
        outcome.reason
    );
    assert_eq!(desired(&world).await, 7);
    let published = notices(&world).await;
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(published[0].severity, Severity::Info);
    assert_eq!(published[0].title, "phoenix-service scaled out 2 → 7 tasks");

    // The same minute evaluated again (the alarm fast path, a new event id): nothing changes.
    let alarm = json!({"id": "a-1", "source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change",
        "region": "eu-west-1", "detail": {"alarmName": "phoenix-requests-high", "state": {"value": "ALARM"}}});
    let again = run(&scaler, alarm, now() + Duration::seconds(10)).await;
    assert_eq!(again.decision.as_deref(), Some("hold"), "{again:?}");
    assert!(again.actions.is_empty(), "{:?}", again.actions);
    assert_eq!(desired(&world).await, 7);
    assert!(notices(&world).await.is_empty());

    // And the same event delivered twice is recognised.
    let duplicate = run(&scaler, schedule("s-1", now()), now()).await;
    assert!(duplicate.ignored.is_some_and(|w| w.contains("duplicate")));
}

#[tokio::test]
async fn zero_traffic_scales_in_to_min_after_the_window_and_demand_above_max_warns() {
    let world = seeded().await;
    // 1,200 req/min needs 12 tasks: capped at 10, with a warning
    world
        .put_requests(minute(0), &[50, 50, 50, 50, 50, 50, 50, 50, 1_200])
        .await
        .expect("metrics");
    let scaler = scaler(&world);
    let outcome = run(&scaler, schedule("s-1", now()), now()).await;
    assert_eq!(outcome.decision.as_deref(), Some("scale-out"));
    assert_eq!(desired(&world).await, 10);
    let published = notices(&world).await;
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].severity, Severity::Warning);
    assert!(
        published[0]
            .title
            .contains("needs 12 tasks but is capped at 10")
    );

    // Traffic stops at 12:09. At 12:14:30 the window (12:08..=12:12) still holds the spike …
    let later = now() + Duration::minutes(4);
    let outcome = run(&scaler, schedule("s-2", later), later).await;
    assert_eq!(
        outcome.decision.as_deref(),
        Some("hold"),
        "{:?}",
        outcome.reason
    );
    assert_eq!(desired(&world).await, 10);
    // … at 12:15:30 minutes 12:09..=12:13 are all quiet: back to the minimum (no datapoints at all)
    let later = now() + Duration::minutes(5);
    let outcome = run(&scaler, schedule("s-3", later), later).await;
    assert_eq!(
        outcome.decision.as_deref(),
        Some("scale-in"),
        "{:?}",
        outcome.reason
    );
    assert_eq!(desired(&world).await, 1);
    let published = notices(&world).await;
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].title, "phoenix-service scaled in 10 → 1 tasks");
}

#[tokio::test]
async fn unrelated_events_are_ignored_and_change_nothing() {
    let world = seeded().await;
    let scaler = scaler(&world);
    for event in [
        phoenix_testkit::fixture("ecs-task-stopped-crash.json"),
        json!({"hello": "world"}),
        json!("not an event"),
    ] {
        let outcome = run(&scaler, event, now()).await;
        assert!(outcome.ignored.is_some(), "{outcome:?}");
    }
    assert_eq!(desired(&world).await, 2);
    assert!(notices(&world).await.is_empty());
}
