//! The rotation inside whole runs, with mocked DocumentDB: oldest first, only our prefix, a
//! final failure stops it (what is kept is told), a throttled delete is retried and the retry
//! tells the whole run; and the measured cost over 250 snapshots in three pages.

use std::time::Instant;

use aws_sdk_docdb::operation::delete_db_cluster_snapshot::DeleteDBClusterSnapshotError;
use aws_sdk_docdb::operation::describe_db_cluster_snapshots::DescribeDbClusterSnapshotsOutput;
use aws_smithy_mocks::{Rule, mock};
use chrono::Duration;
use phoenix_core::{ActionStatus, Outcome, Severity};

use super::mocks::{
    CLUSTER, Call, FakeTable, Scenario, handle, meta, mocked, now, scheduled, snapshot,
};

/// Deletes go oldest first; the one named `failing` fails with `code`.
fn delete_failing_on(failing: &'static str, code: &'static str) -> Rule {
    mock!(aws_sdk_docdb::Client::delete_db_cluster_snapshot)
        .match_requests(move |r| r.db_cluster_snapshot_identifier() == Some(failing))
        .then_error(move || DeleteDBClusterSnapshotError::generic(meta(code, "injected")))
}

fn deleted_ids(outcome: &Outcome) -> Vec<&str> {
    outcome
        .actions
        .iter()
        .filter(|a| a.call == "rds:DeleteDBClusterSnapshot" && a.status == ActionStatus::Done)
        .map(|a| a.target.as_str())
        .collect()
}

#[tokio::test]
async fn a_final_failure_in_the_middle_of_rotation_injected_stops_deleting_and_reports_what_was_kept()
 {
    let ledger = FakeTable::default();
    let m = mocked(
        Scenario {
            env: vec![("LOG_GROUPS", "")],
            before: vec![(
                Call::DeleteSnapshot,
                delete_failing_on(
                    "phoenix-ops-phoenix-docdb-day-09",
                    "InvalidDBClusterSnapshotStateFault",
                ),
            )],
            ..Scenario::default()
        },
        &ledger,
    );
    let outcome = handle(&m, scheduled())
        .await
        .expect("a final failure is reported");
    assert_eq!(m.calls(Call::DescribeSnapshots), 2, "both pages read");
    assert_eq!(deleted_ids(&outcome), ["phoenix-ops-phoenix-docdb-day-10"]);
    assert_eq!(
        m.calls(Call::DeleteSnapshot),
        2,
        "nothing after the failure"
    );
    assert_eq!(outcome.decision.as_deref(), Some("backup-failed"));
    let notice = outcome.notice.expect("reported");
    assert_eq!(notice.severity, Severity::Error);
    assert!(
        notice.title.starts_with("Backup of phoenix-docdb failed: rotation stopped: rds:DeleteDBClusterSnapshot on phoenix-ops-phoenix-docdb-day-09 failed: InvalidDBClusterSnapshotStateFault"),
        "{}",
        notice.title
    );
    assert!(
        notice.summary.contains("kept 2 snapshot(s) it would have deleted (phoenix-ops-phoenix-docdb-day-08, phoenix-ops-phoenix-docdb-day-07)"),
        "{}",
        notice.summary
    );
    assert_eq!(
        m.calls(Call::CreateSnapshot),
        1,
        "the new snapshot was taken first"
    );
}

#[tokio::test]
async fn throttling_in_the_middle_of_rotation_injected_is_retried_and_the_retry_tells_the_whole_run()
 {
    let ledger = FakeTable::default();
    let throttled = || {
        mock!(aws_sdk_docdb::Client::delete_db_cluster_snapshot)
            .match_requests(|r| {
                r.db_cluster_snapshot_identifier() == Some("phoenix-ops-phoenix-docdb-day-09")
            })
            .sequence()
            .error(|| DeleteDBClusterSnapshotError::generic(meta("Throttling", "Rate exceeded")))
            .times(3)
            .build()
    };
    let env = vec![("LOG_GROUPS", "")];
    let first = mocked(
        Scenario {
            env: env.clone(),
            before: vec![(Call::DeleteSnapshot, throttled())],
            ..Scenario::default()
        },
        &ledger,
    );
    let error = handle(&first, scheduled()).await.expect_err("retryable");
    assert!(error.0.contains("Throttling"), "{error}");
    assert_eq!(
        first.calls(Call::DeleteSnapshot),
        4,
        "day 10, then day 9 three times"
    );
    assert!(first.published().is_empty());

    // Lambda's retry (same request id): day 10 is gone, the listing no longer shows it
    let gone =
        mock!(aws_sdk_docdb::Client::describe_db_cluster_snapshots).then_compute_output(|_| {
            DescribeDbClusterSnapshotsOutput::builder()
                .set_db_cluster_snapshots(Some(
                    (1..10)
                        .map(|d| {
                            snapshot(
                                &format!("phoenix-ops-phoenix-docdb-day-{d:02}"),
                                CLUSTER,
                                Duration::days(d) + Duration::hours(1),
                            )
                        })
                        .chain(std::iter::once(snapshot(
                            "phoenix-ops-phoenix-docdb-2026-11-21",
                            CLUSTER,
                            Duration::seconds(60),
                        )))
                        .collect(),
                ))
                .build()
        });
    let retry = mocked(
        Scenario {
            env,
            before: vec![(Call::DescribeSnapshots, gone)],
            ..Scenario::default()
        },
        &ledger,
    );
    let outcome = handle(&retry, scheduled())
        .await
        .expect("the retry finishes");
    assert_eq!(
        retry.calls(Call::CreateSnapshot),
        0,
        "created by the first attempt, not again"
    );
    assert_eq!(deleted_ids(&outcome).len(), 3, "days 9, 8, 7");
    let notice = retry.published().pop().expect("one Notice");
    assert_eq!(
        notice.title,
        "Backup of phoenix-docdb done: snapshot phoenix-ops-phoenix-docdb-2026-11-21 created; 4 old snapshot(s) deleted",
        "the whole run: the snapshot and day 10 came from the first attempt"
    );
}

