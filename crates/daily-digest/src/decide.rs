// pure: builds the digest from what was observed; no I/O, no clock (`now` is given).
//! The digest: the last 24 hours, and what is still open.
//!
//! [`build`] takes everything the handler read (metrics, alarm states and history, the
//! functions' Outcome lines, the service) and returns a [`Digest`]. A source that could not be
//! read is a [`Gap`] the digest names; it never stops the rest. Something *needs a person*
//! (and makes the Notice a warning, so `oncall`'s severity filter lets it through) when it is
//! still open now: an alarm in ALARM, no successful backup for longer than the heartbeat allows,
//! a log export more than two days behind, a service with fewer tasks running than desired, a
//! function that panicked or whose actions failed for good.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use phoenix_core::Severity;
use serde::Serialize;

use crate::event::Window;
use crate::lines::{Entry, LogLine, entries};
use crate::outcomes::{self, Facts};

/// Backups older than this are open (the backup heartbeat alarm's limit).
pub const BACKUP_MAX_AGE_HOURS: i64 = 26;
/// A log export further behind than this is open (the export heartbeat alarm's limit).
pub const EXPORT_MAX_LAG_HOURS: f64 = 48.0;

phoenix_core::string_enum! {
    /// A CloudWatch alarm state.
    pub enum AlarmState {
        Ok = "OK",
        Alarm = "ALARM",
        InsufficientData = "INSUFFICIENT_DATA",
    }
}

/// One datapoint.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    pub at: DateTime<Utc>,
    pub value: f64,
}

/// An alarm as it is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlarmNow {
    pub name: String,
    pub state: AlarmState,
    pub since: DateTime<Utc>,
}

/// One state change from the alarm history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub alarm: String,
    pub at: DateTime<Utc>,
    pub from: AlarmState,
    pub to: AlarmState,
}

/// The service's counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceCounts {
    pub name: String,
    pub desired: u32,
    pub running: u32,
    pub pending: u32,
}

/// Something read, or why it could not be.
pub type Read<T> = Result<T, String>;

/// Everything the handler read.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub window: Window,
    pub now: DateTime<Utc>,
    /// The stack's name (alarm names are shown without it).
    pub stack: String,
    /// ALB requests per minute in the window.
    pub requests: Read<Vec<Point>>,
    /// `BackupSucceeded` per hour, over the last days.
    pub backups_succeeded: Read<Vec<Point>>,
    /// `LogExportLagHours` per hour, over the last days.
    pub export_lag: Read<Vec<Point>>,
    /// The watched alarms now.
    pub alarms: Read<Vec<AlarmNow>>,
    /// State changes of the watched alarms in the window.
    pub history: Read<Vec<Transition>>,
    /// The functions' log lines in the window.
    pub lines: Read<Vec<LogLine>>,
    /// True when there were more lines than the handler reads.
    pub lines_truncated: bool,
    /// `None`: the service does not exist (or is not ACTIVE).
    pub service: Read<Option<ServiceCounts>>,
}

/// An alarm's time in ALARM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Episode {
    pub alarm: String,
    /// `None`: it was in ALARM before the window started (or the history is unknown).
    pub started: Option<DateTime<Utc>>,
    /// `None`: still in ALARM.
    pub ended: Option<DateTime<Utc>>,
}

/// Crashes of one kind and what was done about them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Crashes {
    pub kind: String,
    pub count: u32,
    /// What was done → how often.
    pub done: BTreeMap<String, u32>,
}

/// The busiest minute.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Peak {
    pub at: DateTime<Utc>,
    pub per_minute: u64,
}

/// A source the digest could not read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    pub what: &'static str,
    pub why: String,
}

/// The last 24 hours.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Digest {
    pub window: Window,
    pub now: DateTime<Utc>,
    pub stack: String,
    pub crashes: Vec<Crashes>,
    pub crash_loops: u32,
    pub planned_stops: u32,
    pub facts: Facts,
    pub peak: Option<Peak>,
    pub requests_total: Option<u64>,
    pub last_backup: Option<DateTime<Utc>>,
    /// Hours the log export is behind now (the newest report plus its age).
    pub export_lag_hours: Option<f64>,
    pub episodes: Vec<Episode>,
    /// Still open now: each needs a person.
    pub open: Vec<String>,
    /// Worth knowing, needs nobody.
    pub notes: Vec<String>,
    pub gaps: Vec<Gap>,
}

impl Digest {
    /// Warning when something needs a person (so `oncall`'s filter lets it through), else info.
    pub fn severity(&self) -> Severity {
        if self.open.is_empty() {
            Severity::Info
        } else {
            Severity::Warning
        }
    }

