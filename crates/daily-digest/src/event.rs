// pure: reads the trigger from the payload and the invocation's clock; no I/O.
//! What started this digest, and which 24 hours it tells.
//!
//! * **Scheduled**: an EventBridge `Scheduled Event` (`aws.events`). The window ends at the
//!   event's `time` (to the minute), not at the invocation's clock, so a retried or late delivery
//!   tells the same 24 hours and is recognised as the same digest. The time must be plausible:
//!   at most [`FUTURE_SLACK_MINUTES`] ahead of now, at most [`SCHEDULED_MAX_AGE_HOURS`] behind
//!   (EventBridge and Lambda retry for up to two hours); otherwise the event is ignored.
//! * **Manual**: any JSON object that is not an event envelope, parsed strictly:
//!   `{"end": RFC 3339 time, "dry_run": bool}`, both optional (default: now, no dry run). `end`
//!   may reach back [`MANUAL_MAX_AGE_DAYS`] days (CloudWatch keeps alarm history two weeks).
//!   Unknown fields, wrong types or an implausible `end` are rejected, with no AWS call.
//! * Anything else is ignored.

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::Deserialize;
use serde_json::Value;

/// How far ahead of the invocation's clock an event time may be (clock skew).
pub const FUTURE_SLACK_MINUTES: i64 = 5;
/// Oldest scheduled event still told: EventBridge retries for an hour, Lambda's asynchronous
/// retries for another; an older one is a stray.
pub const SCHEDULED_MAX_AGE_HOURS: i64 = 6;
/// Oldest `end` a person may ask for.
pub const MANUAL_MAX_AGE_DAYS: i64 = 14;
/// The digest tells this long.
pub const WINDOW_HOURS: i64 = 24;

/// The 24 hours a digest tells: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    /// The 24 hours before `end` (cut to the minute).
    pub fn ending(end: DateTime<Utc>) -> Window {
        let end = end.duration_trunc(Duration::minutes(1)).unwrap_or(end);
        let start = end
            .checked_sub_signed(Duration::hours(WINDOW_HOURS))
            .unwrap_or(end);
        Window { start, end }
    }

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        t >= self.start && t < self.end
    }
}

/// The manual payload, exactly as documented.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManualPayload {
    #[serde(default)]
    end: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

/// One digest to tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub window: Window,
    /// The event id (scheduled) or the request id (manual).
    pub event_id: String,
    /// Asked for in a manual payload (the configuration's DRY_RUN is added by the handler).
    pub dry_run: bool,
    pub manual: bool,
}

/// Why a payload is not told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotHandled {
    /// Not ours: success, nothing done.
    Ignored(String),
    /// A manual payload that is wrong: success, nothing done, the message says what is wrong.
    Rejected(String),
}

