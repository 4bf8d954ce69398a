//! Figures the scenarios read from the world: serving tasks over time, capacity, pages and
//! Slack posts, the alarms that watch a function, the longest invocation.

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use phoenix_testkit::sim::alb::MinuteStats;
use phoenix_testkit::sim::people::OncallMessage;

use super::{Sim, Target};

impl Sim {
    /// Serving tasks at `at` (from the ECS model's timeline).
    pub fn serving_at(&self, at: DateTime<Utc>) -> u32 {
        self.ecs
            .timeline
            .iter()
            .take_while(|(t, _, _)| *t <= at)
            .last()
            .map(|(_, s, _)| *s)
            .unwrap_or(0)
    }

    /// How long after `since` at least `need` tasks served (None: never, so far).
    pub fn capacity_after(&self, since: DateTime<Utc>, need: u32) -> Option<Duration> {
        if self.serving_at(since) >= need {
            return Some(Duration::zero());
        }
        self.ecs
            .timeline
            .iter()
            .find(|(t, s, _)| *t >= since && *s >= need)
            .map(|(t, _, _)| *t - since)
    }

    /// Closed minutes in `[from, to)`.
    pub fn minutes(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<MinuteStats> {
        self.alb.minutes.range(from..to).map(|(_, s)| *s).collect()
    }

    /// Pages in `[from, to)`.
    pub fn pages_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<&OncallMessage> {
        self.oncall
            .pages
            .iter()
            .filter(|p| p.at >= from && p.at < to)
            .collect()
    }

    /// A figure for a duration (or "never").
    pub fn took(d: Option<Duration>) -> String {
        d.map(phoenix_core::text::human_duration)
            .unwrap_or_else(|| "never".to_owned())
    }

    /// Slack posts per identity (posts of the same message more than once).
    pub fn slack_repeats(&self) -> Vec<(String, usize)> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for post in &self.facts.slack {
            *counts.entry(post.about.as_str()).or_default() += 1;
        }
        counts
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(k, n)| (k.to_owned(), n))
            .collect()
    }

    /// Pages per identity (the same message paging more than once).
    pub fn page_repeats(&self) -> Vec<(String, usize)> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for page in &self.oncall.pages {
            *counts.entry(page.about.as_str()).or_default() += 1;
        }
        counts
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(k, n)| (k.to_owned(), n))
            .collect()
    }

    /// The names of the alarms that watch a function itself: its Lambda errors, and the depth of
    /// its dead-letter queue (its on-failure destination).
    pub fn alarms_on(&self, target: Target) -> Vec<String> {
        let function = self
            .settings
            .get(&target)
            .map(|s| s.logical_id.clone())
            .unwrap_or_default();
        let dlq = self.on_failure.get(&target).cloned().unwrap_or_default();
        self.alarms
            .defs
            .iter()
            .filter(|d| {
                (d.namespace == "AWS/Lambda" && d.dimensions.get("FunctionName") == Some(&function))
                    || (d.namespace == "AWS/SQS" && d.dimensions.get("QueueName") == Some(&dlq))
            })
            .map(|d| d.name.clone())
            .collect()
    }

    /// Whether a person was paged about one of these alarms going to ALARM (directly or through
    /// the notifier); the earliest such page.
    pub fn paged_about(&self, alarms: &[String]) -> Option<&OncallMessage> {
        self.oncall
            .pages
            .iter()
            .filter(|p| {
                alarms
                    .iter()
                    .any(|name| p.about.contains(&format!("alarm:{name}:ALARM:")))
            })
            .min_by_key(|p| p.at)
    }

    /// The longest invocation of a function.
    pub fn longest(&self, target: Target) -> StdDuration {
        self.facts
            .invocations
            .iter()
            .filter(|i| i.target == target)
            .map(|i| i.elapsed)
            .max()
            .unwrap_or_default()
    }
}
