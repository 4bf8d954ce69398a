//! Every AWS call the digest makes, answered and failed with aws-smithy-mocks (what the
//! emulator cannot do: throttling, 5xx, access denied, paging): a failed read is a named gap and
//! never a retry; a failed ledger or publish call is retried by Lambda without a second Notice.

use std::collections::HashMap;

use aws_sdk_cloudwatch::operation::describe_alarm_history::{
    DescribeAlarmHistoryError, DescribeAlarmHistoryOutput,
};
use aws_sdk_cloudwatch::operation::describe_alarms::{DescribeAlarmsError, DescribeAlarmsOutput};
use aws_sdk_cloudwatch::operation::get_metric_data::{GetMetricDataError, GetMetricDataOutput};
use aws_sdk_cloudwatch::primitives::DateTime as CwTime;
use aws_sdk_cloudwatch::types::{
    AlarmHistoryItem, HistoryItemType, MetricAlarm, MetricDataResult, StateValue,
};
use aws_sdk_cloudwatchlogs::operation::filter_log_events::{
    FilterLogEventsError, FilterLogEventsOutput,
};
use aws_sdk_cloudwatchlogs::types::FilteredLogEvent;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemOutput;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_ecs::operation::describe_services::{DescribeServicesError, DescribeServicesOutput};
use aws_sdk_ecs::types::Service;
use aws_sdk_sns::operation::publish::{PublishError, PublishOutput};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;
use chrono::{DateTime, TimeZone, Utc};
use phoenix_core::lambda::load_config;
use phoenix_core::outcome::NoticeDelivery;
use phoenix_core::{ActionStatus, Function, Invocation, Notice, Outcome, Vars};
use serde_json::{Value, json};

use crate::{Clients, DailyDigest};

const STACK: &str = "phoenix-ops";
const TOPIC: &str = "arn:aws:sns:eu-west-1:111122223333:phoenix-alerts";

fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, h, m, 0)
        .single()
        .expect("valid time")
}

fn now() -> DateTime<Utc> {
    at(25, 8, 0) + chrono::Duration::seconds(7)
}

fn cw_time(t: DateTime<Utc>) -> CwTime {
    CwTime::from_secs(t.timestamp())
}

fn schedule() -> Value {
    json!({"version": "0", "id": "evt-digest", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "111122223333", "time": "2026-11-25T08:00:00Z",
        "region": "eu-west-1", "resources": [], "detail": {}})
}

fn error(code: &'static str) -> ErrorMetadata {
    ErrorMetadata::builder()
        .code(code)
        .message("injected")
        .build()
}

/// Every client's rules.
#[derive(Default)]
struct Rules {
    cw: Vec<Rule>,
    logs: Vec<Rule>,
    ecs: Vec<Rule>,
    sns: Vec<Rule>,
    ddb: Vec<Rule>,
}

fn refs(rules: &[Rule]) -> Vec<&Rule> {
    rules.iter().collect()
}

fn handler(rules: &Rules, extra_env: &[(&str, &str)]) -> DailyDigest {
    let mut env = vec![
        ("ALERTS_TOPIC_ARN", TOPIC),
        ("LEDGER_TABLE", "phoenix-ledger"),
        (
            "FUNCTION_LOG_GROUPS",
            "/aws/lambda/phoenix-ops-task-recovery,/aws/lambda/phoenix-ops-backup",
        ),
        ("ALARM_NAMES", "phoenix-ops-cpu-peak,phoenix-ops-dlq"),
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
    ];
    env.extend_from_slice(extra_env);
    let config = load_config::<DailyDigest>(Vars::from_pairs(&env)).expect("config");
    DailyDigest::new(
        config,
        Clients {
            cloudwatch: mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, &refs(&rules.cw)),
            logs: mock_client!(
                aws_sdk_cloudwatchlogs,
                RuleMode::MatchAny,
                &refs(&rules.logs)
            ),
            ecs: mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &refs(&rules.ecs)),
            sns: mock_client!(aws_sdk_sns, RuleMode::MatchAny, &refs(&rules.sns)),
            dynamodb: mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &refs(&rules.ddb)),
        },
    )
}

