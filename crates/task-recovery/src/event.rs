//! The trigger: an EventBridge `ECS Task State Change` event, parsed strictly from a loose
//! envelope. Anything that is not a STOPPED task of the configured cluster is a reason to ignore
//! the event, never an error.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::classify::{ContainerExit, StopCode, StopFacts};

/// Where a task belongs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskGroup {
    /// `service:NAME`: ECS's service scheduler owns it.
    Service(String),
    /// `family:NAME`: a standalone task (RunTask).
    Family(String),
    /// Any other group name (RunTask with a custom `group`).
    Other(String),
}

impl TaskGroup {
    pub fn parse(group: &str) -> Self {
        match group.split_once(':') {
            Some(("service", name)) if !name.is_empty() => Self::Service(name.to_owned()),
            Some(("family", name)) if !name.is_empty() => Self::Family(name.to_owned()),
            _ => Self::Other(group.to_owned()),
        }
    }

    pub fn as_group(&self) -> String {
        match self {
            Self::Service(name) => format!("service:{name}"),
            Self::Family(name) => format!("family:{name}"),
            Self::Other(group) => group.clone(),
        }
    }

    /// The service or family name (the group itself otherwise).
    pub fn name(&self) -> &str {
        match self {
            Self::Service(name) | Self::Family(name) | Self::Other(name) => name,
        }
    }
}

/// A STOPPED task, as the event describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoppedTask {
    pub event_id: String,
    pub region: String,
    pub cluster_arn: String,
    pub cluster_name: String,
    pub task_arn: String,
    pub task_id: String,
    pub group: TaskGroup,
    pub task_definition_arn: String,
    /// `detail.version`: ECS increments it on every change of the task.
    pub version: i64,
    pub facts: StopFacts,
    pub started_at: Option<DateTime<Utc>>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub launch_type: Option<String>,
    pub capacity_provider: Option<String>,
    pub platform_version: Option<String>,
    /// `detail.overrides`, replayed on a replacement.
    pub overrides: Value,
    pub started_by: Option<String>,
}

impl StoppedTask {
    /// `family:revision` of the task definition.
    pub fn task_definition(&self) -> &str {
        self.task_definition_arn
            .rsplit('/')
            .next()
            .unwrap_or(&self.task_definition_arn)
    }

    /// How long the task lived (started → stopped), when both are known.
    pub fn lifetime(&self) -> Option<chrono::Duration> {
        Some(self.stopped_at? - self.started_at?)
    }
}

/// Why an event is not ours (the Outcome's `ignored`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotOurs(pub String);

