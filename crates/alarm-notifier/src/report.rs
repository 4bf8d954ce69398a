// pure: builds the Outcome from what was seen, decided and done; no I/O, no clock
//! Report: the Outcome (what was seen, decided and done, per message and per channel), or the
//! retryable error when a channel could not be delivered — never a silent success. Secrets
//! never appear: a Slack action names the secret's ARN and the webhook's host only.

use chrono::{DateTime, Utc};
use phoenix_core::{Action, ActionStatus, Outcome, RetryableError};
use serde_json::{Value, json};

use crate::decide::{Acted, Channel, Decision, Delivery, MessagePlan, Observed, Seen, overall};
use crate::event::Incoming;

/// The function's name in every Outcome.
pub const FUNCTION: &str = "alarm-notifier";

/// Where each channel's action points (the Outcome's `target`).
#[derive(Debug, Clone, Copy)]
pub struct Targets<'a> {
    /// The Slack webhook is named by its secret's ARN, never by its URL.
    pub slack_secret_arn: &'a str,
    pub oncall_topic_arn: &'a str,
}

/// Everything about one message.
#[derive(Debug, Clone)]
pub struct MessageRun {
    pub incoming: Incoming,
    pub observed: Observed,
    pub plan: MessagePlan,
    pub acted: Acted,
}

fn channel_action(
    channel: Channel,
    delivery: &Delivery,
    targets: Targets<'_>,
    now: DateTime<Utc>,
) -> Action {
    let target = match channel {
        Channel::Slack => targets.slack_secret_arn,
        Channel::Oncall => targets.oncall_topic_arn,
    };
    let (status, detail) = match delivery {
        Delivery::Sent { detail, .. } => (ActionStatus::Done, detail.clone()),
        Delivery::Skipped(skip) => (ActionStatus::Skipped, skip.describe(now)),
        Delivery::WouldSend => (ActionStatus::DryRun, "rendered, not sent".to_owned()),
        Delivery::WouldSkip(skip) => (
            ActionStatus::DryRun,
            format!("would not send: {}", skip.describe(now)),
        ),
        Delivery::Failed { why } => (ActionStatus::Failed, why.clone()),
    };
    Action::new(channel.call(), target, status).detail(detail)
}

fn seen_json(seen: &Option<Seen>) -> Value {
    match seen {
        None => json!("no identity: not guarded"),
        Some(Seen::Free) => json!("free"),
        Some(Seen::Mine) => json!("held by an earlier attempt of this invocation"),
        Some(Seen::Done { at, note }) => json!({"done_at": at, "note": note}),
        Some(Seen::Held { at, by }) => json!({"held_since": at, "by": by}),
        Some(Seen::Unreadable { why, retryable }) => {
            json!({"unreadable": why, "retryable": retryable})
        }
    }
}

fn observed_json(run: &MessageRun, dry_run: bool) -> Value {
    let plan = &run.plan;
    let rendered = &plan.rendered;
    // The full rendering in a dry run (that is what a dry run is for); otherwise its subject
    // and sizes, so the Outcome line stays small.
    let rendering = if dry_run {
        json!({"subject": rendered.subject, "text": rendered.text, "slack": rendered.slack})
    } else {
        json!({
            "subject": rendered.subject,
            "text_chars": rendered.text.chars().count(),
            "slack_blocks": rendered.slack["blocks"].as_array().map_or(0, Vec::len)
                + rendered.slack["attachments"][0]["blocks"].as_array().map_or(0, Vec::len),
        })
    };
    let ledger: serde_json::Map<String, Value> = Channel::ALL
        .iter()
        .zip(&run.observed.seen)
        .map(|(channel, seen)| (channel.name().to_owned(), seen_json(seen)))
        .collect();
    json!({
        "kind": plan.kind,
        "what": plan.what,
        "via": run.incoming.via.name(),
        "id": run.incoming.via.id(),
        "severity": rendered.severity,
        "headline": rendered.headline,
        "lasted_seconds": plan.lasted.map(|d| d.num_seconds()),
        "alarm_start_problem": run.observed.alarm_start_problem,
        "identity": plan.identity,
        "ledger": ledger,
        "rendered": rendering,
    })
}

/// The Outcome of a handled event, or the error that makes Lambda retry it.
pub fn report(
    event_id: Option<&str>,
    dry_run: bool,
    runs: &[MessageRun],
    targets: Targets<'_>,
    now: DateTime<Utc>,
) -> Result<Outcome, RetryableError> {
    let mut outcome = Outcome::handled(FUNCTION, event_id, dry_run);
    let mut decisions = Vec::new();
    let mut reasons = Vec::new();
    let mut failed = false;
    for run in runs {
        let deliveries: Vec<Delivery> = run
            .acted
            .deliveries
            .iter()
            .map(|(_, d)| d.clone())
            .collect();
        let decision = Decision::of(&deliveries);
        reasons.push(decision.reason(&run.plan.what, &run.acted.deliveries));
        decisions.push(decision);
        for (channel, delivery) in &run.acted.deliveries {
            outcome.action(channel_action(*channel, delivery, targets, now));
            failed |= matches!(delivery, Delivery::Failed { .. });
        }
        for action in &run.acted.actions {
            outcome.action(action.clone());
        }
    }
    if failed {
        // Never a silent success: the event is retried (what was delivered is in the ledger
        // and is not sent twice), then parked in the dead-letter queue.
        let also: Vec<String> = outcome
            .actions
            .iter()
            .filter(|a| a.status == ActionStatus::Failed && a.call.starts_with("dynamodb:"))
            .filter_map(|a| a.detail.clone())
            .collect();
        let also = if also.is_empty() {
            String::new()
        } else {
            format!(" (also: {})", also.join("; "))
        };
        return Err(RetryableError(format!(
            "{FUNCTION} could not deliver {}: {}{also}",
            event_id.unwrap_or("the message"),
            reasons.join("; ")
        )));
    }
    let observed =
        json!({"messages": runs.iter().map(|r| observed_json(r, dry_run)).collect::<Vec<_>>()});
    Ok(outcome
        .decided(overall(&decisions).name(), reasons.join("; "))
        .observed(observed))
}
