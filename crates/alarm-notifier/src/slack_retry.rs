// pure: the Slack retry rule; times and budgets are passed in, nothing is slept here
//! When to try Slack again, and for how long: 2xx is delivered; **429** waits `Retry-After`
//! (1 s when absent); **5xx** and connection failures back off 250 ms, 500 ms, ... capped at
//! 4 s (6 attempts; 3 when Slack cannot be reached at all); any **other 4xx** is final at once,
//! with what it means for the person reading the error. Whatever would outlive the time left
//! gives up, with the reason. The webhook adapter (`deliver.rs`) sleeps; this module decides.

use std::time::Duration;

/// Attempts at most per Slack message (the time left usually ends it first).
pub const MAX_ATTEMPTS: u32 = 6;
/// Attempts when Slack cannot be reached at all (connection refused, DNS, TLS, timeout).
pub const MAX_UNREACHABLE_ATTEMPTS: u32 = 3;
/// First backoff after a 5xx or a connection failure; doubled each time, capped.
pub const BACKOFF_BASE: Duration = Duration::from_millis(250);
pub const BACKOFF_CAP: Duration = Duration::from_secs(4);
/// Waited after a 429 that names no Retry-After.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// What Slack answered to one POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlackReply {
    /// An HTTP answer: status, `Retry-After` (seconds), body (Slack's error code, e.g. `no_service`).
    Answer {
        status: u16,
        retry_after: Option<Duration>,
        body: String,
    },
    /// No HTTP answer (connection refused, timeout, TLS...): what went wrong.
    Unreachable(String),
}

/// What to do after one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    Delivered,
    /// Try again after this wait.
    RetryAfter(Duration),
    /// Stop: the invocation fails with this explanation (and is retried, then parked in the DLQ).
    GiveUp(String),
}

/// What a Slack error body means, for the person reading the error.
fn slack_meaning(status: u16, body: &str) -> &'static str {
    match body.trim() {
        "no_service" | "no_team" => "the webhook was revoked or its channel deleted",
        "channel_not_found" => "the channel was deleted",
        "channel_is_archived" => "the channel is archived",
        "invalid_token" | "invalid_auth" => "the webhook URL is not valid any more",
        "action_prohibited" => "an admin restricted posting to this channel",
        "posting_to_general_channel_denied" => "only admins may post to this channel",
        "team_disabled" => "the Slack workspace is disabled",
        "invalid_payload" | "no_text" | "too_many_attachments" => {
            "Slack refused the message format"
        }
        _ => match status {
            404 => "the webhook or its channel is gone",
            401 | 403 => "the webhook is not allowed to post",
            _ => "Slack refused the message",
        },
    }
}

fn backoff(attempt: u32) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(8);
    BACKOFF_BASE.saturating_mul(factor).min(BACKOFF_CAP)
}

/// The retry rule. `attempt` counts from 1; `time_left` is what remains of the budget for
/// Slack. 2xx is delivered; 429 waits `Retry-After`; 5xx and unreachable back off (capped);
/// any other status is final. Whatever would outlive the budget gives up, with the reason.
pub fn after_attempt(attempt: u32, reply: &SlackReply, time_left: Duration) -> NextStep {
    let (wait, what) = match reply {
        SlackReply::Answer { status, .. } if (200..300).contains(status) => {
            return NextStep::Delivered;
        }
        SlackReply::Answer {
            status: 429,
            retry_after,
            ..
        } => {
            let wait = retry_after.unwrap_or(DEFAULT_RETRY_AFTER);
            (
                wait,
                format!(
                    "Slack rate-limited the webhook (429, Retry-After {} s)",
                    wait.as_secs()
                ),
            )
        }
        SlackReply::Answer { status, body, .. } if *status >= 500 => (
            backoff(attempt),
            format!("Slack answered {status} {}", body.trim()),
        ),
        SlackReply::Answer { status, body, .. } => {
            return NextStep::GiveUp(format!(
                "Slack webhook answered {status} {}: {} — the message was NOT delivered",
                body.trim(),
                slack_meaning(*status, body)
            ));
        }
        SlackReply::Unreachable(why) => {
            if attempt >= MAX_UNREACHABLE_ATTEMPTS {
                return NextStep::GiveUp(format!(
                    "Slack webhook unreachable after {attempt} attempts: {why}"
                ));
            }
            (
                backoff(attempt),
                format!("Slack webhook unreachable: {why}"),
            )
        }
    };
    if attempt >= MAX_ATTEMPTS {
        return NextStep::GiveUp(format!("{what}; gave up after {attempt} attempts"));
    }
    if wait >= time_left {
        return NextStep::GiveUp(format!(
            "{what}; waiting {} ms would outlive the invocation ({} ms left) after {attempt} attempt(s)",
            wait.as_millis(),
            time_left.as_millis()
        ));
    }
    NextStep::RetryAfter(wait)
}
