//! Observe: what the ledger says about each channel of a message (delivered already? held by
//! another invocation? by an earlier attempt of this one?), and, for an OK that ends an ALARM,
//! when that ALARM began. Reads only (`dynamodb:GetItem`), dry runs included.

use chrono::{DateTime, Utc};
use phoenix_core::Ledger;
use phoenix_core::ledger::Entry;

use crate::decide::{Channel, Observed, Seen, alarm_start_key, ledger_key, needs_alarm_start};
use crate::event::Incoming;
use crate::message::Message;

fn seen(entry: Option<Entry>, request_id: &str) -> Seen {
    match entry {
        None => Seen::Free,
        Some(entry) if entry.done => Seen::Done {
            at: entry.at,
            note: entry.note,
        },
        Some(entry) if entry.owner == request_id => Seen::Mine,
        Some(entry) => Seen::Held {
            at: entry.at,
            by: entry.owner,
        },
    }
}

/// Reads the ledger for one message.
pub async fn observe(
    ledger: &Ledger,
    incoming: &Incoming,
    request_id: &str,
    now: DateTime<Utc>,
) -> Observed {
    let mut observed = Observed::default();
    if let Some(identity) = incoming.identity() {
        for (slot, channel) in observed.seen.iter_mut().zip(Channel::ALL) {
            let key = ledger_key(channel, &identity);
            *slot = Some(match ledger.read(&key, now).await {
                Ok(entry) => seen(entry, request_id),
                Err(failure) => Seen::Unreadable {
                    retryable: failure.retryable,
                    why: failure.to_string(),
                },
            });
        }
    }
    if let Message::Alarm(alarm) = &incoming.message
        && needs_alarm_start(alarm)
    {
        match ledger.read(&alarm_start_key(alarm), now).await {
            Ok(entry) => {
                observed.alarm_started = entry
                    .and_then(|e| DateTime::parse_from_rfc3339(&e.note).ok())
                    .map(|t| t.with_timezone(&Utc));
            }
            Err(failure) => {
                observed.alarm_start_problem =
                    Some(format!("when the alarm began is unknown: {failure}"));
            }
        }
    }
    observed
}
