//! Table tests of the scaling rule (`decide::decide`): one row per case, each naming what it
//! shows; a failing row prints the decision's own reason.

use crate::decide::{
    Basis, CpuSample, Decision, Hold, Minute, ONE_TASK_STEP_MINUTES, Observation, Policy, Signal,
    TRAFFIC_STOP_HOLD_MINUTES, Verdict, decide,
};
use crate::forecast::{DAY_LEVEL_MINUTES, DAY_WINDOW_MINUTES, DayWindow};

fn obs(requests: &[u64], desired: u32) -> Observation {
    Observation {
        minutes: requests
            .iter()
            .map(|&r| Minute {
                requests: r,
                cpu: None,
            })
            .collect(),
        partial: Vec::new(),
        previous_days: Vec::new(),
        desired,
        running: desired,
        pending: 0,
        deployment_in_progress: false,
    }
}

/// `n` minutes at `value`, then `tail`.
fn flat_then(value: u64, n: usize, tail: &[u64]) -> Vec<u64> {
    let mut v = vec![value; n];
    v.extend_from_slice(tail);
    v
}

fn with_cpu(mut o: Observation, percent: &[f64], tasks: u32) -> Observation {
    let from = o.minutes.len() - percent.len();
    for (m, p) in o.minutes[from..].iter_mut().zip(percent) {
        m.cpu = Some(CpuSample { percent: *p, tasks });
    }
    o
}

struct Case {
    name: &'static str,
    observation: Observation,
    policy: Policy,
    verdict: Verdict,
    desired: u32,
}

fn case(name: &'static str, observation: Observation, verdict: Verdict, desired: u32) -> Case {
    Case {
        name,
        observation,
        policy: Policy::default(),
        verdict,
        desired,
    }
}

fn out(signal: Signal, basis: Basis) -> Verdict {
    Verdict::ScaleOut { signal, basis }
}

