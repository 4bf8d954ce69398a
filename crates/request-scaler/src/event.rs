// pure: reads and validates the trigger from the event JSON (no I/O, no clock, no async)
//! The triggers: the one-minute EventBridge schedule, and (fast path) a CloudWatch alarm on the
//! ALB's RequestCount going to ALARM. Both run the same evaluation. Anything else is ignored with
//! its reason, before any AWS call. [`parse`] is total: any JSON gives a trigger or a reason.

use serde_json::Value;

/// Longest event id accepted (EventBridge ids are 36-character UUIDs).
pub const MAX_ID_CHARS: usize = 128;
/// Longest region and alarm name accepted (alarm names are at most 255 characters).
const MAX_NAME_CHARS: usize = 255;

/// Why the scaler runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerKind {
    /// `Scheduled Event` from EventBridge.
    Schedule,
    /// `CloudWatch Alarm State Change` to ALARM.
    Alarm { alarm: String },
}

/// A validated trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub kind: TriggerKind,
    /// The event id; `None` when the event has none. Such an event is always evaluated (it sets
    /// desiredCount, so a repeat is harmless) and never deduplicated against another.
    pub event_id: Option<String>,
    /// The event's region (empty when absent).
    pub region: String,
}

impl Trigger {
    pub fn event_id(&self) -> Option<&str> {
        self.event_id.as_deref()
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn describe(&self) -> String {
        match &self.kind {
            TriggerKind::Schedule => "schedule".to_owned(),
            TriggerKind::Alarm { alarm } => format!("alarm {alarm}"),
        }
    }
}

/// The event id, when the payload has a usable one (for ignored events too).
pub fn event_id(payload: &Value) -> Option<&str> {
    payload
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty() && id.chars().count() <= MAX_ID_CHARS)
}

/// Reads the trigger, or says why the event is not one.
pub fn parse(payload: &Value) -> Result<Trigger, String> {
    let Some(object) = payload.as_object() else {
        return Err(format!(
            "not an EventBridge event (a JSON {})",
            kind(payload)
        ));
    };
    let (Some(source), Some(detail_type)) = (
        object.get("source").and_then(Value::as_str),
        object.get("detail-type").and_then(Value::as_str),
    ) else {
        return Err("not an EventBridge event (no source/detail-type strings)".to_owned());
    };
    let event_id = match object.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if id.is_empty() => None,
        Some(Value::String(id)) if id.chars().count() <= MAX_ID_CHARS => Some(id.clone()),
        Some(Value::String(_)) => {
            return Err(format!(
                "the event id is longer than {MAX_ID_CHARS} characters: not an EventBridge event"
            ));
        }
        Some(other) => {
            return Err(format!(
                "the event id is a JSON {}, not a string: not an EventBridge event",
                kind(other)
            ));
        }
    };
    let region = match object.get("region") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(r))
            if r.chars().count() <= MAX_NAME_CHARS
                && r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') =>
        {
            r.clone()
        }
        Some(_) => return Err("the event region is not a region name".to_owned()),
    };
    match (source, detail_type) {
        ("aws.events", "Scheduled Event") => Ok(Trigger {
            kind: TriggerKind::Schedule,
            event_id,
            region,
        }),
        ("aws.cloudwatch", "CloudWatch Alarm State Change") => {
            let Some(detail) = object.get("detail").and_then(Value::as_object) else {
                return Err("alarm event without a detail object".to_owned());
            };
            let Some(alarm) = detail
                .get("alarmName")
                .and_then(Value::as_str)
                .filter(|a| !a.is_empty() && a.chars().count() <= MAX_NAME_CHARS)
            else {
                return Err("alarm event without a valid alarmName".to_owned());
            };
            let Some(state) = detail
                .get("state")
                .and_then(|s| s.get("value"))
                .and_then(Value::as_str)
            else {
                return Err(format!("alarm {alarm}: no state.value string"));
            };
            if state == "ALARM" {
                Ok(Trigger {
                    kind: TriggerKind::Alarm {
                        alarm: alarm.to_owned(),
                    },
                    event_id,
                    region,
                })
            } else {
                let state: String = state.chars().take(32).collect();
                Err(format!(
                    "alarm {alarm} went to {state}: only ALARM triggers an evaluation (the schedule handles the rest)"
                ))
            }
        }
        _ => {
            let short = |s: &str| s.chars().take(64).collect::<String>();
            Err(format!(
                "not a trigger of this function ({} / {})",
                short(source),
                short(detail_type)
            ))
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schedule() -> Value {
        json!({"id": "e1", "source": "aws.events", "detail-type": "Scheduled Event", "region": "eu-west-1"})
    }

    #[test]
    fn triggers_and_non_triggers() {
        assert_eq!(
            parse(&schedule()),
            Ok(Trigger {
                kind: TriggerKind::Schedule,
                event_id: Some("e1".into()),
                region: "eu-west-1".into()
            })
        );
        let alarm = json!({"id": "e2", "source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change",
            "detail": {"alarmName": "phoenix-requests-high", "state": {"value": "ALARM"}}});
        assert!(
            matches!(parse(&alarm), Ok(Trigger { kind: TriggerKind::Alarm { alarm }, .. }) if alarm == "phoenix-requests-high")
        );
        let cases: Vec<(Value, &str)> = vec![
            (
                json!({"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change",
                    "detail": {"alarmName": "a", "state": {"value": "OK"}}}),
                "went to OK",
            ),
            (
                json!({"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change",
                    "detail": {"alarmName": "a", "state": {"value": 3}}}),
                "no state.value",
            ),
            (
                json!({"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change",
                    "detail": "ALARM"}),
                "without a detail object",
            ),
            (
                json!({"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change",
                    "detail": {"alarmName": 7, "state": {"value": "ALARM"}}}),
                "alarmName",
            ),
            (
                json!({"source": "aws.ecs", "detail-type": "ECS Task State Change"}),
                "aws.ecs",
            ),
            (json!("x"), "string"),
            (json!({}), "no source"),
            (json!(null), "null"),
            (
                json!({"source": 1, "detail-type": "Scheduled Event"}),
                "no source",
            ),
            (
                json!({"id": 5, "source": "aws.events", "detail-type": "Scheduled Event"}),
                "number, not a string",
            ),
            (
                json!({"id": "x".repeat(MAX_ID_CHARS + 1), "source": "aws.events", "detail-type": "Scheduled Event"}),
                "longer than",
            ),
            (
                json!({"source": "aws.events", "detail-type": "Scheduled Event", "region": ["eu"]}),
                "region",
            ),
            (
                json!({"source": "aws.events", "detail-type": "Scheduled Event", "region": "eu west"}),
                "region",
            ),
        ];
        for (event, words) in cases {
            let got = parse(&event);
            assert!(
                got.as_ref().is_err_and(|e| e.contains(words)),
                "{event}: {got:?} (want an error with `{words}`)"
            );
        }
    }

    #[test]
    fn an_event_without_an_id_is_a_trigger_with_no_id() {
        for id in [json!(null), json!("")] {
            let mut event = schedule();
            event["id"] = id;
            assert_eq!(parse(&event).map(|t| t.event_id), Ok(None));
        }
        let mut event = schedule();
        event.as_object_mut().map(|o| o.remove("id"));
        assert_eq!(parse(&event).map(|t| t.event_id), Ok(None));
    }

    #[test]
    fn huge_names_are_cut_in_the_reason() {
        let event = json!({"source": "s".repeat(100_000), "detail-type": "d"});
        let why = parse(&event).expect_err("not a trigger");
        assert!(why.len() < 200, "{}", why.len());
    }
}
