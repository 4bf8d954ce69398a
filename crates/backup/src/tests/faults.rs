//! Faults the emulator cannot produce, injected with aws-smithy-mocks: every AWS call the
//! function makes, throttled, answering HTTP 500, and answering its modelled final error; what
//! a clean run calls; a dry run calls nothing that changes anything.

use phoenix_core::{ActionStatus, Outcome};

use super::mocks::{CLUSTER, Call, FakeTable, Fault, Scenario, handle, mocked, scheduled};
use crate::progress::lease_key;

fn failed_calls(outcome: &Outcome) -> Vec<&str> {
    outcome
        .actions
        .iter()
        .filter(|a| a.status == ActionStatus::Failed)
        .map(|a| a.call.as_str())
        .collect()
}

/// What a final error of each call leads to: the decision, and a text the Outcome must carry.
fn after_final_error(call: Call) -> (&'static str, &'static str) {
    match call {
        Call::DescribeSnapshots => ("backup-failed", "rotation skipped (snapshots not listed)"),
        Call::ListTags => ("backup-done", "tags unreadable, snapshot kept"),
        Call::CreateSnapshot => ("backup-failed", "snapshot not created"),
        Call::DeleteSnapshot => ("backup-failed", "rotation stopped"),
        Call::CreateExportTask => ("backup-failed", "/ecs/phoenix 2026-11-20 not exported"),
        Call::DescribeExportTasks => ("backup-failed", "not followed"),
        Call::GetLifecycle => ("backup-done", "cannot check the bucket's lifecycle rule"),
        Call::GetObject => ("backup-failed", "ecs-phoenix.json not exported"),
        Call::PutObject => ("backup-failed", "its intent could not be recorded"),
        Call::ListObjects => ("backup-done", "exported objects not listed"),
        Call::PutItem => ("backup-failed", "the run lease could not be taken"),
        Call::GetItem => ("backup-failed", "ledger entry could not be read"),
        Call::UpdateItem => ("backup-done", "progress was not recorded"),
        Call::DeleteItem => ("backup-done", ""),
        Call::Publish => ("backup-done", ""),
    }
}

/// Every call × {throttling, HTTP 500, modelled final error}: a retryable fault fails the
/// invocation (so Lambda retries it) naming the call, except where a retry would repeat what
/// people already saw (the lease release, once the Notice is out); a final one is reported and
/// the run goes on as its rule says. The lease is never left held, whatever failed.
#[tokio::test]
async fn every_call_throttled_failing_with_500_and_with_its_final_error() {
    let mut table = Vec::new();
    for call in Call::ALL {
        for fault in [Fault::Throttling, Fault::ServerError, Fault::Final] {
            let ledger = FakeTable::default();
            let m = mocked(
                Scenario {
                    fault: Some((call, fault)),
                    ..Scenario::default()
                },
                &ledger,
            );
            let result = handle(&m, scheduled()).await;
            let case = format!("{call:?} {fault:?}");
            let retried = result.is_err();
            match (fault, result) {
                (Fault::Throttling | Fault::ServerError, Err(error)) => {
                    assert!(error.0.starts_with(call.label()), "{case}: {error}");
                    assert!(error.0.ends_with("retryable)"), "{case}: {error}");
                }
                (Fault::Throttling | Fault::ServerError, Ok(outcome)) => {
                    // only the release may fail without a retry: the run is over
                    assert_eq!(call, Call::DeleteItem, "{case}: {outcome:#?}");
                    assert_eq!(outcome.decision.as_deref(), Some("backup-done"));
                }
                (Fault::Final, Err(error)) => {
                    panic!("{case}: a final error is not retried: {error}")
                }
                (Fault::Final, Ok(outcome)) => {
                    let (decision, says) = after_final_error(call);
                    assert_eq!(
                        outcome.decision.as_deref(),
                        Some(decision),
                        "{case}: {outcome:#?}"
                    );
                    let text = outcome.to_json().to_string();
                    assert!(text.contains(says), "{case}: {says:?} not in {text}");
                    if call != Call::DeleteItem {
                        assert!(
                            failed_calls(&outcome).contains(&call.label()),
                            "{case}: {:?}",
                            failed_calls(&outcome)
                        );
                    }
                    if matches!(call, Call::PutItem | Call::GetItem) {
                        assert_eq!(
                            m.calls(Call::CreateSnapshot),
                            0,
                            "{case}: nothing done without the lease and the record"
                        );
                    }
                    let succeeded = outcome.metrics.iter().any(|x| x.name == "BackupSucceeded");
                    assert_eq!(
                        succeeded,
                        !matches!(call, Call::CreateSnapshot | Call::PutItem | Call::GetItem),
                        "{case}: the heartbeat counts only a snapshot that exists"
                    );
                }
            }
            if call != Call::DeleteItem {
                assert_eq!(
                    ledger.entry(&lease_key(CLUSTER)),
                    None,
                    "{case}: the lease is released"
                );
            }
            table.push(format!(
                "{:<32} {:<12} {}",
                call.label(),
                format!("{fault:?}"),
                if retried {
                    "retried by Lambda"
                } else {
                    "reported, run goes on"
                }
            ));
        }
    }
    println!("{} fault cases:\n{}", table.len(), table.join("\n"));
    assert_eq!(table.len(), 45);
}

