//! How the template wires the system, read from `infra/template.yaml` for one set of parameters:
//! each function's Lambda settings, environment, triggers (EventBridge rules and schedules, SNS
//! topics, SQS queues) and the SNS subscriptions people read. The scenarios route every event
//! through exactly these wires, so a rule or filter missing from the template is missing from the
//! scenario too.
//!
//! Sources: SAM `AWS::Serverless::Function` event sources (`EventBridgeRule`, `Schedule`, `SNS`,
//! `SQS`) and `EventInvokeConfig`
//! (<https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-resource-function.html>);
//! `AWS::Events::Rule` targets; `AWS::SNS::Subscription` `FilterPolicy`/`FilterPolicyScope`.

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use chrono::Duration;
use serde_json::Value as Json;

use super::filter::FilterPolicy;
use super::lambda::LambdaSettings;
use super::template::{Scope, text};

/// A function's triggers and settings.
#[derive(Debug, Clone)]
pub struct FunctionWiring {
    pub settings: LambdaSettings,
    /// Whether the function exists with these parameters.
    pub exists: bool,
    /// `Environment.Variables`, evaluated (placeholders where the world has no id).
    pub environment: BTreeMap<String, String>,
    /// EventBridge patterns that send events to it (its own rules and standalone rules).
    pub event_patterns: Vec<Json>,
    /// Schedules (`rate(…)`; `cron(…)` is kept as text, not simulated).
    pub schedules: Vec<Schedule>,
    /// SNS topics (ARNs) it subscribes to, with their filter policies.
    pub sns_topics: Vec<(String, Option<FilterPolicy>)>,
    /// SQS queues it reads.
    pub sqs_sources: Vec<SqsSource>,
}

/// An EventBridge schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub expression: String,
    /// The period of a `rate(…)` expression.
    pub every: Option<Duration>,
}

/// An SQS event source mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct SqsSource {
    /// The queue's logical id.
    pub queue: String,
    pub batch_size: u32,
    /// The queue's `VisibilityTimeout` (SQS's default 30 s).
    pub visibility_timeout: Duration,
    /// The queue's `DelaySeconds` (default 0).
    pub delay: Duration,
    /// `RedrivePolicy.maxReceiveCount`, when the queue has a DLQ.
    pub max_receive_count: Option<u32>,
}

/// An SNS subscription resource.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub logical_id: String,
    pub exists: bool,
    pub topic: String,
    pub protocol: String,
    pub filter: Option<FilterPolicy>,
}

/// The whole wiring.
#[derive(Debug, Clone, Default)]
pub struct Wiring {
    pub functions: Vec<FunctionWiring>,
    pub subscriptions: Vec<Subscription>,
}

fn number(value: Option<Json>) -> Option<i64> {
    value.and_then(|v| text(&v).parse().ok())
}

/// `rate(1 minute)`, `rate(5 minutes)`, `rate(2 hours)`.
pub fn parse_rate(expression: &str) -> Option<Duration> {
    let inner = expression.strip_prefix("rate(")?.strip_suffix(')')?;
    let (n, unit) = inner.trim().split_once(' ')?;
    let n: i64 = n.parse().ok()?;
    match unit.trim_end_matches('s') {
        "minute" => Some(Duration::minutes(n)),
        "hour" => Some(Duration::hours(n)),
        "day" => Some(Duration::days(n)),
        _ => None,
    }
}

/// The logical id in `<GetAtt X.Arn>`/`<Ref X>` placeholders or in a resolved ARN/URL whose last
/// segment is the logical id (the runner names simulated queues after their logical ids).
fn logical_of(reference: &str) -> String {
    let trimmed = reference
        .trim_start_matches("<GetAtt ")
        .trim_start_matches("<Ref ")
        .trim_end_matches('>');
    let last = trimmed
        .rsplit(['/', ':'])
        .next()
        .unwrap_or(trimmed)
        .to_owned();
    last.split('.').next().unwrap_or(&last).to_owned()
}

