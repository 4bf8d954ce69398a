//! The task-recovery act: a `GET /crash` kills a service task (ECS replaces it; we say why it
//! died, with its last log lines), a standalone worker crashes (phoenix-ops restarts it, and the
//! same event delivered to a second container changes nothing), then the worker crashes three
//! times in a few minutes (crash loop: restarts stop, one critical alert).

use std::time::Duration;

use ::task_recovery::TaskRecovery;
use aws_sdk_ecs::types::{DesiredStatus, TaskField};
use phoenix_core::outcome::NoticeDelivery;
use phoenix_core::{Function, Invocation};
use phoenix_testkit::world::{self, StopScenario, task_id};

use super::Stage;

/// The ledger table and the re-check queue, as the template creates them.
const LEDGER: &str = "phoenix-ledger";
const RECHECK_QUEUE: &str = "phoenix-recheck";

/// What the world may not seed yet (the test kit adds the ledger table in parallel): the ledger
/// table and the re-check queue, created as the template does (idempotent). Returns the settings
/// task-recovery reads beside the world's.
async fn provision(stage: &Stage) -> Result<Vec<(&'static str, String)>, String> {
    use ::task_recovery::aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let sdk = &stage.world.sdk;
    let dynamodb = ::task_recovery::aws_sdk_dynamodb::Client::new(sdk);
    let attribute = AttributeDefinition::builder()
        .attribute_name("pk")
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| e.to_string())?;
    let key = KeySchemaElement::builder()
        .attribute_name("pk")
        .key_type(KeyType::Hash)
        .build()
        .map_err(|e| e.to_string())?;
    let created = dynamodb
        .create_table()
        .table_name(LEDGER)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute)
        .key_schema(key)
        .send()
        .await;
    if let Err(e) = created
        && !e
            .as_service_error()
            .is_some_and(|s| s.is_resource_in_use_exception())
    {
        return Err(format!("the ledger table: {e:?}"));
    }
    let sqs = ::task_recovery::aws_sdk_sqs::Client::new(sdk);
    let queue_url = sqs
        .create_queue()
        .queue_name(RECHECK_QUEUE)
        .send()
        .await
        .map_err(|e| format!("the re-check queue: {e:?}"))?
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    Ok(vec![
        ("CLUSTER_ARN", stage.world.cluster_arn.clone()),
        ("LEDGER_TABLE", LEDGER.to_owned()),
        ("RECHECK_QUEUE_URL", queue_url),
    ])
}

/// Tasks phoenix-ops started to replace `replaced` (by its tag).
async fn replacement_of(stage: &Stage, replaced: &str) -> Option<String> {
    let ecs = aws_sdk_ecs::Client::new(&stage.world.sdk);
    let mut arns = Vec::new();
    for status in [DesiredStatus::Running, DesiredStatus::Stopped] {
        let listed = ecs
            .list_tasks()
            .cluster(world::CLUSTER)
            .family(world::WORKER_FAMILY)
            .started_by("phoenix-ops")
            .desired_status(status)
            .send()
            .await
            .ok()?;
        arns.extend(listed.task_arns().iter().cloned());
    }
    if arns.is_empty() {
        return None;
    }
    let described = ecs
        .describe_tasks()
        .cluster(world::CLUSTER)
        .set_tasks(Some(arns))
        .include(TaskField::Tags)
        .send()
        .await
        .ok()?;
    described.tasks().iter().find_map(|t| {
        t.tags()
            .iter()
            .any(|tag| {
                tag.key() == Some("phoenix-ops:replaces") && tag.value() == Some(task_id(replaced))
            })
            .then(|| t.task_arn().unwrap_or_default().to_owned())
    })
}

