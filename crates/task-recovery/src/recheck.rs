// pure: the re-check message's wire form, built and checked; no I/O, no clock, no environment.
//! The durable "look again later": when ECS should replace a stopped service task, task-recovery
//! sends itself one SQS message with `DelaySeconds` (at most 900 s) to `RECHECK_QUEUE_URL`, and
//! handles it when it comes back (SQS event source mapping, batch size 1). Nothing waits inside
//! an invocation.
//!
//! The message says what to look at again and where the chain stands: the cluster, the service,
//! the stopped task that started the chain (and its event), attempt `n` of `N`, when it is due,
//! and whether a deployment was already forced. Anything else on the queue (a foreign or damaged
//! message) is ignored with its reason.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::arn::{ClusterArn, is_name, shown, task_id_in};

/// Marks (and versions) a re-check message.
pub const SCHEMA: &str = "phoenix-ops/recheck@1";
/// The longest delay SQS accepts on one message.
pub const MAX_DELAY_SECONDS: i64 = 900;
/// Most re-checks of one stop (`RECHECK_MAX_ATTEMPTS` is 2–10).
pub const MAX_ATTEMPTS: u32 = 10;
/// Largest message body accepted (ours are ~600 bytes).
const MAX_BODY_BYTES: usize = 4_096;
/// A re-check due longer ago than this is stale (SQS keeps messages 4 days by default).
const STALE_AFTER: Duration = Duration::hours(24);
/// A re-check due further ahead than this did not come from us.
const FURTHEST_AHEAD: Duration = Duration::hours(1);

/// One re-check of a service, after the stop of one of its tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recheck {
    pub schema: String,
    pub cluster_arn: String,
    pub service: String,
    /// The stopped task that started this chain of re-checks.
    pub task_arn: String,
    /// The `ECS Task State Change` event of that stop.
    pub event_id: String,
    /// What kind of stop it was (`crash`, `out-of-memory`, ...), for the wording.
    pub stop_kind: String,
    /// This is re-check `attempt` of `max_attempts` (1-based).
    pub attempt: u32,
    pub max_attempts: u32,
    /// When the service should be looked at.
    pub due_at: DateTime<Utc>,
    pub stopped_at: DateTime<Utc>,
    /// A deployment was already forced for this stop (by this chain or a concurrent one).
    pub forced: bool,
}

impl Recheck {
    /// The SQS message body.
    pub fn to_body(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The next look of the same chain, due at `due_at`.
    pub fn next(&self, due_at: DateTime<Utc>, forced: bool) -> Recheck {
        Recheck {
            attempt: self.attempt.saturating_add(1),
            due_at,
            forced: self.forced || forced,
            ..self.clone()
        }
    }

    /// The task id of the stopped task.
    pub fn task_id(&self) -> &str {
        self.task_arn.rsplit('/').next().unwrap_or(&self.task_arn)
    }

    /// Seconds SQS should hold the message: until `due_at`, within what SQS accepts.
    pub fn delay_seconds(&self, now: DateTime<Utc>) -> i32 {
        let seconds = (self.due_at - now)
            .num_seconds()
            .clamp(0, MAX_DELAY_SECONDS);
        i32::try_from(seconds).unwrap_or(0)
    }

    /// `attempt 2 of 3`.
    pub fn progress(&self) -> String {
        format!("attempt {} of {}", self.attempt, self.max_attempts)
    }

    /// Parses and checks a message body; `Err` says why it is not a re-check of ours.
    pub fn parse(body: &str, cluster: &ClusterArn, now: DateTime<Utc>) -> Result<Recheck, String> {
        if body.len() > MAX_BODY_BYTES {
            return Err(format!(
                "message body of {} bytes is not a re-check (at most {MAX_BODY_BYTES})",
                body.len()
            ));
        }
        let value: serde_json::Value =
            serde_json::from_str(body).map_err(|e| format!("message body is not JSON: {e}"))?;
        if value.get("schema").and_then(|s| s.as_str()) != Some(SCHEMA) {
            return Err(format!(
                "message is not a {SCHEMA} re-check (schema {})",
                value
                    .get("schema")
                    .map(|s| shown(&s.to_string()))
                    .unwrap_or_else(|| "missing".into())
            ));
        }
        let recheck: Recheck =
            serde_json::from_value(value).map_err(|e| format!("malformed re-check: {e}"))?;
        recheck.check(cluster, now)?;
        Ok(recheck)
    }

    fn check(&self, cluster: &ClusterArn, now: DateTime<Utc>) -> Result<(), String> {
        if self.cluster_arn != cluster.to_string() {
            return Err(format!(
                "re-check of cluster {}, not {cluster}",
                shown(&self.cluster_arn)
            ));
        }
        if !is_name(&self.service) {
            return Err(format!(
                "re-check names no valid service ({})",
                shown(&self.service)
            ));
        }
        task_id_in(cluster, &self.task_arn).map_err(|why| format!("re-check: {why}"))?;
        if !is_event_id(&self.event_id) || self.stop_kind.chars().count() > 64 {
            return Err("re-check with a malformed event id or stop kind".into());
        }
        if !(2..=MAX_ATTEMPTS).contains(&self.max_attempts)
            || !(1..=self.max_attempts).contains(&self.attempt)
        {
            return Err(format!(
                "re-check attempt {} of {} is out of range (1 ≤ n ≤ N, 2 ≤ N ≤ {MAX_ATTEMPTS})",
                self.attempt, self.max_attempts
            ));
        }
        let too_old = now.checked_sub_signed(STALE_AFTER).unwrap_or(now);
        let too_new = now.checked_add_signed(FURTHEST_AHEAD).unwrap_or(now);
        if self.due_at < too_old {
            return Err(format!(
                "stale re-check: due at {}, more than {} h ago",
                self.due_at.to_rfc3339(),
                STALE_AFTER.num_hours()
            ));
        }
        if self.due_at > too_new {
            return Err(format!(
                "re-check due at {}, more than {} h ahead: not one of ours",
                self.due_at.to_rfc3339(),
                FURTHEST_AHEAD.num_hours()
            ));
        }
        let earliest_stop = self
            .due_at
            .checked_sub_signed(STALE_AFTER)
            .unwrap_or(self.due_at);
        if self.stopped_at > self.due_at || self.stopped_at < earliest_stop {
            return Err("re-check whose stop time does not fit its due time".into());
        }
        Ok(())
    }
}

/// An EventBridge event id or similar: 1–128 visible characters.
pub fn is_event_id(text: &str) -> bool {
    (1..=128).contains(&text.chars().count())
        && text.chars().all(|c| !c.is_control() && !c.is_whitespace())
}
