//! What started this run (pure): the daily EventBridge schedule, or a person's manual invoke.
//!
//! * **Scheduled**: an EventBridge `Scheduled Event` from `aws.events`. Its `time` truncated to
//!   the schedule period is the *slot*; the snapshot identifier is derived from the slot, so a
//!   repeated delivery of the same event makes the same identifier.
//! * **Manual**: any JSON object that is not an event envelope is a manual payload, parsed
//!   strictly: `{"database": bool, "logs": bool, "dry_run": bool, "reason": string}`, every field
//!   optional (defaults: both parts, no dry run, no reason). Unknown fields, wrong types, or both
//!   parts off are rejected with a clear message and no AWS call.
//! * Anything else (other events, non-objects) is ignored.

use chrono::{DateTime, Duration, NaiveTime, Timelike, Utc};
use serde::Deserialize;
use serde_json::Value;

/// Longest reason kept from a manual payload.
pub const REASON_MAX_CHARS: usize = 300;

/// The manual payload, exactly as documented.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualPayload {
    #[serde(default = "yes")]
    pub database: bool,
    #[serde(default = "yes")]
    pub logs: bool,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

fn yes() -> bool {
    true
}

/// Which trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// The schedule; `slot` is the start of the schedule period the event belongs to.
    Scheduled { slot: DateTime<Utc> },
    /// A person; `at` is the invocation time.
    Manual {
        at: DateTime<Utc>,
        request_id: String,
    },
}

/// One backup run to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupRequest {
    pub trigger: Trigger,
    /// The event id (scheduled) or the request id (manual).
    pub event_id: String,
    pub database: bool,
    pub logs: bool,
    /// Asked for in the payload (the configuration's DRY_RUN is added by the handler).
    pub dry_run: bool,
    pub reason: Option<String>,
}

/// Why a payload is not handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotHandled {
    /// Not ours (another event): success, nothing done.
    Ignored(String),
    /// A manual payload that is wrong: success, nothing done, the message says what is wrong.
    Rejected(String),
}

/// The event id, when the payload carries one (for the Outcome of ignored events).
pub fn event_id(payload: &Value) -> Option<&str> {
    payload.get("id").and_then(Value::as_str)
}

/// Start of the schedule period containing `time` (periods of `period_hours` from midnight UTC).
pub fn slot_of(time: DateTime<Utc>, period_hours: u32) -> DateTime<Utc> {
    let period = period_hours.clamp(1, 24);
    let day = time.date_naive();
    let hour = time.hour() / period * period;
    let start = NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or(NaiveTime::MIN);
    day.and_time(start).and_utc()
}

fn is_event_envelope(object: &serde_json::Map<String, Value>) -> bool {
    ["detail-type", "source", "Records", "detail"]
        .iter()
        .any(|k| object.contains_key(*k))
}

/// Parses the trigger. `request_id` and `now` come from the invocation.
pub fn parse(
    payload: &Value,
    request_id: &str,
    now: DateTime<Utc>,
    period_hours: u32,
) -> Result<BackupRequest, NotHandled> {
    let Some(object) = payload.as_object() else {
        return Err(NotHandled::Ignored(format!(
            "not a scheduled event nor a manual payload object (got {})",
            kind_of(payload)
        )));
    };
    if is_event_envelope(object) {
        return parse_scheduled(payload, period_hours);
    }
    let manual: ManualPayload = serde_json::from_value(payload.clone()).map_err(|e| {
        NotHandled::Rejected(format!(
            "invalid manual payload: {e}; expected {{\"database\": bool, \"logs\": bool, \"dry_run\": bool, \"reason\": string}}, every field optional"
        ))
    })?;
    if !manual.database && !manual.logs {
        return Err(NotHandled::Rejected(
            "invalid manual payload: \"database\" and \"logs\" are both false, nothing to back up"
                .to_owned(),
        ));
    }
    let reason = match manual.reason.map(|r| r.trim().to_owned()) {
        Some(r) if r.chars().count() > REASON_MAX_CHARS => {
            return Err(NotHandled::Rejected(format!(
                "invalid manual payload: \"reason\" is longer than {REASON_MAX_CHARS} characters"
            )));
        }
        Some(r) if r.is_empty() => None,
        other => other,
    };
    Ok(BackupRequest {
        trigger: Trigger::Manual {
            at: now,
            request_id: request_id.to_owned(),
        },
        event_id: request_id.to_owned(),
        database: manual.database,
        logs: manual.logs,
        dry_run: manual.dry_run,
        reason,
    })
}

