// pure: the run's Notice in words; no I/O, no clock (`now` is passed in)
//! The Notice of a run (info, warning or error, with what failed and what was kept), and the
//! Notice of a scheduled run skipped because another run held the lease.

use chrono::{DateTime, Utc};
use phoenix_core::{Notice, Severity};

use super::{Holder, SnapshotResult, Summary, held_reason};

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
    let resumed = if summary.resumed {
        " Resumed after a retryable failure: the counts include the earlier attempt."
    } else {
        ""
    };
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
            format!("{line}{why}. {kept}{resumed}"),
        )
    } else if let Some(warning) = summary.warnings.first() {
        (
            Severity::Warning,
            format!(
                "Backup of {} done with a warning{dry}: {warning}",
                summary.cluster
            ),
            format!("{line}{why}.{resumed}"),
        )
    } else {
        (
            Severity::Info,
            format!("Backup of {} done{dry}: {line}", summary.cluster),
            format!("{line}{why}.{resumed}"),
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
    if summary.deleted_count() > 0 {
        let mut rotated = summary.deleted.join(", ");
        if summary.deleted_unlisted > 0 {
            rotated.push_str(&format!(" and {} more", summary.deleted_unlisted));
        }
        notice = notice.field("Rotated", rotated);
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
    if notice.severity != Severity::Info {
        notice = notice.details(details.join("\n"));
    }
    notice
}

/// The Notice of a scheduled run that did nothing because another run held the lease: a person
/// should know this slot has no backup of its own.
pub fn skipped_notice(
    cluster: &str,
    slot: &str,
    holder: &Holder,
    source: &str,
    event_id: &str,
    links: &Links,
    now: DateTime<Utc>,
) -> Notice {
    Notice::new(
        Severity::Warning,
        source,
        format!("Scheduled backup of {cluster} for {slot} skipped: another run is in progress"),
        format!(
            "{}. The next scheduled run backs up as usual; to back up now, invoke the backup function by hand once the other run is over.",
            held_reason(holder)
        ),
        now,
    )
    .event_id(Some(event_id))
    .link("Snapshots", &links.snapshots)
    .link("Exported logs", &links.exports)
}
