//! The watch: heartbeat alarms that alarm on silence, every custom metric emitted by its
//! function and read by an alarm, and the DocumentDB alarms and events.

use std::collections::BTreeSet;
use std::path::Path;

use serde_yaml_ng::Value;

use super::{
    branches, function_resource, get, is_no_value, is_ref, number, path, property, repo_root,
    resources_of_type, rust_files, strings, tag_of, template, untag,
};

/// The alarm's actions on `key` (`AlarmActions`, `OKActions`), as `!Ref` targets.
pub(super) fn alarm_targets(alarm: &Value, key: &str) -> Vec<String> {
    property(alarm, key)
        .and_then(|a| untag(a).as_sequence())
        .map(|items| {
            items
                .iter()
                .filter(|i| tag_of(i).as_deref() == Some("!Ref"))
                .filter_map(|i| untag(i).as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// (namespace, metric name, dimensions as name → raw value) of a plain (non-math) alarm.
/// An alarm's (namespace, metric name, dimensions).
pub(super) type AlarmMetric = (String, String, Vec<(String, Value)>);

pub(super) fn alarm_metric(alarm: &Value) -> Option<AlarmMetric> {
    let namespace = property(alarm, "Namespace")?.as_str()?.to_owned();
    let name = property(alarm, "MetricName")?.as_str()?.to_owned();
    let dims = property(alarm, "Dimensions")
        .and_then(|d| untag(d).as_sequence())
        .map(|items| {
            items
                .iter()
                .filter_map(|d| {
                    Some((
                        get(d, "Name")?.as_str()?.to_owned(),
                        get(d, "Value")?.clone(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Some((namespace, name, dims))
}

fn window_seconds(alarm: &Value) -> Option<f64> {
    Some(number(property(alarm, "Period"))? * number(property(alarm, "EvaluationPeriods"))?)
}

fn missing_data(alarm: &Value) -> Option<&str> {
    property(alarm, "TreatMissingData").and_then(Value::as_str)
}

#[test]
fn heartbeats_alarm_on_silence() {
    let template = template();
    let alarms = resources_of_type(&template, "AWS::CloudWatch::Alarm");
    let find = |metric: &str| -> (String, &Value) {
        let found: Vec<_> = alarms
            .iter()
            .filter(|(_, a)| alarm_metric(a).is_some_and(|(_, name, _)| name == metric))
            .collect();
        assert_eq!(found.len(), 1, "exactly one heartbeat on {metric}");
        (found[0].0.clone(), found[0].1)
    };
    for (metric, operator, threshold, hours) in [
        ("BackupSucceeded", "LessThanThreshold", 1.0, 26.0),
        ("LogExportLagHours", "GreaterThanThreshold", 48.0, 26.0),
    ] {
        let (id, alarm) = find(metric);
        let (namespace, _, dims) = alarm_metric(alarm).expect("a metric");
        assert_eq!(namespace, phoenix_core::metrics::NAMESPACE, "{id}");
        let dim = |n: &str| dims.iter().find(|(name, _)| name == n).map(|(_, v)| v);
        assert!(
            dim("Stack").is_some_and(|v| is_ref(v, "AWS::StackName"))
                && dim("Function").and_then(Value::as_str) == Some("backup")
                && dims.len() == 2,
            "{id}: dimensions must be exactly Stack (this stack) and Function=backup, as EMF writes them"
        );
        assert_eq!(
            missing_data(alarm),
            Some("breaching"),
            "{id}: silence must alarm"
        );
        assert_eq!(
            property(alarm, "ComparisonOperator").and_then(Value::as_str),
            Some(operator),
            "{id}"
        );
        assert_eq!(
            number(property(alarm, "Threshold")),
            Some(threshold),
            "{id}"
        );
        assert_eq!(
            window_seconds(alarm),
            Some(hours * 3600.0),
            "{id}: looks back {hours} h"
        );
        assert_eq!(
            number(property(alarm, "DatapointsToAlarm")),
            number(property(alarm, "EvaluationPeriods")),
            "{id}: alarms only when every period of the window breaches"
        );
        assert!(
            alarm_targets(alarm, "AlarmActions").contains(&"AlertsTopic".to_owned()),
            "{id}"
        );
    }
    // the scaler: completed evaluations (Invocations − Errors) from Lambda's own metrics
    let scaler: Vec<_> = alarms
        .iter()
        .filter(|(_, a)| {
            property(a, "Metrics").is_some_and(|m| {
                let text = format!("{m:?}");
                text.contains("Invocations")
                    && text.contains("Errors")
                    && text.contains("RequestScalerFunction")
            })
        })
        .collect();
    assert_eq!(
        scaler.len(),
        1,
        "one scaler heartbeat on Invocations − Errors"
    );
    let (id, alarm) = scaler[0];
    let metrics = property(alarm, "Metrics")
        .and_then(|m| untag(m).as_sequence())
        .expect("Metrics");
    let expression = metrics
        .iter()
        .find_map(|m| get(m, "Expression").and_then(Value::as_str))
        .expect("an expression");
    assert!(
        expression.contains("invocations") && expression.contains("- FILL(errors"),
        "{id}: {expression}"
    );
    let period = metrics
        .iter()
        .find_map(|m| number(path(m, &["MetricStat", "Period"])))
        .expect("a period");
    assert_eq!(
        period * number(property(alarm, "EvaluationPeriods")).unwrap_or(0.0),
        300.0,
        "{id}: 5 minutes"
    );
    assert_eq!(missing_data(alarm), Some("breaching"), "{id}");
    assert_eq!(
        property(alarm, "ComparisonOperator").and_then(Value::as_str),
        Some("LessThanThreshold")
    );
    assert!(
        alarm_targets(alarm, "AlarmActions").contains(&"AlertsTopic".to_owned()),
        "{id}"
    );
}

/// The metric names a crate emits: the literal first argument of every `Metric::<ctor>(`
/// (phoenix-core's EMF metrics); a computed name is returned as `<computed in FILE>`.
fn emitted_metrics(dir: &Path) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for file in rust_files(dir) {
        let text = std::fs::read_to_string(&file).expect("readable source");
        let mut rest = text.as_str();
        while let Some(at) = rest.find("Metric::") {
            rest = &rest[at + "Metric::".len()..];
            let ctor: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if ctor.is_empty()
                || ctor == "builder"
                || !ctor.starts_with(|c: char| c.is_ascii_lowercase())
            {
                continue; // aws_sdk_cloudwatch's Metric::builder(), types, …
            }
            let args = rest[ctor.len()..].trim_start();
            let Some(args) = args.strip_prefix('(') else {
                continue;
            };
            match args
                .trim_start()
                .strip_prefix('"')
                .and_then(|l| l.split_once('"'))
            {
                Some((name, _)) => names.insert(name.to_owned()),
                None => names.insert(format!("<computed in {}>", file.display())),
            };
        }
    }
    names
}

#[test]
fn every_custom_metric_is_emitted_by_its_function_and_read_by_an_alarm() {
    let template = template();
    // (metric, function) of every alarm on our namespace
    let mut read: BTreeSet<(String, String)> = BTreeSet::new();
    for (id, alarm) in resources_of_type(&template, "AWS::CloudWatch::Alarm") {
        let Some((namespace, name, dims)) = alarm_metric(alarm) else {
            continue;
        };
        if namespace != phoenix_core::metrics::NAMESPACE {
            continue;
        }
        let function = dims
            .iter()
            .find(|(n, _)| n == "Function")
            .and_then(|(_, v)| v.as_str())
            .unwrap_or_else(|| {
                panic!("{id}: a {namespace} alarm needs a literal Function dimension")
            });
        read.insert((name, function.to_owned()));
    }
    let mut problems = Vec::new();
    for (name, function) in &read {
        let emitted = emitted_metrics(&repo_root().join("crates").join(function).join("src"));
        if !emitted.contains(name) {
            problems.push(format!(
                "an alarm reads {name} from {function}, which never emits it (emits {emitted:?})"
            ));
        }
    }
    for dir in std::fs::read_dir(repo_root().join("crates")).expect("crates/") {
        let dir = dir.expect("entry").path();
        let crate_name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if crate_name == "core" || !dir.join("src/main.rs").exists() {
            continue;
        }
        for name in emitted_metrics(&dir.join("src")) {
            if !read.contains(&(name.clone(), crate_name.clone())) {
                problems.push(format!(
                    "{crate_name} emits {name}, which no alarm reads: each metric costs 0.30 USD/month \
                     (counts belong in the Outcome line)"
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "custom metrics:\n  - {}",
        problems.join("\n  - ")
    );
}

#[test]
fn the_database_is_watched() {
    let template = template();
    let alarms = resources_of_type(&template, "AWS::CloudWatch::Alarm");
    for (metric, conditional) in [
        ("CPUUtilization", false),
        ("FreeableMemory", false),
        ("DatabaseConnections", false),
        ("VolumeBytesUsed", false),
        ("DBClusterReplicaLagMaximum", true),
    ] {
        let found: Vec<_> = alarms
            .iter()
            .filter(|(_, a)| {
                alarm_metric(a).is_some_and(|(ns, name, _)| ns == "AWS/DocDB" && name == metric)
            })
            .collect();
        assert_eq!(found.len(), 1, "one DocumentDB alarm on {metric}");
        let (id, alarm) = found[0];
        let (_, _, dims) = alarm_metric(alarm).expect("metric");
        assert!(
            dims.len() == 1
                && dims[0].0 == "DBClusterIdentifier"
                && is_ref(&dims[0].1, "DatabaseCluster"),
            "{id}: on this stack's cluster"
        );
        assert_eq!(
            get(alarm, "Condition").and_then(Value::as_str),
            conditional.then_some("HasSecondDocDbInstance"),
            "{id}: replica lag only with replicas, the rest always"
        );
        for key in ["AlarmActions", "OKActions"] {
            assert!(
                alarm_targets(alarm, key).contains(&"AlertsTopic".to_owned()),
                "{id}: {key}"
            );
        }
    }
    let second = path(&template, &["Conditions", "HasSecondDocDbInstance"]).expect("condition");
    assert_eq!(
        tag_of(second).as_deref(),
        Some("!Not"),
        "HasSecondDocDbInstance: DocDbInstanceCount ≠ 1"
    );
    assert!(format!("{second:?}").contains("DocDbInstanceCount"));

    // DocumentDB events (RDS event definitions, source aws.rds) reach alarm-notifier
    let (id, notifier) = function_resource(&template, "alarm-notifier");
    let events = property(notifier, "Events")
        .and_then(Value::as_mapping)
        .expect("Events");
    let pattern = events
        .values()
        .filter_map(|e| path(e, &["Properties", "Pattern"]))
        .find(|p| get(p, "source").map(strings) == Some(vec!["aws.rds".to_owned()]))
        .unwrap_or_else(|| panic!("{id}: no DocumentDB (aws.rds) event rule"));
    assert_eq!(
        strings(get(pattern, "detail-type").expect("detail-type")),
        ["RDS DB Cluster Event", "RDS DB Instance Event"]
    );
    let sources = path(pattern, &["detail", "SourceIdentifier"])
        .and_then(|s| untag(s).as_sequence())
        .expect("detail.SourceIdentifier: only this stack's cluster and instances");
    let refs: Vec<&Value> = sources
        .iter()
        .flat_map(branches)
        .filter(|v| !is_no_value(v))
        .collect();
    for wanted in [
        "DatabaseCluster",
        "DatabaseInstanceA",
        "DatabaseInstanceB",
        "DatabaseInstanceC",
    ] {
        assert!(
            refs.iter().any(|v| is_ref(v, wanted)),
            "{id}: events of {wanted}"
        );
    }
}
