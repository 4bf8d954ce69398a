//! `phoenix-ops digest`: the daily digest, printed — as Slack shows it, and the Notice JSON the
//! function would publish. It runs the real daily-digest handler in a dry run (it reads, it
//! publishes nothing, it writes no ledger entry).
//!
//! * With the environment of a stack (`ALERTS_TOPIC_ARN`, `FUNCTION_LOG_GROUPS`, … as the
//!   template sets them, and AWS credentials or `AWS_ENDPOINT_URL`), it tells that world's last
//!   24 hours.
//! * Without one, or with `--sandbox`, it starts the emulator, seeds the sandbox world and plays
//!   a few hours of the control plane through the real handlers — a crashed worker, one killed
//!   for memory, a traffic spike and its calm, the CPU alarm, the nightly backup — writing each
//!   invocation's lines where Lambda would (the function log group) and the metrics CloudWatch
//!   would extract from their EMF lines (moto does not: done here, visibly). Then it tells them.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use ::alarm_notifier::AlarmNotifier;
use ::backup::Backup;
use ::request_scaler::RequestScaler;
use ::task_recovery::TaskRecovery;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, MetricDatum, StandardUnit, StateValue, Statistic,
};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use chrono::{DateTime, DurationRound, Utc};
use daily_digest::DailyDigest;
use phoenix_core::lambda::{handle_and_report, init_logging, load_config};
use phoenix_core::{Function, Invocation, Notice, Outcome, Vars};
use phoenix_testkit::world::{self, CONTROL_PLANE_LOG_GROUP, StopScenario, as_sns_event, read_tap};
use serde_json::{Value, json};
use tracing::level_filters::LevelFilter;

use crate::invoke::{parse_now, people_sdk_config};
use crate::sandbox::{Stage, slack_text};

/// The stack the sandbox day belongs to (the `Stack` of its metrics, the prefix of its alarms).
const STACK: &str = "phoenix-ops";
const LEDGER: &str = "phoenix-ledger";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The digest's clock, RFC 3339: the 24 hours before it are told (default: now).
    #[arg(long)]
    pub now: Option<String>,
    /// Tell a sandbox day even when the environment names a stack.
    #[arg(long)]
    pub sandbox: bool,
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("phoenix-ops: {message}");
    ExitCode::from(2)
}

pub async fn run(args: &Args) -> ExitCode {
    let now = match parse_now(args.now.as_deref()) {
        Ok(now) => now,
        Err(message) => return usage_error(&message),
    };
    init_logging(LevelFilter::WARN, Arc::new(|| Box::new(std::io::stderr())));
    if args.sandbox || std::env::var_os("ALERTS_TOPIC_ARN").is_none() {
        sandbox_day(now).await
    } else {
        from_environment(now).await
    }
}

async fn from_environment(now: DateTime<Utc>) -> ExitCode {
    let vars = Vars::new(|name| match name {
        "DRY_RUN" => Some("true".to_owned()),
        _ => std::env::var(name).ok(),
    });
    let config = match load_config::<DailyDigest>(vars) {
        Ok(config) => config,
        Err(errors) => {
            return usage_error(&format!(
                "daily-digest: {errors} (set them as the template does, or run `phoenix-ops digest --sandbox`)"
            ));
        }
    };
    let digest = DailyDigest::from_sdk(config, &people_sdk_config().await);
    let stack = std::env::var("STACK_NAME").unwrap_or_else(|_| STACK.to_owned());
    tell(&digest, now, &stack).await
}

