//! The snapshot rotation rule (pure): which manual snapshots phoenix-ops may delete.
//!
//! A snapshot is deleted only when **all** hold:
//! 1. it is a `manual` snapshot (automated ones belong to DocumentDB's own retention);
//! 2. it belongs to the configured cluster;
//! 3. it carries the tag `created-by=phoenix-ops` (someone else's snapshot is never touched);
//! 4. it is strictly older than the retention (exactly at the boundary it is kept);
//! 5. a **newer** `available` phoenix-ops snapshot of the cluster exists (the last good copy is
//!    never deleted, even when old, e.g. when the newest one failed);
//! 6. its own status allows deletion (`available` or `failed`; never one being created).
//!
//! The region allows 100 manual cluster snapshots: the plan counts them (all clusters) and warns
//! from [`QUOTA_WARN_AT`].

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// The tag phoenix-ops puts on every snapshot it creates.
pub const CREATED_BY_KEY: &str = "created-by";
pub const CREATED_BY_VALUE: &str = "phoenix-ops";
/// DocumentDB's regional quota of manual cluster snapshots.
pub const MANUAL_SNAPSHOT_QUOTA: usize = 100;
/// Warn when this many manual snapshots would remain.
pub const QUOTA_WARN_AT: usize = 90;

phoenix_core::string_enum! {
    /// `SnapshotType` as DocumentDB reports it.
    pub enum SnapshotType {
        Manual = "manual",
        Automated = "automated",
    }
}

phoenix_core::string_enum! {
    /// A snapshot's `Status`.
    pub enum SnapshotStatus {
        Available = "available",
        Creating = "creating",
        Failed = "failed",
        Deleting = "deleting",
    }
}

/// One snapshot, as observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotInfo {
    pub id: String,
    pub arn: String,
    pub cluster: String,
    pub kind: SnapshotType,
    pub status: SnapshotStatus,
    pub created: Option<DateTime<Utc>>,
    /// `None`: the tags were not read (the snapshot is then never ours).
    pub tags: Option<BTreeMap<String, String>>,
}

impl SnapshotInfo {
    pub fn is_ours(&self, cluster: &str) -> bool {
        self.kind == SnapshotType::Manual
            && self.cluster == cluster
            && self.tags.as_ref().is_some_and(|tags| {
                tags.get(CREATED_BY_KEY).map(String::as_str) == Some(CREATED_BY_VALUE)
            })
    }
}

/// The policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotRetention {
    pub retention: Duration,
}

/// What happens to one snapshot, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub id: String,
    pub delete: bool,
    pub reason: String,
}

/// The rotation plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RotationPlan {
    /// One verdict per snapshot of the configured cluster, oldest first.
    pub verdicts: Vec<Verdict>,
    /// Manual snapshots in the region (every cluster), before this plan.
    pub manual_in_region: usize,
    /// The newest available phoenix-ops snapshot.
    pub newest_available: Option<String>,
    /// Set when the region is near (or at) the manual snapshot quota.
    pub quota_warning: Option<String>,
}

impl RotationPlan {
    pub fn to_delete(&self) -> impl Iterator<Item = &Verdict> {
        self.verdicts.iter().filter(|v| v.delete)
    }

    pub fn deletions(&self) -> usize {
        self.to_delete().count()
    }
}

/// Human age: `9d 3h`, with minutes and seconds when not a whole hour (`7d 0h 0m 5s`).
pub fn age_text(age: Duration) -> String {
    let secs = age.num_seconds();
    if secs < 0 {
        return "in the future".to_owned();
    }
    let (hours, rest) = (secs / 3600, secs % 3600);
    let mut text = format!("{}d {}h", hours / 24, hours % 24);
    if rest > 0 {
        text.push_str(&format!(" {}m {}s", rest / 60, rest % 60));
    }
    text
}

/// Which snapshots' tags must be read for the rule to decide: this cluster's manual snapshots
/// whose names say phoenix-ops made them (`prefix`) and that are either older than the retention
/// (deletion candidates) or the newest available one (the guard). Others are never ours to
/// delete, so reading their tags would only cost calls.
pub fn tags_needed(
    snapshots: &[SnapshotInfo],
    cluster: &str,
    prefix: &str,
    now: DateTime<Utc>,
    policy: SnapshotRetention,
) -> Vec<String> {
    let named_ours = |s: &&SnapshotInfo| {
        s.kind == SnapshotType::Manual && s.cluster == cluster && s.id.starts_with(prefix)
    };
    let newest_available = snapshots
        .iter()
        .filter(named_ours)
        .filter(|s| s.status == SnapshotStatus::Available && s.created.is_some())
        .max_by_key(|s| s.created)
        .map(|s| s.id.clone());
    let mut ids: Vec<String> = snapshots
        .iter()
        .filter(named_ours)
        .filter(|s| s.created.is_some_and(|c| now - c > policy.retention))
        .map(|s| s.id.clone())
        .collect();
    if let Some(id) = newest_available.filter(|id| !ids.contains(id)) {
        ids.push(id);
    }
    ids
}

