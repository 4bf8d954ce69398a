//! What the AWS calls of an actor did to the world: desired counts and deployments (the ECS
//! model), pages (people), messages to `alerts` and to the SQS queues functions read.

use std::collections::BTreeSet;

use phoenix_testkit::sim::SimError;
use phoenix_testkit::sim::people::OncallMessage;
use phoenix_testkit::sim::resources::{self, SnsMessage};
use phoenix_testkit::sim::wire::Call;
use serde_json::{Value, json};

use super::{AlertMessage, DesiredChange, Job, Sim, Source, Target, identity, short};

impl Sim {
    /// What the calls of an actor did to the world: desired counts and deployments (ECS model),
    /// pages (people), messages to `alerts` (the notifier's deliveries), messages to SQS queues
    /// a function reads.
    pub(super) async fn handle_calls(
        &mut self,
        calls: Vec<Call>,
        about: &str,
    ) -> Result<(), SimError> {
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

    pub(super) fn apply_update_service(&mut self, call: &Call) {
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

    pub(super) fn page(&mut self, call: &Call, about: &str) {
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
    pub(super) async fn deliver_alerts(&mut self) -> Result<(), SimError> {
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
    pub(super) async fn deliver_queue(&mut self, url: &str) -> Result<(), SimError> {
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
}
