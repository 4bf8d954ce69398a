//! The Slack retry rule, as a table: every kind of answer × the time left.

use std::time::Duration;

use crate::slack_retry::{NextStep, SlackReply, after_attempt};

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
