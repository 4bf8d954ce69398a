//! Dev-only harness for phoenix-ops: event fixtures, the local AWS emulator (moto server), the
//! Phoenix world seeded in it, and a local HTTP server standing in for Slack.
//!
//! Used by the end-to-end tests (`tests/`) and by `phoenix-ops sandbox`. Never deployed.

pub mod arbitrary;
pub mod docdb_clock;
pub mod emulator;
pub mod fixtures;
pub mod runtime_api;
pub mod slack_sink;
pub mod tidy;
pub mod world;

pub use emulator::{Emulator, new_account};
pub use fixtures::fixture;
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
