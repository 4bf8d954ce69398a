//! The database run: observe the region's manual snapshots (and the tags the rule needs), take
//! this run's snapshot (its identifier recorded in the run's ledger entry first), then rotate by
//! [`crate::rotation::plan_rotation`], oldest first, stopping at the first final failure.

use phoenix_core::{ActionStatus, RetryableError};
use serde_json::json;

use crate::Backup;
use crate::act::{self, Created, Deleted};
use crate::event::{self, Trigger};
use crate::journal::{Final, Journal};
use crate::observe;
use crate::progress::{SnapshotStep, snapshot_step};
use crate::report::SnapshotResult;
use crate::rotation::{self, CREATED_BY_KEY, CREATED_BY_VALUE, SnapshotInfo};
use crate::run::{RunContext, RunProgress};

const CREATE: &str = "rds:CreateDBClusterSnapshot";
const DELETE: &str = "rds:DeleteDBClusterSnapshot";

/// Snapshot, then rotation.
pub async fn run(
    backup: &Backup,
    ctx: &RunContext,
    progress: Option<&mut RunProgress<'_>>,
    journal: &mut Journal,
) -> Result<(), RetryableError> {
    let config = &backup.config;
    let docdb = &backup.clients.docdb;
    let cluster = config.cluster.as_str();

    // observe: every manual snapshot of the region, then the tags the rule needs
    let listed = journal.triage(
        observe::manual_snapshots(docdb).await,
        Final::Fails("rotation skipped (snapshots not listed)"),
    )?;
    let mut snapshots: Option<Vec<SnapshotInfo>> = None;
    if let Some((mut found, pages)) = listed {
        let needed = rotation::tags_needed(&found, cluster, ctx.now, config.retention);
        for snapshot in found.iter_mut().filter(|s| needed.contains(&s.id)) {
            // Unreadable tags: the snapshot is not known to be ours, so it is kept.
            snapshot.tags = journal.triage(
                observe::tags_of(docdb, snapshot).await,
                Final::Warns("tags unreadable, snapshot kept"),
            )?;
        }
        journal.observe(
            "snapshots",
            json!({"manual_in_region": found.len(), "pages": pages, "tag_reads": needed.len()}),
        );
        snapshots = Some(found);
    }

    // this run's snapshot
    let id = progress
        .as_ref()
        .and_then(|p| p.record.snapshot.clone())
        .filter(|id| id.starts_with(&rotation::snapshot_prefix(cluster)))
        .unwrap_or_else(|| {
            event::snapshot_id(cluster, &ctx.request.trigger, config.schedule_hours)
        });
    let recorded = progress
        .as_ref()
        .is_some_and(|p| p.record.snapshot.as_deref() == Some(id.as_str()));
    let exists = snapshots
        .as_ref()
        .map(|all| all.iter().any(|s| s.id == id && s.cluster == cluster));
    let mut progress = progress;
    let made = snapshot(
        backup,
        ctx,
        progress.as_deref_mut(),
        journal,
        &id,
        recorded,
        exists,
    );
    journal.summary.snapshot = Some(made.await?);

    let Some(snapshots) = snapshots else {
        return Ok(());
    };
    // deletes an earlier attempt sent without seeing the answer: gone now means done
    if let Some(progress) = progress {
        for id in std::mem::take(&mut progress.record.deleting) {
            if snapshots.iter().all(|s| s.id != id) {
                journal.act(
                    DELETE,
                    &id,
                    ActionStatus::Done,
                    "deleted by an earlier attempt of this run (its answer was lost)",
                );
                journal.deleted(id);
            }
        }
    }
    // rotation: the rule, then the deletes, oldest first
    let creating = usize::from(exists != Some(true));
    let plan = rotation::plan_rotation(&snapshots, cluster, ctx.now, config.retention, creating);
    if let Some(observed) = journal.observed.get_mut("snapshots") {
        observed["newest_available"] = json!(plan.newest_available);
        observed["verdicts"] = json!(plan.verdicts);
    }
    if let Some(warning) = &plan.quota_warning {
        journal.warn(warning.clone());
    }
    let mut stopped: Option<String> = None;
    for verdict in plan.to_delete() {
        if let Some(why) = &stopped {
            journal.act(
                DELETE,
                &verdict.id,
                ActionStatus::Skipped,
                format!("kept: {why}"),
            );
            journal.summary.kept_after_failure.push(verdict.id.clone());
            continue;
        }
        if ctx.dry_run {
            journal.act(DELETE, &verdict.id, ActionStatus::DryRun, &verdict.reason);
            journal.deleted(verdict.id.clone());
            continue;
        }
        journal.in_flight = vec![verdict.id.clone()];
        let deleted = journal.triage(
            act::delete_snapshot(docdb, &verdict.id).await,
            Final::Fails("rotation stopped"),
        )?;
        journal.in_flight.clear();
        match deleted {
            Some(Deleted::Deleted) => {
                journal.act(DELETE, &verdict.id, ActionStatus::Done, &verdict.reason);
                journal.deleted(verdict.id.clone());
            }
            // listed a moment ago: an attempt whose answer was lost (the SDK's retry then
            // finds it gone), or someone else; either way it is rotated
            Some(Deleted::AlreadyGone) => {
                journal.act(
                    DELETE,
                    &verdict.id,
                    ActionStatus::Done,
                    format!("{} (already gone when deleted)", verdict.reason),
                );
                journal.deleted(verdict.id.clone());
            }
            None => stopped = Some(format!("rotation stopped after {} failed", verdict.id)),
        }
    }
    Ok(())
}

