//! Executes a plan's step in ECS. Thin adapters: the planner already decided.

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, ContainerOverride,
    KeyValuePair, LaunchType, NetworkConfiguration, PropagateTags, Tag, TaskOverride,
};
use phoenix_core::AwsFailure;
use phoenix_core::aws::FailureKind;
use serde_json::Value;

use crate::event::StoppedTask;
use crate::observe::{REPLACES_TAG, STARTED_BY};

/// Network settings for replacements (awsvpc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSettings {
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: bool,
}

/// UpdateService(forceNewDeployment). Never touches desiredCount.
pub async fn force_new_deployment(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
) -> Result<(), AwsFailure> {
    ecs.update_service()
        .cluster(cluster)
        .service(service)
        .force_new_deployment(true)
        .send()
        .await
        .map_err(|e| AwsFailure::from_sdk("ecs:UpdateService", service, &e))?;
    Ok(())
}

/// RunTask idempotency token: the EventBridge event id (ECS allows 64 characters).
pub fn client_token(event_id: &str) -> String {
    event_id.chars().take(64).collect()
}

fn strings(value: &Value) -> Option<Vec<String>> {
    value.as_array().map(|items| {
        items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect()
    })
}

fn int(value: &Value) -> Option<i32> {
    value.as_i64().and_then(|n| i32::try_from(n).ok())
}

/// The event's `overrides` as a RunTask override (container commands, environment, sizes, roles).
pub fn task_override(overrides: &Value) -> Option<TaskOverride> {
    if !overrides.is_object() {
        return None;
    }
    let containers = overrides["containerOverrides"].as_array().map(|list| {
        list.iter()
            .map(|c| {
                let environment = c["environment"].as_array().map(|vars| {
                    vars.iter()
                        .map(|v| {
                            KeyValuePair::builder()
                                .set_name(v["name"].as_str().map(str::to_owned))
                                .set_value(v["value"].as_str().map(str::to_owned))
                                .build()
                        })
                        .collect()
                });
                ContainerOverride::builder()
                    .set_name(c["name"].as_str().map(str::to_owned))
                    .set_command(strings(&c["command"]))
                    .set_environment(environment)
                    .set_cpu(int(&c["cpu"]))
                    .set_memory(int(&c["memory"]))
                    .set_memory_reservation(int(&c["memoryReservation"]))
                    .build()
            })
            .collect()
    });
    Some(
        TaskOverride::builder()
            .set_container_overrides(containers)
            .set_cpu(overrides["cpu"].as_str().map(str::to_owned))
            .set_memory(overrides["memory"].as_str().map(str::to_owned))
            .set_task_role_arn(overrides["taskRoleArn"].as_str().map(str::to_owned))
            .set_execution_role_arn(overrides["executionRoleArn"].as_str().map(str::to_owned))
            .build(),
    )
}

/// RunTask failures worth a retry (capacity and agent trouble pass).
fn run_task_failure_is_retryable(reason: &str) -> bool {
    reason.starts_with("RESOURCE")
        || reason.starts_with("AGENT")
        || reason.contains("capacity")
        || reason.contains("Capacity")
}

