//! CloudWatch: a store of the datapoints the models produce (ALB, ECS CPU, dead-letter queue
//! depths, Lambda invocations and errors, the functions' own EMF metrics) and the template's
//! metric alarms evaluated on them, as CloudWatch would: every minute, over the last
//! `EvaluationPeriods` periods, `DatapointsToAlarm` breaching to go to ALARM, `TreatMissingData`
//! for periods without data; each state change runs the alarm's actions (SNS publishes) and is an
//! EventBridge `CloudWatch Alarm State Change` event.
//!
//! Simplifications (model guesses): alarms start in OK (the INSUFFICIENT_DATA → OK of a new
//! stack is not sent); the window ends one minute before "now" (metrics arrive late); alarms on
//! metric math or on metrics no model produces are listed as *not modelled* and never change.
//!
//! Sources: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html>
//! (evaluation, `DatapointsToAlarm`, missing data), the alarm message shape of
//! `events/sns-cloudwatch-alarm-cpu.json` and the event shape of
//! `events/cloudwatch-alarm-cpu-alarm.json`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{Value, json};

use super::template::{Scope, text};

/// One datapoint.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    at: DateTime<Utc>,
    dimensions: BTreeMap<String, String>,
    value: f64,
}

/// Every datapoint the models produced, by namespace and metric name.
#[derive(Debug, Clone, Default)]
pub struct MetricStore {
    series: BTreeMap<(String, String), Vec<Sample>>,
    /// Metrics some model produces (even when no datapoint exists yet).
    modelled: BTreeSet<(String, String)>,
}

impl MetricStore {
    /// Declares that a model produces this metric (so its alarms are evaluated).
    pub fn model(&mut self, namespace: &str, metric: &str) {
        self.modelled
            .insert((namespace.to_owned(), metric.to_owned()));
    }

    pub fn is_modelled(&self, namespace: &str, metric: &str) -> bool {
        self.modelled
            .contains(&(namespace.to_owned(), metric.to_owned()))
    }

    /// Records one datapoint.
    pub fn put(
        &mut self,
        namespace: &str,
        metric: &str,
        dimensions: &[(&str, &str)],
        at: DateTime<Utc>,
        value: f64,
    ) {
        self.model(namespace, metric);
        self.series
            .entry((namespace.to_owned(), metric.to_owned()))
            .or_default()
            .push(Sample {
                at,
                dimensions: dimensions
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                value,
            });
    }

    /// Records the metrics of an EMF line (`_aws.CloudWatchMetrics`), as CloudWatch Logs would.
    pub fn put_emf(&mut self, line: &str, at: DateTime<Utc>) {
        let Ok(json) = serde_json::from_str::<Value>(line) else {
            return;
        };
        for directive in json
            .pointer("/_aws/CloudWatchMetrics")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let namespace = directive["Namespace"].as_str().unwrap_or_default();
            let dimension_sets: Vec<Vec<String>> = directive["Dimensions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|set| {
                    set.as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|d| d.as_str().map(str::to_owned))
                        .collect()
                })
                .collect();
            for metric in directive["Metrics"].as_array().into_iter().flatten() {
                let Some(name) = metric["Name"].as_str() else {
                    continue;
                };
                let Some(value) = json[name].as_f64() else {
                    continue;
                };
                for set in &dimension_sets {
                    let dims: Vec<(String, String)> = set
                        .iter()
                        .map(|d| (d.clone(), json[d].as_str().unwrap_or_default().to_owned()))
                        .collect();
                    let dims: Vec<(&str, &str)> =
                        dims.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                    self.put(namespace, name, &dims, at, value);
                }
            }
        }
    }

    /// A statistic over `[start, end)` for datapoints whose dimensions are exactly `dimensions`;
    /// `None`: no datapoint.
    pub fn statistic(
        &self,
        namespace: &str,
        metric: &str,
        dimensions: &BTreeMap<String, String>,
        statistic: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Option<f64> {
        let values: Vec<f64> = self
            .series
            .get(&(namespace.to_owned(), metric.to_owned()))?
            .iter()
            .filter(|s| s.at >= start && s.at < end && &s.dimensions == dimensions)
            .map(|s| s.value)
            .collect();
        if values.is_empty() {
            return None;
        }
        Some(match statistic {
            "Sum" => values.iter().sum(),
            "Maximum" => values.iter().copied().fold(f64::MIN, f64::max),
            "Minimum" => values.iter().copied().fold(f64::MAX, f64::min),
            "SampleCount" => values.len() as f64,
            _ => values.iter().sum::<f64>() / values.len() as f64,
        })
    }
}

