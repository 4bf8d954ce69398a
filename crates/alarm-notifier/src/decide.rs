// pure: what to send where, from the message and what the ledger said; no I/O, no clock
//! The notifier's decisions: for each message, the rendered form and, per channel (Slack,
//! `oncall`), whether to deliver it now, under which ledger key, or why not; then, from what
//! happened, the one [`Decision`] the Outcome reports, with its wording in one place.
//!
//! **Once across containers.** SNS and EventBridge deliver at least once, and two deliveries
//! of one message may land in two containers at the same time. Each channel of each message has
//! a ledger key (`alarm-notifier:<channel>:<identity>`, see [`ledger_key`]): the adapter claims
//! it before delivering, completes it after, and releases it when the delivery failed, so
//! Lambda's retry redoes only the channel that failed and a duplicate elsewhere delivers
//! nothing. The rules for what the ledger said are here, in [`plan`]:
//!
//! | the ledger says | step |
//! | --- | --- |
//! | nothing (or expired) | deliver, guarded by the key |
//! | held by this invocation's earlier attempt (same request id: a Lambda retry) | deliver, guarded |
//! | done | skip: already delivered |
//! | held by another invocation | claim: skip while its lease runs (it delivers it, or its own retry does); take over after |
//! | unreadable, and a retry can help | postpone: no delivery now, the invocation fails and is retried |
//! | unreadable for good (no table, no permission) | deliver **unguarded**: a page twice beats no page |
//! | (no identity: a bare message invoked by hand) | deliver unguarded |
//!
//! Dry runs read the ledger and report what they would do; they never write it.

use chrono::{DateTime, Duration, Utc};

use crate::alarm::{Alarm, AlarmState};
use crate::event::Incoming;
use crate::message::Message;
use crate::render::{RenderContext, Rendered, render};

/// Every ledger key of the notifier starts with this (the table is shared by every function).
pub const KEY_PREFIX: &str = "alarm-notifier";
/// The owner of the alarm-start entries (not a claim: any container may update them).
pub const ALARM_START_OWNER: &str = "alarm-notifier";
/// How long the start of an ALARM is remembered (an OK after longer says no duration).
pub const ALARM_START_KEEP_DAYS: i64 = 14;

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The Slack incoming webhook (Block Kit).
    Slack,
    /// The `oncall` SNS topic (plain text for e-mail/SMS, with a `severity` attribute).
    Oncall,
}

impl Channel {
    pub const ALL: [Channel; 2] = [Channel::Slack, Channel::Oncall];

    pub fn name(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::Oncall => "oncall",
        }
    }

    /// The Outcome's `call` label. `slack:IncomingWebhook` is not an AWS call (no IAM action).
    pub fn call(self) -> &'static str {
        match self {
            Self::Slack => "slack:IncomingWebhook",
            Self::Oncall => "sns:Publish",
        }
    }

    /// `Slack`, `oncall`: in sentences.
    pub fn label(self) -> &'static str {
        match self {
            Self::Slack => "Slack",
            Self::Oncall => "oncall",
        }
    }
}

/// What the decisions depend on beyond the message.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub dry_run: bool,
    /// `DASHBOARD_URL`: a button on every Slack message, a line in every on-call text.
    pub dashboard_url: Option<String>,
    /// This invocation's request id (the ledger owner; a Lambda retry keeps it).
    pub request_id: String,
}

/// What the ledger said about one key, before acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// No live entry.
    Free,
    /// Held by an earlier attempt of this invocation (the same request id): that attempt is
    /// over (Lambda retries only after it ended), so this one takes over.
    Mine,
    Done {
        at: DateTime<Utc>,
        note: String,
    },
    /// Held by another invocation since `at`. Whether its lease still runs only the claim can
    /// tell (the lease may have run out: then the claim takes the key over).
    Held {
        at: DateTime<Utc>,
        by: String,
    },
    Unreadable {
        why: String,
        retryable: bool,
    },
}

/// What observe read for one message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Observed {
    /// Per channel, in [`Channel::ALL`] order; `None` when the message has no identity.
    pub seen: [Option<Seen>; 2],
    /// When the ALARM that this OK ends began, as remembered in the ledger.
    pub alarm_started: Option<DateTime<Utc>>,
    /// Why the remembered start could not be read (the message goes out without a duration).
    pub alarm_start_problem: Option<String>,
}

/// Why a channel is not delivered to now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    AlreadyDone {
        at: DateTime<Utc>,
        note: String,
    },
    /// Another invocation holds the key (its lease runs until `until`, when the claim said so).
    HeldElsewhere {
        until: Option<DateTime<Utc>>,
        by: String,
    },
}

