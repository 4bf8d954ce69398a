//! What holds state: the re-check queue, the one dead-letter queue and its alarm, the ledger
//! table.

use serde_yaml_ng::Value;

use super::alarms::alarm_metric;
use super::iam::{event_source_mappings, policy_statements};
use super::{
    function_resource, get, is_getatt, is_ref, number, path, property, repo_root, resource,
    resources_of_type, template, untag,
};

#[test]
fn the_recheck_queue_is_durable_and_bounded() {
    let template = template();
    let (id, recovery) = function_resource(&template, "task-recovery");
    let timeout = number(property(recovery, "Timeout"))
        .or_else(|| number(path(&template, &["Globals", "Function", "Timeout"])))
        .expect("a timeout");
    let queue = resource(&template, "RecheckQueue");
    let visibility = number(property(queue, "VisibilityTimeout")).expect("VisibilityTimeout");
    assert!(
        visibility >= 6.0 * timeout,
        "RecheckQueue: visibility {visibility} s < 6 × {timeout} s"
    );
    assert_eq!(
        property(queue, "SqsManagedSseEnabled").and_then(Value::as_bool),
        Some(true)
    );
    let redrive = property(queue, "RedrivePolicy").expect("RedrivePolicy");
    assert!(
        get(redrive, "deadLetterTargetArn").is_some_and(|a| is_getatt(a, "DeadLetterQueue.Arn"))
    );
    assert!(number(get(redrive, "maxReceiveCount")).is_some_and(|n| n >= 1.0));
    let mappings = event_source_mappings(&template, &id);
    assert_eq!(mappings.len(), 1, "{id}: one SQS event source");
    let mapping = mappings[0].1;
    assert!(property(mapping, "EventSourceArn").is_some_and(|a| is_getatt(a, "RecheckQueue.Arn")));
    assert_eq!(number(property(mapping, "BatchSize")), Some(1.0));
    let url = path(
        recovery,
        &[
            "Properties",
            "Environment",
            "Variables",
            "RECHECK_QUEUE_URL",
        ],
    );
    assert!(
        url.is_some_and(|u| is_ref(u, "RecheckQueue")),
        "{id}: RECHECK_QUEUE_URL"
    );
    for (actions, resources) in policy_statements(&id, recovery) {
        if actions.iter().any(|a| a.starts_with("sqs:")) {
            assert_eq!(
                resources,
                ["RecheckQueue.Arn"],
                "{id}: {actions:?} on the re-check queue only"
            );
        }
    }
}

#[test]
fn one_dead_letter_queue_parks_everything_and_one_alarm_watches_it() {
    let template = template();
    let queues = resources_of_type(&template, "AWS::SQS::Queue");
    let ids: Vec<&str> = queues.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        ["DeadLetterQueue", "RecheckQueue"],
        "one DLQ (plus the re-check queue)"
    );
    let watching: Vec<String> = resources_of_type(&template, "AWS::CloudWatch::Alarm")
        .into_iter()
        .filter(|(_, a)| {
            alarm_metric(a).is_some_and(|(ns, _, dims)| {
                ns == "AWS/SQS"
                    && dims
                        .iter()
                        .any(|(_, v)| is_getatt(v, "DeadLetterQueue.QueueName"))
            })
        })
        .map(|(id, _)| id)
        .collect();
    assert_eq!(watching, ["DeadLetterAlarm"]);
    // every dead-letter target of a function's triggers, rules and subscriptions
    let text = std::fs::read_to_string(repo_root().join("infra/template.yaml")).expect("template");
    let mut previous = "";
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        let dead_letter = (previous == "DeadLetterConfig:" && line.starts_with("Arn:"))
            || line.starts_with("deadLetterTargetArn:")
            || line.starts_with("Destination:");
        previous = line;
        if dead_letter {
            assert!(
                line.ends_with("!GetAtt DeadLetterQueue.Arn"),
                "infra/template.yaml:{}: `{line}`: every dead-letter target is DeadLetterQueue",
                n + 1
            );
        }
    }
}

#[test]
fn the_ledger_table_is_what_the_ledger_expects() {
    let template = template();
    let table = resource(&template, "LedgerTable");
    assert_eq!(
        property(table, "BillingMode").and_then(Value::as_str),
        Some("PAY_PER_REQUEST")
    );
    let keys = property(table, "KeySchema")
        .and_then(|k| untag(k).as_sequence())
        .expect("KeySchema");
    assert!(
        keys.len() == 1
            && get(&keys[0], "AttributeName").and_then(Value::as_str) == Some("pk")
            && get(&keys[0], "KeyType").and_then(Value::as_str) == Some("HASH"),
        "LedgerTable: one string hash key pk"
    );
    let ttl = property(table, "TimeToLiveSpecification").expect("TTL");
    assert_eq!(
        get(ttl, "AttributeName").and_then(Value::as_str),
        Some("expires_at")
    );
    assert_eq!(get(ttl, "Enabled").and_then(Value::as_bool), Some(true));
    assert_eq!(
        path(table, &["Properties", "SSESpecification", "SSEEnabled"]).and_then(Value::as_bool),
        Some(true)
    );
    for (id, function) in resources_of_type(&template, "AWS::Serverless::Function") {
        if let Some(table) = path(
            function,
            &["Properties", "Environment", "Variables", "LEDGER_TABLE"],
        ) {
            assert!(is_ref(table, "LedgerTable"), "{id}: LEDGER_TABLE");
        }
        for (actions, resources) in policy_statements(&id, function) {
            if actions.iter().any(|a| a.starts_with("dynamodb:")) {
                assert_eq!(
                    resources,
                    ["LedgerTable.Arn"],
                    "{id}: the ledger's actions on the ledger only"
                );
            }
        }
    }
}
