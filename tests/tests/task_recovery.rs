//! task-recovery end to end: the real handler against the emulator's ECS, CloudWatch Logs, SNS,
//! SQS (the re-check queue) and DynamoDB (the ledger). Tasks are stopped the way ECS stops them
//! (`World::stop_task_as`, which fills moto's gaps in the harness, visibly), and the events are
//! the ones ECS would send. Several `TaskRecovery` values built from the same configuration stand
//! for several Lambda containers: they share nothing but AWS.

use aws_sdk_ecs::types::DesiredStatus;
use chrono::{DateTime, Duration, TimeZone, Utc};
use phoenix_core::lambda::load_config;
use phoenix_core::{ActionStatus, Function, Invocation, Notice, Outcome, Severity, Vars};
use phoenix_testkit::world::{self, StopScenario, read_tap, task_id};
use phoenix_testkit::{Emulator, World, WorldSpec, new_account};
use serde_json::{Value, json};
use task_recovery::{Clients, TaskRecovery};

/// A gap filled here, visibly: when a task of a steady service dies, ECS keeps the service's
/// completed rollout `COMPLETED`. moto fixes `rolloutState` when the service is created (running 0,
/// so `IN_PROGRESS` for ever) and the test kit shows it settled only while the counts are full, so
/// a service short of tasks would always look like "a deployment is rolling out" and the forced
/// deployment could never be shown. This interceptor on the handler's ECS client shows the
/// rollout as ECS does. (The test kit's gap filler is the better home: see the report.)
#[derive(Debug)]
struct SettledRollout;

impl aws_sdk_ecs::config::Intercept for SettledRollout {
    fn name(&self) -> &'static str {
        "SettledRollout"
    }

    fn modify_before_deserialization(
        &self,
        context: &mut aws_sdk_ecs::config::interceptors::BeforeDeserializationInterceptorContextMut<
            '_,
        >,
        _components: &aws_sdk_ecs::config::RuntimeComponents,
        _cfg: &mut aws_sdk_ecs::config::ConfigBag,
    ) -> Result<(), aws_sdk_ecs::error::BoxError> {
        let response = context.response_mut();
        let Some(mut json) = response
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        else {
            return Ok(());
        };
        let Some(services) = json.get_mut("services").and_then(Value::as_array_mut) else {
            return Ok(());
        };
        for service in services {
            for deployment in service["deployments"].as_array_mut().into_iter().flatten() {
                deployment["rolloutState"] = json!("COMPLETED");
            }
        }
        *response.body_mut() = serde_json::to_vec(&json)?.into();
        Ok(())
    }
}

/// The ledger table's name as the template and the test kit create it.
const LEDGER: &str = "phoenix-ledger";
const RECHECK_QUEUE: &str = "phoenix-recheck";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 15, 42)
        .single()
        .expect("valid")
}

/// The seeded world, plus what it may not seed yet on this branch (the test kit adds the ledger
/// table in parallel): the ledger table and the re-check queue, created as the template does
/// (`pk` string hash key, on demand; a standard queue). Idempotent.
struct Stage {
    world: World,
    queue_url: String,
    queue_arn: String,
}

async fn staged() -> Stage {
    use task_recovery::aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let spec = WorldSpec::new(&new_account(), "http://127.0.0.1:9/unused", t0());
    let world = World::seed(Emulator::shared(), &spec)
        .await
        .expect("world seeds");
    let dynamodb = task_recovery::aws_sdk_dynamodb::Client::new(&world.sdk);
    let created = dynamodb
        .create_table()
        .table_name(LEDGER)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .expect("key"),
        )
        .send()
        .await;
    if let Err(e) = created {
        assert!(
            e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()),
            "ledger table: {e:?}"
        );
    }
    let sqs = aws_sdk_sqs::Client::new(&world.sdk);
    let queue_url = sqs
        .create_queue()
        .queue_name(RECHECK_QUEUE)
        .send()
        .await
        .expect("queue")
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("attributes")
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .cloned()
        .unwrap_or_default();
    Stage {
        world,
        queue_url,
        queue_arn,
    }
}

impl Stage {
    /// One Lambda container of task-recovery, configured as the template would for this world.
    fn container(&self, overrides: &[(&str, &str)]) -> TaskRecovery {
        let mut env = self.world.env();
        env.insert("CLUSTER_ARN".into(), self.world.cluster_arn.clone());
        env.insert("LEDGER_TABLE".into(), LEDGER.into());
        env.insert("RECHECK_QUEUE_URL".into(), self.queue_url.clone());
        for (k, v) in overrides {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        let config =
            load_config::<TaskRecovery>(Vars::new(|k| env.get(k).cloned())).expect("config");
        let ecs = aws_sdk_ecs::Client::from_conf(
            aws_sdk_ecs::config::Builder::from(&self.world.sdk)
                .interceptor(SettledRollout)
                .build(),
        );
        TaskRecovery::new(
            config,
            Clients {
                ecs,
                ..Clients::from_sdk(&self.world.sdk)
            },
        )
    }

    /// Takes the re-check messages that are due (waiting up to `wait_secs` for the first),
    /// wrapped as the SQS event source mapping delivers them.
    async fn due_rechecks(&self, wait_secs: i32) -> Vec<Value> {
        let sqs = aws_sdk_sqs::Client::new(&self.world.sdk);
        let received = sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait_secs)
            .send()
            .await
            .expect("receive");
        let mut events = Vec::new();
        for message in received.messages() {
            events.push(json!({"Records": [{
                "messageId": message.message_id().unwrap_or_default(),
                "receiptHandle": message.receipt_handle().unwrap_or_default(),
                "body": message.body().unwrap_or_default(),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": self.queue_arn,
                "awsRegion": "eu-west-1",
            }]}));
            sqs.delete_message()
                .queue_url(&self.queue_url)
                .set_receipt_handle(message.receipt_handle().map(str::to_owned))
                .send()
                .await
                .expect("delete");
        }
        events
    }

