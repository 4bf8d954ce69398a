//! Architecture invariant (DESIGN house rule 10): decision code is pure — no async, no AWS SDK, no
//! environment, no file system, no network, no processes, no clock, no sleeping — so it can be
//! table-tested, golden-tested, fuzzed and benchmarked alone.
//!
//! **Convention**: a pure module's very first line is `// pure: <why>`. [`check_workspace`] walks
//! every `crates/*/src/**/*.rs`; for each file with the marker it reads the file as **tokens**
//! (comments and string/char literals stripped; every `#[cfg(test)]` item left out by matching
//! its braces, so a test module anywhere in the file is skipped and the code after it is still
//! checked) and reports `file:line: \`token\`` for each of [`FORBIDDEN`]. It also requires the
//! marker on the modules [`REQUIRED_PURE_MODULES`] names. One workspace test
//! (`tidy::tests::every_pure_module_in_the_workspace_is_pure`, in the test kit's unit tests) runs
//! it for the whole repository.

use std::path::{Path, PathBuf};

/// The first line of every pure module starts with this, followed by the reason.
pub const MARKER: &str = "// pure:";

/// Modules that must carry the marker, per crate (paths relative to the crate's `src/`): the
/// pure steps of every function's pipeline (`event` → … → `decide` → … → `report`) and the rule
/// modules the design names. Add a module here when a crate gains one; any other module with the
/// marker is checked too.
pub const REQUIRED_PURE_MODULES: &[(&str, &[&str])] = &[
    (
        "task-recovery",
        &["event.rs", "classify.rs", "decide.rs", "report.rs"],
    ),
    (
        "request-scaler",
        &[
            "event.rs",
            "decide.rs",
            "forecast.rs",
            "simulate.rs",
            "report.rs",
        ],
    ),
    (
        "alarm-notifier",
        &["event.rs", "decide.rs", "render.rs", "report.rs"],
    ),
    (
        "backup",
        &["event.rs", "rotation.rs", "exports.rs", "report.rs"],
    ),
    ("daily-digest", &["event.rs", "decide.rs", "report.rs"]),
];

/// What a pure module may not use. Each entry is a token sequence (`::` and `.` are tokens;
/// a trailing `*` matches any identifier with that prefix); `use std::{…}` groups are expanded
/// (see [`check_source`]).
pub const FORBIDDEN: &[&[&str]] = &[
    &["async"],
    &[".", "await"],
    &["aws_sdk_*"],
    &["aws_config"],
    &["std", "::", "env"],
    &["env", "::", "var*"],
    &["std", "::", "fs"],
    &["fs", "::"],
    &["std", "::", "net"],
    &["std", "::", "process"],
    &["Utc", "::", "now"],
    &["Local", "::", "now"],
    &["SystemTime"],
    &["Instant"],
    &["thread", "::", "sleep"],
    &["tokio"],
];

/// Modules of `std` a pure module may not import, even inside a `use std::{…}` group.
const FORBIDDEN_STD_MODULES: [&str; 4] = ["env", "fs", "net", "process"];

/// A token of Rust source: identifiers, `::`, and single punctuation characters; literals are
/// dropped, so a forbidden word inside a string or a comment is never reported.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    text: String,
    line: usize,
}

