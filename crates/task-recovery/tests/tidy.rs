//! Architecture invariant: classification, planning and reporting stay pure.

#[test]
fn pure_modules_stay_pure() {
    phoenix_testkit::tidy::assert_pure_modules(
        env!("CARGO_MANIFEST_DIR"),
        &["event.rs", "classify.rs", "plan.rs", "report.rs"],
    );
}
