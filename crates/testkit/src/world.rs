//! The Phoenix world, seeded in the emulator by one routine for tests and the sandbox alike:
//! network, ALB target group, ECS cluster + Fargate service + running tasks, a standalone worker,
//! a DocumentDB-like cluster, log groups with log lines, the backup bucket with its 7-day rule,
//! the `alerts` and `oncall` topics (each tapped by an SQS queue so tests can read what was
//! published), and the Slack webhook secret.
//!
//! Emulator gaps filled here, visibly:
//! * moto has no `docdb` engine: the cluster is created through the DocumentDB API with the
//!   `aurora-postgresql` engine, and every snapshot call works on it.
//! * moto's services never start tasks: the service's tasks are started with RunTask in the
//!   service's group (`service:NAME`), as ECS would, and the service's counts are set with
//!   UpdateService (moto moves `runningCount` only there).
//! * moto's ECS container definitions need `cpu` and `memory` (RunTask fails without them).

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_ecs::types::{
    AwsVpcConfiguration, Compatibility, ContainerDefinition, LaunchType, LoadBalancer,
    LogConfiguration, LogDriver, NetworkConfiguration, NetworkMode, PortMapping, Tag as EcsTag,
};
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, CreateBucketConfiguration,
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
};
use aws_sdk_sqs::types::QueueAttributeName;
use chrono::{DateTime, Utc};

use crate::HarnessError;
use crate::calls::CallLog;
use crate::emulator::{EcsGaps, Emulator, REGION};
use crate::query::{QueryClient, first_xml_value, xml_values};

/// The query parameter names of a load balancer's (first two) subnets.
const SUBNET_MEMBERS: [&str; 2] = ["Subnets.member.1", "Subnets.member.2"];

/// Names of the world (they match the SAM template's defaults).
pub const CLUSTER: &str = "phoenix-cluster";
pub const SERVICE: &str = "phoenix-service";
pub const APP_FAMILY: &str = "phoenix";
pub const WORKER_FAMILY: &str = "phoenix-worker";
pub const CONTAINER: &str = "phoenix";
pub const APP_LOG_GROUP: &str = "/ecs/phoenix";
pub const CONTROL_PLANE_LOG_GROUP: &str = "/aws/lambda/phoenix-ops";
pub const LOG_STREAM_PREFIX: &str = "ecs";
pub const DOCDB_CLUSTER: &str = "phoenix-docdb";
pub const ALB: &str = "phoenix-alb";
pub const TARGET_GROUP: &str = "phoenix-tg";
pub const SLACK_SECRET: &str = "phoenix/slack-webhook";
/// The idempotency ledger (issue 15): partition key `pk` (S), no sort key, on demand, TTL on
/// `expires_at` (epoch seconds).
pub const LEDGER_TABLE: &str = "phoenix-ledger";
/// The ledger's partition key (a string).
pub const LEDGER_KEY: &str = "pk";
/// The ledger's TTL attribute (epoch seconds, a number).
pub const LEDGER_TTL_ATTRIBUTE: &str = "expires_at";
/// Where the backup writes exported logs (expired after 7 days by the bucket's rule).
pub const EXPORT_PREFIX: &str = "logs";

/// What to seed.
#[derive(Debug, Clone)]
pub struct WorldSpec {
    pub account: String,
    /// Tasks of the service (and its desired count).
    pub service_tasks: u32,
    /// The webhook URL kept in the Slack secret (the sink's, usually).
    pub slack_webhook_url: String,
    /// Lines written to each task's log stream.
    pub log_lines: usize,
    /// Time of the seeded log events (moto keeps real timestamps).
    pub now: DateTime<Utc>,
}

impl WorldSpec {
    pub fn new(account: &str, slack_webhook_url: &str, now: DateTime<Utc>) -> Self {
        Self {
            account: account.to_owned(),
            service_tasks: 2,
            slack_webhook_url: slack_webhook_url.to_owned(),
            log_lines: 30,
            now,
        }
    }
}

