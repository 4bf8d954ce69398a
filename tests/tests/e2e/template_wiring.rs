//! The SAM template wires what the functions read and call, derived from the code, both ways:
//!
//! * environment: the names each function's `read_config` reads (`config_vars::<F>()`), plus
//!   the variables every function reads through phoenix-core (`common_config_vars()`:
//!   `STACK_NAME`, `LOG_LEVEL`), are exactly the variables the template sets on that function
//!   (its own and the Globals), and every variable the function cannot start without
//!   (`required_config_vars::<F>()`) is among them;
//! * IAM: the actions each function calls — every `AwsFailure::from_sdk("svc:Action", ..)` label
//!   in `crates/<fn>/src/**/*.rs`, `sns:Publish` when it publishes through phoenix-core's
//!   `NoticePublisher`/`publish_message`, the ledger's four DynamoDB actions when it builds a
//!   `Ledger`, what its event source mappings poll with, plus the documented extras below — are
//!   exactly the actions its inline policies allow (nothing missing, nothing more);
//! * shape: rust-cargolambda with `Binary` = the function's name, arm64 on provided.al2023,
//!   an on-failure destination (the one dead-letter queue), a log group with retention, Lambda
//!   never filtering the function's lines (`ApplicationLogLevel: TRACE`), reserved concurrency
//!   only behind the `ReservedConcurrency` switch, and `Resource: "*"` only where the action
//!   has no resource-level permissions;
//! * the watch: heartbeat alarms (missing data breaching) on the metrics the code emits, every
//!   custom metric read by an alarm (each costs money), the DocumentDB alarms, the deployment
//!   and DocumentDB event rules, a severity filter on every person's oncall subscription, and
//!   the daily digest watching every alarm that reports to `alerts`.
//!
//! The template uses CloudFormation short tags (`!Ref`, `!Sub`): serde_yaml_ng keeps them as
//! tagged values, which is all this test needs (it looks at keys, tags and action names).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use phoenix_core::Function;
use phoenix_core::lambda::{common_config_vars, config_vars, required_config_vars};
use serde_yaml_ng::Value;

/// Permissions a function has without them being in its `Policies`, and why. They are not
/// derived from `from_sdk` labels (the code never calls them; the Lambda service does).
const IMPLICIT: &[(&str, &str)] = &[
    (
        "logs:CreateLogGroup",
        "AWSLambdaBasicExecutionRole, attached by SAM: the runtime writes the function's logs",
    ),
    (
        "logs:CreateLogStream",
        "AWSLambdaBasicExecutionRole, attached by SAM",
    ),
    (
        "logs:PutLogEvents",
        "AWSLambdaBasicExecutionRole, attached by SAM",
    ),
    (
        "xray:PutTraceSegments",
        "AWSXrayWriteOnlyAccess, attached by SAM whatever Tracing says (XRayTracing parameter)",
    ),
    (
        "xray:PutTelemetryRecords",
        "AWSXrayWriteOnlyAccess, attached by SAM whatever Tracing says (XRayTracing parameter)",
    ),
    (
        "sqs:SendMessage",
        "added by SAM for the EventInvokeConfig on-failure destination (the function's DLQ)",
    ),
];

/// Actions a function needs that are not the label of an SDK call it makes, and why.
fn documented_extras(function: &str) -> &'static [(&'static str, &'static str)] {
    match function {
        "task-recovery" => &[
            (
                "iam:PassRole",
                "RunTask passes the task definition's task and execution roles to ECS",
            ),
            (
                "ecs:TagResource",
                "RunTask with tags (phoenix-ops:replaces, phoenix-ops:event-id) needs it on the new task",
            ),
        ],
        "backup" => &[(
            "rds:AddTagsToResource",
            "CreateDBClusterSnapshot with Tags (the marks of snapshots we created and may rotate) needs it on the new snapshot",
        )],
        _ => &[],
    }
}