/// Splits Rust source into tokens, dropping comments and string, byte-string, raw-string and
/// char literals (lifetimes are kept as `'a`, harmlessly).
fn tokenize(source: &str) -> Vec<Token> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let count_lines = |from: usize, to: usize, line: &mut usize| {
        *line += chars[from..to.min(chars.len())]
            .iter()
            .filter(|c| **c == '\n')
            .count();
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            // nested block comments
            let start = i;
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            count_lines(start, i, &mut line);
        } else if let Some(end) = raw_string_end(&chars, i) {
            count_lines(i, end, &mut line);
            i = end;
        } else if c == '"' || (c == 'b' && next == Some('"')) {
            let start = i;
            i += if c == 'b' { 2 } else { 1 };
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            count_lines(start, i, &mut line);
        } else if c == '\'' || (c == 'b' && next == Some('\'')) {
            // a char literal ('x', '\n', '\u{1F600}', b'x') or a lifetime ('a)
            let start = if c == 'b' { i + 1 } else { i };
            match char_literal_end(&chars, start) {
                Some(end) => i = end,
                None => {
                    // lifetime or label: keep as a token
                    let mut end = start + 1;
                    while end < chars.len() && is_ident_char(chars[end]) {
                        end += 1;
                    }
                    tokens.push(Token {
                        text: chars[start..end].iter().collect(),
                        line,
                    });
                    i = end;
                }
            }
        } else if is_ident_start(c) {
            let start = i;
            while i < chars.len() && is_ident_char(chars[i]) {
                i += 1;
            }
            let mut text: String = chars[start..i].iter().collect();
            if let Some(raw) = text.strip_prefix("r#") {
                text = raw.to_owned();
            }
            // `r#ident` arrives as `r`, `#`, `ident`: handled by the next branches harmlessly
            tokens.push(Token { text, line });
        } else if c.is_ascii_digit() {
            while i < chars.len() && (is_ident_char(chars[i]) || chars[i] == '.') {
                // `1.await` is not Rust; `x.0.await` splits at the dot anyway
                if chars[i] == '.' && !chars.get(i + 1).is_some_and(char::is_ascii_digit) {
                    break;
                }
                i += 1;
            }
        } else if c == ':' && next == Some(':') {
            tokens.push(Token {
                text: "::".into(),
                line,
            });
            i += 2;
        } else {
            tokens.push(Token {
                text: c.to_string(),
                line,
            });
            i += 1;
        }
    }
    tokens
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The end of a raw (byte) string literal starting at `i` (`r"…"`, `r#"…"#`, `br##"…"##`).
fn raw_string_end(chars: &[char], i: usize) -> Option<usize> {
    let mut j = i;
    if chars.get(j) == Some(&'b') {
        j += 1;
    }
    if chars.get(j) != Some(&'r') {
        return None;
    }
    // not the end of an identifier such as `for`
    if i > 0 && is_ident_char(chars[i - 1]) {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while chars.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    if chars.get(j) != Some(&'"') {
        return None;
    }
    j += 1;
    while j < chars.len() {
        if chars[j] == '"' && (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(chars.len())
}

/// The end of a char literal starting at the quote `i`, or `None` for a lifetime.
fn char_literal_end(chars: &[char], i: usize) -> Option<usize> {
    match chars.get(i + 1)? {
        '\\' => {
            // skip the escaped character itself (it may be a quote), then find the closing one
            let mut j = i + 3;
            while j < chars.len() && chars[j] != '\'' {
                j += 1;
            }
            Some(j + 1)
        }
        _ if chars.get(i + 2) == Some(&'\'') => Some(i + 3),
        _ => None,
    }
}

/// Tokens without the `#[cfg(test)]` items: after the attribute (and any further attributes),
/// the item ends at its first `;` outside brackets, or at the brace matching its first `{`.
fn without_test_items(tokens: Vec<Token>) -> Vec<Token> {
    fn text(t: &[Token], k: usize) -> Option<&str> {
        t.get(k).map(|t| t.text.as_str())
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let is_cfg_test = ["#", "[", "cfg", "(", "test", ")", "]"]
            .iter()
            .enumerate()
            .all(|(k, want)| text(&tokens, i + k) == Some(want));
        if !is_cfg_test {
            out.push(tokens[i].clone());
            i += 1;
            continue;
        }
        i += 7;
        let mut depth = 0i32;
        while i < tokens.len() {
            match tokens[i].text.as_str() {
                "(" | "[" => depth += 1,
                ")" | "]" => depth -= 1,
                ";" if depth == 0 => {
                    i += 1;
                    break;
                }
                "{" if depth == 0 => {
                    let mut braces = 0;
                    while i < tokens.len() {
                        match tokens[i].text.as_str() {
                            "{" => braces += 1,
                            "}" => {
                                braces -= 1;
                                if braces == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                        i += 1;
                    }
                    i += 1;
                    break;
                }
                _ => {}
            }
            i += 1;
        }
    }
    out
}

fn matches(pattern: &str, token: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => token.starts_with(prefix),
        None => pattern == token,
    }
}

/// Every forbidden use in `source` (outside comments, literals and `#[cfg(test)]` items), as
/// (line, what was found).
pub fn check_source(source: &str) -> Vec<(usize, String)> {
    let tokens = without_test_items(tokenize(source));
    let mut found = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        for pattern in FORBIDDEN {
            let hit = pattern.iter().enumerate().all(|(k, p)| {
                tokens
                    .get(i + k)
                    .is_some_and(|t| matches(p, t.text.as_str()))
            });
            if hit {
                let text: Vec<&str> = tokens[i..i + pattern.len()]
                    .iter()
                    .map(|t| t.text.as_str())
                    .collect();
                found.push((token.line, text.concat()));
            }
        }
        // `use std::{…, env, …}` / `use ::std::{fs::read, …}`
        if token.text == "use" {
            let mut j = i + 1;
            if tokens.get(j).is_some_and(|t| t.text == "::") {
                j += 1;
            }
            if tokens.get(j).is_some_and(|t| t.text == "std")
                && tokens.get(j + 1).is_some_and(|t| t.text == "::")
                && tokens.get(j + 2).is_some_and(|t| t.text == "{")
            {
                let mut depth = 0;
                for t in &tokens[j + 2..] {
                    match t.text.as_str() {
                        "{" => depth += 1,
                        "}" => depth -= 1,
                        ";" => break,
                        word if depth == 1 && FORBIDDEN_STD_MODULES.contains(&word) => {
                            found.push((t.line, format!("use std::{{{word}}}")));
                        }
                        _ => {}
                    }
                    if depth == 0 {
                        break;
                    }
                }
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// True when the file's first line is the marker with a reason.
fn has_marker(source: &str) -> Option<bool> {
    let first = source.lines().next()?;
    let reason = first.strip_prefix(MARKER)?;
    Some(!reason.trim().is_empty())
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every problem in the workspace at `root`: impure code in a marked module (`file:line:
/// \`token\``), a marker without a reason, a required module without the marker or missing.
pub fn check_workspace(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let mut crates: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    crates.sort();
    if crates.is_empty() {
        problems.push(format!("{}: no crates/ to check", root.display()));
    }
    for krate in &crates {
        let mut files = Vec::new();
        rust_files(&krate.join("src"), &mut files);
        for file in files {
            let shown = file
                .strip_prefix(root)
                .unwrap_or(&file)
                .display()
                .to_string();
            let Ok(source) = std::fs::read_to_string(&file) else {
                problems.push(format!("{shown}: unreadable"));
                continue;
            };
            match has_marker(&source) {
                None => {}
                Some(false) => problems.push(format!(
                    "{shown}:1: the marker needs a reason: `{MARKER} <why this module is pure>`"
                )),
                Some(true) => {
                    for (line, token) in check_source(&source) {
                        problems.push(format!("{shown}:{line}: `{token}` in a pure module"));
                    }
                }
            }
        }
    }
    for (krate, modules) in REQUIRED_PURE_MODULES {
        let dir = root.join("crates").join(krate);
        for module in *modules {
            let path = dir.join("src").join(module);
            let shown = format!("crates/{krate}/src/{module}");
            match std::fs::read_to_string(&path) {
                Err(_) => problems.push(format!(
                    "{shown}: missing (tidy::REQUIRED_PURE_MODULES names it: rename the list entry \
                     with the module)"
                )),
                Ok(source) if has_marker(&source).is_none() => problems.push(format!(
                    "{shown}:1: a required pure module without `{MARKER} <why>` as its first line"
                )),
                Ok(_) => {}
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens_of(source: &str) -> Vec<String> {
        check_source(source).into_iter().map(|(_, t)| t).collect()
    }

    #[test]
    fn every_pure_module_in_the_workspace_is_pure() {
        let problems = check_workspace(&crate::emulator::repo_root());
        assert!(
            problems.is_empty(),
            "purity check (crates/testkit/src/tidy.rs):\n{}",
            problems.join("\n")
        );
    }

    #[test]
    fn each_forbidden_use_is_reported_with_its_line() {
        for (code, want) in [
            ("pub async fn f() {}", "async"),
            ("fn f() { x.await; }", ".await"),
            ("use aws_sdk_ecs::Client;", "aws_sdk_ecs"),
            ("fn f(c: &aws_config::SdkConfig) {}", "aws_config"),
            ("fn f() { std::env::var(\"X\"); }", "std::env"),
            ("use std::env;\nfn f() { env::var(\"X\"); }", "env::var"),
            ("fn f() { env::var_os(\"X\"); }", "env::var_os"),
            ("use std::{collections::HashMap, env};", "use std::{env}"),
            ("use ::std::{fs, io};", "use std::{fs}"),
            ("fn f() { std::fs::read(\"x\"); }", "std::fs"),
            ("fn f() { fs::read_to_string(p); }", "fs::"),
            ("use std::net::TcpStream;", "std::net"),
            ("fn f() { std::process::exit(1) }", "std::process"),
            ("fn f() -> T { Utc::now() }", "Utc::now"),
            ("fn f() -> T { Local::now() }", "Local::now"),
            (
                "fn f(t: Option<T>) -> T { t.unwrap_or_else(Utc::now) }",
                "Utc::now",
            ),
            ("use std::time::SystemTime;", "SystemTime"),
            ("fn f() { let t = Instant::now(); }", "Instant"),
            ("fn f() { std::thread::sleep(d); }", "thread::sleep"),
            ("fn f() { tokio::spawn(x); }", "tokio"),
        ] {
            let found = tokens_of(code);
            assert!(
                found.iter().any(|t| t == want),
                "{code:?}: expected `{want}`, found {found:?}"
            );
        }
        assert_eq!(
            check_source("// pure: x\n\nfn a() {}\nasync fn b() {}\n"),
            [(4, "async".to_owned())]
        );
    }

    #[test]
    fn a_clean_module_passes_and_literals_and_comments_do_not_count() {
        let clean = r###"// pure: the rule
/// Doc: never calls `Utc::now()` or `.await`; "async" is a word.
use std::collections::BTreeMap;
use chrono::{DateTime, Utc};
/* block comment: tokio::spawn, std::env /* nested: SystemTime */ still comment */
pub fn decide(now: DateTime<Utc>, seen: &BTreeMap<String, u32>) -> &'static str {
    let _ = ("std::fs", r#"Instant "quoted" tokio"#, b"aws_sdk_ecs", '"', b'\'', "\"async\"");
    let label: &'static str = "thread::sleep";
    if seen.is_empty() { label } else { "asynchronous" }
}
"###;
        assert_eq!(check_source(clean), Vec::<(usize, String)>::new());
    }

    #[test]
    fn an_early_test_item_does_not_switch_the_check_off() {
        let source = "// pure: x
#[cfg(test)]
mod early_tests {
    use tokio::time::Instant;
    #[tokio::test]
    async fn t() { let _ = Utc::now(); }
}
#[cfg(test)]
use std::env;
#[cfg(test)]
const TABLE: [u8; 2] = [1, 2];
pub fn after() -> DateTime<Utc> { Utc::now() }
";
        assert_eq!(check_source(source), [(12, "Utc::now".to_owned())]);
        // and without it, the tests' own uses would be reported
        assert!(check_source(&source.replace("#[cfg(test)]", "")).len() > 3);
    }

    #[test]
    fn the_workspace_check_finds_impure_marked_modules_and_missing_markers() {
        let root =
            std::env::temp_dir().join(format!("phoenix-tidy-{}-{}", std::process::id(), line!()));
        let write = |path: &str, text: &str| {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        };
        // every required module present and clean, then the cases below on top
        for (krate, modules) in REQUIRED_PURE_MODULES {
            for module in *modules {
                write(
                    &format!("crates/{krate}/src/{module}"),
                    "// pure: rules\npub fn rule() {}\n",
                );
            }
        }
        write(
            "crates/task-recovery/src/decide.rs",
            "// pure: plan\npub fn plan() {}\n",
        );
        write(
            "crates/request-scaler/src/decide.rs",
            "pub fn decide() {}\n",
        );
        write("crates/request-scaler/src/simulate.rs", "// pure:\n");
        write(
            "crates/alarm-notifier/src/decide.rs",
            "// pure: rules\n\nuse std::{env, fmt};\n",
        );
        write("crates/alarm-notifier/src/render.rs", "// pure: text\n");
        write("crates/backup/src/rotation.rs", "// pure: rotation\n");
        write("crates/backup/src/exports.rs", "// pure: exports\n");
        write(
            "crates/backup/src/nested/step.rs",
            "// pure: steps\nfn f() { let _ = SystemTime::now(); }\n",
        );
        let problems = check_workspace(&root);
        let _ = std::fs::remove_dir_all(&root);
        assert_eq!(
            problems,
            [
                "crates/alarm-notifier/src/decide.rs:3: `use std::{env}` in a pure module",
                "crates/backup/src/nested/step.rs:2: `SystemTime` in a pure module",
                "crates/request-scaler/src/simulate.rs:1: the marker needs a reason: `// pure: <why this module is pure>`",
                "crates/request-scaler/src/decide.rs:1: a required pure module without `// pure: <why>` as its first line",
            ]
        );
    }
}
