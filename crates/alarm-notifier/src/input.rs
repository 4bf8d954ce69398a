//! The trigger, understood: every payload the notifier can receive becomes one typed [`Message`]
//! (with where it came from, [`Via`]), or a reason to ignore the event ([`NotOurs`]).
//!
//! Accepted:
//! * an SNS event (`Records[].Sns`, the `alerts` subscription), whose `Message` is a CloudWatch
//!   alarm notification (metric, metric-math, composite, any state), a phoenix-ops [`Notice`], an
//!   EventBridge alarm event forwarded to SNS, or **anything else: plain text** (never dropped,
//!   never a failure);
//! * an EventBridge `CloudWatch Alarm State Change` event (rule → Lambda);
//! * a CloudWatch alarm's Lambda action payload (`alarmData`);
//! * a bare Notice or CloudWatch alarm message (manual `phoenix-ops invoke`).
//!
//! Everything else (an ECS event, `{}`, a list) is not ours. Fields are read leniently, one by
//! one, from the JSON tree: a field of an unexpected type is simply unknown (real alarms send
//! `"AlarmDescription": null`, `"Unit": null`, `"EvaluateLowSampleCountPercentile": ""`).

use chrono::{DateTime, Utc};
use phoenix_core::Notice;
use serde_json::Value;

phoenix_core::string_enum! {
    /// A CloudWatch alarm state.
    pub enum AlarmState {
        Ok = "OK",
        Alarm = "ALARM",
        InsufficientData = "INSUFFICIENT_DATA",
    }
}

phoenix_core::string_enum! {
    /// A metric alarm's comparison operator.
    pub enum Comparison {
        GreaterThanOrEqualToThreshold = "GreaterThanOrEqualToThreshold",
        GreaterThanThreshold = "GreaterThanThreshold",
        LessThanThreshold = "LessThanThreshold",
        LessThanOrEqualToThreshold = "LessThanOrEqualToThreshold",
        LessThanLowerOrGreaterThanUpperThreshold = "LessThanLowerOrGreaterThanUpperThreshold",
        LessThanLowerThreshold = "LessThanLowerThreshold",
        GreaterThanUpperThreshold = "GreaterThanUpperThreshold",
    }
}

impl Comparison {
    /// `>`, `>=`, ... (anomaly-detection bands in words).
    pub fn symbol(&self) -> &str {
        match self {
            Self::GreaterThanOrEqualToThreshold => "≥",
            Self::GreaterThanThreshold => ">",
            Self::LessThanThreshold => "<",
            Self::LessThanOrEqualToThreshold => "≤",
            Self::LessThanLowerOrGreaterThanUpperThreshold => "outside band",
            Self::LessThanLowerThreshold => "below band",
            Self::GreaterThanUpperThreshold => "above band",
            Self::Unknown(other) => other.as_str(),
        }
    }
}

/// One metric an alarm watches (or feeds into its expression).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricRef {
    /// The query id in a metric-math alarm (`m1`).
    pub id: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// Dimension name → value, in the order received.
    pub dimensions: Vec<(String, String)>,
    /// `Maximum`, `p99`, ...
    pub stat: Option<String>,
    pub period_secs: Option<i64>,
}

impl MetricRef {
    pub fn dimension(&self, name: &str) -> Option<&str> {
        self.dimensions
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What kind of alarm it is, with what that kind carries.
#[derive(Debug, Clone, PartialEq)]
pub enum AlarmKind {
    /// One metric against a threshold.
    Metric(MetricRef),
    /// A math expression over metrics (`Trigger.Metrics` / `configuration.metrics`).
    MetricMath {
        id: Option<String>,
        expression: String,
        label: Option<String>,
        inputs: Vec<MetricRef>,
    },
    /// A rule over other alarms' states.
    Composite {
        rule: String,
        /// Names of the children whose change triggered this one.
        triggering: Vec<String>,
    },
    /// An alarm message without a metric or a rule (log or Metrics Insights alarms, new kinds).
    Other,
}

impl AlarmKind {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Metric(_) => "metric-alarm",
            Self::MetricMath { .. } => "metric-math-alarm",
            Self::Composite { .. } => "composite-alarm",
            Self::Other => "alarm",
        }
    }
}

