// pure: the scaler's decisions as one type, with their names and wording (no I/O, no clock)
//! Every decision the scaler can take, named and worded in this one place: the Outcome's
//! `decision`, the metric dimension and the reason all come from here.

use serde::Serialize;

use crate::policy::{Policy, TRAFFIC_STOP_HOLD_MINUTES};

/// Which signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Signal {
    Requests,
    Cpu,
}

/// What a signal's need rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// The newest minute (or a higher partial one).
    Newest,
    /// A steady rise projected to when a new task serves.
    Trend,
    /// The previous days' pattern.
    DailyPattern,
}

/// Why the scaler decided what it did: the one place where decisions are named and worded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// Demand (now or forecast) needs more tasks.
    ScaleOut {
        signal: Signal,
        basis: Basis,
    },
    /// desiredCount is below `MIN_TASKS` (but not 0).
    BelowMinimum,
    /// The load stayed low for the whole wait.
    ScaleIn {
        waited_minutes: usize,
    },
    /// desiredCount is above `MAX_TASKS`.
    AboveMaximum,
    /// desiredCount is 0: parked by a person (or no image yet). Left alone.
    Parked,
    Hold(Hold),
}

/// The reasons to change nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "hold", rename_all = "kebab-case")]
pub enum Hold {
    /// Capacity matches demand.
    Steady,
    /// At `MAX_TASKS` while demand needs more.
    AtMaximum,
    /// Load is lower, but a deployment is rolling out.
    DeploymentInProgress,
    /// Load is lower, but not enough minutes are known yet.
    NotEnoughData { known: usize, needed: usize },
    /// Traffic stopped `quiet_minutes` ago: capacity is held in case it comes back.
    TrafficStopped { quiet_minutes: usize },
    /// Load is lower, but a minute of the wait still needs the current count.
    Stabilizing {
        wait_minutes: usize,
        busiest_need: u32,
    },
}

impl Verdict {
    /// Short kebab-case name (Outcome `decision`, metric dimension).
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::ScaleOut { .. } | Verdict::BelowMinimum => "scale-out",
            Verdict::ScaleIn { .. } | Verdict::AboveMaximum => "scale-in",
            Verdict::Parked => "parked",
            Verdict::Hold(_) => "hold",
        }
    }

    /// What was decided and why, in words (the numbers follow in [`Decision::reason`]).
    pub fn describe(&self, policy: &Policy) -> String {
        match self {
            Verdict::ScaleOut { signal, basis } => {
                let what = match signal {
                    Signal::Requests => "request demand",
                    Signal::Cpu => "CPU demand",
                };
                match basis {
                    Basis::Newest => format!("{what} above capacity"),
                    Basis::Trend => {
                        format!("{what} rising steadily: capacity for where it will be")
                    }
                    Basis::DailyPattern => {
                        format!("{what} rises at this time every day: capacity ahead of it")
                    }
                }
            }
            Verdict::BelowMinimum => format!("below the minimum of {}", policy.min_tasks),
            Verdict::ScaleIn { waited_minutes } => {
                format!("load stayed low for {waited_minutes} min")
            }
            Verdict::AboveMaximum => format!("above the maximum of {}", policy.max_tasks),
            Verdict::Parked => {
                "parked (desiredCount 0): left alone until someone sets a count of 1 or more"
                    .to_owned()
            }
            Verdict::Hold(hold) => match hold {
                Hold::Steady => "capacity matches demand".to_owned(),
                Hold::AtMaximum => format!(
                    "at the maximum of {} task(s) while demand needs more",
                    policy.max_tasks
                ),
                Hold::DeploymentInProgress => {
                    "load is low but a deployment is in progress: no scale-in".to_owned()
                }
                Hold::NotEnoughData { known, needed } => {
                    format!("load is low but only {known} of {needed} minutes are known")
                }
                Hold::TrafficStopped { quiet_minutes } => format!(
                    "traffic stopped {quiet_minutes} min ago: capacity held for {TRAFFIC_STOP_HOLD_MINUTES} min in case it comes back"
                ),
                Hold::Stabilizing {
                    wait_minutes,
                    busiest_need,
                } => format!(
                    "demand fell, but the busiest minute of the last {wait_minutes} min still needs {busiest_need} task(s)"
                ),
            },
        }
    }
}
