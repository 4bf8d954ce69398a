// pure: what the container remembers between evaluations, and datapoints arranged into minutes (`now` is passed in)
//! The container's memory and the arrangement of CloudWatch datapoints into the [`Observation`]
//! the rule reads.
//!
//! - **Previous days** (the daily pattern): fetched by the evaluation's own read once per
//!   container and then every [`DAYS_REFRESH_MINUTES`] (that read spans [`DAILY_DAYS`] days
//!   instead of an hour, in one GetMetricData call: billing is per metric requested, not per
//!   datapoint; the other evaluations use GetMetricStatistics, `crate::observe`), kept here. History starts at the first datapoint CloudWatch returned: a day
//!   before it does not count.
//! - **Tasks per minute** (the CPU signal): the running count seen at each evaluation, so the
//!   average CPU of a minute is multiplied by the tasks that reported it. A minute this container
//!   did not see (a cold start) uses the running count now.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::Serialize;

use crate::decide::{CpuSample, HISTORY_MINUTES, Minute, Observation};
use crate::forecast::{DAILY_DAYS, DAY_LEVEL_MINUTES, DAY_WINDOW_MINUTES, DayWindow};

/// The previous days are fetched again after this many minutes.
pub const DAYS_REFRESH_MINUTES: i64 = 60;
const DAY_MINUTES: i64 = 1_440;

/// Datapoints by minute start, as CloudWatch returned them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fetched {
    /// `AWS/ApplicationELB RequestCount`, Sum per minute.
    pub requests: BTreeMap<DateTime<Utc>, f64>,
    /// `AWS/ECS CPUUtilization`, Average per minute.
    pub cpu: BTreeMap<DateTime<Utc>, f64>,
}

/// The time range of this evaluation's read of the signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FetchPlan {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The range reaches back over the previous days (the memory is empty or stale).
    pub refresh_days: bool,
}

/// The service's counts at this evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ServiceCounts {
    pub desired: u32,
    pub running: u32,
    pub pending: u32,
    pub deployments: usize,
    pub deployment_in_progress: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
struct Days {
    /// Start of the fetched range, and the newest complete minute it held.
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    fetched_at: DateTime<Utc>,
    /// The first datapoint CloudWatch had: history starts there.
    first: Option<DateTime<Utc>>,
    requests: BTreeMap<DateTime<Utc>, u64>,
}

/// What one container remembers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Memory {
    days: Option<Days>,
    tasks: BTreeMap<DateTime<Utc>, u32>,
}

/// The start of the minute `t` falls in.
pub fn minute_of(t: DateTime<Utc>) -> DateTime<Utc> {
    // truncation fails only for timestamps near the end of chrono's range
    t.duration_trunc(Duration::minutes(1)).unwrap_or(t)
}

