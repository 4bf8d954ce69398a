// pure: understands the trigger's envelopes from JSON already in memory; no I/O, no clock
//! The trigger, understood: every payload the notifier can receive becomes a list of typed
//! messages, each with where it came from ([`Via`]), or a reason to ignore the event
//! ([`NotOurs`]). Total: any JSON is either understood or not ours, never a panic.
//!
//! Envelopes accepted:
//! * an SNS event (`Records[].Sns`, the `alerts` subscription), read leniently record by record;
//!   each `Message` is a CloudWatch alarm notification, a phoenix-ops Notice, an EventBridge
//!   alarm or DocumentDB event forwarded to SNS, or **anything else: plain text** (never
//!   dropped, never a failure);
//! * an EventBridge event: `CloudWatch Alarm State Change`, or a DocumentDB event
//!   (`aws.rds` `RDS DB Cluster Event` / `RDS DB Instance Event` / ...);
//! * a CloudWatch alarm's Lambda action payload (`alarmData`);
//! * a bare Notice or CloudWatch alarm message (`phoenix-ops invoke`).
//!
//! Everything else (an ECS event, `{}`, a list) is not ours. The body parsers per kind live in
//! [`crate::alarm`], [`crate::docdb`] and core's `Notice::from_json`.

use phoenix_core::Notice;
use serde_json::Value;

use crate::lenient::str_at;
use crate::message::{Message, PlainText, redacted};
use crate::{alarm, docdb};

/// How the message arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    Sns {
        message_id: String,
        topic_arn: Option<String>,
    },
    EventBridge {
        event_id: String,
    },
    /// A CloudWatch alarm's Lambda action.
    AlarmAction,
    /// Invoked by hand with a bare message.
    Direct,
}

impl Via {
    pub fn id(&self) -> Option<&str> {
        match self {
            Self::Sns { message_id, .. } => Some(message_id.as_str()),
            Self::EventBridge { event_id } => Some(event_id.as_str()),
            _ => None,
        }
        .filter(|id| !id.trim().is_empty())
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Sns { .. } => "sns",
            Self::EventBridge { .. } => "eventbridge",
            Self::AlarmAction => "alarm-action",
            Self::Direct => "direct",
        }
    }

    /// `sns 0000…0191`: shown small in the message, to trace it to the logs.
    pub fn trace(&self) -> Option<String> {
        self.id().map(|id| format!("{} {id}", self.name()))
    }
}

/// One message to deliver.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    pub message: Message,
    pub via: Via,
}

impl Incoming {
    /// What recognises a repeated delivery of this message, across containers: the content's
    /// own identity when it has one (so one alarm state change reaching the notifier by SNS and
    /// by EventBridge is one message), else the SNS message id or the event id. `None` for a
    /// bare message invoked by hand without any identity: it is delivered every time.
    pub fn identity(&self) -> Option<String> {
        self.message.identity().or_else(|| match &self.via {
            Via::Sns { .. } => self.via.id().map(|id| format!("sns:{id}")),
            Via::EventBridge { .. } => self.via.id().map(|id| format!("event:{id}")),
            Via::AlarmAction | Via::Direct => None,
        })
    }
}

/// Why an event is not for the notifier (the Outcome's `ignored`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotOurs(pub String);

/// The id of the event, for the Outcome (SNS message id of the first record, or event id).
pub fn event_id(payload: &Value) -> Option<&str> {
    payload
        .pointer("/Records/0/Sns/MessageId")
        .or_else(|| payload.get("id"))
        .and_then(Value::as_str)
}