impl Wiring {
    /// Reads the wiring for the parameters of `scope`.
    pub fn read(scope: &Scope<'_>) -> Result<Wiring, String> {
        let template = scope.template;
        let mut functions = Vec::new();
        for logical in template.resources_of_type("AWS::Serverless::Function") {
            functions.push(read_function(scope, &logical)?);
        }
        // Standalone rules whose targets are our functions.
        for rule in template.resources_of_type("AWS::Events::Rule") {
            if !scope.exists(&rule)? {
                continue;
            }
            let properties = scope.properties(&rule)?;
            let Some(pattern) = properties.get("EventPattern").cloned() else {
                continue;
            };
            for target in properties["Targets"].as_array().into_iter().flatten() {
                let arn = text(&target["Arn"]);
                if let Some(function) = functions
                    .iter_mut()
                    .find(|f| logical_of(&arn) == f.settings.logical_id)
                {
                    function.event_patterns.push(pattern.clone());
                }
            }
        }
        // Event source mappings declared as resources (not as SAM events).
        for mapping in template.resources_of_type("AWS::Lambda::EventSourceMapping") {
            if !scope.exists(&mapping)? {
                continue;
            }
            let properties = scope.properties(&mapping)?;
            let enabled = properties
                .get("Enabled")
                .map(|e| text(e) != "false")
                .unwrap_or(true);
            let function = logical_of(&text(&properties["FunctionName"]));
            let queue = logical_of(&text(&properties["EventSourceArn"]));
            if !enabled || template.resource_type(&queue) != Some("AWS::SQS::Queue") {
                continue;
            }
            if let Some(f) = functions
                .iter_mut()
                .find(|f| f.settings.logical_id == function)
            {
                f.sqs_sources.push(sqs_source(
                    scope,
                    queue,
                    number(properties.get("BatchSize").cloned()),
                ));
            }
        }
        let mut subscriptions = Vec::new();
        for logical in template.resources_of_type("AWS::SNS::Subscription") {
            let properties = scope.properties(&logical)?;
            subscriptions.push(Subscription {
                exists: scope.exists(&logical)?,
                topic: text(&properties["TopicArn"]),
                protocol: text(&properties["Protocol"]),
                filter: properties.get("FilterPolicy").and_then(|p| {
                    FilterPolicy::new(
                        p,
                        properties.get("FilterPolicyScope").and_then(Json::as_str),
                    )
                }),
                logical_id: logical,
            });
        }
        Ok(Wiring {
            functions,
            subscriptions,
        })
    }

    /// A function by its binary name (`task-recovery`).
    pub fn function(&self, binary: &str) -> Option<&FunctionWiring> {
        self.functions
            .iter()
            .find(|f| f.settings.function == binary)
    }

    /// Subscriptions that reach people (e-mail, SMS), existing with these parameters.
    pub fn people(&self) -> Vec<&Subscription> {
        self.subscriptions
            .iter()
            .filter(|s| s.exists && matches!(s.protocol.as_str(), "email" | "email-json" | "sms"))
            .collect()
    }
}

/// An SQS event source on `queue` (its visibility timeout, delay and redrive from the template).
fn sqs_source(scope: &Scope<'_>, queue: String, batch_size: Option<i64>) -> SqsSource {
    let queue_properties = scope.properties(&queue).unwrap_or(Json::Null);
    SqsSource {
        batch_size: batch_size.and_then(|n| u32::try_from(n).ok()).unwrap_or(10),
        visibility_timeout: Duration::seconds(
            number(queue_properties.get("VisibilityTimeout").cloned()).unwrap_or(30),
        ),
        delay: Duration::seconds(
            number(queue_properties.get("DelaySeconds").cloned()).unwrap_or(0),
        ),
        max_receive_count: queue_properties
            .pointer("/RedrivePolicy/maxReceiveCount")
            .cloned()
            .and_then(|n| number(Some(n)))
            .and_then(|n| u32::try_from(n).ok()),
        queue,
    }
}

