//! task-recovery end to end: the real handler against the emulator's ECS, Logs, SNS, SQS (the
//! re-check queue) and DynamoDB (the ledger); tasks stopped as ECS stops them, the events ECS
//! would send. Several `TaskRecovery` values stand for several containers: they share only AWS.

mod stage;

use chrono::Duration;
use phoenix_core::{ActionStatus, Function, Invocation, Notice, Severity};
use phoenix_testkit::world::{self, StopScenario, task_id};
use serde_json::{Value, json};

use stage::{done, run, staged, t0};

#[tokio::test]
async fn one_event_delivered_to_two_containers_at_once_makes_one_replacement_and_one_notice() {
    let stage = staged().await;
    let event = stage
        .stop(
            &stage.world.worker_task_arn,
            StopScenario::Crash { exit_code: 1 },
            t0(),
            "evt-standalone-1",
        )
        .await;
    let now = t0() + Duration::seconds(3);
    let (a, b) = (stage.container(&[]), stage.container(&[]));
    let (first, second) = tokio::join!(
        run(&a, &event, now, "req-container-a"),
        run(&b, &event, now, "req-container-b")
    );
    let (acted, duplicate) = if first.ignored.is_none() {
        (first, second)
    } else {
        (second, first)
    };
    assert_eq!(
        acted.decision.as_deref(),
        Some("start-replacement"),
        "{acted:?}"
    );
    assert_eq!(done(&acted, "ecs:RunTask"), 1);
    assert!(
        duplicate
            .ignored
            .as_deref()
            .is_some_and(|w| w.contains("already handled")
                || w.contains("being handled by invocation req-container")),
        "{duplicate:?}"
    );
    assert!(duplicate.actions.is_empty() && duplicate.notice.is_none());

    // A late third delivery, to a fresh container: the ledger says it is done.
    let late = run(
        &stage.container(&[]),
        &event,
        now + Duration::minutes(5),
        "req-c",
    )
    .await;
    assert!(
        late.ignored
            .as_deref()
            .is_some_and(|w| w.starts_with("duplicate delivery")),
        "{late:?}"
    );

    let replacements = stage.replacements().await;
    assert_eq!(replacements.len(), 1, "{replacements:?}");
    assert_eq!(
        replacements[0].1.as_deref(),
        Some(task_id(&stage.world.worker_task_arn))
    );
    assert_eq!(stage.notices().await.len(), 1, "one Notice");
}

#[tokio::test]
async fn a_stuck_service_is_rechecked_durably_forced_once_and_reported_back() {
    let stage = staged().await;
    let world = &stage.world;
    let (before, _) = stage.deployment().await;
    let event = stage
        .stop(
            &world.service_task_arns[0],
            StopScenario::Crash { exit_code: 1 },
            t0(),
            "evt-stuck",
        )
        .await;
    // ECS does not start a replacement: 1 running + 0 pending of 2 (the harness shows it).
    world.gaps.service_counts(world::SERVICE, 1, 0);
    let grace = [("REPLACEMENT_GRACE_SECONDS", "2")];
    let outcome = run(
        &stage.container(&grace),
        &event,
        t0() + Duration::seconds(1),
        "req-1",
    )
    .await;
    assert_eq!(
        outcome.decision.as_deref(),
        Some("waiting-for-scheduler"),
        "{outcome:?}"
    );
    assert_eq!(done(&outcome, "sqs:SendMessage"), 1);
    assert!(
        outcome
            .reason
            .as_deref()
            .is_some_and(|r| r.ends_with("re-check at 10:15:44 UTC (attempt 1 of 3)")),
        "{outcome:?}"
    );

    // The re-check comes back through the queue after its delay (1 s) and finds the service short.
    let rechecks = stage.due_rechecks(5).await;
    assert_eq!(rechecks.len(), 1, "one re-check message");
    let recheck_now = t0() + Duration::seconds(3);
    let (x, y) = (stage.container(&grace), stage.container(&grace));
    // Delivered twice (SQS is at least once), to two containers at once: one acts; the other
    // finds it done (ignored) or being done (a retryable error: SQS hands it out again later).
    let (first, second) = tokio::join!(
        x.handle(Invocation::new(rechecks[0].clone(), recheck_now).request_id("req-2")),
        y.handle(Invocation::new(rechecks[0].clone(), recheck_now).request_id("req-3"))
    );
    let (forced, other): (Vec<_>, Vec<_>) = [&first, &second]
        .into_iter()
        .partition(|r| matches!(r, Ok(o) if o.decision.as_deref() == Some("force-new-deployment")));
    assert_eq!(forced.len(), 1, "{first:?}\n{second:?}");
    assert!(
        other.iter().all(|r| match r {
            Ok(o) => o
                .ignored
                .as_deref()
                .is_some_and(|w| w.starts_with("duplicate delivery")),
            Err(e) => e.0.contains("being handled by invocation req-"),
        }),
        "{other:?}"
    );
    let forced = forced[0].as_ref().expect("acted");
    assert_eq!(done(forced, "ecs:UpdateService"), 1);
    assert_eq!(
        done(forced, "sqs:SendMessage"),
        1,
        "the next look is scheduled"
    );
    let (after, desired) = stage.deployment().await;
    assert_ne!(before, after, "a new deployment was started");
    assert_eq!(desired, 2, "the desired count never changes here");

    // Capacity is back by the next look (its delay is a minute of real time: the test sends it).
    world.gaps.service_counts(world::SERVICE, 2, 0);
    let next = stage::with_body(&rechecks[0], |body| {
        body["attempt"] = json!(2);
        body["forced"] = json!(true);
        body["due_at"] = json!("2026-11-20T10:16:45Z");
    });
    let back = run(
        &stage.container(&grace),
        &next,
        t0() + Duration::seconds(64),
        "req-4",
    )
    .await;
    assert_eq!(back.decision.as_deref(), Some("capacity-back"), "{back:?}");

    let notices = stage.notices().await;
    let titles: Vec<(&Severity, &str)> = notices
        .iter()
        .map(|n| (&n.severity, n.title.as_str()))
        .collect();
    assert_eq!(notices.len(), 3, "{titles:#?}");
    assert!(titles.iter().any(|(s, t)| **s == Severity::Error
        && *t == "phoenix-service task crashed (exit 1) — ECS should replace it; re-check scheduled"), "{titles:#?}");
    assert!(
        titles.iter().any(|(s, t)| **s == Severity::Warning
            && t.starts_with("phoenix-service still short")
            && t.ends_with("forced a new deployment")),
        "{titles:#?}"
    );
    assert!(
        titles.iter().any(|(s, t)| **s == Severity::Info
            && t.starts_with("phoenix-service is back to full capacity")),
        "{titles:#?}"
    );
}

