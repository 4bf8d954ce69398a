// pure: what the run did, in words and in heartbeat metrics; no I/O, no clock
//! What the run did, in words: the typed [`Decision`] with all its wording, the Notice, and the
//! two heartbeat metrics the template's alarms read.
//!
//! One Notice per run: **info** (one line) when everything went, **warning** when it went but
//! something needs a look (the bucket's expiry rule drifted, the snapshot quota is near), or a
//! scheduled run was skipped because another run held the lease; **error** when something
//! failed, saying what failed and what was kept.

mod notice;

use chrono::{DateTime, Utc};
use phoenix_core::metrics::Metric;
use serde::Serialize;

pub use notice::{Links, build_notice, skipped_notice};

/// Heartbeat: 1 for every run whose database part succeeded (its snapshot was created, or
/// existed already). The template alarms when its sum stays below 1 for 26 hours, missing data
/// breaching.
pub const BACKUP_SUCCEEDED: &str = "BackupSucceeded";
/// Heartbeat: hours between now and the oldest log group's checkpoint end, after the run. The
/// template alarms above 48 hours (2 days behind), missing data breaching.
pub const LOG_EXPORT_LAG_HOURS: &str = "LogExportLagHours";

/// The decision of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// Everything asked for was done.
    BackupDone,
    /// Done, with exports left for the next run (one export at a time per account, or time).
    BackupPartial,
    /// A step failed finally; the Notice says what, and what was kept.
    BackupFailed,
    /// Another run holds the run lease: nothing done.
    AnotherRunInProgress,
    /// This run (its slot, or its manual request) already finished and reported: nothing done.
    AlreadyDone,
}

impl Decision {
    /// The decision of a run that did its work.
    pub fn of(summary: &Summary) -> Self {
        if summary.failed() {
            Self::BackupFailed
        } else if !summary.exports_left.is_empty() {
            Self::BackupPartial
        } else {
            Self::BackupDone
        }
    }

    /// The short kebab-case name in the Outcome.
    pub fn slug(&self) -> &'static str {
        match self {
            Self::BackupDone => "backup-done",
            Self::BackupPartial => "backup-partial",
            Self::BackupFailed => "backup-failed",
            Self::AnotherRunInProgress => "another-run-in-progress",
            Self::AlreadyDone => "already-done",
        }
    }
}

/// Who holds the run lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    /// The holder's run (`slot-2026-11-21`, `manual-<request id>`), when it could be read.
    pub run_id: Option<String>,
    pub request_id: String,
    pub until: DateTime<Utc>,
    /// The holder is this very run (another delivery of the same slot).
    pub same_run: bool,
}

/// Why nothing was done: another run holds the lease.
pub fn held_reason(holder: &Holder) -> String {
    let who = match (&holder.run_id, holder.same_run) {
        (_, true) => "another delivery of this same run".to_owned(),
        (Some(run), false) => format!("run {run}"),
        (None, false) => "another run".to_owned(),
    };
    format!(
        "another run is in progress ({who}, request {}, lease until {}): nothing done, so the two never race the checkpoints",
        holder.request_id,
        holder.until.to_rfc3339()
    )
}

/// Why nothing was done: this run finished and reported at `at`.
pub fn already_done_reason(at: DateTime<Utc>, line: Option<&str>) -> String {
    format!(
        "this run already finished at {} and sent its Notice: nothing done again ({})",
        at.to_rfc3339(),
        line.unwrap_or("no summary recorded")
    )
}

/// The snapshot this run made (or would make).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "id")]
pub enum SnapshotResult {
    Created(String),
    AlreadyExisted(String),
    WouldCreate(String),
    Failed(String),
}

impl SnapshotResult {
    /// The backup exists (for the heartbeat).
    pub fn succeeded(&self) -> bool {
        matches!(self, Self::Created(_) | Self::AlreadyExisted(_))
    }
}

