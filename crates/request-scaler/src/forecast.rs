// pure: forecasting rules on numbers already observed (no I/O, no clock, no async)
//! Where the load will be when a task asked for now starts serving.
//!
//! Timing (as deployed): the evaluation during minute `t` sees complete minutes up to `t - 2`
//! (CloudWatch publishes a minute about a minute late), and a task asked for at `t` serves from
//! `t + 1`. So every forecast here is for the minute **three minutes after the newest complete
//! one**, from that minute and older ones only (causal).
//!
//! Two forecasts, each used only when it is trustworthy, each saying why:
//! - [`trend`]: a steady rise over the last [`TREND_MINUTES`] minutes (Theil–Sen slope, robust to
//!   a burst inside the window; at least [`TREND_AGREEMENT`] of all minute pairs rising) projected
//!   [`LEAD_MINUTES`] ahead, never more than [`TREND_CAP`] × today's level;
//! - [`daily`]: the same minutes of the previous days ([`DAILY_DAYS`] at most): what the load did
//!   next on those days, added to today's level — trusted when today tracks yesterday (one day of
//!   history) or when the previous days agree (two or more). With less than a day of history it
//!   does not apply.

use serde::Serialize;

/// Minutes between the newest complete minute and the first minute a task asked for now serves.
pub const LEAD_MINUTES: usize = 3;
/// Minutes the trend is measured over.
pub const TREND_MINUTES: usize = 15;
/// Share of minute pairs in the trend window that must rise for the rise to count as steady.
pub const TREND_AGREEMENT: f64 = 0.75;
/// The trend never projects more than this multiple of the current level.
pub const TREND_CAP: f64 = 1.5;
/// Previous days the daily pattern looks at.
pub const DAILY_DAYS: usize = 3;
/// Minutes a day is compared over: today's level is the median of the last 15 minutes.
pub const DAY_LEVEL_MINUTES: usize = 15;
/// Half-width of the window around the forecast minute on a previous day (its median ignores a
/// burst shorter than this on that day).
pub const DAY_AHEAD_HALF_WIDTH: usize = 7;
/// Minutes of one previous day the daily pattern reads, ending `DAY_AHEAD_HALF_WIDTH` minutes
/// after that day's forecast minute: `[newest - 14, newest + 3 + 7]` shifted by whole days.
pub const DAY_WINDOW_MINUTES: usize = DAY_LEVEL_MINUTES + LEAD_MINUTES + DAY_AHEAD_HALF_WIDTH;
/// With one previous day: today must be within this share of that day's level (or of one task's
/// target, when quieter) for the day to be trusted.
pub const ONE_DAY_TOLERANCE: f64 = 0.25;
/// With several days: their rises must lie within this share of the mean rise (or of one task's
/// target, when smaller) of each other.
pub const DAYS_AGREEMENT: f64 = 0.5;

/// A steady rise, projected.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Trend {
    /// The fitted level at the newest complete minute.
    pub level: f64,
    /// Fitted change per minute.
    pub slope_per_minute: f64,
    /// Share of minute pairs in the window that rise.
    pub rising_share: f64,
    /// The level expected when a task asked for now serves (capped).
    pub projected: f64,
}

/// The trend of `series` (oldest first), or `None` when there are fewer than [`TREND_MINUTES`]
/// values or the load is not rising steadily.
pub fn trend(series: &[f64]) -> Option<Trend> {
    let window = series.get(series.len().checked_sub(TREND_MINUTES)?..)?;
    if window.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mut slopes = Vec::with_capacity(TREND_MINUTES * (TREND_MINUTES - 1) / 2);
    for i in 0..window.len() {
        for j in i + 1..window.len() {
            slopes.push((window[j] - window[i]) / (j - i) as f64);
        }
    }
    let rising = slopes.iter().filter(|s| **s > 0.0).count();
    let rising_share = rising as f64 / slopes.len() as f64;
    let slope = median(&mut slopes)?;
    let mut intercepts: Vec<f64> = window
        .iter()
        .enumerate()
        .map(|(m, x)| x - slope * m as f64)
        .collect();
    let intercept = median(&mut intercepts)?;
    let level = (intercept + slope * (window.len() - 1) as f64).max(0.0);
    if slope <= 0.0 || rising_share < TREND_AGREEMENT {
        return None;
    }
    let projected = (level + slope * LEAD_MINUTES as f64).min(level.max(1.0) * TREND_CAP);
    Some(Trend {
        level,
        slope_per_minute: slope,
        rising_share,
        projected,
    })
}

/// One previous day's minutes around the same time of day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayWindow {
    /// 1 = yesterday.
    pub days_ago: u32,
    /// Requests of minutes `[newest - 14, newest + 10]` of that day ([`DAY_WINDOW_MINUTES`]
    /// values; a minute without a datapoint is 0).
    pub requests: Vec<u64>,
}

/// Why the daily forecast was trusted.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "trust", rename_all = "kebab-case")]
pub enum DailyTrust {
    /// One previous day, and today's level is within `difference_percent` of it.
    TodayTracksYesterday { difference_percent: f64 },
    /// Several previous days rose alike.
    DaysAgree {
        days: usize,
        rise_min: f64,
        rise_max: f64,
    },
}