fn metrics() -> Rule {
    mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_output(|| {
        let result = |id: &str, t: DateTime<Utc>, v: f64| {
            MetricDataResult::builder()
                .id(id)
                .timestamps(cw_time(t))
                .values(v)
                .build()
        };
        GetMetricDataOutput::builder()
            .metric_data_results(result("requests", at(24, 14, 7), 1250.0))
            .metric_data_results(result("succeeded", at(25, 3, 0), 1.0))
            .metric_data_results(result("lag", at(25, 3, 0), 14.0))
            .build()
    })
}

fn alarms_now() -> Rule {
    mock!(aws_sdk_cloudwatch::Client::describe_alarms).then_output(|| {
        DescribeAlarmsOutput::builder()
            .metric_alarms(
                MetricAlarm::builder()
                    .alarm_name("phoenix-ops-cpu-peak")
                    .state_value(StateValue::Ok)
                    .state_updated_timestamp(cw_time(at(24, 10, 51)))
                    .build(),
            )
            .build()
    })
}

fn history_item(name: &str, t: DateTime<Utc>, from: &str, to: &str) -> AlarmHistoryItem {
    AlarmHistoryItem::builder()
        .alarm_name(name)
        .timestamp(cw_time(t))
        .history_item_type(HistoryItemType::StateUpdate)
        .history_summary(format!("Alarm updated from {from} to {to}"))
        .history_data(
            json!({"version": "1.0", "oldState": {"stateValue": from}, "newState": {"stateValue": to}})
                .to_string(),
        )
        .build()
}

/// Two pages: the first ends with a token, and carries another stack's alarm.
fn history_pages() -> [Rule; 2] {
    [
        mock!(aws_sdk_cloudwatch::Client::describe_alarm_history)
            .match_requests(|r| r.next_token().is_none())
            .then_output(|| {
                DescribeAlarmHistoryOutput::builder()
                    .alarm_history_items(history_item(
                        "phoenix-ops-cpu-peak",
                        at(24, 10, 42),
                        "OK",
                        "ALARM",
                    ))
                    .alarm_history_items(history_item(
                        "phoenix-ops-staging-cpu-peak",
                        at(24, 11, 0),
                        "OK",
                        "ALARM",
                    ))
                    .next_token("page-2")
                    .build()
            }),
        mock!(aws_sdk_cloudwatch::Client::describe_alarm_history)
            .match_requests(|r| r.next_token() == Some("page-2"))
            .then_output(|| {
                DescribeAlarmHistoryOutput::builder()
                    .alarm_history_items(history_item(
                        "phoenix-ops-cpu-peak",
                        at(24, 10, 51),
                        "ALARM",
                        "OK",
                    ))
                    .build()
            }),
    ]
}

fn outcome_line(t: DateTime<Utc>, function: &str, outcome: Value) -> FilteredLogEvent {
    FilteredLogEvent::builder()
        .timestamp(t.timestamp_millis())
        .message(
            json!({"level": "INFO", "function": function, "stack": STACK, "outcome": outcome})
                .to_string(),
        )
        .build()
}

/// task-recovery's group has a crash; backup's group does not exist yet.
fn log_rules() -> [Rule; 2] {
    [
        mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events)
            .match_requests(|r| r.log_group_name() == Some("/aws/lambda/phoenix-ops-task-recovery"))
            .then_output(|| {
                FilterLogEventsOutput::builder()
                    .events(outcome_line(
                        at(24, 9, 12),
                        "task-recovery",
                        json!({"function": "task-recovery",
                        "decision": "replace-standalone-task",
                        "observed": {"classification": {"kind": {"kind": "crash"}}},
                        "actions": [{"call": "ecs:RunTask", "target": "w", "status": "done"}]}),
                    ))
                    .build()
            }),
        mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events)
            .match_requests(|r| r.log_group_name() == Some("/aws/lambda/phoenix-ops-backup"))
            .then_error(|| FilterLogEventsError::generic(error("ResourceNotFoundException"))),
    ]
}

