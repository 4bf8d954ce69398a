//! The notifier's rules, pure: when to retry Slack and for how long, how long an alarm lasted,
//! and when a delivery is a repeat. No I/O, no clock: times and budgets are passed in.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::input::{Alarm, AlarmState};

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

/// How long the alarm that just ended lasted, when known: an OK (or INSUFFICIENT_DATA) after
/// ALARM, from the previous state's start in the event (EventBridge), else from the ALARM this
/// container delivered (`remembered_start`).
pub fn alarm_lasted(
    alarm: &Alarm,
    remembered_start: Option<DateTime<Utc>>,
) -> Option<chrono::Duration> {
    if alarm.state == AlarmState::Alarm || alarm.previous != Some(AlarmState::Alarm) {
        return None;
    }
    let start = alarm.previous_since.or(remembered_start)?;
    let end = alarm.changed_at?;
    let lasted = end - start;
    (lasted >= chrono::Duration::zero()).then_some(lasted)
}

/// A delivery is a repeat when any of its keys was delivered within the window before `now`.
pub fn is_repeat(
    delivered_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    window: chrono::Duration,
) -> bool {
    delivered_at.is_some_and(|at| now - at <= window && at - now <= window)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{AlarmKind, parse_time};

    const MS: fn(u64) -> Duration = Duration::from_millis;
    const S: fn(u64) -> Duration = Duration::from_secs;

    fn answer(status: u16, retry_after: Option<u64>, body: &str) -> SlackReply {
        SlackReply::Answer {
            status,
            retry_after: retry_after.map(S),
            body: body.into(),
        }
    }

    #[test]
    fn slack_retries_follow_the_rule() {
        use NextStep::*;
        let cases: &[(u32, SlackReply, Duration, NextStep)] = &[
            (1, answer(200, None, "ok"), S(10), Delivered),
            (1, answer(429, Some(1), "rate_limited"), S(10), RetryAfter(S(1))),
            (1, answer(429, None, "rate_limited"), S(10), RetryAfter(S(1))),
            (2, answer(429, Some(30), "rate_limited"), S(10), GiveUp("Slack rate-limited the webhook (429, Retry-After 30 s); waiting 30000 ms would outlive the invocation (10000 ms left) after 2 attempt(s)".into())),
            (1, answer(500, None, "internal_error"), S(10), RetryAfter(MS(250))),
            (2, answer(503, None, ""), S(10), RetryAfter(MS(500))),
            (5, answer(500, None, "x"), S(10), RetryAfter(S(4))),
            (6, answer(500, None, "x"), S(10), GiveUp("Slack answered 500 x; gave up after 6 attempts".into())),
            (1, answer(500, None, "x"), MS(100), GiveUp("Slack answered 500 x; waiting 250 ms would outlive the invocation (100 ms left) after 1 attempt(s)".into())),
            (1, answer(404, None, "no_service"), S(10), GiveUp("Slack webhook answered 404 no_service: the webhook was revoked or its channel deleted — the message was NOT delivered".into())),
            (1, answer(410, None, "channel_is_archived"), S(10), GiveUp("Slack webhook answered 410 channel_is_archived: the channel is archived — the message was NOT delivered".into())),
            (1, answer(400, None, "invalid_payload"), S(10), GiveUp("Slack webhook answered 400 invalid_payload: Slack refused the message format — the message was NOT delivered".into())),
            (1, answer(403, None, "?"), S(10), GiveUp("Slack webhook answered 403 ?: the webhook is not allowed to post — the message was NOT delivered".into())),
            (1, SlackReply::Unreachable("connection refused".into()), S(10), RetryAfter(MS(250))),
            (3, SlackReply::Unreachable("connection refused".into()), S(10), GiveUp("Slack webhook unreachable after 3 attempts: connection refused".into())),
        ];
        for (attempt, reply, left, want) in cases {
            assert_eq!(
                &after_attempt(*attempt, reply, *left),
                want,
                "{attempt} {reply:?}"
            );
        }
    }

    fn alarm(
        state: AlarmState,
        previous: Option<AlarmState>,
        since: Option<&str>,
        at: &str,
    ) -> crate::input::Alarm {
        crate::input::Alarm {
            name: "a".into(),
            description: None,
            arn: None,
            account: None,
            region: None,
            state,
            previous,
            reason: String::new(),
            changed_at: parse_time(at),
            previous_since: since.and_then(parse_time),
            kind: AlarmKind::Other,
            threshold: None,
            comparison: None,
            unit: None,
            evaluation_periods: None,
            datapoints_to_alarm: None,
            value: None,
        }
    }

    #[test]
    fn an_ok_after_alarm_says_how_long_it_lasted_when_known() {
        use AlarmState::*;
        let remembered = parse_time("2026-11-20T10:00:00Z");
        type Case = (crate::input::Alarm, Option<DateTime<Utc>>, Option<i64>);
        let cases: &[Case] = &[
            (
                alarm(
                    Ok,
                    Some(Alarm),
                    Some("2026-11-20T09:40:00Z"),
                    "2026-11-20T10:15:00Z",
                ),
                None,
                Some(2100),
            ),
            // The event's own start wins over memory.
            (
                alarm(
                    Ok,
                    Some(Alarm),
                    Some("2026-11-20T09:40:00Z"),
                    "2026-11-20T10:15:00Z",
                ),
                remembered,
                Some(2100),
            ),
            (
                alarm(Ok, Some(Alarm), None, "2026-11-20T10:15:00Z"),
                remembered,
                Some(900),
            ),
            (
                alarm(Ok, Some(Alarm), None, "2026-11-20T10:15:00Z"),
                None,
                None,
            ),
            (
                alarm(InsufficientData, Some(Alarm), None, "2026-11-20T10:15:00Z"),
                remembered,
                Some(900),
            ),
            (
                alarm(
                    Ok,
                    Some(InsufficientData),
                    Some("2026-11-20T09:40:00Z"),
                    "2026-11-20T10:15:00Z",
                ),
                None,
                None,
            ),
            (
                alarm(
                    Alarm,
                    Some(Ok),
                    Some("2026-11-20T09:40:00Z"),
                    "2026-11-20T10:15:00Z",
                ),
                None,
                None,
            ),
            // A clock that runs backwards is not a duration.
            (
                alarm(
                    Ok,
                    Some(Alarm),
                    Some("2026-11-20T11:00:00Z"),
                    "2026-11-20T10:15:00Z",
                ),
                None,
                None,
            ),
        ];
        for (a, remembered, want) in cases {
            assert_eq!(
                alarm_lasted(a, *remembered).map(|d| d.num_seconds()),
                *want,
                "{a:?}"
            );
        }
    }

    #[test]
    fn repeats_are_recognised_within_the_window_only() {
        let now = parse_time("2026-11-20T10:15:00Z").expect("time");
        let window = chrono::Duration::seconds(600);
        let ago = |s: i64| Some(now - chrono::Duration::seconds(s));
        assert!(is_repeat(ago(0), now, window));
        assert!(is_repeat(ago(600), now, window));
        assert!(!is_repeat(ago(601), now, window));
        assert!(!is_repeat(None, now, window));
    }
}