/// The event id, when the payload has one (for ignored events too).
pub fn event_id(payload: &Value) -> Option<&str> {
    payload.get("id").and_then(Value::as_str)
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Reads the request, or says why there is none. Total: any JSON value gives an answer.
pub fn parse(payload: &Value, now: DateTime<Utc>, request_id: &str) -> Result<Request, NotHandled> {
    let Some(object) = payload.as_object() else {
        return Err(NotHandled::Ignored(format!(
            "not a schedule event nor a manual payload (a JSON {})",
            kind(payload)
        )));
    };
    let text = |key: &str| object.get(key).and_then(Value::as_str);
    let slack = Duration::minutes(FUTURE_SLACK_MINUTES);
    if object.contains_key("source") || object.contains_key("detail-type") {
        let (Some("aws.events"), Some("Scheduled Event")) = (text("source"), text("detail-type"))
        else {
            return Err(NotHandled::Ignored(format!(
                "not a trigger of this function ({} / {})",
                text("source").unwrap_or("?"),
                text("detail-type").unwrap_or("?")
            )));
        };
        let Some(time) = text("time").and_then(parse_time) else {
            return Err(NotHandled::Ignored(
                "scheduled event without a readable time".to_owned(),
            ));
        };
        if time > now + slack {
            return Err(NotHandled::Ignored(format!(
                "scheduled event from the future ({time}, now {now}): not told"
            )));
        }
        if time < now - Duration::hours(SCHEDULED_MAX_AGE_HOURS) {
            return Err(NotHandled::Ignored(format!(
                "scheduled event too old ({time}, now {now}; retries end after {SCHEDULED_MAX_AGE_HOURS} h): not told"
            )));
        }
        return Ok(Request {
            window: Window::ending(time),
            event_id: text("id").unwrap_or(request_id).to_owned(),
            dry_run: false,
            manual: false,
        });
    }
    let manual: ManualPayload = serde_json::from_value(payload.clone()).map_err(|e| {
        NotHandled::Rejected(format!(
            "manual payload not understood: {e} (expected {{\"end\": RFC 3339 time, \"dry_run\": bool}}, both optional)"
        ))
    })?;
    let end = match manual.end.as_deref() {
        None => now,
        Some(text) => parse_time(text).ok_or_else(|| {
            NotHandled::Rejected(format!("\"end\" {text:?} is not an RFC 3339 time"))
        })?,
    };
    if end > now + slack {
        return Err(NotHandled::Rejected(format!(
            "\"end\" {end} is in the future (now {now})"
        )));
    }
    if end < now - Duration::days(MANUAL_MAX_AGE_DAYS) {
        return Err(NotHandled::Rejected(format!(
            "\"end\" {end} is more than {MANUAL_MAX_AGE_DAYS} days ago: CloudWatch no longer has its alarm history"
        )));
    }
    Ok(Request {
        window: Window::ending(end.min(now)),
        event_id: request_id.to_owned(),
        dry_run: manual.dry_run,
        manual: true,
    })
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn at(d: u32, h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, h, m, s)
            .single()
            .expect("valid time")
    }

    fn schedule(time: &str) -> Value {
        json!({"id": "evt-1", "source": "aws.events", "detail-type": "Scheduled Event", "time": time})
    }

    #[test]
    fn triggers_and_what_becomes_of_them() {
        let now = at(25, 8, 0, 7);
        let ok = |payload: Value| parse(&payload, now, "req-1");
        let window = |end| Window::ending(end);
        // (payload, expected window end, dry run, manual) for the accepted ones
        let accepted: &[(Value, DateTime<Utc>, bool, bool)] = &[
            (
                schedule("2026-11-25T08:00:00Z"),
                at(25, 8, 0, 0),
                false,
                false,
            ),
            (
                schedule("2026-11-25T08:04:00Z"),
                at(25, 8, 4, 0),
                false,
                false,
            ),
            (
                schedule("2026-11-25T03:00:00Z"),
                at(25, 3, 0, 0),
                false,
                false,
            ),
            (json!({}), at(25, 8, 0, 0), false, true),
            (json!({"dry_run": true}), at(25, 8, 0, 0), true, true),
            (
                json!({"end": "2026-11-20T12:30:59Z"}),
                at(20, 12, 30, 0),
                false,
                true,
            ),
        ];
        for (payload, end, dry_run, manual) in accepted {
            let request = ok(payload.clone()).unwrap_or_else(|e| panic!("{payload}: {e:?}"));
            assert_eq!(request.window, window(*end), "{payload}");
            assert_eq!(
                request.window.end - request.window.start,
                Duration::hours(24)
            );
            assert_eq!(
                (request.dry_run, request.manual),
                (*dry_run, *manual),
                "{payload}"
            );
        }
        assert_eq!(
            ok(schedule("2026-11-25T08:00:00Z")).map(|r| r.event_id),
            Ok("evt-1".into())
        );
        assert_eq!(ok(json!({})).map(|r| r.event_id), Ok("req-1".into()));

        // (payload, ignored?, words the reason must contain)
        let refused: &[(Value, bool, &str)] = &[
            (schedule("2026-11-25T08:06:00Z"), true, "future"),
            (schedule("2026-11-25T01:59:00Z"), true, "too old"),
            (schedule("yesterday"), true, "readable time"),
            (
                json!({"source": "aws.ecs", "detail-type": "ECS Task State Change"}),
                true,
                "aws.ecs",
            ),
            (json!({"source": "aws.events"}), true, "not a trigger"),
            (json!([1, 2]), true, "array"),
            (json!("digest"), true, "string"),
            (json!(null), true, "null"),
            (json!({"end": "2026-11-26T00:00:00Z"}), false, "future"),
            (json!({"end": "2026-11-01T00:00:00Z"}), false, "14 days"),
            (json!({"end": "soon"}), false, "RFC 3339"),
            (json!({"end": 5}), false, "not understood"),
            (json!({"dry_run": "yes"}), false, "not understood"),
            (json!({"hours": 48}), false, "unknown field"),
        ];
        for (payload, ignored, words) in refused {
            match ok(payload.clone()) {
                Err(NotHandled::Ignored(why)) if *ignored => {
                    assert!(why.contains(words), "{payload}: {why}")
                }
                Err(NotHandled::Rejected(why)) if !*ignored => {
                    assert!(why.contains(words), "{payload}: {why}")
                }
                other => panic!("{payload}: {other:?}"),
            }
        }
    }

    #[test]
    fn extreme_times_never_panic() {
        let now = at(25, 8, 0, 0);
        for time in [
            "9999-12-31T23:59:59Z",
            "0001-01-01T00:00:00Z",
            "+262142-01-01T00:00:00Z",
        ] {
            let _ = parse(&schedule(time), now, "r");
            let _ = parse(&json!({"end": time}), now, "r");
        }
        let w = Window::ending(DateTime::<Utc>::MIN_UTC);
        assert_eq!(w.start, w.end);
    }
}