/// Actions that have no resource-level permissions, are scoped by a condition instead, or are
/// called account-wide (the digest's DescribeAlarmHistory names no alarm, and AWS answers for
/// composite alarms only to a `*` grant), so `Resource: "*"` is the least privilege there is.
const STAR_ALLOWED: &[&str] = &[
    "cloudwatch:DescribeAlarmHistory",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:GetMetricData",
    "ecs:DescribeTaskDefinition",
    "ecs:ListTasks",
    "logs:DescribeExportTasks",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn template() -> Value {
    let path = repo_root().join("infra/template.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
}

/// `!Tag value` → value; anything else unchanged.
fn untag(value: &Value) -> &Value {
    match value {
        Value::Tagged(tagged) => &tagged.value,
        other => other,
    }
}

fn get<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    untag(value).as_mapping()?.get(key)
}

fn path<'a>(value: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().try_fold(value, |v, k| get(v, k))
}

fn strings(value: &Value) -> Vec<String> {
    match untag(value) {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

/// `!Tag` of a tagged value.
fn tag_of(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(tagged) => Some(tagged.tag.to_string()),
        _ => None,
    }
}

/// `!Ref name`.
fn is_ref(value: &Value, name: &str) -> bool {
    tag_of(value).as_deref() == Some("!Ref") && untag(value).as_str() == Some(name)
}

/// `!GetAtt attribute` (e.g. `Cluster.Arn`).
fn is_getatt(value: &Value, attribute: &str) -> bool {
    tag_of(value).as_deref() == Some("!GetAtt") && untag(value).as_str() == Some(attribute)
}

/// Every resource of a type: (logical id, resource).
fn resources_of_type<'a>(template: &'a Value, kind: &str) -> Vec<(String, &'a Value)> {
    path(template, &["Resources"])
        .and_then(Value::as_mapping)
        .expect("template has Resources")
        .iter()
        .filter(|(_, r)| get(r, "Type").and_then(Value::as_str) == Some(kind))
        .map(|(k, r)| (k.as_str().unwrap_or_default().to_owned(), r))
        .collect()
}

/// The function resource whose `Metadata.BuildProperties.Binary` is `name`.
fn function_resource<'a>(template: &'a Value, name: &str) -> (String, &'a Value) {
    let resources = path(template, &["Resources"])
        .and_then(Value::as_mapping)
        .expect("template has Resources");
    let found: Vec<_> = resources
        .iter()
        .filter(|(_, r)| {
            get(r, "Type").and_then(Value::as_str) == Some("AWS::Serverless::Function")
                && path(r, &["Metadata", "BuildProperties", "Binary"]).and_then(Value::as_str)
                    == Some(name)
        })
        .map(|(k, r)| (k.as_str().unwrap_or_default().to_owned(), r))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "exactly one AWS::Serverless::Function must build Binary: {name}"
    );
    found.into_iter().next().expect("one")
}

fn env_names(template: &Value, function: &Value) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for vars in [
        path(
            template,
            &["Globals", "Function", "Environment", "Variables"],
        ),
        path(function, &["Properties", "Environment", "Variables"]),
    ]
    .into_iter()
    .flatten()
    {
        if let Some(map) = untag(vars).as_mapping() {
            names.extend(map.keys().filter_map(Value::as_str).map(str::to_owned));
        }
    }
    names
}

/// Every Allow statement of the function's inline policies: (actions, resources).
fn policy_statements(logical_id: &str, function: &Value) -> Vec<(Vec<String>, Vec<String>)> {
    let policies = path(function, &["Properties", "Policies"])
        .and_then(|p| untag(p).as_sequence())
        .unwrap_or_else(|| panic!("{logical_id}: Properties.Policies must be a list"));
    let mut out = Vec::new();
    for policy in policies {
        let statements = get(policy, "Statement").unwrap_or_else(|| {
            panic!(
                "{logical_id}: every policy must be an inline policy document (no managed policies \
                 or SAM policy templates: this test cannot see their actions): {policy:?}"
            )
        });
        let statements = match untag(statements) {
            Value::Sequence(items) => items.clone(),
            other => vec![other.clone()],
        };
        for statement in &statements {
            let effect = get(statement, "Effect").and_then(Value::as_str);
            if effect != Some("Allow") {
                continue;
            }
            assert!(
                get(statement, "NotAction").is_none() && get(statement, "NotResource").is_none(),
                "{logical_id}: NotAction/NotResource would allow more than listed"
            );
            let actions = get(statement, "Action").map(strings).unwrap_or_default();
            let resources = get(statement, "Resource").map(strings).unwrap_or_default();
            out.push((actions, resources));
        }
    }
    out
}

