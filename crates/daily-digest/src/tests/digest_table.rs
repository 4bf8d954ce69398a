//! The digest builder, case by case: what each observation makes open, noted or missing, and
//! how the day reads.

use chrono::{DateTime, Duration, TimeZone, Utc};
use phoenix_core::Severity;
use serde_json::{Value, json};

use crate::decide::{
    AlarmNow, AlarmState, Digest, Observation, Point, ServiceCounts, Transition, build,
};
use crate::event::Window;
use crate::lines::LogLine;
use crate::report;

const STACK: &str = "phoenix-ops";

fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, h, m, 0)
        .single()
        .expect("valid time")
}

fn now() -> DateTime<Utc> {
    at(25, 8, 0)
}

/// An Outcome line as phoenix-core's adapter writes it.
fn line(time: DateTime<Utc>, function: &str, outcome: Value) -> LogLine {
    let mut outcome = outcome;
    outcome["function"] = json!(function);
    LogLine {
        time,
        message: json!({"timestamp": time.to_rfc3339(), "level": "INFO", "message": "m",
            "function": function, "stack": STACK, "requestId": "r", "outcome": outcome})
        .to_string(),
    }
}

fn alarm(name: &str, state: AlarmState, since: DateTime<Utc>) -> AlarmNow {
    AlarmNow {
        name: format!("{STACK}-{name}"),
        state,
        since,
    }
}

fn change(name: &str, t: DateTime<Utc>, from: AlarmState, to: AlarmState) -> Transition {
    Transition {
        alarm: format!("{STACK}-{name}"),
        at: t,
        from,
        to,
    }
}

/// A calm observation: everything read, a backup 5 h ago, the service whole.
fn calm() -> Observation {
    Observation {
        window: Window::ending(now()),
        now: now(),
        stack: STACK.to_owned(),
        requests: Ok(vec![
            Point {
                at: at(24, 9, 0),
                value: 40.0,
            },
            Point {
                at: at(24, 14, 7),
                value: 120.0,
            },
            Point {
                at: at(24, 7, 59),
                value: 999.0,
            }, // before the window
        ]),
        backups_succeeded: Ok(vec![Point {
            at: at(25, 3, 0),
            value: 1.0,
        }]),
        export_lag: Ok(vec![Point {
            at: at(25, 3, 0),
            value: 14.0,
        }]),
        alarms: Ok(vec![alarm("cpu-peak", AlarmState::Ok, at(20, 1, 0))]),
        history: Ok(Vec::new()),
        lines: Ok(Vec::new()),
        lines_truncated: false,
        service: Ok(Some(ServiceCounts {
            name: "phoenix-service".into(),
            desired: 2,
            running: 2,
            pending: 0,
        })),
    }
}

fn digest(change: impl FnOnce(&mut Observation)) -> Digest {
    let mut observation = calm();
    change(&mut observation);
    build(&observation, "daily-digest")
}

#[test]
fn a_calm_day_needs_nobody() {
    let d = digest(|_| {});
    assert_eq!(d.severity(), Severity::Info);
    assert!(
        d.open.is_empty() && d.gaps.is_empty() && d.notes.is_empty(),
        "{d:?}"
    );
    assert_eq!(
        d.peak.map(|p| (p.at, p.per_minute)),
        Some((at(24, 14, 7), 120))
    );
    assert_eq!(d.requests_total, Some(160));
    assert_eq!(d.last_backup, Some(at(25, 3, 0)));
    assert_eq!(d.export_lag_hours, Some(19.0));
    assert_eq!(report::title(&d), "Daily digest: a quiet day; nothing open");
}

