//! IAM: the actions each function's code calls (its `from_sdk` labels, the Notice publisher, the
//! ledger, its event source mappings, the documented extras), its inline policies' statements,
//! and what SAM grants implicitly.

use std::collections::BTreeSet;
use std::path::Path;

use serde_yaml_ng::Value;

use super::{get, is_ref, path, repo_root, resources_of_type, rust_files, strings, untag};

/// Permissions a function has without them being in its `Policies`, and why. They are not
/// derived from `from_sdk` labels (the code never calls them; the Lambda service does).
pub(super) const IMPLICIT: &[(&str, &str)] = &[
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
pub(super) const STAR_ALLOWED: &[&str] = &[
    "cloudwatch:DescribeAlarmHistory",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:GetMetricData",
    "cloudwatch:GetMetricStatistics",
    "ecs:DescribeTaskDefinition",
    "ecs:ListTasks",
    "logs:DescribeExportTasks",
];

/// Every Allow statement of the function's inline policies: (actions, resources).
pub(super) fn policy_statements(
    logical_id: &str,
    function: &Value,
) -> Vec<(Vec<String>, Vec<String>)> {
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
pub(super) fn event_source_mappings<'a>(
    template: &'a Value,
    function_id: &str,
) -> Vec<(String, &'a Value)> {
    resources_of_type(template, "AWS::Lambda::EventSourceMapping")
        .into_iter()
        .filter(|(_, r)| {
            path(r, &["Properties", "FunctionName"]).is_some_and(|f| is_ref(f, function_id))
        })
        .collect()
}

/// What the code (and the template's event source mappings) say the function needs.
pub(super) fn code_actions(
    function: &str,
    crate_dir: &str,
    template: &Value,
    id: &str,
) -> BTreeSet<String> {
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
