//! Mocked AWS for handler and fault tests (aws-smithy-mocks). A mocked client fails a call no
//! rule expects, so "no such call" is asserted by construction as well as by call counts.
//! Retries are off so each failure is one call; the classification is what is under test.

use std::sync::{Arc, Mutex};

use aws_sdk_cloudwatch::operation::get_metric_data::{GetMetricDataError, GetMetricDataOutput};
use aws_sdk_cloudwatch::operation::get_metric_statistics::{
    GetMetricStatisticsError, GetMetricStatisticsOutput,
};
use aws_sdk_cloudwatch::primitives::DateTime as CwDateTime;
use aws_sdk_cloudwatch::types::{Datapoint, MetricDataResult};
use aws_sdk_ecs::operation::describe_services::{DescribeServicesError, DescribeServicesOutput};
use aws_sdk_ecs::operation::update_service::{UpdateServiceError, UpdateServiceOutput};
use aws_sdk_ecs::types::{Deployment, DeploymentRolloutState, Service};
use aws_sdk_sns::operation::publish::{PublishError, PublishOutput};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;
use chrono::{DateTime, Duration, TimeZone, Utc};
use phoenix_core::lambda::load_config;
use phoenix_core::{Invocation, Vars};
use serde_json::{Value, json};

use crate::{Clients, RequestScaler};

/// Evaluation time: the newest complete minute is 12:08.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 10, 30)
        .single()
        .expect("valid")
}

pub fn schedule(id: &str) -> Value {
    json!({"version": "0", "id": id, "detail-type": "Scheduled Event", "source": "aws.events",
           "account": "111122223333", "time": "2026-11-25T12:10:00Z", "region": "eu-west-1",
           "resources": [], "detail": {}})
}

pub fn invocation(event: Value) -> Invocation {
    Invocation::new(event, now())
}

pub const ENV: [(&str, &str); 5] = [
    ("CLUSTER_NAME", "phoenix-cluster"),
    ("SERVICE_NAME", "phoenix-service"),
    (
        "LOAD_BALANCER_DIMENSION",
        "app/phoenix-alb/50dc6c495c0c9188",
    ),
    (
        "TARGET_GROUP_DIMENSION",
        "targetgroup/phoenix-tg/73e2d6bc24d8a067",
    ),
    (
        "ALERTS_TOPIC_ARN",
        "arn:aws:sns:eu-west-1:111122223333:phoenix-alerts",
    ),
];

/// The handler with mocked clients (retries off) and the base environment plus `extra`.
pub fn handler_with(
    extra: &[(&str, &str)],
    ecs: &[&Rule],
    cloudwatch: &[&Rule],
    sns: &[&Rule],
) -> RequestScaler {
    let mut env: Vec<(&str, &str)> = ENV.to_vec();
    env.extend_from_slice(extra);
    let config = load_config::<RequestScaler>(Vars::from_pairs(&env)).expect("config");
    let clients = Clients {
        ecs: mock_client!(aws_sdk_ecs, RuleMode::MatchAny, ecs, |c| c
            .retry_config(aws_sdk_ecs::config::retry::RetryConfig::disabled())),
        cloudwatch: mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, cloudwatch, |c| c
            .retry_config(aws_sdk_cloudwatch::config::retry::RetryConfig::disabled())),
        sns: mock_client!(aws_sdk_sns, RuleMode::MatchAny, sns, |c| c
            .retry_config(aws_sdk_sns::config::retry::RetryConfig::disabled())),
    };
    RequestScaler::new(config, clients)
}

pub fn handler(ecs: &[&Rule], cloudwatch: &[&Rule], sns: &[&Rule]) -> RequestScaler {
    handler_with(&[], ecs, cloudwatch, sns)
}

fn minute(m: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0)
        .single()
        .expect("valid")
        + Duration::minutes(m)
}

fn series(id: &str, values: &[(i64, f64)]) -> MetricDataResult {
    let mut result = MetricDataResult::builder().id(id);
    for (m, v) in values {
        result = result
            .timestamps(CwDateTime::from_secs(minute(*m).timestamp()))
            .values(*v);
    }
    result.build()
}

