// pure: the scaling rule, observation and policy in, decision out (no I/O, no clock, no async)
//! The scaling rule. The handler, the simulator and the benchmarks all run exactly this code.
//!
//! - **Parked**: desiredCount 0 is somebody's deliberate choice (no image yet, or parked by a
//!   person); the service is left alone whatever the traffic, until someone sets a count ≥ 1.
//! - **Need** of a minute: `ceil(requests / TARGET_REQUESTS_PER_TASK)`, and with the CPU signal
//!   `ceil(CPU demand / TARGET_CPU_PERCENT)` where demand = average CPU × the tasks that reported
//!   it (a saturated minute hides its demand: it needs at least twice its tasks). The larger
//!   wins; clamped to `[MIN_TASKS, MAX_TASKS]`.
//! - **Scale out at once** to the need of the *forecast*: the newest minute (or a higher partial
//!   one), a steady rise projected to when a new task serves ([`forecast::trend`]), and the
//!   previous days' pattern ([`forecast::daily`]) — whichever needs most.
//! - **Scale in carefully**: only when every minute of the wait needed less, down to what its
//!   busiest minute needs; the wait is the stabilization window, at least
//!   [`ONE_TASK_STEP_MINUTES`] for a single-task step, and longer while the load flaps; never
//!   during a deployment; not while traffic has just stopped (it often comes back).
//! - The result is a desired count to *set*, never an increment.

use serde::Serialize;

use crate::forecast::{self, Daily, DayWindow, Trend};
pub use crate::policy::{
    CPU_SATURATED_PERCENT, FLAP_DEPTH_TASKS, FLAP_LOOKBACK_MINUTES, FLAP_MAX_WAIT_MINUTES,
    HISTORY_MINUTES, ONE_TASK_STEP_MINUTES, Policy, TRAFFIC_STOP_HOLD_MINUTES,
};
pub use crate::verdict::{Basis, Hold, Signal, Verdict};

/// The service's average CPU in one minute, and how many tasks reported it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CpuSample {
    /// `AWS/ECS CPUUtilization`, Average over the minute (percent of one task's CPU).
    pub percent: f64,
    /// Tasks serving in that minute.
    pub tasks: u32,
}

impl CpuSample {
    /// Demand in percent of one task (250 = two and a half tasks busy); a lower bound when
    /// saturated.
    pub fn demand(&self) -> f64 {
        self.percent.clamp(0.0, 100.0) * f64::from(self.tasks)
    }

    pub fn saturated(&self) -> bool {
        self.percent >= CPU_SATURATED_PERCENT
    }
}

/// One complete minute.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Minute {
    /// ALB requests; a minute with no datapoint is 0 (the ALB publishes nothing without traffic).
    pub requests: u64,
    /// `None`: no CPU datapoint (or the CPU signal is off).
    pub cpu: Option<CpuSample>,
}

/// What the rule sees.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Observation {
    /// Complete minutes, oldest first, newest last (at most [`HISTORY_MINUTES`] are read).
    pub minutes: Vec<Minute>,
    /// Requests counted so far in minutes that may still be incomplete: trusted only as a lower
    /// bound (a high one scales out early; a low one never pulls a scale-in forward).
    pub partial: Vec<u64>,
    /// The same time of day on previous days (yesterday first), for the daily pattern.
    pub previous_days: Vec<DayWindow>,
    /// The service's desiredCount now (0 = parked).
    pub desired: u32,
    pub running: u32,
    pub pending: u32,
    /// A deployment is rolling out (`phoenix_core::ecs::deployment_in_progress`).
    pub deployment_in_progress: bool,
}

/// The request signal's numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestView {
    /// Requests of the newest complete minute, or of a higher partial one.
    pub newest: u64,
    pub trend: Option<Trend>,
    pub daily: Daily,
    /// The requests capacity is set for (the largest of newest, trend and daily).
    pub forecast: f64,
    pub basis: Basis,
    /// Tasks the forecast needs, before clamping.
    pub raw_need: u64,
}

/// The CPU signal's numbers (when on and reported).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CpuView {
    /// The newest minute with a CPU datapoint.
    pub newest: CpuSample,
    pub trend: Option<Trend>,
    /// Demand capacity is set for (percent of one task).
    pub forecast: f64,
    pub basis: Basis,
    pub raw_need: u64,
}

