// pure: reads facts out of Outcome JSON already read; no I/O.
//! What each function did, read from its Outcome lines.
//!
//! The digest relies on the Outcome contract of phoenix-core (`decision`, `actions[]` with
//! `call`/`status`/`detail`, `notice`, `ignored`, `rejected`, `panicked`) and on as few
//! function-specific fields as possible, each read from several places, so a function that
//! reshapes its `observed` block loses a detail, never the count:
//! * task-recovery: the stop kind (`observed.classification.kind.kind`, `…kind`, `observed.kind`
//!   or the Notice's "Stop kind" field); a line without one is another kind of event (a
//!   deployment problem, a re-check) and is counted by its decision;
//! * request-scaler: its `ecs:UpdateService` actions (the `a → b` in the detail);
//! * backup: its snapshot, rotation and export actions;
//! * alarm-notifier: one line per delivery, failed when an action failed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::lines::Entry;

/// One task stop task-recovery handled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stop {
    pub at: DateTime<Utc>,
    /// `crash`, `out-of-memory`, `planned`, ... (task-recovery's stop kinds).
    pub kind: String,
    /// What was done, in words: `replacement started`, `new deployment forced`, `ecs replacing`.
    pub done: String,
    pub crash_loop: bool,
}

/// One change of the service's task count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScaleAction {
    pub at: DateTime<Utc>,
    pub from: Option<u32>,
    pub to: Option<u32>,
    /// `out`, `in`, or the decision when the numbers cannot be read.
    pub direction: String,
    pub dry_run: bool,
}

/// One backup run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupRun {
    pub at: DateTime<Utc>,
    pub decision: String,
    pub snapshots_created: u32,
    pub snapshots_deleted: u32,
    pub exports_started: u32,
    pub failed_actions: u32,
    pub dry_run: bool,
}

/// What alarm-notifier delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Notifications {
    /// Messages handled with every channel delivered.
    pub delivered: u32,
    /// Messages where a channel failed for good.
    pub failed: u32,
}

/// A function's own trouble.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Trouble {
    /// Invocations that failed retryably (Lambda retried them).
    pub retried: u32,
    /// Invocations whose handler panicked (a defect).
    pub panicked: u32,
    /// Actions that failed for good.
    pub failed_actions: u32,
    /// The last error text seen.
    pub last: String,
}

/// Everything read from the lines.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Facts {
    pub stops: Vec<Stop>,
    /// task-recovery events that were not task stops, by decision.
    pub other_recovery: BTreeMap<String, u32>,
    pub scale_actions: Vec<ScaleAction>,
    /// request-scaler warnings (e.g. capped at the maximum), by title.
    pub scale_warnings: BTreeMap<String, u32>,
    pub backup_runs: Vec<BackupRun>,
    pub notifications: Notifications,
    /// By function.
    pub trouble: BTreeMap<String, Trouble>,
}

fn text<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

