//! What to do about a stopped task: one pure function, [`plan_recovery`], from the event, its
//! classification, what was observed in ECS, the policy and `now`. Adapters execute the plan;
//! they hold no policy.

use chrono::{DateTime, Duration, Utc};
use phoenix_core::Severity;
use serde::Serialize;

use crate::classify::{Classification, StopKind};
use crate::event::{StoppedTask, TaskGroup};

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
}

/// A service as DescribeServices shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceState {
    pub name: String,
    pub status: String,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    /// Deployments listed: more than one means a rollout is under way.
    pub deployments: usize,
}

impl ServiceState {
    pub fn is_short(&self) -> bool {
        self.running + self.pending < self.desired
    }

    pub fn is_deploying(&self) -> bool {
        self.deployments > 1
    }

    pub fn counts(&self) -> String {
        format!(
            "running {} + pending {} of desired {}",
            self.running, self.pending, self.desired
        )
    }
}

/// A recent stop of a task of the same group (from ECS's list of STOPPED tasks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecentStop {
    pub task_arn: String,
    pub kind: StopKind,
    pub stopped_at: Option<DateTime<Utc>>,
}

/// What was read from AWS before deciding.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Observed {
    /// The task's service (service tasks only; `None` when not found).
    pub service: Option<ServiceState>,
    /// Recent STOPPED tasks of the same group.
    pub recent_stops: Vec<RecentStop>,
    /// A task phoenix-ops already started to replace this one (standalone tasks only).
    pub replacement: Option<String>,
}

