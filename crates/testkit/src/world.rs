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
//!
//! Split by concern: `ecs` (task definitions, tasks, stops as ECS reports them), `publish`
//! (topics and the SQS taps that read what was published), `data` (logs, bucket rule, ledger,
//! metrics).

mod data;
mod ecs;
mod publish;

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_ecs::types::{AwsVpcConfiguration, LaunchType, LoadBalancer, NetworkConfiguration};
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use chrono::{DateTime, Utc};

pub use data::{seven_day_rule, write_log_lines};
pub use ecs::StopScenario;
pub use publish::{Published, as_sns_event, read_tap};

use crate::HarnessError;
use crate::calls::CallLog;
use crate::emulator::{EcsGaps, Emulator, REGION};
use crate::query::{QueryClient, first_xml_value, xml_values};
pub use data::create_ledger;
use ecs::run_task;
pub use ecs::{SEED_IMAGE, register_task_definition};
use publish::tap;
pub use publish::{create_queue, create_topic};

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
/// task-recovery's re-check queue.
pub const RECHECK_QUEUE: &str = "phoenix-recheck";
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
    /// task-recovery's re-check queue (`RECHECK_QUEUE_URL`).
    pub recheck_queue_url: String,
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
        let app_task_definition_arn =
            register_task_definition(&ecs, APP_FAMILY, SEED_IMAGE).await?;
        let worker_task_definition_arn =
            register_task_definition(&ecs, WORKER_FAMILY, SEED_IMAGE).await?;
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
        // the service is steady now: its rollout completed (the gap filler remembers it, as ECS
        // keeps a completed rollout COMPLETED when a task dies later)
        if spec.service_tasks > 0 {
            ecs.describe_services()
                .cluster(CLUSTER)
                .services(SERVICE)
                .send()
                .await
                .map_err(|e| sdk_fail("ecs:DescribeServices", e))?;
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

        // --- the idempotency ledger, and task-recovery's re-check queue (a standard queue: FIFO
        //     queues cannot delay one message)
        let ledger_table = create_ledger(&dynamodb, LEDGER_TABLE).await?;
        let (recheck_queue_url, _) = create_queue(&sqs, RECHECK_QUEUE).await?;

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
            recheck_queue_url,
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
            ("CLUSTER_ARN", self.cluster_arn.clone()),
            ("RECHECK_QUEUE_URL", self.recheck_queue_url.clone()),
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
            // daily-digest reads the functions' Outcome lines from here
            ("FUNCTION_LOG_GROUPS", CONTROL_PLANE_LOG_GROUP.to_owned()),
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
        // what Lambda's adapter reads for every function (phoenix_core::lambda::Common)
        push("STACK_NAME", "phoenix-sandbox");
        for (k, v) in self.env() {
            push(&k, &v);
        }
        out
    }
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
