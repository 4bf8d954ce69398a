//! The ECS service scheduler, for one service, over simulated time — what moto does not do.
//!
//! * **Counts.** When the primary deployment has fewer live tasks than `desiredCount`, the
//!   scheduler launches the missing ones after a short reaction time (`launch_after`); when it
//!   has more, it stops the extra ones ("Scaling activity initiated by (deployment …)"). A task
//!   pulls its image (`pull_time`), runs, and serves once the ALB health check passes
//!   (`healthy_after`). A stuck scheduler (a scenario's choice) launches nothing until a new
//!   deployment starts.
//! * **Images.** A task whose image does not exist stops `TaskFailedToStart`
//!   (`CannotPullContainerError … not found`) after `pull_failure_after`; repeated failures to
//!   start are throttled: the time between attempts grows up to 27 minutes, and a new task
//!   definition ends the throttle. Tasks that reach RUNNING and then crash are not throttled:
//!   ECS replaces them at once. An image may also crash after start (a bad build).
//! * **Deployments.** A new task definition or `forceNewDeployment` starts a deployment (IN_PROGRESS):
//!   new tasks are launched (maximum 200 %); old tasks are kept only as far as the new ones do not
//!   yet serve `desiredCount` (minimum healthy 100 %: a lower count during a rollout stops old
//!   tasks at once), and once the new ones serve, the rest are stopped as planned and the
//!   deployment COMPLETED. The deployment circuit breaker counts tasks of the
//!   deployment that stop before serving; at `max(3, min(200, ceil(desired / 2)))` the deployment
//!   FAILED and, with rollback, the last COMPLETED deployment's task definition is rolled out again.
//! * **Events.** Every stop is an `ECS Task State Change` (STOPPED) event shaped like
//!   `events/ecs-task-stopped-crash.json`, and every deployment state an `ECS Deployment State
//!   Change` event; both go to the EventBridge model (which applies the template's rules).
//!
//! It drives moto (RunTask in the group `service:NAME`, StopTask, RegisterTaskDefinition) and the
//! test kit's [`crate::emulator::EcsGaps`] (stop codes, stop times, exit codes), and tells the
//! [`super::wire::Wire`] what DescribeServices must answer (moto keeps one deployment and moves
//! `runningCount` only on UpdateService).
//!
//! Sources: service throttle logic
//! (<https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-throttle-logic.html>:
//! "incrementally increased up to a maximum of 27 minutes"; tasks stopped after RUNNING do not
//! throttle; a new task definition ends it); deployment circuit breaker
//! (<https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ServiceDeploymentCircuitBreaker.html>:
//! threshold 0.5 × desired, minimum 3, maximum 200; rollback to the last COMPLETED deployment);
//! deployment events (<https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_service_deployment_events.html>);
//! stopped task errors (<https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-error-codes.html>).
//! Guessed (AWS documents none): the reaction, pull, health and failure times, and the throttle's
//! steps (30 s doubling).

mod deployments;
mod scheduler;
mod stops;
mod view;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use phoenix_core::SdkConfig;
use serde_json::Value;

use super::rng::SimRng;
use super::{SimError, sdk_fail};
use crate::emulator::EcsGaps;
use crate::world::{self, World};

/// Times of the scheduler model.
#[derive(Debug, Clone, PartialEq)]
pub struct EcsSettings {
    /// From "short of tasks" to the launch.
    pub launch_after: Duration,
    /// From launch to RUNNING (image pull, container start).
    pub pull_time: Duration,
    /// From RUNNING to serving (ALB health checks: 2 × 10 s in the template, plus registration).
    pub healthy_after: Duration,
    /// From launch to STOPPED when the image does not exist.
    pub pull_failure_after: Duration,
    /// First throttle step after a failed start; doubles, capped at `throttle_max`.
    pub throttle_base: Duration,
    pub throttle_max: Duration,
    /// `DeploymentCircuitBreaker` (from the template).
    pub circuit_breaker: bool,
    pub rollback: bool,
}

impl Default for EcsSettings {
    fn default() -> Self {
        EcsSettings {
            launch_after: Duration::seconds(15),
            pull_time: Duration::seconds(25),
            healthy_after: Duration::seconds(20),
            pull_failure_after: Duration::seconds(30),
            throttle_base: Duration::seconds(30),
            throttle_max: Duration::minutes(27),
            circuit_breaker: true,
            rollback: true,
        }
    }
}

