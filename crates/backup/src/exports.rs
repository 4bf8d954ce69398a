// pure: the export of one log group as a state machine; no I/O, no clock
//! The export of one log group, as a state machine driven by the thin loop in
//! [`crate::logs`]: [`GroupExport::next_step`] says which call to make, the loop makes it and
//! hands back what it answered ([`Event`]), [`GroupExport::on`] decides what follows and records
//! it in the [`Journal`]. Nothing here waits, reads a clock or calls AWS.
//!
//! **No half-done step.** Whatever can fail after an export is started is preceded by a record
//! of it in the group's checkpoint:
//!
//! 1. the *intent* (window and task name) is written before CreateExportTask;
//! 2. the task id is written as soon as CreateExportTask answers;
//! 3. the task is followed (DescribeExportTasks) within the invocation's time;
//! 4. once COMPLETED, the objects are listed and the checkpoint moves past the window.
//!
//! A retry, or the next run, reads the checkpoint first: a recorded task id is followed (never
//! started again); an intent without an id is looked up by its name (CreateExportTask may have
//! made the task and failed to answer), and only when no such task exists is the window
//! exported. So no retried failure leaves two exports of one window.
//!
//! One export at a time per account: `LimitExceededException`, or a task still running when the
//! time is up, stops this group and every later one ([`GroupEnd::StopAll`]); what is left is
//! reported "left for the next run".

use std::collections::VecDeque;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use phoenix_core::aws::FailureKind;
use phoenix_core::{ActionStatus, AwsFailure};
use serde_json::{Value, json};

pub use crate::export_steps::{
    Event, ExportSettings, FoundTask, GroupEnd, POLL_FIRST, POLL_MAX, Step, TaskStatus,
    WritePurpose,
};
use crate::journal::{Final, Journal};
use crate::windows::{
    Checkpoint, ExportPlan, ExportStatus, PendingExport, Window, checkpoint_key,
    destination_prefix, plan_windows, task_name,
};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Read,
    Check {
        pending: PendingExport,
        polls: u32,
        last: Option<ExportStatus>,
        /// Started by an earlier attempt or run (found in the checkpoint).
        earlier: bool,
    },
    Find(PendingExport),
    Intent(PendingExport),
    Start(PendingExport),
    RecordId {
        pending: PendingExport,
        earlier: bool,
    },
    List {
        pending: PendingExport,
        earlier: bool,
    },
    Advance(PendingExport),
    End(GroupEnd),
}

/// The export of one log group.
#[derive(Debug, Clone)]
pub struct GroupExport {
    group: String,
    settings: ExportSettings,
    now: DateTime<Utc>,
    checkpoint: Option<Checkpoint>,
    exported_until_before: Option<DateTime<Utc>>,
    plan: Option<ExportPlan>,
    windows: VecDeque<Window>,
    phase: Phase,
    /// Set when an earlier group stopped every export: this group only reads its checkpoint
    /// (for the lag heartbeat) and leaves its windows for the next run.
    blocked: Option<String>,
}

fn pause(polls: u32) -> StdDuration {
    let factor = 2u32.saturating_pow(polls.saturating_sub(1).min(16));
    POLL_FIRST.saturating_mul(factor).min(POLL_MAX)
}

impl GroupExport {
    pub fn new(group: &str, settings: ExportSettings, now: DateTime<Utc>) -> Self {
        Self {
            group: group.to_owned(),
            settings,
            now,
            checkpoint: None,
            exported_until_before: None,
            plan: None,
            windows: VecDeque::new(),
            phase: Phase::Read,
            blocked: None,
        }
    }

    /// A group after another one stopped every export (one export at a time per account).
    pub fn blocked(mut self, why: Option<String>) -> Self {
        self.blocked = why;
        self
    }

    fn key(&self) -> String {
        checkpoint_key(&self.group)
    }

    fn target(&self, window: &Window) -> String {
        format!("{} {}", self.group, window.date())
    }

    /// End of the last exported window, as things stand (after this run's writes).
    pub fn exported_until(&self) -> Option<DateTime<Utc>> {
        self.checkpoint.as_ref().and_then(|c| c.exported_until)
    }

    /// What was observed and planned, for the Outcome.
    pub fn observed(&self) -> Value {
        json!({
            "log_group": self.group,
            "exported_until_before": self.exported_until_before,
            "exported_until": self.exported_until(),
            "plan": self.plan,
        })
    }

