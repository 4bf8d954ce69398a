//! The contract every function implements, and the adapter that runs it under Lambda.
//!
//! `main.rs` of each function is one line: `phoenix_core::lambda::run::<TheFunction>()`. The
//! adapter reads the configuration once (a bad variable is named in the init error), builds
//! the SDK configuration once, then for every event: builds an [`Invocation`] (payload, request
//! id, trace id, `now`, time left), calls the handler inside a span that carries the request id,
//! writes **exactly one Outcome line** (everything the handler saw, decided and did) and the
//! EMF metric lines, and returns the Outcome JSON, or the retryable error for Lambda to retry.
//!
//! The Outcome and metric lines are written by the adapter itself, not through the log level:
//! raising `LOG_LEVEL` never drops them. A handler that panics is reported as a final failure
//! (an `ERROR` line and an Outcome with `panicked`): retrying the same event would panic again.

use std::any::Any;
use std::future::Future;
use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::FutureExt;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::{Map, Value, json};
use tracing::Instrument;
use tracing::level_filters::LevelFilter;

use crate::aws::{RetryableError, SdkConfig, sdk_config_from_env};
use crate::config::{ConfigErrors, Vars};
use crate::logging;
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
    /// The X-Ray trace id, when tracing is on.
    pub trace_id: Option<String>,
    /// The wall-clock time of this invocation: the only clock the decision code sees.
    pub now: DateTime<Utc>,
    /// How long the handler may work before it must answer.
    pub time_left: Duration,
    /// The stack this function belongs to (`STACK_NAME`): a dimension of every metric.
    pub stack: String,
}

impl Invocation {
    pub fn new(payload: Value, now: DateTime<Utc>) -> Self {
        Self {
            payload,
            request_id: "local".to_owned(),
            trace_id: None,
            now,
            time_left: Duration::from_secs(60),
            stack: "local".to_owned(),
        }
    }

    pub fn time_left(mut self, time_left: Duration) -> Self {
        self.time_left = time_left;
        self
    }

    pub fn request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = request_id.into();
        self
    }

    pub fn stack(mut self, stack: impl Into<String>) -> Self {
        self.stack = stack.into();
        self
    }

    /// From a Lambda event: time left is the deadline minus `now`, minus a safety margin.
    pub fn from_lambda(event: LambdaEvent<Value>, now: DateTime<Utc>, stack: &str) -> Self {
        let deadline_ms = i64::try_from(event.context.deadline).unwrap_or(i64::MAX);
        let left_ms = deadline_ms.saturating_sub(now.timestamp_millis()).max(0);
        let left = Duration::from_millis(u64::try_from(left_ms).unwrap_or(0))
            .saturating_sub(DEADLINE_MARGIN);
        Self {
            payload: event.payload,
            request_id: event.context.request_id,
            trace_id: event.context.xray_trace_id,
            now,
            time_left: left,
            stack: stack.to_owned(),
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

/// Settings the adapter reads for every function, beside the function's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Common {
    /// `STACK_NAME`: the stack's name, the `Stack` dimension of every metric, so two stacks in
    /// one account never draw into the same lines.
    pub stack: String,
    /// `LOG_LEVEL` (default `info`): the function's own verbosity. The Outcome line and the
    /// metrics are written whatever it says.
    pub log_level: LevelFilter,
}

impl Common {
    pub fn read(vars: &mut Vars<'_>) -> Common {
        let stack = vars.required("STACK_NAME");
        let log_level = match vars.optional("LOG_LEVEL") {
            None => LevelFilter::INFO,
            Some(text) => logging::parse_level(&text).unwrap_or_else(|| {
                vars.invalid(
                    "LOG_LEVEL",
                    format!("has an invalid value {text:?}: use error, warn, info, debug or trace"),
                );
                LevelFilter::INFO
            }),
        };
        Common { stack, log_level }
    }
}

/// The variables [`Common`] reads (every function's template entry must set them).
pub fn common_config_vars() -> Vec<&'static str> {
    let mut vars = Vars::new(|_| None);
    let _ = Common::read(&mut vars);
    vars.names_read().to_vec()
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

/// The event id of a payload, when one can be seen without parsing the event (EventBridge `id`,
/// SNS `MessageId`, SQS `messageId`): for the lines of an invocation whose handler panicked.
fn event_id_hint(payload: &Value) -> Option<&str> {
    payload
        .get("id")
        .or_else(|| payload.pointer("/Records/0/Sns/MessageId"))
        .or_else(|| payload.pointer("/Records/0/messageId"))
        .and_then(Value::as_str)
}

/// What a panic said.
fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// One log line written by the adapter itself (not subject to the log level).
fn adapter_line(
    level: &str,
    message: &str,
    function: &str,
    invocation: (&str, Option<&str>, &str),
    extra: Map<String, Value>,
) -> String {
    let (request_id, trace_id, stack) = invocation;
    let mut line = Map::new();
    line.insert(
        "timestamp".into(),
        Value::from(Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)),
    );
    line.insert("level".into(), Value::from(level));
    line.insert("message".into(), Value::from(message));
    line.insert("function".into(), Value::from(function));
    line.insert("stack".into(), Value::from(stack));
    line.insert("requestId".into(), Value::from(request_id));
    if let Some(trace_id) = trace_id {
        line.insert("xrayTraceId".into(), Value::from(trace_id));
    }
    line.extend(extra);
    Value::Object(line).to_string()
}

