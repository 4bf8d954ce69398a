//! The scaling rule. Pure: the same observation and policy always give the same decision, so the
//! handler, the simulator and the benchmarks all run exactly this code.
//!
//! - Need for a minute = `ceil(requests / target)`, clamped to `[min, max]`.
//! - **Scale out at once** to what the newest minutes need (complete minutes, and the minutes
//!   that may still be incomplete, which are trusted only when they are high).
//! - **Scale in** only when every minute of the stabilization window is low, and only down to
//!   what the busiest minute of that window needs; never during a deployment.
//! - The result is a desired count to *set* (never an increment), so two evaluations of the same
//!   data agree and a repeated run changes nothing.

use serde::Serialize;

/// The knobs, from config (`TARGET_REQUESTS_PER_TASK`, `MIN_TASKS`, `MAX_TASKS`,
/// `SCALE_IN_STABILIZATION_MINUTES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// Requests per minute one task is meant to serve.
    pub target_per_task: u32,
    pub min_tasks: u32,
    pub max_tasks: u32,
    /// Minutes the load must stay low before scaling in.
    pub stabilization_minutes: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            target_per_task: 100,
            min_tasks: 1,
            max_tasks: 10,
            stabilization_minutes: 5,
        }
    }
}

impl Policy {
    /// Tasks needed for `requests` in one minute, before clamping.
    pub fn raw_need(&self, requests: u64) -> u64 {
        requests.div_ceil(u64::from(self.target_per_task.max(1)))
    }

    /// Tasks needed for `requests` in one minute, clamped to `[min, max]`.
    pub fn need(&self, requests: u64) -> u32 {
        let raw = self.raw_need(requests);
        let clamped = raw.clamp(u64::from(self.min_tasks), u64::from(self.max_tasks));
        u32::try_from(clamped).unwrap_or(self.max_tasks)
    }

    /// Minutes of complete data the rule looks at.
    pub fn window_minutes(&self) -> usize {
        self.stabilization_minutes.max(1) as usize
    }
}

/// What the rule sees.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Observation {
    /// Requests of each complete minute, oldest first, newest last; a minute with no datapoint is
    /// 0 (the ALB publishes nothing when there is no traffic).
    pub complete: Vec<u64>,
    /// Requests counted so far in minutes that may still be incomplete (the current minute, a
    /// minute CloudWatch has not finished publishing). Trusted only as a lower bound.
    pub partial: Vec<u64>,
    /// The service's desiredCount now.
    pub desired: u32,
    pub running: u32,
    pub pending: u32,
    /// A deployment is rolling out (more than one deployment, or the primary still in progress).
    pub deployment_in_progress: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    ScaleOut,
    ScaleIn,
    Hold,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::ScaleOut => "scale-out",
            Verdict::ScaleIn => "scale-in",
            Verdict::Hold => "hold",
        }
    }
}

/// The decision, with its numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub verdict: Verdict,
    /// The desiredCount to set (equal to the current one for `Hold`).
    pub desired: u32,
    pub previous: u32,
    /// Requests of the newest minute the rule trusts for scaling out.
    pub newest_requests: u64,
    /// Busiest minute of the stabilization window (partial minutes included).
    pub window_peak: u64,
    /// Tasks the newest minute needs, before clamping to max.
    pub raw_need: u64,
    /// Demand exceeds what `max_tasks` can serve.
    pub demand_exceeds_max: bool,
    /// Demand has just gone beyond max (the previous minute fitted): worth a warning, once.
    pub newly_exceeds_max: bool,
    pub reason: String,
}

impl Decision {
    pub fn changes(&self) -> bool {
        self.desired != self.previous
    }
}

