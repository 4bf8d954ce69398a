// pure: replays a trace through a policy model minute by minute (no I/O, no clock, no async)
//! Replays a traffic trace through a scaling policy with the delays a real deployment has, so
//! our rule can be compared with AWS target tracking on the same traffic.
//!
//! Timing model (one step per minute `t`):
//! - the datapoint of minute `m` (ALB requests, ECS CPU) is published one minute late: the
//!   evaluation at the start of minute `t` sees minutes `..= t - 2`;
//! - one evaluation per minute;
//! - a task asked for at the start of minute `t` serves from minute `t + 1` (and a task removed
//!   at `t` stops serving at `t + 1`).
//!
//! A trace may carry CPU demand (`minute,requests,cpu`, in percent of one task: 250 = two and a
//! half tasks fully busy); a task then reports `min(100, demand / serving)`.
//!
//! Minute `m` is *under-provisioned* when `requests[m] > target × serving[m]`, or, with CPU,
//! when `cpu[m] > TARGET_CPU_PERCENT × serving[m]`.

use serde::Serialize;

use crate::decide::{
    Anticipation, CpuSample, HISTORY_MINUTES, Minute, Observation, Policy, decide_with,
};
use crate::forecast::{DAILY_DAYS, DAY_LEVEL_MINUTES, DAY_WINDOW_MINUTES, DayWindow};

/// Minutes in a day.
const DAY: usize = 1_440;

/// Which rule drives the simulated service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SimPolicy {
    /// This crate's [`decide`](crate::decide::decide).
    Ours,
    /// [`decide`](crate::decide::decide) without its forecasts (trend, daily pattern): what anticipation is worth.
    OursWithoutForecast,
    /// A model of AWS target tracking (`ALBRequestCountPerTarget`, and with CPU a second policy
    /// on `ECSServiceAverageCPUUtilization`).
    TargetTracking,
}

impl SimPolicy {
    pub fn name(self) -> &'static str {
        match self {
            SimPolicy::Ours => "ours",
            SimPolicy::OursWithoutForecast => "ours-without-forecast",
            SimPolicy::TargetTracking => "target-tracking",
        }
    }
}

/// A replayable trace.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Trace {
    /// Requests per minute, from minute 0.
    pub requests: Vec<u64>,
    /// CPU demand per minute in percent of one task, when the trace has a third column.
    pub cpu: Option<Vec<f64>>,
}

impl Trace {
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// The first `minutes` minutes.
    pub fn cut(&self, minutes: usize) -> Trace {
        let n = minutes.min(self.len());
        Trace {
            requests: self.requests[..n].to_vec(),
            cpu: self
                .cpu
                .as_ref()
                .map(|c| c.iter().take(n).copied().collect()),
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
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Row {
    pub minute: usize,
    pub requests: u64,
    /// CPU demand of the minute (percent of one task), when the trace has it.
    pub cpu_demand: Option<f64>,
    /// desiredCount after this minute's evaluation.
    pub desired: u32,
    /// Tasks serving during this minute.
    pub serving: u32,
}

impl Row {
    /// The CPU one task reports in this minute (`None`: no CPU, or no task serving).
    pub fn reported_cpu(&self) -> Option<f64> {
        let demand = self.cpu_demand?;
        (self.serving > 0).then(|| (demand / f64::from(self.serving)).clamp(0.0, 100.0))
    }

    /// Requests above the target, or CPU demand above the CPU target, for the tasks serving.
    pub fn under_provisioned(&self, policy: &Policy) -> bool {
        let capacity = u64::from(policy.target_per_task.max(1)) * u64::from(self.serving);
        let cpu_short = policy.target_cpu_percent > 0
            && self.cpu_demand.is_some_and(|demand| {
                demand > f64::from(policy.target_cpu_percent) * f64::from(self.serving)
            });
        self.requests > capacity || cpu_short
    }
}

/// The figures that compare two policies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub policy: SimPolicy,
    pub minutes: usize,
    /// Minutes where requests (or CPU demand) exceed the target for the serving tasks.
    pub under_provisioned_minutes: usize,
    /// Σ serving tasks over all minutes.
    pub task_minutes: u64,
    /// Requests above capacity, summed over the under-provisioned minutes.
    pub excess_requests: u64,
    /// Longest run of consecutive under-provisioned minutes.
    pub worst_catch_up_minutes: usize,
    /// Changes of desiredCount.
    pub scale_actions: usize,
}

/// Parses a `minute,requests` or `minute,requests,cpu` CSV (a header line and `#` comments are
/// allowed). Minutes must start at 0 and follow each other; every row has the same columns;
/// errors name the line.
pub fn parse_trace(text: &str) -> Result<Trace, String> {
    let mut trace = Trace::default();
    let mut columns: Option<usize> = None;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        let number = index + 1;
        if line.is_empty() || line.starts_with('#') || line.starts_with("minute") {
            continue;
        }
        let parts: Vec<&str> = line.split(',').map(str::trim).collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(format!(
                "line {number}: expected `minute,requests` or `minute,requests,cpu`, got `{line}`"
            ));
        }
        if *columns.get_or_insert(parts.len()) != parts.len() {
            return Err(format!(
                "line {number}: {} columns where earlier rows have {}",
                parts.len(),
                columns.unwrap_or_default()
            ));
        }
        let minute: usize = parts[0]
            .parse()
            .map_err(|_| format!("line {number}: minute `{}` is not a whole number", parts[0]))?;
        let requests: u64 = parts[1].parse().map_err(|_| {
            format!(
                "line {number}: requests `{}` is not a whole number ≥ 0",
                parts[1]
            )
        })?;
        if minute != trace.requests.len() {
            return Err(format!(
                "line {number}: minute {minute} out of order (expected {})",
                trace.requests.len()
            ));
        }
        trace.requests.push(requests);
        if let Some(cpu) = parts.get(2) {
            let demand: f64 = cpu
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite() && *v >= 0.0 && *v <= 1e9)
                .ok_or_else(|| {
                    format!("line {number}: cpu `{cpu}` is not a number of percent ≥ 0")
                })?;
            trace.cpu.get_or_insert_with(Vec::new).push(demand);
        }
    }
    if trace.is_empty() {
        return Err("the trace has no `minute,requests` rows".to_owned());
    }
    Ok(trace)
}

