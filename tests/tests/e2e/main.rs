//! The end-to-end tests: one test executable (one link instead of one per file), one module per
//! area. Each runs the real handlers against the local emulator (moto server, started once per
//! process or named by `PHOENIX_EMULATOR_URL`) and a local Slack sink.

mod alarm_notifier;
mod backup;
mod harness;
mod ledger;
mod request_scaler;
mod task_recovery;
mod template_wiring;
