//! The notifier's tests, all in the library's unit-test binary: parsing tables, the decision
//! and retry rules, golden renderings, once across containers, faults of every call, secrets
//! in logs. Tests that need the ledger start (or reuse) the local emulator through the test kit.

mod config;
mod containers;
mod decide;
mod deliver;
mod event;
mod faults;
mod render;
mod secrets;
mod slack_retry;
mod support;
