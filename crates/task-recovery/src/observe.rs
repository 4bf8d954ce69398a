//! Reads ECS and CloudWatch Logs. Thin adapters: no policy here, only translation of AWS answers
//! into plain data for the planner ([`crate::decide`]) and the report.

use aws_sdk_ecs::types::{DesiredStatus, Task, TaskField};
use chrono::{DateTime, Utc};
use phoenix_core::AwsFailure;
use serde::Serialize;

use crate::event::{ContainerExit, StopCode, StopFacts, StoppedTask, TaskGroup, bounded_text};

/// Who phoenix-ops says started a replacement (RunTask `startedBy`).
pub const STARTED_BY: &str = "phoenix-ops";
/// Tag on a replacement naming the task it replaces.
pub const REPLACES_TAG: &str = "phoenix-ops:replaces";
/// Service event messages kept (DescribeServices lists the newest first).
const SERVICE_MESSAGES: usize = 3;

/// One deployment of a service, as DescribeServices lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentState {
    pub id: String,
    /// `PRIMARY`, `ACTIVE` or `INACTIVE`.
    pub status: String,
    /// `family:revision`.
    pub task_definition: String,
    /// `IN_PROGRESS`, `COMPLETED`, `FAILED` (circuit breaker), when ECS says.
    pub rollout_state: Option<String>,
    pub rollout_reason: Option<String>,
    pub desired: i32,
    pub running: i32,
    pub failed_tasks: i32,
}

/// A service as DescribeServices shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceState {
    pub name: String,
    pub status: String,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    pub deployments: Vec<DeploymentState>,
    /// The newest service event messages ("(service x) was unable to place a task ...").
    pub messages: Vec<String>,
}

impl ServiceState {
    /// `running 1 + pending 0 of desired 2`.
    pub fn counts(&self) -> String {
        format!(
            "running {} + pending {} of desired {}",
            self.running, self.pending, self.desired
        )
    }
}

/// A recent stop of a task of the same group (from ECS's list of STOPPED tasks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecentStop {
    pub task_arn: String,
    pub facts: StopFacts,
    pub stopped_at: Option<DateTime<Utc>>,
}

/// What was read from AWS before deciding about a stopped task.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Observed {
    /// The task's service (service tasks only; `None` when not found).
    pub service: Option<ServiceState>,
    /// Recent STOPPED tasks of the same group.
    pub recent_stops: Vec<RecentStop>,
    /// A task phoenix-ops already started to replace this one (standalone tasks only).
    pub replacement: Option<String>,
    /// Why ECS could not be read (a final error: access denied, ...); nothing is decided on
    /// half a picture.
    pub problem: Option<String>,
}

/// The dead container's last log lines (as written: the report redacts them), or why missing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Diagnosis {
    pub log_group: Option<String>,
    pub log_stream: Option<String>,
    pub lines: Vec<String>,
    /// Why no lines could be read (never fatal).
    pub problem: Option<String>,
}

