//! `phoenix-ops gallery --out docs/slack`: the Slack messages of the control plane as one static
//! page, so what a person sees in Slack can be seen without Slack.
//!
//! Sources, in this order:
//! * the alarm-notifier's golden files (`crates/alarm-notifier/tests/golden/*.slack.json`): the
//!   exact Block Kit payloads its tests pin;
//! * sample Notices (`docs/slack/samples/*.json`, Notices captured from the real handlers'
//!   Outcomes in the sandbox) rendered now by the notifier's own pure renderer
//!   (`alarm_notifier::render_event`), for the kinds that have no golden yet (a single crash, a
//!   scale-out, a backup).
//!
//! The page renders Block Kit the way Slack displays it: header, section text and two-column
//! fields, context, actions (buttons), dividers; attachments with their colour bar; Slack
//! mrkdwn (`*bold*`, `_italic_`, `~strike~`, `` `code` ``, code blocks, `<url|text>` links,
//! mentions) with Slack's escaping (`&lt;` `&gt;` `&amp;` shown as `<` `>` `&`). Everything else
//! is HTML-escaped: a hostile alarm name stays text.
//!
//! The output is deterministic (no clock, sorted sources): a test in this module compares the
//! committed `docs/slack/index.html` with what the current goldens produce, and says to run
//! `scripts/gen-docs.sh` when they differ. `index.html#only=<id>` shows one message alone (what
//! `scripts/gen-docs.sh` screenshots into the PNGs README embeds).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::Value;

/// Where the sources live, relative to the repository root.
pub const GOLDEN_DIR: &str = "crates/alarm-notifier/tests/golden";
pub const SAMPLES_DIR: &str = "docs/slack/samples";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory to write `index.html` into.
    #[arg(long, default_value = "docs/slack")]
    pub out: PathBuf,
    /// The repository root (the goldens and samples are read from there).
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
}

/// What the gallery shows first, with a caption; other sources follow in name order.
const FEATURED: &[(&str, &str)] = &[
    (
        "task-recovery-crash",
        "A crash: task-recovery explains why the task died and what ECS does about it",
    ),
    (
        "sns-notice",
        "A crash loop: the third failure in 10 minutes pages as critical, and nothing is restarted",
    ),
    (
        "sns-cloudwatch-alarm-cpu",
        "A CPU peak: the CPU alarm goes to ALARM (CloudWatch → SNS alerts → alarm-notifier)",
    ),
    (
        "cloudwatch-alarm-cpu-ok",
        "…and its recovery, with how long the alarm lasted",
    ),
    (
        "request-scaler-scale-out",
        "A scale-out: request-scaler follows the ALB's requests per minute",
    ),
    (
        "backup-done",
        "A backup: the daily DocumentDB snapshot, rotation and log export",
    ),
];

/// One message of the gallery.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Anchor and screenshot id: the source file's stem.
    pub id: String,
    pub caption: String,
    /// Where it comes from, relative to the repository root.
    pub source: String,
    /// The Slack payload.
    pub slack: Value,
}

/// `phoenix-ops gallery`.
pub fn run(args: &Args) -> ExitCode {
    let entries = match collect(&args.root) {
        Ok(entries) => entries,
        Err(e) => {
            eprintln!("phoenix-ops gallery: {e}");
            return ExitCode::from(2);
        }
    };
    let html = page(&entries);
    let path = args.out.join("index.html");
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!(
            "phoenix-ops gallery: cannot create {}: {e}",
            args.out.display()
        );
        return ExitCode::from(2);
    }
    if let Err(e) = std::fs::write(&path, html) {
        eprintln!("phoenix-ops gallery: cannot write {}: {e}", path.display());
        return ExitCode::from(2);
    }
    println!("{}: {} messages", path.display(), entries.len());
    for entry in &entries {
        println!("  #{:<32} {}", entry.id, entry.source);
    }
    ExitCode::SUCCESS
}