fn service_ok() -> Rule {
    mock!(aws_sdk_ecs::Client::describe_services).then_output(|| {
        DescribeServicesOutput::builder()
            .services(
                Service::builder()
                    .service_name("phoenix-service")
                    .status("ACTIVE")
                    .desired_count(2)
                    .running_count(2)
                    .build(),
            )
            .build()
    })
}

fn publish_ok() -> Rule {
    mock!(aws_sdk_sns::Client::publish)
        .then_output(|| PublishOutput::builder().message_id("m-1").build())
}

fn ledger_ok() -> Vec<Rule> {
    vec![
        mock!(aws_sdk_dynamodb::Client::put_item).then_output(|| PutItemOutput::builder().build()),
        mock!(aws_sdk_dynamodb::Client::update_item)
            .then_output(|| UpdateItemOutput::builder().build()),
        mock!(aws_sdk_dynamodb::Client::delete_item)
            .then_output(|| DeleteItemOutput::builder().build()),
    ]
}

fn healthy() -> Rules {
    let [h1, h2] = history_pages();
    let [l1, l2] = log_rules();
    Rules {
        cw: vec![metrics(), alarms_now(), h1, h2],
        logs: vec![l1, l2],
        ecs: vec![service_ok()],
        sns: vec![publish_ok()],
        ddb: ledger_ok(),
    }
}

fn calls(rules: &[Rule]) -> usize {
    rules.iter().map(Rule::num_calls).sum()
}

async fn run(rules: &Rules, env: &[(&str, &str)]) -> Result<Outcome, phoenix_core::RetryableError> {
    handler(rules, env)
        .handle(
            Invocation::new(schedule(), now())
                .request_id("req-1")
                .stack(STACK),
        )
        .await
}

fn failed_calls(outcome: &Outcome) -> Vec<&str> {
    outcome
        .actions
        .iter()
        .filter(|a| a.status == ActionStatus::Failed)
        .map(|a| a.call.as_str())
        .collect()
}

fn notice(outcome: &Outcome) -> &Notice {
    outcome.notice.as_ref().expect("a Notice")
}

#[tokio::test]
async fn a_healthy_day_reads_every_page_and_publishes_one_notice() {
    let rules = healthy();
    let outcome = run(&rules, &[]).await.expect("published");
    assert_eq!(outcome.decision.as_deref(), Some("published"));
    assert!(failed_calls(&outcome).is_empty(), "{:?}", outcome.actions);
    assert_eq!(
        outcome.notice_delivery,
        Some(NoticeDelivery::Published {
            message_id: "m-1".into()
        })
    );
    let details = notice(&outcome).details.clone().unwrap_or_default();
    assert!(
        details.contains("  cpu-peak: 10:42 → 10:51 (9 min)"),
        "{details}"
    );
    assert!(
        !details.contains("staging"),
        "another stack's alarm is not ours: {details}"
    );
    assert!(
        details.contains("  crash — replacement started"),
        "{details}"
    );
    assert!(
        details.contains("peak 1250 requests/min at 14:07"),
        "{details}"
    );
    assert_eq!(
        rules.cw[2].num_calls() + rules.cw[3].num_calls(),
        2,
        "both history pages"
    );
    assert_eq!(rules.logs[1].num_calls(), 1, "a missing group is no gap");
    assert_eq!(
        (
            rules.sns[0].num_calls(),
            rules.ddb[0].num_calls(),
            rules.ddb[1].num_calls()
        ),
        (1, 1, 1)
    );
    assert_eq!(rules.ddb[2].num_calls(), 0, "nothing released");
    assert_eq!(
        notice(&outcome).event_id.as_deref(),
        Some("digest:phoenix-ops:2026-11-25T08:00Z")
    );
}