pub async fn act(stage: &mut Stage) {
    stage.act("task-recovery");
    stage.say("scenario: a /crash on the service, a crashed standalone worker, then a crash loop");
    let settings = match provision(stage).await {
        Ok(settings) => settings,
        Err(e) => return stage.check("the ledger and the re-check queue exist", false, e),
    };
    let overrides: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (recovery, second_container) = match (
        stage.function::<TaskRecovery>(&overrides),
        stage.function::<TaskRecovery>(&overrides),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return stage.check("task-recovery starts", false, e),
    };

    // 1. GET /crash on a service task.
    let victim = stage.world.service_task_arns[0].clone();
    stage.say(format!(
        "GET /crash → the phoenix process exits 1; ECS stops task {}",
        task_id(&victim)
    ));
    let event = match stage
        .world
        .stop_task_as(
            &victim,
            &StopScenario::Crash { exit_code: 1 },
            stage.clock,
            "sandbox-crash-1",
        )
        .await
    {
        Ok(event) => event,
        Err(e) => return stage.check("the crash is staged", false, e),
    };
    stage.world.gaps.service_counts(world::SERVICE, 1, 1);
    stage.say("ECS Task State Change (STOPPED, EssentialContainerExited) → task-recovery; ECS has 1 replacement pending");
    stage.advance(Duration::from_secs(3));
    let outcome = stage.run(&recovery, event).await;
    let decision = outcome
        .as_ref()
        .ok()
        .and_then(|o| o.decision.clone())
        .unwrap_or_default();
    stage.check(
        "a /crash stop is classified as a crash, ECS replacing",
        decision == "ecs-replacing",
        &decision,
    );
    let published = outcome
        .as_ref()
        .ok()
        .is_some_and(|o| matches!(o.notice_delivery, Some(NoticeDelivery::Published { .. })));
    stage.check(
        "the crash Notice is published to alerts",
        published,
        "no Notice published",
    );
    let slack = stage.relay_alerts().await;
    let with_logs = slack
        .iter()
        .any(|m| m.body.contains("exit 1") && m.body.contains("GET /api/items"));
    stage.check(
        "Slack shows the reason and the last log lines",
        with_logs,
        format!("{} Slack message(s)", slack.len()),
    );
    stage.world.gaps.clear_service_counts(world::SERVICE);

    // 2. A standalone worker crashes: phoenix-ops restarts it.
    stage.advance(Duration::from_secs(60));
    let mut worker = stage.world.worker_task_arn.clone();
    stage.say(format!(
        "the standalone worker {} crashes (exit 1)",
        task_id(&worker)
    ));
    let mut loop_alerts = 0;
    for (i, gap) in [0u64, 90, 90].iter().enumerate() {
        stage.advance(Duration::from_secs(*gap));
        if i > 0 {
            stage.say(format!(
                "the worker {} crashes again (exit 1)",
                task_id(&worker)
            ));
        }
        let event = match stage
            .world
            .stop_task_as(
                &worker,
                &StopScenario::Crash { exit_code: 1 },
                stage.clock,
                &format!("sandbox-worker-{i}"),
            )
            .await
        {
            Ok(event) => event,
            Err(e) => return stage.check("the worker crash is staged", false, e),
        };
        stage.advance(Duration::from_secs(2));
        let outcome = stage.run(&recovery, event.clone()).await;
        let decision = outcome
            .as_ref()
            .ok()
            .and_then(|o| o.decision.clone())
            .unwrap_or_default();
        let slack = stage.relay_alerts().await;
        if i == 0 {
            let replacement = replacement_of(stage, &worker).await;
            stage.check(
                "a crashed standalone worker is restarted",
                decision == "start-replacement" && replacement.is_some(),
                format!("decision {decision}, replacement {replacement:?}"),
            );
            // Another container is another Lambda invocation, with its own request id (the
            // stage's runs all say "local": to the ledger, one invocation and its retries).
            stage.say("EventBridge delivers the same event again, to another container");
            let invocation =
                Invocation::new(event, stage.clock).request_id("sandbox-second-container");
            let ignored = match second_container.handle(invocation).await {
                Ok(outcome) => outcome.ignored.unwrap_or_default(),
                Err(e) => format!("failed: {e}"),
            };
            stage.say(format!(
                "· task-recovery (second container) ignored the event: {ignored}"
            ));
            stage.check(
                "a duplicate delivery in another container changes nothing (ledger)",
                ignored.starts_with("duplicate delivery"),
                &ignored,
            );
        }
        if decision == "crash-loop" {
            loop_alerts += slack
                .iter()
                .filter(|m| m.body.contains("crash-looping"))
                .count();
        }
        match replacement_of(stage, &worker).await {
            Some(next) => worker = next,
            None => break,
        }
    }
    let restarts_stopped = replacement_of(stage, &worker).await.is_none();
    stage.check(
        "three crashes in 10 min: a crash loop, restarts stopped",
        restarts_stopped,
        "a replacement was started in the loop",
    );
    stage.check(
        "the crash loop raises one critical alert in Slack",
        loop_alerts == 1,
        format!("{loop_alerts} loop alert(s) in Slack"),
    );
}
