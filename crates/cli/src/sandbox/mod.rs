//! The local sandbox: the emulator, a Slack sink, the seeded Phoenix world, and the control plane
//! reacting to a scripted scenario through the real handler code.
//!
//! Each function contributes one act (`task_recovery.rs`, ...). An act drives the world (crashes
//! a task, puts request metrics, raises an alarm...), runs its function through [`Stage::run`],
//! relays what reached the `alerts` topic through the real alarm-notifier to the Slack sink
//! ([`Stage::relay_alerts`]), and records expectations with [`Stage::check`]. The timeline is
//! printed as it happens; a pass/fail table closes the run.

mod alarm_notifier;
mod backup;
mod request_scaler;
mod task_recovery;

use std::collections::BTreeMap;
use std::fmt::Display;
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};
use phoenix_core::lambda::{handle_and_report, load_config};
use phoenix_core::{ActionStatus, Function, Invocation, Outcome, RetryableError, Vars};
use phoenix_testkit::emulator::DEFAULT_ACCOUNT;
use phoenix_testkit::slack_sink::Received;
use phoenix_testkit::world::{as_sns_event, read_tap};
use phoenix_testkit::{Emulator, SlackSink, World, WorldSpec};
use serde_json::Value;

struct Check {
    act: String,
    name: String,
    ok: bool,
    detail: String,
}

/// The mark an action gets in the narration: done, dry run, skipped, failed.
pub(crate) fn action_mark(status: ActionStatus) -> &'static str {
    match status {
        ActionStatus::Done => "✔",
        ActionStatus::DryRun => "◌",
        ActionStatus::Skipped => "·",
        ActionStatus::Failed => "✗",
    }
}

/// Everything an act needs, and the narration.
pub struct Stage {
    // Kept alive for the whole run; dropping it stops the server.
    emulator: Emulator,
    pub sink: SlackSink,
    pub world: World,
    /// Scenario time: starts at the wall clock, advanced by the acts.
    pub clock: DateTime<Utc>,
    act: String,
    checks: Vec<Check>,
    slack_shown: usize,
    /// Invocations so far (for their request ids).
    invocations: u64,
}

