//! The mocked AWS of the fault tests: every call the function makes answered by a default rule
//! (a service task crashed and the service is still short past the grace), and faults as the
//! real HTTP answers of each protocol (so the SDK's own error parsing runs). In MatchAny mode the
//! first matching rule answers, so a fault rule put first overrides the default.

use aws_sdk_cloudwatchlogs::operation::get_log_events::GetLogEventsOutput;
use aws_sdk_cloudwatchlogs::types::OutputLogEvent;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemOutput;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::put_item::{PutItemInput, PutItemOutput};
use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
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
use phoenix_core::{ActionStatus, Function, Invocation, Outcome, RetryableError};

use super::{at, config, fixture};
use crate::{Clients, TaskRecovery};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fault {
    Throttled,
    ServerError,
    Final,
}

pub(super) const FAULTS: [Fault; 3] = [Fault::Throttled, Fault::ServerError, Fault::Final];

#[derive(Debug, Clone, Copy)]
pub(super) enum Api {
    Ecs,
    Logs,
    Dynamo,
    Sqs,
    Sns,
}

/// The HTTP answer a service gives for a fault, in its protocol.
pub(super) fn answer(api: Api, fault: Fault) -> HttpResponse {
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

pub(super) fn http(api: Api, status: u16, code: &str) -> HttpResponse {
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
pub(super) struct Faults {
    pub ecs: Vec<Rule>,
    pub logs: Vec<Rule>,
    pub dynamo: Vec<Rule>,
    pub sqs: Vec<Rule>,
    pub sns: Vec<Rule>,
}

pub(super) fn key_of(input: &PutItemInput) -> &str {
    input
        .item()
        .and_then(|item| item.get("pk"))
        .and_then(|v| v.as_s().ok())
        .map_or("", String::as_str)
}

pub(super) fn claim_of(
    prefix: &'static str,
) -> impl Fn(&PutItemInput) -> bool + Send + Sync + 'static {
    move |input| key_of(input).starts_with(prefix)
}

pub(super) const OLD_TASK: &str =
    "arn:aws:ecs:eu-west-1:111122223333:task/phoenix-cluster/0000000000000000000000000000dead";

pub(super) fn defaults(running: i32) -> Vec<(Api, Rule)> {
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
pub(super) struct Mocked {
    pub recovery: TaskRecovery,
    rules: Vec<(Api, Rule)>,
}

impl Mocked {
    pub fn new(faults: Faults, running: i32) -> Mocked {
        Self::with_config(faults, running, config())
    }

    pub fn with_config(faults: Faults, running: i32, config: crate::Config) -> Mocked {
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
    pub fn calls(&self, op: &str) -> usize {
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
    pub fn effects(&self) -> (usize, usize, usize, usize) {
        (
            self.calls("UpdateService"),
            self.calls("RunTask"),
            self.calls("SendMessage"),
            self.calls("Publish"),
        )
    }

    pub async fn handle(&self, event: &str, now: DateTime<Utc>) -> Result<Outcome, RetryableError> {
        self.recovery
            .handle(Invocation::new(fixture(event), now).request_id("req-1"))
            .await
    }
}

pub(super) const STUCK: (&str, fn() -> DateTime<Utc>) =
    ("ecs-task-stopped-crash.json", || at(10, 17, 0));

pub(super) fn retryable(result: &Result<Outcome, RetryableError>, call: &str) -> bool {
    matches!(result, Err(e) if e.0.starts_with(call) && e.0.ends_with("retryable)"))
}

pub(super) fn failed_call(outcome: &Outcome, call: &str) -> bool {
    outcome
        .actions
        .iter()
        .any(|a| a.call == call && a.status == ActionStatus::Failed)
}
