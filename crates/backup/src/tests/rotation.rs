//! The rotation rule, table by table: what is deleted, what is kept and why.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use crate::rotation::*;
use chrono::TimeZone;

const CLUSTER: &str = "phoenix-docdb";
/// Every test snapshot of ours is named `P` + a short name.
const P: &str = "phoenix-ops-phoenix-docdb-";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 3, 0, 0)
        .single()
        .expect("valid")
}

fn policy() -> SnapshotRetention {
    SnapshotRetention {
        retention: Duration::days(7),
    }
}

fn ours(short: &str, age: Duration, status: &str) -> SnapshotInfo {
    let id = format!("{P}{short}");
    SnapshotInfo {
        arn: format!("arn:aws:rds:eu-west-1:1:cluster-snapshot:{id}"),
        id,
        cluster: CLUSTER.to_owned(),
        kind: SnapshotType::Manual,
        status: SnapshotStatus::from(status),
        created: Some(now() - age),
        tags: Some(BTreeMap::from([(
            CREATED_BY_KEY.to_owned(),
            CREATED_BY_VALUE.to_owned(),
        )])),
    }
}

fn foreign(id: &str, age: Duration) -> SnapshotInfo {
    SnapshotInfo {
        id: id.to_owned(),
        tags: Some(BTreeMap::from([("owner".to_owned(), "dba".to_owned())])),
        ..ours(id, age, "available")
    }
}

fn automated(id: &str, age: Duration) -> SnapshotInfo {
    SnapshotInfo {
        id: id.to_owned(),
        kind: SnapshotType::Automated,
        tags: None,
        ..ours(id, age, "available")
    }
}

fn other_cluster(id: &str, age: Duration) -> SnapshotInfo {
    SnapshotInfo {
        cluster: "billing-docdb".to_owned(),
        ..ours(id, age, "available")
    }
}

fn deleted(plan: &RotationPlan) -> Vec<&str> {
    plan.to_delete()
        .map(|v| v.id.strip_prefix(P).unwrap_or(&v.id))
        .collect()
}

fn reason<'a>(plan: &'a RotationPlan, id: &str) -> &'a str {
    plan.verdicts
        .iter()
        .find(|v| v.id == id || v.id == format!("{P}{id}"))
        .map(|v| v.reason.as_str())
        .unwrap_or("missing")
}

#[test]
fn rotation_table() {
    let d = Duration::days;
    let h = Duration::hours;
    struct Case {
        name: &'static str,
        snapshots: Vec<SnapshotInfo>,
        deleted: Vec<&'static str>,
    }
    let cases = vec![
        Case {
            name: "empty list",
            snapshots: vec![],
            deleted: vec![],
        },
        Case {
            name: "mixed ages: only the ones past 7 days go",
            snapshots: (0..10)
                .map(|i| ours(&format!("s{i}"), d(i) + h(1), "available"))
                .collect(),
            deleted: vec!["s9", "s8", "s7"],
        },
        Case {
            name: "foreign, automated and other clusters' snapshots survive",
            snapshots: vec![
                ours("new", h(1), "available"),
                foreign("dba-old", d(30)),
                automated("rds:auto-old", d(30)),
                other_cluster("billing-old", d(30)),
                ours("old", d(8), "available"),
            ],
            deleted: vec!["old"],
        },
        Case {
            name: "the newest one failed: the newest available old one is kept",
            snapshots: vec![
                ours("today", h(1), "failed"),
                ours("d8", d(8), "available"),
                ours("d9", d(9), "available"),
            ],
            deleted: vec!["d9"],
        },
        Case {
            name: "the newest one is still creating: it does not count as a good copy",
            snapshots: vec![
                ours("today", h(1), "creating"),
                ours("d8", d(8), "available"),
            ],
            deleted: vec![],
        },
        Case {
            name: "exactly at the boundary is kept, one second past goes",
            snapshots: vec![
                ours("new", h(1), "available"),
                ours("exactly-7d", d(7), "available"),
                ours("7d-and-1s", d(7) + Duration::seconds(1), "available"),
            ],
            deleted: vec!["7d-and-1s"],
        },
        Case {
            name: "an old failed snapshot goes, an old one still creating stays",
            snapshots: vec![
                ours("new", h(1), "available"),
                ours("old-failed", d(9), "failed"),
                ours("old-creating", d(9), "creating"),
            ],
            deleted: vec!["old-failed"],
        },
        Case {
            name: "tagged ours but not named phoenix-ops-<cluster>-: never deleted (outside the IAM scope)",
            snapshots: vec![
                ours("new", h(1), "available"),
                SnapshotInfo {
                    id: "manual-copy-old".to_owned(),
                    ..ours("x", d(9), "available")
                },
                SnapshotInfo {
                    id: "phoenix-ops-phoenix-docdb2-old".to_owned(),
                    ..ours("y", d(9), "available")
                },
            ],
            deleted: vec![],
        },
        Case {
            name: "tags not read: never ours",
            snapshots: vec![
                ours("new", h(1), "available"),
                SnapshotInfo {
                    tags: None,
                    ..ours("untagged", d(9), "available")
                },
            ],
            deleted: vec![],
        },
    ];
    for case in cases {
        let plan = plan_rotation(&case.snapshots, CLUSTER, now(), policy(), 1);
        let mut want = case.deleted.clone();
        want.sort();
        let mut got = deleted(&plan);
        got.sort();
        assert_eq!(got, want, "{}: {:#?}", case.name, plan.verdicts);
    }
}

