//! The Notice: the one message every phoenix-ops function publishes to the `alerts` topic when a
//! human should know something. The alarm-notifier renders it for Slack and on-call.

use aws_sdk_sns::types::MessageAttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::aws::AwsFailure;
use crate::outcome::{Action, ActionStatus, NoticeDelivery, Outcome};
use crate::text::truncate_chars;

/// Marks a JSON message as a Notice (and its version), so the notifier can tell it from a
/// CloudWatch alarm message.
pub const NOTICE_SCHEMA: &str = "phoenix-ops/notice@1";

/// SNS subjects: ASCII, one line, at most 100 characters.
const SNS_SUBJECT_MAX: usize = 100;
/// Longest `details` block kept in a Notice (SNS messages are capped at 256 KB; Slack shows far
/// less). The notifier truncates again to its own limits.
pub const DETAILS_MAX_CHARS: usize = 8_000;

crate::string_enum! {
    /// How urgent a Notice is.
    pub enum Severity {
        Info = "info",
        Warning = "warning",
        Error = "error",
        Critical = "critical",
    }
}

impl Severity {
    /// Upper-case label for subjects and plain text.
    pub fn label(&self) -> String {
        self.as_str().to_ascii_uppercase()
    }

    /// Urgency order (an unknown severity ranks as a warning).
    pub fn rank(&self) -> u8 {
        match self {
            Self::Info => 0,
            Self::Warning | Self::Unknown(_) => 1,
            Self::Error => 2,
            Self::Critical => 3,
        }
    }

    /// The more urgent of two severities.
    pub fn at_least(self, floor: Severity) -> Severity {
        if floor.rank() > self.rank() {
            floor
        } else {
            self
        }
    }
}

/// A labelled value shown in the Notice (e.g. "Exit code" → "1").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub label: String,
    pub value: String,
}

/// A console link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub label: String,
    pub url: String,
}

/// One message for humans.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// Always [`NOTICE_SCHEMA`].
    pub schema: String,
    pub severity: Severity,
    /// The function that raised it (`task-recovery`, ...).
    pub source: String,
    /// One line: what happened.
    pub title: String,
    /// A few sentences: what it means and what was done.
    pub summary: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Field>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    /// A preformatted block (log lines), shown as code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// The id of the event that caused it, for tracing a Slack message back to the logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    pub time: DateTime<Utc>,
}

impl Notice {
    pub fn new(
        severity: Severity,
        source: &str,
        title: impl Into<String>,
        summary: impl Into<String>,
        time: DateTime<Utc>,
    ) -> Self {
        Self {
            schema: NOTICE_SCHEMA.to_owned(),
            severity,
            source: source.to_owned(),
            title: title.into(),
            summary: summary.into(),
            fields: Vec::new(),
            links: Vec::new(),
            details: None,
            event_id: None,
            time,
        }
    }

    pub fn field(mut self, label: impl Into<String>, value: impl Into<String>) -> Self {
        self.fields.push(Field {
            label: label.into(),
            value: value.into(),
        });
        self
    }

    pub fn link(mut self, label: impl Into<String>, url: impl Into<String>) -> Self {
        self.links.push(Link {
            label: label.into(),
            url: url.into(),
        });
        self
    }

    /// Attaches a preformatted block, cut to [`DETAILS_MAX_CHARS`].
    pub fn details(mut self, text: impl AsRef<str>) -> Self {
        let text = text.as_ref();
        if !text.trim().is_empty() {
            self.details = Some(truncate_chars(text, DETAILS_MAX_CHARS));
        }
        self
    }

    pub fn event_id(mut self, id: Option<&str>) -> Self {
        self.event_id = id.map(str::to_owned);
        self
    }

    /// `[SEVERITY] title`, fit for an SNS subject.
    pub fn subject(&self) -> String {
        sns_subject(&format!("[{}] {}", self.severity.label(), self.title))
    }

    /// Parses a message body as a Notice, if it is one.
    pub fn from_json(text: &str) -> Option<Self> {
        let notice: Self = serde_json::from_str(text).ok()?;
        (notice.schema == NOTICE_SCHEMA).then_some(notice)
    }
}

