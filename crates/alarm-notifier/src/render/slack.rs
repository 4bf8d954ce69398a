// pure: lays a view out as Slack Block Kit JSON; no I/O, no clock
//! The Slack layout: a header and the headline on top (always visible), then, in an attachment
//! with the severity's colour bar, the fields (two columns), the sections, the links that may
//! not be buttons (as text), the buttons and the footer.
//!
//! Within Block Kit's limits, nothing is dropped silently: a long section continues in further
//! blocks (up to [`SECTION_BLOCKS_MAX`], then cut with the marker); more links than buttons
//! allowed are listed as text; more blocks than allowed end with a block saying how many were
//! left out. The buttons (the dashboard's included) and the footer always stay.

use serde_json::{Value, json};

use super::{
    BLOCKS_MAX, BUTTON_TEXT_MAX, BUTTONS_MAX, FIELD_MAX, FIELDS_PER_SECTION, HEADER_MAX,
    SECTION_BLOCKS_MAX, SECTION_MAX, Section, Style, View, ViewLink, escape, fit, pieces,
};

fn mrkdwn(text: String) -> Value {
    json!({"type": "mrkdwn", "text": text})
}

fn section_block(text: String) -> Value {
    json!({"type": "section", "text": mrkdwn(text)})
}

fn context_block(text: String) -> Value {
    json!({"type": "context", "elements": [mrkdwn(text)]})
}

/// A heading line of a `Lines` section: `Crashes:`.
fn is_heading(line: &str) -> bool {
    let trimmed = line.trim_end();
    trimmed.ends_with(':')
        && trimmed.chars().count() <= 80
        && !line.starts_with(|c: char| c.is_whitespace() || matches!(c, '-' | '•' | '*'))
}

/// A section as one or more blocks: `*Label*` then the text, escaped; code fenced; digest
/// headings in bold.
fn section_blocks(section: &Section) -> Vec<Value> {
    let head = format!("*{}*\n", escape(section.label));
    let escaped = match section.style {
        Style::Lines => section
            .text
            .lines()
            .map(|line| {
                if is_heading(line) {
                    format!("*{}*", escape(line.trim_end()))
                } else {
                    escape(line)
                }
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Style::Prose | Style::Code => escape(&section.text),
    };
    let fence = if section.style == Style::Code {
        "```"
    } else {
        ""
    };
    let overhead = head.chars().count() + 2 * (fence.len() + 1);
    pieces(&escaped, SECTION_MAX - overhead, SECTION_BLOCKS_MAX)
        .into_iter()
        .enumerate()
        .map(|(i, piece)| {
            let head = if i == 0 { head.as_str() } else { "" };
            if fence.is_empty() {
                section_block(format!("{head}{piece}"))
            } else {
                section_block(format!("{head}{fence}\n{piece}\n{fence}"))
            }
        })
        .collect()
}

/// Links shown as text: in a code span, which Slack never turns into a link.
fn links_as_text(links: &[&ViewLink]) -> Option<Value> {
    if links.is_empty() {
        return None;
    }
    let lines: Vec<String> = links
        .iter()
        .map(|l| {
            format!(
                "{}: `{}`",
                escape(&l.label),
                escape(&l.url.replace('`', "%60"))
            )
        })
        .collect();
    let head = "*Links* (not AWS console links: shown as text, not as buttons)\n";
    let room = SECTION_MAX - head.chars().count();
    let body = pieces(&lines.join("\n"), room, 1).concat();
    Some(section_block(format!("{head}{body}")))
}

fn button(link: &ViewLink) -> Value {
    json!({
        "type": "button",
        "text": {"type": "plain_text", "text": fit(&link.label, BUTTON_TEXT_MAX), "emoji": true},
        "url": link.url,
    })
}

/// The Block Kit payload of a view.
pub fn payload(view: &View) -> Value {
    let mut top = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": fit(&view.title, HEADER_MAX), "emoji": true},
    })];
    if !view.headline.trim().is_empty() {
        top.push(section_block(format!(
            "*{}*",
            fit(&view.headline, SECTION_MAX - 2)
        )));
    }

    let mut body = Vec::new();
    for chunk in view.fields.chunks(FIELDS_PER_SECTION) {
        let fields: Vec<Value> = chunk
            .iter()
            .map(|(label, value)| {
                let head = format!("*{}*\n", fit(label, 100));
                let room = FIELD_MAX - head.chars().count();
                mrkdwn(format!("{head}{}", fit(value, room)))
            })
            .collect();
        body.push(json!({"type": "section", "fields": fields}));
    }
    for section in &view.sections {
        body.extend(section_blocks(section));
    }

    // Buttons: trusted links, the dashboard (last) always among them; the rest as text.
    let trusted: Vec<&ViewLink> = view.links.iter().filter(|l| l.trusted).collect();
    let (mut buttons, mut as_text): (Vec<&ViewLink>, Vec<&ViewLink>) = (
        trusted.clone(),
        view.links.iter().filter(|l| !l.trusted).collect(),
    );
    if trusted.len() > BUTTONS_MAX {
        let last = trusted[trusted.len() - 1];
        buttons = trusted[..BUTTONS_MAX - 1].to_vec();
        buttons.push(last);
        as_text.extend(&trusted[BUTTONS_MAX - 1..trusted.len() - 1]);
    }
    body.extend(links_as_text(&as_text));

    let mut tail = Vec::new();
    if !buttons.is_empty() {
        let elements: Vec<Value> = buttons.into_iter().map(button).collect();
        tail.push(json!({"type": "actions", "elements": elements}));
    }
    tail.push(context_block(fit(&view.footer, SECTION_MAX)));

    // Never more than 50 blocks in all: the top, the tail, and as much of the body as fits,
    // with a line saying what was left out.
    let room = BLOCKS_MAX - top.len() - tail.len();
    if body.len() > room {
        let left = body.len() - (room - 1);
        body.truncate(room - 1);
        body.push(context_block(format!(
            "… {left} more block(s) not shown: Slack allows {BLOCKS_MAX} per message"
        )));
    }
    body.extend(tail);
    let fallback = fit(&format!("{} — {}", view.title, view.headline), SECTION_MAX);
    json!({
        "text": fallback,
        "blocks": top,
        "attachments": [{"color": view.colour, "blocks": body}],
    })
}
