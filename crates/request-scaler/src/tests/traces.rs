//! The acceptance rule of the scaler on every shipped trace (`events/traces/`), replayed with
//! the simulator's deployment timing, summed over all traces: under-provisioned minutes at most
//! a third of target tracking's, task-minutes at most 5 % more; the CPU-burn trace scales out
//! within 3 minutes of CPU passing the target; and every decision is causal.

use std::path::PathBuf;

use crate::decide::Policy;
use crate::simulate::{
    SimPolicy, Summary, Trace, cpu_reaction_minutes, parse_trace, simulate, summarize,
};

pub fn traces() -> Vec<(String, Trace)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events/traces");
    let mut found: Vec<(String, Trace)> = std::fs::read_dir(&dir)
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
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

fn run(trace: &Trace, which: SimPolicy) -> Summary {
    let policy = Policy::default();
    summarize(&simulate(trace, which, &policy), which, &policy)
}

#[test]
fn ours_needs_a_third_of_target_trackings_short_minutes_at_most_5_percent_more_tasks() {
    let traces = traces();
    let names: Vec<&str> = traces.iter().map(|(n, _)| n.as_str()).collect();
    for needed in ["three-day-cycle.csv", "slow-ramp.csv", "cpu-burn.csv"] {
        assert!(names.contains(&needed), "{needed} ships: {names:?}");
    }
    let (mut ours_under, mut tt_under, mut ours_tasks, mut tt_tasks) = (0, 0, 0, 0);
    for (name, trace) in &traces {
        let ours = run(trace, SimPolicy::Ours);
        let tt = run(trace, SimPolicy::TargetTracking);
        println!(
            "{name}: ours under={} task-min={} worst={} actions={} | tt under={} task-min={} worst={} actions={}",
            ours.under_provisioned_minutes,
            ours.task_minutes,
            ours.worst_catch_up_minutes,
            ours.scale_actions,
            tt.under_provisioned_minutes,
            tt.task_minutes,
            tt.worst_catch_up_minutes,
            tt.scale_actions,
        );
        ours_under += ours.under_provisioned_minutes;
        tt_under += tt.under_provisioned_minutes;
        ours_tasks += ours.task_minutes;
        tt_tasks += tt.task_minutes;
    }
    println!("sum: under {ours_under} / {tt_under}, task-minutes {ours_tasks} / {tt_tasks}");
    assert!(
        ours_under * 3 <= tt_under,
        "under-provisioned minutes {ours_under} > a third of target tracking's {tt_under}"
    );
    assert!(
        ours_tasks as f64 <= tt_tasks as f64 * 1.05,
        "task-minutes {ours_tasks} > 105 % of target tracking's {tt_tasks}"
    );
}

#[test]
fn the_cpu_burn_scales_out_within_3_minutes_of_cpu_passing_the_target() {
    let (_, trace) = traces()
        .into_iter()
        .find(|(n, _)| n == "cpu-burn.csv")
        .expect("cpu-burn.csv ships");
    let policy = Policy::default();
    let ours = simulate(&trace, SimPolicy::Ours, &policy);
    let reaction = cpu_reaction_minutes(&ours, &policy).expect("scales out");
    assert!(reaction <= 3, "{reaction} minutes");
    // requests alone never need a second task: CPU drove it
    assert!(trace.requests.iter().all(|&r| r <= 100));
    assert!(ours.iter().any(|r| r.desired >= 4), "scaled for the burn");
    let tt = simulate(&trace, SimPolicy::TargetTracking, &policy);
    let tt_reaction = cpu_reaction_minutes(&tt, &policy).expect("TT scales out too");
    assert!(
        tt_reaction > reaction,
        "TT {tt_reaction} vs ours {reaction}"
    );
}

#[test]
fn a_decision_is_the_same_whether_the_trace_is_cut_after_it_or_not() {
    let policy = Policy::default();
    for (name, trace) in traces() {
        let whole = simulate(&trace, SimPolicy::Ours, &policy);
        // cut points: early, around the first day boundary (the daily pattern begins), late
        let len = trace.len();
        let mut cuts = vec![1, 2, 17, 61, len / 3, len / 2, len - 1];
        cuts.extend(
            [1_440, 1_441, 1_457, 2_900]
                .into_iter()
                .filter(|&c| c < len),
        );
        for cut in cuts {
            let part = simulate(&trace.cut(cut), SimPolicy::Ours, &policy);
            assert_eq!(
                part[..],
                whole[..cut],
                "{name}: decisions up to minute {cut} changed when later minutes were removed"
            );
        }
    }
}

#[test]
fn anticipation_pays_where_load_rises() {
    // the trend on the slow ramp, the daily pattern on the three-day cycle (its days 2 and 3)
    for (name, trace) in traces() {
        let ours = run(&trace, SimPolicy::Ours).under_provisioned_minutes;
        let reactive = run(&trace, SimPolicy::OursWithoutForecast).under_provisioned_minutes;
        println!("{name}: with anticipation {ours}, without {reactive}");
        if name == "slow-ramp.csv" || name == "three-day-cycle.csv" {
            assert!(ours < reactive, "{name}: {ours} ≥ {reactive}");
        }
    }
}