/// What the previous days say about the minutes ahead.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "daily", rename_all = "kebab-case")]
pub enum Daily {
    /// Less than a day of history (or too little of today): the pattern does not apply.
    NoHistory,
    /// History exists but is not trusted, and why.
    NotTrusted { why: String },
    /// Expected requests for the forecast minute (today's level plus the rise the previous days
    /// had; the smallest rise when several days agree).
    Trusted {
        today_level: f64,
        rise: f64,
        forecast: f64,
        because: DailyTrust,
    },
}

impl Daily {
    /// The forecast, when trusted.
    pub fn forecast(&self) -> Option<f64> {
        match self {
            Daily::Trusted { forecast, .. } => Some(*forecast),
            _ => None,
        }
    }

    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            Daily::NoHistory => "no daily pattern (less than a day of history)".to_owned(),
            Daily::NotTrusted { why } => format!("daily pattern not trusted: {why}"),
            Daily::Trusted {
                rise,
                forecast,
                because,
                ..
            } => {
                let why = match because {
                    DailyTrust::TodayTracksYesterday { difference_percent } => {
                        format!("today tracks yesterday within {difference_percent:.0} %")
                    }
                    DailyTrust::DaysAgree {
                        days,
                        rise_min,
                        rise_max,
                    } => format!(
                        "the last {days} days agree (rises {rise_min:+.0} to {rise_max:+.0} req)"
                    ),
                };
                format!("daily pattern expects {forecast:.0} req ({rise:+.0}; {why})")
            }
        }
    }
}

/// The daily forecast for the minute [`LEAD_MINUTES`] after the newest of `today` (complete
/// minutes, oldest first), from `days` (the same time of day on previous days).
/// `target_per_task` sets the scale below which differences do not matter.
pub fn daily(today: &[u64], days: &[DayWindow], target_per_task: u32) -> Daily {
    let usable: Vec<&DayWindow> = days
        .iter()
        .filter(|d| d.days_ago >= 1 && d.requests.len() == DAY_WINDOW_MINUTES)
        .take(DAILY_DAYS)
        .collect();
    let Some(recent) = today.get(today.len().saturating_sub(DAY_LEVEL_MINUTES)..) else {
        return Daily::NoHistory;
    };
    if usable.is_empty() || recent.len() < DAY_LEVEL_MINUTES {
        return Daily::NoHistory;
    }
    let floor = f64::from(target_per_task.max(1));
    let today_level = median_u64(recent);
    // (level then, level around the forecast minute) for each day
    let levels: Vec<(f64, f64)> = usable
        .iter()
        .map(|d| {
            let then = median_u64(&d.requests[..DAY_LEVEL_MINUTES]);
            let centre = DAY_LEVEL_MINUTES - 1 + LEAD_MINUTES;
            let ahead = median_u64(
                &d.requests[centre - DAY_AHEAD_HALF_WIDTH..=centre + DAY_AHEAD_HALF_WIDTH],
            );
            (then, ahead)
        })
        .collect();
    let rises: Vec<f64> = levels.iter().map(|(then, ahead)| ahead - then).collect();
    let rise_min = rises.iter().copied().fold(f64::INFINITY, f64::min);
    let rise_max = rises.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let because = if let [(then, _)] = levels.as_slice() {
        let difference = (today_level - then).abs();
        if difference > ONE_DAY_TOLERANCE * then.max(floor) {
            return Daily::NotTrusted {
                why: format!(
                    "today's level {today_level:.0} req is not within {:.0} % of yesterday's {then:.0}",
                    ONE_DAY_TOLERANCE * 100.0
                ),
            };
        }
        DailyTrust::TodayTracksYesterday {
            difference_percent: 100.0 * difference / then.max(floor),
        }
    } else {
        let mean = rises.iter().sum::<f64>() / rises.len() as f64;
        if rise_max - rise_min > DAYS_AGREEMENT * mean.abs().max(floor) {
            return Daily::NotTrusted {
                why: format!(
                    "the last {} days disagree (rises {rise_min:+.0} to {rise_max:+.0} req)",
                    rises.len()
                ),
            };
        }
        DailyTrust::DaysAgree {
            days: rises.len(),
            rise_min,
            rise_max,
        }
    };
    Daily::Trusted {
        today_level,
        rise: rise_min,
        forecast: (today_level + rise_min).max(0.0),
        because,
    }
}

/// The median; `None` for an empty slice. Sorts `values`.
fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