/// Everything seeded, by identifier.
#[derive(Debug, Clone)]
pub struct World {
    pub account: String,
    pub region: String,
    pub sdk: SdkConfig,
    /// ECS facts the harness adds to moto's answers (see [`EcsGaps`]).
    pub gaps: EcsGaps,
    pub vpc_id: String,
    pub subnets: Vec<String>,
    pub security_group: String,
    pub load_balancer_arn: String,
    pub target_group_arn: String,
    pub cluster_arn: String,
    pub service_arn: String,
    pub app_task_definition_arn: String,
    pub worker_task_definition_arn: String,
    /// Running tasks of the service.
    pub service_task_arns: Vec<String>,
    /// The running standalone worker task.
    pub worker_task_arn: String,
    pub docdb_cluster: String,
    pub log_groups: Vec<String>,
    pub bucket: String,
    pub alerts_topic_arn: String,
    pub oncall_topic_arn: String,
    pub alerts_queue_url: String,
    pub oncall_queue_url: String,
    pub slack_secret_arn: String,
    /// The idempotency ledger table ([`LEDGER_TABLE`]).
    pub ledger_table: String,
    /// Every call made through `sdk` (and the seeding's own): see [`World::calls`].
    calls: CallLog,
}

fn fail(what: &str, err: impl std::fmt::Display) -> HarnessError {
    HarnessError::Seed(format!("{what}: {err}"))
}

fn sdk_fail<E, R>(
    what: &str,
    err: aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> HarnessError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    HarnessError::Seed(format!(
        "{what}: {}",
        aws_smithy_types::error::display::DisplayErrorContext(err)
    ))
}

/// The task id at the end of a task ARN.
pub fn task_id(task_arn: &str) -> &str {
    task_arn.rsplit('/').next().unwrap_or(task_arn)
}

/// The CloudWatch metric dimension value of an ALB or target group ARN
/// (`app/NAME/ID`, `targetgroup/NAME/ID`).
pub fn metric_dimension(arn: &str) -> String {
    let resource = arn.rsplit(':').next().unwrap_or(arn);
    resource
        .strip_prefix("loadbalancer/")
        .unwrap_or(resource)
        .to_owned()
}

impl World {
    /// Seeds the world in `spec.account` of the emulator.
    pub async fn seed(emulator: &Emulator, spec: &WorldSpec) -> Result<World, HarnessError> {
        let gaps = EcsGaps::default();
        let calls = CallLog::default();
        let sdk = emulator.sdk_config_recording(&spec.account, gaps.clone(), calls.clone());
        let ecs = aws_sdk_ecs::Client::new(&sdk);
        let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
        let docdb = aws_sdk_docdb::Client::new(&sdk);
        let s3 = aws_sdk_s3::Client::new(&sdk);
        let sns = aws_sdk_sns::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);

        // --- network and load balancer: through the small query client (no EC2/ELBv2 SDK)
        let ec2 = QueryClient::ec2(emulator.url(), &spec.account, calls.clone());
        let elb = QueryClient::elbv2(emulator.url(), &spec.account, calls.clone());
        let vpcs = ec2
            .call(
                "DescribeVpcs",
                &[
                    ("Filter.1.Name", "is-default"),
                    ("Filter.1.Value.1", "true"),
                ],
            )
            .await?;
        let vpc_id = first_xml_value(&vpcs, "vpcId", "ec2:DescribeVpcs (default VPC)")?;
        let subnets: Vec<String> = xml_values(
            &ec2.call(
                "DescribeSubnets",
                &[("Filter.1.Name", "vpc-id"), ("Filter.1.Value.1", &vpc_id)],
            )
            .await?,
            "subnetId",
        )
        .into_iter()
        .take(2)
        .collect();
        if subnets.is_empty() {
            return Err(fail("ec2:DescribeSubnets", "the default VPC has no subnet"));
        }
        let security_group = first_xml_value(
            &ec2.call(
                "CreateSecurityGroup",
                &[
                    ("GroupName", "phoenix-tasks"),
                    ("GroupDescription", "Phoenix tasks"),
                    ("VpcId", &vpc_id),
                ],
            )
            .await?,
            "groupId",
            "ec2:CreateSecurityGroup",
        )?;
        let mut lb_params = vec![
            ("Name", ALB.to_owned()),
            ("Type", "application".to_owned()),
            ("SecurityGroups.member.1", security_group.clone()),
        ];
        for (i, subnet) in subnets.iter().enumerate() {
            lb_params.push((SUBNET_MEMBERS[i.min(1)], subnet.clone()));
        }
        let lb_params: Vec<(&str, &str)> =
            lb_params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let load_balancer_arn = first_xml_value(
            &elb.call("CreateLoadBalancer", &lb_params).await?,
            "LoadBalancerArn",
            "elbv2:CreateLoadBalancer",
        )?;
        let target_group_arn = first_xml_value(
            &elb.call(
                "CreateTargetGroup",
                &[
                    ("Name", TARGET_GROUP),
                    ("Protocol", "HTTP"),
                    ("Port", "3000"),
                    ("VpcId", &vpc_id),
                    ("TargetType", "ip"),
                    ("HealthCheckPath", "/"),
                ],
            )
            .await?,
            "TargetGroupArn",
            "elbv2:CreateTargetGroup",
        )?;
        elb.call(
            "CreateListener",
            &[
                ("LoadBalancerArn", &load_balancer_arn),
                ("Protocol", "HTTP"),
                ("Port", "80"),
                ("DefaultActions.member.1.Type", "forward"),
                ("DefaultActions.member.1.TargetGroupArn", &target_group_arn),
            ],
        )
        .await?;

