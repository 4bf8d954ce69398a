//! Baseline for scripts/bench.sh: the smallest Lambda function in Rust (lambda_runtime, tokio,
//! serde_json), built exactly as the functions are. Answers every event with a constant.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(|_event: LambdaEvent<Value>| async {
        Ok::<Value, lambda_runtime::Error>(json!({"hello": "world"}))
    }))
    .await
}