/// Starts a replacement of a standalone task: same task definition, launch type or capacity
/// provider, platform version, overrides and group; the configured network; tagged with the task
/// it replaces; the event id as idempotency token. Returns the new task's ARN.
pub async fn start_replacement(
    ecs: &aws_sdk_ecs::Client,
    task: &StoppedTask,
    network: &NetworkSettings,
) -> Result<String, AwsFailure> {
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(network.subnets.clone()))
        .set_security_groups(Some(network.security_groups.clone()))
        .assign_public_ip(if network.assign_public_ip {
            AssignPublicIp::Enabled
        } else {
            AssignPublicIp::Disabled
        })
        .build()
        .map_err(|e| construction("ecs:RunTask", &task.task_arn, e))?;
    let tag = |key: &str, value: &str| Tag::builder().key(key).value(value).build();
    let mut request = ecs
        .run_task()
        .cluster(&task.cluster_arn)
        .task_definition(&task.task_definition_arn)
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(vpc)
                .build(),
        )
        .group(task.group.as_group())
        .started_by(STARTED_BY)
        .client_token(client_token(&task.event_id))
        .tags(tag(REPLACES_TAG, &task.task_id))
        .tags(tag("phoenix-ops:event-id", &task.event_id))
        .propagate_tags(PropagateTags::TaskDefinition)
        .set_platform_version(task.platform_version.clone())
        .set_overrides(task_override(&task.overrides));
    // Keep a capacity provider choice (e.g. FARGATE_SPOT) when it differs from the launch type.
    let provider = task
        .capacity_provider
        .as_deref()
        .filter(|p| Some(*p) != task.launch_type.as_deref());
    request = match (provider, task.launch_type.as_deref()) {
        (Some(provider), _) => request.capacity_provider_strategy(
            CapacityProviderStrategyItem::builder()
                .capacity_provider(provider)
                .weight(1)
                .build()
                .map_err(|e| construction("ecs:RunTask", &task.task_arn, e))?,
        ),
        (None, Some(launch_type)) => request.launch_type(LaunchType::from(launch_type)),
        (None, None) => request,
    };
    let out = request
        .send()
        .await
        .map_err(|e| AwsFailure::from_sdk("ecs:RunTask", task.group.name(), &e))?;
    if let Some(arn) = out.tasks().first().and_then(|t| t.task_arn()) {
        return Ok(arn.to_owned());
    }
    let reason = out
        .failures()
        .first()
        .map(|f| {
            format!(
                "{} {}",
                f.reason().unwrap_or("unknown"),
                f.detail().unwrap_or_default()
            )
        })
        .unwrap_or_else(|| "no task and no failure returned".to_owned());
    let kind = if run_task_failure_is_retryable(&reason) {
        FailureKind::Capacity
    } else {
        FailureKind::Service
    };
    Err(AwsFailure::new(
        "ecs:RunTask",
        task.group.name(),
        kind,
        Some("RunTaskFailure"),
        reason.trim(),
        None,
    ))
}

fn construction(call: &str, resource: &str, err: impl std::fmt::Display) -> AwsFailure {
    AwsFailure::new(
        call,
        resource,
        FailureKind::Construction,
        None,
        err.to_string(),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn overrides_are_replayed() {
        let o = task_override(&json!({
            "containerOverrides": [{"name": "phoenix", "command": ["node", "worker.js"], "environment": [{"name": "MODE", "value": "batch"}], "memory": 1024}],
            "cpu": "512", "taskRoleArn": "arn:aws:iam::1:role/r"
        }))
        .expect("object");
        let c = &o.container_overrides()[0];
        assert_eq!(c.name(), Some("phoenix"));
        assert_eq!(c.command(), ["node", "worker.js"]);
        assert_eq!(c.environment()[0].value(), Some("batch"));
        assert_eq!(c.memory(), Some(1024));
        assert_eq!(
            (o.cpu(), o.task_role_arn()),
            (Some("512"), Some("arn:aws:iam::1:role/r"))
        );
        assert!(task_override(&Value::Null).is_none());
        assert!(
            task_override(&json!({"containerOverrides": "weird"})).is_some(),
            "odd shapes are skipped, not fatal"
        );
    }

    #[test]
    fn tokens_fit_ecs_limits() {
        assert_eq!(client_token(&"x".repeat(80)).len(), 64);
        assert_eq!(
            client_token("00000000-0000-0000-5418-ad0d00000006"),
            "00000000-0000-0000-5418-ad0d00000006"
        );
    }

    #[test]
    fn capacity_failures_are_retryable_others_final() {
        assert!(run_task_failure_is_retryable("RESOURCE:ENI"));
        assert!(run_task_failure_is_retryable("AGENT"));
        assert!(!run_task_failure_is_retryable("MISSING"));
    }
}
