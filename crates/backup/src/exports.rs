//! CloudWatch Logs export planning (pure): which time windows to export, where they go in S3,
//! the checkpoint that makes consecutive runs leave no gap and no overlap, and the check that the
//! bucket's lifecycle rule still expires exports.
//!
//! Windows are whole UTC days (one S3 date folder per window). A day is exportable once
//! `now - EXPORT_LAG_HOURS` has passed its end (CloudWatch Logs may need up to 12 h before data
//! is exportable). The checkpoint holds the end of the last window whose export COMPLETED; the
//! next window starts exactly there. A first run (no checkpoint) exports the last complete day.
//! A run that missed days catches up, at most [`MAX_CATCH_UP_DAYS`] back (older exports would be
//! expired by the bucket's rule at once); the skipped range is reported.

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};

/// How far back a late run catches up.
pub const MAX_CATCH_UP_DAYS: i64 = 7;
/// The longest expiry of exported logs the bucket may have (the 7-day rotation).
pub const EXPORT_EXPIRY_DAYS: i32 = 7;
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
        self.to.timestamp_millis() - 1
    }

    pub fn date(&self) -> String {
        self.from.format("%Y-%m-%d").to_string()
    }
}

/// An export started but not seen COMPLETED yet (the run ran out of time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingExport {
    pub task_id: String,
    pub window: Window,
}

/// The checkpoint object, one per log group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub log_group: String,
    /// End of the last window whose export COMPLETED.
    pub exported_until: DateTime<Utc>,
    /// The last completed export task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_task_id: Option<String>,
    /// An export this function started and has not seen complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingExport>,
    pub updated_at: DateTime<Utc>,
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

fn day_start(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::days(1)).unwrap_or(t)
}

