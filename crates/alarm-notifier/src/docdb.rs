// pure: parses DocumentDB events and rates them; no I/O, no clock
//! DocumentDB events: failovers, instance restarts, failures, maintenance, patches, ...
//!
//! DocumentDB uses the RDS event machinery: its events reach EventBridge with `source`
//! `aws.rds` (DocumentDB has no event source of its own; `aws.docdb` is accepted too, should it
//! appear) and the detail-types `RDS DB Cluster Event`, `RDS DB Instance Event` and
//! `RDS DB Cluster Snapshot Event`. The `detail` carries `EventCategories` (`failover`,
//! `failure`, `availability`, `maintenance`, ...), `SourceType` (`CLUSTER`, `DB_INSTANCE`, ...),
//! `SourceIdentifier`, `SourceArn`, `Date`, `Message` and `EventID` (`RDS-EVENT-0071`). The
//! event arrives directly (an EventBridge rule targeting the notifier) or forwarded to the
//! `alerts` topic (the event JSON as the SNS message); both become one [`DbEvent`].
//!
//! How urgent each event is for people is one rule, [`DbEvent::severity`], table-tested.

use chrono::{DateTime, Utc};
use phoenix_core::Severity;
use serde_json::Value;

use crate::lenient::{arn_account, arn_region, nonblank, str_at, strings_at, time_at};

/// The EventBridge detail-types of database events.
pub const DETAIL_TYPES: [&str; 3] = [
    "RDS DB Cluster Event",
    "RDS DB Instance Event",
    "RDS DB Cluster Snapshot Event",
];

/// The EventBridge sources that carry DocumentDB events.
pub const SOURCES: [&str; 2] = ["aws.rds", "aws.docdb"];

phoenix_core::string_enum! {
    /// An RDS/DocumentDB event category.
    pub enum Category {
        Availability = "availability",
        Backup = "backup",
        ConfigurationChange = "configuration change",
        Creation = "creation",
        Deletion = "deletion",
        Failover = "failover",
        Failure = "failure",
        LowStorage = "low storage",
        Maintenance = "maintenance",
        Notification = "notification",
        Recovery = "recovery",
        Restoration = "restoration",
        SecurityPatching = "security patching",
    }
}

phoenix_core::string_enum! {
    /// What the event is about.
    pub enum SourceType {
        Cluster = "CLUSTER",
        Instance = "DB_INSTANCE",
        ClusterSnapshot = "CLUSTER_SNAPSHOT",
    }
}

impl SourceType {
    /// `cluster`, `instance`, `cluster snapshot`.
    pub fn noun(&self) -> &str {
        match self {
            Self::Cluster => "cluster",
            Self::Instance => "instance",
            Self::ClusterSnapshot => "cluster snapshot",
            Self::Unknown(other) => other.as_str(),
        }
    }
}

/// One DocumentDB event.
#[derive(Debug, Clone, PartialEq)]
pub struct DbEvent {
    pub source_type: SourceType,
    /// The cluster, instance or snapshot identifier.
    pub source_id: String,
    pub source_arn: Option<String>,
    pub categories: Vec<Category>,
    /// What AWS says happened (`Completed failover to DB instance: phoenix-docdb-2`).
    pub message: String,
    /// `RDS-EVENT-0071`.
    pub code: Option<String>,
    pub time: Option<DateTime<Utc>>,
    pub account: Option<String>,
    pub region: Option<String>,
}

/// Words in a message that say something went wrong (`failover` is not one of them).
const TROUBLE_WORDS: [&str; 12] = [
    "fail",
    "failed",
    "fails",
    "failing",
    "failure",
    "failures",
    "error",
    "errors",
    "unable",
    "cannot",
    "couldn't",
    "incompatible",
];

impl DbEvent {
    /// The category that names the event (the first one AWS lists).
    pub fn category(&self) -> Option<&Category> {
        self.categories.first()
    }