        // --- ECS
        let cluster_arn = ecs
            .create_cluster()
            .cluster_name(CLUSTER)
            .send()
            .await
            .map_err(|e| sdk_fail("ecs:CreateCluster", e))?
            .cluster()
            .and_then(|c| c.cluster_arn())
            .unwrap_or_default()
            .to_owned();
        let app_task_definition_arn = register_family(&ecs, APP_FAMILY).await?;
        let worker_task_definition_arn = register_family(&ecs, WORKER_FAMILY).await?;
        let network = NetworkConfiguration::builder()
            .awsvpc_configuration(
                AwsVpcConfiguration::builder()
                    .set_subnets(Some(subnets.clone()))
                    .security_groups(&security_group)
                    .build()
                    .map_err(|e| fail("awsvpc configuration", e))?,
            )
            .build();
        let service_arn = ecs
            .create_service()
            .cluster(CLUSTER)
            .service_name(SERVICE)
            .task_definition(&app_task_definition_arn)
            .desired_count(i32::try_from(spec.service_tasks).unwrap_or(2))
            .launch_type(LaunchType::Fargate)
            .network_configuration(network.clone())
            .load_balancers(
                LoadBalancer::builder()
                    .target_group_arn(&target_group_arn)
                    .container_name(CONTAINER)
                    .container_port(3000)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| sdk_fail("ecs:CreateService", e))?
            .service()
            .and_then(|s| s.service_arn())
            .unwrap_or_default()
            .to_owned();
        // moto moves runningCount only on UpdateService: make the service "steady".
        ecs.update_service()
            .cluster(CLUSTER)
            .service(SERVICE)
            .desired_count(i32::try_from(spec.service_tasks).unwrap_or(2))
            .send()
            .await
            .map_err(|e| sdk_fail("ecs:UpdateService", e))?;
        let mut service_task_arns = Vec::new();
        for _ in 0..spec.service_tasks {
            let arn = run_task(
                &ecs,
                &app_task_definition_arn,
                &network,
                Some(&format!("service:{SERVICE}")),
                "ecs-svc/5418839201746652011",
            )
            .await?;
            service_task_arns.push(arn);
        }
        let worker_task_arn = run_task(
            &ecs,
            &worker_task_definition_arn,
            &network,
            None,
            "worker-scheduler",
        )
        .await?;

        // --- logs: the app's log group with one stream per task, and the control plane's
        for group in [APP_LOG_GROUP, CONTROL_PLANE_LOG_GROUP] {
            logs.create_log_group()
                .log_group_name(group)
                .send()
                .await
                .map_err(|e| sdk_fail("logs:CreateLogGroup", e))?;
        }
        let mut all_tasks = service_task_arns.clone();
        all_tasks.push(worker_task_arn.clone());
        for arn in &all_tasks {
            let stream = format!("{LOG_STREAM_PREFIX}/{CONTAINER}/{}", task_id(arn));
            let lines: Vec<String> = (1..=spec.log_lines)
                .map(|i| format!("GET /api/items 200 {}ms (request {i})", 3 + i % 7))
                .collect();
            write_log_lines(&logs, APP_LOG_GROUP, &stream, &lines, spec.now).await?;
        }
        write_log_lines(
            &logs,
            CONTROL_PLANE_LOG_GROUP,
            "2026/11/20/[$LATEST]seed",
            &["control plane started".to_owned()],
            spec.now,
        )
        .await?;

