//! The handler's behaviour with mocked AWS: parking, duplicates and id-less events, dry run,
//! deployments, the CPU signal in the Notice, which CloudWatch call reads the signals when, the
//! configuration, and random input.

use phoenix_core::lambda::load_config;
use phoenix_core::outcome::NoticeDelivery;
use phoenix_core::{ActionStatus, Function, Vars};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::mocks::*;
use crate::RequestScaler;

#[tokio::test]
async fn a_parked_service_is_left_alone_whatever_the_traffic() {
    let (cw, describe, update, publish) = (
        metrics(1_500.0, Some(100.0)),
        service(0, false),
        update_ok(),
        publish_ok(),
    );
    let scaler = handler(&[&describe, &update], &[&cw], &[&publish]);
    let outcome = scaler
        .handle(invocation(schedule("e-1")))
        .await
        .expect("handled");
    assert_eq!(outcome.decision.as_deref(), Some("parked"), "{outcome:?}");
    assert!(
        outcome
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("left alone"))
    );
    assert!(outcome.actions.is_empty() && outcome.notice.is_none());
    assert_eq!((update.num_calls(), publish.num_calls()), (0, 0));
}

#[tokio::test]
async fn an_event_without_an_id_is_evaluated_every_time_and_one_with_an_id_once() {
    let (cw, describe, update, publish) = (
        metrics(700.0, None),
        service(2, false),
        update_ok(),
        publish_ok(),
    );
    // the container's first read is GetMetricData, the next ones GetMetricStatistics (2 a read)
    let (gms, _) = recording_statistics(700.0, 40.0);
    let reads = || cw.num_calls() + gms.num_calls() / 2;
    let scaler = handler(&[&describe, &update], &[&cw, &gms], &[&publish]);
    let mut no_id = schedule("");
    no_id.as_object_mut().map(|o| o.remove("id"));
    for _ in 0..2 {
        let outcome = scaler
            .handle(invocation(no_id.clone()))
            .await
            .expect("handled");
        assert!(outcome.ignored.is_none(), "{outcome:?}");
        assert_eq!(outcome.event_id, None);
    }
    assert_eq!(reads(), 2);
    // with an id: the second delivery is a duplicate …
    let first = scaler
        .handle(invocation(schedule("e-9")))
        .await
        .expect("handled");
    assert!(first.ignored.is_none());
    let second = scaler
        .handle(invocation(schedule("e-9")))
        .await
        .expect("handled");
    assert!(second.ignored.is_some_and(|w| w.contains("duplicate")));
    assert_eq!(reads(), 3);
    // … and id-less events never count as duplicates of each other
    let third = scaler.handle(invocation(no_id)).await.expect("handled");
    assert!(third.ignored.is_none());
}

