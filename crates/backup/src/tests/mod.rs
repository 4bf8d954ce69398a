//! Every test of the crate that is not a pure module's own table: the rotation tables, the
//! faults injected into every AWS call (aws-smithy-mocks), one run at a time and retries (the
//! ledger), the half-done matrix (a 500 after each step, against the emulator), random events.

mod export_machine;
mod exports;
mod fake_table;
mod fault_rules;
mod faults;
mod half_done;
mod lease;
mod mocks;
mod random;
mod rotation;
mod rotation_runs;

/// The modules marked `// pure: <why>` on their first line (the workspace's purity check reads
/// the marker); this crate's decision modules must be among them.
const PURE: [&str; 10] = [
    "event.rs",
    "expiry.rs",
    "export_steps.rs",
    "exports.rs",
    "journal.rs",
    "progress.rs",
    "report.rs",
    "report/notice.rs",
    "rotation.rs",
    "windows.rs",
];

#[test]
fn the_pure_modules_are_marked_and_stay_pure() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let mut marked = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(format!("{dir}/src"))];
    while let Some(path) = stack.pop() {
        for entry in std::fs::read_dir(&path).expect("src is readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("readable");
                if text.starts_with("// pure:") {
                    let relative = path
                        .strip_prefix(format!("{dir}/src/"))
                        .expect("under src")
                        .to_string_lossy()
                        .into_owned();
                    marked.push(relative);
                }
            }
        }
    }
    marked.sort();
    assert_eq!(marked, PURE, "marked modules");
    // each is then checked, token by token, by the test kit's workspace purity test
}