/// Reads every source under `root`, featured ones first.
pub fn collect(root: &Path) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::new();
    for path in files(&root.join(GOLDEN_DIR), ".slack.json")? {
        let id = stem(&path, ".slack.json");
        let slack = read_json(&path)?;
        entries.push(Entry {
            caption: caption(&id),
            source: format!("{GOLDEN_DIR}/{id}.slack.json"),
            id,
            slack,
        });
    }
    let samples = root.join(SAMPLES_DIR);
    if samples.is_dir() {
        for path in files(&samples, ".json")? {
            let id = stem(&path, ".json");
            let payload = read_json(&path)?;
            let rendered = alarm_notifier::render_event(&payload).map_err(|e| {
                format!(
                    "{}: the notifier would not render it: {e:?}",
                    path.display()
                )
            })?;
            let Some(first) = rendered.into_iter().next() else {
                return Err(format!("{}: renders to no message", path.display()));
            };
            entries.push(Entry {
                caption: caption(&id),
                source: format!("{SAMPLES_DIR}/{id}.json (rendered by alarm_notifier::render)"),
                id,
                slack: first.slack,
            });
        }
    }
    if entries.is_empty() {
        return Err(format!(
            "no golden file in {} (run from the repository root, or pass --root)",
            root.join(GOLDEN_DIR).display()
        ));
    }
    let rank = |id: &str| {
        FEATURED
            .iter()
            .position(|(f, _)| *f == id)
            .unwrap_or(FEATURED.len())
    };
    entries.sort_by(|a, b| rank(&a.id).cmp(&rank(&b.id)).then_with(|| a.id.cmp(&b.id)));
    Ok(entries)
}

fn files(dir: &Path, suffix: &str) -> Result<Vec<PathBuf>, String> {
    let read = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut out: Vec<PathBuf> = read
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(suffix))
        })
        .collect();
    out.sort();
    Ok(out)
}

fn stem(path: &Path, suffix: &str) -> String {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    name.strip_suffix(suffix).unwrap_or(name).to_owned()
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}

fn caption(id: &str) -> String {
    if let Some((_, caption)) = FEATURED.iter().find(|(f, _)| *f == id) {
        return (*caption).to_owned();
    }
    let what = match id {
        i if i.contains("hostile") => {
            "Hostile names: mentions, links and markup in an alarm stay text"
        }
        i if i.contains("insufficient") => "An alarm without data (INSUFFICIENT_DATA)",
        i if i.contains("metric-math") => "A metric-math alarm (5xx rate)",
        i if i.contains("composite") => "A composite alarm and the children that triggered it",
        i if i.contains("plain-text") => {
            "A plain-text message on the alerts topic, delivered as it is"
        }
        i if i.ends_with("-ok") => "An alarm back to OK",
        i if i.contains("alarm") => "An alarm going to ALARM",
        _ => "A message",
    };
    let via = if id.starts_with("sns-") {
        " (via SNS)"
    } else if id.starts_with("cloudwatch-") {
        " (via EventBridge)"
    } else {
        ""
    };
    format!("{what}{via}")
}

// ───────────────────────────── the page

