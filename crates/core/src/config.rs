//! Settings from the environment, read once at start-up through an injected lookup.
//!
//! Every function reads its settings with a [`Vars`] reader. The reader never stops at the first
//! problem: it records one [`ConfigError`] per bad variable, so a misconfigured deployment is told
//! everything that is wrong in one message that names each variable.
//!
//! ```
//! use phoenix_core::Vars;
//! let env = [("MIN_TASKS", "2"), ("DRY_RUN", "yes")];
//! let mut vars = Vars::from_pairs(&env);
//! let min: u32 = vars.parsed("MIN_TASKS", 1);
//! let dry_run = vars.flag("DRY_RUN", false);
//! let topic = vars.required("ALERTS_TOPIC_ARN");
//! let err = vars.finish(()).unwrap_err();
//! assert_eq!((min, dry_run), (2, true));
//! assert!(topic.is_empty());
//! assert_eq!(err.to_string(), "invalid configuration: ALERTS_TOPIC_ARN is not set");
//! ```

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// One problem with one variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub var: String,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.var, self.problem)
    }
}

/// Every problem found while reading a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid configuration: ")?;
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl ConfigErrors {
    /// The names of the variables at fault, in the order they were read.
    pub fn vars(&self) -> Vec<&str> {
        self.0.iter().map(|e| e.var.as_str()).collect()
    }
}

type Lookup<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

/// A reader of settings that collects every problem instead of failing on the first.
pub struct Vars<'a> {
    lookup: Lookup<'a>,
    errors: Vec<ConfigError>,
    read: Vec<&'static str>,
}

impl<'a> Vars<'a> {
    /// Reads through any lookup function (the process environment in `main`, a map in tests).
    pub fn new(lookup: impl Fn(&str) -> Option<String> + 'a) -> Self {
        Self {
            lookup: Box::new(lookup),
            errors: Vec::new(),
            read: Vec::new(),
        }
    }

