//! Architecture invariant: the trigger, rotation, export-window and report modules stay pure.

#[test]
fn pure_modules_stay_pure() {
    phoenix_testkit::tidy::assert_pure_modules(
        env!("CARGO_MANIFEST_DIR"),
        &["request.rs", "rotation.rs", "exports.rs", "report.rs"],
    );
}
