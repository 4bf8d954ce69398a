// pure: builds the view of each kind of message; no I/O, no clock
//! One [`View`] per kind of message: Notices (the daily digest has its own look), DocumentDB
//! events and plain text here; CloudWatch alarms in [`super::alarm_view`].

use phoenix_core::{Notice, Severity, console};

use super::alarm_view::alarm_view;
use super::{RenderContext, Section, Style, View, links, utc};
use crate::docdb::{DbEvent, SourceType};
use crate::message::{Message, PlainText, is_digest};

/// The view of any message.
pub fn view_of(message: &Message, context: &RenderContext) -> View {
    match message {
        Message::Alarm(alarm) => alarm_view(alarm, context),
        Message::Notice(notice) if is_digest(notice) => digest_view(notice, context),
        Message::Notice(notice) => notice_view(notice, context),
        Message::Database(event) => db_event_view(event, context),
        Message::Text(text) => text_view(text, context),
    }
}

/// Emoji and colour per severity.
pub fn severity_look(severity: &Severity) -> (&'static str, &'static str) {
    match severity {
        Severity::Critical => ("🚨", "#A50E0E"),
        Severity::Error => ("🔴", "#D93025"),
        Severity::Warning => ("🟠", "#F2A600"),
        Severity::Info => ("🔵", "#1D9BD1"),
        Severity::Unknown(_) => ("⚪", "#9AA0A6"),
    }
}

/// The small line at the bottom: who sent it, about what, and the id to find it in the logs.
pub fn footer(what: &str, context: &RenderContext) -> String {
    match &context.trace {
        Some(trace) => format!("phoenix-ops alarm-notifier · {what} · {trace}"),
        None => format!("phoenix-ops alarm-notifier · {what}"),
    }
}

fn notice_links(notice: &Notice, context: &RenderContext) -> Vec<super::ViewLink> {
    let named = notice
        .links
        .iter()
        .map(|l| (l.label.clone(), l.url.clone()))
        .collect();
    links(named, context.dashboard_url.as_deref())
}

fn notice_footer(notice: &Notice, context: &RenderContext) -> String {
    let event = notice
        .event_id
        .as_deref()
        .map(|id| format!(" · event {id}"))
        .unwrap_or_default();
    footer(&format!("{}{event}", notice.source), context)
}

fn notice_view(notice: &Notice, context: &RenderContext) -> View {
    let (emoji, colour) = severity_look(&notice.severity);
    let mut fields: Vec<(String, String)> = notice
        .fields
        .iter()
        .map(|f| (f.label.clone(), f.value.clone()))
        .collect();
    fields.push(("Time".to_owned(), utc(notice.time)));
    let sections = notice
        .details
        .iter()
        .map(|details| Section {
            label: "Details",
            text: details.clone(),
            style: Style::Code,
        })
        .collect();
    View {
        emoji,
        colour,
        title: format!("{emoji} {}: {}", notice.severity.label(), notice.title),
        headline: notice.summary.clone(),
        fields,
        sections,
        links: notice_links(notice, context),
        footer: notice_footer(notice, context),
    }
}

/// The daily digest: a report rather than an alert. Its fields are the day's figures, its
/// details the day's story line by line (headings end with `:`), shown as text, not code.
fn digest_view(notice: &Notice, context: &RenderContext) -> View {
    let (_, colour) = severity_look(&notice.severity);
    let attention = if notice.severity.rank() >= Severity::Warning.rank() {
        " — needs attention"
    } else {
        ""
    };
    let mut fields: Vec<(String, String)> = notice
        .fields
        .iter()
        .map(|f| (f.label.clone(), f.value.clone()))
        .collect();
    fields.push(("Until".to_owned(), utc(notice.time)));
    let sections = notice
        .details
        .iter()
        .map(|details| Section {
            label: "The last 24 hours",
            text: details.clone(),
            style: Style::Lines,
        })
        .collect();
    View {
        emoji: "📊",
        colour,
        title: format!("📊 {}{attention}", notice.title),
        headline: notice.summary.clone(),
        fields,
        sections,
        links: notice_links(notice, context),
        footer: notice_footer(notice, context),
    }
}

/// The DocumentDB console page of a cluster or an instance. The console host per partition is
/// core's (`console::docdb_snapshots`); only the page differs.
fn docdb_console(region: &str, source_type: &SourceType, id: &str) -> Option<String> {
    let page = match source_type {
        SourceType::Cluster => "cluster-details",
        SourceType::Instance => "instance-details",
        _ => return None,
    };
    let snapshots = console::docdb_snapshots(region);
    let base = snapshots.strip_suffix("#snapshots")?;
    Some(format!("{base}#{page}/{}", console::encode(id)))
}

fn db_event_view(event: &DbEvent, context: &RenderContext) -> View {
    let severity = event.severity();
    let (emoji, colour) = severity_look(&severity);
    let what = event
        .category()
        .map(|c| format!("DocumentDB {c}"))
        .unwrap_or_else(|| "DocumentDB event".to_owned());
    let noun = event.source_type.noun();
    let mut fields = vec![(capitalised(noun), event.source_id.clone())];
    if !event.categories.is_empty() {
        let categories: Vec<&str> = event.categories.iter().map(|c| c.as_str()).collect();
        fields.push(("Category".to_owned(), categories.join(", ")));
    }
    if let Some(code) = &event.code {
        fields.push(("Event".to_owned(), code.clone()));
    }
    if let Some(time) = event.time {
        fields.push(("Time".to_owned(), utc(time)));
    }
    let place: Vec<&str> = [event.account.as_deref(), event.region.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    if !place.is_empty() {
        fields.push(("Account".to_owned(), place.join(" · ")));
    }
    let sections = event
        .meaning()
        .map(|meaning| Section {
            label: "What it means",
            text: meaning.to_owned(),
            style: Style::Prose,
        })
        .into_iter()
        .collect();
    let named = event
        .region
        .as_deref()
        .and_then(|region| docdb_console(region, &event.source_type, &event.source_id))
        .map(|url| (format!("DocumentDB {noun}"), url))
        .into_iter()
        .collect();
    View {
        emoji,
        colour,
        title: format!(
            "{emoji} {}: {what} on {noun} {}",
            severity.label(),
            event.source_id
        ),
        headline: event.message.clone(),
        fields,
        sections,
        links: links(named, context.dashboard_url.as_deref()),
        footer: footer(
            format!(
                "DocumentDB event {}",
                event.code.as_deref().unwrap_or_default()
            )
            .trim_end(),
            context,
        ),
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn text_view(text: &PlainText, context: &RenderContext) -> View {
    let subject = text
        .subject
        .clone()
        .unwrap_or_else(|| "Message on the alerts topic".to_owned());
    let body = if text.body.trim().is_empty() {
        "(empty message)".to_owned()
    } else {
        text.body.clone()
    };
    View {
        emoji: "📨",
        colour: "#9AA0A6",
        title: format!("📨 {subject}"),
        headline: body.lines().next().unwrap_or_default().to_owned(),
        fields: Vec::new(),
        sections: vec![Section {
            label: "Message",
            text: body,
            style: Style::Prose,
        }],
        links: links(Vec::new(), context.dashboard_url.as_deref()),
        footer: footer("plain text", context),
    }
}
