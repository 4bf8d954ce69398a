//! Replays a traffic trace through a scaling policy with the delays a real deployment has, so
//! our rule can be compared with AWS target tracking on the same traffic. Pure.
//!
//! Timing model (one step per minute `t`):
//! - the ALB's datapoint for minute `m` is published one minute late: the evaluation at the start
//!   of minute `t` sees minutes `..= t - 2`;
//! - one evaluation per minute;
//! - a task asked for at the start of minute `t` serves from minute `t + 1` (and a task removed
//!   at `t` stops serving at `t + 1`).
//!
//! Minute `m` is *under-provisioned* when `requests[m] > target × serving[m]`.

use serde::Serialize;

use crate::decide::{Observation, Policy, decide};

/// Which rule drives the simulated service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SimPolicy {
    /// This crate's [`decide`].
    Ours,
    /// A model of AWS target tracking on `ALBRequestCountPerTarget`.
    TargetTracking,
}

impl SimPolicy {
    pub fn name(self) -> &'static str {
        match self {
            SimPolicy::Ours => "ours",
            SimPolicy::TargetTracking => "target-tracking",
        }
    }
}

/// The AWS target-tracking model: the alarms target tracking creates, and its cooldowns.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TargetTrackingModel {
    /// Consecutive breaching datapoints before scaling out (AWS: 3 of 3).
    pub out_datapoints: usize,
    /// Consecutive low datapoints before scaling in (AWS: 15 of 15).
    pub in_datapoints: usize,
    /// Scale-in alarm threshold as a fraction of the target (AWS: 90 %).
    pub in_threshold: f64,
    pub scale_out_cooldown_minutes: usize,
    pub scale_in_cooldown_minutes: usize,
}

impl Default for TargetTrackingModel {
    fn default() -> Self {
        TargetTrackingModel {
            out_datapoints: 3,
            in_datapoints: 15,
            in_threshold: 0.9,
            scale_out_cooldown_minutes: 5,
            scale_in_cooldown_minutes: 5,
        }
    }
}

/// One simulated minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Row {
    pub minute: usize,
    pub requests: u64,
    /// desiredCount after this minute's evaluation.
    pub desired: u32,
    /// Tasks serving during this minute.
    pub serving: u32,
}

/// The figures that compare two policies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub policy: SimPolicy,
    pub minutes: usize,
    /// Minutes with `requests > target × serving`.
    pub under_provisioned_minutes: usize,
    /// Σ serving tasks over all minutes.
    pub task_minutes: u64,
    /// Requests above capacity, summed over the under-provisioned minutes.
    pub excess_requests: u64,
    /// Longest run of consecutive under-provisioned minutes: the time from a spike to enough
    /// capacity in the worst case.
    pub worst_catch_up_minutes: usize,
    /// Changes of desiredCount.
    pub scale_actions: usize,
}

/// Parses a `minute,requests` CSV (a header line and `#` comments are allowed). Minutes must
/// start at 0 and follow each other; errors name the line.
pub fn parse_trace(text: &str) -> Result<Vec<u64>, String> {
    let mut requests = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        let number = index + 1;
        if line.is_empty() || line.starts_with('#') || line.starts_with("minute") {
            continue;
        }
        let mut parts = line.split(',').map(str::trim);
        let (Some(minute), Some(count), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!(
                "line {number}: expected `minute,requests`, got `{line}`"
            ));
        };
        let minute: usize = minute
            .parse()
            .map_err(|_| format!("line {number}: minute `{minute}` is not a whole number"))?;
        let count: u64 = count
            .parse()
            .map_err(|_| format!("line {number}: requests `{count}` is not a whole number ≥ 0"))?;
        if minute != requests.len() {
            return Err(format!(
                "line {number}: minute {minute} out of order (expected {})",
                requests.len()
            ));
        }
        requests.push(count);
    }
    if requests.is_empty() {
        return Err("the trace has no `minute,requests` rows".to_owned());
    }
    Ok(requests)
}

