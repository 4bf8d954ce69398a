//! Models of what AWS does over time that the emulator does not, for the whole-system scenarios
//! (`phoenix-ops scenarios`, `crates/cli/src/scenarios/`). Each model is small, named after the
//! behaviour it stands for, and cites the AWS documentation it follows; where AWS documents no
//! number, the guess is said next to it.
//!
//! * [`template`] — `infra/template.yaml` itself, evaluated like CloudFormation (parameters,
//!   conditions, `!If`/`!Ref`/`!Sub`…), and [`wiring`] — what it wires: each function's Lambda
//!   settings, environment and triggers, the people's subscriptions.
//! * [`cloudformation`] — a stack update that touches the service (and what it does to
//!   `desiredCount`), and [`quota`] — the account's Lambda concurrency quota at stack creation.
//! * [`ecs`] — the ECS service scheduler: replacements, images that do not exist, the start
//!   throttle, deployments and the circuit breaker, and the events ECS sends.
//! * [`alb`] — traffic, capacity, the ALB's RequestCount (one minute late) and CPU.
//! * [`alarms`] — CloudWatch: datapoints and the template's metric alarms.
//! * [`delivery`] — at-least-once delivery (duplicates, late copies, out of order);
//!   [`filter`] — EventBridge patterns and SNS filter policies.
//! * [`lambda`] — invocations under the function's timeout, asynchronous retries, the DLQ.
//! * [`people`] — who gets paged (the `oncall` subscriptions' filter policies).
//! * [`wire`] — the HTTP layer every actor talks through: a record of every call, and the two
//!   gap fills (DescribeServices from the ECS model; SQS delays in simulated time).
//! * [`resources`] — the template's queues and the ledger table, created for a scenario; queue
//!   reading with message attributes.
//! * [`rng`] — deterministic randomness.

pub mod alarms;
pub mod alb;
pub mod cloudformation;
pub mod delivery;
pub mod ecs;
pub mod filter;
pub mod lambda;
pub mod people;
pub mod quota;
pub mod resources;
pub mod rng;
pub mod template;
pub mod wire;
pub mod wiring;

/// Why a model could not do its part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error("template: {0}")]
    Template(String),
    #[error("emulator: {0}")]
    Emulator(String),
    #[error("scenario: {0}")]
    Scenario(String),
}

/// An SDK call to the emulator that failed, with the whole error chain.
pub(crate) fn sdk_fail<E: std::error::Error + 'static, R: std::fmt::Debug>(
    what: &str,
    e: aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> SimError {
    SimError::Emulator(format!(
        "{what}: {}",
        aws_smithy_types::error::display::DisplayErrorContext(e)
    ))
}
