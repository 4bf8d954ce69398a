//! The re-check and ECS-event planners as tables, and the decisions' wording.

use chrono::Duration;
use phoenix_core::Severity;

use super::decide::{deploying, policy, service, steps, with_service};
use super::{at, fixture, parse_at, stop_time};
use crate::decide::{Decision, is_early, plan_recheck, plan_service_event};
use crate::event::Trigger;
use crate::observe::Observed;
use crate::recheck::{Recheck, SCHEMA};

pub(super) fn recheck(attempt: u32, forced: bool) -> Recheck {
    Recheck {
        schema: SCHEMA.into(),
        cluster_arn: super::CLUSTER_ARN.into(),
        service: "phoenix-service".into(),
        task_arn: "arn:aws:ecs:eu-west-1:111122223333:task/phoenix-cluster/00000001c0ffee4b1a9e43e0a6d10001".into(),
        event_id: "00000000-0000-0000-5418-ad0d00000001".into(),
        stop_kind: "crash".into(),
        attempt,
        max_attempts: 3,
        due_at: at(10, 17, 0),
        stopped_at: stop_time(),
        forced,
    }
}

#[test]
fn a_recheck_looks_again_forces_once_and_gives_up_with_a_warning() {
    let now = at(10, 17, 1);
    let short = with_service(service(2, 1, 0));
    let rolling = with_service(deploying(service(2, 1, 0)));
    let full = with_service(service(2, 2, 0));
    let none = Observed::default();
    let parked = with_service(service(0, 0, 0));
    let unreadable = Observed {
        problem: Some("AccessDenied".into()),
        ..Observed::default()
    };
    type Case<'a> = (
        &'a str,
        Recheck,
        &'a Observed,
        Decision,
        &'a [&'a str],
        Option<Severity>,
    );
    let cases: Vec<Case> = vec![
        (
            "capacity back on its own",
            recheck(1, false),
            &full,
            Decision::CapacityBack,
            &[],
            None,
        ),
        (
            "capacity back after forcing",
            recheck(2, true),
            &full,
            Decision::CapacityBack,
            &["report-once"],
            Some(Severity::Info),
        ),
        (
            "short, nothing rolling: force",
            recheck(1, false),
            &short,
            Decision::ForceNewDeployment,
            &["force", "recheck"],
            Some(Severity::Warning),
        ),
        (
            "short, rolling out",
            recheck(1, false),
            &rolling,
            Decision::StillShort,
            &["recheck"],
            None,
        ),
        (
            "short after forcing",
            recheck(2, true),
            &short,
            Decision::StillShort,
            &["recheck"],
            None,
        ),
        (
            "still rolling at the last look",
            recheck(3, true),
            &rolling,
            Decision::StaysShort,
            &["report-once"],
            Some(Severity::Warning),
        ),
        (
            "never forced, last look",
            recheck(3, false),
            &short,
            Decision::StaysShort,
            &["force", "report-once"],
            Some(Severity::Warning),
        ),
        (
            "service gone",
            recheck(1, false),
            &none,
            Decision::ServiceNotActive,
            &[],
            None,
        ),
        (
            "parked meanwhile",
            recheck(1, false),
            &parked,
            Decision::ServiceParked,
            &[],
            None,
        ),
        (
            "ECS unreadable",
            recheck(1, false),
            &unreadable,
            Decision::CouldNotObserve,
            &[],
            Some(Severity::Error),
        ),
    ];
    for (name, recheck, observed, decision, want_steps, severity) in cases {
        let plan = plan_recheck(&recheck, observed, &policy(), now);
        assert_eq!(
            (plan.decision, steps(&plan).as_slice(), &plan.severity),
            (decision, want_steps, &severity),
            "{name}: {}",
            plan.reason
        );
        if let Some(next) = plan.recheck() {
            assert_eq!(next.attempt, recheck.attempt + 1, "{name}");
            let delay = policy().recheck_delay(recheck.attempt);
            assert_eq!(next.due_at, now + delay, "{name}: the interval doubles");
            assert_eq!(
                next.forced,
                recheck.forced || decision == Decision::ForceNewDeployment,
                "{name}"
            );
        }
    }
    let forced = plan_recheck(&recheck(1, false), &short, &policy(), now);
    assert!(
        forced
            .reason
            .ends_with("re-check at 10:18:01 UTC (attempt 2 of 3)"),
        "{}",
        forced.reason
    );
}

