//! Random and damaged input into the real handler: never a panic, never an error for bad input,
//! and no AWS call before an event is ignored (the mocked clients below have no rules, so any
//! call would panic). Events that stay valid after the damage are handled against mocks that
//! answer everything, and must still never panic.

use aws_smithy_mocks::{RuleMode, mock_client};
use chrono::{DateTime, Duration, Utc};
use phoenix_core::{Function, Invocation};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::{at, config, fixture, parse_at};
use crate::{Clients, TaskRecovery};

/// A handler whose every AWS call panics.
fn untouchable() -> TaskRecovery {
    let clients = Clients {
        ecs: mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[]),
        logs: mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, &[]),
        sns: mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[]),
        sqs: mock_client!(aws_sdk_sqs, RuleMode::MatchAny, &[]),
        dynamodb: mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[]),
    };
    TaskRecovery::new(config(), clients)
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn now() -> DateTime<Utc> {
    at(10, 17, 0)
}

/// Ignored without any AWS call (the untouchable handler would panic on one).
fn assert_ignored_untouched(payload: Value) -> Result<(), TestCaseError> {
    let outcome = block_on(untouchable().handle(Invocation::new(payload, now())))
        .map_err(|e| TestCaseError::fail(format!("bad input is never an error: {e}")))?;
    prop_assert!(outcome.ignored.is_some(), "{outcome:?}");
    Ok(())
}

fn json_value() -> impl Strategy<Value = Value> {
    phoenix_testkit::arbitrary::json_value(
        &[
            "ECS Task State Change",
            "ECS Deployment State Change",
            "ECS Service Action",
            "STOPPED",
            "aws.ecs",
            "aws:sqs",
            "111122223333",
            "eu-west-1",
            "phoenix-ops/recheck@1",
            "arn:aws:ecs:eu-west-1:111122223333:cluster/phoenix-cluster",
        ],
        &[
            "detail",
            "detail-type",
            "source",
            "id",
            "account",
            "region",
            "lastStatus",
            "clusterArn",
            "taskArn",
            "Records",
            "eventSource",
            "body",
            "schema",
        ],
    )
}

/// Values that break types and bounds.
fn junk() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(null)),
        Just(json!([])),
        Just(json!({})),
        Just(json!(-1)),
        Just(json!(i64::MAX)),
        Just(json!(u64::MAX)),
        Just(json!(1e308)),
        Just(json!("")),
        Just(json!("not-a-date")),
        Just(json!("9999-12-31T23:59:59Z")),
        Just(json!("0000-01-01T00:00:00Z")),
        Just(json!("+262142-12-31T23:59:59Z")),
        Just(json!("-262143-01-01T00:00:00Z")),
        Just(json!("x".repeat(70_000))),
        Just(json!("\u{0}\u{202e}é\u{1F4A5}")),
        Just(json!([{"exitCode": "one"}])),
        Just(json!([
            "arn:aws:ecs:eu-west-1:111122223333:service/phoenix-cluster/phoenix-service",
            "x"
        ])),
        ".{0,40}".prop_map(Value::from),
    ]
}

/// A time anywhere chrono can hold, as ECS writes times.
fn any_time() -> impl Strategy<Value = Value> {
    (DateTime::<Utc>::MIN_UTC.timestamp()..=DateTime::<Utc>::MAX_UTC.timestamp()).prop_map(|secs| {
        DateTime::from_timestamp(secs, 0)
            .map(|t| Value::from(t.to_rfc3339()))
            .unwrap_or(Value::Null)
    })
}

const FIXTURES: &[&str] = &[
    "ecs-task-stopped-crash.json",
    "ecs-task-stopped-standalone-crash.json",
    "ecs-task-stopped-image-missing.json",
    "ecs-deployment-failed.json",
    "ecs-service-placement-failure.json",
    "ecs-recheck-sqs.json",
];

