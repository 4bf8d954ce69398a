//! Text for humans, shared by every function: size limits (for people and for AWS APIs with a
//! size cap), durations as people read them, and the redaction of secrets from text we did not
//! write ourselves (a dead container's log lines).

/// The marker appended when text was cut.
pub const TRUNCATION_MARKER: &str = "… [truncated]";

/// `text` cut to at most `max_chars` characters (Unicode scalar values, never mid-character),
/// with [`TRUNCATION_MARKER`] at the end when anything was cut. The marker counts towards the
/// limit, so the result always fits.
pub fn truncate_chars(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let marker_len = TRUNCATION_MARKER.chars().count();
    if max_chars <= marker_len {
        return text.chars().take(max_chars).collect();
    }
    let mut out: String = text.chars().take(max_chars - marker_len).collect();
    out.push_str(TRUNCATION_MARKER);
    out
}

/// A duration as people read it: `9s`, `35m 0s`, `1h 13m 5s` (negative durations read `0s`).
pub fn human_duration(d: chrono::Duration) -> String {
    let total = d.num_seconds().max(0);
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s}s"),
        _ => format!("{h}h {m}m {s}s"),
    }
}

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// Keys whose value is a secret in `key=value`, `key: value` and `"key": "value"` forms
/// (compared without case, as a suffix of the key: `DB_PASSWORD`, `x-api-key`).
const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "access_key",
    "secret_key",
    "authorization",
    "credentials",
    "connection_string",
    "connectionstring",
];

/// Removes secrets from text we did not write (log lines of a dead container), by rules that can
/// be read and tested:
/// * the password of any URL with credentials (`mongodb://user:pw@host` → `mongodb://user:[redacted]@host`);
/// * the value after a secret-looking key (`password=…`, `"apiKey": "…"`, `Authorization: Bearer …`);
/// * AWS access key ids (`AKIA…`, `ASIA…`) and Slack webhook paths (`hooks.slack.com/services/…`).
///
/// It errs on the side of hiding: a value it hides by mistake is a lesser harm than a secret
/// posted to a Slack channel.
pub fn redact_secrets(text: &str) -> String {
    text.lines().map(redact_line).collect::<Vec<_>>().join("\n")
}

fn redact_line(line: &str) -> String {
    let line = redact_url_passwords(line);
    let line = redact_marked(&line, "hooks.slack.com/services/");
    let line = redact_aws_key_ids(&line);
    redact_key_values(&line)
}

/// `scheme://user:password@` → `scheme://user:[redacted]@`. The credentials end at the last `@`
/// of the word (passwords are not always percent-encoded and may hold `#`, `/` or `?`).
fn redact_url_passwords(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let end = after
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(after.len());
        let word = &after[..end];
        match (word.rfind('@'), word.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&word[..=colon]);
                out.push_str(REDACTED);
                out.push_str(&word[at..]);
            }
            _ => out.push_str(word),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Everything after `marker` up to whitespace or a quote becomes [`REDACTED`].
