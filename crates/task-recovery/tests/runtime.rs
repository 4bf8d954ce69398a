//! Through the real runtime: the `task-recovery` binary, started as Lambda starts it, against a
//! local Lambda Runtime API and a private emulator (in moto's default account: the binary talks
//! to the emulator directly and cannot add the test kit's account header). It gets a crash event
//! and an event that is not its own; the test checks the answers and that stdout holds exactly
//! one Outcome line per invocation, carrying that invocation's request id.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use phoenix_testkit::emulator::DEFAULT_ACCOUNT;
use phoenix_testkit::runtime_api::RuntimeApi;
use phoenix_testkit::world::StopScenario;
use phoenix_testkit::{Emulator, World, WorldSpec};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// The ledger table and the re-check queue, created as the template does.
async fn provision(world: &World) -> (String, String) {
    use task_recovery::aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let dynamodb = task_recovery::aws_sdk_dynamodb::Client::new(&world.sdk);
    let created = dynamodb
        .create_table()
        .table_name("phoenix-ledger")
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
    let queue_url = task_recovery::aws_sdk_sqs::Client::new(&world.sdk)
        .create_queue()
        .queue_name("phoenix-recheck")
        .send()
        .await
        .expect("queue")
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    ("phoenix-ledger".to_owned(), queue_url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_answers_each_invocation_and_writes_one_outcome_line_with_its_request_id() {
    let emulator = Emulator::start().expect("a private emulator");
    let now = Utc::now();
    let spec = WorldSpec::new(DEFAULT_ACCOUNT, "http://127.0.0.1:9/unused", now);
    let world = World::seed(&emulator, &spec).await.expect("world seeds");
    let (ledger, queue_url) = provision(&world).await;
    let crash = world
        .stop_task_as(
            &world.service_task_arns[0],
            &StopScenario::Crash { exit_code: 1 },
            now,
            "evt-runtime-crash",
        )
        .await
        .expect("stopped");
    let not_ours =
        json!({"detail-type": "Scheduled Event", "source": "aws.events", "id": "evt-runtime-tick"});

    let api = RuntimeApi::start().await.expect("runtime API");
    let mut command = Command::new(env!("CARGO_BIN_EXE_task-recovery"));
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", "task-recovery")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/task-recovery")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "AKIAPHOENIXRUNTIME")
        .env("AWS_SECRET_ACCESS_KEY", "phoenix-runtime-secret")
        .env("AWS_ENDPOINT_URL", emulator.url())
        .env("STACK_NAME", "phoenix-runtime-test")
        .env("LOG_LEVEL", "info")
        .env("CLUSTER_ARN", &world.cluster_arn)
        .env("LEDGER_TABLE", &ledger)
        .env("RECHECK_QUEUE_URL", &queue_url);
    for (name, value) in world.env() {
        command.env(name, value);
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the task-recovery binary starts");
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let stdout = child.stdout.take().expect("stdout");
    let reader = {
        let lines = Arc::clone(&lines);
        tokio::spawn(async move {
            let mut stdout = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = stdout.next_line().await {
                lines.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        })
    };

    let wait = Duration::from_secs(60);
    let crashed = api.invoke("req-crash-1", &crash, wait).await;
    let ignored = api.invoke("req-ignored-2", &not_ours, wait).await;
    assert_eq!(api.init_error(), None, "the binary started");
    let crashed = crashed.expect("an answer to the crash");
    let ignored = ignored.expect("an answer to the other event");
    assert!(
        crashed.ok && ignored.ok,
        "both succeed: {crashed:?} {ignored:?}"
    );
    let crashed: Value = serde_json::from_str(&crashed.body).expect("JSON answer");
    assert_eq!(crashed["decision"], "ecs-replacing", "{crashed}");
    assert_eq!(crashed["event_id"], "evt-runtime-crash");
    assert_eq!(
        crashed["notice_delivery"]["status"], "published",
        "{crashed}"
    );
    let ignored: Value = serde_json::from_str(&ignored.body).expect("JSON answer");
    assert!(
        ignored["ignored"]
            .as_str()
            .is_some_and(|w| w.starts_with("not an ECS event")),
        "{ignored}"
    );

    child.start_kill().expect("stop the binary");
    let _ = child.wait().await;
    let _ = reader.await;
    let lines = lines.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let json: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let outcomes: Vec<&Value> = json.iter().filter(|l| l.get("outcome").is_some()).collect();
    assert_eq!(
        outcomes.len(),
        2,
        "one Outcome line per invocation: {lines:#?}"
    );
    for (request, event) in [
        ("req-crash-1", "evt-runtime-crash"),
        ("req-ignored-2", "evt-runtime-tick"),
    ] {
        let mine: Vec<&&Value> = outcomes
            .iter()
            .filter(|l| l["requestId"] == request)
            .collect();
        assert_eq!(mine.len(), 1, "{request}: {lines:#?}");
        assert_eq!(mine[0]["outcome"]["event_id"], event);
        assert_eq!(mine[0]["function"], "task-recovery");
        assert_eq!(mine[0]["stack"], "phoenix-runtime-test");
    }
    assert!(
        json.iter().all(|l| l.get("requestId").is_some()),
        "every line carries the request id: {lines:#?}"
    );
}