    fn says_trouble(&self) -> bool {
        let message = self.message.to_ascii_lowercase();
        message.contains("could not")
            || message
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '\''))
                .any(|word| TROUBLE_WORDS.contains(&word))
    }

    /// The one rule for how urgent a database event is for people (the `severity` attribute on
    /// `oncall`, which people's subscriptions filter on; Slack shows every event):
    ///
    /// * `failure`, and a failover that failed → **error**;
    /// * `failover` (the primary moved: seconds of errors for clients), `availability` (an
    ///   instance restarted or shut down), `low storage`, `deletion`, a recovery that started,
    ///   any event whose message says something failed, and a category never seen →
    ///   **warning**;
    /// * `maintenance`, `security patching`, `notification`, `configuration change`,
    ///   `creation`, `backup`, `restoration`, a completed recovery → **info**.
    pub fn severity(&self) -> Severity {
        let trouble = self.says_trouble();
        let rated = |category: &Category| match category {
            Category::Failure => Severity::Error,
            Category::Failover if trouble => Severity::Error,
            Category::Failover
            | Category::Availability
            | Category::LowStorage
            | Category::Deletion
            | Category::Unknown(_) => Severity::Warning,
            Category::Recovery if !self.message.to_ascii_lowercase().contains("complete") => {
                Severity::Warning
            }
            Category::Recovery
            | Category::Maintenance
            | Category::SecurityPatching
            | Category::Notification
            | Category::ConfigurationChange
            | Category::Creation
            | Category::Backup
            | Category::Restoration => Severity::Info,
        };
        let by_category = self
            .categories
            .iter()
            .map(rated)
            .max_by_key(Severity::rank)
            .unwrap_or(Severity::Warning);
        if trouble {
            by_category.at_least(Severity::Warning)
        } else {
            by_category
        }
    }

    /// What the category means for the people running Phoenix, in one sentence.
    pub fn meaning(&self) -> Option<&'static str> {
        Some(match self.category()? {
            Category::Failover => {
                "The primary moved to another instance: clients reconnect, and a few seconds of \
                 database errors in the app are expected."
            }
            Category::Failure => {
                "DocumentDB reports a failure: check the cluster in the console; the app may be \
                 unable to reach its data."
            }
            Category::Availability => {
                "An instance restarted or shut down: expect a short interruption on it."
            }
            Category::Recovery => "DocumentDB is recovering an instance.",
            Category::LowStorage => "Storage is running low.",
            Category::Maintenance | Category::SecurityPatching => {
                "Maintenance by AWS: nothing to do unless it keeps failing."
            }
            Category::Deletion => "Something was deleted: check that it was meant to be.",
            _ => return None,
        })
    }

    /// What identifies this event whatever path it came by (EventBridge or forwarded by SNS).
    pub fn identity(&self) -> String {
        let source = self.source_arn.as_deref().unwrap_or(&self.source_id);
        let what = self.code.as_deref().unwrap_or(&self.message);
        let when = self.time.map(|t| t.to_rfc3339()).unwrap_or_default();
        format!("db-event:{source}:{what}:{when}")
    }
}

/// True when an EventBridge event is a database event (by source and detail-type).
pub fn is_db_event(event: &Value) -> bool {
    let source = str_at(event, "/source").unwrap_or_default();
    let detail_type = str_at(event, "/detail-type").unwrap_or_default();
    SOURCES.contains(&source) && DETAIL_TYPES.contains(&detail_type)
}

/// The event's source type from `SourceType` (or, failing that, the detail-type).
fn source_type(detail: &Value, detail_type: &str) -> SourceType {
    match str_at(detail, "/SourceType").map(str::trim) {
        Some(text) if !text.is_empty() => SourceType::from(text),
        _ => match detail_type {
            "RDS DB Cluster Event" => SourceType::Cluster,
            "RDS DB Instance Event" => SourceType::Instance,
            "RDS DB Cluster Snapshot Event" => SourceType::ClusterSnapshot,
            other => SourceType::Unknown(other.to_owned()),
        },
    }
}

/// A database event from an EventBridge event (see [`is_db_event`]); `None` when it names no
/// source or says nothing.
pub fn from_eventbridge(event: &Value) -> Option<DbEvent> {
    let detail = event.get("detail")?;
    let detail_type = str_at(event, "/detail-type").unwrap_or_default();
    let source_arn = nonblank(detail, "/SourceArn").or_else(|| {
        event
            .get("resources")
            .and_then(Value::as_array)
            .and_then(|r| r.iter().filter_map(Value::as_str).next())
            .map(str::to_owned)
    });
    let source_id = nonblank(detail, "/SourceIdentifier")
        .or_else(|| {
            source_arn
                .as_deref()
                .and_then(|arn| arn.rsplit(':').next())
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
        })?
        // cluster events sometimes name their source `rds:NAME`
        .trim_start_matches("rds:")
        .to_owned();
    let code = nonblank(detail, "/EventID");
    let message = nonblank(detail, "/Message")
        .or_else(|| code.clone())
        .unwrap_or_default();
    if message.is_empty() {
        return None;
    }
    let categories = strings_at(detail, "/EventCategories")
        .iter()
        .map(|c| Category::from(c.to_ascii_lowercase().as_str()))
        .collect();
    let from_arn =
        |f: fn(&str) -> Option<&str>| source_arn.as_deref().and_then(f).map(str::to_owned);
    Some(DbEvent {
        source_type: source_type(detail, detail_type),
        categories,
        time: time_at(detail, "/Date").or_else(|| time_at(event, "/time")),
        account: nonblank(event, "/account").or_else(|| from_arn(arn_account)),
        region: nonblank(event, "/region").or_else(|| from_arn(arn_region)),
        source_id,
        source_arn,
        message,
        code,
    })
}