/// Replays `trace` through `which` and returns one row per minute.
pub fn simulate(trace: &[u64], which: SimPolicy, policy: &Policy) -> Vec<Row> {
    let model = TargetTrackingModel::default();
    let Some(&first) = trace.first() else {
        return Vec::new();
    };
    // Both policies start right-sized for the first minute.
    let mut desired = policy.need(first);
    let mut serving = desired;
    let mut rows: Vec<Row> = Vec::with_capacity(trace.len());
    let mut cooldowns = Cooldowns::default();
    for (t, &requests) in trace.iter().enumerate() {
        // the minutes whose datapoint is published: `..= t - 2`
        let visible = &trace[..t.saturating_sub(1)];
        desired = match which {
            SimPolicy::Ours => {
                let keep = policy.window_minutes() + 2;
                let observation = Observation {
                    complete: visible[visible.len().saturating_sub(keep)..].to_vec(),
                    partial: Vec::new(),
                    desired,
                    running: serving,
                    pending: desired.saturating_sub(serving),
                    deployment_in_progress: false,
                };
                decide(&observation, policy).desired
            }
            SimPolicy::TargetTracking => target_tracking(
                &rows[..visible.len()],
                desired,
                policy,
                &model,
                t,
                &mut cooldowns,
            ),
        };
        rows.push(Row {
            minute: t,
            requests,
            desired,
            serving,
        });
        serving = desired;
    }
    rows
}

/// When the target-tracking model last scaled out and in (minute of the evaluation).
#[derive(Debug, Default)]
struct Cooldowns {
    last_out: Option<usize>,
    last_in: Option<usize>,
}

/// One evaluation of the target-tracking model at the start of minute `t`, seeing the published
/// minutes `visible` (requests and the tasks that served them).
fn target_tracking(
    visible: &[Row],
    desired: u32,
    policy: &Policy,
    model: &TargetTrackingModel,
    t: usize,
    cooldowns: &mut Cooldowns,
) -> u32 {
    let target = f64::from(policy.target_per_task.max(1));
    // ALBRequestCountPerTarget for a visible minute; None when the ALB published nothing.
    let per_target = |m: usize| -> Option<f64> {
        let row = &visible[m];
        (row.requests > 0).then(|| row.requests as f64 / f64::from(row.serving.max(1)))
    };
    let last_n = |n: usize| -> Option<Vec<f64>> {
        if visible.len() < n {
            return None;
        }
        (visible.len() - n..visible.len()).map(per_target).collect()
    };
    let cooling = |last: &Option<usize>, minutes: usize| last.is_some_and(|at| t < at + minutes);
    let newest = visible.len().checked_sub(1);
    let proposed = |m: usize| -> u32 {
        let per = per_target(m).unwrap_or(0.0);
        let capacity = f64::from(visible[m].serving.max(1));
        let wanted = (capacity * per / target).ceil() as u32;
        wanted.clamp(policy.min_tasks, policy.max_tasks)
    };
    if let (Some(points), Some(m)) = (last_n(model.out_datapoints), newest)
        && points.iter().all(|&p| p > target)
        && !cooling(&cooldowns.last_out, model.scale_out_cooldown_minutes)
    {
        let wanted = proposed(m);
        if wanted > desired {
            cooldowns.last_out = Some(t);
            return wanted;
        }
    }
    if let (Some(points), Some(m)) = (last_n(model.in_datapoints), newest)
        && points.iter().all(|&p| p < target * model.in_threshold)
        && !cooling(&cooldowns.last_in, model.scale_in_cooldown_minutes)
        && !cooling(&cooldowns.last_out, model.scale_out_cooldown_minutes)
    {
        let wanted = proposed(m);
        if wanted < desired {
            cooldowns.last_in = Some(t);
            return wanted;
        }
    }
    desired.max(policy.min_tasks)
}

/// The figures for a replay.
pub fn summarize(rows: &[Row], which: SimPolicy, policy: &Policy) -> Summary {
    let target = u64::from(policy.target_per_task.max(1));
    let mut under = 0;
    let mut excess = 0;
    let mut streak = 0;
    let mut worst = 0;
    let mut actions = 0;
    let mut previous: Option<u32> = None;
    for row in rows {
        let capacity = target * u64::from(row.serving);
        if row.requests > capacity {
            under += 1;
            excess += row.requests - capacity;
            streak += 1;
            worst = worst.max(streak);
        } else {
            streak = 0;
        }
        if previous.is_some_and(|p| p != row.desired) {
            actions += 1;
        }
        previous = Some(row.desired);
    }
    Summary {
        policy: which,
        minutes: rows.len(),
        under_provisioned_minutes: under,
        task_minutes: rows.iter().map(|r| u64::from(r.serving)).sum(),
        excess_requests: excess,
        worst_catch_up_minutes: worst,
        scale_actions: actions,
    }
}

