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

mod html;
mod mrkdwn;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::Value;

use html::page;

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

#[cfg(test)]
mod tests {
    use super::html::message;
    use super::*;

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