/// Runs the digest (a dry run) and prints what people would get.
async fn tell(digest: &DailyDigest, now: DateTime<Utc>, stack: &str) -> ExitCode {
    let invocation = Invocation::new(json!({}), now)
        .request_id("phoenix-ops-digest")
        .stack(stack);
    let outcome = match handle_and_report(digest, invocation, &mut std::io::sink()).await {
        Ok(outcome) => outcome,
        Err(error) => {
            eprintln!("phoenix-ops: daily-digest failed (retryable): {error}");
            return ExitCode::from(1);
        }
    };
    let Some(notice) = &outcome.notice else {
        eprintln!(
            "phoenix-ops: daily-digest told nothing: {}",
            outcome.headline()
        );
        return ExitCode::from(1);
    };
    let mut stdout = std::io::stdout();
    let _ = writeln!(
        stdout,
        "\n━━ The daily digest, as Slack shows it {}",
        "━".repeat(32)
    );
    match ::alarm_notifier::render_event(&sns_event(notice)) {
        Ok(rendered) if !rendered.is_empty() => {
            for r in rendered {
                let _ = writeln!(stdout, "{}", slack_text(&r.slack));
                let _ = writeln!(
                    stdout,
                    "\n(severity {}: {})",
                    r.severity,
                    if r.severity == phoenix_core::Severity::Info {
                        "Slack only"
                    } else {
                        "Slack, and on-call's severity filter lets it through"
                    }
                );
            }
        }
        _ => {
            let _ = writeln!(stdout, "(alarm-notifier could not render it)");
        }
    }
    let unread: Vec<String> = outcome
        .actions
        .iter()
        .filter(|a| a.status == phoenix_core::ActionStatus::Failed)
        .map(|a| format!("  {} on {}", a.call, a.target))
        .collect();
    if !unread.is_empty() {
        let _ = writeln!(
            stdout,
            "\nNot read (named in the digest):\n{}",
            unread.join("\n")
        );
    }
    let _ = writeln!(stdout, "\n━━ The Notice (JSON) {}", "━".repeat(50));
    let _ = writeln!(
        stdout,
        "{}",
        serde_json::to_string_pretty(notice).unwrap_or_default()
    );
    ExitCode::SUCCESS
}

/// The Notice as the alerts topic delivers it to alarm-notifier.
fn sns_event(notice: &Notice) -> Value {
    let published = world::Published {
        message_id: "phoenix-ops-digest".to_owned(),
        subject: Some(notice.subject()),
        message: serde_json::to_string(notice).unwrap_or_default(),
        timestamp: notice.time.to_rfc3339(),
    };
    as_sns_event(
        "arn:aws:sns:eu-west-1:123456789012:phoenix-alerts",
        &[published],
    )
}

// ───────────────────────────── the sandbox day

/// One invocation of a real handler at the stage's clock: its lines go to the control plane's
/// log group (as Lambda writes them) and its EMF metrics to CloudWatch (as CloudWatch extracts
/// them). Returns the Outcome.
async fn invoke<F: Function>(
    stage: &Stage,
    function: &F,
    payload: Value,
    n: usize,
) -> Option<Outcome> {
    let invocation = Invocation::new(payload, stage.clock)
        .request_id(format!("sandbox-day-{n}"))
        .stack(STACK)
        .time_left(Duration::from_secs(60));
    let mut out: Vec<u8> = Vec::new();
    let result = handle_and_report(function, invocation, &mut out).await;
    let lines: Vec<String> = String::from_utf8_lossy(&out)
        .lines()
        .map(str::to_owned)
        .collect();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&stage.world.sdk);
    let stream = format!("{}/[$LATEST]{n}", F::NAME);
    if let Err(e) =
        world::write_log_lines(&logs, CONTROL_PLANE_LOG_GROUP, &stream, &lines, stage.clock).await
    {
        stage.say(format!("✗ cannot write {}'s lines: {e}", F::NAME));
    }
    put_emf_metrics(stage, &lines).await;
    match result {
        Ok(outcome) => {
            stage.say(format!("⚙ {}: {}", F::NAME, outcome.headline()));
            Some(outcome)
        }
        Err(error) => {
            stage.say(format!("✗ {} failed (retryable): {error}", F::NAME));
            None
        }
    }
}

/// What CloudWatch does with an EMF line (moto does not): one datum per metric it declares.
async fn put_emf_metrics(stage: &Stage, lines: &[String]) {
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&stage.world.sdk);
    for line in lines {
        let Ok(value) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let Some(declared) = value.pointer("/_aws/CloudWatchMetrics/0") else {
            continue;
        };
        let namespace = declared["Namespace"].as_str().unwrap_or_default();
        let millis = value
            .pointer("/_aws/Timestamp")
            .and_then(Value::as_i64)
            .unwrap_or_default();
        let dimensions: Vec<Dimension> = declared["Dimensions"][0]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|name| {
                Dimension::builder()
                    .name(name)
                    .value(value[name].as_str().unwrap_or_default())
                    .build()
            })
            .collect();
        for metric in declared["Metrics"].as_array().into_iter().flatten() {
            let name = metric["Name"].as_str().unwrap_or_default();
            let Some(number) = value[name].as_f64() else {
                continue;
            };
            let datum = MetricDatum::builder()
                .metric_name(name)
                .set_dimensions(Some(dimensions.clone()))
                .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_millis(
                    millis,
                ))
                .unit(StandardUnit::from(
                    metric["Unit"].as_str().unwrap_or("None"),
                ))
                .value(number)
                .build();
            let put = cloudwatch
                .put_metric_data()
                .namespace(namespace)
                .metric_data(datum)
                .send()
                .await;
            if let Err(e) = put {
                stage.say(format!("✗ cannot put metric {name}: {e}"));
            }
        }
    }
}

