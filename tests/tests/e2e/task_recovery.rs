//! task-recovery end to end: the real handler against the emulator's ECS, CloudWatch Logs and SNS.
//! Tasks are stopped the way ECS stops them (`World::stop_task_as`, which fills moto's gaps in the
//! harness, visibly), and the events are the ones ECS would send.

use aws_sdk_ecs::types::DesiredStatus;
use chrono::{DateTime, Duration, TimeZone, Utc};
use phoenix_core::lambda::load_config;
use phoenix_core::{Function, Invocation, Notice, Outcome, Severity, Vars};
use phoenix_testkit::world::{self, StopScenario, read_tap, task_id};
use phoenix_testkit::{Emulator, World, WorldSpec, new_account};
use task_recovery::TaskRecovery;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 15, 42)
        .single()
        .expect("valid")
}

async fn seeded() -> World {
    let spec = WorldSpec::new(&new_account(), "http://127.0.0.1:9/unused", t0());
    World::seed(Emulator::shared(), &spec)
        .await
        .expect("world seeds")
}

fn handler(world: &World, overrides: &[(&str, &str)]) -> TaskRecovery {
    let mut env = world.env();
    for (k, v) in overrides {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    let config = load_config::<TaskRecovery>(Vars::new(|k| env.get(k).cloned())).expect("config");
    TaskRecovery::from_sdk(config, &world.sdk)
}

async fn run(handler: &TaskRecovery, event: &serde_json::Value, now: DateTime<Utc>) -> Outcome {
    handler
        .handle(Invocation::new(event.clone(), now))
        .await
        .expect("handled")
}

async fn replacements_of(world: &World) -> Vec<(String, Option<String>)> {
    let ecs = aws_sdk_ecs::Client::new(&world.sdk);
    let mut found = Vec::new();
    for status in [DesiredStatus::Running, DesiredStatus::Stopped] {
        let arns = ecs
            .list_tasks()
            .cluster(world::CLUSTER)
            .family(world::WORKER_FAMILY)
            .started_by("phoenix-ops")
            .desired_status(status)
            .send()
            .await
            .expect("list")
            .task_arns()
            .to_vec();
        if arns.is_empty() {
            continue;
        }
        let tasks = ecs
            .describe_tasks()
            .cluster(world::CLUSTER)
            .set_tasks(Some(arns))
            .include(aws_sdk_ecs::types::TaskField::Tags)
            .send()
            .await
            .expect("describe");
        for t in tasks.tasks() {
            let replaces = t
                .tags()
                .iter()
                .find(|tag| tag.key() == Some("phoenix-ops:replaces"))
                .and_then(|tag| tag.value().map(str::to_owned));
            found.push((t.task_arn().unwrap_or_default().to_owned(), replaces));
        }
    }
    found
}

async fn notices(world: &World) -> Vec<Notice> {
    read_tap(&world.sdk, &world.alerts_queue_url, 2)
        .await
        .expect("tap")
        .iter()
        .filter_map(|p| Notice::from_json(&p.message))
        .collect()
}

#[tokio::test]
async fn a_crashed_standalone_task_is_replaced_exactly_once_even_when_the_event_is_delivered_twice()
{
    let world = seeded().await;
    let event = world
        .stop_task_as(
            &world.worker_task_arn,
            &StopScenario::Crash { exit_code: 1 },
            t0(),
            "evt-standalone-1",
        )
        .await
        .expect("stopped");
    let now = t0() + Duration::seconds(3);

    let first = handler(&world, &[]);
    let outcome = run(&first, &event, now).await;
    assert_eq!(
        outcome.decision.as_deref(),
        Some("start-replacement"),
        "{outcome:?}"
    );
    assert_eq!(outcome.actions[0].call, "ecs:RunTask");

    // The same delivery again, in the same container: ignored by version.
    let again = run(&first, &event, now).await;
    assert!(
        again
            .ignored
            .as_deref()
            .is_some_and(|w| w.starts_with("duplicate or out-of-date event")),
        "{again:?}"
    );

    // And in another container (no memory of the first): the tag on the replacement says it is done.
    let other = handler(&world, &[]);
    let elsewhere = run(&other, &event, now).await;
    assert_eq!(
        elsewhere.decision.as_deref(),
        Some("already-replaced"),
        "{elsewhere:?}"
    );
    assert!(
        elsewhere.actions.is_empty(),
        "no second RunTask: {elsewhere:?}"
    );

    let replacements = replacements_of(&world).await;
    assert_eq!(replacements.len(), 1, "{replacements:?}");
    assert_eq!(
        replacements[0].1.as_deref(),
        Some(task_id(&world.worker_task_arn))
    );
}

#[tokio::test]
async fn a_service_below_its_desired_count_gets_a_new_deployment_and_keeps_its_desired_count() {
    let world = seeded().await;
    let ecs = aws_sdk_ecs::Client::new(&world.sdk);
    let deployment =
        |services: &aws_sdk_ecs::operation::describe_services::DescribeServicesOutput| {
            let s = &services.services()[0];
            (
                s.deployments()[0].id().unwrap_or_default().to_owned(),
                s.desired_count(),
            )
        };
    let before = deployment(
        &ecs.describe_services()
            .cluster(world::CLUSTER)
            .services(world::SERVICE)
            .send()
            .await
            .expect("describe"),
    );

    let event = world
        .stop_task_as(
            &world.service_task_arns[0],
            &StopScenario::Crash { exit_code: 1 },
            t0(),
            "evt-stuck",
        )
        .await
        .expect("stopped");
    // ECS did not start a replacement: 1 running + 0 pending of 2 (moto cannot show this; the harness does).
    world.gaps.service_counts(world::SERVICE, 1, 0);
    let outcome = run(&handler(&world, &[]), &event, t0() + Duration::minutes(2)).await;
    assert_eq!(
        outcome.decision.as_deref(),
        Some("force-new-deployment"),
        "{outcome:?}"
    );

    let after = deployment(
        &ecs.describe_services()
            .cluster(world::CLUSTER)
            .services(world::SERVICE)
            .send()
            .await
            .expect("describe"),
    );
    assert_ne!(before.0, after.0, "a new deployment was started");
    assert_eq!(
        (before.1, after.1),
        (2, 2),
        "desired count never changes here"
    );
}

#[tokio::test]
async fn a_service_that_ecs_is_already_replacing_is_left_alone() {
    let world = seeded().await;
    let event = world
        .stop_task_as(
            &world.service_task_arns[1],
            &StopScenario::ElbHealthCheck,
            t0(),
            "evt-health",
        )
        .await
        .expect("stopped");
    world.gaps.service_counts(world::SERVICE, 1, 1);
    let outcome = run(&handler(&world, &[]), &event, t0() + Duration::seconds(5)).await;
    assert_eq!(
        outcome.decision.as_deref(),
        Some("ecs-replacing"),
        "{outcome:?}"
    );
    assert!(outcome.actions.is_empty());
    let n = notices(&world).await;
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].severity, Severity::Warning);
    assert!(
        n[0].title
            .contains("failed its health checks — ECS is replacing it"),
        "{}",
        n[0].title
    );
}

