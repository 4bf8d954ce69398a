//! Faults the emulator cannot make, injected with aws-smithy-mocks on every AWS call the
//! function makes: throttling, a 5xx and a modelled final error each, as real HTTP answers of
//! each protocol (so the SDK's own error parsing runs). Each case asserts the Outcome or the
//! retryable error, and which calls that change something were made. A mocked client panics on
//! a call no rule expects, so an unexpected call fails the test.
//!
//! The main scenario is the one that calls everything: a service task crashed and the service is
//! still short past the grace (claim, ListTasks, DescribeTasks, DescribeServices, force claim,
//! UpdateService, SendMessage, DescribeTaskDefinition, GetLogEvents, Publish, completes).

use aws_sdk_cloudwatchlogs::operation::get_log_events::GetLogEventsOutput;
use aws_sdk_cloudwatchlogs::types::OutputLogEvent;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemOutput;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::put_item::{PutItemInput, PutItemOutput};
use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput;
use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
use aws_sdk_ecs::operation::run_task::RunTaskOutput;
use aws_sdk_ecs::operation::update_service::UpdateServiceOutput;
use aws_sdk_ecs::types::{
    Container, ContainerDefinition, Deployment, DeploymentRolloutState, LogConfiguration,
    LogDriver, Service, Task, TaskDefinition, TaskStopCode,
};
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_sdk_sqs::operation::send_message::SendMessageOutput;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use chrono::{DateTime, Utc};
use phoenix_core::{ActionStatus, Function, Invocation, Outcome, RetryableError, Severity};

use super::{at, config, fixture};
use crate::{Clients, TaskRecovery};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Throttled,
    ServerError,
    Final,
}

const FAULTS: [Fault; 3] = [Fault::Throttled, Fault::ServerError, Fault::Final];

#[derive(Debug, Clone, Copy)]
enum Api {
    Ecs,
    Logs,
    Dynamo,
    Sqs,
    Sns,
}

/// The HTTP answer a service gives for a fault, in its protocol.
fn answer(api: Api, fault: Fault) -> HttpResponse {
    let (status, code) = match (api, fault) {
        (Api::Ecs, Fault::ServerError) => (500, "ServerException"),
        (Api::Logs, Fault::ServerError) => (500, "ServiceUnavailableException"),
        (Api::Dynamo, Fault::ServerError) => (500, "InternalServerError"),
        (Api::Sqs | Api::Sns, Fault::ServerError) => (500, "InternalError"),
        (Api::Sns, Fault::Throttled) => (400, "Throttling"),
        (_, Fault::Throttled) => (400, "ThrottlingException"),
        (Api::Ecs, Fault::Final) => (400, "AccessDeniedException"),
        (Api::Logs | Api::Dynamo, Fault::Final) => (400, "ResourceNotFoundException"),
        (Api::Sqs, Fault::Final) => (400, "QueueDoesNotExist"),
        (Api::Sns, Fault::Final) => (403, "AuthorizationError"),
    };
    http(api, status, code)
}

fn http(api: Api, status: u16, code: &str) -> HttpResponse {
    let body = match api {
        Api::Sns => format!(
            "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>injected</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"
        ),
        Api::Dynamo => format!(
            "{{\"__type\":\"com.amazonaws.dynamodb.v20120810#{code}\",\"message\":\"injected\"}}"
        ),
        Api::Ecs | Api::Logs | Api::Sqs => {
            format!("{{\"__type\":\"{code}\",\"message\":\"injected\"}}")
        }
    };
    HttpResponse::new(
        StatusCode::try_from(status).expect("status"),
        SdkBody::from(body),
    )
}

/// Rules answered before the defaults (MatchAny: the first matching rule answers).
#[derive(Default)]
struct Faults {
    ecs: Vec<Rule>,
    logs: Vec<Rule>,
    dynamo: Vec<Rule>,
    sqs: Vec<Rule>,
    sns: Vec<Rule>,
}

fn key_of(input: &PutItemInput) -> &str {
    input
        .item()
        .and_then(|item| item.get("pk"))
        .and_then(|v| v.as_s().ok())
        .map_or("", String::as_str)
}