/// What reached the alerts topic, through the real alarm-notifier (to the Slack sink).
async fn relay(stage: &Stage, notifier: &AlarmNotifier, n: usize) {
    let published = read_tap(&stage.world.sdk, &stage.world.alerts_queue_url, 1)
        .await
        .unwrap_or_default();
    if !published.is_empty() {
        let event = as_sns_event(&stage.world.alerts_topic_arn, &published);
        let _ = invoke(stage, notifier, event, n).await;
    }
}

/// The ledger table, as the template makes it (the world may have it already).
async fn ledger_table(stage: &Stage) -> Result<(), String> {
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
    let created = aws_sdk_dynamodb::Client::new(&stage.world.sdk)
        .create_table()
        .table_name(LEDGER)
        .attribute_definitions(attribute)
        .key_schema(key)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    match created {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(format!("dynamodb:CreateTable {LEDGER}: {e:?}")),
    }
}

/// A stack alarm in the emulator (moto never evaluates it: its state is set by hand).
async fn alarm(stage: &Stage, name: &str, state: Option<StateValue>) -> Result<(), String> {
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&stage.world.sdk);
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
        .map_err(|e| format!("cloudwatch:PutMetricAlarm {name}: {e:?}"))?;
    if let Some(state) = state {
        cloudwatch
            .set_alarm_state()
            .alarm_name(name)
            .state_value(state)
            .state_reason("Threshold Crossed: 1 out of the last 1 datapoints [93.4] was greater than the threshold (80.0)")
            .send()
            .await
            .map_err(|e| format!("cloudwatch:SetAlarmState {name}: {e:?}"))?;
    }
    Ok(())
}

/// The CPU alarm's message, as CloudWatch publishes it to the alerts topic.
fn cpu_alarm_message(stage: &Stage, name: &str) -> String {
    let sns = phoenix_testkit::fixture("sns-cloudwatch-alarm-cpu.json");
    let mut body: Value =
        serde_json::from_str(sns["Records"][0]["Sns"]["Message"].as_str().unwrap_or("{}"))
            .unwrap_or_default();
    let (account, region) = (&stage.world.account, &stage.world.region);
    body["AlarmName"] = name.into();
    body["AWSAccountId"] = account.clone().into();
    body["AlarmArn"] = format!("arn:aws:cloudwatch:{region}:{account}:alarm:{name}").into();
    body["StateChangeTime"] = stage
        .clock
        .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
        .to_string()
        .into();
    body.to_string()
}

fn schedule(stage: &Stage, id: &str) -> Value {
    json!({"version": "0", "id": id, "detail-type": "Scheduled Event", "source": "aws.events",
        "account": stage.world.account, "time": stage.clock.to_rfc3339(), "region": stage.world.region,
        "resources": [], "detail": {}})
}

