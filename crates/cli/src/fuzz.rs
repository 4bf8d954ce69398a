//! `phoenix-ops fuzz`: the fuzz pass over every handler (issue 15). Seeds a world in the local
//! emulator, builds each function in dry run from the world's configuration, and feeds it
//! mutated events grown from the samples in `events/` (`phoenix_testkit::mutate`), judged by the
//! oracle of `phoenix_testkit::fuzz`: no panic, no AWS call before an event is ignored, no
//! mutating call in dry run, no action outside what the configuration allows, no hang.
//!
//! Prints per function: events, ignored, rejected, acted, retried, panics, wrong; then the first
//! findings. Exit 0 only when no function panicked or did something wrong.

use std::collections::BTreeMap;
use std::process::ExitCode;

use chrono::{DurationRound, TimeDelta, Utc};
use phoenix_core::lambda::load_config;
use phoenix_core::outcome::Action;
use phoenix_core::{Function, Vars};
use phoenix_testkit::fixtures::fixtures_starting_with;
use phoenix_testkit::fuzz::{Allowed, FuzzPlan, FuzzReport, fuzz_function, rebase_sample, table};
use phoenix_testkit::world::{SERVICE, WORKER_FAMILY};
use phoenix_testkit::{Emulator, SlackSink, World, WorldSpec, new_account};
use serde_json::Value;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Mutated events per function.
    #[arg(long, default_value_t = 10_000)]
    pub events: usize,
    /// Seed of the mutations (the same seed replays the same events).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Only these functions (default: all).
    #[arg(long = "function")]
    pub functions: Vec<crate::FunctionName>,
}

/// Reads may fail and be reported as failed actions; they change nothing.
fn is_read(call: &str) -> bool {
    let operation = call.split(':').nth(1).unwrap_or_default();
    ["Describe", "List", "Get", "Head", "Filter"]
        .iter()
        .any(|p| operation.starts_with(p))
}

/// The desired count an UpdateService action sets (`… 2 → 7`), when its detail says.
fn desired_in(detail: Option<&str>) -> Option<u32> {
    detail?
        .rsplit(['→', '>', ' '])
        .find_map(|word| word.trim().parse().ok())
}

struct Target {
    name: crate::FunctionName,
    samples: Vec<Value>,
    allowed: Box<Allowed>,
}

fn samples(prefixes: &[&str]) -> Vec<Value> {
    prefixes
        .iter()
        .flat_map(|p| fixtures_starting_with(p))
        .map(|(_, v)| v)
        .collect()
}