fn to_chrono(t: &aws_sdk_ecs::primitives::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

fn short_task_definition(arn: &str) -> String {
    arn.rsplit('/').next().unwrap_or(arn).to_owned()
}

/// The service's counts, deployments and newest messages; `None` when ECS does not know it.
pub async fn service_state(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
) -> Result<Option<ServiceState>, AwsFailure> {
    let out = ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .map_err(|e| AwsFailure::from_sdk("ecs:DescribeServices", service, &e))?;
    Ok(out.services().first().map(|s| ServiceState {
        name: s.service_name().unwrap_or(service).to_owned(),
        status: s.status().unwrap_or("UNKNOWN").to_owned(),
        desired: s.desired_count(),
        running: s.running_count(),
        pending: s.pending_count(),
        deployments: s
            .deployments()
            .iter()
            .map(|d| DeploymentState {
                id: d.id().unwrap_or_default().to_owned(),
                status: d.status().unwrap_or_default().to_owned(),
                task_definition: short_task_definition(d.task_definition().unwrap_or_default()),
                rollout_state: d.rollout_state().map(|r| r.as_str().to_owned()),
                rollout_reason: d.rollout_state_reason().map(bounded_text),
                desired: d.desired_count(),
                running: d.running_count(),
                failed_tasks: d.failed_tasks(),
            })
            .collect(),
        messages: s
            .events()
            .iter()
            .take(SERVICE_MESSAGES)
            .filter_map(|e| e.message().map(bounded_text))
            .collect(),
    }))
}

/// What ECS says about a task's stop.
pub fn stop_facts(task: &Task) -> StopFacts {
    StopFacts {
        stop_code: task.stop_code().map(|c| StopCode::from(c.as_str())),
        stopped_reason: bounded_text(task.stopped_reason().unwrap_or_default()),
        containers: task
            .containers()
            .iter()
            .map(|c| ContainerExit {
                name: c.name().unwrap_or_default().to_owned(),
                exit_code: c.exit_code().map(i64::from),
                reason: c.reason().map(bounded_text),
                image: c.image().map(str::to_owned),
            })
            .collect(),
    }
}

async fn describe(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: Vec<String>,
    with_tags: bool,
) -> Result<Vec<Task>, AwsFailure> {
    if arns.is_empty() {
        return Ok(Vec::new());
    }
    let mut request = ecs.describe_tasks().cluster(cluster).set_tasks(Some(arns));
    if with_tags {
        request = request.include(TaskField::Tags);
    }
    let out = request
        .send()
        .await
        .map_err(|e| AwsFailure::from_sdk("ecs:DescribeTasks", cluster, &e))?;
    Ok(out.tasks().to_vec())
}

/// Recently STOPPED tasks of the same group (ECS keeps them about an hour; one page of 100).
pub async fn recent_stops(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    group: &TaskGroup,
) -> Result<Vec<RecentStop>, AwsFailure> {
    let mut request = ecs
        .list_tasks()
        .cluster(cluster)
        .desired_status(DesiredStatus::Stopped)
        .max_results(100);
    request = match group {
        TaskGroup::Service(name) => request.service_name(name),
        TaskGroup::Family(name) => request.family(name),
        TaskGroup::Other(_) => return Ok(Vec::new()),
    };
    let wanted = group.as_group();
    let arns = request
        .send()
        .await
        .map_err(|e| AwsFailure::from_sdk("ecs:ListTasks", &wanted, &e))?
        .task_arns()
        .to_vec();
    Ok(describe(ecs, cluster, arns, false)
        .await?
        .iter()
        .filter(|t| t.group() == Some(wanted.as_str()))
        .map(|t| RecentStop {
            task_arn: t.task_arn().unwrap_or_default().to_owned(),
            facts: stop_facts(t),
            stopped_at: t.stopped_at().and_then(to_chrono),
        })
        .collect())
}

/// A task phoenix-ops already started to replace `task_id` (running or already stopped).
pub async fn replacement_of(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    family: &str,
    task_id: &str,
) -> Result<Option<String>, AwsFailure> {
    let mut arns = Vec::new();
    for status in [DesiredStatus::Running, DesiredStatus::Stopped] {
        let out = ecs
            .list_tasks()
            .cluster(cluster)
            .family(family)
            .started_by(STARTED_BY)
            .desired_status(status)
            .max_results(100)
            .send()
            .await
            .map_err(|e| AwsFailure::from_sdk("ecs:ListTasks", family, &e))?;
        arns.extend(out.task_arns().iter().cloned());
    }
    Ok(describe(ecs, cluster, arns, true)
        .await?
        .iter()
        .find_map(|t| {
            t.tags()
                .iter()
                .any(|tag| tag.key() == Some(REPLACES_TAG) && tag.value() == Some(task_id))
                .then(|| t.task_arn().unwrap_or_default().to_owned())
        }))
}

/// Everything the planner needs about a stopped task, read before anything is changed.
pub async fn stopped_task(
    ecs: &aws_sdk_ecs::Client,
    task: &StoppedTask,
    standalone_families: &[String],
) -> Result<Observed, AwsFailure> {
    let cluster = &task.cluster_arn;
    let mut observed = Observed {
        recent_stops: recent_stops(ecs, cluster, &task.group).await?,
        ..Observed::default()
    };
    match &task.group {
        TaskGroup::Service(name) => observed.service = service_state(ecs, cluster, name).await?,
        TaskGroup::Family(family) if standalone_families.contains(family) => {
            observed.replacement = replacement_of(ecs, cluster, family, &task.task_id).await?;
        }
        _ => {}
    }
    Ok(observed)
}

/// The dead container's last `lines` log lines (awslogs naming: prefix/container/task-id).
/// Never fails: a problem is reported in the Diagnosis.
pub async fn diagnose(
    ecs: &aws_sdk_ecs::Client,
    logs: &aws_sdk_cloudwatchlogs::Client,
    task: &StoppedTask,
    container: Option<&str>,
    lines: i32,
) -> Diagnosis {
    let mut diagnosis = Diagnosis::default();
    if lines == 0 {
        diagnosis.problem = Some("LOG_LINES is 0".into());
        return diagnosis;
    }
    let Some(task_definition) = &task.task_definition else {
        diagnosis.problem = Some("the event names no task definition".into());
        return diagnosis;
    };
    let definition = match ecs
        .describe_task_definition()
        .task_definition(&task_definition.arn)
        .send()
        .await
    {
        Ok(out) => out.task_definition,
        Err(e) => {
            diagnosis.problem = Some(
                AwsFailure::from_sdk("ecs:DescribeTaskDefinition", task_definition.short(), &e)
                    .to_string(),
            );
            return diagnosis;
        }
    };
    let containers = definition
        .as_ref()
        .map(|d| d.container_definitions())
        .unwrap_or_default();
    let chosen = container
        .and_then(|name| containers.iter().find(|c| c.name() == Some(name)))
        .or_else(|| containers.iter().find(|c| c.essential() == Some(true)))
        .or_else(|| containers.first());
    let Some(chosen) = chosen else {
        diagnosis.problem = Some(format!(
            "task definition {} has no containers",
            task_definition.short()
        ));
        return diagnosis;
    };
    let name = chosen.name().unwrap_or_default();
    let options = chosen.log_configuration().and_then(|l| {
        (l.log_driver().as_str() == "awslogs").then(|| l.options().cloned().unwrap_or_default())
    });
    let Some(options) = options else {
        diagnosis.problem = Some(format!("container {name} does not log with awslogs"));
        return diagnosis;
    };
    let (Some(group), Some(prefix)) = (
        options.get("awslogs-group"),
        options.get("awslogs-stream-prefix"),
    ) else {
        diagnosis.problem = Some(format!(
            "container {name}: awslogs-group or awslogs-stream-prefix not set"
        ));
        return diagnosis;
    };
    let stream = format!("{prefix}/{name}/{}", task.task_id);
    diagnosis.log_group = Some(group.clone());
    diagnosis.log_stream = Some(stream.clone());
    match logs
        .get_log_events()
        .log_group_name(group)
        .log_stream_name(&stream)
        .start_from_head(false)
        .limit(lines)
        .send()
        .await
    {
        Ok(out) => {
            diagnosis.lines = out
                .events()
                .iter()
                .filter_map(|e| e.message())
                .map(|m| m.trim_end().to_owned())
                .collect();
        }
        Err(e) => {
            diagnosis.problem =
                Some(AwsFailure::from_sdk("logs:GetLogEvents", &stream, &e).to_string())
        }
    }
    diagnosis
}