const STYLE: &str = r#"
:root { --text: #1d1c1d; --muted: #616061; --line: #dddddd; --link: #1264a3; }
* { box-sizing: border-box; }
body { margin: 0; background: #f8f8f8; color: var(--text);
  font: 15px/1.46668 "Lato", "Noto Sans", "DejaVu Sans", "Helvetica Neue", Arial, sans-serif, "Noto Color Emoji"; }
main { max-width: 760px; margin: 0 auto; padding: 24px 16px 48px; }
header h1 { font-size: 22px; margin: 0 0 8px; }
header p { color: var(--muted); margin: 4px 0; }
nav ul { padding-left: 20px; margin: 8px 0 24px; }
article { margin: 0 0 28px; }
article h2 { font-size: 15px; font-weight: 700; margin: 0 0 2px; }
article .source { font-size: 12px; color: var(--muted); margin: 0 0 8px; }
.message { display: flex; gap: 8px; background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: 12px 16px 14px 12px; }
.avatar { flex: 0 0 36px; height: 36px; border-radius: 6px; background: #c2410c; color: #fff;
  font-size: 20px; line-height: 36px; text-align: center; }
.body { flex: 1; min-width: 0; }
.sender { font-weight: 900; }
.badge { font-size: 10px; font-weight: 700; color: var(--muted); background: #e8e8e8; border-radius: 2px;
  padding: 1px 3px; margin-left: 4px; vertical-align: 1px; }
.header { font-size: 18px; font-weight: 900; line-height: 1.33; margin: 4px 0; }
.section { margin: 4px 0; overflow-wrap: anywhere; }
.fields { display: grid; grid-template-columns: 1fr 1fr; column-gap: 16px; row-gap: 8px; margin: 4px 0 8px; }
.context { font-size: 12px; color: var(--muted); margin: 6px 0 2px; overflow-wrap: anywhere; }
.actions { display: flex; flex-wrap: wrap; gap: 8px; margin: 8px 0; }
.button { display: inline-block; border: 1px solid #bbbbbb; border-radius: 4px; padding: 3px 12px;
  font-size: 13px; font-weight: 700; color: var(--text); text-decoration: none; background: #fff; }
.button.primary { background: #007a5a; border-color: #007a5a; color: #fff; }
.button.danger { background: #e01e5a; border-color: #e01e5a; color: #fff; }
.attachment { border-left: 4px solid #dddddd; border-radius: 4px 0 0 4px; padding: 2px 0 2px 12px; margin: 6px 0 2px; }
.divider { border: 0; border-top: 1px solid var(--line); margin: 8px 0; }
a { color: var(--link); text-decoration: none; }
code { font: 12px/1.5 "DejaVu Sans Mono", Menlo, Consolas, monospace; color: #e01e5a; background: #f6f6f6;
  border: 1px solid #e0e0e0; border-radius: 3px; padding: 1px 3px; }
pre { font: 12px/1.5 "DejaVu Sans Mono", Menlo, Consolas, monospace; background: #f8f8f8; border: 1px solid #e0e0e0;
  border-radius: 4px; padding: 8px; margin: 4px 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.mention { color: var(--link); background: #e8f5fa; border-radius: 3px; padding: 0 2px; }
.unknown { color: var(--muted); font-style: italic; }
body.only header, body.only nav, body.only article h2, body.only article .source { display: none; }
body.only main { padding: 8px; }
body.only article { margin: 0; }
"#;

/// Shows one message alone for `index.html#only=<id>`, and writes the height it needs on `<html
/// data-height>` (scripts/gen-docs.sh reads it with `chromium --dump-dom` to size the screenshot).
const SCRIPT: &str = r#"
(function () {
  var m = /^#only=(.+)$/.exec(location.hash);
  if (!m) return;
  document.body.classList.add("only");
  document.querySelectorAll("article").forEach(function (a) {
    if (a.id !== decodeURIComponent(m[1])) a.style.display = "none";
  });
  var main = document.querySelector("main");
  document.documentElement.setAttribute("data-height", Math.ceil(main.getBoundingClientRect().height));
})();
"#;

/// The whole page.
pub fn page(entries: &[Entry]) -> String {
    let mut out = String::new();
    out.push_str("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<title>phoenix-ops — its Slack messages</title>\n");
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>\n<main>");
    out.push_str("<header>\n<h1>phoenix-ops — what it says in Slack</h1>\n");
    let _ = writeln!(
        out,
        "<p>Every message below is the Block Kit payload alarm-notifier sends, drawn as Slack shows it. \
         Generated by <code>phoenix-ops gallery --out docs/slack</code> from <code>{GOLDEN_DIR}</code> \
         and <code>{SAMPLES_DIR}</code>; do not edit by hand: <code>scripts/gen-docs.sh</code> regenerates \
         it and its pictures.</p>"
    );
    out.push_str("</header>\n<nav>\n<ul>\n");
    for entry in entries {
        let _ = writeln!(
            out,
            "<li><a href=\"#{id}\">{caption}</a></li>",
            id = escape(&entry.id),
            caption = escape(&entry.caption)
        );
    }
    out.push_str("</ul>\n</nav>\n");
    for entry in entries {
        let _ = writeln!(out, "<article id=\"{}\">", escape(&entry.id));
        let _ = writeln!(out, "<h2>{}</h2>", escape(&entry.caption));
        let _ = writeln!(out, "<p class=\"source\">{}</p>", escape(&entry.source));
        out.push_str(&message(&entry.slack));
        out.push_str("</article>\n");
    }
    let _ = writeln!(out, "</main>\n<script>{SCRIPT}</script>\n</body>\n</html>");
    out
}

/// One Slack message: the app's avatar and name, then its blocks and attachments.
pub fn message(payload: &Value) -> String {
    let mut body = String::new();
    let blocks = payload["blocks"].as_array();
    match blocks {
        Some(blocks) if !blocks.is_empty() => body.push_str(&render_blocks(blocks)),
        // Without blocks, Slack shows the top-level text.
        _ => {
            if let Some(text) = payload["text"].as_str() {
                let _ = writeln!(body, "<div class=\"section\">{}</div>", mrkdwn(text));
            }
        }
    }
    for attachment in payload["attachments"].as_array().into_iter().flatten() {
        body.push_str(&render_attachment(attachment));
    }
    format!(
        "<div class=\"message\">\n<div class=\"avatar\">🔥</div>\n<div class=\"body\">\n\
         <div><span class=\"sender\">phoenix-ops</span><span class=\"badge\">APP</span></div>\n{body}</div>\n</div>\n"
    )
}

fn render_attachment(attachment: &Value) -> String {
    let color = attachment["color"]
        .as_str()
        .map(attachment_color)
        .unwrap_or("#dddddd");
    let mut inner = String::new();
    // Legacy attachment fields, when a payload uses them.
    if let Some(title) = attachment["title"].as_str() {
        let _ = writeln!(
            inner,
            "<div class=\"section\"><b>{}</b></div>",
            plain(title)
        );
    }
    if let Some(text) = attachment["text"].as_str() {
        let _ = writeln!(inner, "<div class=\"section\">{}</div>", mrkdwn(text));
    }
    if let Some(fields) = attachment["fields"].as_array() {
        inner.push_str("<div class=\"fields\">\n");
        for field in fields {
            let _ = writeln!(
                inner,
                "<div><b>{}</b><br>{}</div>",
                plain(field["title"].as_str().unwrap_or_default()),
                mrkdwn(field["value"].as_str().unwrap_or_default())
            );
        }
        inner.push_str("</div>\n");
    }
    if let Some(blocks) = attachment["blocks"].as_array() {
        inner.push_str(&render_blocks(blocks));
    }
    format!("<div class=\"attachment\" style=\"border-left-color: {color}\">\n{inner}</div>\n")
}

/// A colour that is safe inside `style`: `#RGB`/`#RRGGBB`, or Slack's three names.
pub fn attachment_color(color: &str) -> &str {
    match color {
        "good" => "#2eb67d",
        "warning" => "#ecb22e",
        "danger" => "#e01e5a",
        c if c.starts_with('#')
            && matches!(c.len(), 4 | 7)
            && c[1..].chars().all(|ch| ch.is_ascii_hexdigit()) =>
        {
            c
        }
        _ => "#dddddd",
    }
}

fn render_blocks(blocks: &[Value]) -> String {
    let mut out = String::new();
    for block in blocks {
        match block["type"].as_str().unwrap_or_default() {
            "header" => {
                let _ = writeln!(
                    out,
                    "<div class=\"header\">{}</div>",
                    text_object(&block["text"])
                );
            }
            "section" => {
                if !block["text"].is_null() {
                    let _ = writeln!(
                        out,
                        "<div class=\"section\">{}</div>",
                        text_object(&block["text"])
                    );
                }
                if let Some(fields) = block["fields"].as_array() {
                    out.push_str("<div class=\"fields\">\n");
                    for field in fields {
                        let _ = writeln!(out, "<div>{}</div>", text_object(field));
                    }
                    out.push_str("</div>\n");
                }
                if block["accessory"]["type"].as_str() == Some("button") {
                    let _ = writeln!(
                        out,
                        "<div class=\"actions\">{}</div>",
                        button(&block["accessory"])
                    );
                }
            }
            "context" => {
                let parts: Vec<String> = block["elements"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| match e["type"].as_str() {
                        Some("image") => {
                            format!("[{}]", plain(e["alt_text"].as_str().unwrap_or("image")))
                        }
                        _ => text_object(e),
                    })
                    .collect();
                let _ = writeln!(out, "<div class=\"context\">{}</div>", parts.join(" "));
            }
            "actions" => {
                let buttons: Vec<String> = block["elements"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| {
                        if e["type"].as_str() == Some("button") {
                            button(e)
                        } else {
                            format!(
                                "<span class=\"unknown\">{}</span>",
                                plain(e["type"].as_str().unwrap_or("element"))
                            )
                        }
                    })
                    .collect();
                let _ = writeln!(out, "<div class=\"actions\">{}</div>", buttons.join(""));
            }
            "divider" => out.push_str("<hr class=\"divider\">\n"),
            "image" => {
                let _ = writeln!(
                    out,
                    "<div class=\"section unknown\">[image: {}]</div>",
                    plain(block["alt_text"].as_str().unwrap_or("image"))
                );
            }
            "rich_text" => {
                let _ = writeln!(
                    out,
                    "<div class=\"section unknown\">rich_text block (not drawn here)</div>"
                );
            }
            other => {
                let _ = writeln!(
                    out,
                    "<div class=\"unknown\">unsupported block: {}</div>",
                    plain(if other.is_empty() { "(no type)" } else { other })
                );
            }
        }
    }
    out
}

fn button(element: &Value) -> String {
    let label = text_object(&element["text"]);
    let class = match element["style"].as_str() {
        Some("primary") => "button primary",
        Some("danger") => "button danger",
        _ => "button",
    };
    match element["url"].as_str().filter(|u| safe_url(u)) {
        Some(url) => format!("<a class=\"{class}\" href=\"{}\">{label}</a>", escape(url)),
        None => format!("<span class=\"{class}\">{label}</span>"),
    }
}

/// A Block Kit text object: `mrkdwn` is parsed, `plain_text` is shown as it is.
fn text_object(value: &Value) -> String {
    let text = value["text"].as_str().unwrap_or_default();
    match value["type"].as_str() {
        Some("mrkdwn") => mrkdwn(text),
        _ => plain(text),
    }
}

/// Slack plain text: only Slack's three entities are decoded; no markup.
pub fn plain(text: &str) -> String {
    escape(&decode_entities(text)).replace('\n', "<br>")
}

/// Only links a reader could follow safely.
fn safe_url(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://") || url.starts_with("mailto:")
}

/// HTML escaping for text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Slack's escaping undone: `&lt;` `&gt;` `&amp;` (the only entities Slack uses).
pub fn decode_entities(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

// ───────────────────────────── Slack mrkdwn → HTML

/// Slack mrkdwn as HTML: code blocks first (nothing is parsed inside them), then inline markup.
pub fn mrkdwn(text: &str) -> String {
    let mut out = String::new();
    let parts: Vec<&str> = text.split("```").collect();
    // An odd number of fences: the last one has no partner and stays text.
    let closed = if parts.len().is_multiple_of(2) {
        parts.len() - 1
    } else {
        parts.len()
    };
    for (i, part) in parts.iter().enumerate() {
        if i >= closed {
            out.push_str(&inline(&format!("```{part}")));
        } else if i % 2 == 1 {
            let code = part.strip_prefix('\n').unwrap_or(part);
            let _ = write!(out, "<pre>{}</pre>", escape(&decode_entities(code)));
        } else {
            out.push_str(&inline(part));
        }
    }
    out
}

/// Inline mrkdwn: `code`, <links|and> <!mentions>, *bold*, _italic_, ~strike~, line breaks.
fn inline(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut plain_run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if !run.is_empty() {
            out.push_str(&escape(&decode_entities(run)));
            run.clear();
        }
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '`' => {
                if let Some(end) = find(&chars, i + 1, '`').filter(|&e| e > i + 1) {
                    flush(&mut plain_run, &mut out);
                    let code: String = chars[i + 1..end].iter().collect();
                    let _ = write!(out, "<code>{}</code>", escape(&decode_entities(&code)));
                    i = end + 1;
                    continue;
                }
            }
            '<' => {
                if let Some(end) = find(&chars, i + 1, '>') {
                    flush(&mut plain_run, &mut out);
                    let inner: String = chars[i + 1..end].iter().collect();
                    out.push_str(&angle(&inner));
                    i = end + 1;
                    continue;
                }
            }
            '*' | '_' | '~' => {
                if let Some(end) = emphasis_end(&chars, i) {
                    flush(&mut plain_run, &mut out);
                    let inner: String = chars[i + 1..end].iter().collect();
                    let tag = match c {
                        '*' => "b",
                        '_' => "i",
                        _ => "s",
                    };
                    let _ = write!(out, "<{tag}>{}</{tag}>", inline(&inner));
                    i = end + 1;
                    continue;
                }
            }
            '\n' => {
                flush(&mut plain_run, &mut out);
                out.push_str("<br>");
                i += 1;
                continue;
            }
            _ => {}
        }
        plain_run.push(c);
        i += 1;
    }
    flush(&mut plain_run, &mut out);
    out
}

/// The next `wanted` on the same line.
fn find(chars: &[char], from: usize, wanted: char) -> Option<usize> {
    chars
        .iter()
        .enumerate()
        .skip(from)
        .take_while(|(_, c)| **c != '\n')
        .find(|(_, c)| **c == wanted)
        .map(|(i, _)| i)
}

/// Where the emphasis opened at `start` closes, if it is one: the marker follows a boundary
/// and precedes a non-space; the closing marker follows a non-space and precedes a boundary.
fn emphasis_end(chars: &[char], start: usize) -> Option<usize> {
    let marker = chars[start];
    let boundary = |c: Option<&char>| c.is_none_or(|c| !c.is_alphanumeric());
    if !boundary(start.checked_sub(1).and_then(|p| chars.get(p))) {
        return None;
    }
    let first = chars.get(start + 1)?;
    if first.is_whitespace() || *first == marker {
        return None;
    }
    let mut j = start + 2;
    while j < chars.len() {
        let c = chars[j];
        if c == '\n' {
            return None;
        }
        if c == marker && !chars[j - 1].is_whitespace() && boundary(chars.get(j + 1)) {
            return Some(j);
        }
        j += 1;
    }
    None
}

/// What Slack does with `<…>`: links, mentions, channel references, dates.
fn angle(inner: &str) -> String {
    let (target, label) = match inner.split_once('|') {
        Some((t, l)) => (t, Some(l)),
        None => (inner, None),
    };
    if let Some(special) = target.strip_prefix('!') {
        // <!here>, <!channel>, <!everyone>, <!subteam^ID|@team>, <!date^…|fallback>
        let shown = label.map(decode_entities).unwrap_or_else(|| {
            let name = special.split('^').next().unwrap_or(special);
            format!("@{name}")
        });
        return format!("<span class=\"mention\">{}</span>", escape(&shown));
    }
    if let Some(user) = target.strip_prefix('@') {
        let shown = label.map_or_else(
            || format!("@{user}"),
            |l| format!("@{}", decode_entities(l)),
        );
        return format!("<span class=\"mention\">{}</span>", escape(&shown));
    }
    if let Some(channel) = target.strip_prefix('#') {
        let shown = label.map_or_else(
            || format!("#{channel}"),
            |l| format!("#{}", decode_entities(l)),
        );
        return format!("<span class=\"mention\">{}</span>", escape(&shown));
    }
    let url = decode_entities(target);
    let shown = match label {
        Some(l) => inline(l),
        None => escape(&url),
    };
    if safe_url(&url) {
        format!("<a href=\"{}\">{shown}</a>", escape(&url))
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn mrkdwn_as_slack_shows_it() {
        let cases: &[(&str, &str)] = &[
            ("plain", "plain"),
            ("*bold*", "<b>bold</b>"),
            ("_italic_ and ~gone~", "<i>italic</i> and <s>gone</s>"),
            ("*State*\nALARM (was OK)", "<b>State</b><br>ALARM (was OK)"),
            ("a `x < y` b", "a <code>x &lt; y</code> b"),
            ("`a &lt; b`", "<code>a &lt; b</code>"),
            (
                "```\nline 1\n  *not bold* &lt;x&gt;\n```",
                "<pre>line 1\n  *not bold* &lt;x&gt;\n</pre>",
            ),
            (
                "<https://example.com/a?b=1&amp;c=2|the *docs*>",
                "<a href=\"https://example.com/a?b=1&amp;c=2\">the <b>docs</b></a>",
            ),
            (
                "<https://x.example>",
                "<a href=\"https://x.example\">https://x.example</a>",
            ),
            ("<javascript:alert(1)|click>", "click"),
            (
                "<!channel> and <!here>",
                "<span class=\"mention\">@channel</span> and <span class=\"mention\">@here</span>",
            ),
            ("<@U024BE7LH>", "<span class=\"mention\">@U024BE7LH</span>"),
            ("&lt;!channel&gt; &amp; co", "&lt;!channel&gt; &amp; co"),
            ("93.4% &gt; 80%", "93.4% &gt; 80%"),
            ("snake_case_name stays", "snake_case_name stays"),
            ("2 * 3 * 4", "2 * 3 * 4"),
            ("*unclosed", "*unclosed"),
            ("* not bold*", "* not bold*"),
            ("*bold _and italic_*", "<b>bold <i>and italic</i></b>"),
            ("\"quoted\" 'x'", "&quot;quoted&quot; &#39;x&#39;"),
            ("```unclosed fence", "```unclosed fence"),
        ];
        for (input, want) in cases {
            assert_eq!(&mrkdwn(input), want, "input: {input:?}");
        }
    }

    #[test]
    fn attachment_colors_are_safe_in_style() {
        for (input, want) in [
            ("#D93025", "#D93025"),
            ("#abc", "#abc"),
            ("good", "#2eb67d"),
            ("danger", "#e01e5a"),
            ("red; background: url(x)", "#dddddd"),
            ("#12345g", "#dddddd"),
            ("", "#dddddd"),
        ] {
            assert_eq!(attachment_color(input), want, "{input}");
        }
    }

    #[test]
    fn blocks_become_slack_like_html() {
        let payload = json!({
            "text": "fallback, not shown",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": "🔴 ALARM: <b>x</b> &amp; y", "emoji": true}},
                {"type": "section", "text": {"type": "mrkdwn", "text": "*headline*"}},
                {"type": "divider"},
                {"type": "mystery"}
            ],
            "attachments": [{
                "color": "#D93025",
                "blocks": [
                    {"type": "section", "fields": [{"type": "mrkdwn", "text": "*State*\nALARM"}]},
                    {"type": "actions", "elements": [
                        {"type": "button", "text": {"type": "plain_text", "text": "Alarm"}, "url": "https://console.example/a?b=1&c=2"},
                        {"type": "button", "text": {"type": "plain_text", "text": "Bad"}, "url": "javascript:alert(1)"}
                    ]},
                    {"type": "context", "elements": [{"type": "mrkdwn", "text": "footer `id`"}]}
                ]
            }]
        });
        let html = message(&payload);
        for want in [
            "<div class=\"header\">🔴 ALARM: &lt;b&gt;x&lt;/b&gt; &amp; y</div>",
            "<div class=\"section\"><b>headline</b></div>",
            "<hr class=\"divider\">",
            "unsupported block: mystery",
            "style=\"border-left-color: #D93025\"",
            "<div class=\"fields\">\n<div><b>State</b><br>ALARM</div>",
            "<a class=\"button\" href=\"https://console.example/a?b=1&amp;c=2\">Alarm</a>",
            "<span class=\"button\">Bad</span>",
            "<div class=\"context\">footer <code>id</code></div>",
        ] {
            assert!(html.contains(want), "missing {want:?} in\n{html}");
        }
        assert!(!html.contains("fallback, not shown"), "{html}");
        // Without blocks, the text is the message.
        assert!(message(&json!({"text": "just *text*"})).contains("just <b>text</b>"));
    }

    #[test]
    fn hostile_golden_stays_text() {
        let root = repo_root();
        let entries = collect(&root).expect("the gallery's sources");
        let hostile = entries
            .iter()
            .find(|e| e.id == "sns-hostile-names")
            .expect("the hostile-names golden");
        let html = message(&hostile.slack);
        assert!(!html.contains("<a href=\"https://evil.example"), "{html}");
        assert!(!html.contains("class=\"mention\""), "{html}");
        assert!(html.contains("&lt;!channel&gt;"), "{html}");
    }

    fn repo_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    /// The committed page is what the current goldens and samples produce. When the notifier's
    /// rendering changes (its goldens are rewritten), this fails until the page is regenerated.
    #[test]
    fn committed_gallery_matches_the_goldens() {
        let root = repo_root();
        let entries = collect(&root).expect("the gallery's sources");
        for (id, _) in FEATURED {
            assert!(
                entries.iter().any(|e| e.id == *id),
                "featured message {id} has no source (a golden or a sample was renamed?)"
            );
        }
        let want = page(&entries);
        let path = root.join("docs/slack/index.html");
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/slack/index.html is not what the current goldens produce: the notifier's \
             rendering changed. Run scripts/gen-docs.sh (the page and its PNGs) and commit docs/slack."
        );
    }
}
