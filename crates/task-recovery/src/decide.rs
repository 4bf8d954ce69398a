// pure: every decision of task-recovery, from observed facts, the policy and now; no I/O, no clock.
//! What to do: three pure planners, one per trigger, each returning a [`Plan`]:
//!
//! * [`plan_stop`]: a stopped task (its classification, the service or family, recent stops);
//! * [`plan_recheck`]: a re-check of a service that was short of tasks (see [`crate::recheck`]);
//! * [`plan_service_event`]: a deployment failure, a rollback or a service problem ECS reported.
//!
//! A [`Decision`] is one typed value with its wording here, in one place. The steps a plan lists
//! are executed by [`crate::act`]; the keys that make each effect happen once across containers
//! (the DynamoDB ledger) are built here too.

use chrono::{DateTime, Duration, Utc};
use phoenix_core::Severity;
use phoenix_core::ecs::{DeploymentView, deployment_in_progress};
use serde::Serialize;

use crate::event::{ServiceEvent, StoppedTask, TaskGroup};
use crate::observe::ServiceState;
use crate::recheck::{MAX_DELAY_SECONDS, Recheck};

/// How long a claim on an effect is held before another invocation may take over (longer than
/// the function's timeout; a Lambda retry of the same invocation keeps its request id and
/// takes its own claim back at once).
pub const LEASE: Duration = Duration::minutes(5);
/// How long a handled stop, re-check or ECS event is remembered (EventBridge retries for 24 h).
pub const KEEP: Duration = Duration::hours(24);
/// A missing image is reported once per service and image in this period.
pub const IMAGE_MISSING_KEEP: Duration = Duration::hours(24);
/// Shortest time between two looks at a service.
const MIN_RECHECK_INTERVAL: Duration = Duration::seconds(60);
/// A re-check that arrives this much before its due time is sent back to wait.
pub(crate) const EARLY_TOLERANCE: Duration = Duration::seconds(10);

/// The settings that shape decisions.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Standalone families phoenix-ops may restart.
    pub standalone_families: Vec<String>,
    /// Failures within the window that make a crash loop.
    pub crash_loop_threshold: u32,
    pub crash_loop_window: Duration,
    /// How long ECS gets to start a replacement before a service is called stuck.
    pub replacement_grace: Duration,
    /// Re-checks of one stop before a person is asked to look (2–10).
    pub recheck_max_attempts: u32,
}

impl Policy {
    /// Time before the first re-check after a late stop or a rolling deployment: the grace, at
    /// least a minute.
    pub fn recheck_interval(&self) -> Duration {
        self.replacement_grace.max(MIN_RECHECK_INTERVAL)
    }

    /// Time from re-check `attempt` to the next: the interval, doubled each time (a forced
    /// deployment gets time to roll out before a person is asked to look), at most SQS's 900 s.
    pub fn recheck_delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(10);
        (self.recheck_interval() * 2_i32.pow(doublings)).min(Duration::seconds(MAX_DELAY_SECONDS))
    }

    /// One forced deployment per service in this period: the length of a chain of re-checks.
    pub fn force_keep(&self) -> Duration {
        let span = (1..=self.recheck_max_attempts)
            .map(|attempt| self.recheck_delay(attempt))
            .fold(Duration::zero(), |total, delay| total + delay);
        span.max(Duration::minutes(5))
    }
}

/// What task-recovery decided, with its wording in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    PlannedStop,
    ServiceNotActive,
    ServiceParked,
    CrashLoop,
    ImageMissing,
    EcsReplacing,
    DeploymentInProgress,
    WaitingForScheduler,
    ForceNewDeployment,
    NotOnAllowList,
    TaskDefinitionMismatch,
    NotRestartingFailedToStart,
    NotRestartingUnknownStop,
    AlreadyReplaced,
    StartReplacement,
    NotManaged,
    CouldNotObserve,
    RecheckEarly,
    CapacityBack,
    StillShort,
    StaysShort,
    DeploymentFailed,
    RollingBack,
    ServiceProblem,
}

