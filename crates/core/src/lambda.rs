//! The contract every function implements, and the adapter that runs it under Lambda.
//!
//! `main.rs` of each function is one line: `phoenix_core::lambda::run::<TheFunction>()`. The
//! adapter reads the configuration once (a bad variable is named in the init error), builds
//! the SDK configuration once, then for every event: builds an [`Invocation`] (payload, request
//! id, `now`, time left), calls the handler, logs the Outcome once, writes its metrics as EMF
//! lines, and returns the Outcome JSON, or the retryable error for Lambda to retry.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use chrono::{DateTime, Utc};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;
use tracing_subscriber::filter::LevelFilter;

use crate::aws::{RetryableError, load_sdk_config};
use crate::config::{ConfigErrors, Vars};
use crate::metrics::emf_line;
use crate::outcome::Outcome;

/// Time kept back from the Lambda deadline for logging and returning.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(1_500);

/// One event to handle.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The event as received (envelopes are parsed strictly inside the handler).
    pub payload: Value,
    /// Lambda's request id (or a local one).
    pub request_id: String,
    /// The wall-clock time of this invocation: the only clock the decision code sees.
    pub now: DateTime<Utc>,
    /// How long the handler may work before it must answer.
    pub time_left: Duration,
}

impl Invocation {
    pub fn new(payload: Value, now: DateTime<Utc>) -> Self {
        Self {
            payload,
            request_id: "local".to_owned(),
            now,
            time_left: Duration::from_secs(60),
        }
    }

    pub fn time_left(mut self, time_left: Duration) -> Self {
        self.time_left = time_left;
        self
    }

    /// From a Lambda event: time left is the deadline minus `now`, minus a safety margin.
    pub fn from_lambda(event: LambdaEvent<Value>, now: DateTime<Utc>) -> Self {
        let deadline_ms = i64::try_from(event.context.deadline).unwrap_or(i64::MAX);
        let left_ms = deadline_ms.saturating_sub(now.timestamp_millis()).max(0);
        let left = Duration::from_millis(u64::try_from(left_ms).unwrap_or(0))
            .saturating_sub(DEADLINE_MARGIN);
        Self {
            payload: event.payload,
            request_id: event.context.request_id,
            now,
            time_left: left,
        }
    }
}

/// A phoenix-ops Lambda function.
pub trait Function: Sized + Send + Sync + 'static {
    /// The function's name (crate, binary and Lambda logical name).
    const NAME: &'static str;
    type Config: Send + Sync + 'static;

    /// Reads every setting; problems are recorded in `vars`, defaults returned meanwhile.
    fn read_config(vars: &mut Vars<'_>) -> Self::Config;

    /// Builds the function (its SDK clients) from the shared SDK configuration.
    fn from_sdk(config: Self::Config, sdk: &SdkConfig) -> Self;

    /// Handles one event. Errors only when a retry can help.
    fn handle(
        &self,
        invocation: Invocation,
    ) -> impl Future<Output = Result<Outcome, RetryableError>> + Send;
}

/// Reads a function's configuration, with every problem in one error.
pub fn load_config<F: Function>(mut vars: Vars<'_>) -> Result<F::Config, ConfigErrors> {
    let config = F::read_config(&mut vars);
    vars.finish(config)
}

/// The names of every environment variable a function reads (for the template wiring test).
pub fn config_vars<F: Function>() -> Vec<&'static str> {
    let mut vars = Vars::new(|_| None);
    let _ = F::read_config(&mut vars);
    vars.names_read().to_vec()
}

/// The names of the variables a function cannot start without.
pub fn required_config_vars<F: Function>() -> Vec<String> {
    match load_config::<F>(Vars::new(|_| None)) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.0.into_iter().map(|e| e.var).collect(),
    }
}

impl From<RetryableError> for Diagnostic {
    fn from(error: RetryableError) -> Self {
        Diagnostic {
            error_type: "Retryable".to_owned(),
            error_message: error.0,
        }
    }
}

/// Handles one invocation and reports it: one decision log line, EMF metrics on `metrics_out`.
pub async fn handle_and_report<F: Function>(
    function: &F,
    invocation: Invocation,
    metrics_out: &mut dyn std::io::Write,
) -> Result<Outcome, RetryableError> {
    let now = invocation.now;
    match function.handle(invocation).await {
        Ok(outcome) => {
            outcome.log();
            for metric in &outcome.metrics {
                let _ = writeln!(metrics_out, "{}", emf_line(F::NAME, metric, now));
            }
            Ok(outcome)
        }
        Err(error) => {
            tracing::error!(function = F::NAME, error = %error.0, "retryable failure: the event will be retried");
            Err(error)
        }
    }
}

/// JSON logs, one object per line, at the level Lambda's advanced logging controls set
/// (`AWS_LAMBDA_LOG_LEVEL`), else `RUST_LOG` as a plain level, else `info`.
pub fn init_logging(level: Option<&str>, writer: fn() -> Box<dyn std::io::Write>) {
    let level = level
        .and_then(|l| l.trim().parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_max_level(level)
        .with_writer(writer)
        .try_init();
}

/// Runs a function under the Lambda runtime. Configuration errors stop the start with a message
/// that names every bad variable.
pub async fn run<F: Function>() -> Result<(), lambda_runtime::Error> {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok();
    init_logging(level.as_deref(), || Box::new(std::io::stdout()));
    let config = match load_config::<F>(Vars::from_process_env()) {
        Ok(config) => config,
        Err(errors) => {
            tracing::error!(function = F::NAME, error = %errors, "cannot start");
            return Err(errors.into());
        }
    };
    let sdk = load_sdk_config().await;
    let function = Arc::new(F::from_sdk(config, &sdk));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let function = Arc::clone(&function);
        async move {
            let invocation = Invocation::from_lambda(event, Utc::now());
            let mut stdout = std::io::stdout();
            handle_and_report(function.as_ref(), invocation, &mut stdout)
                .await
                .map(|outcome| outcome.to_json())
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_runtime::Context;
    use serde_json::json;

    #[test]
    fn time_left_is_the_deadline_minus_now_and_a_margin() {
        let now = DateTime::from_timestamp_millis(1_000_000).expect("valid");
        let mut context = Context::default();
        context.deadline = 1_010_000;
        context.request_id = "r1".into();
        let inv = Invocation::from_lambda(LambdaEvent::new(json!({"a": 1}), context.clone()), now);
        assert_eq!(
            inv.time_left,
            Duration::from_millis(10_000) - DEADLINE_MARGIN
        );
        assert_eq!(inv.request_id, "r1");
        context.deadline = 900_000;
        let late = Invocation::from_lambda(LambdaEvent::new(json!({}), context), now);
        assert_eq!(late.time_left, Duration::ZERO);
    }
}
