// pure: export windows, the checkpoint's shape and the S3 layout; no I/O, no clock
//! Which time windows of a log group to export, where they go in S3, and the checkpoint that
//! makes consecutive runs leave no gap and no overlap.
//!
//! Windows are whole UTC days (one S3 date folder per window). A day is exportable once
//! `now - EXPORT_LAG_HOURS` has passed its end (CloudWatch Logs may need up to 12 h before data
//! is exportable). The checkpoint holds the end of the last window whose export COMPLETED; the
//! next window starts exactly there. A first run (no checkpoint) exports the last complete day.
//! A run that missed days catches up, at most [`MAX_CATCH_UP_DAYS`] back (older exports would be
//! expired by the bucket's rule at once); the skipped range is reported.
//!
//! The checkpoint also records an export that was started and not yet seen complete
//! ([`PendingExport`]): first the *intent* (window and task name) before CreateExportTask, then
//! the task id as soon as it is known. A retry or the next run continues that task instead of
//! starting a second export of the same window (see [`crate::exports`]).

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};

/// How far back a late run catches up.
pub const MAX_CATCH_UP_DAYS: i64 = 7;
/// Where the checkpoints live in the bucket (outside the expiring export prefix).
pub const CHECKPOINT_PREFIX: &str = "checkpoints/log-exports";

phoenix_core::string_enum! {
    /// An export task's status code.
    pub enum ExportStatus {
        Pending = "PENDING",
        Running = "RUNNING",
        Completed = "COMPLETED",
        Failed = "FAILED",
        Cancelled = "CANCELLED",
        PendingCancel = "PENDING_CANCEL",
    }
}

impl ExportStatus {
    /// Still in progress (the one-export-per-account slot is taken).
    pub fn in_progress(&self) -> bool {
        matches!(self, Self::Pending | Self::Running | Self::PendingCancel)
    }
}

/// One window to export: `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Window {
    /// CreateExportTask's `from` (inclusive, ms).
    pub fn from_ms(&self) -> i64 {
        self.from.timestamp_millis()
    }

    /// CreateExportTask's `to` is inclusive: one millisecond before the next window starts, so
    /// no event is exported twice.
    pub fn to_ms_inclusive(&self) -> i64 {
        self.to.timestamp_millis().saturating_sub(1)
    }

    pub fn date(&self) -> String {
        self.from.format("%Y-%m-%d").to_string()
    }

    /// A window this function could have planned: non-empty, at most one day.
    pub fn is_sane(&self) -> bool {
        self.from < self.to && self.to.signed_duration_since(self.from) <= Duration::days(1)
    }

    /// `from .. to`, for people.
    pub fn range(&self) -> String {
        format!("{} .. {}", self.from.to_rfc3339(), self.to.to_rfc3339())
    }
}

/// An export this function started (or is about to start) and has not seen complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingExport {
    pub window: Window,
    /// The task's name, unique per group and window: how a task whose id was never recorded is
    /// found again. Empty in checkpoints written before names were recorded.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub task_name: String,
    /// `None`: the intent was recorded, CreateExportTask may or may not have made the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
}

/// The checkpoint object, one per log group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub log_group: String,
    /// End of the last window whose export COMPLETED (`None` before the first one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exported_until: Option<DateTime<Utc>>,
    /// The last completed export task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_task_id: Option<String>,
    /// An export this function started (or was about to start) and has not seen complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingExport>,
    pub updated_at: DateTime<Utc>,
}

impl Checkpoint {
    /// The checkpoint's text as stored (pretty JSON).
    pub fn to_text(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Parses and checks a stored checkpoint of `group`; the error says what is wrong.
    pub fn parse(text: &str, group: &str) -> Result<Checkpoint, String> {
        let checkpoint: Checkpoint = serde_json::from_str(text)
            .map_err(|e| format!("the checkpoint is not valid JSON ({e}): fix or delete it"))?;
        if checkpoint.log_group != group {
            return Err(format!(
                "the checkpoint belongs to log group {:?}, not {group:?} (two names that read the same in S3): rename one group or set its checkpoint by hand",
                phoenix_core::text::truncate_chars(&checkpoint.log_group, 200)
            ));
        }
        if let Some(pending) = &checkpoint.pending
            && !pending.window.is_sane()
        {
            return Err(format!(
                "the checkpoint's pending export has an impossible window {}: fix or delete it",
                pending.window.range()
            ));
        }
        Ok(checkpoint)
    }
}

/// What to do for one log group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportPlan {
    /// Windows to export, oldest first.
    pub windows: Vec<Window>,
    /// Set when nothing is exported: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nothing_because: Option<String>,
    /// A range given up (too old to keep): reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

impl ExportPlan {
    fn nothing(why: String) -> Self {
        Self {
            windows: Vec::new(),
            nothing_because: Some(why),
            skipped: None,
        }
    }
}

fn day_start(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::days(1)).unwrap_or(t)
}

