//! CloudFormation creating and updating the stack, as far as the ECS service is concerned: the
//! template's `AWS::ECS::TaskDefinition` and `AWS::ECS::Service` are evaluated for the old and the
//! new parameter values; a changed task definition is a new revision, and an update that touches
//! the service calls UpdateService with the new task definition and — **when the template sets
//! `DesiredCount`** — that count, overriding whatever the service runs now. When the property is
//! absent (`AWS::NoValue`), an update leaves the count alone and a new service starts at 1.
//!
//! Sources: `AWS::ECS::Service` `DesiredCount`
//! (<https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ecs-service.html>:
//! "For new services, if a desired count is not specified, a default value of 1 is used… For
//! existing services, if a desired count is not specified, it is omitted from the operation");
//! DESIGN.md "The system over time".

use std::collections::BTreeMap;

use serde_json::Value;

use super::SimError;
use super::template::{Resolver, Scope, Template, text};

/// What a create or update does to the service.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceChange {
    /// The app container's image after the change.
    pub image: String,
    /// A new task definition revision is registered (and deployed).
    pub new_task_definition: bool,
    /// The update calls UpdateService at all.
    pub touches_service: bool,
    /// The `desiredCount` CloudFormation sends (`None`: omitted, the count is left alone).
    pub desired_count: Option<i64>,
    /// Which properties changed, for the narration.
    pub changed: Vec<String>,
}

/// The stack: the template, the world's ids and the current parameter values.
#[derive(Debug, Clone)]
pub struct Stack {
    template: Template,
    resolver: Resolver,
    params: BTreeMap<String, String>,
    service: String,
    task_definition: String,
}

fn first_of(template: &Template, resource_type: &str) -> Result<String, SimError> {
    template
        .resources_of_type(resource_type)
        .into_iter()
        .next()
        .ok_or_else(|| SimError::Template(format!("the template has no {resource_type}")))
}

fn eval_err(e: String) -> SimError {
    SimError::Template(e)
}

impl Stack {
    pub fn new(
        template: Template,
        resolver: Resolver,
        params: BTreeMap<String, String>,
    ) -> Result<Stack, SimError> {
        let service = first_of(&template, "AWS::ECS::Service")?;
        let task_definition = first_of(&template, "AWS::ECS::TaskDefinition")?;
        Ok(Stack {
            template,
            resolver,
            params,
            service,
            task_definition,
        })
    }

    pub fn template(&self) -> &Template {
        &self.template
    }

    /// The parameter overrides in force.
    pub fn params(&self) -> &BTreeMap<String, String> {
        &self.params
    }

    /// An evaluation scope for the current parameters.
    pub fn scope(&self) -> Scope<'_> {
        self.template.scope(&self.params, &self.resolver)
    }

    fn scope_with<'a>(&'a self, params: &BTreeMap<String, String>) -> Scope<'a> {
        self.template.scope(params, &self.resolver)
    }

    /// The service's `DesiredCount` for these parameters (`None`: not set).
    pub fn desired_count(&self) -> Result<Option<i64>, SimError> {
        desired_of(&self.scope(), &self.service)
    }

    /// The app container's image for these parameters.
    pub fn image(&self) -> Result<String, SimError> {
        image_of(&self.scope(), &self.task_definition)
    }

    /// `DeploymentConfiguration.DeploymentCircuitBreaker` (enable, rollback).
    pub fn circuit_breaker(&self) -> Result<(bool, bool), SimError> {
        let config = self
            .scope()
            .property(&self.service, "DeploymentConfiguration")
            .map_err(eval_err)?
            .unwrap_or(Value::Null);
        let breaker = &config["DeploymentCircuitBreaker"];
        let flag = |k: &str| text(&breaker[k]) == "true";
        Ok((flag("Enable"), flag("Rollback")))
    }

    /// Stack creation: the service starts with the template's `DesiredCount`, or 1 without one.
    pub fn create(&self) -> Result<ServiceChange, SimError> {
        Ok(ServiceChange {
            image: self.image()?,
            new_task_definition: true,
            touches_service: true,
            desired_count: Some(self.desired_count()?.unwrap_or(1)),
            changed: vec!["created".into()],
        })
    }

    /// A stack update with new parameter values (the others keep theirs).
    pub fn update(&mut self, changes: &[(&str, &str)]) -> Result<ServiceChange, SimError> {
        let mut next = self.params.clone();
        for (k, v) in changes {
            next.insert((*k).to_owned(), (*v).to_owned());
        }
        let (old_td, old_svc) = {
            let scope = self.scope();
            (
                scope.properties(&self.task_definition).map_err(eval_err)?,
                scope.properties(&self.service).map_err(eval_err)?,
            )
        };
        let (new_td, new_svc, desired, image) = {
            let scope = self.scope_with(&next);
            (
                scope.properties(&self.task_definition).map_err(eval_err)?,
                scope.properties(&self.service).map_err(eval_err)?,
                desired_of(&scope, &self.service)?,
                image_of(&scope, &self.task_definition)?,
            )
        };
        let mut changed = Vec::new();
        if old_td != new_td {
            changed.push(format!("{} (new revision)", self.task_definition));
        }
        if let (Some(old), Some(new)) = (old_svc.as_object(), new_svc.as_object()) {
            for key in old.keys().chain(new.keys()) {
                if old.get(key) != new.get(key) && !changed.iter().any(|c| c == key) {
                    changed.push(key.clone());
                }
            }
        }
        let new_task_definition = old_td != new_td;
        let touches_service = new_task_definition || old_svc != new_svc;
        self.params = next;
        Ok(ServiceChange {
            image,
            new_task_definition,
            touches_service,
            desired_count: if touches_service { desired } else { None },
            changed,
        })
    }
}