/// The one thing to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "step")]
pub enum Step {
    Nothing,
    /// Give ECS until `until` to start a replacement, then look again.
    WaitForScheduler {
        until: DateTime<Utc>,
    },
    /// UpdateService(forceNewDeployment): never a desiredCount change.
    ForceNewDeployment {
        service: String,
    },
    /// RunTask a replacement of this standalone task.
    StartReplacement {
        family: String,
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

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Short name (kebab-case).
    pub decision: &'static str,
    /// Why, with the numbers.
    pub reason: String,
    pub step: Step,
    /// Failures of this group within the window, this one included.
    pub failures_in_window: u32,
    pub window_minutes: i64,
    pub crash_loop: Option<CrashLoop>,
    /// The Notice's severity; `None`: no Notice (planned stops).
    pub severity: Option<Severity>,
}

/// Failures of the task's group within the window ending at its stop, this one included.
pub fn count_failures(
    task: &StoppedTask,
    kind: &StopKind,
    recent: &[RecentStop],
    window: Duration,
    now: DateTime<Utc>,
) -> u32 {
    let end = task.stopped_at.unwrap_or(now);
    let start = end - window;
    let mut counted: Vec<&str> = Vec::new();
    if kind.is_failure() {
        counted.push(&task.task_arn);
    }
    for stop in recent {
        let in_window = stop.stopped_at.is_some_and(|t| t >= start && t <= end);
        if in_window && stop.kind.is_failure() && !counted.contains(&stop.task_arn.as_str()) {
            counted.push(&stop.task_arn);
        }
    }
    u32::try_from(counted.len()).unwrap_or(u32::MAX)
}

/// How urgent a stop of this kind is, outside a crash loop.
fn severity_of(kind: &StopKind) -> Option<Severity> {
    match kind {
        StopKind::Planned { .. } => None,
        StopKind::Crash { .. } | StopKind::OutOfMemory { .. } | StopKind::FailedToStart => {
            Some(Severity::Error)
        }
        StopKind::HealthCheckFailed | StopKind::Infrastructure | StopKind::Unknown => {
            Some(Severity::Warning)
        }
    }
}

fn seconds(d: Duration) -> i64 {
    d.num_seconds()
}

/// The one rule.
pub fn plan_recovery(
    task: &StoppedTask,
    classification: &Classification,
    observed: &Observed,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Plan {
    let kind = &classification.kind;
    let failures = count_failures(
        task,
        kind,
        &observed.recent_stops,
        policy.crash_loop_window,
        now,
    );
    let window_minutes = policy.crash_loop_window.num_minutes();
    let crash_loop =
        (kind.is_failure() && failures >= policy.crash_loop_threshold).then_some(CrashLoop {
            failures,
            window_minutes,
            first: failures == policy.crash_loop_threshold,
        });
    let plan =
        |decision: &'static str, reason: String, step: Step, severity: Option<Severity>| Plan {
            decision,
            reason,
            step,
            failures_in_window: failures,
            window_minutes,
            crash_loop,
            severity,
        };
    let loop_severity = |l: CrashLoop| {
        if l.first {
            Severity::Critical
        } else {
            Severity::Error
        }
    };
    let loop_words = |l: CrashLoop| {
        format!(
            "crash loop: {} failures in {} min (threshold {})",
            l.failures, l.window_minutes, policy.crash_loop_threshold
        )
    };

    if kind.is_planned() {
        return plan(
            "planned-stop",
            format!("{}: nothing to recover", classification.why),
            Step::Nothing,
            None,
        );
    }
    let severity = severity_of(kind);

    match &task.group {
        TaskGroup::Service(name) => {
            let Some(service) = observed.service.as_ref().filter(|s| s.status == "ACTIVE") else {
                let status = observed
                    .service
                    .as_ref()
                    .map(|s| s.status.as_str())
                    .unwrap_or("missing");
                return plan(
                    "service-not-active",
                    format!(
                        "{}; service {name} is {status}: nothing to recover",
                        classification.why
                    ),
                    Step::Nothing,
                    severity,
                );
            };
            if let Some(l) = crash_loop {
                return plan(
                    "crash-loop",
                    format!(
                        "{}; {}; ECS keeps replacing the task ({}), forcing deployments would not help",
                        classification.why,
                        loop_words(l),
                        service.counts()
                    ),
                    Step::Nothing,
                    Some(loop_severity(l)),
                );
            }
            if !service.is_short() {
                return plan(
                    "ecs-replacing",
                    format!(
                        "{}; {}: ECS has started a replacement",
                        classification.why,
                        service.counts()
                    ),
                    Step::Nothing,
                    severity,
                );
            }
            if service.is_deploying() {
                return plan(
                    "deployment-in-progress",
                    format!(
                        "{}; {} but a deployment is rolling out ({} deployments): not forcing another",
                        classification.why,
                        service.counts(),
                        service.deployments
                    ),
                    Step::Nothing,
                    severity,
                );
            }
            let stopped_at = task.stopped_at.unwrap_or(now);
            let elapsed = now - stopped_at;
            if elapsed < policy.replacement_grace {
                return plan(
                    "waiting-for-scheduler",
                    format!(
                        "{}; {}, {}s after the stop (grace {}s): giving ECS time to start a replacement",
                        classification.why,
                        service.counts(),
                        seconds(elapsed),
                        seconds(policy.replacement_grace)
                    ),
                    Step::WaitForScheduler {
                        until: stopped_at + policy.replacement_grace,
                    },
                    severity,
                );
            }
            plan(
                "force-new-deployment",
                format!(
                    "{}; {} {}s after the stop (grace {}s): forcing a new deployment to unstick the service (desired count unchanged)",
                    classification.why,
                    service.counts(),
                    seconds(elapsed),
                    seconds(policy.replacement_grace)
                ),
                Step::ForceNewDeployment {
                    service: name.clone(),
                },
                severity,
            )
        }
        TaskGroup::Family(family) => {
            if !policy.standalone_families.iter().any(|f| f == family) {
                return plan(
                    "not-on-allow-list",
                    format!(
                        "{}; family {family} is not in STANDALONE_FAMILIES: not restarted",
                        classification.why
                    ),
                    Step::Nothing,
                    severity,
                );
            }
            if matches!(kind, StopKind::FailedToStart) {
                return plan(
                    "not-restarting-failed-to-start",
                    format!(
                        "{}; restarting will not help until the cause is fixed",
                        classification.why
                    ),
                    Step::Nothing,
                    severity,
                );
            }
            if matches!(kind, StopKind::Unknown) {
                return plan(
                    "not-restarting-unknown-stop",
                    format!(
                        "{}; not restarted on a guess: a human should look",
                        classification.why
                    ),
                    Step::Nothing,
                    severity,
                );
            }
            if let Some(l) = crash_loop {
                return plan(
                    "crash-loop",
                    format!(
                        "{}; {}: restarts stopped",
                        classification.why,
                        loop_words(l)
                    ),
                    Step::Nothing,
                    Some(loop_severity(l)),
                );
            }
            if let Some(replacement) = &observed.replacement {
                return plan(
                    "already-replaced",
                    format!(
                        "{}; replacement {} was already started by phoenix-ops (repeated event)",
                        classification.why,
                        replacement.rsplit('/').next().unwrap_or(replacement)
                    ),
                    Step::Nothing,
                    severity,
                );
            }
            plan(
                "start-replacement",
                format!(
                    "{}; {failures} failure(s) in {window_minutes} min (threshold {}): starting a replacement",
                    classification.why, policy.crash_loop_threshold
                ),
                Step::StartReplacement {
                    family: family.clone(),
                },
                severity,
            )
        }
        TaskGroup::Other(group) => plan(
            "not-managed",
            format!(
                "{}; group {group:?} is neither a service nor a family: reported only",
                classification.why
            ),
            Step::Nothing,
            severity,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::{Planned, classify};
    use crate::event::parse;
    use chrono::TimeZone;
    use serde_json::Value;

    fn fixture(name: &str) -> StoppedTask {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("fixture");
        let value: Value = serde_json::from_str(&text).expect("json");
        parse(&value, "phoenix-cluster").expect("stopped task")
    }

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, h, m, s)
            .single()
            .expect("valid")
    }

    fn policy() -> Policy {
        Policy {
            standalone_families: vec!["phoenix-worker".into()],
            crash_loop_threshold: 3,
            crash_loop_window: Duration::minutes(10),
            replacement_grace: Duration::seconds(60),
        }
    }

    fn service(desired: i32, running: i32, pending: i32) -> Option<ServiceState> {
        Some(ServiceState {
            name: "phoenix-service".into(),
            status: "ACTIVE".into(),
            desired,
            running,
            pending,
            deployments: 1,
        })
    }

    fn crash_at(arn: &str, t: DateTime<Utc>) -> RecentStop {
        RecentStop {
            task_arn: arn.into(),
            kind: StopKind::Crash {
                container: "phoenix".into(),
                exit_code: 1,
            },
            stopped_at: Some(t),
        }
    }

    fn decide(name: &str, observed: Observed, now: DateTime<Utc>) -> Plan {
        let task = fixture(name);
        plan_recovery(&task, &classify(&task.facts), &observed, &policy(), now)
    }

    /// Every fixture, one table: (fixture, observed, now, decision, step, severity).
    #[test]
    fn every_fixture_gets_a_plan() {
        let later = at(10, 17, 0);
        let replaced = Observed {
            replacement: Some("arn:aws:ecs:eu-west-1:1:task/phoenix-cluster/new".into()),
            ..Observed::default()
        };
        let stuck = Observed {
            service: service(2, 1, 0),
            ..Observed::default()
        };
        let steady = Observed {
            service: service(2, 1, 1),
            ..Observed::default()
        };
        type Case<'a> = (
            &'a str,
            Observed,
            DateTime<Utc>,
            &'a str,
            Step,
            Option<Severity>,
        );
        let cases: Vec<Case> = vec![
            (
                "ecs-task-stopped-crash.json",
                steady.clone(),
                later,
                "ecs-replacing",
                Step::Nothing,
                Some(Severity::Error),
            ),
            (
                "ecs-task-stopped-crash.json",
                stuck.clone(),
                later,
                "force-new-deployment",
                Step::ForceNewDeployment {
                    service: "phoenix-service".into(),
                },
                Some(Severity::Error),
            ),
            (
                "ecs-task-stopped-crash.json",
                stuck.clone(),
                at(10, 16, 0),
                "waiting-for-scheduler",
                Step::WaitForScheduler {
                    until: at(10, 15, 41) + Duration::milliseconds(930) + Duration::seconds(60),
                },
                Some(Severity::Error),
            ),
            (
                "ecs-task-stopped-elb-health.json",
                steady.clone(),
                later,
                "ecs-replacing",
                Step::Nothing,
                Some(Severity::Warning),
            ),
            (
                "ecs-task-stopped-scale-in.json",
                stuck.clone(),
                later,
                "planned-stop",
                Step::Nothing,
                None,
            ),
            (
                "ecs-task-stopped-user.json",
                stuck,
                later,
                "planned-stop",
                Step::Nothing,
                None,
            ),
            (
                "ecs-task-stopped-standalone-crash.json",
                Observed::default(),
                later,
                "start-replacement",
                Step::StartReplacement {
                    family: "phoenix-worker".into(),
                },
                Some(Severity::Error),
            ),
            (
                "ecs-task-stopped-standalone-crash.json",
                replaced,
                later,
                "already-replaced",
                Step::Nothing,
                Some(Severity::Error),
            ),
            (
                "ecs-task-stopped-crash.json",
                Observed::default(),
                later,
                "service-not-active",
                Step::Nothing,
                Some(Severity::Error),
            ),
        ];
        for (name, observed, now, decision, step, severity) in cases {
            let plan = decide(name, observed, now);
            assert_eq!(
                (plan.decision, &plan.step, &plan.severity),
                (decision, &step, &severity),
                "{name}: {}",
                plan.reason
            );
        }
    }