/// Measured figures: calls and time for a rotation over 250 manual snapshots in 3 pages
/// (60 phoenix-ops daily snapshots, 190 of other clusters), with mocked AWS (handler + SDK cost,
/// no network), and the pure rule alone over 1,000 snapshots.
#[tokio::test]
async fn measure_a_rotation_over_250_snapshots_across_three_pages() {
    let describe =
        mock!(aws_sdk_docdb::Client::describe_db_cluster_snapshots).then_compute_output(|req| {
            let all: Vec<_> = (0..60)
                .map(|d| {
                    snapshot(
                        &format!("phoenix-ops-phoenix-docdb-day-{d:02}"),
                        CLUSTER,
                        Duration::days(d) + Duration::hours(1),
                    )
                })
                .chain((0..190).map(|i| {
                    snapshot(
                        &format!("billing-{i:03}"),
                        "billing-docdb",
                        Duration::days(1),
                    )
                }))
                .collect();
            let start: usize = req.marker().and_then(|m| m.parse().ok()).unwrap_or(0);
            let end = (start + 100).min(all.len());
            let page = DescribeDbClusterSnapshotsOutput::builder()
                .set_db_cluster_snapshots(Some(all[start..end].to_vec()));
            if end < all.len() {
                page.marker(end.to_string()).build()
            } else {
                page.build()
            }
        });
    let ledger = FakeTable::default();
    let m = mocked(
        Scenario {
            env: vec![("LOG_GROUPS", "")],
            before: vec![(Call::DescribeSnapshots, describe)],
            ..Scenario::default()
        },
        &ledger,
    );
    let started = Instant::now();
    let outcome = handle(&m, scheduled()).await.expect("handled");
    let elapsed = started.elapsed();
    let docdb = [
        Call::DescribeSnapshots,
        Call::ListTags,
        Call::CreateSnapshot,
        Call::DeleteSnapshot,
    ];
    let calls: usize = docdb.iter().map(|c| m.calls(*c)).sum();
    println!(
        "rotation over 250 manual snapshots (60 ours): {calls} DocumentDB calls = {} pages + {} ListTagsForResource + {} create + {} delete; handler {} ms with mocked AWS",
        m.calls(Call::DescribeSnapshots),
        m.calls(Call::ListTags),
        m.calls(Call::CreateSnapshot),
        m.calls(Call::DeleteSnapshot),
        elapsed.as_millis()
    );
    assert_eq!(m.calls(Call::DescribeSnapshots), 3);
    assert_eq!(
        m.calls(Call::ListTags),
        54,
        "53 candidates + the newest available"
    );
    assert_eq!(m.calls(Call::DeleteSnapshot), 53);
    assert_eq!(outcome.decision.as_deref(), Some("backup-done"));
    assert_eq!(outcome.observed["snapshots"]["manual_in_region"], 250);

    let snapshots: Vec<crate::rotation::SnapshotInfo> = (0..1000)
        .map(|i| crate::rotation::SnapshotInfo {
            id: format!("phoenix-ops-phoenix-docdb-{i:04}"),
            arn: String::new(),
            cluster: CLUSTER.into(),
            kind: crate::rotation::SnapshotType::Manual,
            status: crate::rotation::SnapshotStatus::Available,
            created: Some(now() - Duration::hours(i)),
            tags: Some([("created-by".to_owned(), "phoenix-ops".to_owned())].into()),
        })
        .collect();
    let policy = crate::rotation::SnapshotRetention {
        retention: Duration::days(7),
    };
    let started = Instant::now();
    let plan = crate::rotation::plan_rotation(&snapshots, CLUSTER, now(), policy, 1);
    println!(
        "plan_rotation over 1000 snapshots: {} µs ({} to delete)",
        started.elapsed().as_micros(),
        plan.deletions()
    );
    assert_eq!(plan.deletions(), 1000 - 169);
}

#[tokio::test]
async fn deletes_run_oldest_first_and_only_for_our_prefix() {
    let ledger = FakeTable::default();
    let m = mocked(
        Scenario {
            env: vec![("LOG_GROUPS", "")],
            ..Scenario::default()
        },
        &ledger,
    );
    let outcome = handle(&m, scheduled()).await.expect("handled");
    assert_eq!(
        deleted_ids(&outcome),
        [
            "phoenix-ops-phoenix-docdb-day-10",
            "phoenix-ops-phoenix-docdb-day-09",
            "phoenix-ops-phoenix-docdb-day-08",
            "phoenix-ops-phoenix-docdb-day-07"
        ]
    );
    let prefix = crate::rotation::snapshot_prefix(CLUSTER);
    for action in outcome
        .actions
        .iter()
        .filter(|a| a.call.starts_with("rds:") && a.call != "rds:DescribeDBClusterSnapshots")
    {
        assert!(
            action.target.starts_with(&prefix) || action.status != ActionStatus::Done,
            "{action:?}"
        );
    }
}
