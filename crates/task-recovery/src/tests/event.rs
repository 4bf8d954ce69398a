//! The edge: every trigger parsed, every field bounded and checked, every hostile variant ignored
//! with its reason.

use chrono::Duration;
use serde_json::{Value, json};

use super::{CLUSTER_ARN, at, fixture, parse_at, stop_time, stopped};
use crate::event::{EventLevel, ServiceEventSource, StopCode, TaskGroup, Trigger};
use crate::recheck::{Recheck, SCHEMA};

fn why(payload: &Value) -> String {
    match parse_at(payload, at(10, 17, 0)) {
        Err(not_ours) => not_ours.0,
        Ok(trigger) => panic!("expected to be ignored: {trigger:?}"),
    }
}

#[test]
fn a_stopped_service_task_is_parsed_and_checked() {
    let task = stopped("ecs-task-stopped-crash.json");
    assert_eq!(task.event_id, "00000000-0000-0000-5418-ad0d00000001");
    assert_eq!(task.task_id, "00000001c0ffee4b1a9e43e0a6d10001");
    assert_eq!(task.group, TaskGroup::Service("phoenix-service".into()));
    assert_eq!(task.cluster_arn, CLUSTER_ARN);
    assert_eq!(task.version, 5);
    assert_eq!(task.task_definition(), "phoenix:7");
    assert_eq!(
        task.facts.stop_code,
        Some(StopCode::EssentialContainerExited)
    );
    assert_eq!(task.facts.containers[0].exit_code, Some(1));
    assert_eq!(
        task.facts.containers[0].image.as_deref(),
        Some("111122223333.dkr.ecr.eu-west-1.amazonaws.com/phoenix:1.4.2")
    );
    assert_eq!(task.lifetime().map(|d| d.num_seconds()), Some(4385));
    assert_eq!(task.stopped_at, stop_time());
    assert_eq!(task.capacity_provider.as_deref(), Some("FARGATE"));
}

#[test]
fn the_standalone_sample_names_a_task_definition_of_its_own_family() {
    let task = stopped("ecs-task-stopped-standalone-crash.json");
    assert_eq!(task.group, TaskGroup::Family("phoenix-worker".into()));
    assert_eq!(
        task.task_definition.map(|d| (d.family, d.revision)),
        Some(("phoenix-worker".to_owned(), 3))
    );
}

