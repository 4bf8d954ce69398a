//! Changing AWS (thin adapters: no policy here). Every call is labelled with its IAM action;
//! codes that are an expected answer (the snapshot exists, is gone, another export is running)
//! become typed answers, everything else an [`AwsFailure`] for
//! [`crate::journal::Journal::triage`].

use aws_sdk_cloudwatchlogs::config::retry::RetryConfig;
use aws_sdk_docdb::types::Tag;
use aws_sdk_s3::primitives::ByteStream;
use phoenix_core::AwsFailure;
use phoenix_core::aws::FailureKind;

use crate::windows::Window;

/// What CreateDBClusterSnapshot did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    New,
    /// The identifier exists already.
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
    /// Gone already (an earlier attempt, another run or a person deleted it).
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

/// What CreateExportTask did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    Task(String),
    /// `LimitExceededException`: another export task is running in the account.
    LimitReached(String),
}

/// Starts one export task. The SDK does **not** retry this call: CreateExportTask is not
/// idempotent, and an attempt whose answer was lost may have made the task; Lambda's retry of the
/// whole run finds it by its name instead (its intent is in the checkpoint).
pub async fn start_export(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    window: &Window,
    bucket: &str,
    prefix: &str,
    task_name: &str,
) -> Result<Started, AwsFailure> {
    let resource = format!("{group} {}", window.date());
    let answer = logs
        .create_export_task()
        .task_name(task_name)
        .log_group_name(group)
        .from(window.from_ms())
        .to(window.to_ms_inclusive())
        .destination(bucket)
        .destination_prefix(prefix)
        .customize()
        .config_override(
            aws_sdk_cloudwatchlogs::config::Builder::default()
                .retry_config(RetryConfig::standard().with_max_attempts(1)),
        )
        .send()
        .await;
    match answer {
        Ok(out) => match out.task_id().filter(|id| !id.is_empty()) {
            Some(id) => Ok(Started::Task(id.to_owned())),
            None => Err(AwsFailure::new(
                "logs:CreateExportTask",
                resource,
                FailureKind::Response,
                None,
                "the answer carries no task id (the next run looks the task up by its name)",
                None,
            )),
        },
        Err(e) => {
            let failure = AwsFailure::from_sdk("logs:CreateExportTask", resource, &e);
            if failure.is_code("LimitExceededException") {
                Ok(Started::LimitReached(failure.message))
            } else {
                Err(failure)
            }
        }
    }
}

/// Writes a checkpoint object.
pub async fn write_checkpoint(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    text: String,
) -> Result<(), AwsFailure> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/json")
        .body(ByteStream::from(text.into_bytes()))
        .send()
        .await
        .map_err(|e| AwsFailure::from_sdk("s3:PutObject", format!("s3://{bucket}/{key}"), &e))?;
    Ok(())
}
