//! The real handler against the emulator (moto server over HTTP): a day of the control plane
//! is laid down where AWS keeps it — the functions' Outcome lines in their log group (written by
//! phoenix-core's real Lambda adapter), ALB requests and backup's heartbeat metrics in
//! CloudWatch, alarms with their states — and the digest must tell it, once.
//!
//! Emulator gaps, visibly:
//! * moto does not turn EMF log lines into metrics: the test puts `BackupSucceeded` and
//!   `LogExportLagHours` with PutMetricData, as CloudWatch would from backup's lines;
//! * moto 5.2.5 has no DescribeAlarmHistory (HTTP 500): the digest names the gap and still
//!   tells the alarms open now (the history itself is covered by `faults`);
//! * moto stamps alarm state changes with the real clock, so the day is laid down around the
//!   real time, passed to the handler as `now`;
//! * the ledger table is created here when the world does not have it yet.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, MetricDatum, StandardUnit, StateValue, Statistic,
};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use chrono::{DateTime, Duration, DurationRound, Utc};
use phoenix_core::lambda::{handle_and_report, load_config};
use phoenix_core::{
    Action, ActionStatus, Function, Invocation, Notice, Outcome, RetryableError, SdkConfig, Vars,
};
use phoenix_testkit::world::{CONTROL_PLANE_LOG_GROUP, read_tap, write_log_lines};
use phoenix_testkit::{Emulator, World, WorldSpec, new_account};
use serde_json::{Value, json};

use crate::DailyDigest;

const STACK: &str = "phoenix-ops";
const LEDGER: &str = "phoenix-ledger";

/// A function that answers a given Outcome: the real adapter writes its lines.
macro_rules! replay {
    ($ty:ident, $name:literal) => {
        struct $ty(Outcome);
        impl Function for $ty {
            const NAME: &'static str = $name;
            type Config = ();
            fn read_config(_: &mut Vars<'_>) {}
            fn from_sdk(_: (), _: &SdkConfig) -> Self {
                Self(Outcome::handled($name, None, false))
            }
            async fn handle(&self, _: Invocation) -> Result<Outcome, RetryableError> {
                Ok(self.0.clone())
            }
        }
    };
}
replay!(TaskRecovery, "task-recovery");
replay!(RequestScaler, "request-scaler");
replay!(Backup, "backup");

/// The lines the Lambda adapter writes for one invocation at `t`, put into the log group.
async fn invoked<F: Function>(world: &World, function: &F, t: DateTime<Utc>, n: usize) {
    let mut out: Vec<u8> = Vec::new();
    let invocation = Invocation::new(json!({}), t)
        .request_id(format!("req-{n}"))
        .stack(STACK);
    handle_and_report(function, invocation, &mut out)
        .await
        .expect("replayed");
    let lines: Vec<String> = String::from_utf8_lossy(&out)
        .lines()
        .map(str::to_owned)
        .collect();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&world.sdk);
    write_log_lines(
        &logs,
        CONTROL_PLANE_LOG_GROUP,
        &format!("2026/11/25/[$LATEST]{n}"),
        &lines,
        t,
    )
    .await
    .expect("log lines written");
}

fn outcome(
    function: &str,
    decision: &str,
    observed: Value,
    actions: &[(&str, ActionStatus, &str)],
) -> Outcome {
    let mut outcome = Outcome::handled(function, Some("evt"), false)
        .decided(decision, "because")
        .observed(observed);
    for (call, status, detail) in actions {
        outcome.action(Action::new(call, "target", *status).detail(*detail));
    }
    outcome
}

async fn ledger_table(sdk: &SdkConfig) {
    let created = aws_sdk_dynamodb::Client::new(sdk)
        .create_table()
        .table_name(LEDGER)
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
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    if let Err(e) = created {
        let exists = e
            .as_service_error()
            .is_some_and(|s| s.is_resource_in_use_exception());
        assert!(exists, "ledger table: {e:?}");
    }
}

