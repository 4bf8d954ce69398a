// pure: the typed message and what identifies it; no I/O, no clock
//! Everything the notifier tells people, typed: a CloudWatch alarm state change, a phoenix-ops
//! Notice (a function's own message, the daily digest included), a DocumentDB event, or plain
//! text (anything else, never dropped).

use phoenix_core::text::redact_secrets;
use phoenix_core::{Notice, Severity};

use crate::alarm::Alarm;
use crate::docdb::DbEvent;

/// The Notice source of the daily digest (`source: "daily-digest"`).
pub const DIGEST_SOURCE: &str = "daily-digest";

/// A message that is none of the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainText {
    pub subject: Option<String>,
    pub body: String,
}

/// Everything the notifier renders.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Alarm(Box<Alarm>),
    Notice(Box<Notice>),
    Database(Box<DbEvent>),
    Text(PlainText),
}

impl Message {
    /// `metric-alarm`, `notice`, `daily-digest`, `docdb-event`, `plain-text`, ...
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Alarm(a) => a.kind.name(),
            Self::Notice(n) if is_digest(n) => "daily-digest",
            Self::Notice(_) => "notice",
            Self::Database(_) => "docdb-event",
            Self::Text(_) => "plain-text",
        }
    }

    /// How urgent it is for people: the `severity` attribute of the `oncall` publish, which
    /// people's subscriptions filter on (warning and above by default). Slack shows everything.
    /// Plain text is a warning: nobody knows what it says until a person reads it.
    pub fn severity(&self) -> Severity {
        match self {
            Self::Alarm(alarm) => alarm.severity(),
            Self::Notice(notice) => notice.severity.clone(),
            Self::Database(event) => event.severity(),
            Self::Text(_) => Severity::Warning,
        }
    }

    /// What identifies the content whatever path it came by (an alarm state change reaches the
    /// notifier by SNS and by EventBridge alike), when the content carries an identity of its
    /// own: the alarm's ARN, state and change time; the Notice's source, event id and title;
    /// the database event's source, code and date. Plain text has none.
    pub fn identity(&self) -> Option<String> {
        match self {
            Self::Alarm(alarm) => Some(alarm.identity()),
            Self::Notice(notice) => notice
                .event_id
                .as_deref()
                .filter(|id| !id.trim().is_empty())
                .map(|id| format!("notice:{}:{id}:{}", notice.source, notice.title)),
            Self::Database(event) => Some(event.identity()),
            Self::Text(_) => None,
        }
    }

    /// One line for the Outcome: `metric-alarm phoenix-cpu-high ALARM`, `notice "title"`.
    pub fn describe(&self) -> String {
        match self {
            Self::Alarm(alarm) => format!("{} {} {}", alarm.kind.name(), alarm.name, alarm.state),
            Self::Notice(notice) => format!("{} \"{}\"", self.kind(), notice.title),
            Self::Database(event) => format!(
                "docdb-event {} {}: {}",
                event.source_type.noun(),
                event.source_id,
                event.code.as_deref().unwrap_or("event")
            ),
            Self::Text(text) => format!(
                "plain-text \"{}\"",
                text.subject.as_deref().unwrap_or("(no subject)")
            ),
        }
    }
}

/// True for the daily digest Notice.
pub fn is_digest(notice: &Notice) -> bool {
    notice.source == DIGEST_SOURCE
}

/// Removes secrets from the parts of a message whose text nobody in phoenix-ops wrote: plain
/// text published to `alerts` by anyone, and a Notice's `details` (log lines of a dead
/// container). The producers redact already; this is the last line before people's channels.
pub fn redacted(message: Message) -> Message {
    match message {
        Message::Text(text) => Message::Text(PlainText {
            subject: text.subject.map(|s| redact_secrets(&s)),
            body: redact_secrets(&text.body),
        }),
        Message::Notice(mut notice) => {
            notice.details = notice.details.map(|d| redact_secrets(&d));
            Message::Notice(notice)
        }
        other => other,
    }
}