#[tokio::test]
async fn every_read_that_fails_is_a_named_gap_never_a_retry() {
    // (call, the failing rule, what the digest says it could not read)
    type Failing = Box<dyn Fn() -> Rule>;
    let cases: Vec<(&str, Failing, &str)> = vec![
        (
            "cloudwatch:GetMetricData",
            Box::new(|| {
                mock!(aws_sdk_cloudwatch::Client::get_metric_data)
                    .then_error(|| GetMetricDataError::generic(error("Throttling")))
            }),
            "ALB requests",
        ),
        (
            "cloudwatch:DescribeAlarms",
            Box::new(|| {
                mock!(aws_sdk_cloudwatch::Client::describe_alarms)
                    .then_error(|| DescribeAlarmsError::generic(error("InternalFailure")))
            }),
            "alarm states",
        ),
        // what moto 5.2.5 answers (HTTP 500: not implemented)
        (
            "cloudwatch:DescribeAlarmHistory",
            Box::new(|| {
                mock!(aws_sdk_cloudwatch::Client::describe_alarm_history)
                    .then_error(|| DescribeAlarmHistoryError::generic(error("InternalFailure")))
            }),
            "alarm history",
        ),
        (
            "logs:FilterLogEvents",
            Box::new(|| {
                mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events)
                    .then_error(|| FilterLogEventsError::generic(error("AccessDeniedException")))
            }),
            "Outcome lines",
        ),
        (
            "ecs:DescribeServices",
            Box::new(|| {
                mock!(aws_sdk_ecs::Client::describe_services)
                    .then_error(|| DescribeServicesError::generic(error("ThrottlingException")))
            }),
            "the service",
        ),
    ];
    for (call, failing, what) in cases {
        let mut rules = healthy();
        match call {
            "cloudwatch:GetMetricData" => rules.cw[0] = failing(),
            "cloudwatch:DescribeAlarms" => rules.cw[1] = failing(),
            "cloudwatch:DescribeAlarmHistory" => {
                rules.cw.truncate(2);
                rules.cw.push(failing());
            }
            "logs:FilterLogEvents" => rules.logs = vec![failing()],
            _ => rules.ecs = vec![failing()],
        }
        let outcome = run(&rules, &[])
            .await
            .unwrap_or_else(|e| panic!("{call}: a gap, not a retry: {e}"));
        let failed = failed_calls(&outcome);
        assert!(failed.contains(&call), "{call}: {failed:?}");
        let summary = &notice(&outcome).summary;
        assert!(
            summary.contains("Not read:") && summary.contains(what),
            "{call}: {summary}"
        );
        let details = notice(&outcome).details.clone().unwrap_or_default();
        let line = details
            .lines()
            .find(|l| l.contains(&format!("{call} failed: ")))
            .unwrap_or_else(|| panic!("{call}: no short reason in\n{details}"));
        assert!(
            line.len() < 300 && line.contains("injected"),
            "{call}: {line}"
        );
        assert_eq!(
            rules.sns[0].num_calls(),
            1,
            "{call}: the digest is still sent"
        );
    }
}

