//! The simulator: trace parsing, the deployment timing, and the target-tracking model.

use crate::decide::Policy;
use crate::simulate::{
    SimPolicy, Trace, cpu_reaction_minutes, parse_trace, rows_csv, simulate, summarize,
};

fn step(before: u64, after: u64, at: usize, len: usize) -> Trace {
    Trace {
        requests: (0..len)
            .map(|m| if m < at { before } else { after })
            .collect(),
        cpu: None,
    }
}

#[test]
fn parse_accepts_header_comments_and_a_cpu_column_and_names_bad_lines() {
    let t = parse_trace("# spike\nminute,requests\n0,5\n1,7\n").expect("valid");
    assert_eq!((t.requests, t.cpu), (vec![5, 7], None));
    let t = parse_trace("minute,requests,cpu\n0,5,20\n1,7,250.5\n").expect("valid");
    assert_eq!((t.requests, t.cpu), (vec![5, 7], Some(vec![20.0, 250.5])));
    let cases = [
        ("minute,requests\n0,5\n2,7\n", "line 3"),
        ("0,-4\n", "-4"),
        ("0,1,2,3\n", "expected `minute,requests`"),
        ("0,1,2\n1,3\n", "2 columns where earlier rows have 3"),
        ("0,1,-5\n", "cpu `-5`"),
        ("0,1,NaN\n", "cpu `NaN`"),
        ("x,1\n", "minute `x`"),
        ("minute,requests\n", "no `minute,requests` rows"),
    ];
    for (text, words) in cases {
        let e = parse_trace(text).expect_err("invalid");
        assert!(e.contains(words), "{text:?}: {e}");
    }
}

#[test]
fn ours_serves_a_step_two_minutes_after_it_is_published() {
    let trace = step(50, 1_000, 10, 30);
    let rows = simulate(&trace, SimPolicy::Ours, &Policy::default());
    // minute 10 is seen at the start of minute 12, asked then, serving from minute 13
    assert_eq!(rows[11].desired, 1);
    assert_eq!(rows[12].desired, 10);
    assert_eq!(rows[12].serving, 1);
    assert_eq!(rows[13].serving, 10);
    let s = summarize(&rows, SimPolicy::Ours, &Policy::default());
    assert_eq!(s.under_provisioned_minutes, 3, "{s:?}");
    assert_eq!(s.worst_catch_up_minutes, 3);
}

#[test]
fn target_tracking_waits_for_three_datapoints() {
    let trace = step(50, 1_000, 10, 40);
    let rows = simulate(&trace, SimPolicy::TargetTracking, &Policy::default());
    // datapoints 10, 11, 12 breach: seen at the start of minute 14, serving from 15
    assert_eq!(rows[13].desired, 1);
    assert_eq!(rows[14].desired, 10);
    assert_eq!(rows[15].serving, 10);
    let s = summarize(&rows, SimPolicy::TargetTracking, &Policy::default());
    assert_eq!(s.under_provisioned_minutes, 5, "{s:?}");
}

#[test]
fn target_tracking_never_scales_in_at_zero_traffic_and_ours_does_after_the_hold() {
    let trace = step(600, 0, 10, 80);
    let tt = simulate(&trace, SimPolicy::TargetTracking, &Policy::default());
    assert_eq!(tt.last().map(|r| r.serving), Some(6));
    let ours = simulate(&trace, SimPolicy::Ours, &Policy::default());
    assert_eq!(ours.last().map(|r| r.serving), Some(1));
    // 30 quiet minutes (10..=39) are seen at the start of minute 41
    let first_in = ours.iter().position(|r| r.desired == 1);
    assert_eq!(first_in, Some(10 + 30 + 1));
}

#[test]
fn target_tracking_scales_in_after_15_low_datapoints() {
    let trace = step(600, 200, 10, 60);
    let rows = simulate(&trace, SimPolicy::TargetTracking, &Policy::default());
    // 15 datapoints below 90 % (10..=24) are seen at the start of minute 26
    assert_eq!(rows[25].desired, 6);
    assert_eq!(rows[26].desired, 2);
}

#[test]
fn with_cpu_target_tracking_runs_a_second_policy_and_scales_in_only_when_both_agree() {
    // 50 req/min throughout; CPU demand 20 % → 300 % at minute 10 → 20 % at minute 40
    let trace = Trace {
        requests: vec![50; 90],
        cpu: Some(
            (0..90)
                .map(|m| if (10..40).contains(&m) { 300.0 } else { 20.0 })
                .collect(),
        ),
    };
    let policy = Policy::default();
    let tt = simulate(&trace, SimPolicy::TargetTracking, &policy);
    // CPU 100 % on one task at 10, 11, 12: seen at 14 → ceil(1 × 100 / 70) = 2
    assert_eq!(tt[13].desired, 1);
    assert_eq!(tt[14].desired, 2);
    // the request policy wants in all along (50 < 90), but TT scales in only when CPU agrees:
    // never while the burst keeps CPU high
    assert!(
        tt[14..40].iter().all(|r| r.desired >= 2),
        "{:?}",
        &tt[14..40]
    );
    let back = tt
        .iter()
        .skip(14)
        .position(|r| r.desired == 1)
        .map(|p| p + 14);
    assert!(back.is_some_and(|m| m >= 40), "{back:?}");
    // ours scales out two minutes after CPU passes the target, and counts CPU minutes short
    let ours = simulate(&trace, SimPolicy::Ours, &policy);
    assert_eq!(cpu_reaction_minutes(&ours, &policy), Some(2));
    assert_eq!(ours[12].desired, 2, "a saturated task: at least double");
    let s = summarize(&ours, SimPolicy::Ours, &policy);
    let t = summarize(&tt, SimPolicy::TargetTracking, &policy);
    assert!(
        s.under_provisioned_minutes < t.under_provisioned_minutes,
        "{s:?} {t:?}"
    );
    // CPU off: the column is ignored by both
    let off = Policy {
        target_cpu_percent: 0,
        ..policy
    };
    assert!(
        simulate(&trace, SimPolicy::Ours, &off)
            .iter()
            .all(|r| r.desired == 1)
    );
    assert!(
        simulate(&trace, SimPolicy::TargetTracking, &off)
            .iter()
            .all(|r| r.desired == 1)
    );
}

#[test]
fn scale_actions_and_task_minutes_add_up() {
    let trace = Trace {
        requests: vec![100; 10],
        cpu: None,
    };
    let rows = simulate(&trace, SimPolicy::Ours, &Policy::default());
    let s = summarize(&rows, SimPolicy::Ours, &Policy::default());
    assert_eq!(
        (s.task_minutes, s.scale_actions, s.under_provisioned_minutes),
        (10, 0, 0)
    );
    assert!(rows_csv(&rows).starts_with("minute,requests,desired,serving\n0,100,1,1\n"));
}

#[test]
fn an_empty_or_odd_trace_does_not_panic() {
    let policy = Policy::default();
    assert!(simulate(&Trace::default(), SimPolicy::Ours, &policy).is_empty());
    let odd = Trace {
        requests: vec![u64::MAX, 0, u64::MAX],
        cpu: Some(vec![1e9]),
    };
    for which in [
        SimPolicy::Ours,
        SimPolicy::OursWithoutForecast,
        SimPolicy::TargetTracking,
    ] {
        assert_eq!(simulate(&odd, which, &policy).len(), 3);
        assert_eq!(simulate(&odd.cut(2), which, &policy).len(), 2);
    }
}
