//! The crate's tests, all in the lib's one unit-test binary: the pure rules as tables (`event`,
//! `classify`, `decide`, `recheck`, `report`, `config`), every AWS call's faults injected with
//! aws-smithy-mocks (`mocks` is the mocked AWS; `faults` for ECS, Logs, SQS and SNS, `ledger` for
//! DynamoDB, duplicates, dry runs, re-checks and ECS events), and random and damaged input
//! against the real handler (`fuzz`).
//! Behaviour against the emulator lives in the end-to-end tests (`tests/tests/task_recovery.rs`)
//! and in `tests/runtime.rs` (the real binary under a local Lambda Runtime API).

mod classify;
mod config;
mod decide;
mod event;
mod faults;
mod fuzz;
mod ledger;
mod mocks;
mod recheck;
mod report;

use chrono::{DateTime, TimeZone, Utc};
use phoenix_core::Vars;
use phoenix_core::lambda::load_config;
use serde_json::Value;

use crate::event::{NotOurs, Scope, StoppedTask, Trigger};
use crate::{Config, TaskRecovery};

/// The fixtures' cluster (events/*.json), and the settings that go with it.
pub const CLUSTER_ARN: &str = "arn:aws:ecs:eu-west-1:111122223333:cluster/phoenix-cluster";
pub const QUEUE_URL: &str = "https://sqs.eu-west-1.amazonaws.com/111122223333/phoenix-recheck";
pub const TOPIC_ARN: &str = "arn:aws:sns:eu-west-1:111122223333:phoenix-alerts";

pub fn env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("CLUSTER_ARN", CLUSTER_ARN),
        ("ALERTS_TOPIC_ARN", TOPIC_ARN),
        ("LEDGER_TABLE", "phoenix-ledger"),
        ("RECHECK_QUEUE_URL", QUEUE_URL),
        ("STANDALONE_FAMILIES", "phoenix-worker"),
        ("TASK_SUBNETS", "subnet-1,subnet-2"),
        ("TASK_SECURITY_GROUPS", "sg-1"),
    ]
}

pub fn config_with(overrides: &[(&'static str, &'static str)]) -> Config {
    let mut pairs = env();
    for (k, v) in overrides {
        pairs.retain(|(name, _)| name != k);
        pairs.push((k, v));
    }
    load_config::<TaskRecovery>(Vars::from_pairs(&pairs)).expect("valid config")
}

pub fn config() -> Config {
    config_with(&[])
}

/// `events/<name>` as JSON.
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// A time on the fixtures' day (2026-11-20), UTC.
pub fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, h, m, s)
        .single()
        .expect("valid time")
}

/// The fixtures' stop time (`stoppedAt` of the crash events): 10:15:41.930.
pub fn stop_time() -> DateTime<Utc> {
    at(10, 15, 41) + chrono::Duration::milliseconds(930)
}

/// Parses a payload as the handler does, at `now`.
pub fn parse_at(payload: &Value, now: DateTime<Utc>) -> Result<Trigger, NotOurs> {
    let config = config();
    let scope = Scope {
        cluster: &config.cluster,
        recheck_queue: &config.recheck_queue,
        now,
    };
    crate::event::parse(payload, &scope)
}

/// A stopped-task fixture, parsed a minute after its stop.
pub fn stopped(name: &str) -> StoppedTask {
    match parse_at(&fixture(name), at(10, 17, 0)) {
        Ok(Trigger::TaskStopped(task)) => *task,
        other => panic!("{name}: {other:?}"),
    }
}
