//! The export state machine alone, table by table: a script of answers in, the calls it asks
//! for and how it ends out. No AWS, no clock, no runtime.

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::exports::{
    Event, ExportSettings, FoundTask, GroupEnd, GroupExport, Step, TaskStatus, WritePurpose,
};
use crate::journal::Journal;
use crate::windows::ExportStatus;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 3, 0, 5)
        .single()
        .expect("valid")
}

fn settings(dry_run: bool) -> ExportSettings {
    ExportSettings {
        bucket: "b".into(),
        export_prefix: "logs".into(),
        lag: Duration::zero(),
        dry_run,
    }
}

fn kind(step: &Step) -> String {
    match step {
        Step::ReadCheckpoint { .. } => "read".into(),
        Step::Check { pause: None, .. } => "check".into(),
        Step::Check { pause: Some(p), .. } => format!("check after {}ms", p.as_millis()),
        Step::Find { task_name, .. } => format!("find {task_name}"),
        Step::Write { purpose, .. } => format!("write {purpose:?}"),
        Step::Start { window, .. } => format!("start {}", window.date()),
        Step::List { .. } => "list".into(),
        Step::End(GroupEnd::Done) => "end".into(),
        Step::End(GroupEnd::Failed) => "end failed".into(),
        Step::End(GroupEnd::StopAll(_)) => "end stop-all".into(),
    }
}

fn status(status: ExportStatus) -> Event {
    Event::Status(Some(TaskStatus {
        status,
        message: String::new(),
    }))
}

fn listed() -> Event {
    Event::Listed {
        objects: 1,
        bytes: 10,
        more: false,
    }
}

/// Feeds `script` to a fresh machine; returns the steps it asked for and the journal.
fn drive(dry_run: bool, blocked: Option<&str>, script: Vec<Event>) -> (Vec<String>, Journal) {
    let mut machine = GroupExport::new("/ecs/phoenix", settings(dry_run), now())
        .blocked(blocked.map(str::to_owned));
    let mut journal = Journal::default();
    let mut steps = Vec::new();
    let mut script = script.into_iter();
    loop {
        let step = machine.next_step();
        steps.push(kind(&step));
        if let Step::End(_) = step {
            assert!(script.next().is_none(), "answers left over: {steps:?}");
            return (steps, journal);
        }
        let event = script
            .next()
            .unwrap_or_else(|| panic!("no answer for {steps:?}"));
        machine.on(event, &mut journal);
    }
}

fn checkpoint(pending: &str) -> Event {
    Event::Checkpoint(Some(format!(
        r#"{{"log_group":"/ecs/phoenix","exported_until":"2026-11-19T00:00:00Z",{pending}"updated_at":"2026-11-20T03:04:00Z"}}"#
    )))
}

const PENDING_ID: &str = r#""pending":{"task_name":"phoenix-ops-ecs-phoenix-2026-11-19","task_id":"t-0","window":{"from":"2026-11-19T00:00:00Z","to":"2026-11-20T00:00:00Z"}},"#;
const PENDING_INTENT: &str = r#""pending":{"task_name":"phoenix-ops-ecs-phoenix-2026-11-19","window":{"from":"2026-11-19T00:00:00Z","to":"2026-11-20T00:00:00Z"}},"#;

