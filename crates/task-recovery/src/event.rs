// pure: parses and bounds the trigger from a loose JSON envelope; no I/O, no clock (now is passed in).
//! The triggers, parsed strictly from a loose envelope and checked before anything uses them:
//!
//! * EventBridge `ECS Task State Change` (STOPPED) → [`Trigger::TaskStopped`];
//! * EventBridge `ECS Deployment State Change` and `ECS Service Action` that report a problem →
//!   [`Trigger::ServiceEvent`] (informational ones, such as steady state, are ignored here);
//! * the SQS re-check queue (this function's own delayed messages) → [`Trigger::Rechecks`].
//!
//! Every field read is bounded and checked: the event's `account` and `region` and the full
//! cluster ARN must be the configured cluster's; task, service and task definition ARNs must be in
//! that account, region and cluster; times must lie within a day before `now` and a quarter of an
//! hour after it; strings have maximum lengths. Anything else is a reason to ignore the event
//! (`NotOurs`), never an error and never a panic: [`parse`] is total.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::Value;

pub use crate::facts::{ContainerExit, StopCode, StopFacts};

use crate::arn::{
    ClusterArn, QueueRef, TaskDefinitionRef, is_name, service_name_in, shown, task_id_in,
};
use crate::recheck::{Recheck, is_event_id};

/// An event older than this is stale: EventBridge stops retrying after 24 hours.
pub const MAX_EVENT_AGE: Duration = Duration::hours(24);
/// Clock skew tolerated for a time in the future.
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(15);
/// Longest free text kept from an event (stopped reasons, ECS's reasons).
pub const TEXT_MAX_CHARS: usize = 1_024;
/// Most containers in one task (ECS allows 10 per task definition).
const CONTAINERS_MAX: usize = 100;
/// Largest `overrides` replayed on a replacement (ECS caps container overrides at 8 KiB).
const OVERRIDES_MAX_BYTES: usize = 16 * 1_024;
/// ECS event names that report normal operation.
const INFORMATIONAL: &[&str] = &[
    "SERVICE_STEADY_STATE",
    "TASKSET_STEADY_STATE",
    "CAPACITY_PROVIDER_STEADY_STATE",
    "SERVICE_DESIRED_COUNT_UPDATED",
    "SERVICE_DEPLOYMENT_IN_PROGRESS",
    "SERVICE_DEPLOYMENT_COMPLETED",
    "TASKS_STOPPED",
];
/// Most SQS records handled in one invocation (the event source mapping's batch is 1).
const RECORDS_MAX: usize = 100;

phoenix_core::string_enum! {
    /// `detail.eventType` of ECS service and deployment events.
    pub enum EventLevel {
        Info = "INFO",
        Warn = "WARN",
        Error = "ERROR",
    }
}

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
            Some(("service", name)) if is_name(name) => Self::Service(name.to_owned()),
            Some(("family", name)) if is_name(name) => Self::Family(name.to_owned()),
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

/// A STOPPED task of the configured cluster, as the event describes it, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct StoppedTask {
    pub event_id: String,
    pub region: String,
    pub cluster_arn: String,
    pub cluster_name: String,
    pub task_arn: String,
    pub task_id: String,
    pub group: TaskGroup,
    /// `detail.taskDefinitionArn` (same account and region as the cluster), when present.
    pub task_definition: Option<TaskDefinitionRef>,
    /// `detail.version`: ECS increments it on every change of the task.
    pub version: i64,
    pub facts: StopFacts,
    /// Dropped when it does not fit before the stop (then the lifetime is unknown).
    pub started_at: Option<DateTime<Utc>>,
    /// `detail.stoppedAt` (or the event's `time`), within a day before `now`.
    pub stopped_at: DateTime<Utc>,
    pub launch_type: Option<String>,
    pub capacity_provider: Option<String>,
    pub platform_version: Option<String>,
    /// `detail.overrides`, replayed on a replacement (bounded in size).
    pub overrides: Value,
}

impl StoppedTask {
    /// `family:revision` of the task definition.
    pub fn task_definition(&self) -> String {
        self.task_definition
            .as_ref()
            .map(TaskDefinitionRef::short)
            .unwrap_or_else(|| "(unknown)".to_owned())
    }

    /// How long the task lived (started → stopped), when known.
    pub fn lifetime(&self) -> Option<Duration> {
        Some(self.stopped_at.signed_duration_since(self.started_at?))
    }
}

/// Which kind of ECS service event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceEventSource {
    /// `ECS Deployment State Change`.
    Deployment,
    /// `ECS Service Action`.
    ServiceAction,
}

