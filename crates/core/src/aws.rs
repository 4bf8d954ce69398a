//! The AWS SDK configuration every function uses, and what an AWS error means for the caller.
//!
//! Configuration: [`sdk_config_from_env`] builds it from the variables Lambda sets (region,
//! the execution role's credentials) without `aws-config`'s provider chains, which a function
//! never needs and which cost a third of a megabyte of binary (README › Performance).
//! `AWS_ENDPOINT_URL` is honoured here, which is how the same binary talks to the local
//! emulator or to real AWS. People's tools (the CLI) load profiles with `aws-config` instead.
//!
//! Errors: a handler returns an error to Lambda only when a retry can help (throttling, 5xx,
//! timeouts, connection failures). [`AwsFailure`] records which call on which resource failed,
//! with the service's own code, and whether it is retryable; [`is_retryable`] is the one rule.

use std::fmt;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_async::rt::sleep::{SharedAsyncSleep, TokioSleep};
use aws_smithy_async::time::{SharedTimeSource, SystemTimeSource};
use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
pub use aws_types::SdkConfig;
use aws_types::region::Region;
use serde::Serialize;

/// Standard retry mode, 3 attempts, short backoff: a Lambda has little time, and a failure that
/// outlives three attempts is better retried by Lambda/EventBridge than waited out here.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(100))
        .with_max_backoff(Duration::from_secs(2))
}

/// Timeouts that fail fast enough to leave time for reporting within a 30 s Lambda.
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(8))
        .operation_timeout(Duration::from_secs(20))
        .build()
}

/// The SDK configuration from the environment a Lambda function runs in: `AWS_REGION` (or
/// `AWS_DEFAULT_REGION`), the credentials Lambda puts in `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, and `AWS_ENDPOINT_URL` when set; with
/// phoenix-ops' retry and timeout settings. The error names every missing variable.
pub fn sdk_config_from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<SdkConfig, String> {
    let get = |name: &str| {
        lookup(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let region = get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION"));
    let key = get("AWS_ACCESS_KEY_ID");
    let secret = get("AWS_SECRET_ACCESS_KEY");
    let mut missing = Vec::new();
    if region.is_none() {
        missing.push("AWS_REGION");
    }
    if key.is_none() {
        missing.push("AWS_ACCESS_KEY_ID");
    }
    if secret.is_none() {
        missing.push("AWS_SECRET_ACCESS_KEY");
    }
    let (Some(region), Some(key), Some(secret)) = (region, key, secret) else {
        return Err(format!(
            "the AWS environment is incomplete: {} not set (Lambda sets them; locally, use \
             phoenix-ops, which reads your AWS profile)",
            missing.join(", ")
        ));
    };
    let credentials = Credentials::new(key, secret, get("AWS_SESSION_TOKEN"), None, "environment");
    let mut builder = base_config()
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials));
    if let Some(endpoint) = get("AWS_ENDPOINT_URL") {
        builder = builder.endpoint_url(endpoint);
    }
    Ok(builder.build())
}

/// Everything of the SDK configuration that is not about who and where: behaviour version,
/// the HTTPS client, retries, timeouts, sleep and clock. Region, credentials and endpoint are
/// added by the caller (the Lambda environment, a test harness, a person's profile).
pub fn base_config() -> aws_types::sdk_config::Builder {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(https_client())
        .retry_config(retry_config())
        .timeout_config(timeout_config())
        .sleep_impl(SharedAsyncSleep::new(TokioSleep::new()))
        .time_source(SharedTimeSource::new(SystemTimeSource::new()))
}

/// The SDK's HTTPS client: phoenix-core's HTTP/1.1 client over rustls on *ring*
/// ([`crate::http`]).
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    crate::http::sdk_http_client()
}

/// How an SDK call failed, before any service code is considered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The request could not be built: a bug or bad input on our side.
    Construction,
    /// No response in time.
    Timeout,
    /// The request never got a response (connection refused, DNS, TLS...).
    Dispatch,
    /// A response arrived but could not be understood.
    Response,
    /// The service answered with an error.
    Service,
    /// The service accepted the call but had no capacity for it right now (ECS RunTask
    /// `failures` such as `RESOURCE:MEMORY` or `AGENT`): a later attempt can succeed.
    Capacity,
}

/// Service error codes that mean "slow down" or "try again": retrying helps.
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "Throttled",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
    "PriorRequestNotComplete",
    "ProvisionedThroughputExceededException",
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ServerException",
];

/// The one rule: is this failure worth a retry?
pub fn is_retryable(kind: FailureKind, code: Option<&str>, status: Option<u16>) -> bool {
    let transient_status = matches!(status, Some(429) | Some(500..=599));
    match kind {
        FailureKind::Construction => false,
        FailureKind::Timeout | FailureKind::Dispatch | FailureKind::Capacity => true,
        FailureKind::Response => transient_status,
        FailureKind::Service => {
            code.is_some_and(|c| TRANSIENT_CODES.contains(&c)) || transient_status
        }
    }
}

/// One failed AWS call, with enough context for a human to act on it. Built only by
/// [`AwsFailure::new`] or [`AwsFailure::from_sdk`], so `retryable` always follows the one rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct AwsFailure {
    /// `service:Operation`, e.g. `ecs:UpdateService`.
    pub call: String,
    /// The resource the call was about.
    pub resource: String,
    pub kind: FailureKind,
    /// The service's error code, when it sent one.
    pub code: Option<String>,
    pub message: String,
    pub status: Option<u16>,
    pub retryable: bool,
}