/// Parses any payload. `Err` says why it is not ours.
pub fn parse_event(payload: &Value) -> Result<Vec<Incoming>, NotOurs> {
    let incoming = |message: Message, via: Via| Incoming {
        message: redacted(message),
        via,
    };
    if let Some(records) = payload.get("Records") {
        return sns_records(records);
    }
    if payload.get("detail-type").is_some() {
        let detail_type = str_at(payload, "/detail-type").unwrap_or_default();
        let via = Via::EventBridge {
            event_id: str_at(payload, "/id").unwrap_or_default().to_owned(),
        };
        if detail_type == "CloudWatch Alarm State Change" {
            let alarm = alarm::from_eventbridge(payload).ok_or_else(|| {
                NotOurs(
                    "malformed CloudWatch Alarm State Change event: no alarm name or state".into(),
                )
            })?;
            return Ok(vec![incoming(Message::Alarm(Box::new(alarm)), via)]);
        }
        if docdb::is_db_event(payload) {
            let event = docdb::from_eventbridge(payload).ok_or_else(|| {
                NotOurs(format!(
                    "malformed {detail_type} event: no source identifier or message"
                ))
            })?;
            return Ok(vec![incoming(Message::Database(Box::new(event)), via)]);
        }
        return Err(NotOurs(format!(
            "not a CloudWatch Alarm State Change nor a DocumentDB event (detail-type {detail_type:?}, source {:?})",
            str_at(payload, "/source").unwrap_or_default()
        )));
    }
    if payload.get("alarmData").is_some() {
        let alarm = alarm::from_alarm_action(payload).ok_or_else(|| {
            NotOurs("malformed CloudWatch alarm action payload: no alarm name or state".into())
        })?;
        return Ok(vec![incoming(
            Message::Alarm(Box::new(alarm)),
            Via::AlarmAction,
        )]);
    }
    if payload.get("schema").is_some() || payload.get("AlarmName").is_some() {
        return match parse_body(None, &payload.to_string()) {
            Message::Text(_) => Err(NotOurs(
                "neither a Notice nor a CloudWatch alarm message".into(),
            )),
            message => Ok(vec![incoming(message, Via::Direct)]),
        };
    }
    Err(NotOurs(
        "not an SNS event, an alarm or DocumentDB event, a Notice or an alarm message".into(),
    ))
}

fn sns_records(records: &Value) -> Result<Vec<Incoming>, NotOurs> {
    let records = records
        .as_array()
        .ok_or_else(|| NotOurs("malformed event: Records is not a list".into()))?;
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for record in records {
        match sns_record(record) {
            Some(incoming) => out.push(incoming),
            None => skipped.push(
                str_at(record, "/EventSource")
                    .or_else(|| str_at(record, "/eventSource"))
                    .unwrap_or("unknown")
                    .to_owned(),
            ),
        }
    }
    if out.is_empty() {
        return Err(NotOurs(if skipped.is_empty() {
            "SNS event without records".to_owned()
        } else {
            format!(
                "no SNS record in the event (sources {})",
                skipped.join(", ")
            )
        }));
    }
    Ok(out)
}

/// One SNS record, read field by field: a record with a message is never dropped for a field
/// we do not need (a strict struct would refuse a missing `Signature`).
fn sns_record(record: &Value) -> Option<Incoming> {
    let sns = record.get("Sns")?;
    let body = match sns.get("Message")? {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let subject = str_at(sns, "/Subject");
    Some(Incoming {
        message: parse_body(subject, &body),
        via: Via::Sns {
            message_id: str_at(sns, "/MessageId").unwrap_or_default().to_owned(),
            topic_arn: str_at(sns, "/TopicArn").map(str::to_owned),
        },
    })
}

/// Understands one message body (secrets removed from text nobody here wrote). Never fails:
/// what is not recognised is plain text.
pub fn parse_body(subject: Option<&str>, body: &str) -> Message {
    redacted(understand(subject, body))
}

fn understand(subject: Option<&str>, body: &str) -> Message {
    let text = || {
        Message::Text(PlainText {
            subject: subject.map(str::to_owned).filter(|s| !s.trim().is_empty()),
            body: body.to_owned(),
        })
    };
    if !body.trim_start().starts_with('{') {
        return text();
    }
    if let Some(notice) = Notice::from_json(body) {
        return Message::Notice(Box::new(notice));
    }
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return text();
    };
    let understood = if value.get("AlarmName").is_some() {
        alarm::from_sns_message(&value).map(|a| Message::Alarm(Box::new(a)))
    } else if str_at(&value, "/detail-type") == Some("CloudWatch Alarm State Change") {
        alarm::from_eventbridge(&value).map(|a| Message::Alarm(Box::new(a)))
    } else if docdb::is_db_event(&value) {
        docdb::from_eventbridge(&value).map(|e| Message::Database(Box::new(e)))
    } else if value.get("alarmData").is_some() {
        alarm::from_alarm_action(&value).map(|a| Message::Alarm(Box::new(a)))
    } else {
        None
    };
    understood.unwrap_or_else(text)
}
