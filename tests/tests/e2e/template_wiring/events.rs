//! The event rules that reach task-recovery: stopped tasks of this cluster, and this service's
//! deployment problems.

use serde_yaml_ng::Value;

use super::{function_resource, get, is_getatt, is_ref, path, property, strings, template, untag};

#[test]
fn the_task_stopped_rule_is_scoped_to_this_cluster() {
    let template = template();
    let (id, function) = function_resource(&template, "task-recovery");
    let events = path(function, &["Properties", "Events"])
        .and_then(Value::as_mapping)
        .expect("task-recovery has Events");
    let pattern = events
        .values()
        .filter_map(|e| path(e, &["Properties", "Pattern"]))
        .find(|p| {
            get(p, "detail-type").map(strings) == Some(vec!["ECS Task State Change".to_owned()])
        })
        .unwrap_or_else(|| panic!("{id}: no ECS Task State Change pattern"));
    assert_eq!(
        strings(get(pattern, "source").expect("source")),
        ["aws.ecs"]
    );
    assert_eq!(
        strings(get(pattern, "detail-type").expect("detail-type")),
        ["ECS Task State Change"]
    );
    let detail = get(pattern, "detail").expect("detail");
    assert_eq!(
        strings(get(detail, "lastStatus").expect("lastStatus")),
        ["STOPPED"]
    );
    let cluster = get(detail, "clusterArn")
        .and_then(|c| untag(c).as_sequence())
        .and_then(|s| s.first())
        .expect("detail.clusterArn");
    match cluster {
        Value::Tagged(tagged) => {
            assert_eq!(tagged.tag.to_string(), "!GetAtt");
            assert_eq!(untag(cluster).as_str(), Some("Cluster.Arn"));
        }
        other => panic!("{id}: detail.clusterArn must be !GetAtt Cluster.Arn, is {other:?}"),
    }
}

#[test]
fn deployment_problems_reach_task_recovery() {
    let template = template();
    let (id, function) = function_resource(&template, "task-recovery");
    let events = property(function, "Events")
        .and_then(Value::as_mapping)
        .expect("Events");
    let rule = events
        .values()
        .find(|e| {
            path(e, &["Properties", "Pattern", "detail-type"])
                .map(strings)
                .is_some_and(|t| t.contains(&"ECS Deployment State Change".to_owned()))
        })
        .unwrap_or_else(|| panic!("{id}: no ECS Deployment State Change rule"));
    let pattern = path(rule, &["Properties", "Pattern"]).expect("pattern");
    assert_eq!(
        strings(get(pattern, "source").expect("source")),
        ["aws.ecs"]
    );
    assert_eq!(
        strings(get(pattern, "detail-type").expect("detail-type")),
        ["ECS Deployment State Change", "ECS Service Action"]
    );
    let resources = get(pattern, "resources")
        .and_then(|r| untag(r).as_sequence())
        .expect("resources");
    assert!(
        resources.len() == 1 && is_ref(&resources[0], "Service"),
        "{id}: only this stack's service (its ARN is the event's resource)"
    );
    assert_eq!(
        path(pattern, &["detail", "eventType"]).map(strings),
        Some(vec!["WARN".to_owned(), "ERROR".to_owned()]),
        "{id}: failures, rollbacks and placement problems; the INFO steady states are left out"
    );
    assert!(
        path(rule, &["Properties", "DeadLetterConfig", "Arn"])
            .is_some_and(|a| is_getatt(a, "DeadLetterQueue.Arn")),
        "{id}: undeliverable deployment events are parked"
    );
}
