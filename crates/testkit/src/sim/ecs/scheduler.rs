//! The scheduler over time: what is due next, launching missing tasks (with the start
//! throttle), task transitions, and reconciling counts, deployments and the circuit breaker.

use aws_sdk_ecs::types::{AwsVpcConfiguration, LaunchType, NetworkConfiguration};
use chrono::{DateTime, Utc};

use crate::sim::SimError;
use crate::world;

use super::{Ecs, Image, Phase, Rollout, SimTask, Stop, image_tag, sdk_fail};

impl Ecs {
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

    pub(super) fn primary_live(&self) -> i64 {
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
    pub(super) fn launch_at(&self) -> Option<DateTime<Utc>> {
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
    pub(super) async fn step(&mut self, at: DateTime<Utc>) -> Result<(), SimError> {
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

    pub(super) async fn launch_missing(&mut self, now: DateTime<Utc>) -> Result<(), SimError> {
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
    pub(super) async fn reconcile(&mut self, now: DateTime<Utc>) -> Result<(), SimError> {
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
}