/// `t` moved by `minutes` (saturating at the ends of the representable range instead of
/// panicking: the clock is input too).
pub fn shift(t: DateTime<Utc>, minutes: i64) -> DateTime<Utc> {
    t.checked_add_signed(Duration::minutes(minutes))
        .unwrap_or(if minutes < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

/// The newest complete minute at `now`: the current minute and the one before may still grow.
pub fn newest_complete(now: DateTime<Utc>) -> DateTime<Utc> {
    shift(minute_of(now), -2)
}

fn count(value: f64) -> u64 {
    if value.is_finite() && value > 0.0 {
        // float-to-int casts saturate
        value.round() as u64
    } else {
        0
    }
}

impl Memory {
    /// The range to fetch at `now`: the last [`HISTORY_MINUTES`] complete minutes and the two
    /// still growing, or, when the previous days are missing or stale, back [`DAILY_DAYS`] days.
    pub fn plan(&self, now: DateTime<Utc>) -> FetchPlan {
        let current = minute_of(now);
        let end = shift(current, 1);
        let stale = self
            .days
            .as_ref()
            .is_none_or(|d| now < d.fetched_at || shift(d.fetched_at, DAYS_REFRESH_MINUTES) <= now);
        let back = if stale {
            DAILY_DAYS as i64 * DAY_MINUTES + DAY_LEVEL_MINUTES as i64 + 5
        } else {
            HISTORY_MINUTES as i64 + 2
        };
        FetchPlan {
            start: shift(current, -back),
            end,
            refresh_days: stale,
        }
    }

    /// Remembers what this evaluation fetched and saw.
    pub fn remember(
        &mut self,
        plan: &FetchPlan,
        fetched: &Fetched,
        now: DateTime<Utc>,
        running: u32,
    ) {
        let newest = newest_complete(now);
        if plan.refresh_days {
            let requests: BTreeMap<DateTime<Utc>, u64> = fetched
                .requests
                .range(plan.start..=newest)
                .map(|(t, v)| (*t, count(*v)))
                .collect();
            self.days = Some(Days {
                from: plan.start,
                to: newest,
                fetched_at: now,
                first: fetched.requests.keys().next().copied(),
                requests,
            });
        }
        let current = minute_of(now);
        self.tasks.insert(current, running);
        let keep_from = shift(current, -(HISTORY_MINUTES as i64 + 5));
        self.tasks.retain(|t, _| *t >= keep_from && *t <= current);
    }

    /// The same time of day on previous days, for the window ending at `newest`.
    fn previous_days(&self, newest: DateTime<Utc>) -> Vec<DayWindow> {
        let Some(days) = &self.days else {
            return Vec::new();
        };
        (1..=DAILY_DAYS)
            .filter_map(|days_ago| {
                let start = shift(
                    newest,
                    -(DAY_LEVEL_MINUTES as i64 - 1) - DAY_MINUTES * days_ago as i64,
                );
                let end = shift(start, DAY_WINDOW_MINUTES as i64 - 1);
                let known = start >= days.from
                    && end <= days.to
                    && days.first.is_some_and(|first| first <= start);
                known.then(|| DayWindow {
                    days_ago: u32::try_from(days_ago).unwrap_or(u32::MAX),
                    requests: (0..DAY_WINDOW_MINUTES as i64)
                        .map(|i| {
                            let at = shift(start, i);
                            days.requests.get(&at).copied().unwrap_or(0)
                        })
                        .collect(),
                })
            })
            .collect()
    }

    /// Arranges this evaluation's datapoints into the rule's input.
    pub fn observation(
        &self,
        fetched: &Fetched,
        now: DateTime<Utc>,
        service: &ServiceCounts,
    ) -> Observation {
        let current = minute_of(now);
        let newest = newest_complete(now);
        let requests_at = |t: DateTime<Utc>| fetched.requests.get(&t).copied().map_or(0, count);
        let minutes = (0..HISTORY_MINUTES as i64)
            .rev()
            .map(|back| {
                let at = shift(newest, -back);
                Minute {
                    requests: requests_at(at),
                    cpu: fetched
                        .cpu
                        .get(&at)
                        .filter(|p| p.is_finite())
                        .map(|percent| CpuSample {
                            percent: percent.clamp(0.0, 100.0),
                            tasks: self.tasks.get(&at).copied().unwrap_or(service.running),
                        }),
                }
            })
            .collect();
        Observation {
            minutes,
            partial: vec![requests_at(shift(current, -1)), requests_at(current)],
            previous_days: self.previous_days(newest),
            desired: service.desired,
            running: service.running,
            pending: service.pending,
            deployment_in_progress: service.deployment_in_progress,
        }
    }
}

/// The newest minutes of an observation, for the Outcome (not the whole hour).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recent {
    pub newest_complete_at: DateTime<Utc>,
    /// Requests of the last 10 complete minutes, oldest first.
    pub requests: Vec<u64>,
    /// Average CPU of the last 10 complete minutes (`null`: no datapoint).
    pub cpu_percent: Vec<Option<f64>>,
    pub partial: Vec<u64>,
    /// Previous days available to the daily pattern.
    pub previous_days: usize,
}

impl Recent {
    pub fn of(observation: &Observation, now: DateTime<Utc>) -> Self {
        let last = &observation.minutes[observation.minutes.len().saturating_sub(10)..];
        Recent {
            newest_complete_at: newest_complete(now),
            requests: last.iter().map(|m| m.requests).collect(),
            cpu_percent: last
                .iter()
                .map(|m| m.cpu.map(|c| (c.percent * 10.0).round() / 10.0))
                .collect(),
            partial: observation.partial.clone(),
            previous_days: observation.previous_days.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(d: u32, h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, h, m, s)
            .single()
            .expect("valid")
    }

    fn counts(running: u32) -> ServiceCounts {
        ServiceCounts {
            desired: running,
            running,
            ..ServiceCounts::default()
        }
    }

    #[test]
    fn minutes_are_arranged_with_gaps_as_zero_and_the_last_two_as_partial() {
        let mut fetched = Fetched::default();
        for (m, v) in [(0, 50.0), (2, 70.0), (3, 900.0), (4, 12.0), (5, 3.0)] {
            fetched.requests.insert(at(25, 12, m, 0), v);
        }
        fetched.cpu.insert(at(25, 12, 3, 0), 80.0);
        let o = Memory::default().observation(&fetched, at(25, 12, 5, 30), &counts(4));
        assert_eq!(o.minutes.len(), HISTORY_MINUTES);
        let last: Vec<u64> = o.minutes[HISTORY_MINUTES - 4..]
            .iter()
            .map(|m| m.requests)
            .collect();
        // complete: 12:00..12:03 (12:01 missing → 0); partial: 12:04, 12:05
        assert_eq!(last, vec![50, 0, 70, 900]);
        assert_eq!(o.partial, vec![12, 3]);
        // the CPU minute takes the running count (a cold container saw no earlier minute)
        assert_eq!(
            o.minutes[HISTORY_MINUTES - 1].cpu,
            Some(CpuSample {
                percent: 80.0,
                tasks: 4
            })
        );
        assert_eq!(o.minutes[HISTORY_MINUTES - 2].cpu, None);
    }

    #[test]
    fn a_cpu_minute_uses_the_tasks_seen_then() {
        let mut memory = Memory::default();
        let plan = memory.plan(at(25, 12, 3, 30));
        memory.remember(&plan, &Fetched::default(), at(25, 12, 3, 30), 2);
        let mut fetched = Fetched::default();
        fetched.cpu.insert(at(25, 12, 3, 0), 100.0);
        let o = memory.observation(&fetched, at(25, 12, 5, 30), &counts(5));
        assert_eq!(o.minutes[HISTORY_MINUTES - 1].cpu.map(|c| c.tasks), Some(2));
    }

    #[test]
    fn previous_days_are_fetched_once_then_hourly() {
        let mut memory = Memory::default();
        let now = at(25, 12, 10, 30);
        let plan = memory.plan(now);
        assert!(plan.refresh_days);
        assert_eq!(plan.start, at(22, 11, 50, 0));
        assert_eq!(plan.end, at(25, 12, 11, 0));
        let mut fetched = Fetched::default();
        // a datapoint every minute from 3 days ago on: yesterday at 12:00..12:30 had 500 req
        let mut t = plan.start;
        while t < at(25, 12, 9, 0) {
            let busy = t >= at(24, 12, 0, 0) && t < at(24, 12, 30, 0);
            fetched.requests.insert(t, if busy { 500.0 } else { 100.0 });
            t += Duration::minutes(1);
        }
        memory.remember(&plan, &fetched, now, 1);
        // 59 minutes later: the memory serves; an hour later: refreshed
        let later = now + Duration::minutes(59);
        let plan = memory.plan(later);
        assert!(!plan.refresh_days);
        assert_eq!(plan.start, minute_of(later) - Duration::minutes(62));
        assert!(memory.plan(now + Duration::minutes(60)).refresh_days);
        assert!(
            memory.plan(now - Duration::minutes(1)).refresh_days,
            "clock went back"
        );
        // at 12:40:30 the newest complete minute is 12:38: yesterday 12:24..12:48
        let o = memory.observation(&Fetched::default(), at(25, 12, 40, 30), &counts(1));
        assert_eq!(o.previous_days.len(), 3);
        let yesterday = &o.previous_days[0];
        assert_eq!(yesterday.days_ago, 1);
        assert_eq!(yesterday.requests.len(), DAY_WINDOW_MINUTES);
        assert_eq!(yesterday.requests[..6], [500; 6]);
        assert_eq!(yesterday.requests[6..], [100; 19]);
        assert_eq!(o.previous_days[2].requests, vec![100; DAY_WINDOW_MINUTES]);
    }

    #[test]
    fn history_starts_at_the_first_datapoint() {
        let mut memory = Memory::default();
        let now = at(25, 12, 10, 30);
        let plan = memory.plan(now);
        let mut fetched = Fetched::default();
        // the service exists since yesterday 06:00 only
        let mut t = at(24, 6, 0, 0);
        while t < at(25, 12, 9, 0) {
            fetched.requests.insert(t, 100.0);
            t += Duration::minutes(1);
        }
        memory.remember(&plan, &fetched, now, 1);
        let o = memory.observation(&Fetched::default(), now, &counts(1));
        assert_eq!(
            o.previous_days
                .iter()
                .map(|d| d.days_ago)
                .collect::<Vec<_>>(),
            vec![1]
        );
        // nothing remembered: no days
        let o = Memory::default().observation(&fetched, now, &counts(1));
        assert!(o.previous_days.is_empty());
    }

    #[test]
    fn odd_values_count_as_zero() {
        let mut fetched = Fetched::default();
        let newest = newest_complete(at(25, 12, 5, 30));
        fetched.requests.insert(newest, f64::NAN);
        fetched.requests.insert(newest - Duration::minutes(1), -5.0);
        fetched.cpu.insert(newest, f64::INFINITY);
        fetched.cpu.insert(newest - Duration::minutes(1), 250.0);
        let o = Memory::default().observation(&fetched, at(25, 12, 5, 30), &counts(1));
        let n = HISTORY_MINUTES;
        assert_eq!(
            (o.minutes[n - 1].requests, o.minutes[n - 2].requests),
            (0, 0)
        );
        assert_eq!(o.minutes[n - 1].cpu, None);
        assert_eq!(o.minutes[n - 2].cpu.map(|c| c.percent), Some(100.0));
    }

    #[test]
    fn clocks_at_the_ends_of_time_do_not_panic() {
        for now in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
            let mut memory = Memory::default();
            let plan = memory.plan(now);
            memory.remember(&plan, &Fetched::default(), now, 1);
            let o = memory.observation(&Fetched::default(), now, &counts(1));
            assert_eq!(o.minutes.len(), HISTORY_MINUTES);
            let _ = memory.plan(now);
        }
    }

    #[test]
    fn minute_of_truncates() {
        assert_eq!(minute_of(at(25, 12, 5, 59)), at(25, 12, 5, 0));
    }
}
