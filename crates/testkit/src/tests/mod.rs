//! The test kit's own tests against the emulator (moto over real HTTP, through the real SDK).

mod cloudwatch;
mod world;

use chrono::{DateTime, TimeZone, Utc};

/// A fixed clock for the tests (no wall-clock dependency).
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 15, 0)
        .single()
        .expect("valid time")
}
