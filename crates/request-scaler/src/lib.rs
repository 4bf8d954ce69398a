//! request-scaler: skeleton answering "ignored: not implemented" until its issue lands.

use aws_config::SdkConfig;
use phoenix_core::{Function, Invocation, Outcome, RetryableError, Vars};

/// Settings, read once at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    pub dry_run: bool,
}

/// The AWS clients this function uses.
#[derive(Debug, Clone)]
pub struct Clients {
    pub ecs: aws_sdk_ecs::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sns: aws_sdk_sns::Client,
}

impl Clients {
    pub fn from_sdk(sdk: &SdkConfig) -> Self {
        Self {
            ecs: aws_sdk_ecs::Client::new(sdk),
            cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
        }
    }
}

pub struct RequestScaler {
    pub config: Config,
    pub clients: Clients,
}

impl RequestScaler {
    pub fn new(config: Config, clients: Clients) -> Self {
        Self { config, clients }
    }
}

impl Function for RequestScaler {
    const NAME: &'static str = "request-scaler";
    type Config = Config;

    fn read_config(vars: &mut Vars<'_>) -> Config {
        Config {
            dry_run: vars.flag("DRY_RUN", false),
        }
    }

    fn from_sdk(config: Config, sdk: &SdkConfig) -> Self {
        Self::new(config, Clients::from_sdk(sdk))
    }

    async fn handle(&self, invocation: Invocation) -> Result<Outcome, RetryableError> {
        let _ = (&self.config, &self.clients, invocation);
        Ok(Outcome::ignored(Self::NAME, None, "not implemented"))
    }
}
