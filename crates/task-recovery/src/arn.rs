// pure: parses ARNs, names and queue URLs from text; no I/O, no clock, no environment.
//! Identifiers as ECS and SQS spell them, parsed strictly and bounded: an event may name another
//! account, another region, a junk prefix or a megabyte of text, and every one of those is a
//! reason to ignore it, never a panic and never an action.

use std::fmt;

/// Longest ARN accepted (AWS's own ARNs are far shorter; IAM allows 2048).
pub const ARN_MAX_CHARS: usize = 1_024;
/// Longest ECS name (cluster, service, family): 255 letters, digits, hyphens, underscores.
pub const NAME_MAX_CHARS: usize = 255;
/// Longest task id (32 hex digits today, a UUID in the old format).
const TASK_ID_MAX_CHARS: usize = 64;

/// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`, each part checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn {
    pub partition: String,
    pub service: String,
    pub region: String,
    pub account: String,
    pub resource: String,
}

fn is_region(text: &str) -> bool {
    (1..=32).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A 12-digit AWS account id.
pub fn is_account(text: &str) -> bool {
    text.len() == 12 && text.chars().all(|c| c.is_ascii_digit())
}

/// An ECS cluster, service or task definition family name.
pub fn is_name(text: &str) -> bool {
    (1..=NAME_MAX_CHARS).contains(&text.chars().count())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn is_task_id(text: &str) -> bool {
    (1..=TASK_ID_MAX_CHARS).contains(&text.len())
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

impl Arn {
    /// Parses an ARN; the error says what is wrong, in words.
    pub fn parse(text: &str) -> Result<Arn, String> {
        if text.chars().count() > ARN_MAX_CHARS {
            return Err(format!("longer than {ARN_MAX_CHARS} characters"));
        }
        let mut parts = text.splitn(6, ':');
        let (
            Some("arn"),
            Some(partition),
            Some(service),
            Some(region),
            Some(account),
            Some(resource),
        ) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        )
        else {
            return Err(format!("{} is not an ARN", shown(text)));
        };
        let partition_ok = partition.starts_with("aws")
            && partition
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '-');
        let service_ok = !service.is_empty()
            && service
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !partition_ok || !service_ok {
            return Err(format!("{} is not an AWS ARN", shown(text)));
        }
        if !is_region(region) {
            return Err(format!("{} names no valid region", shown(text)));
        }
        if !is_account(account) {
            return Err(format!("{} names no 12-digit account", shown(text)));
        }
        if resource.is_empty() || resource.chars().any(char::is_control) {
            return Err(format!("{} names no valid resource", shown(text)));
        }
        Ok(Arn {
            partition: partition.to_owned(),
            service: service.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            resource: resource.to_owned(),
        })
    }

    /// Parses an ARN of `service` whose resource starts with `kind/`; returns the rest.
    fn parse_resource(text: &str, service: &str, kind: &str) -> Result<(Arn, String), String> {
        let arn = Arn::parse(text)?;
        if arn.service != service {
            return Err(format!(
                "{} is not an {service} ARN ({})",
                shown(text),
                arn.service
            ));
        }
        let rest = arn
            .resource
            .strip_prefix(kind)
            .and_then(|r| r.strip_prefix('/'))
            .map(str::to_owned)
            .ok_or_else(|| format!("{} is not an {service} {kind} ARN", shown(text)))?;
        Ok((arn, rest))
    }
}

/// Text quoted for a reason, shortened: an event's field can be huge.
pub fn shown(text: &str) -> String {
    format!("{:?}", phoenix_core::text::truncate_chars(text, 120))
}

/// The cluster phoenix-ops watches: `arn:aws:ecs:REGION:ACCOUNT:cluster/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterArn {
    pub partition: String,
    pub region: String,
    pub account: String,
    pub name: String,
}

impl ClusterArn {
    pub fn parse(text: &str) -> Result<ClusterArn, String> {
        let (arn, name) = Arn::parse_resource(text, "ecs", "cluster")?;
        if !is_name(&name) {
            return Err(format!("{} names no valid cluster", shown(text)));
        }
        Ok(ClusterArn {
            partition: arn.partition,
            region: arn.region,
            account: arn.account,
            name,
        })
    }

    /// Why `other` (an ARN of some ECS resource) is not in this cluster's account and region.
    pub fn foreign(&self, other: &Arn) -> Option<String> {
        if other.partition != self.partition || other.account != self.account {
            return Some(format!(
                "account {} is not the cluster's account {}",
                other.account, self.account
            ));
        }
        if other.region != self.region {
            return Some(format!(
                "region {} is not the cluster's region {}",
                other.region, self.region
            ));
        }
        None
    }
}

