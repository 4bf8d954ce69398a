//! Baseline for scripts/bench.sh: a Lambda hello-world that builds the same SDK configuration as
//! every function (`phoenix_core::aws::sdk_config_from_env`: region, credentials and endpoint
//! override from the Lambda environment, HTTPS client, retries, timeouts) and no client. A
//! function's size over this one is its own code and its clients.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let sdk = phoenix_core::aws::sdk_config_from_env(|name| std::env::var(name).ok())?;
    let region = sdk.region().map(ToString::to_string);
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| {
        let region = region.clone();
        async move { Ok::<Value, lambda_runtime::Error>(json!({"hello": "world", "region": region})) }
    }))
    .await
}
