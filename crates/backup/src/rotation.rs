// pure: the snapshot rotation rule; no I/O, no clock (`now` is passed in)
//! The snapshot rotation rule: which manual snapshots phoenix-ops may delete.
//!
//! A snapshot is deleted only when **all** hold:
//! 1. it is a `manual` snapshot (automated ones belong to DocumentDB's own retention);
//! 2. it belongs to the configured cluster;
//! 3. its identifier starts with `phoenix-ops-<cluster>-` ([`snapshot_prefix`]): the only
//!    snapshots the function's IAM policy lets it delete, and the only ones it ever creates;
//! 4. it carries the tag `created-by=phoenix-ops` (someone else's snapshot is never touched);
//! 5. it is strictly older than the retention (exactly at the boundary it is kept);
//! 6. a **newer** `available` phoenix-ops snapshot of the cluster exists (the last good copy is
//!    never deleted, even when old, e.g. when the newest one failed);
//! 7. its own status allows deletion (`available` or `failed`; never one being created).
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
/// Longest prefix kept (DocumentDB cluster identifiers have at most 63 characters; this bounds
/// odd configuration so the identifier still fits 255 characters).
pub const PREFIX_MAX: usize = 200;

/// `phoenix-ops-<cluster>-`: the start of every snapshot identifier phoenix-ops creates for
/// `cluster`, in lower case (DocumentDB stores identifiers in lower case). The template scopes
/// the function's snapshot permissions to `cluster-snapshot:phoenix-ops-<cluster>-*`.
pub fn snapshot_prefix(cluster: &str) -> String {
    let base = sanitise_identifier(&format!("phoenix-ops-{cluster}"));
    let cut: String = base.chars().take(PREFIX_MAX).collect();
    format!("{}-", cut.trim_end_matches('-'))
}

/// Letters and digits kept (lower case), anything else a single hyphen, no trailing hyphen.
pub fn sanitise_identifier(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '-'
        };
        if c == '-' && out.ends_with('-') {
            continue;
        }
        out.push(c);
    }
    out.trim_end_matches('-').to_owned()
}

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
    /// Manual, of `cluster`, named `phoenix-ops-<cluster>-…` and tagged `created-by=phoenix-ops`.
    pub fn is_ours(&self, cluster: &str) -> bool {
        self.is_ours_named(cluster, &snapshot_prefix(cluster))
    }

    /// [`SnapshotInfo::is_ours`] with the cluster's prefix computed once by the caller.
    fn is_ours_named(&self, cluster: &str, prefix: &str) -> bool {
        self.kind == SnapshotType::Manual
            && self.cluster == cluster
            && self.id.starts_with(prefix)
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
pub struct RotationVerdict {
    pub id: String,
    pub delete: bool,
    pub reason: String,
}

/// The rotation plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RotationPlan {
    /// One verdict per snapshot of the configured cluster, oldest first.
    pub verdicts: Vec<RotationVerdict>,
    /// Manual snapshots in the region (every cluster), before this plan.
    pub manual_in_region: usize,
    /// The newest available phoenix-ops snapshot.
    pub newest_available: Option<String>,
    /// Set when the region is near (or at) the manual snapshot quota.
    pub quota_warning: Option<String>,
}

impl RotationPlan {
    pub fn to_delete(&self) -> impl Iterator<Item = &RotationVerdict> {
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
    now: DateTime<Utc>,
    policy: SnapshotRetention,
) -> Vec<String> {
    let prefix = snapshot_prefix(cluster);
    let named_ours = |s: &&SnapshotInfo| {
        s.kind == SnapshotType::Manual && s.cluster == cluster && s.id.starts_with(&prefix)
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
        .filter(|s| {
            s.created
                .is_some_and(|c| now.signed_duration_since(c) > policy.retention)
        })
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
    let prefix = snapshot_prefix(cluster);
    let newest_available = snapshots
        .iter()
        .filter(|s| s.is_ours_named(cluster, &prefix) && s.status == SnapshotStatus::Available)
        .filter_map(|s| s.created.map(|c| (c, s)))
        .max_by_key(|(c, _)| *c);
    let mut mine: Vec<&SnapshotInfo> = snapshots.iter().filter(|s| s.cluster == cluster).collect();
    mine.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
    let verdicts: Vec<RotationVerdict> = mine
        .into_iter()
        .map(|s| {
            let (delete, reason) = verdict(s, cluster, &prefix, now, policy, newest_available);
            RotationVerdict {
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
    prefix: &str,
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
    if !s.is_ours_named(cluster, prefix) {
        let why = if !s.id.starts_with(prefix) {
            format!("not named {prefix}…")
        } else if s.tags.is_none() {
            "tags not read".to_owned()
        } else {
            format!("no {CREATED_BY_KEY}={CREATED_BY_VALUE} tag")
        };
        return (false, format!("not created by phoenix-ops ({why})"));
    }
    let Some(created) = s.created else {
        return (false, "no creation time reported: kept".to_owned());
    };
    let age = now.signed_duration_since(created);
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
