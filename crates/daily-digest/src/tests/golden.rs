//! The digest as Slack and on-call show it: a realistic day built by the real builder, wrapped
//! as the alerts topic delivers it, rendered by the real alarm-notifier. The golden files are
//! the source of truth for what people see (`UPDATE_EXPECT=1 cargo test -p daily-digest golden`
//! rewrites them after a deliberate change).

use chrono::{DateTime, TimeZone, Utc};
use expect_test::expect_file;
use serde_json::{Value, json};

use crate::decide::{AlarmNow, AlarmState, Observation, Point, ServiceCounts, Transition, build};
use crate::event::Window;
use crate::lines::LogLine;
use crate::report;

const STACK: &str = "phoenix-ops";

fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, h, m, 0)
        .single()
        .expect("valid time")
}

fn line(t: DateTime<Utc>, function: &str, outcome: Value) -> LogLine {
    LogLine {
        time: t,
        message: json!({"level": "INFO", "function": function, "stack": STACK, "outcome": outcome})
            .to_string(),
    }
}

/// A day with two crashes, a spike, the nightly backup, a CPU alarm that came and went and a
/// 5xx alarm still open.
pub fn sample_day() -> Observation {
    let crash = |kind: &str, decision: &str, actions: Value| {
        json!({"function": "task-recovery", "decision": decision,
            "observed": {"classification": {"kind": {"kind": kind}}}, "actions": actions})
    };
    let scale = |detail: &str, decision: &str| {
        json!({"function": "request-scaler", "decision": decision,
            "actions": [{"call": "ecs:UpdateService", "target": "phoenix-service", "status": "done", "detail": detail}]})
    };
    Observation {
        window: Window::ending(at(25, 8, 0)),
        now: at(25, 8, 0) + chrono::Duration::seconds(4),
        stack: STACK.to_owned(),
        requests: Ok(vec![
            Point {
                at: at(24, 13, 58),
                value: 310.0,
            },
            Point {
                at: at(24, 14, 7),
                value: 1250.0,
            },
            Point {
                at: at(24, 14, 30),
                value: 640.0,
            },
        ]),
        backups_succeeded: Ok(vec![Point {
            at: at(25, 3, 0),
            value: 1.0,
        }]),
        export_lag: Ok(vec![Point {
            at: at(25, 3, 0),
            value: 14.0,
        }]),
        alarms: Ok(vec![
            AlarmNow {
                name: format!("{STACK}-cpu-peak"),
                state: AlarmState::Ok,
                since: at(24, 14, 16),
            },
            AlarmNow {
                name: format!("{STACK}-alb-5xx"),
                state: AlarmState::Alarm,
                since: at(25, 6, 10),
            },
        ]),
        history: Ok(vec![
            Transition {
                alarm: format!("{STACK}-cpu-peak"),
                at: at(24, 14, 6),
                from: AlarmState::Ok,
                to: AlarmState::Alarm,
            },
            Transition {
                alarm: format!("{STACK}-cpu-peak"),
                at: at(24, 14, 16),
                from: AlarmState::Alarm,
                to: AlarmState::Ok,
            },
            Transition {
                alarm: format!("{STACK}-alb-5xx"),
                at: at(25, 6, 10),
                from: AlarmState::Ok,
                to: AlarmState::Alarm,
            },
        ]),
        lines: Ok(vec![
            line(
                at(24, 9, 12),
                "task-recovery",
                crash(
                    "crash",
                    "replace-standalone-task",
                    json!([{"call": "ecs:RunTask", "target": "phoenix-worker", "status": "done"}]),
                ),
            ),
            line(
                at(24, 14, 9),
                "task-recovery",
                crash("out-of-memory", "ecs-replacing", json!([])),
            ),
            line(
                at(24, 13, 2),
                "task-recovery",
                crash("planned", "planned-stop", json!([])),
            ),
            line(
                at(24, 14, 2),
                "request-scaler",
                scale("desiredCount 2 → 5", "scale-out"),
            ),
            line(
                at(24, 14, 9),
                "request-scaler",
                scale("desiredCount 5 → 9", "scale-out"),
            ),
            line(
                at(24, 15, 1),
                "request-scaler",
                scale("desiredCount 9 → 3", "scale-in"),
            ),
            line(
                at(25, 3, 0),
                "backup",
                json!({"function": "backup", "decision": "backed-up", "actions": [
                {"call": "rds:CreateDBClusterSnapshot", "target": "phoenix-ops-phoenix-docdb-2026-11-25", "status": "done"},
                {"call": "rds:DeleteDBClusterSnapshot", "target": "phoenix-ops-phoenix-docdb-2026-11-18", "status": "done"},
                {"call": "logs:CreateExportTask", "target": "/ecs/phoenix-ops/phoenix", "status": "done"}]}),
            ),
            line(
                at(24, 14, 6),
                "alarm-notifier",
                json!({"function": "alarm-notifier", "decision": "delivered"}),
            ),
            line(
                at(24, 14, 16),
                "alarm-notifier",
                json!({"function": "alarm-notifier", "decision": "delivered"}),
            ),
        ]),
        lines_truncated: false,
        service: Ok(Some(ServiceCounts {
            name: "phoenix-service".into(),
            desired: 3,
            running: 3,
            pending: 0,
        })),
    }
}

/// The Notice as the alerts topic delivers it to alarm-notifier.
fn as_sns_event(notice: &phoenix_core::Notice) -> Value {
    json!({"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:eu-west-1:111122223333:phoenix-alerts:00000000-0000-0000-0000-0000000000d1",
        "Sns": {
            "Type": "Notification", "MessageId": "00000000-0000-0000-0000-00000000d16e",
            "TopicArn": "arn:aws:sns:eu-west-1:111122223333:phoenix-alerts",
            "Subject": notice.subject(),
            "Message": serde_json::to_string(notice).expect("a Notice serialises"),
            "Timestamp": "2026-11-25T08:00:04.512Z", "SignatureVersion": "1", "Signature": "EXAMPLE",
            "SigningCertUrl": "https://sns.eu-west-1.amazonaws.com/cert.pem",
            "UnsubscribeUrl": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
            "MessageAttributes": {"severity": {"Type": "String", "Value": notice.severity.as_str()}}
        }
    }]})
}

#[test]
fn the_digest_as_slack_and_oncall_show_it() {
    let digest = build(&sample_day(), "daily-digest");
    let notice = report::notice(&digest, "eu-west-1", "digest:phoenix-ops:2026-11-25T08:00Z");
    let rendered =
        alarm_notifier::render_event(&as_sns_event(&notice)).expect("the notifier reads a digest");
    assert_eq!(rendered.len(), 1);
    let r = &rendered[0];
    assert_eq!(
        r.severity,
        phoenix_core::Severity::Warning,
        "an open alarm needs a person"
    );
    let slack = serde_json::to_string_pretty(&r.slack).expect("json") + "\n";
    expect_file!["../../tests/golden/digest.slack.json"].assert_eq(&slack);
    let text = format!(
        "Subject: {}\nSeverity: {}\n\n{}\n",
        r.subject,
        r.severity.as_str(),
        r.text
    );
    expect_file!["../../tests/golden/digest.txt"].assert_eq(&text);
}