/// `from_sdk("svc:Action"` labels in every .rs file under `dir`.
fn sdk_labels(dir: &Path) -> BTreeSet<String> {
    let mut labels = BTreeSet::new();
    for file in rust_files(dir) {
        let text = std::fs::read_to_string(&file).expect("readable source");
        let mut rest = text.as_str();
        while let Some(at) = rest.find("from_sdk(") {
            rest = &rest[at + "from_sdk(".len()..];
            let arg = rest.trim_start();
            let Some(literal) = arg.strip_prefix('"') else {
                continue; // a call with a computed label would escape this test: none allowed
            };
            let Some(end) = literal.find('"') else {
                continue;
            };
            let label = &literal[..end];
            let well_formed = label.split_once(':').is_some_and(|(svc, action)| {
                !svc.is_empty()
                    && svc
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !action.is_empty()
                    && action.chars().all(|c| c.is_ascii_alphabetic())
            });
            assert!(
                well_formed,
                "{}: from_sdk label {label:?} is not an IAM action name",
                file.display()
            );
            labels.insert(label.to_owned());
        }
    }
    labels
}

fn uses_notice_publisher(dir: &Path) -> bool {
    rust_files(dir).iter().any(|file| {
        let text = std::fs::read_to_string(file).expect("readable source");
        text.contains("NoticePublisher") || text.contains("publish_message(")
    })
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = entry.expect("dir entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

fn uses_ledger(dir: &Path) -> bool {
    rust_files(dir).iter().any(|file| {
        let text = std::fs::read_to_string(file).expect("readable source");
        text.contains("Ledger::new(")
    })
}

/// The actions phoenix-core's `Ledger` calls (its `from_sdk` labels in crates/core/src/ledger.rs).
fn ledger_actions() -> BTreeSet<String> {
    let labels = sdk_labels(&repo_root().join("crates/core/src"));
    let ledger: BTreeSet<String> = labels
        .into_iter()
        .filter(|l| l.starts_with("dynamodb:"))
        .collect();
    assert!(
        !ledger.is_empty(),
        "crates/core/src: no dynamodb labels: where did the ledger go?"
    );
    ledger
}

/// What a Lambda event source mapping of this function polls with: the function's role needs
/// it, though the code never calls it.
const SQS_POLL: &[&str] = &[
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
];

/// The event source mappings (AWS::Lambda::EventSourceMapping) that invoke `function_id`.
fn event_source_mappings<'a>(template: &'a Value, function_id: &str) -> Vec<(String, &'a Value)> {
    resources_of_type(template, "AWS::Lambda::EventSourceMapping")
        .into_iter()
        .filter(|(_, r)| {
            path(r, &["Properties", "FunctionName"]).is_some_and(|f| is_ref(f, function_id))
        })
        .collect()
}

/// What the code (and the template's event source mappings) say the function needs.
fn code_actions(function: &str, crate_dir: &str, template: &Value, id: &str) -> BTreeSet<String> {
    let src = repo_root().join("crates").join(crate_dir).join("src");
    let mut actions = sdk_labels(&src);
    if uses_notice_publisher(&src) {
        // phoenix-core's NoticePublisher / publish_message label their call "sns:Publish".
        actions.insert("sns:Publish".to_owned());
    }
    if uses_ledger(&src) {
        actions.extend(ledger_actions());
    }
    if !event_source_mappings(template, id).is_empty() {
        actions.extend(SQS_POLL.iter().map(|a| (*a).to_owned()));
    }
    actions.extend(
        documented_extras(function)
            .iter()
            .map(|(a, _)| (*a).to_owned()),
    );
    actions
}

fn check_function<F: Function>(crate_dir: &str) {
    let template = template();
    let name = F::NAME;
    let (id, function) = function_resource(&template, name);
    let mut problems: Vec<String> = Vec::new();

    // --- environment: read == set, required ⊆ set
    let set = env_names(&template, function);
    let read: BTreeSet<String> = config_vars::<F>()
        .into_iter()
        .chain(common_config_vars())
        .map(str::to_owned)
        .collect();
    let required: BTreeSet<String> = required_config_vars::<F>().into_iter().collect();
    let unset_but_read: Vec<_> = read.difference(&set).collect();
    let set_but_unread: Vec<_> = set.difference(&read).collect();
    let unset_required: Vec<_> = required.difference(&set).collect();
    if !unset_required.is_empty() {
        problems.push(format!(
            "{id}: required variables not set in the template: {unset_required:?}"
        ));
    }
    if !unset_but_read.is_empty() {
        problems.push(format!(
            "{id}: the code reads variables the template does not set: {unset_but_read:?}"
        ));
    }
    if !set_but_unread.is_empty() {
        problems.push(format!(
            "{id}: the template sets variables the code never reads: {set_but_unread:?}"
        ));
    }

    // --- IAM: allowed (minus implicit) == called
    let statements = policy_statements(&id, function);
    let needed = code_actions(name, crate_dir, &template, &id);
    // an implicit grant listed in Policies is ignored, unless the code needs it on a resource
    // of its own (task-recovery's SendMessage to the re-check queue, beside SAM's to the DLQ)
    let allowed: BTreeSet<String> = statements
        .iter()
        .flat_map(|(actions, _)| actions.iter().cloned())
        .filter(|a| needed.contains(a) || !IMPLICIT.iter().any(|(implicit, _)| implicit == a))
        .collect();
    let missing: Vec<_> = needed.difference(&allowed).collect();
    let extra: Vec<_> = allowed.difference(&needed).collect();
    if !missing.is_empty() {
        problems.push(format!(
            "{id}: the code calls actions its policies do not allow: {missing:?}"
        ));
    }
    if !extra.is_empty() {
        problems.push(format!(
            "{id}: the policies allow actions the code never calls: {extra:?}"
        ));
    }
    for (actions, resources) in &statements {
        if actions.iter().any(|a| a.contains('*')) {
            problems.push(format!("{id}: wildcard action in {actions:?}"));
        }
        if resources.iter().any(|r| r == "*") {
            let unscoped: Vec<_> = actions
                .iter()
                .filter(|a| !STAR_ALLOWED.contains(&a.as_str()))
                .collect();
            if !unscoped.is_empty() {
                problems.push(format!(
                    "{id}: Resource \"*\" for actions that can be scoped: {unscoped:?}"
                ));
            }
        }
    }

    // --- shape
    let build_method = path(function, &["Metadata", "BuildMethod"]).and_then(Value::as_str);
    if build_method != Some("rust-cargolambda") {
        problems.push(format!(
            "{id}: Metadata.BuildMethod must be rust-cargolambda"
        ));
    }
    let setting = |key: &str| {
        path(function, &["Properties", key])
            .or_else(|| path(&template, &["Globals", "Function", key]))
            .cloned()
    };
    if setting("Runtime").as_ref().and_then(Value::as_str) != Some("provided.al2023") {
        problems.push(format!("{id}: Runtime must be provided.al2023"));
    }
    if setting("Architectures").map(|a| strings(&a)) != Some(vec!["arm64".to_owned()]) {
        problems.push(format!("{id}: Architectures must be [arm64]"));
    }
    if path(
        function,
        &[
            "Properties",
            "EventInvokeConfig",
            "DestinationConfig",
            "OnFailure",
            "Destination",
        ],
    )
    .is_none()
    {
        problems.push(format!(
            "{id}: no on-failure destination (EventInvokeConfig.DestinationConfig.OnFailure)"
        ));
    }
    let destination = path(
        function,
        &[
            "Properties",
            "EventInvokeConfig",
            "DestinationConfig",
            "OnFailure",
            "Destination",
        ],
    );
    if destination.is_some_and(|d| !is_getatt(d, "DeadLetterQueue.Arn")) {
        problems.push(format!(
            "{id}: the on-failure destination must be the one DeadLetterQueue (one queue, one alarm)"
        ));
    }
    let logging = |key: &str| {
        path(function, &["Properties", "LoggingConfig", key])
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    if logging("LogFormat").as_deref() != Some("JSON")
        || logging("ApplicationLogLevel").as_deref() != Some("TRACE")
    {
        problems.push(format!(
            "{id}: LoggingConfig must be LogFormat JSON with ApplicationLogLevel TRACE (LOG_LEVEL \
             filters the function's lines; Lambda must not drop any)"
        ));
    }
    match path(function, &["Properties", "LoggingConfig", "LogGroup"])
        .and_then(|g| untag(g).as_str())
    {
        Some(group) => {
            let retention = path(
                &template,
                &["Resources", group, "Properties", "RetentionInDays"],
            );
            if retention.is_none() {
                problems.push(format!("{id}: log group {group} has no RetentionInDays"));
            }
        }
        None => problems.push(format!(
            "{id}: LoggingConfig.LogGroup must name its log group"
        )),
    }

    assert!(
        problems.is_empty(),
        "{name} and infra/template.yaml disagree:\n  - {}\n(env read by the code: {read:?}; \
         actions the code needs: {needed:?})",
        problems.join("\n  - ")
    );
}

#[test]
fn task_recovery_template_sets_what_it_reads_and_allows_what_it_calls() {
    check_function::<task_recovery::TaskRecovery>("task-recovery");
}

#[test]
fn request_scaler_template_sets_what_it_reads_and_allows_what_it_calls() {
    check_function::<request_scaler::RequestScaler>("request-scaler");
}

#[test]
fn alarm_notifier_template_sets_what_it_reads_and_allows_what_it_calls() {
    check_function::<alarm_notifier::AlarmNotifier>("alarm-notifier");
}

#[test]
fn backup_template_sets_what_it_reads_and_allows_what_it_calls() {
    check_function::<backup::Backup>("backup");
}

#[test]
fn daily_digest_template_sets_what_it_reads_and_allows_what_it_calls() {
    check_function::<daily_digest::DailyDigest>("daily-digest");
}

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
fn the_label_scanner_reads_labels_the_way_the_code_writes_them() {
    let dir = std::env::temp_dir().join(format!("phoenix-wiring-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("nested")).expect("temp dir");
    std::fs::write(
        dir.join("a.rs"),
        "x.map_err(|e| AwsFailure::from_sdk(\"ecs:UpdateService\", s, &e))?;\n\
         y.map_err(|e| {\n    AwsFailure::from_sdk(\n        \"logs:GetLogEvents\",\n        &g, &e)\n});",
    )
    .expect("write");
    std::fs::write(
        dir.join("nested/b.rs"),
        "AwsFailure::from_sdk(\"rds:CreateDBClusterSnapshot\", id, &e)",
    )
    .expect("write");
    let labels = sdk_labels(&dir);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(
        labels.into_iter().collect::<Vec<_>>(),
        [
            "ecs:UpdateService",
            "logs:GetLogEvents",
            "rds:CreateDBClusterSnapshot"
        ]
    );
}

// ───────────────────────────── the watch, the queues and the switches

fn resource<'a>(template: &'a Value, id: &str) -> &'a Value {
    path(template, &["Resources", id]).unwrap_or_else(|| panic!("no resource {id}"))
}

fn property<'a>(resource: &'a Value, key: &str) -> Option<&'a Value> {
    path(resource, &["Properties", key])
}

