//! Stopping tasks: a crash on request, the app's last log lines, and every stop as ECS
//! records it (stop code, reason, exit code) with its ECS Task State Change event.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::emulator::StoppedTaskFacts;
use crate::sim::SimError;
use crate::world;

use super::{Ecs, Phase, Rollout, Stop, image_tag, sdk_fail, time};

impl Ecs {
    /// A running task's process exits with `exit_code` now (`GET /crash` exits 1); `which` picks
    /// the task (default: the oldest serving one). Returns the task's ARN.
    pub async fn crash(
        &mut self,
        now: DateTime<Utc>,
        which: Option<&str>,
        exit_code: i32,
        last_lines: &[String],
    ) -> Result<String, SimError> {
        let index = self
            .tasks
            .iter()
            .position(|t| match which {
                Some(arn) => t.arn == arn && t.live(),
                None => t.serving(now),
            })
            .ok_or_else(|| SimError::Scenario("no running task to crash".into()))?;
        let arn = self.tasks[index].arn.clone();
        self.write_lines(&arn, last_lines, now).await;
        self.stop(now, index, Stop::Crash { exit_code }).await?;
        Ok(arn)
    }

    pub(super) async fn write_lines(&self, arn: &str, lines: &[String], now: DateTime<Utc>) {
        if lines.is_empty() {
            return;
        }
        let stream = format!(
            "{}/{}/{}",
            world::LOG_STREAM_PREFIX,
            world::CONTAINER,
            world::task_id(arn)
        );
        // A missing log never blocks the model (task-recovery reports it).
        let _ = world::write_log_lines(&self.logs, world::APP_LOG_GROUP, &stream, lines, now).await;
    }

    /// Stops task `index` in moto and records what ECS would say, then emits the event.
    pub(super) async fn stop(
        &mut self,
        now: DateTime<Utc>,
        index: usize,
        how: Stop,
    ) -> Result<(), SimError> {
        let task = self.tasks[index].clone();
        if !task.live() {
            return Ok(());
        }
        let started = task.started_at.is_some();
        let (code, reason, exit_code, container_reason) = match &how {
            Stop::Crash { exit_code } => (
                "EssentialContainerExited",
                "Essential container in task exited".to_owned(),
                Some(*exit_code),
                None,
            ),
            Stop::FailedToStart { image } => {
                let why = format!(
                    "CannotPullContainerError: pull image manifest has been retried 7 time(s): failed to resolve ref {image}: {image}: not found"
                );
                ("TaskFailedToStart", why.clone(), None, Some(why))
            }
            Stop::Planned { deployment } => (
                "ServiceSchedulerInitiated",
                format!("Scaling activity initiated by (deployment {deployment})"),
                Some(0),
                None,
            ),
        };
        self.ecs
            .stop_task()
            .cluster(world::CLUSTER)
            .task(&task.arn)
            .reason(&reason)
            .send()
            .await
            .map_err(|e| sdk_fail("ecs:StopTask", e))?;
        self.gaps.task_stopped(
            &task.arn,
            StoppedTaskFacts {
                stop_code: code.to_owned(),
                stopped_reason: reason.clone(),
                stopped_at: now,
                exit_code,
                container_reason: container_reason.clone(),
            },
        );
        self.tasks[index].phase = Phase::Stopped;
        let failed_before_serving = !task.serving(now) && !matches!(how, Stop::Planned { .. });
        if failed_before_serving
            && let Some(d) = self
                .deployments
                .iter_mut()
                .find(|d| d.id == task.deployment)
            && d.rollout == Rollout::InProgress
        {
            d.failed_tasks += 1;
        }
        if matches!(how, Stop::FailedToStart { .. }) {
            self.start_failures += 1;
            let steps = self.start_failures.saturating_sub(1).min(16);
            let wait =
                (self.settings.throttle_base * 2i32.pow(steps)).min(self.settings.throttle_max);
            self.throttled_until = Some(now + wait);
        }
        let id: String = world::task_id(&task.arn).chars().take(8).collect();
        self.say(
            now,
            match &how {
                Stop::Crash { exit_code } => {
                    format!("task {id} stopped: essential container exited {exit_code}")
                }
                Stop::FailedToStart { image } => format!(
                    "task {id} failed to start: CannotPullContainerError ({} not found)",
                    image_tag(image)
                ),
                Stop::Planned { deployment } => {
                    format!("task {id} stopped (planned, deployment {deployment})")
                }
            },
        );
        // the EventBridge event
        let mut event = crate::fixtures::try_fixture("ecs-task-stopped-crash.json")
            .map_err(|e| SimError::Scenario(e.to_string()))?;
        event["id"] = self.rng.uuid().into();
        event["account"] = self.account.clone().into();
        event["region"] = self.region.clone().into();
        event["time"] = now.format("%Y-%m-%dT%H:%M:%SZ").to_string().into();
        event["resources"] = json!([task.arn]);
        let detail = &mut event["detail"];
        detail["clusterArn"] = self.cluster_arn.clone().into();
        detail["taskArn"] = task.arn.clone().into();
        detail["group"] = format!("service:{}", self.service).into();
        detail["startedBy"] = task.deployment.clone().into();
        detail["taskDefinitionArn"] = task.task_definition.clone().into();
        detail["stopCode"] = code.into();
        detail["stoppedReason"] = reason.into();
        detail["createdAt"] = time(task.launched_at).into();
        detail["stoppingAt"] = time(now).into();
        detail["executionStoppedAt"] = time(now).into();
        detail["stoppedAt"] = time(now).into();
        detail["updatedAt"] = time(now).into();
        detail["version"] = if started { 6 } else { 4 }.into();
        if let (Some(object), Some(start)) = (detail.as_object_mut(), task.started_at) {
            object.insert("startedAt".into(), time(start).into());
        } else if let Some(object) = detail.as_object_mut() {
            object.remove("startedAt");
            object.remove("pullStoppedAt");
        }
        if let Some(container) = detail["containers"].get_mut(0) {
            container["taskArn"] = task.arn.clone().into();
            container["image"] = task.image.clone().into();
            if let Some(object) = container.as_object_mut() {
                match exit_code {
                    Some(code) => {
                        object.insert("exitCode".into(), code.into());
                    }
                    None => {
                        object.remove("exitCode");
                    }
                }
                if let Some(reason) = &container_reason {
                    object.insert("reason".into(), reason.clone().into());
                }
            }
        }
        self.events.push(event);
        self.note_timeline(now);
        Ok(())
    }
}