impl Decision {
    /// Every decision, in declaration order (a test checks it against the enum's source).
    pub const ALL: [Decision; 24] = [
        Self::PlannedStop,
        Self::ServiceNotActive,
        Self::ServiceParked,
        Self::CrashLoop,
        Self::ImageMissing,
        Self::EcsReplacing,
        Self::DeploymentInProgress,
        Self::WaitingForScheduler,
        Self::ForceNewDeployment,
        Self::NotOnAllowList,
        Self::TaskDefinitionMismatch,
        Self::NotRestartingFailedToStart,
        Self::NotRestartingUnknownStop,
        Self::AlreadyReplaced,
        Self::StartReplacement,
        Self::NotManaged,
        Self::CouldNotObserve,
        Self::RecheckEarly,
        Self::CapacityBack,
        Self::StillShort,
        Self::StaysShort,
        Self::DeploymentFailed,
        Self::RollingBack,
        Self::ServiceProblem,
    ];

    /// The Outcome's `decision` (kebab-case).
    pub fn slug(self) -> &'static str {
        match self {
            Self::PlannedStop => "planned-stop",
            Self::ServiceNotActive => "service-not-active",
            Self::ServiceParked => "service-parked",
            Self::CrashLoop => "crash-loop",
            Self::ImageMissing => "image-missing",
            Self::EcsReplacing => "ecs-replacing",
            Self::DeploymentInProgress => "deployment-in-progress",
            Self::WaitingForScheduler => "waiting-for-scheduler",
            Self::ForceNewDeployment => "force-new-deployment",
            Self::NotOnAllowList => "not-on-allow-list",
            Self::TaskDefinitionMismatch => "task-definition-mismatch",
            Self::NotRestartingFailedToStart => "not-restarting-failed-to-start",
            Self::NotRestartingUnknownStop => "not-restarting-unknown-stop",
            Self::AlreadyReplaced => "already-replaced",
            Self::StartReplacement => "start-replacement",
            Self::NotManaged => "not-managed",
            Self::CouldNotObserve => "could-not-observe",
            Self::RecheckEarly => "recheck-early",
            Self::CapacityBack => "capacity-back",
            Self::StillShort => "still-short",
            Self::StaysShort => "stays-short",
            Self::DeploymentFailed => "deployment-failed",
            Self::RollingBack => "rolling-back",
            Self::ServiceProblem => "service-problem",
        }
    }

    /// What it means, in a few words, for a title ("… — ECS is replacing it").
    pub fn words(self) -> &'static str {
        match self {
            Self::PlannedStop => "nothing to recover",
            Self::ServiceNotActive => "the service is not active",
            Self::ServiceParked => "the service is parked at 0",
            Self::CrashLoop => "crash loop: not restarting",
            Self::ImageMissing => "the image does not exist",
            Self::EcsReplacing => "ECS is replacing it",
            Self::DeploymentInProgress => "a deployment is rolling out",
            Self::WaitingForScheduler => "ECS should replace it; re-check scheduled",
            Self::ForceNewDeployment => "forcing a new deployment",
            Self::NotOnAllowList => "not restarted (family not allowed)",
            Self::TaskDefinitionMismatch => "not restarted (task definition of another family)",
            Self::NotRestartingFailedToStart => "not restarted: fix the cause first",
            Self::NotRestartingUnknownStop => "not restarted: needs a human",
            Self::AlreadyReplaced => "already replaced",
            Self::StartReplacement => "starting a replacement",
            Self::NotManaged => "reported only",
            Self::CouldNotObserve => "could not read ECS: nothing done",
            Self::RecheckEarly => "re-check arrived early; waiting",
            Self::CapacityBack => "capacity is back",
            Self::StillShort => "still short; looking again",
            Self::StaysShort => "still short after every re-check: a person must look",
            Self::DeploymentFailed => "deployment failed",
            Self::RollingBack => "rolling back",
            Self::ServiceProblem => "ECS reports a problem",
        }
    }
}

impl Serialize for Decision {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.slug())
    }
}

/// One thing to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "step")]
pub enum Step {
    /// UpdateService(forceNewDeployment), never a desiredCount change; once per service and
    /// period across containers (`guard` in the ledger, kept `keep`).
    ForceNewDeployment {
        service: String,
        guard: String,
        #[serde(skip)]
        keep: Duration,
    },
    /// RunTask a replacement of this standalone task.
    StartReplacement { family: String },
    /// Send the re-check message, delayed until it is due.
    ScheduleRecheck { recheck: Recheck },
    /// Tell people once (a ledger marker under `key`, kept `keep`): the Notice goes out only
    /// when this invocation wrote the marker.
    ReportOnce {
        key: String,
        #[serde(skip)]
        keep: Duration,
    },
}

