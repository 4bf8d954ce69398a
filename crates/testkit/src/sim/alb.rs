//! The load balancer's side of the world: the traffic the scenario offers, how much of it the
//! service can serve, and the CloudWatch datapoints the ALB publishes from it.
//!
//! * `RequestCount` (Sum per minute, dimensions LoadBalancer + TargetGroup) counts requests the
//!   ALB routed to a target; with no registered target nothing is routed and nothing is counted
//!   ("only incremented for requests where the load balancer node was able to choose a target");
//!   a minute without requests has no datapoint at all.
//! * The datapoint of a minute is published **one minute late**: the minute `m` becomes readable
//!   at `m + 2 min` (a guess within what AWS says: ALB metrics are published every 60 s, and the
//!   newest minute may be incomplete).
//! * Capacity: each serving (running and healthy) task serves 100 requests per minute (the
//!   product's target per task). CPU (`AWS/ECS` `CPUUtilization`, the service's average):
//!   60 % at the target load, proportionally more above it, capped at 100 % — a model guess;
//!   a scenario can add a CPU burn (`GET /generatecert`).
//!
//! Sources: <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html>;
//! DESIGN.md ("ALB publishes RequestCount per minute, only while requests flow").

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound, Utc};

/// Requests per minute one serving task handles.
pub const REQUESTS_PER_TASK: u64 = 100;
/// CPU of a task serving exactly its target load.
pub const CPU_AT_TARGET: f64 = 60.0;

/// The start of the minute `t` falls in.
pub fn minute_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::minutes(1)).unwrap_or(t)
}

/// Offered traffic: requests per minute from each point in time on.
#[derive(Debug, Clone, Default)]
pub struct Traffic {
    steps: BTreeMap<DateTime<Utc>, u64>,
}

impl Traffic {
    /// From `from` on, `per_minute` requests a minute arrive.
    pub fn set(&mut self, from: DateTime<Utc>, per_minute: u64) {
        self.steps.insert(from, per_minute);
    }

    /// Requests per minute arriving at `t`.
    pub fn at(&self, t: DateTime<Utc>) -> u64 {
        self.steps
            .range(..=t)
            .next_back()
            .map(|(_, r)| *r)
            .unwrap_or(0)
    }
}

/// One closed minute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinuteStats {
    pub minute: DateTime<Utc>,
    /// Requests that arrived.
    pub offered: u64,
    /// What the ALB counts (`RequestCount`): 0 when no target is registered.
    pub request_count: u64,
    /// The fewest tasks serving at any moment of the minute.
    pub serving: u32,
    /// Requests the serving tasks could take in the minute (their time-weighted number × 100).
    pub capacity: u64,
    /// Requests served (the rest waited, failed or timed out).
    pub served: u64,
    /// Service CPU, percent (`None`: no task, no datapoint).
    pub cpu: Option<f64>,
}

/// The ALB and its metrics.
#[derive(Debug, Clone, Default)]
pub struct Alb {
    pub minutes: BTreeMap<DateTime<Utc>, MinuteStats>,
    /// CPU burns: from, until, percent.
    burns: Vec<(DateTime<Utc>, DateTime<Utc>, f64)>,
    published_through: Option<DateTime<Utc>>,
}

impl Alb {
    /// `GET /generatecert` in a loop: CPU at `percent` from `from` to `until`.
    pub fn burn_cpu(&mut self, from: DateTime<Utc>, until: DateTime<Utc>, percent: f64) {
        self.burns.push((from, until, percent));
    }

