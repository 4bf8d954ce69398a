//! The three flows, one per trigger, each `event` → `observe` → `decide` → `act` → `report`.
//! Everything done about one delivery (a stopped task, a re-check, an ECS service event) is
//! claimed once in the ledger around act and report, so a duplicate delivery handled by another
//! container makes no second RunTask, UpdateService, re-check or Notice. Planned stops and
//! ignored events need no claim and make no AWS call at all.

use phoenix_core::{
    Action, ActionStatus, AwsFailure, Function, Invocation, NoticePublisher, Outcome,
    RetryableError,
};
use serde_json::json;

use crate::TaskRecovery;
use crate::act::{Actor, Effect, Guard};
use crate::classify::{StopKind, classify};
use crate::decide::{
    event_key, is_early, plan_recheck, plan_service_event, plan_stop, recheck_key, stop_key,
};
use crate::event::{self, NotOurs, RecheckDelivery, Scope, ServiceEvent, StoppedTask, Trigger};
use crate::observe::{self, Diagnosis, Observed};
use crate::recheck::Recheck;
use crate::report::{self, StopReport};

const NAME: &str = <TaskRecovery as Function>::NAME;

fn failed(failure: &AwsFailure) -> Action {
    Action::new(
        &failure.call,
        failure.resource.clone(),
        ActionStatus::Failed,
    )
    .detail(failure.to_string())
}

/// A read that failed finally becomes the Outcome's failed action and the plan's `problem`.
fn observed_or_problem(
    read: Result<Observed, AwsFailure>,
    outcome: &mut Outcome,
) -> Result<Observed, RetryableError> {
    match read {
        Ok(observed) => Ok(observed),
        Err(failure) if failure.retryable => Err(failure.into()),
        Err(failure) => {
            outcome.action(failed(&failure));
            Ok(Observed {
                problem: Some(failure.to_string()),
                ..Observed::default()
            })
        }
    }
}

impl TaskRecovery {
    pub(crate) async fn handle_invocation(
        &self,
        invocation: Invocation,
    ) -> Result<Outcome, RetryableError> {
        let event_id = event::event_id(&invocation.payload).map(str::to_owned);
        let scope = Scope {
            cluster: &self.config.cluster,
            recheck_queue: &self.config.recheck_queue,
            now: invocation.now,
        };
        match event::parse(&invocation.payload, &scope) {
            Err(NotOurs(why)) => Ok(Outcome::ignored(NAME, event_id.as_deref(), why)),
            Ok(Trigger::TaskStopped(task)) => self.on_stop(&task, &invocation).await,
            Ok(Trigger::ServiceEvent(event)) => self.on_service_event(&event, &invocation).await,
            Ok(Trigger::Rechecks(deliveries)) => self.on_rechecks(deliveries, &invocation).await,
        }
    }

    fn actor<'a>(&'a self, invocation: &'a Invocation) -> Actor<'a> {
        Actor {
            ecs: &self.clients.ecs,
            sqs: &self.clients.sqs,
            ledger: &self.ledger,
            cluster_arn: &self.cluster_arn,
            recheck_queue_url: &self.config.recheck_queue.url,
            recheck_queue_name: &self.config.recheck_queue.name,
            network: &self.config.network,
            dry_run: self.config.dry_run,
            owner: &invocation.request_id,
            now: invocation.now,
        }
    }

    fn publisher(&self) -> NoticePublisher {
        NoticePublisher::new(self.clients.sns.clone(), &self.config.alerts_topic_arn)
    }

    // ---- a stopped task

    async fn on_stop(
        &self,
        task: &StoppedTask,
        invocation: &Invocation,
    ) -> Result<Outcome, RetryableError> {
        let mut outcome = Outcome::handled(NAME, Some(&task.event_id), self.config.dry_run);
        if classify(&task.facts).kind.is_planned() {
            // Nothing to recover: no claim, no AWS call.
            self.stop_flow(task, None, &mut outcome, invocation).await?;
            return Ok(outcome);
        }
        let actor = self.actor(invocation);
        let key = stop_key(task);
        let guard = actor.claim(&key, &mut outcome).await?;
        if let Guard::Done(why) | Guard::Busy(why) = &guard {
            // A duplicate of a delivery another invocation handled or is handling: ignored (the
            // holder's own retries keep its request id and take the claim back if it failed).
            return Ok(Outcome::ignored(NAME, Some(&task.event_id), why.clone()));
        }
        match self
            .stop_flow(task, Some(&actor), &mut outcome, invocation)
            .await
        {
            Ok(()) => {
                let note = outcome.decision.clone().unwrap_or_default();
                actor.finish(&key, &guard, &note, &mut outcome).await;
                Ok(outcome)
            }
            Err(error) => {
                actor.abandon(&key, &guard).await;
                Err(error)
            }
        }
    }

