//! `phoenix-ops invoke`: one event through one handler, in-process, with config from the
//! environment. Prints the Outcome JSON on stdout; logs and EMF metrics go to stderr.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use phoenix_core::lambda::{handle_and_report, init_logging, load_config};
use phoenix_core::{Function, Invocation, SdkConfig, Vars};
use serde_json::Value;
use tracing::level_filters::LevelFilter;

use crate::FunctionName;

/// Reads and parses an event file; the error is one line naming the file.
pub fn read_event(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read event file {}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("event file {} is not JSON: {e}", path.display()))
}

/// Parses `--now`.
pub fn parse_now(now: Option<&str>) -> Result<DateTime<Utc>, String> {
    match now {
        None => Ok(Utc::now()),
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| format!("--now {text:?} is not an RFC 3339 time: {e}")),
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("phoenix-ops: {message}");
    ExitCode::from(2)
}

pub async fn run(
    function: FunctionName,
    event: &Path,
    dry_run: bool,
    now: Option<&str>,
    verbose: bool,
) -> ExitCode {
    init_logging(
        if verbose {
            LevelFilter::INFO
        } else {
            LevelFilter::WARN
        },
        std::sync::Arc::new(|| Box::new(std::io::stderr())),
    );
    let payload = match read_event(event) {
        Ok(payload) => payload,
        Err(message) => return usage_error(&message),
    };
    let now = match parse_now(now) {
        Ok(now) => now,
        Err(message) => return usage_error(&message),
    };
    let stack = std::env::var("STACK_NAME").unwrap_or_else(|_| "local".to_owned());
    // a request id of its own, as Lambda gives each invocation (the ledger tells invocations apart
    // by it)
    let request_id = format!("local-{}-{}", std::process::id(), now.timestamp_millis());
    let invocation = Invocation::new(payload, now)
        .stack(stack)
        .request_id(request_id);
    match function {
        FunctionName::TaskRecovery => {
            invoke::<task_recovery::TaskRecovery>(invocation, dry_run).await
        }
        FunctionName::RequestScaler => {
            invoke::<request_scaler::RequestScaler>(invocation, dry_run).await
        }
        FunctionName::AlarmNotifier => {
            invoke::<alarm_notifier::AlarmNotifier>(invocation, dry_run).await
        }
        FunctionName::Backup => invoke::<backup::Backup>(invocation, dry_run).await,
        FunctionName::DailyDigest => invoke::<daily_digest::DailyDigest>(invocation, dry_run).await,
    }
}

/// The SDK configuration of a person at a terminal: `aws-config`'s usual chains (profiles, SSO,
/// `AWS_ENDPOINT_URL`), with phoenix-ops' HTTPS client, retries and timeouts. Functions in Lambda
/// build theirs from the Lambda environment instead (`phoenix_core::aws::sdk_config_from_env`).
pub async fn people_sdk_config() -> SdkConfig {
    use phoenix_core::aws::{https_client, retry_config, timeout_config};
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client())
        .retry_config(retry_config())
        .timeout_config(timeout_config())
        .load()
        .await
}

async fn invoke<F: Function>(invocation: Invocation, dry_run: bool) -> ExitCode {
    let vars = Vars::new(move |name| {
        if name == "DRY_RUN" && dry_run {
            Some("true".to_owned())
        } else {
            std::env::var(name).ok()
        }
    });
    let config = match load_config::<F>(vars) {
        Ok(config) => config,
        Err(errors) => return usage_error(&format!("{}: {errors}", F::NAME)),
    };
    let sdk = people_sdk_config().await;
    let function = F::from_sdk(config, &sdk);
    let mut stderr = std::io::stderr();
    match handle_and_report(&function, invocation, &mut stderr).await {
        Ok(outcome) => {
            // a closed pipe (`| head`) is not an error of the invocation
            let _ = writeln!(
                std::io::stdout(),
                "{}",
                serde_json::to_string_pretty(&outcome).unwrap_or_default()
            );
            match &outcome.rejected {
                Some(why) => usage_error(&format!("{} rejected the event: {why}", F::NAME)),
                None => ExitCode::SUCCESS,
            }
        }
        Err(error) => {
            eprintln!("phoenix-ops: {} failed (retryable): {error}", F::NAME);
            ExitCode::from(1)
        }
    }
}
