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

use std::collections::{BTreeMap, HashMap};

use aws_sdk_ecs::types::{AwsVpcConfiguration, LaunchType, NetworkConfiguration};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use phoenix_core::SdkConfig;
use serde_json::{Value, json};

use super::SimError;
use super::rng::SimRng;
use super::wire::ServiceView;
use crate::emulator::{EcsGaps, StoppedTaskFacts};
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

fn sdk_fail<E: std::error::Error + 'static, R: std::fmt::Debug>(
    what: &str,
    e: aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> SimError {
    SimError::Emulator(format!(
        "{what}: {}",
        aws_smithy_types::error::display::DisplayErrorContext(e)
    ))
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

    /// Tasks serving traffic now.
    pub fn serving(&self, now: DateTime<Utc>) -> u32 {
        u32::try_from(self.tasks.iter().filter(|t| t.serving(now)).count()).unwrap_or(0)
    }

    /// Serving tasks over `[from, to)`: (fewest at any moment, time-weighted average).
    pub fn serving_over(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> (u32, f64) {
        let span = (to - from).num_milliseconds().max(1) as f64;
        let mut level = self
            .timeline
            .iter()
            .take_while(|(t, _, _)| *t <= from)
            .last()
            .map(|(_, s, _)| *s)
            .unwrap_or_else(|| self.serving(from));
        let (mut fewest, mut weighted, mut at) = (level, 0.0, from);
        for (t, serving, _) in self
            .timeline
            .iter()
            .filter(|(t, _, _)| *t > from && *t < to)
        {
            weighted += f64::from(level) * (*t - at).num_milliseconds() as f64;
            level = *serving;
            fewest = fewest.min(level);
            at = *t;
        }
        weighted += f64::from(level) * (to - at).num_milliseconds() as f64;
        (fewest, weighted / span)
    }

    /// Tasks registered with the target group (running, healthy or not).
    pub fn registered(&self) -> u32 {
        u32::try_from(
            self.tasks
                .iter()
                .filter(|t| matches!(t.phase, Phase::Running { .. }))
                .count(),
        )
        .unwrap_or(0)
    }

    fn running(&self) -> i64 {
        i64::try_from(
            self.tasks
                .iter()
                .filter(|t| matches!(t.phase, Phase::Running { .. }))
                .count(),
        )
        .unwrap_or(0)
    }

    fn pending(&self) -> i64 {
        i64::try_from(
            self.tasks
                .iter()
                .filter(|t| matches!(t.phase, Phase::Pending { .. }))
                .count(),
        )
        .unwrap_or(0)
    }

    /// What DescribeServices answers now.
    pub fn view(&self) -> ServiceView {
        let deployments = self
            .deployments
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let of = |pending: bool| {
                    self.tasks
                        .iter()
                        .filter(|t| {
                            t.deployment == d.id
                                && if pending {
                                    matches!(t.phase, Phase::Pending { .. })
                                } else {
                                    matches!(t.phase, Phase::Running { .. })
                                }
                        })
                        .count()
                };
                json!({
                    "id": d.id,
                    "status": if i == 0 { "PRIMARY" } else { "ACTIVE" },
                    "taskDefinition": d.task_definition,
                    "desiredCount": if i == 0 { self.desired } else { 0 },
                    "pendingCount": of(true),
                    "runningCount": of(false),
                    "failedTasks": d.failed_tasks,
                    "createdAt": d.created_at.timestamp_millis() as f64 / 1000.0,
                    "updatedAt": d.updated_at.timestamp_millis() as f64 / 1000.0,
                    "launchType": "FARGATE",
                    "rolloutState": d.rollout.name(),
                    "rolloutStateReason": d.reason,
                })
            })
            .collect();
        ServiceView {
            running: self.running(),
            pending: self.pending(),
            task_definition: self.task_definition(),
            deployments,
        }
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

    fn deployment_event(
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

    async fn write_lines(&self, arn: &str, lines: &[String], now: DateTime<Utc>) {
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

    /// The next time something happens by itself (after the time the model has reached).
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        let now = self.clock;
        let mut due: Vec<DateTime<Utc>> = Vec::new();
        for task in &self.tasks {
            match &task.phase {
                Phase::Pending { until, .. } => due.push(*until),
                Phase::Running {
                    healthy_at,
                    crash_at,
                } => {
                    if *healthy_at > now {
                        due.push(*healthy_at);
                    }
                    if let Some(c) = crash_at {
                        due.push(*c);
                    }
                }
                Phase::Stopped => {}
            }
        }
        if let Some(at) = self.launch_at() {
            due.push(at);
        }
        due.into_iter().min()
    }

    fn primary_live(&self) -> i64 {
        let Some(primary) = self.primary() else {
            return 0;
        };
        i64::try_from(
            self.tasks
                .iter()
                .filter(|t| t.live() && t.deployment == primary.id)
                .count(),
        )
        .unwrap_or(0)
    }

    /// When the missing tasks will be launched, if the service is short and may launch.
    fn launch_at(&self) -> Option<DateTime<Utc>> {
        let primary = self.primary()?;
        if self.stuck || primary.rollout == Rollout::Failed || self.primary_live() >= self.desired {
            return None;
        }
        let since = self.short_since?;
        let at = since + self.settings.launch_after;
        Some(match self.throttled_until {
            Some(t) if t > at => t,
            _ => at,
        })
    }

    /// Moves the world to `now`: transitions, launches, deployments, in time order.
    pub async fn advance(&mut self, now: DateTime<Utc>) -> Result<(), SimError> {
        let mut guard = 0;
        while let Some(at) = self.next_due().filter(|at| *at <= now) {
            guard += 1;
            if guard > 10_000 {
                return Err(SimError::Scenario("the ECS model does not settle".into()));
            }
            let at = at.max(self.clock);
            self.clock = at;
            self.step(at).await?;
            self.reconcile(at).await?;
        }
        self.clock = self.clock.max(now);
        self.reconcile(self.clock).await?;
        self.note_timeline(self.clock);
        Ok(())
    }

    /// Task transitions due at `at`.
    async fn step(&mut self, at: DateTime<Utc>) -> Result<(), SimError> {
        let mut index = 0;
        while index < self.tasks.len() {
            let task = self.tasks[index].clone();
            match task.phase {
                Phase::Pending { until, fails } if until <= at => {
                    if fails {
                        self.stop(
                            at,
                            index,
                            Stop::FailedToStart {
                                image: task.image.clone(),
                            },
                        )
                        .await?;
                    } else {
                        let crash = match self.registry.get(image_tag(&task.image)) {
                            Some(Image::CrashesAfterStart { after, .. }) => Some(at + *after),
                            _ => None,
                        };
                        self.tasks[index].phase = Phase::Running {
                            healthy_at: at + self.settings.healthy_after,
                            crash_at: crash,
                        };
                        self.tasks[index].started_at = Some(at);
                        self.start_failures = 0;
                        self.throttled_until = None;
                    }
                }
                Phase::Running {
                    crash_at: Some(c), ..
                } if c <= at => {
                    if let Some(Image::CrashesAfterStart {
                        exit_code,
                        last_lines,
                        ..
                    }) = self.registry.get(image_tag(&task.image)).cloned()
                    {
                        self.write_lines(&task.arn, &last_lines, at).await;
                        self.stop(at, index, Stop::Crash { exit_code }).await?;
                    }
                }
                _ => {}
            }
            index += 1;
        }
        if let Some(at_launch) = self.launch_at()
            && at_launch <= at
        {
            self.launch_missing(at).await?;
        }
        self.note_timeline(at);
        Ok(())
    }

    async fn launch_missing(&mut self, now: DateTime<Utc>) -> Result<(), SimError> {
        let Some(primary) = self.primary().cloned() else {
            return Ok(());
        };
        let missing = self.desired - self.primary_live();
        if missing <= 0 {
            return Ok(());
        }
        let image = self
            .image_of(&primary.task_definition)
            .unwrap_or_default()
            .to_owned();
        let exists = self.image_exists(&image);
        let network = NetworkConfiguration::builder()
            .awsvpc_configuration(
                AwsVpcConfiguration::builder()
                    .set_subnets(Some(self.subnets.clone()))
                    .security_groups(&self.security_group)
                    .build()
                    .map_err(|e| SimError::Emulator(format!("awsvpc configuration: {e}")))?,
            )
            .build();
        let mut launched = Vec::new();
        for _ in 0..missing {
            let arn = self
                .ecs
                .run_task()
                .cluster(world::CLUSTER)
                .task_definition(&primary.task_definition)
                .launch_type(LaunchType::Fargate)
                .network_configuration(network.clone())
                .group(format!("service:{}", self.service))
                .started_by(&primary.id)
                .send()
                .await
                .map_err(|e| sdk_fail("ecs:RunTask", e))?
                .tasks()
                .first()
                .and_then(|t| t.task_arn())
                .map(str::to_owned)
                .ok_or_else(|| SimError::Emulator("ecs:RunTask started nothing".into()))?;
            launched.push(world::task_id(&arn).chars().take(8).collect::<String>());
            self.tasks.push(SimTask {
                arn,
                deployment: primary.id.clone(),
                task_definition: primary.task_definition.clone(),
                image: image.clone(),
                phase: Phase::Pending {
                    until: now
                        + if exists {
                            self.settings.pull_time
                        } else {
                            self.settings.pull_failure_after
                        },
                    fails: !exists,
                },
                launched_at: now,
                started_at: None,
            });
            self.launches += 1;
        }
        self.short_since = None;
        self.say(
            now,
            format!(
                "launched {} task(s) of {} ({})",
                launched.len(),
                image_tag(&image),
                launched.join(", ")
            ),
        );
        Ok(())
    }

    /// Counts, deployments and the circuit breaker at `now`.
    async fn reconcile(&mut self, now: DateTime<Utc>) -> Result<(), SimError> {
        let Some(primary) = self.primary().cloned() else {
            return Ok(());
        };
        // circuit breaker
        if primary.rollout == Rollout::InProgress && self.settings.circuit_breaker {
            let threshold = ((self.desired.max(0) as u32).div_ceil(2)).clamp(3, 200);
            if primary.failed_tasks >= threshold {
                self.fail_deployment(now, &primary, threshold).await?;
                return Box::pin(self.reconcile(now)).await;
            }
        }
        // deployment completion
        let serving_primary = self
            .tasks
            .iter()
            .filter(|t| t.deployment == primary.id && t.serving(now))
            .count() as i64;
        if primary.rollout == Rollout::InProgress && serving_primary >= self.desired {
            let old: Vec<usize> = (0..self.tasks.len())
                .filter(|i| self.tasks[*i].live() && self.tasks[*i].deployment != primary.id)
                .collect();
            for index in old.into_iter().rev() {
                self.stop(
                    now,
                    index,
                    Stop::Planned {
                        deployment: primary.id.clone(),
                    },
                )
                .await?;
            }
            self.deployments.truncate(1);
            if let Some(p) = self.deployments.first_mut() {
                p.rollout = Rollout::Completed;
                p.updated_at = now;
                p.reason = format!("ECS deployment {} completed.", p.id);
            }
            self.last_completed = self.deployments.first().cloned();
            self.say(now, format!("deployment {} COMPLETED", primary.id));
            self.deployment_event(
                now,
                "SERVICE_DEPLOYMENT_COMPLETED",
                "INFO",
                &primary.id,
                &format!("ECS deployment {} completed.", primary.id),
            );
        }
        // a rollout keeps at least `desired` healthy tasks (minimum healthy 100 %): old tasks
        // beyond what the new ones do not yet cover are stopped
        if primary.rollout == Rollout::InProgress {
            let keep = usize::try_from((self.desired - serving_primary).max(0)).unwrap_or(0);
            let mut old: Vec<usize> = (0..self.tasks.len())
                .filter(|i| self.tasks[*i].live() && self.tasks[*i].deployment != primary.id)
                .collect();
            if old.len() > keep {
                // the ones not serving go first
                old.sort_by_key(|i| self.tasks[*i].serving(now));
                let excess = old.len() - keep;
                let mut chosen: Vec<usize> = old.into_iter().take(excess).collect();
                chosen.sort_unstable();
                for index in chosen.into_iter().rev() {
                    self.stop(
                        now,
                        index,
                        Stop::Planned {
                            deployment: primary.id.clone(),
                        },
                    )
                    .await?;
                }
            }
        }
        // counts
        let live = self.primary_live();
        if live > self.desired {
            let mut extra: Vec<usize> = (0..self.tasks.len())
                .filter(|i| self.tasks[*i].live() && self.tasks[*i].deployment == primary.id)
                .collect();
            // pending ones first, then the newest
            extra.sort_by_key(|i| {
                (
                    matches!(self.tasks[*i].phase, Phase::Running { .. }),
                    std::cmp::Reverse(self.tasks[*i].launched_at),
                )
            });
            let excess = usize::try_from(live - self.desired).unwrap_or(0);
            let mut chosen: Vec<usize> = extra.into_iter().take(excess).collect();
            chosen.sort_unstable();
            for index in chosen.into_iter().rev() {
                self.stop(
                    now,
                    index,
                    Stop::Planned {
                        deployment: primary.id.clone(),
                    },
                )
                .await?;
            }
        }
        if self.primary_live() < self.desired {
            if self.short_since.is_none() {
                self.short_since = Some(now);
            }
        } else {
            self.short_since = None;
        }
        Ok(())
    }

    async fn fail_deployment(
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

    /// Stops task `index` in moto and records what ECS would say, then emits the event.
    async fn stop(&mut self, now: DateTime<Utc>, index: usize, how: Stop) -> Result<(), SimError> {
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
