//! The calls the function makes, and the faults put in front of one of them.

use aws_sdk_cloudwatchlogs::operation::create_export_task::CreateExportTaskError;
use aws_sdk_cloudwatchlogs::operation::describe_export_tasks::DescribeExportTasksError;
use aws_sdk_docdb::operation::create_db_cluster_snapshot::CreateDBClusterSnapshotError;
use aws_sdk_docdb::operation::delete_db_cluster_snapshot::DeleteDBClusterSnapshotError;
use aws_sdk_docdb::operation::describe_db_cluster_snapshots::DescribeDBClusterSnapshotsError;
use aws_sdk_docdb::operation::list_tags_for_resource::ListTagsForResourceError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::get_item::GetItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_s3::operation::get_bucket_lifecycle_configuration::GetBucketLifecycleConfigurationError;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Error;
use aws_sdk_s3::operation::put_object::PutObjectError;
use aws_sdk_sns::operation::publish::PublishError;
use aws_smithy_mocks::{Rule, mock};

use super::mocks::meta;

/// Every AWS call the function makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Call {
    DescribeSnapshots,
    ListTags,
    CreateSnapshot,
    DeleteSnapshot,
    CreateExportTask,
    DescribeExportTasks,
    GetLifecycle,
    GetObject,
    PutObject,
    ListObjects,
    PutItem,
    GetItem,
    UpdateItem,
    DeleteItem,
    Publish,
}

impl Call {
    pub const ALL: [Call; 15] = [
        Call::DescribeSnapshots,
        Call::ListTags,
        Call::CreateSnapshot,
        Call::DeleteSnapshot,
        Call::CreateExportTask,
        Call::DescribeExportTasks,
        Call::GetLifecycle,
        Call::GetObject,
        Call::PutObject,
        Call::ListObjects,
        Call::PutItem,
        Call::GetItem,
        Call::UpdateItem,
        Call::DeleteItem,
        Call::Publish,
    ];

    /// The IAM action, as the code labels it.
    pub fn label(self) -> &'static str {
        match self {
            Call::DescribeSnapshots => "rds:DescribeDBClusterSnapshots",
            Call::ListTags => "rds:ListTagsForResource",
            Call::CreateSnapshot => "rds:CreateDBClusterSnapshot",
            Call::DeleteSnapshot => "rds:DeleteDBClusterSnapshot",
            Call::CreateExportTask => "logs:CreateExportTask",
            Call::DescribeExportTasks => "logs:DescribeExportTasks",
            Call::GetLifecycle => "s3:GetLifecycleConfiguration",
            Call::GetObject => "s3:GetObject",
            Call::PutObject => "s3:PutObject",
            Call::ListObjects => "s3:ListBucket",
            Call::PutItem => "dynamodb:PutItem",
            Call::GetItem => "dynamodb:GetItem",
            Call::UpdateItem => "dynamodb:UpdateItem",
            Call::DeleteItem => "dynamodb:DeleteItem",
            Call::Publish => "sns:Publish",
        }
    }

    /// A final error this call can really answer (the service's own code).
    pub fn final_code(self) -> &'static str {
        match self {
            Call::DescribeSnapshots => "AccessDenied",
            Call::ListTags => "DBClusterSnapshotNotFoundFault",
            Call::CreateSnapshot => "InvalidDBClusterStateFault",
            Call::DeleteSnapshot => "InvalidDBClusterSnapshotStateFault",
            Call::CreateExportTask => "InvalidParameterException",
            Call::DescribeExportTasks => "AccessDeniedException",
            Call::GetLifecycle | Call::GetObject | Call::PutObject | Call::ListObjects => {
                "AccessDenied"
            }
            Call::PutItem | Call::GetItem | Call::DeleteItem => "ResourceNotFoundException",
            Call::UpdateItem => "ValidationException",
            Call::Publish => "AuthorizationError",
        }
    }
}