#[tokio::test]
async fn a_planned_stop_changes_nothing_and_tells_no_one() {
    let world = seeded().await;
    let event = world
        .stop_task_as(
            &world.service_task_arns[0],
            &StopScenario::ScaleIn,
            t0(),
            "evt-scale-in",
        )
        .await
        .expect("stopped");
    let outcome = run(&handler(&world, &[]), &event, t0()).await;
    assert_eq!(outcome.decision.as_deref(), Some("planned-stop"));
    assert!(outcome.notice.is_none() && outcome.actions.is_empty());
    assert!(notices(&world).await.is_empty());
}

#[tokio::test]
async fn a_crash_loop_stops_restarts_and_raises_one_critical_notice() {
    let world = seeded().await;
    let recovery = handler(&world, &[]);
    let mut victim = world.worker_task_arn.clone();
    let mut decisions = Vec::new();
    for (i, minute) in [0i64, 2, 4, 6].iter().enumerate() {
        let at = t0() + Duration::minutes(*minute);
        let event = world
            .stop_task_as(
                &victim,
                &StopScenario::Crash { exit_code: 1 },
                at,
                &format!("evt-loop-{i}"),
            )
            .await
            .expect("stopped");
        let outcome = run(&recovery, &event, at + Duration::seconds(2)).await;
        decisions.push(outcome.decision.clone().unwrap_or_default());
        // The next victim is the replacement phoenix-ops just started (if any).
        let replacements = replacements_of(&world).await;
        if let Some((arn, _)) = replacements
            .iter()
            .find(|(_, r)| r.as_deref() == Some(task_id(&victim)))
        {
            victim = arn.clone();
        } else {
            victim = world.start_task(false).await.expect("another worker");
        }
    }
    assert_eq!(
        decisions,
        [
            "start-replacement",
            "start-replacement",
            "crash-loop",
            "crash-loop"
        ]
    );
    assert_eq!(
        replacements_of(&world).await.len(),
        2,
        "no restart once looping"
    );

    let published = notices(&world).await;
    assert_eq!(published.len(), 4, "{published:?}");
    let critical: Vec<&Notice> = published
        .iter()
        .filter(|n| n.severity == Severity::Critical)
        .collect();
    assert_eq!(critical.len(), 1, "the loop is raised once: {published:#?}");
    assert_eq!(
        critical[0].title,
        "phoenix-worker is crash-looping: 3 failures in 10 min"
    );
}