fn check(cases: Vec<Case>) {
    let mut failures = Vec::new();
    for c in &cases {
        let d = decide(&c.observation, &c.policy);
        if d.verdict != c.verdict || d.desired != c.desired {
            failures.push(format!(
                "{}: got {:?} {} want {:?} {} ({})",
                c.name, d.verdict, d.desired, c.verdict, c.desired, d.reason
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn scale_out_table() {
    use Basis::*;
    use Signal::*;
    let ramp: Vec<u64> = (0..20).map(|m| 100 + 20 * m).collect(); // … 440, 460, 480
    let cases = vec![
        case(
            "steady at target",
            obs(&[200; 10], 2),
            Verdict::Hold(Hold::Steady),
            2,
        ),
        case(
            "spike scales out at once",
            obs(&flat_then(50, 9, &[1200]), 1),
            out(Requests, Newest),
            10,
        ),
        case(
            "spike to 750 needs 8",
            obs(&flat_then(50, 9, &[750]), 1),
            out(Requests, Newest),
            8,
        ),
        case(
            "one over the line needs one more",
            obs(&flat_then(100, 9, &[101]), 1),
            out(Requests, Newest),
            2,
        ),
        case(
            "exactly on the line holds",
            obs(&[100; 10], 1),
            Verdict::Hold(Hold::Steady),
            1,
        ),
        // +20/min: the newest (480) needs 5, in 3 minutes 540 → 6
        case(
            "a steady rise is met where it will be",
            obs(&ramp, 5),
            out(Requests, Trend),
            6,
        ),
        case(
            "at max while demand exceeds it holds",
            obs(&[1500; 10], 10),
            Verdict::Hold(Hold::AtMaximum),
            10,
        ),
        case(
            "short history: scale-out still works",
            obs(&[500], 1),
            out(Requests, Newest),
            5,
        ),
        case(
            "parked: a spike changes nothing",
            obs(&flat_then(50, 9, &[1200]), 0),
            Verdict::Parked,
            0,
        ),
        case(
            "parked: nothing at all changes nothing",
            obs(&[], 0),
            Verdict::Parked,
            0,
        ),
        case(
            "above max comes back to max",
            obs(&[2000; 10], 14),
            Verdict::AboveMaximum,
            10,
        ),
        Case {
            name: "below the minimum scales out to it",
            policy: Policy {
                min_tasks: 2,
                ..Policy::default()
            },
            ..case("", obs(&[0; 10], 1), Verdict::BelowMinimum, 2)
        },
        case(
            "CPU at 90 % of 2 tasks needs 3 at 70 %",
            with_cpu(obs(&[20; 10], 2), &[90.0], 2),
            out(Cpu, Newest),
            3,
        ),
        case(
            "a saturated task hides its demand: at least double",
            with_cpu(obs(&[20; 10], 2), &[100.0], 2),
            out(Cpu, Newest),
            4,
        ),
        Case {
            name: "CPU off: only requests count",
            policy: Policy {
                target_cpu_percent: 0,
                ..Policy::default()
            },
            ..case(
                "",
                with_cpu(obs(&[20; 10], 2), &[100.0], 2),
                Verdict::ScaleIn { waited_minutes: 8 },
                1,
            )
        },
        case(
            "requests need more than CPU: requests drive",
            with_cpu(obs(&flat_then(50, 9, &[600]), 2), &[80.0], 2),
            out(Requests, Newest),
            6,
        ),
    ];
    check(cases);
}

#[test]
fn scale_in_table() {
    let one_step = ONE_TASK_STEP_MINUTES;
    let cases = vec![
        case(
            "flapping around the threshold never scales in",
            obs(&[99, 101, 99, 101, 99, 101, 99, 101, 99], 2),
            Verdict::Hold(Hold::Stabilizing {
                wait_minutes: one_step,
                busiest_need: 2,
            }),
            2,
        ),
        case(
            "low for the whole window scales in by more than one",
            obs(&flat_then(400, 5, &[90, 80, 70, 60, 50]), 4),
            Verdict::ScaleIn { waited_minutes: 5 },
            1,
        ),
        case(
            "scale in only to the window's peak",
            obs(&flat_then(500, 5, &[300, 120, 80, 60, 50]), 5),
            Verdict::ScaleIn { waited_minutes: 5 },
            3,
        ),
        case(
            "a one-task step waits longer",
            obs(&flat_then(300, 5, &[200; 6]), 3),
            Verdict::Hold(Hold::Stabilizing {
                wait_minutes: one_step,
                busiest_need: 3,
            }),
            3,
        ),
        case(
            "a one-task step after its wait",
            obs(&flat_then(300, 5, &vec![200; one_step]), 3),
            Verdict::ScaleIn {
                waited_minutes: one_step,
            },
            2,
        ),
        case(
            "a busy minute in the window holds",
            obs(&flat_then(10, 5, &[1200, 20, 20, 20, 20]), 10),
            Verdict::Hold(Hold::Stabilizing {
                wait_minutes: one_step,
                busiest_need: 10,
            }),
            10,
        ),
        case(
            "one busy minute blocks a deeper scale-in",
            obs(&flat_then(10, 5, &[10, 10, 450, 10, 10]), 5),
            Verdict::Hold(Hold::Stabilizing {
                wait_minutes: one_step,
                busiest_need: 5,
            }),
            5,
        ),
        case(
            "short history: no scale-in yet",
            obs(&[0, 0], 3),
            Verdict::Hold(Hold::NotEnoughData {
                known: 2,
                needed: 5,
            }),
            3,
        ),
        case(
            "no traffic ever: scales in to min after the window",
            obs(&[0; 10], 6),
            Verdict::ScaleIn { waited_minutes: 5 },
            1,
        ),
        case(
            "traffic just stopped: capacity held",
            obs(&flat_then(600, 10, &[0; 10]), 6),
            Verdict::Hold(Hold::TrafficStopped { quiet_minutes: 10 }),
            6,
        ),
        case(
            "traffic stopped long ago: back to min",
            obs(&flat_then(600, 10, &vec![0; TRAFFIC_STOP_HOLD_MINUTES]), 6),
            Verdict::ScaleIn { waited_minutes: 5 },
            1,
        ),
        case(
            "a load that dipped and came back waits longer",
            // 500 → 100 for 12 min → 500 → now 100 for 10 min: the dip of 12 sets the wait to 14
            obs(
                &[&[500; 5][..], &[100; 12], &[500; 5], &[100; 10]].concat(),
                5,
            ),
            Verdict::Hold(Hold::Stabilizing {
                wait_minutes: 14,
                busiest_need: 5,
            }),
            5,
        ),
        case(
            "CPU still busy: no scale-in on requests alone",
            with_cpu(obs(&[20; 10], 4), &[60.0; 10], 4),
            Verdict::Hold(Hold::Steady),
            4,
        ),
        case(
            "CPU and requests both low: scales in",
            with_cpu(obs(&[20; 10], 4), &[10.0; 10], 4),
            Verdict::ScaleIn { waited_minutes: 5 },
            1,
        ),
    ];
    check(cases);
}

#[test]
fn no_scale_in_during_a_deployment_but_scale_out_still_happens() {
    let mut o = obs(&[0; 10], 4);
    o.deployment_in_progress = true;
    let d = decide(&o, &Policy::default());
    assert_eq!(
        (d.verdict.clone(), d.desired),
        (Verdict::Hold(Hold::DeploymentInProgress), 4)
    );
    assert!(d.reason.contains("deployment"), "{}", d.reason);
    let mut o = obs(&flat_then(0, 9, &[900]), 4);
    o.deployment_in_progress = true;
    let d = decide(&o, &Policy::default());
    assert_eq!((d.verdict.name(), d.desired), ("scale-out", 9));
}

#[test]
fn an_incomplete_newest_minute_is_trusted_only_when_high() {
    // A low partial minute does not pull a scale-in forward …
    let mut o = obs(&[400; 10], 4);
    o.partial = vec![3];
    let d = decide(&o, &Policy::default());
    assert_eq!((d.verdict.name(), d.desired), ("hold", 4), "{}", d.reason);
    // … it keeps a low window from scaling in when it is already busy …
    let mut o = obs(&[10; 10], 4);
    o.partial = vec![350];
    let d = decide(&o, &Policy::default());
    assert_eq!((d.verdict.name(), d.desired), ("hold", 4), "{}", d.reason);
    // … and a high one scales out before the minute is over.
    let mut o = obs(&[100; 10], 1);
    o.partial = vec![20, 640];
    let d = decide(&o, &Policy::default());
    assert_eq!(
        (d.verdict.name(), d.desired),
        ("scale-out", 7),
        "{}",
        d.reason
    );
}

fn day(days_ago: u32, then: u64, ahead: u64) -> DayWindow {
    let mut requests = vec![then; DAY_LEVEL_MINUTES];
    requests.extend(vec![ahead; DAY_WINDOW_MINUTES - DAY_LEVEL_MINUTES]);
    DayWindow { days_ago, requests }
}

#[test]
fn a_rise_that_happens_every_day_is_provisioned_ahead() {
    let mut o = obs(&[200; 20], 2);
    o.previous_days = vec![day(1, 200, 700), day(2, 190, 690)];
    let d = decide(&o, &Policy::default());
    assert_eq!(
        (d.verdict.clone(), d.desired),
        (out(Signal::Requests, Basis::DailyPattern), 7),
        "{}",
        d.reason
    );
    assert!(d.reason.contains("the last 2 days agree"), "{}", d.reason);
    assert_eq!(d.driven_by().as_deref(), Some("requests (daily pattern)"));
    // the days disagree: no anticipation, and the reason says why
    o.previous_days = vec![day(1, 200, 700), day(2, 200, 200)];
    let d = decide(&o, &Policy::default());
    assert_eq!((d.verdict.name(), d.desired), ("hold", 2), "{}", d.reason);
    assert!(d.reason.contains("disagree"), "{}", d.reason);
    // a forecast never scales in by itself: a falling day does not lower the count
    o.previous_days = vec![day(1, 200, 50)];
    assert_eq!(decide(&o, &Policy::default()).desired, 2);
}

#[test]
fn exceeding_max_is_flagged_once_when_it_begins() {
    let d = decide(&obs(&flat_then(50, 9, &[1200]), 1), &Policy::default());
    assert!(d.demand_exceeds_max && d.newly_exceeds_max);
    assert_eq!(d.raw_need, 12);
    let d = decide(
        &obs(&flat_then(50, 8, &[1200, 1300]), 10),
        &Policy::default(),
    );
    assert!(d.demand_exceeds_max && !d.newly_exceeds_max);
    assert_eq!(d.verdict, Verdict::Hold(Hold::AtMaximum));
}

#[test]
fn every_decision_gives_its_numbers() {
    let d = decide(&obs(&flat_then(50, 9, &[1200]), 1), &Policy::default());
    for words in [
        "1200 req",
        "12 task(s) at 100/task",
        "desired 1",
        "no daily pattern",
    ] {
        assert!(d.reason.contains(words), "{words}: {}", d.reason);
    }
    let ramp: Vec<u64> = (0..20).map(|m| 100 + 20 * m).collect();
    let d = decide(&obs(&ramp, 5), &Policy::default());
    assert!(
        d.reason
            .contains("rising +20 req/min over 15 min → 540 req in 3 min"),
        "{}",
        d.reason
    );
    assert!(
        d.reason.contains("forecast 540 req → 6 task(s)"),
        "{}",
        d.reason
    );
    let d = decide(
        &with_cpu(obs(&[20; 10], 1), &[100.0], 1),
        &Policy::default(),
    );
    assert!(
        d.reason
            .contains("CPU 100 % of 1 task(s) → 2 task(s) at 70 % (saturated"),
        "{}",
        d.reason
    );
    assert_eq!(d.driven_by().as_deref(), Some("CPU (newest minute)"));
}

#[test]
fn the_same_data_gives_the_same_answer_and_a_second_run_holds() {
    let o = obs(&flat_then(50, 9, &[700]), 1);
    let first: Decision = decide(&o, &Policy::default());
    assert_eq!(first, decide(&o, &Policy::default()));
    let after = Observation {
        desired: first.desired,
        ..o
    };
    assert_eq!(decide(&after, &Policy::default()).verdict.name(), "hold");
}

#[test]
fn odd_policies_and_values_do_not_panic() {
    let zero = Policy {
        target_per_task: 0,
        min_tasks: 0,
        max_tasks: 0,
        stabilization_minutes: 0,
        target_cpu_percent: 0,
    };
    assert_eq!(zero.raw_need(5.0), 5);
    let mut o = obs(&[u64::MAX; 70], u32::MAX);
    o.minutes[3].cpu = Some(CpuSample {
        percent: f64::NAN,
        tasks: u32::MAX,
    });
    o.partial = vec![u64::MAX];
    o.previous_days = vec![
        day(1, u64::MAX, 0),
        DayWindow {
            days_ago: 0,
            requests: vec![],
        },
    ];
    for policy in [zero, Policy::default()] {
        let d = decide(&o, &policy);
        assert!(
            d.desired <= policy.max_tasks.max(1) || d.verdict == Verdict::Parked,
            "{d:?}"
        );
    }
}
