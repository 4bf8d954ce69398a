//! The call recorder: every AWS call that goes through the test kit's HTTP wrapper (every client
//! built from [`crate::Emulator::sdk_config_recording`], a [`crate::World`]'s `sdk` among them, and
//! the world's own query-protocol seeding) is recorded as a [`Call`]: account, service, operation
//! and whether it mutates. Tests, the scenario runner and fuzz oracles then assert "no AWS call",
//! "no mutating call", "exactly one RunTask":
//!
//! ```ignore
//! let mark = world.calls().mark();          // after seeding
//! handler(event).await;
//! let calls = world.calls().since(mark);
//! assert!(calls.mutating().is_empty(), "dry run changed something: {calls}");
//! assert_eq!(calls.named("RunTask").len(), 1);
//! ```
//!
//! What mutates is decided by a fixed read-only list ([`is_read_only`]): every operation not on
//! it counts as mutating, so a new kind of call is suspect until someone lists it.

use std::fmt;
use std::sync::{Arc, Mutex};

/// One AWS call seen on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The 12-digit account the call was made in (`x-moto-account-id`).
    pub account: String,
    /// The signing name: `ecs`, `logs`, `monitoring`, `sns`, `s3`, `dynamodb`, `rds`, …
    pub service: String,
    /// The operation: `RunTask`, `PutMetricData`, … (S3: derived from method, path and query).
    pub operation: String,
    /// False only for operations on the read-only list.
    pub mutating: bool,
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.mutating { "mutating" } else { "read" };
        write!(f, "{}:{} ({kind})", self.service, self.operation)
    }
}

/// A position in a [`CallLog`], from [`CallLog::mark`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mark(usize);

/// The shared, append-only record of calls (cheap to clone: every clone records into the same log).
#[derive(Debug, Clone, Default)]
pub struct CallLog {
    calls: Arc<Mutex<Vec<Call>>>,
}

impl CallLog {
    fn with<T>(&self, f: impl FnOnce(&mut Vec<Call>) -> T) -> T {
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut calls)
    }

    pub(crate) fn record(&self, call: Call) {
        self.with(|calls| calls.push(call));
    }

    /// The current end of the log: calls made after this are [`CallLog::since`] it.
    pub fn mark(&self) -> Mark {
        Mark(self.with(|calls| calls.len()))
    }

    /// Every call made after `mark`.
    pub fn since(&self, mark: Mark) -> Calls {
        Calls(self.with(|calls| calls.get(mark.0..).unwrap_or_default().to_vec()))
    }

    /// Every call recorded so far.
    pub fn all(&self) -> Calls {
        self.since(Mark(0))
    }
}

/// A list of calls, with the filters tests need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calls(pub Vec<Call>);

impl Calls {
    /// Only the mutating calls.
    pub fn mutating(&self) -> Calls {
        Calls(self.0.iter().filter(|c| c.mutating).cloned().collect())
    }

    /// Only the calls of this operation (any service).
    pub fn named(&self, operation: &str) -> Calls {
        Calls(
            self.0
                .iter()
                .filter(|c| c.operation == operation)
                .cloned()
                .collect(),
        )
    }

    /// Only the calls to this service (signing name).
    pub fn service(&self, service: &str) -> Calls {
        Calls(
            self.0
                .iter()
                .filter(|c| c.service == service)
                .cloned()
                .collect(),
        )
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Call> {
        self.0.iter()
    }

    /// `service:Operation` of each call, in order (handy in assertions).
    pub fn operations(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|c| format!("{}:{}", c.service, c.operation))
            .collect()
    }
}

impl fmt::Display for Calls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no call");
        }
        let parts: Vec<String> = self.0.iter().map(Call::to_string).collect();
        f.write_str(&parts.join(", "))
    }
}

/// Operation-name prefixes that never change anything, in every service.
const READ_ONLY_PREFIXES: [&str; 9] = [
    "Describe", "List", "Get", "Head", "BatchGet", "Query", "Scan", "Lookup", "Filter",
];