        // --- database
        let docdb_cluster = docdb
            .create_db_cluster()
            .db_cluster_identifier(DOCDB_CLUSTER)
            // moto has no `docdb` engine; every snapshot call works with this one.
            .engine("aurora-postgresql")
            .master_username("phoenix")
            .master_user_password("phoenix-sandbox-password")
            .backup_retention_period(7)
            .send()
            .await
            .map_err(|e| sdk_fail("docdb:CreateDBCluster", e))?
            .db_cluster()
            .and_then(|c| c.db_cluster_identifier())
            .unwrap_or(DOCDB_CLUSTER)
            .to_owned();

        // --- backup bucket: 7-day expiry of exported logs; checkpoints kept
        let bucket = format!("phoenix-backups-{}", spec.account);
        s3.create_bucket()
            .bucket(&bucket)
            .create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(REGION))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| sdk_fail("s3:CreateBucket", e))?;
        s3.put_bucket_lifecycle_configuration()
            .bucket(&bucket)
            .lifecycle_configuration(seven_day_rule()?)
            .send()
            .await
            .map_err(|e| sdk_fail("s3:PutBucketLifecycleConfiguration", e))?;

        // --- topics, each tapped by a queue so tests can read what was published
        let alerts_topic_arn = create_topic(&sns, "phoenix-alerts").await?;
        let oncall_topic_arn = create_topic(&sns, "phoenix-oncall").await?;
        let alerts_queue_url = tap(&sns, &sqs, &alerts_topic_arn, "phoenix-alerts-tap").await?;
        let oncall_queue_url = tap(&sns, &sqs, &oncall_topic_arn, "phoenix-oncall-tap").await?;

        // --- the Slack webhook secret
        let slack_secret_arn = secrets
            .create_secret()
            .name(SLACK_SECRET)
            .secret_string(&spec.slack_webhook_url)
            .send()
            .await
            .map_err(|e| sdk_fail("secretsmanager:CreateSecret", e))?
            .arn()
            .unwrap_or_default()
            .to_owned();

        // --- the idempotency ledger
        let ledger_table = create_ledger(&dynamodb).await?;

        Ok(World {
            account: spec.account.clone(),
            region: REGION.to_owned(),
            sdk,
            gaps,
            vpc_id,
            subnets,
            security_group,
            load_balancer_arn,
            target_group_arn,
            cluster_arn,
            service_arn,
            app_task_definition_arn,
            worker_task_definition_arn,
            service_task_arns,
            worker_task_arn,
            docdb_cluster,
            log_groups: vec![APP_LOG_GROUP.to_owned(), CONTROL_PLANE_LOG_GROUP.to_owned()],
            bucket,
            alerts_topic_arn,
            oncall_topic_arn,
            alerts_queue_url,
            oncall_queue_url,
            slack_secret_arn,
            ledger_table,
            calls,
        })
    }

    /// The record of every AWS call made through this world's `sdk` (seeding included): take a
    /// [`crate::Mark`] after seeding and assert on [`CallLog::since`] it.
    pub fn calls(&self) -> &CallLog {
        &self.calls
    }

    /// Every function's configuration for this world, as the template would set it. Each
    /// function reads the variables it needs.
    pub fn env(&self) -> BTreeMap<String, String> {
        let pairs = [
            ("CLUSTER_NAME", CLUSTER.to_owned()),
            ("SERVICE_NAME", SERVICE.to_owned()),
            ("ALERTS_TOPIC_ARN", self.alerts_topic_arn.clone()),
            ("ONCALL_TOPIC_ARN", self.oncall_topic_arn.clone()),
            ("SLACK_WEBHOOK_SECRET_ARN", self.slack_secret_arn.clone()),
            ("STANDALONE_FAMILIES", WORKER_FAMILY.to_owned()),
            ("TASK_SUBNETS", self.subnets.join(",")),
            ("TASK_SECURITY_GROUPS", self.security_group.clone()),
            (
                "LOAD_BALANCER_DIMENSION",
                metric_dimension(&self.load_balancer_arn),
            ),
            (
                "TARGET_GROUP_DIMENSION",
                metric_dimension(&self.target_group_arn),
            ),
            ("DOCDB_CLUSTER_ID", self.docdb_cluster.clone()),
            ("BACKUP_BUCKET", self.bucket.clone()),
            ("LOG_GROUPS", self.log_groups.join(",")),
            ("EXPORT_PREFIX", EXPORT_PREFIX.to_owned()),
            // Exports are immediate in the emulator; real AWS needs hours (template default).
            ("EXPORT_LAG_HOURS", "0".to_owned()),
            ("LEDGER_TABLE", self.ledger_table.clone()),
        ];
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    /// `export NAME='value'` lines for a shell (the sandbox prints them).
    pub fn shell_exports(&self, endpoint_url: &str) -> String {
        let mut out = String::new();
        let mut push = |k: &str, v: &str| out.push_str(&format!("export {k}='{v}'\n"));
        push("AWS_ENDPOINT_URL", endpoint_url);
        push("AWS_REGION", &self.region);
        push("AWS_ACCESS_KEY_ID", "AKIAPHOENIXSANDBOX");
        push("AWS_SECRET_ACCESS_KEY", "phoenix-sandbox-secret");
        for (k, v) in self.env() {
            push(&k, &v);
        }
        out
    }
}

