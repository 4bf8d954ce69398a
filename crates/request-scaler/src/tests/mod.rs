//! The crate's tests beyond each module's own tables: faults injected into every AWS call,
//! handler behaviour, and the acceptance rule on the shipped traces.

mod decide;
mod faults;
mod handler;
mod mocks;
mod simulate;
mod traces;
