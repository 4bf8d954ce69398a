//! ECS in the world: task definitions (with the cpu/memory moto needs), tasks started as the
//! service or the worker would start them, and stops reported as ECS reports them (with the facts
//! moto cannot report filled through [`crate::emulator::EcsGaps`]).

use aws_sdk_ecs::types::{
    AwsVpcConfiguration, Compatibility, ContainerDefinition, LaunchType, LogConfiguration,
    LogDriver, NetworkConfiguration, NetworkMode, PortMapping, Tag as EcsTag,
};
use chrono::{DateTime, Utc};

use super::{
    APP_LOG_GROUP, CLUSTER, CONTAINER, LOG_STREAM_PREFIX, SERVICE, TARGET_GROUP, World, fail,
    sdk_fail,
};
use crate::HarnessError;
use crate::emulator::REGION;

/// The image the seeded world's task definitions run.
pub const SEED_IMAGE: &str = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/phoenix:1.4.2";

/// Registers a Fargate task definition of `family` running `image` in the app's container (port
/// 3000, awslogs to the app's log group); returns its ARN. The world and the scenarios' ECS model
/// register through here.
pub async fn register_task_definition(
    ecs: &aws_sdk_ecs::Client,
    family: &str,
    image: &str,
) -> Result<String, HarnessError> {
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
                .image(image)
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

pub(super) async fn run_task(
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
    /// cannot report (stop code, stop time, exit codes: see [`crate::emulator::EcsGaps`]), and returns the
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