impl Stage {
    /// Starts the emulator and the sink, and seeds the world in moto's default account (so a
    /// second shell using plain `AWS_ENDPOINT_URL` sees the same world).
    pub async fn start() -> Result<Stage, String> {
        let emulator = Emulator::start().map_err(|e| e.to_string())?;
        let sink = SlackSink::start().await.map_err(|e| e.to_string())?;
        let now = Utc::now();
        let clock = now - Duration::from_secs(u64::try_from(now.timestamp() % 60).unwrap_or(0));
        let spec = WorldSpec::new(DEFAULT_ACCOUNT, &sink.url(), clock);
        let world = World::seed(&emulator, &spec)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Stage {
            emulator,
            sink,
            world,
            clock,
            act: String::new(),
            checks: Vec::new(),
            slack_shown: 0,
            invocations: 0,
        })
    }

    pub fn emulator_url(&self) -> &str {
        self.emulator.url()
    }

    /// Starts a new act of the scenario.
    pub fn act(&mut self, title: &str) {
        self.act = title.to_owned();
        println!(
            "\n━━ {title} {}",
            "━".repeat(70usize.saturating_sub(title.chars().count()))
        );
    }

    /// One line of the timeline, at scenario time.
    pub fn say(&self, text: impl Display) {
        println!("  {}  {text}", self.clock.format("%H:%M:%S"));
    }

    /// Moves scenario time forward.
    #[allow(dead_code, reason = "used by the acts that script time")]
    pub fn advance(&mut self, by: Duration) {
        self.clock += by;
    }

    /// The world's configuration plus overrides, as the template would set it.
    pub fn env(&self, overrides: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut env = self.world.env();
        for (k, v) in overrides {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        env
    }

    /// A function configured for this world (with overrides), talking to the emulator.
    pub fn function<F: Function>(&self, overrides: &[(&str, &str)]) -> Result<F, String> {
        let env = self.env(overrides);
        let config =
            load_config::<F>(Vars::new(|k| env.get(k).cloned())).map_err(|e| e.to_string())?;
        Ok(F::from_sdk(config, &self.world.sdk))
    }

    /// Runs one event through a handler at scenario time and narrates the Outcome.
    pub async fn run<F: Function>(
        &mut self,
        function: &F,
        payload: Value,
    ) -> Result<Outcome, RetryableError> {
        // each invocation its own request id, as Lambda gives: the ledger takes one request id
        // for one invocation (and its retries)
        self.invocations += 1;
        let invocation = Invocation::new(payload, self.clock)
            .time_left(Duration::from_secs(60))
            .request_id(format!("sandbox-{}", self.invocations));
        let mut metrics = std::io::sink();
        let result = handle_and_report(function, invocation, &mut metrics).await;
        match &result {
            Ok(outcome) => self.narrate(F::NAME, outcome),
            Err(error) => self.say(format!("✗ {} failed (retryable): {error}", F::NAME)),
        }
        result
    }

    fn narrate(&self, name: &str, outcome: &Outcome) {
        if let Some(why) = &outcome.ignored {
            self.say(format!("· {name} ignored the event: {why}"));
            return;
        }
        if let Some(why) = &outcome.rejected {
            self.say(format!("✗ {name} rejected the event: {why}"));
            return;
        }
        let dry = if outcome.dry_run { " (dry run)" } else { "" };
        self.say(format!(
            "⚙ {name} decided {}{dry}: {}",
            outcome.decision.as_deref().unwrap_or("-"),
            outcome.reason.as_deref().unwrap_or("-")
        ));
        for action in &outcome.actions {
            let mark = action_mark(action.status);
            let detail = action
                .detail
                .as_deref()
                .map(|d| format!(" — {d}"))
                .unwrap_or_default();
            println!(
                "              {mark} {} {}{detail}",
                action.call, action.target
            );
        }
    }

    /// Takes what reached the `alerts` topic, runs the real alarm-notifier on it (as the SNS
    /// subscription would), and prints every new Slack message. Returns the new messages.
    pub async fn relay_alerts(&mut self) -> Vec<Received> {
        let published = match read_tap(&self.world.sdk, &self.world.alerts_queue_url, 1).await {
            Ok(published) => published,
            Err(e) => {
                self.say(format!("✗ cannot read the alerts topic: {e}"));
                return Vec::new();
            }
        };
        if !published.is_empty() {
            match self.function::<::alarm_notifier::AlarmNotifier>(&[]) {
                Ok(notifier) => {
                    let event = as_sns_event(&self.world.alerts_topic_arn, &published);
                    let _ = self.run(&notifier, event).await;
                }
                Err(e) => self.say(format!("✗ alarm-notifier cannot start: {e}")),
            }
        }
        let received = self.sink.received();
        let new: Vec<Received> = received.into_iter().skip(self.slack_shown).collect();
        self.slack_shown += new.len();
        for message in &new {
            println!("              ┌─ Slack ({})", message.answered);
            for line in slack_text(&message.json()).lines() {
                println!("              │ {line}");
            }
            println!("              └─");
        }
        new
    }

    /// Records one expectation of the scenario.
    pub fn check(&mut self, name: &str, ok: bool, detail: impl Display) {
        let detail = detail.to_string();
        self.say(format!(
            "{} check: {name}{}",
            if ok { "✅" } else { "❌" },
            if ok {
                String::new()
            } else {
                format!(" — {detail}")
            }
        ));
        self.checks.push(Check {
            act: self.act.clone(),
            name: name.to_owned(),
            ok,
            detail,
        });
    }

    /// Prints the table; exit 0 only if every check passed.
    pub fn report(&self) -> ExitCode {
        println!("\n━━ Result {}", "━".repeat(64));
        let width = self
            .checks
            .iter()
            .map(|c| c.name.chars().count())
            .max()
            .unwrap_or(10);
        let act_width = self
            .checks
            .iter()
            .map(|c| c.act.chars().count())
            .max()
            .unwrap_or(10);
        for check in &self.checks {
            println!(
                "  {}  {:<act_width$}  {:<width$}  {}",
                if check.ok { "PASS" } else { "FAIL" },
                check.act,
                check.name,
                if check.ok { "" } else { check.detail.as_str() }
            );
        }
        let failed = self.checks.iter().filter(|c| !c.ok).count();
        println!(
            "\n  {} checks, {} passed, {failed} failed",
            self.checks.len(),
            self.checks.len() - failed
        );
        if failed == 0 && !self.checks.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    }
}

