//! The configuration: every bad variable named, the defaults documented, no loop.

use phoenix_core::Vars;
use phoenix_core::lambda::{config_vars, load_config, required_config_vars};

use super::support::{DASHBOARD, ONCALL, SECRET};
use crate::AlarmNotifier;

#[test]
fn configuration_names_every_bad_variable() {
    let env = [
        (
            "SLACK_WEBHOOK_SECRET_ARN",
            "https://hooks.slack.com/services/x",
        ),
        ("LEDGER_TABLE", "no spaces allowed"),
        ("DASHBOARD_URL", "http://insecure.example/dash"),
        ("DEDUPE_WINDOW_SECONDS", "60"),
    ];
    let err = load_config::<AlarmNotifier>(Vars::from_pairs(&env)).expect_err("bad");
    assert_eq!(
        err.vars(),
        [
            "SLACK_WEBHOOK_SECRET_ARN",
            "ONCALL_TOPIC_ARN",
            "DEDUPE_WINDOW_SECONDS",
            "LEDGER_TABLE",
            "DASHBOARD_URL",
        ],
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("DEDUPE_WINDOW_SECONDS must be between 300 and 86400, got 60"),
        "{text}"
    );
    // The webhook set here by mistake is a secret: the error (which is logged) never shows it.
    assert!(
        text.contains("SLACK_WEBHOOK_SECRET_ARN must be the ARN of a Secrets Manager secret")
            && !text.contains("hooks.slack.com"),
        "{text}"
    );
    assert_eq!(
        required_config_vars::<AlarmNotifier>(),
        [
            "SLACK_WEBHOOK_SECRET_ARN",
            "ONCALL_TOPIC_ARN",
            "LEDGER_TABLE"
        ]
    );
    assert_eq!(
        config_vars::<AlarmNotifier>(),
        [
            "SLACK_WEBHOOK_SECRET_ARN",
            "ONCALL_TOPIC_ARN",
            "ALERTS_TOPIC_ARN",
            "LEDGER_TABLE",
            "DASHBOARD_URL",
            "DEDUPE_WINDOW_SECONDS",
            "DRY_RUN"
        ]
    );
}

#[test]
fn the_oncall_topic_can_never_be_the_alerts_topic() {
    let topic = "arn:aws:sns:eu-west-1:111122223333:phoenix-alerts";
    let env = [
        ("SLACK_WEBHOOK_SECRET_ARN", SECRET),
        ("ONCALL_TOPIC_ARN", topic),
        ("ALERTS_TOPIC_ARN", topic),
        ("LEDGER_TABLE", "phoenix-ledger"),
    ];
    let err = load_config::<AlarmNotifier>(Vars::from_pairs(&env)).expect_err("loop");
    assert_eq!(err.vars(), ["ONCALL_TOPIC_ARN"]);
}

#[test]
fn defaults_match_the_documentation() {
    let env = [
        ("SLACK_WEBHOOK_SECRET_ARN", SECRET),
        ("ONCALL_TOPIC_ARN", ONCALL),
        ("LEDGER_TABLE", "phoenix-ops-prod-ledger"),
    ];
    let config = load_config::<AlarmNotifier>(Vars::from_pairs(&env)).expect("valid");
    assert_eq!(config.dedupe_window, chrono::Duration::seconds(3600));
    assert_eq!(config.ledger_table, "phoenix-ops-prod-ledger");
    assert_eq!(config.dashboard_url, None, "no dashboard: no button");
    assert!(!config.dry_run);
    let env = [
        ("SLACK_WEBHOOK_SECRET_ARN", SECRET),
        ("ONCALL_TOPIC_ARN", ONCALL),
        ("LEDGER_TABLE", "phoenix-ledger"),
        ("DASHBOARD_URL", DASHBOARD),
        ("DEDUPE_WINDOW_SECONDS", "86400"),
    ];
    let config = load_config::<AlarmNotifier>(Vars::from_pairs(&env)).expect("valid");
    assert_eq!(config.dashboard_url.as_deref(), Some(DASHBOARD));
    assert_eq!(config.dedupe_window, chrono::Duration::days(1));
}