    pub fn crash_count(&self) -> u32 {
        self.crashes.iter().map(|c| c.count).sum()
    }

    /// The alarm's name without the stack's prefix.
    pub fn short_name<'a>(&self, alarm: &'a str) -> &'a str {
        alarm
            .strip_prefix(&self.stack)
            .and_then(|rest| rest.strip_prefix('-'))
            .filter(|rest| !rest.is_empty())
            .unwrap_or(alarm)
    }
}

/// `HH:MM` (UTC), with the date when it is not in the window's last day.
pub fn clock(t: DateTime<Utc>, window: &Window) -> String {
    if t.date_naive() == window.end.date_naive() || window.contains(t) {
        t.format("%H:%M").to_string()
    } else {
        t.format("%b %-d %H:%M").to_string()
    }
}

/// A length of time as people say it: `9 min`, `1 h 50 min`, `30 h`, `3 d 2 h` (to the minute;
/// negative reads `0 min`).
pub fn age(d: Duration) -> String {
    let minutes = d.num_minutes().max(0);
    let (hours, days) = (minutes / 60, minutes / (24 * 60));
    if minutes < 60 {
        format!("{minutes} min")
    } else if hours < 48 {
        match minutes % 60 {
            0 => format!("{hours} h"),
            m => format!("{hours} h {m} min"),
        }
    } else {
        match hours % 24 {
            0 => format!("{days} d"),
            h => format!("{days} d {h} h"),
        }
    }
}

fn crashes(facts: &Facts) -> (Vec<Crashes>, u32, u32) {
    let mut by_kind: BTreeMap<String, Crashes> = BTreeMap::new();
    let (mut planned, mut loops) = (0, 0);
    for stop in &facts.stops {
        if stop.kind == "planned" {
            planned += 1;
            continue;
        }
        loops += u32::from(stop.crash_loop);
        let entry = by_kind.entry(stop.kind.clone()).or_insert_with(|| Crashes {
            kind: stop.kind.clone(),
            count: 0,
            done: BTreeMap::new(),
        });
        entry.count += 1;
        *entry.done.entry(stop.done.clone()).or_default() += 1;
    }
    let mut out: Vec<Crashes> = by_kind.into_values().collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then(a.kind.cmp(&b.kind)));
    (out, planned, loops)
}

fn episodes(window: &Window, history: &[Transition], now: &[AlarmNow]) -> Vec<Episode> {
    let mut history: Vec<&Transition> = history.iter().filter(|t| window.contains(t.at)).collect();
    history.sort_by_key(|t| t.at);
    let mut open: BTreeMap<&str, Option<DateTime<Utc>>> = BTreeMap::new();
    let mut out = Vec::new();
    for t in history {
        if t.to == AlarmState::Alarm {
            open.entry(&t.alarm).or_insert(Some(t.at));
        } else if t.from == AlarmState::Alarm {
            let started = open.remove(t.alarm.as_str()).flatten();
            out.push(Episode {
                alarm: t.alarm.clone(),
                started,
                ended: Some(t.at),
            });
        }
    }
    for alarm in now.iter().filter(|a| a.state == AlarmState::Alarm) {
        let started = match open.remove(alarm.name.as_str()) {
            Some(started) => started,
            None if alarm.since < window.start => None,
            None => Some(alarm.since),
        };
        out.push(Episode {
            alarm: alarm.name.clone(),
            started,
            ended: None,
        });
    }
    // in ALARM at the end of the history but not now: it ended after the window
    for (alarm, started) in open {
        out.push(Episode {
            alarm: alarm.to_owned(),
            started,
            ended: Some(window.end),
        });
    }
    out.sort_by(|a, b| {
        a.started
            .cmp(&b.started)
            .then(a.alarm.cmp(&b.alarm))
            .then(a.ended.cmp(&b.ended))
    });
    out
}

/// The newest point with a value at least `min`.
fn newest(points: &[Point], min: f64) -> Option<Point> {
    points
        .iter()
        .filter(|p| p.value.is_finite() && p.value >= min)
        .max_by_key(|p| p.at)
        .copied()
}