/// A metric alarm of the template.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmDef {
    pub logical_id: String,
    pub name: String,
    pub description: String,
    pub namespace: String,
    pub metric: String,
    pub dimensions: BTreeMap<String, String>,
    pub statistic: String,
    pub period: Duration,
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: u32,
    pub threshold: f64,
    pub comparison: String,
    pub treat_missing: String,
    pub alarm_actions: Vec<String>,
    pub ok_actions: Vec<String>,
}

impl AlarmDef {
    fn breaches(&self, value: f64) -> bool {
        match self.comparison.as_str() {
            "GreaterThanThreshold" => value > self.threshold,
            "GreaterThanOrEqualToThreshold" => value >= self.threshold,
            "LessThanThreshold" => value < self.threshold,
            "LessThanOrEqualToThreshold" => value <= self.threshold,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmState {
    Ok,
    Alarm,
}

impl AlarmState {
    pub fn name(self) -> &'static str {
        match self {
            AlarmState::Ok => "OK",
            AlarmState::Alarm => "ALARM",
        }
    }
}

/// A state change.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub alarm: AlarmDef,
    pub from: AlarmState,
    pub to: AlarmState,
    pub at: DateTime<Utc>,
    /// The newest value evaluated.
    pub value: Option<f64>,
    pub reason: String,
}

/// The template's metric alarms and their states.
#[derive(Debug, Clone, Default)]
pub struct Alarms {
    pub defs: Vec<AlarmDef>,
    states: BTreeMap<String, AlarmState>,
    /// Alarms no model feeds (metric math, or metrics nothing simulates).
    pub not_modelled: Vec<String>,
}

fn number(value: &Value) -> Option<f64> {
    text(value).parse().ok()
}

impl Alarms {
    /// Every `AWS::CloudWatch::Alarm` that exists with these parameters.
    pub fn from_template(scope: &Scope<'_>) -> Result<Alarms, String> {
        let mut alarms = Alarms::default();
        for logical in scope.template.resources_of_type("AWS::CloudWatch::Alarm") {
            if !scope.exists(&logical)? {
                continue;
            }
            let p = scope.properties(&logical)?;
            let Some(metric) = p.get("MetricName").map(text) else {
                alarms.not_modelled.push(format!("{logical} (metric math)"));
                continue;
            };
            let list = |key: &str| -> Vec<String> {
                p[key].as_array().into_iter().flatten().map(text).collect()
            };
            let evaluation_periods = number(&p["EvaluationPeriods"]).unwrap_or(1.0) as u32;
            alarms.defs.push(AlarmDef {
                name: p
                    .get("AlarmName")
                    .map(text)
                    .unwrap_or_else(|| logical.clone()),
                description: p.get("AlarmDescription").map(text).unwrap_or_default(),
                namespace: text(&p["Namespace"]),
                metric,
                dimensions: p["Dimensions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|d| (text(&d["Name"]), text(&d["Value"])))
                    .collect(),
                statistic: p
                    .get("Statistic")
                    .map(text)
                    .unwrap_or_else(|| "Average".into()),
                period: Duration::seconds(number(&p["Period"]).unwrap_or(60.0) as i64),
                evaluation_periods,
                datapoints_to_alarm: p
                    .get("DatapointsToAlarm")
                    .and_then(number)
                    .map(|n| n as u32)
                    .unwrap_or(evaluation_periods),
                threshold: number(&p["Threshold"]).unwrap_or(0.0),
                comparison: text(&p["ComparisonOperator"]),
                treat_missing: p
                    .get("TreatMissingData")
                    .map(text)
                    .unwrap_or_else(|| "missing".into()),
                alarm_actions: list("AlarmActions"),
                ok_actions: list("OKActions"),
                logical_id: logical,
            });
        }
        Ok(alarms)
    }

    /// Sets aside the alarms no model can feed (they are listed as not modelled).
    pub fn skip(&mut self, unfed: impl Fn(&AlarmDef) -> bool) {
        let (skipped, kept): (Vec<AlarmDef>, Vec<AlarmDef>) = std::mem::take(&mut self.defs)
            .into_iter()
            .partition(|d| unfed(d));
        self.defs = kept;
        for def in skipped {
            self.not_modelled.push(format!(
                "{} ({}/{} of a function not simulated)",
                def.logical_id, def.namespace, def.metric
            ));
        }
    }

    pub fn state(&self, name: &str) -> AlarmState {
        self.states.get(name).copied().unwrap_or(AlarmState::Ok)
    }

    /// Evaluates every modelled alarm at `now`; returns the state changes.
    pub fn evaluate(&mut self, store: &MetricStore, now: DateTime<Utc>) -> Vec<Transition> {
        let end = now.duration_trunc(Duration::minutes(1)).unwrap_or(now) - Duration::minutes(1);
        let mut changes = Vec::new();
        for def in &self.defs {
            if !store.is_modelled(&def.namespace, &def.metric) {
                let note = format!("{} ({}/{})", def.logical_id, def.namespace, def.metric);
                if !self.not_modelled.contains(&note) {
                    self.not_modelled.push(note);
                }
                continue;
            }
            let mut breaching = 0;
            let mut known = 0;
            let mut newest = None;
            for k in 0..def.evaluation_periods {
                let period_end = end - def.period * i32::try_from(k).unwrap_or(0);
                let value = store.statistic(
                    &def.namespace,
                    &def.metric,
                    &def.dimensions,
                    &def.statistic,
                    period_end - def.period,
                    period_end,
                );
                if k == 0 {
                    newest = value;
                }
                match value {
                    Some(v) => {
                        known += 1;
                        if def.breaches(v) {
                            breaching += 1;
                        }
                    }
                    None => match def.treat_missing.as_str() {
                        "breaching" => {
                            known += 1;
                            breaching += 1;
                        }
                        "notBreaching" => known += 1,
                        _ => {}
                    },
                }
            }
            let previous = self.state(&def.name);
            let next = if breaching >= def.datapoints_to_alarm {
                AlarmState::Alarm
            } else if known > 0 {
                AlarmState::Ok
            } else {
                previous
            };
            if next != previous {
                let shown = newest
                    .map(|v| format!("[{v:.1}]"))
                    .unwrap_or_else(|| "[no datapoint]".into());
                let reason = format!(
                    "Threshold Crossed: {breaching} out of the last {} datapoints {shown} {} {} the threshold ({:.1}) (minimum {} datapoint{} for {} -> {} transition).",
                    def.evaluation_periods,
                    if next == AlarmState::Alarm {
                        "was"
                    } else {
                        "was not"
                    },
                    comparison_words(&def.comparison),
                    def.threshold,
                    def.datapoints_to_alarm,
                    if def.datapoints_to_alarm == 1 {
                        ""
                    } else {
                        "s"
                    },
                    previous.name(),
                    next.name()
                );
                changes.push(Transition {
                    alarm: def.clone(),
                    from: previous,
                    to: next,
                    at: now,
                    value: newest,
                    reason,
                });
                self.states.insert(def.name.clone(), next);
            }
        }
        changes
    }
}

fn comparison_words(comparison: &str) -> &'static str {
    match comparison {
        "GreaterThanThreshold" => "greater than",
        "GreaterThanOrEqualToThreshold" => "greater than or equal to",
        "LessThanThreshold" => "less than",
        _ => "less than or equal to",
    }
}

impl Transition {
    fn arn(&self, account: &str, region: &str) -> String {
        format!(
            "arn:aws:cloudwatch:{region}:{account}:alarm:{}",
            self.alarm.name
        )
    }