/// RequestCount 50 a minute for 12:00..=12:07 and `newest` at 12:08 (the newest complete
/// minute at [`now`]); CPU `cpu` percent at 12:08 when given.
pub fn metrics(newest: f64, cpu: Option<f64>) -> Rule {
    mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_output(move || {
        let mut requests: Vec<(i64, f64)> = (0..8).map(|m| (m, 50.0)).collect();
        requests.push((8, newest));
        let mut out =
            GetMetricDataOutput::builder().metric_data_results(series("requests", &requests));
        if let Some(cpu) = cpu {
            out = out.metric_data_results(series("cpu", &[(8, cpu)]));
        }
        out.build()
    })
}

/// The requests each GetMetricData call made: (metrics requested, start, end).
pub type Calls = Arc<Mutex<Vec<(usize, i64, i64)>>>;

/// Like [`metrics`], recording what each call asked for.
pub fn recording_metrics(newest: f64) -> (Rule, Calls) {
    let calls: Calls = Arc::default();
    let seen = Arc::clone(&calls);
    let rule = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .match_requests(move |req| {
            let secs = |t: Option<&CwDateTime>| t.map(|t| t.secs()).unwrap_or_default();
            seen.lock().expect("lock").push((
                req.metric_data_queries().len(),
                secs(req.start_time()),
                secs(req.end_time()),
            ));
            true
        })
        .then_output(move || {
            let mut requests: Vec<(i64, f64)> = (0..8).map(|m| (m, 50.0)).collect();
            requests.push((8, newest));
            GetMetricDataOutput::builder()
                .metric_data_results(series("requests", &requests))
                .build()
        });
    (rule, calls)
}

/// The GetMetricStatistics calls made: (metric name, statistic, start, end).
pub type StatisticsCalls = Arc<Mutex<Vec<(String, String, i64, i64)>>>;

/// GetMetricStatistics (the evaluations between the hourly reads of the previous days):
/// RequestCount as in [`metrics`] (50 a minute for 12:00..=12:07, `newest` at 12:08) and
/// CPUUtilization `cpu` percent at 12:08, each answering its own call; every call recorded.
pub fn recording_statistics(newest: f64, cpu: f64) -> (Rule, StatisticsCalls) {
    let calls: StatisticsCalls = Arc::default();
    let seen = Arc::clone(&calls);
    let rule = mock!(aws_sdk_cloudwatch::Client::get_metric_statistics)
        .match_requests(move |req| {
            let secs = |t: Option<&CwDateTime>| t.map(|t| t.secs()).unwrap_or_default();
            let statistic = req
                .statistics()
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(",");
            seen.lock().expect("lock").push((
                req.metric_name().unwrap_or_default().to_owned(),
                statistic,
                secs(req.start_time()),
                secs(req.end_time()),
            ));
            true
        })
        .then_compute_output(move |req| {
            let point = |m: i64, v: f64| {
                let at = CwDateTime::from_secs(minute(m).timestamp());
                if req.metric_name() == Some("CPUUtilization") {
                    Datapoint::builder().timestamp(at).average(v).build()
                } else {
                    Datapoint::builder().timestamp(at).sum(v).build()
                }
            };
            let points: Vec<Datapoint> = if req.metric_name() == Some("CPUUtilization") {
                vec![point(8, cpu)]
            } else {
                (0..8)
                    .map(|m| point(m, 50.0))
                    .chain([point(8, newest)])
                    .collect()
            };
            GetMetricStatisticsOutput::builder()
                .set_datapoints(Some(points))
                .build()
        });
    (rule, calls)
}

pub fn service(desired: i32, rolling: bool) -> Rule {
    mock!(aws_sdk_ecs::Client::describe_services).then_output(move || {
        let state = if rolling {
            DeploymentRolloutState::InProgress
        } else {
            DeploymentRolloutState::Completed
        };
        DescribeServicesOutput::builder()
            .services(
                Service::builder()
                    .service_name("phoenix-service")
                    .status("ACTIVE")
                    .desired_count(desired)
                    .running_count(desired)
                    .deployments(
                        Deployment::builder()
                            .status("PRIMARY")
                            .rollout_state(state)
                            .build(),
                    )
                    .build(),
            )
            .build()
    })
}

