//! Architecture invariant shared by every function crate (DESIGN house rule: decision code is
//! pure): the named modules use no async, no AWS SDK, no environment and no clock, so they can be
//! table-tested, golden-tested and benchmarked alone. Only the code before a module's
//! `#[cfg(test)]` is checked.

const FORBIDDEN: [&str; 7] = [
    "async ",
    ".await",
    "aws_sdk_",
    "std::env",
    "now()",
    "Instant::",
    "tokio::",
];

/// Panics naming each module of `crate_dir/src` that uses something impure.
pub fn assert_pure_modules(crate_dir: &str, modules: &[&str]) {
    let mut found = Vec::new();
    for module in modules {
        let path = format!("{crate_dir}/src/{module}");
        let source = match std::fs::read_to_string(&path) {
            Ok(source) => source,
            Err(e) => {
                found.push(format!("{path}: {e}"));
                continue;
            }
        };
        // the module's own tests may use a clock or a runtime
        let code = source.split("#[cfg(test)]").next().unwrap_or_default();
        for forbidden in FORBIDDEN {
            if code.contains(forbidden) {
                found.push(format!("{module} uses `{forbidden}`"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "impure decision modules:\n{}",
        found.join("\n")
    );
}
