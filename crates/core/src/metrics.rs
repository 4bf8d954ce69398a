//! CloudWatch embedded metric format (EMF): a metric is a JSON log line that CloudWatch Logs
//! turns into a metric, with no PutMetricData call. Handlers attach metrics to their Outcome;
//! the Lambda adapter writes them to stdout after the Outcome line, outside the log level.
//!
//! Every metric carries the `Stack` and `Function` dimensions, so two stacks in one account
//! never draw into the same lines. Every distinct name + dimension values is a custom metric,
//! billed per month: functions emit only the few that an alarm, the dashboard or the digest
//! reads (README › Performance › cost).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// The namespace of every phoenix-ops metric (the dashboard reads it).
pub const NAMESPACE: &str = "PhoenixOps";

/// One metric value with its dimensions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metric {
    pub name: String,
    pub value: f64,
    pub unit: &'static str,
    /// Dimension name → value, e.g. `("StopKind", "crash")`.
    pub dimensions: Vec<(String, String)>,
}

impl Metric {
    pub fn count(name: &str, value: f64) -> Self {
        Self {
            name: name.to_owned(),
            value,
            unit: "Count",
            dimensions: Vec::new(),
        }
    }

    pub fn dimension(mut self, name: &str, value: impl Into<String>) -> Self {
        self.dimensions.push((name.to_owned(), value.into()));
        self
    }
}

/// The EMF line for one metric, with the `Stack` and `Function` dimensions and the invocation's
/// request id (a property, not a dimension: it costs nothing and ties the line to its logs).
pub fn emf_line(
    function: &str,
    stack: &str,
    metric: &Metric,
    time: DateTime<Utc>,
    request_id: &str,
) -> String {
    let mut dimension_names = vec![Value::from("Stack"), Value::from("Function")];
    let mut root = Map::new();
    root.insert("Stack".into(), Value::from(stack));
    root.insert("Function".into(), Value::from(function));
    root.insert("requestId".into(), Value::from(request_id));
    for (name, value) in &metric.dimensions {
        dimension_names.push(Value::from(name.as_str()));
        root.insert(name.clone(), Value::from(value.as_str()));
    }
    root.insert(metric.name.clone(), json!(metric.value));
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": time.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dimension_names],
                "Metrics": [{"Name": metric.name, "Unit": metric.unit}],
            }],
        }),
    );
    Value::Object(root).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn an_emf_line_names_namespace_dimensions_and_value() {
        let t = Utc
            .with_ymd_and_hms(2026, 11, 20, 10, 0, 0)
            .single()
            .expect("valid");
        let line = emf_line(
            "task-recovery",
            "phoenix-ops",
            &Metric::count("TaskStops", 1.0).dimension("StopKind", "crash"),
            t,
            "req-1",
        );
        let v: Value = serde_json::from_str(&line).expect("json");
        assert_eq!(v["Function"], "task-recovery");
        assert_eq!(v["Stack"], "phoenix-ops");
        assert_eq!(v["requestId"], "req-1");
        assert_eq!(v["StopKind"], "crash");
        assert_eq!(v["TaskStops"], 1.0);
        assert_eq!(v["_aws"]["Timestamp"], 1_795_168_800_000_i64);
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], "PhoenixOps");
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Stack", "Function", "StopKind"]])
        );
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"],
            json!([{"Name": "TaskStops", "Unit": "Count"}])
        );
    }
}
