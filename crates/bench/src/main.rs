//! phoenix-bench: the figures behind every performance claim of phoenix-ops, in one run.
//!
//! 1. artifacts: release arm64 `bootstrap` and zip sizes (as `cargo lambda build --arm64
//!    --output-format zip` leaves them);
//! 2. cold start and memory: each release binary started as Lambda starts it, against a local
//!    Runtime API, talking to the emulator: init, first and warm invocations, peak RSS;
//! 3. handler cost: the pure decision path per function (in process), and the whole handler
//!    (the warm invocations of 2);
//! 4. scaling quality: the simulator on every trace, ours against the target-tracking model;
//! 5. monthly cost at defaults, from the measured durations.
//!
//! Run by `scripts/bench.sh`, which builds the binaries first. The report (Markdown) goes to
//! stdout and to `--out`.

mod cold;
mod cost;
mod pure;
mod stats;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{Duration, Utc};
use clap::Parser;
use phoenix_testkit::emulator::DEFAULT_ACCOUNT;
use phoenix_testkit::world::StopScenario;
use phoenix_testkit::{Emulator, EmulatorProxy, SlackSink, World, WorldSpec};
use serde_json::{Value, json};

use crate::cold::ColdRun;
use crate::cost::monthly_cost;
use crate::stats::Stats;

const FUNCTIONS: [&str; 5] = [
    "task-recovery",
    "request-scaler",
    "alarm-notifier",
    "backup",
    "daily-digest",
];

/// The baselines every function is measured against (crates/bench/hello-*): a bare Lambda
/// hello-world, and one that builds the functions' SDK configuration. Same build as the functions.
const BASELINES: [&str; 2] = ["hello-bare", "hello-sdk"];

/// `x` as a multiple of `base` (`×1.25`), or `–` when either is unknown.
fn ratio(x: Option<f64>, base: Option<f64>) -> String {
    match (x, base) {
        (Some(x), Some(b)) if x.is_finite() && b.is_finite() && b > 0.0 => format!("×{:.2}", x / b),
        _ => "–".to_owned(),
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "phoenix-bench",
    about = "phoenix-ops benchmarks (see scripts/bench.sh)"
)]
struct Args {
    /// Directory holding `<function>/bootstrap.zip` (cargo lambda's `target/lambda`).
    #[arg(long)]
    lambda_dir: Option<PathBuf>,
    /// Directory holding the stripped arm64 release binaries (`target/aarch64-unknown-linux-gnu/release`).
    #[arg(long)]
    arm64_dir: Option<PathBuf>,
    /// Directory holding native release binaries to start under the local Runtime API.
    #[arg(long)]
    native_dir: Option<PathBuf>,
    /// Cold starts per function.
    #[arg(long, default_value_t = 7)]
    runs: usize,
    /// Warm invocations after each cold start.
    #[arg(long, default_value_t = 5)]
    warm: usize,
    /// Where the report is written as well.
    #[arg(long, default_value = "target/bench/report.md")]
    out: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("phoenix-bench: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut report = String::new();
    let _ = writeln!(
        report,
        "# phoenix-ops benchmarks\n\nRun at {} on {} ({} cores).\n",
        Utc::now().format("%Y-%m-%d %H:%M UTC"),
        std::env::consts::ARCH,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    report.push_str(&artifacts(
        args.lambda_dir.as_deref(),
        args.arm64_dir.as_deref(),
    ));
    let cold = match &args.native_dir {
        Some(dir) => runtime.block_on(cold_starts(dir, args.runs, args.warm)),
        None => BTreeMap::new(),
    };
    report.push_str(&cold_table(&cold));
    report.push_str(&handler_costs(&cold));
    report.push_str(&scaling());
    report.push_str(&monthly_cost(&cold));
    print!("{report}");
    if let Some(parent) = args.out.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    if let Err(e) = std::fs::write(&args.out, &report) {
        eprintln!("phoenix-bench: cannot write {}: {e}", args.out.display());
        return ExitCode::FAILURE;
    }
    eprintln!("phoenix-bench: report written to {}", args.out.display());
    let failed = cold.values().flatten().any(|r| r.error.is_some());
    if failed {
        eprintln!("phoenix-bench: some cold runs reported errors (see the table)");
    }
    ExitCode::SUCCESS
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / 1_048_576.0)
}

/// 1. Sizes of the arm64 artifacts, absolute and as multiples of the two baselines.
fn artifacts(lambda_dir: Option<&Path>, arm64_dir: Option<&Path>) -> String {
    let mut out = String::from(
        "## 1. Artifacts (release, aarch64, provided.al2023)\n\n\
         Built in the same run and profile as the functions: `hello-bare` is a bare Lambda \
         hello-world, `hello-sdk` a hello-world that builds the functions' SDK configuration.\n\n\
         | binary | bootstrap | bootstrap.zip | zip × hello-bare | zip × hello-sdk | ≤ 2 MiB zip |\n\
         |---|---:|---:|---:|---:|:---:|\n",
    );
    let size = |p: Option<PathBuf>| p.and_then(|p| std::fs::metadata(p).ok()).map(|m| m.len());
    let zip_of = |name: &str| size(lambda_dir.map(|d| d.join(name).join("bootstrap.zip")));
    let [bare, sdk] = BASELINES.map(|b| zip_of(b).map(|z| z as f64));
    for name in FUNCTIONS.iter().chain(BASELINES.iter()) {
        let binary = size(arm64_dir.map(|d| d.join(name)));
        let zip = zip_of(name);
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {} |",
            binary.map_or("not built".into(), mib),
            zip.map_or("not built".into(), mib),
            ratio(zip.map(|z| z as f64), bare),
            ratio(zip.map(|z| z as f64), sdk),
            match zip {
                Some(z) if z <= 2 * 1_048_576 => "✅",
                Some(_) => "❌",
                None => "–",
            }
        );
    }
    out.push('\n');
    out
}