    #[test]
    fn a_deployment_in_progress_is_never_forced_again() {
        let mut s = service(2, 1, 0);
        if let Some(s) = s.as_mut() {
            s.deployments = 2;
        }
        let plan = decide(
            "ecs-task-stopped-crash.json",
            Observed {
                service: s,
                ..Observed::default()
            },
            at(10, 20, 0),
        );
        assert_eq!(plan.decision, "deployment-in-progress");
        assert_eq!(plan.step, Step::Nothing);
    }

    #[test]
    fn the_third_failure_in_ten_minutes_is_a_loop_and_only_it_is_critical() {
        let stop = at(10, 15, 41) + Duration::milliseconds(930);
        let two_before = vec![
            crash_at("a", stop - Duration::minutes(2)),
            crash_at("b", stop - Duration::minutes(6)),
        ];
        let plan = decide(
            "ecs-task-stopped-standalone-crash.json",
            Observed {
                recent_stops: two_before.clone(),
                ..Observed::default()
            },
            at(10, 16, 0),
        );
        assert_eq!(plan.decision, "crash-loop");
        assert_eq!(plan.step, Step::Nothing, "no restart in a loop");
        assert_eq!(plan.severity, Some(Severity::Critical));
        assert_eq!(
            plan.crash_loop,
            Some(CrashLoop {
                failures: 3,
                window_minutes: 10,
                first: true
            })
        );
        assert!(
            plan.reason
                .contains("crash loop: 3 failures in 10 min (threshold 3)"),
            "{}",
            plan.reason
        );

        let mut three_before = two_before.clone();
        three_before.push(crash_at("c", stop - Duration::minutes(9)));
        let fourth = decide(
            "ecs-task-stopped-standalone-crash.json",
            Observed {
                recent_stops: three_before,
                ..Observed::default()
            },
            at(10, 16, 0),
        );
        assert_eq!(
            (fourth.decision, fourth.severity),
            ("crash-loop", Some(Severity::Error)),
            "the loop is raised once"
        );

        let service_loop = decide(
            "ecs-task-stopped-crash.json",
            Observed {
                recent_stops: two_before,
                service: service(2, 1, 0),
                ..Observed::default()
            },
            at(10, 20, 0),
        );
        assert_eq!(
            (service_loop.decision, &service_loop.step),
            ("crash-loop", &Step::Nothing),
            "{}",
            service_loop.reason
        );
    }

