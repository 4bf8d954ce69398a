//! The ledger: a small DynamoDB table (`LEDGER_TABLE`) that makes an effect happen once across
//! containers. EventBridge, SNS and SQS deliver at least once, and two deliveries of one event
//! may land in two containers at the same time; an in-memory "seen" set cannot see the other
//! container. Every effect people would see twice (a Slack post, a forced deployment, a page)
//! is claimed here first with a conditional write.
//!
//! One item per key: `pk`, `state` (`held` or `done`), `owner` (the request id holding it),
//! `lease_until`, `note` (what was done), `at`, and `expires_at`, the table's TTL attribute
//! (DynamoDB deletes expired items within a day or two; every read here also treats an expired
//! item as absent, so correctness never waits for the TTL sweeper).
//!
//! * [`Ledger::claim`]: take the key, or learn that it is done (with its note) or held by
//!   another invocation right now. A holder that dies leaves its lease to run out, so a retry
//!   can take over; the lease must outlast the function's timeout.
//! * [`Ledger::complete`] after the effect; [`Ledger::release`] when it failed and a retry must
//!   be able to try again.
//! * [`Ledger::record`]: a one-shot marker ("the missing image was reported") without a lease.
//!
//! Dry runs do not write the ledger (callers skip it): a dry run must leave no trace that
//! would stop a real run.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::aws::AwsFailure;

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "claim")]
pub enum Claim {
    /// The caller holds the key until it completes or releases it, or its lease runs out.
    Acquired,
    /// The effect is already done.
    Done { at: DateTime<Utc>, note: String },
    /// Another invocation holds the key right now.
    Held { until: DateTime<Utc>, by: String },
}

/// One entry, as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub key: String,
    pub done: bool,
    pub owner: String,
    pub at: DateTime<Utc>,
    pub note: String,
    pub expires_at: DateTime<Utc>,
}

/// The ledger table.
#[derive(Debug, Clone)]
pub struct Ledger {
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
}

const HELD: &str = "held";
const DONE: &str = "done";
/// Longest key and note stored (DynamoDB items are capped at 400 KB; keys at 2 KB).
const KEY_MAX_BYTES: usize = 1_024;
const NOTE_MAX_CHARS: usize = 1_000;

fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

fn n(t: DateTime<Utc>) -> AttributeValue {
    AttributeValue::N(t.timestamp().to_string())
}

/// Keys longer than DynamoDB accepts keep their start and a digest of the whole key.
fn bounded_key(key: &str) -> String {
    if key.len() <= KEY_MAX_BYTES {
        return key.to_owned();
    }
    // FNV-1a: stable across builds and platforms; collisions only matter between two keys
    // that share their first kilobyte.
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut cut = KEY_MAX_BYTES - 20;
    while !key.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}#{hash:016x}", &key[..cut])
}