/// A few hours of the control plane, through the real handlers, ending a little before `now`.
async fn play_the_day(stage: &mut Stage, now: DateTime<Utc>) -> Result<(), String> {
    let minute = chrono::Duration::minutes(1);
    let overrides = [("LEDGER_TABLE", LEDGER), ("DRY_RUN", "false")];
    let recovery = stage.function::<TaskRecovery>(&overrides)?;
    let scaler = stage.function::<RequestScaler>(&overrides)?;
    let notifier = stage.function::<AlarmNotifier>(&overrides)?;
    let backup = stage.function::<Backup>(&overrides)?;
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    stage.clock = now.duration_trunc(minute).unwrap_or(now) - chrono::Duration::hours(3);

    stage.say("the standalone worker crashes (exit 1)");
    let worker = stage.world.worker_task_arn.clone();
    let event = stage
        .world
        .stop_task_as(
            &worker,
            &StopScenario::Crash { exit_code: 1 },
            stage.clock,
            "day-crash-1",
        )
        .await
        .map_err(|e| e.to_string())?;
    invoke(stage, &recovery, event, next()).await;
    relay(stage, &notifier, next()).await;

    stage.advance(Duration::from_secs(25 * 60));
    stage.say("another worker is killed for memory");
    let second = stage
        .world
        .start_task(false)
        .await
        .map_err(|e| e.to_string())?;
    let event = stage
        .world
        .stop_task_as(
            &second,
            &StopScenario::OutOfMemory,
            stage.clock,
            "day-oom-1",
        )
        .await
        .map_err(|e| e.to_string())?;
    invoke(stage, &recovery, event, next()).await;
    relay(stage, &notifier, next()).await;

    stage.advance(Duration::from_secs(35 * 60));
    stage.say("a traffic spike: up to 1,250 requests a minute");
    let start = ::request_scaler::observe::minute_of(stage.clock);
    stage
        .world
        .put_requests(
            start - minute * 8,
            &[300, 900, 1_250, 1_100, 1_000, 950, 900, 880],
        )
        .await
        .map_err(|e| e.to_string())?;
    stage.clock = start + chrono::Duration::seconds(30);
    invoke(stage, &scaler, schedule(stage, "day-scaler-1"), next()).await;
    relay(stage, &notifier, next()).await;

    stage.advance(Duration::from_secs(10 * 60));
    stage.say("CPU peaks with the spike: the CPU alarm fires and stays in ALARM (moto stamps alarm states with the real clock)");
    let cpu = format!("{STACK}-cpu-peak");
    alarm(stage, &cpu, Some(StateValue::Alarm)).await?;
    alarm(stage, &format!("{STACK}-alb-5xx"), None).await?;
    let sns = aws_sdk_sns::Client::new(&stage.world.sdk);
    sns.publish()
        .topic_arn(&stage.world.alerts_topic_arn)
        .subject(format!("ALARM: \"{cpu}\" in EU (Ireland)"))
        .message(cpu_alarm_message(stage, &cpu))
        .send()
        .await
        .map_err(|e| format!("sns:Publish: {e:?}"))?;
    relay(stage, &notifier, next()).await;

    stage.advance(Duration::from_secs(30 * 60));
    stage.say("the spike is over: 40 requests a minute");
    let start = ::request_scaler::observe::minute_of(stage.clock);
    stage
        .world
        .put_requests(start - minute * 8, &[40; 8])
        .await
        .map_err(|e| e.to_string())?;
    stage.clock = start + chrono::Duration::seconds(30);
    invoke(stage, &scaler, schedule(stage, "day-scaler-2"), next()).await;
    relay(stage, &notifier, next()).await;

    stage.advance(Duration::from_secs(40 * 60));
    stage.say("the daily backup runs");
    invoke(stage, &backup, schedule(stage, "day-backup-1"), next()).await;
    relay(stage, &notifier, next()).await;
    Ok(())
}

async fn sandbox_day(now: DateTime<Utc>) -> ExitCode {
    println!("phoenix-ops digest: starting the emulator and the Slack sink, seeding the world…");
    let mut stage = match Stage::start().await {
        Ok(stage) => stage,
        Err(e) => {
            eprintln!("phoenix-ops: the sandbox cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = ledger_table(&stage).await {
        eprintln!("phoenix-ops: {e}");
        return ExitCode::from(1);
    }
    stage.act("A few hours of the control plane (the real handlers)");
    stage.say("each invocation's lines go to the function log group; CloudWatch's EMF extraction is done here (moto has none)");
    if let Err(e) = play_the_day(&mut stage, now).await {
        eprintln!("phoenix-ops: the sandbox day stopped: {e}");
        return ExitCode::from(1);
    }
    stage.clock = now;
    stage.act("The daily digest (dry run: read, told, nothing sent)");
    let alarms = format!("{STACK}-cpu-peak,{STACK}-alb-5xx");
    let digest = match stage.function::<DailyDigest>(&[
        ("LEDGER_TABLE", LEDGER),
        ("FUNCTION_LOG_GROUPS", CONTROL_PLANE_LOG_GROUP),
        ("ALARM_NAMES", alarms.as_str()),
        ("DRY_RUN", "true"),
    ]) {
        Ok(digest) => digest,
        Err(e) => return usage_error(&format!("daily-digest: {e}")),
    };
    tell(&digest, now, STACK).await
}