#[test]
fn what_is_open_and_why() {
    let short = |running| {
        Ok(Some(ServiceCounts {
            name: "phoenix-service".into(),
            desired: 3,
            running,
            pending: 1,
        }))
    };
    // (case, change, open items expected (substrings, in order), notes expected)
    type Change = Box<dyn Fn(&mut Observation)>;
    let cases: Vec<(&str, Change, Vec<&str>, Vec<&str>)> = vec![
        (
            "alarm in ALARM now",
            Box::new(|o| o.alarms = Ok(vec![alarm("alb-5xx", AlarmState::Alarm, at(25, 6, 10))])),
            vec!["alb-5xx in ALARM since 06:10 (1 h 50 min)"],
            vec![],
        ),
        (
            "backup 30 h old",
            Box::new(|o| {
                o.backups_succeeded = Ok(vec![Point {
                    at: at(24, 2, 0),
                    value: 1.0,
                }])
            }),
            vec!["the last successful backup is 30 h old"],
            vec![],
        ),
        (
            "backup failed points only",
            Box::new(|o| {
                o.backups_succeeded = Ok(vec![Point {
                    at: at(25, 3, 0),
                    value: 0.0,
                }])
            }),
            vec!["no successful backup in the last 8 days"],
            vec![],
        ),
        (
            "export 50 h behind",
            Box::new(|o| {
                o.export_lag = Ok(vec![Point {
                    at: at(25, 3, 0),
                    value: 45.0,
                }])
            }),
            vec!["the log export is 50 h behind"],
            vec![],
        ),
        (
            "no export report at all",
            Box::new(|o| o.export_lag = Ok(vec![])),
            vec![],
            vec![],
        ),
        (
            "service short",
            Box::new(move |o| o.service = short(1)),
            vec!["phoenix-service runs 1 of 3 tasks (1 pending)"],
            vec![],
        ),
        (
            "service parked",
            Box::new(|o| {
                o.service = Ok(Some(ServiceCounts {
                    name: "phoenix-service".into(),
                    desired: 0,
                    running: 0,
                    pending: 0,
                }))
            }),
            vec![],
            vec!["phoenix-service is parked at 0 tasks"],
        ),
        (
            "service gone",
            Box::new(|o| o.service = Ok(None)),
            vec!["not an ACTIVE service"],
            vec![],
        ),
        (
            "a panic",
            Box::new(|o| {
                o.lines = Ok(vec![line(
                    at(25, 1, 0),
                    "task-recovery",
                    json!({"panicked": "overflow"}),
                )])
            }),
            vec!["task-recovery panicked 1 time(s): a defect, read its log (panicked: overflow)"],
            vec![],
        ),
        (
            "a final failure",
            Box::new(|o| {
                o.lines = Ok(vec![line(
                    at(25, 1, 0),
                    "backup",
                    json!({"decision": "backup-partial",
            "actions": [{"call": "rds:CreateDBClusterSnapshot", "target": "c", "status": "failed", "detail": "AccessDenied"}]}),
                )])
            }),
            vec!["backup: 1 action(s) failed for good (last: AccessDenied)"],
            vec![],
        ),
        (
            "retries alone need nobody",
            Box::new(|o| {
                o.lines = Ok(vec![LogLine { time: at(25, 1, 0),
            message: r#"{"level":"ERROR","message":"retryable failure: the event will be retried","function":"backup","error":"throttled"}"#.into() }])
            }),
            vec![],
            vec![],
        ),
        (
            "truncated lines",
            Box::new(|o| o.lines_truncated = true),
            vec![],
            vec!["lower bound"],
        ),
    ];
    for (case, change, open, notes) in cases {
        let mut observation = calm();
        change(&mut observation);
        let d = build(&observation, "daily-digest");
        assert_eq!(d.open.len(), open.len(), "{case}: {:?}", d.open);
        for (got, want) in d.open.iter().zip(&open) {
            assert!(
                got.contains(want),
                "{case}: {got:?} should contain {want:?}"
            );
        }
        assert_eq!(d.notes.len(), notes.len(), "{case}: {:?}", d.notes);
        for (got, want) in d.notes.iter().zip(&notes) {
            assert!(
                got.contains(want),
                "{case}: {got:?} should contain {want:?}"
            );
        }
        let want = if open.is_empty() {
            Severity::Info
        } else {
            Severity::Warning
        };
        assert_eq!(d.severity(), want, "{case}");
    }
}

#[test]
fn every_unread_source_is_named_and_the_rest_still_told() {
    let d = digest(|o| {
        o.requests = Err("cloudwatch:GetMetricData on tg failed: Throttling".into());
        o.backups_succeeded = Err("denied".into());
        o.export_lag = Err("denied".into());
        o.alarms = Err("cloudwatch:DescribeAlarms failed".into());
        o.history = Err("cloudwatch:DescribeAlarmHistory failed (HTTP 500, retryable)".into());
        o.lines = Err("logs:FilterLogEvents failed".into());
        o.service = Err("ecs:DescribeServices failed".into());
    });
    let what: Vec<&str> = d.gaps.iter().map(|g| g.what).collect();
    assert_eq!(
        what,
        [
            "the functions' Outcome lines",
            "ALB requests",
            "backup successes (BackupSucceeded)",
            "the log export lag (LogExportLagHours)",
            "alarm states",
            "alarm history",
            "the service",
        ]
    );
    assert!(
        d.open.is_empty(),
        "an unread source is not an open problem: {:?}",
        d.open
    );
    let text = report::details(&d);
    assert!(
        text.contains("Not read\n  • the functions' Outcome lines: logs:FilterLogEvents failed"),
        "{text}"
    );
    let notice = report::notice(&d, "eu-west-1", "k");
    assert!(
        notice
            .summary
            .contains("Not read: the functions' Outcome lines, ALB requests"),
        "{}",
        notice.summary
    );
    let field = |label: &str| {
        notice
            .fields
            .iter()
            .find(|f| f.label == label)
            .map(|f| f.value.clone())
    };
    assert_eq!(field("Last backup").as_deref(), Some("unknown"));
    assert_eq!(field("Peak requests/min").as_deref(), Some("unknown"));
}

#[test]
fn alarm_episodes_have_a_start_an_end_and_a_length() {
    use AlarmState::{Alarm, InsufficientData, Ok};
    let d = digest(|o| {
        o.alarms = Result::Ok(vec![
            alarm("cpu-peak", Ok, at(24, 10, 51)),
            alarm("alb-5xx", Alarm, at(25, 6, 10)),
            alarm("docdb-cpu", Alarm, at(23, 22, 0)), // since before the window
            alarm("dlq", Ok, at(24, 9, 30)),
        ]);
        o.history = Result::Ok(vec![
            change("cpu-peak", at(24, 10, 42), Ok, Alarm),
            change("cpu-peak", at(24, 10, 51), Alarm, Ok),
            change("dlq", at(24, 9, 30), Alarm, Ok), // raised before the window
            change("alb-5xx", at(25, 6, 10), InsufficientData, Alarm),
            change("cpu-peak", at(24, 7, 0), Ok, Alarm), // before the window: ignored
            change("cpu-peak", at(24, 7, 5), Alarm, Ok),
        ]);
    });
    let lines: Vec<String> = report::details(&d)
        .lines()
        .skip_while(|l| !l.starts_with("Alarms"))
        .take(5)
        .map(str::to_owned)
        .collect();
    assert_eq!(
        lines,
        [
            "Alarms (4)",
            "  dlq: in ALARM before Nov 24 08:00 → 09:30",
            "  docdb-cpu: in ALARM since before Nov 24 08:00 → still in ALARM",
            "  cpu-peak: 10:42 → 10:51 (9 min)",
            "  alb-5xx: 06:10 → still in ALARM (1 h 50 min so far)",
        ]
    );
    assert_eq!(d.open.len(), 2, "{:?}", d.open);
    let notice = report::notice(&d, "eu-west-1", "k");
    let links: Vec<&str> = notice.links.iter().map(|l| l.label.as_str()).collect();
    assert_eq!(links, ["Alarm docdb-cpu", "Alarm alb-5xx"]);
    assert!(
        notice
            .links
            .iter()
            .all(|l| phoenix_core::console::is_allowed_link(&l.url, None))
    );
}

#[test]
fn without_history_the_alarms_still_open_are_told() {
    let d = digest(|o| {
        o.alarms = Ok(vec![alarm("alb-5xx", AlarmState::Alarm, at(25, 6, 10))]);
        o.history = Err("cloudwatch:DescribeAlarmHistory failed".into());
    });
    assert_eq!(d.episodes.len(), 1);
    assert_eq!(d.episodes[0].started, Some(at(25, 6, 10)));
    assert_eq!(d.open.len(), 1);
}

#[test]
fn a_busy_day_reads_section_by_section() {
    let d = digest(|o| {
        o.lines = Ok(vec![
            line(
                at(24, 9, 12),
                "task-recovery",
                json!({"decision": "replace-standalone-task",
                "observed": {"classification": {"kind": {"kind": "crash"}}},
                "actions": [{"call": "ecs:RunTask", "target": "w", "status": "done"}]}),
            ),
            line(
                at(24, 9, 14),
                "task-recovery",
                json!({"decision": "ecs-replacing",
                "observed": {"classification": {"kind": {"kind": "crash"}}}}),
            ),
            line(
                at(24, 12, 0),
                "task-recovery",
                json!({"decision": "planned-stop",
                "observed": {"classification": {"kind": {"kind": "planned"}}}}),
            ),
            line(
                at(24, 14, 5),
                "request-scaler",
                json!({"decision": "scale-out",
                "actions": [{"call": "ecs:UpdateService", "target": "s", "status": "done", "detail": "desiredCount 2 → 4"}]}),
            ),
            line(
                at(24, 16, 30),
                "request-scaler",
                json!({"decision": "scale-in",
                "actions": [{"call": "ecs:UpdateService", "target": "s", "status": "done", "detail": "desiredCount 4 → 2"}]}),
            ),
            line(
                at(25, 3, 0),
                "backup",
                json!({"decision": "backed-up", "actions": [
                {"call": "rds:CreateDBClusterSnapshot", "target": "c", "status": "done"},
                {"call": "rds:DeleteDBClusterSnapshot", "target": "c", "status": "done"},
                {"call": "logs:CreateExportTask", "target": "g", "status": "done"}]}),
            ),
            line(
                at(24, 9, 13),
                "alarm-notifier",
                json!({"decision": "delivered"}),
            ),
            line(
                at(24, 7, 0),
                "task-recovery",
                json!({"decision": "x",
                "observed": {"classification": {"kind": {"kind": "crash"}}}}),
            ), // before the window
        ]);
    });
    assert_eq!(d.crash_count(), 2);
    assert_eq!(d.planned_stops, 1);
    assert_eq!(
        report::title(&d),
        "Daily digest: 2 crashes, 2 scale actions; nothing open"
    );
    let details = report::details(&d);
    let head: Vec<&str> = details.lines().take(9).collect();
    assert_eq!(
        head,
        [
            "Crashes (2)",
            "  crash ×2 — ecs replacing, replacement started",
            "  planned stops (deployments, scale-in): 1",
            "Scaling (2 actions; peak 120 requests/min at 14:07, 160 requests in all)",
            "  14:05 out 2 → 4 tasks",
            "  16:30 in 4 → 2 tasks",
            "Backups (1 run)",
            "  03:00 backed-up: 1 snapshot(s) made, 1 rotated, 1 log export(s) started",
            "  last success 5 h ago (03:00); log export 19 h behind",
        ]
    );
    assert!(
        details.contains("Notifications: 1 delivered, 0 failed for good"),
        "{details}"
    );
}

#[test]
fn times_outside_the_day_carry_their_date_and_ages_read_well() {
    use crate::decide::{age, clock};
    let w = Window::ending(now());
    assert_eq!(clock(at(25, 7, 59), &w), "07:59");
    assert_eq!(clock(at(24, 8, 0), &w), "08:00");
    assert_eq!(clock(at(23, 22, 0), &w), "Nov 23 22:00");
    for (d, want) in [
        (Duration::minutes(0), "0 min"),
        (Duration::minutes(59), "59 min"),
        (Duration::minutes(119), "1 h 59 min"),
        (Duration::minutes(120), "2 h"),
        (Duration::hours(30), "30 h"),
        (Duration::hours(74), "3 d 2 h"),
        (Duration::days(8), "8 d"),
        (Duration::minutes(-5), "0 min"),
    ] {
        assert_eq!(age(d), want);
    }
}
