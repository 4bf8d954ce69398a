// pure: the bucket's expiry check; no I/O
//! Exported logs must expire: the bucket's lifecycle configuration must hold an enabled rule,
//! not narrowed by tag or size, that covers `<EXPORT_PREFIX>/` and expires objects within
//! [`EXPORT_EXPIRY_DAYS`] days. The check reports what drifted ("no lifecycle rule", "30 days",
//! "disabled"...) so a person can restore the template's rule.

/// The longest expiry of exported logs the bucket may have (the 7-day rotation).
pub const EXPORT_EXPIRY_DAYS: i32 = 7;

/// One lifecycle rule, as far as expiry is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryRule {
    pub id: String,
    pub enabled: bool,
    /// The rule's prefix (filter prefix, `and` prefix or legacy prefix); `None` = whole bucket.
    pub prefix: Option<String>,
    /// True when the rule also filters on tags or object size (it may miss exports).
    pub narrowed: bool,
    pub expiration_days: Option<i32>,
}

/// `Ok(rule id)` when an enabled rule expires every export within 7 days; `Err(drift)` else.
pub fn check_expiry(rules: &[ExpiryRule], export_prefix: &str) -> Result<String, String> {
    let exports = format!("{}/", export_prefix.trim_matches('/'));
    let covering = rules.iter().find(|r| {
        r.enabled
            && !r.narrowed
            && r.prefix.as_deref().is_none_or(|p| exports.starts_with(p))
            && r.expiration_days
                .is_some_and(|d| (1..=EXPORT_EXPIRY_DAYS).contains(&d))
    });
    match covering {
        Some(rule) => Ok(format!(
            "rule {} expires {exports} after {} days",
            rule.id,
            rule.expiration_days.unwrap_or_default()
        )),
        None if rules.is_empty() => Err(format!(
            "the bucket has no lifecycle rule: exported logs under {exports} never expire"
        )),
        None => {
            let seen: Vec<String> = rules
                .iter()
                .map(|r| {
                    format!(
                        "{} ({}, prefix {}, {})",
                        r.id,
                        if r.enabled { "enabled" } else { "disabled" },
                        r.prefix.as_deref().unwrap_or("*"),
                        r.expiration_days
                            .map(|d| format!("{d} days"))
                            .unwrap_or_else(|| "no day expiry".to_owned())
                    )
                })
                .collect();
            Err(format!(
                "no enabled lifecycle rule expires {exports} within {EXPORT_EXPIRY_DAYS} days; rules: {}",
                seen.join("; ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_drift_table() {
        let rule =
            |prefix: Option<&str>, days: Option<i32>, enabled: bool, narrowed: bool| ExpiryRule {
                id: "r".into(),
                enabled,
                prefix: prefix.map(str::to_owned),
                narrowed,
                expiration_days: days,
            };
        let cases = vec![
            (
                "the seeded rule",
                vec![rule(Some("logs/"), Some(7), true, false)],
                true,
            ),
            (
                "shorter is fine",
                vec![rule(Some("logs/"), Some(3), true, false)],
                true,
            ),
            ("whole bucket", vec![rule(None, Some(7), true, false)], true),
            (
                "prefix without slash",
                vec![rule(Some("logs"), Some(7), true, false)],
                true,
            ),
            ("no rules", vec![], false),
            (
                "disabled",
                vec![rule(Some("logs/"), Some(7), false, false)],
                false,
            ),
            (
                "30 days",
                vec![rule(Some("logs/"), Some(30), true, false)],
                false,
            ),
            (
                "another prefix",
                vec![rule(Some("archive/"), Some(7), true, false)],
                false,
            ),
            (
                "narrowed by tag",
                vec![rule(Some("logs/"), Some(7), true, true)],
                false,
            ),
            (
                "date expiry only",
                vec![rule(Some("logs/"), None, true, false)],
                false,
            ),
        ];
        for (name, rules, ok) in cases {
            assert_eq!(check_expiry(&rules, "logs").is_ok(), ok, "{name}");
        }
        assert_eq!(
            check_expiry(&[rule(Some("logs/"), Some(30), true, false)], "logs"),
            Err("no enabled lifecycle rule expires logs/ within 7 days; rules: r (enabled, prefix logs/, 30 days)".to_owned())
        );
    }
}
