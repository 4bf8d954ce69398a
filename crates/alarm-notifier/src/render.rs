// pure: turns a message into text and Block Kit JSON; no I/O, no clock
//! Rendering: a [`Message`] becomes a Slack Block Kit payload and a plain-text form for
//! email/SMS (the `oncall` topic), both laid out from one [`View`] so they always say the same
//! thing ([`views`] builds it per kind; [`slack`] and [`text`] lay it out).
//!
//! Rules kept here, whatever the input:
//! * every piece of text that came from an input is **escaped** (`&`, `<`, `>`), so a name can
//!   never mention `@channel` or inject a link;
//! * **buttons** go only to the AWS console and the configured dashboard
//!   (`phoenix_core::console::is_allowed_link`); any other URL is shown as text, in a code span
//!   (which Slack never turns into a link); every message carries a button to the dashboard;
//! * Block Kit **limits** are kept (header 150 characters, section text 3000, field 2000, 10
//!   fields per section, button text 75, 25 buttons, 50 blocks), and **nothing is dropped
//!   silently**: a long section continues in further blocks, and whatever still does not fit
//!   is cut with [`TRUNCATION_MARKER`] or replaced by a line saying how much was left out.

mod alarm_view;
pub mod slack;
pub mod text;
pub mod views;

use chrono::{DateTime, Utc};
use phoenix_core::notice::sns_subject;
use phoenix_core::text::{TRUNCATION_MARKER, truncate_chars};
use phoenix_core::{Severity, console};
use serde_json::Value;

use crate::message::Message;

pub const HEADER_MAX: usize = 150;
pub const SECTION_MAX: usize = 3000;
pub const FIELD_MAX: usize = 2000;
pub const FIELDS_PER_SECTION: usize = 10;
pub const BUTTON_TEXT_MAX: usize = 75;
pub const BUTTONS_MAX: usize = 25;
pub const URL_MAX: usize = 3000;
pub const BLOCKS_MAX: usize = 50;
/// Blocks one long section may take before it is cut (4 × 3000 characters).
pub const SECTION_BLOCKS_MAX: usize = 4;
/// The plain-text form is capped (email is patient, SMS is not; SNS caps messages at 256 KB).
pub const TEXT_MAX: usize = 8000;

/// What the renderer knows beyond the message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RenderContext {
    /// How long the alarm that just ended lasted (see `decide::alarm_lasted`).
    pub lasted: Option<chrono::Duration>,
    /// Where the message came from (SNS message id, event id), shown small for tracing.
    pub trace: Option<String>,
    /// The stack's dashboard (`DASHBOARD_URL`): a button on every Slack message.
    pub dashboard_url: Option<String>,
}

/// The rendered message.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The Slack incoming-webhook payload (Block Kit).
    pub slack: Value,
    /// The plain-text form for email/SMS.
    pub text: String,
    /// An SNS subject (ASCII, ≤ 100 characters).
    pub subject: String,
    /// The severity the `oncall` message carries as its `severity` attribute.
    pub severity: Severity,
    /// One line, unescaped: what happened.
    pub headline: String,
}

/// How a section's text is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Sentences.
    Prose,
    /// Preformatted (log lines, rules, expressions).
    Code,
    /// A list of lines; a line ending in `:` is a heading (the daily digest).
    Lines,
}

/// One labelled block of text.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub label: &'static str,
    pub text: String,
    pub style: Style,
}

/// A link named by the message, and whether it may be a button.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewLink {
    pub label: String,
    pub url: String,
    /// An AWS console link or the dashboard: a button. Otherwise shown as text.
    pub trusted: bool,
}

/// What a message says, before it is laid out for Slack or for text.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub emoji: &'static str,
    pub colour: &'static str,
    /// The header: `🔴 ALARM: phoenix-cpu-high`.
    pub title: String,
    /// One line under the header.
    pub headline: String,
    pub fields: Vec<(String, String)>,
    pub sections: Vec<Section>,
    pub links: Vec<ViewLink>,
    pub footer: String,
}

// --- text helpers