#[tokio::test]
async fn two_crashed_tasks_rechecked_in_two_containers_force_one_deployment() {
    let stage = staged().await;
    let world = &stage.world;
    world.gaps.service_counts(world::SERVICE, 0, 0);
    let grace = [("REPLACEMENT_GRACE_SECONDS", "1")];
    for (i, task) in world.service_task_arns.iter().enumerate() {
        let event = stage
            .stop(
                task,
                StopScenario::Crash { exit_code: 1 },
                t0(),
                &format!("evt-both-{i}"),
            )
            .await;
        let outcome = run(&stage.container(&grace), &event, t0(), &format!("req-{i}")).await;
        assert_eq!(
            outcome.decision.as_deref(),
            Some("waiting-for-scheduler"),
            "{outcome:?}"
        );
    }
    let rechecks = stage.wait_for_rechecks(2).await;
    assert_eq!(rechecks.len(), 2);
    let (a, b) = (stage.container(&grace), stage.container(&grace));
    let now = t0() + Duration::seconds(2);
    let (first, second) = tokio::join!(
        run(&a, &rechecks[0], now, "req-a"),
        run(&b, &rechecks[1], now, "req-b")
    );
    assert_eq!(
        done(&first, "ecs:UpdateService") + done(&second, "ecs:UpdateService"),
        1,
        "one forced deployment for the service: {first:?}\n{second:?}"
    );
    let skipped = [&first, &second]
        .iter()
        .flat_map(|o| o.actions.iter())
        .filter(|a| a.call == "ecs:UpdateService" && a.status == ActionStatus::Skipped)
        .count();
    assert_eq!(skipped, 1, "the other says why it did not force");
    let warnings = stage
        .notices()
        .await
        .into_iter()
        .filter(|n| n.severity == Severity::Warning)
        .count();
    assert_eq!(
        warnings, 1,
        "one 'forced a new deployment' Notice for the service"
    );
}

