// pure: reads fields out of a JSON tree, one by one; no I/O, no clock
//! Lenient readers: every input field is read on its own from the JSON tree, and a field of an
//! unexpected type is simply unknown (`None`), never a failure of the whole message. Real
//! CloudWatch alarms send `"AlarmDescription": null`, `"Unit": null`,
//! `"EvaluateLowSampleCountPercentile": ""`; a strict struct would refuse them.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// The string at a JSON pointer.
pub fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// The string at a JSON pointer, trimmed, when not blank.
pub fn nonblank(value: &Value, pointer: &str) -> Option<String> {
    str_at(value, pointer)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A finite number, written as a number or as a string.
pub fn f64_at(value: &Value, pointer: &str) -> Option<f64> {
    match value.pointer(pointer)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|v: &f64| v.is_finite())
}

/// A whole number, written as a number or as a string.
pub fn i64_at(value: &Value, pointer: &str) -> Option<i64> {
    match value.pointer(pointer)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub fn bool_at(value: &Value, pointer: &str) -> Option<bool> {
    value.pointer(pointer).and_then(Value::as_bool)
}

/// The strings of a JSON list (other items skipped).
pub fn strings_at(value: &Value, pointer: &str) -> Vec<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// CloudWatch writes `2026-11-20T10:15:10.123+0000`; EventBridge and RDS
/// `2026-11-20T10:15:10Z` or `2026-11-20T10:15:10.123Z`. Anything else is unknown.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

pub fn time_at(value: &Value, pointer: &str) -> Option<DateTime<Utc>> {
    str_at(value, pointer).and_then(parse_time)
}

/// The region code of an ARN (`arn:aws:cloudwatch:eu-west-1:...`).
pub fn arn_region(arn: &str) -> Option<&str> {
    arn_part(arn, 3)
}

/// The account id of an ARN (`arn:aws:rds:eu-west-1:111122223333:...`).
pub fn arn_account(arn: &str) -> Option<&str> {
    arn_part(arn, 4)
}

fn arn_part(arn: &str, index: usize) -> Option<&str> {
    let mut parts = arn.split(':');
    (parts.next() == Some("arn")).then_some(())?;
    parts.nth(index - 1).filter(|p| !p.is_empty())
}
