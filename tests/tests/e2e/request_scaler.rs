//! request-scaler end to end: RequestCount (and CPUUtilization) datapoints put into the
//! emulator's CloudWatch, the real handler reads them (GetMetricData at a container's first
//! evaluation, GetMetricStatistics after it) and sets the service's desiredCount in its ECS.

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
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

fn minute(m: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0)
        .single()
        .expect("valid")
        + Duration::minutes(m)
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

async fn set_desired(world: &World, count: i32) {
    aws_sdk_ecs::Client::new(&world.sdk)
        .update_service()
        .cluster(world::CLUSTER)
        .service(world::SERVICE)
        .desired_count(count)
        .send()
        .await
        .expect("update");
}

/// The service's CPUUtilization (Average), as ECS publishes it, one value per minute.
async fn put_cpu(world: &World, first: DateTime<Utc>, percent: &[f64]) {
    let dimension = |n: &str, v: &str| Dimension::builder().name(n).value(v).build();
    let data: Vec<MetricDatum> = percent
        .iter()
        .enumerate()
        .map(|(i, p)| {
            MetricDatum::builder()
                .metric_name("CPUUtilization")
                .dimensions(dimension("ClusterName", world::CLUSTER))
                .dimensions(dimension("ServiceName", world::SERVICE))
                .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                    (first + Duration::minutes(i as i64)).timestamp(),
                ))
                .unit(StandardUnit::Percent)
                .value(*p)
                .build()
        })
        .collect();
    aws_sdk_cloudwatch::Client::new(&world.sdk)
        .put_metric_data()
        .namespace("AWS/ECS")
        .set_metric_data(Some(data))
        .send()
        .await
        .expect("put CPU");
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
    // the one GetMetricData call reached back over the previous days (first evaluation)
    assert_eq!(outcome.observed["fetched"]["previous_days"], json!(true));
    assert_eq!(outcome.observed["fetched"]["metrics"], json!(2));
    assert_eq!(desired(&world).await, 7);
    let published = notices(&world).await;
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(published[0].severity, Severity::Info);
    assert_eq!(published[0].title, "phoenix-service scaled out 2 → 7 tasks");
    assert!(
        published[0]
            .fields
            .iter()
            .any(|f| f.label == "Driven by" && f.value == "requests (newest minute)")
    );

    // The same minute evaluated again (the alarm fast path, a new event id): nothing changes.
    let alarm = json!({"id": "a-1", "source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change",
        "region": "eu-west-1", "detail": {"alarmName": "phoenix-requests-high", "state": {"value": "ALARM"}}});
    let again = run(&scaler, alarm, now() + Duration::seconds(10)).await;
    assert_eq!(again.decision.as_deref(), Some("hold"), "{again:?}");
    assert!(again.actions.is_empty(), "{:?}", again.actions);
    assert_eq!(again.observed["fetched"]["previous_days"], json!(false));
    assert_eq!(desired(&world).await, 7);
    assert!(notices(&world).await.is_empty());

    // And the same event delivered twice is recognised.
    let duplicate = run(&scaler, schedule("s-1", now()), now()).await;
    assert!(duplicate.ignored.is_some_and(|w| w.contains("duplicate")));
}