#[tokio::test]
async fn a_missing_image_is_one_warning_and_never_a_restart_or_a_page() {
    let stage = staged().await;
    let world = &stage.world;
    world.gaps.service_counts(world::SERVICE, 0, 0);
    let image = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/phoenix:not-pushed";
    let reason = format!(
        "CannotPullContainerError: pull image manifest has been retried 7 time(s): failed to resolve ref {image}: {image}: not found"
    );
    let mut outcomes = Vec::new();
    for (i, task) in world.service_task_arns.iter().enumerate() {
        let mut event = stage
            .stop(
                task,
                StopScenario::Crash { exit_code: 1 },
                t0(),
                &format!("evt-image-{i}"),
            )
            .await;
        let detail = &mut event["detail"];
        detail["stopCode"] = json!("TaskFailedToStart");
        detail["stoppedReason"] = json!(reason);
        detail["containers"][0]["exitCode"] = Value::Null;
        detail["containers"][0]["reason"] = json!(reason);
        detail["containers"][0]["image"] = json!(image);
        let container = stage.container(&[]);
        outcomes.push(
            run(
                &container,
                &event,
                t0() + Duration::minutes(2),
                &format!("req-{i}"),
            )
            .await,
        );
    }
    for outcome in &outcomes {
        assert_eq!(
            outcome.decision.as_deref(),
            Some("image-missing"),
            "{outcome:?}"
        );
        assert_eq!(
            done(outcome, "ecs:UpdateService") + done(outcome, "sqs:SendMessage"),
            0
        );
    }
    let notices = stage.notices().await;
    assert_eq!(
        notices.len(),
        1,
        "reported once per service and image: {notices:#?}"
    );
    assert_eq!(notices[0].severity, Severity::Warning);
    assert!(notices[0].title.contains(image), "{}", notices[0].title);
    assert!(
        stage.due_rechecks(0).await.is_empty(),
        "nothing to look at again"
    );
}