    /// The checkpoint as it would be written with `pending`.
    fn with_pending(&self, pending: Option<PendingExport>) -> Checkpoint {
        let mut checkpoint = self.checkpoint.clone().unwrap_or(Checkpoint {
            log_group: self.group.clone(),
            exported_until: None,
            last_task_id: None,
            pending: None,
            updated_at: self.now,
        });
        checkpoint.pending = pending;
        checkpoint.updated_at = self.now;
        checkpoint
    }

    /// The checkpoint moved past `pending`'s window.
    fn advanced(&self, pending: &PendingExport) -> Checkpoint {
        let mut checkpoint = self.with_pending(None);
        checkpoint.exported_until = Some(pending.window.to);
        checkpoint.last_task_id = pending.task_id.clone();
        checkpoint
    }

    /// The next call to make.
    pub fn next_step(&self) -> Step {
        match &self.phase {
            Phase::Read => Step::ReadCheckpoint { key: self.key() },
            Phase::Check { pending, polls, .. } => Step::Check {
                task_id: pending.task_id.clone().unwrap_or_default(),
                pause: (*polls > 0).then(|| pause(*polls)),
            },
            Phase::Find(pending) => Step::Find {
                task_name: pending.task_name.clone(),
                group: self.group.clone(),
                from_ms: pending.window.from_ms(),
            },
            Phase::Intent(pending) => Step::Write {
                key: self.key(),
                checkpoint: self.with_pending(Some(pending.clone())),
                purpose: WritePurpose::Intent,
            },
            Phase::Start(pending) => Step::Start {
                group: self.group.clone(),
                window: pending.window,
                task_name: pending.task_name.clone(),
                prefix: self.prefix(&pending.window),
            },
            Phase::RecordId { pending, .. } => Step::Write {
                key: self.key(),
                checkpoint: self.with_pending(Some(pending.clone())),
                purpose: WritePurpose::TaskId,
            },
            Phase::List { pending, .. } => Step::List {
                prefix: format!("{}/", self.prefix(&pending.window)),
            },
            Phase::Advance(pending) => Step::Write {
                key: self.key(),
                checkpoint: self.advanced(pending),
                purpose: WritePurpose::Advance,
            },
            Phase::End(end) => Step::End(end.clone()),
        }
    }

    fn prefix(&self, window: &Window) -> String {
        destination_prefix(&self.settings.export_prefix, &self.group, window)
    }