#[tokio::test]
async fn demand_above_max_warns_and_stopped_traffic_is_released_after_half_an_hour() {
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

    // Traffic stops at 12:09. At 12:14:30 it has been quiet for 4 minutes: capacity is held …
    let later = now() + Duration::minutes(4);
    let outcome = run(&scaler, schedule("s-2", later), later).await;
    assert_eq!(outcome.decision.as_deref(), Some("hold"), "{outcome:?}");
    assert!(
        outcome
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("traffic stopped 4 min ago")),
        "{:?}",
        outcome.reason
    );
    assert_eq!(desired(&world).await, 10);
    // … and after half an hour without a request (12:09..=12:38), back to the minimum
    let later = now() + Duration::minutes(30);
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
async fn a_parked_service_stays_parked_until_someone_unparks_it() {
    let world = seeded().await;
    set_desired(&world, 0).await;
    world
        .put_requests(minute(0), &[900; 9])
        .await
        .expect("metrics");
    let scaler = scaler(&world);
    let outcome = run(&scaler, schedule("p-1", now()), now()).await;
    assert_eq!(outcome.decision.as_deref(), Some("parked"), "{outcome:?}");
    assert!(outcome.actions.is_empty());
    assert_eq!(desired(&world).await, 0);
    assert!(
        notices(&world).await.is_empty(),
        "no Notice for a parked service"
    );
    // unpark: a person sets a count; the next evaluation scales from there
    set_desired(&world, 1).await;
    let outcome = run(&scaler, schedule("p-2", now()), now()).await;
    assert_eq!(
        outcome.decision.as_deref(),
        Some("scale-out"),
        "{outcome:?}"
    );
    assert_eq!(desired(&world).await, 9);
}

#[tokio::test]
async fn a_cpu_burn_with_few_requests_scales_out_on_cpu() {
    let world = seeded().await;
    world
        .put_requests(minute(0), &[30; 9])
        .await
        .expect("metrics");
    // two tasks at 90 % in the newest complete minute: 180 % of one task needs 3 at 70 %
    put_cpu(
        &world,
        minute(0),
        &[20.0, 20.0, 20.0, 20.0, 20.0, 20.0, 20.0, 60.0, 90.0],
    )
    .await;
    let scaler = scaler(&world);
    let outcome = run(&scaler, schedule("c-1", now()), now()).await;
    assert_eq!(
        outcome.decision.as_deref(),
        Some("scale-out"),
        "{outcome:?}"
    );
    assert_eq!(desired(&world).await, 3);
    let published = notices(&world).await;
    assert_eq!(published.len(), 1);
    assert!(
        published[0]
            .fields
            .iter()
            .any(|f| f.label == "Driven by" && f.value == "CPU (newest minute)"),
        "{:?}",
        published[0].fields
    );

    // The next minute's read of the last hour goes through GetMetricStatistics (one request per
    // signal, translated for the emulator like GetMetricData): the same minutes, CPU included.
    put_cpu(&world, minute(9), &[55.0]).await;
    world.put_requests(minute(9), &[30]).await.expect("metrics");
    let later = now() + Duration::minutes(1);
    let next = run(&scaler, schedule("c-2", later), later).await;
    assert_eq!(
        next.observed["fetched"]["call"],
        json!("GetMetricStatistics")
    );
    assert_eq!(next.observed["fetched"]["previous_days"], json!(false));
    let minutes = &next.observed["minutes"];
    assert_eq!(minutes["requests"], json!(vec![30; 10]), "{minutes}");
    assert_eq!(
        minutes["cpu_percent"],
        json!([20.0, 20.0, 20.0, 20.0, 20.0, 20.0, 20.0, 60.0, 90.0, 55.0]),
        "{minutes}"
    );
}

#[tokio::test]
async fn a_rise_seen_yesterday_at_this_time_is_provisioned_ahead() {
    let world = seeded().await;
    // yesterday 11:30..12:39: 200 req/min, 700 from 12:09 on; today 11:50..12:08: 200
    let yesterday = minute(-24 * 60 - 30);
    let mut day: Vec<u64> = vec![200; 39];
    day.extend(vec![700; 31]);
    world.put_requests(yesterday, &day).await.expect("metrics");
    world
        .put_requests(minute(-10), &[200; 19])
        .await
        .expect("metrics");
    let scaler = scaler(&world);
    let outcome = run(&scaler, schedule("d-1", now()), now()).await;
    assert_eq!(
        outcome.decision.as_deref(),
        Some("scale-out"),
        "{outcome:?}"
    );
    assert!(
        outcome.reason.as_deref().is_some_and(
            |r| r.contains("daily pattern expects 700 req") && r.contains("tracks yesterday")
        ),
        "{:?}",
        outcome.reason
    );
    assert_eq!(desired(&world).await, 7);
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
