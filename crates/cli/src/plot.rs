// pure: draws an SVG from a replay already computed (no I/O, no clock, no async)
//! Draws a scaler replay as a hand-written SVG: one time axis; requests per minute (left axis)
//! and, on the right axis aligned with it (one task = `target` requests), our desired and
//! serving tasks, target tracking's serving tasks and, with CPU, the tasks CPU demand needs;
//! a strip marks each under-provisioned minute of both. The title carries the summary figures.
//!
//! Output is deterministic (the committed plots in `docs/plots/` are checked against it).

use std::fmt::Write as _;

use request_scaler::simulate::{Row, delta_percent};

use crate::simulate::Replay;

const WIDTH: f64 = 1200.0;
const HEIGHT: f64 = 580.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = WIDTH - 80.0;
const TOP: f64 = 84.0;
const BOTTOM: f64 = 400.0;
/// At most this many points per line: longer traces are drawn per bucket (its busiest minute).
const MAX_POINTS: usize = 1_500;

const REQUESTS: &str = "#7da7d9";
const CPU: &str = "#e08a00";
const OURS: &str = "#1b7f3b";
const TT: &str = "#c0392b";
const SHORT: &str = "#c0392b";
const GRID: &str = "#e3e3e3";
const INK: &str = "#222";
const MUTED: &str = "#666";
const FRAME: &str = "#999";

/// `&`, `<`, `>`, `"` escaped for SVG text and attributes.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

struct Frame {
    minutes: usize,
    /// Top of the tasks axis (the requests axis is `top_tasks × target`).
    top_tasks: f64,
}

impl Frame {
    fn x(&self, minute: f64) -> f64 {
        LEFT + minute * (RIGHT - LEFT) / self.minutes.max(1) as f64
    }

    fn y_tasks(&self, tasks: f64) -> f64 {
        BOTTOM - tasks.clamp(0.0, self.top_tasks) * (BOTTOM - TOP) / self.top_tasks
    }
}

/// A step line through `values` (one per minute), emitting only the changes.
fn steps(frame: &Frame, values: &[f64]) -> String {
    let mut d = String::new();
    let Some(&first) = values.first() else {
        return d;
    };
    let _ = write!(d, "M{:.1},{:.1}", frame.x(0.0), frame.y_tasks(first));
    let mut last = first;
    for (m, &v) in values.iter().enumerate().skip(1) {
        if v != last {
            let _ = write!(d, " H{:.1} V{:.1}", frame.x(m as f64), frame.y_tasks(v));
            last = v;
        }
    }
    let _ = write!(d, " H{:.1}", frame.x(values.len() as f64));
    d
}

/// The busiest value of each bucket of `bucket` minutes, at the bucket's middle.
fn buckets(values: &[f64], bucket: usize) -> Vec<(f64, f64)> {
    values
        .chunks(bucket.max(1))
        .enumerate()
        .map(|(i, chunk)| {
            let max = chunk.iter().copied().fold(0.0, f64::max);
            ((i * bucket) as f64 + chunk.len() as f64 / 2.0, max)
        })
        .collect()
}

/// A tick step (minutes) giving at most 12 ticks.
fn time_step(minutes: usize) -> usize {
    [10, 15, 30, 60, 120, 180, 240, 360, 720, 1_440, 2_880]
        .into_iter()
        .find(|step| minutes / step <= 12)
        .unwrap_or(10_080)
}

fn time_label(minute: usize) -> String {
    if minute.is_multiple_of(60) {
        format!("{} h", minute / 60)
    } else {
        format!("{}:{:02}", minute / 60, minute % 60)
    }
}

/// A task-axis step giving at most 10 ticks.
fn task_step(top: f64) -> f64 {
    [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0]
        .into_iter()
        .find(|step| top / step <= 10.0)
        .unwrap_or(500.0)
}

fn serving(rows: &[Row]) -> Vec<f64> {
    rows.iter().map(|r| f64::from(r.serving)).collect()
}