/// Takes (or finds) this run's snapshot.
async fn snapshot(
    backup: &Backup,
    ctx: &RunContext,
    progress: Option<&mut RunProgress<'_>>,
    journal: &mut Journal,
    id: &str,
    recorded_before: bool,
    exists: Option<bool>,
) -> Result<SnapshotResult, RetryableError> {
    let created_from = format!(
        "created from {}, tagged {CREATED_BY_KEY}={CREATED_BY_VALUE}",
        backup.config.cluster
    );
    match snapshot_step(exists, recorded_before, ctx.dry_run) {
        SnapshotStep::CreatedEarlier => {
            // done by this run (an earlier attempt, whose Outcome was an error line)
            journal.act(
                CREATE,
                id,
                ActionStatus::Done,
                "created by an earlier attempt of this run (retried): nothing new created",
            );
            return Ok(SnapshotResult::Created(id.to_owned()));
        }
        SnapshotStep::AlreadyExisted => {
            journal.act(
                CREATE,
                id,
                ActionStatus::Skipped,
                "already exists (this slot was backed up): nothing new created",
            );
            return Ok(SnapshotResult::AlreadyExisted(id.to_owned()));
        }
        SnapshotStep::WouldCreate => {
            journal.act(
                CREATE,
                id,
                ActionStatus::DryRun,
                format!("would create, tagged {CREATED_BY_KEY}={CREATED_BY_VALUE}"),
            );
            return Ok(SnapshotResult::WouldCreate(id.to_owned()));
        }
        SnapshotStep::Create => {}
    }
    // Recorded first: a retry of this run reuses this identifier and never makes a second one.
    if let Some(progress) = progress {
        progress.record.snapshot = Some(id.to_owned());
        journal.triage(
            progress.save().await,
            Final::Warns("the snapshot's identifier was not recorded in the ledger"),
        )?;
    }
    let (trigger_tag, trigger_value) = match &ctx.request.trigger {
        Trigger::Scheduled { slot } => ("phoenix-ops:slot", slot.to_rfc3339()),
        Trigger::Manual { request_id, .. } => ("phoenix-ops:request-id", request_id.clone()),
    };
    let tags = [
        (CREATED_BY_KEY, CREATED_BY_VALUE.to_owned()),
        ("phoenix-ops:trigger", ctx.request.kind().to_owned()),
        (trigger_tag, tag_value(&trigger_value)),
    ];
    let created = journal.triage(
        act::create_snapshot(&backup.clients.docdb, &backup.config.cluster, id, &tags).await,
        Final::Fails("snapshot not created"),
    )?;
    Ok(match created {
        Some(Created::New) => {
            journal.act(CREATE, id, ActionStatus::Done, created_from);
            SnapshotResult::Created(id.to_owned())
        }
        // made by an earlier attempt whose answer was lost (recorded), or by someone else
        Some(Created::AlreadyExists) if recorded_before => {
            journal.act(
                CREATE,
                id,
                ActionStatus::Done,
                "already exists (an earlier attempt of this run made it): nothing new",
            );
            SnapshotResult::Created(id.to_owned())
        }
        Some(Created::AlreadyExists) => {
            journal.act(
                CREATE,
                id,
                ActionStatus::Done,
                "already exists (repeated delivery of this slot): success, nothing new",
            );
            SnapshotResult::AlreadyExisted(id.to_owned())
        }
        None => SnapshotResult::Failed(id.to_owned()),
    })
}

/// Tag values: letters, digits, spaces and `_ . : / = + - @`, at most 256 characters.
pub fn tag_value(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_alphanumeric() || " _.:/=+-@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(256)
        .collect()
}