/// Everything the run did, collected as it goes (and, after a retry, what the earlier attempts
/// of the same run did, from the run's ledger entry).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub cluster: String,
    pub dry_run: bool,
    pub snapshot: Option<SnapshotResult>,
    /// Snapshots deleted (or that would be, in a dry run).
    pub deleted: Vec<String>,
    /// Deleted by an earlier attempt of this run, beyond those listed (the ledger entry is small).
    #[serde(skip_serializing_if = "is_zero")]
    pub deleted_unlisted: usize,
    /// Snapshots the plan would have deleted but that were kept because the rotation stopped.
    pub kept_after_failure: Vec<String>,
    /// `group date` of every export that completed (or would be started in a dry run).
    pub exports_completed: Vec<String>,
    /// Completed by an earlier attempt of this run, beyond those listed.
    #[serde(skip_serializing_if = "is_zero")]
    pub exports_unlisted: usize,
    /// Exports left for the next run, with why.
    pub exports_left: Vec<String>,
    pub failures: Vec<String>,
    pub warnings: Vec<String>,
    /// Parts not run and why.
    pub skipped: Vec<String>,
    /// This attempt continues a run an earlier attempt started (after a retryable failure).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub resumed: bool,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Summary {
    pub fn failed(&self) -> bool {
        !self.failures.is_empty()
    }

    pub fn deleted_count(&self) -> usize {
        self.deleted.len() + self.deleted_unlisted
    }

    pub fn exported_count(&self) -> usize {
        self.exports_completed.len() + self.exports_unlisted
    }

    /// One line: what was done, with the numbers.
    pub fn line(&self) -> String {
        let would = if self.dry_run { "would be " } else { "" };
        let mut parts = Vec::new();
        match &self.snapshot {
            Some(SnapshotResult::Created(id)) => parts.push(format!("snapshot {id} created")),
            Some(SnapshotResult::AlreadyExisted(id)) => {
                parts.push(format!("snapshot {id} already existed"))
            }
            Some(SnapshotResult::WouldCreate(id)) => {
                parts.push(format!("snapshot {id} would be created"))
            }
            Some(SnapshotResult::Failed(id)) => parts.push(format!("snapshot {id} NOT created")),
            None => {}
        }
        if self.snapshot.is_some() || self.deleted_count() > 0 {
            parts.push(format!(
                "{} old snapshot(s) {would}deleted",
                self.deleted_count()
            ));
        }
        if self.exported_count() > 0 || !self.exports_left.is_empty() {
            let verb = if self.dry_run {
                "would be exported"
            } else {
                "exported"
            };
            parts.push(format!("{} log export(s) {verb}", self.exported_count()));
        }
        if !self.exports_left.is_empty() {
            parts.push(format!("{} left for the next run", self.exports_left.len()));
        }
        if !self.failures.is_empty() {
            parts.push(format!("{} failure(s)", self.failures.len()));
        }
        if parts.is_empty() {
            "nothing to do".to_owned()
        } else {
            parts.join("; ")
        }
    }
}

/// Hours between `now` and the oldest checkpoint end; `None` when a group has none yet (or there
/// are no groups), so the metric is not emitted and the alarm sees missing data.
pub fn export_lag_hours(
    now: DateTime<Utc>,
    exported_until: &[Option<DateTime<Utc>>],
) -> Option<f64> {
    let oldest = exported_until
        .iter()
        .copied()
        .collect::<Option<Vec<_>>>()?
        .into_iter()
        .min()?;
    let minutes = now.signed_duration_since(oldest).num_minutes().max(0);
    // one decimal is plenty for a 48 h threshold
    Some((minutes as f64 / 6.0).round() / 10.0)
}

