//! The Notice: the one message every phoenix-ops function publishes to the `alerts` topic when a
//! human should know something. The alarm-notifier renders it for Slack and on-call. Pure data:
//! publishing lives in [`crate::publish`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::text::truncate_chars;

/// Marks a JSON message as a Notice (and its version), so the notifier can tell it from a
/// CloudWatch alarm message.
pub const NOTICE_SCHEMA: &str = "phoenix-ops/notice@1";

/// SNS subjects: ASCII, one line, at most 100 characters.
const SNS_SUBJECT_MAX: usize = 100;
/// Longest `details` block kept in a Notice (SNS messages are capped at 256 KB; Slack shows far
/// less). The notifier truncates again to its own limits.
pub const DETAILS_MAX_CHARS: usize = 8_000;
/// Largest Notice, as JSON, that is published: well under SNS's 256 KB message limit, so a
/// Notice is never refused and lost. [`Notice::capped`] shortens, never drops.
pub const NOTICE_MAX_BYTES: usize = 64 * 1024;
/// Longest title, field value and summary kept when a Notice must be shortened.
const TITLE_MAX_CHARS: usize = 200;
const FIELD_MAX_CHARS: usize = 500;
const SUMMARY_MAX_CHARS: usize = 2_000;
/// Most fields and links kept when a Notice must be shortened.
const FIELDS_MAX: usize = 40;
const LINKS_MAX: usize = 10;

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

    /// The Notice as JSON, cut to fit [`NOTICE_MAX_BYTES`]: first the details, then each field
    /// and the summary, then the number of fields and links; each cut is marked. Nothing is
    /// dropped silently and the Notice stays a valid Notice.
    pub fn capped(mut self) -> Notice {
        let size = |n: &Notice| serde_json::to_vec(n).map_or(usize::MAX, |v| v.len());
        if size(&self) <= NOTICE_MAX_BYTES {
            return self;
        }
        if let Some(details) = &self.details {
            // bytes over the cap, counted generously as 4 bytes per character removed
            let over = size(&self).saturating_sub(NOTICE_MAX_BYTES);
            let keep = details.chars().count().saturating_sub(over / 4 + 64);
            self.details = Some(truncate_chars(details, keep.max(200)));
        }
        if size(&self) > NOTICE_MAX_BYTES {
            self.title = truncate_chars(&self.title, TITLE_MAX_CHARS);
            self.summary = truncate_chars(&self.summary, SUMMARY_MAX_CHARS);
            for field in &mut self.fields {
                field.label = truncate_chars(&field.label, TITLE_MAX_CHARS);
                field.value = truncate_chars(&field.value, FIELD_MAX_CHARS);
            }
            for link in &mut self.links {
                link.label = truncate_chars(&link.label, TITLE_MAX_CHARS);
            }
            self.links.retain(|l| l.url.len() <= 2_000);
            if let Some(details) = &self.details {
                self.details = Some(truncate_chars(details, 200));
            }
        }
        if size(&self) > NOTICE_MAX_BYTES {
            let fields = self.fields.len();
            if fields > FIELDS_MAX {
                self.fields.truncate(FIELDS_MAX - 1);
                self.fields.push(Field {
                    label: "…".to_owned(),
                    value: format!("{} more field(s) not shown", fields - (FIELDS_MAX - 1)),
                });
            }
            self.links.truncate(LINKS_MAX);
        }
        self
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
        .flat_map(|c| -> Vec<char> {
            match c {
                '\n' | '\r' | '\t' => vec![' '],
                c if c.is_ascii_graphic() || c == ' ' => vec![c],
                // the punctuation our own titles use, in its ASCII form
                '—' | '–' | '‑' => vec!['-'],
                '→' => vec!['-', '>'],
                '‘' | '’' => vec!['\''],
                '“' | '”' => vec!['"'],
                '…' => vec!['.', '.', '.'],
                _ => vec!['?'],
            }
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
        assert_eq!(
            sns_subject("svc scaled out 2 → 7 — ok…"),
            "svc scaled out 2 -> 7 - ok..."
        );
    }

    #[test]
    fn an_oversized_notice_is_shortened_never_dropped() {
        let mut huge = sample().details("é".repeat(7_000));
        for i in 0..5_000 {
            huge = huge.field(format!("field {i}"), "x".repeat(1_000));
        }
        huge.summary = "s".repeat(100_000);
        let capped = huge.clone().capped();
        let bytes = serde_json::to_vec(&capped).expect("serialises").len();
        assert!(bytes <= NOTICE_MAX_BYTES, "{bytes}");
        assert_eq!(capped.title, huge.title);
        assert!(capped.summary.ends_with(crate::text::TRUNCATION_MARKER));
        assert!(capped.fields.len() <= FIELDS_MAX);
        assert_eq!(
            capped.fields.last().map(|f| f.value.as_str()),
            Some("4962 more field(s) not shown")
        );
        assert_eq!(
            Notice::from_json(&String::from_utf8_lossy(
                &serde_json::to_vec(&capped).expect("json")
            )),
            Some(capped)
        );
        // a small Notice is untouched
        assert_eq!(sample().capped(), sample());
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