/// Creates the ledger table as the template does: `pk` (S) hash key, on demand, TTL on
/// `expires_at`.
async fn create_ledger(dynamodb: &aws_sdk_dynamodb::Client) -> Result<String, HarnessError> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        TimeToLiveSpecification,
    };
    dynamodb
        .create_table()
        .table_name(LEDGER_TABLE)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(LEDGER_KEY)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| fail("ledger attribute", e))?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(LEDGER_KEY)
                .key_type(KeyType::Hash)
                .build()
                .map_err(|e| fail("ledger key", e))?,
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(|e| sdk_fail("dynamodb:CreateTable", e))?;
    dynamodb
        .update_time_to_live()
        .table_name(LEDGER_TABLE)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(LEDGER_TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .map_err(|e| fail("ledger TTL", e))?,
        )
        .send()
        .await
        .map_err(|e| sdk_fail("dynamodb:UpdateTimeToLive", e))?;
    Ok(LEDGER_TABLE.to_owned())
}

async fn register_family(ecs: &aws_sdk_ecs::Client, family: &str) -> Result<String, HarnessError> {
    let log = LogConfiguration::builder()
        .log_driver(LogDriver::Awslogs)
        .options("awslogs-group", APP_LOG_GROUP)
        .options("awslogs-region", REGION)
        .options("awslogs-stream-prefix", LOG_STREAM_PREFIX)
        .build()
        .map_err(|e| fail("log configuration", e))?;
    ecs.register_task_definition()
        .family(family)
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu("256")
        .memory("512")
        .container_definitions(
            ContainerDefinition::builder()
                .name(CONTAINER)
                .image("111122223333.dkr.ecr.eu-west-1.amazonaws.com/phoenix:1.4.2")
                .essential(true)
                // moto needs both to run a task.
                .cpu(256)
                .memory(512)
                .port_mappings(PortMapping::builder().container_port(3000).build())
                .log_configuration(log)
                .build(),
        )
        .send()
        .await
        .map_err(|e| sdk_fail("ecs:RegisterTaskDefinition", e))?
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .map(str::to_owned)
        .ok_or_else(|| fail("ecs:RegisterTaskDefinition", "no ARN"))
}

async fn run_task(
    ecs: &aws_sdk_ecs::Client,
    task_definition: &str,
    network: &NetworkConfiguration,
    group: Option<&str>,
    started_by: &str,
) -> Result<String, HarnessError> {
    ecs.run_task()
        .cluster(CLUSTER)
        .task_definition(task_definition)
        .launch_type(LaunchType::Fargate)
        .network_configuration(network.clone())
        .set_group(group.map(str::to_owned))
        .started_by(started_by)
        .tags(EcsTag::builder().key("app").value("phoenix").build())
        .send()
        .await
        .map_err(|e| sdk_fail("ecs:RunTask", e))?
        .tasks()
        .first()
        .and_then(|t| t.task_arn())
        .map(str::to_owned)
        .ok_or_else(|| fail("ecs:RunTask", "no task started"))
}

