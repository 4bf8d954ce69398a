//! Starting a scenario: the world seeded in its own account, the template read and wired to
//! it (queues, topics, the stack, alarms, people), and each function's containers built.

use std::collections::{BTreeMap, BTreeSet};

use ::alarm_notifier::AlarmNotifier;
use ::request_scaler::RequestScaler;
use ::task_recovery::TaskRecovery;
use chrono::{Duration, DurationRound, Utc};
use phoenix_core::lambda::load_config;
use phoenix_core::{Function, SdkConfig, Vars};
use phoenix_testkit::emulator::Emulator;
use phoenix_testkit::sim::SimError;
use phoenix_testkit::sim::alarms::{Alarms, MetricStore};
use phoenix_testkit::sim::alb::{Alb, Traffic};
use phoenix_testkit::sim::cloudformation::Stack;
use phoenix_testkit::sim::ecs::{Ecs, EcsSettings, Image, image_tag};
use phoenix_testkit::sim::people::Oncall;
use phoenix_testkit::sim::resources;
use phoenix_testkit::sim::rng::SimRng;
use phoenix_testkit::sim::template::{Resolver, Template, text};
use phoenix_testkit::sim::wire::Wire;
use phoenix_testkit::sim::wiring::Wiring;
use phoenix_testkit::world::{self, World, WorldSpec, metric_dimension};
use phoenix_testkit::{SlackSink, new_account};

use super::{Facts, SCHEDULE_OFFSET_SECONDS, STACK, Setup, Sim, Target, WORLD_IMAGE, seed_err};

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
    pub(super) async fn wire_functions(
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
