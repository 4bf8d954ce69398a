//! Matching rules AWS applies to messages on the way: EventBridge event patterns (which events a
//! rule sends to a function) and SNS subscription filter policies (which messages reach a
//! subscriber, e.g. the people on `oncall`).
//!
//! Both use the same vocabulary: a key maps to a list of allowed values (any one matches) or a
//! nested object; content filters `{"prefix": …}`, `{"anything-but": …}`, `{"exists": bool}`,
//! `{"numeric": [op, n, …]}`, `{"equals-ignore-case": …}`; `$or` lists alternatives.
//!
//! Sources: EventBridge event patterns
//! (<https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html>,
//! <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html>);
//! SNS subscription filter policies, whose default scope is the message attributes and which
//! reject a message that lacks a filtered attribute unless the policy says `"exists": false` —
//! which "only matches if at least one attribute is present": a message with no attributes at all
//! (a CloudWatch alarm action's) never passes an attribute filter
//! (<https://docs.aws.amazon.com/sns/latest/dg/sns-subscription-filter-policies.html>,
//! <https://docs.aws.amazon.com/sns/latest/dg/attribute-key-matching.html>).

use std::collections::BTreeMap;

use serde_json::Value;

/// Whether one event (JSON) matches an EventBridge pattern.
pub fn event_matches(pattern: &Value, event: &Value) -> bool {
    object_matches(pattern, Some(event))
}

fn object_matches(pattern: &Value, value: Option<&Value>) -> bool {
    let Some(pattern) = pattern.as_object() else {
        return false;
    };
    pattern.iter().all(|(key, rule)| {
        if key == "$or" {
            return rule
                .as_array()
                .is_some_and(|alternatives| alternatives.iter().any(|a| object_matches(a, value)));
        }
        let field = value.and_then(|v| v.get(key));
        match rule {
            Value::Object(_) => object_matches(rule, field),
            Value::Array(allowed) => field_matches(allowed, field),
            // A bare scalar is not valid pattern syntax; treat it as a one-value list.
            scalar => field_matches(std::slice::from_ref(scalar), field),
        }
    })
}

/// A field against its list of allowed values. An array field matches when any element does.
fn field_matches(allowed: &[Value], field: Option<&Value>) -> bool {
    match field {
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .any(|item| allowed.iter().any(|rule| leaf_matches(rule, Some(item)))),
        other => allowed.iter().any(|rule| leaf_matches(rule, other)),
    }
}

fn as_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn leaf_matches(rule: &Value, value: Option<&Value>) -> bool {
    match rule {
        Value::Object(filter) => filter.iter().all(|(op, arg)| match op.as_str() {
            "exists" => arg.as_bool() == Some(value.is_some_and(|v| !v.is_null())),
            "prefix" => value
                .and_then(Value::as_str)
                .zip(arg.as_str())
                .is_some_and(|(v, p)| v.starts_with(p)),
            "suffix" => value
                .and_then(Value::as_str)
                .zip(arg.as_str())
                .is_some_and(|(v, p)| v.ends_with(p)),
            "equals-ignore-case" => value
                .and_then(Value::as_str)
                .zip(arg.as_str())
                .is_some_and(|(v, p)| v.eq_ignore_ascii_case(p)),
            "anything-but" => match value {
                None => false,
                Some(v) => match arg {
                    Value::Array(excluded) => !excluded.iter().any(|e| scalar_eq(e, v)),
                    Value::Object(inner) => !leaf_matches(&Value::Object(inner.clone()), Some(v)),
                    excluded => !scalar_eq(excluded, v),
                },
            },
            "numeric" => {
                let Some(number) = value.and_then(as_number) else {
                    return false;
                };
                let parts = arg.as_array().cloned().unwrap_or_default();
                parts.chunks(2).all(|pair| {
                    let (Some(op), Some(bound)) = (
                        pair.first().and_then(Value::as_str),
                        pair.get(1).and_then(as_number),
                    ) else {
                        return false;
                    };
                    match op {
                        "=" => (number - bound).abs() < f64::EPSILON,
                        "<" => number < bound,
                        "<=" => number <= bound,
                        ">" => number > bound,
                        ">=" => number >= bound,
                        _ => false,
                    }
                })
            }
            _ => false,
        }),
        Value::Null => value.is_none_or(Value::is_null),
        scalar => value.is_some_and(|v| scalar_eq(scalar, v)),
    }
}

fn scalar_eq(rule: &Value, value: &Value) -> bool {
    match (rule, value) {
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Number(_), _) => as_number(rule)
            .zip(as_number(value))
            .is_some_and(|(a, b)| (a - b).abs() < f64::EPSILON),
        (a, b) => a == b,
    }
}