/// Plans the export windows of one log group. Every step of the arithmetic is checked: times
/// at the limits of the calendar give an empty plan with its reason, never a panic.
pub fn plan_windows(
    exported_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    lag: Duration,
) -> ExportPlan {
    let bounds = now
        .checked_sub_signed(lag)
        .map(day_start)
        .and_then(|ready| {
            let oldest = ready.checked_sub_signed(Duration::days(MAX_CATCH_UP_DAYS))?;
            let yesterday = ready.checked_sub_signed(Duration::days(1))?;
            Some((ready, oldest, yesterday))
        });
    let Some((ready_until, oldest, yesterday)) = bounds else {
        return ExportPlan::nothing(format!(
            "the clock {} minus the lag is outside the calendar: nothing exported",
            now.to_rfc3339()
        ));
    };
    let (mut start, skipped) = match exported_until {
        None => (yesterday, None),
        Some(until) if until > now => {
            return ExportPlan::nothing(format!(
                "checkpoint {} is ahead of the clock {}: clock skew or a bad checkpoint, nothing exported",
                until.to_rfc3339(),
                now.to_rfc3339()
            ));
        }
        Some(until) if until < oldest => (
            oldest,
            Some(format!(
                "{} .. {} not exported: older than {MAX_CATCH_UP_DAYS} days (exports expire after {} days)",
                until.to_rfc3339(),
                oldest.to_rfc3339(),
                crate::expiry::EXPORT_EXPIRY_DAYS
            )),
        ),
        Some(until) => (until, None),
    };
    let mut windows = Vec::new();
    while start < ready_until {
        let Some(next_day) = day_start(start).checked_add_signed(Duration::days(1)) else {
            break;
        };
        let end = next_day.min(ready_until);
        windows.push(Window {
            from: start,
            to: end,
        });
        start = end;
    }
    let nothing_because = windows.is_empty().then(|| {
        let next = ready_until
            .checked_add_signed(Duration::days(1))
            .and_then(|t| t.checked_add_signed(lag))
            .map_or_else(|| "never".to_owned(), |t| t.to_rfc3339());
        format!(
            "up to date: exported until {}, next day exportable after {next} (lag {}h)",
            exported_until.unwrap_or(ready_until).to_rfc3339(),
            lag.num_hours()
        )
    });
    ExportPlan {
        windows,
        nothing_because,
        skipped,
    }
}

