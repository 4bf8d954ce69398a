//! Architecture invariant: the rule and rendering modules stay pure.

#[test]
fn pure_modules_stay_pure() {
    phoenix_testkit::tidy::assert_pure_modules(
        env!("CARGO_MANIFEST_DIR"),
        &["input.rs", "policy.rs", "render.rs"],
    );
}
