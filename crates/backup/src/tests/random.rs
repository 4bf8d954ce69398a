//! Random events: the parser is total (any JSON gives a request, an ignored reason or a
//! rejection, never a panic), whatever it refuses costs no AWS call, and a scheduled event is
//! accepted only when its time is near the clock, wherever in the calendar that time is.

use chrono::{DateTime, Duration, Utc};
use phoenix_core::{Function, Invocation};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::mocks::{FakeTable, Scenario, mocked, now};
use crate::event::{self, MAX_DELIVERY_DELAY, MAX_EARLY, NotHandled};

fn json_value() -> impl Strategy<Value = Value> {
    phoenix_testkit::arbitrary::json_value(
        &["Scheduled Event", "aws.events", "2026-11-21T03:00:00Z"],
        &[
            "database",
            "logs",
            "dry_run",
            "reason",
            "detail-type",
            "source",
            "time",
            "id",
        ],
    )
}

/// Any second chrono can represent.
fn any_time() -> impl Strategy<Value = DateTime<Utc>> {
    let (min, max) = (
        DateTime::<Utc>::MIN_UTC.timestamp(),
        DateTime::<Utc>::MAX_UTC.timestamp(),
    );
    prop_oneof![
        (min..=max)
            .prop_map(|s| DateTime::from_timestamp(s, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)),
        // most cases near the clock, where the boundaries are
        (-200_000_i64..200_000).prop_map(|s| now() + Duration::seconds(s)),
    ]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Random JSON never panics; whatever the trigger parser refuses is ignored or rejected
    /// without any AWS call (every mocked client panics on a call no rule expects, and the
    /// ledger, the first call of a run, is counted).
    #[test]
    fn random_json_is_refused_without_any_aws_call_unless_it_is_a_valid_trigger(payload in json_value()) {
        if event::parse(&payload, "r", now(), 24).is_err() {
            let ledger = FakeTable::default();
            let m = mocked(Scenario::default(), &ledger);
            let outcome = runtime()
                .block_on(m.backup.handle(Invocation::new(payload.clone(), now())))
                .expect("never an error");
            prop_assert!(outcome.ignored.is_some() || outcome.rejected.is_some(), "{outcome:?}");
            prop_assert!(outcome.actions.is_empty());
            prop_assert!(m.rules.iter().all(|(_, r)| r.num_calls() == 0));
        }
    }

    /// A scheduled event at any time: accepted exactly when it is at most 5 minutes ahead and
    /// at most 24 h + one period behind; the slot then lies in that window too.
    #[test]
    fn a_scheduled_time_anywhere_in_the_calendar_never_panics(time in any_time(), clock in any_time(), period in prop::sample::select(vec![1_u32, 6, 12, 24])) {
        let mut event = phoenix_testkit::fixture("scheduled-event.json");
        event["time"] = json!(time.to_rfc3339());
        let parsed = event::parse(&event, "r", clock, period);
        let near = time.signed_duration_since(clock) <= MAX_EARLY
            && clock.signed_duration_since(time) <= MAX_DELIVERY_DELAY + event::period(period);
        match parsed {
            Ok(request) => {
                prop_assert!(near, "{time} accepted at {clock}");
                let id = event::snapshot_id("phoenix-docdb", &request.trigger, period);
                prop_assert!(id.starts_with("phoenix-ops-phoenix-docdb-") && id.len() <= 255);
            }
            Err(NotHandled::Ignored(_)) => prop_assert!(!near || time.to_rfc3339().len() > 25, "{time} refused at {clock}"),
            Err(NotHandled::Rejected(why)) => prop_assert!(false, "a scheduled event is never rejected: {why}"),
        }
    }

    /// Truncated and retyped versions of the real sample never panic the parser.
    #[test]
    fn mutated_samples_never_panic(cut in 0_usize..400, field in prop::sample::select(vec!["time", "id", "source", "detail-type", "detail"]), value in json_value()) {
        let sample = phoenix_testkit::fixture("scheduled-event.json");
        let text = sample.to_string();
        let cut = text.char_indices().map(|(i, _)| i).take_while(|i| *i <= cut).last().unwrap_or(0);
        if let Ok(truncated) = serde_json::from_str::<Value>(&text[..cut]) {
            let _ = event::parse(&truncated, "r", now(), 24);
        }
        let mut retyped = sample;
        retyped[field] = value;
        let _ = event::parse(&retyped, "r", now(), 24);
    }
}
