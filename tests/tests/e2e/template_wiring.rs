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

mod alarms;
mod dashboard;
mod digest;
mod events;
mod functions;
mod iam;
mod storage;
mod subscriptions;
mod switches;

use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

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