    /// Closes minute `minute` with what the world looked like: the fewest serving tasks, their
    /// time-weighted average, and the tasks registered with the target group.
    pub fn close_minute(
        &mut self,
        minute: DateTime<Utc>,
        offered: u64,
        serving: (u32, f64),
        registered: u32,
    ) -> MinuteStats {
        let (fewest, average) = serving;
        let capacity = (average * REQUESTS_PER_TASK as f64).round() as u64;
        let load_cpu = if capacity == 0 {
            None
        } else {
            Some((CPU_AT_TARGET * offered as f64 / capacity as f64).min(100.0))
        };
        let burn = self
            .burns
            .iter()
            .filter(|(from, until, _)| *from <= minute && minute < *until)
            .map(|(_, _, p)| *p)
            .fold(None, |acc: Option<f64>, p| {
                Some(acc.map_or(p, |a| a.max(p)))
            });
        let cpu = match (load_cpu, burn) {
            (Some(load), Some(burn)) => Some(load.max(burn)),
            (Some(load), None) => Some(load),
            (None, _) => None,
        };
        let stats = MinuteStats {
            minute,
            offered,
            request_count: if registered > 0 { offered } else { 0 },
            serving: fewest,
            capacity,
            served: offered.min(capacity),
            cpu,
        };
        self.minutes.insert(minute, stats);
        stats
    }

    /// RequestCount datapoints that became readable by `now` and were not handed out yet
    /// (minute start, count), oldest first; minutes without requests publish nothing.
    pub fn due_datapoints(&mut self, now: DateTime<Utc>) -> Vec<(DateTime<Utc>, u64)> {
        let readable_through = minute_of(now) - Duration::minutes(2);
        let from = self
            .published_through
            .map(|t| t + Duration::minutes(1))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        if readable_through < from {
            return Vec::new();
        }
        let due: Vec<(DateTime<Utc>, u64)> = self
            .minutes
            .range(from..=readable_through)
            .filter(|(_, s)| s.request_count > 0)
            .map(|(m, s)| (*m, s.request_count))
            .collect();
        if self.minutes.range(from..=readable_through).next().is_some() {
            self.published_through = Some(
                self.minutes
                    .range(from..=readable_through)
                    .next_back()
                    .map(|(m, _)| *m)
                    .unwrap_or(readable_through),
            );
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + Duration::minutes(minute)
    }

    #[test]
    fn traffic_steps_and_capacity() {
        let mut traffic = Traffic::default();
        traffic.set(at(0), 150);
        traffic.set(at(5), 800);
        assert_eq!(traffic.at(at(4)), 150);
        assert_eq!(traffic.at(at(5)), 800);
        let mut alb = Alb::default();
        let s = alb.close_minute(at(0), 150, (1, 1.0), 1);
        assert_eq!((s.capacity, s.served, s.request_count), (100, 100, 150));
        assert_eq!(s.cpu, Some(90.0));
        let half = alb.close_minute(at(1), 150, (1, 1.5), 2);
        assert_eq!(
            (half.serving, half.capacity),
            (1, 150),
            "a second task serving half the minute"
        );
        let none = alb.close_minute(at(1), 150, (0, 0.0), 0);
        assert_eq!(
            (none.request_count, none.cpu),
            (0, None),
            "no target: nothing counted"
        );
        alb.burn_cpu(at(2), at(3), 95.0);
        assert_eq!(alb.close_minute(at(2), 50, (2, 2.0), 2).cpu, Some(95.0));
    }

    #[test]
    fn datapoints_are_readable_one_minute_after_their_minute_ends() {
        let mut alb = Alb::default();
        alb.close_minute(at(0), 120, (2, 2.0), 2);
        alb.close_minute(at(1), 0, (2, 2.0), 2);
        alb.close_minute(at(2), 300, (2, 2.0), 2);
        assert!(alb.due_datapoints(at(1) + Duration::seconds(30)).is_empty());
        assert_eq!(
            alb.due_datapoints(at(2) + Duration::seconds(5)),
            vec![(at(0), 120)]
        );
        assert_eq!(
            alb.due_datapoints(at(4) + Duration::seconds(5)),
            vec![(at(2), 300)],
            "minute 1 had no requests: no datapoint"
        );
        assert!(alb.due_datapoints(at(4) + Duration::seconds(30)).is_empty());
    }
}