/// The heartbeat metrics of a run that did its work (none in a dry run: it backs nothing up).
pub fn heartbeat_metrics(summary: &Summary, lag_hours: Option<f64>) -> Vec<Metric> {
    if summary.dry_run {
        return Vec::new();
    }
    let mut metrics = Vec::new();
    if summary
        .snapshot
        .as_ref()
        .is_some_and(SnapshotResult::succeeded)
    {
        // the names are literal here: the template wiring test reads them off the source
        metrics.push(Metric::count("BackupSucceeded", 1.0));
    }
    if let Some(hours) = lag_hours {
        metrics.push(Metric {
            unit: "None",
            ..Metric::count("LogExportLagHours", hours)
        });
    }
    metrics
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use phoenix_core::Severity;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 3, 0, 5)
            .single()
            .expect("valid")
    }

    fn links() -> Links {
        Links {
            snapshots: "https://console/snapshots".into(),
            exports: "https://console/s3".into(),
        }
    }

    fn done() -> Summary {
        Summary {
            cluster: "phoenix-docdb".into(),
            snapshot: Some(SnapshotResult::Created(
                "phoenix-ops-phoenix-docdb-2026-11-20".into(),
            )),
            deleted: vec!["phoenix-ops-phoenix-docdb-2026-11-12".into()],
            exports_completed: vec![
                "/ecs/phoenix 2026-11-19".into(),
                "/aws/lambda/phoenix-ops 2026-11-19".into(),
            ],
            ..Summary::default()
        }
    }

    #[test]
    fn success_is_one_info_line() {
        let notice = build_notice(&done(), "backup", "evt-1", None, &links(), now());
        assert_eq!(notice.severity, Severity::Info);
        assert_eq!(
            notice.title,
            "Backup of phoenix-docdb done: snapshot phoenix-ops-phoenix-docdb-2026-11-20 created; 1 old snapshot(s) deleted; 2 log export(s) exported"
        );
        assert_eq!(notice.details, None);
        assert_eq!(Decision::of(&done()).slug(), "backup-done");
    }

    #[test]
    fn a_failure_says_what_failed_and_what_was_kept() {
        let mut summary = done();
        summary.failures.push("rds:DeleteDBClusterSnapshot on phoenix-ops-phoenix-docdb-2026-11-11 failed: InvalidDBClusterSnapshotStateFault: busy (HTTP 400, final)".into());
        summary
            .kept_after_failure
            .push("phoenix-ops-phoenix-docdb-2026-11-12".into());
        let notice = build_notice(
            &summary,
            "backup",
            "evt-1",
            Some("before release 1.5"),
            &links(),
            now(),
        );
        assert_eq!(notice.severity, Severity::Error);
        assert!(
            notice
                .title
                .starts_with("Backup of phoenix-docdb failed: rds:DeleteDBClusterSnapshot on"),
            "{}",
            notice.title
        );
        assert!(notice.summary.contains("(reason: before release 1.5)"));
        assert!(notice.summary.ends_with("Rotation stopped: kept 1 snapshot(s) it would have deleted (phoenix-ops-phoenix-docdb-2026-11-12)."), "{}", notice.summary);
        assert!(
            notice
                .details
                .as_deref()
                .is_some_and(|d| d.contains("KEPT    phoenix-ops-phoenix-docdb-2026-11-12"))
        );
        assert_eq!(Decision::of(&summary), Decision::BackupFailed);
    }

    #[test]
    fn drift_is_a_warning_and_limits_leave_work_for_later() {
        let mut summary = done();
        summary
            .warnings
            .push("the bucket has no lifecycle rule".into());
        summary
            .exports_left
            .push("/ecs/phoenix: another export task is running".into());
        let notice = build_notice(&summary, "backup", "evt-1", None, &links(), now());
        assert_eq!(notice.severity, Severity::Warning);
        assert_eq!(
            notice.title,
            "Backup of phoenix-docdb done with a warning: the bucket has no lifecycle rule"
        );
        assert_eq!(Decision::of(&summary).slug(), "backup-partial");
        assert!(
            summary
                .line()
                .ends_with("2 log export(s) exported; 1 left for the next run"),
            "{}",
            summary.line()
        );
    }

    #[test]
    fn a_resumed_run_counts_what_the_earlier_attempt_did() {
        let mut summary = done();
        summary.resumed = true;
        summary.deleted_unlisted = 3;
        summary.exports_unlisted = 1;
        let notice = build_notice(&summary, "backup", "evt-1", None, &links(), now());
        assert!(
            notice
                .title
                .contains("4 old snapshot(s) deleted; 3 log export(s) exported"),
            "{}",
            notice.title
        );
        assert!(
            notice
                .summary
                .contains("the counts include the earlier attempt")
        );
        assert_eq!(
            notice
                .fields
                .iter()
                .find(|f| f.label == "Rotated")
                .map(|f| f.value.as_str()),
            Some("phoenix-ops-phoenix-docdb-2026-11-12 and 3 more")
        );
    }

    #[test]
    fn every_decision_has_its_name() {
        let all = [
            (Decision::BackupDone, "backup-done"),
            (Decision::BackupPartial, "backup-partial"),
            (Decision::BackupFailed, "backup-failed"),
            (Decision::AnotherRunInProgress, "another-run-in-progress"),
            (Decision::AlreadyDone, "already-done"),
        ];
        for (decision, slug) in all {
            assert_eq!(decision.slug(), slug);
            assert_eq!(serde_json::to_value(decision).expect("json"), slug);
        }
    }

    #[test]
    fn held_and_already_done_say_who_and_when() {
        let holder = Holder {
            run_id: Some("manual-7f3c".into()),
            request_id: "7f3c".into(),
            until: now() + Duration::minutes(6),
            same_run: false,
        };
        assert_eq!(
            held_reason(&holder),
            "another run is in progress (run manual-7f3c, request 7f3c, lease until 2026-11-20T03:06:05+00:00): nothing done, so the two never race the checkpoints"
        );
        let notice = skipped_notice(
            "phoenix-docdb",
            "2026-11-20",
            &holder,
            "backup",
            "e",
            &links(),
            now(),
        );
        assert_eq!(notice.severity, Severity::Warning);
        assert_eq!(
            notice.title,
            "Scheduled backup of phoenix-docdb for 2026-11-20 skipped: another run is in progress"
        );
        let same = Holder {
            same_run: true,
            ..holder
        };
        assert!(held_reason(&same).contains("another delivery of this same run"));
        assert!(
            already_done_reason(now(), Some("snapshot x created"))
                .ends_with("(snapshot x created)")
        );
    }

    #[test]
    fn heartbeats_are_the_two_metrics_the_alarms_read() {
        let t = |h: i64| Some(now() - Duration::hours(h));
        assert_eq!(export_lag_hours(now(), &[t(27), t(51)]), Some(51.0));
        assert_eq!(
            export_lag_hours(now(), &[t(27), None]),
            None,
            "a group never exported"
        );
        assert_eq!(export_lag_hours(now(), &[]), None);
        assert_eq!(
            export_lag_hours(now(), &[Some(now() + Duration::hours(1))]),
            Some(0.0)
        );
        let metrics = heartbeat_metrics(&done(), Some(27.0));
        let names: Vec<_> = metrics
            .iter()
            .map(|m| (m.name.as_str(), m.value, m.unit))
            .collect();
        assert_eq!(
            (BACKUP_SUCCEEDED, LOG_EXPORT_LAG_HOURS),
            (names[0].0, names[1].0),
            "the constants name what is emitted"
        );
        assert_eq!(
            names,
            [
                ("BackupSucceeded", 1.0, "Count"),
                ("LogExportLagHours", 27.0, "None")
            ]
        );
        assert!(
            metrics.iter().all(|m| m.dimensions.is_empty()),
            "only the core Stack/Function dimensions"
        );
        let failed = Summary {
            snapshot: Some(SnapshotResult::Failed("x".into())),
            ..done()
        };
        assert_eq!(heartbeat_metrics(&failed, None), []);
        let dry = Summary {
            dry_run: true,
            ..done()
        };
        assert_eq!(heartbeat_metrics(&dry, Some(1.0)), []);
    }
}
