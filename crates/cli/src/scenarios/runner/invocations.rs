//! Invocations: one delivery run through the real handler in one of its containers, what it
//! did recorded and narrated, then Lambda's retry or the dead-letter queue.

use std::time::Duration as StdDuration;

use ::request_scaler::RequestScaler;
use chrono::{DateTime, Duration, Utc};
use phoenix_core::{Function, Outcome};
use phoenix_testkit::sim::SimError;
use phoenix_testkit::sim::lambda::{self, Invoked, LambdaSettings};
use serde_json::json;

use crate::sandbox::{action_mark, slack_text};

use super::{
    DeadLetter, InvocationFact, Job, STACK, Sim, SlackPost, Source, Target, seed_err, short,
};

impl Sim {
    pub(super) async fn run_job(&mut self, job: Job) -> Result<(), SimError> {
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

    pub(super) fn record_invocation(
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

    pub(super) fn narrate_outcome(
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
            let mark = action_mark(action.status);
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

    pub(super) fn record_slack(&mut self, before: usize, about: &str, at: DateTime<Utc>) {
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
    pub(super) fn retry(&mut self, job: Job, settings: &LambdaSettings, invoked: &Invoked) {
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

    pub(super) fn dead_letter(&mut self, target: Target, about: &str, error: &str, place: &str) {
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
}
