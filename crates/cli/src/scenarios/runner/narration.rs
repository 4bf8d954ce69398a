//! The timeline: lines at simulated time, section headers, invariants, figures, and the
//! closing [`Report`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{Check, Report, Sim};

impl Sim {
    /// One line of the timeline, at simulated time (since the start).
    pub fn say(&mut self, text: impl AsRef<str>) {
        let at = self.now;
        self.say_at(at, text.as_ref());
    }

    pub(super) fn say_at(&mut self, at: DateTime<Utc>, text: &str) {
        let offset = (at - self.t0).num_seconds().max(0);
        let stamp = format!(
            "+{:02}:{:02}:{:02}",
            offset / 3600,
            offset / 60 % 60,
            offset % 60
        );
        let mut first = true;
        for line in text.lines() {
            if first {
                self.lines.push(format!("  {stamp}  {line}"));
                first = false;
            } else {
                self.lines.push(format!("             {line}"));
            }
        }
    }

    pub(super) fn flush_holds(&mut self) {
        if !self.held.is_empty() {
            let held = std::mem::take(&mut self.held);
            let runs: Vec<String> = held
                .iter()
                .map(|(decision, n)| format!("{decision} ×{n}"))
                .collect();
            let at = self.now;
            self.say_at(
                at,
                &format!(
                    "· request-scaler, each minute: {} (no action, not shown)",
                    runs.join(", ")
                ),
            );
        }
    }

    /// A section header.
    pub fn act(&mut self, title: &str) {
        self.flush_holds();
        self.lines.push(format!("  ── {title}"));
    }

    /// Records one invariant.
    pub fn check(&mut self, invariant: &str, ok: bool, detail: impl Into<String>) {
        self.flush_holds();
        let detail = detail.into();
        self.say(format!(
            "{} {invariant}{}",
            if ok { "✅" } else { "❌" },
            if detail.is_empty() {
                String::new()
            } else {
                format!(" — {detail}")
            }
        ));
        self.checks.push(Check {
            invariant: invariant.to_owned(),
            ok,
            detail,
        });
    }

    /// Records one figure for the summary.
    pub fn figure(&mut self, name: &str, value: impl Into<String>) {
        self.figures.push((name.to_owned(), value.into()));
    }

    /// Closes the scenario.
    pub fn finish(mut self) -> Report {
        self.flush_holds();
        let pages = self.oncall.pages.len();
        let slack = self.facts.slack.len();
        let actions: Vec<String> = {
            let mut counts: BTreeMap<String, u32> = BTreeMap::new();
            for change in &self.facts.desired_changes {
                *counts
                    .entry(format!("desiredCount by {}", change.actor))
                    .or_default() += 1;
            }
            for (_, actor) in &self.facts.forced_deployments {
                *counts
                    .entry(format!("forced deployment by {actor}"))
                    .or_default() += 1;
            }
            for (_, actor) in &self.facts.started_tasks {
                *counts.entry(format!("RunTask by {actor}")).or_default() += 1;
            }
            counts
                .into_iter()
                .map(|(k, v)| format!("{v}× {k}"))
                .collect()
        };
        let mut figures = vec![
            ("pages".to_owned(), pages.to_string()),
            ("Slack messages".to_owned(), slack.to_string()),
            (
                "actions".to_owned(),
                if actions.is_empty() {
                    "none".to_owned()
                } else {
                    actions.join(", ")
                },
            ),
            ("ECS launches".to_owned(), self.ecs.launches.to_string()),
            (
                "invocations".to_owned(),
                format!(
                    "{} ({} failed, {} dead-lettered)",
                    self.facts.invocations.len(),
                    self.facts.invocations.iter().filter(|i| i.failed).count(),
                    self.facts.dead_letters.len()
                ),
            ),
        ];
        figures.append(&mut self.figures);
        if !self.alarms.not_modelled.is_empty() {
            figures.push((
                "alarms not modelled".to_owned(),
                self.alarms.not_modelled.join(", "),
            ));
        }
        let simulated = self.now - self.t0;
        figures.push((
            "simulated".to_owned(),
            phoenix_core::text::human_duration(simulated),
        ));
        Report {
            name: self.name,
            checks: self.checks,
            figures,
            lines: self.lines,
            real: self.started.elapsed(),
            error: None,
        }
    }
}
