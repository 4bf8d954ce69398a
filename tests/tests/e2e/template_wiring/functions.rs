//! Each function against the template, both ways: the environment it reads is what the template
//! sets, the actions it calls are what its policies allow, and its shape (build, runtime,
//! architecture, on-failure destination, logging) is the one every function has.

use std::collections::BTreeSet;

use phoenix_core::Function;
use phoenix_core::lambda::{common_config_vars, config_vars, required_config_vars};
use serde_yaml_ng::Value;

use super::iam::{IMPLICIT, STAR_ALLOWED, code_actions, policy_statements};
use super::{function_resource, is_getatt, path, strings, template, untag};

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
    // a set difference that should be empty: a problem when it is not
    let not_empty = |problems: &mut Vec<String>, what: &str, names: &[&String]| {
        if !names.is_empty() {
            problems.push(format!("{id}: {what}: {names:?}"));
        }
    };
    not_empty(
        &mut problems,
        "required variables not set in the template",
        &unset_required,
    );
    not_empty(
        &mut problems,
        "the code reads variables the template does not set",
        &unset_but_read,
    );
    not_empty(
        &mut problems,
        "the template sets variables the code never reads",
        &set_but_unread,
    );

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
    not_empty(
        &mut problems,
        "the code calls actions its policies do not allow",
        &missing,
    );
    not_empty(
        &mut problems,
        "the policies allow actions the code never calls",
        &extra,
    );
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