/// A crash loop, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CrashLoop {
    pub failures: u32,
    pub window_minutes: i64,
    /// This failure is the one that crossed the threshold: the critical Notice goes out once.
    pub first: bool,
}

/// The decision, why, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub decision: Decision,
    /// Why, with the numbers.
    pub reason: String,
    pub steps: Vec<Step>,
    /// Failures of this group within the window, this one included.
    pub failures_in_window: u32,
    pub window_minutes: i64,
    pub crash_loop: Option<CrashLoop>,
    /// The Notice's severity; `None`: no Notice.
    pub severity: Option<Severity>,
}

impl Plan {
    pub(crate) fn new(decision: Decision, reason: String, severity: Option<Severity>) -> Plan {
        Plan {
            decision,
            reason,
            steps: Vec::new(),
            failures_in_window: 0,
            window_minutes: 0,
            crash_loop: None,
            severity,
        }
    }

    pub(crate) fn step(mut self, step: Step) -> Plan {
        self.steps.push(step);
        self
    }

    /// The re-check this plan schedules, if any.
    pub fn recheck(&self) -> Option<&Recheck> {
        self.steps.iter().find_map(|s| match s {
            Step::ScheduleRecheck { recheck } => Some(recheck),
            _ => None,
        })
    }
}

// ---- ledger keys: one per effect people would otherwise see twice

/// The claim around everything done about one stopped task.
pub fn stop_key(task: &StoppedTask) -> String {
    format!("task-recovery:stop:{}", task.task_arn)
}

/// The claim around one re-check of a chain.
pub fn recheck_key(recheck: &Recheck) -> String {
    format!(
        "task-recovery:recheck:{}#{}",
        recheck.task_arn, recheck.attempt
    )
}

/// The claim around the Notice of one ECS service event.
pub fn event_key(event: &ServiceEvent) -> String {
    format!("task-recovery:ecs-event:{}", event.event_id)
}

pub(crate) fn force_key(cluster_arn: &str, service: &str) -> String {
    format!("task-recovery:force:{cluster_arn}/{service}")
}

/// Told once per service in a re-check span, whichever chain of re-checks sees it first.
pub(crate) fn once_per_span(what: &str, recheck: &Recheck, policy: &Policy) -> Step {
    Step::ReportOnce {
        key: format!(
            "task-recovery:{what}:{}/{}",
            recheck.cluster_arn, recheck.service
        ),
        keep: policy.force_keep(),
    }
}

pub(crate) fn image_missing_key(cluster_arn: &str, group: &TaskGroup, image: &str) -> String {
    format!(
        "task-recovery:image-missing:{cluster_arn}/{}#{image}",
        group.as_group()
    )
}

// ---- rules

/// The service has fewer tasks running or starting than it wants.
pub fn is_short(service: &ServiceState) -> bool {
    service.running.saturating_add(service.pending) < service.desired
}

/// A deployment is rolling out (phoenix-core's one rule).
pub fn is_deploying(service: &ServiceState) -> bool {
    let views: Vec<DeploymentView<'_>> = service
        .deployments
        .iter()
        .map(|d| DeploymentView {
            status: &d.status,
            rollout_state: d.rollout_state.as_deref(),
        })
        .collect();
    deployment_in_progress(&views)
}

pub(crate) fn at(now: DateTime<Utc>, after: Duration) -> DateTime<Utc> {
    now.checked_add_signed(after).unwrap_or(now)
}

pub(crate) fn force(cluster_arn: &str, service: &str, policy: &Policy) -> Step {
    Step::ForceNewDeployment {
        service: service.to_owned(),
        guard: force_key(cluster_arn, service),
        keep: policy.force_keep(),
    }
}

mod recheck;
mod service_event;
mod stop;

pub use recheck::{is_early, plan_recheck};
pub use service_event::plan_service_event;
pub use stop::{FailureCount, count_failures, plan_stop};
