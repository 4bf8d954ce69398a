//! `phoenix-ops simulate-scaler`: replays a request trace through the scaler's decision code.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// CSV of `minute,requests` rows (total requests in that minute).
    #[arg(long)]
    pub trace: PathBuf,
}

pub fn run(args: &Args) -> ExitCode {
    eprintln!(
        "phoenix-ops: simulate-scaler is not implemented yet (trace {})",
        args.trace.display()
    );
    ExitCode::from(2)
}
