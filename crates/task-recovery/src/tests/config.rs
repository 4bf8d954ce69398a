//! Settings: every bad variable named, defaults as documented.

use chrono::Duration;
use phoenix_core::Vars;
use phoenix_core::lambda::{config_vars, load_config, required_config_vars};

use super::{config, config_with};
use crate::TaskRecovery;

#[test]
fn configuration_names_every_bad_variable() {
    let env = [
        ("CLUSTER_ARN", "phoenix-cluster"),
        (
            "RECHECK_QUEUE_URL",
            "https://sqs.eu-west-1.amazonaws.com/111122223333/recheck.fifo",
        ),
        ("LEDGER_TABLE", "x"),
        ("STANDALONE_FAMILIES", "phoenix-worker,bad family"),
        ("CRASH_LOOP_THRESHOLD", "zero"),
        ("REPLACEMENT_GRACE_SECONDS", "901"),
        ("RECHECK_MAX_ATTEMPTS", "1"),
    ];
    let err = load_config::<TaskRecovery>(Vars::from_pairs(&env)).expect_err("bad");
    assert_eq!(
        err.vars(),
        [
            "CLUSTER_ARN",
            "ALERTS_TOPIC_ARN",
            "LEDGER_TABLE",
            "RECHECK_QUEUE_URL",
            "RECHECK_MAX_ATTEMPTS",
            "CRASH_LOOP_THRESHOLD",
            "REPLACEMENT_GRACE_SECONDS",
            "TASK_SUBNETS",
            "STANDALONE_FAMILIES",
        ]
    );
    let text = err.to_string();
    assert!(
        text.contains("arn:aws:ecs:REGION:ACCOUNT:cluster/NAME"),
        "{text}"
    );
    assert!(
        text.contains("FIFO queues cannot delay one message"),
        "{text}"
    );
    assert_eq!(
        required_config_vars::<TaskRecovery>(),
        [
            "CLUSTER_ARN",
            "ALERTS_TOPIC_ARN",
            "LEDGER_TABLE",
            "RECHECK_QUEUE_URL"
        ]
    );
    assert_eq!(config_vars::<TaskRecovery>().len(), 14);
}

#[test]
fn defaults_match_the_documentation() {
    let config = config();
    assert_eq!(config.cluster.to_string(), super::CLUSTER_ARN);
    assert_eq!(config.cluster.name, "phoenix-cluster");
    assert_eq!(config.recheck_queue.name, "phoenix-recheck");
    assert_eq!(config.policy.crash_loop_threshold, 3);
    assert_eq!(config.policy.crash_loop_window, Duration::minutes(10));
    assert_eq!(config.policy.replacement_grace, Duration::seconds(60));
    assert_eq!(config.policy.recheck_max_attempts, 3);
    assert_eq!(config.log_lines, 20);
    assert!(!config.dry_run);
    let local = config_with(&[(
        "RECHECK_QUEUE_URL",
        "http://127.0.0.1:5000/123456789012/phoenix-recheck",
    )]);
    assert_eq!(
        local.recheck_queue.account, "123456789012",
        "the emulator's queue URLs work too"
    );
}