fn actions(outcome: &Value) -> &[Value] {
    outcome
        .get("actions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn status(action: &Value) -> &str {
    action.get("status").and_then(Value::as_str).unwrap_or("")
}

fn call(action: &Value) -> &str {
    action.get("call").and_then(Value::as_str).unwrap_or("")
}

/// Done, or would be done in a dry run.
fn carried_out(action: &Value) -> bool {
    matches!(status(action), "done" | "dry_run")
}

fn count_done(outcome: &Value, wanted: &str) -> u32 {
    let n = actions(outcome)
        .iter()
        .filter(|a| call(a) == wanted && carried_out(a))
        .count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The stop kind task-recovery reported, wherever it put it.
pub fn stop_kind(outcome: &Value) -> Option<String> {
    [
        "/observed/classification/kind/kind",
        "/observed/classification/kind",
        "/observed/kind",
    ]
    .iter()
    .find_map(|p| text(outcome, p))
    .map(str::to_owned)
    .or_else(|| {
        outcome
            .pointer("/notice/fields")
            .and_then(Value::as_array)?
            .iter()
            .find(|f| f.get("label").and_then(Value::as_str) == Some("Stop kind"))
            .and_then(|f| f.get("value").and_then(Value::as_str))
            .map(str::to_owned)
    })
    .filter(|k| !k.trim().is_empty())
}

/// What task-recovery did about a stop, in words.
fn what_was_done(outcome: &Value) -> String {
    let mut done = Vec::new();
    for action in actions(outcome) {
        let dry = if status(action) == "dry_run" {
            " (dry run)"
        } else {
            ""
        };
        let words = match (call(action), status(action)) {
            (_, "failed") => format!("{} failed", call(action)),
            ("ecs:RunTask", _) if carried_out(action) => format!("replacement started{dry}"),
            ("ecs:UpdateService", _) if carried_out(action) => {
                format!("new deployment forced{dry}")
            }
            ("sqs:SendMessage", _) if carried_out(action) => format!("re-check scheduled{dry}"),
            _ => continue,
        };
        if !done.contains(&words) {
            done.push(words);
        }
    }
    if done.is_empty() {
        let decision = outcome
            .get("decision")
            .and_then(Value::as_str)
            .unwrap_or("nothing done");
        done.push(decision.replace('-', " "));
    }
    done.join(", ")
}

/// `desiredCount 2 → 4` (or `2 -> 4`): the two numbers.
fn counts(detail: &str) -> (Option<u32>, Option<u32>) {
    let numbers: Vec<u32> = detail
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect();
    match numbers.as_slice() {
        [.., a, b] => (Some(*a), Some(*b)),
        _ => (None, None),
    }
}

fn trouble<'a>(facts: &'a mut Facts, function: &str) -> &'a mut Trouble {
    facts.trouble.entry(function.to_owned()).or_default()
}

/// Reads the facts of every entry.
pub fn read(entries: &[Entry]) -> Facts {
    let mut facts = Facts::default();
    for entry in entries {
        match entry {
            Entry::Retried {
                function, error, ..
            } => {
                let t = trouble(&mut facts, function);
                t.retried += 1;
                t.last = error.clone();
            }
            Entry::Outcome {
                time,
                function,
                outcome,
            } => read_outcome(&mut facts, *time, function, outcome),
        }
    }
    facts
}

