// pure: parses CloudWatch alarm messages from JSON already in memory; no I/O, no clock
//! CloudWatch alarms, in the three shapes they arrive in: the message an alarm action publishes
//! to SNS (PascalCase, `Trigger`), the EventBridge `CloudWatch Alarm State Change` event
//! (camelCase, `configuration.metrics`, `previousState.timestamp`), and the payload of an
//! alarm's Lambda action (`alarmData`, the event's `detail` shape). Each becomes one [`Alarm`]:
//! metric, metric-math or composite, in any state (a state never seen is `Unknown`).

use chrono::{DateTime, Utc};
use phoenix_core::Severity;
use serde_json::Value;

use crate::lenient::{arn_region, bool_at, f64_at, i64_at, nonblank, str_at, time_at};

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

    /// The alarm itself, whatever state it is in: its ARN, or its name when the message has
    /// no ARN. Where the start of an ALARM is remembered (see `decide::alarm_lasted`).
    pub fn who(&self) -> &str {
        self.arn.as_deref().unwrap_or(&self.name)
    }

    /// How urgent the state is for people: ALARM is an error, INSUFFICIENT_DATA (or a state
    /// never seen) a warning, OK (a recovery) information only.
    pub fn severity(&self) -> Severity {
        match self.state {
            AlarmState::Alarm => Severity::Error,
            AlarmState::Ok => Severity::Info,
            AlarmState::InsufficientData | AlarmState::Unknown(_) => Severity::Warning,
        }
    }
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

/// A CloudWatch alarm notification as an alarm action publishes it to SNS, if `v` is one.
pub fn from_sns_message(v: &Value) -> Option<Alarm> {
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

/// An EventBridge `CloudWatch Alarm State Change` event, if it names an alarm and a state.
pub fn from_eventbridge(event: &Value) -> Option<Alarm> {
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

/// The payload of a CloudWatch alarm's Lambda action (`alarmData`), if it names an alarm and a
/// state.
pub fn from_alarm_action(payload: &Value) -> Option<Alarm> {
    parse_alarm_detail(
        payload.get("alarmData")?,
        nonblank(payload, "/alarmArn"),
        nonblank(payload, "/region"),
        nonblank(payload, "/accountId"),
    )
}
