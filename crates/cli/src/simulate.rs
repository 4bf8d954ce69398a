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
    Comparison, SimPolicy, Summary, Trace, comparison_table, parse_trace, rows_csv, simulate,
    summarize,
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
    /// demand in percent of one task, 250 = 2.5 tasks busy), minutes from 0. Repeat it (with
    /// --summary-only) for one table over several traces and their sum.
    #[arg(long, required = true)]
    pub trace: Vec<PathBuf>,
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

impl Replay {
    pub fn comparison(&self) -> Comparison {
        Comparison {
            trace: self.name.clone(),
            ours: self.ours.clone(),
            without_forecast: self.without_forecast.clone(),
            target_tracking: self.target_tracking.clone(),
        }
    }
}

pub fn run(args: &Args) -> ExitCode {
    let policy = match args.policy() {
        Ok(policy) => policy,
        Err(e) => {
            eprintln!("phoenix-ops: {e}");
            return ExitCode::from(2);
        }
    };
    if args.trace.len() > 1 && (!args.summary_only || args.svg.is_some()) {
        eprintln!("phoenix-ops: several --trace need --summary-only (and no --svg)");
        return ExitCode::from(2);
    }
    let mut replays = Vec::new();
    for path in &args.trace {
        match Replay::from_file(path, policy) {
            Ok(replay) => replays.push(replay),
            Err(e) => {
                eprintln!("phoenix-ops: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let table = comparison_table(&replays.iter().map(Replay::comparison).collect::<Vec<_>>());
    if args.summary_only {
        print!("{table}");
    }
    let Some(replay) = replays.first().filter(|_| replays.len() == 1) else {
        return ExitCode::SUCCESS;
    };
    if let Some(out) = &args.svg
        && let Err(e) = std::fs::write(out, plot::svg(replay))
    {
        eprintln!("phoenix-ops: cannot write {}: {e}", out.display());
        return ExitCode::from(2);
    }
    if !args.summary_only {
        let which = match args.policy {
            Which::Ours => SimPolicy::Ours,
            Which::OursWithoutForecast => SimPolicy::OursWithoutForecast,
            Which::TargetTracking => SimPolicy::TargetTracking,
        };
        print!("{}", rows_csv(&simulate(&replay.trace, which, &policy)));
        eprint!("{table}");
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use request_scaler::policy::Policy;

    use super::{Replay, plot};

    fn repo() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    /// Every shipped trace has its plot in docs/plots/, equal to what the code draws now.
    /// `UPDATE_PLOTS=1 cargo test -p phoenix-ops-cli plots` redraws them.
    #[test]
    fn committed_plots_match_the_code() {
        let update = std::env::var_os("UPDATE_PLOTS").is_some();
        let mut traces: Vec<PathBuf> = std::fs::read_dir(repo().join("events/traces"))
            .expect("events/traces")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "csv"))
            .collect();
        traces.sort();
        assert!(traces.len() >= 6, "{traces:?}");
        let mut stale = Vec::new();
        for trace in traces {
            let replay = Replay::from_file(&trace, Policy::default()).expect("replays");
            let drawn = plot::svg(&replay);
            let stem = trace.file_stem().map(|s| s.to_string_lossy().into_owned());
            let plot = repo().join(format!("docs/plots/{}.svg", stem.unwrap_or_default()));
            if update {
                std::fs::write(&plot, &drawn).expect("writes the plot");
            } else if std::fs::read_to_string(&plot).ok().as_deref() != Some(drawn.as_str()) {
                stale.push(plot.display().to_string());
            }
        }
        assert!(
            stale.is_empty(),
            "plots missing or stale (UPDATE_PLOTS=1 cargo test -p phoenix-ops-cli plots): {stale:?}"
        );
    }
}
