// pure: collects what a run did; the one triage of AWS failures; no I/O
//! The run's journal: every action for the Outcome, the [`Summary`] for the Notice, and what
//! was observed. [`Journal::triage`] is the **one** place an AWS call's result is sorted:
//!
//! * success → the value;
//! * a **retryable** failure (throttling, 5xx, timeouts) → the run stops with an error, Lambda
//!   retries it, and every step being idempotent (or recorded before it could fail, see
//!   [`crate::exports`]) the retry continues where this attempt stopped;
//! * a **final** failure → recorded as a failed action and, as the caller says, a failure of the
//!   run ([`Final::Fails`]) or a warning ([`Final::Warns`], for what only informs); the caller
//!   gets `None` and goes on as its rule says.

use phoenix_core::{Action, ActionStatus, AwsFailure, RetryableError};
use serde_json::{Map, Value};

use crate::report::Summary;

/// What a final failure means for the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Final<'a> {
    /// The run failed at this step; the text says what it means (`"snapshot not created"`).
    Fails(&'a str),
    /// The run goes on; the text says what is missing (`"objects not listed"`).
    Warns(&'a str),
}

/// What the run did, collected as it goes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Journal {
    pub actions: Vec<Action>,
    pub summary: Summary,
    pub observed: Map<String, Value>,
    /// Snapshots whose delete was sent and not answered yet: if the attempt stops with a
    /// retryable failure, the run's record keeps them (see [`crate::progress::RunRecord`]).
    pub in_flight: Vec<String>,
}

impl Journal {
    pub fn new(summary: Summary) -> Self {
        Self {
            summary,
            ..Self::default()
        }
    }

    /// One action, with its detail.
    pub fn act(
        &mut self,
        call: &str,
        target: impl Into<String>,
        status: ActionStatus,
        detail: impl Into<String>,
    ) {
        self.actions
            .push(Action::new(call, target, status).detail(detail));
    }

    /// The one triage of an AWS call's result (see the module documentation).
    pub fn triage<T>(
        &mut self,
        result: Result<T, AwsFailure>,
        on_final: Final<'_>,
    ) -> Result<Option<T>, RetryableError> {
        match result {
            Ok(value) => Ok(Some(value)),
            Err(failure) if failure.retryable => Err(failure.into()),
            Err(failure) => {
                self.failed(&failure, on_final);
                Ok(None)
            }
        }
    }

    /// Records a final failure (also one described by hand, e.g. an unreadable checkpoint).
    pub fn failed(&mut self, failure: &AwsFailure, on_final: Final<'_>) {
        self.act(
            &failure.call,
            failure.resource.clone(),
            ActionStatus::Failed,
            failure.to_string(),
        );
        match on_final {
            Final::Fails(what) => self.summary.failures.push(format!("{what}: {failure}")),
            Final::Warns(what) => self.summary.warnings.push(format!("{what}: {failure}")),
        }
    }

    /// An export left for the next run: a skipped action saying why, and a line in the Notice.
    pub fn left_for_next_run(&mut self, call: &str, target: &str, why: &str) {
        self.act(
            call,
            target,
            ActionStatus::Skipped,
            format!("left for the next run: {why}"),
        );
        self.summary.exports_left.push(format!("{target}: {why}"));
    }

    pub fn warn(&mut self, warning: impl Into<String>) {
        let warning = warning.into();
        if !self.summary.warnings.contains(&warning) {
            self.summary.warnings.push(warning);
        }
    }

    /// An export completed (or, in a dry run, would be started); listed once per run.
    pub fn exported(&mut self, target: String) {
        if !self.summary.exports_completed.contains(&target) {
            self.summary.exports_completed.push(target);
        }
    }

    /// A snapshot deleted (or, in a dry run, that would be); listed once per run.
    pub fn deleted(&mut self, id: String) {
        if !self.summary.deleted.contains(&id) {
            self.summary.deleted.push(id);
        }
    }

    pub fn observe(&mut self, key: &str, value: Value) {
        self.observed.insert(key.to_owned(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phoenix_core::aws::FailureKind;

    fn failure(code: &str, status: u16) -> AwsFailure {
        AwsFailure::new(
            "s3:PutObject",
            "s3://b/k",
            FailureKind::Service,
            Some(code),
            "injected",
            Some(status),
        )
    }

    #[test]
    fn one_triage_for_every_call() {
        let mut journal = Journal::default();
        assert_eq!(
            journal.triage(Ok::<_, AwsFailure>(7), Final::Fails("x")),
            Ok(Some(7))
        );
        let retry = journal
            .triage::<()>(Err(failure("SlowDown", 503)), Final::Fails("x"))
            .expect_err("retryable");
        assert!(retry.0.contains("SlowDown"), "{retry}");
        assert!(
            journal.actions.is_empty(),
            "a retryable failure is not recorded: the retry runs"
        );

        let none = journal
            .triage::<()>(
                Err(failure("AccessDenied", 403)),
                Final::Fails("checkpoint not written"),
            )
            .expect("final");
        assert_eq!(none, None);
        assert_eq!(journal.actions.len(), 1);
        assert_eq!(journal.actions[0].status, ActionStatus::Failed);
        assert!(
            journal.summary.failures[0].starts_with(
                "checkpoint not written: s3:PutObject on s3://b/k failed: AccessDenied"
            )
        );

        journal
            .triage::<()>(
                Err(failure("AccessDenied", 403)),
                Final::Warns("objects not listed"),
            )
            .expect("final");
        assert_eq!(journal.summary.failures.len(), 1);
        assert_eq!(journal.summary.warnings.len(), 1);
    }

    #[test]
    fn exports_and_deletions_are_listed_once() {
        let mut journal = Journal::default();
        journal.exported("/ecs/phoenix 2026-11-20".into());
        journal.exported("/ecs/phoenix 2026-11-20".into());
        journal.deleted("a".into());
        journal.deleted("a".into());
        journal.warn("w");
        journal.warn("w");
        assert_eq!(journal.summary.exports_completed.len(), 1);
        assert_eq!(journal.summary.deleted.len(), 1);
        assert_eq!(journal.summary.warnings.len(), 1);
    }
}
