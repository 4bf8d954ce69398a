//! What people and CloudFormation do: stack updates and their rollback, image pushes,
//! desired counts set by hand, crashes, Slack outages, traffic.

use std::collections::BTreeMap;

use phoenix_testkit::sim::SimError;
use phoenix_testkit::sim::cloudformation::ServiceChange;
use phoenix_testkit::sim::ecs::{Image, image_tag};
use phoenix_testkit::slack_sink::Reply;
use phoenix_testkit::world::{self, StopScenario};

use super::{Sim, error_chain, seed_err};

impl Sim {
    pub(super) async fn apply_stack_change(
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
    pub(super) async fn apply_stack_change_with(
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

    pub(super) async fn rollback_stack(
        &mut self,
        previous: BTreeMap<String, String>,
    ) -> Result<(), SimError> {
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
}