/// What an image does when a task runs it.
#[derive(Debug, Clone, PartialEq)]
pub enum Image {
    /// Starts and serves.
    Healthy,
    /// Starts, then its process exits with `exit_code` after `after`, writing `last_lines`.
    CrashesAfterStart {
        after: Duration,
        exit_code: i32,
        last_lines: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Pending {
        until: DateTime<Utc>,
        /// The image does not exist: the task stops at `until`.
        fails: bool,
    },
    Running {
        healthy_at: DateTime<Utc>,
        crash_at: Option<DateTime<Utc>>,
    },
    Stopped,
}

/// A task of the service.
#[derive(Debug, Clone, PartialEq)]
pub struct SimTask {
    pub arn: String,
    pub deployment: String,
    pub task_definition: String,
    pub image: String,
    phase: Phase,
    launched_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
}

impl SimTask {
    fn live(&self) -> bool {
        !matches!(self.phase, Phase::Stopped)
    }

    fn serving(&self, now: DateTime<Utc>) -> bool {
        matches!(self.phase, Phase::Running { healthy_at, .. } if healthy_at <= now)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rollout {
    InProgress,
    Completed,
    Failed,
}

impl Rollout {
    pub fn name(self) -> &'static str {
        match self {
            Rollout::InProgress => "IN_PROGRESS",
            Rollout::Completed => "COMPLETED",
            Rollout::Failed => "FAILED",
        }
    }
}

/// A deployment of the service (the first one is PRIMARY).
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    pub id: String,
    pub task_definition: String,
    pub rollout: Rollout,
    pub failed_tasks: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub reason: String,
}

/// How a task stops.
#[derive(Debug, Clone, PartialEq)]
enum Stop {
    Crash { exit_code: i32 },
    FailedToStart { image: String },
    Planned { deployment: String },
}

/// The scheduler of one service.
pub struct Ecs {
    pub settings: EcsSettings,
    ecs: aws_sdk_ecs::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    gaps: EcsGaps,
    account: String,
    region: String,
    cluster_arn: String,
    service_arn: String,
    service: String,
    subnets: Vec<String>,
    security_group: String,
    rng: SimRng,
    /// The service's desiredCount (mirrors UpdateService calls).
    pub desired: i64,
    tasks: Vec<SimTask>,
    deployments: Vec<Deployment>,
    registry: BTreeMap<String, Image>,
    definitions: HashMap<String, String>,
    stuck: bool,
    short_since: Option<DateTime<Utc>>,
    start_failures: u32,
    throttled_until: Option<DateTime<Utc>>,
    last_completed: Option<Deployment>,
    /// Events ECS sent (EventBridge), taken by the runner.
    events: Vec<Value>,
    /// What ECS did, for the narration.
    log: Vec<(DateTime<Utc>, String)>,
    /// Tasks launched so far.
    pub launches: u32,
    /// (time, serving tasks, desiredCount) at every change.
    pub timeline: Vec<(DateTime<Utc>, u32, i64)>,
    /// The time the model has reached.
    clock: DateTime<Utc>,
}

/// The image tag of an image URI (`…/phoenix:1.4.2` → `1.4.2`).
pub fn image_tag(image: &str) -> &str {
    image.rsplit_once(':').map(|(_, t)| t).unwrap_or(image)
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Ecs {
    /// The scheduler of the world's service, adopting its running tasks as the COMPLETED primary
    /// deployment; `image` is what the world's task definition runs.
    pub fn adopt(
        world: &World,
        sdk: &SdkConfig,
        settings: EcsSettings,
        seed: u64,
        image: &str,
        now: DateTime<Utc>,
    ) -> Ecs {
        let deployment = Deployment {
            id: "ecs-svc/5418839201746652011".to_owned(),
            task_definition: world.app_task_definition_arn.clone(),
            rollout: Rollout::Completed,
            failed_tasks: 0,
            created_at: now - Duration::hours(1),
            updated_at: now - Duration::hours(1),
            reason: "initial deployment".into(),
        };
        let tasks = world
            .service_task_arns
            .iter()
            .map(|arn| SimTask {
                arn: arn.clone(),
                deployment: deployment.id.clone(),
                task_definition: deployment.task_definition.clone(),
                image: image.to_owned(),
                phase: Phase::Running {
                    healthy_at: now - Duration::minutes(40),
                    crash_at: None,
                },
                launched_at: now - Duration::minutes(42),
                started_at: Some(now - Duration::minutes(41)),
            })
            .collect::<Vec<_>>();
        let desired = i64::try_from(tasks.len()).unwrap_or(0);
        let mut ecs = Ecs {
            settings,
            ecs: aws_sdk_ecs::Client::new(sdk),
            logs: aws_sdk_cloudwatchlogs::Client::new(sdk),
            gaps: world.gaps.clone(),
            account: world.account.clone(),
            region: world.region.clone(),
            cluster_arn: world.cluster_arn.clone(),
            service_arn: world.service_arn.clone(),
            service: world::SERVICE.to_owned(),
            subnets: world.subnets.clone(),
            security_group: world.security_group.clone(),
            rng: SimRng::new(seed),
            desired,
            tasks,
            deployments: vec![deployment.clone()],
            registry: BTreeMap::new(),
            definitions: HashMap::from([(world.app_task_definition_arn.clone(), image.to_owned())]),
            stuck: false,
            short_since: None,
            start_failures: 0,
            throttled_until: None,
            last_completed: Some(deployment),
            events: Vec::new(),
            log: Vec::new(),
            launches: 0,
            timeline: Vec::new(),
            clock: now,
        };
        ecs.note_timeline(now);
        ecs
    }

    /// ECR: an image tag now exists and behaves like this.
    pub fn push_image(&mut self, tag: &str, image: Image) {
        self.registry.insert(tag.to_owned(), image);
    }

    /// Whether an image URI exists in the registry.
    pub fn image_exists(&self, image: &str) -> bool {
        self.registry.contains_key(image_tag(image))
    }

    /// The scheduler stops (or resumes) replacing tasks; a new deployment resumes it.
    pub fn set_stuck(&mut self, stuck: bool) {
        self.stuck = stuck;
    }

    /// Registers a revision of the app's task definition running `image`; returns its ARN.
    pub async fn register_revision(&mut self, image: &str) -> Result<String, SimError> {
        let arn = world::register_task_definition(&self.ecs, world::APP_FAMILY, image)
            .await
            .map_err(|e| SimError::Emulator(e.to_string()))?;
        self.definitions.insert(arn.clone(), image.to_owned());
        Ok(arn)
    }

    /// A task definition already registered for an image tag (the primary's first): what a
    /// CloudFormation rollback goes back to instead of registering a new revision.
    pub fn definition_with_tag(&self, tag: &str) -> Option<String> {
        let primary = self.task_definition();
        if self.image_of(&primary).map(image_tag) == Some(tag) {
            return Some(primary);
        }
        let mut found: Vec<&String> = self
            .definitions
            .iter()
            .filter(|(_, image)| image_tag(image) == tag)
            .map(|(arn, _)| arn)
            .collect();
        found.sort();
        found.first().map(|arn| (*arn).clone())
    }

    /// The image a task definition runs (as registered).
    pub fn image_of(&self, task_definition: &str) -> Option<&str> {
        self.definitions.get(task_definition).map(String::as_str)
    }

    fn primary(&self) -> Option<&Deployment> {
        self.deployments.first()
    }

    /// The primary deployment's task definition.
    pub fn task_definition(&self) -> String {
        self.primary()
            .map(|d| d.task_definition.clone())
            .unwrap_or_default()
    }

    /// The primary deployment's rollout state.
    pub fn rollout(&self) -> Option<Rollout> {
        self.primary().map(|d| d.rollout)
    }

    /// Events ECS sent since the last call.
    pub fn take_events(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.events)
    }

    /// What ECS did since the last call.
    pub fn take_log(&mut self) -> Vec<(DateTime<Utc>, String)> {
        std::mem::take(&mut self.log)
    }

    fn say(&mut self, at: DateTime<Utc>, text: impl Into<String>) {
        self.log.push((at, text.into()));
    }

    fn note_timeline(&mut self, now: DateTime<Utc>) {
        let serving = self.serving(now);
        if self
            .timeline
            .last()
            .is_none_or(|(_, s, d)| *s != serving || *d != self.desired)
        {
            self.timeline.push((now, serving, self.desired));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_tags_are_the_part_after_the_last_colon() {
        assert_eq!(
            image_tag("1.dkr.ecr.eu-west-1.amazonaws.com/phoenix:1.4.2"),
            "1.4.2"
        );
        assert_eq!(image_tag("repo:none"), "none");
        assert_eq!(image_tag("plain"), "plain");
    }
}
