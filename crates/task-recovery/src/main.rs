//! Lambda entry point: wiring only (see lib.rs).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    phoenix_core::lambda::run::<task_recovery::TaskRecovery>().await
}