/// Builds the digest.
pub fn build(observation: &Observation, own_function: &str) -> Digest {
    let Observation {
        window, now, stack, ..
    } = observation;
    let mut gaps = Vec::new();
    let mut gap = |what: &'static str, why: &String| {
        gaps.push(Gap {
            what,
            why: why.clone(),
        })
    };
    let mut open = Vec::new();
    let mut notes = Vec::new();

    let entries: Vec<Entry> = match &observation.lines {
        Ok(lines) => entries(lines, own_function)
            .into_iter()
            .filter(|e| window.contains(e.time()))
            .collect(),
        Err(why) => {
            gap("the functions' Outcome lines", why);
            Vec::new()
        }
    };
    if observation.lines_truncated {
        notes.push(
            "more log lines than the digest reads: the counts below are a lower bound".to_owned(),
        );
    }
    let facts = outcomes::read(&entries);
    let (crashes, planned_stops, crash_loops) = crashes(&facts);

    let (peak, requests_total) = match &observation.requests {
        Ok(points) => {
            let in_window: Vec<&Point> = points
                .iter()
                .filter(|p| window.contains(p.at) && p.value.is_finite() && p.value > 0.0)
                .collect();
            let total = in_window.iter().map(|p| p.value.round() as u64).sum();
            let peak = in_window
                .iter()
                .max_by(|a, b| a.value.total_cmp(&b.value).then(b.at.cmp(&a.at)))
                .map(|p| Peak {
                    at: p.at,
                    per_minute: p.value.round() as u64,
                });
            (peak, Some(total))
        }
        Err(why) => {
            gap("ALB requests", why);
            (None, None)
        }
    };

    let last_backup =
        match &observation.backups_succeeded {
            Ok(points) => {
                let last = newest(points, 1.0).map(|p| p.at);
                match last {
                None => open.push("no successful backup in the last 8 days".to_owned()),
                Some(at) if *now - at > Duration::hours(BACKUP_MAX_AGE_HOURS) => open.push(format!(
                    "the last successful backup is {} old (more than {BACKUP_MAX_AGE_HOURS} h)",
                    age(*now - at)
                )),
                Some(_) => {}
            }
                last
            }
            Err(why) => {
                gap("backup successes (BackupSucceeded)", why);
                None
            }
        };
    let export_lag_hours = match &observation.export_lag {
        Ok(points) => newest(points, 0.0).map(|p| {
            let lag = p.value + (*now - p.at).num_minutes().max(0) as f64 / 60.0;
            if lag > EXPORT_MAX_LAG_HOURS {
                open.push(format!(
                    "the log export is {lag:.0} h behind (more than {EXPORT_MAX_LAG_HOURS:.0} h)"
                ));
            }
            lag
        }),
        Err(why) => {
            gap("the log export lag (LogExportLagHours)", why);
            None
        }
    };

    let alarms_now: &[AlarmNow] = match &observation.alarms {
        Ok(alarms) => alarms,
        Err(why) => {
            gap("alarm states", why);
            &[]
        }
    };
    let history: &[Transition] = match &observation.history {
        Ok(history) => history,
        Err(why) => {
            gap("alarm history", why);
            &[]
        }
    };
    let episodes = episodes(window, history, alarms_now);

    let mut digest = Digest {
        window: *window,
        now: *now,
        stack: stack.clone(),
        crashes,
        crash_loops,
        planned_stops,
        facts,
        peak,
        requests_total,
        last_backup,
        export_lag_hours,
        episodes,
        open: Vec::new(),
        notes: Vec::new(),
        gaps: Vec::new(),
    };
    // alarms first: they are what a person looks at first
    let alarms_open: Vec<String> = alarms_now
        .iter()
        .filter(|a| a.state == AlarmState::Alarm)
        .map(|alarm| {
            format!(
                "{} in ALARM since {} ({})",
                digest.short_name(&alarm.name),
                clock(alarm.since, window),
                age(*now - alarm.since)
            )
        })
        .collect();
    open.splice(0..0, alarms_open);
    match &observation.service {
        Ok(Some(s)) if s.desired == 0 => notes.push(format!(
            "{} is parked at 0 tasks: request-scaler leaves it alone until someone sets a count",
            s.name
        )),
        Ok(Some(s)) if s.running < s.desired => open.push(format!(
            "{} runs {} of {} tasks ({} pending)",
            s.name, s.running, s.desired, s.pending
        )),
        Ok(Some(_)) => {}
        Ok(None) => open.push("the service is not an ACTIVE service of the cluster".to_owned()),
        Err(why) => gap("the service", why),
    }
    for (function, t) in &digest.facts.trouble {
        if t.panicked > 0 {
            open.push(format!(
                "{function} panicked {} time(s): a defect, read its log ({})",
                t.panicked, t.last
            ));
        }
        if t.failed_actions > 0 {
            open.push(format!(
                "{function}: {} action(s) failed for good (last: {})",
                t.failed_actions, t.last
            ));
        }
    }
    digest.open = open;
    digest.notes = notes;
    digest.gaps = gaps;
    digest
}
