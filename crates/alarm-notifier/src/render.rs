//! Rendering, pure: a [`Message`] becomes a Slack Block Kit payload and a plain-text form for
//! email/SMS (the `oncall` topic), both from one [`View`] so they always say the same thing.
//!
//! Slack rules kept here: every piece of text that came from an input is escaped (`&`, `<`, `>`)
//! so an alarm name can never mention `@channel` or inject a link; Block Kit limits are
//! respected (header 150 characters, section text 3000, field 2000, 10 fields per section,
//! button text 75, 50 blocks), cutting with [`TRUNCATION_MARKER`] and never inside a character
//! or an escape.

use chrono::{DateTime, Utc};
use phoenix_core::notice::sns_subject;
use phoenix_core::text::{TRUNCATION_MARKER, truncate_chars};
use phoenix_core::{Notice, Severity, console};
use serde_json::{Value, json};

use crate::input::{Alarm, AlarmKind, AlarmState, Message, MetricRef, PlainText};

pub const HEADER_MAX: usize = 150;
pub const SECTION_MAX: usize = 3000;
pub const FIELD_MAX: usize = 2000;
pub const FIELDS_PER_SECTION: usize = 10;
pub const BUTTON_TEXT_MAX: usize = 75;
pub const BUTTONS_MAX: usize = 25;
pub const URL_MAX: usize = 3000;
pub const BLOCKS_MAX: usize = 50;
/// The plain-text form is capped (email is patient, SMS is not; SNS caps messages at 256 KB).
pub const TEXT_MAX: usize = 8000;

/// What the renderer knows beyond the message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RenderContext {
    /// How long the alarm that just ended lasted (see `policy::alarm_lasted`).
    pub lasted: Option<chrono::Duration>,
    /// Where the message came from (SNS message id, event id), shown small for tracing.
    pub trace: Option<String>,
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

/// One labelled block of text.
#[derive(Debug, Clone, PartialEq)]
struct Section {
    label: &'static str,
    text: String,
    /// Shown preformatted (log lines, rules).
    code: bool,
}

