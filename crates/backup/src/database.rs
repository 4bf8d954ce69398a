//! DocumentDB calls (thin adapter: no policy here, see [`crate::rotation`]).

use std::collections::BTreeMap;

use aws_sdk_docdb::types::{DbClusterSnapshot, Tag};
use chrono::{DateTime, Utc};
use phoenix_core::AwsFailure;

use crate::rotation::{SnapshotInfo, SnapshotStatus, SnapshotType};

/// DescribeDBClusterSnapshots' largest page.
pub const PAGE_SIZE: i32 = 100;

fn to_chrono(t: &aws_sdk_docdb::primitives::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

fn info(s: &DbClusterSnapshot) -> SnapshotInfo {
    SnapshotInfo {
        id: s
            .db_cluster_snapshot_identifier()
            .unwrap_or_default()
            .to_owned(),
        arn: s.db_cluster_snapshot_arn().unwrap_or_default().to_owned(),
        cluster: s.db_cluster_identifier().unwrap_or_default().to_owned(),
        kind: SnapshotType::from(s.snapshot_type().unwrap_or_default()),
        status: SnapshotStatus::from(s.status().unwrap_or_default()),
        created: s.snapshot_create_time().and_then(to_chrono),
        tags: None,
    }
}

/// Every manual cluster snapshot of the region (every cluster: the quota is regional), all
/// pages. Returns the snapshots and the number of pages read.
pub async fn manual_snapshots(
    docdb: &aws_sdk_docdb::Client,
) -> Result<(Vec<SnapshotInfo>, usize), AwsFailure> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = docdb
            .describe_db_cluster_snapshots()
            .snapshot_type("manual")
            .max_records(PAGE_SIZE)
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| {
                AwsFailure::from_sdk(
                    "rds:DescribeDBClusterSnapshots",
                    "manual cluster snapshots",
                    &e,
                )
            })?;
        pages += 1;
        out.extend(page.db_cluster_snapshots().iter().map(info));
        match page.marker().filter(|m| !m.is_empty()) {
            Some(next) => marker = Some(next.to_owned()),
            None => return Ok((out, pages)),
        }
    }
}

/// The tags of one snapshot.
pub async fn tags_of(
    docdb: &aws_sdk_docdb::Client,
    snapshot: &SnapshotInfo,
) -> Result<BTreeMap<String, String>, AwsFailure> {
    let out = docdb
        .list_tags_for_resource()
        .resource_name(&snapshot.arn)
        .send()
        .await
        .map_err(|e| AwsFailure::from_sdk("rds:ListTagsForResource", &snapshot.id, &e))?;
    Ok(out
        .tag_list()
        .iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect())
}

/// What CreateDBClusterSnapshot did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    New,
    /// The identifier exists already: a repeated delivery of the same slot.
    AlreadyExists,
}

/// Creates the snapshot, tagged (tags are set atomically with the creation).
pub async fn create_snapshot(
    docdb: &aws_sdk_docdb::Client,
    cluster: &str,
    id: &str,
    tags: &[(&str, String)],
) -> Result<Created, AwsFailure> {
    let tags: Vec<Tag> = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(v).build())
        .collect();
    match docdb
        .create_db_cluster_snapshot()
        .db_cluster_identifier(cluster)
        .db_cluster_snapshot_identifier(id)
        .set_tags(Some(tags))
        .send()
        .await
    {
        Ok(_) => Ok(Created::New),
        Err(e) => {
            let failure = AwsFailure::from_sdk("rds:CreateDBClusterSnapshot", id, &e);
            if failure.is_code("DBClusterSnapshotAlreadyExistsFault") {
                Ok(Created::AlreadyExists)
            } else {
                Err(failure)
            }
        }
    }
}

/// What DeleteDBClusterSnapshot did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deleted {
    Deleted,
    /// Gone already (another run or a person deleted it).
    AlreadyGone,
}

pub async fn delete_snapshot(
    docdb: &aws_sdk_docdb::Client,
    id: &str,
) -> Result<Deleted, AwsFailure> {
    match docdb
        .delete_db_cluster_snapshot()
        .db_cluster_snapshot_identifier(id)
        .send()
        .await
    {
        Ok(_) => Ok(Deleted::Deleted),
        Err(e) => {
            let failure = AwsFailure::from_sdk("rds:DeleteDBClusterSnapshot", id, &e);
            if failure.is_code("DBClusterSnapshotNotFoundFault") {
                Ok(Deleted::AlreadyGone)
            } else {
                Err(failure)
            }
        }
    }
}