/// Replays `trace` through `which` and returns one row per minute.
pub fn simulate(trace: &Trace, which: SimPolicy, policy: &Policy) -> Vec<Row> {
    let model = TargetTrackingModel::default();
    let Some(&first) = trace.requests.first() else {
        return Vec::new();
    };
    // Both policies start right-sized for the first minute.
    let first_cpu = trace
        .cpu
        .as_ref()
        .and_then(|c| c.first())
        .map(|d| policy.raw_cpu_need(*d))
        .unwrap_or(0);
    let mut desired = policy.clamp(policy.raw_need(first as f64).max(first_cpu));
    let mut serving = desired;
    let mut rows: Vec<Row> = Vec::with_capacity(trace.len());
    let mut cooldowns = [Cooldowns::default(), Cooldowns::default()];
    for (t, &requests) in trace.requests.iter().enumerate() {
        // the minutes whose datapoints are published: `..= t - 2`
        let visible = t.saturating_sub(1);
        desired = match which {
            SimPolicy::Ours | SimPolicy::OursWithoutForecast => {
                let observation = observe(trace, &rows, visible, desired, serving);
                let anticipation = if which == SimPolicy::Ours {
                    Anticipation::ALL
                } else {
                    Anticipation::NONE
                };
                decide_with(&observation, policy, anticipation).desired
            }
            SimPolicy::TargetTracking => target_tracking(
                trace.cpu.is_some(),
                &rows[..visible],
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
            cpu_demand: trace.cpu.as_ref().and_then(|c| c.get(t)).copied(),
            desired,
            serving,
        });
        serving = desired;
    }
    rows
}

/// What the real handler would observe at the start of minute `visible + 1`: the complete
/// minutes `..visible` (the newest [`HISTORY_MINUTES`]), the same time of day on previous days,
/// and the service's counts.
fn observe(trace: &Trace, rows: &[Row], visible: usize, desired: u32, serving: u32) -> Observation {
    let from = visible.saturating_sub(HISTORY_MINUTES);
    let minutes = (from..visible)
        .map(|m| Minute {
            requests: trace.requests[m],
            cpu: rows[m].reported_cpu().map(|percent| CpuSample {
                percent,
                tasks: rows[m].serving,
            }),
        })
        .collect();
    let previous_days = (1..=DAILY_DAYS)
        .filter_map(|days_ago| {
            // `[newest - 14, newest + 10]` on that day; newest = visible - 1
            let start = visible.checked_sub(DAY_LEVEL_MINUTES + days_ago * DAY)?;
            let requests = trace
                .requests
                .get(start..start + DAY_WINDOW_MINUTES)?
                .to_vec();
            Some(DayWindow {
                days_ago: u32::try_from(days_ago).unwrap_or(u32::MAX),
                requests,
            })
        })
        .collect();
    Observation {
        minutes,
        partial: Vec::new(),
        previous_days,
        desired,
        running: serving,
        pending: desired.saturating_sub(serving),
        deployment_in_progress: false,
    }
}