#[derive(Deserialize)]
struct Envelope {
    id: Option<String>,
    #[serde(rename = "detail-type")]
    detail_type: Option<String>,
    source: Option<String>,
    region: Option<String>,
    detail: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Detail {
    cluster_arn: String,
    task_arn: String,
    last_status: String,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    task_definition_arn: Option<String>,
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    stop_code: Option<String>,
    #[serde(default)]
    stopped_reason: Option<String>,
    #[serde(default)]
    containers: Vec<Container>,
    #[serde(default)]
    started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    stopped_at: Option<DateTime<Utc>>,
    #[serde(default)]
    launch_type: Option<String>,
    #[serde(default)]
    capacity_provider_name: Option<String>,
    #[serde(default)]
    platform_version: Option<String>,
    #[serde(default)]
    overrides: Option<Value>,
    #[serde(default)]
    started_by: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Container {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    exit_code: Option<i64>,
    #[serde(default)]
    reason: Option<String>,
}

/// The cluster name of a cluster ARN (or the name itself).
pub fn cluster_name(cluster: &str) -> &str {
    cluster.rsplit('/').next().unwrap_or(cluster)
}

/// The event id of any EventBridge-shaped payload (for logs), if it has one.
pub fn event_id(payload: &Value) -> Option<&str> {
    payload.get("id").and_then(Value::as_str)
}

/// Parses the event; `Err` says why it is not ours.
pub fn parse(payload: &Value, cluster: &str) -> Result<StoppedTask, NotOurs> {
    let not_ours = |why: String| NotOurs(why);
    let envelope: Envelope = serde_json::from_value(payload.clone())
        .map_err(|e| not_ours(format!("not an EventBridge event: {e}")))?;
    if envelope.detail_type.as_deref() != Some("ECS Task State Change")
        || envelope.source.as_deref() != Some("aws.ecs")
    {
        return Err(not_ours(format!(
            "not an ECS Task State Change event (detail-type {:?}, source {:?})",
            envelope.detail_type.as_deref().unwrap_or(""),
            envelope.source.as_deref().unwrap_or("")
        )));
    }
    let event_id = envelope
        .id
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| not_ours("malformed ECS event: no event id".into()))?;
    let detail: Detail = serde_json::from_value(envelope.detail.unwrap_or(Value::Null))
        .map_err(|e| not_ours(format!("malformed ECS event detail: {e}")))?;
    if detail.last_status != "STOPPED" {
        return Err(not_ours(format!(
            "task is {}, not STOPPED",
            detail.last_status
        )));
    }
    let name = cluster_name(&detail.cluster_arn).to_owned();
    if name != cluster_name(cluster) {
        return Err(not_ours(format!(
            "task of cluster {name}, not {}",
            cluster_name(cluster)
        )));
    }
    let task_id = detail
        .task_arn
        .split_once(":task/")
        .filter(|(head, _)| head.starts_with("arn:") && head.contains(":ecs:"))
        .and_then(|(_, rest)| rest.rsplit('/').next())
        .filter(|id| !id.is_empty())
        .ok_or_else(|| not_ours(format!("malformed task ARN {:?}", detail.task_arn)))?
        .to_owned();
    let group = TaskGroup::parse(detail.group.as_deref().unwrap_or_default());
    let containers = detail
        .containers
        .into_iter()
        .map(|c| ContainerExit {
            name: c.name.unwrap_or_default(),
            exit_code: c.exit_code,
            reason: c.reason,
        })
        .collect();
    Ok(StoppedTask {
        event_id,
        region: envelope.region.unwrap_or_default(),
        cluster_arn: detail.cluster_arn,
        cluster_name: name,
        task_arn: detail.task_arn,
        task_id,
        group,
        task_definition_arn: detail.task_definition_arn.unwrap_or_default(),
        version: detail.version.unwrap_or(0),
        facts: StopFacts {
            stop_code: detail.stop_code.as_deref().map(StopCode::from),
            stopped_reason: detail.stopped_reason.unwrap_or_default(),
            containers,
        },
        started_at: detail.started_at,
        stopped_at: detail.stopped_at,
        launch_type: detail.launch_type,
        capacity_provider: detail.capacity_provider_name,
        platform_version: detail.platform_version,
        overrides: detail.overrides.unwrap_or(Value::Null),
        started_by: detail.started_by,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crash() -> Value {
        serde_json::from_str(include_str!("../../../events/ecs-task-stopped-crash.json"))
            .expect("fixture")
    }

    #[test]
    fn a_stopped_service_task_is_parsed() {
        let task = parse(&crash(), "phoenix-cluster").expect("ours");
        assert_eq!(task.event_id, "00000000-0000-0000-5418-ad0d00000001");
        assert_eq!(task.task_id, "00000001c0ffee4b1a9e43e0a6d10001");
        assert_eq!(task.group, TaskGroup::Service("phoenix-service".into()));
        assert_eq!(task.version, 5);
        assert_eq!(task.task_definition(), "phoenix:7");
        assert_eq!(
            task.facts.stop_code,
            Some(StopCode::EssentialContainerExited)
        );
        assert_eq!(task.facts.containers[0].exit_code, Some(1));
        assert_eq!(task.lifetime().map(|d| d.num_seconds()), Some(4385));
        assert_eq!(task.capacity_provider.as_deref(), Some("FARGATE"));
    }

    #[test]
    fn the_cluster_may_be_configured_by_name_or_arn() {
        assert!(
            parse(
                &crash(),
                "arn:aws:ecs:eu-west-1:111122223333:cluster/phoenix-cluster"
            )
            .is_ok()
        );
        let other = parse(&crash(), "other-cluster").expect_err("not ours");
        assert_eq!(
            other.0,
            "task of cluster phoenix-cluster, not other-cluster"
        );
    }

    #[test]
    fn what_is_not_a_stopped_task_is_ignored_with_the_reason() {
        let running: Value =
            serde_json::from_str(include_str!("../../../events/ecs-task-running.json"))
                .expect("fixture");
        assert_eq!(
            parse(&running, "phoenix-cluster").expect_err("running").0,
            "task is RUNNING, not STOPPED"
        );
        let cases = [
            (json!([]), "not an EventBridge event"),
            (json!({}), "not an ECS Task State Change event"),
            (
                json!({"detail-type": "Scheduled Event", "source": "aws.events", "id": "x"}),
                "not an ECS Task State Change",
            ),
            (
                json!({"detail-type": "ECS Task State Change", "source": "aws.ecs", "id": "x"}),
                "malformed ECS event detail",
            ),
            (
                json!({"detail-type": "ECS Task State Change", "source": "aws.ecs", "id": "x", "detail": {"taskArn": 5}}),
                "malformed ECS event detail",
            ),
            (
                json!({"detail-type": "ECS Task State Change", "source": "aws.ecs", "detail": {}}),
                "malformed ECS event: no event id",
            ),
        ];
        for (payload, want) in cases {
            let why = parse(&payload, "phoenix-cluster").expect_err("ignored").0;
            assert!(why.starts_with(want), "{payload}: {why}");
        }
    }

    #[test]
    fn groups_are_typed() {
        assert_eq!(
            TaskGroup::parse("service:web"),
            TaskGroup::Service("web".into())
        );
        assert_eq!(
            TaskGroup::parse("family:worker"),
            TaskGroup::Family("worker".into())
        );
        assert_eq!(TaskGroup::parse("batch"), TaskGroup::Other("batch".into()));
        assert_eq!(
            TaskGroup::parse("service:"),
            TaskGroup::Other("service:".into())
        );
        assert_eq!(TaskGroup::Family("w".into()).as_group(), "family:w");
    }
}