fn parse_scheduled(payload: &Value, period_hours: u32) -> Result<BackupRequest, NotHandled> {
    let detail_type = payload.get("detail-type").and_then(Value::as_str);
    let source = payload.get("source").and_then(Value::as_str);
    if detail_type != Some("Scheduled Event") || source != Some("aws.events") {
        return Err(NotHandled::Ignored(format!(
            "not a scheduled event (detail-type {}, source {})",
            detail_type.unwrap_or("missing"),
            source.unwrap_or("missing")
        )));
    }
    let Some(id) = event_id(payload).filter(|id| !id.trim().is_empty()) else {
        return Err(NotHandled::Ignored(
            "scheduled event without an id".to_owned(),
        ));
    };
    let time = payload
        .get("time")
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| {
            NotHandled::Ignored("scheduled event without a valid RFC 3339 `time`".to_owned())
        })?;
    Ok(BackupRequest {
        trigger: Trigger::Scheduled {
            slot: slot_of(time, period_hours),
        },
        event_id: id.to_owned(),
        database: true,
        logs: true,
        dry_run: false,
        reason: None,
    })
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The identifier of the snapshot this run makes. DocumentDB identifiers: letters, digits and
/// hyphens, starting with a letter, no `--`, no trailing hyphen, at most 255 characters.
pub fn snapshot_id(cluster: &str, trigger: &Trigger, period_hours: u32) -> String {
    let raw = match trigger {
        Trigger::Scheduled { slot } if period_hours >= 24 => {
            format!("phoenix-ops-{cluster}-{}", slot.format("%Y-%m-%d"))
        }
        Trigger::Scheduled { slot } => {
            format!("phoenix-ops-{cluster}-{}", slot.format("%Y-%m-%d-%H%M"))
        }
        Trigger::Manual { at, request_id } => {
            let req: String = request_id
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(8)
                .collect::<String>()
                .to_ascii_lowercase();
            format!(
                "phoenix-ops-{cluster}-manual-{}-{req}",
                at.format("%Y%m%d-%H%M%S")
            )
        }
    };
    sanitise_identifier(&raw)
}

/// The prefix every snapshot of this cluster made by phoenix-ops starts with.
pub fn snapshot_prefix(cluster: &str) -> String {
    format!(
        "{}-",
        sanitise_identifier(&format!("phoenix-ops-{cluster}"))
    )
}

fn sanitise_identifier(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if c == '-' && out.ends_with('-') {
            continue;
        }
        out.push(c);
    }
    out.truncate(255);
    out.trim_end_matches('-').to_owned()
}