async fn alarm(cloudwatch: &aws_sdk_cloudwatch::Client, name: &str, state: Option<StateValue>) {
    cloudwatch
        .put_metric_alarm()
        .alarm_name(name)
        .namespace("AWS/ECS")
        .metric_name("CPUUtilization")
        .statistic(Statistic::Maximum)
        .period(60)
        .evaluation_periods(1)
        .threshold(80.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .expect("alarm created");
    if let Some(state) = state {
        cloudwatch
            .set_alarm_state()
            .alarm_name(name)
            .state_value(state)
            .state_reason("threshold crossed (test)")
            .send()
            .await
            .expect("alarm state set");
    }
}

/// What CloudWatch would extract from backup's EMF lines.
async fn backup_metrics(cloudwatch: &aws_sdk_cloudwatch::Client, t: DateTime<Utc>) {
    let datum = |name: &str, value: f64| {
        MetricDatum::builder()
            .metric_name(name)
            .dimensions(Dimension::builder().name("Stack").value(STACK).build())
            .dimensions(
                Dimension::builder()
                    .name("Function")
                    .value("backup")
                    .build(),
            )
            .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                t.timestamp(),
            ))
            .unit(StandardUnit::Count)
            .value(value)
            .build()
    };
    cloudwatch
        .put_metric_data()
        .namespace("PhoenixOps")
        .metric_data(datum("BackupSucceeded", 1.0))
        .metric_data(datum("LogExportLagHours", 14.0))
        .send()
        .await
        .expect("metrics put");
}

fn digest_for(world: &World, env: &BTreeMap<String, String>) -> DailyDigest {
    let config = load_config::<DailyDigest>(Vars::new(|k| env.get(k).cloned())).expect("config");
    DailyDigest::from_sdk(config, &world.sdk)
}