/// A problem ECS reports about one of the cluster's services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEvent {
    pub event_id: String,
    pub region: String,
    pub cluster_name: String,
    pub source: ServiceEventSource,
    pub level: EventLevel,
    /// `SERVICE_DEPLOYMENT_FAILED`, `SERVICE_TASK_PLACEMENT_FAILURE`, ...
    pub name: String,
    pub service: String,
    pub deployment_id: Option<String>,
    /// The reason ECS gave (bounded).
    pub reason: String,
    pub at: DateTime<Utc>,
}

impl ServiceEvent {
    /// A circuit-breaker rollback starting (an `INFO` event people should still hear about).
    pub fn is_rollback(&self) -> bool {
        self.reason.to_ascii_lowercase().contains("rolling back")
    }
}

/// One SQS record: its message id and the re-check it carries, or why it is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecheckDelivery {
    pub message_id: String,
    pub recheck: Result<Recheck, NotOurs>,
}

/// What started this invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    TaskStopped(Box<StoppedTask>),
    ServiceEvent(ServiceEvent),
    Rechecks(Vec<RecheckDelivery>),
}

/// Why an event is not ours (the Outcome's `ignored`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotOurs(pub String);

/// What an event is checked against.
#[derive(Debug, Clone)]
pub struct Scope<'a> {
    pub cluster: &'a ClusterArn,
    pub recheck_queue: &'a QueueRef,
    pub now: DateTime<Utc>,
}