impl AwsFailure {
    /// A failure described by hand (a response we could not use, a failure listed inside a
    /// successful answer); whether it is retryable follows [`is_retryable`].
    pub fn new(
        call: &str,
        resource: impl Into<String>,
        kind: FailureKind,
        code: Option<&str>,
        message: impl Into<String>,
        status: Option<u16>,
    ) -> Self {
        let code = code.map(str::to_owned);
        Self {
            call: call.to_owned(),
            resource: resource.into(),
            kind,
            retryable: is_retryable(kind, code.as_deref(), status),
            code,
            message: message.into(),
            status,
        }
    }

    /// Classifies an SDK error. `call` is `service:Operation`; `resource` names what it was about.
    pub fn from_sdk<E>(
        call: &str,
        resource: impl Into<String>,
        err: &SdkError<E, HttpResponse>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let status = err.raw_response().map(|r| r.status().as_u16());
        let (kind, code, message) = match err {
            SdkError::ConstructionFailure(_) => (FailureKind::Construction, None, None),
            SdkError::TimeoutError(_) => (FailureKind::Timeout, None, None),
            SdkError::DispatchFailure(d) if d.is_user() => (FailureKind::Construction, None, None),
            SdkError::DispatchFailure(_) => (FailureKind::Dispatch, None, None),
            SdkError::ResponseError(_) => (FailureKind::Response, None, None),
            SdkError::ServiceError(service) => {
                let e = service.err();
                (
                    FailureKind::Service,
                    e.code().map(str::to_owned),
                    e.message().map(str::to_owned),
                )
            }
            _ => (FailureKind::Response, None, None),
        };
        let message = message.unwrap_or_else(|| DisplayErrorContext(err).to_string());
        Self::new(call, resource, kind, code.as_deref(), message, status)
    }

    /// True when the service answered with this error code.
    pub fn is_code(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

impl fmt::Display for AwsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} on {} failed: ", self.call, self.resource)?;
        if let Some(code) = &self.code {
            write!(f, "{code}: ")?;
        }
        f.write_str(&self.message)?;
        match self.status {
            Some(status) => write!(f, " (HTTP {status}, ")?,
            None => f.write_str(" (")?,
        }
        f.write_str(if self.retryable {
            "retryable)"
        } else {
            "final)"
        })
    }
}

impl std::error::Error for AwsFailure {}

/// The only error a handler returns: something went wrong that a retry can fix. Lambda,
/// EventBridge and SNS then retry, and finally park the event in the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RetryableError(pub String);

impl From<AwsFailure> for RetryableError {
    fn from(failure: AwsFailure) -> Self {
        Self(failure.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FailureKind::*;

    #[test]
    fn the_lambda_environment_makes_a_config_and_gaps_are_named() {
        let env = [
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ];
        let lookup = |name: &str| {
            env.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        let config = sdk_config_from_env(lookup).expect("complete");
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:5000"));
        assert!(config.credentials_provider().is_some());
        let error = sdk_config_from_env(|name: &str| {
            (name == "AWS_DEFAULT_REGION").then(|| "eu-west-1".to_owned())
        })
        .expect_err("no credentials");
        assert!(
            error.contains("AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY not set"),
            "{error}"
        );
    }

    #[test]
    fn retry_only_where_a_retry_can_help() {
        let cases: &[(FailureKind, Option<&str>, Option<u16>, bool)] = &[
            (Service, Some("ThrottlingException"), Some(400), true),
            (Service, Some("Throttling"), Some(400), true),
            // SNS's own name for it
            (Service, Some("Throttled"), Some(400), true),
            (Service, Some("ServerException"), Some(500), true),
            (Service, Some("SomethingNew"), Some(503), true),
            (Service, Some("TooManyRequestsException"), Some(429), true),
            (Service, Some("AccessDeniedException"), Some(400), false),
            (Service, Some("ClusterNotFoundException"), Some(400), false),
            (Service, Some("InvalidParameterException"), Some(400), false),
            // One active CloudWatch Logs export per account: the backup waits for the next run.
            (Service, Some("LimitExceededException"), Some(400), false),
            (Service, None, Some(404), false),
            (Response, None, Some(404), false),
            (Response, None, Some(502), true),
            (Timeout, None, None, true),
            (Dispatch, None, None, true),
            (Construction, None, None, false),
            (Capacity, Some("RESOURCE:MEMORY"), None, true),
        ];
        for &(kind, code, status, want) in cases {
            assert_eq!(
                is_retryable(kind, code, status),
                want,
                "{kind:?} {code:?} {status:?}"
            );
        }
    }

    #[test]
    fn a_failure_reads_as_call_resource_code_message() {
        let failure = AwsFailure::new(
            "ecs:UpdateService",
            "phoenix-service",
            Service,
            Some("ThrottlingException"),
            "Rate exceeded",
            Some(400),
        );
        assert!(failure.retryable);
        assert_eq!(
            failure.to_string(),
            "ecs:UpdateService on phoenix-service failed: ThrottlingException: Rate exceeded (HTTP 400, retryable)"
        );
        let retry = RetryableError::from(failure);
        assert!(
            retry
                .to_string()
                .starts_with("ecs:UpdateService on phoenix-service failed: Throttling")
        );
    }
}