#[tokio::test]
async fn ledger_faults_retry_or_degrade_and_a_done_digest_is_not_sent_again() {
    // throttled claim: retryable, nothing read, nothing sent
    let mut rules = healthy();
    rules.ddb[0] = mock!(aws_sdk_dynamodb::Client::put_item)
        .then_error(|| PutItemError::generic(error("ProvisionedThroughputExceededException")));
    let err = run(&rules, &[]).await.expect_err("retryable");
    assert!(err.0.contains("dynamodb:PutItem"), "{err}");
    assert_eq!(
        (calls(&rules.cw), calls(&rules.logs), calls(&rules.sns)),
        (0, 0, 0)
    );

    // access denied: sent anyway (a possible duplicate beats no digest), the failure recorded
    let mut rules = healthy();
    rules.ddb[0] = mock!(aws_sdk_dynamodb::Client::put_item)
        .then_error(|| PutItemError::generic(error("AccessDeniedException")));
    let outcome = run(&rules, &[]).await.expect("published");
    assert_eq!(failed_calls(&outcome), ["dynamodb:PutItem"]);
    assert_eq!(rules.sns[0].num_calls(), 1);
    assert_eq!(
        rules.ddb[1].num_calls(),
        0,
        "nothing to complete without a claim"
    );

    // already published by another container: nothing read, nothing sent
    let mut rules = healthy();
    rules.ddb[0] = mock!(aws_sdk_dynamodb::Client::put_item)
        .then_error(|| PutItemError::generic(error("ConditionalCheckFailedException")));
    rules
        .ddb
        .push(mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| {
            let s = |v: &str| AttributeValue::S(v.to_owned());
            let n = |t: DateTime<Utc>| AttributeValue::N(t.timestamp().to_string());
            GetItemOutput::builder()
                .set_item(Some(HashMap::from([
                    ("pk".to_owned(), s("digest:phoenix-ops:2026-11-25T08:00Z")),
                    ("state".to_owned(), s("done")),
                    ("owner".to_owned(), s("req-0")),
                    ("at".to_owned(), n(at(25, 8, 0))),
                    ("note".to_owned(), s("SNS message m-0")),
                    ("expires_at".to_owned(), n(at(27, 8, 0))),
                ])))
                .build()
        }));
    let outcome = run(&rules, &[]).await.expect("done");
    assert_eq!(outcome.decision.as_deref(), Some("already-published"));
    assert!(
        outcome.reason.as_deref().is_some_and(|r| r.contains("m-0")),
        "{:?}",
        outcome.reason
    );
    assert_eq!(
        (calls(&rules.cw), calls(&rules.logs), calls(&rules.sns)),
        (0, 0, 0)
    );
}

#[tokio::test]
async fn publish_faults_release_the_claim_so_a_retry_can_send() {
    // throttled: Lambda retries; the claim is released, never completed
    let mut rules = healthy();
    rules.sns[0] = mock!(aws_sdk_sns::Client::publish)
        .then_error(|| PublishError::generic(error("Throttling")));
    let err = run(&rules, &[]).await.expect_err("retryable");
    assert!(err.0.contains("sns:Publish"), "{err}");
    assert_eq!((rules.ddb[1].num_calls(), rules.ddb[2].num_calls()), (0, 1));

    // refused for good: the Outcome says so, the claim is released for a person's rerun
    let mut rules = healthy();
    rules.sns[0] = mock!(aws_sdk_sns::Client::publish)
        .then_error(|| PublishError::generic(error("AuthorizationError")));
    let outcome = run(&rules, &[]).await.expect("final");
    assert_eq!(failed_calls(&outcome), ["sns:Publish"]);
    assert_eq!((rules.ddb[1].num_calls(), rules.ddb[2].num_calls()), (0, 1));
}

#[tokio::test]
async fn a_dry_run_reads_and_tells_but_writes_nothing() {
    let rules = healthy();
    let outcome = run(&rules, &[("DRY_RUN", "true")]).await.expect("told");
    assert_eq!(outcome.notice_delivery, Some(NoticeDelivery::DryRun));
    assert!(outcome.dry_run && outcome.notice.is_some());
    assert_eq!((calls(&rules.sns), calls(&rules.ddb)), (0, 0));
    assert!(calls(&rules.cw) > 0 && calls(&rules.logs) > 0);
}

#[tokio::test]
async fn events_that_are_not_a_digest_make_no_call() {
    let rules = Rules::default();
    let digest = handler(&rules, &[]);
    for (payload, ignored) in [
        (
            json!({"source": "aws.ecs", "detail-type": "ECS Task State Change"}),
            true,
        ),
        (json!("hello"), true),
        (json!({"hours": 3}), false),
    ] {
        let outcome = digest
            .handle(Invocation::new(payload.clone(), now()).stack(STACK))
            .await
            .expect("success");
        assert_eq!(outcome.ignored.is_some(), ignored, "{payload}");
        assert_eq!(outcome.rejected.is_some(), !ignored, "{payload}");
    }
}
