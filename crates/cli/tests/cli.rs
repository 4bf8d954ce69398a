//! The `phoenix-ops` binary as a person runs it, without the emulator.
//!
//! This integration test also makes `cargo test --all-targets` build the binary itself (cargo
//! builds a package's binaries for its integration tests): `scripts/test.sh` runs the scenarios,
//! the fuzz pass and the smoke test with that binary instead of building the CLI a second time
//! with other dependency features.
use std::process::{Command, Output};

fn phoenix_ops(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_phoenix-ops"))
        .args(args)
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("phoenix-ops runs")
}

#[test]
fn scenarios_list_names_every_scenario_of_the_system() {
    let out = phoenix_ops(&["scenarios", "--list"]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let names: Vec<&str> = stdout.lines().collect();
    for name in [
        "first-deploy",
        "app-roll",
        "stuck-service",
        "crash-loop",
        "slack-outage",
        "late-duplicate",
        "parked-by-person",
        "notifier-down",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    assert_eq!(names.len(), 8, "one name per line, nothing else: {names:?}");
}

#[test]
fn bad_input_gets_a_clear_error_and_exit_code_2() {
    let missing = phoenix_ops(&[
        "invoke",
        "task-recovery",
        "--event",
        "/nonexistent/event.json",
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("cannot read event file /nonexistent/event.json"),
        "{missing:?}"
    );

    let dir = std::env::temp_dir().join(format!("phoenix-ops-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{not json").expect("written");
    let not_json = phoenix_ops(&["invoke", "backup", "--event", bad.to_str().expect("utf-8")]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(not_json.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&not_json.stderr).contains("is not JSON"),
        "{not_json:?}"
    );

    let unknown = phoenix_ops(&["no-such-command"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("unrecognized subcommand"),
        "{unknown:?}"
    );
}
