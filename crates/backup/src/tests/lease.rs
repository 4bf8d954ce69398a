//! One run at a time, without reserved concurrency: the run lease in the ledger; and a run
//! retried or delivered again resumes or does nothing, never repeats (the run's record).

use chrono::Duration;
use phoenix_core::{Function, Invocation, Outcome, Severity};
use serde_json::{Value, json};

use super::mocks::{CLUSTER, Call, FakeTable, Fault, Mocked, Scenario, mocked, now, scheduled};
use crate::progress::{lease_key, record_key};

async fn run(m: &Mocked, payload: Value, request_id: &str) -> Outcome {
    m.backup
        .handle(Invocation::new(payload, now()).request_id(request_id))
        .await
        .expect("handled")
}

/// Calls that would mean the run did something.
fn work_calls(m: &Mocked) -> usize {
    [
        Call::DescribeSnapshots,
        Call::CreateSnapshot,
        Call::DeleteSnapshot,
        Call::CreateExportTask,
        Call::GetObject,
        Call::PutObject,
        Call::GetLifecycle,
    ]
    .iter()
    .map(|c| m.calls(*c))
    .sum()
}

#[tokio::test]
async fn a_scheduled_run_while_a_manual_one_holds_the_lease_does_nothing_and_says_so() {
    let ledger = FakeTable::default();
    let until = now() + Duration::minutes(5);
    ledger.put(&lease_key(CLUSTER), "held", "req-9 manual-req-9", until, "");
    let m = mocked(Scenario::default(), &ledger);
    let outcome = run(&m, scheduled(), "req-1").await;
    assert_eq!(
        outcome.decision.as_deref(),
        Some("another-run-in-progress"),
        "{outcome:#?}"
    );
    // (the ledger reports the holder's lease end as at most one lease of ours after it took it)
    let reason = outcome.reason.as_deref().unwrap_or_default();
    assert!(
        reason.starts_with("another run is in progress (run manual-req-9, request req-9, lease until 2026-11-21T03:0")
            && reason.ends_with("): nothing done, so the two never race the checkpoints"),
        "{reason}"
    );
    assert_eq!(work_calls(&m), 0, "nothing observed, nothing changed");
    let notices = m.published();
    assert_eq!(
        notices.len(),
        1,
        "a skipped scheduled backup is told to people"
    );
    assert_eq!(notices[0].severity, Severity::Warning);
    assert_eq!(
        notices[0].title,
        "Scheduled backup of phoenix-docdb for 2026-11-21 skipped: another run is in progress"
    );
    assert_eq!(
        ledger.entry(&lease_key(CLUSTER)).map(|e| e.1),
        Some("req-9 manual-req-9".to_owned()),
        "the holder's lease is untouched"
    );
    assert!(outcome.metrics.is_empty());
}

#[tokio::test]
async fn a_manual_invoke_or_a_duplicate_delivery_while_held_does_nothing_without_a_notice() {
    for (holder, payload, same) in [
        (
            "req-9 slot-2026-11-21",
            json!({"reason": "now please"}),
            false,
        ),
        ("req-9 slot-2026-11-21", scheduled(), true),
    ] {
        let ledger = FakeTable::default();
        ledger.put(
            &lease_key(CLUSTER),
            "held",
            holder,
            now() + Duration::minutes(5),
            "",
        );
        let m = mocked(Scenario::default(), &ledger);
        let outcome = run(&m, payload, "req-1").await;
        assert_eq!(outcome.decision.as_deref(), Some("another-run-in-progress"));
        assert_eq!(work_calls(&m), 0);
        assert!(
            m.published().is_empty(),
            "the caller reads the Outcome; a duplicate says nothing"
        );
        assert_eq!(
            outcome
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("another delivery of this same run")),
            same
        );
    }
}

#[tokio::test]
async fn a_lease_left_by_a_dead_run_or_by_this_runs_own_earlier_attempt_is_taken() {
    for (owner, until) in [
        ("req-9 manual-req-9", now() - Duration::seconds(1)),
        ("req-1 slot-2026-11-21", now() + Duration::minutes(5)),
    ] {
        let ledger = FakeTable::default();
        ledger.put(&lease_key(CLUSTER), "held", owner, until, "");
        let m = mocked(Scenario::default(), &ledger);
        let outcome = run(&m, scheduled(), "req-1").await;
        assert_eq!(
            outcome.decision.as_deref(),
            Some("backup-done"),
            "{owner}: {outcome:#?}"
        );
        assert_eq!(
            ledger.entry(&lease_key(CLUSTER)),
            None,
            "released at the end"
        );
    }
}

#[tokio::test]
async fn the_lease_outlasts_what_the_invocation_can_run() {
    let ledger = FakeTable::default();
    // the release fails: the lease stays, as after a crash, until it runs out
    let m = mocked(
        Scenario {
            fault: Some((Call::DeleteItem, Fault::Final)),
            ..Scenario::default()
        },
        &ledger,
    );
    let invocation = Invocation::new(scheduled(), now())
        .request_id("req-1")
        .time_left(std::time::Duration::from_secs(298));
    m.backup.handle(invocation).await.expect("handled");
    assert_eq!(
        ledger.lease_until(&lease_key(CLUSTER)),
        Some((now() + Duration::seconds(298 + 60)).timestamp()),
        "time left + 60 s: longer than the 300 s timeout leaves this invocation"
    );
}