fn claim_of(prefix: &'static str) -> impl Fn(&PutItemInput) -> bool + Send + Sync + 'static {
    move |input| key_of(input).starts_with(prefix)
}

const OLD_TASK: &str =
    "arn:aws:ecs:eu-west-1:111122223333:task/phoenix-cluster/0000000000000000000000000000dead";

fn defaults(running: i32) -> Vec<(Api, Rule)> {
    let stopped_task = Task::builder()
        .task_arn(OLD_TASK)
        .group("service:phoenix-service")
        .stop_code(TaskStopCode::EssentialContainerExited)
        .stopped_reason("Essential container in task exited")
        .containers(Container::builder().name("phoenix").exit_code(1).build())
        .stopped_at(aws_smithy_types::DateTime::from_secs(
            at(10, 5, 0).timestamp(),
        ))
        .build();
    let service = Service::builder()
        .service_name("phoenix-service")
        .status("ACTIVE")
        .desired_count(2)
        .running_count(running)
        .pending_count(0)
        .deployments(
            Deployment::builder()
                .id("ecs-svc/1")
                .status("PRIMARY")
                .task_definition("arn:aws:ecs:eu-west-1:111122223333:task-definition/phoenix:7")
                .rollout_state(DeploymentRolloutState::Completed)
                .build(),
        )
        .build();
    let definition = TaskDefinition::builder()
        .container_definitions(
            ContainerDefinition::builder()
                .name("phoenix")
                .essential(true)
                .log_configuration(
                    LogConfiguration::builder()
                        .log_driver(LogDriver::Awslogs)
                        .options("awslogs-group", "/ecs/phoenix")
                        .options("awslogs-stream-prefix", "ecs")
                        .build()
                        .expect("log configuration"),
                )
                .build(),
        )
        .build();
    vec![
        (
            Api::Dynamo,
            mock!(aws_sdk_dynamodb::Client::put_item)
                .then_output(|| PutItemOutput::builder().build()),
        ),
        (
            Api::Dynamo,
            mock!(aws_sdk_dynamodb::Client::get_item)
                .then_output(|| GetItemOutput::builder().build()),
        ),
        (
            Api::Dynamo,
            mock!(aws_sdk_dynamodb::Client::update_item)
                .then_output(|| UpdateItemOutput::builder().build()),
        ),
        (
            Api::Dynamo,
            mock!(aws_sdk_dynamodb::Client::delete_item)
                .then_output(|| DeleteItemOutput::builder().build()),
        ),
        (
            Api::Ecs,
            mock!(aws_sdk_ecs::Client::list_tasks)
                .then_output(|| ListTasksOutput::builder().task_arns(OLD_TASK).build()),
        ),
        (
            Api::Ecs,
            mock!(aws_sdk_ecs::Client::describe_tasks).then_output(move || {
                DescribeTasksOutput::builder()
                    .tasks(stopped_task.clone())
                    .build()
            }),
        ),
        (
            Api::Ecs,
            mock!(aws_sdk_ecs::Client::describe_services).then_output(move || {
                DescribeServicesOutput::builder()
                    .services(service.clone())
                    .build()
            }),
        ),
        (
            Api::Ecs,
            mock!(aws_sdk_ecs::Client::update_service)
                .match_requests(|r| {
                    r.force_new_deployment() == Some(true) && r.desired_count().is_none()
                })
                .then_output(|| UpdateServiceOutput::builder().build()),
        ),
        (
            Api::Ecs,
            mock!(aws_sdk_ecs::Client::run_task).then_output(|| {
                RunTaskOutput::builder()
                    .tasks(
                        Task::builder()
                            .task_arn("arn:aws:ecs:eu-west-1:111122223333:task/phoenix-cluster/new")
                            .build(),
                    )
                    .build()
            }),
        ),
        (
            Api::Ecs,
            mock!(aws_sdk_ecs::Client::describe_task_definition).then_output(move || {
                DescribeTaskDefinitionOutput::builder()
                    .task_definition(definition.clone())
                    .build()
            }),
        ),
        (
            Api::Logs,
            mock!(aws_sdk_cloudwatchlogs::Client::get_log_events).then_output(|| {
                GetLogEventsOutput::builder()
                    .events(OutputLogEvent::builder().message("GET /crash").build())
                    .events(
                        OutputLogEvent::builder()
                            .message("DB_PASSWORD=hunter2")
                            .build(),
                    )
                    .build()
            }),
        ),
        (
            Api::Sqs,
            mock!(aws_sdk_sqs::Client::send_message)
                .then_output(|| SendMessageOutput::builder().message_id("m-1").build()),
        ),
        (
            Api::Sns,
            mock!(aws_sdk_sns::Client::publish)
                .then_output(|| PublishOutput::builder().message_id("n-1").build()),
        ),
    ]
}

/// The handler on mocked clients, and the rules whose calls the cases count.
struct Mocked {
    recovery: TaskRecovery,
    rules: Vec<(Api, Rule)>,
}

impl Mocked {
    fn new(faults: Faults, running: i32) -> Mocked {
        Self::with_config(faults, running, config())
    }

    fn with_config(faults: Faults, running: i32, config: crate::Config) -> Mocked {
        let rules = defaults(running);
        let pick = |api: fn(Api) -> bool, first: &[Rule]| -> Vec<Rule> {
            first
                .iter()
                .cloned()
                .chain(
                    rules
                        .iter()
                        .filter(|(a, _)| api(*a))
                        .map(|(_, r)| r.clone()),
                )
                .collect()
        };
        let ecs = pick(|a| matches!(a, Api::Ecs), &faults.ecs);
        let logs = pick(|a| matches!(a, Api::Logs), &faults.logs);
        let dynamo = pick(|a| matches!(a, Api::Dynamo), &faults.dynamo);
        let sqs = pick(|a| matches!(a, Api::Sqs), &faults.sqs);
        let sns = pick(|a| matches!(a, Api::Sns), &faults.sns);
        let no_retry = RetryConfig::disabled;
        let clients = Clients {
            ecs: mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &ecs, |c| c
                .retry_config(no_retry())),
            logs: mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, &logs, |c| c
                .retry_config(no_retry())),
            dynamodb: mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &dynamo, |c| c
                .retry_config(no_retry())),
            sqs: mock_client!(aws_sdk_sqs, RuleMode::MatchAny, &sqs, |c| c
                .retry_config(no_retry())),
            sns: mock_client!(aws_sdk_sns, RuleMode::MatchAny, &sns, |c| c
                .retry_config(no_retry())),
        };
        Mocked {
            recovery: TaskRecovery::new(config, clients),
            rules,
        }
    }

    /// Calls answered by the default rule of `n`-th default (see [`defaults`]), by name.
    fn calls(&self, op: &str) -> usize {
        let index = match op {
            "PutItem" => 0,
            "GetItem" => 1,
            "UpdateItem" => 2,
            "DeleteItem" => 3,
            "UpdateService" => 7,
            "RunTask" => 8,
            "SendMessage" => 11,
            "Publish" => 12,
            other => panic!("not counted: {other}"),
        };
        self.rules[index].1.num_calls()
    }

    /// (UpdateService, RunTask, SendMessage, Publish) answered successfully.
    fn effects(&self) -> (usize, usize, usize, usize) {
        (
            self.calls("UpdateService"),
            self.calls("RunTask"),
            self.calls("SendMessage"),
            self.calls("Publish"),
        )
    }

    async fn handle(&self, event: &str, now: DateTime<Utc>) -> Result<Outcome, RetryableError> {
        self.recovery
            .handle(Invocation::new(fixture(event), now).request_id("req-1"))
            .await
    }
}

