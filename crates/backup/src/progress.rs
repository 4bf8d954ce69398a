// pure: the run's entries in the ledger (lease, progress record) and what a retry resumes; no I/O
//! Two entries of the ledger table (`LEDGER_TABLE`, [`phoenix_core::ledger`]) make backup runs
//! safe to overlap and to retry:
//!
//! * **The run lease** ([`lease_key`], one per cluster): claimed before anything else, held for
//!   the time the invocation has left plus [`LEASE_SLACK`] (so longer than the function can run),
//!   released at the end. A second run meanwhile (a schedule retry, a duplicate delivery, a
//!   person's manual invoke) finds it held and reports "another run is in progress", doing
//!   nothing, instead of racing the checkpoints. Reserved concurrency is not needed for this.
//!   The owner is `<request id> <run id>`: Lambda retries an asynchronous invocation under the
//!   same request id, so a retry takes its own lease back at once.
//! * **The run's record** ([`record_key`], one per run: the slot, or the manual request): what
//!   the run did so far ([`RunRecord`]), written before the snapshot is created (its identifier,
//!   so a retried manual run never makes a second one), when an attempt stops with a retryable
//!   failure, when the work is finished and when its Notice is out. A retry starts from it, so
//!   its Notice tells what the **whole run** did; a delivery of a run already reported does
//!   nothing ("already done").

use chrono::Duration;
use phoenix_core::text::truncate_chars;
use serde::{Deserialize, Serialize};

use crate::report::{Holder, Summary};

/// How long a run's record is kept: longer than a scheduled event is accepted
/// ([`crate::event::MAX_DELIVERY_DELAY`] plus one day).
pub const RUN_RECORD_KEEP: Duration = Duration::days(3);
/// The lease outlasts the invocation by this much (its time left is measured from `now`).
pub const LEASE_SLACK: Duration = Duration::seconds(60);
/// The ledger keeps notes up to 1,000 characters: a record is made to fit.
pub const NOTE_MAX_CHARS: usize = 1_000;
/// Longest decision line kept in a record.
const LINE_MAX_CHARS: usize = 300;

/// The lease every run of `cluster` takes.
pub fn lease_key(cluster: &str) -> String {
    format!("backup/{cluster}/run-lease")
}

/// The record of one run.
pub fn record_key(cluster: &str, run_id: &str) -> String {
    format!("backup/{cluster}/run/{run_id}")
}

/// The lease's owner: the request (an asynchronous retry keeps it) and the run.
pub fn lease_owner(run_id: &str, request_id: &str) -> String {
    format!("{request_id} {run_id}")
}

/// How long to hold the lease: the time this invocation may still run, plus [`LEASE_SLACK`].
pub fn lease_duration(time_left: std::time::Duration) -> Duration {
    Duration::from_std(time_left)
        .ok()
        .and_then(|left| left.checked_add(&LEASE_SLACK))
        .unwrap_or(Duration::days(1))
}

/// Who holds the lease, from the ledger's `by` (the owner written by [`lease_owner`]).
pub fn holder(by: &str, until: chrono::DateTime<chrono::Utc>, own_run_id: &str) -> Holder {
    let (request_id, run_id) = match by.split_once(' ') {
        Some((request, run)) => (request.to_owned(), Some(run.to_owned())),
        None => (by.to_owned(), None),
    };
    Holder {
        same_run: run_id.as_deref() == Some(own_run_id),
        run_id,
        request_id,
        until,
    }
}

/// How far the run got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStage {
    /// Started, not finished (an attempt stopped with a retryable failure, or is running).
    #[default]
    Running,
    /// The work is done; the Notice may not be out yet.
    Finished,
    /// The Notice is out: another delivery of this run does nothing.
    Notified,
}

/// What a run did so far, kept in its ledger entry (compact: see [`RunRecord::to_note`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    #[serde(default)]
    pub stage: RunStage,
    /// The snapshot this run creates, recorded before CreateDBClusterSnapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deleted_unlisted: usize,
    /// Deletes an attempt sent and never saw answered (it stopped with a retryable failure):
    /// gone by the retry's listing means this run deleted them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleting: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exported: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub exported_unlisted: usize,
    /// The decision line, once finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl RunRecord {
    /// Reads a record; an unreadable note is reported and read as empty.
    pub fn from_note(note: &str) -> Result<RunRecord, String> {
        serde_json::from_str(note).map_err(|e| {
            format!(
                "the run's ledger entry is unreadable ({e}): its earlier progress is not counted"
            )
        })
    }

    /// The record as a note of at most [`NOTE_MAX_CHARS`] characters, always valid JSON: the
    /// lists give up their last entries (counted, not named) until it fits.
    pub fn to_note(&self) -> String {
        let mut record = self.clone();
        record.line = record.line.map(|l| truncate_chars(&l, LINE_MAX_CHARS));
        loop {
            let text = serde_json::to_string(&record).unwrap_or_default();
            if text.chars().count() <= NOTE_MAX_CHARS {
                return text;
            }
            if record.exported.pop().is_some() {
                record.exported_unlisted += 1;
            } else if record.deleting.pop().is_some() {
                // only the report of the retry loses it
            } else if record.deleted.pop().is_some() {
                record.deleted_unlisted += 1;
            } else if record.line.take().is_none() {
                // only the snapshot identifier is left (at most 255 characters): cannot happen
                return text;
            }
        }
    }

    /// Anything done by an earlier attempt.
    pub fn has_progress(&self) -> bool {
        self.snapshot.is_some()
            || !self.deleted.is_empty()
            || self.deleted_unlisted > 0
            || !self.exported.is_empty()
            || self.exported_unlisted > 0
    }

    /// A retry starts its Summary from what the earlier attempts did.
    pub fn seed(&self, summary: &mut Summary) {
        summary.deleted = self.deleted.clone();
        summary.deleted_unlisted = self.deleted_unlisted;
        summary.exports_completed = self.exported.clone();
        summary.exports_unlisted = self.exported_unlisted;
        summary.resumed = self.has_progress();
    }

    /// Records this attempt's progress (the snapshot identifier is recorded separately, before
    /// the snapshot is created).
    pub fn update(&mut self, summary: &Summary, stage: RunStage) {
        self.stage = stage;
        self.deleted = summary.deleted.clone();
        self.deleted_unlisted = summary.deleted_unlisted;
        self.exported = summary.exports_completed.clone();
        self.exported_unlisted = summary.exports_unlisted;
        if stage != RunStage::Running {
            self.line = Some(summary.line());
            self.deleting.clear();
        }
    }
}

