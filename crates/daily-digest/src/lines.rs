// pure: turns log lines (text already read) into what the functions reported; no I/O.
//! The functions' log lines, as the digest reads them.
//!
//! Every invocation of every phoenix-ops function writes exactly one line with its whole Outcome
//! under `outcome` (written by phoenix-core's Lambda adapter, outside the log level), or one
//! `ERROR` line `retryable failure: the event will be retried` with the `error`. Those are the
//! only lines the digest needs; any other line (tracing output, EMF metrics, Lambda's platform
//! records, a line that is not JSON) is skipped. Reading is total: no line makes it fail.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// One log event as CloudWatch Logs returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub time: DateTime<Utc>,
    pub message: String,
}

/// What one line says.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// An invocation's Outcome (the JSON every handler returns).
    Outcome {
        time: DateTime<Utc>,
        function: String,
        outcome: Value,
    },
    /// An invocation that failed retryably (Lambda retries it).
    Retried {
        time: DateTime<Utc>,
        function: String,
        error: String,
    },
}

impl Entry {
    pub fn function(&self) -> &str {
        match self {
            Entry::Outcome { function, .. } | Entry::Retried { function, .. } => function,
        }
    }

    pub fn time(&self) -> DateTime<Utc> {
        match self {
            Entry::Outcome { time, .. } | Entry::Retried { time, .. } => *time,
        }
    }
}

/// The message of a retryable failure line (phoenix_core::lambda).
const RETRIED_MESSAGE: &str = "retryable failure";

/// Reads one line; `None` for lines the digest does not need.
pub fn parse(line: &LogLine) -> Option<Entry> {
    let text = line.message.trim();
    if !text.starts_with('{') {
        return None;
    }
    let value: Value = serde_json::from_str(text).ok()?;
    let object = value.as_object()?;
    let function = object
        .get("function")
        .and_then(Value::as_str)
        .or_else(|| value.pointer("/outcome/function").and_then(Value::as_str))
        .filter(|f| !f.is_empty())?
        .to_owned();
    if let Some(outcome) = object.get("outcome").filter(|o| o.is_object()) {
        return Some(Entry::Outcome {
            time: line.time,
            function,
            outcome: outcome.clone(),
        });
    }
    let level = object.get("level").and_then(Value::as_str).unwrap_or("");
    let message = object.get("message").and_then(Value::as_str).unwrap_or("");
    if level.eq_ignore_ascii_case("ERROR") && message.starts_with(RETRIED_MESSAGE) {
        return Some(Entry::Retried {
            time: line.time,
            function,
            error: object
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("(no error text)")
                .to_owned(),
        });
    }
    None
}

/// Reads every line, oldest first; lines of the digest itself are left out.
pub fn entries(lines: &[LogLine], own_function: &str) -> Vec<Entry> {
    let mut out: Vec<Entry> = lines
        .iter()
        .filter_map(parse)
        .filter(|e| e.function() != own_function)
        .collect();
    out.sort_by_key(Entry::time);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn line(message: &str) -> LogLine {
        LogLine {
            time: Utc
                .with_ymd_and_hms(2026, 11, 25, 7, 0, 0)
                .single()
                .expect("valid"),
            message: message.to_owned(),
        }
    }

    #[test]
    fn only_outcome_and_retry_lines_count() {
        let outcome = json!({"timestamp": "2026-11-25T07:00:00.000Z", "level": "INFO",
            "message": "scale-out: 900 req/min", "function": "request-scaler", "stack": "phoenix-ops",
            "requestId": "r-1", "outcome": {"function": "request-scaler", "decision": "scale-out"}})
        .to_string();
        let retried = json!({"level": "ERROR", "message": "retryable failure: the event will be retried",
            "function": "backup", "requestId": "r-2", "error": "rds:CreateDBClusterSnapshot throttled"})
        .to_string();
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            (&outcome, Some(("outcome", "request-scaler"))),
            (&retried, Some(("retried", "backup"))),
            // tracing lines, EMF metrics, platform records, plain text, broken JSON
            (
                r#"{"level":"WARN","message":"crash loop detected","function":"task-recovery"}"#,
                None,
            ),
            (
                r#"{"Stack":"s","Function":"backup","BackupSucceeded":1,"_aws":{}}"#,
                None,
            ),
            (
                r#"{"time":"2026-11-25T07:00:00Z","type":"platform.report","record":{}}"#,
                None,
            ),
            ("START RequestId: 1 Version: $LATEST", None),
            (r#"{"function": "x", "outcome": "#, None),
            (r#"{"outcome": {"decision": "hold"}}"#, None),
            (r#"{"function": "", "outcome": {}}"#, None),
            (r#"[1, 2]"#, None),
            (
                r#"{"level":"ERROR","message":"the handler panicked","function":"task-recovery"}"#,
                None,
            ),
        ];
        for (text, want) in cases {
            let got = parse(&line(text)).map(|e| match e {
                Entry::Outcome { function, .. } => ("outcome", function),
                Entry::Retried { function, .. } => ("retried", function),
            });
            assert_eq!(got.as_ref().map(|(k, f)| (*k, f.as_str())), *want, "{text}");
        }
        // the function may come from the Outcome itself
        let bare = r#"{"outcome": {"function": "backup", "decision": "backed-up"}}"#;
        assert_eq!(
            parse(&line(bare)).map(|e| e.function().to_owned()),
            Some("backup".into())
        );
    }

    #[test]
    fn the_digest_leaves_its_own_lines_out_and_sorts_by_time() {
        let mut early = line(r#"{"function": "backup", "outcome": {"function": "backup"}}"#);
        early.time -= chrono::Duration::hours(1);
        let own = line(r#"{"function": "daily-digest", "outcome": {"function": "daily-digest"}}"#);
        let late =
            line(r#"{"function": "task-recovery", "outcome": {"function": "task-recovery"}}"#);
        let got = entries(&[late, own, early], "daily-digest");
        let functions: Vec<&str> = got.iter().map(Entry::function).collect();
        assert_eq!(functions, ["backup", "task-recovery"]);
    }
}