fn redact_marked(line: &str, marker: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find(marker) {
        let (before, after) = rest.split_at(at + marker.len());
        out.push_str(before);
        let end = after
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '>')
            .unwrap_or(after.len());
        if end > 0 {
            out.push_str(REDACTED);
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// `AKIA` / `ASIA` followed by 16 upper-case letters or digits.
fn redact_aws_key_ids(line: &str) -> String {
    let bytes = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < bytes.len() {
        let is_key = i + 20 <= bytes.len()
            && (bytes[i..].starts_with(b"AKIA") || bytes[i..].starts_with(b"ASIA"))
            && bytes[i + 4..i + 20]
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric());
        if is_key {
            out.push_str(REDACTED);
            i += 20;
        } else {
            // copy one whole character
            let len = line[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&line[i..i + len]);
            i += len;
        }
    }
    out
}

/// The value after a secret-looking key, in `k=v`, `k: v`, `"k": "v"` and `k v` (Bearer) forms.
fn redact_key_values(line: &str) -> String {
    let lower = line.to_ascii_lowercase();
    let mut out = String::with_capacity(line.len());
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = SECRET_KEYS
        .iter()
        .filter_map(|key| lower[search..].find(key).map(|at| (search + at, key.len())))
        .min()
    {
        let (at, len) = found;
        let mut i = at + len;
        // the rest of the key (`password_hash`, `tokenId`) stays part of the key
        while i < line.len() && line.as_bytes()[i].is_ascii_alphanumeric() {
            i += 1;
        }
        // separator: optional quote, spaces, then '=' or ':'
        let mut j = i;
        let bytes = line.as_bytes();
        if j < bytes.len() && (bytes[j] == b'"' || bytes[j] == b'\'') {
            j += 1;
        }
        while j < bytes.len() && bytes[j] == b' ' {
            j += 1;
        }
        if j < bytes.len() && (bytes[j] == b'=' || bytes[j] == b':') {
            j += 1;
            while j < bytes.len() && bytes[j] == b' ' {
                j += 1;
            }
            // `Bearer xyz`, `Basic xyz`: the scheme stays, the credential goes
            for scheme in ["bearer ", "basic "] {
                if lower[j..].starts_with(scheme) {
                    j += scheme.len();
                }
            }
            let quoted = j < bytes.len() && (bytes[j] == b'"' || bytes[j] == b'\'');
            let start = if quoted { j + 1 } else { j };
            let end = line[start..]
                .find(|c: char| {
                    if quoted {
                        c == '"' || c == '\''
                    } else {
                        c.is_whitespace() || c == ',' || c == ';' || c == '&' || c == '}'
                    }
                })
                .map_or(line.len(), |e| start + e);
            if end > start {
                out.push_str(&line[copied..start]);
                out.push_str(REDACTED);
                copied = end;
            }
            search = end.max(i);
        } else {
            search = i;
        }
        if search >= line.len() {
            break;
        }
    }
    out.push_str(&line[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human_duration(chrono::Duration::seconds(2100)), "35m 0s");
        assert_eq!(human_duration(chrono::Duration::seconds(4385)), "1h 13m 5s");
        assert_eq!(human_duration(chrono::Duration::seconds(9)), "9s");
        assert_eq!(human_duration(chrono::Duration::seconds(-3)), "0s");
    }

    #[test]
    fn secrets_are_redacted_by_rule() {
        let cases = [
            (
                "connecting to mongodb://phoenix:S3cr3t!@docdb.cluster.local:27017/?tls=true",
                "connecting to mongodb://phoenix:[redacted]@docdb.cluster.local:27017/?tls=true",
            ),
            (
                "DB_CONNECTION_STRING=mongodb+srv://u:p@h/db",
                "DB_CONNECTION_STRING=[redacted]",
            ),
            (
                r#"{"password": "hunter2", "user": "bob"}"#,
                r#"{"password": "[redacted]", "user": "bob"}"#,
            ),
            ("apiKey=abc123&x=1", "apiKey=[redacted]&x=1"),
            (
                "Authorization: Bearer eyJhbGciOi.xyz",
                "Authorization: Bearer [redacted]",
            ),
            ("key AKIAIOSFODNN7EXAMPLE used", "key [redacted] used"),
            (
                "posting to https://hooks.slack.com/services/T000/B000/XXXX now",
                "posting to https://hooks.slack.com/services/[redacted] now",
            ),
            ("GET /generatecert 200 12ms", "GET /generatecert 200 12ms"),
            (
                "Error: tokens per second exceeded",
                "Error: tokens per second exceeded",
            ),
            (
                "https://example.com:8443/health?x=1",
                "https://example.com:8443/health?x=1",
            ),
            (
                "mongodb://app:p#ss/w?rd@db:27017/x",
                "mongodb://app:[redacted]@db:27017/x",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(redact_secrets(input), want, "{input}");
        }
        assert_eq!(
            redact_secrets("a password=x\nb ok"),
            "a password=[redacted]\nb ok"
        );
    }

    proptest! {
        #[test]
        fn redaction_never_panics_and_keeps_plain_text(text in "\\PC{0,200}") {
            let _ = redact_secrets(&text);
        }

        #[test]
        fn a_password_never_survives(pw in "[A-Za-z0-9!#%]{6,30}") {
            let line = format!("mongodb://app:{pw}@db:27017 password={pw}");
            prop_assert!(!redact_secrets(&line).contains(&pw));
        }
    }

    #[test]
    fn short_text_is_untouched_and_long_text_is_marked() {
        assert_eq!(truncate_chars("héllo", 5), "héllo");
        let cut = truncate_chars(&"é".repeat(50), 20);
        assert_eq!(cut.chars().count(), 20);
        assert!(cut.ends_with(TRUNCATION_MARKER));
        assert_eq!(truncate_chars("abcdef", 3), "abc");
    }

    proptest! {
        #[test]
        fn never_longer_than_the_limit(text in ".{0,300}", max in 0usize..200) {
            let cut = truncate_chars(&text, max);
            prop_assert!(cut.chars().count() <= max);
            if text.chars().count() <= max { prop_assert_eq!(cut, text); }
        }
    }
}
