//! EventBridge, SNS and SQS delivery: at least once. Each message is handed to its target after
//! a short delay; a scenario may ask for duplicates (a second copy, later, possibly to another
//! Lambda container), late copies and therefore out-of-order arrival.
//!
//! Sources: EventBridge delivers each event to a target at least once and "your application
//! should be idempotent" (<https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html>,
//! <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-troubleshooting.html>); SNS and
//! Lambda's asynchronous queue may deliver the same message more than once
//! (<https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html>: "it's
//! possible for it to receive the same event from Lambda multiple times"); standard SQS queues are
//! at least once and not ordered (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/standard-queues.html>).
//! The delays below are guesses (AWS documents none): ~1 s for a first copy.

use chrono::{DateTime, Duration, Utc};

use super::rng::SimRng;

/// How deliveries misbehave in a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Chaos {
    /// Time from publish to the first copy's delivery.
    pub first_copy_after: Duration,
    /// Probability that a message is delivered a second time.
    pub duplicate: f64,
    /// The second copy arrives this much after the first…
    pub late_by: Duration,
    /// …plus up to this much more (uniformly).
    pub spread: Duration,
}

impl Chaos {
    /// Well-behaved delivery: one copy, a second later.
    pub fn calm() -> Chaos {
        Chaos {
            first_copy_after: Duration::seconds(1),
            duplicate: 0.0,
            late_by: Duration::zero(),
            spread: Duration::zero(),
        }
    }

    /// Every message twice, the second copy `late` later (so after the messages that follow
    /// within that time: out of order).
    pub fn duplicates(late: Duration) -> Chaos {
        Chaos {
            first_copy_after: Duration::seconds(1),
            duplicate: 1.0,
            late_by: late,
            spread: Duration::zero(),
        }
    }

    /// When each copy of a message published at `now` arrives (first copy first).
    pub fn plan(&self, rng: &mut SimRng, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let first = now + self.first_copy_after;
        let mut copies = vec![first];
        if rng.chance(self.duplicate) {
            let spread = self.spread.num_seconds().max(0) as u64;
            let extra = Duration::seconds(i64::try_from(rng.below(spread + 1)).unwrap_or(0));
            copies.push(first + self.late_by.max(Duration::seconds(1)) + extra);
        }
        copies
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calm_delivers_once_and_duplicates_twice_later() {
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let mut rng = SimRng::new(3);
        assert_eq!(
            Chaos::calm().plan(&mut rng, now),
            vec![now + Duration::seconds(1)]
        );
        let copies = Chaos::duplicates(Duration::seconds(90)).plan(&mut rng, now);
        assert_eq!(
            copies,
            vec![now + Duration::seconds(1), now + Duration::seconds(91)]
        );
        let spread = Chaos {
            spread: Duration::seconds(30),
            ..Chaos::duplicates(Duration::seconds(60))
        }
        .plan(&mut rng, now);
        assert!(spread[1] >= spread[0] + Duration::seconds(60));
        assert!(spread[1] <= spread[0] + Duration::seconds(90));
    }
}