/// Events for one function: one per invocation, each distinct (ids, message ids), as Lambda
/// would deliver them.
async fn events_for(
    name: &str,
    world: &World,
    count: usize,
    run: usize,
) -> Result<Vec<Value>, String> {
    let now = Utc::now();
    let mut events = Vec::with_capacity(count);
    match name {
        "task-recovery" => {
            let victim = world.service_task_arns[0].clone();
            let base = world
                .stop_task_as(
                    &victim,
                    &StopScenario::Crash { exit_code: 1 },
                    now,
                    "bench-crash",
                )
                .await
                .map_err(|e| e.to_string())?;
            for i in 0..count {
                let mut event = base.clone();
                event["id"] = json!(format!("bench-crash-{run}-{i}"));
                // a newer version of the same stop each time: handled, not a duplicate
                event["detail"]["version"] = json!(10 + i);
                events.push(event);
            }
        }
        "request-scaler" => {
            for i in 0..count {
                events.push(
                    json!({"version": "0", "id": format!("bench-scaler-{run}-{i}"),
                    "detail-type": "Scheduled Event", "source": "aws.events",
                    "account": world.account, "time": now.to_rfc3339(), "region": world.region,
                    "resources": [], "detail": {}}),
                );
            }
        }
        "alarm-notifier" => {
            let base = phoenix_testkit::fixture("sns-cloudwatch-alarm-cpu.json");
            for i in 0..count {
                let mut event = base.clone();
                event["Records"][0]["Sns"]["MessageId"] = json!(format!("bench-message-{run}-{i}"));
                // a distinct state change each time, or the notifier rightly collapses repeats
                if let Some(text) = event
                    .pointer("/Records/0/Sns/Message")
                    .and_then(Value::as_str)
                    && let Ok(mut alarm) = serde_json::from_str::<Value>(text)
                {
                    alarm["StateChangeTime"] = json!(
                        (now + Duration::seconds(i as i64))
                            .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
                            .to_string()
                    );
                    event["Records"][0]["Sns"]["Message"] = json!(alarm.to_string());
                }
                events.push(event);
            }
        }
        "backup" | "daily-digest" => {
            for i in 0..count {
                events.push(
                    json!({"version": "0", "id": format!("bench-{name}-{run}-{i}"),
                    "detail-type": "Scheduled Event", "source": "aws.events",
                    "account": world.account, "time": now.to_rfc3339(), "region": world.region,
                    "resources": [], "detail": {}}),
                );
            }
        }
        "hello-bare" | "hello-sdk" => {
            for i in 0..count {
                events.push(json!({"bench": name, "run": run, "event": i}));
            }
        }
        other => return Err(format!("unknown function {other}")),
    }
    Ok(events)
}