/// The SVG of one replay.
pub fn svg(replay: &Replay) -> String {
    let policy = &replay.policy;
    let target = f64::from(policy.target_per_task.max(1));
    let minutes = replay.trace.len();
    let requests: Vec<f64> = replay.trace.requests.iter().map(|&r| r as f64).collect();
    let cpu_target = f64::from(policy.target_cpu_percent);
    let cpu_need: Option<Vec<f64>> = replay
        .trace
        .cpu
        .as_ref()
        .filter(|_| cpu_target > 0.0)
        .map(|c| c.iter().map(|d| d / cpu_target).collect());
    let ours_serving = serving(&replay.ours_rows);
    let ours_desired: Vec<f64> = replay
        .ours_rows
        .iter()
        .map(|r| f64::from(r.desired))
        .collect();
    let tt_serving = serving(&replay.tt_rows);

    let peak = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let highest = [
        peak(&requests) / target,
        peak(&ours_desired),
        peak(&tt_serving),
        cpu_need.as_deref().map(peak).unwrap_or(0.0),
        f64::from(policy.max_tasks),
    ]
    .into_iter()
    .fold(1.0, f64::max);
    let step = task_step(highest);
    let frame = Frame {
        minutes,
        top_tasks: (highest / step).ceil() * step,
    };

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" font-family="Helvetica, Arial, sans-serif" font-size="12" fill="{INK}">"#
    );
    let _ = writeln!(
        s,
        r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
    );

    // title and summary
    let (o, t) = (&replay.ours, &replay.target_tracking);
    let cpu_part = if cpu_need.is_some() {
        format!(", CPU target {} %", policy.target_cpu_percent)
    } else {
        String::new()
    };
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="30" font-size="17" font-weight="bold">{}: request-scaler vs AWS target tracking</text>"#,
        escape(&replay.name)
    );
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="52">under-provisioned minutes: ours {} / TT {} · task-minutes: ours {} / TT {} ({:+.1} %) · worst catch-up: {} / {} min · scale actions: {} / {}</text>"#,
        o.under_provisioned_minutes,
        t.under_provisioned_minutes,
        o.task_minutes,
        t.task_minutes,
        delta_percent(o.task_minutes, t.task_minutes),
        o.worst_catch_up_minutes,
        t.worst_catch_up_minutes,
        o.scale_actions,
        t.scale_actions,
    );
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="70" fill="{MUTED}">{} min · {} req/min per task{cpu_part} · {}–{} tasks · without forecasts ours would have {} under-provisioned minutes</text>"#,
        minutes,
        policy.target_per_task,
        policy.min_tasks,
        policy.max_tasks,
        replay.without_forecast.under_provisioned_minutes,
    );

    // grid and axes
    let mut tick = 0.0;
    while tick <= frame.top_tasks + 1e-9 {
        let y = frame.y_tasks(tick);
        let _ = writeln!(
            s,
            r#"<line x1="{LEFT}" x2="{RIGHT}" y1="{y:.1}" y2="{y:.1}" stroke="{GRID}"/>"#
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{:.0}</text>"#,
            LEFT - 6.0,
            y + 4.0,
            tick * target
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}">{tick:.0}</text>"#,
            RIGHT + 6.0,
            y + 4.0
        );
        tick += step;
    }
    let mid = (TOP + BOTTOM) / 2.0;
    let _ = writeln!(
        s,
        r#"<text transform="translate(22 {mid:.1}) rotate(-90)" text-anchor="middle">requests per minute</text>"#
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate({:.1} {mid:.1}) rotate(90)" text-anchor="middle">tasks (1 task = {} req/min)</text>"#,
        WIDTH - 22.0,
        policy.target_per_task
    );
    let time = time_step(minutes);
    for minute in (0..=minutes).step_by(time) {
        let x = frame.x(minute as f64);
        let _ = writeln!(
            s,
            r#"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{BOTTOM}" stroke="{GRID}"/>"#
        );
        let _ = writeln!(
            s,
            r#"<text x="{x:.1}" y="470" text-anchor="middle">{}</text>"#,
            time_label(minute)
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="490" text-anchor="middle" fill="{MUTED}">time from the start of the trace</text>"#,
        (LEFT + RIGHT) / 2.0
    );
    let _ = writeln!(
        s,
        r#"<rect x="{LEFT}" y="{TOP}" width="{:.1}" height="{:.1}" fill="none" stroke="{FRAME}"/>"#,
        RIGHT - LEFT,
        BOTTOM - TOP
    );

    // requests: an area, drawn per bucket on long traces
    let bucket = minutes.div_ceil(MAX_POINTS).max(1);
    let points = buckets(&requests, bucket);
    let mut area = format!("M{:.1},{:.1}", frame.x(0.0), BOTTOM);
    for (m, v) in &points {
        let _ = write!(
            area,
            " L{:.1},{:.1}",
            frame.x(*m),
            frame.y_tasks(v / target)
        );
    }
    let _ = write!(area, " L{:.1},{:.1} Z", frame.x(minutes as f64), BOTTOM);
    let _ = writeln!(
        s,
        r#"<path d="{area}" fill="{REQUESTS}" fill-opacity="0.35" stroke="{REQUESTS}" stroke-width="1"/>"#
    );
    if let Some(need) = &cpu_need {
        let mut line = String::new();
        for (i, (m, v)) in buckets(need, bucket).iter().enumerate() {
            let _ = write!(
                line,
                "{}{:.1},{:.1}",
                if i == 0 { "M" } else { " L" },
                frame.x(*m),
                frame.y_tasks(*v)
            );
        }
        let _ = writeln!(
            s,
            r#"<path d="{line}" fill="none" stroke="{CPU}" stroke-width="1.4" stroke-dasharray="5 3"/>"#
        );
    }
    let _ = writeln!(
        s,
        r#"<path d="{}" fill="none" stroke="{TT}" stroke-width="1.6"/>"#,
        steps(&frame, &tt_serving)
    );
    let _ = writeln!(
        s,
        r#"<path d="{}" fill="none" stroke="{OURS}" stroke-width="1" stroke-dasharray="3 2" opacity="0.8"/>"#,
        steps(&frame, &ours_desired)
    );
    let _ = writeln!(
        s,
        r#"<path d="{}" fill="none" stroke="{OURS}" stroke-width="2"/>"#,
        steps(&frame, &ours_serving)
    );

    // under-provisioned minutes
    for (row_y, label, rows) in [
        (412.0, "short: ours", &replay.ours_rows),
        (428.0, "short: TT", &replay.tt_rows),
    ] {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="10">{label}</text>"#,
            LEFT - 6.0,
            row_y + 9.0
        );
        let width = ((RIGHT - LEFT) / minutes.max(1) as f64).max(0.6);
        let mut marks = String::new();
        for r in rows.iter().filter(|r| r.under_provisioned(policy)) {
            let _ = write!(
                marks,
                "M{:.1},{row_y:.1} h{width:.2} v10 h-{width:.2} Z ",
                frame.x(r.minute as f64)
            );
        }
        let _ = writeln!(s, r#"<path d="{}" fill="{SHORT}"/>"#, marks.trim_end());
    }

    // legend
    let mut items: Vec<(&str, &str, String)> = vec![
        (REQUESTS, "area", {
            if bucket > 1 {
                format!("requests/min (busiest minute of each {bucket})")
            } else {
                "requests/min".to_owned()
            }
        }),
        (OURS, "solid", "our serving tasks".to_owned()),
        (OURS, "dashed", "our desiredCount".to_owned()),
        (TT, "solid", "target tracking's serving tasks".to_owned()),
    ];
    if cpu_need.is_some() {
        items.push((
            CPU,
            "dashed",
            format!("tasks CPU demand needs at {} %", policy.target_cpu_percent),
        ));
    }
    items.push((SHORT, "mark", "under-provisioned minute".to_owned()));
    let mut x = LEFT;
    for (colour, kind, label) in &items {
        let y = 530.0;
        match *kind {
            "area" => {
                let _ = writeln!(
                    s,
                    r#"<rect x="{x:.1}" y="{:.1}" width="22" height="10" fill="{colour}" fill-opacity="0.35" stroke="{colour}"/>"#,
                    y - 8.0
                );
            }
            "mark" => {
                let _ = writeln!(
                    s,
                    r#"<rect x="{:.1}" y="{:.1}" width="4" height="10" fill="{colour}"/>"#,
                    x + 9.0,
                    y - 8.0
                );
            }
            _ => {
                let dash = if *kind == "dashed" {
                    r#" stroke-dasharray="5 3""#
                } else {
                    ""
                };
                let _ = writeln!(
                    s,
                    r#"<line x1="{x:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="2"{dash}/>"#,
                    x + 22.0,
                    y - 3.0,
                    y - 3.0
                );
            }
        }
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            x + 28.0,
            y + 1.0,
            escape(label)
        );
        x += 34.0 + 6.4 * label.chars().count() as f64;
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use request_scaler::policy::Policy;

    use super::*;

    #[test]
    fn a_plot_has_its_title_legend_and_marks_and_no_nonsense() {
        let text = "minute,requests,cpu\n".to_owned()
            + &(0..120)
                .map(|m| {
                    format!(
                        "{m},{},{}\n",
                        if m > 60 { 700 } else { 50 },
                        if m > 90 { 300 } else { 20 }
                    )
                })
                .collect::<String>();
        let trace = request_scaler::simulate::parse_trace(&text).expect("trace");
        let replay = Replay::run("a<b>&c.csv", trace, Policy::default());
        let svg = svg(&replay);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        for words in [
            "a&lt;b&gt;&amp;c.csv: request-scaler vs AWS target tracking",
            "under-provisioned minutes: ours",
            "our serving tasks",
            "target tracking's serving tasks",
            "tasks CPU demand needs at 70 %",
            "under-provisioned minute",
            "requests per minute",
        ] {
            assert!(svg.contains(words), "{words}");
        }
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
        // a short trace is drawn minute by minute
        assert!(!svg.contains("busiest minute of each"));
    }

    #[test]
    fn axes_and_steps() {
        assert_eq!(time_step(180), 15);
        assert_eq!(time_step(4_320), 360);
        assert_eq!(time_label(90), "1:30");
        assert_eq!(time_label(360), "6 h");
        assert_eq!(task_step(10.0), 1.0);
        assert_eq!(task_step(13.0), 2.0);
        let frame = Frame {
            minutes: 4,
            top_tasks: 10.0,
        };
        assert_eq!(
            steps(&frame, &[1.0, 1.0, 3.0, 3.0]),
            "M80.0,368.4 H600.0 V305.2 H1120.0"
        );
        assert_eq!(buckets(&[1.0, 5.0, 2.0], 2), vec![(1.0, 5.0), (2.5, 2.0)]);
    }
}