#[tokio::test]
async fn the_notice_reaches_alerts_with_the_reason_and_the_last_log_lines() {
    let world = seeded().await;
    let event = world
        .stop_task_as(
            &world.service_task_arns[0],
            &StopScenario::Crash { exit_code: 1 },
            t0(),
            "evt-crash",
        )
        .await
        .expect("stopped");
    let outcome = run(&handler(&world, &[]), &event, t0() + Duration::seconds(4)).await;
    assert_eq!(
        outcome.decision.as_deref(),
        Some("ecs-replacing"),
        "{outcome:?}"
    );

    let published = notices(&world).await;
    assert_eq!(published.len(), 1);
    let notice = &published[0];
    assert_eq!(notice.severity, Severity::Error);
    assert_eq!(
        notice.title,
        "phoenix-service task crashed (exit 1) — ECS is replacing it"
    );
    assert_eq!(notice.event_id.as_deref(), Some("evt-crash"));
    let field = |label: &str| {
        notice
            .fields
            .iter()
            .find(|f| f.label == label)
            .map(|f| f.value.as_str())
    };
    assert_eq!(field("Stop kind"), Some("crash"));
    assert_eq!(field("Stop code"), Some("EssentialContainerExited"));
    assert_eq!(field("Container phoenix"), Some("exit 1"));
    assert_eq!(field("Lived"), Some("42m 0s"));
    let details = notice.details.as_deref().unwrap_or_default();
    let lines: Vec<&str> = details.lines().collect();
    assert_eq!(lines.len(), 20, "the last 20 lines: {details}");
    assert_eq!(lines[19], "GET /api/items 200 5ms (request 30)");
    assert_eq!(lines[0], "GET /api/items 200 7ms (request 11)");
    let links: Vec<&str> = notice.links.iter().map(|l| l.label.as_str()).collect();
    assert_eq!(links, ["Task", "Service", "Logs"]);
}

#[tokio::test]
async fn dry_run_decides_and_reports_but_changes_nothing() {
    let world = seeded().await;
    let event = world
        .stop_task_as(
            &world.worker_task_arn,
            &StopScenario::OutOfMemory,
            t0(),
            "evt-dry",
        )
        .await
        .expect("stopped");
    let outcome = run(
        &handler(&world, &[("DRY_RUN", "true")]),
        &event,
        t0() + Duration::seconds(3),
    )
    .await;
    assert_eq!(outcome.decision.as_deref(), Some("start-replacement"));
    assert!(outcome.dry_run);
    assert_eq!(
        outcome.actions[0].status,
        phoenix_core::ActionStatus::DryRun
    );
    assert!(outcome.notice.as_ref().is_some_and(|n| {
        n.title
            .contains("was killed for memory (OOM) — would start a replacement (dry run)")
    }));
    assert!(replacements_of(&world).await.is_empty(), "nothing started");
    assert!(notices(&world).await.is_empty(), "nothing published");
}

#[tokio::test]
async fn every_fixture_is_handled_against_the_emulator() {
    let world = seeded().await;
    let recovery = handler(&world, &[("DRY_RUN", "true")]);
    for (name, event) in phoenix_testkit::fixtures::fixtures_starting_with("ecs-task-") {
        let outcome = recovery
            .handle(Invocation::new(event, t0() + Duration::minutes(5)))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let said = outcome
            .ignored
            .clone()
            .or(outcome.decision.clone())
            .unwrap_or_default();
        assert!(!said.is_empty(), "{name}: {outcome:?}");
    }
}