/// When one target-tracking policy last scaled out and in (minute of the evaluation).
#[derive(Debug, Default, Clone, Copy)]
struct Cooldowns {
    last_out: Option<usize>,
    last_in: Option<usize>,
}

/// What one target-tracking policy proposes at minute `t`.
#[derive(Debug, Default, Clone, Copy)]
struct Proposal {
    /// Its scale-out alarm fires (and no cooldown stops it): the capacity it wants.
    out: Option<u32>,
    /// Its scale-in alarm fires (and no cooldown stops it): the capacity it wants.
    scale_in: Option<u32>,
}

/// One target-tracking policy: `metric(m)` is its metric for a visible minute (`None`: no
/// datapoint), `target` its target value.
fn tracking_policy(
    visible: &[Row],
    metric: &dyn Fn(usize) -> Option<f64>,
    target: f64,
    policy: &Policy,
    model: &TargetTrackingModel,
    t: usize,
    cooldowns: &Cooldowns,
) -> Proposal {
    let last_n = |n: usize| -> Option<Vec<f64>> {
        let from = visible.len().checked_sub(n)?;
        (from..visible.len()).map(metric).collect()
    };
    let cooling = |last: Option<usize>, minutes: usize| last.is_some_and(|at| t < at + minutes);
    let Some(newest) = visible.len().checked_sub(1) else {
        return Proposal::default();
    };
    // target tracking: capacity × metric / target, rounded up
    let wanted = || -> u32 {
        let value = metric(newest).unwrap_or(0.0);
        let capacity = f64::from(visible[newest].serving.max(1));
        policy.clamp((capacity * value / target - 1e-9).ceil().max(0.0) as u64)
    };
    let mut proposal = Proposal::default();
    if last_n(model.out_datapoints).is_some_and(|p| p.iter().all(|&v| v > target))
        && !cooling(cooldowns.last_out, model.scale_out_cooldown_minutes)
    {
        proposal.out = Some(wanted());
    }
    if last_n(model.in_datapoints)
        .is_some_and(|p| p.iter().all(|&v| v < target * model.in_threshold))
        && !cooling(cooldowns.last_in, model.scale_in_cooldown_minutes)
        && !cooling(cooldowns.last_out, model.scale_out_cooldown_minutes)
    {
        proposal.scale_in = Some(wanted());
    }
    proposal
}