/// Escapes Slack's control characters.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// The longest prefix of already-escaped text with at most `max` characters that does not end
/// inside an escape.
fn prefix(escaped: &str, max: usize) -> &str {
    let end = escaped
        .char_indices()
        .nth(max)
        .map_or(escaped.len(), |(i, _)| i);
    let kept = &escaped[..end];
    match kept.rfind('&') {
        Some(amp) if !kept[amp..].contains(';') && end < escaped.len() => &kept[..amp],
        _ => kept,
    }
}

/// Cuts already-escaped text to `max` characters with the marker, never inside an escape.
pub fn cut(escaped: &str, max: usize) -> String {
    if escaped.chars().count() <= max {
        return escaped.to_owned();
    }
    let marker = TRUNCATION_MARKER.chars().count();
    if max <= marker {
        return truncate_chars(escaped, max);
    }
    let mut kept = prefix(escaped, max - marker).to_owned();
    kept.push_str(TRUNCATION_MARKER);
    kept
}

/// Escapes input text and fits it in `max` characters.
pub fn fit(text: &str, max: usize) -> String {
    cut(&escape(text), max)
}

/// Splits already-escaped text into pieces of at most `room` characters, at line breaks when it
/// can, never inside an escape; at most `max_pieces`, the last one cut with the marker.
pub fn pieces(escaped: &str, room: usize, max_pieces: usize) -> Vec<String> {
    let room = room.max(TRUNCATION_MARKER.chars().count() + 1);
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut current_len = 0;
    for line in escaped.split('\n') {
        let mut rest = line;
        loop {
            let len = rest.chars().count();
            let sep = usize::from(current_len > 0);
            if current_len + sep + len <= room {
                if sep == 1 {
                    current.push('\n');
                }
                current.push_str(rest);
                current_len += sep + len;
                break;
            }
            if current_len > 0 {
                out.push(std::mem::take(&mut current));
                current_len = 0;
                continue;
            }
            // one line longer than a whole piece: split it
            let mut head = prefix(rest, room);
            if head.is_empty() {
                head = &rest[..rest.chars().next().map_or(0, char::len_utf8)];
            }
            out.push(head.to_owned());
            rest = &rest[head.len()..];
            if rest.is_empty() {
                break;
            }
        }
    }
    if current_len > 0 || out.is_empty() {
        out.push(current);
    }
    if out.len() > max_pieces {
        let left = out.len() - max_pieces;
        out.truncate(max_pieces);
        if let Some(last) = out.last_mut() {
            let mut note = format!("{TRUNCATION_MARKER} ({left} more part(s) not shown)");
            if note.chars().count() >= room {
                note = TRUNCATION_MARKER.to_owned();
            }
            let keep = room.saturating_sub(note.chars().count());
            *last = format!("{}{note}", prefix(last, keep));
        }
    }
    out
}

/// `93.4`, `80`, `0.0015`: at most 4 decimals, no trailing zeros.
pub fn number(value: f64) -> String {
    let text = format!("{value:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// `2026-11-20 10:15:10 UTC`.
pub fn utc(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A URL that can be a Slack button: http(s), no spaces or control characters, not too long.
fn is_web_link(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= URL_MAX
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Sorts the links a message names: AWS console links and the dashboard may be buttons, any
/// other URL is shown as text. The dashboard comes last, once, on every message.
pub fn links(named: Vec<(String, String)>, dashboard_url: Option<&str>) -> Vec<ViewLink> {
    let dashboard_url = dashboard_url.filter(|d| is_web_link(d));
    let mut out: Vec<ViewLink> = named
        .into_iter()
        .filter(|(_, url)| Some(url.as_str()) != dashboard_url)
        .map(|(label, url)| ViewLink {
            trusted: is_web_link(&url) && console::is_allowed_link(&url, dashboard_url),
            label,
            url,
        })
        .collect();
    if let Some(dashboard) = dashboard_url {
        out.push(ViewLink {
            label: "Dashboard".to_owned(),
            url: dashboard.to_owned(),
            trusted: true,
        });
    }
    out
}

/// Renders one message for Slack and for on-call. Pure and total: any message renders.
pub fn render(message: &Message, context: &RenderContext) -> Rendered {
    let view = views::view_of(message, context);
    let subject = sns_subject(view.title.trim_start_matches(view.emoji));
    Rendered {
        slack: slack::payload(&view),
        text: text::plain_text(&view),
        subject,
        severity: message.severity(),
        headline: view.headline,
    }
}