/// Writes log lines to a stream (created if needed), one second apart, ending at `end`.
pub async fn write_log_lines(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    stream: &str,
    lines: &[String],
    end: DateTime<Utc>,
) -> Result<(), HarnessError> {
    let created = logs
        .create_log_stream()
        .log_group_name(group)
        .log_stream_name(stream)
        .send()
        .await;
    if let Err(e) = created {
        let exists = e
            .as_service_error()
            .is_some_and(|s| s.is_resource_already_exists_exception());
        if !exists {
            return Err(sdk_fail("logs:CreateLogStream", e));
        }
    }
    let start = end.timestamp_millis() - 1000 * i64::try_from(lines.len()).unwrap_or(0);
    let events: Vec<_> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(start + 1000 * i64::try_from(i).unwrap_or(0))
                .message(line)
                .build()
                .map_err(|e| fail("log event", e))
        })
        .collect::<Result<_, _>>()?;
    if events.is_empty() {
        return Ok(());
    }
    logs.put_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .set_log_events(Some(events))
        .send()
        .await
        .map_err(|e| sdk_fail("logs:PutLogEvents", e))?;
    Ok(())
}

/// Exported logs expire after 7 days; nothing else in the bucket does.
pub fn seven_day_rule() -> Result<BucketLifecycleConfiguration, HarnessError> {
    BucketLifecycleConfiguration::builder()
        .rules(
            LifecycleRule::builder()
                .id("expire-log-exports-after-7-days")
                .status(ExpirationStatus::Enabled)
                .filter(
                    LifecycleRuleFilter::builder()
                        .prefix(format!("{EXPORT_PREFIX}/"))
                        .build(),
                )
                .expiration(LifecycleExpiration::builder().days(7).build())
                .build()
                .map_err(|e| fail("lifecycle rule", e))?,
        )
        .build()
        .map_err(|e| fail("lifecycle configuration", e))
}

async fn create_topic(sns: &aws_sdk_sns::Client, name: &str) -> Result<String, HarnessError> {
    sns.create_topic()
        .name(name)
        .send()
        .await
        .map_err(|e| sdk_fail("sns:CreateTopic", e))?
        .topic_arn()
        .map(str::to_owned)
        .ok_or_else(|| fail("sns:CreateTopic", "no ARN"))
}

async fn tap(
    sns: &aws_sdk_sns::Client,
    sqs: &aws_sdk_sqs::Client,
    topic_arn: &str,
    queue: &str,
) -> Result<String, HarnessError> {
    let queue_url = sqs
        .create_queue()
        .queue_name(queue)
        .send()
        .await
        .map_err(|e| sdk_fail("sqs:CreateQueue", e))?
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| sdk_fail("sqs:GetQueueAttributes", e))?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .unwrap_or_default();
    sns.subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .send()
        .await
        .map_err(|e| sdk_fail("sns:Subscribe", e))?;
    Ok(queue_url)
}

/// One message an SNS topic delivered to its tap queue (the SNS JSON envelope, unwrapped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub message_id: String,
    pub subject: Option<String>,
    pub message: String,
    pub timestamp: String,
}

/// Reads (and deletes) what reached a tap queue, waiting up to `wait_secs` for the first.
pub async fn read_tap(
    sdk: &SdkConfig,
    queue_url: &str,
    wait_secs: i32,
) -> Result<Vec<Published>, HarnessError> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut out = Vec::new();
    let mut wait = wait_secs;
    loop {
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait)
            .send()
            .await
            .map_err(|e| sdk_fail("sqs:ReceiveMessage", e))?;
        let messages = received.messages();
        if messages.is_empty() {
            return Ok(out);
        }
        for message in messages {
            let body: serde_json::Value =
                serde_json::from_str(message.body().unwrap_or("{}")).unwrap_or_default();
            out.push(Published {
                message_id: body["MessageId"].as_str().unwrap_or_default().to_owned(),
                subject: body["Subject"].as_str().map(str::to_owned),
                message: body["Message"].as_str().unwrap_or_default().to_owned(),
                timestamp: body["Timestamp"].as_str().unwrap_or_default().to_owned(),
            });
            if let Some(handle) = message.receipt_handle() {
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(|e| sdk_fail("sqs:DeleteMessage", e))?;
            }
        }
        wait = 0;
    }
}

