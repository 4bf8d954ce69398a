//! Reading AWS (thin adapters: no policy here). Every call is labelled with its IAM action;
//! codes that mean "nothing there" become typed answers (`None`, an empty list), everything else
//! an [`AwsFailure`] for [`crate::journal::Journal::triage`].

use std::collections::BTreeMap;

use aws_sdk_docdb::types::DbClusterSnapshot;
use chrono::{DateTime, Utc};
use phoenix_core::AwsFailure;
use phoenix_core::aws::FailureKind;

use crate::expiry::ExpiryRule;
use crate::exports::{FoundTask, TaskStatus};
use crate::rotation::{SnapshotInfo, SnapshotStatus, SnapshotType};
use crate::windows::ExportStatus;

/// DescribeDBClusterSnapshots' largest page.
pub const SNAPSHOT_PAGE_SIZE: i32 = 100;
/// DescribeExportTasks' largest page.
pub const EXPORT_PAGE_SIZE: i32 = 50;
/// How many pages of export tasks are searched for a task whose id was not recorded.
pub const FIND_MAX_PAGES: usize = 20;

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
            .max_records(SNAPSHOT_PAGE_SIZE)
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

/// The bucket's lifecycle rules (none when the bucket has no configuration).
pub async fn lifecycle_rules(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> Result<Vec<ExpiryRule>, AwsFailure> {
    let out = match s3
        .get_bucket_lifecycle_configuration()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => {
            let failure = AwsFailure::from_sdk("s3:GetLifecycleConfiguration", bucket, &e);
            if failure.is_code("NoSuchLifecycleConfiguration") {
                return Ok(Vec::new());
            }
            return Err(failure);
        }
    };
    Ok(out.rules().iter().map(expiry_rule).collect())
}

/// One rule as the expiry check sees it. The legacy top-level `Prefix` is still read: rules
/// written by older tools carry it instead of a `Filter`.
#[allow(deprecated, reason = "legacy rules still use the top-level Prefix")]
fn expiry_rule(r: &aws_sdk_s3::types::LifecycleRule) -> ExpiryRule {
    let filter = r.filter();
    let and = filter.and_then(|f| f.and());
    let prefix = filter
        .and_then(|f| f.prefix())
        .or_else(|| and.and_then(|a| a.prefix()))
        .or_else(|| r.prefix())
        .filter(|p| !p.is_empty())
        .map(str::to_owned);
    let narrowed = filter.is_some_and(|f| {
        f.tag().is_some()
            || f.object_size_greater_than().is_some()
            || f.object_size_less_than().is_some()
    }) || and.is_some_and(|a| {
        !a.tags().is_empty()
            || a.object_size_greater_than().is_some()
            || a.object_size_less_than().is_some()
    });
    ExpiryRule {
        id: r.id().unwrap_or("(no id)").to_owned(),
        enabled: r.status().as_str() == "Enabled",
        prefix,
        narrowed,
        expiration_days: r.expiration().and_then(|e| e.days()),
    }
}

/// The checkpoint object's text, `None` when it does not exist yet.
pub async fn read_checkpoint(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Option<String>, AwsFailure> {
    let resource = format!("s3://{bucket}/{key}");
    let out = match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => out,
        Err(e) => {
            let failure = AwsFailure::from_sdk("s3:GetObject", &resource, &e);
            if failure.is_code("NoSuchKey") {
                return Ok(None);
            }
            return Err(failure);
        }
    };
    // the body broke off mid-stream: a connection failure, worth a retry
    let bytes = out.body.collect().await.map_err(|e| {
        AwsFailure::new(
            "s3:GetObject",
            resource.clone(),
            FailureKind::Dispatch,
            None,
            format!("reading the body: {e}"),
            None,
        )
    })?;
    Ok(Some(
        String::from_utf8_lossy(&bytes.into_bytes()).into_owned(),
    ))
}

fn task_status(task: &aws_sdk_cloudwatchlogs::types::ExportTask) -> TaskStatus {
    let status = task.status();
    TaskStatus {
        status: status
            .and_then(|s| s.code())
            .map(|c| ExportStatus::from(c.as_str()))
            .unwrap_or_else(|| ExportStatus::Unknown("no status".to_owned())),
        message: status
            .and_then(|s| s.message())
            .unwrap_or_default()
            .to_owned(),
    }
}

/// One export task's status; `None` when CloudWatch Logs does not know the task.
pub async fn export_status(
    logs: &aws_sdk_cloudwatchlogs::Client,
    task_id: &str,
) -> Result<Option<TaskStatus>, AwsFailure> {
    let out = match logs.describe_export_tasks().task_id(task_id).send().await {
        Ok(out) => out,
        Err(e) => {
            let failure = AwsFailure::from_sdk("logs:DescribeExportTasks", task_id, &e);
            if failure.is_code("ResourceNotFoundException") {
                return Ok(None);
            }
            return Err(failure);
        }
    };
    // The status filter is not used: the task id selects one task.
    Ok(out
        .export_tasks()
        .iter()
        .find(|t| t.task_id() == Some(task_id))
        .map(task_status))
}

/// The export task named `name` of `group` starting at `from_ms`, searched over at most
/// [`FIND_MAX_PAGES`] pages of the account's export tasks.
pub async fn find_export(
    logs: &aws_sdk_cloudwatchlogs::Client,
    name: &str,
    group: &str,
    from_ms: i64,
) -> Result<Option<FoundTask>, AwsFailure> {
    let mut token: Option<String> = None;
    for _ in 0..FIND_MAX_PAGES {
        let page = logs
            .describe_export_tasks()
            .limit(EXPORT_PAGE_SIZE)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| AwsFailure::from_sdk("logs:DescribeExportTasks", name, &e))?;
        let found = page.export_tasks().iter().find(|t| {
            t.task_name() == Some(name)
                && t.log_group_name() == Some(group)
                && t.from() == Some(from_ms)
        });
        if let Some(task) = found {
            return Ok(Some(FoundTask {
                task_id: task.task_id().unwrap_or_default().to_owned(),
                status: task_status(task),
            }));
        }
        match page.next_token().filter(|t| !t.is_empty()) {
            Some(next) => token = Some(next.to_owned()),
            None => return Ok(None),
        }
    }
    Ok(None)
}

/// Objects and bytes under a prefix (first 1000 objects; `true` when there are more).
pub async fn objects_under(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<(usize, i64, bool), AwsFailure> {
    let out = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .map_err(|e| {
            AwsFailure::from_sdk("s3:ListBucket", format!("s3://{bucket}/{prefix}"), &e)
        })?;
    let bytes = out.contents().iter().filter_map(|o| o.size()).sum();
    Ok((
        out.contents().len(),
        bytes,
        out.is_truncated().unwrap_or(false),
    ))
}
