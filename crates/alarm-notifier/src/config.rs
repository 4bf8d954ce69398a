// pure: reads settings through the injected lookup; no environment, no clock
//! The notifier's settings, read once at start-up, every problem named in one error.

use phoenix_core::Vars;

/// Longest DASHBOARD_URL accepted (a Slack button URL is capped at 3000 characters).
const URL_MAX: usize = 3000;

/// The notifier's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `SLACK_WEBHOOK_SECRET_ARN`: the Secrets Manager secret holding the webhook URL.
    pub slack_secret_arn: String,
    /// `ONCALL_TOPIC_ARN`: where the plain text goes (people's e-mail/SMS subscriptions).
    pub oncall_topic_arn: String,
    /// `LEDGER_TABLE`: the DynamoDB table that makes a delivery happen once across containers.
    pub ledger_table: String,
    /// `DASHBOARD_URL`: a button on every Slack message and a line in every on-call text.
    pub dashboard_url: Option<String>,
    /// `DEDUPE_WINDOW_SECONDS`: how long a delivery is remembered in the ledger (a repeat within
    /// it is not sent again; a retry after a partial failure redoes only what failed).
    pub dedupe_window: chrono::Duration,
    /// `DRY_RUN`: render and report, send nothing, write nothing.
    pub dry_run: bool,
}

/// `DEDUPE_WINDOW_SECONDS` default and bounds. The lower bound outlasts Lambda's two
/// asynchronous retries (1 and 2 minutes apart); the default matches the template's maximum
/// event age (1 hour), so any retry of a message still finds what was delivered.
pub const DEDUPE_WINDOW_DEFAULT: u32 = 3_600;
pub const DEDUPE_WINDOW_MIN: u32 = 300;
pub const DEDUPE_WINDOW_MAX: u32 = 86_400;

/// A DynamoDB table name: 3–255 of `A-Z a-z 0-9 _ - .`.
fn is_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>`.
fn is_secret_arn(value: &str) -> bool {
    let parts: Vec<&str> = value.splitn(7, ':').collect();
    matches!(
        parts.as_slice(),
        ["arn", partition, "secretsmanager", region, account, "secret", name]
            if partition.starts_with("aws") && !region.is_empty() && !account.is_empty() && !name.is_empty()
    )
}

fn is_https_url(url: &str) -> bool {
    url.strip_prefix("https://")
        .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
        && url.len() <= URL_MAX
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl Config {
    /// Reads every setting; problems are recorded in `vars`.
    pub fn read(vars: &mut Vars<'_>) -> Config {
        let slack_secret_arn = vars.required("SLACK_WEBHOOK_SECRET_ARN");
        if !slack_secret_arn.is_empty() && !is_secret_arn(&slack_secret_arn) {
            // The value is not repeated: the webhook URL itself, set here by mistake, is a
            // secret, and this error is logged.
            vars.invalid(
                "SLACK_WEBHOOK_SECRET_ARN",
                "must be the ARN of a Secrets Manager secret (arn:aws:secretsmanager:...) holding \
                 the webhook, not the webhook itself (the value is not shown: it may be a secret)",
            );
        }
        let oncall_topic_arn = vars.required_arn("ONCALL_TOPIC_ARN", "sns");
        let alerts_topic_arn = vars.optional("ALERTS_TOPIC_ARN");
        let ledger_table = vars.required("LEDGER_TABLE");
        let dashboard_url = vars.optional("DASHBOARD_URL");
        let window = vars.number_in(
            "DEDUPE_WINDOW_SECONDS",
            DEDUPE_WINDOW_DEFAULT,
            DEDUPE_WINDOW_MIN,
            DEDUPE_WINDOW_MAX,
        );
        let dry_run = vars.flag("DRY_RUN", false);
        if !oncall_topic_arn.is_empty()
            && alerts_topic_arn.as_deref() == Some(oncall_topic_arn.as_str())
        {
            vars.invalid(
                "ONCALL_TOPIC_ARN",
                "must not be the alerts topic (the notifier would read its own messages)",
            );
        }
        if !ledger_table.is_empty() && !is_table_name(&ledger_table) {
            vars.invalid(
                "LEDGER_TABLE",
                format!(
                    "must be a DynamoDB table name (3-255 of A-Z a-z 0-9 _ - .), got {ledger_table:?}"
                ),
            );
        }
        if let Some(url) = dashboard_url.as_deref().filter(|u| !is_https_url(u)) {
            vars.invalid(
                "DASHBOARD_URL",
                format!("must be an https:// URL without spaces, got {url:?}"),
            );
        }
        Config {
            slack_secret_arn,
            oncall_topic_arn,
            ledger_table,
            dashboard_url,
            dedupe_window: chrono::Duration::seconds(i64::from(window)),
            dry_run,
        }
    }
}
