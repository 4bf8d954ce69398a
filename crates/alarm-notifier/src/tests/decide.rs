//! The decisions, as tables: what the ledger said → what to do per channel; what happened →
//! the Outcome's decision and wording; how long an alarm lasted; how urgent each message is
//! for people (the `severity` attribute); the DocumentDB rating rule.

use chrono::{DateTime, Duration, Utc};
use phoenix_core::Severity;

use super::support::{DASHBOARD, fixture, now};
use crate::alarm::{Alarm, AlarmKind, AlarmState};
use crate::decide::{
    Channel, Decision, Delivery, Observed, Seen, Settings, Skip, Step, alarm_lasted,
    alarm_start_key, needs_alarm_start, overall, plan,
};
use crate::docdb::{Category, DbEvent, SourceType};
use crate::event::parse_event;
use crate::lenient::parse_time;

fn settings(dry_run: bool) -> Settings {
    Settings {
        dry_run,
        dashboard_url: Some(DASHBOARD.to_owned()),
        request_id: "req-1".to_owned(),
    }
}

fn at(secs: i64) -> DateTime<Utc> {
    now() + Duration::seconds(secs)
}

const KEY: &str = "alarm-notifier:slack:alarm:arn:aws:cloudwatch:eu-west-1:111122223333:alarm:phoenix-cpu-high:ALARM:2026-11-20T10:15:10.123+00:00";

/// Table: what the ledger said about the Slack key → the step, in a real run and a dry run.
#[test]
fn what_the_ledger_says_decides_each_channel() {
    let done = Seen::Done {
        at: at(-30),
        note: "posted to https://hooks.slack.com (1 attempt)".into(),
    };
    let held = Seen::Held {
        at: at(-2),
        by: "req-0".into(),
    };
    let already = Skip::AlreadyDone {
        at: at(-30),
        note: "posted to https://hooks.slack.com (1 attempt)".into(),
    };
    let deliver = Step::Deliver { key: KEY.into() };
    let cases: Vec<(Seen, bool, Step)> = vec![
        (Seen::Free, false, deliver.clone()),
        (Seen::Mine, false, deliver.clone()),
        // the claim decides: the other holder's lease may have run out
        (held.clone(), false, deliver.clone()),
        (done.clone(), false, Step::Skip(already.clone())),
        (
            Seen::Unreadable { why: "dynamodb:GetItem on phoenix-ledger failed: throttled".into(), retryable: true },
            false,
            Step::Postpone { why: "the ledger cannot be read now: dynamodb:GetItem on phoenix-ledger failed: throttled".into() },
        ),
        (
            Seen::Unreadable { why: "dynamodb:GetItem on phoenix-ledger failed: ResourceNotFoundException".into(), retryable: false },
            false,
            Step::DeliverUnguarded { why: "the ledger cannot be used: dynamodb:GetItem on phoenix-ledger failed: ResourceNotFoundException".into() },
        ),
        (Seen::Free, true, Step::WouldDeliver),
        (done, true, Step::WouldSkip(already)),
        (held, true, Step::WouldSkip(Skip::HeldElsewhere { until: None, by: "req-0".into() })),
        (Seen::Unreadable { why: "x".into(), retryable: true }, true, Step::WouldDeliver),
    ];
    let incoming = parse_event(&fixture("sns-cloudwatch-alarm-cpu.json"))
        .expect("ours")
        .remove(0);
    for (seen, dry_run, want) in cases {
        let observed = Observed {
            seen: [Some(seen.clone()), Some(Seen::Free)],
            ..Observed::default()
        };
        let plan = plan(&incoming, &observed, &settings(dry_run));
        assert_eq!(plan.channels[0].channel, Channel::Slack);
        assert_eq!(plan.channels[0].step, want, "{seen:?} dry run {dry_run}");
    }
}

