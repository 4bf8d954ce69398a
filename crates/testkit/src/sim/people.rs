//! People: who gets paged. Every message published to a topic is offered to each person's
//! subscription (e-mail, SMS) to that topic in the template, through its `FilterPolicy` as SNS
//! would apply it (on the `severity` message attribute that the notifier sets; a CloudWatch alarm
//! action carries no attribute at all). Slack gets everything the notifier posts; that is the real
//! local sink.
//!
//! Source: <https://docs.aws.amazon.com/sns/latest/dg/sns-subscription-filter-policies.html>;
//! the filter itself is [`super::filter::FilterPolicy`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::filter::FilterPolicy;
use super::wiring::Wiring;

/// One message published to `oncall`.
#[derive(Debug, Clone, PartialEq)]
pub struct OncallMessage {
    pub at: DateTime<Utc>,
    /// Who published it (`alarm-notifier#2`, `cloudwatch`).
    pub by: String,
    /// The topic it was published to.
    pub topic: String,
    pub subject: String,
    pub attributes: BTreeMap<String, String>,
    pub body: String,
    /// What it is about (the alerts message it renders), for "once" and "justified" checks.
    pub about: String,
}

impl OncallMessage {
    pub fn severity(&self) -> Option<&str> {
        self.attributes.get("severity").map(String::as_str)
    }
}

/// The people on call.
#[derive(Debug, Clone, Default)]
pub struct Oncall {
    /// Each person's subscription: topic, logical id, filter (`None`: everything pages).
    subscribers: Vec<(String, String, Option<FilterPolicy>)>,
    /// Messages that paged at least one person.
    pub pages: Vec<OncallMessage>,
    /// Messages no person received (filtered out, or nobody subscribed).
    pub unseen: Vec<OncallMessage>,
}

impl Oncall {
    /// The people subscribed to any topic in the template's wiring.
    pub fn from_wiring(wiring: &Wiring) -> Oncall {
        Oncall {
            subscribers: wiring
                .people()
                .into_iter()
                .map(|s| (s.topic.clone(), s.logical_id.clone(), s.filter.clone()))
                .collect(),
            ..Oncall::default()
        }
    }

    /// Whether anybody is subscribed to a topic.
    pub fn listens_to(&self, topic: &str) -> bool {
        self.subscribers.iter().any(|(t, _, _)| t == topic)
    }

    /// How many people's subscriptions there are.
    pub fn subscribers(&self) -> usize {
        self.subscribers.len()
    }

    /// A description of the filters, for the narration.
    pub fn describe(&self) -> String {
        if self.subscribers.is_empty() {
            return "nobody is subscribed to oncall".to_owned();
        }
        self.subscribers
            .iter()
            .map(|(_, id, filter)| match filter {
                Some(f) => format!("{id} filters on {}", f.policy),
                None => format!("{id} has no filter (every message pages)"),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Offers one message to everybody; true when it paged someone.
    pub fn receive(&mut self, message: OncallMessage) -> bool {
        let paged = self
            .subscribers
            .iter()
            .filter(|(topic, _, _)| *topic == message.topic)
            .any(|(_, _, filter)| match filter {
                Some(filter) => filter.accepts(&message.attributes, &message.body),
                None => true,
            });
        if paged {
            self.pages.push(message);
        } else {
            self.unseen.push(message);
        }
        paged
    }
}