/// One evaluation of the target-tracking model at the start of minute `t`: the request policy,
/// and with CPU a second policy, combined as AWS does (out when either says out, in only when
/// both say in, to the larger of their capacities).
fn target_tracking(
    has_cpu: bool,
    visible: &[Row],
    desired: u32,
    policy: &Policy,
    model: &TargetTrackingModel,
    t: usize,
    cooldowns: &mut [Cooldowns; 2],
) -> u32 {
    let requests_per_target = |m: usize| -> Option<f64> {
        let row = &visible[m];
        // the ALB publishes nothing without traffic: no datapoint
        (row.requests > 0).then(|| row.requests as f64 / f64::from(row.serving.max(1)))
    };
    let cpu = |m: usize| -> Option<f64> { visible[m].reported_cpu() };
    let with_cpu = has_cpu && policy.target_cpu_percent > 0;
    let proposals = [
        tracking_policy(
            visible,
            &requests_per_target,
            f64::from(policy.target_per_task.max(1)),
            policy,
            model,
            t,
            &cooldowns[0],
        ),
        if with_cpu {
            tracking_policy(
                visible,
                &cpu,
                f64::from(policy.target_cpu_percent),
                policy,
                model,
                t,
                &cooldowns[1],
            )
        } else {
            Proposal::default()
        },
    ];
    let out = proposals
        .iter()
        .filter_map(|p| p.out)
        .filter(|&w| w > desired)
        .max();
    if let Some(wanted) = out {
        for (p, c) in proposals.iter().zip(cooldowns.iter_mut()) {
            if p.out.is_some_and(|w| w > desired) {
                c.last_out = Some(t);
            }
        }
        return wanted;
    }
    let ins = if with_cpu {
        &proposals[..]
    } else {
        &proposals[..1]
    };
    if ins.iter().all(|p| p.scale_in.is_some()) {
        let wanted = ins
            .iter()
            .filter_map(|p| p.scale_in)
            .max()
            .unwrap_or(desired);
        if wanted < desired {
            for c in cooldowns.iter_mut().take(ins.len()) {
                c.last_in = Some(t);
            }
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
        if row.under_provisioned(policy) {
            under += 1;
            excess += row.requests.saturating_sub(target * u64::from(row.serving));
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

/// Minutes from the first minute whose reported CPU passes the target to the evaluation that
/// scaled out for it (`None`: CPU never passed the target, or no scale-out followed).
pub fn cpu_reaction_minutes(rows: &[Row], policy: &Policy) -> Option<usize> {
    let target = f64::from(policy.target_cpu_percent);
    let passed = rows
        .iter()
        .position(|r| r.reported_cpu().is_some_and(|c| c > target))?;
    let before = rows.get(passed.checked_sub(1)?)?.desired;
    let scaled = rows[passed..].iter().position(|r| r.desired > before)?;
    Some(scaled)
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
        out.push_str(&format!(
            "| {name} | {} | {} / {} | {} / {} ({:+.1} %) | {} / {} | {} / {} |\n",
            ours.minutes,
            ours.under_provisioned_minutes,
            tt.under_provisioned_minutes,
            ours.task_minutes,
            tt.task_minutes,
            delta_percent(ours.task_minutes, tt.task_minutes),
            ours.worst_catch_up_minutes,
            tt.worst_catch_up_minutes,
            ours.scale_actions,
            tt.scale_actions,
        ));
    }
    out
}

/// One trace replayed by ours, ours without forecasts, and target tracking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub trace: String,
    pub ours: Summary,
    pub without_forecast: Summary,
    pub target_tracking: Summary,
}

/// A Markdown table of comparisons, one row per trace and a row for their sum (the acceptance
/// rule is on the sum: under-provisioned minutes ≤ 1/3 of target tracking's, task-minutes
/// ≤ 1.05×).
pub fn comparison_table(rows: &[Comparison]) -> String {
    let mut out = String::from(
        "| trace | minutes | under-provisioned min (ours / TT) | task-minutes (ours / TT, Δ) | worst catch-up min (ours / TT) | scale actions (ours / TT) | without forecast: under-provisioned min, task-minutes |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut total = (0, 0, 0, 0, 0, 0, 0);
    for c in rows {
        let (o, t, w) = (&c.ours, &c.target_tracking, &c.without_forecast);
        out.push_str(&format!(
            "| {} | {} | {} / {} | {} / {} ({:+.1} %) | {} / {} | {} / {} | {}, {} |\n",
            c.trace,
            o.minutes,
            o.under_provisioned_minutes,
            t.under_provisioned_minutes,
            o.task_minutes,
            t.task_minutes,
            delta_percent(o.task_minutes, t.task_minutes),
            o.worst_catch_up_minutes,
            t.worst_catch_up_minutes,
            o.scale_actions,
            t.scale_actions,
            w.under_provisioned_minutes,
            w.task_minutes,
        ));
        total.0 += o.minutes;
        total.1 += o.under_provisioned_minutes;
        total.2 += t.under_provisioned_minutes;
        total.3 += o.task_minutes;
        total.4 += t.task_minutes;
        total.5 += w.under_provisioned_minutes;
        total.6 += w.task_minutes;
    }
    if rows.len() > 1 {
        let ratio = if total.2 == 0 {
            0.0
        } else {
            total.1 as f64 / total.2 as f64
        };
        out.push_str(&format!(
            "| **all ({} traces)** | {} | {} / {} ({ratio:.2}×) | {} / {} ({:+.1} %) | | | {}, {} |\n",
            rows.len(),
            total.0,
            total.1,
            total.2,
            total.3,
            total.4,
            delta_percent(total.3, total.4),
            total.5,
            total.6,
        ));
    }
    out
}

/// `(ours / theirs - 1) × 100`, 0 when theirs is 0.
pub fn delta_percent(ours: u64, theirs: u64) -> f64 {
    if theirs == 0 {
        0.0
    } else {
        (ours as f64 / theirs as f64 - 1.0) * 100.0
    }
}
