//! Lambda, as far as the scenarios need it: one invocation of a real handler with the budget the
//! function's timeout gives (a handler that runs past it is killed and the attempt fails), and
//! the asynchronous retry rule (EventBridge, SNS and schedules invoke asynchronously): after a
//! failed attempt Lambda waits 1 minute, then 2 minutes, for at most `MaximumRetryAttempts`
//! retries and `MaximumEventAgeInSeconds`, then sends the event to the on-failure destination
//! (the function's dead-letter queue). An SQS event source instead leaves a failed message to
//! reappear after the queue's visibility timeout, up to `maxReceiveCount` receives.
//!
//! Sources: <https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html>
//! ("by default Lambda attempts to run it two more times, with a one-minute wait between the
//! first two attempts, and two minutes between the second and third"; timeouts are function
//! errors); <https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html>
//! (visibility timeout, `maxReceiveCount`, then the queue's DLQ).
//!
//! Each Lambda *container* is one instance of the function (built from the same configuration),
//! with its own in-memory state: duplicates landing in two containers see two memories.

use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use phoenix_core::lambda::{DEADLINE_MARGIN, handle_and_report};
use phoenix_core::{Function, Invocation, Outcome};
use serde_json::Value;

/// Lambda's waits before the first and the second asynchronous retry.
pub const ASYNC_RETRY_DELAYS: [i64; 2] = [60, 120];

/// A function's Lambda settings (from the template, see [`super::wiring`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LambdaSettings {
    /// The crate/binary name (`task-recovery`).
    pub function: String,
    /// The template's logical id (`TaskRecoveryFunction`).
    pub logical_id: String,
    pub timeout: StdDuration,
    /// `EventInvokeConfig.MaximumRetryAttempts` (Lambda's default 2).
    pub async_retries: u32,
    /// `EventInvokeConfig.MaximumEventAgeInSeconds` (Lambda's default 6 h).
    pub max_event_age: Duration,
    /// `ReservedConcurrentExecutions`, when set.
    pub reserved_concurrency: Option<u32>,
}

impl LambdaSettings {
    /// When the next asynchronous attempt runs after failed attempt `attempt` (1 = the first),
    /// or `None`: the event goes to the on-failure destination.
    pub fn retry_at(
        &self,
        attempt: u32,
        first_attempt_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        if attempt > self.async_retries {
            return None;
        }
        let delay = ASYNC_RETRY_DELAYS
            .get(usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX))
            .copied()
            .unwrap_or(120);
        let at = now + Duration::seconds(delay);
        (at - first_attempt_at <= self.max_event_age).then_some(at)
    }

    /// The time a handler gets: the timeout less the runtime adapter's margin.
    pub fn time_left(&self) -> StdDuration {
        self.timeout.saturating_sub(DEADLINE_MARGIN)
    }
}

/// One invocation's result.
#[derive(Debug, Clone)]
pub struct Invoked {
    /// The Outcome, or the failure Lambda sees (a retryable error or a timeout).
    pub result: Result<Outcome, String>,
    /// Real time the handler took (charged to simulated time by the runner).
    pub elapsed: StdDuration,
    pub timed_out: bool,
    /// What the adapter wrote: the Outcome line and the EMF metric lines.
    pub lines: Vec<String>,
}

impl Invoked {
    pub fn failed(&self) -> bool {
        self.result.is_err()
    }
}

/// Runs one event through a real handler the way the Lambda adapter does, under the function's
/// timeout.
pub async fn invoke<F: Function>(
    function: &F,
    settings: &LambdaSettings,
    payload: Value,
    now: DateTime<Utc>,
    request_id: &str,
    stack: &str,
) -> Invoked {
    let invocation = Invocation::new(payload, now)
        .time_left(settings.time_left())
        .request_id(request_id)
        .stack(stack);
    let started = Instant::now();
    let mut out: Vec<u8> = Vec::new();
    let run = handle_and_report(function, invocation, &mut out);
    let (result, timed_out) = match tokio::time::timeout(settings.timeout, run).await {
        Ok(Ok(outcome)) => (Ok(outcome), false),
        Ok(Err(error)) => (Err(error.0), false),
        Err(_) => (
            Err(format!(
                "Task timed out after {} seconds",
                settings.timeout.as_secs()
            )),
            true,
        ),
    };
    let lines = String::from_utf8_lossy(&out)
        .lines()
        .map(str::to_owned)
        .collect();
    Invoked {
        result,
        elapsed: started.elapsed(),
        timed_out,
        lines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(retries: u32, age: i64) -> LambdaSettings {
        LambdaSettings {
            function: "f".into(),
            logical_id: "F".into(),
            timeout: StdDuration::from_secs(60),
            async_retries: retries,
            max_event_age: Duration::seconds(age),
            reserved_concurrency: None,
        }
    }

    #[test]
    fn asynchronous_retries_wait_one_then_two_minutes_then_give_up() {
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        let s = settings(2, 3600);
        let first_retry = s.retry_at(1, t0, t0).expect("first retry");
        assert_eq!(first_retry, t0 + Duration::seconds(60));
        let second = s.retry_at(2, t0, first_retry).expect("second retry");
        assert_eq!(second, t0 + Duration::seconds(180));
        assert_eq!(s.retry_at(3, t0, second), None, "then the DLQ");
        assert_eq!(
            settings(1, 3600).retry_at(2, t0, t0),
            None,
            "MaximumRetryAttempts 1"
        );
        assert_eq!(
            settings(2, 30).retry_at(1, t0, t0),
            None,
            "older than MaximumEventAgeInSeconds"
        );
        assert_eq!(s.time_left(), StdDuration::from_millis(58_500));
    }
}
