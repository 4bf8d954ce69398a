//! `phoenix-ops simulate-scaler`: replays a request trace through the scaler's own decision code
//! (and through a model of AWS target tracking), with the delays a real deployment has.
//!
//! The per-minute CSV (`minute,requests,desired,serving`) goes to stdout, the summary of both
//! policies to stderr, so `> rows.csv` keeps the CSV clean.

use std::path::PathBuf;
use std::process::ExitCode;

use request_scaler::decide::Policy;
use request_scaler::simulate::{
    SimPolicy, parse_trace, rows_csv, simulate, summarize, summary_table,
};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Ours,
    TargetTracking,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// CSV of `minute,requests` rows (total requests in that minute), minutes from 0.
    #[arg(long)]
    pub trace: PathBuf,
    /// Fewest tasks.
    #[arg(long, default_value_t = 1)]
    pub min: u32,
    /// Most tasks.
    #[arg(long, default_value_t = 10)]
    pub max: u32,
    /// Requests per minute one task serves.
    #[arg(long, default_value_t = 100)]
    pub target: u32,
    /// Minutes the load must stay low before our policy scales in.
    #[arg(long, default_value_t = 5)]
    pub stabilization: u32,
    /// Policy whose per-minute CSV is printed.
    #[arg(long, value_enum, default_value_t = Which::Ours)]
    pub policy: Which,
    /// Print only the summary (to stdout).
    #[arg(long)]
    pub summary_only: bool,
}

pub fn run(args: &Args) -> ExitCode {
    let text = match std::fs::read_to_string(&args.trace) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("phoenix-ops: cannot read {}: {e}", args.trace.display());
            return ExitCode::from(2);
        }
    };
    let trace = match parse_trace(&text) {
        Ok(trace) => trace,
        Err(e) => {
            eprintln!("phoenix-ops: {}: {e}", args.trace.display());
            return ExitCode::from(2);
        }
    };
    if args.min > args.max || args.target == 0 || args.max == 0 {
        eprintln!(
            "phoenix-ops: need 0 ≤ --min ≤ --max, --max ≥ 1 and --target ≥ 1 (got min {}, max {}, target {})",
            args.min, args.max, args.target
        );
        return ExitCode::from(2);
    }
    let policy = Policy {
        target_per_task: args.target,
        min_tasks: args.min,
        max_tasks: args.max,
        stabilization_minutes: args.stabilization.max(1),
    };
    let which = match args.policy {
        Which::Ours => SimPolicy::Ours,
        Which::TargetTracking => SimPolicy::TargetTracking,
    };
    let summaries = [SimPolicy::Ours, SimPolicy::TargetTracking]
        .map(|p| summarize(&simulate(&trace, p, &policy), p, &policy));
    let name = args
        .trace
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let table = summary_table(&[(name, summaries[0].clone(), summaries[1].clone())]);
    if args.summary_only {
        print!("{table}");
    } else {
        print!("{}", rows_csv(&simulate(&trace, which, &policy)));
        eprint!("{table}");
    }
    ExitCode::SUCCESS
}