const STUCK: (&str, fn() -> DateTime<Utc>) = ("ecs-task-stopped-crash.json", || at(10, 17, 0));

fn retryable(result: &Result<Outcome, RetryableError>, call: &str) -> bool {
    matches!(result, Err(e) if e.0.starts_with(call) && e.0.ends_with("retryable)"))
}

fn failed_call(outcome: &Outcome, call: &str) -> bool {
    outcome
        .actions
        .iter()
        .any(|a| a.call == call && a.status == ActionStatus::Failed)
}

#[tokio::test]
async fn the_stuck_service_scenario_makes_every_call_once_without_faults() {
    let mocked = Mocked::new(Faults::default(), 1);
    let outcome = mocked.handle(STUCK.0, STUCK.1()).await.expect("handled");
    assert_eq!(
        outcome.decision.as_deref(),
        Some("force-new-deployment"),
        "{outcome:?}"
    );
    assert_eq!(mocked.effects(), (1, 0, 1, 1), "{outcome:?}");
    assert_eq!(
        mocked.calls("PutItem"),
        2,
        "the stop and the forced deployment claimed"
    );
    assert_eq!(mocked.calls("UpdateItem"), 2, "both completed");
    assert_eq!(mocked.calls("DeleteItem"), 0);
    assert!(!outcome.has_failures(), "{outcome:?}");
    let notice = outcome.notice.expect("told");
    assert!(
        notice
            .details
            .unwrap_or_default()
            .contains("DB_PASSWORD=[redacted]")
    );
}