    async fn stop_flow(
        &self,
        task: &StoppedTask,
        actor: Option<&Actor<'_>>,
        outcome: &mut Outcome,
        invocation: &Invocation,
    ) -> Result<(), RetryableError> {
        let ecs = &self.clients.ecs;
        let policy = &self.config.policy;
        let classification = classify(&task.facts);
        let observed = match actor {
            None => Observed::default(),
            Some(_) => observed_or_problem(
                observe::stopped_task(ecs, task, &policy.standalone_families).await,
                outcome,
            )?,
        };
        let plan = plan_stop(task, &classification, &observed, policy, invocation.now);
        let effects = match actor {
            Some(actor) => actor.execute(Some(task), &plan, outcome).await?,
            None => Vec::new(),
        };
        let diagnosis = match &classification.kind {
            _ if plan.severity.is_none() => Diagnosis::default(),
            StopKind::ImageMissing { .. } => Diagnosis::default(),
            StopKind::Crash { container, .. } | StopKind::OutOfMemory { container } => {
                observe::diagnose(
                    ecs,
                    &self.clients.logs,
                    task,
                    Some(container),
                    self.config.log_lines,
                )
                .await
            }
            _ => {
                observe::diagnose(ecs, &self.clients.logs, task, None, self.config.log_lines).await
            }
        };
        let report = StopReport {
            task,
            classification: &classification,
            plan: &plan,
            observed: &observed,
            diagnosis: &diagnosis,
            effects: &effects,
            now: invocation.now,
            source: NAME,
        };
        if let Some(notice) = report::stop_notice(&report) {
            // Once AWS was changed, a retry would repeat work: a publish failure is recorded.
            let retry_is_safe = !effects.iter().any(Effect::changed_aws);
            self.publisher()
                .deliver(notice, outcome, self.config.dry_run, retry_is_safe)
                .await?;
        }
        outcome.decision = Some(plan.decision.slug().to_owned());
        outcome.reason = Some(plan.reason.clone());
        outcome.observed = report::stop_observed(&report);
        Ok(())
    }

    // ---- re-checks (the SQS queue: normally one record)