fn read_function(scope: &Scope<'_>, logical: &str) -> Result<FunctionWiring, String> {
    let template = scope.template;
    let binary = template
        .resource(logical)
        .and_then(|r| serde_json::to_value(r).ok())
        .and_then(|r| {
            r.pointer("/Metadata/BuildProperties/Binary")
                .and_then(Json::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| logical.to_owned());
    let invoke_config = scope.property(logical, "EventInvokeConfig")?;
    let settings = LambdaSettings {
        function: binary,
        logical_id: logical.to_owned(),
        timeout: StdDuration::from_secs(
            number(scope.property(logical, "Timeout")?)
                .and_then(|t| u64::try_from(t).ok())
                .unwrap_or(3),
        ),
        async_retries: invoke_config
            .as_ref()
            .and_then(|c| number(c.get("MaximumRetryAttempts").cloned()))
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(2),
        max_event_age: Duration::seconds(
            invoke_config
                .as_ref()
                .and_then(|c| number(c.get("MaximumEventAgeInSeconds").cloned()))
                .unwrap_or(21_600),
        ),
        reserved_concurrency: number(scope.property(logical, "ReservedConcurrentExecutions")?)
            .and_then(|n| u32::try_from(n).ok()),
    };
    let environment = scope
        .property(logical, "Environment")?
        .and_then(|e| e.get("Variables").cloned())
        .and_then(|v| v.as_object().cloned())
        .map(|vars| vars.iter().map(|(k, v)| (k.clone(), text(v))).collect())
        .unwrap_or_default();
    let mut wiring = FunctionWiring {
        exists: scope.exists(logical)?,
        settings,
        environment,
        event_patterns: Vec::new(),
        schedules: Vec::new(),
        sns_topics: Vec::new(),
        sqs_sources: Vec::new(),
    };
    let events = scope.property(logical, "Events")?.unwrap_or(Json::Null);
    for (_, event) in events.as_object().into_iter().flatten() {
        let properties = &event["Properties"];
        match event["Type"].as_str().unwrap_or_default() {
            "EventBridgeRule" | "CloudWatchEvent" => {
                if let Some(pattern) = properties.get("Pattern") {
                    wiring.event_patterns.push(pattern.clone());
                }
            }
            "Schedule" | "ScheduleV2" => {
                let expression = text(
                    properties
                        .get("Schedule")
                        .or_else(|| properties.get("ScheduleExpression"))
                        .unwrap_or(&Json::Null),
                );
                let enabled = properties
                    .get("Enabled")
                    .map(|e| text(e) != "false")
                    .unwrap_or(true);
                if enabled {
                    wiring.schedules.push(Schedule {
                        every: parse_rate(&expression),
                        expression,
                    });
                }
            }
            "SNS" => wiring.sns_topics.push((
                text(&properties["Topic"]),
                properties.get("FilterPolicy").and_then(|p| {
                    FilterPolicy::new(
                        p,
                        properties.get("FilterPolicyScope").and_then(Json::as_str),
                    )
                }),
            )),
            "SQS" => {
                let queue = logical_of(&text(&properties["Queue"]));
                let batch = number(properties.get("BatchSize").cloned());
                wiring.sqs_sources.push(sqs_source(scope, queue, batch));
            }
            _ => {}
        }
    }
    Ok(wiring)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::template::{Resolver, Template};

    #[test]
    fn rates_are_read_and_references_name_their_resource() {
        assert_eq!(parse_rate("rate(1 minute)"), Some(Duration::minutes(1)));
        assert_eq!(parse_rate("rate(5 minutes)"), Some(Duration::minutes(5)));
        assert_eq!(parse_rate("cron(0 3 * * ? *)"), None);
        assert_eq!(logical_of("<GetAtt RecheckQueue.Arn>"), "RecheckQueue");
        assert_eq!(
            logical_of("arn:aws:sqs:eu-west-1:123456789012:RecheckQueue"),
            "RecheckQueue"
        );
        assert_eq!(
            logical_of("arn:aws:lambda:eu-west-1:1:function:TaskRecoveryFunction"),
            "TaskRecoveryFunction"
        );
    }

    #[test]
    fn the_repository_template_wires_every_function() {
        let template = Template::from_repo().expect("template");
        let resolver = Resolver::new();
        let wiring = Wiring::read(&template.scope(&BTreeMap::new(), &resolver)).expect("wiring");
        for name in [
            "task-recovery",
            "request-scaler",
            "alarm-notifier",
            "backup",
        ] {
            let function = wiring.function(name).expect("function in the template");
            assert!(function.exists);
            assert!(function.settings.timeout.as_secs() >= 1);
        }
        let scaler = wiring.function("request-scaler").expect("scaler");
        assert!(
            scaler
                .schedules
                .iter()
                .any(|s| s.every == Some(Duration::minutes(1)))
        );
        let recovery = wiring.function("task-recovery").expect("task-recovery");
        assert!(!recovery.event_patterns.is_empty());
        let notifier = wiring.function("alarm-notifier").expect("notifier");
        assert!(!notifier.sns_topics.is_empty());
        let mappings = template.resources_of_type("AWS::Lambda::EventSourceMapping");
        assert_eq!(
            mappings.is_empty(),
            wiring.functions.iter().all(|f| f.sqs_sources.is_empty()),
            "every event source mapping of the template feeds a function"
        );
        let with_people: BTreeMap<String, String> =
            [("OncallEmail".to_owned(), "oncall@example.com".to_owned())].into();
        let people = Wiring::read(&template.scope(&with_people, &resolver)).expect("wiring");
        assert!(!people.people().is_empty(), "someone is on call");
    }
}