/// A read of ECS fails: retryable → nothing done, the claim released; final → nothing decided on
/// half a picture, an error Notice.
#[tokio::test]
async fn ecs_reads_fail_safely() {
    for (op, rule) in [
        (
            "ecs:ListTasks",
            (|f| {
                mock!(aws_sdk_ecs::Client::list_tasks)
                    .then_http_response(move || answer(Api::Ecs, f))
            }) as fn(Fault) -> Rule,
        ),
        ("ecs:DescribeTasks", |f| {
            mock!(aws_sdk_ecs::Client::describe_tasks)
                .then_http_response(move || answer(Api::Ecs, f))
        }),
        ("ecs:DescribeServices", |f| {
            mock!(aws_sdk_ecs::Client::describe_services)
                .then_http_response(move || answer(Api::Ecs, f))
        }),
    ] {
        for fault in FAULTS {
            let mocked = Mocked::new(
                Faults {
                    ecs: vec![rule(fault)],
                    ..Faults::default()
                },
                1,
            );
            let result = mocked.handle(STUCK.0, STUCK.1()).await;
            if fault == Fault::Final {
                let outcome = result.expect("a final error is reported, not retried");
                assert_eq!(
                    outcome.decision.as_deref(),
                    Some("could-not-observe"),
                    "{op}"
                );
                assert!(failed_call(&outcome, op), "{op}: {outcome:?}");
                assert_eq!(
                    outcome.notice.map(|n| n.severity),
                    Some(Severity::Error),
                    "{op}"
                );
                assert_eq!(
                    mocked.effects(),
                    (0, 0, 0, 1),
                    "{op}: nothing changed, people told"
                );
            } else {
                assert!(retryable(&result, op), "{op} {fault:?}: {result:?}");
                assert_eq!(mocked.effects(), (0, 0, 0, 0), "{op} {fault:?}");
                assert_eq!(
                    mocked.calls("DeleteItem"),
                    1,
                    "{op} {fault:?}: the claim is given back"
                );
            }
        }
    }
}

#[tokio::test]
async fn update_service_faults() {
    for fault in FAULTS {
        let rule = mock!(aws_sdk_ecs::Client::update_service)
            .then_http_response(move || answer(Api::Ecs, fault));
        let mocked = Mocked::new(
            Faults {
                ecs: vec![rule],
                ..Faults::default()
            },
            1,
        );
        let result = mocked.handle(STUCK.0, STUCK.1()).await;
        if fault == Fault::Final {
            let outcome = result.expect("final");
            assert!(failed_call(&outcome, "ecs:UpdateService"), "{outcome:?}");
            assert_eq!(
                mocked.effects(),
                (0, 0, 1, 1),
                "the re-check still goes out"
            );
            let notice = outcome.notice.expect("told");
            assert_eq!(notice.severity, Severity::Error);
            assert!(notice.title.contains("recovery failed: ecs:UpdateService on phoenix-service failed: AccessDeniedException"), "{}", notice.title);
        } else {
            assert!(
                retryable(&result, "ecs:UpdateService"),
                "{fault:?}: {result:?}"
            );
            assert_eq!(mocked.effects(), (0, 0, 0, 0));
            assert_eq!(
                mocked.calls("DeleteItem"),
                2,
                "the force claim and the stop claim released"
            );
        }
    }
}

