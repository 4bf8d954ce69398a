//! The ledger table in memory, for the mocked AWS: PutItem, GetItem, UpdateItem and
//! DeleteItem answered with the conditions `phoenix_core::ledger` writes, so a lease, a run's
//! record and a retry behave as they do in DynamoDB.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::operation::delete_item::{DeleteItemError, DeleteItemOutput};
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_mocks::{MockResponse, Rule, mock};
use chrono::{DateTime, Utc};

use super::mocks::{Call, meta, now};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

type Item = HashMap<String, AttributeValue>;

/// The ledger table in memory, answering PutItem, GetItem, UpdateItem and DeleteItem with the
/// conditions `phoenix_core::ledger` writes (a failed condition is
/// `ConditionalCheckFailedException`, as DynamoDB answers).
#[derive(Debug, Clone, Default)]
pub struct FakeTable {
    items: Arc<Mutex<BTreeMap<String, Item>>>,
}

fn s(item: &Item, name: &str) -> String {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

fn n(item: &Item, name: &str) -> i64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_default()
}

fn value_s(values: Option<&Item>, name: &str) -> String {
    values.map(|v| s(v, name)).unwrap_or_default()
}

fn value_n(values: Option<&Item>, name: &str) -> i64 {
    values.map(|v| n(v, name)).unwrap_or_default()
}

const CONDITION: &str = "ConditionalCheckFailedException";

impl FakeTable {
    /// The entry under `key`, as (state, owner, note).
    pub fn entry(&self, key: &str) -> Option<(String, String, String)> {
        lock(&self.items)
            .get(key)
            .map(|i| (s(i, "state"), s(i, "owner"), s(i, "note")))
    }

    pub fn keys(&self) -> Vec<String> {
        lock(&self.items).keys().cloned().collect()
    }

    /// `lease_until` of the entry under `key`.
    pub fn lease_until(&self, key: &str) -> Option<i64> {
        lock(&self.items).get(key).map(|i| n(i, "lease_until"))
    }

    /// Puts an entry as another invocation would have.
    pub fn put(&self, key: &str, state: &str, owner: &str, until: DateTime<Utc>, note: &str) {
        let mut item = Item::new();
        item.insert("pk".into(), AttributeValue::S(key.into()));
        item.insert("state".into(), AttributeValue::S(state.into()));
        item.insert("owner".into(), AttributeValue::S(owner.into()));
        item.insert("note".into(), AttributeValue::S(note.into()));
        for name in ["at", "lease_until", "expires_at"] {
            let t = if name == "at" { now() } else { until };
            item.insert(name.into(), AttributeValue::N(t.timestamp().to_string()));
        }
        lock(&self.items).insert(key.into(), item);
    }

    pub fn rules(&self) -> Vec<(Call, Rule)> {
        let (a, b, c, d) = (
            self.items.clone(),
            self.items.clone(),
            self.items.clone(),
            self.items.clone(),
        );
        vec![
            (
                Call::PutItem,
                mock!(aws_sdk_dynamodb::Client::put_item).then_compute_response(move |r| {
                    let Some(item) = r.item().cloned() else {
                        return MockResponse::Error(PutItemError::generic(meta(
                            "ValidationException",
                            "no item",
                        )));
                    };
                    let key = s(&item, "pk");
                    let values = r.expression_attribute_values();
                    let now = value_n(values, ":now");
                    let mut items = lock(&a);
                    let free = match items.get(&key) {
                        None => true,
                        Some(old) if n(old, "expires_at") < now => true,
                        // a claim (the record of a done marker has no lease condition)
                        Some(old)
                            if r.condition_expression()
                                .is_some_and(|c| c.contains("lease_until")) =>
                        {
                            s(old, "state") == "held"
                                && (n(old, "lease_until") < now
                                    || s(old, "owner") == value_s(values, ":owner"))
                        }
                        Some(_) => false,
                    };
                    if !free {
                        return MockResponse::Error(PutItemError::generic(meta(
                            CONDITION, "taken",
                        )));
                    }
                    items.insert(key, item);
                    MockResponse::Output(PutItemOutput::builder().build())
                }),
            ),
            (
                Call::GetItem,
                mock!(aws_sdk_dynamodb::Client::get_item).then_compute_output(move |r| {
                    let key = r.key().map(|k| s(k, "pk")).unwrap_or_default();
                    GetItemOutput::builder()
                        .set_item(lock(&b).get(&key).cloned())
                        .build()
                }),
            ),
            (
                Call::UpdateItem,
                mock!(aws_sdk_dynamodb::Client::update_item).then_compute_response(move |r| {
                    let key = r.key().map(|k| s(k, "pk")).unwrap_or_default();
                    let values = r.expression_attribute_values();
                    let mut items = lock(&c);
                    match items.get_mut(&key) {
                        Some(item) if s(item, "owner") == value_s(values, ":owner") => {
                            for (name, value) in [
                                ("state", ":done"),
                                ("note", ":note"),
                                ("at", ":now"),
                                ("expires_at", ":exp"),
                            ] {
                                if let Some(v) = values.and_then(|v| v.get(value)) {
                                    item.insert(name.into(), v.clone());
                                }
                            }
                            MockResponse::Output(UpdateItemOutput::builder().build())
                        }
                        _ => MockResponse::Error(UpdateItemError::generic(meta(
                            CONDITION,
                            "not the owner",
                        ))),
                    }
                }),
            ),
            (
                Call::DeleteItem,
                mock!(aws_sdk_dynamodb::Client::delete_item).then_compute_response(move |r| {
                    let key = r.key().map(|k| s(k, "pk")).unwrap_or_default();
                    let values = r.expression_attribute_values();
                    let mut items = lock(&d);
                    let held_by_caller = items.get(&key).is_some_and(|i| {
                        s(i, "owner") == value_s(values, ":owner") && s(i, "state") == "held"
                    });
                    if held_by_caller {
                        items.remove(&key);
                        MockResponse::Output(DeleteItemOutput::builder().build())
                    } else {
                        MockResponse::Error(DeleteItemError::generic(meta(
                            CONDITION,
                            "not held by the caller",
                        )))
                    }
                }),
            ),
        ]
    }
}