/// Handles one invocation and reports it: exactly one Outcome line, then the EMF metric lines,
/// all on `out`. A panic in the handler becomes a final failure (an Outcome with `panicked`).
pub async fn handle_and_report<F: Function>(
    function: &F,
    invocation: Invocation,
    out: &mut dyn Write,
) -> Result<Outcome, RetryableError> {
    let now = invocation.now;
    let request_id = invocation.request_id.clone();
    let trace_id = invocation.trace_id.clone();
    let stack = invocation.stack.clone();
    let event_id = event_id_hint(&invocation.payload).map(str::to_owned);
    let span = tracing::info_span!(
        "invocation",
        function = F::NAME,
        requestId = %request_id,
        xrayTraceId = tracing::field::Empty,
    );
    if let Some(trace_id) = &trace_id {
        span.record("xrayTraceId", trace_id.as_str());
    }
    let ids = (request_id.as_str(), trace_id.as_deref(), stack.as_str());
    // boxed: the handler's future type is deep, and the runtime's layers nest it further
    let handling: std::pin::Pin<
        Box<dyn Future<Output = Result<Outcome, RetryableError>> + Send + '_>,
    > = Box::pin(function.handle(invocation).instrument(span));
    let result = AssertUnwindSafe(handling).catch_unwind().await;
    let (result, line) = match result {
        Ok(Ok(outcome)) => {
            let level = if outcome.has_failures() || outcome.rejected.is_some() {
                "WARN"
            } else {
                "INFO"
            };
            let mut extra = Map::new();
            extra.insert("outcome".into(), outcome.to_json());
            let line = adapter_line(level, &outcome.headline(), F::NAME, ids, extra);
            (Ok(outcome), line)
        }
        Ok(Err(error)) => {
            let mut extra = Map::new();
            extra.insert("error".into(), Value::from(error.0.as_str()));
            extra.insert("eventId".into(), json!(event_id));
            let line = adapter_line(
                "ERROR",
                "retryable failure: the event will be retried",
                F::NAME,
                ids,
                extra,
            );
            (Err(error), line)
        }
        Err(panic) => {
            let message = panic_message(panic.as_ref());
            let outcome = Outcome::panicked(F::NAME, event_id.as_deref(), &message);
            let mut extra = Map::new();
            extra.insert("outcome".into(), outcome.to_json());
            let line = adapter_line(
                "ERROR",
                "the handler panicked: a defect, reported as a final failure (a retry would panic again)",
                F::NAME,
                ids,
                extra,
            );
            (Ok(outcome), line)
        }
    };
    let _ = writeln!(out, "{line}");
    if let Ok(outcome) = &result {
        for metric in &outcome.metrics {
            let _ = writeln!(
                out,
                "{}",
                emf_line(F::NAME, &stack, metric, now, &request_id)
            );
        }
    }
    result
}

/// JSON logs, one object per line, at `level`, to `writer` (stdout in Lambda).
pub fn init_logging(level: LevelFilter, writer: logging::MakeWriter) {
    logging::init(level, writer);
}

fn stdout_writer() -> logging::MakeWriter {
    Arc::new(|| Box::new(std::io::stdout()))
}