#[tokio::test]
async fn run_task_faults() {
    for fault in FAULTS {
        let rule = mock!(aws_sdk_ecs::Client::run_task)
            .then_http_response(move || answer(Api::Ecs, fault));
        let mocked = Mocked::new(
            Faults {
                ecs: vec![rule],
                ..Faults::default()
            },
            1,
        );
        let result = mocked
            .handle("ecs-task-stopped-standalone-crash.json", at(10, 17, 0))
            .await;
        if fault == Fault::Final {
            let outcome = result.expect("final");
            assert_eq!(outcome.decision.as_deref(), Some("start-replacement"));
            assert!(failed_call(&outcome, "ecs:RunTask"), "{outcome:?}");
            assert_eq!(outcome.notice.map(|n| n.severity), Some(Severity::Error));
            assert_eq!(mocked.effects(), (0, 0, 0, 1));
        } else {
            assert!(retryable(&result, "ecs:RunTask"), "{fault:?}: {result:?}");
            assert_eq!(mocked.effects(), (0, 0, 0, 0));
        }
    }
}

#[tokio::test]
async fn the_diagnosis_never_blocks_recovery() {
    for (op, rule) in [
        (
            "ecs:DescribeTaskDefinition",
            (|f| {
                mock!(aws_sdk_ecs::Client::describe_task_definition)
                    .then_http_response(move || answer(Api::Ecs, f))
            }) as fn(Fault) -> Rule,
        ),
        ("logs:GetLogEvents", |f| {
            mock!(aws_sdk_cloudwatchlogs::Client::get_log_events)
                .then_http_response(move || answer(Api::Logs, f))
        }),
    ] {
        for fault in FAULTS {
            let faults = if op.starts_with("logs") {
                Faults {
                    logs: vec![rule(fault)],
                    ..Faults::default()
                }
            } else {
                Faults {
                    ecs: vec![rule(fault)],
                    ..Faults::default()
                }
            };
            let mocked = Mocked::new(faults, 1);
            let outcome = mocked
                .handle(STUCK.0, STUCK.1())
                .await
                .expect("recovered anyway");
            assert_eq!(mocked.effects(), (1, 0, 1, 1), "{op} {fault:?}");
            let details = outcome.notice.and_then(|n| n.details).unwrap_or_default();
            assert!(
                details.starts_with(&format!("(last log lines unavailable: {op}")),
                "{op} {fault:?}: {details}"
            );
        }
    }
}

#[tokio::test]
async fn send_message_faults() {
    for fault in FAULTS {
        let rule = mock!(aws_sdk_sqs::Client::send_message)
            .then_http_response(move || answer(Api::Sqs, fault));
        let mocked = Mocked::new(
            Faults {
                sqs: vec![rule],
                ..Faults::default()
            },
            1,
        );
        let result = mocked.handle(STUCK.0, STUCK.1()).await;
        if fault == Fault::Final {
            let outcome = result.expect("final");
            assert!(failed_call(&outcome, "sqs:SendMessage"), "{outcome:?}");
            assert_eq!(
                outcome.notice.map(|n| n.severity),
                Some(Severity::Error),
                "a broken re-check is told"
            );
            assert_eq!(mocked.effects(), (1, 0, 0, 1));
        } else {
            assert!(
                retryable(&result, "sqs:SendMessage on phoenix-recheck"),
                "{fault:?}: {result:?}"
            );
            // The deployment was forced and its claim completed: the retry will not force again.
            assert_eq!(mocked.effects(), (1, 0, 0, 0));
            assert_eq!(mocked.calls("UpdateItem"), 1, "the force claim completed");
        }
    }
}

#[tokio::test]
async fn publish_faults_after_a_change_are_recorded_before_one_they_are_retried() {
    for fault in FAULTS {
        let rule = || {
            mock!(aws_sdk_sns::Client::publish).then_http_response(move || answer(Api::Sns, fault))
        };
        // After UpdateService: a retry would repeat work, so the failure is recorded.
        let mocked = Mocked::new(
            Faults {
                sns: vec![rule()],
                ..Faults::default()
            },
            1,
        );
        let outcome = mocked
            .handle(STUCK.0, STUCK.1())
            .await
            .expect("recorded, not retried");
        assert!(
            failed_call(&outcome, "sns:Publish"),
            "{fault:?}: {outcome:?}"
        );
        assert_eq!(mocked.effects(), (1, 0, 1, 0));
        // Nothing changed yet (ECS is replacing the task): a retryable failure is retried.
        let mocked = Mocked::new(
            Faults {
                sns: vec![rule()],
                ..Faults::default()
            },
            2,
        );
        let result = mocked.handle(STUCK.0, STUCK.1()).await;
        if fault == Fault::Final {
            assert!(
                result.is_ok_and(|o| failed_call(&o, "sns:Publish")),
                "{fault:?}"
            );
        } else {
            assert!(retryable(&result, "sns:Publish"), "{fault:?}: {result:?}");
            assert_eq!(
                mocked.calls("DeleteItem"),
                1,
                "the claim is given back for the retry"
            );
        }
    }
}

