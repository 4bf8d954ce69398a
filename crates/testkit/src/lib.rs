//! Dev-only harness for phoenix-ops: event fixtures, the local AWS emulator (moto server), the
//! Phoenix world seeded in it, and a local HTTP server standing in for Slack.
//!
//! * [`emulator`]: moto, shared per process; the SDK configuration whose HTTP wrapper adds the
//!   account header, records calls ([`calls`]), translates CloudWatch's RPC-v2 CBOR to moto's
//!   JSON 1.0 ([`cloudwatch_cbor`], test-only) and fills ECS gaps; [`proxy`]: the CloudWatch
//!   translation and the call record for processes that use `AWS_ENDPOINT_URL`.
//! * [`world`]: the Phoenix world (network and ALB through [`query`], ECS, DocumentDB, logs,
//!   bucket, topics with SQS taps, secret, the `phoenix-ledger` table).
//! * [`tidy`]: the purity check (`// pure: <why>` as a module's first line).
//!
//! Used by the end-to-end tests (`tests/`), the benchmarks and `phoenix-ops sandbox`. Never
//! deployed.

pub mod arbitrary;
pub mod calls;
pub mod cloudwatch_cbor;
pub mod docdb_clock;
pub mod emulator;
pub mod fixtures;
pub mod fuzz;
pub mod mutate;
pub mod proxy;
pub mod query;
pub mod runtime_api;
pub mod sim;
pub mod slack_sink;
pub mod tidy;
pub mod world;

#[cfg(test)]
mod tests;

pub use calls::{Call, CallLog, Calls, Mark};
pub use emulator::{Emulator, new_account};
pub use fixtures::fixture;
pub use proxy::EmulatorProxy;
pub use slack_sink::{Reply, SlackSink};
pub use world::{World, WorldSpec};

/// Why the harness could not do its part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HarnessError {
    #[error("harness set-up: {0}")]
    Setup(String),
    #[error("seeding the emulator: {0}")]
    Seed(String),
    #[error("fixture: {0}")]
    Fixture(String),
}