fn read_outcome(facts: &mut Facts, at: DateTime<Utc>, function: &str, outcome: &Value) {
    if outcome.get("ignored").is_some() || outcome.get("rejected").is_some() {
        return;
    }
    if let Some(panic) = outcome.get("panicked") {
        let t = trouble(facts, function);
        t.panicked += 1;
        t.last = format!("panicked: {}", panic.as_str().unwrap_or("?"));
        return;
    }
    let failed: Vec<&Value> = actions(outcome)
        .iter()
        .filter(|a| status(a) == "failed")
        .collect();
    if let Some(last) = failed.last() {
        let t = trouble(facts, function);
        t.failed_actions += u32::try_from(failed.len()).unwrap_or(u32::MAX);
        t.last = text(last, "/detail").unwrap_or(call(last)).to_owned();
    }
    let decision = outcome
        .get("decision")
        .and_then(Value::as_str)
        .unwrap_or("handled");
    let dry_run = outcome.get("dry_run").and_then(Value::as_bool) == Some(true);
    match function {
        "task-recovery" => match stop_kind(outcome) {
            Some(kind) => facts.stops.push(Stop {
                at,
                kind,
                done: what_was_done(outcome),
                crash_loop: decision == "crash-loop"
                    || outcome.pointer("/observed/crash_loop/first") == Some(&Value::Bool(true)),
            }),
            None => *facts.other_recovery.entry(decision.to_owned()).or_default() += 1,
        },
        "request-scaler" => {
            for action in actions(outcome) {
                if call(action) != "ecs:UpdateService" || !carried_out(action) {
                    continue;
                }
                let (from, to) = counts(text(action, "/detail").unwrap_or(""));
                let direction = match (from, to) {
                    (Some(a), Some(b)) if b > a => "out".to_owned(),
                    (Some(a), Some(b)) if b < a => "in".to_owned(),
                    _ => decision.to_owned(),
                };
                facts.scale_actions.push(ScaleAction {
                    at,
                    from,
                    to,
                    direction,
                    dry_run,
                });
            }
            let severity = text(outcome, "/notice/severity").unwrap_or("info");
            if severity != "info" {
                let title = text(outcome, "/notice/title").unwrap_or(decision);
                *facts.scale_warnings.entry(title.to_owned()).or_default() += 1;
            }
        }
        "backup" => facts.backup_runs.push(BackupRun {
            at,
            decision: decision.to_owned(),
            snapshots_created: count_done(outcome, "rds:CreateDBClusterSnapshot"),
            snapshots_deleted: count_done(outcome, "rds:DeleteDBClusterSnapshot"),
            exports_started: count_done(outcome, "logs:CreateExportTask"),
            failed_actions: u32::try_from(failed.len()).unwrap_or(u32::MAX),
            dry_run,
        }),
        "alarm-notifier" => {
            if failed.is_empty() {
                facts.notifications.delivered += 1;
            } else {
                facts.notifications.failed += 1;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, h, m, 0)
            .single()
            .expect("valid")
    }

    fn outcome(function: &str, outcome: Value) -> Entry {
        Entry::Outcome {
            time: at(7, 0),
            function: function.to_owned(),
            outcome,
        }
    }

    #[test]
    fn stop_kinds_are_found_wherever_task_recovery_puts_them() {
        let cases: &[(Value, Option<&str>)] = &[
            (
                json!({"observed": {"classification": {"kind": {"kind": "crash", "exit_code": 1}}}}),
                Some("crash"),
            ),
            (
                json!({"observed": {"classification": {"kind": "out-of-memory"}}}),
                Some("out-of-memory"),
            ),
            (
                json!({"observed": {"kind": "image-missing"}}),
                Some("image-missing"),
            ),
            (
                json!({"notice": {"fields": [{"label": "Task", "value": "t"}, {"label": "Stop kind", "value": "health-check-failed"}]}}),
                Some("health-check-failed"),
            ),
            (json!({"observed": {"classification": {"kind": ""}}}), None),
            (json!({"observed": {"service": "phoenix-service"}}), None),
            (json!({"notice": {"fields": "not a list"}}), None),
        ];
        for (outcome, want) in cases {
            assert_eq!(stop_kind(outcome).as_deref(), *want, "{outcome}");
        }
    }

    #[test]
    fn each_function_contributes_its_facts() {
        let entries = vec![
            outcome(
                "task-recovery",
                json!({"decision": "replace-standalone-task",
                "observed": {"classification": {"kind": {"kind": "crash"}}},
                "actions": [{"call": "ecs:RunTask", "target": "w", "status": "done"}]}),
            ),
            outcome(
                "task-recovery",
                json!({"decision": "ecs-replacing",
                "observed": {"classification": {"kind": {"kind": "out-of-memory"}}}}),
            ),
            outcome(
                "task-recovery",
                json!({"decision": "crash-loop",
                "observed": {"classification": {"kind": {"kind": "crash"}}, "crash_loop": {"first": true}}}),
            ),
            outcome(
                "task-recovery",
                json!({"decision": "planned-stop",
                "observed": {"classification": {"kind": {"kind": "planned"}}}}),
            ),
            outcome(
                "task-recovery",
                json!({"decision": "deployment-failed", "observed": {}}),
            ),
            outcome("task-recovery", json!({"ignored": "duplicate delivery"})),
            outcome(
                "request-scaler",
                json!({"decision": "scale-out",
                "actions": [{"call": "ecs:UpdateService", "target": "s", "status": "done", "detail": "desiredCount 2 → 5"}]}),
            ),
            outcome(
                "request-scaler",
                json!({"decision": "scale-in", "dry_run": true,
                "actions": [{"call": "ecs:UpdateService", "target": "s", "status": "dry_run", "detail": "desiredCount 5 -> 3"}]}),
            ),
            outcome("request-scaler", json!({"decision": "hold"})),
            outcome(
                "request-scaler",
                json!({"decision": "scale-out",
                "notice": {"severity": "warning", "title": "phoenix-service needs 14 tasks but is capped at 10"},
                "actions": [{"call": "ecs:UpdateService", "status": "failed", "detail": "AccessDenied"}]}),
            ),
            outcome(
                "backup",
                json!({"decision": "backed-up", "actions": [
                {"call": "rds:CreateDBClusterSnapshot", "status": "done"},
                {"call": "rds:DeleteDBClusterSnapshot", "status": "done"},
                {"call": "rds:DeleteDBClusterSnapshot", "status": "skipped"},
                {"call": "logs:CreateExportTask", "status": "done"}]}),
            ),
            outcome("alarm-notifier", json!({"decision": "delivered"})),
            outcome(
                "alarm-notifier",
                json!({"decision": "delivered", "actions": [{"call": "slack:PostMessage", "status": "failed", "detail": "404 no_service"}]}),
            ),
            outcome("alarm-notifier", json!({"ignored": "already delivered"})),
            outcome("backup", json!({"panicked": "index out of bounds"})),
            Entry::Retried {
                time: at(7, 1),
                function: "backup".into(),
                error: "throttled".into(),
            },
        ];
        let facts = read(&entries);
        let stops: Vec<(&str, &str, bool)> = facts
            .stops
            .iter()
            .map(|s| (s.kind.as_str(), s.done.as_str(), s.crash_loop))
            .collect();
        assert_eq!(
            stops,
            [
                ("crash", "replacement started", false),
                ("out-of-memory", "ecs replacing", false),
                ("crash", "crash loop", true),
                ("planned", "planned stop", false),
            ]
        );
        assert_eq!(
            facts.other_recovery,
            BTreeMap::from([("deployment-failed".to_owned(), 1)])
        );
        let scale: Vec<(Option<u32>, Option<u32>, &str, bool)> = facts
            .scale_actions
            .iter()
            .map(|a| (a.from, a.to, a.direction.as_str(), a.dry_run))
            .collect();
        assert_eq!(
            scale,
            [
                (Some(2), Some(5), "out", false),
                (Some(5), Some(3), "in", true)
            ]
        );
        assert_eq!(
            facts.scale_warnings,
            BTreeMap::from([(
                "phoenix-service needs 14 tasks but is capped at 10".to_owned(),
                1
            )])
        );
        let run = &facts.backup_runs[0];
        assert_eq!(
            (
                run.snapshots_created,
                run.snapshots_deleted,
                run.exports_started,
                run.failed_actions
            ),
            (1, 1, 1, 0)
        );
        assert_eq!(
            facts.backup_runs.len(),
            1,
            "a panicked run is trouble, not a run"
        );
        assert_eq!(
            facts.notifications,
            Notifications {
                delivered: 1,
                failed: 1
            }
        );
        let backup = &facts.trouble["backup"];
        assert_eq!(
            (backup.retried, backup.panicked, backup.failed_actions),
            (1, 1, 0)
        );
        assert_eq!(backup.last, "throttled");
        assert_eq!(facts.trouble["alarm-notifier"].failed_actions, 1);
        assert_eq!(facts.trouble["request-scaler"].last, "AccessDenied");
    }

    #[test]
    fn counts_come_from_the_detail() {
        for (detail, want) in [
            ("desiredCount 2 → 4", (Some(2), Some(4))),
            ("1 -> 0", (Some(1), Some(0))),
            ("set to 3", (None, None)),
            ("", (None, None)),
            ("99999999999 → 1", (None, None)),
        ] {
            assert_eq!(counts(detail), want, "{detail}");
        }
    }
}