#[tokio::test]
async fn a_day_in_the_emulator_is_told_once() {
    // the day ends at the current minute: moto's alarm clock is the real one
    let now = Utc::now();
    let end = now.duration_trunc(Duration::minutes(1)).expect("minute");
    let hours_ago = |h: i64| end - Duration::hours(h);
    let spec = WorldSpec::new(&new_account(), "http://127.0.0.1:9/unused", hours_ago(20));
    let world = World::seed(Emulator::shared(), &spec)
        .await
        .expect("world seeds");
    ledger_table(&world.sdk).await;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&world.sdk);

    // what the functions did (their Outcome lines, through the real adapter)
    let crash = json!({"classification": {"kind": {"kind": "crash", "exit_code": 1}}});
    invoked(
        &world,
        &TaskRecovery(outcome(
            "task-recovery",
            "replace-standalone-task",
            crash,
            &[("ecs:RunTask", ActionStatus::Done, "replacement t-2")],
        )),
        hours_ago(9),
        1,
    )
    .await;
    invoked(
        &world,
        &TaskRecovery(outcome(
            "task-recovery",
            "ecs-replacing",
            json!({"classification": {"kind": {"kind": "out-of-memory"}}}),
            &[],
        )),
        hours_ago(8),
        2,
    )
    .await;
    invoked(
        &world,
        &RequestScaler(outcome(
            "request-scaler",
            "scale-out",
            json!({}),
            &[(
                "ecs:UpdateService",
                ActionStatus::Done,
                "desiredCount 2 → 5",
            )],
        )),
        hours_ago(6),
        3,
    )
    .await;
    invoked(
        &world,
        &RequestScaler(outcome("request-scaler", "hold", json!({}), &[])),
        hours_ago(6),
        4,
    )
    .await;
    invoked(
        &world,
        &Backup(outcome(
            "backup",
            "backed-up",
            json!({}),
            &[
                (
                    "rds:CreateDBClusterSnapshot",
                    ActionStatus::Done,
                    "phoenix-ops-phoenix-docdb-x",
                ),
                ("logs:CreateExportTask", ActionStatus::Done, "/ecs/phoenix"),
            ],
        )),
        hours_ago(5),
        5,
    )
    .await;
    // a line from before the window is not told
    invoked(
        &world,
        &TaskRecovery(outcome(
            "task-recovery",
            "crash-loop",
            json!({"classification": {"kind": {"kind": "crash"}}}),
            &[],
        )),
        hours_ago(30),
        6,
    )
    .await;

    // requests: a spike of 1250/min six hours ago
    world
        .put_requests(hours_ago(6), &[300, 1250, 700, 0, 40])
        .await
        .expect("requests put");
    backup_metrics(&cloudwatch, hours_ago(5)).await;
    alarm(&cloudwatch, "phoenix-ops-cpu-peak", None).await;
    alarm(&cloudwatch, "phoenix-ops-alb-5xx", Some(StateValue::Alarm)).await;
    alarm(
        &cloudwatch,
        "another-stack-alb-5xx",
        Some(StateValue::Alarm),
    )
    .await;

    let mut env = world.env();
    for (k, v) in [
        ("LEDGER_TABLE", LEDGER.to_owned()),
        (
            "FUNCTION_LOG_GROUPS",
            format!("{CONTROL_PLANE_LOG_GROUP},/aws/lambda/{STACK}-not-created-yet"),
        ),
        (
            "ALARM_NAMES",
            "phoenix-ops-cpu-peak,phoenix-ops-alb-5xx".to_owned(),
        ),
    ] {
        env.insert(k.to_owned(), v);
    }
    let digest = digest_for(&world, &env);
    let event = json!({"version": "0", "id": "evt-digest", "detail-type": "Scheduled Event",
        "source": "aws.events", "time": end.to_rfc3339(), "region": "eu-west-1", "resources": [], "detail": {}});
    let invocation = || {
        Invocation::new(event.clone(), now)
            .request_id("req-digest")
            .stack(STACK)
    };

    let outcome = digest.handle(invocation()).await.expect("told");
    assert_eq!(
        outcome.decision.as_deref(),
        Some("published"),
        "{outcome:?}"
    );
    let published = read_tap(&world.sdk, &world.alerts_queue_url, 2)
        .await
        .expect("tap");
    assert_eq!(published.len(), 1, "one Notice: {published:?}");
    let notice = Notice::from_json(&published[0].message).expect("a Notice");
    let details = notice.details.clone().unwrap_or_default();
    assert_eq!(notice.source, "daily-digest");
    assert_eq!(
        notice.severity,
        phoenix_core::Severity::Warning,
        "alb-5xx is open: {notice:?}"
    );
    assert!(
        notice
            .title
            .starts_with("Daily digest: 1 thing needs a person (2 crashes, 1 scale action"),
        "{}",
        notice.title
    );
    assert!(
        notice
            .summary
            .contains("Still open: alb-5xx in ALARM since"),
        "{}",
        notice.summary
    );
    for expected in [
        "  crash — replacement started",
        "  out-of-memory — ecs replacing",
        "peak 1250 requests/min",
        "2290 requests in all",
        " out 2 → 5 tasks",
        "backed-up: 1 snapshot(s) made, 0 rotated, 1 log export(s) started",
        "last success 5 h",
        " h behind",
        "  alb-5xx: ",
    ] {
        assert!(
            details.contains(expected),
            "{expected:?} missing in\n{details}"
        );
    }
    assert!(
        !details.contains("another-stack") && !details.contains("crash loops"),
        "{details}"
    );
    // moto has no alarm history: the gap is named, never silent
    let history_failed = outcome
        .actions
        .iter()
        .any(|a| a.call == "cloudwatch:DescribeAlarmHistory" && a.status == ActionStatus::Failed);
    assert_eq!(
        history_failed,
        notice.summary.contains("Not read: alarm history"),
        "{}",
        notice.summary
    );
    assert!(
        !outcome
            .actions
            .iter()
            .any(|a| a.call == "logs:FilterLogEvents"),
        "a missing group is no gap"
    );
    for line in details.lines().filter(|l| l.contains(" failed: ")) {
        assert!(
            line.chars().count() < 300,
            "a gap reads in one short line: {line}"
        );
    }

    // the same schedule delivered again (another container, a retry): nothing sent twice
    let again = digest_for(&world, &env)
        .handle(invocation().request_id("req-again"))
        .await
        .expect("done");
    assert_eq!(
        again.decision.as_deref(),
        Some("already-published"),
        "{again:?}"
    );
    assert!(
        read_tap(&world.sdk, &world.alerts_queue_url, 1)
            .await
            .expect("tap")
            .is_empty()
    );

    // a dry run tells the same day and sends nothing
    env.insert("DRY_RUN".into(), "true".into());
    let dry = digest_for(&world, &env)
        .handle(invocation().request_id("req-dry"))
        .await
        .expect("dry");
    assert_eq!(
        dry.notice.as_ref().map(|n| n.title.clone()),
        Some(notice.title.clone())
    );
    assert!(
        read_tap(&world.sdk, &world.alerts_queue_url, 1)
            .await
            .expect("tap")
            .is_empty()
    );
}