    #[test]
    fn only_failures_inside_the_window_and_of_the_group_count() {
        let task = fixture("ecs-task-stopped-standalone-crash.json");
        let stop = task.stopped_at.expect("stopped");
        let kind = classify(&task.facts).kind;
        let recent = vec![
            crash_at("old", stop - Duration::minutes(11)),
            crash_at(&task.task_arn, stop),
            RecentStop {
                task_arn: "planned".into(),
                kind: StopKind::Planned {
                    origin: Planned::UserStop,
                },
                stopped_at: Some(stop),
            },
            RecentStop {
                task_arn: "no-time".into(),
                kind: StopKind::HealthCheckFailed,
                stopped_at: None,
            },
            crash_at("edge", stop - Duration::minutes(10)),
            crash_at("future", stop + Duration::minutes(1)),
        ];
        assert_eq!(
            count_failures(&task, &kind, &recent, Duration::minutes(10), stop),
            2,
            "itself (once) and the one exactly at the edge"
        );
    }

    #[test]
    fn standalone_rules_never_restart_on_a_guess() {
        let mut task = fixture("ecs-task-stopped-standalone-crash.json");
        let now = at(10, 17, 0);
        let mut not_allowed = policy();
        not_allowed.standalone_families.clear();
        let plan = plan_recovery(
            &task,
            &classify(&task.facts),
            &Observed::default(),
            &not_allowed,
            now,
        );
        assert_eq!(
            (plan.decision, &plan.step),
            ("not-on-allow-list", &Step::Nothing)
        );

        task.facts.stop_code = Some("TaskFailedToStart".into());
        task.facts.stopped_reason = "CannotPullContainerError: ref not found".into();
        let plan = plan_recovery(
            &task,
            &classify(&task.facts),
            &Observed::default(),
            &policy(),
            now,
        );
        assert_eq!(
            (plan.decision, &plan.step),
            ("not-restarting-failed-to-start", &Step::Nothing)
        );

        task.facts.stop_code = Some("SomethingNew".into());
        let plan = plan_recovery(
            &task,
            &classify(&task.facts),
            &Observed::default(),
            &policy(),
            now,
        );
        assert_eq!(
            (plan.decision, &plan.step, plan.severity),
            (
                "not-restarting-unknown-stop",
                &Step::Nothing,
                Some(Severity::Warning)
            )
        );

        task.facts.stop_code = Some("SpotInterruption".into());
        let plan = plan_recovery(
            &task,
            &classify(&task.facts),
            &Observed::default(),
            &policy(),
            now,
        );
        assert_eq!(
            plan.decision, "start-replacement",
            "an interrupted worker is restarted"
        );

        task.facts.stop_code = Some("EssentialContainerExited".into());
        task.facts.containers[0].exit_code = Some(0);
        let plan = plan_recovery(
            &task,
            &classify(&task.facts),
            &Observed::default(),
            &policy(),
            now,
        );
        assert_eq!(
            (plan.decision, plan.severity),
            ("planned-stop", None),
            "a finished job is not restarted"
        );
    }

    #[test]
    fn edge_cases_never_panic() {
        let mut task = fixture("ecs-task-stopped-crash.json");
        task.facts.containers.clear();
        task.stopped_at = None;
        task.started_at = None;
        task.group = TaskGroup::Other("batch".into());
        let plan = plan_recovery(
            &task,
            &classify(&task.facts),
            &Observed::default(),
            &policy(),
            at(10, 0, 0),
        );
        assert_eq!(
            (plan.decision, plan.severity),
            ("not-managed", Some(Severity::Warning))
        );
    }
}
