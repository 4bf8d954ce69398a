//! Lambda entry point: wiring only (see lib.rs).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    phoenix_core::lambda::run::<daily_digest::DailyDigest>().await
}