/// What to do about this run's snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotStep {
    /// Record its identifier, then create it.
    Create,
    /// It exists and an earlier attempt of this run recorded it: this run created it.
    CreatedEarlier,
    /// It exists and this run never recorded it (made by someone else, or a record expired).
    AlreadyExisted,
    /// Dry run.
    WouldCreate,
}

/// `exists`: the snapshot is in the listing (`None`: the listing failed; CreateDBClusterSnapshot
/// tells). `recorded`: this run's record names it.
pub fn snapshot_step(exists: Option<bool>, recorded: bool, dry_run: bool) -> SnapshotStep {
    match (exists, recorded) {
        (Some(true), true) => SnapshotStep::CreatedEarlier,
        (Some(true), false) => SnapshotStep::AlreadyExisted,
        _ if dry_run => SnapshotStep::WouldCreate,
        _ => SnapshotStep::Create,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::SnapshotResult;
    use chrono::{TimeZone, Utc};

    #[test]
    fn keys_and_owners() {
        assert_eq!(lease_key("phoenix-docdb"), "backup/phoenix-docdb/run-lease");
        assert_eq!(
            record_key("phoenix-docdb", "slot-2026-11-21"),
            "backup/phoenix-docdb/run/slot-2026-11-21"
        );
        let until = Utc
            .with_ymd_and_hms(2026, 11, 21, 3, 6, 0)
            .single()
            .expect("valid");
        let owner = lease_owner("slot-2026-11-21", "req-1");
        assert_eq!(owner, "req-1 slot-2026-11-21");
        let same = holder(&owner, until, "slot-2026-11-21");
        assert!(same.same_run);
        assert_eq!(same.request_id, "req-1");
        let other = holder(&owner, until, "manual-req-2");
        assert!(!other.same_run);
        assert_eq!(other.run_id.as_deref(), Some("slot-2026-11-21"));
        let odd = holder("someone", until, "x");
        assert_eq!((odd.run_id, odd.request_id.as_str()), (None, "someone"));
        assert_eq!(
            lease_duration(std::time::Duration::from_secs(298)),
            Duration::seconds(358),
            "longer than the invocation can run"
        );
        assert_eq!(lease_duration(std::time::Duration::MAX), Duration::days(1));
    }

    #[test]
    fn the_snapshot_step_table() {
        use SnapshotStep::*;
        let cases = [
            (Some(true), true, false, CreatedEarlier),
            (Some(true), false, false, AlreadyExisted),
            (Some(false), true, false, Create),
            (Some(false), false, false, Create),
            (None, false, false, Create),
            (Some(false), false, true, WouldCreate),
            (Some(true), false, true, AlreadyExisted),
        ];
        for (exists, recorded, dry_run, want) in cases {
            assert_eq!(
                snapshot_step(exists, recorded, dry_run),
                want,
                "{exists:?} {recorded} {dry_run}"
            );
        }
    }

    #[test]
    fn a_record_round_trips_and_always_fits_the_ledger() {
        let summary = Summary {
            deleted: (0..40)
                .map(|i| format!("phoenix-ops-phoenix-docdb-2026-10-{i:02}"))
                .collect(),
            exports_completed: (0..40)
                .map(|i| format!("/aws/lambda/phoenix-ops-{i} 2026-11-20"))
                .collect(),
            snapshot: Some(SnapshotResult::Created("s".into())),
            ..Summary::default()
        };
        let mut record = RunRecord {
            snapshot: Some(format!("phoenix-ops-{}", "c".repeat(240))),
            ..RunRecord::default()
        };
        record.update(&summary, RunStage::Finished);
        let note = record.to_note();
        assert!(note.chars().count() <= NOTE_MAX_CHARS, "{}", note.len());
        let back = RunRecord::from_note(&note).expect("valid JSON");
        assert_eq!(back.snapshot, record.snapshot);
        assert_eq!(back.deleted.len() + back.deleted_unlisted, 40);
        assert_eq!(back.exported.len() + back.exported_unlisted, 40);
        assert_eq!(back.stage, RunStage::Finished);
        let mut seeded = Summary::default();
        back.seed(&mut seeded);
        assert_eq!((seeded.deleted_count(), seeded.exported_count()), (40, 40));
        assert!(seeded.resumed);
        // small records are kept whole
        let small = RunRecord {
            snapshot: Some("s".into()),
            ..RunRecord::default()
        };
        assert_eq!(RunRecord::from_note(&small.to_note()), Ok(small));
        assert!(RunRecord::from_note("{").is_err());
        assert_eq!(RunRecord::from_note("{}"), Ok(RunRecord::default()));
    }
}
