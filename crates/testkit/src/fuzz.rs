//! The fuzz pass: mutated events ([`crate::mutate`]) through a real handler, in dry run, against
//! the emulator, each judged by an oracle:
//!
//! * **no panic** (the adapter turns a panic into an Outcome with `panicked`: counted here);
//! * **no AWS call before an event is ignored or rejected** (a read of the ledger, which is how a
//!   duplicate is recognised, is the one call allowed);
//! * **no mutating call in dry run** (the test kit's call recorder sees every call on the wire);
//! * **no action outside what the configuration allows** (each function's [`Allowed`] rule reads
//!   the actions its Outcome reports);
//! * **no hang**: an event is given 30 s.
//!
//! A retryable error is counted, not judged: it is right when AWS itself failed, and wrong when
//! bad input reached an AWS call; the first few are printed for a person to read.

use std::time::Duration;

use chrono::{DateTime, Utc};
use phoenix_core::lambda::handle_and_report;
use phoenix_core::outcome::{Action, Outcome};
use phoenix_core::{Function, Invocation};
use serde_json::Value;

use crate::World;
use crate::mutate::{Rng, mutate};

/// What a function may do, judged on one reported action: `Err(why)` when it is not allowed.
pub type Allowed = dyn Fn(&Action) -> Result<(), String> + Send + Sync;

/// One event the oracle found wrong.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The event's number in the run (with the seed, enough to replay it).
    pub index: usize,
    pub mutation: String,
    pub problem: String,
    /// The event, cut to 400 characters.
    pub event: String,
}

/// The figures of one function's pass.
#[derive(Debug, Clone, Default)]
pub struct FuzzReport {
    pub function: String,
    pub events: usize,
    pub ignored: usize,
    pub rejected: usize,
    pub acted: usize,
    pub retried: usize,
    pub panics: usize,
    pub wrong: Vec<Finding>,
    /// The first retryable errors, for a person to read.
    pub retried_examples: Vec<Finding>,
}

impl FuzzReport {
    pub fn passed(&self) -> bool {
        self.panics == 0 && self.wrong.is_empty()
    }
}

fn excerpt(event: &Value) -> String {
    cut(&event.to_string(), 400)
}

fn cut(text: &str, max: usize) -> String {
    phoenix_core::text::truncate_chars(text, max)
}

/// Judges one handled event; `Err(problem)` when the oracle says it is wrong.
fn judge(outcome: &Outcome, calls: &crate::calls::Calls, allowed: &Allowed) -> Result<(), String> {
    if let Some(panic) = &outcome.panicked {
        return Err(format!("panicked: {panic}"));
    }
    let mutating = calls.mutating();
    if !mutating.is_empty() {
        return Err(format!("mutating call(s) in dry run: {mutating}"));
    }
    if outcome.ignored.is_some() || outcome.rejected.is_some() {
        let other: Vec<String> = calls
            .iter()
            .filter(|c| c.service != "dynamodb")
            .map(ToString::to_string)
            .collect();
        if !other.is_empty() {
            return Err(format!(
                "AWS call(s) before the event was {}: {}",
                if outcome.ignored.is_some() {
                    "ignored"
                } else {
                    "rejected"
                },
                other.join(", ")
            ));
        }
        return Ok(());
    }
    // what was done, would be done, or was tried; a skipped action changed nothing
    for action in outcome
        .actions
        .iter()
        .filter(|a| a.status != phoenix_core::ActionStatus::Skipped)
    {
        allowed(action).map_err(|why| {
            format!(
                "action outside the configuration: {} {} — {why}",
                action.call, action.target
            )
        })?;
    }
    Ok(())
}

/// The sample with fresh identities for event `index`: its event id, SNS/SQS message id and task
/// id made unique, so mutated events are not simply recognised as repeats of the first one (the
/// duplicate path is one path; the fuzz pass is after all of them).
fn freshen(sample: &Value, index: usize) -> Value {
    let mut text = sample.to_string();
    let mut ids: Vec<String> = ["/id", "/Records/0/Sns/MessageId", "/Records/0/messageId"]
        .iter()
        .filter_map(|p| sample.pointer(p).and_then(Value::as_str).map(str::to_owned))
        .collect();
    if let Some(task) = sample
        .pointer("/detail/taskArn")
        .and_then(Value::as_str)
        .and_then(|arn| arn.rsplit('/').next())
    {
        ids.push(task.to_owned());
    }
    for id in ids.iter().filter(|id| id.len() >= 4) {
        text = text.replace(id.as_str(), &format!("{id}f{index}"));
    }
    serde_json::from_str(&text).unwrap_or_else(|_| sample.clone())
}