/// DescribeServices answering without an ACTIVE service (deleted, or a wrong name).
pub fn no_service() -> Rule {
    mock!(aws_sdk_ecs::Client::describe_services).then_output(|| {
        DescribeServicesOutput::builder()
            .services(
                Service::builder()
                    .service_name("phoenix-service")
                    .status("INACTIVE")
                    .build(),
            )
            .build()
    })
}

pub fn update_ok() -> Rule {
    mock!(aws_sdk_ecs::Client::update_service)
        .then_output(|| UpdateServiceOutput::builder().build())
}

pub fn publish_ok() -> Rule {
    mock!(aws_sdk_sns::Client::publish)
        .then_output(|| PublishOutput::builder().message_id("m-1").build())
}

fn meta(code: &'static str) -> ErrorMetadata {
    ErrorMetadata::builder()
        .code(code)
        .message("injected")
        .build()
}

/// How a call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A throttling error code (retryable).
    Throttled,
    /// HTTP 503 with no body (retryable).
    Unavailable,
    /// A modelled error a retry cannot fix (access denied, unknown cluster, …).
    Final,
}

pub const FAULTS: [Fault; 3] = [Fault::Throttled, Fault::Unavailable, Fault::Final];

pub fn get_metric_data_fails(fault: Fault) -> Rule {
    match fault {
        Fault::Throttled => mock!(aws_sdk_cloudwatch::Client::get_metric_data)
            .then_error(|| GetMetricDataError::generic(meta("Throttling"))),
        Fault::Unavailable => mock!(aws_sdk_cloudwatch::Client::get_metric_data)
            .sequence()
            .http_status(503, None)
            .repeatedly()
            .build(),
        Fault::Final => mock!(aws_sdk_cloudwatch::Client::get_metric_data)
            .then_error(|| GetMetricDataError::generic(meta("AccessDenied"))),
    }
}

pub fn get_metric_statistics_fails(fault: Fault) -> Rule {
    match fault {
        Fault::Throttled => mock!(aws_sdk_cloudwatch::Client::get_metric_statistics)
            .then_error(|| GetMetricStatisticsError::generic(meta("Throttling"))),
        Fault::Unavailable => mock!(aws_sdk_cloudwatch::Client::get_metric_statistics)
            .sequence()
            .http_status(503, None)
            .repeatedly()
            .build(),
        Fault::Final => mock!(aws_sdk_cloudwatch::Client::get_metric_statistics)
            .then_error(|| GetMetricStatisticsError::generic(meta("AccessDenied"))),
    }
}

pub fn describe_services_fails(fault: Fault) -> Rule {
    match fault {
        Fault::Throttled => mock!(aws_sdk_ecs::Client::describe_services)
            .then_error(|| DescribeServicesError::generic(meta("ThrottlingException"))),
        Fault::Unavailable => mock!(aws_sdk_ecs::Client::describe_services)
            .sequence()
            .http_status(503, None)
            .repeatedly()
            .build(),
        Fault::Final => mock!(aws_sdk_ecs::Client::describe_services)
            .then_error(|| DescribeServicesError::generic(meta("ClusterNotFoundException"))),
    }
}

pub fn update_service_fails(fault: Fault) -> Rule {
    match fault {
        Fault::Throttled => mock!(aws_sdk_ecs::Client::update_service)
            .then_error(|| UpdateServiceError::generic(meta("ThrottlingException"))),
        Fault::Unavailable => mock!(aws_sdk_ecs::Client::update_service)
            .sequence()
            .http_status(503, None)
            .repeatedly()
            .build(),
        Fault::Final => mock!(aws_sdk_ecs::Client::update_service)
            .then_error(|| UpdateServiceError::generic(meta("AccessDeniedException"))),
    }
}

pub fn publish_fails(fault: Fault) -> Rule {
    match fault {
        Fault::Throttled => mock!(aws_sdk_sns::Client::publish)
            .then_error(|| PublishError::generic(meta("Throttling"))),
        Fault::Unavailable => mock!(aws_sdk_sns::Client::publish)
            .sequence()
            .http_status(503, None)
            .repeatedly()
            .build(),
        Fault::Final => mock!(aws_sdk_sns::Client::publish)
            .then_error(|| PublishError::generic(meta("AuthorizationError"))),
    }
}