/// The crash event with one change, and the start of the reason it must be ignored for.
#[test]
fn hostile_or_malformed_task_events_are_ignored_with_their_reason() {
    type Change = fn(&mut Value);
    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "another account",
            |e| e["account"] = json!("999999999999"),
            "event of account",
        ),
        (
            "another region",
            |e| e["region"] = json!("us-east-1"),
            "event of account",
        ),
        (
            "no account",
            |e| e["account"] = Value::Null,
            "event of account",
        ),
        (
            "the same cluster name in another account",
            |e| {
                e["detail"]["clusterArn"] =
                    json!("arn:aws:ecs:eu-west-1:999999999999:cluster/phoenix-cluster")
            },
            "task of cluster",
        ),
        (
            "a junk prefix before the cluster ARN",
            |e| {
                e["detail"]["clusterArn"] =
                    json!("junk/arn:aws:ecs:eu-west-1:111122223333:cluster/phoenix-cluster")
            },
            "malformed ECS event: cluster",
        ),
        (
            "a cluster whose name merely ends the same",
            |e| {
                e["detail"]["clusterArn"] =
                    json!("arn:aws:ecs:eu-west-1:111122223333:cluster/x/phoenix-cluster")
            },
            "malformed ECS event: cluster",
        ),
        (
            "another cluster",
            |e| {
                e["detail"]["clusterArn"] =
                    json!("arn:aws:ecs:eu-west-1:111122223333:cluster/other")
            },
            "task of cluster",
        ),
        (
            "a task of another account",
            |e| {
                e["detail"]["taskArn"] =
                    json!("arn:aws:ecs:eu-west-1:999999999999:task/phoenix-cluster/abc")
            },
            "malformed ECS event: task",
        ),
        (
            "a task of another cluster",
            |e| e["detail"]["taskArn"] = json!("arn:aws:ecs:eu-west-1:111122223333:task/other/abc"),
            "malformed ECS event: task",
        ),
        (
            "a task ARN that is not one",
            |e| e["detail"]["taskArn"] = json!("not-an-arn"),
            "malformed ECS event",
        ),
        (
            "a huge task ARN",
            |e| {
                e["detail"]["taskArn"] = json!(format!(
                    "arn:aws:ecs:eu-west-1:111122223333:task/phoenix-cluster/{}",
                    "a".repeat(100_000)
                ))
            },
            "malformed ECS event",
        ),
        (
            "a task definition of another account",
            |e| {
                e["detail"]["taskDefinitionArn"] =
                    json!("arn:aws:ecs:eu-west-1:999999999999:task-definition/phoenix:7")
            },
            "malformed ECS event: task definition",
        ),
        (
            "a task definition without a revision",
            |e| {
                e["detail"]["taskDefinitionArn"] =
                    json!("arn:aws:ecs:eu-west-1:111122223333:task-definition/phoenix")
            },
            "malformed ECS event",
        ),
        (
            "stoppedAt far in the future",
            |e| e["detail"]["stoppedAt"] = json!("9999-12-31T23:59:59.999Z"),
            "stoppedAt 9999-12-31",
        ),
        (
            "stoppedAt an hour in the future",
            |e| e["detail"]["stoppedAt"] = json!("2026-11-20T11:17:00Z"),
            "stoppedAt 2026-11-20T11:17:00",
        ),
        (
            "stoppedAt far in the past",
            |e| e["detail"]["stoppedAt"] = json!("0001-01-01T00:00:00Z"),
            "stale event",
        ),
        (
            "stoppedAt two days ago",
            |e| e["detail"]["stoppedAt"] = json!("2026-11-18T10:15:41Z"),
            "stale event",
        ),
        (
            "stoppedAt beyond what a date can hold",
            |e| e["detail"]["stoppedAt"] = json!("+262143-01-01T00:00:00Z"),
            "malformed ECS event detail",
        ),
        (
            "no stoppedAt and no time",
            |e| {
                e["detail"]["stoppedAt"] = Value::Null;
                e["time"] = Value::Null;
            },
            "malformed ECS event: no stoppedAt",
        ),
        (
            "no event id",
            |e| e["id"] = Value::Null,
            "malformed ECS event: no valid event id",
        ),
        (
            "a huge event id",
            |e| e["id"] = json!("x".repeat(10_000)),
            "malformed ECS event: no valid event id",
        ),
        (
            "a negative version",
            |e| e["detail"]["version"] = json!(-1),
            "malformed ECS event: negative version",
        ),
        (
            "a version beyond i64",
            |e| e["detail"]["version"] = json!(u64::MAX),
            "malformed ECS event detail",
        ),
        (
            "101 containers",
            |e| e["detail"]["containers"] = json!(vec![json!({"name": "c", "exitCode": 1}); 101]),
            "malformed ECS event: more than 100 containers",
        ),
        (
            "a container name that is not one",
            |e| e["detail"]["containers"][0]["name"] = json!("a b/../c"),
            "malformed ECS event: container name",
        ),
        (
            "huge overrides",
            |e| e["detail"]["overrides"] = json!({"containerOverrides": [{"name": "phoenix", "command": ["x".repeat(20_000)]}]}),
            "malformed ECS event: overrides larger than 16 KiB",
        ),
        (
            "an odd launch type",
            |e| e["detail"]["launchType"] = json!("FARGATE; rm -rf /"),
            "malformed ECS event: launchType",
        ),
        (
            "a RUNNING task",
            |e| e["detail"]["lastStatus"] = json!("RUNNING"),
            "task is \"RUNNING\", not STOPPED",
        ),
        (
            "another source",
            |e| e["source"] = json!("aws.ec2"),
            "not an ECS event",
        ),
        (
            "another detail type",
            |e| e["detail-type"] = json!("ECS Container Instance State Change"),
            "not an ECS event this function handles",
        ),
        (
            "no detail",
            |e| e["detail"] = Value::Null,
            "malformed ECS event detail",
        ),
        (
            "a detail of the wrong type",
            |e| e["detail"]["taskArn"] = json!(5),
            "malformed ECS event detail",
        ),
    ];
    for (name, change, want) in cases {
        let mut event = fixture("ecs-task-stopped-crash.json");
        change(&mut event);
        let got = why(&event);
        assert!(got.starts_with(want), "{name}: {got}");
        assert!(
            got.len() < 1_000,
            "{name}: the reason stays short: {} chars",
            got.len()
        );
    }
}

#[test]
fn what_is_not_an_event_at_all_is_ignored() {
    for (payload, want) in [
        (json!([]), "not an EventBridge event"),
        (json!(null), "not an EventBridge event"),
        (json!({}), "not an ECS event"),
        (json!({"Records": "x"}), "not an SQS event"),
        (json!({"Records": []}), "an SQS event without records"),
        (
            json!({"Records": [{"eventSource": "aws:sns", "Sns": {}}]}),
            "not an SQS event",
        ),
    ] {
        let got = why(&payload);
        assert!(got.starts_with(want), "{payload}: {got}");
    }
}