/// A sample from `events/` moved into the fuzzed world: its account (`111122223333` in the
/// samples) becomes `account`, and every time in it moves by the same amount so that its own
/// `time` (or an SNS message's `Timestamp`) is `now`, keeping the times' order and distances. An
/// event from another account or ten days old is rightly ignored; the pass should also reach
/// the paths behind those checks.
pub fn rebase_sample(sample: &Value, account: &str, now: DateTime<Utc>) -> Value {
    let text = sample.to_string().replace("111122223333", account);
    let mut value: Value = serde_json::from_str(&text).unwrap_or_else(|_| sample.clone());
    let anchor = ["/time", "/Records/0/Sns/Timestamp", "/detail/stoppedAt"]
        .iter()
        .filter_map(|p| value.pointer(p).and_then(Value::as_str))
        .find_map(|t| DateTime::parse_from_rfc3339(t).ok());
    let Some(anchor) = anchor else {
        return value;
    };
    let shift = now.signed_duration_since(anchor.with_timezone(&Utc));
    shift_times(&mut value, shift);
    value
}

fn shift_times(value: &mut Value, shift: chrono::TimeDelta) {
    match value {
        Value::String(text) => {
            if let Ok(t) = DateTime::parse_from_rfc3339(text)
                && let Some(moved) = t.with_timezone(&Utc).checked_add_signed(shift)
            {
                *text = moved.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| shift_times(v, shift)),
        Value::Object(map) => map.values_mut().for_each(|v| shift_times(v, shift)),
        _ => {}
    }
}

/// What one function's pass feeds it.
pub struct FuzzPlan<'a> {
    /// The real samples mutations grow from.
    pub samples: &'a [Value],
    /// Other samples, whose parts are grafted in.
    pub others: &'a [Value],
    pub allowed: &'a Allowed,
    pub events: usize,
    pub seed: u64,
    /// The handlers' clock.
    pub now: DateTime<Utc>,
}

/// Runs `plan.events` mutated events through `function` (built in dry run).
pub async fn fuzz_function<F: Function>(
    function: &F,
    world: &World,
    plan: &FuzzPlan<'_>,
) -> FuzzReport {
    let FuzzPlan {
        samples,
        others,
        allowed,
        events,
        seed,
        now,
    } = *plan;
    let mut report = FuzzReport {
        function: F::NAME.to_owned(),
        ..FuzzReport::default()
    };
    if samples.is_empty() {
        return report;
    }
    let mut rng = Rng::new(seed);
    for index in 0..events {
        let sample = freshen(&samples[rng.below(samples.len())], index);
        let (event, mutation) = mutate(&sample, others, &mut rng);
        let invocation = Invocation::new(event.clone(), now)
            .request_id(format!("fuzz-{seed}-{index}"))
            .time_left(Duration::from_secs(20));
        let mark = world.calls().mark();
        let mut sink = std::io::sink();
        let handled = tokio::time::timeout(
            Duration::from_secs(30),
            handle_and_report(function, invocation, &mut sink),
        )
        .await;
        let calls = world.calls().since(mark);
        report.events += 1;
        let finding = |problem: String| Finding {
            index,
            mutation: mutation.clone(),
            problem,
            event: excerpt(&event),
        };
        match handled {
            Err(_) => report
                .wrong
                .push(finding("no answer within 30 s".to_owned())),
            Ok(Err(error)) => {
                report.retried += 1;
                if report.retried_examples.len() < 3 {
                    report.retried_examples.push(finding(error.0));
                }
            }
            Ok(Ok(outcome)) => {
                if outcome.panicked.is_some() {
                    report.panics += 1;
                } else if outcome.ignored.is_some() {
                    report.ignored += 1;
                } else if outcome.rejected.is_some() {
                    report.rejected += 1;
                } else {
                    report.acted += 1;
                }
                if let Err(problem) = judge(&outcome, &calls, allowed) {
                    report.wrong.push(finding(problem));
                }
            }
        }
    }
    report
}