/// An SNS subscription filter policy.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterPolicy {
    pub policy: Value,
    /// `MessageAttributes` (SNS's default) or `MessageBody`.
    pub scope: FilterScope,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterScope {
    MessageAttributes,
    MessageBody,
}

impl FilterPolicy {
    /// From a subscription's `FilterPolicy` (an object, or a JSON string) and
    /// `FilterPolicyScope`.
    pub fn new(policy: &Value, scope: Option<&str>) -> Option<FilterPolicy> {
        let policy = match policy {
            Value::String(text) => serde_json::from_str(text).ok()?,
            Value::Object(_) => policy.clone(),
            _ => return None,
        };
        Some(FilterPolicy {
            policy,
            scope: if scope == Some("MessageBody") {
                FilterScope::MessageBody
            } else {
                FilterScope::MessageAttributes
            },
        })
    }

    /// Whether a message with these string attributes (and body) is delivered.
    pub fn accepts(&self, attributes: &BTreeMap<String, String>, body: &str) -> bool {
        match self.scope {
            // "exists": false needs at least one attribute: an empty set matches nothing.
            FilterScope::MessageAttributes if attributes.is_empty() => false,
            FilterScope::MessageAttributes => {
                let object: serde_json::Map<String, Value> = attributes
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect();
                object_matches(&self.policy, Some(&Value::Object(object)))
            }
            FilterScope::MessageBody => serde_json::from_str::<Value>(body)
                .is_ok_and(|b| object_matches(&self.policy, Some(&b))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn event_patterns_match_like_eventbridge() {
        let event = json!({
            "source": "aws.ecs",
            "detail-type": "ECS Task State Change",
            "resources": ["arn:task/1"],
            "detail": {"clusterArn": "arn:c", "lastStatus": "STOPPED", "version": 5}
        });
        let cases = [
            (json!({"source": ["aws.ecs"]}), true),
            (json!({"source": ["aws.events"]}), false),
            (
                json!({"detail": {"lastStatus": ["STOPPED"], "clusterArn": ["arn:c"]}}),
                true,
            ),
            (json!({"detail": {"lastStatus": ["RUNNING"]}}), false),
            (json!({"detail": {"missing": [{"exists": false}]}}), true),
            (json!({"detail": {"lastStatus": [{"exists": true}]}}), true),
            (
                json!({"detail": {"lastStatus": [{"anything-but": "RUNNING"}]}}),
                true,
            ),
            (
                json!({"detail": {"clusterArn": [{"prefix": "arn:"}]}}),
                true,
            ),
            (
                json!({"detail": {"version": [{"numeric": [">", 4]}]}}),
                true,
            ),
            (json!({"resources": ["arn:task/1"]}), true),
            (
                json!({"$or": [{"source": ["x"]}, {"detail": {"version": [5]}}]}),
                true,
            ),
        ];
        for (pattern, expected) in cases {
            assert_eq!(event_matches(&pattern, &event), expected, "{pattern}");
        }
    }

    #[test]
    fn filter_policies_reject_messages_without_the_attribute() {
        let policy =
            FilterPolicy::new(&json!({"severity": ["warning", "error", "critical"]}), None)
                .expect("policy");
        let attrs = |s: &str| BTreeMap::from([("severity".to_owned(), s.to_owned())]);
        assert!(policy.accepts(&attrs("critical"), ""));
        assert!(!policy.accepts(&attrs("info"), ""));
        assert!(
            !policy.accepts(&BTreeMap::new(), ""),
            "a CloudWatch alarm action carries no attributes"
        );
        let lenient = FilterPolicy::new(
            &json!(r#"{"severity": [{"anything-but": ["info"]}, {"exists": false}]}"#),
            None,
        )
        .expect("policy from a JSON string");
        let other = BTreeMap::from([("kind".to_owned(), "alarm".to_owned())]);
        assert!(
            lenient.accepts(&other, ""),
            "exists false: the key is absent"
        );
        assert!(!lenient.accepts(&attrs("info"), ""));
        assert!(
            !lenient.accepts(&BTreeMap::new(), ""),
            "exists false needs at least one attribute"
        );
        // no filter can let an alarm action's attribute-less message through
        let people = FilterPolicy::new(
            &json!({"severity": ["warning", "error", "critical", {"exists": false}]}),
            None,
        )
        .expect("policy");
        assert!(!people.accepts(&BTreeMap::new(), ""));
        assert!(people.accepts(&attrs("warning"), ""));
        assert!(!people.accepts(&attrs("info"), ""));
        let body = FilterPolicy::new(&json!({"level": ["high"]}), Some("MessageBody")).expect("p");
        assert!(body.accepts(&BTreeMap::new(), r#"{"level": "high"}"#));
        assert!(!body.accepts(&BTreeMap::new(), "not json"));
    }
}
