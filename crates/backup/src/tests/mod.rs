//! Every test of the crate that is not a pure module's own table: the rotation tables, the
//! faults injected into every AWS call (aws-smithy-mocks), the half-done matrix (a 500 after each
//! step, against the emulator), one run at a time, and random events.

mod faults;
mod lease;
mod mocks;
mod rotation;