fn desired_of(scope: &Scope<'_>, service: &str) -> Result<Option<i64>, SimError> {
    match scope.property(service, "DesiredCount").map_err(eval_err)? {
        None => Ok(None),
        Some(value) => text(&value)
            .parse()
            .map(Some)
            .map_err(|_| SimError::Template(format!("DesiredCount is not a number: {value}"))),
    }
}

fn image_of(scope: &Scope<'_>, task_definition: &str) -> Result<String, SimError> {
    let containers = scope
        .property(task_definition, "ContainerDefinitions")
        .map_err(eval_err)?
        .unwrap_or(Value::Null);
    containers
        .get(0)
        .and_then(|c| c.get("Image"))
        .map(text)
        .ok_or_else(|| SimError::Template("the task definition has no container image".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn stack(desired: &str) -> Stack {
        let text = format!(
            r#"
Parameters:
  AppImageTag: {{ Type: String, Default: "" }}
Conditions:
  HasImage: !Not [!Equals [!Ref AppImageTag, ""]]
Resources:
  TaskDefinition:
    Type: AWS::ECS::TaskDefinition
    Properties:
      ContainerDefinitions:
        - Image: !Sub "repo:${{AppImageTag}}"
  Service:
    Type: AWS::ECS::Service
    Properties:
      TaskDefinition: !Ref TaskDefinition
      DesiredCount: {desired}
"#
        );
        let template = Template::parse(&text, Path::new("t.yaml")).expect("template");
        Stack::new(template, Resolver::new(), BTreeMap::new()).expect("stack")
    }

    #[test]
    fn a_set_desired_count_is_sent_on_every_update_that_touches_the_service() {
        let mut s = stack("!If [HasImage, 2, 0]");
        assert_eq!(s.create().expect("create").desired_count, Some(0));
        let roll = s.update(&[("AppImageTag", "1.0")]).expect("update");
        assert!(roll.new_task_definition && roll.touches_service);
        assert_eq!(roll.image, "repo:1.0");
        assert_eq!(roll.desired_count, Some(2));
        let same = s.update(&[("AppImageTag", "1.0")]).expect("no-op");
        assert!(!same.touches_service);
        assert_eq!(same.desired_count, None);
    }

    #[test]
    fn an_omitted_desired_count_is_left_alone() {
        let mut s = stack("!If [HasImage, !Ref AWS::NoValue, 0]");
        assert_eq!(s.create().expect("create").desired_count, Some(0));
        let roll = s.update(&[("AppImageTag", "1.0")]).expect("update");
        assert!(roll.touches_service);
        assert_eq!(roll.desired_count, None);
        let mut plain = stack("!Ref AWS::NoValue");
        assert_eq!(
            plain.create().expect("create").desired_count,
            Some(1),
            "a new service without DesiredCount starts at 1"
        );
        assert_eq!(
            plain
                .update(&[("AppImageTag", "2")])
                .expect("u")
                .desired_count,
            None
        );
    }
}
