//! task-recovery: reacts to ECS events about the Phoenix cluster. Tells a crash from a planned
//! stop and a missing image from a crash loop, makes sure capacity comes back (a durable re-check
//! after the replacement grace, a forced deployment of a stuck service, a restart of allow-listed
//! standalone tasks), detects crash loops, reports why a task died with its last log lines, and
//! turns ECS deployment failures and service problems into readable Notices.
//!
//! Pipeline: [`event`] (parse and bound the trigger) → [`observe`] (read ECS) → [`decide`] (pure:
//! a [`decide::Plan`]; [`classify`] is its stop rule) → [`act`] (ECS, the re-check queue, the
//! ledger) → [`report`] (pure: the Notice and the Outcome's record). The flows that run it live in
//! `handle.rs`; [`recheck`] is the delayed message's wire form, [`arn`] the identifiers' rules, [`facts`] a stop's facts,
//! [`config`] the settings.

pub mod act;
pub mod arn;
pub mod classify;
pub mod config;
pub mod decide;
pub mod event;
pub mod facts;
mod handle;
pub mod observe;
pub mod recheck;
pub mod report;
#[cfg(test)]
mod tests;

pub use config::Config;
/// The SDK crates of [`Clients`]' fields, re-exported so that callers (the sandbox, tests) build
/// and seed with exactly the versions this crate links.
pub use {aws_sdk_dynamodb, aws_sdk_sqs};

use phoenix_core::{Function, Invocation, Ledger, Outcome, RetryableError, SdkConfig, Vars};

/// The AWS clients this function uses.
#[derive(Debug, Clone)]
pub struct Clients {
    pub ecs: aws_sdk_ecs::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

impl Clients {
    pub fn from_sdk(sdk: &SdkConfig) -> Self {
        Self {
            ecs: aws_sdk_ecs::Client::new(sdk),
            logs: aws_sdk_cloudwatchlogs::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
        }
    }
}

pub struct TaskRecovery {
    pub config: Config,
    pub clients: Clients,
    ledger: Ledger,
    /// `config.cluster` as text, for the SDK calls.
    cluster_arn: String,
}

impl TaskRecovery {
    pub fn new(config: Config, clients: Clients) -> Self {
        let ledger = Ledger::new(clients.dynamodb.clone(), &config.ledger_table);
        let cluster_arn = config.cluster.to_string();
        Self {
            config,
            clients,
            ledger,
            cluster_arn,
        }
    }
}

impl Function for TaskRecovery {
    const NAME: &'static str = "task-recovery";
    type Config = Config;

    fn read_config(vars: &mut Vars<'_>) -> Config {
        config::read(vars)
    }

    fn from_sdk(config: Config, sdk: &SdkConfig) -> Self {
        Self::new(config, Clients::from_sdk(sdk))
    }

    async fn handle(&self, invocation: Invocation) -> Result<Outcome, RetryableError> {
        self.handle_invocation(invocation).await
    }
}