/// The same delivery wrapped as Lambda receives it from an SNS subscription.
pub fn as_sns_event(topic_arn: &str, published: &[Published]) -> serde_json::Value {
    let records: Vec<serde_json::Value> = published
        .iter()
        .map(|p| {
            serde_json::json!({
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": format!("{topic_arn}:00000000-0000-0000-0000-000000000000"),
                "Sns": {
                    "Type": "Notification",
                    "MessageId": p.message_id,
                    "TopicArn": topic_arn,
                    "Subject": p.subject,
                    "Message": p.message,
                    "Timestamp": p.timestamp,
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": "https://sns.eu-west-1.amazonaws.com/cert.pem",
                    "UnsubscribeUrl": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
                    "MessageAttributes": {}
                }
            })
        })
        .collect();
    serde_json::json!({ "Records": records })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_dimensions_come_from_arns() {
        assert_eq!(
            metric_dimension(
                "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/phoenix-alb/50dc6c495c0c9188"
            ),
            "app/phoenix-alb/50dc6c495c0c9188"
        );
        assert_eq!(
            metric_dimension(
                "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/phoenix-tg/6d0ecf831eec9f09"
            ),
            "targetgroup/phoenix-tg/6d0ecf831eec9f09"
        );
        assert_eq!(
            task_id("arn:aws:ecs:eu-west-1:1:task/phoenix-cluster/abc"),
            "abc"
        );
    }
}

/// How the harness stops a task: what real ECS would report for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopScenario {
    /// The essential container exits with this code (Phoenix's `GET /crash` exits 1).
    Crash { exit_code: i32 },
    /// Killed for memory.
    OutOfMemory,
    /// The ALB's health checks failed; the scheduler replaced it.
    ElbHealthCheck,
    /// Scale-in or deployment.
    ScaleIn,
    /// StopTask by a person.
    UserStop,
}

impl StopScenario {
    fn facts(&self, at: DateTime<Utc>) -> crate::emulator::StoppedTaskFacts {
        let (stop_code, reason, exit_code, container_reason) = match self {
            Self::Crash { exit_code } => (
                "EssentialContainerExited",
                "Essential container in task exited".to_owned(),
                Some(*exit_code),
                None,
            ),
            Self::OutOfMemory => (
                "EssentialContainerExited",
                "Essential container in task exited".to_owned(),
                Some(137),
                Some("OutOfMemoryError: Container killed due to memory usage".to_owned()),
            ),
            Self::ElbHealthCheck => (
                "ServiceSchedulerInitiated",
                format!("Task failed ELB health checks in (target-group {TARGET_GROUP})"),
                Some(137),
                None,
            ),
            Self::ScaleIn => (
                "ServiceSchedulerInitiated",
                "Scaling activity initiated by (deployment ecs-svc/5418839201746652011)".to_owned(),
                Some(0),
                None,
            ),
            Self::UserStop => (
                "UserInitiated",
                "Task stopped by user".to_owned(),
                Some(137),
                None,
            ),
        };
        crate::emulator::StoppedTaskFacts {
            stop_code: stop_code.to_owned(),
            stopped_reason: reason,
            stopped_at: at,
            exit_code,
            container_reason,
        }
    }
}