/// 2. Cold starts of every function, `runs` times, each followed by `warm` invocations.
async fn cold_starts(dir: &Path, runs: usize, warm: usize) -> BTreeMap<String, Vec<ColdRun>> {
    let mut results = BTreeMap::new();
    let emulator = match Emulator::start() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("phoenix-bench: emulator: {e}");
            return results;
        }
    };
    // The binaries reach the emulator through AWS_ENDPOINT_URL: through the test kit's proxy,
    // which translates CloudWatch's RPC-v2 CBOR for moto (one local hop for every function).
    let proxy = match EmulatorProxy::start(emulator.url()).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("phoenix-bench: emulator proxy: {e}");
            return results;
        }
    };
    let sink = match SlackSink::start().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("phoenix-bench: Slack sink: {e}");
            return results;
        }
    };
    let now = Utc::now();
    let world = match World::seed(
        &emulator,
        &WorldSpec::new(DEFAULT_ACCOUNT, &sink.url(), now),
    )
    .await
    {
        Ok(w) => w,
        Err(e) => {
            eprintln!("phoenix-bench: seeding: {e}");
            return results;
        }
    };
    // Steady traffic for the scaler to read (50 req/min for the last ten minutes).
    let minute = Duration::minutes(1);
    let start = request_scaler::observe::minute_of(now) - minute * 10;
    if let Err(e) = world.put_requests(start, &[50; 12]).await {
        eprintln!("phoenix-bench: metrics: {e}");
    }
    let mut env = world.env();
    env.insert("AWS_ENDPOINT_URL".into(), proxy.url().to_owned());
    env.insert("AWS_REGION".into(), world.region.clone());
    env.insert("AWS_ACCESS_KEY_ID".into(), "bench".into());
    env.insert("AWS_SECRET_ACCESS_KEY".into(), "bench".into());
    env.insert("AWS_EC2_METADATA_DISABLED".into(), "true".into());
    env.insert("REPLACEMENT_GRACE_SECONDS".into(), "0".into());
    env.insert("STACK_NAME".into(), "phoenix-bench".into());
    env.insert("LOG_LEVEL".into(), "warn".into());
    for name in FUNCTIONS.iter().chain(BASELINES.iter()).copied() {
        let binary = dir.join(name);
        if !binary.exists() {
            eprintln!("phoenix-bench: {} is not built", binary.display());
            continue;
        }
        let mut function_runs = Vec::with_capacity(runs);
        for run in 0..runs {
            let events = match events_for(name, &world, warm + 1, run).await {
                Ok(events) => events,
                Err(e) => {
                    eprintln!("phoenix-bench: events for {name}: {e}");
                    break;
                }
            };
            let result = cold::run_once(&binary, &env, &events).await;
            eprintln!(
                "phoenix-bench: {name} run {run}: init {:.1} ms, first {:.1} ms, peak RSS {} KiB{}",
                result.init_ms,
                result.first_ms,
                result.peak_rss_kib,
                result
                    .error
                    .as_deref()
                    .map(|e| format!(" — {e}"))
                    .unwrap_or_default()
            );
            function_runs.push(result);
        }
        results.insert(name.to_owned(), function_runs);
    }
    results
}