#[tokio::test]
async fn ledger_claim_faults() {
    for fault in FAULTS {
        // The claim on the stop itself.
        let rule = mock!(aws_sdk_dynamodb::Client::put_item)
            .match_requests(claim_of("task-recovery:stop:"))
            .then_http_response(move || answer(Api::Dynamo, fault));
        let mocked = Mocked::new(
            Faults {
                dynamo: vec![rule],
                ..Faults::default()
            },
            1,
        );
        let result = mocked.handle(STUCK.0, STUCK.1()).await;
        if fault == Fault::Final {
            let outcome = result.expect("recovery goes on without the guard");
            assert!(failed_call(&outcome, "dynamodb:PutItem"), "{outcome:?}");
            assert_eq!(mocked.effects(), (1, 0, 1, 1));
        } else {
            assert!(
                retryable(&result, "dynamodb:PutItem on phoenix-ledger"),
                "{fault:?}: {result:?}"
            );
            assert_eq!(
                mocked.effects(),
                (0, 0, 0, 0),
                "no AWS change before the claim"
            );
        }

        // The claim on the forced deployment.
        let rule = mock!(aws_sdk_dynamodb::Client::put_item)
            .match_requests(claim_of("task-recovery:force:"))
            .then_http_response(move || answer(Api::Dynamo, fault));
        let mocked = Mocked::new(
            Faults {
                dynamo: vec![rule],
                ..Faults::default()
            },
            1,
        );
        let result = mocked.handle(STUCK.0, STUCK.1()).await;
        if fault == Fault::Final {
            let outcome = result.expect("forced unguarded");
            assert!(failed_call(&outcome, "dynamodb:PutItem"), "{outcome:?}");
            assert_eq!(mocked.effects(), (1, 0, 1, 1));
        } else {
            assert!(
                retryable(&result, "dynamodb:PutItem"),
                "{fault:?}: {result:?}"
            );
            assert_eq!(
                mocked.effects(),
                (0, 0, 0, 0),
                "not forced without the claim"
            );
        }
    }
}

#[tokio::test]
async fn ledger_read_faults_after_a_held_key() {
    for fault in FAULTS {
        let held = mock!(aws_sdk_dynamodb::Client::put_item)
            .match_requests(claim_of("task-recovery:stop:"))
            .then_http_response(|| http(Api::Dynamo, 400, "ConditionalCheckFailedException"));
        let read = mock!(aws_sdk_dynamodb::Client::get_item)
            .then_http_response(move || answer(Api::Dynamo, fault));
        let mocked = Mocked::new(
            Faults {
                dynamo: vec![held, read],
                ..Faults::default()
            },
            1,
        );
        let result = mocked.handle(STUCK.0, STUCK.1()).await;
        if fault == Fault::Final {
            let outcome = result.expect("unguarded");
            assert!(failed_call(&outcome, "dynamodb:GetItem"), "{outcome:?}");
        } else {
            assert!(
                retryable(&result, "dynamodb:GetItem"),
                "{fault:?}: {result:?}"
            );
            assert_eq!(mocked.effects(), (0, 0, 0, 0));
        }
    }
}

