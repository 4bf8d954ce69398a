// pure: reads the settings through an injected lookup, once; no environment access of its own.
//! task-recovery's settings, read once at start-up from the variables the template sets. Every
//! problem is named with its variable (phoenix-core collects them into one start-up error).

use chrono::Duration;
use phoenix_core::Vars;

use crate::arn::{ClusterArn, QueueRef};
use crate::decide::Policy;
use crate::recheck::MAX_DELAY_SECONDS;

/// Network settings for replacements (awsvpc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSettings {
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: bool,
}

/// Settings, read once at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// The cluster whose tasks this function watches (`CLUSTER_ARN`): events of any other
    /// account, region or cluster are ignored.
    pub cluster: ClusterArn,
    pub alerts_topic_arn: String,
    /// The DynamoDB table that makes each effect happen once across containers.
    pub ledger_table: String,
    /// Where the delayed re-checks go (this function consumes the queue).
    pub recheck_queue: QueueRef,
    pub policy: Policy,
    pub network: NetworkSettings,
    /// Log lines attached to a crash Notice.
    pub log_lines: i32,
    pub dry_run: bool,
}

fn is_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// Reads every setting; problems are recorded in `vars`, placeholders returned meanwhile.
pub fn read(vars: &mut Vars<'_>) -> Config {
    let cluster_text = vars.required("CLUSTER_ARN");
    let cluster = match ClusterArn::parse(&cluster_text) {
        Ok(cluster) => cluster,
        Err(why) => {
            if !cluster_text.is_empty() {
                vars.invalid(
                    "CLUSTER_ARN",
                    format!(
                        "must be the cluster's ARN (arn:aws:ecs:REGION:ACCOUNT:cluster/NAME): {why}"
                    ),
                );
            }
            ClusterArn {
                partition: "aws".into(),
                region: String::new(),
                account: String::new(),
                name: String::new(),
            }
        }
    };
    let alerts_topic_arn = vars.required_arn("ALERTS_TOPIC_ARN", "sns");
    let ledger_table = vars.required("LEDGER_TABLE");
    if !ledger_table.is_empty() && !is_table_name(&ledger_table) {
        vars.invalid(
            "LEDGER_TABLE",
            format!(
                "must be a DynamoDB table name (3–255 of A-Z a-z 0-9 _ . -), got {ledger_table:?}"
            ),
        );
    }
    let queue_url = vars.required("RECHECK_QUEUE_URL");
    let recheck_queue = match QueueRef::from_url(&queue_url) {
        Ok(queue) => queue,
        Err(why) => {
            if !queue_url.is_empty() {
                vars.invalid("RECHECK_QUEUE_URL", why);
            }
            QueueRef {
                url: queue_url,
                account: String::new(),
                name: String::new(),
            }
        }
    };
    let max_attempts = vars.number_in("RECHECK_MAX_ATTEMPTS", 3, 2, crate::recheck::MAX_ATTEMPTS);
    let standalone_families = vars.list("STANDALONE_FAMILIES");
    let subnets = vars.list("TASK_SUBNETS");
    let security_groups = vars.list("TASK_SECURITY_GROUPS");
    let assign_public_ip = vars.flag("TASK_ASSIGN_PUBLIC_IP", false);
    let threshold = vars.number_in("CRASH_LOOP_THRESHOLD", 3, 1, 100);
    let window = vars.number_in("CRASH_LOOP_WINDOW_MINUTES", 10, 1, 60);
    let max_grace = u32::try_from(MAX_DELAY_SECONDS).unwrap_or(900);
    let grace = vars.number_in("REPLACEMENT_GRACE_SECONDS", 60, 0, max_grace);
    let log_lines = vars.number_in("LOG_LINES", 20, 0, 100);
    let dry_run = vars.flag("DRY_RUN", false);
    if !standalone_families.is_empty() && subnets.is_empty() {
        vars.invalid(
            "TASK_SUBNETS",
            "must list the subnets for replacements when STANDALONE_FAMILIES is set",
        );
    }
    if let Some(bad) = standalone_families.iter().find(|f| !crate::arn::is_name(f)) {
        vars.invalid(
            "STANDALONE_FAMILIES",
            format!("{bad:?} is not a task definition family name"),
        );
    }
    Config {
        cluster,
        alerts_topic_arn,
        ledger_table,
        recheck_queue,
        policy: Policy {
            standalone_families,
            crash_loop_threshold: threshold,
            crash_loop_window: Duration::minutes(i64::from(window)),
            replacement_grace: Duration::seconds(i64::from(grace)),
            recheck_max_attempts: max_attempts,
        },
        network: NetworkSettings {
            subnets,
            security_groups,
            assign_public_ip,
        },
        log_lines: i32::try_from(log_lines).unwrap_or(20),
        dry_run,
    }
}