    /// The message an alarm action publishes to SNS (shape of `events/sns-cloudwatch-alarm-cpu.json`).
    pub fn sns_message(&self, account: &str, region: &str) -> String {
        let dimensions: Vec<Value> = self
            .alarm
            .dimensions
            .iter()
            .map(|(k, v)| json!({"name": k, "value": v}))
            .collect();
        json!({
            "AlarmName": self.alarm.name,
            "AlarmDescription": self.alarm.description,
            "AWSAccountId": account,
            "AlarmConfigurationUpdatedTimestamp": "2026-11-01T00:00:00.000+0000",
            "NewStateValue": self.to.name(),
            "NewStateReason": self.reason,
            "StateChangeTime": self.at.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string(),
            "Region": "EU (Ireland)",
            "AlarmArn": self.arn(account, region),
            "OldStateValue": self.from.name(),
            "OKActions": self.alarm.ok_actions,
            "AlarmActions": self.alarm.alarm_actions,
            "InsufficientDataActions": [],
            "Trigger": {
                "MetricName": self.alarm.metric,
                "Namespace": self.alarm.namespace,
                "StatisticType": "Statistic",
                "Statistic": self.alarm.statistic.to_uppercase(),
                "Unit": null,
                "Dimensions": dimensions,
                "Period": self.alarm.period.num_seconds(),
                "EvaluationPeriods": self.alarm.evaluation_periods,
                "DatapointsToAlarm": self.alarm.datapoints_to_alarm,
                "ComparisonOperator": self.alarm.comparison,
                "Threshold": self.alarm.threshold,
                "TreatMissingData": self.alarm.treat_missing,
                "EvaluateLowSampleCountPercentile": ""
            }
        })
        .to_string()
    }

    /// The SNS subject CloudWatch uses.
    pub fn subject(&self) -> String {
        format!(
            "{}: \"{}\" in EU (Ireland)",
            self.to.name(),
            self.alarm.name
        )
    }

