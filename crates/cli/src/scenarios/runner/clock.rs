//! Simulated time: the discrete-event loop, the queue of due deliveries, the ECS model's
//! transitions, the close of each minute (ALB datapoints, CloudWatch alarms) and schedules.

use chrono::{DateTime, Duration, Utc};
use phoenix_testkit::sim::SimError;
use phoenix_testkit::sim::alarms::{AlarmState, Transition};
use phoenix_testkit::sim::filter::event_matches;
use phoenix_testkit::world::{self, metric_dimension};
use serde_json::{Value, json};

use super::{Job, STACK, Sim, Source, Target, error_chain, seed_err, short};

impl Sim {
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

    pub(super) fn enqueue(&mut self, at: DateTime<Utc>, job: Job) {
        self.seq += 1;
        self.queue.insert((at, self.seq), job);
    }

    /// Delivers one event to a function as EventBridge/SNS would: at least once (see [`Chaos`]);
    /// a second copy goes to another container.
    pub(super) fn deliver(&mut self, target: Target, payload: Value, about: &str) {
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

    pub(super) fn containers(&self, target: Target) -> usize {
        match target {
            Target::TaskRecovery => self.recovery.len(),
            Target::RequestScaler => self.scaler.len(),
            Target::AlarmNotifier => self.notifier.len(),
        }
        .max(1)
    }

    // ───────────────────────────── ECS, minutes, schedules

    pub(super) async fn advance_ecs(&mut self) -> Result<(), SimError> {
        self.wire.set_now(self.now);
        self.ecs.advance(self.now).await?;
        self.ecs_outputs().await
    }

    /// Narrates what ECS did, publishes its view, routes its events.
    pub(super) async fn ecs_outputs(&mut self) -> Result<(), SimError> {
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
    pub(super) fn route_event(&mut self, event: Value) {
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

    pub(super) async fn close_minute(&mut self) -> Result<(), SimError> {
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
    pub(super) fn record_minute(&mut self, minute: DateTime<Utc>, closing: DateTime<Utc>) {
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
    pub(super) async fn alarm_changed(&mut self, change: Transition) -> Result<(), SimError> {
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

    pub(super) async fn fire_schedules(&mut self) -> Result<(), SimError> {
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
}