/// The decision, with its numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub verdict: Verdict,
    /// The desiredCount to set (equal to the current one unless scaling).
    pub desired: u32,
    pub previous: u32,
    pub requests: RequestView,
    pub cpu: Option<CpuView>,
    /// Tasks demand needs (the larger signal), before clamping.
    pub raw_need: u64,
    /// Demand exceeds what `MAX_TASKS` can serve.
    pub demand_exceeds_max: bool,
    /// …and the minute before fitted: worth a warning, once.
    pub newly_exceeds_max: bool,
    /// The verdict in words, then its numbers.
    pub reason: String,
}

impl Decision {
    pub fn changes(&self) -> bool {
        self.desired != self.previous
    }

    /// The signal that set the count, for a scale-out Notice.
    pub fn driven_by(&self) -> Option<String> {
        match &self.verdict {
            Verdict::ScaleOut { signal, basis } => {
                let signal = match signal {
                    Signal::Requests => "requests",
                    Signal::Cpu => "CPU",
                };
                let basis = match basis {
                    Basis::Newest => "newest minute",
                    Basis::Trend => "steady rise",
                    Basis::DailyPattern => "daily pattern",
                };
                Some(format!("{signal} ({basis})"))
            }
            _ => None,
        }
    }
}

/// Per-minute need of one complete minute (both signals), clamped.
fn minute_need(minute: &Minute, policy: &Policy) -> u32 {
    let requests = policy.raw_need(minute.requests as f64);
    let cpu = match minute.cpu {
        Some(sample) if policy.cpu_on() => cpu_raw_need(&sample, policy),
        _ => 0,
    };
    policy.clamp(requests.max(cpu))
}

/// A CPU minute's need: its demand at the target; a saturated minute at least doubles its tasks.
fn cpu_raw_need(sample: &CpuSample, policy: &Policy) -> u64 {
    let need = policy.raw_cpu_need(sample.demand());
    if sample.saturated() {
        need.max(2 * u64::from(sample.tasks.max(1)))
    } else {
        need
    }
}

/// Which forecasts the rule may use (all of them in production; the simulator switches them off
/// to show what they are worth).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Anticipation {
    pub trend: bool,
    pub daily: bool,
}

impl Anticipation {
    pub const ALL: Anticipation = Anticipation {
        trend: true,
        daily: true,
    };
    pub const NONE: Anticipation = Anticipation {
        trend: false,
        daily: false,
    };
}

/// The request forecast: the largest of newest, trend and daily.
fn request_view(
    observation: &Observation,
    recent: &[Minute],
    policy: &Policy,
    anticipation: Anticipation,
) -> RequestView {
    let newest_complete = recent.last().map(|m| m.requests).unwrap_or(0);
    let newest_partial = observation.partial.iter().copied().max().unwrap_or(0);
    let newest = newest_complete.max(newest_partial);
    let series: Vec<f64> = recent.iter().map(|m| m.requests as f64).collect();
    let counts: Vec<u64> = recent.iter().map(|m| m.requests).collect();
    let trend = forecast::trend(&series).filter(|_| anticipation.trend);
    let daily = if anticipation.daily {
        forecast::daily(&counts, &observation.previous_days, policy.target_per_task)
    } else {
        Daily::NoHistory
    };
    let mut forecast = newest as f64;
    let mut basis = Basis::Newest;
    for (value, from) in [
        (trend.map(|t| t.projected), Basis::Trend),
        (daily.forecast(), Basis::DailyPattern),
    ] {
        if let Some(v) = value
            && policy.raw_need(v) > policy.raw_need(forecast)
        {
            forecast = v;
            basis = from;
        }
    }
    RequestView {
        newest,
        trend,
        daily,
        forecast,
        basis,
        raw_need: policy.raw_need(forecast),
    }
}

