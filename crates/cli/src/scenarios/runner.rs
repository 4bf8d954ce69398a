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

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration as StdDuration;

use ::alarm_notifier::AlarmNotifier;
use ::request_scaler::RequestScaler;
use ::task_recovery::TaskRecovery;
use chrono::{DateTime, Duration, DurationRound, Utc};
use phoenix_core::lambda::load_config;
use phoenix_core::{ActionStatus, Function, Outcome, SdkConfig, Vars};
use phoenix_testkit::emulator::Emulator;
use phoenix_testkit::sim::SimError;
use phoenix_testkit::sim::alarms::{AlarmState, Alarms, MetricStore, Transition};
use phoenix_testkit::sim::alb::{Alb, MinuteStats, Traffic};
use phoenix_testkit::sim::cloudformation::{ServiceChange, Stack};
use phoenix_testkit::sim::delivery::Chaos;
use phoenix_testkit::sim::ecs::{Ecs, EcsSettings, Image, image_tag};
use phoenix_testkit::sim::filter::event_matches;
use phoenix_testkit::sim::lambda::{self, Invoked, LambdaSettings};
use phoenix_testkit::sim::people::{Oncall, OncallMessage};
use phoenix_testkit::sim::resources::{self, QueueMessage, SnsMessage};
use phoenix_testkit::sim::rng::SimRng;
use phoenix_testkit::sim::template::{Resolver, Template, text};
use phoenix_testkit::sim::wire::{Call, Wire};
use phoenix_testkit::sim::wiring::{SqsSource, Wiring};
use phoenix_testkit::slack_sink::Reply;
use phoenix_testkit::world::{self, StopScenario, World, WorldSpec, metric_dimension};
use phoenix_testkit::{SlackSink, new_account};
use serde_json::{Value, json};

use crate::sandbox::slack_text;

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