impl fmt::Display for ClusterArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:ecs:{}:{}:cluster/{}",
            self.partition, self.region, self.account, self.name
        )
    }
}

/// A task ARN of `cluster`: `…:task/CLUSTER/ID` (or the old `…:task/ID`). Returns the task id.
pub fn task_id_in(cluster: &ClusterArn, text: &str) -> Result<String, String> {
    let (arn, rest) = Arn::parse_resource(text, "ecs", "task")?;
    if let Some(why) = cluster.foreign(&arn) {
        return Err(format!("task {}: {why}", shown(text)));
    }
    let id = match rest.split_once('/') {
        Some((name, id)) if name == cluster.name => id,
        Some((name, _)) => {
            return Err(format!(
                "task {} belongs to cluster {}, not {}",
                shown(text),
                shown(name),
                cluster.name
            ));
        }
        None => rest.as_str(),
    };
    if !is_task_id(id) {
        return Err(format!("task ARN {} has no valid task id", shown(text)));
    }
    Ok(id.to_owned())
}

/// A service ARN of `cluster`: `…:service/CLUSTER/NAME`. Returns the service name. The old
/// format (`…:service/NAME`, without the cluster) cannot be told apart from another cluster's
/// service and is refused.
pub fn service_name_in(cluster: &ClusterArn, text: &str) -> Result<String, String> {
    let (arn, rest) = Arn::parse_resource(text, "ecs", "service")?;
    if let Some(why) = cluster.foreign(&arn) {
        return Err(format!("service {}: {why}", shown(text)));
    }
    match rest.split_once('/') {
        Some((name, service)) if name == cluster.name && is_name(service) => Ok(service.to_owned()),
        Some((name, _)) if name != cluster.name => Err(format!(
            "service {} belongs to cluster {}, not {}",
            shown(text),
            shown(name),
            cluster.name
        )),
        _ => Err(format!(
            "service ARN {} does not name the cluster (old ARN format) or has no valid name",
            shown(text)
        )),
    }
}

/// A task definition of `cluster`'s account and region: `…:task-definition/FAMILY:REVISION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDefinitionRef {
    pub arn: String,
    pub family: String,
    pub revision: u32,
}

impl TaskDefinitionRef {
    pub fn parse(cluster: &ClusterArn, text: &str) -> Result<TaskDefinitionRef, String> {
        let (arn, rest) = Arn::parse_resource(text, "ecs", "task-definition")?;
        if let Some(why) = cluster.foreign(&arn) {
            return Err(format!("task definition {}: {why}", shown(text)));
        }
        let (family, revision) = rest
            .split_once(':')
            .and_then(|(f, r)| Some((f, r.parse::<u32>().ok()?)))
            .filter(|(f, r)| is_name(f) && *r > 0)
            .ok_or_else(|| format!("task definition ARN {} has no family:revision", shown(text)))?;
        Ok(TaskDefinitionRef {
            arn: text.to_owned(),
            family: family.to_owned(),
            revision,
        })
    }

    /// `family:revision`.
    pub fn short(&self) -> String {
        format!("{}:{}", self.family, self.revision)
    }
}

/// A standard SQS queue, as its URL names it: `https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`
/// (any host: the local emulator serves `http://127.0.0.1:PORT/ACCOUNT/NAME`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRef {
    pub url: String,
    pub account: String,
    pub name: String,
}

impl QueueRef {
    pub fn from_url(url: &str) -> Result<QueueRef, String> {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| format!("{} is not an http(s) URL", shown(url)))?;
        let mut segments = rest.trim_end_matches('/').split('/');
        let (Some(host), Some(account), Some(name), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return Err(format!(
                "{} is not a queue URL (…/ACCOUNT/NAME)",
                shown(url)
            ));
        };
        let name_ok = (1..=80).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if host.is_empty() || !is_account(account) || !name_ok {
            return Err(format!(
                "{} is not a standard queue URL (…/12-digit account/name; FIFO queues cannot delay one message)",
                shown(url)
            ));
        }
        Ok(QueueRef {
            url: url.to_owned(),
            account: account.to_owned(),
            name: name.to_owned(),
        })
    }

    /// True when `arn` (an SQS record's `eventSourceARN`) is this queue.
    pub fn is_source(&self, arn: &str) -> bool {
        Arn::parse(arn).is_ok_and(|a| {
            a.service == "sqs" && a.account == self.account && a.resource == self.name
        })
    }
}