/// The one scaling rule.
pub fn decide(observation: &Observation, policy: &Policy) -> Decision {
    let target = policy.target_per_task.max(1);
    let newest_complete = observation.complete.last().copied().unwrap_or(0);
    let newest_partial = observation.partial.iter().copied().max().unwrap_or(0);
    let newest = newest_complete.max(newest_partial);
    let window = policy.window_minutes();
    let complete_window = &observation.complete
        [observation.complete.len().saturating_sub(window)..observation.complete.len()];
    let window_peak = complete_window
        .iter()
        .copied()
        .max()
        .unwrap_or(0)
        .max(newest_partial);
    let window_is_full = complete_window.len() >= window;

    let previous = observation.desired;
    let out_need = policy.need(newest);
    let in_need = policy.need(window_peak);
    let raw_need = policy.raw_need(newest);
    let demand_exceeds_max = raw_need > u64::from(policy.max_tasks);
    let before_newest = observation
        .complete
        .len()
        .checked_sub(2)
        .and_then(|i| observation.complete.get(i))
        .copied()
        .unwrap_or(0);
    let newly_exceeds_max =
        demand_exceeds_max && policy.raw_need(before_newest) <= u64::from(policy.max_tasks);
    let numbers = format!(
        "newest minute {newest} req → {raw_need} task(s) at {target}/task; \
         peak of the last {window} min {window_peak} req → {in_need} task(s); \
         desired {previous}, running {}, pending {}",
        observation.running, observation.pending
    );

    let (verdict, desired, why) = if out_need > previous {
        let why = if previous < policy.min_tasks {
            format!("below the minimum of {}", policy.min_tasks)
        } else if demand_exceeds_max {
            format!("demand exceeds the maximum of {} task(s)", policy.max_tasks)
        } else {
            "demand above capacity".to_owned()
        };
        (Verdict::ScaleOut, out_need, why)
    } else if previous > policy.max_tasks {
        (
            Verdict::ScaleIn,
            policy.max_tasks,
            format!("above the maximum of {}", policy.max_tasks),
        )
    } else if in_need < previous {
        if observation.deployment_in_progress {
            (
                Verdict::Hold,
                previous,
                "load is low but a deployment is in progress: no scale-in".to_owned(),
            )
        } else if !window_is_full {
            (
                Verdict::Hold,
                previous,
                format!(
                    "load is low but only {} of {window} minutes are known",
                    complete_window.len()
                ),
            )
        } else {
            (
                Verdict::ScaleIn,
                in_need,
                format!("load stayed low for {window} min"),
            )
        }
    } else if demand_exceeds_max {
        (
            Verdict::Hold,
            previous,
            format!(
                "at the maximum of {} task(s) while demand needs {raw_need}",
                policy.max_tasks
            ),
        )
    } else if out_need < previous {
        (
            Verdict::Hold,
            previous,
            format!(
                "demand fell, but the busiest minute of the last {window} min still needs {in_need} task(s)"
            ),
        )
    } else {
        (
            Verdict::Hold,
            previous,
            "capacity matches demand".to_owned(),
        )
    };
    Decision {
        verdict,
        desired,
        previous,
        newest_requests: newest,
        window_peak,
        raw_need,
        demand_exceeds_max,
        newly_exceeds_max,
        reason: format!("{why}: {numbers}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(complete: &[u64], desired: u32) -> Observation {
        Observation {
            complete: complete.to_vec(),
            partial: Vec::new(),
            desired,
            running: desired,
            pending: 0,
            deployment_in_progress: false,
        }
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

    #[test]
    fn decision_table() {
        use Verdict::*;
        let cases = vec![
            case(
                "steady at target",
                obs(&[200, 200, 200, 200, 200], 2),
                Hold,
                2,
            ),
            case(
                "spike scales out at once",
                obs(&[50, 50, 50, 50, 1200], 1),
                ScaleOut,
                10,
            ),
            case(
                "spike to 750 needs 8",
                obs(&[50, 50, 50, 50, 750], 1),
                ScaleOut,
                8,
            ),
            case(
                "one over the line needs one more",
                obs(&[100, 100, 100, 100, 101], 1),
                ScaleOut,
                2,
            ),
            case(
                "exactly on the line holds",
                obs(&[100, 100, 100, 100, 100], 1),
                Hold,
                1,
            ),
            case(
                "ramp step by step",
                obs(&[100, 150, 200, 250, 310], 3),
                ScaleOut,
                4,
            ),
            case(
                "flapping around the threshold never scales in",
                obs(&[99, 101, 99, 101, 99], 2),
                Hold,
                2,
            ),
            case(
                "low for the whole window scales in",
                obs(&[90, 80, 70, 60, 50], 4),
                ScaleIn,
                1,
            ),
            case(
                "scale in only to the window's peak",
                obs(&[300, 120, 80, 60, 50], 5),
                ScaleIn,
                3,
            ),
            case(
                "a busy minute still in the window holds",
                obs(&[1200, 0, 0, 0, 0], 10),
                Hold,
                10,
            ),
            case(
                "one busy minute in the window blocks a deeper scale-in",
                obs(&[10, 10, 450, 10, 10], 5),
                Hold,
                5,
            ),
            case(
                "zero traffic scales in to min",
                obs(&[0, 0, 0, 0, 0], 6),
                ScaleIn,
                1,
            ),
            case(
                "at max while demand exceeds it holds",
                obs(&[1500, 1500, 1500, 1500, 1500], 10),
                Hold,
                10,
            ),
            case(
                "min above current scales out",
                obs(&[0, 0, 0, 0, 0], 0),
                ScaleOut,
                1,
            ),
            case("short history: no scale-in yet", obs(&[0, 0], 3), Hold, 3),
            case(
                "short history: scale-out still works",
                obs(&[500], 1),
                ScaleOut,
                5,
            ),
            case(
                "above max comes back to max",
                obs(&[2000, 2000, 2000, 2000, 2000], 14),
                ScaleIn,
                10,
            ),
        ];
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
    fn a_higher_min_is_respected_at_zero_traffic() {
        let policy = Policy {
            min_tasks: 2,
            ..Policy::default()
        };
        let d = decide(&obs(&[0, 0, 0, 0, 0], 6), &policy);
        assert_eq!((d.verdict, d.desired), (Verdict::ScaleIn, 2));
        let d = decide(&obs(&[0, 0, 0, 0, 0], 1), &policy);
        assert_eq!(
            (d.verdict, d.desired),
            (Verdict::ScaleOut, 2),
            "{}",
            d.reason
        );
        assert!(d.reason.contains("below the minimum of 2"), "{}", d.reason);
    }

    #[test]
    fn an_incomplete_newest_minute_is_trusted_only_when_high() {
        // A low partial minute does not pull a scale-in forward …
        let mut o = obs(&[400, 400, 400, 400, 400], 4);
        o.partial = vec![3];
        let d = decide(&o, &Policy::default());
        assert_eq!((d.verdict, d.desired), (Verdict::Hold, 4), "{}", d.reason);
        // … and it keeps a low window from scaling in when it is already busy …
        let mut o = obs(&[10, 10, 10, 10, 10], 4);
        o.partial = vec![350];
        let d = decide(&o, &Policy::default());
        assert_eq!((d.verdict, d.desired), (Verdict::Hold, 4), "{}", d.reason);
        // … and a high one scales out before the minute is over.
        let mut o = obs(&[100, 100, 100, 100, 100], 1);
        o.partial = vec![20, 640];
        let d = decide(&o, &Policy::default());
        assert_eq!(
            (d.verdict, d.desired),
            (Verdict::ScaleOut, 7),
            "{}",
            d.reason
        );
    }

    #[test]
    fn no_scale_in_during_a_deployment_but_scale_out_still_happens() {
        let mut o = obs(&[0, 0, 0, 0, 0], 4);
        o.deployment_in_progress = true;
        let d = decide(&o, &Policy::default());
        assert_eq!((d.verdict, d.desired), (Verdict::Hold, 4));
        assert!(d.reason.contains("deployment"), "{}", d.reason);
        let mut o = obs(&[0, 0, 0, 0, 900], 4);
        o.deployment_in_progress = true;
        let d = decide(&o, &Policy::default());
        assert_eq!((d.verdict, d.desired), (Verdict::ScaleOut, 9));
    }

    #[test]
    fn exceeding_max_is_flagged_once_when_it_begins() {
        let d = decide(&obs(&[50, 50, 50, 50, 1200], 1), &Policy::default());
        assert!(d.demand_exceeds_max && d.newly_exceeds_max);
        assert_eq!(d.raw_need, 12);
        let d = decide(&obs(&[50, 50, 50, 1200, 1300], 10), &Policy::default());
        assert!(d.demand_exceeds_max && !d.newly_exceeds_max);
        assert_eq!(d.verdict, Verdict::Hold);
    }

    #[test]
    fn every_decision_gives_its_numbers() {
        let d = decide(&obs(&[50, 50, 50, 50, 1200], 1), &Policy::default());
        assert!(d.reason.contains("1200 req"), "{}", d.reason);
        assert!(d.reason.contains("12 task(s) at 100/task"), "{}", d.reason);
        assert!(d.reason.contains("desired 1"), "{}", d.reason);
    }

    #[test]
    fn the_same_data_gives_the_same_answer_and_a_second_run_holds() {
        let o = obs(&[50, 50, 50, 50, 700], 1);
        let first = decide(&o, &Policy::default());
        assert_eq!(first, decide(&o, &Policy::default()));
        let after = Observation {
            desired: first.desired,
            ..o
        };
        assert_eq!(decide(&after, &Policy::default()).verdict, Verdict::Hold);
    }

    #[test]
    fn a_target_of_zero_is_treated_as_one() {
        let policy = Policy {
            target_per_task: 0,
            ..Policy::default()
        };
        assert_eq!(policy.raw_need(5), 5);
    }
}
