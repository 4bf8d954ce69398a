//! The acceptance rule of the scaler, on every shipped trace: fewer under-provisioned minutes
//! than the target-tracking model and at most 5 % more task-minutes.

use std::path::PathBuf;

use request_scaler::decide::Policy;
use request_scaler::simulate::{SimPolicy, Summary, parse_trace, simulate, summarize};

fn traces() -> Vec<(String, Vec<u64>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events/traces");
    let mut found: Vec<(String, Vec<u64>)> = std::fs::read_dir(&dir)
        .expect("events/traces exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("trace readable");
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            (
                name.unwrap_or_default(),
                parse_trace(&text).expect("trace parses"),
            )
        })
        .collect();
    found.sort();
    found
}

fn run(trace: &[u64], which: SimPolicy) -> Summary {
    let policy = Policy::default();
    summarize(&simulate(trace, which, &policy), which, &policy)
}

#[test]
fn ours_beats_target_tracking_on_every_shipped_trace() {
    let traces = traces();
    assert!(
        traces.len() >= 4,
        "at least four traces ship: {}",
        traces.len()
    );
    let mut failures = Vec::new();
    for (name, trace) in &traces {
        let ours = run(trace, SimPolicy::Ours);
        let tt = run(trace, SimPolicy::TargetTracking);
        println!(
            "{name}: ours under={} task-min={} worst={} | tt under={} task-min={} worst={}",
            ours.under_provisioned_minutes,
            ours.task_minutes,
            ours.worst_catch_up_minutes,
            tt.under_provisioned_minutes,
            tt.task_minutes,
            tt.worst_catch_up_minutes
        );
        if ours.under_provisioned_minutes >= tt.under_provisioned_minutes {
            failures.push(format!(
                "{name}: under-provisioned {} ≥ target tracking {}",
                ours.under_provisioned_minutes, tt.under_provisioned_minutes
            ));
        }
        if ours.task_minutes as f64 > tt.task_minutes as f64 * 1.05 {
            failures.push(format!(
                "{name}: task-minutes {} > 105 % of target tracking {}",
                ours.task_minutes, tt.task_minutes
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
