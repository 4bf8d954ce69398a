//! The logs run: the bucket's expiry check, then each log group's export, driven step by step
//! by the state machine in [`crate::exports`]. This loop only makes the calls it is asked for,
//! sorts their results through the one triage, waits where told (never past the deadline), and
//! hands the answers back.

use chrono::{DateTime, Utc};
use phoenix_core::{ActionStatus, RetryableError};
use serde_json::{Value, json};

use crate::Backup;
use crate::act::{self, Started};
use crate::expiry;
use crate::exports::{Event, ExportSettings, GroupEnd, GroupExport, Step, WritePurpose};
use crate::journal::{Final, Journal};
use crate::observe;
use crate::report::export_lag_hours;
use crate::run::RunContext;

/// The expiry check, then the exports, one at a time. Returns the export lag in hours (for the
/// heartbeat), when every group's checkpoint is known.
pub async fn run(
    backup: &Backup,
    ctx: &RunContext,
    journal: &mut Journal,
) -> Result<Option<f64>, RetryableError> {
    let config = &backup.config;
    let bucket = &config.bucket;
    let rules = journal.triage(
        observe::lifecycle_rules(&backup.clients.s3, bucket).await,
        Final::Warns("cannot check the bucket's lifecycle rule"),
    )?;
    if let Some(rules) = rules {
        match expiry::check_expiry(&rules, &config.export_prefix) {
            Ok(ok) => journal.observe("lifecycle", json!({"ok": ok})),
            Err(drift) => {
                journal.observe("lifecycle", json!({"drift": drift}));
                journal.warn(format!("s3://{bucket}: {drift}"));
            }
        }
    }
    if config.log_groups.is_empty() {
        journal
            .summary
            .skipped
            .push("logs: LOG_GROUPS is empty".to_owned());
        return Ok(None);
    }
    let settings = ExportSettings {
        bucket: bucket.clone(),
        export_prefix: config.export_prefix.clone(),
        lag: config.export_lag,
        dry_run: ctx.dry_run,
    };
    let mut stop: Option<String> = None;
    let mut observed = Vec::new();
    let mut exported_until: Vec<Option<DateTime<Utc>>> = Vec::new();
    for group in &config.log_groups {
        let mut export = GroupExport::new(group, settings.clone(), ctx.now).blocked(stop.clone());
        let end = drive(backup, ctx, &mut export, journal).await?;
        if let GroupEnd::StopAll(why) = end {
            stop.get_or_insert(why);
        }
        observed.push(export.observed());
        exported_until.push(export.exported_until());
    }
    journal.observe("exports", Value::Array(observed));
    Ok(export_lag_hours(ctx.now, &exported_until))
}

/// Runs one group's export to its end.
async fn drive(
    backup: &Backup,
    ctx: &RunContext,
    export: &mut GroupExport,
    journal: &mut Journal,
) -> Result<GroupEnd, RetryableError> {
    let (s3, logs, bucket) = (
        &backup.clients.s3,
        &backup.clients.logs,
        backup.config.bucket.as_str(),
    );
    loop {
        let step = export.next_step();
        if step.needs_time() && ctx.time_left().is_zero() {
            export.on(Event::NoTime, journal);
            continue;
        }
        let event = match step {
            Step::End(end) => return Ok(end),
            Step::ReadCheckpoint { key } => journal
                .triage(
                    observe::read_checkpoint(s3, bucket, &key).await,
                    Final::Fails(&format!("{} not exported", group_of(&key))),
                )?
                .map_or(Event::Failed, Event::Checkpoint),
            Step::Check { task_id, pause } => {
                if let Some(pause) = pause {
                    tokio::time::sleep(pause.min(ctx.time_left())).await;
                }
                journal
                    .triage(
                        observe::export_status(logs, &task_id).await,
                        Final::Fails(&format!("export task {task_id} not followed")),
                    )?
                    .map_or(Event::Failed, Event::Status)
            }
            Step::Find {
                task_name,
                group,
                from_ms,
            } => journal
                .triage(
                    observe::find_export(logs, &task_name, &group, from_ms).await,
                    Final::Fails(&format!(
                        "{group} not exported (cannot tell whether {task_name} was started)"
                    )),
                )?
                .map_or(Event::Failed, Event::Found),
            Step::Write {
                key,
                checkpoint,
                purpose,
            } => {
                let what = match purpose {
                    WritePurpose::Intent => {
                        Final::Fails("export not started: its intent could not be recorded")
                    }
                    WritePurpose::TaskId => Final::Warns(
                        "export task id not recorded (the next run finds the task by its name)",
                    ),
                    WritePurpose::Advance => Final::Fails(
                        "checkpoint not moved (the next run finds the completed task and moves it)",
                    ),
                };
                journal
                    .triage(
                        act::write_checkpoint(s3, bucket, &key, checkpoint.to_text()).await,
                        what,
                    )?
                    .map_or(Event::Failed, |()| Event::Written)
            }
            Step::Start {
                group,
                window,
                task_name,
                prefix,
            } => {
                let started = journal.triage(
                    act::start_export(logs, &group, &window, bucket, &prefix, &task_name).await,
                    Final::Fails(&format!("{group} {} not exported", window.date())),
                )?;
                match started {
                    Some(Started::Task(id)) => Event::Started(id),
                    Some(Started::LimitReached(message)) => Event::LimitReached(message),
                    None => Event::Failed,
                }
            }
            Step::List { prefix } => journal
                .triage(
                    observe::objects_under(s3, bucket, &prefix).await,
                    Final::Warns("exported objects not listed"),
                )?
                .map_or(Event::Failed, |(objects, bytes, more)| Event::Listed {
                    objects,
                    bytes,
                    more,
                }),
        };
        export.on(event, journal);
    }
}

fn group_of(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

/// Logs not requested (a manual database-only run).
pub fn not_requested(backup: &Backup, journal: &mut Journal) {
    journal.act(
        "logs:CreateExportTask",
        backup.config.log_groups.join(","),
        ActionStatus::Skipped,
        "logs not requested",
    );
    journal
        .summary
        .skipped
        .push("logs: not requested".to_owned());
}
