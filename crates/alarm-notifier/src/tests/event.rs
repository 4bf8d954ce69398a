//! The trigger, understood: a table of every input kind, alarm details, DocumentDB events,
//! plain text, what is not ours, and the identity that recognises a repeat.

use serde_json::{Value, json};

use super::support::fixture;
use crate::alarm::{
    Alarm, AlarmKind, AlarmState, Comparison, alarm_name_of, comparison_from_reason,
    value_from_reason,
};
use crate::docdb::{Category, SourceType};
use crate::event::{Incoming, Via, parse_body, parse_event};
use crate::lenient::{arn_region, parse_time, str_at};
use crate::message::{Message, PlainText};

fn only(payload: &Value) -> Incoming {
    let mut all = parse_event(payload).expect("ours");
    assert_eq!(all.len(), 1);
    all.remove(0)
}

fn alarm(payload: &Value) -> Alarm {
    match only(payload).message {
        Message::Alarm(alarm) => *alarm,
        other => panic!("not an alarm: {other:?}"),
    }
}

#[test]
fn the_sns_cpu_alarm_is_a_metric_alarm_with_its_numbers() {
    let incoming = only(&fixture("sns-cloudwatch-alarm-cpu.json"));
    assert_eq!(
        incoming.via,
        Via::Sns {
            message_id: "00000000-0000-0000-5418-ad0d00000191".into(),
            topic_arn: Some("arn:aws:sns:eu-west-1:111122223333:phoenix-alerts".into()),
        }
    );
    let Message::Alarm(a) = incoming.message else {
        panic!("alarm")
    };
    assert_eq!(a.name, "phoenix-cpu-high");
    assert_eq!(
        (a.state.clone(), a.previous.clone()),
        (AlarmState::Alarm, Some(AlarmState::Ok))
    );
    assert_eq!(a.threshold, Some(80.0));
    assert_eq!(a.value, Some(93.4));
    assert_eq!(a.comparison, Some(Comparison::GreaterThanThreshold));
    assert_eq!(a.region.as_deref(), Some("eu-west-1"));
    assert_eq!(
        a.ecs_service(),
        Some(("phoenix-cluster", "phoenix-service"))
    );
    assert_eq!(a.unit, None, "\"Unit\": null is unknown, not an error");
    let AlarmKind::Metric(m) = &a.kind else {
        panic!("metric")
    };
    assert_eq!(m.stat.as_deref(), Some("Maximum"));
    assert_eq!(m.period_secs, Some(60));
    assert_eq!(
        a.changed_at.map(|t| t.to_rfc3339()),
        Some("2026-11-20T10:15:10.123+00:00".into())
    );
}

/// Table: every kind of input, and what it is understood as.
#[test]
fn every_input_kind_is_understood() {
    let cases: &[(&str, &str, &str)] = &[
        ("sns-cloudwatch-alarm-cpu.json", "metric-alarm", "sns"),
        (
            "sns-cloudwatch-alarm-metric-math.json",
            "metric-math-alarm",
            "sns",
        ),
        (
            "sns-cloudwatch-alarm-composite.json",
            "composite-alarm",
            "sns",
        ),
        (
            "sns-cloudwatch-alarm-insufficient.json",
            "metric-alarm",
            "sns",
        ),
        ("sns-cloudwatch-alarm-ok.json", "metric-alarm", "sns"),
        ("sns-notice.json", "notice", "sns"),
        ("sns-plain-text.json", "plain-text", "sns"),
        ("sns-hostile-names.json", "metric-alarm", "sns"),
        ("sns-notice-digest.json", "daily-digest", "sns"),
        ("sns-docdb-instance-restarted.json", "docdb-event", "sns"),
        ("docdb-cluster-failover.json", "docdb-event", "eventbridge"),
        (
            "docdb-cluster-maintenance.json",
            "docdb-event",
            "eventbridge",
        ),
        (
            "cloudwatch-alarm-cpu-alarm.json",
            "metric-alarm",
            "eventbridge",
        ),
        (
            "cloudwatch-alarm-cpu-ok.json",
            "metric-alarm",
            "eventbridge",
        ),
        (
            "cloudwatch-alarm-composite.json",
            "composite-alarm",
            "eventbridge",
        ),
    ];
    for (file, kind, via) in cases {
        let incoming = only(&fixture(file));
        assert_eq!(incoming.message.kind(), *kind, "{file}");
        assert_eq!(incoming.via.name(), *via, "{file}");
    }
}