/// A clean scheduled run makes exactly these calls, in this order of kinds.
#[tokio::test]
async fn a_clean_run_makes_the_calls_it_should_and_emits_the_two_heartbeats() {
    let ledger = FakeTable::default();
    let m = mocked(Scenario::default(), &ledger);
    let outcome = handle(&m, scheduled()).await.expect("handled");
    assert_eq!(
        outcome.decision.as_deref(),
        Some("backup-done"),
        "{outcome:#?}"
    );
    let counts: Vec<(Call, usize)> = Call::ALL.iter().map(|c| (*c, m.calls(*c))).collect();
    assert_eq!(
        counts,
        [
            (Call::DescribeSnapshots, 2),
            (Call::ListTags, 5),
            (Call::CreateSnapshot, 1),
            (Call::DeleteSnapshot, 4),
            (Call::CreateExportTask, 2),
            (Call::DescribeExportTasks, 2),
            (Call::GetLifecycle, 1),
            (Call::GetObject, 2),
            (Call::PutObject, 6),
            (Call::ListObjects, 2),
            (Call::PutItem, 2),
            (Call::GetItem, 1),
            (Call::UpdateItem, 2),
            (Call::DeleteItem, 1),
            (Call::Publish, 1),
        ]
    );
    let metrics: Vec<_> = outcome
        .metrics
        .iter()
        .map(|x| (x.name.as_str(), x.value))
        .collect();
    // checkpoints end at 2026-11-21 00:00, now is 03:00:05
    assert_eq!(
        metrics,
        [("BackupSucceeded", 1.0), ("LogExportLagHours", 3.0)]
    );
    let record = ledger
        .entry("backup/phoenix-docdb/run/slot-2026-11-21")
        .expect("the run's record");
    assert!(record.2.contains(r#""stage":"notified""#), "{record:?}");
    assert_eq!(
        ledger.keys(),
        ["backup/phoenix-docdb/run/slot-2026-11-21"],
        "lease released"
    );
}

#[tokio::test]
async fn a_dry_run_makes_no_mutating_call_and_never_touches_the_ledger() {
    let ledger = FakeTable::default();
    let m = mocked(
        Scenario {
            env: vec![("DRY_RUN", "true")],
            ..Scenario::default()
        },
        &ledger,
    );
    let outcome = handle(&m, scheduled()).await.expect("handled");
    for call in [
        Call::CreateSnapshot,
        Call::DeleteSnapshot,
        Call::CreateExportTask,
        Call::PutObject,
        Call::Publish,
        Call::PutItem,
        Call::GetItem,
        Call::UpdateItem,
        Call::DeleteItem,
    ] {
        assert_eq!(m.calls(call), 0, "{call:?}");
    }
    let dry: Vec<_> = outcome
        .actions
        .iter()
        .filter(|a| a.status == ActionStatus::DryRun)
        .map(|a| a.call.as_str())
        .collect();
    assert_eq!(
        dry,
        [
            "rds:CreateDBClusterSnapshot",
            "rds:DeleteDBClusterSnapshot",
            "rds:DeleteDBClusterSnapshot",
            "rds:DeleteDBClusterSnapshot",
            "rds:DeleteDBClusterSnapshot",
            "logs:CreateExportTask",
            "logs:CreateExportTask"
        ]
    );
    assert!(
        outcome.metrics.is_empty(),
        "a dry run backs nothing up: no heartbeat"
    );
}
