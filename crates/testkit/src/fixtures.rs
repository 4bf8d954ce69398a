//! Event fixtures from the repository's `events/` folder.

use std::path::PathBuf;

use serde_json::Value;

use crate::HarnessError;
use crate::emulator::repo_root;

/// The path of a fixture under `events/`.
pub fn fixture_path(name: &str) -> PathBuf {
    repo_root().join("events").join(name)
}

/// Loads `events/<name>` as JSON.
pub fn try_fixture(name: &str) -> Result<Value, HarnessError> {
    let path = fixture_path(name);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| HarnessError::Fixture(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| HarnessError::Fixture(format!("{}: {e}", path.display())))
}

/// Loads `events/<name>` as JSON; panics with the path when it cannot (tests only).
pub fn fixture(name: &str) -> Value {
    match try_fixture(name) {
        Ok(value) => value,
        Err(e) => panic!("{e}"),
    }
}

/// Every fixture whose name starts with `prefix`, sorted by name.
pub fn fixtures_starting_with(prefix: &str) -> Vec<(String, Value)> {
    let mut names: Vec<String> = std::fs::read_dir(repo_root().join("events"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(prefix) && n.ends_with(".json"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .into_iter()
        .map(|n| (n.clone(), fixture(&n)))
        .collect()
}