/// Plans the rotation. `snapshots` are every manual snapshot of the region (all pages) plus
/// anything else observed; `snapshot_to_create` counts towards the quota.
pub fn plan_rotation(
    snapshots: &[SnapshotInfo],
    cluster: &str,
    now: DateTime<Utc>,
    policy: SnapshotRetention,
    creating: usize,
) -> RotationPlan {
    let newest_available = snapshots
        .iter()
        .filter(|s| s.is_ours(cluster) && s.status == SnapshotStatus::Available)
        .filter_map(|s| s.created.map(|c| (c, s)))
        .max_by_key(|(c, _)| *c);
    let mut mine: Vec<&SnapshotInfo> = snapshots.iter().filter(|s| s.cluster == cluster).collect();
    mine.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
    let verdicts: Vec<Verdict> = mine
        .into_iter()
        .map(|s| {
            let (delete, reason) = verdict(s, cluster, now, policy, newest_available);
            Verdict {
                id: s.id.clone(),
                delete,
                reason,
            }
        })
        .collect();
    let manual_in_region = snapshots
        .iter()
        .filter(|s| s.kind == SnapshotType::Manual)
        .count();
    let deletions = verdicts.iter().filter(|v| v.delete).count();
    let after = (manual_in_region + creating).saturating_sub(deletions);
    let quota_warning = (after >= QUOTA_WARN_AT).then(|| {
        format!(
            "{after} of {MANUAL_SNAPSHOT_QUOTA} manual cluster snapshots in the region after this run ({manual_in_region} now, +{creating} new, -{deletions} rotated): delete old manual snapshots or ask for a quota increase"
        )
    });
    RotationPlan {
        verdicts,
        manual_in_region,
        newest_available: newest_available.map(|(_, s)| s.id.clone()),
        quota_warning,
    }
}

fn verdict(
    s: &SnapshotInfo,
    cluster: &str,
    now: DateTime<Utc>,
    policy: SnapshotRetention,
    newest_available: Option<(DateTime<Utc>, &SnapshotInfo)>,
) -> (bool, String) {
    if s.kind != SnapshotType::Manual {
        return (
            false,
            format!("{} snapshot: DocumentDB's own retention manages it", s.kind),
        );
    }
    if s.cluster != cluster {
        return (
            false,
            format!("snapshot of another cluster ({})", s.cluster),
        );
    }
    if !s.is_ours(cluster) {
        let why = if s.tags.is_none() {
            "not named as a phoenix-ops snapshot"
        } else {
            "no created-by=phoenix-ops tag"
        };
        return (false, format!("not created by phoenix-ops ({why})"));
    }
    let Some(created) = s.created else {
        return (false, "no creation time reported: kept".to_owned());
    };
    let age = now - created;
    let retention_days = policy.retention.num_days();
    if age <= policy.retention {
        return (
            false,
            format!(
                "within retention (age {} <= {retention_days}d)",
                age_text(age)
            ),
        );
    }
    match newest_available {
        Some((newest_at, newest)) if newest_at > created => {
            if matches!(s.status, SnapshotStatus::Available | SnapshotStatus::Failed) {
                (
                    true,
                    format!(
                        "older than retention (age {} > {retention_days}d); newer available snapshot {}",
                        age_text(age),
                        newest.id
                    ),
                )
            } else {
                (
                    false,
                    format!("status {}: not deleted while in progress", s.status),
                )
            }
        }
        _ => (
            false,
            format!(
                "older than retention (age {}) but no newer available phoenix-ops snapshot: kept as the last good copy",
                age_text(age)
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const CLUSTER: &str = "phoenix-docdb";

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

    fn ours(id: &str, age: Duration, status: &str) -> SnapshotInfo {
        SnapshotInfo {
            id: id.to_owned(),
            arn: format!("arn:aws:rds:eu-west-1:1:cluster-snapshot:{id}"),
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
            tags: Some(BTreeMap::from([("owner".to_owned(), "dba".to_owned())])),
            ..ours(id, age, "available")
        }
    }

    fn automated(id: &str, age: Duration) -> SnapshotInfo {
        SnapshotInfo {
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
        plan.to_delete().map(|v| v.id.as_str()).collect()
    }

    fn reason<'a>(plan: &'a RotationPlan, id: &str) -> &'a str {
        plan.verdicts
            .iter()
            .find(|v| v.id == id)
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
            "older than retention (age 8d 0h > 7d); newer available snapshot new"
        );
        assert_eq!(reason(&plan, "new"), "within retention (age 0d 2h <= 7d)");
        assert_eq!(
            reason(&plan, "dba"),
            "not created by phoenix-ops (no created-by=phoenix-ops tag)"
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
        assert_eq!(plan.newest_available.as_deref(), Some("new"));
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
        snapshots
            .extend((0..75).map(|i| other_cluster(&format!("billing-{i}"), Duration::days(1))));
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
    fn tags_are_read_only_for_candidates_and_the_guard() {
        let d = Duration::days;
        let snapshots = vec![
            ours("phoenix-ops-phoenix-docdb-2026-11-19", d(1), "available"),
            ours("phoenix-ops-phoenix-docdb-2026-11-18", d(2), "available"),
            ours("phoenix-ops-phoenix-docdb-2026-11-10", d(10), "available"),
            foreign("dba-manual", d(20)),
            automated("rds:phoenix-docdb-2026-11-19", d(1)),
        ];
        let ids = tags_needed(
            &snapshots,
            CLUSTER,
            "phoenix-ops-phoenix-docdb-",
            now(),
            policy(),
        );
        assert_eq!(
            ids,
            [
                "phoenix-ops-phoenix-docdb-2026-11-10",
                "phoenix-ops-phoenix-docdb-2026-11-19"
            ]
        );
    }
}
