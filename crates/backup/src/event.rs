// pure: parses and validates the trigger; no I/O, no clock (`now` is passed in)
//! What started this run: the EventBridge schedule, or a person's manual invoke.
//!
//! * **Scheduled**: an EventBridge `Scheduled Event` from `aws.events`. Its `time` truncated to
//!   the schedule period is the *slot*; the snapshot identifier is derived from the slot, so a
//!   repeated delivery of the same event makes the same identifier. The `time` is input: it is
//!   accepted only within [`MAX_EARLY`] ahead of the clock and [`MAX_DELIVERY_DELAY`] plus one
//!   schedule period behind it ([`check_slot_time`]); outside that window the event is ignored
//!   with its reason and nothing is created (a future slot would be backed up early and found
//!   "already done" by its real run; a long-gone one would be labelled with a day it never saw).
//! * **Manual**: any JSON object that is not an event envelope is a manual payload, parsed
//!   strictly: `{"database": bool, "logs": bool, "dry_run": bool, "reason": string}`, every field
//!   optional (defaults: both parts, no dry run, no reason). Unknown fields, wrong types, or both
//!   parts off are rejected with a clear message and no AWS call.
//! * Anything else (other events, non-objects) is ignored.
//!
//! [`parse`] is total: any JSON value gives a request, an ignored reason or a rejection, never a
//! panic; the time arithmetic is checked.

use chrono::{DateTime, Duration, NaiveTime, Timelike, Utc};
use serde::Deserialize;
use serde_json::Value;

/// Longest reason kept from a manual payload.
pub const REASON_MAX_CHARS: usize = 300;
/// How far ahead of the clock a scheduled event's `time` may be (clock skew between EventBridge
/// and Lambda is seconds; anything further is not a real firing).
pub const MAX_EARLY: Duration = Duration::minutes(5);
/// The longest EventBridge keeps retrying a delivery (a rule target's `MaximumEventAgeInSeconds`
/// is at most 24 h); Lambda's own asynchronous queue (6 h in the template) fits inside it. An
/// event older than this plus one schedule period is not a delivery of a current slot.
pub const MAX_DELIVERY_DELAY: Duration = Duration::hours(24);
/// DocumentDB cluster snapshot identifiers: at most 255 characters.
pub const SNAPSHOT_ID_MAX: usize = 255;

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

impl BackupRequest {
    /// What identifies this run across retries and duplicate deliveries: the slot of a scheduled
    /// run (every delivery of one slot is the same run), the request id of a manual one (Lambda
    /// retries an asynchronous invocation under the same request id).
    pub fn run_id(&self, period_hours: u32) -> String {
        match &self.trigger {
            Trigger::Scheduled { slot } => format!("slot-{}", slot_label(*slot, period_hours)),
            Trigger::Manual { request_id, .. } => format!("manual-{request_id}"),
        }
    }

    /// `scheduled` or `manual`.
    pub fn kind(&self) -> &'static str {
        match self.trigger {
            Trigger::Scheduled { .. } => "scheduled",
            Trigger::Manual { .. } => "manual",
        }
    }
}

/// Why a payload is not handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotHandled {
    /// Not ours, or not a current slot: success, nothing done.
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
    let hour = time.hour() / period * period;
    let start = NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or(NaiveTime::MIN);
    time.date_naive().and_time(start).and_utc()
}

/// The slot as people and identifiers read it: `2026-11-20` (daily) or `2026-11-20-1800`.
pub fn slot_label(slot: DateTime<Utc>, period_hours: u32) -> String {
    if period_hours >= 24 {
        slot.format("%Y-%m-%d").to_string()
    } else {
        slot.format("%Y-%m-%d-%H%M").to_string()
    }
}

/// The length of one schedule period.
pub fn period(period_hours: u32) -> Duration {
    Duration::hours(i64::from(period_hours.clamp(1, 24)))
}