/// A Slack Block Kit payload as plain text, for the terminal: header, sections, fields,
/// context and preformatted blocks in order (attachments' blocks included).
pub fn slack_text(payload: &Value) -> String {
    // what Slack shows for escaped text
    let shown = |text: &str| {
        text.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    let mut lines = Vec::new();
    let mut blocks: Vec<&Value> = payload["blocks"]
        .as_array()
        .map(|b| b.iter().collect())
        .unwrap_or_default();
    for attachment in payload["attachments"].as_array().into_iter().flatten() {
        blocks.extend(attachment["blocks"].as_array().into_iter().flatten());
    }
    for block in blocks {
        if let Some(text) = block["text"]["text"].as_str() {
            lines.push(shown(text));
        }
        // one field per line: "*Label* value"
        for field in block["fields"].as_array().into_iter().flatten() {
            if let Some(text) = field["text"].as_str() {
                lines.push(format!("  {}", shown(&text.replace('\n', " "))));
            }
        }
        for element in block["elements"].as_array().into_iter().flatten() {
            if let Some(text) = element["text"].as_str() {
                lines.push(shown(text));
            } else if let Some(text) = element["text"]["text"].as_str() {
                lines.push(format!("[{}]", shown(text)));
            }
        }
    }
    if lines.is_empty() {
        shown(payload["text"].as_str().unwrap_or_default())
    } else {
        lines.join("\n")
    }
}

/// `phoenix-ops sandbox`: the whole scenario.
pub async fn run_scenario() -> ExitCode {
    println!("phoenix-ops sandbox: starting the emulator and the Slack sink, seeding the world…");
    let mut stage = match Stage::start().await {
        Ok(stage) => stage,
        Err(e) => {
            eprintln!("phoenix-ops: the sandbox cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    stage.act("World");
    stage.say(format!(
        "emulator at {} (moto), Slack sink at {}",
        stage.emulator_url(),
        stage.sink.url()
    ));
    stage.say(format!(
        "ECS {}/{} running {} tasks, DocumentDB {}, bucket {}, topics alerts + oncall",
        phoenix_testkit::world::CLUSTER,
        phoenix_testkit::world::SERVICE,
        stage.world.service_task_arns.len(),
        stage.world.docdb_cluster,
        stage.world.bucket
    ));
    let seeded =
        stage.world.service_task_arns.len() == 2 && !stage.world.alerts_topic_arn.is_empty();
    stage.check("world seeded", seeded, "service tasks or topics missing");

    task_recovery::act(&mut stage).await;
    request_scaler::act(&mut stage).await;
    alarm_notifier::act(&mut stage).await;
    backup::act(&mut stage).await;
    stage.report()
}

/// `phoenix-ops sandbox up`: the world, the env exports, and an alerts relay until Ctrl-C.
/// Writes every sample of `events/`, moved into the world of `account` at the current time, to
/// `dir`; returns how many.
fn write_world_events(dir: &std::path::Path, account: &str) -> Result<usize, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let now = Utc::now();
    let samples = phoenix_testkit::fixtures::fixtures_starting_with("");
    for (name, sample) in &samples {
        let moved = phoenix_testkit::fuzz::rebase_sample(sample, account, now);
        let text = serde_json::to_string_pretty(&moved).map_err(|e| e.to_string())?;
        std::fs::write(dir.join(name), text + "\n").map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(samples.len())
}

pub async fn up() -> ExitCode {
    let mut stage = match Stage::start().await {
        Ok(stage) => stage,
        Err(e) => {
            eprintln!("phoenix-ops: the sandbox cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    // Processes in other shells (phoenix-ops invoke, the functions' binaries, the AWS CLI) reach
    // the emulator through the test kit's proxy: it speaks CloudWatch's current protocol (CBOR)
    // to them and moto's to moto, as the in-process harness does.
    let proxy = match phoenix_testkit::EmulatorProxy::start(stage.emulator_url()).await {
        Ok(proxy) => proxy,
        Err(e) => {
            eprintln!("phoenix-ops: the sandbox's emulator proxy cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    // The samples of events/, moved into this world (its account, times shifted to now), so
    // an invoke acts on this world instead of ignoring an event of another account or day.
    let events_dir = std::path::Path::new("target/sandbox/events");
    let written = write_world_events(events_dir, &stage.world.account);
    println!(
        "# phoenix-ops sandbox is up: emulator {} (through {}), Slack sink {}",
        stage.emulator_url(),
        proxy.url(),
        stage.sink.url()
    );
    match written {
        Ok(count) => println!(
            "# {count} sample events moved into this world: {}/",
            events_dir.display()
        ),
        Err(e) => println!("# (sample events not written: {e})"),
    }
    println!("# In another shell, paste these lines, then e.g.:");
    println!(
        "#   target/debug/phoenix-ops invoke task-recovery --event {}/ecs-task-stopped-crash.json",
        events_dir.display()
    );
    print!("{}", stage.world.shell_exports(proxy.url()));
    println!("# Relaying the alerts topic to the Slack sink every 2 s. Ctrl-C stops.");
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {
                println!("\n# stopping: emulator and sink shut down");
                return ExitCode::SUCCESS;
            }
            _ = tokio::time::sleep(Duration::from_secs(2)) => {
                stage.clock = Utc::now();
                stage.relay_alerts().await;
            }
        }
    }
}