/// Runs a function under the Lambda runtime. Configuration errors stop the start with a message
/// that names every bad variable.
pub async fn run<F: Function>() -> Result<(), lambda_runtime::Error> {
    let mut common_vars = Vars::from_process_env();
    let common = Common::read(&mut common_vars);
    init_logging(common.log_level, stdout_writer());
    let common = common_vars.finish(common);
    let config = load_config::<F>(Vars::from_process_env());
    let sdk = sdk_config_from_env(|name| std::env::var(name).ok());
    let (common, config, sdk) = match (common, config, sdk) {
        (Ok(common), Ok(config), Ok(sdk)) => (common, config, sdk),
        (common, config, sdk) => {
            let mut problems = Vec::new();
            if let Err(e) = common {
                problems.push(e.to_string());
            }
            if let Err(e) = config {
                problems.push(e.to_string());
            }
            if let Err(e) = sdk {
                problems.push(e);
            }
            let error = problems.join("; ");
            tracing::error!(function = F::NAME, error = %error, "cannot start");
            return Err(error.into());
        }
    };
    let function = Arc::new(F::from_sdk(config, &sdk));
    let stack: Arc<str> = Arc::from(common.stack.as_str());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let function = Arc::clone(&function);
        let stack = Arc::clone(&stack);
        async move {
            let invocation = Invocation::from_lambda(event, Utc::now(), &stack);
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

    #[test]
    fn time_left_is_the_deadline_minus_now_and_a_margin() {
        let now = DateTime::from_timestamp_millis(1_000_000).expect("valid");
        let mut context = Context::default();
        context.deadline = 1_010_000;
        context.request_id = "r1".into();
        let inv = Invocation::from_lambda(
            LambdaEvent::new(json!({"a": 1}), context.clone()),
            now,
            "prod",
        );
        assert_eq!(
            inv.time_left,
            Duration::from_millis(10_000) - DEADLINE_MARGIN
        );
        assert_eq!(inv.request_id, "r1");
        context.deadline = 900_000;
        assert_eq!(inv.stack, "prod");
        let late = Invocation::from_lambda(LambdaEvent::new(json!({}), context), now, "prod");
        assert_eq!(late.time_left, Duration::ZERO);
    }
}

#[cfg(test)]
mod adapter_tests {
    use super::*;
    use crate::logging::Captured;
    use crate::metrics::Metric;

    /// A function whose behaviour the event chooses: `ok`, `retry` or `panic`.
    struct Probe;

    impl Function for Probe {
        const NAME: &'static str = "probe";
        type Config = ();
        fn read_config(_: &mut Vars<'_>) {}
        fn from_sdk(_: (), _: &SdkConfig) -> Self {
            Probe
        }
        async fn handle(&self, invocation: Invocation) -> Result<Outcome, RetryableError> {
            tracing::warn!("inside the handler");
            match invocation.payload["do"].as_str() {
                Some("retry") => Err(RetryableError("ecs:DescribeTasks throttled".into())),
                Some("panic") => panic!("index out of bounds"),
                _ => {
                    let mut outcome = Outcome::handled(Self::NAME, Some("e-1"), false)
                        .decided("hold", "nothing to do");
                    outcome.metrics.push(Metric::count("Evaluations", 1.0));
                    Ok(outcome)
                }
            }
        }
    }

    async fn run_probe(what: &str) -> (Result<Outcome, RetryableError>, Vec<Value>, Vec<Value>) {
        let logs = Captured::default();
        let mut out = Captured::default();
        let invocation = Invocation::new(json!({"do": what, "id": "evt-9"}), Utc::now())
            .request_id("req-42")
            .stack("phoenix-staging");
        let subscriber = logging::subscriber(LevelFilter::INFO, logs.make_writer());
        let result = {
            let _guard = tracing::subscriber::set_default(subscriber);
            handle_and_report(&Probe, invocation, &mut out).await
        };
        let parse = |lines: Vec<String>| -> Vec<Value> {
            lines
                .iter()
                .map(|l| serde_json::from_str(l).expect("every line is JSON"))
                .collect()
        };
        (result, parse(logs.lines()), parse(out.lines()))
    }

    #[tokio::test]
    async fn one_outcome_line_then_metrics_every_line_with_the_request_id() {
        let (result, logs, out) = run_probe("ok").await;
        assert!(result.is_ok());
        assert_eq!(logs.len(), 1, "{logs:?}");
        assert_eq!(logs[0]["requestId"], "req-42");
        assert_eq!(out.len(), 2, "one Outcome line and one metric: {out:?}");
        assert_eq!(out[0]["message"], "hold: nothing to do");
        assert_eq!(out[0]["requestId"], "req-42");
        assert_eq!(out[0]["stack"], "phoenix-staging");
        assert_eq!(out[0]["outcome"]["decision"], "hold");
        assert_eq!(out[1]["requestId"], "req-42");
        assert_eq!(out[1]["Stack"], "phoenix-staging");
    }

    #[tokio::test]
    async fn a_retryable_failure_is_one_error_line_and_an_error_for_lambda() {
        let (result, _, out) = run_probe("retry").await;
        assert_eq!(
            result.expect_err("retried").0,
            "ecs:DescribeTasks throttled"
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0]["level"], "ERROR");
        assert_eq!(out[0]["error"], "ecs:DescribeTasks throttled");
        assert_eq!(out[0]["eventId"], "evt-9");
    }

    #[tokio::test]
    async fn a_panic_is_a_final_failure_not_a_retry() {
        let (result, _, out) = run_probe("panic").await;
        let outcome = result.expect("a panic is not retried");
        assert_eq!(outcome.panicked.as_deref(), Some("index out of bounds"));
        assert_eq!(outcome.event_id.as_deref(), Some("evt-9"));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0]["level"], "ERROR");
        assert_eq!(out[0]["outcome"]["panicked"], "index out of bounds");
    }

    #[test]
    fn common_settings_name_their_variables() {
        assert_eq!(common_config_vars(), ["STACK_NAME", "LOG_LEVEL"]);
        let env = [("STACK_NAME", "phoenix-ops"), ("LOG_LEVEL", "loud")];
        let mut vars = Vars::from_pairs(&env);
        let common = Common::read(&mut vars);
        assert_eq!(common.stack, "phoenix-ops");
        let error = vars.finish(common).expect_err("bad level");
        assert_eq!(error.vars(), ["LOG_LEVEL"]);
    }
}
