//! Settings, read once at start-up from an injected lookup; every bad variable is named.

use chrono::Duration;
use phoenix_core::Vars;

use crate::rotation::SnapshotRetention;

/// Settings, read once at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// The DocumentDB cluster to snapshot.
    pub cluster: String,
    /// Where exports and checkpoints go.
    pub bucket: String,
    pub log_groups: Vec<String>,
    pub export_prefix: String,
    pub export_lag: Duration,
    pub retention: SnapshotRetention,
    /// Length of one schedule period (the slot of a scheduled event), hours.
    pub schedule_hours: u32,
    pub alerts_topic_arn: String,
    /// The ledger table (run lease, run records).
    pub ledger_table: String,
    pub dry_run: bool,
}

/// DocumentDB cluster identifiers: 1 to 63 letters, digits or hyphens, starting with a letter.
fn valid_cluster_id(id: &str) -> bool {
    (1..=63).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_alphabetic())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Reads every setting, recording each problem in `vars`.
pub fn read(vars: &mut Vars<'_>) -> Config {
    let cluster = vars.required("DOCDB_CLUSTER_ID");
    let bucket = vars.required("BACKUP_BUCKET");
    let log_groups = vars.list("LOG_GROUPS");
    let export_prefix = vars
        .optional("EXPORT_PREFIX")
        .map(|p| p.trim_matches('/').to_owned())
        .unwrap_or_else(|| "logs".to_owned());
    let lag = vars.number_in("EXPORT_LAG_HOURS", 12, 0, 72);
    let retention = vars.number_in("RETENTION_DAYS", 7, 1, 35);
    let schedule_hours = vars.number_in("SCHEDULE_HOURS", 24, 1, 24);
    let alerts_topic_arn = vars.required_arn("ALERTS_TOPIC_ARN", "sns");
    let ledger_table = vars.required("LEDGER_TABLE");
    let dry_run = vars.flag("DRY_RUN", false);
    if !cluster.is_empty() && !valid_cluster_id(&cluster) {
        vars.invalid(
            "DOCDB_CLUSTER_ID",
            format!("{cluster:?} is not a DocumentDB cluster identifier (1-63 letters, digits, hyphens; a letter first)"),
        );
    }
    if export_prefix.is_empty() {
        vars.invalid("EXPORT_PREFIX", "must not be empty or only slashes");
    }
    if 24 % schedule_hours != 0 {
        vars.invalid(
            "SCHEDULE_HOURS",
            format!("must divide 24 (1, 2, 3, 4, 6, 8, 12 or 24), got {schedule_hours}"),
        );
    }
    Config {
        cluster,
        bucket,
        log_groups,
        export_prefix,
        export_lag: Duration::hours(i64::from(lag)),
        retention: SnapshotRetention {
            retention: Duration::days(i64::from(retention)),
        },
        schedule_hours,
        alerts_topic_arn,
        ledger_table,
        dry_run,
    }
}

#[cfg(test)]
mod tests {
    use crate::Backup;
    use chrono::Duration;
    use phoenix_core::Vars;
    use phoenix_core::lambda::{config_vars, load_config, required_config_vars};

    #[test]
    fn configuration_names_every_bad_variable() {
        let env = [
            ("RETENTION_DAYS", "0"),
            ("SCHEDULE_HOURS", "5"),
            ("EXPORT_PREFIX", "//"),
            ("DOCDB_CLUSTER_ID", "1-bad_name"),
        ];
        let err = load_config::<Backup>(Vars::from_pairs(&env)).expect_err("bad");
        assert_eq!(
            err.vars(),
            [
                "BACKUP_BUCKET",
                "RETENTION_DAYS",
                "ALERTS_TOPIC_ARN",
                "LEDGER_TABLE",
                "DOCDB_CLUSTER_ID",
                "EXPORT_PREFIX",
                "SCHEDULE_HOURS"
            ]
        );
        assert_eq!(
            required_config_vars::<Backup>(),
            [
                "DOCDB_CLUSTER_ID",
                "BACKUP_BUCKET",
                "ALERTS_TOPIC_ARN",
                "LEDGER_TABLE"
            ]
        );
        assert_eq!(config_vars::<Backup>().len(), 10);
    }

    #[test]
    fn defaults_match_the_documentation() {
        let env = [
            ("DOCDB_CLUSTER_ID", "phoenix-docdb"),
            ("BACKUP_BUCKET", "phoenix-backups"),
            ("ALERTS_TOPIC_ARN", "arn:aws:sns:eu-west-1:1:alerts"),
            ("LEDGER_TABLE", "phoenix-ledger"),
        ];
        let config = load_config::<Backup>(Vars::from_pairs(&env)).expect("valid");
        assert_eq!(config.export_prefix, "logs");
        assert_eq!(config.export_lag, Duration::hours(12));
        assert_eq!(config.retention.retention, Duration::days(7));
        assert_eq!(config.schedule_hours, 24);
        assert_eq!(config.ledger_table, "phoenix-ledger");
        assert!(config.log_groups.is_empty() && !config.dry_run);
    }
}