fn time_of(item: &HashMap<String, AttributeValue>, name: &str) -> DateTime<Utc> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn text_of(item: &HashMap<String, AttributeValue>, name: &str) -> String {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

fn is_condition_failure<E>(
    error: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> bool
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    error
        .as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

impl Ledger {
    pub fn new(dynamodb: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            dynamodb,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Takes `key` for `owner` until `now + lease`, unless it is done or held by someone else.
    /// The entry is kept `keep` after `now` (at least the lease).
    pub async fn claim(
        &self,
        key: &str,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        keep: Duration,
    ) -> Result<Claim, AwsFailure> {
        let key = bounded_key(key);
        // two rounds: the entry may vanish between a failed condition and the read
        for _ in 0..2 {
            let put = self
                .dynamodb
                .put_item()
                .table_name(&self.table)
                .item("pk", s(&key))
                .item("state", s(HELD))
                .item("owner", s(owner))
                .item("at", n(now))
                .item("lease_until", n(now + lease))
                .item("expires_at", n(now + keep.max(lease)))
                // the same owner may take back a key it holds (Lambda's retry of an invocation
                // keeps its request id), never one that is done
                .condition_expression(
                    "attribute_not_exists(pk) OR expires_at < :now \
                     OR (#state = :held AND (lease_until < :now OR #owner = :owner))",
                )
                .expression_attribute_names("#state", "state")
                .expression_attribute_names("#owner", "owner")
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":held", s(HELD))
                .expression_attribute_values(":owner", s(owner))
                .send()
                .await;
            match put {
                Ok(_) => return Ok(Claim::Acquired),
                Err(e) if is_condition_failure(&e) => {}
                Err(e) => return Err(AwsFailure::from_sdk("dynamodb:PutItem", &self.table, &e)),
            }
            match self.read(&key, now).await? {
                Some(entry) if entry.done => {
                    return Ok(Claim::Done {
                        at: entry.at,
                        note: entry.note,
                    });
                }
                Some(entry) => {
                    return Ok(Claim::Held {
                        until: entry.expires_at.min(entry.at + lease),
                        by: entry.owner,
                    });
                }
                None => continue,
            }
        }
        Ok(Claim::Held {
            until: now + lease,
            by: "another invocation".to_owned(),
        })
    }

    /// Marks `key` done with `note`, kept `keep` after `now`. Only the holder can complete; if
    /// the lease ran out and another invocation took the key, that one completes it instead and
    /// this returns `Ok(false)`.
    pub async fn complete(
        &self,
        key: &str,
        owner: &str,
        now: DateTime<Utc>,
        keep: Duration,
        note: &str,
    ) -> Result<bool, AwsFailure> {
        let result = self
            .dynamodb
            .update_item()
            .table_name(&self.table)
            .key("pk", s(bounded_key(key)))
            .update_expression("SET #state = :done, note = :note, #at = :now, expires_at = :exp")
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_names("#at", "at")
            .expression_attribute_values(":done", s(DONE))
            .expression_attribute_values(
                ":note",
                s(crate::text::truncate_chars(note, NOTE_MAX_CHARS)),
            )
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":exp", n(now + keep))
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(AwsFailure::from_sdk("dynamodb:UpdateItem", &self.table, &e)),
        }
    }

    /// Gives `key` up (the effect failed; a retry must be able to claim it at once).
    pub async fn release(&self, key: &str, owner: &str) -> Result<(), AwsFailure> {
        let result = self
            .dynamodb
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(bounded_key(key)))
            .condition_expression("#owner = :owner AND #state = :held")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":held", s(HELD))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(AwsFailure::from_sdk("dynamodb:DeleteItem", &self.table, &e)),
        }
    }

    /// Writes a done marker for `key` unless a live one exists; true when written now.
    pub async fn record(
        &self,
        key: &str,
        owner: &str,
        now: DateTime<Utc>,
        keep: Duration,
        note: &str,
    ) -> Result<bool, AwsFailure> {
        let result = self
            .dynamodb
            .put_item()
            .table_name(&self.table)
            .item("pk", s(bounded_key(key)))
            .item("state", s(DONE))
            .item("owner", s(owner))
            .item("at", n(now))
            .item("lease_until", n(now))
            .item("expires_at", n(now + keep))
            .item("note", s(crate::text::truncate_chars(note, NOTE_MAX_CHARS)))
            .condition_expression("attribute_not_exists(pk) OR expires_at < :now")
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(AwsFailure::from_sdk("dynamodb:PutItem", &self.table, &e)),
        }
    }

    /// The live entry for `key` (an expired one reads as absent).
    pub async fn read(&self, key: &str, now: DateTime<Utc>) -> Result<Option<Entry>, AwsFailure> {
        let key = bounded_key(key);
        let out = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AwsFailure::from_sdk("dynamodb:GetItem", &self.table, &e))?;
        let Some(item) = out.item() else {
            return Ok(None);
        };
        let entry = Entry {
            key,
            done: text_of(item, "state") == DONE,
            owner: text_of(item, "owner"),
            at: time_of(item, "at"),
            note: text_of(item, "note"),
            expires_at: time_of(item, "expires_at"),
        };
        Ok((entry.expires_at >= now).then_some(entry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_keys_are_bounded_and_stay_distinct() {
        let a = format!("{}a", "k".repeat(3_000));
        let b = format!("{}b", "k".repeat(3_000));
        assert!(bounded_key(&a).len() <= KEY_MAX_BYTES);
        assert_ne!(bounded_key(&a), bounded_key(&b));
        assert_eq!(bounded_key("slack:abc"), "slack:abc");
        let wide = "é".repeat(1_000);
        assert!(bounded_key(&wide).len() <= KEY_MAX_BYTES);
    }
}