impl Skip {
    /// `already delivered at …: posted to …`, in one place.
    pub fn describe(&self, now: DateTime<Utc>) -> String {
        match self {
            Self::AlreadyDone { at, note } => format!(
                "already delivered {} s ago ({note}): not sent again",
                (now - *at).num_seconds().max(0)
            ),
            Self::HeldElsewhere { until, by } => format!(
                "being delivered by another invocation ({by}{}): it delivers it, or its own retry does",
                until
                    .map(|t| format!(", lease until {}", t.format("%H:%M:%S UTC")))
                    .unwrap_or_default()
            ),
        }
    }
}

/// What to do on one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Claim `key`, deliver, complete it (release it when the delivery fails).
    Deliver {
        key: String,
    },
    /// Deliver without the ledger, for this reason.
    DeliverUnguarded {
        why: String,
    },
    Skip(Skip),
    /// The ledger cannot be read now and a retry can help: nothing is delivered, the
    /// invocation fails and Lambda retries it.
    Postpone {
        why: String,
    },
    /// Dry run: what a real run would do.
    WouldDeliver,
    WouldSkip(Skip),
}

/// One channel's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelPlan {
    pub channel: Channel,
    pub step: Step,
}

/// Everything decided about one message.
#[derive(Debug, Clone, PartialEq)]
pub struct MessagePlan {
    /// `metric-alarm phoenix-cpu-high ALARM`.
    pub what: String,
    pub kind: &'static str,
    pub rendered: Rendered,
    pub lasted: Option<Duration>,
    /// The identity behind the ledger keys (none: delivered unguarded).
    pub identity: Option<String>,
    pub channels: Vec<ChannelPlan>,
    /// Remember when this ALARM began (`key`, start), for the duration on its OK.
    pub remember_alarm_start: Option<(String, DateTime<Utc>)>,
}

/// The ledger key of one channel of one message.
pub fn ledger_key(channel: Channel, identity: &str) -> String {
    format!("{KEY_PREFIX}:{}:{identity}", channel.name())
}

/// The ledger key under which the start of an alarm's ALARM state is kept.
pub fn alarm_start_key(alarm: &Alarm) -> String {
    format!("{KEY_PREFIX}:alarm-since:{}", alarm.who())
}

/// True when the message ends an ALARM whose start the message does not carry (SNS alarm
/// messages never do; EventBridge events do): the start must be read from the ledger.
pub fn needs_alarm_start(alarm: &Alarm) -> bool {
    alarm.state != AlarmState::Alarm
        && alarm.previous == Some(AlarmState::Alarm)
        && alarm.previous_since.is_none()
        && alarm.changed_at.is_some()
}

/// How long the alarm that just ended lasted, when known: an OK (or INSUFFICIENT_DATA) after
/// ALARM, from the previous state's start in the event (EventBridge), else from the start
/// remembered in the ledger when the ALARM was handled.
pub fn alarm_lasted(alarm: &Alarm, remembered_start: Option<DateTime<Utc>>) -> Option<Duration> {
    if alarm.state == AlarmState::Alarm || alarm.previous != Some(AlarmState::Alarm) {
        return None;
    }
    let start = alarm.previous_since.or(remembered_start)?;
    let end = alarm.changed_at?;
    let lasted = end.signed_duration_since(start);
    (lasted >= Duration::zero()).then_some(lasted)
}

fn step(seen: Option<&Seen>, channel: Channel, identity: Option<&str>, dry_run: bool) -> Step {
    let (Some(seen), Some(identity)) = (seen, identity) else {
        return if dry_run {
            Step::WouldDeliver
        } else {
            Step::DeliverUnguarded {
                why: "the message has no identity to recognise a repeat by".into(),
            }
        };
    };
    let deliver = Step::Deliver {
        key: ledger_key(channel, identity),
    };
    match (seen, dry_run) {
        (Seen::Done { at, note }, _) => {
            let skip = Skip::AlreadyDone {
                at: *at,
                note: note.clone(),
            };
            if dry_run {
                Step::WouldSkip(skip)
            } else {
                Step::Skip(skip)
            }
        }
        (Seen::Held { by, .. }, true) => Step::WouldSkip(Skip::HeldElsewhere {
            until: None,
            by: by.clone(),
        }),
        (_, true) => Step::WouldDeliver,
        // the claim decides: the other holder's lease may have run out
        (Seen::Held { .. } | Seen::Free | Seen::Mine, false) => deliver,
        (
            Seen::Unreadable {
                why,
                retryable: true,
            },
            false,
        ) => Step::Postpone {
            why: format!("the ledger cannot be read now: {why}"),
        },
        (Seen::Unreadable { why, .. }, false) => Step::DeliverUnguarded {
            why: format!("the ledger cannot be used: {why}"),
        },
    }
}