    /// Takes what the call answered, records it, and moves on.
    pub fn on(&mut self, event: Event, journal: &mut Journal) {
        let phase = std::mem::replace(&mut self.phase, Phase::End(GroupEnd::Failed));
        self.phase = match (phase, event) {
            (Phase::Read, Event::Checkpoint(text)) => self.read(text, journal),
            (
                Phase::Check {
                    pending,
                    polls,
                    last,
                    earlier,
                },
                event,
            ) => self.checked(pending, polls, last, earlier, event, journal),
            (Phase::Find(pending), Event::Found(Some(found))) => {
                journal.act(
                    "logs:DescribeExportTasks",
                    found.task_id.clone(),
                    ActionStatus::Done,
                    format!(
                        "found the export task of {} started by an earlier attempt (its id was not recorded): followed, not started again",
                        self.target(&pending.window)
                    ),
                );
                let pending = PendingExport {
                    task_id: Some(found.task_id),
                    ..pending
                };
                if self.settings.dry_run {
                    self.checked(
                        pending,
                        0,
                        None,
                        true,
                        Event::Status(Some(found.status)),
                        journal,
                    )
                } else {
                    Phase::RecordId {
                        pending,
                        earlier: true,
                    }
                }
            }
            (Phase::Find(_), Event::Found(None)) => self.plan(journal),
            (Phase::Intent(pending), Event::Written) => Phase::Start(pending),
            (Phase::Intent(pending), Event::NoTime) => {
                self.windows.push_front(pending.window);
                self.stop_all("no time left in this invocation", journal)
            }
            (Phase::Start(pending), Event::Started(task_id)) => Phase::RecordId {
                pending: PendingExport {
                    task_id: Some(task_id),
                    ..pending
                },
                earlier: false,
            },
            (Phase::Start(pending), Event::LimitReached(message)) => {
                self.windows.push_front(pending.window);
                let why = format!(
                    "another export task is running in the account (LimitExceededException: {})",
                    phoenix_core::text::truncate_chars(&message, 200)
                );
                self.stop_all(&why, journal)
            }
            // the id could not be recorded (final, reported): the intent lets the next run find
            // the task by its name; this run follows it by the id it knows
            (Phase::RecordId { pending, earlier }, Event::Written | Event::Failed) => {
                Phase::Check {
                    pending,
                    polls: 0,
                    last: None,
                    earlier,
                }
            }
            (Phase::List { pending, earlier }, event @ (Event::Listed { .. } | Event::Failed)) => {
                let objects = match event {
                    Event::Listed {
                        objects,
                        bytes,
                        more,
                    } => format!(
                        "{objects}{} object(s), {bytes} bytes",
                        if more { "+" } else { "" }
                    ),
                    _ => "objects not listed".to_owned(),
                };
                let started = if earlier { " (started earlier)" } else { "" };
                let target = self.target(&pending.window);
                journal.act(
                    "logs:CreateExportTask",
                    target.clone(),
                    ActionStatus::Done,
                    format!(
                        "task {}{started} completed: {} → s3://{}/{}/ ({objects})",
                        pending.task_id.as_deref().unwrap_or("?"),
                        pending.window.range(),
                        self.settings.bucket,
                        self.prefix(&pending.window)
                    ),
                );
                journal.exported(target);
                Phase::Advance(pending)
            }
            (Phase::Advance(pending), Event::Written) => {
                let advanced = self.advanced(&pending);
                journal.act(
                    "s3:PutObject",
                    format!("s3://{}/{}", self.settings.bucket, self.key()),
                    ActionStatus::Done,
                    format!(
                        "checkpoint: exported until {}",
                        pending.window.to.to_rfc3339()
                    ),
                );
                self.checkpoint = Some(advanced);
                if self.plan.is_none() {
                    self.plan(journal)
                } else {
                    self.next(journal)
                }
            }
            (_, Event::Failed) => Phase::End(GroupEnd::Failed),
            (phase, event) => {
                journal.warn(format!(
                    "{}: export stopped on an unexpected answer {event:?} in {phase:?} (a defect)",
                    self.group
                ));
                Phase::End(GroupEnd::Failed)
            }
        };
    }

    fn read(&mut self, text: Option<String>, journal: &mut Journal) -> Phase {
        let Some(text) = text else {
            return self.plan(journal);
        };

        let checkpoint = match Checkpoint::parse(&text, &self.group) {
            Ok(checkpoint) => checkpoint,
            Err(problem) => {
                let failure = AwsFailure::new(
                    "s3:GetObject",
                    format!("s3://{}/{}", self.settings.bucket, self.key()),
                    FailureKind::Response,
                    None,
                    problem,
                    None,
                );
                journal.failed(
                    &failure,
                    Final::Fails(&format!("{} not exported", self.group)),
                );
                return Phase::End(GroupEnd::Failed);
            }
        };
        self.exported_until_before = checkpoint.exported_until;
        let pending = checkpoint.pending.clone();
        self.checkpoint = Some(checkpoint);
        if self.blocked.is_some() {
            return self.plan(journal);
        }
        match pending {
            Some(pending) if pending.task_id.is_some() => Phase::Check {
                pending,
                polls: 0,
                last: None,
                earlier: true,
            },
            Some(mut pending) => {
                if pending.task_name.is_empty() {
                    pending.task_name = task_name(&self.group, &pending.window);
                }
                Phase::Find(pending)
            }
            None => self.plan(journal),
        }
    }