#[derive(Deserialize)]
struct Envelope {
    id: Option<String>,
    #[serde(rename = "detail-type")]
    detail_type: Option<String>,
    source: Option<String>,
    account: Option<String>,
    region: Option<String>,
    time: Option<DateTime<Utc>>,
    #[serde(default)]
    resources: Vec<String>,
    detail: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskDetail {
    cluster_arn: String,
    task_arn: String,
    last_status: String,
    group: Option<String>,
    task_definition_arn: Option<String>,
    version: Option<i64>,
    stop_code: Option<String>,
    stopped_reason: Option<String>,
    #[serde(default)]
    containers: Vec<ContainerDetail>,
    started_at: Option<DateTime<Utc>>,
    stopped_at: Option<DateTime<Utc>>,
    launch_type: Option<String>,
    capacity_provider_name: Option<String>,
    platform_version: Option<String>,
    overrides: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerDetail {
    name: Option<String>,
    exit_code: Option<i64>,
    reason: Option<String>,
    image: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServiceDetail {
    event_type: Option<String>,
    event_name: String,
    cluster_arn: Option<String>,
    deployment_id: Option<String>,
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SqsRecord {
    message_id: Option<String>,
    body: Option<String>,
    event_source: Option<String>,
    #[serde(rename = "eventSourceARN")]
    event_source_arn: Option<String>,
}

/// The event id of any EventBridge-shaped payload (for logs), if it has a sane one.
pub fn event_id(payload: &Value) -> Option<&str> {
    payload
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| is_event_id(id))
}

fn ignore<T>(why: impl Into<String>) -> Result<T, NotOurs> {
    Err(NotOurs(why.into()))
}

/// Free text we did not write, bounded.
pub fn bounded_text(text: &str) -> String {
    phoenix_core::text::truncate_chars(text, TEXT_MAX_CHARS)
}

/// A short technical token (launch type, platform version, ...): letters, digits, `._-`.
fn token(field: &str, value: Option<String>) -> Result<Option<String>, NotOurs> {
    match value {
        None => Ok(None),
        Some(v)
            if (1..=64).contains(&v.len())
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) =>
        {
            Ok(Some(v))
        }
        Some(v) => ignore(format!("malformed ECS event: {field} {}", shown(&v))),
    }
}

/// A time from an event, within a day before `now` and a little after it.
pub fn check_time(
    what: &str,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, NotOurs> {
    let oldest = now.checked_sub_signed(MAX_EVENT_AGE).unwrap_or(now);
    let newest = now.checked_add_signed(MAX_CLOCK_SKEW).unwrap_or(now);
    if at < oldest {
        return ignore(format!(
            "stale event: {what} {} is more than {} h before now",
            at.to_rfc3339(),
            MAX_EVENT_AGE.num_hours()
        ));
    }
    if at > newest {
        return ignore(format!(
            "{what} {} lies more than {} min in the future",
            at.to_rfc3339(),
            MAX_CLOCK_SKEW.num_minutes()
        ));
    }
    Ok(at)
}

/// Parses the invocation's payload; `Err` says why it is not ours.
pub fn parse(payload: &Value, scope: &Scope<'_>) -> Result<Trigger, NotOurs> {
    if let Some(records) = payload.get("Records") {
        return parse_records(records, scope).map(Trigger::Rechecks);
    }
    let envelope: Envelope = serde_json::from_value(payload.clone())
        .map_err(|e| NotOurs(format!("not an EventBridge event: {e}")))?;
    if envelope.source.as_deref() != Some("aws.ecs") {
        return ignore(format!(
            "not an ECS event (source {})",
            shown(envelope.source.as_deref().unwrap_or(""))
        ));
    }
    let detail_type = envelope.detail_type.clone().unwrap_or_default();
    let event_id = envelope
        .id
        .clone()
        .filter(|id| is_event_id(id))
        .ok_or_else(|| NotOurs("malformed ECS event: no valid event id".into()))?;
    let (cluster, now) = (scope.cluster, scope.now);
    if envelope.account.as_deref() != Some(cluster.account.as_str())
        || envelope.region.as_deref() != Some(cluster.region.as_str())
    {
        return ignore(format!(
            "event of account {} in region {}, not the cluster's ({} in {})",
            shown(envelope.account.as_deref().unwrap_or("")),
            shown(envelope.region.as_deref().unwrap_or("")),
            cluster.account,
            cluster.region
        ));
    }
    match detail_type.as_str() {
        "ECS Task State Change" => {
            parse_task(envelope, event_id, cluster, now).map(|t| Trigger::TaskStopped(Box::new(t)))
        }
        "ECS Deployment State Change" => parse_service_event(
            envelope,
            event_id,
            ServiceEventSource::Deployment,
            cluster,
            now,
        )
        .map(Trigger::ServiceEvent),
        "ECS Service Action" => parse_service_event(
            envelope,
            event_id,
            ServiceEventSource::ServiceAction,
            cluster,
            now,
        )
        .map(Trigger::ServiceEvent),
        other => ignore(format!(
            "not an ECS event this function handles ({})",
            shown(other)
        )),
    }
}

fn check_cluster(cluster: &ClusterArn, cluster_arn: &str) -> Result<(), NotOurs> {
    let parsed = ClusterArn::parse(cluster_arn)
        .map_err(|why| NotOurs(format!("malformed ECS event: cluster {why}")))?;
    if &parsed != cluster {
        return ignore(format!(
            "task of cluster {}, not {cluster}",
            shown(cluster_arn)
        ));
    }
    Ok(())
}

fn parse_task(
    envelope: Envelope,
    event_id: String,
    cluster: &ClusterArn,
    now: DateTime<Utc>,
) -> Result<StoppedTask, NotOurs> {
    let detail: TaskDetail = serde_json::from_value(envelope.detail.unwrap_or(Value::Null))
        .map_err(|e| NotOurs(format!("malformed ECS event detail: {e}")))?;
    if detail.last_status != "STOPPED" {
        return ignore(format!(
            "task is {}, not STOPPED",
            shown(&detail.last_status)
        ));
    }
    check_cluster(cluster, &detail.cluster_arn)?;
    let task_id = task_id_in(cluster, &detail.task_arn)
        .map_err(|why| NotOurs(format!("malformed ECS event: {why}")))?;
    let group = TaskGroup::parse(detail.group.as_deref().unwrap_or_default());
    if let TaskGroup::Other(other) = &group
        && other.chars().count() > 255
    {
        return ignore("malformed ECS event: group longer than 255 characters");
    }
    let task_definition = detail
        .task_definition_arn
        .as_deref()
        .map(|arn| TaskDefinitionRef::parse(cluster, arn))
        .transpose()
        .map_err(|why| NotOurs(format!("malformed ECS event: {why}")))?;
    if detail.containers.len() > CONTAINERS_MAX {
        return ignore(format!(
            "malformed ECS event: more than {CONTAINERS_MAX} containers"
        ));
    }
    let mut containers = Vec::with_capacity(detail.containers.len());
    for c in detail.containers {
        let name = c.name.unwrap_or_default();
        if !is_name(&name) {
            return ignore(format!(
                "malformed ECS event: container name {}",
                shown(&name)
            ));
        }
        if c.image.as_ref().is_some_and(|i| i.chars().count() > 1_024) {
            return ignore("malformed ECS event: container image longer than 1024 characters");
        }
        containers.push(ContainerExit {
            name,
            exit_code: c.exit_code,
            reason: c.reason.as_deref().map(bounded_text),
            image: c.image,
        });
    }
    let overrides = detail.overrides.unwrap_or(Value::Null);
    if serde_json::to_vec(&overrides).map_or(usize::MAX, |v| v.len()) > OVERRIDES_MAX_BYTES {
        return ignore(format!(
            "malformed ECS event: overrides larger than {} KiB",
            OVERRIDES_MAX_BYTES / 1_024
        ));
    }
    let version = detail.version.unwrap_or(0);
    if version < 0 {
        return ignore("malformed ECS event: negative version");
    }
    let stopped_at = detail
        .stopped_at
        .or(envelope.time)
        .ok_or_else(|| NotOurs("malformed ECS event: no stoppedAt and no time".into()))?;
    let stopped_at = check_time("stoppedAt", stopped_at, now)?;
    // A start after the stop, or more than a year before it, is not believed: lifetime unknown.
    let started_at = detail.started_at.filter(|started| {
        *started <= stopped_at && stopped_at.signed_duration_since(*started) <= Duration::days(366)
    });
    Ok(StoppedTask {
        event_id,
        region: cluster.region.clone(),
        cluster_arn: cluster.to_string(),
        cluster_name: cluster.name.clone(),
        task_arn: detail.task_arn,
        task_id,
        group,
        task_definition,
        version,
        facts: StopFacts {
            stop_code: detail.stop_code.as_deref().map(StopCode::from),
            stopped_reason: bounded_text(detail.stopped_reason.as_deref().unwrap_or_default()),
            containers,
        },
        started_at,
        stopped_at,
        launch_type: token("launchType", detail.launch_type)?,
        capacity_provider: token("capacityProviderName", detail.capacity_provider_name)?,
        platform_version: token("platformVersion", detail.platform_version)?,
        overrides,
    })
}

fn parse_service_event(
    envelope: Envelope,
    event_id: String,
    source: ServiceEventSource,
    cluster: &ClusterArn,
    now: DateTime<Utc>,
) -> Result<ServiceEvent, NotOurs> {
    let detail: ServiceDetail = serde_json::from_value(envelope.detail.unwrap_or(Value::Null))
        .map_err(|e| NotOurs(format!("malformed ECS event detail: {e}")))?;
    if let Some(arn) = &detail.cluster_arn {
        check_cluster(cluster, arn)?;
    }
    let [resource] = envelope.resources.as_slice() else {
        return ignore("malformed ECS event: expected exactly one service ARN in resources");
    };
    let service = service_name_in(cluster, resource)
        .map_err(|why| NotOurs(format!("not this cluster's service: {why}")))?;
    let at = envelope
        .time
        .ok_or_else(|| NotOurs("malformed ECS event: no time".into()))?;
    let at = check_time("time", at, now)?;
    let name = detail.event_name;
    if !(1..=100).contains(&name.len()) || !name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
    {
        return ignore(format!("malformed ECS event: eventName {}", shown(&name)));
    }
    let deployment_id = match detail.deployment_id {
        Some(id) if is_event_id(&id) => Some(id),
        Some(id) => return ignore(format!("malformed ECS event: deploymentId {}", shown(&id))),
        None => None,
    };
    let event = ServiceEvent {
        event_id,
        region: cluster.region.clone(),
        cluster_name: cluster.name.clone(),
        source,
        level: EventLevel::from(detail.event_type.as_deref().unwrap_or("")),
        name,
        service,
        deployment_id,
        reason: bounded_text(detail.reason.as_deref().unwrap_or_default()),
        at,
    };
    // Steady state, desired count updates, deployments starting and completing: nothing to tell
    // (whatever level an event of these names claims); a rollback starting is told.
    let informational =
        event.level == EventLevel::Info || INFORMATIONAL.contains(&event.name.as_str());
    if informational && !event.is_rollback() {
        return ignore(format!(
            "informational ECS event {} of service {}: nothing to report",
            event.name, event.service
        ));
    }
    Ok(event)
}

fn parse_records(records: &Value, scope: &Scope<'_>) -> Result<Vec<RecheckDelivery>, NotOurs> {
    let records: Vec<SqsRecord> = serde_json::from_value(records.clone())
        .map_err(|e| NotOurs(format!("not an SQS event: {e}")))?;
    if records.is_empty() {
        return ignore("an SQS event without records");
    }
    if records.len() > RECORDS_MAX {
        return ignore(format!(
            "an SQS batch of {} records (the re-check queue's batch size is 1)",
            records.len()
        ));
    }
    if records
        .iter()
        .any(|r| r.event_source.as_deref() != Some("aws:sqs"))
    {
        return ignore("not an SQS event (a record's eventSource is not aws:sqs)");
    }
    Ok(records
        .into_iter()
        .map(|record| {
            let message_id = record
                .message_id
                .filter(|id| is_event_id(id))
                .unwrap_or_else(|| "(no message id)".to_owned());
            let recheck = match (record.event_source_arn.as_deref(), record.body.as_deref()) {
                (Some(arn), _) if !scope.recheck_queue.is_source(arn) => Err(NotOurs(format!(
                    "message from queue {}, not the re-check queue {}",
                    shown(arn),
                    scope.recheck_queue.name
                ))),
                (None, _) => Err(NotOurs("SQS record without eventSourceARN".into())),
                (_, None) => Err(NotOurs("SQS record without a body".into())),
                (_, Some(body)) => Recheck::parse(body, scope.cluster, scope.now).map_err(NotOurs),
            };
            RecheckDelivery {
                message_id,
                recheck,
            }
        })
        .collect())
}
