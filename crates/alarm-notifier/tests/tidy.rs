//! Architecture invariant: the rule and rendering modules stay pure (no async, no AWS SDK, no
//! environment, no clock), so they can be table-tested, golden-tested and benchmarked alone.

#[test]
fn pure_modules_stay_pure() {
    for module in ["input.rs", "policy.rs", "render.rs"] {
        let path = format!("{}/src/{module}", env!("CARGO_MANIFEST_DIR"));
        let source = std::fs::read_to_string(&path).expect(&path);
        for forbidden in [
            "async ",
            ".await",
            "aws_sdk_",
            "std::env",
            "now()",
            "Instant::",
            "tokio::",
        ] {
            assert!(!source.contains(forbidden), "{module} uses {forbidden}");
        }
    }
}
