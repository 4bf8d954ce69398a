//! Cold start and memory: each function binary started as Lambda starts it, against the local
//! Runtime API, talking to the emulator. Time from process start to the first poll (init), the
//! first invocation, warm invocations, and peak RSS (VmHWM).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use phoenix_testkit::runtime_api::RuntimeApi;

#[derive(Debug, Clone, serde::Serialize)]
pub struct ColdRun {
    pub init_ms: f64,
    pub first_ms: f64,
    pub warm_ms: Vec<f64>,
    pub peak_rss_kib: u64,
    pub ok_answers: usize,
    /// Bytes the function wrote to stdout (its log lines: the Outcome line, metrics, logs).
    pub log_bytes: u64,
    pub error: Option<String>,
}

/// Log bytes per invocation over every run of one function.
pub fn log_bytes_per_invocation(runs: &[ColdRun]) -> Option<f64> {
    let bytes: u64 = runs.iter().map(|r| r.log_bytes).sum();
    let invocations: usize = runs.iter().map(|r| r.ok_answers).sum();
    (invocations > 0).then(|| bytes as f64 / invocations as f64)
}

/// The warm invocations of every run of one function.
pub fn warm_stats(runs: &[ColdRun]) -> crate::stats::Stats {
    let warm: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.warm_ms.iter().copied())
        .collect();
    crate::stats::Stats::of(&warm)
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One cold start followed by `events.len() - 1` warm invocations.
pub async fn run_once(binary: &Path, env: &BTreeMap<String, String>, events: &[Value]) -> ColdRun {
    let mut run = ColdRun {
        init_ms: f64::NAN,
        first_ms: f64::NAN,
        warm_ms: Vec::new(),
        peak_rss_kib: 0,
        ok_answers: 0,
        log_bytes: 0,
        error: None,
    };
    let api = match RuntimeApi::start().await {
        Ok(api) => api,
        Err(e) => {
            run.error = Some(format!("runtime API: {e}"));
            return run;
        }
    };
    let name = binary
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut command = tokio::process::Command::new(binary);
    command
        .env_clear()
        .envs(env)
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", &name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let started = Instant::now();
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            run.error = Some(format!("cannot start {}: {e}", binary.display()));
            return run;
        }
    };
    let pid = child.id().unwrap_or(0);
    // count what the function logs (CloudWatch Logs bills ingestion by the byte)
    let counter = child.stdout.take().map(|mut stdout| {
        tokio::spawn(async move {
            let mut sink = tokio::io::sink();
            tokio::io::copy(&mut stdout, &mut sink).await.unwrap_or(0)
        })
    });
    for (i, event) in events.iter().enumerate() {
        let asked = Instant::now();
        let request_id = format!("bench-{pid}-{i:04}");
        let Some(answer) = api
            .invoke(&request_id, event, Duration::from_secs(60))
            .await
        else {
            run.error = Some(
                api.init_error()
                    .unwrap_or_else(|| format!("no answer to event {i}")),
            );
            break;
        };
        if answer.ok {
            run.ok_answers += 1;
        } else if run.error.is_none() {
            run.error = Some(format!(
                "event {i}: {}",
                answer.body.chars().take(300).collect::<String>()
            ));
        }
        if i == 0 {
            let ready = api.first_poll().unwrap_or(asked);
            run.init_ms = ms(ready - started);
            run.first_ms = ms(answer.at - ready.max(asked));
        } else {
            run.warm_ms.push(ms(answer.at - asked));
        }
    }
    run.peak_rss_kib = peak_rss_kib(pid);
    let _ = child.kill().await;
    if let Some(counter) = counter {
        run.log_bytes = counter.await.unwrap_or(0);
    }
    run
}