/// Plans the export windows of one log group.
pub fn plan_windows(
    exported_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    lag: Duration,
) -> ExportPlan {
    let ready_until = day_start(now - lag);
    let oldest = ready_until - Duration::days(MAX_CATCH_UP_DAYS);
    let (mut start, skipped) = match exported_until {
        None => (ready_until - Duration::days(1), None),
        Some(until) if until > now => {
            return ExportPlan {
                windows: Vec::new(),
                nothing_because: Some(format!(
                    "checkpoint {} is ahead of the clock {}: clock skew or a bad checkpoint, nothing exported",
                    until.to_rfc3339(),
                    now.to_rfc3339()
                )),
                skipped: None,
            };
        }
        Some(until) if until < oldest => (
            oldest,
            Some(format!(
                "{} .. {} not exported: older than {MAX_CATCH_UP_DAYS} days (exports expire after {EXPORT_EXPIRY_DAYS})",
                until.to_rfc3339(),
                oldest.to_rfc3339()
            )),
        ),
        Some(until) => (until, None),
    };
    let mut windows = Vec::new();
    while start < ready_until {
        let end = (day_start(start) + Duration::days(1)).min(ready_until);
        windows.push(Window {
            from: start,
            to: end,
        });
        start = end;
    }
    let nothing_because = windows.is_empty().then(|| {
        format!(
            "up to date: exported until {}, next day exportable after {} (lag {}h)",
            exported_until.unwrap_or(ready_until).to_rfc3339(),
            (ready_until + Duration::days(1) + lag).to_rfc3339(),
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

/// The export task's name (visible in the console).
pub fn task_name(group: &str, window: &Window) -> String {
    format!("phoenix-ops-{}-{}", sanitise_group(group), window.date())
}

/// One lifecycle rule, as far as expiry is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryRule {
    pub id: String,
    pub enabled: bool,
    /// The rule's prefix (filter prefix, `and` prefix or legacy prefix); `None` = whole bucket.
    pub prefix: Option<String>,
    /// True when the rule also filters on tags or object size (it may miss exports).
    pub narrowed: bool,
    pub expiration_days: Option<i32>,
}

/// `Ok(rule id)` when an enabled rule expires every export within 7 days; `Err(drift)` else.
pub fn check_expiry(rules: &[ExpiryRule], export_prefix: &str) -> Result<String, String> {
    let exports = format!("{}/", export_prefix.trim_matches('/'));
    let covering = rules.iter().find(|r| {
        r.enabled
            && !r.narrowed
            && r.prefix.as_deref().is_none_or(|p| exports.starts_with(p))
            && r.expiration_days
                .is_some_and(|d| (1..=EXPORT_EXPIRY_DAYS).contains(&d))
    });
    match covering {
        Some(rule) => Ok(format!(
            "rule {} expires {exports} after {} days",
            rule.id,
            rule.expiration_days.unwrap_or_default()
        )),
        None if rules.is_empty() => Err(format!(
            "the bucket has no lifecycle rule: exported logs under {exports} never expire"
        )),
        None => {
            let seen: Vec<String> = rules
                .iter()
                .map(|r| {
                    format!(
                        "{} ({}, prefix {}, {})",
                        r.id,
                        if r.enabled { "enabled" } else { "disabled" },
                        r.prefix.as_deref().unwrap_or("*"),
                        r.expiration_days
                            .map(|d| format!("{d} days"))
                            .unwrap_or_else(|| "no day expiry".to_owned())
                    )
                })
                .collect();
            Err(format!(
                "no enabled lifecycle rule expires {exports} within {EXPORT_EXPIRY_DAYS} days; rules: {}",
                seen.join("; ")
            ))
        }
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
        assert_eq!(sanitise_group("///"), "log-group");
        assert_eq!(
            (w.from_ms(), w.to_ms_inclusive()),
            (1_795_046_400_000, 1_795_132_799_999)
        );
    }

    #[test]
    fn checkpoints_round_trip() {
        let cp = Checkpoint {
            log_group: "/ecs/phoenix".into(),
            exported_until: at(20, 0),
            last_task_id: Some("t-1".into()),
            pending: None,
            updated_at: at(20, 3),
        };
        let text = serde_json::to_string(&cp).expect("json");
        assert_eq!(
            text,
            r#"{"log_group":"/ecs/phoenix","exported_until":"2026-11-20T00:00:00Z","last_task_id":"t-1","updated_at":"2026-11-20T03:00:00Z"}"#
        );
        assert_eq!(serde_json::from_str::<Checkpoint>(&text).expect("back"), cp);
    }

    #[test]
    fn lifecycle_drift_table() {
        let rule =
            |prefix: Option<&str>, days: Option<i32>, enabled: bool, narrowed: bool| ExpiryRule {
                id: "r".into(),
                enabled,
                prefix: prefix.map(str::to_owned),
                narrowed,
                expiration_days: days,
            };
        let cases = vec![
            (
                "the seeded rule",
                vec![rule(Some("logs/"), Some(7), true, false)],
                true,
            ),
            (
                "shorter is fine",
                vec![rule(Some("logs/"), Some(3), true, false)],
                true,
            ),
            ("whole bucket", vec![rule(None, Some(7), true, false)], true),
            (
                "prefix without slash",
                vec![rule(Some("logs"), Some(7), true, false)],
                true,
            ),
            ("no rules", vec![], false),
            (
                "disabled",
                vec![rule(Some("logs/"), Some(7), false, false)],
                false,
            ),
            (
                "30 days",
                vec![rule(Some("logs/"), Some(30), true, false)],
                false,
            ),
            (
                "another prefix",
                vec![rule(Some("archive/"), Some(7), true, false)],
                false,
            ),
            (
                "narrowed by tag",
                vec![rule(Some("logs/"), Some(7), true, true)],
                false,
            ),
            (
                "date expiry only",
                vec![rule(Some("logs/"), None, true, false)],
                false,
            ),
        ];
        for (name, rules, ok) in cases {
            assert_eq!(check_expiry(&rules, "logs").is_ok(), ok, "{name}");
        }
        assert_eq!(
            check_expiry(&[rule(Some("logs/"), Some(30), true, false)], "logs"),
            Err("no enabled lifecycle rule expires logs/ within 7 days; rules: r (enabled, prefix logs/, 30 days)".to_owned())
        );
    }
}