#[test]
fn odd_but_harmless_times_are_bounded_not_fatal() {
    let mut event = fixture("ecs-task-stopped-crash.json");
    event["detail"]["startedAt"] = json!("2026-11-20T10:20:00Z"); // after the stop
    event["detail"]["stoppedAt"] = Value::Null; // the event's time stands in
    let Ok(Trigger::TaskStopped(task)) = parse_at(&event, at(10, 17, 0)) else {
        panic!("still a stopped task");
    };
    assert_eq!(
        task.lifetime(),
        None,
        "a start after the stop is not believed"
    );
    assert_eq!(task.stopped_at, at(10, 15, 42), "the event's time");
    let mut clock_skew = fixture("ecs-task-stopped-crash.json");
    clock_skew["detail"]["stoppedAt"] = json!("2026-11-20T10:27:00Z");
    assert!(
        parse_at(&clock_skew, at(10, 17, 0)).is_ok(),
        "ten minutes of clock skew is tolerated"
    );
}

#[test]
fn deployment_and_service_events_are_parsed_and_info_ones_ignored() {
    let now = at(10, 35, 0);
    let Ok(Trigger::ServiceEvent(failed)) = parse_at(&fixture("ecs-deployment-failed.json"), now)
    else {
        panic!("a deployment failure is ours");
    };
    assert_eq!(failed.source, ServiceEventSource::Deployment);
    assert_eq!(failed.level, EventLevel::Error);
    assert_eq!(failed.service, "phoenix-service");
    assert_eq!(
        failed.deployment_id.as_deref(),
        Some("ecs-svc/8273651093847561234")
    );
    assert_eq!(
        failed.reason,
        "ECS deployment circuit breaker: task failed to start."
    );

    let Ok(Trigger::ServiceEvent(rollback)) =
        parse_at(&fixture("ecs-deployment-rollback.json"), now)
    else {
        panic!("a rollback is reported although it is INFO");
    };
    assert!(rollback.is_rollback());

    let Ok(Trigger::ServiceEvent(placement)) =
        parse_at(&fixture("ecs-service-placement-failure.json"), now)
    else {
        panic!("a placement failure is ours");
    };
    assert_eq!(placement.source, ServiceEventSource::ServiceAction);
    assert_eq!(placement.name, "SERVICE_TASK_PLACEMENT_FAILURE");

    for name in [
        "ecs-service-steady-state.json",
        "ecs-deployment-completed.json",
    ] {
        let got = match parse_at(&fixture(name), now) {
            Err(e) => e.0,
            Ok(t) => panic!("{name}: {t:?}"),
        };
        assert!(got.starts_with("informational ECS event"), "{name}: {got}");
    }

    type Change = fn(&mut Value);
    let cases: Vec<(Change, &str)> = vec![
        (
            |e| {
                e["resources"] =
                    json!(["arn:aws:ecs:eu-west-1:111122223333:service/other/phoenix-service"])
            },
            "not this cluster's service",
        ),
        (
            |e| {
                e["resources"] =
                    json!(["arn:aws:ecs:eu-west-1:111122223333:service/phoenix-service"])
            },
            "not this cluster's service",
        ),
        (
            |e| {
                e["resources"] = json!([
                    "arn:aws:ecs:eu-west-1:999999999999:service/phoenix-cluster/phoenix-service"
                ])
            },
            "not this cluster's service",
        ),
        (
            |e| e["resources"] = json!([]),
            "malformed ECS event: expected exactly one",
        ),
        (
            |e| e["time"] = json!("2030-01-01T00:00:00Z"),
            "time 2030-01-01",
        ),
        (
            |e| e["detail"]["eventName"] = json!("lower case"),
            "malformed ECS event: eventName",
        ),
        (
            |e| e["detail"]["deploymentId"] = json!("a b"),
            "malformed ECS event: deploymentId",
        ),
    ];
    for (change, want) in cases {
        let mut event = fixture("ecs-deployment-failed.json");
        change(&mut event);
        let got = match parse_at(&event, now) {
            Err(e) => e.0,
            Ok(t) => panic!("{want}: {t:?}"),
        };
        assert!(got.starts_with(want), "{want}: {got}");
    }
    let mut other_cluster = fixture("ecs-service-placement-failure.json");
    other_cluster["detail"]["clusterArn"] =
        json!("arn:aws:ecs:eu-west-1:111122223333:cluster/other");
    assert!(parse_at(&other_cluster, now).is_err());
}

