// pure: lays a view out as plain text for e-mail and SMS; no I/O, no clock
//! The on-call layout: the same view as Slack's, as plain text (e-mail, SMS): title,
//! headline, `Label: value` lines, sections, the links (the dashboard's included; a link that
//! is not an AWS console link is marked), and the footer. Capped at [`TEXT_MAX`] characters:
//! the body is cut with the marker, the links and the footer stay.

use phoenix_core::text::truncate_chars;

use super::{TEXT_MAX, View};

/// The plain text of a view.
pub fn plain_text(view: &View) -> String {
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
    let mut tail = String::new();
    if !view.links.is_empty() {
        tail.push('\n');
        for link in &view.links {
            let mark = if link.trusted {
                ""
            } else {
                " (unverified link)"
            };
            tail.push_str(&format!("{}{mark}: {}\n", link.label, link.url));
        }
    }
    tail.push_str(&format!("\n— {}\n", view.footer));
    let tail = truncate_chars(&tail, TEXT_MAX / 2);
    let room = TEXT_MAX - tail.chars().count();
    let body = if out.chars().count() > room {
        truncate_chars(&out, room - 1) + "\n"
    } else {
        out
    };
    body + &tail
}