#[tokio::test]
async fn a_duplicate_delivery_found_in_the_ledger_does_nothing() {
    let held = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(claim_of("task-recovery:stop:"))
        .then_http_response(|| http(Api::Dynamo, 400, "ConditionalCheckFailedException"));
    let done = mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| {
        GetItemOutput::builder()
            .item("pk", AttributeValue::S("task-recovery:stop:x".into()))
            .item("state", AttributeValue::S("done".into()))
            .item("owner", AttributeValue::S("req-0".into()))
            .item(
                "at",
                AttributeValue::N(at(10, 16, 0).timestamp().to_string()),
            )
            .item("note", AttributeValue::S("force-new-deployment".into()))
            .item(
                "expires_at",
                AttributeValue::N(at(23, 0, 0).timestamp().to_string()),
            )
            .build()
    });
    let mocked = Mocked::new(
        Faults {
            dynamo: vec![held, done],
            ..Faults::default()
        },
        1,
    );
    let outcome = mocked.handle(STUCK.0, STUCK.1()).await.expect("ignored");
    assert!(
        outcome.ignored.as_deref().is_some_and(
            |w| w.starts_with("duplicate delivery: already handled at 2026-11-20T10:16:00")
        ),
        "{outcome:?}"
    );
    assert_eq!(mocked.effects(), (0, 0, 0, 0));
}

#[tokio::test]
async fn ledger_complete_and_release_faults_never_undo_an_effect() {
    for fault in FAULTS {
        let complete = mock!(aws_sdk_dynamodb::Client::update_item)
            .then_http_response(move || answer(Api::Dynamo, fault));
        let mocked = Mocked::new(
            Faults {
                dynamo: vec![complete],
                ..Faults::default()
            },
            1,
        );
        let outcome = mocked
            .handle(STUCK.0, STUCK.1())
            .await
            .expect("the effects happened");
        assert!(
            failed_call(&outcome, "dynamodb:UpdateItem"),
            "{fault:?}: {outcome:?}"
        );
        assert_eq!(mocked.effects(), (1, 0, 1, 1));

        // A release that fails after a retryable error: the original error is what Lambda sees.
        let update = mock!(aws_sdk_ecs::Client::update_service)
            .then_http_response(|| answer(Api::Ecs, Fault::Throttled));
        let release = mock!(aws_sdk_dynamodb::Client::delete_item)
            .then_http_response(move || answer(Api::Dynamo, fault));
        let mocked = Mocked::new(
            Faults {
                ecs: vec![update],
                dynamo: vec![release.clone()],
                ..Faults::default()
            },
            1,
        );
        let result = mocked.handle(STUCK.0, STUCK.1()).await;
        assert!(
            retryable(&result, "ecs:UpdateService"),
            "{fault:?}: {result:?}"
        );
        assert_eq!(release.num_calls(), 2, "both releases tried");
    }
}

#[tokio::test]
async fn the_missing_image_marker_faults() {
    for fault in FAULTS {
        let rule = mock!(aws_sdk_dynamodb::Client::put_item)
            .match_requests(claim_of("task-recovery:image-missing:"))
            .then_http_response(move || answer(Api::Dynamo, fault));
        let mocked = Mocked::new(
            Faults {
                dynamo: vec![rule],
                ..Faults::default()
            },
            1,
        );
        let result = mocked
            .handle("ecs-task-stopped-image-missing.json", at(10, 17, 0))
            .await;
        if fault == Fault::Final {
            let outcome = result.expect("reported anyway");
            assert!(failed_call(&outcome, "dynamodb:PutItem"), "{outcome:?}");
            // The fact people need stays a warning; the ledger's trouble is in the Outcome.
            assert_eq!(outcome.notice.map(|n| n.severity), Some(Severity::Warning));
            assert_eq!(mocked.effects(), (0, 0, 0, 1), "never restarted, told once");
        } else {
            assert!(
                retryable(&result, "dynamodb:PutItem"),
                "{fault:?}: {result:?}"
            );
            assert_eq!(mocked.effects(), (0, 0, 0, 0));
        }
    }
}