#[test]
fn every_verdict_says_why() {
    let d = Duration::days;
    let snapshots = vec![
        ours("new", Duration::hours(2), "available"),
        ours("old", d(8), "available"),
        foreign("dba", d(30)),
        automated("rds:auto", d(2)),
        other_cluster("billing", d(30)),
    ];
    let plan = plan_rotation(&snapshots, CLUSTER, now(), policy(), 0);
    assert_eq!(
        reason(&plan, "old"),
        "older than retention (age 8d 0h > 7d); newer available snapshot phoenix-ops-phoenix-docdb-new"
    );
    assert_eq!(reason(&plan, "new"), "within retention (age 0d 2h <= 7d)");
    assert_eq!(
        reason(&plan, "dba"),
        "not created by phoenix-ops (not named phoenix-ops-phoenix-docdb-…)"
    );
    assert_eq!(
        reason(&plan, "rds:auto"),
        "automated snapshot: DocumentDB's own retention manages it"
    );
    assert_eq!(
        reason(&plan, "billing"),
        "missing",
        "other clusters are not listed"
    );
    assert_eq!(
        plan.newest_available.as_deref(),
        Some("phoenix-ops-phoenix-docdb-new")
    );
    let only_old = plan_rotation(
        &[ours("old", d(8), "available")],
        CLUSTER,
        now(),
        policy(),
        0,
    );
    assert!(
        reason(&only_old, "old").contains("no newer available phoenix-ops snapshot"),
        "{only_old:?}"
    );
}

#[test]
fn more_than_a_hundred_snapshots_across_pages_are_counted_and_warned() {
    // 3 pages of the region's manual snapshots: 40 ours (one a day), 75 of other clusters.
    let mut snapshots: Vec<SnapshotInfo> = (0..40)
        .map(|i| {
            ours(
                &format!("ours-{i:02}"),
                Duration::days(i) + Duration::hours(1),
                "available",
            )
        })
        .collect();
    snapshots.extend((0..75).map(|i| other_cluster(&format!("billing-{i}"), Duration::days(1))));
    let plan = plan_rotation(&snapshots, CLUSTER, now(), policy(), 1);
    assert_eq!(plan.manual_in_region, 115);
    assert_eq!(plan.deletions(), 33, "ages 7d1h .. 39d1h go");
    assert_eq!(plan.verdicts.len(), 40);
    assert_eq!(
        plan.quota_warning.as_deref(),
        None,
        "115 + 1 - 33 = 83 stays under the warning"
    );
    let plan = plan_rotation(&snapshots[..7], CLUSTER, now(), policy(), 1);
    assert_eq!(plan.quota_warning, None);
    let mut crowded = snapshots.clone();
    crowded.extend((0..20).map(|i| foreign(&format!("dba-{i}"), Duration::days(1))));
    let plan = plan_rotation(&crowded, CLUSTER, now(), policy(), 1);
    assert_eq!(
        plan.quota_warning.as_deref(),
        Some(
            "103 of 100 manual cluster snapshots in the region after this run (135 now, +1 new, -33 rotated): delete old manual snapshots or ask for a quota increase"
        )
    );
}

#[test]
fn the_prefix_is_lower_case_bounded_and_names_the_reason() {
    assert_eq!(snapshot_prefix("phoenix-docdb"), P);
    assert_eq!(snapshot_prefix("Odd_Name--"), "phoenix-ops-odd-name-");
    assert!(snapshot_prefix(&"c".repeat(400)).len() <= PREFIX_MAX + 1);
    let renamed = SnapshotInfo {
        id: "copied-by-hand".to_owned(),
        ..ours("x", Duration::days(9), "available")
    };
    let plan = plan_rotation(
        &[ours("new", Duration::hours(1), "available"), renamed],
        CLUSTER,
        now(),
        policy(),
        0,
    );
    assert_eq!(
        plan.verdicts
            .iter()
            .find(|v| v.id == "copied-by-hand")
            .map(|v| v.reason.as_str()),
        Some("not created by phoenix-ops (not named phoenix-ops-phoenix-docdb-…)")
    );
}

#[test]
fn tags_are_read_only_for_candidates_and_the_guard() {
    let d = Duration::days;
    let snapshots = vec![
        ours("2026-11-19", d(1), "available"),
        ours("2026-11-18", d(2), "available"),
        ours("2026-11-10", d(10), "available"),
        foreign("dba-manual", d(20)),
        automated("rds:phoenix-docdb-2026-11-19", d(1)),
    ];
    let ids = tags_needed(&snapshots, CLUSTER, now(), policy());
    assert_eq!(
        ids,
        [
            "phoenix-ops-phoenix-docdb-2026-11-10",
            "phoenix-ops-phoenix-docdb-2026-11-19"
        ]
    );
}
