//! `phoenix-ops`: the local tool for people. Never deployed.
//!
//! * `phoenix-ops sandbox` — emulator + Slack sink + seeded world, the scripted scenario of every
//!   function through the real handler code, a narrated timeline and a pass/fail table.
//! * `phoenix-ops sandbox up` — the same world, no scenario; prints the env exports and relays
//!   alerts to the Slack sink until Ctrl-C.
//! * `phoenix-ops invoke <function> --event FILE` — one event through one handler, in-process,
//!   against whatever `AWS_ENDPOINT_URL` (or real AWS) the environment names.
//! * `phoenix-ops simulate-scaler --trace FILE.csv` — replays a request trace through the
//!   scaler's decision code and a model of AWS target tracking.
//! * `phoenix-ops digest [--now T] [--sandbox]` — the daily digest of the world the environment
//!   names, or of a sandbox day, as Slack shows it and as the Notice JSON.
//! * `phoenix-ops gallery --out docs/slack` — the notifier's Slack messages drawn as a page.
//!
//! Exit codes: 0 success (an ignored event is a success), 1 retryable failure or failed
//! expectation, 2 bad usage or unreadable input.

mod digest;
mod fuzz;
mod gallery;
mod invoke;
mod sandbox;
mod simulate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "phoenix-ops",
    version,
    about = "The phoenix-ops control plane, locally: sandbox, invoke, simulate."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the scripted scenario against the local emulator (or `up`: keep a world running).
    Sandbox {
        #[command(subcommand)]
        mode: Option<SandboxMode>,
    },
    /// Run one function's handler once on an event file and print its Outcome JSON.
    Invoke {
        function: FunctionName,
        /// The event (JSON file).
        #[arg(long)]
        event: PathBuf,
        /// Decide and report, change nothing (same as DRY_RUN=true).
        #[arg(long)]
        dry_run: bool,
        /// The handler's clock, RFC 3339 (default: now).
        #[arg(long)]
        now: Option<String>,
        /// Log decisions (JSON lines on stderr) at info level instead of warn.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Replay a `minute,requests[,cpu]` trace through the scaler and the target-tracking model (--svg draws it).
    SimulateScaler(simulate::Args),
    /// Tell the last 24 hours (the daily digest) of the environment's world, or of a sandbox day.
    Digest(digest::Args),
    /// Feed mutated events to every handler (dry run, local emulator) and judge each.
    Fuzz(fuzz::Args),
    /// Draw the notifier's Slack messages (its golden files) as a static page (docs/slack).
    Gallery(gallery::Args),
}

#[derive(Subcommand)]
enum SandboxMode {
    /// Seed the world and keep it running; print the exports to use it from another shell.
    Up,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FunctionName {
    TaskRecovery,
    RequestScaler,
    AlarmNotifier,
    Backup,
    DailyDigest,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("phoenix-ops: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(async move {
        match cli.command {
            Command::Sandbox { mode: None } => sandbox::run_scenario().await,
            Command::Sandbox {
                mode: Some(SandboxMode::Up),
            } => sandbox::up().await,
            Command::Invoke {
                function,
                event,
                dry_run,
                now,
                verbose,
            } => invoke::run(function, &event, dry_run, now.as_deref(), verbose).await,
            Command::SimulateScaler(args) => simulate::run(&args),
            Command::Digest(args) => digest::run(&args).await,
            Command::Fuzz(args) => fuzz::run(&args).await,
            Command::Gallery(args) => gallery::run(&args),
        }
    })
}
