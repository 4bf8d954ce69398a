//! The scenario runner: one simulated world (its own emulator account, Slack sink and models),
//! a virtual clock, and a discrete-event loop. Nothing sleeps for real: time jumps from one due
//! thing to the next — an ECS transition, the close of a minute (ALB datapoints, CloudWatch
//! alarms), a schedule, a delivery or retry. A handler's own real running time is charged to the
//! simulated clock (the world does not move while a handler runs).
//!
//! Every event reaches a function only through the template's wiring (its EventBridge rules,
//! schedules, SNS subscriptions and SQS event sources); every function runs through the real
//! handler code (`phoenix_core::lambda::handle_and_report`) in one of several containers; every
//! AWS call goes through the [`Wire`], which records who did what.

mod calls;
mod clock;
mod figures;
mod invocations;
mod narration;
mod people;
mod setup;

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use ::alarm_notifier::AlarmNotifier;
use ::request_scaler::RequestScaler;
use ::task_recovery::TaskRecovery;
use chrono::{DateTime, Duration, Utc};
use phoenix_core::Function;
use phoenix_testkit::SlackSink;
use phoenix_testkit::sim::SimError;
use phoenix_testkit::sim::alarms::{Alarms, MetricStore};
use phoenix_testkit::sim::alb::{Alb, Traffic};
use phoenix_testkit::sim::cloudformation::Stack;
use phoenix_testkit::sim::delivery::Chaos;
use phoenix_testkit::sim::ecs::Ecs;
use phoenix_testkit::sim::lambda::LambdaSettings;
use phoenix_testkit::sim::people::Oncall;
use phoenix_testkit::sim::resources::{QueueMessage, SnsMessage};
use phoenix_testkit::sim::rng::SimRng;
use phoenix_testkit::sim::wire::Wire;
use phoenix_testkit::sim::wiring::{SqsSource, Wiring};
use phoenix_testkit::world::World;
use serde_json::Value;

/// The stack's name in the simulation (`STACK_NAME`).
pub const STACK: &str = "phoenix-ops";
/// The image the seeded world's task definition runs (crates/testkit/src/world.rs).
pub const WORLD_IMAGE: &str = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/phoenix:1.4.2";
/// Seconds after the minute at which a `rate(1 minute)` schedule fires (a guess: EventBridge
/// documents no offset).
const SCHEDULE_OFFSET_SECONDS: i64 = 5;

/// The functions the scenarios run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    TaskRecovery,
    RequestScaler,
    AlarmNotifier,
}

impl Target {
    pub const ALL: [Target; 3] = [
        Target::TaskRecovery,
        Target::RequestScaler,
        Target::AlarmNotifier,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Target::TaskRecovery => TaskRecovery::NAME,
            Target::RequestScaler => RequestScaler::NAME,
            Target::AlarmNotifier => AlarmNotifier::NAME,
        }
    }
}

/// How a delivery reached the function.
#[derive(Debug, Clone)]
enum Source {
    /// Asynchronous invocation (EventBridge, SNS, schedules): Lambda retries, then the DLQ.
    Async {
        attempt: u32,
        first_at: DateTime<Utc>,
    },
    /// An SQS event source: a failed message reappears after the visibility timeout.
    Sqs {
        source: SqsSource,
        queue_arn: String,
        message: Box<QueueMessage>,
        receive_count: u32,
    },
}

#[derive(Debug, Clone)]
struct Job {
    target: Target,
    payload: Value,
    source: Source,
    container: usize,
    /// What the delivery is about (an alerts message's identity, an event…).
    about: String,
}

/// The scenario's starting point.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Tasks the service runs at the start (0: a new stack with no image).
    pub service_tasks: u32,
    /// Stack parameters besides the world's (`AppImageTag` "" creates the stack with no image).
    pub params: Vec<(&'static str, String)>,
    pub chaos: Chaos,
    pub seed: u64,
    /// Requests per minute at the start.
    pub traffic: u64,
    /// Lambda containers per function.
    pub containers: usize,
    /// Settings a release changes, per function (over the world's and the template's).
    pub env: Vec<(Target, &'static str, &'static str)>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            service_tasks: 2,
            params: vec![("AppImageTag", "1.4.2".to_owned())],
            chaos: Chaos::calm(),
            seed: 14,
            traffic: 150,
            containers: 2,
            env: Vec::new(),
        }
    }
}

/// Who changed `desiredCount`, when, from what to what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredChange {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub from: i64,
    pub to: i64,
}

/// One invocation.
#[derive(Debug, Clone)]
pub struct InvocationFact {
    pub target: Target,
    pub failed: bool,
    pub elapsed: StdDuration,
}

/// One message Slack showed.
#[derive(Debug, Clone)]
pub struct SlackPost {
    pub at: DateTime<Utc>,
    pub about: String,
    pub text: String,
}

/// One message published to `alerts`.
#[derive(Debug, Clone)]
pub struct AlertMessage {
    pub about: String,
}

/// An event that gave up (Lambda's on-failure destination, or an SQS DLQ).
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub about: String,
}

/// Everything the scenarios assert on.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub desired_changes: Vec<DesiredChange>,
    pub forced_deployments: Vec<(DateTime<Utc>, String)>,
    /// RunTask by anyone but ECS (replacements of standalone tasks).
    pub started_tasks: Vec<(DateTime<Utc>, String)>,
    pub invocations: Vec<InvocationFact>,
    pub slack: Vec<SlackPost>,
    /// Slack answers other than 200.
    pub slack_failures: u32,
    pub alerts: Vec<AlertMessage>,
    pub dead_letters: Vec<DeadLetter>,
    /// Events no rule of the template routes to a simulated function.
    pub unrouted: Vec<(DateTime<Utc>, String)>,
    /// ECS deployment events: (time, name, reason).
    pub deployment_events: Vec<(DateTime<Utc>, String, String)>,
    pub alarm_changes: Vec<(DateTime<Utc>, String, &'static str)>,
}