#[tokio::test]
async fn a_run_already_reported_does_nothing_again() {
    let ledger = FakeTable::default();
    let first = mocked(Scenario::default(), &ledger);
    run(&first, scheduled(), "req-1").await;
    assert_eq!(first.published().len(), 1);
    // EventBridge delivers the same event again, to another container, an hour later
    let again = mocked(Scenario::default(), &ledger);
    let outcome = run(&again, scheduled(), "req-2").await;
    assert_eq!(
        outcome.decision.as_deref(),
        Some("already-done"),
        "{outcome:#?}"
    );
    assert!(
        outcome.reason.as_deref().is_some_and(|r| r.contains("snapshot phoenix-ops-phoenix-docdb-2026-11-21 created; 4 old snapshot(s) deleted; 2 log export(s) exported")),
        "{:?}",
        outcome.reason
    );
    assert_eq!(work_calls(&again), 0);
    assert!(again.published().is_empty(), "no second Notice");
    assert_eq!(ledger.entry(&lease_key(CLUSTER)), None);
}

#[tokio::test]
async fn a_500_on_the_final_notice_is_retried_and_the_retry_tells_what_the_whole_run_did() {
    let ledger = FakeTable::default();
    let first = mocked(
        Scenario {
            fault: Some((Call::Publish, Fault::ServerError)),
            ..Scenario::default()
        },
        &ledger,
    );
    let error = first
        .backup
        .handle(Invocation::new(scheduled(), now()).request_id("req-1"))
        .await
        .expect_err("retryable");
    assert!(error.0.starts_with("sns:Publish"), "{error}");
    let record = ledger
        .entry(&record_key(CLUSTER, "slot-2026-11-21"))
        .expect("recorded");
    assert!(record.2.contains(r#""stage":"finished""#), "{record:?}");

    // Lambda's retry: the bucket holds what the first attempt wrote
    let mut objects = std::collections::BTreeMap::new();
    for (key, body) in first.puts() {
        objects.insert(key, body);
    }
    let retry = mocked(
        Scenario {
            objects: objects.into_iter().collect(),
            ..Scenario::default()
        },
        &ledger,
    );
    let outcome = run(&retry, scheduled(), "req-1").await;
    assert_eq!(outcome.decision.as_deref(), Some("backup-done"));
    assert_eq!(
        first.exports().len() + retry.exports().len(),
        2,
        "one export per group over both attempts"
    );
    let notice = retry.published().pop().expect("the Notice, at last");
    assert_eq!(
        notice.title,
        "Backup of phoenix-docdb done: snapshot phoenix-ops-phoenix-docdb-2026-11-21 created; 4 old snapshot(s) deleted; 2 log export(s) exported",
        "not \"already existed\": what the whole run did"
    );
    assert!(notice.summary.contains("Resumed after a retryable failure"));
}

#[tokio::test]
async fn a_retried_manual_run_reuses_its_recorded_snapshot_identifier() {
    let ledger = FakeTable::default();
    // CreateDBClusterSnapshot answered 500 (the snapshot may exist): the run is retried
    let first = mocked(
        Scenario {
            fault: Some((Call::CreateSnapshot, Fault::ServerError)),
            env: vec![("LOG_GROUPS", "")],
            ..Scenario::default()
        },
        &ledger,
    );
    let payload = json!({"database": true, "logs": false});
    first
        .backup
        .handle(Invocation::new(payload.clone(), now()).request_id("7f3c9a10-aaaa"))
        .await
        .expect_err("retryable");
    // Lambda retries the asynchronous invocation a minute later, under the same request id
    let retry = mocked(
        Scenario {
            env: vec![("LOG_GROUPS", "")],
            ..Scenario::default()
        },
        &ledger,
    );
    let outcome = retry
        .backup
        .handle(Invocation::new(payload, now() + Duration::minutes(1)).request_id("7f3c9a10-aaaa"))
        .await
        .expect("handled");
    let created: Vec<_> = outcome
        .actions
        .iter()
        .filter(|a| a.call == "rds:CreateDBClusterSnapshot")
        .map(|a| a.target.as_str())
        .collect();
    assert_eq!(
        created,
        ["phoenix-ops-phoenix-docdb-manual-20261121-030005-7f3c9a10"],
        "the first attempt's identifier (03:00:05), not a new one at 03:01:05"
    );
}

#[tokio::test]
async fn a_late_delivery_of_a_reported_run_while_another_holds_the_lease_is_already_done_not_skipped()
 {
    let ledger = FakeTable::default();
    let first = mocked(Scenario::default(), &ledger);
    run(&first, scheduled(), "req-1").await;
    ledger.put(
        &lease_key(CLUSTER),
        "held",
        "req-9 manual-req-9",
        now() + Duration::minutes(5),
        "",
    );
    let late = mocked(Scenario::default(), &ledger);
    let outcome = run(&late, scheduled(), "req-2").await;
    assert_eq!(
        outcome.decision.as_deref(),
        Some("already-done"),
        "{outcome:#?}"
    );
    assert!(late.published().is_empty(), "no false \"skipped\" warning");
    assert_eq!(work_calls(&late), 0);
}
