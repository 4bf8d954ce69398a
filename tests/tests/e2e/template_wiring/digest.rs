//! The daily digest: the alarms it watches, the log groups it reads, its schedule.

use std::collections::BTreeSet;

use serde_yaml_ng::Value;

use super::alarms::alarm_targets;
use super::{
    branches, function_resource, get, path, property, resources_of_type, tag_of, template, untag,
};

#[test]
fn the_digest_watches_every_alarm_that_reports_to_alerts_and_reads_every_outcome_line() {
    let template = template();
    let (id, digest) = function_resource(&template, "daily-digest");
    let variables = path(digest, &["Properties", "Environment", "Variables"]).expect("Variables");
    let names = get(variables, "ALARM_NAMES").expect("ALARM_NAMES");
    assert_eq!(tag_of(names).as_deref(), Some("!Join"));
    let listed: BTreeSet<String> = untag(names)
        .as_sequence()
        .and_then(|j| j.get(1))
        .and_then(|l| untag(l).as_sequence())
        .expect("!Join [\",\", [...]]")
        .iter()
        .flat_map(branches)
        .filter(|v| tag_of(v).as_deref() == Some("!Ref"))
        .filter_map(|v| untag(v).as_str().map(str::to_owned))
        .collect();
    let reporting: BTreeSet<String> = resources_of_type(&template, "AWS::CloudWatch::Alarm")
        .into_iter()
        .filter(|(_, a)| alarm_targets(a, "AlarmActions").contains(&"AlertsTopic".to_owned()))
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        listed, reporting,
        "{id}: ALARM_NAMES must list exactly the alarms that report to alerts"
    );

    let groups = get(variables, "FUNCTION_LOG_GROUPS")
        .and_then(|g| untag(g).as_str())
        .expect("!Sub");
    let named: BTreeSet<&str> = groups
        .split("${")
        .skip(1)
        .filter_map(|part| part.split_once('}').map(|(name, _)| name))
        .collect();
    let others: BTreeSet<String> = resources_of_type(&template, "AWS::Serverless::Function")
        .into_iter()
        .filter(|(other, _)| other != &id)
        .filter_map(|(_, f)| {
            path(f, &["Properties", "LoggingConfig", "LogGroup"])
                .and_then(|g| untag(g).as_str())
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(
        named
            .into_iter()
            .map(str::to_owned)
            .collect::<BTreeSet<_>>(),
        others,
        "{id}: FUNCTION_LOG_GROUPS must name every other function's log group"
    );
    let schedule = property(digest, "Events")
        .and_then(Value::as_mapping)
        .and_then(|e| {
            e.values()
                .find_map(|v| path(v, &["Properties", "Schedule"]))
        })
        .and_then(|s| untag(s).as_str())
        .expect("a schedule");
    assert_eq!(
        schedule, "cron(0 ${DigestHour} * * ? *)",
        "{id}: once a day at DigestHour (UTC)"
    );
}