fn recheck() -> Recheck {
    Recheck {
        schema: SCHEMA.into(),
        cluster_arn: CLUSTER_ARN.into(),
        service: "phoenix-service".into(),
        task_arn: "arn:aws:ecs:eu-west-1:111122223333:task/phoenix-cluster/00000001c0ffee4b1a9e43e0a6d10001".into(),
        event_id: "00000000-0000-0000-5418-ad0d00000001".into(),
        stop_kind: "crash".into(),
        attempt: 1,
        max_attempts: 3,
        due_at: stop_time() + Duration::seconds(60),
        stopped_at: stop_time(),
        forced: false,
    }
}

fn sqs_with(body: &str) -> Value {
    let mut event = fixture("ecs-recheck-sqs.json");
    event["Records"][0]["body"] = json!(body);
    event
}

fn recheck_result(payload: &Value) -> Result<Recheck, String> {
    match parse_at(payload, at(10, 16, 45)) {
        Ok(Trigger::Rechecks(mut deliveries)) => {
            assert_eq!(deliveries.len(), 1);
            deliveries.remove(0).recheck.map_err(|e| e.0)
        }
        other => panic!("an SQS event: {other:?}"),
    }
}

#[test]
fn the_recheck_message_round_trips_and_the_fixture_is_one() {
    let fixture_recheck = recheck_result(&fixture("ecs-recheck-sqs.json")).expect("ours");
    assert_eq!(fixture_recheck, recheck());
    let body = recheck().to_body();
    assert_eq!(recheck_result(&sqs_with(&body)), Ok(recheck()));
    assert_eq!(recheck().delay_seconds(stop_time()), 60);
    assert_eq!(
        recheck().delay_seconds(at(9, 0, 0)),
        900,
        "capped at SQS's 900 s"
    );
    assert_eq!(recheck().delay_seconds(at(11, 0, 0)), 0);
}

#[test]
fn foreign_or_damaged_queue_messages_are_ignored_with_their_reason() {
    type Change = fn(&mut Value);
    let cases: Vec<(Change, &str)> = vec![
        (
            |r| r["schema"] = json!("someone-else@1"),
            "message is not a phoenix-ops/recheck@1",
        ),
        (
            |r| r["cluster_arn"] = json!("arn:aws:ecs:eu-west-1:111122223333:cluster/other"),
            "re-check of cluster",
        ),
        (
            |r| r["service"] = json!("../../etc"),
            "re-check names no valid service",
        ),
        (
            |r| r["task_arn"] = json!("arn:aws:ecs:eu-west-1:999999999999:task/phoenix-cluster/a"),
            "re-check: task",
        ),
        (
            |r| r["attempt"] = json!(0),
            "re-check attempt 0 of 3 is out of range",
        ),
        (
            |r| r["attempt"] = json!(4),
            "re-check attempt 4 of 3 is out of range",
        ),
        (
            |r| r["max_attempts"] = json!(1000),
            "re-check attempt 1 of 1000 is out of range",
        ),
        (|r| r["attempt"] = json!(-1), "malformed re-check"),
        (
            |r| r["due_at"] = json!("2026-11-18T10:00:00Z"),
            "stale re-check",
        ),
        (
            |r| r["due_at"] = json!("9999-01-01T00:00:00Z"),
            "re-check due at 9999",
        ),
        (
            |r| r["stopped_at"] = json!("2026-11-20T12:00:00Z"),
            "re-check whose stop time",
        ),
        (
            |r| r["event_id"] = json!(""),
            "re-check with a malformed event id",
        ),
    ];
    for (change, want) in cases {
        let mut body = serde_json::to_value(recheck()).expect("json");
        change(&mut body);
        let got = recheck_result(&sqs_with(&body.to_string())).expect_err(want);
        assert!(got.starts_with(want), "{want}: {got}");
    }
    for (body, want) in [
        ("not json", "message body is not JSON"),
        (
            "{\"AlarmName\": \"x\"}",
            "message is not a phoenix-ops/recheck@1 re-check (schema missing)",
        ),
    ] {
        let got = recheck_result(&sqs_with(body)).expect_err(want);
        assert!(got.starts_with(want), "{got}");
    }
    let huge = format!(
        "{{\"schema\": \"{SCHEMA}\", \"pad\": \"{}\"}}",
        "x".repeat(10_000)
    );
    assert!(recheck_result(&sqs_with(&huge)).is_err());
    let mut foreign_queue = fixture("ecs-recheck-sqs.json");
    foreign_queue["Records"][0]["eventSourceARN"] =
        json!("arn:aws:sqs:eu-west-1:111122223333:someone-elses-queue");
    let got = recheck_result(&foreign_queue).expect_err("another queue");
    assert!(got.starts_with("message from queue"), "{got}");
}
