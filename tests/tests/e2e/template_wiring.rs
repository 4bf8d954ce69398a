//! The SAM template wires what the functions read and call, derived from the code, both ways:
//!
//! * environment: the names each function's `read_config` reads (`config_vars::<F>()`) are
//!   exactly the variables the template sets on that function, and every variable the function
//!   cannot start without (`required_config_vars::<F>()`) is among them;
//! * IAM: the actions each function calls — every `AwsFailure::from_sdk("svc:Action", ..)` label
//!   in `crates/<fn>/src/**/*.rs`, `sns:Publish` when it publishes through phoenix-core's
//!   `NoticePublisher`/`publish_message`, plus the documented extras below — are exactly the
//!   actions its inline policies allow (nothing missing, nothing more);
//! * shape: rust-cargolambda with `Binary` = the function's name, arm64 on provided.al2023,
//!   an on-failure destination, a log group with retention, and `Resource: "*"` only where the
//!   action has no resource-level permissions.
//!
//! The template uses CloudFormation short tags (`!Ref`, `!Sub`): serde_yaml_ng keeps them as
//! tagged values, which is all this test needs (it looks at keys and action names).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use phoenix_core::Function;
use phoenix_core::lambda::{config_vars, required_config_vars};
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
        "AWSXrayWriteOnlyAccess, attached by SAM for Tracing: Active",
    ),
    (
        "xray:PutTelemetryRecords",
        "AWSXrayWriteOnlyAccess, attached by SAM for Tracing: Active",
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

/// Actions that have no resource-level permissions (or are scoped by a condition instead), so
/// `Resource: "*"` is the least privilege there is.
const STAR_ALLOWED: &[&str] = &[
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

/// What the code says the function needs.
fn code_actions(function: &str, crate_dir: &str) -> BTreeSet<String> {
    let src = repo_root().join("crates").join(crate_dir).join("src");
    let mut actions = sdk_labels(&src);
    if uses_notice_publisher(&src) {
        // phoenix-core's NoticePublisher / publish_message label their call "sns:Publish".
        actions.insert("sns:Publish".to_owned());
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
    let read: BTreeSet<String> = config_vars::<F>().into_iter().map(str::to_owned).collect();
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
    let allowed: BTreeSet<String> = statements
        .iter()
        .flat_map(|(actions, _)| actions.iter().cloned())
        .filter(|a| !IMPLICIT.iter().any(|(implicit, _)| implicit == a))
        .collect();
    let needed = code_actions(name, crate_dir);
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
fn the_request_scaler_never_runs_twice_at_once() {
    let template = template();
    let (id, function) = function_resource(&template, "request-scaler");
    let reserved =
        path(function, &["Properties", "ReservedConcurrentExecutions"]).and_then(Value::as_u64);
    assert_eq!(
        reserved,
        Some(1),
        "{id}: ReservedConcurrentExecutions must be 1"
    );
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
        .find_map(|e| path(e, &["Properties", "Pattern"]))
        .unwrap_or_else(|| panic!("{id}: no EventBridge pattern"));
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
