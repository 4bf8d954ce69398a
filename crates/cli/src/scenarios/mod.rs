//! `phoenix-ops scenarios`: the deployed system over time. Each scenario runs the four real
//! handlers (three take part: task-recovery, request-scaler, alarm-notifier) against the emulator
//! in simulated time, with the models of `phoenix_testkit::sim` standing for what AWS does and the
//! emulator does not (the ECS scheduler, ALB metrics, CloudWatch alarms, delivery, Lambda retries,
//! CloudFormation, people), all wired by `infra/template.yaml` itself. Each scenario states what a
//! user cares about as invariants and checks them; the table at the end says which hold.
//!
//! Scenarios run side by side, each in its own emulator account with its own Slack sink; their
//! timelines are printed one after the other.

mod app_roll;
mod crash_loop;
mod first_deploy;
mod late_duplicate;
mod notifier_down;
mod parked_by_person;
pub mod runner;
mod slack_outage;
mod stuck_service;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use phoenix_testkit::emulator::Emulator;
use phoenix_testkit::sim::SimError;

use runner::Report;

/// One scenario: its name and what it plays.
pub struct Scenario {
    pub name: &'static str,
    pub story: &'static str,
}

/// Every scenario, in the order they are printed.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "first-deploy",
        story: "a new account creates the stack with no image; the first image is pushed 20 min later",
    },
    Scenario {
        name: "app-roll",
        story: "a new version is deployed (stack update) in the middle of a traffic spike",
    },
    Scenario {
        name: "stuck-service",
        story: "a task crashes and ECS's scheduler does not replace it",
    },
    Scenario {
        name: "crash-loop",
        story: "a bad image (crashes on start) is rolled out; the circuit breaker rolls it back",
    },
    Scenario {
        name: "slack-outage",
        story: "Slack answers 500 for 10 minutes while a CPU alarm fires, then recovers",
    },
    Scenario {
        name: "late-duplicate",
        story: "every event is delivered twice, the copy 90 s late (out of order), to another container",
    },
    Scenario {
        name: "parked-by-person",
        story: "a person parks the service at 0 for the night, then unparks it",
    },
    Scenario {
        name: "notifier-down",
        story: "a bad release of alarm-notifier fails every invocation while a task crashes",
    },
];

/// The emulator: the one `scripts/test.sh` shares (`PHOENIX_EMULATOR_URL`), or our own.
#[derive(Clone)]
enum Moto {
    Own(Arc<Emulator>),
    Shared(&'static Emulator),
}

impl Moto {
    fn get(&self) -> &Emulator {
        match self {
            Moto::Own(emulator) => emulator,
            Moto::Shared(emulator) => emulator,
        }
    }
}

async fn run_one(name: &'static str, moto: Moto) -> Report {
    let started = Instant::now();
    let emulator = moto.get();
    let result: Result<Report, SimError> = match name {
        "first-deploy" => first_deploy::run(emulator).await,
        "app-roll" => app_roll::run(emulator).await,
        "stuck-service" => stuck_service::run(emulator).await,
        "crash-loop" => crash_loop::run(emulator).await,
        "slack-outage" => slack_outage::run(emulator).await,
        "late-duplicate" => late_duplicate::run(emulator).await,
        "parked-by-person" => parked_by_person::run(emulator).await,
        "notifier-down" => notifier_down::run(emulator).await,
        other => Err(SimError::Scenario(format!("no scenario named {other}"))),
    };
    result.unwrap_or_else(|e| Report {
        name,
        checks: Vec::new(),
        figures: Vec::new(),
        lines: Vec::new(),
        real: started.elapsed(),
        error: Some(e.to_string()),
    })
}

/// `phoenix-ops scenarios [--list] [NAME…]`.
pub async fn run(list: bool, names: &[String]) -> ExitCode {
    if list {
        for scenario in SCENARIOS {
            println!("{}", scenario.name);
        }
        return ExitCode::SUCCESS;
    }
    let mut selected: Vec<&Scenario> = Vec::new();
    for name in names {
        match SCENARIOS.iter().find(|s| s.name == name) {
            Some(s) if !selected.iter().any(|c| c.name == s.name) => selected.push(s),
            Some(_) => {}
            None => {
                eprintln!(
                    "phoenix-ops: no scenario named {name:?}; `phoenix-ops scenarios --list` names them"
                );
                return ExitCode::from(2);
            }
        }
    }
    if selected.is_empty() {
        selected = SCENARIOS.iter().collect();
    }
    let started = Instant::now();
    let template = std::env::var("PHOENIX_SCENARIO_TEMPLATE")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "infra/template.yaml".to_owned());
    println!(
        "phoenix-ops scenarios: {} scenario(s) side by side in simulated time, each in its own emulator account, wired by {template}",
        selected.len()
    );
    // Each scenario works in its own account, so a shared emulator is fine.
    let emulator = match std::env::var("PHOENIX_EMULATOR_URL") {
        Ok(url) if !url.trim().is_empty() => Moto::Shared(Emulator::shared()),
        _ => match Emulator::start() {
            Ok(emulator) => Moto::Own(Arc::new(emulator)),
            Err(e) => {
                eprintln!("phoenix-ops: the scenarios cannot start: {e}");
                return ExitCode::from(2);
            }
        },
    };
    // One thread: the handlers' futures are not Send (the adapter writes to a `&mut dyn Write`);
    // the scenarios still overlap wherever one waits (the emulator, a handler's own sleeps).
    let local = tokio::task::LocalSet::new();
    local
        .run_until(run_selected(&selected, emulator, started))
        .await
}

