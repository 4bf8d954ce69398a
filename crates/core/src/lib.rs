//! Shared ground for every phoenix-ops function. No business rules live here.
//!
//! * [`config`]: settings read once from an injected lookup, one clear error per bad variable.
//! * [`aws`]: the SDK configuration (honours `AWS_ENDPOINT_URL` through the SDK's own support),
//!   retry and timeout settings, and the retryable/final classification of AWS errors.
//! * [`ecs`]: ECS facts read the same way by several functions (a deployment rolling out).
//! * [`notice`]: the one message type every function publishes to the `alerts` topic (pure data);
//!   [`publish`]: publishing Notices and people's messages to SNS.
//! * [`outcome`]: the JSON every handler returns and logs once.
//! * [`lambda`]: the `Function` contract and the Lambda runtime adapter (one Outcome line per
//!   invocation, panics reported as final failures); [`logging`]: JSON lines with the request id.
//! * [`metrics`]: CloudWatch embedded-metric-format lines.
//! * [`ledger`]: the DynamoDB table that makes an effect happen once across containers.
//! * [`http`]: the one HTTPS stack (the SDK's HTTP/1.1 client, the Slack webhook's connector).
//! * [`text`]: size limits, durations, redaction of secrets; [`console`]: links people may follow.
//! * [`string_enum!`]: wire enums with an `Unknown(String)` arm (stop codes, alarm states, ...).

pub mod aws;
pub mod config;
pub mod console;
pub mod ecs;
pub mod http;
pub mod lambda;
pub mod ledger;
pub mod logging;
pub mod metrics;
pub mod notice;
pub mod outcome;
pub mod publish;
mod string_enum;

/// For [`string_enum!`]: the serde its expansion uses, so a crate using the macro needs no
/// serde dependency of its own.
#[doc(hidden)]
pub use serde as __serde;
pub mod text;

pub use aws::{AwsFailure, RetryableError, SdkConfig};
pub use config::{ConfigError, ConfigErrors, Vars};
pub use lambda::{Function, Invocation};
pub use ledger::{Claim, Ledger};
pub use notice::{Field, Link, Notice, Severity};
pub use outcome::{Action, ActionStatus, Outcome};
pub use publish::NoticePublisher;