#[test]
fn a_message_without_identity_is_delivered_unguarded() {
    let bare = serde_json::json!({"schema": "phoenix-ops/notice@1", "severity": "info", "source": "backup", "title": "t", "summary": "s", "time": "2026-11-20T10:00:00Z"});
    let incoming = parse_event(&bare).expect("ours").remove(0);
    let plan = plan(&incoming, &Observed::default(), &settings(false));
    assert_eq!(plan.identity, None);
    for channel in &plan.channels {
        assert!(
            matches!(channel.step, Step::DeliverUnguarded { .. }),
            "{channel:?}"
        );
    }
}

#[test]
fn an_alarm_is_remembered_when_it_fires_and_its_ok_says_how_long_it_lasted() {
    let fired = parse_event(&fixture("sns-cloudwatch-alarm-cpu.json"))
        .expect("ours")
        .remove(0);
    let Some((key, start)) =
        plan(&fired, &Observed::default(), &settings(false)).remember_alarm_start
    else {
        panic!("an ALARM is remembered")
    };
    assert_eq!(
        key,
        "alarm-notifier:alarm-since:arn:aws:cloudwatch:eu-west-1:111122223333:alarm:phoenix-cpu-high"
    );
    assert_eq!(start.to_rfc3339(), "2026-11-20T10:15:10.123+00:00");
    // never in a dry run
    assert_eq!(
        plan(&fired, &Observed::default(), &settings(true)).remember_alarm_start,
        None
    );

    let ok = parse_event(&fixture("sns-cloudwatch-alarm-ok.json"))
        .expect("ours")
        .remove(0);
    let crate::message::Message::Alarm(alarm) = &ok.message else {
        panic!("an alarm")
    };
    assert!(
        needs_alarm_start(alarm),
        "SNS messages carry no previous-state time"
    );
    assert_eq!(alarm_start_key(alarm), key);
    let observed = Observed {
        alarm_started: Some(start),
        ..Observed::default()
    };
    let planned = plan(&ok, &observed, &settings(false));
    assert_eq!(planned.lasted.map(|d| d.num_seconds()), Some(35 * 60));
    assert!(
        planned.rendered.headline.ends_with("alarm lasted 35m 0s"),
        "{}",
        planned.rendered.headline
    );
    assert_eq!(planned.remember_alarm_start, None);
    // EventBridge events carry the start: nothing to read.
    let by_event = parse_event(&fixture("cloudwatch-alarm-cpu-ok.json"))
        .expect("ours")
        .remove(0);
    let crate::message::Message::Alarm(alarm) = &by_event.message else {
        panic!("an alarm")
    };
    assert!(!needs_alarm_start(alarm));
}

/// Table: what happened on the channels → the decision and its wording.
#[test]
fn what_happened_decides_the_outcome_in_one_wording() {
    let sent = || Delivery::Sent {
        detail: "d".into(),
        guarded: true,
    };
    let done = || {
        Delivery::Skipped(Skip::AlreadyDone {
            at: at(-3),
            note: "n".into(),
        })
    };
    let held = || {
        Delivery::Skipped(Skip::HeldElsewhere {
            until: Some(at(50)),
            by: "req-0".into(),
        })
    };
    let failed = || Delivery::Failed {
        why: "Slack answered 500".into(),
    };
    let cases: Vec<(Vec<Delivery>, Decision, &str)> = vec![
        (
            vec![sent(), sent()],
            Decision::Delivered,
            "m: posted to Slack, published to oncall",
        ),
        (
            vec![done(), sent()],
            Decision::Delivered,
            "m: Slack already delivered, published to oncall",
        ),
        (
            vec![done(), done()],
            Decision::CollapsedDuplicate,
            "m: Slack already delivered, oncall already delivered (a repeated delivery): nothing sent again",
        ),
        (
            vec![held(), done()],
            Decision::CollapsedDuplicate,
            "m: Slack being delivered by another invocation, oncall already delivered (a repeated delivery): nothing sent again",
        ),
        (
            vec![failed(), sent()],
            Decision::DeliveryFailed,
            "m: Slack: Slack answered 500, published to oncall",
        ),
        (
            vec![Delivery::WouldSend, Delivery::WouldSend],
            Decision::DryRun,
            "m: Slack would be sent, oncall would be sent (dry run): nothing sent",
        ),
    ];
    for (deliveries, want, reason) in cases {
        let decision = Decision::of(&deliveries);
        assert_eq!(decision, want, "{deliveries:?}");
        let by_channel: Vec<(Channel, Delivery)> =
            Channel::ALL.into_iter().zip(deliveries).collect();
        assert_eq!(decision.reason("m", &by_channel), reason);
    }
    assert_eq!(
        overall(&[Decision::Delivered, Decision::Delivered]),
        Decision::Delivered
    );
    assert_eq!(
        overall(&[Decision::CollapsedDuplicate, Decision::Delivered]),
        Decision::Delivered
    );
    assert_eq!(
        overall(&[Decision::Delivered, Decision::DeliveryFailed]),
        Decision::DeliveryFailed
    );
    let names: Vec<&str> = [
        Decision::Delivered,
        Decision::CollapsedDuplicate,
        Decision::DryRun,
        Decision::DeliveryFailed,
    ]
    .into_iter()
    .map(Decision::name)
    .collect();
    assert_eq!(
        names,
        [
            "delivered",
            "collapsed-duplicate",
            "dry-run",
            "delivery-failed"
        ]
    );
}