#[test]
fn the_export_steps_table() {
    use Event::*;
    use ExportStatus::{Completed, Running};
    let found = |status| {
        Found(Some(FoundTask {
            task_id: "t-lost".into(),
            status: TaskStatus {
                status,
                message: String::new(),
            },
        }))
    };
    type Case = (
        &'static str,
        bool,
        Option<&'static str>,
        Vec<Event>,
        Vec<&'static str>,
    );
    let cases: Vec<Case> = vec![
        (
            "first run: intent, start, task id, follow, list, move",
            false,
            None,
            vec![
                Checkpoint(None),
                Written,
                Started("t-1".into()),
                Written,
                status(Running),
                status(Completed),
                listed(),
                Written,
            ],
            vec![
                "read",
                "write Intent",
                "start 2026-11-20",
                "write TaskId",
                "check",
                "check after 250ms",
                "list",
                "write Advance",
                "end",
            ],
        ),
        (
            "another export runs in the account: stop every group",
            false,
            None,
            vec![Checkpoint(None), Written, LimitReached("busy".into())],
            vec!["read", "write Intent", "start 2026-11-20", "end stop-all"],
        ),
        (
            "an earlier task completed: moved, then the next day",
            false,
            None,
            vec![
                checkpoint(PENDING_ID),
                status(Completed),
                listed(),
                Written,
                Written,
                Started("t-1".into()),
                Written,
                status(Completed),
                listed(),
                Written,
            ],
            vec![
                "read",
                "check",
                "list",
                "write Advance",
                "write Intent",
                "start 2026-11-20",
                "write TaskId",
                "check",
                "list",
                "write Advance",
                "end",
            ],
        ),
        (
            "an earlier task failed: its window again",
            false,
            None,
            vec![
                checkpoint(PENDING_ID),
                status(ExportStatus::Failed),
                Written,
                Started("t-1".into()),
                Written,
                status(Completed),
                listed(),
                Written,
                Written,
                Started("t-2".into()),
                Written,
                status(Completed),
                listed(),
                Written,
            ],
            vec![
                "read",
                "check",
                "write Intent",
                "start 2026-11-19",
                "write TaskId",
                "check",
                "list",
                "write Advance",
                "write Intent",
                "start 2026-11-20",
                "write TaskId",
                "check",
                "list",
                "write Advance",
                "end",
            ],
        ),
        (
            "an intent whose task exists: found, recorded, followed, never started again",
            false,
            None,
            vec![
                checkpoint(PENDING_INTENT),
                found(Running),
                Written,
                status(Completed),
                listed(),
                Written,
                Written,
                LimitReached("busy".into()),
            ],
            vec![
                "read",
                "find phoenix-ops-ecs-phoenix-2026-11-19",
                "write TaskId",
                "check",
                "list",
                "write Advance",
                "write Intent",
                "start 2026-11-20",
                "end stop-all",
            ],
        ),
        (
            "an intent whose task never started: exported",
            false,
            None,
            vec![
                checkpoint(PENDING_INTENT),
                Found(None),
                Written,
                LimitReached("busy".into()),
            ],
            vec![
                "read",
                "find phoenix-ops-ecs-phoenix-2026-11-19",
                "write Intent",
                "start 2026-11-19",
                "end stop-all",
            ],
        ),
        (
            "out of time while the task runs: recorded already, stop",
            false,
            None,
            vec![
                Checkpoint(None),
                Written,
                Started("t-1".into()),
                Written,
                status(Running),
                NoTime,
            ],
            vec![
                "read",
                "write Intent",
                "start 2026-11-20",
                "write TaskId",
                "check",
                "check after 250ms",
                "end stop-all",
            ],
        ),
        (
            "out of time before starting: nothing written",
            false,
            None,
            vec![Checkpoint(None), NoTime],
            vec!["read", "write Intent", "end stop-all"],
        ),
        (
            "the intent cannot be written: nothing started",
            false,
            None,
            vec![Checkpoint(None), Event::Failed],
            vec!["read", "write Intent", "end failed"],
        ),
        (
            "the task id cannot be written: still followed",
            false,
            None,
            vec![
                Checkpoint(None),
                Written,
                Started("t-1".into()),
                Event::Failed,
                status(Completed),
                listed(),
                Written,
            ],
            vec![
                "read",
                "write Intent",
                "start 2026-11-20",
                "write TaskId",
                "check",
                "list",
                "write Advance",
                "end",
            ],
        ),
        (
            "a blocked group reads its checkpoint, leaves its windows",
            false,
            Some("another export task is running"),
            vec![checkpoint(PENDING_ID)],
            vec!["read", "end stop-all"],
        ),
        (
            "a bad checkpoint: failed, nothing exported",
            false,
            None,
            vec![Checkpoint(Some("{".into()))],
            vec!["read", "end failed"],
        ),
        (
            "dry run: reads only",
            true,
            None,
            vec![checkpoint(PENDING_ID), status(Completed)],
            vec!["read", "check", "end"],
        ),
        (
            "dry run with a task still running: stop, nothing waited for",
            true,
            None,
            vec![checkpoint(PENDING_ID), status(Running)],
            vec!["read", "check", "end stop-all"],
        ),
    ];
    for (name, dry_run, blocked, script, want) in cases {
        let (steps, _) = drive(dry_run, blocked, script);
        assert_eq!(steps, want, "{name}");
    }
}