/// What a message says, before it is laid out for Slack or for text.
#[derive(Debug, Clone, PartialEq)]
struct View {
    emoji: &'static str,
    colour: &'static str,
    severity: Severity,
    /// The header: `🔴 ALARM: phoenix-cpu-high`.
    title: String,
    /// One line under the header.
    headline: String,
    fields: Vec<(String, String)>,
    sections: Vec<Section>,
    links: Vec<(String, String)>,
    footer: String,
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

/// Cuts already-escaped text to `max` characters with the marker, never inside an escape.
pub fn cut(escaped: &str, max: usize) -> String {
    if escaped.chars().count() <= max {
        return escaped.to_owned();
    }
    let marker = TRUNCATION_MARKER.chars().count();
    if max <= marker {
        return truncate_chars(escaped, max);
    }
    let mut kept: String = escaped.chars().take(max - marker).collect();
    if let Some(amp) = kept.rfind('&').filter(|amp| !kept[*amp..].contains(';')) {
        kept.truncate(amp);
    }
    kept.push_str(TRUNCATION_MARKER);
    kept
}

/// Escapes input text and fits it in `max` characters.
pub fn fit(text: &str, max: usize) -> String {
    cut(&escape(text), max)
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

use phoenix_core::text::human_duration;

/// `2026-11-20 10:15:10 UTC`.
pub fn utc(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn period(secs: i64) -> String {
    if secs % 60 == 0 {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

fn unit_suffix(unit: Option<&str>, metric: Option<&str>) -> &'static str {
    match unit {
        Some("Percent") => "%",
        Some("Seconds") => " s",
        Some("Milliseconds") => " ms",
        Some("Bytes") => " B",
        Some("Count") => "",
        None if metric.is_some_and(|m| m.ends_with("Utilization")) => "%",
        _ => "",
    }
}

fn is_web_link(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= URL_MAX
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

// --- views

fn alarm_look(state: &AlarmState) -> (&'static str, &'static str, Severity) {
    match state {
        AlarmState::Alarm => ("🔴", "#D93025", Severity::Error),
        AlarmState::Ok => ("✅", "#2EB67D", Severity::Info),
        AlarmState::InsufficientData => ("⚪", "#9AA0A6", Severity::Warning),
        AlarmState::Unknown(_) => ("❔", "#9AA0A6", Severity::Warning),
    }
}

fn notice_look(severity: &Severity) -> (&'static str, &'static str) {
    match severity {
        Severity::Critical => ("🚨", "#A50E0E"),
        Severity::Error => ("🔴", "#D93025"),
        Severity::Warning => ("🟠", "#F2A600"),
        Severity::Info => ("🔵", "#1D9BD1"),
        Severity::Unknown(_) => ("⚪", "#9AA0A6"),
    }
}

fn metric_label(metric: &MetricRef) -> String {
    metric
        .name
        .clone()
        .or_else(|| metric.id.clone())
        .unwrap_or_else(|| "metric".to_owned())
}

fn metric_description(metric: &MetricRef) -> String {
    let mut parts = Vec::new();
    let name = match (&metric.namespace, &metric.name) {
        (Some(ns), Some(name)) => format!("{ns} {name}"),
        (None, Some(name)) => name.clone(),
        (Some(ns), None) => ns.clone(),
        (None, None) => "metric".to_owned(),
    };
    parts.push(name);
    if let Some(stat) = &metric.stat {
        parts.push(stat.clone());
    }
    if let Some(p) = metric.period_secs {
        parts.push(period(p));
    }
    let dims: Vec<String> = metric
        .dimensions
        .iter()
        .filter(|(n, _)| n != "ClusterName" && n != "ServiceName")
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    if !dims.is_empty() {
        parts.push(dims.join(", "));
    }
    parts.join(" · ")
}

fn alarm_view(alarm: &Alarm, context: &RenderContext) -> View {
    let (emoji, colour, severity) = alarm_look(&alarm.state);
    let title = format!("{emoji} {}: {}", alarm.state, alarm.name);
    let (what, unit) = match &alarm.kind {
        AlarmKind::Metric(m) => (
            metric_label(m),
            unit_suffix(alarm.unit.as_deref(), m.name.as_deref()),
        ),
        AlarmKind::MetricMath {
            id,
            expression,
            label,
            ..
        } => (
            label
                .clone()
                .or_else(|| id.clone())
                .unwrap_or_else(|| expression.clone()),
            unit_suffix(alarm.unit.as_deref(), None),
        ),
        AlarmKind::Composite { .. } => ("rule".to_owned(), ""),
        AlarmKind::Other => ("alarm".to_owned(), ""),
    };
    let with_unit = |v: f64| format!("{}{unit}", number(v));
    let limit = match (&alarm.comparison, alarm.threshold) {
        (Some(c), Some(t)) => Some(format!("{} {}", c.symbol(), with_unit(t))),
        (None, Some(t)) => Some(format!("threshold {}", with_unit(t))),
        _ => None,
    };
    let service = alarm.ecs_service();
    let on = service
        .map(|(cluster, service)| format!(" on {cluster}/{service}"))
        .unwrap_or_default();
    let lasted = context
        .lasted
        .map(|d| format!(" — alarm lasted {}", human_duration(d)))
        .unwrap_or_default();
    let headline = match (&alarm.kind, &alarm.state) {
        (AlarmKind::Composite { triggering, .. }, AlarmState::Alarm) if !triggering.is_empty() => {
            format!("Alarm rule is true: triggered by {}", triggering.join(", "))
        }
        (AlarmKind::Composite { .. }, AlarmState::Alarm) => "Alarm rule is true".to_owned(),
        (AlarmKind::Composite { .. }, AlarmState::Ok) => {
            format!("Alarm rule is no longer true{lasted}")
        }
        (AlarmKind::Composite { .. }, state) => format!("Alarm rule is {state}{lasted}"),
        (AlarmKind::Other, _) => {
            let first = alarm.reason.lines().next().unwrap_or_default();
            format!("{}{lasted}", truncate_chars(first, 200))
        }
        (_, AlarmState::Alarm) => match (alarm.value, &limit) {
            (Some(v), Some(l)) => format!("{what} {} {l}{on}", with_unit(v)),
            (Some(v), None) => format!("{what} {}{on}", with_unit(v)),
            (None, Some(l)) => format!("{what} crossed {l}{on}"),
            (None, None) => format!("{what} crossed its threshold{on}"),
        },
        (_, AlarmState::Ok) => match (alarm.value, &limit) {
            (Some(v), Some(l)) => {
                format!("{what} back to {} (alarm at {l}){on}{lasted}", with_unit(v))
            }
            (Some(v), None) => format!("{what} back to {}{on}{lasted}", with_unit(v)),
            (None, _) => format!("{what} back within bounds{on}{lasted}"),
        },
        (_, AlarmState::InsufficientData) => match &limit {
            Some(l) => format!("{what}: not enough data (alarm at {l}){on}{lasted}"),
            None => format!("{what}: not enough data{on}{lasted}"),
        },
        (_, state) => format!("{what} is {state}{on}{lasted}"),
    };

    let mut fields = Vec::new();
    let state = match &alarm.previous {
        Some(previous) => format!("{} (was {previous})", alarm.state),
        None => alarm.state.to_string(),
    };
    fields.push(("State".to_owned(), state));
    if let Some(v) = alarm.value {
        let value = match &limit {
            Some(l) => format!("{} (alarm at {l})", with_unit(v)),
            None => with_unit(v),
        };
        fields.push(("Value".to_owned(), value));
    } else if let Some(l) = &limit {
        fields.push(("Threshold".to_owned(), l.clone()));
    }
    match &alarm.kind {
        AlarmKind::Metric(m) => fields.push(("Metric".to_owned(), metric_description(m))),
        AlarmKind::MetricMath { inputs, .. } => {
            let inputs: Vec<String> = inputs
                .iter()
                .map(|m| {
                    format!(
                        "{}: {}",
                        m.id.as_deref().unwrap_or("?"),
                        metric_description(m)
                    )
                })
                .collect();
            if !inputs.is_empty() {
                fields.push(("Inputs".to_owned(), inputs.join("\n")));
            }
        }
        AlarmKind::Composite { triggering, .. } if !triggering.is_empty() => {
            fields.push(("Triggered by".to_owned(), triggering.join(", ")));
        }
        _ => {}
    }
    if let Some((cluster, service)) = service {
        fields.push(("ECS service".to_owned(), format!("{cluster}/{service}")));
    }
    if let Some(at) = alarm.changed_at {
        fields.push(("Time".to_owned(), utc(at)));
    }
    if let Some(d) = context.lasted {
        fields.push(("Lasted".to_owned(), human_duration(d)));
    }
    if let (Some(n), Some(m)) = (alarm.datapoints_to_alarm, alarm.evaluation_periods) {
        fields.push(("Evaluation".to_owned(), format!("{n} of {m} datapoints")));
    }
    let place: Vec<&str> = [alarm.account.as_deref(), alarm.region.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    if !place.is_empty() {
        fields.push(("Account".to_owned(), place.join(" · ")));
    }

    let mut sections = Vec::new();
    if let AlarmKind::MetricMath { id, expression, .. } = &alarm.kind {
        let expression = match id {
            Some(id) => format!("{id} = {expression}"),
            None => expression.clone(),
        };
        sections.push(Section {
            label: "Expression",
            text: expression,
            code: true,
        });
    }
    if let AlarmKind::Composite { rule, .. } = &alarm.kind {
        sections.push(Section {
            label: "Rule",
            text: rule.clone(),
            code: true,
        });
    }
    if let Some(description) = &alarm.description {
        sections.push(Section {
            label: "Description",
            text: description.clone(),
            code: false,
        });
    }
    if !alarm.reason.trim().is_empty() {
        sections.push(Section {
            label: "Reason",
            text: alarm.reason.clone(),
            code: false,
        });
    }

    let mut links = Vec::new();
    if let Some(region) = &alarm.region {
        links.push((
            "Alarm".to_owned(),
            console::cloudwatch_alarm(region, &alarm.name),
        ));
        if let Some((cluster, service)) = service {
            links.push((
                "ECS service".to_owned(),
                console::ecs_service(region, cluster, service),
            ));
        }
        if let AlarmKind::Composite { triggering, .. } = &alarm.kind {
            for child in triggering.iter().take(3) {
                links.push((
                    format!("Alarm {child}"),
                    console::cloudwatch_alarm(region, child),
                ));
            }
        }
    }
    View {
        emoji,
        colour,
        severity,
        title,
        headline,
        fields,
        sections,
        links,
        footer: footer(&format!("CloudWatch {}", alarm.kind.name()), context),
    }
}

fn footer(what: &str, context: &RenderContext) -> String {
    match &context.trace {
        Some(trace) => format!("phoenix-ops alarm-notifier · {what} · {trace}"),
        None => format!("phoenix-ops alarm-notifier · {what}"),
    }
}

fn notice_view(notice: &Notice, context: &RenderContext) -> View {
    let (emoji, colour) = notice_look(&notice.severity);
    let mut fields: Vec<(String, String)> = notice
        .fields
        .iter()
        .map(|f| (f.label.clone(), f.value.clone()))
        .collect();
    fields.push(("Time".to_owned(), utc(notice.time)));
    let mut sections = Vec::new();
    if let Some(details) = &notice.details {
        sections.push(Section {
            label: "Details",
            text: details.clone(),
            code: true,
        });
    }
    let event = notice
        .event_id
        .as_deref()
        .map(|id| format!(" · event {id}"))
        .unwrap_or_default();
    View {
        emoji,
        colour,
        severity: notice.severity.clone(),
        title: format!("{emoji} {}: {}", notice.severity.label(), notice.title),
        headline: notice.summary.clone(),
        fields,
        sections,
        links: notice
            .links
            .iter()
            .map(|l| (l.label.clone(), l.url.clone()))
            .collect(),
        footer: footer(&format!("{}{event}", notice.source), context),
    }
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
        severity: Severity::Warning,
        title: format!("📨 {subject}"),
        headline: body.lines().next().unwrap_or_default().to_owned(),
        fields: Vec::new(),
        sections: vec![Section {
            label: "Message",
            text: body,
            code: false,
        }],
        links: Vec::new(),
        footer: footer("plain text", context),
    }
}

// --- layouts

fn mrkdwn(text: String) -> Value {
    json!({"type": "mrkdwn", "text": text})
}

fn section_block(text: String) -> Value {
    json!({"type": "section", "text": mrkdwn(text)})
}

/// A labelled section: `*Label*` then the text (escaped, fitted; code in a preformatted block).
fn labelled(label: &str, text: &str, code: bool) -> Value {
    let head = format!("*{}*\n", escape(label));
    let room = SECTION_MAX - head.chars().count();
    let body = if code {
        let fence = "```";
        let inner = room - 2 * fence.len() - 2;
        format!("{fence}\n{}\n{fence}", fit(text, inner))
    } else {
        fit(text, room)
    };
    section_block(format!("{head}{body}"))
}

fn slack_payload(view: &View) -> Value {
    let mut top = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": fit(&view.title, HEADER_MAX), "emoji": true}}),
    ];
    if !view.headline.trim().is_empty() {
        top.push(section_block(format!(
            "*{}*",
            fit(&view.headline, SECTION_MAX - 2)
        )));
    }
    let mut blocks = Vec::new();
    for chunk in view.fields.chunks(FIELDS_PER_SECTION) {
        let fields: Vec<Value> = chunk
            .iter()
            .map(|(label, value)| {
                let head = format!("*{}*\n", fit(label, 100));
                let room = FIELD_MAX - head.chars().count();
                mrkdwn(format!("{head}{}", fit(value, room)))
            })
            .collect();
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    for section in &view.sections {
        blocks.push(labelled(section.label, &section.text, section.code));
    }
    let buttons: Vec<Value> = view
        .links
        .iter()
        .filter(|(_, url)| is_web_link(url))
        .take(BUTTONS_MAX)
        .map(|(label, url)| {
            json!({"type": "button", "text": {"type": "plain_text", "text": fit(label, BUTTON_TEXT_MAX), "emoji": true}, "url": url})
        })
        .collect();
    if !buttons.is_empty() {
        blocks.push(json!({"type": "actions", "elements": buttons}));
    }
    blocks.push(json!({"type": "context", "elements": [mrkdwn(fit(&view.footer, SECTION_MAX))]}));
    // Never more than 50 blocks in all: keep the first ones and the footer.
    let room = BLOCKS_MAX - top.len();
    if blocks.len() > room {
        let footer = blocks.pop();
        blocks.truncate(room - 1);
        blocks.extend(footer);
    }
    let fallback = fit(&format!("{} — {}", view.title, view.headline), SECTION_MAX);
    json!({
        "text": fallback,
        "blocks": top,
        "attachments": [{"color": view.colour, "blocks": blocks}],
    })
}

fn plain_text(view: &View) -> String {
    let mut out = String::new();
    out.push_str(&view.title);
    out.push('\n');
    if !view.headline.trim().is_empty() {
        out.push_str(&view.headline);
        out.push('\n');
    }
    out.push('\n');
    for (label, value) in &view.fields {
        if value.contains('\n') {
            out.push_str(&format!("{label}:\n  {}\n", value.replace('\n', "\n  ")));
        } else {
            out.push_str(&format!("{label}: {value}\n"));
        }
    }
    for section in &view.sections {
        out.push_str(&format!("\n{}:\n{}\n", section.label, section.text));
    }
    let links: Vec<&(String, String)> = view.links.iter().filter(|(_, u)| is_web_link(u)).collect();
    if !links.is_empty() {
        out.push('\n');
        for (label, url) in links {
            out.push_str(&format!("{label}: {url}\n"));
        }
    }
    out.push_str(&format!("\n— {}\n", view.footer));
    truncate_chars(&out, TEXT_MAX)
}

fn view_of(message: &Message, context: &RenderContext) -> View {
    match message {
        Message::Alarm(alarm) => alarm_view(alarm, context),
        Message::Notice(notice) => notice_view(notice, context),
        Message::Text(text) => text_view(text, context),
    }
}

/// Renders one message for Slack and for on-call. Pure and total: any message renders.
pub fn render(message: &Message, context: &RenderContext) -> Rendered {
    let view = view_of(message, context);
    let subject = sns_subject(view.title.trim_start_matches(view.emoji));
    Rendered {
        slack: slack_payload(&view),
        text: plain_text(&view),
        subject,
        severity: view.severity.clone(),
        headline: view.headline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_defuses_mentions_and_links() {
        assert_eq!(
            escape("<!channel> & <https://x|y>"),
            "&lt;!channel&gt; &amp; &lt;https://x|y&gt;"
        );
    }

    #[test]
    fn cutting_keeps_the_limit_characters_and_escapes_whole() {
        let cases: &[(&str, usize, &str)] = &[
            ("short", 10, "short"),
            ("ab&amp;cdefghijklmnopqrstuvwxyz", 16, "ab… [truncated]"),
            (
                "abc&amp;defghijklmnopqrstuvwxyz",
                21,
                "abc&amp;… [truncated]",
            ),
            ("ééééééééééééééééééééé", 15, "éé… [truncated]"),
        ];
        for (text, max, want) in cases {
            let got = cut(text, *max);
            assert!(
                got.chars().count() <= (*max).max(want.chars().count()),
                "{got}"
            );
            assert_eq!(&got, want, "{text} {max}");
        }
    }

    #[test]
    fn numbers_and_durations_read_well() {
        for (v, want) in [
            (80.0, "80"),
            (93.4, "93.4"),
            (0.00016, "0.0002"),
            (-0.0, "0"),
            (12.345678, "12.3457"),
            (1500.0, "1500"),
        ] {
            assert_eq!(number(v), want);
        }
    }
}