    /// The EventBridge `CloudWatch Alarm State Change` event.
    pub fn event(&self, id: &str, account: &str, region: &str) -> Value {
        let time = self.at.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        json!({
            "version": "0",
            "id": id,
            "detail-type": "CloudWatch Alarm State Change",
            "source": "aws.cloudwatch",
            "account": account,
            "time": time,
            "region": region,
            "resources": [self.arn(account, region)],
            "detail": {
                "alarmName": self.alarm.name,
                "state": {"value": self.to.name(), "reason": self.reason, "timestamp": self.at.to_rfc3339()},
                "previousState": {"value": self.from.name(), "timestamp": time},
                "configuration": {"description": self.alarm.description, "metrics": []}
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(treat_missing: &str, periods: u32) -> AlarmDef {
        AlarmDef {
            logical_id: "Cpu".into(),
            name: "cpu".into(),
            description: String::new(),
            namespace: "AWS/ECS".into(),
            metric: "CPUUtilization".into(),
            dimensions: BTreeMap::new(),
            statistic: "Maximum".into(),
            period: Duration::minutes(1),
            evaluation_periods: periods,
            datapoints_to_alarm: periods,
            threshold: 80.0,
            comparison: "GreaterThanThreshold".into(),
            treat_missing: treat_missing.into(),
            alarm_actions: vec!["arn:alerts".into()],
            ok_actions: vec!["arn:alerts".into()],
        }
    }

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + Duration::minutes(minute)
    }

    #[test]
    fn an_alarm_fires_on_a_breaching_minute_and_recovers() {
        let mut store = MetricStore::default();
        let mut alarms = Alarms {
            defs: vec![def("notBreaching", 1)],
            ..Alarms::default()
        };
        store.put("AWS/ECS", "CPUUtilization", &[], at(0), 40.0);
        assert!(
            alarms
                .evaluate(&store, at(2) + Duration::seconds(5))
                .is_empty()
        );
        store.put("AWS/ECS", "CPUUtilization", &[], at(1), 93.0);
        let fired = alarms.evaluate(&store, at(3) + Duration::seconds(5));
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].to, AlarmState::Alarm);
        assert!(
            fired[0]
                .reason
                .contains("[93.0] was greater than the threshold (80.0)")
        );
        let message: Value =
            serde_json::from_str(&fired[0].sns_message("1", "eu-west-1")).expect("json");
        assert_eq!(message["NewStateValue"], "ALARM");
        assert!(
            alarms
                .evaluate(&store, at(3) + Duration::seconds(50))
                .is_empty()
        );
        let back = alarms.evaluate(&store, at(4) + Duration::seconds(5));
        assert_eq!(back.len(), 1, "a minute without data is not breaching");
        assert_eq!(back[0].to, AlarmState::Ok);
    }

    #[test]
    fn missing_data_breaching_and_unmodelled_metrics() {
        let mut store = MetricStore::default();
        store.model("AWS/ECS", "CPUUtilization");
        let mut alarms = Alarms {
            defs: vec![def("breaching", 2)],
            ..Alarms::default()
        };
        assert_eq!(alarms.evaluate(&store, at(5)).len(), 1);
        let mut other = def("missing", 1);
        other.metric = "Nothing".into();
        let mut unmodelled = Alarms {
            defs: vec![other],
            ..Alarms::default()
        };
        assert!(unmodelled.evaluate(&store, at(5)).is_empty());
        assert_eq!(unmodelled.not_modelled.len(), 1);
    }

    #[test]
    fn emf_lines_become_datapoints() {
        let mut store = MetricStore::default();
        let line = r#"{"_aws":{"Timestamp":0,"CloudWatchMetrics":[{"Namespace":"PhoenixOps","Dimensions":[["Stack","Function"]],"Metrics":[{"Name":"Heartbeat","Unit":"Count"}]}]},"Stack":"s","Function":"f","Heartbeat":1}"#;
        store.put_emf(line, at(1));
        let dims = BTreeMap::from([
            ("Function".to_owned(), "f".to_owned()),
            ("Stack".to_owned(), "s".to_owned()),
        ]);
        assert_eq!(
            store.statistic("PhoenixOps", "Heartbeat", &dims, "Sum", at(0), at(2)),
            Some(1.0)
        );
    }

    #[test]
    fn the_repository_alarms_are_read() {
        let template = crate::sim::template::Template::from_repo().expect("template");
        let resolver = crate::sim::template::Resolver::new();
        let alarms =
            Alarms::from_template(&template.scope(&BTreeMap::new(), &resolver)).expect("alarms");
        assert!(alarms.defs.iter().any(|d| d.metric == "CPUUtilization"));
    }
}