/// The CPU forecast: newest reported minute, and a steady rise of demand when no minute of the
/// trend window is saturated.
fn cpu_view(recent: &[Minute], policy: &Policy, anticipation: Anticipation) -> Option<CpuView> {
    if !policy.cpu_on() {
        return None;
    }
    let newest = recent.iter().rev().find_map(|m| m.cpu)?;
    let window = &recent[recent.len().saturating_sub(forecast::TREND_MINUTES)..];
    let demands: Option<Vec<f64>> = window
        .iter()
        .map(|m| m.cpu.filter(|c| !c.saturated()).map(|c| c.demand()))
        .collect();
    let trend = demands
        .as_deref()
        .and_then(forecast::trend)
        .filter(|_| anticipation.trend);
    let newest_need = cpu_raw_need(&newest, policy);
    let (forecast, basis, raw_need) = match trend {
        Some(t) if policy.raw_cpu_need(t.projected) > newest_need => {
            (t.projected, Basis::Trend, policy.raw_cpu_need(t.projected))
        }
        _ => (newest.demand(), Basis::Newest, newest_need),
    };
    Some(CpuView {
        newest,
        trend,
        forecast,
        basis,
        raw_need,
    })
}

/// Length of the longest dip of at least [`FLAP_DEPTH_TASKS`] that came back, in `needs`.
fn longest_returned_dip(needs: &[u32]) -> usize {
    let mut longest = 0;
    let mut i = 1;
    while i < needs.len() {
        if needs[i] < needs[i - 1] {
            let before = needs[i - 1];
            let mut low = needs[i];
            let mut j = i;
            while j < needs.len() && needs[j] < before {
                low = low.min(needs[j]);
                j += 1;
            }
            if j < needs.len() && before - low >= FLAP_DEPTH_TASKS {
                longest = longest.max(j - i);
            }
            i = j;
        } else {
            i += 1;
        }
    }
    longest
}

/// Minutes with no requests at the end of `recent`, when traffic flowed before them.
fn quiet_minutes(recent: &[Minute]) -> Option<usize> {
    let quiet = recent.iter().rev().take_while(|m| m.requests == 0).count();
    (quiet > 0 && quiet < recent.len()).then_some(quiet)
}

/// The one scaling rule.
pub fn decide(observation: &Observation, policy: &Policy) -> Decision {
    decide_with(observation, policy, Anticipation::ALL)
}

/// The rule with only some forecasts (to measure what they are worth).
pub fn decide_with(
    observation: &Observation,
    policy: &Policy,
    anticipation: Anticipation,
) -> Decision {
    let recent = &observation.minutes[observation.minutes.len().saturating_sub(HISTORY_MINUTES)..];
    let requests = request_view(observation, recent, policy, anticipation);
    let cpu = cpu_view(recent, policy, anticipation);
    let (out_signal, out_basis, raw_need) = match &cpu {
        Some(c) if c.raw_need > requests.raw_need => (Signal::Cpu, c.basis, c.raw_need),
        _ => (Signal::Requests, requests.basis, requests.raw_need),
    };
    let out_need = policy.clamp(raw_need);
    let max = u64::from(policy.ceiling());
    let demand_exceeds_max = raw_need > max;
    let newly_exceeds_max = demand_exceeds_max
        && recent
            .len()
            .checked_sub(2)
            .and_then(|i| recent.get(i))
            .is_none_or(|m| {
                let cpu = m.cpu.map(|c| cpu_raw_need(&c, policy)).unwrap_or(0);
                policy.raw_need(m.requests as f64).max(cpu) <= max
            });
    let previous = observation.desired;

    let (verdict, desired) = if previous == 0 {
        (Verdict::Parked, 0)
    } else if previous < policy.floor() {
        (Verdict::BelowMinimum, out_need.max(policy.floor()))
    } else if out_need > previous {
        (
            Verdict::ScaleOut {
                signal: out_signal,
                basis: out_basis,
            },
            out_need,
        )
    } else if previous > policy.ceiling() {
        (Verdict::AboveMaximum, policy.ceiling())
    } else if out_need == previous {
        let hold = if demand_exceeds_max {
            Hold::AtMaximum
        } else {
            Hold::Steady
        };
        (Verdict::Hold(hold), previous)
    } else {
        scale_in(observation, recent, policy, out_need)
    };
    let mut decision = Decision {
        verdict,
        desired,
        previous,
        requests,
        cpu,
        raw_need,
        demand_exceeds_max,
        newly_exceeds_max,
        reason: String::new(),
    };
    decision.reason = format!(
        "{}: {}",
        decision.verdict.describe(policy),
        numbers(&decision, observation, policy)
    );
    decision
}