/// Table: the `severity` attribute people's subscriptions filter on, for every input kind.
#[test]
fn every_input_kind_carries_the_severity_people_filter_on() {
    let cases = [
        ("sns-cloudwatch-alarm-cpu.json", Severity::Error),
        ("sns-cloudwatch-alarm-ok.json", Severity::Info),
        ("sns-cloudwatch-alarm-insufficient.json", Severity::Warning),
        ("sns-cloudwatch-alarm-metric-math.json", Severity::Error),
        ("sns-cloudwatch-alarm-composite.json", Severity::Error),
        ("cloudwatch-alarm-cpu-ok.json", Severity::Info),
        ("sns-notice.json", Severity::Critical),
        ("sns-notice-digest.json", Severity::Warning),
        ("sns-plain-text.json", Severity::Warning),
        ("docdb-cluster-failover.json", Severity::Warning),
        ("sns-docdb-instance-restarted.json", Severity::Warning),
        ("docdb-cluster-maintenance.json", Severity::Info),
    ];
    for (file, want) in cases {
        let incoming = parse_event(&fixture(file)).expect("ours").remove(0);
        assert_eq!(incoming.message.severity(), want, "{file}");
        let planned = plan(&incoming, &Observed::default(), &settings(false));
        assert_eq!(
            planned.rendered.severity, want,
            "{file}: the rendered message agrees"
        );
    }
}

fn db_event(categories: &[&str], message: &str) -> DbEvent {
    DbEvent {
        source_type: SourceType::Cluster,
        source_id: "phoenix-docdb".into(),
        source_arn: None,
        categories: categories.iter().map(|c| Category::from(*c)).collect(),
        message: message.into(),
        code: None,
        time: None,
        account: None,
        region: None,
    }
}