/// One CloudWatch alarm state change.
#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    pub name: String,
    pub description: Option<String>,
    pub arn: Option<String>,
    pub account: Option<String>,
    /// Region code (`eu-west-1`), from the ARN or the event.
    pub region: Option<String>,
    pub state: AlarmState,
    pub previous: Option<AlarmState>,
    pub reason: String,
    pub changed_at: Option<DateTime<Utc>>,
    /// When the previous state began (EventBridge events carry it; SNS messages do not).
    pub previous_since: Option<DateTime<Utc>>,
    pub kind: AlarmKind,
    pub threshold: Option<f64>,
    pub comparison: Option<Comparison>,
    pub unit: Option<String>,
    pub evaluation_periods: Option<i64>,
    pub datapoints_to_alarm: Option<i64>,
    /// The datapoint that crossed (or the latest one evaluated).
    pub value: Option<f64>,
}

impl Alarm {
    /// The metric whose dimensions describe what is alarming (the alarm's own, or the first
    /// input of a math expression that names an ECS service, else the first input).
    pub fn main_metric(&self) -> Option<&MetricRef> {
        match &self.kind {
            AlarmKind::Metric(m) => Some(m),
            AlarmKind::MetricMath { inputs, .. } => inputs
                .iter()
                .find(|m| m.dimension("ServiceName").is_some())
                .or_else(|| inputs.first()),
            _ => None,
        }
    }

    /// `(cluster, service)` when the alarm is about an ECS service.
    pub fn ecs_service(&self) -> Option<(&str, &str)> {
        let metric = self.main_metric()?;
        Some((
            metric.dimension("ClusterName")?,
            metric.dimension("ServiceName")?,
        ))
    }

    /// What identifies this state change, whatever path it came by.
    pub fn identity(&self) -> String {
        let when = self
            .changed_at
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| self.reason.clone());
        format!(
            "alarm:{}:{}:{when}",
            self.arn.as_deref().unwrap_or(&self.name),
            self.state
        )
    }

    /// The key under which the start of an ALARM is remembered.
    pub fn memory_key(&self) -> &str {
        self.arn.as_deref().unwrap_or(&self.name)
    }
}

/// A message that is neither an alarm nor a Notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainText {
    pub subject: Option<String>,
    pub body: String,
}

/// Everything the notifier renders.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Alarm(Box<Alarm>),
    Notice(Box<Notice>),
    Text(PlainText),
}

impl Message {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Alarm(a) => a.kind.name(),
            Self::Notice(_) => "notice",
            Self::Text(_) => "plain-text",
        }
    }
}

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
            Self::Sns { message_id, .. } => Some(message_id),
            Self::EventBridge { event_id } => Some(event_id),
            _ => None,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Sns { .. } => "sns",
            Self::EventBridge { .. } => "eventbridge",
            Self::AlarmAction => "alarm-action",
            Self::Direct => "direct",
        }
    }
}

/// One message to deliver.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    pub message: Message,
    pub via: Via,
}

impl Incoming {
    /// Keys that recognise a repeated delivery of the same thing: the SNS message id or event
    /// id, and the content's own identity (alarm state change, Notice event id).
    pub fn dedupe_keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        match &self.via {
            Via::Sns { message_id, .. } if !message_id.is_empty() => {
                keys.push(format!("sns:{message_id}"))
            }
            Via::EventBridge { event_id } if !event_id.is_empty() => {
                keys.push(format!("event:{event_id}"))
            }
            _ => {}
        }
        match &self.message {
            Message::Alarm(alarm) => keys.push(alarm.identity()),
            Message::Notice(notice) => {
                if let Some(id) = &notice.event_id {
                    keys.push(format!("notice:{}:{id}:{}", notice.source, notice.title));
                }
            }
            Message::Text(_) => {}
        }
        keys
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
    if let Some(records) = payload.get("Records") {
        return parse_sns_records(records);
    }
    if payload.get("detail-type").is_some() {
        let detail_type = str_at(payload, "/detail-type").unwrap_or_default();
        if detail_type != "CloudWatch Alarm State Change" {
            return Err(NotOurs(format!(
                "not a CloudWatch Alarm State Change event (detail-type {detail_type:?})"
            )));
        }
        let alarm = parse_eventbridge_alarm(payload).ok_or_else(|| {
            NotOurs("malformed CloudWatch Alarm State Change event: no alarm name or state".into())
        })?;
        let event_id = str_at(payload, "/id").unwrap_or_default().to_owned();
        return Ok(vec![Incoming {
            message: Message::Alarm(Box::new(alarm)),
            via: Via::EventBridge { event_id },
        }]);
    }
    if payload.get("alarmData").is_some() {
        let alarm = parse_alarm_action(payload).ok_or_else(|| {
            NotOurs("malformed CloudWatch alarm action payload: no alarm name or state".into())
        })?;
        return Ok(vec![Incoming {
            message: Message::Alarm(Box::new(alarm)),
            via: Via::AlarmAction,
        }]);
    }
    if payload.get("schema").is_some() || payload.get("AlarmName").is_some() {
        let text = payload.to_string();
        return match parse_body(None, &text) {
            Message::Text(_) => Err(NotOurs(
                "neither a Notice nor a CloudWatch alarm message".into(),
            )),
            message => Ok(vec![Incoming {
                message,
                via: Via::Direct,
            }]),
        };
    }
    Err(NotOurs(
        "not an SNS event, a CloudWatch alarm event, a Notice or an alarm message".into(),
    ))
}

