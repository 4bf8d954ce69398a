//! Medians and spreads, and a timer that keeps a noisy 2-core machine honest: warm-up first,
//! then many samples, reported as median with the 10th–90th percentile range.

use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Stats {
    pub median: f64,
    pub p10: f64,
    pub p90: f64,
    pub samples: usize,
}

impl Stats {
    pub fn of(values: &[f64]) -> Stats {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        let at = |q: f64| -> f64 {
            if sorted.is_empty() {
                return f64::NAN;
            }
            let i = ((sorted.len() - 1) as f64 * q).round() as usize;
            sorted[i.min(sorted.len() - 1)]
        };
        Stats {
            median: at(0.5),
            p10: at(0.1),
            p90: at(0.9),
            samples: sorted.len(),
        }
    }

    /// `1.23 (1.10–1.40)`.
    pub fn show(&self, digits: usize) -> String {
        format!(
            "{:.digits$} ({:.digits$}–{:.digits$})",
            self.median, self.p10, self.p90
        )
    }
}

/// Nanoseconds per call of `f`: `warmup` calls, then `samples` batches of `batch` calls.
pub fn nanos_per_call(warmup: usize, samples: usize, batch: usize, mut f: impl FnMut()) -> Stats {
    for _ in 0..warmup {
        f();
    }
    let per_batch: Vec<f64> = (0..samples)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..batch {
                f();
            }
            start.elapsed().as_nanos() as f64 / batch as f64
        })
        .collect();
    Stats::of(&per_batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_series() {
        let s = Stats::of(&[5.0, 1.0, 3.0, 2.0, 4.0, f64::NAN]);
        assert_eq!((s.median, s.p10, s.p90, s.samples), (3.0, 1.0, 5.0, 5));
        assert!(Stats::of(&[]).median.is_nan());
    }
}
