//! The crate's tests beyond the pure modules' own: the digest builder table
//! (`digest_table`), adapter faults with `aws-smithy-mocks` (`faults`), the real handler against
//! the emulator (`e2e`), and the Slack form pinned by a golden file (`golden`).

mod digest_table;
mod e2e;
mod faults;
mod golden;