fn parse_sns_records(records: &Value) -> Result<Vec<Incoming>, NotOurs> {
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

/// One SNS record: the strict `aws_lambda_events` shape when it fits, else read leniently (a
/// record with a message is never dropped for a field we do not need).
fn sns_record(record: &Value) -> Option<Incoming> {
    let strict = serde_json::from_value::<aws_lambda_events::sns::SnsRecord>(record.clone()).ok();
    let (message_id, topic_arn, subject, body) = match strict {
        Some(r) => (
            r.sns.message_id,
            Some(r.sns.topic_arn),
            r.sns.subject,
            r.sns.message,
        ),
        None => {
            let sns = record.get("Sns")?;
            let body = match sns.get("Message")? {
                Value::String(text) => text.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (
                str_at(sns, "/MessageId").unwrap_or_default().to_owned(),
                str_at(sns, "/TopicArn").map(str::to_owned),
                str_at(sns, "/Subject").map(str::to_owned),
                body,
            )
        }
    };
    Some(Incoming {
        message: parse_body(subject.as_deref(), &body),
        via: Via::Sns {
            message_id,
            topic_arn,
        },
    })
}

/// Understands one message body. Never fails: what is not recognised is plain text.
pub fn parse_body(subject: Option<&str>, body: &str) -> Message {
    let text = || {
        Message::Text(PlainText {
            subject: subject.map(str::to_owned).filter(|s| !s.trim().is_empty()),
            body: body.to_owned(),
        })
    };
    let trimmed = body.trim_start();
    if !trimmed.starts_with('{') {
        return text();
    }
    if let Some(notice) = Notice::from_json(body) {
        return Message::Notice(Box::new(notice));
    }
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return text();
    };
    let alarm = if value.get("AlarmName").is_some() {
        parse_sns_alarm(&value)
    } else if str_at(&value, "/detail-type") == Some("CloudWatch Alarm State Change") {
        parse_eventbridge_alarm(&value)
    } else if value.get("alarmData").is_some() {
        parse_alarm_action(&value)
    } else {
        None
    };
    if let Some(alarm) = alarm {
        return Message::Alarm(Box::new(alarm));
    }
    text()
}

// --- lenient readers

fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

fn nonblank(value: &Value, pointer: &str) -> Option<String> {
    str_at(value, pointer)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn f64_at(value: &Value, pointer: &str) -> Option<f64> {
    match value.pointer(pointer)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|v: &f64| v.is_finite())
}

fn i64_at(value: &Value, pointer: &str) -> Option<i64> {
    match value.pointer(pointer)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn bool_at(value: &Value, pointer: &str) -> Option<bool> {
    value.pointer(pointer).and_then(Value::as_bool)
}

/// CloudWatch writes `2026-11-20T10:15:10.123+0000`; EventBridge `2026-11-20T10:15:10Z`.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn time_at(value: &Value, pointer: &str) -> Option<DateTime<Utc>> {
    str_at(value, pointer).and_then(parse_time)
}

/// The region code of an ARN (`arn:aws:cloudwatch:eu-west-1:...`).
pub fn arn_region(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    (parts.next() == Some("arn")).then_some(())?;
    parts.nth(2).filter(|r| !r.is_empty())
}

/// The alarm name at the end of an alarm ARN (or the text itself).
pub fn alarm_name_of(arn_or_name: &str) -> String {
    arn_or_name
        .split_once(":alarm:")
        .map(|(_, name)| name)
        .unwrap_or(arn_or_name)
        .to_owned()
}

/// Dimensions as SNS sends them (`[{"name","value"}]`) or as EventBridge does (`{name: value}`).
fn dimensions(value: Option<&Value>) -> Vec<(String, String)> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|d| {
                let name = d.get("name").or_else(|| d.get("Name"))?.as_str()?;
                let value = d.get("value").or_else(|| d.get("Value"))?;
                let value = value
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| value.to_string());
                Some((name.to_owned(), value))
            })
            .collect(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| {
                let value = v
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string());
                (k.clone(), value)
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The first datapoint quoted in a state reason: `... datapoints [93.4 (20/11/26 10:14:00)] ...`.
pub fn value_from_reason(reason: &str) -> Option<f64> {
    let (_, rest) = reason.split_once('[')?;
    let token: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
        .collect();
    token.parse().ok().filter(|v: &f64| v.is_finite())
}

/// The comparison in a state reason's words (EventBridge events do not carry the operator).
pub fn comparison_from_reason(reason: &str) -> Option<Comparison> {
    let reason = reason.to_ascii_lowercase();
    let comparison = if reason.contains("greater than or equal to the threshold") {
        Comparison::GreaterThanOrEqualToThreshold
    } else if reason.contains("greater than the threshold") {
        Comparison::GreaterThanThreshold
    } else if reason.contains("less than or equal to the threshold") {
        Comparison::LessThanOrEqualToThreshold
    } else if reason.contains("less than the threshold") {
        Comparison::LessThanThreshold
    } else {
        return None;
    };
    Some(comparison)
}

/// A CloudWatch alarm notification as SNS delivers it (alarm action on a topic).
fn parse_sns_alarm(v: &Value) -> Option<Alarm> {
    let name = nonblank(v, "/AlarmName")?;
    let state = AlarmState::from(str_at(v, "/NewStateValue")?);
    let arn = nonblank(v, "/AlarmArn");
    let reason = str_at(v, "/NewStateReason").unwrap_or_default().to_owned();
    let trigger = v.get("Trigger").cloned().unwrap_or(Value::Null);
    let kind = if let Some(rule) = nonblank(v, "/AlarmRule") {
        let triggering = v
            .get("TriggeringChildren")
            .and_then(Value::as_array)
            .map(|children| {
                children
                    .iter()
                    .filter_map(|c| c.as_str().or_else(|| str_at(c, "/Arn")))
                    .map(alarm_name_of)
                    .collect()
            })
            .unwrap_or_default();
        AlarmKind::Composite { rule, triggering }
    } else if let Some(metrics) = trigger.get("Metrics").and_then(Value::as_array) {
        math_kind(metrics, &SNS_KEYS)
    } else if let Some(metric_name) = nonblank(&trigger, "/MetricName") {
        AlarmKind::Metric(MetricRef {
            id: None,
            namespace: nonblank(&trigger, "/Namespace"),
            name: Some(metric_name),
            dimensions: dimensions(trigger.get("Dimensions")),
            stat: nonblank(&trigger, "/ExtendedStatistic")
                .or_else(|| nonblank(&trigger, "/Statistic").map(|s| statistic_name(&s))),
            period_secs: i64_at(&trigger, "/Period"),
        })
    } else {
        AlarmKind::Other
    };
    let region = arn.as_deref().and_then(arn_region).map(str::to_owned);
    Some(Alarm {
        name,
        description: nonblank(v, "/AlarmDescription"),
        account: nonblank(v, "/AWSAccountId"),
        region,
        previous: str_at(v, "/OldStateValue").map(AlarmState::from),
        changed_at: time_at(v, "/StateChangeTime"),
        previous_since: None,
        threshold: f64_at(&trigger, "/Threshold"),
        comparison: str_at(&trigger, "/ComparisonOperator")
            .map(Comparison::from)
            .or_else(|| comparison_from_reason(&reason)),
        unit: nonblank(&trigger, "/Unit").filter(|u| u != "None"),
        evaluation_periods: i64_at(&trigger, "/EvaluationPeriods"),
        datapoints_to_alarm: i64_at(&trigger, "/DatapointsToAlarm"),
        value: value_from_reason(&reason),
        arn,
        state,
        reason,
        kind,
    })
}

/// SNS statistics are upper case (`MAXIMUM`); show them as CloudWatch does (`Maximum`).
fn statistic_name(stat: &str) -> String {
    let lower = stat.to_ascii_lowercase();
    let mut chars = lower.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// JSON key spellings: SNS messages are PascalCase, EventBridge events camelCase.
struct Keys {
    id: &'static str,
    expression: &'static str,
    label: &'static str,
    return_data: &'static str,
    metric_stat: &'static str,
    metric: &'static str,
    namespace: &'static str,
    name: &'static str,
    dimensions: &'static str,
    stat: &'static str,
    period: &'static str,
}

const SNS_KEYS: Keys = Keys {
    id: "/Id",
    expression: "/Expression",
    label: "/Label",
    return_data: "/ReturnData",
    metric_stat: "MetricStat",
    metric: "Metric",
    namespace: "/Namespace",
    name: "/MetricName",
    dimensions: "Dimensions",
    stat: "/Stat",
    period: "/Period",
};

const EVENT_KEYS: Keys = Keys {
    id: "/id",
    expression: "/expression",
    label: "/label",
    return_data: "/returnData",
    metric_stat: "metricStat",
    metric: "metric",
    namespace: "/namespace",
    name: "/name",
    dimensions: "dimensions",
    stat: "/stat",
    period: "/period",
};

fn metric_of(query: &Value, keys: &Keys) -> Option<MetricRef> {
    let stat = query.get(keys.metric_stat)?;
    let metric = stat.get(keys.metric).unwrap_or(&Value::Null);
    Some(MetricRef {
        id: nonblank(query, keys.id),
        namespace: nonblank(metric, keys.namespace),
        name: nonblank(metric, keys.name),
        dimensions: dimensions(metric.get(keys.dimensions)),
        stat: nonblank(stat, keys.stat),
        period_secs: i64_at(stat, keys.period),
    })
}

/// An alarm's metric queries: one plain metric, or an expression over inputs.
fn math_kind(queries: &[Value], keys: &Keys) -> AlarmKind {
    let inputs: Vec<MetricRef> = queries.iter().filter_map(|q| metric_of(q, keys)).collect();
    let returned = queries
        .iter()
        .find(|q| bool_at(q, keys.return_data) == Some(true))
        .or_else(|| {
            queries
                .iter()
                .find(|q| str_at(q, keys.expression).is_some())
        });
    match returned {
        Some(q) if str_at(q, keys.expression).is_some() => AlarmKind::MetricMath {
            id: nonblank(q, keys.id),
            expression: str_at(q, keys.expression).unwrap_or_default().to_owned(),
            label: nonblank(q, keys.label),
            inputs,
        },
        Some(q) => match metric_of(q, keys) {
            Some(metric) => AlarmKind::Metric(metric),
            None => AlarmKind::Other,
        },
        None if inputs.len() == 1 => {
            AlarmKind::Metric(inputs.into_iter().next().unwrap_or_default())
        }
        None => AlarmKind::Other,
    }
}

/// The EventBridge `CloudWatch Alarm State Change` event (or a Lambda alarm action's
/// `alarmData`, which has the same shape as the event's `detail`).
fn parse_alarm_detail(
    detail: &Value,
    arn: Option<String>,
    region: Option<String>,
    account: Option<String>,
) -> Option<Alarm> {
    let name = nonblank(detail, "/alarmName")?;
    let state = AlarmState::from(str_at(detail, "/state/value")?);
    let reason = str_at(detail, "/state/reason")
        .unwrap_or_default()
        .to_owned();
    let reason_data: Value = str_at(detail, "/state/reasonData")
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or(Value::Null);
    let configuration = detail.get("configuration").unwrap_or(&Value::Null);
    let kind = if let Some(rule) = nonblank(configuration, "/alarmRule") {
        let triggering = reason_data
            .get("triggeringAlarms")
            .and_then(Value::as_array)
            .map(|alarms| {
                alarms
                    .iter()
                    .filter_map(|a| str_at(a, "/arn"))
                    .map(alarm_name_of)
                    .collect()
            })
            .unwrap_or_default();
        AlarmKind::Composite { rule, triggering }
    } else if let Some(metrics) = configuration.get("metrics").and_then(Value::as_array) {
        math_kind(metrics, &EVENT_KEYS)
    } else {
        AlarmKind::Other
    };
    let value = value_from_reason(&reason)
        .or_else(|| {
            reason_data
                .get("recentDatapoints")
                .and_then(Value::as_array)
                .and_then(|points| points.last())
                .and_then(Value::as_f64)
        })
        .filter(|v| v.is_finite());
    let region = arn
        .as_deref()
        .and_then(arn_region)
        .map(str::to_owned)
        .or(region);
    Some(Alarm {
        name,
        description: nonblank(configuration, "/description"),
        arn,
        account,
        region,
        previous: str_at(detail, "/previousState/value").map(AlarmState::from),
        changed_at: time_at(detail, "/state/timestamp"),
        previous_since: time_at(detail, "/previousState/timestamp"),
        threshold: f64_at(&reason_data, "/threshold"),
        comparison: comparison_from_reason(&reason),
        unit: None,
        evaluation_periods: None,
        datapoints_to_alarm: None,
        value,
        state,
        reason,
        kind,
    })
}

fn parse_eventbridge_alarm(event: &Value) -> Option<Alarm> {
    let detail = event.get("detail")?;
    let arn = event
        .get("resources")
        .and_then(Value::as_array)
        .and_then(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .find(|a| a.contains(":alarm:"))
        })
        .map(str::to_owned);
    parse_alarm_detail(
        detail,
        arn,
        nonblank(event, "/region"),
        nonblank(event, "/account"),
    )
}

fn parse_alarm_action(payload: &Value) -> Option<Alarm> {
    parse_alarm_detail(
        payload.get("alarmData")?,
        nonblank(payload, "/alarmArn"),
        nonblank(payload, "/region"),
        nonblank(payload, "/accountId"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect("json")
    }

    fn only(payload: &Value) -> Incoming {
        let mut all = parse_event(payload).expect("ours");
        assert_eq!(all.len(), 1);
        all.remove(0)
    }

    fn alarm(payload: &Value) -> Alarm {
        match only(payload).message {
            Message::Alarm(alarm) => *alarm,
            other => panic!("not an alarm: {other:?}"),
        }
    }

    #[test]
    fn the_sns_cpu_alarm_is_a_metric_alarm_with_its_numbers() {
        let incoming = only(&fixture("sns-cloudwatch-alarm-cpu.json"));
        assert_eq!(
            incoming.via,
            Via::Sns {
                message_id: "00000000-0000-0000-5418-ad0d00000191".into(),
                topic_arn: Some("arn:aws:sns:eu-west-1:111122223333:phoenix-alerts".into()),
            }
        );
        let Message::Alarm(a) = incoming.message else {
            panic!("alarm")
        };
        assert_eq!(a.name, "phoenix-cpu-high");
        assert_eq!(
            (a.state.clone(), a.previous.clone()),
            (AlarmState::Alarm, Some(AlarmState::Ok))
        );
        assert_eq!(a.threshold, Some(80.0));
        assert_eq!(a.value, Some(93.4));
        assert_eq!(a.comparison, Some(Comparison::GreaterThanThreshold));
        assert_eq!(a.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            a.ecs_service(),
            Some(("phoenix-cluster", "phoenix-service"))
        );
        assert_eq!(a.unit, None, "\"Unit\": null is unknown, not an error");
        let AlarmKind::Metric(m) = &a.kind else {
            panic!("metric")
        };
        assert_eq!(m.stat.as_deref(), Some("Maximum"));
        assert_eq!(m.period_secs, Some(60));
        assert_eq!(
            a.changed_at.map(|t| t.to_rfc3339()),
            Some("2026-11-20T10:15:10.123+00:00".into())
        );
    }

    /// Table: every kind of input, and what it is understood as.
    #[test]
    fn every_input_kind_is_understood() {
        let cases: &[(&str, &str, &str)] = &[
            ("sns-cloudwatch-alarm-cpu.json", "metric-alarm", "sns"),
            (
                "sns-cloudwatch-alarm-metric-math.json",
                "metric-math-alarm",
                "sns",
            ),
            (
                "sns-cloudwatch-alarm-composite.json",
                "composite-alarm",
                "sns",
            ),
            (
                "sns-cloudwatch-alarm-insufficient.json",
                "metric-alarm",
                "sns",
            ),
            ("sns-cloudwatch-alarm-ok.json", "metric-alarm", "sns"),
            ("sns-notice.json", "notice", "sns"),
            ("sns-plain-text.json", "plain-text", "sns"),
            ("sns-hostile-names.json", "metric-alarm", "sns"),
            (
                "cloudwatch-alarm-cpu-alarm.json",
                "metric-alarm",
                "eventbridge",
            ),
            (
                "cloudwatch-alarm-cpu-ok.json",
                "metric-alarm",
                "eventbridge",
            ),
            (
                "cloudwatch-alarm-composite.json",
                "composite-alarm",
                "eventbridge",
            ),
        ];
        for (file, kind, via) in cases {
            let incoming = only(&fixture(file));
            assert_eq!(incoming.message.kind(), *kind, "{file}");
            assert_eq!(incoming.via.name(), *via, "{file}");
        }
    }

    #[test]
    fn metric_math_alarms_name_their_expression_and_inputs() {
        let a = alarm(&fixture("sns-cloudwatch-alarm-metric-math.json"));
        let AlarmKind::MetricMath {
            id,
            expression,
            label,
            inputs,
        } = &a.kind
        else {
            panic!("math: {:?}", a.kind)
        };
        assert_eq!(id.as_deref(), Some("e1"));
        assert_eq!(expression, "100 * (m1 / m2)");
        assert_eq!(label.as_deref(), Some("5xx rate (%)"));
        assert_eq!(inputs.len(), 2);
        assert_eq!(inputs[0].name.as_deref(), Some("HTTPCode_Target_5XX_Count"));
        assert_eq!(a.threshold, Some(5.0));
        assert_eq!(a.value, Some(12.5));
    }

    #[test]
    fn composite_alarms_carry_their_rule_and_triggering_children() {
        for file in [
            "sns-cloudwatch-alarm-composite.json",
            "cloudwatch-alarm-composite.json",
        ] {
            let a = alarm(&fixture(file));
            let AlarmKind::Composite { rule, triggering } = &a.kind else {
                panic!("composite: {:?}", a.kind)
            };
            assert!(
                rule.contains("ALARM(\"phoenix-cpu-high\")"),
                "{file}: {rule}"
            );
            assert_eq!(triggering, &["phoenix-cpu-high".to_owned()], "{file}");
        }
    }

    #[test]
    fn eventbridge_events_carry_the_previous_state_time() {
        let a = alarm(&fixture("cloudwatch-alarm-cpu-ok.json"));
        assert_eq!(a.state, AlarmState::Ok);
        assert_eq!(a.previous, Some(AlarmState::Alarm));
        assert_eq!(a.value, Some(41.2));
        assert_eq!(a.threshold, Some(80.0));
        assert_eq!(a.comparison, Some(Comparison::GreaterThanThreshold));
        let lasted = a.changed_at.zip(a.previous_since).map(|(n, p)| n - p);
        assert_eq!(lasted.map(|d| d.num_seconds()), Some(35 * 60));
        assert_eq!(a.region.as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn insufficient_data_is_its_own_state() {
        let a = alarm(&fixture("sns-cloudwatch-alarm-insufficient.json"));
        assert_eq!(a.state, AlarmState::InsufficientData);
        assert_eq!(a.value, None);
        assert_eq!(a.description, None, "\"AlarmDescription\": null");
    }

    #[test]
    fn anything_unrecognised_in_a_message_is_plain_text() {
        let cases = [
            "disk full on worker-3",
            "",
            "{not json",
            r#"{"hello": "world"}"#,
            r#"{"AlarmName": 5}"#,
            r#"{"AlarmName": "x"}"#,
            r#"{"schema": "phoenix-ops/notice@9", "title": "future"}"#,
            "[1, 2]",
            "null",
        ];
        for body in cases {
            let message = parse_body(Some("subj"), body);
            assert_eq!(
                message,
                Message::Text(PlainText {
                    subject: Some("subj".into()),
                    body: body.into()
                }),
                "{body}"
            );
        }
    }

    #[test]
    fn other_events_are_not_ours() {
        let cases = [
            (
                fixture("ecs-task-stopped-crash.json"),
                "not a CloudWatch Alarm State Change event",
            ),
            (
                fixture("scheduled-event.json"),
                "not a CloudWatch Alarm State Change event",
            ),
            (json!({}), "not an SNS event"),
            (json!([]), "not an SNS event"),
            (json!("text"), "not an SNS event"),
            (json!({"Records": []}), "SNS event without records"),
            (json!({"Records": 3}), "malformed event"),
            (
                json!({"Records": [{"eventSource": "aws:s3", "s3": {}}]}),
                "no SNS record in the event (sources aws:s3)",
            ),
            (
                json!({"detail-type": "CloudWatch Alarm State Change", "detail": {}}),
                "malformed CloudWatch Alarm State Change event",
            ),
            (json!({"AlarmName": "x"}), "neither a Notice nor"),
        ];
        for (payload, want) in cases {
            let why = parse_event(&payload).expect_err("not ours").0;
            assert!(why.starts_with(want), "{payload}: {why}");
        }
    }

    #[test]
    fn a_lenient_sns_record_is_still_read() {
        let payload = json!({"Records": [{"EventSource": "aws:sns", "Sns": {"MessageId": "m1", "Message": "hello"}}]});
        let incoming = only(&payload);
        assert_eq!(incoming.via.id(), Some("m1"));
        assert_eq!(incoming.message.kind(), "plain-text");
    }

    #[test]
    fn bare_messages_can_be_invoked_by_hand() {
        let sns = fixture("sns-cloudwatch-alarm-cpu.json");
        let body: Value =
            serde_json::from_str(str_at(&sns, "/Records/0/Sns/Message").expect("message"))
                .expect("json");
        let incoming = only(&body);
        assert_eq!(incoming.via, Via::Direct);
        assert_eq!(incoming.message.kind(), "metric-alarm");
    }

    #[test]
    fn reasons_give_the_datapoint_and_the_comparison() {
        let cases: &[(&str, Option<f64>, Option<Comparison>)] = &[
            (
                "Threshold Crossed: 1 out of the last 1 datapoints [93.4 (20/11/26 10:14:00)] was greater than the threshold (80.0)",
                Some(93.4),
                Some(Comparison::GreaterThanThreshold),
            ),
            (
                "Threshold Crossed: 2 datapoints [5.0 (20/11/26 10:14:00), 7.0 (20/11/26 10:13:00)] were less than or equal to the threshold (10.0)",
                Some(5.0),
                Some(Comparison::LessThanOrEqualToThreshold),
            ),
            (
                "Threshold Crossed: 1 datapoint [-1.5E-4 (x)] was greater than or equal to the threshold",
                Some(-1.5e-4),
                Some(Comparison::GreaterThanOrEqualToThreshold),
            ),
            ("Insufficient Data: 1 datapoint was unknown.", None, None),
            ("[NaN (x)]", None, None),
            ("", None, None),
        ];
        for (reason, value, comparison) in cases {
            assert_eq!(value_from_reason(reason), *value, "{reason}");
            assert_eq!(comparison_from_reason(reason), *comparison, "{reason}");
        }
    }

    #[test]
    fn times_arns_and_dedupe_keys() {
        assert!(parse_time("2026-11-20T10:15:10.123+0000").is_some());
        assert!(parse_time("2026-11-20T10:15:10Z").is_some());
        assert!(parse_time("yesterday").is_none());
        assert_eq!(
            arn_region("arn:aws:cloudwatch:eu-west-1:1:alarm:x"),
            Some("eu-west-1")
        );
        assert_eq!(arn_region("phoenix"), None);
        assert_eq!(
            alarm_name_of("arn:aws:cloudwatch:eu-west-1:1:alarm:a:b"),
            "a:b"
        );
        let keys = only(&fixture("sns-cloudwatch-alarm-cpu.json")).dedupe_keys();
        assert_eq!(
            keys,
            [
                "sns:00000000-0000-0000-5418-ad0d00000191",
                "alarm:arn:aws:cloudwatch:eu-west-1:111122223333:alarm:phoenix-cpu-high:ALARM:2026-11-20T10:15:10.123+00:00"
            ]
        );
        // The same state change by EventBridge has the same content identity.
        let event_keys = only(&fixture("cloudwatch-alarm-cpu-alarm.json")).dedupe_keys();
        assert_eq!(event_keys[1], keys[1]);
    }
}