    fn checked(
        &mut self,
        pending: PendingExport,
        polls: u32,
        last: Option<ExportStatus>,
        earlier: bool,
        event: Event,
        journal: &mut Journal,
    ) -> Phase {
        let task_id = pending.task_id.clone().unwrap_or_default();
        let target = self.target(&pending.window);
        match event {
            Event::Status(Some(task)) if task.status == ExportStatus::Completed => {
                if self.settings.dry_run {
                    journal.act(
                        "s3:PutObject",
                        format!("s3://{}/{}", self.settings.bucket, self.key()),
                        ActionStatus::DryRun,
                        format!(
                            "export task {task_id} of {target} completed: would move the checkpoint"
                        ),
                    );
                    journal.exported(target);
                    self.checkpoint = Some(self.advanced(&pending));
                    self.plan(journal)
                } else {
                    Phase::List { pending, earlier }
                }
            }
            Event::Status(Some(task)) if task.status.in_progress() && !self.settings.dry_run => {
                Phase::Check {
                    pending,
                    polls: polls.saturating_add(1),
                    last: Some(task.status),
                    earlier,
                }
            }
            Event::Status(Some(task)) if task.status.in_progress() => {
                let why = format!("export task {task_id} ({target}) is still {}", task.status);
                journal.left_for_next_run("logs:DescribeExportTasks", &task_id, &why);
                Phase::End(GroupEnd::StopAll(why))
            }
            Event::NoTime => {
                let status = last.map_or_else(|| "running".to_owned(), |s| s.to_string());
                let why = format!(
                    "export task {task_id} still {status} when the invocation's time ran out; the next run checks it"
                );
                journal.act(
                    "logs:CreateExportTask",
                    target.clone(),
                    ActionStatus::Done,
                    format!("started: {why}"),
                );
                journal
                    .summary
                    .exports_left
                    .push(format!("{target}: {why}"));
                self.stop_all(&why, journal)
            }
            Event::Status(ended) => {
                let how = match &ended {
                    Some(task) => format!("ended {}: {}", task.status, task.message),
                    None => "is not known to CloudWatch Logs".to_owned(),
                };
                if earlier {
                    journal.warn(format!(
                        "earlier export task {task_id} of {target} {how}; exporting its window again"
                    ));
                    self.plan(journal)
                } else {
                    let failure = AwsFailure::new(
                        "logs:CreateExportTask",
                        target.clone(),
                        FailureKind::Service,
                        ended.as_ref().map(|t| t.status.as_str()),
                        format!("export task {task_id} {how}"),
                        None,
                    );
                    journal.failed(&failure, Final::Fails(&format!("{target} not exported")));
                    Phase::End(GroupEnd::Failed)
                }
            }
            Event::Failed => Phase::End(GroupEnd::StopAll(format!(
                "export task {task_id} of {target} could not be followed"
            ))),
            other => {
                journal.warn(format!(
                    "{target}: unexpected answer {other:?} while following task {task_id} (a defect)"
                ));
                Phase::End(GroupEnd::Failed)
            }
        }
    }

    /// Plans the windows after the checkpoint and starts on the first.
    fn plan(&mut self, journal: &mut Journal) -> Phase {
        let plan = plan_windows(self.exported_until(), self.now, self.settings.lag);
        if let Some(skipped) = &plan.skipped {
            journal.warn(format!("{}: {skipped}", self.group));
        }
        if let Some(why) = plan
            .nothing_because
            .as_ref()
            .filter(|_| self.blocked.is_none())
        {
            journal.act(
                "logs:CreateExportTask",
                self.group.clone(),
                ActionStatus::Skipped,
                why.clone(),
            );
        }
        self.windows = plan.windows.iter().copied().collect();
        self.plan = Some(plan);
        match self.blocked.clone() {
            Some(why) => self.stop_all(&why, journal),
            None => self.next(journal),
        }
    }

    /// The next window: its intent (or, in a dry run, what would be exported).
    fn next(&mut self, journal: &mut Journal) -> Phase {
        while let Some(window) = self.windows.pop_front() {
            if !self.settings.dry_run {
                return Phase::Intent(PendingExport {
                    window,
                    task_name: task_name(&self.group, &window),
                    task_id: None,
                });
            }
            let target = self.target(&window);
            journal.act(
                "logs:CreateExportTask",
                target.clone(),
                ActionStatus::DryRun,
                format!(
                    "would export {} to s3://{}/{}/",
                    window.range(),
                    self.settings.bucket,
                    self.prefix(&window)
                ),
            );
            journal.exported(target);
        }
        Phase::End(GroupEnd::Done)
    }

    /// Leaves every window still to do for the next run, and stops all further exports.
    fn stop_all(&mut self, why: &str, journal: &mut Journal) -> Phase {
        for window in std::mem::take(&mut self.windows) {
            journal.left_for_next_run("logs:CreateExportTask", &self.target(&window), why);
        }
        Phase::End(GroupEnd::StopAll(why.to_owned()))
    }
}