impl World {
    /// Stops a running task in the emulator as ECS would in this scenario, records what moto
    /// cannot report (stop code, stop time, exit codes: see [`EcsGaps`]), and returns the
    /// `ECS Task State Change` event ECS would send, shaped like `events/ecs-task-stopped-*.json`.
    pub async fn stop_task_as(
        &self,
        task_arn: &str,
        scenario: &StopScenario,
        at: DateTime<Utc>,
        event_id: &str,
    ) -> Result<serde_json::Value, HarnessError> {
        let ecs = aws_sdk_ecs::Client::new(&self.sdk);
        let facts = scenario.facts(at);
        ecs.stop_task()
            .cluster(CLUSTER)
            .task(task_arn)
            .reason(&facts.stopped_reason)
            .send()
            .await
            .map_err(|e| sdk_fail("ecs:StopTask", e))?;
        self.gaps.task_stopped(task_arn, facts.clone());
        let described = ecs
            .describe_tasks()
            .cluster(CLUSTER)
            .tasks(task_arn)
            .send()
            .await
            .map_err(|e| sdk_fail("ecs:DescribeTasks", e))?;
        let task = described
            .tasks()
            .first()
            .ok_or_else(|| fail("ecs:DescribeTasks", format!("task {task_arn} not found")))?;
        let mut event = crate::fixtures::try_fixture("ecs-task-stopped-crash.json")?;
        let time = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        event["id"] = event_id.into();
        event["account"] = self.account.clone().into();
        event["region"] = self.region.clone().into();
        event["time"] = time(at).into();
        event["resources"] = serde_json::json!([task_arn]);
        let detail = &mut event["detail"];
        detail["clusterArn"] = self.cluster_arn.clone().into();
        detail["taskArn"] = task_arn.into();
        detail["group"] = task.group().unwrap_or_default().into();
        detail["startedBy"] = task.started_by().unwrap_or_default().into();
        detail["taskDefinitionArn"] = task.task_definition_arn().unwrap_or_default().into();
        detail["stopCode"] = facts.stop_code.clone().into();
        detail["stoppedReason"] = facts.stopped_reason.clone().into();
        detail["startedAt"] = time(at - chrono::Duration::minutes(42)).into();
        detail["stoppingAt"] = time(at).into();
        detail["executionStoppedAt"] = time(at).into();
        detail["stoppedAt"] = time(at).into();
        detail["updatedAt"] = time(at).into();
        detail["version"] = 5.into();
        if let Some(container) = detail["containers"].get_mut(0) {
            container["taskArn"] = task_arn.into();
            container["exitCode"] = facts.exit_code.into();
            if let Some(reason) = &facts.container_reason {
                container["reason"] = reason.clone().into();
            }
        }
        Ok(event)
    }

    /// Starts one more task like the seeded ones (service group or the worker family).
    pub async fn start_task(&self, service: bool) -> Result<String, HarnessError> {
        let ecs = aws_sdk_ecs::Client::new(&self.sdk);
        let network = NetworkConfiguration::builder()
            .awsvpc_configuration(
                AwsVpcConfiguration::builder()
                    .set_subnets(Some(self.subnets.clone()))
                    .security_groups(&self.security_group)
                    .build()
                    .map_err(|e| fail("awsvpc configuration", e))?,
            )
            .build();
        if service {
            run_task(
                &ecs,
                &self.app_task_definition_arn,
                &network,
                Some(&format!("service:{SERVICE}")),
                "ecs-svc/5418839201746652011",
            )
            .await
        } else {
            run_task(
                &ecs,
                &self.worker_task_definition_arn,
                &network,
                None,
                "worker-scheduler",
            )
            .await
        }
    }
}

impl World {
    /// Publishes the ALB's `RequestCount` for the service's target group, one datapoint per
    /// minute starting at `first_minute` (a 0 publishes nothing, as the ALB does without traffic).
    pub async fn put_requests(
        &self,
        first_minute: DateTime<Utc>,
        per_minute: &[u64],
    ) -> Result<(), HarnessError> {
        use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
        let cloudwatch = aws_sdk_cloudwatch::Client::new(&self.sdk);
        let dimension =
            |name: &str, value: String| Dimension::builder().name(name).value(value).build();
        let data: Vec<MetricDatum> = per_minute
            .iter()
            .enumerate()
            .filter(|(_, count)| **count > 0)
            .map(|(i, count)| {
                let at = first_minute + chrono::Duration::minutes(i as i64);
                MetricDatum::builder()
                    .metric_name("RequestCount")
                    .dimensions(dimension(
                        "LoadBalancer",
                        metric_dimension(&self.load_balancer_arn),
                    ))
                    .dimensions(dimension(
                        "TargetGroup",
                        metric_dimension(&self.target_group_arn),
                    ))
                    .timestamp(aws_smithy_types::DateTime::from_secs(at.timestamp()))
                    .unit(StandardUnit::Count)
                    .value(*count as f64)
                    .build()
            })
            .collect();
        for chunk in data.chunks(500) {
            cloudwatch
                .put_metric_data()
                .namespace("AWS/ApplicationELB")
                .set_metric_data(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| sdk_fail("cloudwatch:PutMetricData", e))?;
        }
        Ok(())
    }
}