#[test]
fn metric_math_alarms_name_their_expression_and_inputs() {
    let a = alarm(&fixture("sns-cloudwatch-alarm-metric-math.json"));
    let AlarmKind::MetricMath {
        id,
        expression,
        label,
        inputs,
    } = &a.kind
    else {
        panic!("math: {:?}", a.kind)
    };
    assert_eq!(id.as_deref(), Some("e1"));
    assert_eq!(expression, "100 * (m1 / m2)");
    assert_eq!(label.as_deref(), Some("5xx rate (%)"));
    assert_eq!(inputs.len(), 2);
    assert_eq!(inputs[0].name.as_deref(), Some("HTTPCode_Target_5XX_Count"));
    assert_eq!(a.threshold, Some(5.0));
    assert_eq!(a.value, Some(12.5));
}

#[test]
fn composite_alarms_carry_their_rule_and_triggering_children() {
    for file in [
        "sns-cloudwatch-alarm-composite.json",
        "cloudwatch-alarm-composite.json",
    ] {
        let a = alarm(&fixture(file));
        let AlarmKind::Composite { rule, triggering } = &a.kind else {
            panic!("composite: {:?}", a.kind)
        };
        assert!(
            rule.contains("ALARM(\"phoenix-cpu-high\")"),
            "{file}: {rule}"
        );
        assert_eq!(triggering, &["phoenix-cpu-high".to_owned()], "{file}");
    }
}

#[test]
fn eventbridge_events_carry_the_previous_state_time() {
    let a = alarm(&fixture("cloudwatch-alarm-cpu-ok.json"));
    assert_eq!(a.state, AlarmState::Ok);
    assert_eq!(a.previous, Some(AlarmState::Alarm));
    assert_eq!(a.value, Some(41.2));
    assert_eq!(a.threshold, Some(80.0));
    assert_eq!(a.comparison, Some(Comparison::GreaterThanThreshold));
    let lasted = a.changed_at.zip(a.previous_since).map(|(n, p)| n - p);
    assert_eq!(lasted.map(|d| d.num_seconds()), Some(35 * 60));
    assert_eq!(a.region.as_deref(), Some("eu-west-1"));
}

#[test]
fn insufficient_data_is_its_own_state() {
    let a = alarm(&fixture("sns-cloudwatch-alarm-insufficient.json"));
    assert_eq!(a.state, AlarmState::InsufficientData);
    assert_eq!(a.value, None);
    assert_eq!(a.description, None, "\"AlarmDescription\": null");
}

#[test]
fn anything_unrecognised_in_a_message_is_plain_text() {
    let cases = [
        "disk full on worker-3",
        "",
        "{not json",
        r#"{"hello": "world"}"#,
        r#"{"AlarmName": 5}"#,
        r#"{"AlarmName": "x"}"#,
        r#"{"schema": "phoenix-ops/notice@9", "title": "future"}"#,
        "[1, 2]",
        "null",
    ];
    for body in cases {
        let message = parse_body(Some("subj"), body);
        assert_eq!(
            message,
            Message::Text(PlainText {
                subject: Some("subj".into()),
                body: body.into()
            }),
            "{body}"
        );
    }
}

#[test]
fn other_events_are_not_ours() {
    let cases = [
        (
            fixture("ecs-task-stopped-crash.json"),
            "not a CloudWatch Alarm State Change nor a DocumentDB event",
        ),
        (
            fixture("scheduled-event.json"),
            "not a CloudWatch Alarm State Change nor a DocumentDB event",
        ),
        (json!({}), "not an SNS event"),
        (json!([]), "not an SNS event"),
        (json!("text"), "not an SNS event"),
        (json!({"Records": []}), "SNS event without records"),
        (json!({"Records": 3}), "malformed event"),
        (
            json!({"Records": [{"eventSource": "aws:s3", "s3": {}}]}),
            "no SNS record in the event (sources aws:s3)",
        ),
        (
            json!({"detail-type": "CloudWatch Alarm State Change", "detail": {}}),
            "malformed CloudWatch Alarm State Change event",
        ),
        (json!({"AlarmName": "x"}), "neither a Notice nor"),
    ];
    for (payload, want) in cases {
        let why = parse_event(&payload).expect_err("not ours").0;
        assert!(why.starts_with(want), "{payload}: {why}");
    }
}

#[test]
fn a_lenient_sns_record_is_still_read() {
    let payload = json!({"Records": [{"EventSource": "aws:sns", "Sns": {"MessageId": "m1", "Message": "hello"}}]});
    let incoming = only(&payload);
    assert_eq!(incoming.via.id(), Some("m1"));
    assert_eq!(incoming.message.kind(), "plain-text");
}