/// Demand needs fewer tasks than now: scale in if the load stayed low for the whole wait.
fn scale_in(
    observation: &Observation,
    recent: &[Minute],
    policy: &Policy,
    out_need: u32,
) -> (Verdict, u32) {
    let previous = observation.desired;
    if observation.deployment_in_progress {
        return (Verdict::Hold(Hold::DeploymentInProgress), previous);
    }
    if let Some(quiet) = quiet_minutes(recent)
        && quiet < TRAFFIC_STOP_HOLD_MINUTES
    {
        return (
            Verdict::Hold(Hold::TrafficStopped {
                quiet_minutes: quiet,
            }),
            previous,
        );
    }
    let needs: Vec<u32> = recent.iter().map(|m| minute_need(m, policy)).collect();
    let flapping = &needs[needs.len().saturating_sub(FLAP_LOOKBACK_MINUTES)..];
    let flap_wait = match longest_returned_dip(flapping) {
        0 => 0,
        dip => (dip + 2).min(FLAP_MAX_WAIT_MINUTES),
    };
    let window = (policy.stabilization_minutes.max(1) as usize).min(HISTORY_MINUTES);
    let wait_for = |step: u32| -> usize {
        let graded = ONE_TASK_STEP_MINUTES.div_ceil(step.max(1) as usize);
        window.max(graded).max(flap_wait).min(HISTORY_MINUTES)
    };
    // the lowest count every minute of its wait fitted (a deeper step waits less)
    let mut best: Option<(u32, usize)> = None;
    let mut first_blocked: Option<(usize, u32)> = None;
    let mut short_of_data: Option<usize> = None;
    for count in (policy.floor().max(out_need)..previous).rev() {
        let wait = wait_for(previous - count);
        if needs.len() < wait {
            short_of_data = Some(short_of_data.map_or(wait, |w: usize| w.min(wait)));
            continue;
        }
        let busiest = needs[needs.len() - wait..]
            .iter()
            .copied()
            .max()
            .unwrap_or(0);
        if busiest <= count {
            best = Some((count, wait));
        } else {
            first_blocked.get_or_insert((wait, busiest));
        }
    }
    match (best, first_blocked, short_of_data) {
        (Some((count, wait)), _, _) => (
            Verdict::ScaleIn {
                waited_minutes: wait,
            },
            count,
        ),
        (None, Some((wait, busiest)), _) => (
            Verdict::Hold(Hold::Stabilizing {
                wait_minutes: wait,
                busiest_need: busiest,
            }),
            previous,
        ),
        (None, None, needed) => (
            Verdict::Hold(Hold::NotEnoughData {
                known: needs.len(),
                needed: needed.unwrap_or(window),
            }),
            previous,
        ),
    }
}

/// The numbers behind a decision, for people.
fn numbers(decision: &Decision, observation: &Observation, policy: &Policy) -> String {
    let r = &decision.requests;
    let mut out = format!(
        "newest minute {} req → {} task(s) at {}/task",
        r.newest,
        policy.raw_need(r.newest as f64),
        policy.target_per_task.max(1)
    );
    if let Some(t) = &r.trend {
        out.push_str(&format!(
            "; rising {:+.0} req/min over {} min → {:.0} req in {} min",
            t.slope_per_minute,
            forecast::TREND_MINUTES,
            t.projected,
            forecast::LEAD_MINUTES
        ));
    }
    out.push_str(&format!("; {}", r.daily.describe()));
    if r.basis != Basis::Newest {
        out.push_str(&format!(
            "; forecast {:.0} req → {} task(s)",
            r.forecast, r.raw_need
        ));
    }
    if let Some(c) = &decision.cpu {
        out.push_str(&format!(
            "; CPU {:.0} % of {} task(s) → {} task(s) at {} %",
            c.newest.percent, c.newest.tasks, c.raw_need, policy.target_cpu_percent
        ));
        if c.newest.saturated() {
            out.push_str(" (saturated: at least twice the tasks)");
        }
    }
    out.push_str(&format!(
        "; desired {}, running {}, pending {}",
        observation.desired, observation.running, observation.pending
    ));
    out
}