/// The length of one schedule period.
pub fn period(period_hours: u32) -> Duration {
    Duration::hours(i64::from(period_hours.clamp(1, 24)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .expect("valid")
    }

    fn fixture(name: &str) -> Value {
        let text = std::fs::read_to_string(format!(
            "{}/../../events/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("fixture");
        serde_json::from_str(&text).expect("json")
    }

    #[test]
    fn the_scheduled_fixture_is_a_daily_slot() {
        let now = at(2026, 11, 20, 3, 0);
        let request = parse(&fixture("scheduled-event.json"), "r", now, 24).expect("scheduled");
        assert_eq!(
            request.trigger,
            Trigger::Scheduled {
                slot: at(2026, 11, 20, 0, 0)
            }
        );
        assert_eq!(request.event_id, "00000000-0000-0000-5418-ad0d000001f5");
        assert!(request.database && request.logs && !request.dry_run);
        assert_eq!(
            snapshot_id("phoenix-docdb", &request.trigger, 24),
            "phoenix-ops-phoenix-docdb-2026-11-20"
        );
    }

    #[test]
    fn a_late_delivery_of_the_same_event_lands_in_the_same_slot() {
        let mut event = fixture("scheduled-event.json");
        event["time"] = json!("2026-11-20T23:59:59Z");
        let late = parse(&event, "r2", at(2026, 11, 21, 1, 0), 24).expect("scheduled");
        assert_eq!(
            snapshot_id("c", &late.trigger, 24),
            "phoenix-ops-c-2026-11-20"
        );
        let six_hourly = parse(&event, "r2", at(2026, 11, 21, 1, 0), 6).expect("scheduled");
        assert_eq!(
            snapshot_id("c", &six_hourly.trigger, 6),
            "phoenix-ops-c-2026-11-20-1800"
        );
    }

    #[test]
    fn manual_payloads_parse_strictly_with_documented_defaults() {
        let now = at(2026, 11, 20, 10, 15);
        /// payload → Ok((database, logs, dry_run, reason)) or Err(part of the rejection)
        type Want = Result<(bool, bool, bool, Option<&'static str>), &'static str>;
        let cases: Vec<(Value, Want)> = vec![
            (json!({}), Ok((true, true, false, None))),
            (
                json!({"database": true, "logs": false, "reason": "before release 1.5"}),
                Ok((true, false, false, Some("before release 1.5"))),
            ),
            (
                json!({"logs": true, "database": false, "dry_run": true, "reason": "  "}),
                Ok((false, true, true, None)),
            ),
            (json!({"database": "yes"}), Err("invalid type: string")),
            (json!({"databse": true}), Err("unknown field `databse`")),
            (json!({"reason": 12}), Err("invalid type: integer")),
            (
                json!({"database": false, "logs": false}),
                Err("both false, nothing to back up"),
            ),
            (
                json!({"reason": "x".repeat(REASON_MAX_CHARS + 1)}),
                Err("longer than 300"),
            ),
        ];
        for (payload, want) in cases {
            let got = parse(&payload, "8a1c-42-XYZ", now, 24);
            match (got, want) {
                (Ok(r), Ok((database, logs, dry_run, reason))) => {
                    assert_eq!(
                        (r.database, r.logs, r.dry_run, r.reason.as_deref()),
                        (database, logs, dry_run, reason),
                        "{payload}"
                    );
                    assert_eq!(r.event_id, "8a1c-42-XYZ");
                    assert_eq!(
                        snapshot_id("phoenix-docdb", &r.trigger, 24),
                        "phoenix-ops-phoenix-docdb-manual-20261120-101500-8a1c42xy"
                    );
                }
                (Err(NotHandled::Rejected(why)), Err(want)) => {
                    assert!(why.contains(want), "{payload}: {why}");
                    assert!(why.starts_with("invalid manual payload"), "{why}");
                }
                (got, want) => panic!("{payload}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn other_events_and_non_objects_are_ignored() {
        let now = at(2026, 11, 20, 10, 15);
        let mut ecs = fixture("scheduled-event.json");
        ecs["detail-type"] = json!("ECS Task State Change");
        ecs["source"] = json!("aws.ecs");
        let mut no_time = fixture("scheduled-event.json");
        no_time["time"] = json!("yesterday");
        for payload in [
            ecs,
            no_time,
            json!({"Records": []}),
            json!(null),
            json!("backup"),
            json!([1, 2]),
        ] {
            match parse(&payload, "r", now, 24) {
                Err(NotHandled::Ignored(_)) => {}
                other => panic!("{payload}: {other:?}"),
            }
        }
    }

    #[test]
    fn identifiers_are_valid_for_documentdb() {
        let id = snapshot_id(
            "odd--name_",
            &Trigger::Manual {
                at: at(2026, 1, 2, 3, 4),
                request_id: "--".into(),
            },
            24,
        );
        assert_eq!(id, "phoenix-ops-odd-name-manual-20260102-030400");
        assert!(!id.contains("--"));
        assert_eq!(
            snapshot_prefix("phoenix-docdb"),
            "phoenix-ops-phoenix-docdb-"
        );
        assert_eq!(
            slot_of(at(2026, 11, 20, 13, 59), 12),
            at(2026, 11, 20, 12, 0)
        );
    }
}