#[test]
fn bare_messages_can_be_invoked_by_hand() {
    let sns = fixture("sns-cloudwatch-alarm-cpu.json");
    let body: Value =
        serde_json::from_str(str_at(&sns, "/Records/0/Sns/Message").expect("message"))
            .expect("json");
    let incoming = only(&body);
    assert_eq!(incoming.via, Via::Direct);
    assert_eq!(incoming.message.kind(), "metric-alarm");
}

#[test]
fn reasons_give_the_datapoint_and_the_comparison() {
    let cases: &[(&str, Option<f64>, Option<Comparison>)] = &[
        (
            "Threshold Crossed: 1 out of the last 1 datapoints [93.4 (20/11/26 10:14:00)] was greater than the threshold (80.0)",
            Some(93.4),
            Some(Comparison::GreaterThanThreshold),
        ),
        (
            "Threshold Crossed: 2 datapoints [5.0 (20/11/26 10:14:00), 7.0 (20/11/26 10:13:00)] were less than or equal to the threshold (10.0)",
            Some(5.0),
            Some(Comparison::LessThanOrEqualToThreshold),
        ),
        (
            "Threshold Crossed: 1 datapoint [-1.5E-4 (x)] was greater than or equal to the threshold",
            Some(-1.5e-4),
            Some(Comparison::GreaterThanOrEqualToThreshold),
        ),
        ("Insufficient Data: 1 datapoint was unknown.", None, None),
        ("[NaN (x)]", None, None),
        ("", None, None),
    ];
    for (reason, value, comparison) in cases {
        assert_eq!(value_from_reason(reason), *value, "{reason}");
        assert_eq!(comparison_from_reason(reason), *comparison, "{reason}");
    }
}

#[test]
fn times_arns_and_identity() {
    assert!(parse_time("2026-11-20T10:15:10.123+0000").is_some());
    assert!(parse_time("2026-11-20T10:15:10Z").is_some());
    assert!(parse_time("yesterday").is_none());
    assert_eq!(
        arn_region("arn:aws:cloudwatch:eu-west-1:1:alarm:x"),
        Some("eu-west-1")
    );
    assert_eq!(arn_region("phoenix"), None);
    assert_eq!(
        alarm_name_of("arn:aws:cloudwatch:eu-west-1:1:alarm:a:b"),
        "a:b"
    );
    let by_sns = only(&fixture("sns-cloudwatch-alarm-cpu.json")).identity();
    assert_eq!(
        by_sns.as_deref(),
        Some(
            "alarm:arn:aws:cloudwatch:eu-west-1:111122223333:alarm:phoenix-cpu-high:ALARM:2026-11-20T10:15:10.123+00:00"
        )
    );
    // The same state change by EventBridge is the same message.
    let by_event = only(&fixture("cloudwatch-alarm-cpu-alarm.json")).identity();
    assert_eq!(by_event, by_sns);
}

/// Table: what recognises a repeat, per kind of message and envelope.
#[test]
fn every_message_has_the_identity_a_repeat_is_recognised_by() {
    let cases: &[(&str, Option<&str>)] = &[
        (
            "sns-notice.json",
            Some(
                "notice:task-recovery:00000000-0000-0000-5418-ad0d00000006:phoenix-worker is crash-looping: 3 failures in 10 min",
            ),
        ),
        // plain text has no identity of its own: the SNS message id
        (
            "sns-plain-text.json",
            Some("sns:00000000-0000-0000-5418-ad0d00000197"),
        ),
        (
            "docdb-cluster-failover.json",
            Some(
                "db-event:arn:aws:rds:eu-west-1:111122223333:cluster:phoenix-docdb:RDS-EVENT-0071:2026-11-20T11:02:41.518+00:00",
            ),
        ),
        (
            "sns-notice-digest.json",
            Some(
                "notice:daily-digest:daily-digest-2026-11-20:Daily digest for phoenix-ops-prod: 19 Nov 07:00 to 20 Nov 07:00 UTC",
            ),
        ),
    ];
    for (file, want) in cases {
        assert_eq!(only(&fixture(file)).identity().as_deref(), *want, "{file}");
    }
    // A Notice without an event id falls back to the SNS message id; a bare one has none.
    let notice = r#"{"schema": "phoenix-ops/notice@1", "severity": "info", "source": "backup", "title": "t", "summary": "s", "time": "2026-11-20T10:00:00Z"}"#;
    let sns = json!({"Records": [{"Sns": {"MessageId": "m-7", "Message": notice}}]});
    assert_eq!(only(&sns).identity().as_deref(), Some("sns:m-7"));
    let bare: Value = serde_json::from_str(notice).expect("json");
    assert_eq!(only(&bare).identity(), None);
    // An SNS record without a message id and without content identity has none either.
    let anonymous = json!({"Records": [{"Sns": {"Message": "hello"}}]});
    assert_eq!(only(&anonymous).identity(), None);
}

