//! What ECS answers about the service: tasks serving and registered with the target group,
//! running and pending counts, and the DescribeServices view the [`crate::sim::wire::Wire`] serves.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::sim::wire::ServiceView;

use super::{Ecs, Phase};

impl Ecs {
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

    pub(super) fn running(&self) -> i64 {
        i64::try_from(
            self.tasks
                .iter()
                .filter(|t| matches!(t.phase, Phase::Running { .. }))
                .count(),
        )
        .unwrap_or(0)
    }

    pub(super) fn pending(&self) -> i64 {
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
}
