//! The triggers: the one-minute EventBridge schedule, and (fast path) a CloudWatch alarm on the
//! ALB's RequestCount going to ALARM. Both run the same evaluation. Anything else is ignored with
//! its reason, before any AWS call.

use serde_json::Value;

/// Why the scaler runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// `Scheduled Event` from EventBridge.
    Schedule { event_id: String, region: String },
    /// `CloudWatch Alarm State Change` to ALARM.
    Alarm {
        event_id: String,
        region: String,
        alarm: String,
    },
}

impl Trigger {
    pub fn event_id(&self) -> &str {
        match self {
            Trigger::Schedule { event_id, .. } | Trigger::Alarm { event_id, .. } => event_id,
        }
    }

    pub fn region(&self) -> &str {
        match self {
            Trigger::Schedule { region, .. } | Trigger::Alarm { region, .. } => region,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Trigger::Schedule { .. } => "schedule".to_owned(),
            Trigger::Alarm { alarm, .. } => format!("alarm {alarm}"),
        }
    }
}

/// The event id, when the payload has one (for ignored events too).
pub fn event_id(payload: &Value) -> Option<&str> {
    payload.get("id").and_then(Value::as_str)
}

/// Reads the trigger, or says why the event is not one.
pub fn parse(payload: &Value) -> Result<Trigger, String> {
    let Some(object) = payload.as_object() else {
        return Err(format!(
            "not an EventBridge event (a JSON {})",
            kind(payload)
        ));
    };
    let text = |key: &str| object.get(key).and_then(Value::as_str);
    let (Some(source), Some(detail_type)) = (text("source"), text("detail-type")) else {
        return Err("not an EventBridge event (no source/detail-type)".to_owned());
    };
    let event_id = text("id").unwrap_or("no-id").to_owned();
    let region = text("region").unwrap_or_default().to_owned();
    match (source, detail_type) {
        ("aws.events", "Scheduled Event") => Ok(Trigger::Schedule { event_id, region }),
        ("aws.cloudwatch", "CloudWatch Alarm State Change") => {
            let detail = object.get("detail");
            let alarm = detail
                .and_then(|d| d.get("alarmName"))
                .and_then(Value::as_str)
                .unwrap_or("unnamed alarm")
                .to_owned();
            let state = detail
                .and_then(|d| d.pointer("/state/value"))
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            if state == "ALARM" {
                Ok(Trigger::Alarm {
                    event_id,
                    region,
                    alarm,
                })
            } else {
                Err(format!(
                    "alarm {alarm} went to {state}: only ALARM triggers an evaluation (the schedule handles the rest)"
                ))
            }
        }
        _ => Err(format!(
            "not a trigger of this function ({source} / {detail_type})"
        )),
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

    #[test]
    fn triggers_and_non_triggers() {
        let schedule = json!({"id": "e1", "source": "aws.events", "detail-type": "Scheduled Event", "region": "eu-west-1"});
        assert_eq!(
            parse(&schedule),
            Ok(Trigger::Schedule {
                event_id: "e1".into(),
                region: "eu-west-1".into()
            })
        );
        let alarm = json!({"id": "e2", "source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change",
            "detail": {"alarmName": "phoenix-requests-high", "state": {"value": "ALARM"}}});
        assert!(
            matches!(parse(&alarm), Ok(Trigger::Alarm { alarm, .. }) if alarm == "phoenix-requests-high")
        );
        let ok = json!({"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change",
            "detail": {"alarmName": "a", "state": {"value": "OK"}}});
        assert!(parse(&ok).is_err_and(|e| e.contains("went to OK")));
        let ecs = json!({"source": "aws.ecs", "detail-type": "ECS Task State Change"});
        assert!(parse(&ecs).is_err_and(|e| e.contains("aws.ecs")));
        assert!(parse(&json!("x")).is_err_and(|e| e.contains("string")));
        assert!(parse(&json!({})).is_err());
        assert!(parse(&json!(null)).is_err());
    }
}
