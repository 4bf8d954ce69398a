//! Who gets paged: severity filters on every person's oncall subscription, alarms that page
//! through the unfiltered direct topic, and the notifier paging through the filtered one.

use serde_yaml_ng::Value;

use super::alarms::alarm_targets;
use super::iam::policy_statements;
use super::{
    branches, function_resource, is_ref, path, property, resource, resources_of_type, strings,
    template, untag,
};

#[test]
fn people_get_what_needs_a_person() {
    let template = template();
    let default =
        path(&template, &["Parameters", "OncallMinSeverity", "Default"]).and_then(Value::as_str);
    assert_eq!(default, Some("warning"));
    let severities = ["warning", "error", "critical"];
    let subscriptions = resources_of_type(&template, "AWS::SNS::Subscription");
    let of_topic = |topic: &str| -> Vec<(String, &Value)> {
        subscriptions
            .iter()
            .filter(|(_, s)| property(s, "TopicArn").is_some_and(|t| is_ref(t, topic)))
            .map(|(id, s)| (id.clone(), *s))
            .collect()
    };
    let people = of_topic("OncallTopic");
    assert!(!people.is_empty(), "the oncall e-mail subscription");
    for (id, subscription) in &people {
        let policy = property(subscription, "FilterPolicy").unwrap_or_else(|| {
            panic!("{id}: every person's oncall subscription filters on severity")
        });
        let scope = property(subscription, "FilterPolicyScope").and_then(Value::as_str);
        assert!(
            matches!(scope, None | Some("MessageAttributes")),
            "{id}: on the severity attribute"
        );
        for branch in branches(policy) {
            let map = untag(branch)
                .as_mapping()
                .unwrap_or_else(|| panic!("{id}: {branch:?}"));
            let keys: Vec<&str> = map.keys().filter_map(Value::as_str).collect();
            assert_eq!(keys, ["severity"], "{id}");
            let values = strings(map.get("severity").expect("severity"));
            assert!(
                !values.is_empty() && values.iter().all(|v| severities.contains(&v.as_str())),
                "{id}: {values:?}"
            );
            assert!(
                values.contains(&"critical".to_owned()),
                "{id}: critical always reaches people"
            );
        }
    }
    // CloudWatch publishes without attributes, which no filter lets through: alarms that page
    // people go to the unfiltered direct topic, never to oncall
    for (id, alarm) in resources_of_type(&template, "AWS::CloudWatch::Alarm") {
        for key in ["AlarmActions", "OKActions", "InsufficientDataActions"] {
            assert!(
                !alarm_targets(alarm, key).contains(&"OncallTopic".to_owned()),
                "{id}: an alarm on the filtered oncall topic never reaches a person; use OncallDirectTopic"
            );
        }
    }
    for id in ["AlarmNotifierErrorsAlarm", "DeadLetterAlarm"] {
        assert!(
            alarm_targets(resource(&template, id), "AlarmActions")
                .contains(&"OncallDirectTopic".to_owned()),
            "{id}: the notifier's own failures page people directly"
        );
    }
    for (id, subscription) in of_topic("OncallDirectTopic") {
        assert!(
            property(subscription, "FilterPolicy").is_none(),
            "{id}: nothing may filter a direct page"
        );
    }
    assert_eq!(
        of_topic("OncallDirectTopic").len(),
        people.len(),
        "the same people on both topics"
    );
    for (id, function) in resources_of_type(&template, "AWS::Serverless::Function") {
        let (_, resources): (Vec<_>, Vec<_>) = policy_statements(&id, function).into_iter().unzip();
        assert!(
            !resources.iter().flatten().any(|r| r == "OncallDirectTopic"),
            "{id}: only CloudWatch publishes to the direct topic"
        );
    }
    let (id, notifier) = function_resource(&template, "alarm-notifier");
    let oncall = path(
        notifier,
        &["Properties", "Environment", "Variables", "ONCALL_TOPIC_ARN"],
    );
    assert!(
        oncall.is_some_and(|t| is_ref(t, "OncallTopic")),
        "{id}: pages through the filtered topic"
    );
}