#[tokio::test]
async fn a_failed_evaluation_is_not_remembered_so_lambdas_retry_runs_it() {
    let throttled = aws_smithy_mocks::mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .sequence()
        .http_status(503, None)
        .build();
    let fine = metrics(700.0, None);
    let (describe, update, publish) = (service(2, false), update_ok(), publish_ok());
    let scaler = handler(&[&describe, &update], &[&throttled, &fine], &[&publish]);
    assert!(scaler.handle(invocation(schedule("e-2"))).await.is_err());
    let outcome = scaler
        .handle(invocation(schedule("e-2")))
        .await
        .expect("the retry runs");
    assert_eq!(outcome.decision.as_deref(), Some("scale-out"));
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn dry_run_decides_and_reports_but_changes_nothing() {
    let (cw, describe) = (metrics(900.0, None), service(2, false));
    let scaler = handler_with(&[("DRY_RUN", "true")], &[&describe], &[&cw], &[]);
    let outcome = scaler
        .handle(invocation(schedule("e-6")))
        .await
        .expect("handled");
    assert_eq!(outcome.decision.as_deref(), Some("scale-out"));
    assert_eq!(outcome.actions.len(), 1);
    assert_eq!(outcome.actions[0].status, ActionStatus::DryRun);
    assert_eq!(outcome.notice_delivery, Some(NoticeDelivery::DryRun));
    assert!(outcome.notice.is_some());
}

#[tokio::test]
async fn no_scale_in_during_a_deployment() {
    let (cw, describe) = (metrics(0.0, None), service(6, true));
    let scaler = handler(&[&describe], &[&cw], &[]);
    let outcome = scaler
        .handle(invocation(schedule("e-5")))
        .await
        .expect("handled");
    assert_eq!(outcome.decision.as_deref(), Some("hold"));
    assert!(outcome.reason.unwrap_or_default().contains("deployment"));
}

#[tokio::test]
async fn a_cpu_scale_out_says_cpu_drove_it() {
    // 50 requests need one task; CPU at 100 % on 2 tasks: saturated, at least 4
    let (cw, describe, update, publish) = (
        metrics(50.0, Some(100.0)),
        service(2, false),
        update_ok(),
        publish_ok(),
    );
    let scaler = handler(&[&describe, &update], &[&cw], &[&publish]);
    let outcome = scaler
        .handle(invocation(schedule("e-7")))
        .await
        .expect("handled");
    assert_eq!(
        outcome.decision.as_deref(),
        Some("scale-out"),
        "{outcome:?}"
    );
    let notice = outcome.notice.expect("a Notice");
    assert_eq!(notice.title, "phoenix-service scaled out 2 → 4 tasks");
    let driven = notice
        .fields
        .iter()
        .find(|f| f.label == "Driven by")
        .map(|f| f.value.as_str());
    assert_eq!(driven, Some("CPU (newest minute)"));
    assert!(
        notice
            .fields
            .iter()
            .any(|f| f.label == "CPU (newest)" && f.value.contains("100 % of 2 task(s)"))
    );
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn the_previous_days_hourly_by_get_metric_data_the_last_hour_by_get_metric_statistics() {
    let (gmd, seen) = recording_metrics(50.0);
    let (gms, stats) = recording_statistics(50.0, 40.0);
    let describe = service(1, false);
    let scaler = handler(&[&describe], &[&gmd, &gms], &[]);
    let mut calls = Vec::new();
    for minute in [0, 1, 2, 60, 61] {
        let at = now() + chrono::Duration::minutes(minute);
        let outcome = scaler
            .handle(phoenix_core::Invocation::new(
                schedule(&format!("e-{minute}")),
                at,
            ))
            .await
            .expect("handled");
        assert!(outcome.ignored.is_none());
        assert_eq!(outcome.decision.as_deref(), Some("hold"), "{outcome:?}");
        calls.push(outcome.observed["fetched"]["call"].clone());
    }
    assert_eq!(
        calls,
        [
            "GetMetricData",
            "GetMetricStatistics",
            "GetMetricStatistics",
            "GetMetricData",
            "GetMetricStatistics"
        ]
    );
    // GetMetricData at the container's first evaluation and an hour later: requests and CPU,
    // back three days
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    let span = |(_, start, end): (usize, i64, i64)| (end - start) / 60;
    assert!(seen.iter().all(|(metrics, ..)| *metrics == 2), "{seen:?}");
    assert!(
        seen.iter().all(|c| span(*c) == 3 * 1_440 + 20 + 1),
        "{seen:?}"
    );
    // every other minute: one GetMetricStatistics call per signal, over the last hour
    let stats = stats.lock().expect("lock").clone();
    let mut asked: Vec<(&str, &str)> = stats
        .iter()
        .map(|(name, stat, ..)| (name.as_str(), stat.as_str()))
        .collect();
    asked.sort_unstable();
    assert_eq!(
        asked,
        [
            ("CPUUtilization", "Average"),
            ("CPUUtilization", "Average"),
            ("CPUUtilization", "Average"),
            ("RequestCount", "Sum"),
            ("RequestCount", "Sum"),
            ("RequestCount", "Sum"),
        ]
    );
    assert!(
        stats
            .iter()
            .all(|(.., start, end)| (end - start) / 60 == 62 + 1),
        "{stats:?}"
    );
}

#[tokio::test]
async fn get_metric_statistics_answers_drive_the_decision_like_get_metric_data() {
    // the first evaluation reads 50 a minute (GetMetricData); the next read
    // (GetMetricStatistics) has 700 in the newest minute and CPU at 40 %
    let (gmd, _) = recording_metrics(50.0);
    let (gms, _) = recording_statistics(700.0, 40.0);
    let (describe, update, publish) = (service(1, false), update_ok(), publish_ok());
    let scaler = handler(&[&describe, &update], &[&gmd, &gms], &[&publish]);
    let first = scaler
        .handle(invocation(schedule("e-1")))
        .await
        .expect("handled");
    assert_eq!(first.decision.as_deref(), Some("hold"), "{first:?}");
    let next = scaler
        .handle(phoenix_core::Invocation::new(
            schedule("e-2"),
            now() + chrono::Duration::seconds(20),
        ))
        .await
        .expect("handled");
    assert_eq!(next.observed["fetched"]["call"], "GetMetricStatistics");
    assert_eq!(next.decision.as_deref(), Some("scale-out"), "{next:?}");
    assert!(
        next.reason
            .as_deref()
            .is_some_and(|r| r.contains("newest minute 700 req → 7 task(s)")),
        "{:?}",
        next.reason
    );
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn with_the_cpu_signal_off_one_metric_is_requested() {
    let (cw, seen) = recording_metrics(50.0);
    let (gms, stats) = recording_statistics(50.0, 40.0);
    let describe = service(1, false);
    let scaler = handler_with(
        &[("TARGET_CPU_PERCENT", "0")],
        &[&describe],
        &[&cw, &gms],
        &[],
    );
    for (id, at) in [
        ("e-1", now()),
        ("e-2", now() + chrono::Duration::minutes(1)),
    ] {
        scaler
            .handle(phoenix_core::Invocation::new(schedule(id), at))
            .await
            .expect("handled");
    }
    assert_eq!(seen.lock().expect("lock")[0].0, 1);
    let stats = stats.lock().expect("lock").clone();
    assert_eq!(stats.len(), 1, "{stats:?}");
    assert_eq!(stats[0].0, "RequestCount");
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
        ("TARGET_CPU_PERCENT", "150"),
    ];
    let errors = load_config::<RequestScaler>(Vars::from_pairs(&env)).expect_err("invalid");
    assert_eq!(
        errors.vars(),
        vec![
            "SERVICE_NAME",
            "TARGET_CPU_PERCENT",
            "MIN_TASKS",
            "LOAD_BALANCER_DIMENSION"
        ],
        "{errors}"
    );
    // the scaler never parks the service itself: MIN_TASKS 0 is refused
    let mut env: Vec<(&str, &str)> = ENV.to_vec();
    env.push(("MIN_TASKS", "0"));
    let errors = load_config::<RequestScaler>(Vars::from_pairs(&env)).expect_err("invalid");
    assert_eq!(errors.vars(), vec!["MIN_TASKS"]);
    assert!(phoenix_core::lambda::config_vars::<RequestScaler>().contains(&"TARGET_CPU_PERCENT"));
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    phoenix_testkit::arbitrary::json_value(
        &[
            "aws.events",
            "aws.cloudwatch",
            "Scheduled Event",
            "CloudWatch Alarm State Change",
            "ALARM",
        ],
        &[
            "source",
            "detail-type",
            "detail",
            "id",
            "state",
            "value",
            "alarmName",
            "region",
        ],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    /// Random JSON never panics and, unless it is exactly a trigger, makes no AWS call.
    #[test]
    fn random_events_never_panic_and_call_nothing_unless_a_trigger(payload in arbitrary_json()) {
        let is_trigger = crate::event::parse(&payload).is_ok();
        prop_assume!(!is_trigger);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        let scaler = handler(&[], &[], &[]);
        let outcome = runtime
            .block_on(scaler.handle(invocation(payload)))
            .expect("ignored, not failed");
        prop_assert!(outcome.ignored.is_some());
    }

    /// Any JSON, trigger or not, is answered without a panic (a trigger against AWS that
    /// answers nothing useful fails cleanly).
    #[test]
    fn any_event_is_answered(payload in arbitrary_json()) {
        let _ = crate::event::parse(&payload);
        let _ = crate::event::event_id(&payload);
    }
}

#[test]
fn a_trigger_event_shape_survives_odd_fields() {
    for event in [
        json!({"source": "aws.events", "detail-type": "Scheduled Event", "id": "x", "detail": null, "time": 5}),
        json!({"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change", "detail": {"alarmName": "a", "state": {"value": "ALARM"}}, "region": null}),
    ] {
        assert!(crate::event::parse(&event).is_ok(), "{event}");
    }
}
