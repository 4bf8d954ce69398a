//! The Outcome: what every handler returns (and logs once): what it saw, what it decided and
//! why, what it did or would do in a dry run, and the Notice it raised.
//!
//! Irrelevant events give `{"function": "...", "ignored": "<why>"}`; bad manual input gives
//! `{"function": "...", "rejected": "<what is wrong>"}`. Both are successes for Lambda: a retry
//! cannot fix them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::metrics::Metric;
use crate::notice::Notice;

/// What happened to one intended action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// Done (or already done: an idempotent repeat).
    Done,
    /// Not done because this is a dry run.
    DryRun,
    /// Not needed or not allowed; `detail` says why.
    Skipped,
    /// Tried and failed with a final error; `detail` says how.
    Failed,
}

/// One AWS call the handler made or would make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// `service:Operation`.
    pub call: String,
    /// What it acts on.
    pub target: String,
    pub status: ActionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Action {
    pub fn new(call: &str, target: impl Into<String>, status: ActionStatus) -> Self {
        Self {
            call: call.to_owned(),
            target: target.into(),
            status,
            detail: None,
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// `Done`, or `DryRun` when nothing may change.
    pub fn done_or_dry(dry_run: bool) -> ActionStatus {
        if dry_run {
            ActionStatus::DryRun
        } else {
            ActionStatus::Done
        }
    }
}

/// Where the Notice went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum NoticeDelivery {
    /// Published; SNS message id.
    Published { message_id: String },
    /// Dry run: rendered, not sent.
    DryRun,
}

/// A handler's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub function: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// Set when the event is not ours to handle: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
    /// Set when a manual payload is invalid: what is wrong. Nothing was done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<String>,
    /// Set when the handler panicked (a defect): what the panic said. Reported as a final
    /// failure, since the same event would panic again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub panicked: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// What the handler read from AWS and the event (function-specific).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub observed: Value,
    /// The decision, as a short kebab-case name (`replace-standalone-task`, `scale-out`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    /// Why, with the numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<Notice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice_delivery: Option<NoticeDelivery>,
    /// Metrics to emit (as EMF log lines by the Lambda adapter); not part of the JSON answer.
    #[serde(skip)]
    pub metrics: Vec<Metric>,
}

impl Outcome {
    /// A handled event.
    pub fn handled(function: &str, event_id: Option<&str>, dry_run: bool) -> Self {
        Self {
            function: function.to_owned(),
            event_id: event_id.map(str::to_owned),
            ignored: None,
            rejected: None,
            panicked: None,
            dry_run,
            observed: Value::Null,
            decision: None,
            reason: None,
            actions: Vec::new(),
            notice: None,
            notice_delivery: None,
            metrics: Vec::new(),
        }
    }

    /// An event that is not ours: success, nothing done.
    pub fn ignored(function: &str, event_id: Option<&str>, why: impl Into<String>) -> Self {
        Self {
            ignored: Some(why.into()),
            ..Self::handled(function, event_id, false)
        }
    }

    /// A manual payload that is invalid: success for Lambda, nothing done, the reason returned.
    pub fn rejected(function: &str, event_id: Option<&str>, why: impl Into<String>) -> Self {
        Self {
            rejected: Some(why.into()),
            ..Self::handled(function, event_id, false)
        }
    }

    /// A handler that panicked: success for Lambda (no retry), the panic's message kept.
    pub fn panicked(function: &str, event_id: Option<&str>, message: &str) -> Self {
        Self {
            panicked: Some(message.to_owned()),
            ..Self::handled(function, event_id, false)
        }
    }

    pub fn decided(mut self, decision: impl Into<String>, reason: impl Into<String>) -> Self {
        self.decision = Some(decision.into());
        self.reason = Some(reason.into());
        self
    }

    pub fn observed(mut self, observed: Value) -> Self {
        self.observed = observed;
        self
    }

    pub fn action(&mut self, action: Action) {
        self.actions.push(action);
    }

    /// True when any action failed.
    pub fn has_failures(&self) -> bool {
        self.actions
            .iter()
            .any(|a| a.status == ActionStatus::Failed)
    }

    /// The Outcome as JSON.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// One line for humans: `decision: reason`, `ignored: why`, `rejected: why`, `panicked: …`.
    pub fn headline(&self) -> String {
        if let Some(why) = &self.ignored {
            return format!("ignored: {why}");
        }
        if let Some(why) = &self.rejected {
            return format!("rejected: {why}");
        }
        if let Some(what) = &self.panicked {
            return format!("panicked: {what}");
        }
        match (&self.decision, &self.reason) {
            (Some(decision), Some(reason)) => format!("{decision}: {reason}"),
            (Some(decision), None) => decision.clone(),
            _ => "handled".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ignored_outcomes_are_small() {
        let out = Outcome::ignored("task-recovery", Some("e1"), "not a STOPPED task");
        assert_eq!(
            out.to_json(),
            json!({"function": "task-recovery", "event_id": "e1", "ignored": "not a STOPPED task"})
        );
    }

    #[test]
    fn handled_outcomes_say_what_why_and_what_was_done() {
        let mut out = Outcome::handled("request-scaler", Some("e2"), true)
            .decided("scale-out", "1200 req/min needs 12 tasks, max 10")
            .observed(json!({"desired": 2}));
        out.action(
            Action::new(
                "ecs:UpdateService",
                "phoenix-service",
                Action::done_or_dry(true),
            )
            .detail("2 -> 10"),
        );
        assert!(!out.has_failures());
        assert_eq!(
            out.headline(),
            "scale-out: 1200 req/min needs 12 tasks, max 10"
        );
        assert_eq!(
            out.to_json(),
            json!({
                "function": "request-scaler", "event_id": "e2", "dry_run": true,
                "observed": {"desired": 2}, "decision": "scale-out",
                "reason": "1200 req/min needs 12 tasks, max 10",
                "actions": [{"call": "ecs:UpdateService", "target": "phoenix-service", "status": "dry_run", "detail": "2 -> 10"}]
            })
        );
        let back: Outcome = serde_json::from_value(out.to_json()).expect("round trip");
        assert_eq!(back, out);
    }
}