/// Per-service exceptions to the prefixes: (service, operation, read-only?). Anything neither
/// here nor matching a prefix mutates (SQS `ReceiveMessage` hides messages: mutating).
const EXCEPTIONS: [(&str, &str, bool); 2] = [
    // a read that matches no prefix
    ("dynamodb", "TransactGetItems", true),
    // reads nothing and writes nothing
    ("secretsmanager", "GetRandomPassword", true),
];

/// True when `operation` of `service` is on the read-only list.
pub fn is_read_only(service: &str, operation: &str) -> bool {
    if let Some((_, _, read_only)) = EXCEPTIONS
        .iter()
        .find(|(s, op, _)| *s == service && *op == operation)
    {
        return *read_only;
    }
    READ_ONLY_PREFIXES.iter().any(|p| {
        operation
            .strip_prefix(p)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_uppercase))
    })
}

/// What one HTTP request to the emulator is, in AWS terms: (service, operation).
pub(crate) fn identify(
    method: &str,
    uri: &str,
    headers: &dyn Fn(&str) -> Option<String>,
    body: Option<&[u8]>,
) -> (String, String) {
    let service = headers("authorization")
        .and_then(|auth| signing_name(&auth))
        .unwrap_or_else(|| "unknown".to_owned());
    let path = uri.split('?').next().unwrap_or_default();
    let query = uri.split_once('?').map(|(_, q)| q).unwrap_or_default();
    // JSON protocols: `X-Amz-Target: Prefix.Operation`
    if let Some(target) = headers("x-amz-target") {
        let operation = target.rsplit('.').next().unwrap_or(&target).to_owned();
        return (service, operation);
    }
    // RPC-v2 CBOR: `/service/NAME/operation/OP`
    if let Some((_, op)) = path.split_once("/operation/") {
        return (service, op.to_owned());
    }
    // query protocol: `Action=Op` in the form body (or the query string)
    let form = body
        .and_then(|b| std::str::from_utf8(b).ok())
        .unwrap_or_default();
    for pairs in [form, query] {
        if let Some(action) = pairs.split('&').find_map(|kv| kv.strip_prefix("Action=")) {
            return (service, action.to_owned());
        }
    }
    if service == "s3" {
        return (service, s3_operation(method, path, query, headers));
    }
    (service, format!("{method} {path}"))
}

/// The signing name in a SigV4 `Authorization` header's credential scope.
fn signing_name(authorization: &str) -> Option<String> {
    let credential = authorization.split("Credential=").nth(1)?;
    let scope = credential.split([',', ' ']).next()?;
    // KEY/DATE/REGION/SERVICE/aws4_request
    scope.split('/').nth(3).map(str::to_owned)
}