fn number(value: Option<&Value>) -> Option<f64> {
    value.map(untag).and_then(|v| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    })
}

/// Values of an `!If [cond, a, b]` (both branches, recursively), or the value itself.
fn branches(value: &Value) -> Vec<&Value> {
    if tag_of(value).as_deref() == Some("!If")
        && let Some(items) = untag(value).as_sequence()
    {
        return items.iter().skip(1).flat_map(branches).collect();
    }
    vec![value]
}

fn is_no_value(value: &Value) -> bool {
    is_ref(value, "AWS::NoValue")
}

/// The alarm's actions on `key` (`AlarmActions`, `OKActions`), as `!Ref` targets.
fn alarm_targets(alarm: &Value, key: &str) -> Vec<String> {
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
type AlarmMetric = (String, String, Vec<(String, Value)>);

fn alarm_metric(alarm: &Value) -> Option<AlarmMetric> {
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
fn reserved_concurrency_is_opt_in_and_never_unconditional() {
    let template = template();
    let parameter = path(&template, &["Parameters", "ReservedConcurrency"])
        .expect("a ReservedConcurrency parameter");
    assert_eq!(
        get(parameter, "Default").and_then(Value::as_str),
        Some("Off")
    );
    let condition = path(&template, &["Conditions", "ReservesConcurrency"])
        .expect("a ReservesConcurrency condition");
    let equals = untag(condition).as_sequence().expect("!Equals [a, b]");
    assert_eq!(tag_of(condition).as_deref(), Some("!Equals"));
    assert!(is_ref(&equals[0], "ReservedConcurrency") && equals[1].as_str() == Some("On"));
    assert!(
        path(
            &template,
            &["Globals", "Function", "ReservedConcurrentExecutions"]
        )
        .is_none(),
        "Globals must not reserve concurrency"
    );
    let mut reserved_when_on = 0.0;
    for kind in ["AWS::Serverless::Function", "AWS::Lambda::Function"] {
        for (id, function) in resources_of_type(&template, kind) {
            let Some(value) = property(function, "ReservedConcurrentExecutions") else {
                continue;
            };
            let args = untag(value).as_sequence();
            let guarded = tag_of(value).as_deref() == Some("!If")
                && args.is_some_and(|a| {
                    a.len() == 3
                        && a[0].as_str() == Some("ReservesConcurrency")
                        && is_no_value(&a[2])
                });
            assert!(
                guarded,
                "{id}: ReservedConcurrentExecutions must be !If [ReservesConcurrency, N, !Ref AWS::NoValue]: \
                 a new account's quota of 10 cannot grant any"
            );
            reserved_when_on += args.and_then(|a| number(a.get(1))).unwrap_or(0.0);
        }
    }
    assert!(
        reserved_when_on <= 10.0,
        "with ReservedConcurrency=On the functions reserve {reserved_when_on}: keep it within 10 \
         (the parameter's description promises it)"
    );
}

#[test]
fn cloudformation_parks_the_service_without_an_image_and_never_resets_its_count() {
    let template = template();
    assert!(
        path(&template, &["Parameters", "AppDesiredCount"]).is_none(),
        "AppDesiredCount would reset the count request-scaler set on every deploy"
    );
    let count = property(resource(&template, "Service"), "DesiredCount").expect("DesiredCount");
    let args = untag(count).as_sequence().expect("!If [HasImage, …, 0]");
    assert_eq!(tag_of(count).as_deref(), Some("!If"));
    assert_eq!(args[0].as_str(), Some("HasImage"));
    assert!(
        is_no_value(&args[1]),
        "with an image, no DesiredCount at all"
    );
    assert_eq!(
        number(args.get(2)),
        Some(0.0),
        "without an image, parked at 0"
    );
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