/// A fault put in front of the first call of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `Throttling` on every attempt of the call.
    Throttling,
    /// HTTP 500 on every attempt of the call.
    ServerError,
    /// The call's modelled final error ([`Call::final_code`]), once.
    Final,
}

fn http_500() -> aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    aws_smithy_runtime_api::client::orchestrator::HttpResponse::new(
        aws_smithy_runtime_api::http::StatusCode::try_from(500).expect("status"),
        aws_smithy_types::body::SdkBody::from("internal error"),
    )
}

/// The fault rule for `call`: `attempts` answers (the SDK's retries), then the defaults again.
macro_rules! fault_rule {
    ($op:path, $err:ty, $fault:expr, $code:expr, $attempts:expr) => {{
        let builder = mock!($op).sequence();
        match $fault {
            Fault::Throttling => builder
                .error(|| <$err>::generic(meta("Throttling", "Rate exceeded")))
                .times($attempts)
                .build(),
            Fault::ServerError => builder.http_response(http_500).times($attempts).build(),
            Fault::Final => builder
                .error(move || <$err>::generic(meta($code, "injected final error")))
                .build(),
        }
    }};
}

/// The fault rule for the first call of `call`.
pub fn fault(call: Call, fault: Fault) -> Rule {
    // the SDK tries 3 times, CreateExportTask once (it is not idempotent)
    let attempts = if call == Call::CreateExportTask { 1 } else { 3 };
    let code = call.final_code();
    use aws_sdk_cloudwatchlogs::Client as Logs;
    use aws_sdk_docdb::Client as Docdb;
    use aws_sdk_dynamodb::Client as Dynamo;
    use aws_sdk_s3::Client as S3;
    use aws_sdk_sns::Client as Sns;
    match call {
        Call::DescribeSnapshots => fault_rule!(
            Docdb::describe_db_cluster_snapshots,
            DescribeDBClusterSnapshotsError,
            fault,
            code,
            attempts
        ),
        Call::ListTags => fault_rule!(
            Docdb::list_tags_for_resource,
            ListTagsForResourceError,
            fault,
            code,
            attempts
        ),
        Call::CreateSnapshot => fault_rule!(
            Docdb::create_db_cluster_snapshot,
            CreateDBClusterSnapshotError,
            fault,
            code,
            attempts
        ),
        Call::DeleteSnapshot => fault_rule!(
            Docdb::delete_db_cluster_snapshot,
            DeleteDBClusterSnapshotError,
            fault,
            code,
            attempts
        ),
        Call::CreateExportTask => fault_rule!(
            Logs::create_export_task,
            CreateExportTaskError,
            fault,
            code,
            attempts
        ),
        Call::DescribeExportTasks => fault_rule!(
            Logs::describe_export_tasks,
            DescribeExportTasksError,
            fault,
            code,
            attempts
        ),
        Call::GetLifecycle => fault_rule!(
            S3::get_bucket_lifecycle_configuration,
            GetBucketLifecycleConfigurationError,
            fault,
            code,
            attempts
        ),
        Call::GetObject => fault_rule!(S3::get_object, GetObjectError, fault, code, attempts),
        Call::PutObject => fault_rule!(S3::put_object, PutObjectError, fault, code, attempts),
        Call::ListObjects => fault_rule!(
            S3::list_objects_v2,
            ListObjectsV2Error,
            fault,
            code,
            attempts
        ),
        Call::PutItem => fault_rule!(Dynamo::put_item, PutItemError, fault, code, attempts),
        Call::GetItem => fault_rule!(Dynamo::get_item, GetItemError, fault, code, attempts),
        Call::UpdateItem => {
            fault_rule!(Dynamo::update_item, UpdateItemError, fault, code, attempts)
        }
        Call::DeleteItem => {
            fault_rule!(Dynamo::delete_item, DeleteItemError, fault, code, attempts)
        }
        Call::Publish => fault_rule!(Sns::publish, PublishError, fault, code, attempts),
    }
}
