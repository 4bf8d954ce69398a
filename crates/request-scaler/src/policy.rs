// pure: the scaler's knobs and the arithmetic of need (no I/O, no clock, no async)
//! The policy: the configured knobs, the fixed rules' constants, and how load turns into tasks.

use serde::Serialize;

/// Complete minutes the rule reads (the flapping look-back is the longest).
pub const HISTORY_MINUTES: usize = 60;
/// A scale-in by a single task waits at least this long: a load hovering at a task boundary is
/// the commonest false scale-in, and one task of headroom is the cheapest.
pub const ONE_TASK_STEP_MINUTES: usize = 8;
/// Minutes looked back for flapping.
pub const FLAP_LOOKBACK_MINUTES: usize = HISTORY_MINUTES;
/// A dip counts as flapping when the need fell by at least this many tasks and came back.
pub const FLAP_DEPTH_TASKS: u32 = 2;
/// Longest wait flapping can impose.
pub const FLAP_MAX_WAIT_MINUTES: usize = 20;
/// After traffic stops (no datapoints: the ALB publishes nothing), capacity is held this long.
pub const TRAFFIC_STOP_HOLD_MINUTES: usize = 30;
/// A task reporting at least this CPU is saturated: its real demand is unknown.
pub const CPU_SATURATED_PERCENT: f64 = 99.0;

/// The knobs, from config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// Requests per minute one task is meant to serve (`TARGET_REQUESTS_PER_TASK`).
    pub target_per_task: u32,
    /// `MIN_TASKS` (≥ 1: the scaler never sets 0).
    pub min_tasks: u32,
    pub max_tasks: u32,
    /// Minutes the load must stay low before any scale-in (`SCALE_IN_STABILIZATION_MINUTES`).
    pub stabilization_minutes: u32,
    /// Average CPU one task is meant to run at (`TARGET_CPU_PERCENT`); 0 = CPU signal off.
    pub target_cpu_percent: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            target_per_task: 100,
            min_tasks: 1,
            max_tasks: 10,
            stabilization_minutes: 5,
            target_cpu_percent: 70,
        }
    }
}

impl Policy {
    /// Tasks needed for `requests` in one minute, before clamping.
    pub fn raw_need(&self, requests: f64) -> u64 {
        tasks_for(requests, f64::from(self.target_per_task.max(1)))
    }

    /// Tasks needed for a CPU demand (percent of one task), before clamping; 0 when CPU is off.
    pub fn raw_cpu_need(&self, demand_percent: f64) -> u64 {
        if self.target_cpu_percent == 0 {
            return 0;
        }
        tasks_for(demand_percent, f64::from(self.target_cpu_percent))
    }

    /// The fewest tasks the scaler sets (never 0: a 0 is a person's choice).
    pub fn floor(&self) -> u32 {
        self.min_tasks.max(1)
    }

    /// The most tasks the scaler sets (never below [`Policy::floor`]).
    pub fn ceiling(&self) -> u32 {
        self.max_tasks.max(self.floor())
    }

    /// Clamps to `[floor, ceiling]`.
    pub fn clamp(&self, raw: u64) -> u32 {
        let clamped = raw.clamp(u64::from(self.floor()), u64::from(self.ceiling()));
        u32::try_from(clamped).unwrap_or(self.ceiling())
    }

    /// Tasks needed for `requests` in one minute, clamped.
    pub fn need(&self, requests: u64) -> u32 {
        self.clamp(self.raw_need(requests as f64))
    }

    /// The CPU signal is on (`TARGET_CPU_PERCENT` > 0).
    pub fn cpu_on(&self) -> bool {
        self.target_cpu_percent > 0
    }
}

/// `ceil(load / per_task)`, 0 for nothing or nonsense.
fn tasks_for(load: f64, per_task: f64) -> u64 {
    if !load.is_finite() || load <= 0.0 {
        return 0;
    }
    // float-to-int casts saturate; the clamp to MAX_TASKS follows
    (load / per_task - 1e-9).ceil().max(0.0) as u64
}