/// The per-function table: `function | events | ignored | rejected | acted | retried | panics | wrong`.
pub fn table(reports: &[FuzzReport]) -> String {
    let mut out = String::from(
        "| function | events | ignored | rejected | acted | retried | panics | wrong |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in reports {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.function,
            r.events,
            r.ignored,
            r.rejected,
            r.acted,
            r.retried,
            r.panics,
            r.wrong.len()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calls::{Call, Calls};
    use phoenix_core::ActionStatus;

    fn call(service: &str, operation: &str, mutating: bool) -> Call {
        Call {
            account: "111111111111".into(),
            service: service.into(),
            operation: operation.into(),
            mutating,
        }
    }

    fn only_update_service(action: &Action) -> Result<(), String> {
        if action.call == "ecs:UpdateService" && action.target == "phoenix-service" {
            Ok(())
        } else {
            Err("only UpdateService of phoenix-service".into())
        }
    }

    #[test]
    fn samples_move_into_the_world_keeping_their_times_apart() {
        let sample = serde_json::json!({"account": "111122223333", "time": "2026-11-20T10:15:42Z",
            "detail": {"stoppedAt": "2026-11-20T10:15:40.5Z", "startedAt": "2026-11-20T09:15:42Z",
            "clusterArn": "arn:aws:ecs:eu-west-1:111122223333:cluster/c", "group": "service:x"}});
        let now = DateTime::parse_from_rfc3339("2026-11-30T12:00:00Z")
            .expect("valid")
            .with_timezone(&Utc);
        let moved = rebase_sample(&sample, "999988887777", now);
        assert_eq!(moved["account"], "999988887777");
        assert_eq!(moved["time"], "2026-11-30T12:00:00.000Z");
        assert_eq!(moved["detail"]["stoppedAt"], "2026-11-30T11:59:58.500Z");
        assert_eq!(moved["detail"]["startedAt"], "2026-11-30T11:00:00.000Z");
        assert_eq!(
            moved["detail"]["clusterArn"],
            "arn:aws:ecs:eu-west-1:999988887777:cluster/c"
        );
        assert_eq!(moved["detail"]["group"], "service:x");
    }

    #[test]
    fn fresh_samples_have_their_own_identities() {
        let sample = serde_json::json!({"id": "e-123", "detail": {
            "taskArn": "arn:aws:ecs:eu-west-1:1:task/c/abcd1234"}, "resources": ["arn:aws:ecs:eu-west-1:1:task/c/abcd1234"]});
        let fresh = freshen(&sample, 7);
        assert_eq!(fresh["id"], "e-123f7");
        assert_eq!(
            fresh["detail"]["taskArn"],
            "arn:aws:ecs:eu-west-1:1:task/c/abcd1234f7"
        );
        assert_eq!(fresh["resources"][0], fresh["detail"]["taskArn"]);
    }

    #[test]
    fn the_oracle_judges_each_rule() {
        let ignored = Outcome::ignored("f", None, "not ours");
        assert!(judge(&ignored, &Calls(vec![]), &only_update_service).is_ok());
        assert!(
            judge(
                &ignored,
                &Calls(vec![call("dynamodb", "GetItem", false)]),
                &only_update_service
            )
            .is_ok()
        );
        let err = judge(
            &ignored,
            &Calls(vec![call("ecs", "DescribeTasks", false)]),
            &only_update_service,
        )
        .expect_err("a call before ignoring");
        assert!(err.contains("ecs:DescribeTasks"), "{err}");

        let mut acted = Outcome::handled("f", None, true);
        acted.action(Action::new(
            "ecs:UpdateService",
            "phoenix-service",
            ActionStatus::DryRun,
        ));
        assert!(
            judge(
                &acted,
                &Calls(vec![call("ecs", "DescribeServices", false)]),
                &only_update_service
            )
            .is_ok()
        );
        let err = judge(
            &acted,
            &Calls(vec![call("ecs", "UpdateService", true)]),
            &only_update_service,
        )
        .expect_err("mutating in dry run");
        assert!(err.contains("mutating"), "{err}");
        acted.action(Action::new(
            "ecs:RunTask",
            "evil-family",
            ActionStatus::DryRun,
        ));
        let err = judge(&acted, &Calls(vec![]), &only_update_service).expect_err("not allowed");
        assert!(err.contains("evil-family"), "{err}");

        let panicked = Outcome::panicked("f", None, "boom");
        assert!(judge(&panicked, &Calls(vec![]), &only_update_service).is_err());
    }
}