/// Replaces (or removes) the value at a path of the fixture.
fn damage(event: &mut Value, path: &[&str], value: Option<Value>) {
    let mut at = event;
    for key in &path[..path.len() - 1] {
        at = match key.parse::<usize>() {
            Ok(i) => match at.get_mut(i) {
                Some(v) => v,
                None => return,
            },
            Err(_) => match at.get_mut(*key) {
                Some(v) => v,
                None => return,
            },
        };
    }
    let last = path[path.len() - 1];
    match (at, value) {
        (Value::Object(map), Some(v)) => {
            map.insert(last.to_owned(), v);
        }
        (Value::Object(map), None) => {
            map.remove(last);
        }
        _ => {}
    }
}

const PATHS: &[&[&str]] = &[
    &["id"],
    &["account"],
    &["region"],
    &["time"],
    &["source"],
    &["detail-type"],
    &["resources"],
    &["detail"],
    &["detail", "taskArn"],
    &["detail", "clusterArn"],
    &["detail", "lastStatus"],
    &["detail", "group"],
    &["detail", "taskDefinitionArn"],
    &["detail", "stoppedAt"],
    &["detail", "startedAt"],
    &["detail", "version"],
    &["detail", "containers"],
    &["detail", "containers", "0", "name"],
    &["detail", "containers", "0", "exitCode"],
    &["detail", "containers", "0", "image"],
    &["detail", "stopCode"],
    &["detail", "stoppedReason"],
    &["detail", "overrides"],
    &["detail", "launchType"],
    &["detail", "eventType"],
    &["detail", "eventName"],
    &["detail", "deploymentId"],
    &["detail", "reason"],
    &["Records"],
    &["Records", "0", "body"],
    &["Records", "0", "eventSourceARN"],
    &["Records", "0", "eventSource"],
    &["Records", "0", "messageId"],
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random JSON is ignored, never a panic, never an AWS call.
    #[test]
    fn random_json_is_ignored_without_any_aws_call(payload in json_value()) {
        assert_ignored_untouched(payload)?;
    }

    /// A real event with one field replaced or removed: the parser never panics; when the event
    /// is no longer ours it is ignored without any AWS call.
    #[test]
    fn a_damaged_event_is_ignored_or_still_sound(
        fixture_index in 0..FIXTURES.len(),
        path in proptest::sample::select(PATHS.to_vec()),
        value in proptest::option::of(junk()),
    ) {
        let mut event = fixture(FIXTURES[fixture_index]);
        damage(&mut event, path, value);
        match parse_at(&event, now()) {
            Err(_) => assert_ignored_untouched(event)?,
            Ok(crate::event::Trigger::Rechecks(deliveries)) => {
                for d in deliveries.iter().filter(|d| d.recheck.is_err()) {
                    prop_assert!(!d.message_id.is_empty());
                }
            }
            Ok(_) => {}
        }
    }

    /// Any time chrono can hold, in any time field: parsed or ignored, never a panic, and never
    /// acted on outside a day before now and a quarter of an hour after.
    #[test]
    fn times_anywhere_are_bounded(
        field in proptest::sample::select(vec!["stoppedAt", "startedAt"]),
        time in any_time(),
        now_offset in -1_000_000_000i64..1_000_000_000,
    ) {
        let mut event = fixture("ecs-task-stopped-crash.json");
        event["detail"][field] = time;
        let now = now() + Duration::seconds(now_offset);
        if let Ok(crate::event::Trigger::TaskStopped(task)) = parse_at(&event, now) {
            prop_assert!(task.stopped_at >= now - Duration::hours(24));
            prop_assert!(task.stopped_at <= now + Duration::minutes(15));
            if let Some(lived) = task.lifetime() {
                prop_assert!(lived >= Duration::zero() && lived <= Duration::days(366));
            }
        } else {
            let outcome = block_on(untouchable().handle(Invocation::new(event, now)))
                .map_err(|e| TestCaseError::fail(e.0))?;
            prop_assert!(outcome.ignored.is_some());
        }
    }

    /// Any body on the re-check queue: a re-check of ours or ignored with its reason.
    #[test]
    fn any_queue_body_is_ignored_unless_it_is_a_recheck(body in json_value()) {
        let mut event = fixture("ecs-recheck-sqs.json");
        event["Records"][0]["body"] = Value::from(body.to_string());
        assert_ignored_untouched(event)?;
    }
}