async fn run_selected(selected: &[&Scenario], emulator: Moto, started: Instant) -> ExitCode {
    let handles: Vec<_> = selected
        .iter()
        .map(|s| tokio::task::spawn_local(run_one(s.name, emulator.clone())))
        .collect();
    let mut reports = Vec::new();
    for (scenario, handle) in selected.iter().zip(handles) {
        let report = match handle.await {
            Ok(report) => report,
            Err(e) => Report {
                name: scenario.name,
                checks: Vec::new(),
                figures: Vec::new(),
                lines: Vec::new(),
                real: started.elapsed(),
                error: Some(format!("the scenario panicked: {e}")),
            },
        };
        println!(
            "\n━━ {} — {} {}",
            scenario.name,
            scenario.story,
            "━".repeat(
                100usize.saturating_sub(scenario.name.len() + scenario.story.chars().count())
            )
        );
        for line in &report.lines {
            println!("{line}");
        }
        if let Some(error) = &report.error {
            println!("  ✗ the scenario could not run: {error}");
        }
        reports.push(report);
    }
    print_table(&reports, started.elapsed())
}

fn print_table(reports: &[Report], elapsed: std::time::Duration) -> ExitCode {
    println!("\n━━ Result {}", "━".repeat(100));
    let width = reports.iter().map(|r| r.name.len()).max().unwrap_or(10);
    let mut total = 0;
    let mut failed = 0;
    for report in reports {
        if let Some(error) = &report.error {
            total += 1;
            failed += 1;
            println!(
                "  FAIL  {:<width$}  the scenario runs — {error}",
                report.name
            );
            continue;
        }
        for check in &report.checks {
            total += 1;
            if !check.ok {
                failed += 1;
            }
            println!(
                "  {}  {:<width$}  {}{}",
                if check.ok { "PASS" } else { "FAIL" },
                report.name,
                check.invariant,
                if check.ok || check.detail.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", check.detail)
                }
            );
        }
    }
    println!("\n━━ Figures {}", "━".repeat(99));
    for report in reports {
        let figures: Vec<String> = report
            .figures
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        println!(
            "  {:<width$}  {} · real {:.1} s",
            report.name,
            figures.join(" · "),
            report.real.as_secs_f64()
        );
    }
    println!(
        "\n  {total} invariants, {} held, {failed} failed; {} scenario(s) in {:.1} s (real)",
        total - failed,
        reports.len(),
        elapsed.as_secs_f64()
    );
    if failed == 0 && total > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
