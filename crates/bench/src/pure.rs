//! The pure decision path of each function, timed in process: what the handler computes between
//! reading AWS and writing AWS, on realistic input.

use std::collections::BTreeMap;
use std::hint::black_box;

use backup::rotation::{
    CREATED_BY_KEY, CREATED_BY_VALUE, SnapshotInfo, SnapshotRetention, SnapshotStatus,
    SnapshotType, plan_rotation,
};
use chrono::{Duration, TimeZone, Utc};
use phoenix_core::Vars;
use phoenix_core::lambda::load_config;
use request_scaler::decide::{CpuSample, Minute, Observation, Policy, decide};
use request_scaler::forecast::{DAY_WINDOW_MINUTES, DayWindow};
use task_recovery::TaskRecovery;
use task_recovery::classify::classify;
use task_recovery::decide::plan_stop;
use task_recovery::event::{Scope, Trigger};
use task_recovery::observe::Observed;

use crate::stats::{Stats, nanos_per_call};

fn timed(f: impl FnMut()) -> Stats {
    nanos_per_call(200, 30, 200, f)
}

/// (function, what is timed, nanoseconds per event)
pub fn measure() -> Vec<(&'static str, String, Stats)> {
    let mut out = Vec::new();

    // task-recovery: parse the STOPPED event, classify the stop, plan the recovery.
    let env = [
        (
            "CLUSTER_ARN",
            "arn:aws:ecs:eu-west-1:111122223333:cluster/phoenix-cluster",
        ),
        ("LEDGER_TABLE", "phoenix-ledger"),
        (
            "RECHECK_QUEUE_URL",
            "https://sqs.eu-west-1.amazonaws.com/111122223333/phoenix-recheck",
        ),
        (
            "ALERTS_TOPIC_ARN",
            "arn:aws:sns:eu-west-1:111122223333:phoenix-alerts",
        ),
        ("STANDALONE_FAMILIES", "phoenix-worker"),
        ("TASK_SUBNETS", "subnet-1"),
    ];
    if let Ok(config) = load_config::<TaskRecovery>(Vars::from_pairs(&env)) {
        let event = phoenix_testkit::fixture("ecs-task-stopped-crash.json");
        // the fixture's own day: an event days old is (rightly) ignored as stale, and the bench
        // would time only the ignore path
        let now = Utc
            .with_ymd_and_hms(2026, 11, 20, 10, 17, 0)
            .single()
            .unwrap_or_default();
        let scope = Scope {
            cluster: &config.cluster,
            recheck_queue: &config.recheck_queue,
            now,
        };
        let observed = Observed::default();
        let mut planned = 0_u64;
        let stats = timed(|| {
            if let Ok(Trigger::TaskStopped(task)) =
                task_recovery::event::parse(black_box(&event), &scope)
            {
                let classification = classify(&task.facts);
                black_box(plan_stop(
                    &task,
                    &classification,
                    &observed,
                    &config.policy,
                    now,
                ));
                planned += 1;
            }
        });
        assert!(
            planned > 0,
            "the bench event must reach the planner, not be ignored"
        );
        out.push((
            "task-recovery",
            "parse + classify + plan (crash event)".to_owned(),
            stats,
        ));
    }

    // request-scaler: one decision over the window.
    // what one evaluation really sees: an hour of minutes with CPU on a rising load, the
    // previous three days' windows for the daily pattern, two partial minutes
    let minutes: Vec<Minute> = (0..60_u64)
        .map(|m| Minute {
            requests: 300 + m * 8,
            cpu: Some(CpuSample {
                percent: 40.0 + (m as f64) * 0.5,
                tasks: 4,
            }),
        })
        .collect();
    let previous_days = (1..=3)
        .map(|days_ago| DayWindow {
            days_ago,
            requests: (0..DAY_WINDOW_MINUTES as u64)
                .map(|m| 700 + m * 10)
                .collect(),
        })
        .collect();
    let observation = Observation {
        minutes,
        partial: vec![900, 40],
        previous_days,
        desired: 4,
        running: 4,
        pending: 0,
        deployment_in_progress: false,
    };
    let policy = Policy::default();
    out.push((
        "request-scaler",
        "decide (60 minutes with CPU, 3 previous days, 2 partial)".to_owned(),
        timed(|| {
            black_box(decide(black_box(&observation), &policy));
        }),
    ));

    // alarm-notifier: parse + render Block Kit and text, per fixture kind.
    for fixture in [
        "sns-cloudwatch-alarm-cpu.json",
        "sns-cloudwatch-alarm-composite.json",
        "sns-notice.json",
        "sns-hostile-names.json",
    ] {
        let event = phoenix_testkit::fixture(fixture);
        out.push((
            "alarm-notifier",
            format!("parse + render ({fixture})"),
            timed(|| {
                let _ = black_box(alarm_notifier::render_event(black_box(&event)));
            }),
        ));
    }

    // backup: the rotation plan over 120 of our snapshots and 30 foreign ones.
    let now = Utc
        .with_ymd_and_hms(2026, 11, 25, 3, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let mut snapshots = Vec::new();
    for i in 0..150_i64 {
        let ours = i < 120;
        let id = format!("phoenix-ops-phoenix-docdb-{i:03}");
        snapshots.push(SnapshotInfo {
            arn: format!("arn:aws:rds:eu-west-1:111122223333:cluster-snapshot:{id}"),
            id,
            cluster: if ours { "phoenix-docdb" } else { "other-db" }.to_owned(),
            kind: SnapshotType::Manual,
            status: SnapshotStatus::Available,
            created: Some(now - Duration::hours(6 * i)),
            tags: ours.then(|| {
                BTreeMap::from([(CREATED_BY_KEY.to_owned(), CREATED_BY_VALUE.to_owned())])
            }),
        });
    }
    let retention = SnapshotRetention {
        retention: Duration::days(7),
    };
    out.push((
        "backup",
        "plan_rotation (150 snapshots, 120 ours)".to_owned(),
        nanos_per_call(20, 30, 20, || {
            black_box(plan_rotation(
                black_box(&snapshots),
                "phoenix-docdb",
                now,
                retention,
                0,
            ));
        }),
    ));
    out
}