/// One invariant's verdict.
#[derive(Debug, Clone)]
pub struct Check {
    pub invariant: String,
    pub ok: bool,
    pub detail: String,
}

/// What a scenario produced.
#[derive(Debug, Clone)]
pub struct Report {
    pub name: &'static str,
    pub checks: Vec<Check>,
    pub figures: Vec<(String, String)>,
    pub lines: Vec<String>,
    pub real: StdDuration,
    /// The scenario could not run (the world or a model failed).
    pub error: Option<String>,
}

/// One simulated world.
pub struct Sim {
    pub name: &'static str,
    pub t0: DateTime<Utc>,
    pub now: DateTime<Utc>,
    pub world: World,
    pub sink: SlackSink,
    wire: Wire,
    pub stack: Stack,
    pub wiring: Wiring,
    pub ecs: Ecs,
    pub alb: Alb,
    pub traffic: Traffic,
    metrics: MetricStore,
    alarms: Alarms,
    pub oncall: Oncall,
    pub chaos: Chaos,
    rng: SimRng,
    queue: BTreeMap<(DateTime<Utc>, u64), Job>,
    seq: u64,
    recovery: Vec<TaskRecovery>,
    scaler: Vec<RequestScaler>,
    notifier: Vec<AlarmNotifier>,
    settings: BTreeMap<Target, LambdaSettings>,
    /// Functions whose configuration does not load: every invocation fails at init.
    pub broken: BTreeMap<Target, String>,
    /// Queue logical ids → (URL, ARN), for the template's queues.
    queues: BTreeMap<String, (String, String)>,
    sqs_sources: Vec<(Target, SqsSource)>,
    schedules: Vec<(Target, Duration, DateTime<Utc>)>,
    /// Dead letters per queue logical id (the template's DLQs).
    dlq_depth: BTreeMap<String, u32>,
    /// The on-failure destination (queue logical id) of each function.
    on_failure: BTreeMap<Target, String>,
    next_minute: DateTime<Utc>,
    /// A stack update whose deployment CloudFormation waits for: (deployment id, parameters before).
    rollout: Option<(String, BTreeMap<String, String>)>,
    pending_rollback: Option<BTreeMap<String, String>>,
    pub facts: Facts,
    checks: Vec<Check>,
    figures: Vec<(String, String)>,
    lines: Vec<String>,
    /// Quiet request-scaler runs (no action, no Notice) not narrated yet, by decision.
    held: BTreeMap<String, u32>,
    started: std::time::Instant,
}

fn seed_err(e: impl std::fmt::Display) -> SimError {
    SimError::Emulator(e.to_string())
}

/// The identity of a message published to `alerts`: what it is about, the same for two copies
/// of the same news (two containers publishing the same Notice, SNS delivering twice).
pub fn identity(message: &SnsMessage) -> String {
    let body: Value = serde_json::from_str(&message.message).unwrap_or(Value::Null);
    if let (Some(alarm), Some(state)) = (body["AlarmName"].as_str(), body["NewStateValue"].as_str())
    {
        return format!(
            "alarm:{alarm}:{state}:{}",
            body["StateChangeTime"].as_str().unwrap_or_default()
        );
    }
    if let Some(title) = body["title"].as_str() {
        return format!(
            "notice:{}:{}:{title}",
            body["source"].as_str().unwrap_or_default(),
            body["event_id"].as_str().unwrap_or_default()
        );
    }
    format!(
        "text:{}",
        message
            .subject
            .clone()
            .unwrap_or_else(|| message.message.chars().take(60).collect())
    )
}

/// An error with its sources (`SdkError`'s Display says only "service error").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

fn short(text: &str, max: usize) -> String {
    phoenix_core::text::truncate_chars(text, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sns(message: &str, subject: Option<&str>) -> SnsMessage {
        SnsMessage {
            message_id: "m".into(),
            topic_arn: "arn:aws:sns:eu-west-1:1:alerts".into(),
            subject: subject.map(str::to_owned),
            message: message.into(),
            timestamp: String::new(),
            attributes: BTreeMap::new(),
        }
    }

    #[test]
    fn two_copies_of_the_same_news_share_an_identity() {
        let alarm = r#"{"AlarmName":"cpu","NewStateValue":"ALARM","StateChangeTime":"2026-01-01T00:00:00.000+0000"}"#;
        assert_eq!(
            identity(&sns(alarm, None)),
            "alarm:cpu:ALARM:2026-01-01T00:00:00.000+0000"
        );
        let notice =
            r#"{"severity":"error","source":"task-recovery","title":"crashed","event_id":"e-1"}"#;
        let (a, b) = (sns(notice, Some("x")), sns(notice, Some("y")));
        assert_eq!(identity(&a), identity(&b));
        assert_eq!(identity(&a), "notice:task-recovery:e-1:crashed");
        assert_eq!(identity(&sns("plain", Some("Hello"))), "text:Hello");
    }

    #[test]
    fn error_chains_name_every_source() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("service error")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = Outer(std::io::Error::other("connection refused"));
        assert_eq!(error_chain(&e), "service error: connection refused");
    }
}