/// S3 speaks REST: the operation follows from the method, whether a key is named, and the
/// sub-resource in the query string. Covers what phoenix-ops calls; others read `METHOD path`.
fn s3_operation(
    method: &str,
    path: &str,
    query: &str,
    headers: &dyn Fn(&str) -> Option<String>,
) -> String {
    let has_key = path.trim_start_matches('/').contains('/');
    let sub = |name: &str| {
        query
            .split('&')
            .any(|kv| kv == name || kv.starts_with(&format!("{name}=")))
    };
    let op = match (method, has_key) {
        ("GET", false) if sub("lifecycle") => "GetBucketLifecycleConfiguration",
        ("PUT", false) if sub("lifecycle") => "PutBucketLifecycleConfiguration",
        ("GET", false) if sub("policy") => "GetBucketPolicy",
        ("PUT", false) if sub("policy") => "PutBucketPolicy",
        ("GET", false) if sub("location") => "GetBucketLocation",
        ("GET", false) if sub("list-type") => "ListObjectsV2",
        ("GET", false) if path.trim_matches('/').is_empty() => "ListBuckets",
        ("GET", false) => "ListObjects",
        ("PUT", false) => "CreateBucket",
        ("DELETE", false) => "DeleteBucket",
        ("HEAD", false) => "HeadBucket",
        ("POST", false) if sub("delete") => "DeleteObjects",
        ("GET", true) if sub("tagging") => "GetObjectTagging",
        ("GET", true) => "GetObject",
        ("HEAD", true) => "HeadObject",
        ("PUT", true) if headers("x-amz-copy-source").is_some() => "CopyObject",
        ("PUT", true) => "PutObject",
        ("DELETE", true) => "DeleteObject",
        _ => return format!("{method} {path}"),
    };
    op.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(op: &str, mutating: bool) -> Call {
        Call {
            account: "111122223333".into(),
            service: "ecs".into(),
            operation: op.into(),
            mutating,
        }
    }

    #[test]
    fn the_read_only_list_decides_what_mutates() {
        for (service, op, read_only) in [
            ("ecs", "DescribeServices", true),
            ("ecs", "ListTasks", true),
            ("monitoring", "GetMetricData", true),
            ("logs", "FilterLogEvents", true),
            ("dynamodb", "GetItem", true),
            ("dynamodb", "Query", true),
            ("s3", "HeadObject", true),
            ("secretsmanager", "GetSecretValue", true),
            ("ecs", "RunTask", false),
            ("ecs", "UpdateService", false),
            ("dynamodb", "PutItem", false),
            ("sqs", "ReceiveMessage", false),
            ("monitoring", "PutMetricData", false),
            ("sns", "Publish", false),
            // a prefix must end at a word boundary
            ("x", "Gettysburg", false),
            ("x", "Listen", false),
        ] {
            assert_eq!(is_read_only(service, op), read_only, "{service}:{op}");
        }
    }

    #[test]
    fn requests_are_identified_in_every_protocol() {
        let auth = "AWS4-HMAC-SHA256 Credential=AKIA/20261120/eu-west-1/ecs/aws4_request, SignedHeaders=host, Signature=0";
        let json = |name: &str| match name {
            "authorization" => Some(auth.to_owned()),
            "x-amz-target" => Some("AmazonEC2ContainerServiceV20141113.RunTask".to_owned()),
            _ => None,
        };
        assert_eq!(
            identify("POST", "/", &json, None),
            ("ecs".into(), "RunTask".into())
        );
        let cbor_auth = auth.replace("/ecs/", "/monitoring/");
        let cbor = |name: &str| (name == "authorization").then(|| cbor_auth.clone());
        assert_eq!(
            identify(
                "POST",
                "/service/GraniteServiceVersion20100801/operation/GetMetricData",
                &cbor,
                None
            ),
            ("monitoring".into(), "GetMetricData".into())
        );
        let sns_auth = auth.replace("/ecs/", "/sns/");
        let query = |name: &str| (name == "authorization").then(|| sns_auth.clone());
        assert_eq!(
            identify(
                "POST",
                "/",
                &query,
                Some(b"Action=Publish&Version=2010-03-31")
            ),
            ("sns".into(), "Publish".into())
        );
        let s3_auth = auth.replace("/ecs/", "/s3/");
        let s3 = |name: &str| (name == "authorization").then(|| s3_auth.clone());
        assert_eq!(
            identify("GET", "/bucket?list-type=2&prefix=logs", &s3, None).1,
            "ListObjectsV2"
        );
        assert_eq!(
            identify("PUT", "/bucket/logs/a.gz", &s3, None).1,
            "PutObject"
        );
        assert_eq!(
            identify("GET", "/bucket?lifecycle", &s3, None).1,
            "GetBucketLifecycleConfiguration"
        );
    }

    #[test]
    fn marks_and_filters_select_calls() {
        let log = CallLog::default();
        log.record(call("CreateCluster", true));
        let mark = log.mark();
        assert!(log.since(mark).is_empty());
        assert_eq!(log.since(mark).to_string(), "no call");
        log.record(call("DescribeServices", false));
        log.record(call("RunTask", true));
        let since = log.since(mark);
        assert_eq!(since.len(), 2);
        assert_eq!(since.mutating().operations(), ["ecs:RunTask"]);
        assert_eq!(since.named("RunTask").len(), 1);
        assert_eq!(since.service("sns").len(), 0);
        assert_eq!(log.all().len(), 3);
        assert_eq!(
            since.to_string(),
            "ecs:DescribeServices (read), ecs:RunTask (mutating)"
        );
    }
}
