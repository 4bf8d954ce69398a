//! The alarm-notifier act: `GET /generatecert` burns CPU, the `phoenix-cpu-high` alarm goes to
//! ALARM and its action publishes to `alerts`; the notifier posts it to Slack (with a button to
//! the dashboard) and sends the text to `oncall`. SNS delivers the same message again, to
//! another container: the ledger (`LEDGER_TABLE`) collapses it. CPU comes back down, the alarm
//! returns to OK, and the recovery — handled by that other container — says how long the alarm
//! lasted (the ledger remembers when it began).
//!
//! Emulator gap, filled here visibly: moto never evaluates alarms and SetAlarmState publishes
//! nothing, so the act publishes the alarm action's message (shaped like
//! `events/sns-cloudwatch-alarm-cpu.json`, at scenario time) to `alerts` itself.

use std::time::Duration;

use ::alarm_notifier::AlarmNotifier;
use chrono::{DateTime, Utc};
use phoenix_testkit::slack_sink::Received;
use phoenix_testkit::world::{Published, as_sns_event, read_tap};
use serde_json::Value;

use super::{Stage, slack_text};

const ALARM: &str = "phoenix-cpu-high";

/// The message CloudWatch publishes for the CPU alarm of this world entering `state` at `at`.
fn alarm_message(
    stage: &Stage,
    state: &str,
    previous: &str,
    value: f64,
    at: DateTime<Utc>,
) -> String {
    let sns = phoenix_testkit::fixture("sns-cloudwatch-alarm-cpu.json");
    let mut body: Value = serde_json::from_str(
        sns["Records"][0]["Sns"]["Message"]
            .as_str()
            .unwrap_or_default(),
    )
    .unwrap_or_default();
    let datapoint = (at - chrono::Duration::minutes(1)).format("%d/%m/%y %H:%M:00");
    let (verb, transition) = if state == "ALARM" {
        ("was", "OK -> ALARM")
    } else {
        ("was not", "ALARM -> OK")
    };
    let (account, region) = (&stage.world.account, &stage.world.region);
    body["AWSAccountId"] = account.clone().into();
    body["AlarmArn"] = format!("arn:aws:cloudwatch:{region}:{account}:alarm:{ALARM}").into();
    body["NewStateValue"] = state.into();
    body["OldStateValue"] = previous.into();
    body["StateChangeTime"] = at.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string().into();
    body["NewStateReason"] = format!(
        "Threshold Crossed: 1 out of the last 1 datapoints [{value} ({datapoint})] {verb} greater than the threshold (80.0) (minimum 1 datapoint for {transition} transition)."
    )
    .into();
    body.to_string()
}