/// A log group name as one S3 path segment: `/ecs/phoenix` → `ecs-phoenix`.
pub fn sanitise_group(group: &str) -> String {
    let mut out = String::new();
    for c in group.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            c
        } else {
            '-'
        };
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
    }
    let trimmed = out.trim_end_matches('-');
    if trimmed.is_empty() {
        "log-group".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// `<EXPORT_PREFIX>/<group>/<YYYY-MM-DD>`: CloudWatch Logs adds `/<task id>/<stream>/000000.gz`.
pub fn destination_prefix(export_prefix: &str, group: &str, window: &Window) -> String {
    format!(
        "{}/{}/{}",
        export_prefix.trim_matches('/'),
        sanitise_group(group),
        window.date()
    )
}

/// The checkpoint object's key.
pub fn checkpoint_key(group: &str) -> String {
    format!("{CHECKPOINT_PREFIX}/{}.json", sanitise_group(group))
}

/// The export task's name (visible in the console; how a task whose id was lost is found):
/// unique per group and window start.
pub fn task_name(group: &str, window: &Window) -> String {
    let name = format!("phoenix-ops-{}-{}", sanitise_group(group), window.date());
    if window.from == day_start(window.from) {
        name
    } else {
        format!("{name}-{}", window.from.format("%H%M%S"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0)
            .single()
            .expect("valid")
    }

    fn spans(plan: &ExportPlan) -> Vec<(u32, u32)> {
        use chrono::Datelike;
        plan.windows
            .iter()
            .map(|w| (w.from.day(), w.to.day()))
            .collect()
    }

    #[test]
    fn export_windows_table() {
        let h = Duration::hours;
        /// name, checkpoint, now, lag, expected windows (from day, to day)
        type Case = (
            &'static str,
            Option<DateTime<Utc>>,
            DateTime<Utc>,
            Duration,
            Vec<(u32, u32)>,
        );
        let cases: Vec<Case> = vec![
            (
                "first run: the last complete day",
                None,
                at(20, 3),
                h(0),
                vec![(19, 20)],
            ),
            (
                "first run with the 12 h lag",
                None,
                at(20, 3),
                h(12),
                vec![(18, 19)],
            ),
            (
                "consecutive run: the next day",
                Some(at(20, 0)),
                at(21, 3),
                h(0),
                vec![(20, 21)],
            ),
            (
                "same day again: nothing",
                Some(at(20, 0)),
                at(20, 23),
                h(0),
                vec![],
            ),
            (
                "a missed day: two windows",
                Some(at(18, 0)),
                at(20, 3),
                h(0),
                vec![(18, 19), (19, 20)],
            ),
            (
                "a long outage: 7 days back at most",
                Some(at(1, 0)),
                at(20, 3),
                h(0),
                vec![
                    (13, 14),
                    (14, 15),
                    (15, 16),
                    (16, 17),
                    (17, 18),
                    (18, 19),
                    (19, 20),
                ],
            ),
            (
                "a checkpoint mid-day is completed to midnight",
                Some(at(19, 6)),
                at(20, 3),
                h(0),
                vec![(19, 20)],
            ),
            (
                "clock skew: checkpoint ahead of now",
                Some(at(22, 0)),
                at(20, 3),
                h(0),
                vec![],
            ),
        ];
        for (name, checkpoint, now, lag, want) in cases {
            let plan = plan_windows(checkpoint, now, lag);
            assert_eq!(spans(&plan), want, "{name}: {plan:?}");
            assert_eq!(
                plan.windows.is_empty(),
                plan.nothing_because.is_some(),
                "{name}"
            );
        }
        let skew = plan_windows(Some(at(22, 0)), at(20, 3), h(0));
        assert!(
            skew.nothing_because
                .as_deref()
                .is_some_and(|w| w.contains("ahead of the clock"))
        );
        let outage = plan_windows(Some(at(1, 0)), at(20, 3), h(0));
        assert!(
            outage
                .skipped
                .as_deref()
                .is_some_and(|s| s.starts_with("2026-11-01T00:00:00+00:00 .. 2026-11-13"))
        );
    }

    #[test]
    fn the_limits_of_the_calendar_give_a_reason_not_a_panic() {
        let (min, max) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
        for (until, now, lag) in [
            (None, min, Duration::hours(12)),
            (None, max, Duration::hours(12)),
            (Some(min), max, Duration::zero()),
            (Some(max), min, Duration::zero()),
            (Some(min), at(20, 3), Duration::hours(72)),
        ] {
            let plan = plan_windows(until, now, lag);
            assert!(plan.windows.len() <= MAX_CATCH_UP_DAYS as usize);
            assert_eq!(plan.windows.is_empty(), plan.nothing_because.is_some());
        }
    }

    #[test]
    fn consecutive_runs_leave_no_gap_and_no_overlap() {
        let lag = Duration::hours(12);
        let mut until = None;
        let mut exported: Vec<Window> = Vec::new();
        for day in 10..20 {
            // one run a day at 03:00, one day missed
            if day == 14 {
                continue;
            }
            let plan = plan_windows(until, at(day, 3), lag);
            for w in &plan.windows {
                if let Some(last) = exported.last() {
                    assert_eq!(last.to, w.from, "contiguous");
                    assert_eq!(
                        last.to_ms_inclusive() + 1,
                        w.from_ms(),
                        "no ms exported twice"
                    );
                }
                exported.push(*w);
                until = Some(w.to);
            }
        }
        assert_eq!(exported.len(), 10, "{exported:?}");
    }

    #[test]
    fn s3_layout() {
        let w = Window {
            from: at(19, 0),
            to: at(20, 0),
        };
        assert_eq!(
            destination_prefix("logs/", "/ecs/phoenix", &w),
            "logs/ecs-phoenix/2026-11-19"
        );
        assert_eq!(
            destination_prefix("logs", "/aws/lambda/phoenix-ops", &w),
            "logs/aws-lambda-phoenix-ops/2026-11-19"
        );
        assert_eq!(
            checkpoint_key("/ecs/phoenix"),
            "checkpoints/log-exports/ecs-phoenix.json"
        );
        assert_eq!(
            task_name("/ecs/phoenix", &w),
            "phoenix-ops-ecs-phoenix-2026-11-19"
        );
        let mid_day = Window {
            from: at(19, 6),
            to: at(20, 0),
        };
        assert_eq!(
            task_name("/ecs/phoenix", &mid_day),
            "phoenix-ops-ecs-phoenix-2026-11-19-060000"
        );
        assert_eq!(sanitise_group("///"), "log-group");
        assert_eq!(
            (w.from_ms(), w.to_ms_inclusive()),
            (1_795_046_400_000, 1_795_132_799_999)
        );
    }

    #[test]
    fn checkpoints_round_trip_and_read_the_older_format() {
        let cp = Checkpoint {
            log_group: "/ecs/phoenix".into(),
            exported_until: Some(at(20, 0)),
            last_task_id: Some("t-1".into()),
            pending: None,
            updated_at: at(20, 3),
        };
        let text = serde_json::to_string(&cp).expect("json");
        assert_eq!(
            text,
            r#"{"log_group":"/ecs/phoenix","exported_until":"2026-11-20T00:00:00Z","last_task_id":"t-1","updated_at":"2026-11-20T03:00:00Z"}"#
        );
        assert_eq!(Checkpoint::parse(&cp.to_text(), "/ecs/phoenix"), Ok(cp));
        // written by the previous version: the pending task id was a plain string, no name
        let older = r#"{"log_group":"/ecs/phoenix","exported_until":"2026-11-19T00:00:00Z",
            "pending":{"task_id":"t-0","window":{"from":"2026-11-19T00:00:00Z","to":"2026-11-20T00:00:00Z"}},
            "updated_at":"2026-11-20T03:04:00Z"}"#;
        let read = Checkpoint::parse(older, "/ecs/phoenix").expect("older format");
        let pending = read.pending.expect("pending");
        assert_eq!(pending.task_id.as_deref(), Some("t-0"));
        assert!(pending.task_name.is_empty());
        // an intent without a task id
        let intent = r#"{"log_group":"g","pending":{"task_name":"phoenix-ops-g-2026-11-19",
            "window":{"from":"2026-11-19T00:00:00Z","to":"2026-11-20T00:00:00Z"}},"updated_at":"2026-11-20T03:04:00Z"}"#;
        let read = Checkpoint::parse(intent, "g").expect("intent");
        assert_eq!(read.exported_until, None);
        assert_eq!(read.pending.and_then(|p| p.task_id), None);
    }

    #[test]
    fn bad_checkpoints_say_what_is_wrong() {
        let cases = [
            ("{", "not valid JSON"),
            (
                r#"{"log_group":"other","updated_at":"2026-11-20T03:04:00Z"}"#,
                "belongs to log group \"other\"",
            ),
            (
                r#"{"log_group":"g","pending":{"task_id":"t","window":{"from":"2026-11-20T00:00:00Z","to":"2026-11-19T00:00:00Z"}},"updated_at":"2026-11-20T03:04:00Z"}"#,
                "impossible window",
            ),
            (
                r#"{"log_group":"g","pending":{"task_id":"t","window":{"from":"2026-11-01T00:00:00Z","to":"2026-11-19T00:00:00Z"}},"updated_at":"2026-11-20T03:04:00Z"}"#,
                "impossible window",
            ),
        ];
        for (text, want) in cases {
            let error = Checkpoint::parse(text, "g").expect_err(text);
            assert!(error.contains(want), "{error}");
        }
    }
}
