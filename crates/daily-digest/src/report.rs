// pure: the digest's wording, in one place; no I/O.
//! The digest as one Notice: a title that counts, a summary that says what is still open,
//! fields for the numbers, and a `details` block that tells the day section by section.
//! alarm-notifier renders it for Slack and (when it is a warning) for on-call.

use phoenix_core::{Notice, console};

use crate::decide::{Digest, Episode, age, clock};

/// The function's name (the Notice's source).
pub const SOURCE: &str = "daily-digest";
/// Scale actions listed one per line; more are counted.
const SCALE_LINES_MAX: usize = 20;

fn plural(n: u32, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `3 crashes, 5 scale actions, 2 alarms`, or `a quiet day`. The title is ASCII: it is also
/// the SNS subject of the on-call message, where anything else becomes `?`.
fn counts(digest: &Digest) -> String {
    let scale = u32::try_from(digest.facts.scale_actions.len()).unwrap_or(u32::MAX);
    let alarms = u32::try_from(digest.episodes.len()).unwrap_or(u32::MAX);
    let parts: Vec<String> = [
        (digest.crash_count(), "crash", "crashes"),
        (scale, "scale action", "scale actions"),
        (alarms, "alarm", "alarms"),
    ]
    .into_iter()
    .filter(|(n, _, _)| *n > 0)
    .map(|(n, one, many)| plural(n, one, many))
    .collect();
    if parts.is_empty() {
        "a quiet day".to_owned()
    } else {
        parts.join(", ")
    }
}

/// The Notice's title.
pub fn title(digest: &Digest) -> String {
    match digest.open.len() {
        0 => format!("Daily digest: {}; nothing open", counts(digest)),
        n => format!(
            "Daily digest: {} need{} a person ({})",
            plural(u32::try_from(n).unwrap_or(u32::MAX), "thing", "things"),
            if n == 1 { "s" } else { "" },
            counts(digest)
        ),
    }
}

fn summary(digest: &Digest) -> String {
    let w = &digest.window;
    let mut out = format!(
        "The last 24 hours of {}: {} → {} UTC. ",
        digest.stack,
        w.start.format("%b %-d %H:%M"),
        w.end.format("%b %-d %H:%M")
    );
    if digest.open.is_empty() {
        out.push_str("Nothing needs a person.");
    } else {
        out.push_str(&format!("Still open: {}.", digest.open.join("; ")));
    }
    if !digest.gaps.is_empty() {
        let what: Vec<&str> = digest.gaps.iter().map(|g| g.what).collect();
        out.push_str(&format!(" Not read: {}.", what.join(", ")));
    }
    out
}

fn times(n: u32) -> String {
    if n == 1 {
        String::new()
    } else {
        format!(" ×{n}")
    }
}

/// The window's start, with its date.
fn since(w: &crate::event::Window) -> String {
    w.start.format("%b %-d %H:%M").to_string()
}

fn episode_line(digest: &Digest, e: &Episode) -> String {
    let w = &digest.window;
    let name = digest.short_name(&e.alarm);
    match (e.started, e.ended) {
        (Some(s), Some(t)) => format!("{name}: {} → {} ({})", clock(s, w), clock(t, w), age(t - s)),
        (None, Some(t)) => format!("{name}: in ALARM before {} → {}", since(w), clock(t, w)),
        (Some(s), None) => format!(
            "{name}: {} → still in ALARM ({} so far)",
            clock(s, w),
            age(digest.now - s)
        ),
        (None, None) => format!(
            "{name}: in ALARM since before {} → still in ALARM",
            since(w)
        ),
    }
}

/// The day, section by section.
pub fn details(digest: &Digest) -> String {
    let w = &digest.window;
    let f = &digest.facts;
    let mut lines: Vec<String> = Vec::new();

    lines.push(format!("Crashes ({})", digest.crash_count()));
    for c in &digest.crashes {
        let done: Vec<String> = c
            .done
            .iter()
            .map(|(what, n)| format!("{what}{}", times(*n)))
            .collect();
        lines.push(format!(
            "  {}{} — {}",
            c.kind,
            times(c.count),
            done.join(", ")
        ));
    }
    if digest.crash_loops > 0 {
        lines.push(format!("  crash loops detected: {}", digest.crash_loops));
    }
    if digest.planned_stops > 0 {
        lines.push(format!(
            "  planned stops (deployments, scale-in): {}",
            digest.planned_stops
        ));
    }
    if !f.other_recovery.is_empty() {
        let other: Vec<String> = f
            .other_recovery
            .iter()
            .map(|(d, n)| format!("{d}{}", times(*n)))
            .collect();
        lines.push(format!(
            "  other task-recovery events: {}",
            other.join(", ")
        ));
    }

    let peak = match (digest.peak, digest.requests_total) {
        (Some(p), Some(total)) => format!(
            "peak {} requests/min at {}, {total} requests in all",
            p.per_minute,
            clock(p.at, w)
        ),
        (None, Some(_)) => "no requests".to_owned(),
        _ => "requests unknown".to_owned(),
    };
    lines.push(format!(
        "Scaling ({} actions; {peak})",
        f.scale_actions.len()
    ));
    for a in f.scale_actions.iter().take(SCALE_LINES_MAX) {
        let change = match (a.from, a.to) {
            (Some(from), Some(to)) => format!("{from} → {to} tasks"),
            _ => String::new(),
        };
        let dry = if a.dry_run { " (dry run)" } else { "" };
        lines.push(
            format!("  {} {} {change}{dry}", clock(a.at, w), a.direction)
                .trim_end()
                .to_owned(),
        );
    }
    if f.scale_actions.len() > SCALE_LINES_MAX {
        lines.push(format!(
            "  … and {} more",
            f.scale_actions.len() - SCALE_LINES_MAX
        ));
    }
    for (title, n) in &f.scale_warnings {
        lines.push(format!("  warning: {title}{}", times(*n)));
    }

    let runs = u32::try_from(f.backup_runs.len()).unwrap_or(u32::MAX);
    lines.push(format!("Backups ({})", plural(runs, "run", "runs")));
    for r in &f.backup_runs {
        let dry = if r.dry_run { " (dry run)" } else { "" };
        lines.push(format!(
            "  {} {}{dry}: {} snapshot(s) made, {} rotated, {} log export(s) started{}",
            clock(r.at, w),
            r.decision,
            r.snapshots_created,
            r.snapshots_deleted,
            r.exports_started,
            if r.failed_actions > 0 {
                format!(", {} failed", r.failed_actions)
            } else {
                String::new()
            }
        ));
    }
    let last = match digest.last_backup {
        Some(at) => format!(
            "last success {} ago ({})",
            age(digest.now - at),
            clock(at, w)
        ),
        None => "no success on record".to_owned(),
    };
    let export = match digest.export_lag_hours {
        Some(h) => format!("log export {h:.0} h behind"),
        None => "log export lag unknown".to_owned(),
    };
    lines.push(format!("  {last}; {export}"));

    lines.push(format!("Alarms ({})", digest.episodes.len()));
    for e in &digest.episodes {
        lines.push(format!("  {}", episode_line(digest, e)));
    }

    lines.push(format!(
        "Notifications: {} delivered, {} failed for good",
        f.notifications.delivered, f.notifications.failed
    ));
    if !f.trouble.is_empty() {
        lines.push("Control plane trouble".to_owned());
        for (function, t) in &f.trouble {
            lines.push(format!(
                "  {function}: {} retried, {} panicked, {} failed action(s) — last: {}",
                t.retried, t.panicked, t.failed_actions, t.last
            ));
        }
    }
    for (heading, items) in [("Still open", &digest.open), ("Notes", &digest.notes)] {
        if !items.is_empty() {
            lines.push(heading.to_owned());
            lines.extend(items.iter().map(|i| format!("  • {i}")));
        }
    }
    if !digest.gaps.is_empty() {
        lines.push("Not read".to_owned());
        lines.extend(
            digest
                .gaps
                .iter()
                .map(|g| format!("  • {}: {}", g.what, g.why)),
        );
    }
    lines.join("\n")
}

/// The digest as a Notice. `region` builds the console links of what is open.
pub fn notice(digest: &Digest, region: &str, event_id: &str) -> Notice {
    let f = &digest.facts;
    let w = &digest.window;
    let crashes = if digest.crashes.is_empty() {
        "none".to_owned()
    } else {
        let kinds: Vec<String> = digest
            .crashes
            .iter()
            .map(|c| format!("{} {}", c.kind, c.count))
            .collect();
        format!("{} — {}", digest.crash_count(), kinds.join(", "))
    };
    let outs = f
        .scale_actions
        .iter()
        .filter(|a| a.direction == "out")
        .count();
    let ins = f
        .scale_actions
        .iter()
        .filter(|a| a.direction == "in")
        .count();
    let scale = match f.scale_actions.len() {
        0 => "none".to_owned(),
        n => format!("{n} — {outs} out, {ins} in"),
    };
    let peak = match (digest.peak, digest.requests_total) {
        (Some(p), _) => format!("{} at {}", p.per_minute, clock(p.at, w)),
        (None, Some(_)) => "no requests".to_owned(),
        (None, None) => "unknown".to_owned(),
    };
    let backup = match digest.last_backup {
        Some(at) => format!("{} ago ({})", age(digest.now - at), clock(at, w)),
        None if digest.gaps.iter().any(|g| g.what.starts_with("backup")) => "unknown".to_owned(),
        None => "none in 8 days".to_owned(),
    };
    let export = digest
        .export_lag_hours
        .map_or("unknown".to_owned(), |h| format!("{h:.0} h behind"));
    let alarms = if digest.episodes.is_empty() {
        "none".to_owned()
    } else {
        let mut names: Vec<&str> = digest
            .episodes
            .iter()
            .map(|e| digest.short_name(&e.alarm))
            .collect();
        names.dedup();
        format!("{} — {}", digest.episodes.len(), names.join(", "))
    };
    let mut notice = Notice::new(
        digest.severity(),
        SOURCE,
        title(digest),
        summary(digest),
        digest.now,
    )
    .field("Crashes", crashes)
    .field("Scale actions", scale)
    .field("Peak requests/min", peak)
    .field("Last backup", backup)
    .field("Log export", export)
    .field("Alarms raised", alarms)
    .field(
        "Notifications",
        format!(
            "{} delivered, {} failed",
            f.notifications.delivered, f.notifications.failed
        ),
    )
    .field(
        "Still open",
        match digest.open.len() {
            0 => "nothing".to_owned(),
            n => n.to_string(),
        },
    )
    .details(details(digest))
    .event_id(Some(event_id));
    for e in digest.episodes.iter().filter(|e| e.ended.is_none()) {
        notice = notice.link(
            format!("Alarm {}", digest.short_name(&e.alarm)),
            console::cloudwatch_alarm(region, &e.alarm),
        );
    }
    notice
}