    /// Reads the process environment. Only binaries call this; libraries take a `Vars`.
    pub fn from_process_env() -> Vars<'static> {
        Vars::new(|name| std::env::var(name).ok())
    }

    /// Reads from a map.
    pub fn from_map(map: &'a HashMap<String, String>) -> Self {
        Self::new(move |name| map.get(name).cloned())
    }

    /// Reads from a list of pairs (handy in tests and docs).
    pub fn from_pairs(pairs: &'a [(&'a str, &'a str)]) -> Self {
        Self::new(move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    /// The names of every variable read so far (used to check the template sets them all).
    pub fn names_read(&self) -> &[&'static str] {
        &self.read
    }

    fn raw(&mut self, name: &'static str) -> Option<String> {
        if !self.read.contains(&name) {
            self.read.push(name);
        }
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn problem(&mut self, name: &str, problem: impl Into<String>) {
        self.errors.push(ConfigError {
            var: name.to_owned(),
            problem: problem.into(),
        });
    }

    /// A variable that must be set and not blank. Returns an empty string (and records the
    /// problem) when it is missing.
    pub fn required(&mut self, name: &'static str) -> String {
        match self.raw(name) {
            Some(value) => value,
            None => {
                self.problem(name, "is not set");
                String::new()
            }
        }
    }

    /// A variable that may be absent.
    pub fn optional(&mut self, name: &'static str) -> Option<String> {
        self.raw(name)
    }

    /// A required ARN of the given service (`sns`, `secretsmanager`, ...).
    pub fn required_arn(&mut self, name: &'static str, service: &str) -> String {
        let value = self.required(name);
        if !value.is_empty() && !is_arn_of(&value, service) {
            self.problem(
                name,
                // the value is not repeated: a secret pasted into the wrong variable must not
                // reach the logs through this message
                format!(
                    "must be an ARN of service {service} (arn:aws:{service}:...), got a value of {} characters that is not one",
                    value.chars().count()
                ),
            );
        }
        value
    }

    /// A value parsed with `FromStr`, or the default when the variable is absent.
    pub fn parsed<T>(&mut self, name: &'static str, default: T) -> T
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.raw(name) {
            None => default,
            Some(text) => match text.parse() {
                Ok(value) => value,
                Err(err) => {
                    self.problem(name, format!("has an invalid value {text:?}: {err}"));
                    default
                }
            },
        }
    }

    /// A whole number in `[min, max]`, or the default when absent.
    pub fn number_in(&mut self, name: &'static str, default: u32, min: u32, max: u32) -> u32 {
        let value = self.parsed::<u32>(name, default);
        if !(min..=max).contains(&value) {
            self.problem(
                name,
                format!("must be between {min} and {max}, got {value}"),
            );
            return default;
        }
        value
    }

    /// A boolean switch: `true/false`, `1/0`, `yes/no`, `on/off` (any case).
    pub fn flag(&mut self, name: &'static str, default: bool) -> bool {
        match self.raw(name) {
            None => default,
            Some(text) => match parse_flag(&text) {
                Some(value) => value,
                None => {
                    self.problem(name, format!("must be true or false, got {text:?}"));
                    default
                }
            },
        }
    }

    /// A comma-separated list; blanks are dropped. Absent means empty.
    pub fn list(&mut self, name: &'static str) -> Vec<String> {
        self.raw(name)
            .map(|text| {
                text.split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Records a problem found by a check that spans variables (e.g. min > max).
    pub fn invalid(&mut self, name: &str, problem: impl Into<String>) {
        self.problem(name, problem);
    }

    /// The value, or every problem found.
    pub fn finish<T>(self, value: T) -> Result<T, ConfigErrors> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(ConfigErrors(self.errors))
        }
    }
}

/// `true/false`, `1/0`, `yes/no`, `on/off`, any case.
pub fn parse_flag(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn is_arn_of(value: &str, service: &str) -> bool {
    let mut parts = value.splitn(6, ':');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some("arn"), Some(partition), Some(svc)) if partition.starts_with("aws") && svc == service
    ) && parts.count() == 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_variable_is_named_once_in_one_message() {
        let env = [
            ("MAX_TASKS", "ten"),
            ("DRY_RUN", "maybe"),
            ("ALERTS_TOPIC_ARN", "arn:aws:sqs:eu-west-1:1:q"),
        ];
        let mut vars = Vars::from_pairs(&env);
        vars.required("CLUSTER");
        vars.parsed::<u32>("MAX_TASKS", 10);
        vars.flag("DRY_RUN", false);
        vars.required_arn("ALERTS_TOPIC_ARN", "sns");
        let err = vars.finish(()).expect_err("four problems");
        assert_eq!(
            err.vars(),
            ["CLUSTER", "MAX_TASKS", "DRY_RUN", "ALERTS_TOPIC_ARN"]
        );
        let text = err.to_string();
        assert!(
            text.starts_with(
                "invalid configuration: CLUSTER is not set; MAX_TASKS has an invalid value \"ten\""
            ),
            "{text}"
        );
        assert!(
            text.contains("DRY_RUN must be true or false, got \"maybe\""),
            "{text}"
        );
        assert!(
            text.contains("ALERTS_TOPIC_ARN must be an ARN of service sns"),
            "{text}"
        );
    }

    #[test]
    fn defaults_apply_to_absent_and_blank_values() {
        let env = [("MIN_TASKS", "  "), ("FAMILIES", " a, ,b ,")];
        let mut vars = Vars::from_pairs(&env);
        assert_eq!(vars.parsed::<u32>("MIN_TASKS", 1), 1);
        assert!(!vars.flag("DRY_RUN", false));
        assert_eq!(vars.list("FAMILIES"), ["a", "b"]);
        assert_eq!(vars.list("NOTHING"), Vec::<String>::new());
        assert_eq!(
            vars.names_read(),
            ["MIN_TASKS", "DRY_RUN", "FAMILIES", "NOTHING"]
        );
        assert!(vars.finish(()).is_ok());
    }

    #[test]
    fn numbers_out_of_range_are_refused() {
        let env = [("CRASH_LOOP_THRESHOLD", "0")];
        let mut vars = Vars::from_pairs(&env);
        assert_eq!(vars.number_in("CRASH_LOOP_THRESHOLD", 3, 1, 100), 3);
        let err = vars.finish(()).expect_err("out of range");
        assert_eq!(
            err.to_string(),
            "invalid configuration: CRASH_LOOP_THRESHOLD must be between 1 and 100, got 0"
        );
    }

    #[test]
    fn arns_are_checked_for_their_service() {
        assert!(is_arn_of(
            "arn:aws:sns:eu-west-1:111122223333:phoenix-alerts",
            "sns"
        ));
        assert!(is_arn_of("arn:aws-cn:sns:cn-north-1:111122223333:t", "sns"));
        assert!(is_arn_of(
            "arn:aws:secretsmanager:eu-west-1:111122223333:secret:slack-AbCdEf",
            "secretsmanager"
        ));
        assert!(!is_arn_of("arn:aws:sns:eu-west-1", "sns"));
        assert!(!is_arn_of("https://hooks.slack.com/x", "sns"));
    }

    #[test]
    fn flags_accept_the_usual_spellings() {
        for (text, want) in [
            ("TRUE", Some(true)),
            ("on", Some(true)),
            ("0", Some(false)),
            ("No", Some(false)),
            ("2", None),
        ] {
            assert_eq!(parse_flag(text), want, "{text}");
        }
    }
}