/// Makes any text a valid SNS subject: printable ASCII only (others become `?`), one line,
/// at most 100 characters, never empty.
pub fn sns_subject(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            c if c.is_ascii_graphic() || c == ' ' => c,
            _ => '?',
        })
        .collect();
    if out.len() > SNS_SUBJECT_MAX {
        out.truncate(SNS_SUBJECT_MAX - 3);
        out.push_str("...");
    }
    let trimmed = out.trim();
    if trimmed.is_empty() {
        "phoenix-ops".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Publishes one message to an SNS topic, with a `severity` attribute for subscription filters.
pub async fn publish_message(
    sns: &aws_sdk_sns::Client,
    topic_arn: &str,
    subject: &str,
    message: String,
    severity: &Severity,
) -> Result<String, AwsFailure> {
    let attribute = MessageAttributeValue::builder()
        .data_type("String")
        .string_value(severity.as_str())
        .build()
        .map_err(|e| {
            AwsFailure::new(
                "sns:Publish",
                topic_arn,
                crate::aws::FailureKind::Construction,
                None,
                e.to_string(),
                None,
            )
        })?;
    let output = sns
        .publish()
        .topic_arn(topic_arn)
        .subject(sns_subject(subject))
        .message(message)
        .message_attributes("severity", attribute)
        .send()
        .await
        .map_err(|e| AwsFailure::from_sdk("sns:Publish", topic_arn, &e))?;
    Ok(output.message_id().unwrap_or_default().to_owned())
}

/// Publishes Notices to the `alerts` topic.
#[derive(Debug, Clone)]
pub struct NoticePublisher {
    sns: aws_sdk_sns::Client,
    topic_arn: String,
}

impl NoticePublisher {
    pub fn new(sns: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        Self {
            sns,
            topic_arn: topic_arn.into(),
        }
    }

    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }

    /// Delivers a function's Notice and records it in its Outcome: in dry run nothing is sent
    /// (`NoticeDelivery::DryRun`); a final failure is recorded as a failed `sns:Publish` action.
    /// A retryable failure is returned only when `retry_is_safe` (retrying the invocation would
    /// not repeat an action already taken); otherwise it is recorded like a final one.
    pub async fn deliver(
        &self,
        notice: Notice,
        outcome: &mut Outcome,
        dry_run: bool,
        retry_is_safe: bool,
    ) -> Result<(), AwsFailure> {
        if dry_run {
            outcome.notice_delivery = Some(NoticeDelivery::DryRun);
        } else {
            match self.publish(&notice).await {
                Ok(message_id) => {
                    outcome.notice_delivery = Some(NoticeDelivery::Published { message_id })
                }
                Err(failure) if failure.retryable && retry_is_safe => return Err(failure),
                Err(failure) => outcome.action(
                    Action::new("sns:Publish", &self.topic_arn, ActionStatus::Failed)
                        .detail(failure.to_string()),
                ),
            }
        }
        outcome.notice = Some(notice);
        Ok(())
    }

    /// Publishes the Notice as JSON; returns the SNS message id.
    pub async fn publish(&self, notice: &Notice) -> Result<String, AwsFailure> {
        let body = serde_json::to_string(notice).unwrap_or_default();
        publish_message(
            &self.sns,
            &self.topic_arn,
            &notice.subject(),
            body,
            &notice.severity,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sample() -> Notice {
        Notice::new(
            Severity::Critical,
            "task-recovery",
            "phoenix-service is crash-looping",
            "3 crashes in 10 minutes.",
            Utc.with_ymd_and_hms(2026, 11, 20, 10, 15, 42)
                .single()
                .expect("valid time"),
        )
        .field("Exit code", "1")
        .link("Service", "https://console.aws.amazon.com/ecs")
        .details("line 1\nline 2")
        .event_id(Some("evt-1"))
    }

    #[test]
    fn a_notice_round_trips_and_is_recognised() {
        let notice = sample();
        let json = serde_json::to_string(&notice).expect("serialises");
        assert!(
            json.contains(r#""schema":"phoenix-ops/notice@1""#),
            "{json}"
        );
        assert_eq!(Notice::from_json(&json), Some(notice));
        assert_eq!(Notice::from_json(r#"{"AlarmName":"x"}"#), None);
        assert_eq!(Notice::from_json("not json"), None);
        let other_schema = json.replace("notice@1", "notice@9");
        assert_eq!(Notice::from_json(&other_schema), None);
    }

    #[test]
    fn subjects_fit_sns_rules() {
        assert_eq!(
            sample().subject(),
            "[CRITICAL] phoenix-service is crash-looping"
        );
        let long = sns_subject(&format!("é\nbad {}", "x".repeat(200)));
        assert!(
            long.len() <= 100 && long.is_ascii() && !long.contains('\n'),
            "{long}"
        );
        assert!(long.starts_with("? bad x"), "{long}");
        assert_eq!(sns_subject(" \n "), "phoenix-ops");
    }

    #[test]
    fn details_are_capped_and_blank_details_dropped() {
        let n = sample().details("x".repeat(DETAILS_MAX_CHARS * 2));
        assert_eq!(
            n.details.as_ref().map(|d| d.chars().count()),
            Some(DETAILS_MAX_CHARS)
        );
        assert_eq!(
            sample().details("  ").details.as_deref(),
            Some("line 1\nline 2")
        );
    }
}
