//! Architecture invariant: the scaling rule and the simulator stay pure.

#[test]
fn pure_modules_stay_pure() {
    phoenix_testkit::tidy::assert_pure_modules(
        env!("CARGO_MANIFEST_DIR"),
        &["decide.rs", "simulate.rs", "event.rs"],
    );
}
