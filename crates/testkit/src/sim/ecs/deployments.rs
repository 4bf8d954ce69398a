//! Deployments: desired counts, new deployments (a task definition or `forceNewDeployment`),
//! their ECS Deployment State Change events, and the circuit breaker's failure and rollback.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::sim::SimError;

use super::{Deployment, Ecs, Rollout, Stop, image_tag, time};

impl Ecs {
    /// UpdateService(desiredCount) by anyone.
    pub fn set_desired(&mut self, now: DateTime<Utc>, desired: i64) {
        if desired != self.desired {
            self.say(now, format!("desiredCount {} → {desired}", self.desired));
            self.desired = desired;
            self.note_timeline(now);
        }
    }

    /// A new deployment of `task_definition` (UpdateService with a new task definition, or
    /// `forceNewDeployment`).
    pub fn deploy(&mut self, now: DateTime<Utc>, task_definition: &str, why: &str) {
        let id = format!(
            "ecs-svc/{}",
            self.rng.next_u64() % 10_000_000_000_000_000_000
        );
        if let Some(primary) = self.deployments.first_mut() {
            primary.updated_at = now;
        }
        let deployment = Deployment {
            id: id.clone(),
            task_definition: task_definition.to_owned(),
            rollout: Rollout::InProgress,
            failed_tasks: 0,
            created_at: now,
            updated_at: now,
            reason: format!("ECS deployment {id} in progress."),
        };
        // Deployments that failed and have no live task are gone.
        let tasks = &self.tasks;
        self.deployments.retain(|d| {
            d.rollout != Rollout::Failed || tasks.iter().any(|t| t.live() && t.deployment == d.id)
        });
        self.deployments.insert(0, deployment);
        self.stuck = false;
        self.start_failures = 0;
        self.throttled_until = None;
        self.short_since = None;
        let image = self.image_of(task_definition).unwrap_or("?").to_owned();
        self.say(
            now,
            format!(
                "deployment {id} started ({why}): {} tasks of {}",
                self.desired,
                image_tag(&image)
            ),
        );
        self.deployment_event(
            now,
            "SERVICE_DEPLOYMENT_IN_PROGRESS",
            "INFO",
            &id,
            &format!("ECS deployment {id} in progress."),
        );
    }

    /// The primary deployment again (`forceNewDeployment`).
    pub fn force_new_deployment(&mut self, now: DateTime<Utc>) {
        let definition = self.task_definition();
        self.deploy(now, &definition, "forceNewDeployment");
    }

    pub(super) fn deployment_event(
        &mut self,
        now: DateTime<Utc>,
        name: &str,
        kind: &str,
        id: &str,
        reason: &str,
    ) {
        let base = crate::fixtures::fixtures_starting_with("ecs-deployment")
            .into_iter()
            .next()
            .map(|(_, v)| v);
        let mut event = base.unwrap_or_else(|| {
            json!({"version": "0", "detail-type": "ECS Deployment State Change", "source": "aws.ecs", "detail": {}})
        });
        event["id"] = self.rng.uuid().into();
        event["account"] = self.account.clone().into();
        event["region"] = self.region.clone().into();
        event["time"] = now.format("%Y-%m-%dT%H:%M:%SZ").to_string().into();
        event["resources"] = json!([self.service_arn]);
        event["detail"] = json!({
            "eventType": kind,
            "eventName": name,
            "deploymentId": id,
            "updatedAt": time(now),
            "reason": reason,
        });
        self.events.push(event);
    }

    pub(super) async fn fail_deployment(
        &mut self,
        now: DateTime<Utc>,
        failed: &Deployment,
        threshold: u32,
    ) -> Result<(), SimError> {
        if let Some(p) = self.deployments.first_mut() {
            p.rollout = Rollout::Failed;
            p.updated_at = now;
            p.reason = "ECS deployment circuit breaker: tasks failed to start.".into();
        }
        self.say(
            now,
            format!(
                "deployment circuit breaker: {} tasks of {} failed (threshold {threshold}): deployment FAILED",
                failed.failed_tasks, failed.id
            ),
        );
        self.deployment_event(
            now,
            "SERVICE_DEPLOYMENT_FAILED",
            "ERROR",
            &failed.id,
            "ECS deployment circuit breaker: task failed to start.",
        );
        let live: Vec<usize> = (0..self.tasks.len())
            .filter(|i| self.tasks[*i].live() && self.tasks[*i].deployment == failed.id)
            .collect();
        for index in live.into_iter().rev() {
            self.stop(
                now,
                index,
                Stop::Planned {
                    deployment: failed.id.clone(),
                },
            )
            .await?;
        }
        let Some(previous) = self
            .last_completed
            .clone()
            .filter(|_| self.settings.rollback)
            .filter(|p| p.id != failed.id)
        else {
            return Ok(());
        };
        let id = format!(
            "ecs-svc/{}",
            self.rng.next_u64() % 10_000_000_000_000_000_000
        );
        let reason = format!(
            "ECS deployment circuit breaker: rolling back to deploymentId {}.",
            previous.id
        );
        // The rollback runs the last completed task definition; its tasks still running carry on.
        for task in &mut self.tasks {
            if task.live() && task.task_definition == previous.task_definition {
                task.deployment = id.clone();
            }
        }
        self.deployments.retain(|d| d.id != previous.id);
        self.deployments.insert(
            0,
            Deployment {
                id: id.clone(),
                task_definition: previous.task_definition.clone(),
                rollout: Rollout::InProgress,
                failed_tasks: 0,
                created_at: now,
                updated_at: now,
                reason: reason.clone(),
            },
        );
        self.start_failures = 0;
        self.throttled_until = None;
        self.say(
            now,
            format!(
                "rolling back to {} ({})",
                previous.id,
                image_tag(self.image_of(&previous.task_definition).unwrap_or("?"))
            ),
        );
        self.deployment_event(now, "SERVICE_DEPLOYMENT_IN_PROGRESS", "INFO", &id, &reason);
        Ok(())
    }
}
