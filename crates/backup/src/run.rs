//! One run: its context, and its two ledger entries (the lease, the progress record; the rules
//! are in [`crate::progress`]). Dry runs never touch the ledger.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use phoenix_core::aws::FailureKind;
use phoenix_core::{AwsFailure, Claim, Ledger};

use crate::event::BackupRequest;
use crate::progress::{self, RUN_RECORD_KEEP, RunRecord};

/// Everything a run's steps need to know about it.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub request: BackupRequest,
    /// The slot or the manual request (see [`BackupRequest::run_id`]).
    pub run_id: String,
    pub request_id: String,
    pub dry_run: bool,
    pub now: DateTime<Utc>,
    /// When the run must stop waiting, to leave time for reporting.
    pub deadline: tokio::time::Instant,
}

impl RunContext {
    /// Time left before the deadline.
    pub fn time_left(&self) -> StdDuration {
        self.deadline
            .saturating_duration_since(tokio::time::Instant::now())
    }
}

/// Claims the run lease for `ctx`'s run.
pub async fn claim_lease(
    ledger: &Ledger,
    cluster: &str,
    ctx: &RunContext,
    time_left: StdDuration,
) -> Result<Claim, AwsFailure> {
    let lease = progress::lease_duration(time_left);
    ledger
        .claim(
            &progress::lease_key(cluster),
            &progress::lease_owner(&ctx.run_id, &ctx.request_id),
            ctx.now,
            lease,
            lease,
        )
        .await
}

/// Gives the run lease back (the next run may start at once).
pub async fn release_lease(
    ledger: &Ledger,
    cluster: &str,
    ctx: &RunContext,
) -> Result<(), AwsFailure> {
    ledger
        .release(
            &progress::lease_key(cluster),
            &progress::lease_owner(&ctx.run_id, &ctx.request_id),
        )
        .await
}

/// The run's progress record in the ledger, as read at the start and written as it goes.
#[derive(Debug)]
pub struct RunProgress<'a> {
    ledger: &'a Ledger,
    key: String,
    owner: String,
    now: DateTime<Utc>,
    exists: bool,
    /// When the record was last written (by this or an earlier attempt).
    pub written_at: Option<DateTime<Utc>>,
    pub record: RunRecord,
}

impl<'a> RunProgress<'a> {
    /// Reads the run's record. An unreadable note gives an empty record and the problem.
    pub async fn read(
        ledger: &'a Ledger,
        cluster: &str,
        ctx: &RunContext,
    ) -> Result<(RunProgress<'a>, Option<String>), AwsFailure> {
        let key = progress::record_key(cluster, &ctx.run_id);
        let entry = ledger.read(&key, ctx.now).await?;
        let (record, problem) = match &entry {
            None => (RunRecord::default(), None),
            Some(entry) => match RunRecord::from_note(&entry.note) {
                Ok(record) => (record, None),
                Err(problem) => (RunRecord::default(), Some(problem)),
            },
        };
        Ok((
            RunProgress {
                ledger,
                key,
                owner: ctx.run_id.clone(),
                now: ctx.now,
                exists: entry.is_some(),
                written_at: entry.map(|e| e.at),
                record,
            },
            problem,
        ))
    }

    /// Writes the record (creates the entry, or updates the run's own).
    pub async fn save(&mut self) -> Result<(), AwsFailure> {
        let note = self.record.to_note();
        let ledger = self.ledger;
        let (key, owner, now) = (&self.key, &self.owner, self.now);
        let mut written = false;
        if self.exists {
            written = ledger
                .complete(key, owner, now, RUN_RECORD_KEEP, &note)
                .await?;
        }
        if !written {
            written = ledger
                .record(key, owner, now, RUN_RECORD_KEEP, &note)
                .await?;
        }
        if !written && !self.exists {
            // written in between by another attempt of this run: its owner is ours
            written = ledger
                .complete(key, owner, now, RUN_RECORD_KEEP, &note)
                .await?;
        }
        if !written {
            return Err(AwsFailure::new(
                "dynamodb:UpdateItem",
                ledger.table(),
                FailureKind::Service,
                Some("ConditionalCheckFailedException"),
                format!("the entry {key} belongs to another owner"),
                None,
            ));
        }
        self.exists = true;
        self.written_at = Some(now);
        Ok(())
    }
}