/// Decides one message: its rendered form, and per channel what to do.
pub fn plan(incoming: &Incoming, observed: &Observed, settings: &Settings) -> MessagePlan {
    let message = &incoming.message;
    let lasted = match message {
        Message::Alarm(alarm) => alarm_lasted(alarm, observed.alarm_started),
        _ => None,
    };
    let context = RenderContext {
        lasted,
        trace: incoming.via.trace(),
        dashboard_url: settings.dashboard_url.clone(),
    };
    let identity = incoming.identity();
    let channels = Channel::ALL
        .iter()
        .zip(&observed.seen)
        .map(|(channel, seen)| ChannelPlan {
            channel: *channel,
            step: step(
                seen.as_ref(),
                *channel,
                identity.as_deref(),
                settings.dry_run,
            ),
        })
        .collect();
    let remember_alarm_start = match message {
        Message::Alarm(alarm) if alarm.state == AlarmState::Alarm && !settings.dry_run => alarm
            .changed_at
            .map(|start| (alarm_start_key(alarm), start)),
        _ => None,
    };
    MessagePlan {
        what: message.describe(),
        kind: message.kind(),
        rendered: render(message, &context),
        lasted,
        identity,
        channels,
        remember_alarm_start,
    }
}

/// What happened on one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Delivered now (`detail`: how), guarded by the ledger or not.
    Sent {
        detail: String,
        guarded: bool,
    },
    Skipped(Skip),
    /// Dry run: would be delivered, or skipped.
    WouldSend,
    WouldSkip(Skip),
    /// Not delivered: why. The invocation fails (never a silent success).
    Failed {
        why: String,
    },
}

/// What the act step did for one message.
#[derive(Debug, Clone, Default)]
pub struct Acted {
    pub deliveries: Vec<(Channel, Delivery)>,
    /// Ledger work beside the deliveries (the alarm's start) and ledger failures.
    pub actions: Vec<phoenix_core::Action>,
}

/// What the Outcome says about an invocation, with its wording in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// At least one channel was delivered now, the others earlier or elsewhere.
    Delivered,
    /// Nothing sent now: every channel was already delivered or is being delivered elsewhere.
    CollapsedDuplicate,
    /// Rendered and reported, nothing sent.
    DryRun,
    /// A channel could not be delivered: the invocation fails and is retried.
    DeliveryFailed,
}

impl Decision {
    pub fn name(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::CollapsedDuplicate => "collapsed-duplicate",
            Self::DryRun => "dry-run",
            Self::DeliveryFailed => "delivery-failed",
        }
    }

    /// The decision for one message, from what happened on its channels.
    pub fn of(deliveries: &[Delivery]) -> Decision {
        let any = |f: fn(&Delivery) -> bool| deliveries.iter().any(f);
        if any(|d| matches!(d, Delivery::Failed { .. })) {
            Decision::DeliveryFailed
        } else if any(|d| matches!(d, Delivery::WouldSend | Delivery::WouldSkip(_))) {
            Decision::DryRun
        } else if any(|d| matches!(d, Delivery::Sent { .. })) {
            Decision::Delivered
        } else {
            Decision::CollapsedDuplicate
        }
    }

    /// The Outcome's reason for one message: `metric-alarm x ALARM: posted to Slack and
    /// published to oncall`.
    pub fn reason(self, what: &str, deliveries: &[(Channel, Delivery)]) -> String {
        let parts: Vec<String> = deliveries
            .iter()
            .map(|(channel, delivery)| match delivery {
                Delivery::Sent { .. } => match channel {
                    Channel::Slack => "posted to Slack".to_owned(),
                    Channel::Oncall => "published to oncall".to_owned(),
                },
                Delivery::Skipped(Skip::AlreadyDone { .. })
                | Delivery::WouldSkip(Skip::AlreadyDone { .. }) => {
                    format!("{} already delivered", channel.label())
                }
                Delivery::Skipped(Skip::HeldElsewhere { .. })
                | Delivery::WouldSkip(Skip::HeldElsewhere { .. }) => {
                    format!("{} being delivered by another invocation", channel.label())
                }
                Delivery::WouldSend => format!("{} would be sent", channel.label()),
                Delivery::Failed { why } => format!("{}: {why}", channel.label()),
            })
            .collect();
        let tail = match self {
            Self::Delivered | Self::DeliveryFailed => "",
            Self::CollapsedDuplicate => " (a repeated delivery): nothing sent again",
            Self::DryRun => " (dry run): nothing sent",
        };
        format!("{what}: {}{tail}", parts.join(", "))
    }
}

/// The decision for the whole invocation: the messages' own when they agree, else
/// `delivery-failed` if any failed, else `delivered`.
pub fn overall(decisions: &[Decision]) -> Decision {
    match decisions.first() {
        Some(first) if decisions.iter().all(|d| d == first) => *first,
        _ if decisions.contains(&Decision::DeliveryFailed) => Decision::DeliveryFailed,
        _ => Decision::Delivered,
    }
}
