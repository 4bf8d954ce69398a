//! Shared ground for every phoenix-ops function. No business rules live here.
//!
//! * [`config`]: settings read once from an injected lookup, one clear error per bad variable.
//! * [`aws`]: the SDK configuration (honours `AWS_ENDPOINT_URL` through the SDK's own support),
//!   retry and timeout settings, and the retryable/final classification of AWS errors.
//! * [`ecs`]: ECS facts read the same way by several functions (a deployment rolling out).
//! * [`notice`]: the one message type every function publishes to the `alerts` topic.
//! * [`outcome`]: the JSON every handler returns and logs once.
//! * [`lambda`]: the `Function` contract, the Lambda runtime adapter, JSON logs.
//! * [`metrics`]: CloudWatch embedded-metric-format lines.
//! * [`string_enum!`]: wire enums with an `Unknown(String)` arm (stop codes, alarm states, ...).

pub mod aws;
pub mod config;
pub mod console;
pub mod ecs;
pub mod lambda;
pub mod metrics;
pub mod notice;
pub mod outcome;
mod string_enum;
pub mod text;

pub use aws::{AwsFailure, RetryableError};
pub use config::{ConfigError, ConfigErrors, Vars};
pub use lambda::{Function, Invocation};
pub use notice::{Field, Link, Notice, NoticePublisher, Severity};
pub use outcome::{Action, ActionStatus, Outcome};