fn median_u64(values: &[u64]) -> f64 {
    let mut v: Vec<f64> = values.iter().map(|&x| x as f64).collect();
    median(&mut v).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(from: f64, step: f64, n: usize) -> Vec<f64> {
        (0..n).map(|i| from + step * i as f64).collect()
    }

    #[test]
    fn trend_table() {
        let mut noisy = ramp(100.0, 10.0, TREND_MINUTES);
        for (i, v) in noisy.iter_mut().enumerate() {
            *v += if i % 2 == 0 { 15.0 } else { -15.0 };
        }
        let mut burst = vec![200.0; TREND_MINUTES];
        burst[10] = 900.0;
        burst[11] = 900.0;
        let cases: Vec<(&str, Vec<f64>, Option<f64>)> = vec![
            ("too short", ramp(100.0, 10.0, TREND_MINUTES - 1), None),
            ("flat", vec![300.0; TREND_MINUTES], None),
            ("falling", ramp(500.0, -10.0, TREND_MINUTES), None),
            // level 240 at the newest minute, +10/min, 3 minutes ahead
            ("steady rise", ramp(100.0, 10.0, TREND_MINUTES), Some(270.0)),
            ("noisy rise", noisy, Some(270.0)),
            ("a burst is not a trend", burst, None),
            // 10 → 150: projected 150 + 3 × 10 = 180, capped at 1.5 × 150 = 225 (not reached)
            ("cap", ramp(10.0, 10.0, TREND_MINUTES), Some(180.0)),
            // +100/min from 0: level 1400, + 300 = 1700 ≤ 2100
            ("steep", ramp(0.0, 100.0, TREND_MINUTES), Some(1700.0)),
            ("not finite", vec![f64::NAN; TREND_MINUTES], None),
        ];
        let mut failures = Vec::new();
        for (name, series, want) in cases {
            let got = trend(&series).map(|t| t.projected);
            let ok = match (got, want) {
                (Some(g), Some(w)) => (g - w).abs() < 16.0,
                (None, None) => true,
                _ => false,
            };
            if !ok {
                failures.push(format!("{name}: got {got:?}, want {want:?}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn the_trend_cap_bounds_a_projection() {
        // 1, 2, … 15 rising by 1/min from a tiny level: 15 + 3 = 18 ≤ 22.5
        let t = trend(&ramp(1.0, 1.0, TREND_MINUTES)).expect("rising");
        assert!((t.projected - 18.0).abs() < 1e-9, "{t:?}");
        // a jump within the window: the slope is large, the cap holds it at 1.5 × level
        let mut s = vec![10.0; 5];
        s.extend(ramp(20.0, 40.0, TREND_MINUTES - 5));
        let t = trend(&s).expect("rising");
        assert!(t.projected <= t.level * TREND_CAP + 1e-9, "{t:?}");
    }

    fn day(days_ago: u32, then: u64, ahead: u64) -> DayWindow {
        // the first 15 minutes at `then`, the rest at `ahead`: around the forecast minute
        // (index 17, window 10..=24) the median is `ahead`
        let mut requests = vec![then; DAY_LEVEL_MINUTES];
        requests.extend(vec![ahead; DAY_WINDOW_MINUTES - DAY_LEVEL_MINUTES]);
        DayWindow { days_ago, requests }
    }

    #[test]
    fn daily_table() {
        let today = vec![200; 20];
        let cases: Vec<(&str, Vec<DayWindow>, Option<f64>, &str)> = vec![
            ("no history", vec![], None, "no daily"),
            (
                "yesterday rose, today tracks it",
                vec![day(1, 210, 610)],
                Some(600.0),
                "tracks yesterday",
            ),
            (
                "yesterday was much busier",
                vec![day(1, 400, 800)],
                None,
                "not within 25 %",
            ),
            (
                "three days agree: the smallest rise",
                vec![day(1, 200, 600), day(2, 190, 620), day(3, 210, 560)],
                Some(550.0),
                "the last 3 days agree",
            ),
            (
                "days disagree",
                vec![day(1, 200, 900), day(2, 200, 200), day(3, 200, 600)],
                None,
                "disagree",
            ),
            (
                "a falling day forecasts lower",
                vec![day(1, 200, 100)],
                Some(100.0),
                "tracks yesterday",
            ),
            (
                "a short window is ignored",
                vec![DayWindow {
                    days_ago: 1,
                    requests: vec![1; 3],
                }],
                None,
                "no daily",
            ),
        ];
        let mut failures = Vec::new();
        for (name, days, want, words) in cases {
            let d = daily(&today, &days, 100);
            let text = d.describe();
            let ok = match (d.forecast(), want) {
                (Some(g), Some(w)) => (g - w).abs() < 1e-9,
                (None, None) => true,
                _ => false,
            };
            if !ok || !text.contains(words) {
                failures.push(format!(
                    "{name}: got {:?} `{text}`, want {want:?} `{words}`",
                    d.forecast()
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn daily_needs_a_quarter_hour_of_today() {
        assert_eq!(daily(&[100; 5], &[day(1, 100, 500)], 100), Daily::NoHistory);
    }

    #[test]
    fn a_burst_yesterday_shorter_than_the_window_is_ignored() {
        // yesterday: flat 200, a 5-minute burst to 900 right at the forecast minute
        let mut requests = vec![200; DAY_WINDOW_MINUTES];
        for r in &mut requests[15..20] {
            *r = 900;
        }
        let d = daily(
            &[200; 20],
            &[DayWindow {
                days_ago: 1,
                requests,
            }],
            100,
        );
        assert_eq!(d.forecast(), Some(200.0), "{}", d.describe());
    }
}