#[test]
fn what_several_chains_see_is_told_once_per_service() {
    let plan = plan_recheck(
        &recheck(3, true),
        &with_service(service(2, 1, 0)),
        &policy(),
        at(10, 17, 1),
    );
    let keys: Vec<&str> = plan
        .steps
        .iter()
        .filter_map(|s| match s {
            crate::decide::Step::ReportOnce { key, keep } => {
                assert_eq!(*keep, Duration::minutes(7), "60 + 120 + 240 s");
                Some(key.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        keys,
        [
            "task-recovery:stays-short:arn:aws:ecs:eu-west-1:111122223333:cluster/phoenix-cluster/phoenix-service"
        ]
    );
}

#[test]
fn a_recheck_that_arrives_early_is_sent_back_to_wait() {
    let early = recheck(1, false);
    let now = at(10, 16, 0);
    assert!(is_early(&early, now));
    assert!(!is_early(&early, at(10, 16, 55)), "10 s early is on time");
    let plan = plan_recheck(&early, &Observed::default(), &policy(), now);
    assert_eq!(plan.decision, Decision::RecheckEarly);
    assert_eq!(plan.recheck(), Some(&early), "the same attempt again");
    assert_eq!(early.delay_seconds(now), 60);
}

#[test]
fn ecs_problems_become_notices_of_the_right_severity() {
    let now = at(10, 35, 0);
    for (name, decision, severity) in [
        (
            "ecs-deployment-failed.json",
            Decision::DeploymentFailed,
            Severity::Error,
        ),
        (
            "ecs-deployment-rollback.json",
            Decision::RollingBack,
            Severity::Warning,
        ),
        (
            "ecs-service-placement-failure.json",
            Decision::ServiceProblem,
            Severity::Error,
        ),
    ] {
        let Ok(Trigger::ServiceEvent(event)) = parse_at(&fixture(name), now) else {
            panic!("{name}");
        };
        let plan = plan_service_event(&event);
        assert_eq!(
            (plan.decision, plan.severity, plan.steps.len()),
            (decision, Some(severity), 0),
            "{name}"
        );
    }
    let mut warn = fixture("ecs-service-placement-failure.json");
    warn["detail"]["eventType"] = "WARN".into();
    warn["detail"]["eventName"] = "SERVICE_TASK_START_IMPAIRED".into();
    let Ok(Trigger::ServiceEvent(event)) = parse_at(&warn, now) else {
        panic!("a WARN event is ours");
    };
    assert_eq!(plan_service_event(&event).severity, Some(Severity::Warning));
    let mut unrated = fixture("ecs-service-placement-failure.json");
    unrated["detail"]["eventType"] = serde_json::Value::Null;
    unrated["detail"]["eventName"] = "SERVICE_TASK_CONFIGURATION_FAILURE".into();
    let Ok(Trigger::ServiceEvent(event)) = parse_at(&unrated, now) else {
        panic!("an unrated problem is still ours");
    };
    assert_eq!(
        (
            plan_service_event(&event).decision,
            plan_service_event(&event).severity
        ),
        (Decision::ServiceProblem, Some(Severity::Warning))
    );
}

#[test]
fn decisions_have_distinct_slugs_and_words() {
    // `Decision::ALL` names every variant of the enum, in order: read from the source, so a
    // new variant fails here until it is listed (and so gets its slug and words checked)
    let source = include_str!("../decide.rs");
    let body = source
        .split_once("pub enum Decision {")
        .and_then(|(_, rest)| rest.split_once('}'))
        .map(|(body, _)| body)
        .expect("the enum in decide.rs");
    let declared: Vec<&str> = body
        .lines()
        .map(|l| l.trim().trim_end_matches(','))
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
        .collect();
    let listed: Vec<String> = Decision::ALL.iter().map(|d| format!("{d:?}")).collect();
    assert_eq!(
        declared, listed,
        "Decision::ALL must list every variant in order"
    );
    let all = Decision::ALL;
    let mut slugs: Vec<&str> = all.iter().map(|d| d.slug()).collect();
    slugs.sort_unstable();
    slugs.dedup();
    assert_eq!(slugs.len(), all.len());
    for d in all {
        assert!(
            d.slug().chars().all(|c| c.is_ascii_lowercase() || c == '-'),
            "{d:?}"
        );
        assert!(!d.words().is_empty());
        assert_eq!(serde_json::to_value(d).ok(), Some(d.slug().into()));
    }
}

#[test]
fn the_policy_spaces_rechecks_and_bounds_forcing() {
    let mut p = policy();
    assert_eq!(p.recheck_interval(), Duration::seconds(60));
    p.replacement_grace = Duration::zero();
    assert_eq!(
        p.recheck_interval(),
        Duration::seconds(60),
        "never a busy loop"
    );
    p.replacement_grace = Duration::seconds(60);
    let delays: Vec<i64> = (1..=5).map(|a| p.recheck_delay(a).num_seconds()).collect();
    assert_eq!(
        delays,
        [60, 120, 240, 480, 900],
        "doubling, capped at SQS's 900 s"
    );
    assert_eq!(p.recheck_delay(u32::MAX), Duration::seconds(900));
    assert_eq!(
        p.force_keep(),
        Duration::seconds(420),
        "a span of 3 re-checks"
    );
    p.replacement_grace = Duration::seconds(600);
    p.recheck_max_attempts = 10;
    assert_eq!(p.force_keep(), Duration::seconds(600 + 9 * 900));
}