impl Sim {
    /// Seeds a world in a new account of `emulator` and reads the template.
    pub async fn start(
        name: &'static str,
        emulator: &Emulator,
        setup: Setup,
    ) -> Result<Sim, SimError> {
        let started = std::time::Instant::now();
        let sink = SlackSink::start().await.map_err(seed_err)?;
        let wall = Utc::now() - Duration::hours(2);
        let t0 = wall.duration_trunc(Duration::minutes(1)).unwrap_or(wall);
        let mut spec = WorldSpec::new(&new_account(), &sink.url(), t0);
        spec.service_tasks = setup.service_tasks;
        spec.log_lines = 5;
        let world = World::seed(emulator, &spec).await.map_err(seed_err)?;
        // PHOENIX_SCENARIO_TEMPLATE: try a template change before it lands (default: the repository's).
        let template = match std::env::var("PHOENIX_SCENARIO_TEMPLATE") {
            Ok(path) if !path.trim().is_empty() => {
                Template::load(std::path::Path::new(path.trim()))?
            }
            _ => Template::from_repo()?,
        };

        // The template's queues, created under their logical ids.
        let mut queues = BTreeMap::new();
        for logical in template.resources_of_type("AWS::SQS::Queue") {
            queues.insert(
                logical.clone(),
                resources::create_queue(&world.sdk, &logical).await?,
            );
        }
        // …and its topics beyond alerts and oncall (e.g. a direct page topic for people).
        let mut topics = BTreeMap::new();
        for logical in template.resources_of_type("AWS::SNS::Topic") {
            if !matches!(logical.as_str(), "AlertsTopic" | "OncallTopic") {
                topics.insert(
                    logical.clone(),
                    resources::create_topic(&world.sdk, &logical).await?,
                );
            }
        }
        let resolver = resolver(&world, &template, &queues, &topics);
        let mut params: BTreeMap<String, String> = [
            ("SlackWebhookSecretArn", world.slack_secret_arn.clone()),
            ("OncallEmail", "oncall@example.com".to_owned()),
            ("StandaloneFamilies", world::WORKER_FAMILY.to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for (k, v) in &setup.params {
            params.insert((*k).to_owned(), v.clone());
        }
        params.retain(|k, _| template.has_parameter(k));
        let stack = Stack::new(template, resolver, params)?;
        let wiring = Wiring::read(&stack.scope()).map_err(SimError::Template)?;
        let alarms = Alarms::from_template(&stack.scope()).map_err(SimError::Template)?;
        let oncall = Oncall::from_wiring(&wiring);

        let wire = Wire::default();
        wire.set_now(t0);
        let (breaker, rollback) = stack.circuit_breaker()?;
        let settings = EcsSettings {
            circuit_breaker: breaker,
            rollback,
            ..EcsSettings::default()
        };
        let mut ecs = Ecs::adopt(
            &world,
            &wire.sdk_for(&world.sdk, "ecs"),
            settings,
            setup.seed.wrapping_add(1),
            WORLD_IMAGE,
            t0,
        );
        ecs.push_image(image_tag(WORLD_IMAGE), Image::Healthy);

        let mut metrics = MetricStore::default();
        for (namespace, metric) in [
            ("AWS/ECS", "CPUUtilization"),
            ("AWS/ApplicationELB", "RequestCount"),
            ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
            ("AWS/Lambda", "Errors"),
            ("AWS/Lambda", "Invocations"),
        ] {
            metrics.model(namespace, metric);
        }

        let mut traffic = Traffic::default();
        traffic.set(t0 - Duration::hours(1), setup.traffic);

        let mut sim = Sim {
            name,
            t0,
            now: t0,
            sink,
            wire,
            stack,
            wiring,
            ecs,
            alb: Alb::default(),
            traffic,
            metrics,
            alarms,
            oncall,
            chaos: setup.chaos.clone(),
            rng: SimRng::new(setup.seed),
            queue: BTreeMap::new(),
            seq: 0,
            recovery: Vec::new(),
            scaler: Vec::new(),
            notifier: Vec::new(),
            settings: BTreeMap::new(),
            broken: BTreeMap::new(),
            queues,
            sqs_sources: Vec::new(),
            schedules: Vec::new(),
            dlq_depth: BTreeMap::new(),
            on_failure: BTreeMap::new(),
            next_minute: t0 + Duration::minutes(1),
            rollout: None,
            pending_rollback: None,
            facts: Facts::default(),
            checks: Vec::new(),
            figures: Vec::new(),
            lines: Vec::new(),
            held: BTreeMap::new(),
            started,
            world,
        };
        // Lambda metrics exist only for the functions the scenarios run (backup does not run).
        let simulated: Vec<String> = Target::ALL
            .iter()
            .filter_map(|t| {
                sim.wiring
                    .function(t.name())
                    .map(|f| f.settings.logical_id.clone())
            })
            .collect();
        sim.alarms.skip(|def| {
            def.namespace == "AWS/Lambda"
                && def
                    .dimensions
                    .get("FunctionName")
                    .is_some_and(|f| !simulated.contains(f))
        });
        // The ten minutes before the start happened too: the ALB counted the same traffic.
        for back in (1..=10).rev() {
            let minute = t0 - Duration::minutes(back);
            sim.record_minute(minute, minute + Duration::minutes(1));
        }
        sim.wire_functions(setup.containers.max(1), &setup.env)
            .await?;
        sim.say(format!(
            "world: account {}, ECS {}/{} with {} task(s), {} req/min; {}: {} metric alarms, {} subscription(s) of people on oncall ({})",
            sim.world.account,
            world::CLUSTER,
            world::SERVICE,
            setup.service_tasks,
            setup.traffic,
            template_name(sim.stack.template()),
            sim.alarms.defs.len(),
            sim.oncall.subscribers(),
            sim.oncall.describe()
        ));
        if sim.stack.scope().param("AppImageTag") == Some("") {
            let change = sim.stack.create()?;
            sim.say(format!(
                "CloudFormation creates the stack with no image: task definition runs {}, service DesiredCount {}",
                change.image,
                change
                    .desired_count
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "unset (1)".into())
            ));
            sim.apply_stack_change(change, None, "cloudformation")
                .await?;
        }
        Ok(sim)
    }

    /// Builds each function's containers from the world's configuration plus the template's.
    async fn wire_functions(
        &mut self,
        containers: usize,
        overrides: &[(Target, &'static str, &'static str)],
    ) -> Result<(), SimError> {
        for target in Target::ALL {
            let Some(wiring) = self.wiring.function(target.name()).cloned() else {
                return Err(SimError::Template(format!(
                    "the template has no function with Binary {}",
                    target.name()
                )));
            };
            // The world's settings win (they name what the emulator holds), except where the
            // template names a queue the runner created for it: only those are wired to functions.
            let mut env = self.world.env();
            let created: BTreeSet<&String> = self
                .queues
                .values()
                .flat_map(|(url, arn)| [url, arn])
                .collect();
            for (k, v) in &wiring.environment {
                if created.contains(v) {
                    env.insert(k.clone(), v.clone());
                } else {
                    env.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            env.entry("STACK_NAME".into())
                .or_insert_with(|| STACK.to_owned());
            env.entry("LOG_LEVEL".into())
                .or_insert_with(|| "warn".to_owned());
            for (_, k, v) in overrides.iter().filter(|(t, _, _)| *t == target) {
                env.insert((*k).to_owned(), (*v).to_owned());
            }
            let ledger = env
                .entry("LEDGER_TABLE".into())
                .or_insert_with(|| "phoenix-ledger".to_owned())
                .clone();
            if resources::ensure_ledger(&self.world.sdk, &ledger).await? {
                self.say(format!("(the world had no ledger table: created {ledger})"));
            }
            let sdk = |i: usize| {
                self.wire
                    .sdk_for(&self.world.sdk, &format!("{}#{}", target.name(), i + 1))
            };
            let built = match target {
                Target::TaskRecovery => (0..containers)
                    .map(|i| build::<TaskRecovery>(&env, &sdk(i)))
                    .collect::<Result<Vec<_>, _>>()
                    .map(|c| self.recovery = c),
                Target::RequestScaler => (0..containers)
                    .map(|i| build::<RequestScaler>(&env, &sdk(i)))
                    .collect::<Result<Vec<_>, _>>()
                    .map(|c| self.scaler = c),
                Target::AlarmNotifier => (0..containers)
                    .map(|i| build::<AlarmNotifier>(&env, &sdk(i)))
                    .collect::<Result<Vec<_>, _>>()
                    .map(|c| self.notifier = c),
            };
            if let Err(e) = built {
                // Lambda runs the init of every new container and fails each invocation.
                let why = match e {
                    SimError::Scenario(why) => why,
                    other => other.to_string(),
                };
                self.say(format!("⚠ {why}: every invocation fails at init"));
                self.broken.insert(target, why);
            }
            for schedule in &wiring.schedules {
                if let Some(every) = schedule.every {
                    self.schedules.push((
                        target,
                        every,
                        self.t0 + Duration::seconds(SCHEDULE_OFFSET_SECONDS),
                    ));
                }
            }
            for source in &wiring.sqs_sources {
                if let Some((url, _)) = self.queues.get(&source.queue) {
                    self.wire.set_queue_delay(url, source.delay.num_seconds());
                }
                self.sqs_sources.push((target, source.clone()));
            }
            let scope = self.stack.scope();
            let destination = scope
                .property(&wiring.settings.logical_id, "EventInvokeConfig")
                .ok()
                .flatten()
                .and_then(|c| {
                    c.pointer("/DestinationConfig/OnFailure/Destination")
                        .map(text)
                })
                .or_else(|| {
                    scope
                        .property(&wiring.settings.logical_id, "DeadLetterQueue")
                        .ok()
                        .flatten()
                        .map(|d| text(&d["TargetArn"]))
                });
            if let Some(destination) = destination {
                let logical = destination
                    .rsplit(':')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                self.on_failure.insert(target, logical);
            }
            self.settings.insert(target, wiring.settings.clone());
        }
        Ok(())
    }

    // ───────────────────────────── narration, checks, figures

    /// One line of the timeline, at simulated time (since the start).
    pub fn say(&mut self, text: impl AsRef<str>) {
        let at = self.now;
        self.say_at(at, text.as_ref());
    }

    fn say_at(&mut self, at: DateTime<Utc>, text: &str) {
        let offset = (at - self.t0).num_seconds().max(0);
        let stamp = format!(
            "+{:02}:{:02}:{:02}",
            offset / 3600,
            offset / 60 % 60,
            offset % 60
        );
        let mut first = true;
        for line in text.lines() {
            if first {
                self.lines.push(format!("  {stamp}  {line}"));
                first = false;
            } else {
                self.lines.push(format!("             {line}"));
            }
        }
    }

    fn flush_holds(&mut self) {
        if !self.held.is_empty() {
            let held = std::mem::take(&mut self.held);
            let runs: Vec<String> = held
                .iter()
                .map(|(decision, n)| format!("{decision} ×{n}"))
                .collect();
            let at = self.now;
            self.say_at(
                at,
                &format!(
                    "· request-scaler, each minute: {} (no action, not shown)",
                    runs.join(", ")
                ),
            );
        }
    }

    /// A section header.
    pub fn act(&mut self, title: &str) {
        self.flush_holds();
        self.lines.push(format!("  ── {title}"));
    }

    /// Records one invariant.
    pub fn check(&mut self, invariant: &str, ok: bool, detail: impl Into<String>) {
        self.flush_holds();
        let detail = detail.into();
        self.say(format!(
            "{} {invariant}{}",
            if ok { "✅" } else { "❌" },
            if detail.is_empty() {
                String::new()
            } else {
                format!(" — {detail}")
            }
        ));
        self.checks.push(Check {
            invariant: invariant.to_owned(),
            ok,
            detail,
        });
    }

    /// Records one figure for the summary.
    pub fn figure(&mut self, name: &str, value: impl Into<String>) {
        self.figures.push((name.to_owned(), value.into()));
    }

    /// Closes the scenario.
    pub fn finish(mut self) -> Report {
        self.flush_holds();
        let pages = self.oncall.pages.len();
        let slack = self.facts.slack.len();
        let actions: Vec<String> = {
            let mut counts: BTreeMap<String, u32> = BTreeMap::new();
            for change in &self.facts.desired_changes {
                *counts
                    .entry(format!("desiredCount by {}", change.actor))
                    .or_default() += 1;
            }
            for (_, actor) in &self.facts.forced_deployments {
                *counts
                    .entry(format!("forced deployment by {actor}"))
                    .or_default() += 1;
            }
            for (_, actor) in &self.facts.started_tasks {
                *counts.entry(format!("RunTask by {actor}")).or_default() += 1;
            }
            counts
                .into_iter()
                .map(|(k, v)| format!("{v}× {k}"))
                .collect()
        };
        let mut figures = vec![
            ("pages".to_owned(), pages.to_string()),
            ("Slack messages".to_owned(), slack.to_string()),
            (
                "actions".to_owned(),
                if actions.is_empty() {
                    "none".to_owned()
                } else {
                    actions.join(", ")
                },
            ),
            ("ECS launches".to_owned(), self.ecs.launches.to_string()),
            (
                "invocations".to_owned(),
                format!(
                    "{} ({} failed, {} dead-lettered)",
                    self.facts.invocations.len(),
                    self.facts.invocations.iter().filter(|i| i.failed).count(),
                    self.facts.dead_letters.len()
                ),
            ),
        ];
        figures.append(&mut self.figures);
        if !self.alarms.not_modelled.is_empty() {
            figures.push((
                "alarms not modelled".to_owned(),
                self.alarms.not_modelled.join(", "),
            ));
        }
        let simulated = self.now - self.t0;
        figures.push((
            "simulated".to_owned(),
            phoenix_core::text::human_duration(simulated),
        ));
        Report {
            name: self.name,
            checks: self.checks,
            figures,
            lines: self.lines,
            real: self.started.elapsed(),
            error: None,
        }
    }

    // ───────────────────────────── time

    /// `minutes` after the start.
    pub fn at(&self, minutes: i64) -> DateTime<Utc> {
        self.t0 + Duration::minutes(minutes)
    }

    /// Runs the world until `until` (simulated).
    pub async fn run_until(&mut self, until: DateTime<Utc>) -> Result<(), SimError> {
        let mut guard = 0u32;
        loop {
            guard += 1;
            if guard > 200_000 {
                return Err(SimError::Scenario("the event loop does not settle".into()));
            }
            let job_at = self.queue.keys().next().map(|(t, _)| *t);
            let ecs_at = self.ecs.next_due();
            let schedule_at = self.schedules.iter().map(|(_, _, t)| *t).min();
            let next = [job_at, ecs_at, Some(self.next_minute), schedule_at]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = next.filter(|t| *t <= until) else {
                break;
            };
            self.now = self.now.max(next);
            if ecs_at.is_some_and(|t| t <= next) {
                self.advance_ecs().await?;
                if self.ecs.next_due().is_some_and(|t| t <= self.now)
                    && ecs_at == self.ecs.next_due()
                {
                    return Err(SimError::Scenario(
                        "the ECS model is stuck on one instant".into(),
                    ));
                }
            } else if self.next_minute <= next {
                self.close_minute().await?;
            } else if schedule_at.is_some_and(|t| t <= next) {
                self.fire_schedules().await?;
            } else if let Some(key) = self.queue.keys().next().copied()
                && let Some(job) = self.queue.remove(&key)
            {
                self.run_job(job).await?;
            }
            if let Some(previous) = self.pending_rollback.take() {
                self.rollback_stack(previous).await?;
            }
        }
        self.now = self.now.max(until);
        self.advance_ecs().await
    }

    fn enqueue(&mut self, at: DateTime<Utc>, job: Job) {
        self.seq += 1;
        self.queue.insert((at, self.seq), job);
    }

    /// Delivers one event to a function as EventBridge/SNS would: at least once (see [`Chaos`]);
    /// a second copy goes to another container.
    fn deliver(&mut self, target: Target, payload: Value, about: &str) {
        let copies = self.chaos.plan(&mut self.rng, self.now);
        let containers = self.containers(target);
        let first = usize::try_from(self.rng.below(containers as u64)).unwrap_or(0);
        for (i, at) in copies.into_iter().enumerate() {
            let job = Job {
                target,
                payload: payload.clone(),
                source: Source::Async {
                    attempt: 1,
                    first_at: at,
                },
                container: (first + i) % containers,
                about: about.to_owned(),
            };
            self.enqueue(at, job);
        }
    }

    fn containers(&self, target: Target) -> usize {
        match target {
            Target::TaskRecovery => self.recovery.len(),
            Target::RequestScaler => self.scaler.len(),
            Target::AlarmNotifier => self.notifier.len(),
        }
        .max(1)
    }

    // ───────────────────────────── ECS, minutes, schedules

    async fn advance_ecs(&mut self) -> Result<(), SimError> {
        self.wire.set_now(self.now);
        self.ecs.advance(self.now).await?;
        self.ecs_outputs().await
    }

    /// Narrates what ECS did, publishes its view, routes its events.
    async fn ecs_outputs(&mut self) -> Result<(), SimError> {
        for (at, line) in self.ecs.take_log() {
            self.say_at(at, &format!("ECS: {line}"));
        }
        self.wire.set_service_view(world::SERVICE, self.ecs.view());
        for event in self.ecs.take_events() {
            if event["detail-type"] == "ECS Deployment State Change" {
                let name = event["detail"]["eventName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let id = event["detail"]["deploymentId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let reason = event["detail"]["reason"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                self.facts
                    .deployment_events
                    .push((self.now, name.clone(), reason));
                if let Some((watched, previous)) = self.rollout.clone()
                    && watched == id
                {
                    if name == "SERVICE_DEPLOYMENT_FAILED" {
                        self.rollout = None;
                        self.pending_rollback = Some(previous);
                    } else if name == "SERVICE_DEPLOYMENT_COMPLETED" {
                        self.rollout = None;
                        self.say("CloudFormation: the service is stable — UPDATE_COMPLETE");
                    }
                }
            }
            self.route_event(event);
        }
        // The model's own calls (RunTask/StopTask by "ecs") need nothing more.
        let calls = self.wire.take_calls();
        self.handle_calls(calls, "ecs").await
    }

    /// Sends an EventBridge event to every simulated function whose rule matches it.
    fn route_event(&mut self, event: Value) {
        let kind = event["detail-type"].as_str().unwrap_or("event").to_owned();
        let about = match kind.as_str() {
            "ECS Task State Change" => format!(
                "{} task {} {}",
                kind,
                world::task_id(event["detail"]["taskArn"].as_str().unwrap_or_default())
                    .chars()
                    .take(8)
                    .collect::<String>(),
                event["detail"]["stopCode"].as_str().unwrap_or_default()
            ),
            "ECS Deployment State Change" => format!(
                "{kind} {}",
                event["detail"]["eventName"].as_str().unwrap_or_default()
            ),
            _ => kind.clone(),
        };
        let mut routed = false;
        for target in Target::ALL {
            let matches = self.wiring.function(target.name()).is_some_and(|f| {
                f.exists && f.event_patterns.iter().any(|p| event_matches(p, &event))
            });
            if matches {
                routed = true;
                self.deliver(target, event.clone(), &about);
            }
        }
        if !routed {
            self.facts.unrouted.push((self.now, about.clone()));
            if kind != "ECS Task State Change" {
                self.say(format!(
                    "EventBridge: no rule of the template takes \"{about}\" (dropped)"
                ));
            }
        }
    }

    async fn close_minute(&mut self) -> Result<(), SimError> {
        let closing = self.next_minute;
        self.wire.set_now(closing);
        self.ecs.advance(closing.max(self.now)).await?;
        self.ecs_outputs().await?;
        self.record_minute(closing - Duration::minutes(1), closing);
        self.next_minute = closing + Duration::minutes(1);
        let changes = self.alarms.evaluate(&self.metrics, self.now.max(closing));
        for change in changes {
            self.alarm_changed(change).await?;
        }
        Ok(())
    }

    /// The ALB's and the service's datapoints of one minute (closed at `closing`).
    fn record_minute(&mut self, minute: DateTime<Utc>, closing: DateTime<Utc>) {
        let stats = self.alb.close_minute(
            minute,
            self.traffic.at(minute),
            self.ecs.serving_over(minute, closing),
            self.ecs.registered(),
        );
        let lb = metric_dimension(&self.world.load_balancer_arn);
        let tg = metric_dimension(&self.world.target_group_arn);
        if stats.request_count > 0 {
            let count = stats.request_count as f64;
            self.metrics.put(
                "AWS/ApplicationELB",
                "RequestCount",
                &[("LoadBalancer", &lb)],
                minute,
                count,
            );
            self.metrics.put(
                "AWS/ApplicationELB",
                "RequestCount",
                &[("LoadBalancer", &lb), ("TargetGroup", &tg)],
                minute,
                count,
            );
        }
        if let Some(cpu) = stats.cpu {
            self.metrics.put(
                "AWS/ECS",
                "CPUUtilization",
                &[
                    ("ClusterName", world::CLUSTER),
                    ("ServiceName", world::SERVICE),
                ],
                minute,
                cpu,
            );
        }
        let depths: Vec<(String, u32)> = self
            .queues
            .keys()
            .map(|q| (q.clone(), self.dlq_depth.get(q).copied().unwrap_or(0)))
            .collect();
        for (queue, depth) in depths {
            self.metrics.put(
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                &[("QueueName", &queue)],
                minute,
                f64::from(depth),
            );
        }
    }

    /// A CloudWatch alarm changed state: its actions publish, and EventBridge hears of it.
    async fn alarm_changed(&mut self, change: Transition) -> Result<(), SimError> {
        let name = change.alarm.name.clone();
        self.facts
            .alarm_changes
            .push((self.now, name.clone(), change.to.name()));
        self.say(format!(
            "CloudWatch: alarm {name} {} → {} ({})",
            change.from.name(),
            change.to.name(),
            short(&change.reason, 110)
        ));
        let actions = if change.to == AlarmState::Alarm {
            change.alarm.alarm_actions.clone()
        } else {
            change.alarm.ok_actions.clone()
        };
        let sns = aws_sdk_sns::Client::new(&self.wire.sdk_for(&self.world.sdk, "cloudwatch"));
        self.wire.set_now(self.now);
        for topic in actions {
            let published = sns
                .publish()
                .topic_arn(&topic)
                .subject(change.subject())
                .message(change.sns_message(&self.world.account, &self.world.region))
                .send()
                .await;
            if let Err(e) = published {
                self.say(format!(
                    "✗ CloudWatch could not publish to {topic}: {}",
                    error_chain(&e)
                ));
            }
        }
        let event = change.event(&self.rng.uuid(), &self.world.account, &self.world.region);
        self.route_event(event);
        let calls = self.wire.take_calls();
        let about = format!(
            "direct:alarm:{name}:{}:{}",
            change.to.name(),
            change.at.format("%Y-%m-%dT%H:%M:%S%.3f+0000")
        );
        self.handle_calls(calls, &about).await
    }

    async fn fire_schedules(&mut self) -> Result<(), SimError> {
        let due: Vec<usize> = (0..self.schedules.len())
            .filter(|i| self.schedules[*i].2 <= self.now)
            .collect();
        for i in due {
            let (target, every, at) = self.schedules[i];
            self.schedules[i].2 = at + every;
            let mut event =
                phoenix_testkit::fixtures::try_fixture("scheduled-event.json").map_err(seed_err)?;
            event["id"] = self.rng.uuid().into();
            event["account"] = self.world.account.clone().into();
            event["region"] = self.world.region.clone().into();
            event["time"] = at.format("%Y-%m-%dT%H:%M:%SZ").to_string().into();
            event["resources"] = json!([format!(
                "arn:aws:events:{}:{}:rule/{STACK}-{}-schedule",
                self.world.region,
                self.world.account,
                target.name()
            )]);
            let offset = (at - self.t0).num_seconds().max(0);
            let about = format!("schedule +{:02}:{:02}", offset / 3600, offset / 60 % 60);
            self.deliver(target, event, &about);
        }
        Ok(())
    }

    // ───────────────────────────── invocations

    async fn run_job(&mut self, job: Job) -> Result<(), SimError> {
        self.wire.set_now(self.now);
        self.ecs.advance(self.now).await?;
        self.ecs_outputs().await?;
        if job.target == Target::RequestScaler {
            for (minute, count) in self.alb.due_datapoints(self.now) {
                self.world
                    .put_requests(minute, &[count])
                    .await
                    .map_err(seed_err)?;
            }
            self.wire.take_calls();
        }
        let Some(settings) = self.settings.get(&job.target).cloned() else {
            return Ok(());
        };
        let payload = match &job.source {
            Source::Sqs {
                message,
                queue_arn,
                receive_count,
                ..
            } => {
                json!({"Records": [message.lambda_record(queue_arn, &self.world.region, *receive_count)]})
            }
            Source::Async { .. } => job.payload.clone(),
        };
        let request_id = self.rng.uuid();
        let slack_before = self.sink.received().len();
        let at = self.now;
        self.wire.set_now(at);
        let container = job.container % self.containers(job.target);
        let invoked = if let Some(error) = self.broken.get(&job.target) {
            Invoked {
                result: Err(format!("Runtime.InitError: {error}")),
                elapsed: StdDuration::ZERO,
                timed_out: false,
                lines: Vec::new(),
            }
        } else {
            match job.target {
                Target::TaskRecovery => {
                    lambda::invoke(
                        &self.recovery[container],
                        &settings,
                        payload,
                        at,
                        &request_id,
                        STACK,
                    )
                    .await
                }
                Target::RequestScaler => {
                    lambda::invoke(
                        &self.scaler[container],
                        &settings,
                        payload,
                        at,
                        &request_id,
                        STACK,
                    )
                    .await
                }
                Target::AlarmNotifier => {
                    lambda::invoke(
                        &self.notifier[container],
                        &settings,
                        payload,
                        at,
                        &request_id,
                        STACK,
                    )
                    .await
                }
            }
        };
        // The handler's real time is simulated time too (whole seconds; the world stood still).
        let spent = i64::try_from(invoked.elapsed.as_secs()).unwrap_or(0);
        self.now += Duration::seconds(spent);
        self.record_invocation(&job, container, at, &invoked, &settings);
        if job.target == Target::AlarmNotifier {
            self.record_slack(slack_before, &job.about, at);
        }
        let calls = self.wire.take_calls();
        self.handle_calls(calls, &job.about).await?;
        self.ecs.advance(self.now).await?;
        self.ecs_outputs().await?;
        if invoked.failed() {
            self.retry(job, &settings, &invoked);
        }
        Ok(())
    }

    fn record_invocation(
        &mut self,
        job: &Job,
        container: usize,
        at: DateTime<Utc>,
        invoked: &Invoked,
        settings: &LambdaSettings,
    ) {
        for line in invoked.lines.iter().skip(1) {
            self.metrics.put_emf(line, at);
        }
        let function = settings.logical_id.clone();
        self.metrics.put(
            "AWS/Lambda",
            "Invocations",
            &[("FunctionName", &function)],
            at,
            1.0,
        );
        self.metrics.put(
            "AWS/Lambda",
            "Errors",
            &[("FunctionName", &function)],
            at,
            if invoked.failed() { 1.0 } else { 0.0 },
        );
        let name = job.target.name();
        let who = format!("{name}#{}", container + 1);
        let attempt = match &job.source {
            Source::Async { attempt, .. } if *attempt > 1 => format!(" (retry {})", attempt - 1),
            Source::Sqs { receive_count, .. } if *receive_count > 1 => {
                format!(" (receive {receive_count})")
            }
            Source::Sqs { .. } => " (SQS)".to_owned(),
            _ => String::new(),
        };
        let took = if invoked.elapsed >= StdDuration::from_secs(1) {
            format!(" [ran {:.1} s]", invoked.elapsed.as_secs_f64())
        } else {
            String::new()
        };
        let decision = match &invoked.result {
            Ok(outcome) => outcome
                .decision
                .clone()
                .or_else(|| outcome.ignored.as_ref().map(|_| "ignored".to_owned()))
                .or_else(|| outcome.rejected.as_ref().map(|_| "rejected".to_owned()))
                .unwrap_or_default(),
            Err(_) if invoked.timed_out => "timed-out".to_owned(),
            Err(_) => "failed".to_owned(),
        };
        self.facts.invocations.push(InvocationFact {
            target: job.target,
            failed: invoked.failed(),
            elapsed: invoked.elapsed,
        });
        match &invoked.result {
            Ok(outcome) => {
                let quiet = job.target == Target::RequestScaler
                    && outcome.ignored.is_none()
                    && outcome.actions.is_empty()
                    && outcome.notice.is_none();
                if quiet {
                    *self.held.entry(decision).or_default() += 1;
                    return;
                }
                self.narrate_outcome(&who, &attempt, &took, &job.about, outcome);
            }
            Err(error) => self.say(format!(
                "✗ {who}{attempt} failed on {}{took}: {}",
                job.about,
                short(error, 220)
            )),
        }
    }

    fn narrate_outcome(
        &mut self,
        who: &str,
        attempt: &str,
        took: &str,
        about: &str,
        outcome: &Outcome,
    ) {
        if who.starts_with(RequestScaler::NAME) {
            self.flush_holds();
        }
        if let Some(why) = &outcome.ignored {
            self.say(format!(
                "· {who}{attempt} ignored {about}: {}",
                short(why, 160)
            ));
            return;
        }
        if let Some(why) = &outcome.rejected {
            self.say(format!(
                "✗ {who}{attempt} rejected {about}: {}",
                short(why, 160)
            ));
            return;
        }
        let mut text = format!(
            "⚙ {who}{attempt} on {about}: {}{took} — {}",
            outcome.decision.as_deref().unwrap_or("-"),
            short(outcome.reason.as_deref().unwrap_or("-"), 260)
        );
        for action in &outcome.actions {
            let mark = match action.status {
                ActionStatus::Done => "✔",
                ActionStatus::DryRun => "◌",
                ActionStatus::Skipped => "·",
                ActionStatus::Failed => "✗",
            };
            text.push_str(&format!(
                "\n  {mark} {} {}{}",
                action.call,
                short(&action.target, 60),
                action
                    .detail
                    .as_deref()
                    .map(|d| format!(" — {}", short(d, 140)))
                    .unwrap_or_default()
            ));
        }
        if let Some(notice) = &outcome.notice {
            text.push_str(&format!(
                "\n  ✉ Notice ({}) to alerts: {}",
                notice.severity.as_str(),
                short(&notice.title, 120)
            ));
        }
        self.say(text);
    }

    fn record_slack(&mut self, before: usize, about: &str, at: DateTime<Utc>) {
        let received = self.sink.received();
        for message in received.into_iter().skip(before) {
            if message.answered != 200 {
                self.facts.slack_failures += 1;
                continue;
            }
            let text = slack_text(&message.json());
            let mut shown = String::from("┌─ Slack");
            for line in text.lines().take(8) {
                shown.push_str(&format!("\n│ {}", short(line, 150)));
            }
            if text.lines().count() > 8 {
                shown.push_str("\n│ …");
            }
            shown.push_str("\n└─");
            self.say_at(self.now, &shown);
            self.facts.slack.push(SlackPost {
                at,
                about: about.to_owned(),
                text,
            });
        }
    }

    /// Lambda's retry of a failed delivery, or the dead-letter queue.
    fn retry(&mut self, job: Job, settings: &LambdaSettings, invoked: &Invoked) {
        let error = invoked.result.as_ref().err().cloned().unwrap_or_default();
        match job.source.clone() {
            Source::Async { attempt, first_at } => {
                match settings.retry_at(attempt, first_at, self.now) {
                    Some(at) => {
                        let container =
                            usize::try_from(self.rng.below(self.containers(job.target) as u64))
                                .unwrap_or(0);
                        self.say(format!(
                            "Lambda: {} will retry \"{}\" at +{} s, in container #{}",
                            job.target.name(),
                            short(&job.about, 80),
                            (at - self.now).num_seconds(),
                            container + 1
                        ));
                        self.enqueue(
                            at,
                            Job {
                                source: Source::Async {
                                    attempt: attempt + 1,
                                    first_at,
                                },
                                container,
                                ..job
                            },
                        );
                    }
                    None => self.dead_letter(
                        job.target,
                        &job.about,
                        &error,
                        "Lambda's on-failure destination",
                    ),
                }
            }
            Source::Sqs {
                source,
                queue_arn,
                message,
                receive_count,
            } => {
                if source
                    .max_receive_count
                    .is_some_and(|max| receive_count >= max)
                {
                    let queue = source.queue.clone();
                    self.dead_letter(
                        job.target,
                        &job.about,
                        &error,
                        &format!("{queue}'s dead-letter queue"),
                    );
                    return;
                }
                let at = self.now + source.visibility_timeout;
                self.say(format!(
                    "SQS: the message reappears after the visibility timeout ({} s)",
                    source.visibility_timeout.num_seconds()
                ));
                self.enqueue(
                    at,
                    Job {
                        source: Source::Sqs {
                            source,
                            queue_arn,
                            message,
                            receive_count: receive_count + 1,
                        },
                        ..job
                    },
                );
            }
        }
    }

    fn dead_letter(&mut self, target: Target, about: &str, error: &str, place: &str) {
        self.say(format!(
            "Lambda: {} gave up on \"{}\" ({}): parked in {place}",
            target.name(),
            short(about, 90),
            short(error, 120)
        ));
        if let Some(queue) = self.on_failure.get(&target).cloned() {
            *self.dlq_depth.entry(queue).or_default() += 1;
        }
        self.facts.dead_letters.push(DeadLetter {
            about: about.to_owned(),
        });
    }

    /// What the calls of an actor did to the world: desired counts and deployments (ECS model),
    /// pages (people), messages to `alerts` (the notifier's deliveries), messages to SQS queues
    /// a function reads.
    async fn handle_calls(&mut self, calls: Vec<Call>, about: &str) -> Result<(), SimError> {
        let mut alerts = false;
        let mut queues: BTreeSet<String> = BTreeSet::new();
        for call in calls.into_iter().filter(Call::ok) {
            match (call.service.as_str(), call.operation.as_str()) {
                ("ecs", "UpdateService") if call.actor != "ecs" => self.apply_update_service(&call),
                ("ecs", "RunTask") if call.actor != "ecs" => {
                    self.facts.started_tasks.push((call.at, call.actor.clone()));
                }
                ("sns", "Publish") => {
                    let topic = call.field("TopicArn").unwrap_or_default();
                    if topic == self.world.alerts_topic_arn {
                        alerts = true;
                    } else if topic == self.world.oncall_topic_arn || self.oncall.listens_to(topic)
                    {
                        self.page(&call, about);
                    }
                }
                ("sqs", "SendMessage" | "SendMessageBatch") => {
                    if let Some(url) = call.field("QueueUrl") {
                        queues.insert(url.to_owned());
                    }
                }
                _ => {}
            }
        }
        if alerts {
            self.deliver_alerts().await?;
        }
        for url in queues {
            self.deliver_queue(&url).await?;
        }
        Ok(())
    }

    fn apply_update_service(&mut self, call: &Call) {
        let at = self.now;
        let request = &call.request;
        if let Some(to) = request["desiredCount"].as_i64() {
            let from = self.ecs.desired;
            if from != to {
                self.facts.desired_changes.push(DesiredChange {
                    at,
                    actor: call.actor.clone(),
                    from,
                    to,
                });
            }
            self.ecs.set_desired(at, to);
        }
        if let Some(definition) = request["taskDefinition"].as_str()
            && definition != self.ecs.task_definition()
        {
            self.ecs.deploy(
                at,
                definition,
                &format!("new task definition by {}", call.actor),
            );
        }
        if request["forceNewDeployment"].as_bool() == Some(true) {
            self.facts.forced_deployments.push((at, call.actor.clone()));
            self.ecs.force_new_deployment(at);
        }
    }

    fn page(&mut self, call: &Call, about: &str) {
        let message = OncallMessage {
            at: self.now,
            by: call.actor.clone(),
            topic: call.field("TopicArn").unwrap_or_default().to_owned(),
            subject: call.field("Subject").unwrap_or_default().to_owned(),
            attributes: call.sns_attributes(),
            body: call.field("Message").unwrap_or_default().to_owned(),
            about: about.to_owned(),
        };
        let severity = message
            .severity()
            .map(|s| format!("severity {s}"))
            .unwrap_or_else(|| "no severity attribute".into());
        let subject = message.subject.clone();
        let by = message.by.clone();
        if self.oncall.receive(message) {
            self.say(format!(
                "📟 PAGE ({severity}) from {by}: {}",
                short(&subject, 120)
            ));
        } else {
            self.say(format!(
                "· people's topic got \"{}\" ({severity}) from {by}: filtered out, nobody paged",
                short(&subject, 100)
            ));
        }
    }

    /// Reads what reached `alerts` and hands each message to its subscribers (the notifier).
    async fn deliver_alerts(&mut self) -> Result<(), SimError> {
        let messages = resources::drain(&self.world.sdk, &self.world.alerts_queue_url).await?;
        for message in messages {
            let Some(sns) = SnsMessage::from_envelope(&message.body) else {
                continue;
            };
            let about = identity(&sns);
            self.say(format!(
                "SNS: alerts ← \"{}\"",
                short(sns.subject.as_deref().unwrap_or("(no subject)"), 100)
            ));
            self.facts.alerts.push(AlertMessage {
                about: about.clone(),
            });
            let payload = json!({"Records": [sns.lambda_record()]});
            for target in Target::ALL {
                let subscribed = self.wiring.function(target.name()).is_some_and(|f| {
                    f.exists
                        && f.sns_topics.iter().any(|(topic, filter)| {
                            topic == &self.world.alerts_topic_arn
                                && filter
                                    .as_ref()
                                    .is_none_or(|f| f.accepts(&sns.attributes, &sns.message))
                        })
                });
                if subscribed {
                    self.deliver(target, payload.clone(), &about);
                }
            }
        }
        Ok(())
    }

    /// Reads a queue a function consumes; each message is delivered when due (simulated time).
    async fn deliver_queue(&mut self, url: &str) -> Result<(), SimError> {
        let found = self
            .queues
            .iter()
            .find(|(_, (u, _))| u == url)
            .map(|(l, q)| (l.clone(), q.clone()));
        let source = found.as_ref().and_then(|(logical, _)| {
            self.sqs_sources
                .iter()
                .find(|(_, s)| &s.queue == logical)
                .cloned()
        });
        let (Some((logical, (_, arn))), Some((target, source))) = (found, source) else {
            self.say(format!(
                "SQS: a message went to {url}, which no function of the template reads (it stays there)"
            ));
            return Ok(());
        };
        for message in resources::drain(&self.world.sdk, url).await? {
            let due = self.wire.due_time(&message.message_id).unwrap_or(self.now);
            self.say(format!(
                "SQS: {} holds a message for {} until +{} s",
                logical,
                target.name(),
                (due - self.now).num_seconds().max(0)
            ));
            let copies = self.chaos.plan(&mut self.rng, due.max(self.now));
            for (i, at) in copies.into_iter().enumerate() {
                let job = Job {
                    target,
                    payload: Value::Null,
                    source: Source::Sqs {
                        source: source.clone(),
                        queue_arn: arn.clone(),
                        message: Box::new(message.clone()),
                        receive_count: 1,
                    },
                    container: i % self.containers(target),
                    about: format!("SQS {logical} message"),
                };
                self.enqueue(at, job);
            }
        }
        Ok(())
    }

    // ───────────────────────────── what people and CloudFormation do

    async fn apply_stack_change(
        &mut self,
        change: ServiceChange,
        previous: Option<BTreeMap<String, String>>,
        actor: &str,
    ) -> Result<(), SimError> {
        self.apply_stack_change_with(change, previous, actor, false)
            .await
    }

    /// `rollback`: CloudFormation returns to the previous task definition resource rather than
    /// registering a new revision.
    async fn apply_stack_change_with(
        &mut self,
        change: ServiceChange,
        previous: Option<BTreeMap<String, String>>,
        actor: &str,
        rollback: bool,
    ) -> Result<(), SimError> {
        if !change.touches_service {
            self.say("CloudFormation: the update does not touch the service");
            return Ok(());
        }
        self.ecs.advance(self.now).await?;
        let reused = if rollback {
            self.ecs.definition_with_tag(image_tag(&change.image))
        } else {
            None
        };
        let definition = match reused {
            Some(definition) => definition,
            None if change.new_task_definition => self.ecs.register_revision(&change.image).await?,
            None => self.ecs.task_definition(),
        };
        self.say(format!(
            "CloudFormation: UpdateService(taskDefinition {}{})",
            definition.rsplit('/').next().unwrap_or_default(),
            match change.desired_count {
                Some(n) => format!(", desiredCount {n} — the template sets DesiredCount"),
                None => ", desiredCount omitted — the template leaves it to the scaler".to_owned(),
            }
        ));
        let ecs = aws_sdk_ecs::Client::new(&self.wire.sdk_for(&self.world.sdk, actor));
        self.wire.set_now(self.now);
        ecs.update_service()
            .cluster(world::CLUSTER)
            .service(world::SERVICE)
            .task_definition(&definition)
            .set_desired_count(change.desired_count.and_then(|n| i32::try_from(n).ok()))
            .send()
            .await
            .map_err(|e| SimError::Emulator(format!("ecs:UpdateService: {}", error_chain(&e))))?;
        let calls = self.wire.take_calls();
        self.handle_calls(calls, actor).await?;
        self.ecs.advance(self.now).await?;
        if change.new_task_definition
            && let Some(previous) = previous
            && let Some(id) = self
                .ecs
                .view()
                .deployments
                .first()
                .and_then(|d| d["id"].as_str())
                .map(str::to_owned)
        {
            self.rollout = Some((id, previous));
        }
        self.ecs_outputs().await
    }

    async fn rollback_stack(&mut self, previous: BTreeMap<String, String>) -> Result<(), SimError> {
        let changes: Vec<(String, String)> = previous
            .iter()
            .filter(|(k, v)| self.stack.params().get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        self.say(format!(
            "CloudFormation: the service did not stabilize — UPDATE_ROLLBACK to {}",
            changes
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let pairs: Vec<(&str, &str)> = changes
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let change = self.stack.update(&pairs)?;
        self.apply_stack_change_with(change, None, "cloudformation", true)
            .await
    }

    /// `scripts/push-app.sh`: pushes an image to ECR and updates the stack's `AppImageTag`; after
    /// the first image it unparks a service still at 0 (sets `MinTasks`).
    pub async fn push_app(&mut self, tag: &str, image: Image) -> Result<(), SimError> {
        self.advance_ecs().await?;
        self.ecs.push_image(tag, image);
        self.say(format!(
            "person: scripts/push-app.sh pushes phoenix:{tag} to ECR and updates the stack (AppImageTag={tag})"
        ));
        let previous = self.stack.params().clone();
        let change = self.stack.update(&[("AppImageTag", tag)])?;
        self.apply_stack_change(change, Some(previous), "cloudformation")
            .await?;
        if self.ecs.desired == 0 {
            let min = self
                .stack
                .scope()
                .param("MinTasks")
                .and_then(|m| m.parse().ok())
                .unwrap_or(1);
            self.say(format!(
                "person: push-app.sh finds the service parked at 0 after its first image: unparks it (desiredCount {min} = MinTasks)"
            ));
            self.person_sets_desired(min).await?;
        }
        Ok(())
    }

    /// A person sets the service's desired count (UpdateService in the console).
    pub async fn person_sets_desired(&mut self, desired: i32) -> Result<(), SimError> {
        self.advance_ecs().await?;
        let ecs = aws_sdk_ecs::Client::new(&self.wire.sdk_for(&self.world.sdk, "person"));
        self.wire.set_now(self.now);
        ecs.update_service()
            .cluster(world::CLUSTER)
            .service(world::SERVICE)
            .desired_count(desired)
            .send()
            .await
            .map_err(|e| SimError::Emulator(format!("ecs:UpdateService: {}", error_chain(&e))))?;
        let calls = self.wire.take_calls();
        self.handle_calls(calls, "person").await?;
        self.advance_ecs().await
    }

    /// `GET /crash`: a serving task's process exits 1 now.
    pub async fn crash_a_task(&mut self) -> Result<String, SimError> {
        self.advance_ecs().await?;
        let lines: Vec<String> = [
            "GET /api/items 200 4ms",
            "GET /crash",
            "Error: crash requested",
            "    at /app/server.js:42:11",
        ]
        .iter()
        .map(|l| (*l).to_owned())
        .collect();
        let arn = self.ecs.crash(self.now, None, 1, &lines).await?;
        self.advance_ecs().await?;
        Ok(arn)
    }

    /// The standalone worker crashes (exit 1): ECS sends its STOPPED event.
    pub async fn crash_the_worker(&mut self) -> Result<(), SimError> {
        self.advance_ecs().await?;
        let id = self.rng.uuid();
        let event = self
            .world
            .stop_task_as(
                &self.world.worker_task_arn.clone(),
                &StopScenario::Crash { exit_code: 1 },
                self.now,
                &id,
            )
            .await
            .map_err(seed_err)?;
        self.wire.take_calls();
        self.say("the standalone worker crashes (exit 1); ECS sends its STOPPED event");
        self.route_event(event);
        Ok(())
    }

    /// Slack's webhook answers 500 from now on (or 200 again).
    pub fn slack_answers(&mut self, ok: bool) {
        self.sink
            .always(if ok { Reply::Ok } else { Reply::ServerError });
        self.say(if ok {
            "Slack recovers: the webhook answers 200 again"
        } else {
            "Slack's webhook starts answering 500 internal_error"
        });
    }

    /// Requests per minute from now on.
    pub fn set_traffic(&mut self, per_minute: u64) {
        self.traffic.set(self.now, per_minute);
        self.say(format!(
            "traffic: {per_minute} requests per minute from now on"
        ));
    }

    // ───────────────────────────── figures

    /// Serving tasks at `at` (from the ECS model's timeline).
    pub fn serving_at(&self, at: DateTime<Utc>) -> u32 {
        self.ecs
            .timeline
            .iter()
            .take_while(|(t, _, _)| *t <= at)
            .last()
            .map(|(_, s, _)| *s)
            .unwrap_or(0)
    }

    /// How long after `since` at least `need` tasks served (None: never, so far).
    pub fn capacity_after(&self, since: DateTime<Utc>, need: u32) -> Option<Duration> {
        if self.serving_at(since) >= need {
            return Some(Duration::zero());
        }
        self.ecs
            .timeline
            .iter()
            .find(|(t, s, _)| *t >= since && *s >= need)
            .map(|(t, _, _)| *t - since)
    }

    /// Closed minutes in `[from, to)`.
    pub fn minutes(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<MinuteStats> {
        self.alb.minutes.range(from..to).map(|(_, s)| *s).collect()
    }

    /// Pages in `[from, to)`.
    pub fn pages_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<&OncallMessage> {
        self.oncall
            .pages
            .iter()
            .filter(|p| p.at >= from && p.at < to)
            .collect()
    }

    /// A figure for a duration (or "never").
    pub fn took(d: Option<Duration>) -> String {
        d.map(phoenix_core::text::human_duration)
            .unwrap_or_else(|| "never".to_owned())
    }

    /// Slack posts per identity (posts of the same message more than once).
    pub fn slack_repeats(&self) -> Vec<(String, usize)> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for post in &self.facts.slack {
            *counts.entry(post.about.as_str()).or_default() += 1;
        }
        counts
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(k, n)| (k.to_owned(), n))
            .collect()
    }

    /// Pages per identity (the same message paging more than once).
    pub fn page_repeats(&self) -> Vec<(String, usize)> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for page in &self.oncall.pages {
            *counts.entry(page.about.as_str()).or_default() += 1;
        }
        counts
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(k, n)| (k.to_owned(), n))
            .collect()
    }

    /// The names of the alarms that watch a function itself: its Lambda errors, and the depth of
    /// its dead-letter queue (its on-failure destination).
    pub fn alarms_on(&self, target: Target) -> Vec<String> {
        let function = self
            .settings
            .get(&target)
            .map(|s| s.logical_id.clone())
            .unwrap_or_default();
        let dlq = self.on_failure.get(&target).cloned().unwrap_or_default();
        self.alarms
            .defs
            .iter()
            .filter(|d| {
                (d.namespace == "AWS/Lambda" && d.dimensions.get("FunctionName") == Some(&function))
                    || (d.namespace == "AWS/SQS" && d.dimensions.get("QueueName") == Some(&dlq))
            })
            .map(|d| d.name.clone())
            .collect()
    }

    /// Whether a person was paged about one of these alarms going to ALARM (directly or through
    /// the notifier); the earliest such page.
    pub fn paged_about(&self, alarms: &[String]) -> Option<&OncallMessage> {
        self.oncall
            .pages
            .iter()
            .filter(|p| {
                alarms
                    .iter()
                    .any(|name| p.about.contains(&format!("alarm:{name}:ALARM:")))
            })
            .min_by_key(|p| p.at)
    }

    /// The longest invocation of a function.
    pub fn longest(&self, target: Target) -> StdDuration {
        self.facts
            .invocations
            .iter()
            .filter(|i| i.target == target)
            .map(|i| i.elapsed)
            .max()
            .unwrap_or_default()
    }
}

/// `infra/template.yaml`, or the path of another template.
fn template_name(template: &Template) -> String {
    let repo = phoenix_testkit::emulator::repo_root().join("infra/template.yaml");
    if template.source() == repo.as_path() {
        "infra/template.yaml".to_owned()
    } else {
        template.source().display().to_string()
    }
}

/// A function configured from `env`, talking through `sdk`.
fn build<F: Function>(env: &BTreeMap<String, String>, sdk: &SdkConfig) -> Result<F, SimError> {
    let config = load_config::<F>(Vars::new(|k| env.get(k).cloned()))
        .map_err(|e| SimError::Scenario(format!("{} cannot start: {e}", F::NAME)))?;
    Ok(F::from_sdk(config, sdk))
}

/// Physical ids of the world for the template's `Ref`/`GetAtt`.
fn resolver(
    world: &World,
    template: &Template,
    queues: &BTreeMap<String, (String, String)>,
    topics: &BTreeMap<String, String>,
) -> Resolver {
    let mut r = Resolver::new();
    let mut put = |k: &str, v: String| {
        r.insert(k.to_owned(), v);
    };
    put("AWS::Region", world.region.clone());
    put("AWS::AccountId", world.account.clone());
    put("AWS::StackName", STACK.to_owned());
    put("Cluster", world::CLUSTER.to_owned());
    put("Cluster.Arn", world.cluster_arn.clone());
    put("Service", world.service_arn.clone());
    put("Service.Name", world::SERVICE.to_owned());
    put("AlertsTopic", world.alerts_topic_arn.clone());
    put("OncallTopic", world.oncall_topic_arn.clone());
    put("LoadBalancer", world.load_balancer_arn.clone());
    put(
        "LoadBalancer.LoadBalancerFullName",
        metric_dimension(&world.load_balancer_arn),
    );
    put("TargetGroup", world.target_group_arn.clone());
    put(
        "TargetGroup.TargetGroupFullName",
        metric_dimension(&world.target_group_arn),
    );
    put("AppLogGroup", world::APP_LOG_GROUP.to_owned());
    put("AppRepository", world::APP_FAMILY.to_owned());
    put("TaskSecurityGroup", world.security_group.clone());
    if let Some(a) = world.subnets.first() {
        put("PrivateSubnetA", a.clone());
    }
    if let Some(b) = world.subnets.get(1) {
        put("PrivateSubnetB", b.clone());
    }
    put("DatabaseCluster", world.docdb_cluster.clone());
    put("BackupBucket", world.bucket.clone());
    for (logical, arn) in topics {
        put(logical, arn.clone());
        put(&format!("{logical}.TopicName"), logical.clone());
    }
    for (logical, (url, arn)) in queues {
        put(logical, url.clone());
        put(&format!("{logical}.Arn"), arn.clone());
        put(&format!("{logical}.QueueName"), logical.clone());
    }
    for logical in template.resources_of_type("AWS::Serverless::Function") {
        put(&logical, logical.clone());
        put(
            &format!("{logical}.Arn"),
            format!(
                "arn:aws:lambda:{}:{}:function:{logical}",
                world.region, world.account
            ),
        );
    }
    for logical in template.resources_of_type("AWS::DynamoDB::Table") {
        put(&logical, "phoenix-ledger".to_owned());
        put(
            &format!("{logical}.Arn"),
            format!(
                "arn:aws:dynamodb:{}:{}:table/phoenix-ledger",
                world.region, world.account
            ),
        );
    }
    // Alarms: their ARNs need their names, which the template computes.
    let names: Vec<(String, String)> = {
        let scope = template.scope(&BTreeMap::new(), &r);
        template
            .resources_of_type("AWS::CloudWatch::Alarm")
            .into_iter()
            .map(|logical| {
                let name = scope
                    .property(&logical, "AlarmName")
                    .ok()
                    .flatten()
                    .map(|n| text(&n))
                    .unwrap_or_else(|| logical.clone());
                (logical, name)
            })
            .collect()
    };
    for (logical, name) in names {
        r.insert(logical.clone(), name.clone());
        r.insert(
            format!("{logical}.Arn"),
            format!(
                "arn:aws:cloudwatch:{}:{}:alarm:{name}",
                world.region, world.account
            ),
        );
    }
    r
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