    async fn on_rechecks(
        &self,
        deliveries: Vec<RecheckDelivery>,
        invocation: &Invocation,
    ) -> Result<Outcome, RetryableError> {
        let mut outcomes = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            outcomes.push(self.on_recheck(delivery, invocation).await?);
        }
        let mut outcomes = outcomes.into_iter();
        let Some(mut first) = outcomes.next() else {
            return Ok(Outcome::ignored(NAME, None, "an SQS event without records"));
        };
        // More than one record (the event source mapping's batch size should be 1): every
        // record was handled; the first one's Outcome carries the others' actions and headlines.
        let others: Vec<String> = outcomes
            .map(|other| {
                first.actions.extend(other.actions.iter().cloned());
                other.headline()
            })
            .collect();
        if !others.is_empty() {
            first.observed["other_records"] = json!(others);
        }
        Ok(first)
    }

    async fn on_recheck(
        &self,
        delivery: RecheckDelivery,
        invocation: &Invocation,
    ) -> Result<Outcome, RetryableError> {
        let recheck = match delivery.recheck {
            Ok(recheck) => recheck,
            Err(NotOurs(why)) => {
                return Ok(Outcome::ignored(NAME, Some(&delivery.message_id), why));
            }
        };
        let id = format!("{}#recheck-{}", recheck.event_id, recheck.attempt);
        let mut outcome = Outcome::handled(NAME, Some(&id), self.config.dry_run);
        let actor = self.actor(invocation);
        if is_early(&recheck, invocation.now) {
            // Sent back to wait, nothing read: no claim (the same attempt comes again).
            self.recheck_flow(&recheck, &actor, &mut outcome, invocation, false)
                .await?;
            return Ok(outcome);
        }
        let key = recheck_key(&recheck);
        let guard = actor.claim(&key, &mut outcome).await?;
        match &guard {
            Guard::Done(why) => return Ok(Outcome::ignored(NAME, Some(&id), why.clone())),
            // SQS hands the message out again after its visibility timeout: by then the holder
            // has finished (and this copy is a duplicate) or its lease has run out.
            Guard::Busy(why) => {
                return Err(RetryableError(format!(
                    "re-check {id}: {why}; retried later"
                )));
            }
            Guard::Go { .. } => {}
        }
        match self
            .recheck_flow(&recheck, &actor, &mut outcome, invocation, true)
            .await
        {
            Ok(()) => {
                outcome.observed["message_id"] = json!(delivery.message_id);
                let note = outcome.decision.clone().unwrap_or_default();
                actor.finish(&key, &guard, &note, &mut outcome).await;
                Ok(outcome)
            }
            Err(error) => {
                actor.abandon(&key, &guard).await;
                Err(error)
            }
        }
    }

    async fn recheck_flow(
        &self,
        recheck: &Recheck,
        actor: &Actor<'_>,
        outcome: &mut Outcome,
        invocation: &Invocation,
        look: bool,
    ) -> Result<(), RetryableError> {
        let observed = if look {
            let read =
                observe::service_state(&self.clients.ecs, &recheck.cluster_arn, &recheck.service)
                    .await
                    .map(|service| Observed {
                        service,
                        ..Observed::default()
                    });
            observed_or_problem(read, outcome)?
        } else {
            Observed::default()
        };
        let plan = plan_recheck(recheck, &observed, &self.config.policy, invocation.now);
        let effects = actor.execute(None, &plan, outcome).await?;
        let cluster = &self.config.cluster;
        let notice = report::recheck_notice(
            recheck,
            &plan,
            &observed,
            &effects,
            (&cluster.region, &cluster.name),
            invocation.now,
            NAME,
        );
        if let Some(notice) = notice {
            let retry_is_safe = !effects.iter().any(Effect::changed_aws);
            self.publisher()
                .deliver(notice, outcome, self.config.dry_run, retry_is_safe)
                .await?;
        }
        outcome.decision = Some(plan.decision.slug().to_owned());
        outcome.reason = Some(plan.reason.clone());
        outcome.observed = report::recheck_observed(recheck, &observed, &effects, invocation.now);
        Ok(())
    }

    // ---- a deployment failure, a rollback, a service problem

    async fn on_service_event(
        &self,
        event: &ServiceEvent,
        invocation: &Invocation,
    ) -> Result<Outcome, RetryableError> {
        let mut outcome = Outcome::handled(NAME, Some(&event.event_id), self.config.dry_run);
        let actor = self.actor(invocation);
        let key = event_key(event);
        let guard = actor.claim(&key, &mut outcome).await?;
        if let Guard::Done(why) | Guard::Busy(why) = &guard {
            return Ok(Outcome::ignored(NAME, Some(&event.event_id), why.clone()));
        }
        let read = observe::service_state(&self.clients.ecs, &self.cluster_arn, &event.service)
            .await
            .map(|service| Observed {
                service,
                ..Observed::default()
            });
        let result = async {
            let observed = observed_or_problem(read, &mut outcome)?;
            let plan = plan_service_event(event);
            let notice =
                report::service_event_notice(event, &plan, &observed, invocation.now, NAME);
            if let Some(notice) = notice {
                self.publisher()
                    .deliver(notice, &mut outcome, self.config.dry_run, true)
                    .await?;
            }
            outcome.decision = Some(plan.decision.slug().to_owned());
            outcome.reason = Some(plan.reason.clone());
            outcome.observed = report::service_event_observed(event, &observed);
            Ok::<(), RetryableError>(())
        }
        .await;
        match result {
            Ok(()) => {
                let note = outcome.decision.clone().unwrap_or_default();
                actor.finish(&key, &guard, &note, &mut outcome).await;
                Ok(outcome)
            }
            Err(error) => {
                actor.abandon(&key, &guard).await;
                Err(error)
            }
        }
    }
}
