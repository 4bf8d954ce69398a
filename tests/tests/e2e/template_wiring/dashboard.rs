//! The dashboard: its body is JSON once substituted and it shows the alarms that exist.

use std::collections::BTreeSet;

use serde_yaml_ng::Value;

use super::{get, path, property, resource, resources_of_type, tag_of, template, untag};

#[test]
fn the_dashboard_is_json_and_shows_what_exists() {
    let template = template();
    let body = property(resource(&template, "Dashboard"), "DashboardBody").expect("DashboardBody");
    assert_eq!(tag_of(body).as_deref(), Some("!Sub"));
    let parts = untag(body).as_sequence().expect("!Sub [text, variables]");
    let text = parts[0].as_str().expect("the body text");
    let variables = parts.get(1).and_then(Value::as_mapping);
    let numbers = ["CpuPeakThreshold", "TargetCpuPercent"];
    let mut referenced = BTreeSet::new();
    // substitute every ${Name} (and ${Name.Attr}) as CloudFormation would, with placeholders
    for with_replica in [true, false] {
        let mut out = String::new();
        let mut rest = text;
        while let Some(at) = rest.find("${") {
            out.push_str(&rest[..at]);
            let end = rest[at..].find('}').expect("closed ${…}") + at;
            let name = &rest[at + 2..end];
            referenced.insert(name.to_owned());
            let value = if name == "ReplicaLagAlarm" {
                if with_replica {
                    ", \"arn:aws:cloudwatch:x:1:alarm:lag\""
                } else {
                    ""
                }
                .to_owned()
            } else if numbers.contains(&name) {
                "80".to_owned()
            } else {
                format!("placeholder-{name}")
            };
            out.push_str(&value);
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        let dashboard: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| {
            panic!("DashboardBody is not JSON (replica lag {with_replica}): {e}")
        });
        let widgets = dashboard["widgets"].as_array().expect("widgets");
        assert!(
            widgets.iter().any(|w| w["type"] == "log"),
            "Outcome-line widgets (Logs Insights)"
        );
        assert!(
            widgets.iter().any(|w| w["type"] == "alarm"),
            "alarm state widgets"
        );
    }
    for name in referenced {
        let resource_name = name.split('.').next().unwrap_or_default();
        let known = resource_name.starts_with("AWS::")
            || path(&template, &["Resources", resource_name]).is_some()
            || path(&template, &["Parameters", resource_name]).is_some()
            || variables.is_some_and(|v| v.contains_key(resource_name));
        assert!(
            known,
            "the dashboard names ${{{name}}}, which the template does not define"
        );
    }
    let shown: BTreeSet<&str> = text
        .split("${")
        .skip(1)
        .filter_map(|p| p.split_once(".Arn}").map(|(n, _)| n))
        .collect();
    for (id, _) in resources_of_type(&template, "AWS::CloudWatch::Alarm") {
        if id == "RequestAlarm" {
            continue; // the scaler's fast path, not a problem to show
        }
        let conditional = get(resource(&template, &id), "Condition").is_some();
        assert!(
            shown.contains(id.as_str()) || conditional,
            "the dashboard's alarm widgets must show {id}"
        );
    }
}