/// Publishes to `alerts` as the alarm's action would.
async fn publish_alarm(stage: &Stage, state: &str, message: String) -> bool {
    let sns = aws_sdk_sns::Client::new(&stage.world.sdk);
    let published = sns
        .publish()
        .topic_arn(&stage.world.alerts_topic_arn)
        .subject(format!("{state}: \"{ALARM}\" in EU (Ireland)"))
        .message(message)
        .send()
        .await;
    match published {
        Ok(_) => true,
        Err(e) => {
            stage.say(format!("✗ cannot publish to alerts: {}", error_chain(&e)));
            false
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Like [`Stage::relay_alerts`], through the given notifier (one container; what was delivered
/// and when the alarm began are in the ledger, shared by every container). Returns the SNS
/// event relayed and the new Slack messages.
async fn relay(
    stage: &mut Stage,
    notifier: &AlarmNotifier,
    event: Option<Value>,
) -> (Value, Vec<Received>) {
    let event = match event {
        Some(event) => event,
        None => {
            let published: Vec<Published> =
                read_tap(&stage.world.sdk, &stage.world.alerts_queue_url, 2)
                    .await
                    .unwrap_or_default();
            as_sns_event(&stage.world.alerts_topic_arn, &published)
        }
    };
    let _ = stage.run(notifier, event.clone()).await;
    let new: Vec<Received> = stage
        .sink
        .received()
        .into_iter()
        .skip(stage.slack_shown)
        .collect();
    stage.slack_shown += new.len();
    for message in &new {
        println!("              ┌─ Slack ({})", message.answered);
        for line in slack_text(&message.json()).lines() {
            println!("              │ {line}");
        }
        println!("              └─");
    }
    (event, new)
}

async fn oncall_subjects(stage: &Stage) -> Vec<String> {
    read_tap(&stage.world.sdk, &stage.world.oncall_queue_url, 2)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| p.subject)
        .collect()
}

pub async fn act(stage: &mut Stage) {
    stage.act("alarm-notifier");
    stage.say("scenario: /generatecert burns CPU, the CPU alarm fires, then CPU recovers");
    let dashboard = phoenix_core::console::dashboard(&stage.world.region, "phoenix-ops-phoenix");
    let overrides = [("DASHBOARD_URL", dashboard.as_str())];
    // Two containers of the notifier, as Lambda may run them.
    let (notifier, other) = match (
        stage.function::<AlarmNotifier>(&overrides),
        stage.function::<AlarmNotifier>(&overrides),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return stage.check("alarm-notifier starts", false, e),
    };
    // Whatever earlier acts sent to on-call is not this act's business.
    let _ = oncall_subjects(stage).await;

    // 1. The CPU alarm fires.
    stage.advance(Duration::from_secs(60));
    stage.say("GET /generatecert × 40 → phoenix-service CPU 93.4 % (Maximum, 1 min) > 80 %");
    let fired_at = stage.clock;
    stage.say(format!(
        "CloudWatch: {ALARM} OK → ALARM; its action publishes to alerts (moto evaluates no alarm: published by the act)"
    ));
    if !publish_alarm(
        stage,
        "ALARM",
        alarm_message(stage, "ALARM", "OK", 93.4, fired_at),
    )
    .await
    {
        return stage.check("the CPU alarm is published", false, "SNS publish failed");
    }
    stage.advance(Duration::from_secs(1));
    let (alarm_event, slack) = relay(stage, &notifier, None).await;
    let header = |m: &Received| {
        m.json()["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let fired = slack.len() == 1
        && slack[0].answered == 200
        && header(&slack[0]) == format!("🔴 ALARM: {ALARM}")
        && slack[0].body.contains("93.4% &gt; 80%")
        && slack[0].body.contains(&dashboard);
    stage.check(
        "the CPU alarm reaches Slack once, value against threshold, dashboard button",
        fired,
        format!("{} Slack message(s)", slack.len()),
    );
    let subjects = oncall_subjects(stage).await;
    stage.check(
        "on-call gets the plain text",
        subjects.iter().any(|s| s == &format!("ALARM: {ALARM}")),
        format!("oncall subjects {subjects:?}"),
    );

    // 2. SNS delivers the same message again (at-least-once), to another container: collapsed.
    stage.say("SNS delivers the same message a second time, to another container");
    let (_, again) = relay(stage, &other, Some(alarm_event)).await;
    let subjects = oncall_subjects(stage).await;
    stage.check(
        "a repeated delivery in another container is collapsed (no second post, no second page)",
        again.is_empty() && subjects.is_empty(),
        format!(
            "{} new Slack message(s), {} new page(s)",
            again.len(),
            subjects.len()
        ),
    );

    // 3. CPU recovers: OK, with how long the alarm lasted.
    stage.advance(Duration::from_secs(6 * 60));
    stage.say("load drops: CPU 41.2 % → CloudWatch: phoenix-cpu-high ALARM → OK");
    if !publish_alarm(
        stage,
        "OK",
        alarm_message(stage, "OK", "ALARM", 41.2, stage.clock),
    )
    .await
    {
        return stage.check("the OK is published", false, "SNS publish failed");
    }
    let (_, slack) = relay(stage, &other, None).await;
    let lasted = format!(
        "alarm lasted {}",
        phoenix_core::text::human_duration(stage.clock - fired_at)
    );
    let recovered = slack.len() == 1
        && header(&slack[0]) == format!("✅ OK: {ALARM}")
        && slack[0].body.contains(&lasted);
    stage.check(
        "the recovery (another container) reaches Slack with how long the alarm lasted",
        recovered,
        format!("{} Slack message(s), expected \"{lasted}\"", slack.len()),
    );
}
