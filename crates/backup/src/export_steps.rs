// pure: the words the export state machine and its loop speak; no I/O
//! What [`crate::exports::GroupExport`] asks its loop to do ([`Step`]) and what the loop hands
//! back ([`Event`]), with the few facts they carry.

use std::time::Duration as StdDuration;

use chrono::Duration;

use crate::windows::{Checkpoint, ExportStatus, Window};

/// First pause between two looks at a running task; it doubles up to [`POLL_MAX`].
pub const POLL_FIRST: StdDuration = StdDuration::from_millis(250);
pub const POLL_MAX: StdDuration = StdDuration::from_secs(5);

/// What the group's export needs to know besides its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSettings {
    pub bucket: String,
    pub export_prefix: String,
    pub lag: Duration,
    pub dry_run: bool,
}

/// An export task as DescribeExportTasks reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskStatus {
    pub status: ExportStatus,
    pub message: String,
}

/// A task found by its name (its id was never recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundTask {
    pub task_id: String,
    pub status: TaskStatus,
}

/// Why a checkpoint is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WritePurpose {
    /// Before CreateExportTask: the window and the task name.
    Intent,
    /// Right after CreateExportTask: the task id.
    TaskId,
    /// After the export COMPLETED: the checkpoint moves past the window.
    Advance,
}

/// The next call to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// S3 GetObject of the checkpoint.
    ReadCheckpoint { key: String },
    /// DescribeExportTasks of one task, after `pause` (bounded by the time left).
    Check {
        task_id: String,
        pause: Option<StdDuration>,
    },
    /// DescribeExportTasks, looking for the task named `task_name` of `group` from `from_ms`.
    Find {
        task_name: String,
        group: String,
        from_ms: i64,
    },
    /// S3 PutObject of the checkpoint.
    Write {
        key: String,
        checkpoint: Checkpoint,
        purpose: WritePurpose,
    },
    /// CreateExportTask.
    Start {
        group: String,
        window: Window,
        task_name: String,
        prefix: String,
    },
    /// ListObjectsV2 under what the export wrote.
    List { prefix: String },
    /// Nothing more for this group.
    End(GroupEnd),
}

impl Step {
    /// Steps that need time left in the invocation: starting an export (its intent first) and
    /// waiting for a running task. The loop answers [`Event::NoTime`] instead when there is none.
    pub fn needs_time(&self) -> bool {
        matches!(
            self,
            Step::Write {
                purpose: WritePurpose::Intent,
                ..
            } | Step::Check { pause: Some(_), .. }
        )
    }
}

/// What the call answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The checkpoint's text (`None`: none yet).
    Checkpoint(Option<String>),
    /// The task's status (`None`: no such task).
    Status(Option<TaskStatus>),
    Found(Option<FoundTask>),
    Written,
    Started(String),
    /// CreateExportTask: another export is running in the account.
    LimitReached(String),
    Listed {
        objects: usize,
        bytes: i64,
        more: bool,
    },
    /// No time left for this step.
    NoTime,
    /// The call failed finally (already recorded by the triage).
    Failed,
}

/// How the group ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupEnd {
    Done,
    /// This group failed (recorded); the next groups go on.
    Failed,
    /// Stop every further export (one export at a time per account): why.
    StopAll(String),
}