/// `Ok` when a scheduled event stamped `time` can be a current delivery at `now`; else why not.
pub fn check_slot_time(
    time: DateTime<Utc>,
    now: DateTime<Utc>,
    period_hours: u32,
) -> Result<(), String> {
    let ahead = time.signed_duration_since(now);
    if ahead > MAX_EARLY {
        return Err(format!(
            "scheduled event time {} is {} ahead of the clock ({}): a future slot is never backed up early",
            time.to_rfc3339(),
            phoenix_core::text::human_duration(ahead),
            now.to_rfc3339()
        ));
    }
    let horizon = MAX_DELIVERY_DELAY + period(period_hours);
    let age = now.signed_duration_since(time);
    if age > horizon {
        return Err(format!(
            "scheduled event time {} is {} old, beyond EventBridge's retry horizon plus one schedule period ({}h): a stale delivery, its slot is not backed up now",
            time.to_rfc3339(),
            phoenix_core::text::human_duration(age),
            horizon.num_hours()
        ));
    }
    Ok(())
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
        return parse_scheduled(payload, now, period_hours);
    }
    let manual = ManualPayload::deserialize(payload).map_err(|e| {
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

fn parse_scheduled(
    payload: &Value,
    now: DateTime<Utc>,
    period_hours: u32,
) -> Result<BackupRequest, NotHandled> {
    let detail_type = payload.get("detail-type").and_then(Value::as_str);
    let source = payload.get("source").and_then(Value::as_str);
    if detail_type != Some("Scheduled Event") || source != Some("aws.events") {
        return Err(NotHandled::Ignored(format!(
            "not a scheduled event (detail-type {}, source {})",
            phoenix_core::text::truncate_chars(detail_type.unwrap_or("missing"), 100),
            phoenix_core::text::truncate_chars(source.unwrap_or("missing"), 100)
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
    check_slot_time(time, now, period_hours).map_err(NotHandled::Ignored)?;
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

/// The identifier of a new snapshot for this run. DocumentDB identifiers: letters, digits and
/// hyphens, starting with a letter, no `--`, no trailing hyphen, at most 255 characters, stored
/// in lower case. Every identifier starts with [`crate::rotation::snapshot_prefix`] (the IAM
/// policy lets the function create, tag and delete only those).
///
/// A manual run's identifier carries its time: the handler records it in the run's ledger entry
/// before creating it, and a retry of the same run reuses the recorded one.
pub fn snapshot_id(cluster: &str, trigger: &Trigger, period_hours: u32) -> String {
    let prefix = crate::rotation::snapshot_prefix(cluster);
    let rest = match trigger {
        Trigger::Scheduled { slot } => slot_label(*slot, period_hours),
        Trigger::Manual { at, request_id } => {
            let req: String = request_id
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(8)
                .collect();
            format!("manual-{}-{req}", at.format("%Y%m%d-%H%M%S"))
        }
    };
    // The prefix is kept whole; only the part after it may be shortened.
    let room = SNAPSHOT_ID_MAX.saturating_sub(prefix.len());
    let tail: String = crate::rotation::sanitise_identifier(&rest)
        .chars()
        .take(room)
        .collect();
    format!("{prefix}{}", tail.trim_end_matches('-'))
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
        assert_eq!(request.run_id(24), "slot-2026-11-20");
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
        assert_eq!(six_hourly.run_id(6), "slot-2026-11-20-1800");
    }

    /// event time relative to now → accepted (daily schedule, then 6-hourly).
    #[test]
    fn slot_times_are_accepted_only_near_the_clock() {
        let now = at(2026, 11, 21, 3, 0);
        let m = Duration::minutes;
        let h = Duration::hours;
        let cases: &[(&str, Duration, u32, bool)] = &[
            ("on time", m(0), 24, true),
            (
                "a few seconds early (skew)",
                Duration::seconds(-30),
                24,
                true,
            ),
            ("exactly 5 min early", m(-5), 24, true),
            ("6 min early", m(-6), 24, false),
            ("a day ahead", h(-24), 24, false),
            ("a retry 6 h later", h(6), 24, true),
            (
                "EventBridge's longest retry, next day's run not yet",
                h(47),
                24,
                true,
            ),
            ("exactly 24 h + one period", h(48), 24, true),
            (
                "one second past the horizon",
                h(48) + Duration::seconds(1),
                24,
                false,
            ),
            ("a week old", h(24 * 7), 24, false),
            ("6-hourly: 30 h late is within 24 h + 6 h", h(30), 6, true),
            ("6-hourly: 31 h late is not", h(31), 6, false),
        ];
        for (name, late, period, ok) in cases {
            let time = now - *late;
            let got = check_slot_time(time, now, *period);
            assert_eq!(got.is_ok(), *ok, "{name}: {got:?}");
            let mut event = fixture("scheduled-event.json");
            event["time"] = json!(time.to_rfc3339());
            match parse(&event, "r", now, *period) {
                Ok(_) => assert!(ok, "{name}"),
                Err(NotHandled::Ignored(why)) => {
                    assert!(!ok, "{name}: {why}");
                    assert!(
                        why.contains("ahead of the clock") || why.contains("retry horizon"),
                        "{why}"
                    );
                }
                Err(other) => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn extreme_times_are_ignored_without_panicking() {
        let now = at(2026, 11, 21, 3, 0);
        for time in [
            "9999-12-31T23:59:59Z",
            "0000-01-01T00:00:00Z",
            "1970-01-01T00:00:00Z",
            "2026-11-21T03:00:00-23:59",
            "+262143-12-31T23:59:59Z",
            "2026-13-40T99:99:99Z",
        ] {
            let mut event = fixture("scheduled-event.json");
            event["time"] = json!(time);
            match parse(&event, "r", now, 24) {
                Err(NotHandled::Ignored(_)) => {}
                other => panic!("{time}: {other:?}"),
            }
        }
        // The limits of the clock itself cannot overflow the check.
        for now in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
            for time in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
                let _ = check_slot_time(time, now, 24);
                let _ = snapshot_id(
                    "c",
                    &Trigger::Scheduled {
                        slot: slot_of(time, 6),
                    },
                    6,
                );
            }
        }
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
            (json!({"reason": null}), Ok((true, true, false, None))),
            (
                json!({"database": false, "logs": false}),
                Err("both false, nothing to back up"),
            ),
            (
                json!({"reason": "x".repeat(REASON_MAX_CHARS + 1)}),
                Err("longer than 300"),
            ),
            (
                json!({"reason": "é".repeat(REASON_MAX_CHARS)}),
                Ok((true, true, false, None)),
            ),
        ];
        for (payload, want) in cases {
            let got = parse(&payload, "8a1c-42-XYZ", now, 24);
            match (got, want) {
                (Ok(r), Ok((database, logs, dry_run, reason))) => {
                    assert_eq!(
                        (r.database, r.logs, r.dry_run),
                        (database, logs, dry_run),
                        "{payload}"
                    );
                    if let Some(reason) = reason {
                        assert_eq!(r.reason.as_deref(), Some(reason));
                    }
                    assert_eq!(r.event_id, "8a1c-42-XYZ");
                    assert_eq!(r.run_id(24), "manual-8a1c-42-XYZ");
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
        let mut no_id = fixture("scheduled-event.json");
        no_id["id"] = json!("  ");
        let mut huge = fixture("scheduled-event.json");
        huge["source"] = json!("s".repeat(100_000));
        for payload in [
            ecs,
            no_time,
            no_id,
            json!({"Records": []}),
            json!({"detail": 1}),
            json!(null),
            json!("backup"),
            json!([1, 2]),
            json!(1e308),
        ] {
            match parse(&payload, "r", now, 24) {
                Err(NotHandled::Ignored(_)) => {}
                other => panic!("{payload}: {other:?}"),
            }
        }
        match parse(&huge, "r", now, 24) {
            Err(NotHandled::Ignored(why)) => assert!(why.len() < 400, "{}", why.len()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn identifiers_are_valid_for_documentdb_and_keep_our_prefix() {
        let manual = |cluster: &str, request_id: &str| {
            snapshot_id(
                cluster,
                &Trigger::Manual {
                    at: at(2026, 1, 2, 3, 4),
                    request_id: request_id.into(),
                },
                24,
            )
        };
        assert_eq!(
            manual("odd--name_", "--"),
            "phoenix-ops-odd-name-manual-20260102-030400"
        );
        assert_eq!(
            manual("Phoenix-DocDB", "AB-cd"),
            "phoenix-ops-phoenix-docdb-manual-20260102-030400-abcd"
        );
        let long = "c".repeat(300);
        let id = manual(&long, "r");
        assert!(id.len() <= SNAPSHOT_ID_MAX, "{}", id.len());
        assert!(id.starts_with(&crate::rotation::snapshot_prefix(&long)));
        for id in [manual("odd--name_", "--"), manual("x", "é€"), id] {
            assert!(!id.contains("--") && !id.ends_with('-'), "{id}");
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{id}"
            );
        }
        assert_eq!(
            slot_of(at(2026, 11, 20, 13, 59), 12),
            at(2026, 11, 20, 12, 0)
        );
    }
}