#[tokio::test]
async fn a_service_that_ecs_is_already_replacing_is_left_alone() {
    let stage = staged().await;
    let world = &stage.world;
    let event = stage
        .stop(
            &world.service_task_arns[1],
            StopScenario::ElbHealthCheck,
            t0(),
            "evt-health",
        )
        .await;
    world.gaps.service_counts(world::SERVICE, 1, 1);
    let outcome = run(
        &stage.container(&[]),
        &event,
        t0() + Duration::seconds(5),
        "req-1",
    )
    .await;
    assert_eq!(
        outcome.decision.as_deref(),
        Some("ecs-replacing"),
        "{outcome:?}"
    );
    assert!(outcome.actions.is_empty());
    let n = stage.notices().await;
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
async fn a_planned_stop_changes_nothing_tells_no_one_and_claims_nothing() {
    let stage = staged().await;
    let world = &stage.world;
    let event = stage
        .stop(
            &world.service_task_arns[0],
            StopScenario::ScaleIn,
            t0(),
            "evt-scale-in",
        )
        .await;
    let outcome = run(&stage.container(&[]), &event, t0(), "req-1").await;
    assert_eq!(outcome.decision.as_deref(), Some("planned-stop"));
    assert!(outcome.notice.is_none() && outcome.actions.is_empty());
    assert!(stage.notices().await.is_empty());
    assert_eq!(stage.ledger_items().await, 0);
}

#[tokio::test]
async fn a_crash_loop_stops_restarts_and_raises_one_critical_notice() {
    let stage = staged().await;
    let world = &stage.world;
    let recovery = stage.container(&[]);
    let mut victim = world.worker_task_arn.clone();
    let mut decisions = Vec::new();
    for (i, minute) in [0i64, 2, 4, 6].iter().enumerate() {
        let at = t0() + Duration::minutes(*minute);
        let event = stage
            .stop(
                &victim,
                StopScenario::Crash { exit_code: 1 },
                at,
                &format!("evt-loop-{i}"),
            )
            .await;
        let outcome = run(
            &recovery,
            &event,
            at + Duration::seconds(2),
            &format!("req-{i}"),
        )
        .await;
        decisions.push(outcome.decision.clone().unwrap_or_default());
        let replacements = stage.replacements().await;
        victim = match replacements
            .iter()
            .find(|(_, r)| r.as_deref() == Some(task_id(&victim)))
        {
            Some((arn, _)) => arn.clone(),
            None => world.start_task(false).await.expect("another worker"),
        };
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
        stage.replacements().await.len(),
        2,
        "no restart once looping"
    );
    let published = stage.notices().await;
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
async fn the_notice_reaches_alerts_with_the_reason_and_the_last_log_lines_redacted() {
    let stage = staged().await;
    let world = &stage.world;
    let victim = &world.service_task_arns[0];
    let logs = aws_sdk_cloudwatchlogs::Client::new(&world.sdk);
    world::write_log_lines(
        &logs,
        world::APP_LOG_GROUP,
        &format!(
            "{}/{}/{}",
            world::LOG_STREAM_PREFIX,
            world::CONTAINER,
            task_id(victim)
        ),
        &["connecting to mongodb://phoenix:s3cr3t@docdb:27017/app".to_owned()],
        t0() + Duration::seconds(1),
    )
    .await
    .expect("log line");
    let event = stage
        .stop(
            victim,
            StopScenario::Crash { exit_code: 1 },
            t0(),
            "evt-crash",
        )
        .await;
    let outcome = run(
        &stage.container(&[]),
        &event,
        t0() + Duration::seconds(4),
        "req-1",
    )
    .await;
    assert_eq!(
        outcome.decision.as_deref(),
        Some("ecs-replacing"),
        "{outcome:?}"
    );
    let published = stage.notices().await;
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
    assert_eq!(field("Container phoenix"), Some("exit 1"));
    assert_eq!(field("Lived"), Some("42m 0s"));
    let details = notice.details.as_deref().unwrap_or_default();
    let lines: Vec<&str> = details.lines().collect();
    assert_eq!(lines.len(), 20, "the last 20 lines: {details}");
    assert_eq!(
        lines[19],
        "connecting to mongodb://phoenix:[redacted]@docdb:27017/app"
    );
    assert_eq!(lines[18], "GET /api/items 200 5ms (request 30)");
    let links: Vec<&str> = notice.links.iter().map(|l| l.label.as_str()).collect();
    assert_eq!(links, ["Task", "Service", "Logs"]);
}

#[tokio::test]
async fn dry_run_decides_and_reports_but_changes_nothing_not_even_the_ledger() {
    let stage = staged().await;
    let world = &stage.world;
    let event = stage
        .stop(
            &world.worker_task_arn,
            StopScenario::OutOfMemory,
            t0(),
            "evt-dry",
        )
        .await;
    let outcome = run(
        &stage.container(&[("DRY_RUN", "true")]),
        &event,
        t0() + Duration::seconds(3),
        "req-1",
    )
    .await;
    assert_eq!(outcome.decision.as_deref(), Some("start-replacement"));
    assert!(outcome.dry_run);
    assert_eq!(outcome.actions[0].status, ActionStatus::DryRun);
    assert!(outcome.notice.as_ref().is_some_and(|n| {
        n.title
            .contains("was killed for memory (OOM) — would start a replacement (dry run)")
    }));
    assert!(stage.replacements().await.is_empty(), "nothing started");
    assert!(stage.notices().await.is_empty(), "nothing published");
    assert_eq!(stage.ledger_items().await, 0, "no claim written");
}

#[tokio::test]
async fn a_failed_deployment_is_told_with_the_task_definitions_and_only_once() {
    let stage = staged().await;
    let world = &stage.world;
    // events/ecs-deployment-failed.json, in this world's account (written out: the test kit
    // reads fixtures from the tree it was compiled in).
    let event = json!({
        "version": "0", "id": "00000000-0000-0000-5418-ad0d00000021",
        "detail-type": "ECS Deployment State Change", "source": "aws.ecs",
        "account": world.account, "time": "2026-11-20T10:15:42Z", "region": "eu-west-1",
        "resources": [format!(
            "arn:aws:ecs:eu-west-1:{}:service/{}/{}", world.account, world::CLUSTER, world::SERVICE
        )],
        "detail": {
            "eventType": "ERROR", "eventName": "SERVICE_DEPLOYMENT_FAILED",
            "deploymentId": "ecs-svc/8273651093847561234", "updatedAt": "2026-11-20T10:15:40Z",
            "reason": "ECS deployment circuit breaker: task failed to start."
        }
    });
    let recovery = stage.container(&[]);
    let outcome = run(&recovery, &event, t0() + Duration::seconds(2), "req-1").await;
    assert_eq!(
        outcome.decision.as_deref(),
        Some("deployment-failed"),
        "{outcome:?}"
    );
    let again = run(
        &stage.container(&[]),
        &event,
        t0() + Duration::seconds(9),
        "req-2",
    )
    .await;
    assert!(again.ignored.is_some(), "{again:?}");
    let notices = stage.notices().await;
    assert_eq!(notices.len(), 1);
    let notice = &notices[0];
    assert_eq!(notice.severity, Severity::Error);
    assert_eq!(
        notice.title,
        "phoenix-service: deployment ecs-svc/8273651093847561234 failed"
    );
    let field = |label: &str| {
        notice
            .fields
            .iter()
            .find(|f| f.label == label)
            .map(|f| f.value.as_str())
    };
    assert_eq!(
        field("Reason"),
        Some("ECS deployment circuit breaker: task failed to start.")
    );
    assert_eq!(
        field("Task definition (before / rolled back to)"),
        Some("phoenix:1 (PRIMARY)")
    );
    assert!(notice.links.iter().all(|l| {
        l.url
            .starts_with("https://eu-west-1.console.aws.amazon.com/ecs/")
    }));
}

#[tokio::test]
async fn every_fixture_is_handled_against_the_emulator() {
    let stage = staged().await;
    let recovery = stage.container(&[("DRY_RUN", "true")]);
    for (name, event) in phoenix_testkit::fixtures::fixtures_starting_with("ecs-") {
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
