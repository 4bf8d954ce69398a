//! `phoenix-ops simulate-scaler`: replays a request trace (optionally with CPU demand) through
//! the scaler's own decision code, through it without its forecasts, and through a model of AWS
//! target tracking, with the delays a real deployment has.
//!
//! The per-minute CSV (`minute,requests,desired,serving`) goes to stdout, the summary tables to
//! stderr, so `> rows.csv` keeps the CSV clean. `--svg OUT` draws the replay.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use request_scaler::policy::Policy;
use request_scaler::simulate::{
    SimPolicy, Summary, Trace, parse_trace, rows_csv, simulate, summarize, summary_table,
};

#[path = "plot.rs"]
pub mod plot;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Ours,
    OursWithoutForecast,
    TargetTracking,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// CSV of `minute,requests` or `minute,requests,cpu` rows (requests in that minute; CPU
    /// demand in percent of one task, 250 = 2.5 tasks busy), minutes from 0.
    #[arg(long)]
    pub trace: PathBuf,
    /// Fewest tasks (MIN_TASKS, ≥ 1).
    #[arg(long, default_value_t = 1)]
    pub min: u32,
    /// Most tasks (MAX_TASKS).
    #[arg(long, default_value_t = 10)]
    pub max: u32,
    /// Requests per minute one task serves (TARGET_REQUESTS_PER_TASK).
    #[arg(long, default_value_t = 100)]
    pub target: u32,
    /// Average CPU one task should run at (TARGET_CPU_PERCENT; 0 = ignore the CPU column).
    #[arg(long, default_value_t = 70)]
    pub target_cpu: u32,
    /// Minutes the load must stay low before our policy scales in (SCALE_IN_STABILIZATION_MINUTES).
    #[arg(long, default_value_t = 5)]
    pub stabilization: u32,
    /// Policy whose per-minute CSV is printed.
    #[arg(long, value_enum, default_value_t = Which::Ours)]
    pub policy: Which,
    /// Print only the summary tables (to stdout).
    #[arg(long)]
    pub summary_only: bool,
    /// Also draw the replay (requests, CPU, our tasks and target tracking's) as an SVG file.
    #[arg(long)]
    pub svg: Option<PathBuf>,
}

impl Args {
    fn policy(&self) -> Result<Policy, String> {
        let ok = (1..=1_000).contains(&self.min)
            && (self.min..=1_000).contains(&self.max)
            && self.target >= 1
            && self.target_cpu <= 100
            && (1..=60).contains(&self.stabilization);
        if !ok {
            return Err(format!(
                "need 1 ≤ --min ≤ --max ≤ 1000, --target ≥ 1, --target-cpu ≤ 100 and 1 ≤ --stabilization ≤ 60 \
                 (got min {}, max {}, target {}, target-cpu {}, stabilization {})",
                self.min, self.max, self.target, self.target_cpu, self.stabilization
            ));
        }
        Ok(Policy {
            target_per_task: self.target,
            min_tasks: self.min,
            max_tasks: self.max,
            stabilization_minutes: self.stabilization,
            target_cpu_percent: self.target_cpu,
        })
    }
}

/// Every policy's replay of one trace, and its figures.
pub struct Replay {
    pub name: String,
    pub trace: Trace,
    pub policy: Policy,
    pub ours: Summary,
    pub without_forecast: Summary,
    pub target_tracking: Summary,
    pub ours_rows: Vec<request_scaler::simulate::Row>,
    pub tt_rows: Vec<request_scaler::simulate::Row>,
}

impl Replay {
    pub fn run(name: &str, trace: Trace, policy: Policy) -> Replay {
        let rows = |which| simulate(&trace, which, &policy);
        let ours_rows = rows(SimPolicy::Ours);
        let tt_rows = rows(SimPolicy::TargetTracking);
        let without = rows(SimPolicy::OursWithoutForecast);
        Replay {
            name: name.to_owned(),
            ours: summarize(&ours_rows, SimPolicy::Ours, &policy),
            without_forecast: summarize(&without, SimPolicy::OursWithoutForecast, &policy),
            target_tracking: summarize(&tt_rows, SimPolicy::TargetTracking, &policy),
            trace,
            policy,
            ours_rows,
            tt_rows,
        }
    }

    /// Reads and replays a trace file.
    pub fn from_file(path: &Path, policy: Policy) -> Result<Replay, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let trace = parse_trace(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Replay::run(&name, trace, policy))
    }
}

/// What the forecasts are worth: ours with and without them, per trace.
pub fn forecast_table(replays: &[&Replay]) -> String {
    let mut out = String::from(
        "| trace | under-provisioned min (with / without forecast) | task-minutes (with / without) |\n\
         |---|---:|---:|\n",
    );
    for r in replays {
        out.push_str(&format!(
            "| {} | {} / {} | {} / {} |\n",
            r.name,
            r.ours.under_provisioned_minutes,
            r.without_forecast.under_provisioned_minutes,
            r.ours.task_minutes,
            r.without_forecast.task_minutes,
        ));
    }
    out
}

pub fn run(args: &Args) -> ExitCode {
    let policy = match args.policy() {
        Ok(policy) => policy,
        Err(e) => {
            eprintln!("phoenix-ops: {e}");
            return ExitCode::from(2);
        }
    };
    let replay = match Replay::from_file(&args.trace, policy) {
        Ok(replay) => replay,
        Err(e) => {
            eprintln!("phoenix-ops: {e}");
            return ExitCode::from(2);
        }
    };
    let tables = format!(
        "{}\n{}",
        summary_table(&[(
            replay.name.clone(),
            replay.ours.clone(),
            replay.target_tracking.clone()
        )]),
        forecast_table(&[&replay])
    );
    if let Some(out) = &args.svg
        && let Err(e) = std::fs::write(out, plot::svg(&replay))
    {
        eprintln!("phoenix-ops: cannot write {}: {e}", out.display());
        return ExitCode::from(2);
    }
    if args.summary_only {
        print!("{tables}");
    } else {
        let which = match args.policy {
            Which::Ours => SimPolicy::Ours,
            Which::OursWithoutForecast => SimPolicy::OursWithoutForecast,
            Which::TargetTracking => SimPolicy::TargetTracking,
        };
        print!("{}", rows_csv(&simulate(&replay.trace, which, &policy)));
        eprint!("{tables}");
    }
    ExitCode::SUCCESS
}