#[tokio::test]
async fn dry_run_makes_no_mutating_call_and_no_ledger_write() {
    let mocked = Mocked::with_config(
        Faults::default(),
        1,
        super::config_with(&[("DRY_RUN", "true")]),
    );
    let outcome = mocked.handle(STUCK.0, STUCK.1()).await.expect("handled");
    assert_eq!(outcome.decision.as_deref(), Some("force-new-deployment"));
    assert!(
        outcome
            .actions
            .iter()
            .all(|a| a.status == ActionStatus::DryRun),
        "{outcome:?}"
    );
    let calls: Vec<&str> = outcome.actions.iter().map(|a| a.call.as_str()).collect();
    assert_eq!(calls, ["ecs:UpdateService", "sqs:SendMessage"]);
    assert!(outcome.actions[1].detail.as_deref().is_some_and(|d| d.starts_with("would schedule re-check of phoenix-service at 10:18:00 UTC (in 60 s), attempt 1 of 3")));
    assert_eq!(mocked.effects(), (0, 0, 0, 0));
    for op in ["PutItem", "UpdateItem", "DeleteItem", "GetItem"] {
        assert_eq!(mocked.calls(op), 0, "{op}");
    }
}

#[tokio::test]
async fn a_recheck_makes_its_calls_and_survives_their_faults() {
    // The fixture's re-check is due at 10:16:41.930 and the default service is short: forced.
    let now = at(10, 16, 45);
    let mocked = Mocked::new(Faults::default(), 1);
    let outcome = mocked
        .handle("ecs-recheck-sqs.json", now)
        .await
        .expect("handled");
    assert_eq!(
        outcome.decision.as_deref(),
        Some("force-new-deployment"),
        "{outcome:?}"
    );
    assert_eq!(
        outcome.event_id.as_deref(),
        Some("00000000-0000-0000-5418-ad0d00000001#recheck-1")
    );
    assert_eq!(mocked.effects(), (1, 0, 1, 1));
    for fault in FAULTS {
        let rule = mock!(aws_sdk_ecs::Client::describe_services)
            .then_http_response(move || answer(Api::Ecs, fault));
        let mocked = Mocked::new(
            Faults {
                ecs: vec![rule],
                ..Faults::default()
            },
            1,
        );
        let result = mocked.handle("ecs-recheck-sqs.json", now).await;
        if fault == Fault::Final {
            let outcome = result.expect("final");
            assert_eq!(outcome.decision.as_deref(), Some("could-not-observe"));
            assert_eq!(mocked.effects(), (0, 0, 0, 1));
        } else {
            assert!(
                retryable(&result, "ecs:DescribeServices"),
                "{fault:?}: {result:?}"
            );
            assert_eq!(mocked.calls("DeleteItem"), 1);
        }
    }
    // Held by another container right now: SQS must hand it out again later.
    let held = mock!(aws_sdk_dynamodb::Client::put_item)
        .then_http_response(|| http(Api::Dynamo, 400, "ConditionalCheckFailedException"));
    let holder = mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| {
        GetItemOutput::builder()
            .item("state", AttributeValue::S("held".into()))
            .item("owner", AttributeValue::S("req-other".into()))
            .item(
                "at",
                AttributeValue::N(at(10, 16, 44).timestamp().to_string()),
            )
            .item(
                "expires_at",
                AttributeValue::N(at(23, 0, 0).timestamp().to_string()),
            )
            .build()
    });
    let mocked = Mocked::new(
        Faults {
            dynamo: vec![held, holder],
            ..Faults::default()
        },
        1,
    );
    let result = mocked.handle("ecs-recheck-sqs.json", now).await;
    assert!(
        matches!(&result, Err(e) if e.0.contains("being handled by invocation req-other")),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_deployment_event_reads_the_service_and_tells_once() {
    let now = at(10, 35, 0);
    let mocked = Mocked::new(Faults::default(), 1);
    let outcome = mocked
        .handle("ecs-deployment-failed.json", now)
        .await
        .expect("handled");
    assert_eq!(outcome.decision.as_deref(), Some("deployment-failed"));
    assert_eq!(mocked.effects(), (0, 0, 0, 1));
    for fault in FAULTS {
        let rule =
            mock!(aws_sdk_sns::Client::publish).then_http_response(move || answer(Api::Sns, fault));
        let mocked = Mocked::new(
            Faults {
                sns: vec![rule],
                ..Faults::default()
            },
            1,
        );
        let result = mocked.handle("ecs-deployment-failed.json", now).await;
        if fault == Fault::Final {
            assert!(result.is_ok_and(|o| failed_call(&o, "sns:Publish")));
        } else {
            assert!(retryable(&result, "sns:Publish"), "{fault:?}: {result:?}");
            assert_eq!(mocked.calls("DeleteItem"), 1);
        }
    }
}
