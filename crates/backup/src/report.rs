//! What the run did, in words (pure): the decision line of the Outcome and the Notice.
//!
//! One Notice per run: **info** (one line) when everything went, **warning** when it went but
//! something needs a look (the bucket's expiry rule drifted, the snapshot quota is near),
//! **error** when something failed, saying what failed and what was kept.

use chrono::{DateTime, Utc};
use phoenix_core::{Notice, Severity};
use serde::Serialize;

/// The snapshot this run made (or would make).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "id")]
pub enum SnapshotResult {
    Created(String),
    AlreadyExisted(String),
    WouldCreate(String),
    Failed(String),
}

/// Everything the run did, collected as it goes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub cluster: String,
    pub dry_run: bool,
    pub snapshot: Option<SnapshotResult>,
    /// Snapshots deleted (or that would be, in a dry run).
    pub deleted: Vec<String>,
    /// Snapshots the plan would have deleted but that were kept because the rotation stopped.
    pub kept_after_failure: Vec<String>,
    /// `group date` of every export that completed (or would be started in a dry run).
    pub exports_completed: Vec<String>,
    /// Exports left for the next run, with why.
    pub exports_left: Vec<String>,
    pub failures: Vec<String>,
    pub warnings: Vec<String>,
    /// Parts not run and why.
    pub skipped: Vec<String>,
}

impl Summary {
    pub fn failed(&self) -> bool {
        !self.failures.is_empty()
    }

    /// The short kebab-case decision.
    pub fn decision(&self) -> &'static str {
        if self.failed() {
            "backup-failed"
        } else if !self.exports_left.is_empty() {
            "backup-partial"
        } else {
            "backup-done"
        }
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
        if self.snapshot.is_some() || !self.deleted.is_empty() {
            parts.push(format!(
                "{} old snapshot(s) {would}deleted",
                self.deleted.len()
            ));
        }
        if !self.exports_completed.is_empty() || !self.exports_left.is_empty() {
            let verb = if self.dry_run {
                "would be exported"
            } else {
                "exported"
            };
            parts.push(format!(
                "{} log export(s) {verb}",
                self.exports_completed.len()
            ));
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

/// Where the Notice links to.
#[derive(Debug, Clone)]
pub struct Links {
    pub snapshots: String,
    pub exports: String,
}

/// The Notice of one run.
pub fn build_notice(
    summary: &Summary,
    source: &str,
    event_id: &str,
    reason: Option<&str>,
    links: &Links,
    now: DateTime<Utc>,
) -> Notice {
    let line = summary.line();
    let why = reason
        .map(|r| format!(" (reason: {r})"))
        .unwrap_or_default();
    let dry = if summary.dry_run { " (dry run)" } else { "" };
    let (severity, title, summary_text) = if summary.failed() {
        let first = summary.failures.first().cloned().unwrap_or_default();
        let kept = if summary.kept_after_failure.is_empty() {
            "No snapshot that should be kept was deleted.".to_owned()
        } else {
            format!(
                "Rotation stopped: kept {} snapshot(s) it would have deleted ({}).",
                summary.kept_after_failure.len(),
                summary.kept_after_failure.join(", ")
            )
        };
        (
            Severity::Error,
            format!("Backup of {} failed{dry}: {first}", summary.cluster),
            format!("{line}{why}. {kept}"),
        )
    } else if !summary.warnings.is_empty() {
        (
            Severity::Warning,
            format!(
                "Backup of {} done with a warning{dry}: {}",
                summary.cluster, summary.warnings[0]
            ),
            format!("{line}{why}."),
        )
    } else {
        (
            Severity::Info,
            format!("Backup of {} done{dry}: {line}", summary.cluster),
            format!("{line}{why}."),
        )
    };
    let mut notice = Notice::new(severity, source, title, summary_text, now)
        .event_id(Some(event_id))
        .link("Snapshots", &links.snapshots)
        .link("Exported logs", &links.exports);
    if let Some(snapshot) = &summary.snapshot {
        let (label, id) = match snapshot {
            SnapshotResult::Created(id) => ("created", id),
            SnapshotResult::AlreadyExisted(id) => ("already existed", id),
            SnapshotResult::WouldCreate(id) => ("would create", id),
            SnapshotResult::Failed(id) => ("failed", id),
        };
        notice = notice.field("Snapshot", format!("{id} ({label})"));
    }
    if !summary.deleted.is_empty() {
        notice = notice.field("Rotated", summary.deleted.join(", "));
    }
    let mut details = Vec::new();
    for f in &summary.failures {
        details.push(format!("FAILED  {f}"));
    }
    for w in &summary.warnings {
        details.push(format!("WARNING {w}"));
    }
    for k in &summary.kept_after_failure {
        details.push(format!("KEPT    {k} (rotation stopped)"));
    }
    for e in &summary.exports_left {
        details.push(format!("LATER   {e}"));
    }
    for s in &summary.skipped {
        details.push(format!("SKIPPED {s}"));
    }
    if severity_needs_details(&notice.severity) {
        notice = notice.details(details.join("\n"));
    }
    notice
}

fn severity_needs_details(severity: &Severity) -> bool {
    !matches!(severity, Severity::Info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

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
        assert_eq!(done().decision(), "backup-done");
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
        assert!(
            notice.summary.contains("(reason: before release 1.5)"),
            "{}",
            notice.summary
        );
        assert!(notice.summary.ends_with("Rotation stopped: kept 1 snapshot(s) it would have deleted (phoenix-ops-phoenix-docdb-2026-11-12)."), "{}", notice.summary);
        assert!(
            notice
                .details
                .as_deref()
                .is_some_and(|d| d.contains("KEPT    phoenix-ops-phoenix-docdb-2026-11-12"))
        );
        assert_eq!(summary.decision(), "backup-failed");
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
        assert_eq!(summary.decision(), "backup-partial");
        assert!(
            summary
                .line()
                .ends_with("2 log export(s) exported; 1 left for the next run"),
            "{}",
            summary.line()
        );
    }
}