/// `minute,requests,desired,serving` lines with a header.
pub fn rows_csv(rows: &[Row]) -> String {
    let mut out = String::from("minute,requests,desired,serving\n");
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{}\n",
            r.minute, r.requests, r.desired, r.serving
        ));
    }
    out
}

/// A Markdown table comparing ours with target tracking, one row per trace.
pub fn summary_table(rows: &[(String, Summary, Summary)]) -> String {
    let mut out = String::from(
        "| trace | minutes | under-provisioned min (ours / TT) | task-minutes (ours / TT, Δ) | worst catch-up min (ours / TT) | scale actions (ours / TT) |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    for (name, ours, tt) in rows {
        let delta = if tt.task_minutes == 0 {
            0.0
        } else {
            (ours.task_minutes as f64 / tt.task_minutes as f64 - 1.0) * 100.0
        };
        out.push_str(&format!(
            "| {name} | {} | {} / {} | {} / {} ({delta:+.1} %) | {} / {} | {} / {} |\n",
            ours.minutes,
            ours.under_provisioned_minutes,
            tt.under_provisioned_minutes,
            ours.task_minutes,
            tt.task_minutes,
            ours.worst_catch_up_minutes,
            tt.worst_catch_up_minutes,
            ours.scale_actions,
            tt.scale_actions,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(before: u64, after: u64, at: usize, len: usize) -> Vec<u64> {
        (0..len)
            .map(|m| if m < at { before } else { after })
            .collect()
    }

    #[test]
    fn parse_accepts_header_and_comments_and_names_bad_lines() {
        assert_eq!(
            parse_trace("# spike\nminute,requests\n0,5\n1,7\n"),
            Ok(vec![5, 7])
        );
        let e = parse_trace("minute,requests\n0,5\n2,7\n").expect_err("invalid");
        assert!(e.contains("line 3") && e.contains("out of order"), "{e}");
        let e = parse_trace("0,-4\n").expect_err("invalid");
        assert!(e.contains("line 1") && e.contains("-4"), "{e}");
        let e = parse_trace("0,1,2\n").expect_err("invalid");
        assert!(e.contains("expected `minute,requests`"), "{e}");
        assert!(parse_trace("minute,requests\n").is_err());
    }

    #[test]
    fn ours_serves_a_step_two_minutes_after_it_is_published() {
        let trace = step(50, 1_000, 10, 30);
        let rows = simulate(&trace, SimPolicy::Ours, &Policy::default());
        // minute 10 is seen at the start of minute 12, asked then, serving from minute 13
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
    fn target_tracking_never_scales_in_at_zero_traffic_and_ours_does() {
        let trace = step(600, 0, 10, 60);
        let tt = simulate(&trace, SimPolicy::TargetTracking, &Policy::default());
        assert_eq!(tt.last().map(|r| r.serving), Some(6));
        let ours = simulate(&trace, SimPolicy::Ours, &Policy::default());
        assert_eq!(ours.last().map(|r| r.serving), Some(1));
        // the window (5 minutes) must be all zero, seen one minute late, then one more minute
        let first_in = ours
            .iter()
            .position(|r| r.desired == 1)
            .unwrap_or(usize::MAX);
        assert_eq!(first_in, 10 + 5 + 1);
    }

    #[test]
    fn scale_actions_and_task_minutes_add_up() {
        let trace = vec![100; 10];
        let rows = simulate(&trace, SimPolicy::Ours, &Policy::default());
        let s = summarize(&rows, SimPolicy::Ours, &Policy::default());
        assert_eq!(
            (s.task_minutes, s.scale_actions, s.under_provisioned_minutes),
            (10, 0, 0)
        );
        assert!(rows_csv(&rows).starts_with("minute,requests,desired,serving\n0,100,1,1\n"));
    }
}