#[test]
fn documentdb_events_arrive_directly_or_forwarded_by_sns() {
    let failover = only(&fixture("docdb-cluster-failover.json"));
    assert_eq!(
        failover.via,
        Via::EventBridge {
            event_id: "00000000-0000-0000-5418-ad0d000001f4".into()
        }
    );
    let Message::Database(event) = failover.message else {
        panic!("a database event")
    };
    assert_eq!(event.source_type, SourceType::Cluster);
    assert_eq!(event.source_id, "phoenix-docdb");
    assert_eq!(event.categories, [Category::Failover]);
    assert_eq!(event.code.as_deref(), Some("RDS-EVENT-0071"));
    assert_eq!(
        event.message,
        "Completed failover to DB instance: phoenix-docdb-2"
    );
    assert_eq!(event.region.as_deref(), Some("eu-west-1"));
    assert_eq!(event.account.as_deref(), Some("111122223333"));
    assert_eq!(
        event.time.map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-11-20T11:02:41.518+00:00")
    );

    let restarted = only(&fixture("sns-docdb-instance-restarted.json"));
    assert_eq!(restarted.via.name(), "sns");
    let Message::Database(event) = restarted.message else {
        panic!("a database event")
    };
    assert_eq!(event.source_type, SourceType::Instance);
    assert_eq!(event.source_id, "phoenix-docdb-1");
    assert_eq!(event.categories, [Category::Availability]);
}

#[test]
fn documentdb_events_are_read_leniently_and_refused_only_when_empty() {
    let event = |detail: Value| {
        json!({"version": "0", "id": "e-1", "detail-type": "RDS DB Instance Event",
               "source": "aws.rds", "region": "eu-west-1", "detail": detail})
    };
    // Only the ARN: the identifier comes from it, the source type from the detail-type.
    let incoming = only(&event(
        json!({"SourceArn": "arn:aws:rds:eu-west-1:1:db:phoenix-docdb-3", "Message": "x"}),
    ));
    let Message::Database(db) = incoming.message else {
        panic!("a database event")
    };
    assert_eq!(db.source_id, "phoenix-docdb-3");
    assert_eq!(db.source_type, SourceType::Instance);
    assert_eq!(db.categories, []);
    // A category never seen is kept, in lower case; cluster identifiers lose `rds:`.
    let incoming = only(&event(
        json!({"SourceIdentifier": "rds:phoenix-docdb", "EventCategories": ["Brand New", 5], "EventID": "RDS-EVENT-9999"}),
    ));
    let Message::Database(db) = incoming.message else {
        panic!("a database event")
    };
    assert_eq!(db.source_id, "phoenix-docdb");
    assert_eq!(db.categories, [Category::Unknown("brand new".into())]);
    assert_eq!(
        db.message, "RDS-EVENT-9999",
        "no message: the code says what it is"
    );
    for detail in [
        json!({}),
        json!({"Message": "no source"}),
        json!({"SourceIdentifier": "x"}),
        json!(7),
    ] {
        let why = parse_event(&event(detail.clone()))
            .expect_err("malformed")
            .0;
        assert!(
            why.starts_with("malformed RDS DB Instance Event event"),
            "{detail}: {why}"
        );
    }
    // The same detail-type from another source is not ours.
    let mut other = event(json!({"SourceIdentifier": "x", "Message": "m"}));
    other["source"] = json!("aws.neptune");
    assert!(parse_event(&other).is_err());
}

#[test]
fn secrets_in_text_nobody_here_wrote_are_removed() {
    let message = parse_body(
        Some("db down"),
        "connect failed: mongodb://phoenix:S3cr3t@docdb:27017 password=hunter2",
    );
    let Message::Text(text) = message else {
        panic!("plain text")
    };
    assert!(
        !text.body.contains("S3cr3t") && !text.body.contains("hunter2"),
        "{}",
        text.body
    );
    let notice = r#"{"schema": "phoenix-ops/notice@1", "severity": "error", "source": "task-recovery", "title": "t", "summary": "s", "details": "token=abc123 AKIAIOSFODNN7EXAMPLE", "time": "2026-11-20T10:00:00Z"}"#;
    let Message::Notice(notice) = parse_body(None, notice) else {
        panic!("a Notice")
    };
    let details = notice.details.unwrap_or_default();
    assert!(
        !details.contains("abc123") && !details.contains("AKIAIOSFODNN7EXAMPLE"),
        "{details}"
    );
}
