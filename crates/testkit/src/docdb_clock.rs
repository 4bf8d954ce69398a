//! Emulator gap filled here, visibly: moto stamps every DocumentDB cluster snapshot with the real
//! clock at creation, and no API can make an older one. Rotation scenarios need days of older
//! snapshots, so the harness **backdates** chosen snapshots: [`SnapshotClock::backdate`] records
//! an identifier's creation time, and the SDK configuration from [`SnapshotClock::sdk_config`]
//! rewrites `SnapshotCreateTime` of those identifiers in DescribeDBClusterSnapshots answers
//! (the XML moto returns). Handlers stay emulator-agnostic: they read creation times as from AWS.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use chrono::{DateTime, Utc};

type Times = Arc<Mutex<HashMap<String, DateTime<Utc>>>>;

/// Creation times the harness gives to snapshots moto made "now".
#[derive(Debug, Clone, Default)]
pub struct SnapshotClock {
    times: Times,
}

impl SnapshotClock {
    /// From now on DescribeDBClusterSnapshots reports `id` as created at `created`.
    pub fn backdate(&self, id: &str, created: DateTime<Utc>) {
        self.times
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_owned(), created);
    }

    /// Creates a manual snapshot of `cluster` now (moto) and backdates it to `created`.
    pub async fn seed_snapshot(
        &self,
        sdk: &SdkConfig,
        cluster: &str,
        id: &str,
        created: DateTime<Utc>,
        tags: &[(&str, &str)],
    ) -> Result<(), crate::HarnessError> {
        let tags = tags
            .iter()
            .map(|(k, v)| {
                aws_sdk_docdb::types::Tag::builder()
                    .key(*k)
                    .value(*v)
                    .build()
            })
            .collect();
        aws_sdk_docdb::Client::new(sdk)
            .create_db_cluster_snapshot()
            .db_cluster_identifier(cluster)
            .db_cluster_snapshot_identifier(id)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| {
                crate::HarnessError::Seed(format!(
                    "docdb:CreateDBClusterSnapshot {id}: {}",
                    aws_smithy_types::error::display::DisplayErrorContext(e)
                ))
            })?;
        self.backdate(id, created);
        Ok(())
    }

    /// `sdk` with its HTTP client wrapped so backdated snapshots show their recorded time.
    pub fn sdk_config(&self, sdk: &SdkConfig) -> SdkConfig {
        match sdk.http_client() {
            Some(inner) => sdk
                .to_builder()
                .http_client(BackdatingClient {
                    times: self.times.clone(),
                    inner,
                })
                .build(),
            None => sdk.clone(),
        }
    }
}

#[derive(Debug)]
struct BackdatingClient {
    times: Times,
    inner: SharedHttpClient,
}

impl HttpClient for BackdatingClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(BackdatingConnector {
            times: self.times.clone(),
            inner: self.inner.http_connector(settings, components),
        })
    }
}

#[derive(Debug)]
struct BackdatingConnector {
    times: Times,
    inner: SharedHttpConnector,
}

impl HttpConnector for BackdatingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let describes = request
            .body()
            .bytes()
            .is_some_and(|b| b.starts_with(b"Action=DescribeDBClusterSnapshots&"));
        let pending = self.inner.call(request);
        if !describes {
            return pending;
        }
        let times = self.times.clone();
        HttpConnectorFuture::new(async move {
            let mut response = pending.await?;
            let body = response.take_body();
            let bytes = aws_smithy_types::byte_stream::ByteStream::new(body)
                .collect()
                .await
                .map(|b| b.into_bytes().to_vec())
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let times = times.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let rewritten = rewrite_create_times(&text, &times).into_bytes();
            response
                .headers_mut()
                .insert("content-length", rewritten.len().to_string());
            *response.body_mut() = aws_smithy_types::body::SdkBody::from(rewritten);
            Ok(response)
        })
    }
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<(usize, usize, &'a str)> {
    let start = text.find(open)? + open.len();
    let end = start + text[start..].find(close)?;
    Some((start, end, &text[start..end]))
}

/// Replaces `SnapshotCreateTime` of every `<DBClusterSnapshot>` whose identifier has a time.
pub fn rewrite_create_times(xml: &str, times: &HashMap<String, DateTime<Utc>>) -> String {
    const OPEN: &str = "<DBClusterSnapshot>";
    const CLOSE: &str = "</DBClusterSnapshot>";
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(start) = rest.find(OPEN) {
        let Some(len) = rest[start..].find(CLOSE) else {
            break;
        };
        let end = start + len + CLOSE.len();
        out.push_str(&rest[..start]);
        let block = &rest[start..end];
        let id = between(
            block,
            "<DBClusterSnapshotIdentifier>",
            "</DBClusterSnapshotIdentifier>",
        )
        .map(|(_, _, id)| id);
        match (
            id.and_then(|id| times.get(id)),
            between(block, "<SnapshotCreateTime>", "</SnapshotCreateTime>"),
        ) {
            (Some(time), Some((s, e, _))) => {
                out.push_str(&block[..s]);
                out.push_str(&time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
                out.push_str(&block[e..]);
            }
            _ => out.push_str(block),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn only_backdated_snapshots_change() {
        let xml = "<R><DBClusterSnapshots><DBClusterSnapshot><DBClusterSnapshotIdentifier>a</DBClusterSnapshotIdentifier><SnapshotCreateTime>2026-11-25T17:05:59.845680Z</SnapshotCreateTime></DBClusterSnapshot><DBClusterSnapshot><DBClusterSnapshotIdentifier>b</DBClusterSnapshotIdentifier><SnapshotCreateTime>2026-11-25T17:06:00.000000Z</SnapshotCreateTime></DBClusterSnapshot></DBClusterSnapshots></R>";
        let times = HashMap::from([(
            "a".to_owned(),
            Utc.with_ymd_and_hms(2026, 11, 10, 3, 0, 0)
                .single()
                .expect("valid"),
        )]);
        let out = rewrite_create_times(xml, &times);
        assert_eq!(
            out,
            xml.replace("2026-11-25T17:05:59.845680Z", "2026-11-10T03:00:00.000000Z")
        );
    }
}