    async fn notices(&self) -> Vec<Notice> {
        read_tap(&self.world.sdk, &self.world.alerts_queue_url, 2)
            .await
            .expect("tap")
            .iter()
            .filter_map(|p| Notice::from_json(&p.message))
            .collect()
    }

    async fn ledger_items(&self) -> usize {
        let dynamodb = task_recovery::aws_sdk_dynamodb::Client::new(&self.world.sdk);
        dynamodb
            .scan()
            .table_name(LEDGER)
            .send()
            .await
            .expect("scan")
            .items()
            .len()
    }

    async fn deployment(&self) -> (String, i32) {
        let ecs = aws_sdk_ecs::Client::new(&self.world.sdk);
        let out = ecs
            .describe_services()
            .cluster(world::CLUSTER)
            .services(world::SERVICE)
            .send()
            .await
            .expect("describe");
        let s = &out.services()[0];
        (
            s.deployments()
                .iter()
                .find(|d| d.status() == Some("PRIMARY"))
                .and_then(|d| d.id())
                .unwrap_or_default()
                .to_owned(),
            s.desired_count(),
        )
    }

    async fn replacements(&self) -> Vec<(String, Option<String>)> {
        let ecs = aws_sdk_ecs::Client::new(&self.world.sdk);
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
}

async fn run(handler: &TaskRecovery, event: &Value, now: DateTime<Utc>, request: &str) -> Outcome {
    handler
        .handle(Invocation::new(event.clone(), now).request_id(request))
        .await
        .expect("handled")
}

fn done(outcome: &Outcome, call: &str) -> usize {
    outcome
        .actions
        .iter()
        .filter(|a| a.call == call && a.status == ActionStatus::Done)
        .count()
}

#[tokio::test]
async fn one_event_delivered_to_two_containers_at_once_makes_one_replacement_and_one_notice() {
    let stage = staged().await;
    let event = stage
        .world
        .stop_task_as(
            &stage.world.worker_task_arn,
            &StopScenario::Crash { exit_code: 1 },
            t0(),
            "evt-standalone-1",
        )
        .await
        .expect("stopped");
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
    let event = world
        .stop_task_as(
            &world.service_task_arns[0],
            &StopScenario::Crash { exit_code: 1 },
            t0(),
            "evt-stuck",
        )
        .await
        .expect("stopped");
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
    let mut next = rechecks[0].clone();
    let mut body: Value =
        serde_json::from_str(next["Records"][0]["body"].as_str().unwrap_or("{}")).expect("body");
    body["attempt"] = json!(2);
    body["forced"] = json!(true);
    body["due_at"] = json!("2026-11-20T10:16:45Z");
    next["Records"][0]["body"] = json!(body.to_string());
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
        let event = world
            .stop_task_as(
                task,
                &StopScenario::Crash { exit_code: 1 },
                t0(),
                &format!("evt-both-{i}"),
            )
            .await
            .expect("stopped");
        let outcome = run(&stage.container(&grace), &event, t0(), &format!("req-{i}")).await;
        assert_eq!(
            outcome.decision.as_deref(),
            Some("waiting-for-scheduler"),
            "{outcome:?}"
        );
    }
    let mut rechecks = Vec::new();
    for _ in 0..5 {
        rechecks.extend(stage.due_rechecks(2).await);
        if rechecks.len() >= 2 {
            break;
        }
    }
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
        let mut event = world
            .stop_task_as(
                task,
                &StopScenario::Crash { exit_code: 1 },
                t0(),
                &format!("evt-image-{i}"),
            )
            .await
            .expect("stopped");
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
    let event = world
        .stop_task_as(
            &world.service_task_arns[0],
            &StopScenario::ScaleIn,
            t0(),
            "evt-scale-in",
        )
        .await
        .expect("stopped");
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
        let event = world
            .stop_task_as(
                &victim,
                &StopScenario::Crash { exit_code: 1 },
                at,
                &format!("evt-loop-{i}"),
            )
            .await
            .expect("stopped");
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
    let event = world
        .stop_task_as(
            victim,
            &StopScenario::Crash { exit_code: 1 },
            t0(),
            "evt-crash",
        )
        .await
        .expect("stopped");
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
    let mut event = phoenix_testkit::fixture("ecs-deployment-failed.json");
    event["account"] = json!(world.account);
    event["time"] = json!("2026-11-20T10:15:42Z");
    event["resources"] = json!([format!(
        "arn:aws:ecs:eu-west-1:{}:service/{}/{}",
        world.account,
        world::CLUSTER,
        world::SERVICE
    )]);
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