fn cold_table(cold: &BTreeMap<String, Vec<ColdRun>>) -> String {
    let mut out = String::from(
        "## 2. Cold start and memory (native release build, local Runtime API, emulator)\n\n\
         Median (p10–p90) over the cold starts. *init*: process start → first poll of \
         `/invocation/next`; *first*: the first event, including every client's first \
         connection; *warm*: later events in the same process; RSS: `VmHWM` at the end.\n\n\
         `× bare` / `× sdk`: the median as a multiple of the hello-bare / hello-sdk baselines.\n\n\
         | binary | runs | init ms | init × bare / × sdk | first invocation ms | warm invocation ms | peak RSS MiB | RSS × bare / × sdk | errors |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    if cold.is_empty() {
        out.push_str("| (not run: pass --native-dir) | | | | | | | | |\n\n");
        return out;
    }
    let median = |name: &str, f: fn(&ColdRun) -> f64| {
        cold.get(name)
            .map(|runs| Stats::of(&runs.iter().map(f).collect::<Vec<_>>()).median)
    };
    let init_of = |r: &ColdRun| r.init_ms;
    let rss_of = |r: &ColdRun| r.peak_rss_kib as f64 / 1024.0;
    let order: Vec<&str> = FUNCTIONS.iter().chain(BASELINES.iter()).copied().collect();
    let mut rows: Vec<(&String, &Vec<ColdRun>)> = cold.iter().collect();
    rows.sort_by_key(|(name, _)| order.iter().position(|o| o == name).unwrap_or(usize::MAX));
    for (name, runs) in rows {
        let init = Stats::of(&runs.iter().map(|r| r.init_ms).collect::<Vec<_>>());
        let first = Stats::of(&runs.iter().map(|r| r.first_ms).collect::<Vec<_>>());
        let warm = cold::warm_stats(runs);
        let rss = Stats::of(
            &runs
                .iter()
                .map(|r| r.peak_rss_kib as f64 / 1024.0)
                .collect::<Vec<_>>(),
        );
        let errors: Vec<String> = runs.iter().filter_map(|r| r.error.clone()).collect();
        let against = |f: fn(&ColdRun) -> f64| {
            let own = median(name, f);
            format!(
                "{} / {}",
                ratio(own, median(BASELINES[0], f)),
                ratio(own, median(BASELINES[1], f))
            )
        };
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} |",
            runs.len(),
            init.show(1),
            against(init_of),
            first.show(1),
            warm.show(1),
            rss.show(1),
            against(rss_of),
            if errors.is_empty() {
                "none".to_owned()
            } else {
                format!(
                    "{}: {}",
                    errors.len(),
                    errors[0].chars().take(120).collect::<String>()
                )
            }
        );
    }
    out.push('\n');
    out
}

/// 3. The pure decision path in process, and the whole handler (warm invocations of 2).
fn handler_costs(cold: &BTreeMap<String, Vec<ColdRun>>) -> String {
    let mut out = String::from(
        "## 3. Handler cost\n\nPure decision path: in process, release build, warm-up then \
         30 batches; median (p10–p90) per event. Whole handler: the warm invocations of \
         table 2 (real binary, real SDK calls to the local emulator).\n\n\
         | function | pure path | µs per event | whole handler ms (warm) |\n|---|---|---:|---:|\n",
    );
    for (name, what, stats) in pure::measure() {
        let whole = cold
            .get(name)
            .map(|runs| cold::warm_stats(runs).show(1))
            .unwrap_or_else(|| "–".into());
        let micros = Stats {
            median: stats.median / 1000.0,
            p10: stats.p10 / 1000.0,
            p90: stats.p90 / 1000.0,
            samples: stats.samples,
        };
        let _ = writeln!(out, "| {name} | {what} | {} | {whole} |", micros.show(2));
    }
    out.push('\n');
    out
}

/// 4. Scaling quality on every shipped trace.
fn scaling() -> String {
    use request_scaler::decide::Policy;
    use request_scaler::simulate::{
        Comparison, SimPolicy, comparison_table, parse_trace, simulate, summarize,
    };
    let dir = phoenix_testkit::emulator::repo_root().join("events/traces");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    names.retain(|p| p.extension().is_some_and(|x| x == "csv"));
    names.sort();
    let policy = Policy::default();
    let mut rows = Vec::new();
    for path in names {
        let Ok(trace) = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|t| parse_trace(&t))
        else {
            continue;
        };
        let [ours, without_forecast, target_tracking] = [
            SimPolicy::Ours,
            SimPolicy::OursWithoutForecast,
            SimPolicy::TargetTracking,
        ]
        .map(|p| summarize(&simulate(&trace, p, &policy), p, &policy));
        let trace = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        rows.push(Comparison {
            trace,
            ours,
            without_forecast,
            target_tracking,
        });
    }
    format!(
        "## 4. Scaling quality (simulator: ours vs target-tracking model, target 100/task, CPU 70 %, min 1, max 10)\n\n\
         Worst catch-up = longest run of under-provisioned minutes (time from a spike to enough \
         capacity). The last column replays ours without the trend and daily forecasts.\n\n{}\n",
        comparison_table(&rows)
    )
}