fn targets(env: &BTreeMap<String, String>) -> Vec<Target> {
    use crate::FunctionName::*;
    let alerts = env.get("ALERTS_TOPIC_ARN").cloned().unwrap_or_default();
    let oncall = env.get("ONCALL_TOPIC_ARN").cloned().unwrap_or_default();
    let secret = env
        .get("SLACK_WEBHOOK_SECRET_ARN")
        .cloned()
        .unwrap_or_default();
    let log_groups: Vec<String> = env
        .get("LOG_GROUPS")
        .map(|g| g.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    let bucket = env.get("BACKUP_BUCKET").cloned().unwrap_or_default();
    let docdb = env.get("DOCDB_CLUSTER_ID").cloned().unwrap_or_default();
    let publish_to = move |topic: String| {
        move |action: &Action| -> Result<(), String> {
            if action.target == topic {
                Ok(())
            } else {
                Err(format!("publishes to {} instead of {topic}", action.target))
            }
        }
    };
    let alerts_only = publish_to(alerts.clone());
    let alerts_only_2 = publish_to(alerts.clone());
    let alerts_only_3 = publish_to(alerts.clone());
    let alerts_only_4 = publish_to(alerts);
    let oncall_only = publish_to(oncall);
    vec![
        Target {
            name: TaskRecovery,
            samples: samples(&["ecs-"]),
            allowed: Box::new(move |a: &Action| {
                match a.call.as_str() {
                c if is_read(c) || c.starts_with("dynamodb:") => Ok(()),
                "ecs:UpdateService" if a.target.contains(SERVICE) => Ok(()),
                "ecs:RunTask" if a.target == WORKER_FAMILY || a.target.ends_with(&format!("/{WORKER_FAMILY}")) => Ok(()),
                "sqs:SendMessage" => Ok(()),
                "sns:Publish" => alerts_only(a),
                _ => Err("task-recovery may only update the service, restart allowed families, schedule a re-check and publish to alerts".into()),
            }
            }),
        },
        Target {
            name: RequestScaler,
            samples: samples(&["scheduled-event", "cloudwatch-alarm-"]),
            allowed: Box::new(move |a: &Action| match a.call.as_str() {
                c if is_read(c) || c.starts_with("dynamodb:") => Ok(()),
                "ecs:UpdateService" if a.target.contains(SERVICE) => {
                    match desired_in(a.detail.as_deref()) {
                        Some(n) if (1..=10).contains(&n) => Ok(()),
                        other => Err(format!(
                            "desired count {other:?} outside MIN_TASKS..=MAX_TASKS (1..=10)"
                        )),
                    }
                }
                "sns:Publish" => alerts_only_2(a),
                _ => Err(
                    "request-scaler may only set the service's desired count and publish to alerts"
                        .into(),
                ),
            }),
        },
        Target {
            name: AlarmNotifier,
            samples: samples(&["sns-", "cloudwatch-alarm-"]),
            allowed: Box::new(move |a: &Action| match a.call.as_str() {
                c if is_read(c) || c.starts_with("dynamodb:") => Ok(()),
                c if c.starts_with("slack:") && a.target == secret => Ok(()),
                "sns:Publish" => oncall_only(a),
                _ => Err(
                    "alarm-notifier may only post to the configured webhook and publish to oncall"
                        .into(),
                ),
            }),
        },
        Target {
            name: Backup,
            samples: samples(&["scheduled-event", "backup-"]),
            allowed: Box::new(move |a: &Action| {
                match a.call.as_str() {
                c if is_read(c) || c.starts_with("dynamodb:") => Ok(()),
                "rds:CreateDBClusterSnapshot" | "rds:DeleteDBClusterSnapshot" | "rds:AddTagsToResource"
                    if a.target.contains("phoenix-ops-") || a.target == docdb => Ok(()),
                "logs:CreateExportTask" if log_groups.iter().any(|g| a.target.contains(g.as_str())) => Ok(()),
                "s3:PutObject" if a.target.contains(&bucket) => Ok(()),
                "sns:Publish" => alerts_only_3(a),
                _ => Err("backup may only snapshot/rotate its own snapshots, export its log groups, write its bucket and publish to alerts".into()),
            }
            }),
        },
        Target {
            name: DailyDigest,
            samples: samples(&["scheduled-event"]),
            allowed: Box::new(move |a: &Action| match a.call.as_str() {
                c if is_read(c) || c.starts_with("dynamodb:") || c == "logs:StartQuery" => Ok(()),
                "sns:Publish" => alerts_only_4(a),
                _ => Err("daily-digest may only read and publish its digest to alerts".into()),
            }),
        },
    ]
}

async fn run_one<F: Function>(
    env: &BTreeMap<String, String>,
    world: &World,
    target: &Target,
    others: &[Value],
    args: &Args,
    now: chrono::DateTime<Utc>,
) -> Result<FuzzReport, String> {
    let config = load_config::<F>(Vars::new(|k| env.get(k).cloned()))
        .map_err(|e| format!("{}: {e}", F::NAME))?;
    let function = F::from_sdk(config, &world.sdk);
    let samples: Vec<Value> = target
        .samples
        .iter()
        .map(|s| rebase_sample(s, &world.account, now))
        .collect();
    let plan = FuzzPlan {
        samples: &samples,
        others,
        allowed: target.allowed.as_ref(),
        events: args.events,
        seed: args.seed,
        now,
    };
    Ok(fuzz_function(&function, world, &plan).await)
}

pub async fn run(args: &Args) -> ExitCode {
    let emulator = match Emulator::start() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("phoenix-ops fuzz: {e}");
            return ExitCode::from(2);
        }
    };
    let sink = match SlackSink::start().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("phoenix-ops fuzz: {e}");
            return ExitCode::from(2);
        }
    };
    let now = Utc::now()
        .duration_trunc(TimeDelta::minutes(1))
        .unwrap_or_else(|_| Utc::now());
    let world =
        match World::seed(&emulator, &WorldSpec::new(&new_account(), &sink.url(), now)).await {
            Ok(w) => w,
            Err(e) => {
                eprintln!("phoenix-ops fuzz: {e}");
                return ExitCode::from(2);
            }
        };
    let mut env = world.env();
    env.insert("DRY_RUN".into(), "true".into());
    let others: Vec<Value> = fixtures_starting_with("")
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    let mut reports = Vec::new();
    for target in targets(&env) {
        if !args.functions.is_empty() && !args.functions.contains(&target.name) {
            continue;
        }
        use crate::FunctionName::*;
        let report = match target.name {
            TaskRecovery => {
                run_one::<task_recovery::TaskRecovery>(&env, &world, &target, &others, args, now)
                    .await
            }
            RequestScaler => {
                run_one::<request_scaler::RequestScaler>(&env, &world, &target, &others, args, now)
                    .await
            }
            AlarmNotifier => {
                run_one::<alarm_notifier::AlarmNotifier>(&env, &world, &target, &others, args, now)
                    .await
            }
            Backup => run_one::<backup::Backup>(&env, &world, &target, &others, args, now).await,
            DailyDigest => {
                run_one::<daily_digest::DailyDigest>(&env, &world, &target, &others, args, now)
                    .await
            }
        };
        match report {
            Ok(report) => {
                eprintln!(
                    "fuzz: {} done ({} events, {} wrong)",
                    report.function,
                    report.events,
                    report.wrong.len()
                );
                reports.push(report);
            }
            Err(e) => {
                eprintln!("phoenix-ops fuzz: cannot configure {e}");
                return ExitCode::from(2);
            }
        }
    }
    println!("{}", table(&reports));
    for report in &reports {
        for finding in report.wrong.iter().take(5) {
            println!(
                "WRONG {} #{} (seed {}): {}\n  mutation: {}\n  event: {}\n",
                report.function,
                finding.index,
                args.seed,
                finding.problem,
                finding.mutation,
                finding.event
            );
        }
        for finding in &report.retried_examples {
            println!(
                "retried {} #{}: {}\n  mutation: {}\n",
                report.function, finding.index, finding.problem, finding.mutation
            );
        }
    }
    if reports.iter().all(FuzzReport::passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_desired_count_is_read_from_the_detail() {
        assert_eq!(desired_in(Some("desiredCount 2 → 7")), Some(7));
        assert_eq!(desired_in(Some("desiredCount 10 -> 1")), Some(1));
        assert_eq!(desired_in(None), None);
        assert!(is_read("ecs:DescribeTasks") && !is_read("ecs:RunTask"));
    }
}