/// Table: the one rule for how urgent a DocumentDB event is.
#[test]
fn documentdb_events_are_rated_by_one_rule() {
    use Severity::*;
    let cases: &[(&[&str], &str, Severity)] = &[
        (
            &["failure"],
            "The instance has failed due to an incompatible configuration",
            Error,
        ),
        (
            &["failover"],
            "Cluster failover failed, check the health of your cluster instances and try again",
            Error,
        ),
        (
            &["failover"],
            "Completed failover to DB instance: phoenix-docdb-2",
            Warning,
        ),
        (
            &["failover"],
            "Started cross AZ failover to DB instance: phoenix-docdb-2",
            Warning,
        ),
        (&["availability"], "DB instance restarted", Warning),
        (&["availability"], "DB instance shutdown", Warning),
        (&["low storage"], "Free storage below 10%", Warning),
        (&["deletion"], "DB cluster deleted", Warning),
        (
            &["recovery"],
            "Recovery of the DB instance has started",
            Warning,
        ),
        (
            &["recovery"],
            "Recovery of the DB instance is complete",
            Info,
        ),
        (&["maintenance"], "Database cluster has been patched", Info),
        (
            &["maintenance"],
            "Database cluster is in a state that cannot be upgraded: x",
            Warning,
        ),
        (
            &["security patching"],
            "An operating system update is available",
            Info,
        ),
        (&["notification"], "DB cluster stopped", Info),
        (&["notification"], "DB cluster failed to stop", Warning),
        (
            &["configuration change"],
            "Finished applying modification to DB instance class",
            Info,
        ),
        (&["creation"], "DB cluster created", Info),
        (&["backup"], "Backing up DB cluster", Info),
        (&["brand new"], "something new", Warning),
        (&[], "no category at all", Warning),
        (&["maintenance", "failure"], "patch failed", Error),
        (
            &["notification"],
            "Errors while applying the patch",
            Warning,
        ),
        (
            &["notification"],
            "Terminated the failover test instance",
            Info,
        ),
        (
            &["notification"],
            "An error occurred while stopping",
            Warning,
        ),
    ];
    for (categories, message, want) in cases {
        assert_eq!(
            &db_event(categories, message).severity(),
            want,
            "{categories:?} {message}"
        );
    }
}

fn alarm(state: AlarmState, previous: Option<AlarmState>, since: Option<&str>, at: &str) -> Alarm {
    Alarm {
        name: "a".into(),
        description: None,
        arn: None,
        account: None,
        region: None,
        state,
        previous,
        reason: String::new(),
        changed_at: parse_time(at),
        previous_since: since.and_then(parse_time),
        kind: AlarmKind::Other,
        threshold: None,
        comparison: None,
        unit: None,
        evaluation_periods: None,
        datapoints_to_alarm: None,
        value: None,
    }
}

#[test]
fn an_ok_after_alarm_says_how_long_it_lasted_when_known() {
    use AlarmState::*;
    let remembered = parse_time("2026-11-20T10:00:00Z");
    type Case = (crate::alarm::Alarm, Option<DateTime<Utc>>, Option<i64>);
    let cases: &[Case] = &[
        (
            alarm(
                Ok,
                Some(Alarm),
                Some("2026-11-20T09:40:00Z"),
                "2026-11-20T10:15:00Z",
            ),
            None,
            Some(2100),
        ),
        // The event's own start wins over memory.
        (
            alarm(
                Ok,
                Some(Alarm),
                Some("2026-11-20T09:40:00Z"),
                "2026-11-20T10:15:00Z",
            ),
            remembered,
            Some(2100),
        ),
        (
            alarm(Ok, Some(Alarm), None, "2026-11-20T10:15:00Z"),
            remembered,
            Some(900),
        ),
        (
            alarm(Ok, Some(Alarm), None, "2026-11-20T10:15:00Z"),
            None,
            None,
        ),
        (
            alarm(InsufficientData, Some(Alarm), None, "2026-11-20T10:15:00Z"),
            remembered,
            Some(900),
        ),
        (
            alarm(
                Ok,
                Some(InsufficientData),
                Some("2026-11-20T09:40:00Z"),
                "2026-11-20T10:15:00Z",
            ),
            None,
            None,
        ),
        (
            alarm(
                Alarm,
                Some(Ok),
                Some("2026-11-20T09:40:00Z"),
                "2026-11-20T10:15:00Z",
            ),
            None,
            None,
        ),
        // A clock that runs backwards is not a duration.
        (
            alarm(
                Ok,
                Some(Alarm),
                Some("2026-11-20T11:00:00Z"),
                "2026-11-20T10:15:00Z",
            ),
            None,
            None,
        ),
    ];
    for (a, remembered, want) in cases {
        assert_eq!(
            alarm_lasted(a, *remembered).map(|d| d.num_seconds()),
            *want,
            "{a:?}"
        );
    }
}
