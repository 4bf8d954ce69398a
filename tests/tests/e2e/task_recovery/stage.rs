//! The stage of the task-recovery end-to-end tests: the seeded world plus what it may not seed
//! yet on this branch, containers of the function configured for it, and readers of what
//! happened (Notices, the ledger, the service, replacements, due re-checks).

use aws_sdk_ecs::types::DesiredStatus;
use chrono::{DateTime, TimeZone, Utc};
use phoenix_core::lambda::load_config;
use phoenix_core::{ActionStatus, Function, Invocation, Notice, Outcome, Vars};
use phoenix_testkit::world::{self, StopScenario, read_tap};
use phoenix_testkit::{Emulator, World, WorldSpec, new_account};
use serde_json::{Value, json};
use task_recovery::{Clients, TaskRecovery};

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 15, 42)
        .single()
        .expect("valid")
}

/// The ledger table's name as the template and the test kit create it.
const LEDGER: &str = "phoenix-ledger";
const RECHECK_QUEUE: &str = "phoenix-recheck";

/// The seeded world, plus what it may not seed yet on this branch (the test kit adds the ledger
/// table in parallel): the ledger table and the re-check queue, created as the template does
/// (`pk` string hash key, on demand; a standard queue). Idempotent.
pub struct Stage {
    pub world: World,
    pub queue_url: String,
    pub queue_arn: String,
}

pub async fn staged() -> Stage {
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
    let sqs = task_recovery::aws_sdk_sqs::Client::new(&world.sdk);
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
        .attribute_names(task_recovery::aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("attributes")
        .attributes()
        .and_then(|a| a.get(&task_recovery::aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .cloned()
        .unwrap_or_default();
    Stage {
        world,
        queue_url,
        queue_arn,
    }
}

impl Stage {
    /// Stops `task` as ECS would in `scenario` at `at`; the event ECS would send (id `event_id`).
    pub async fn stop(
        &self,
        task: &str,
        scenario: StopScenario,
        at: DateTime<Utc>,
        event_id: &str,
    ) -> Value {
        self.world
            .stop_task_as(task, &scenario, at, event_id)
            .await
            .expect("stopped")
    }

    /// One Lambda container of task-recovery, configured as the template would for this world.
    pub fn container(&self, overrides: &[(&str, &str)]) -> TaskRecovery {
        let mut env = self.world.env();
        env.insert("CLUSTER_ARN".into(), self.world.cluster_arn.clone());
        env.insert("LEDGER_TABLE".into(), LEDGER.into());
        env.insert("RECHECK_QUEUE_URL".into(), self.queue_url.clone());
        for (k, v) in overrides {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        let config =
            load_config::<TaskRecovery>(Vars::new(|k| env.get(k).cloned())).expect("config");
        // a steady service's completed rollout stays COMPLETED when a task dies: the test kit's
        // ECS gap filler shows it as ECS does (moto fixes rolloutState at CreateService)
        TaskRecovery::new(config, Clients::from_sdk(&self.world.sdk))
    }

    /// Takes the re-check messages that are due (waiting up to `wait_secs` for the first),
    /// wrapped as the SQS event source mapping delivers them.
    pub async fn due_rechecks(&self, wait_secs: i32) -> Vec<Value> {
        let sqs = task_recovery::aws_sdk_sqs::Client::new(&self.world.sdk);
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

    /// Takes due re-checks until there are `n` (or five rounds of two seconds went by).
    pub async fn wait_for_rechecks(&self, n: usize) -> Vec<Value> {
        let mut rechecks = Vec::new();
        for _ in 0..5 {
            rechecks.extend(self.due_rechecks(2).await);
            if rechecks.len() >= n {
                break;
            }
        }
        rechecks
    }

    pub async fn notices(&self) -> Vec<Notice> {
        read_tap(&self.world.sdk, &self.world.alerts_queue_url, 2)
            .await
            .expect("tap")
            .iter()
            .filter_map(|p| Notice::from_json(&p.message))
            .collect()
    }

    pub async fn ledger_items(&self) -> usize {
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

    pub async fn deployment(&self) -> (String, i32) {
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

    pub async fn replacements(&self) -> Vec<(String, Option<String>)> {
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

/// Handles one event in `handler` (one container), as invocation `request`.
pub async fn run(
    handler: &TaskRecovery,
    event: &Value,
    now: DateTime<Utc>,
    request: &str,
) -> Outcome {
    handler
        .handle(Invocation::new(event.clone(), now).request_id(request))
        .await
        .expect("handled")
}

/// How many `call` actions were done.
pub fn done(outcome: &Outcome, call: &str) -> usize {
    outcome
        .actions
        .iter()
        .filter(|a| a.call == call && a.status == ActionStatus::Done)
        .count()
}

/// The SQS event `message` with its re-check body changed by `change`.
pub fn with_body(message: &Value, change: impl FnOnce(&mut Value)) -> Value {
    let mut message = message.clone();
    let text = message["Records"][0]["body"].as_str().unwrap_or("{}");
    let mut body: Value = serde_json::from_str(text).expect("a JSON body");
    change(&mut body);
    message["Records"][0]["body"] = json!(body.to_string());
    message
}