#[test]
fn what_each_ending_tells() {
    use Event::*;
    let (_, journal) = drive(
        false,
        None,
        vec![
            Checkpoint(None),
            Written,
            LimitReached("Resource limit exceeded.".into()),
        ],
    );
    assert_eq!(
        journal.summary.exports_left,
        [
            "/ecs/phoenix 2026-11-20: another export task is running in the account (LimitExceededException: Resource limit exceeded.)"
        ]
    );
    assert!(journal.summary.failures.is_empty());

    let (_, journal) = drive(false, Some("busy"), vec![checkpoint(PENDING_ID)]);
    assert_eq!(
        journal.summary.exports_left,
        [
            "/ecs/phoenix 2026-11-19: busy",
            "/ecs/phoenix 2026-11-20: busy"
        ]
    );

    let (_, journal) = drive(false, None, vec![Checkpoint(Some("{".into()))]);
    assert!(journal.summary.failures[0].starts_with("/ecs/phoenix not exported: s3:GetObject on s3://b/checkpoints/log-exports/ecs-phoenix.json failed: the checkpoint is not valid JSON"), "{:?}", journal.summary.failures);

    let (_, journal) = drive(
        true,
        None,
        vec![
            checkpoint(PENDING_ID),
            Event::Status(Some(TaskStatus {
                status: ExportStatus::Completed,
                message: String::new(),
            })),
        ],
    );
    assert_eq!(
        journal.summary.exports_completed,
        ["/ecs/phoenix 2026-11-19", "/ecs/phoenix 2026-11-20"]
    );
    assert!(
        journal
            .actions
            .iter()
            .all(|a| a.status != phoenix_core::ActionStatus::Done)
    );
}

#[test]
fn the_written_checkpoints_record_before_and_after() {
    let mut machine = GroupExport::new("/ecs/phoenix", settings(false), now());
    let mut journal = Journal::default();
    machine.on(Event::Checkpoint(None), &mut journal);
    let Step::Write {
        checkpoint,
        purpose: WritePurpose::Intent,
        ..
    } = machine.next_step()
    else {
        panic!("an intent first");
    };
    let pending = checkpoint.pending.expect("pending");
    assert_eq!(pending.task_name, "phoenix-ops-ecs-phoenix-2026-11-20");
    assert_eq!(pending.task_id, None);
    assert_eq!(checkpoint.exported_until, None);
    machine.on(Event::Written, &mut journal);
    machine.on(Event::Started("t-1".into()), &mut journal);
    let Step::Write {
        checkpoint,
        purpose: WritePurpose::TaskId,
        ..
    } = machine.next_step()
    else {
        panic!("the task id next");
    };
    assert_eq!(
        checkpoint.pending.and_then(|p| p.task_id).as_deref(),
        Some("t-1")
    );
    machine.on(Event::Written, &mut journal);
    machine.on(status(ExportStatus::Completed), &mut journal);
    machine.on(listed(), &mut journal);
    let Step::Write {
        checkpoint,
        purpose: WritePurpose::Advance,
        ..
    } = machine.next_step()
    else {
        panic!("moved last");
    };
    assert_eq!(checkpoint.pending, None);
    assert_eq!(checkpoint.last_task_id.as_deref(), Some("t-1"));
    assert_eq!(
        checkpoint.exported_until,
        Some(now() - Duration::seconds(3 * 3600 + 5))
    );
    machine.on(Event::Written, &mut journal);
    assert_eq!(machine.exported_until(), checkpoint.exported_until);
}
