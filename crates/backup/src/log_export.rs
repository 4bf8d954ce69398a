//! CloudWatch Logs and S3 calls of the log export (thin adapter: no policy here, see
//! [`crate::exports`]).

use aws_sdk_s3::primitives::ByteStream;
use phoenix_core::AwsFailure;
use phoenix_core::aws::FailureKind;

use crate::exports::{ExpiryRule, ExportStatus, Window};

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
    {
        {
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

pub async fn write_checkpoint(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    json: String,
) -> Result<(), AwsFailure> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/json")
        .body(ByteStream::from(json.into_bytes()))
        .send()
        .await
        .map_err(|e| AwsFailure::from_sdk("s3:PutObject", format!("s3://{bucket}/{key}"), &e))?;
    Ok(())
}

/// Starts one export task; returns its id.
pub async fn start_export(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    window: &Window,
    bucket: &str,
    prefix: &str,
    task_name: &str,
) -> Result<String, AwsFailure> {
    let out = logs
        .create_export_task()
        .task_name(task_name)
        .log_group_name(group)
        .from(window.from_ms())
        .to(window.to_ms_inclusive())
        .destination(bucket)
        .destination_prefix(prefix)
        .send()
        .await
        .map_err(|e| {
            AwsFailure::from_sdk(
                "logs:CreateExportTask",
                format!("{group} {}", window.date()),
                &e,
            )
        })?;
    Ok(out.task_id().unwrap_or_default().to_owned())
}

/// An export task's status and message.
pub async fn export_status(
    logs: &aws_sdk_cloudwatchlogs::Client,
    task_id: &str,
) -> Result<(ExportStatus, String), AwsFailure> {
    let out = logs
        .describe_export_tasks()
        .task_id(task_id)
        .send()
        .await
        .map_err(|e| AwsFailure::from_sdk("logs:DescribeExportTasks", task_id, &e))?;
    // The status filter is not used: the task id selects one task.
    let task = out
        .export_tasks()
        .iter()
        .find(|t| t.task_id() == Some(task_id));
    let status = task.and_then(|t| t.status());
    let code = status
        .and_then(|s| s.code())
        .map(|c| ExportStatus::from(c.as_str()))
        .unwrap_or_else(|| ExportStatus::Unknown("not found".to_owned()));
    let message = status
        .and_then(|s| s.message())
        .unwrap_or_default()
        .to_owned();
    Ok((code, message))
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
