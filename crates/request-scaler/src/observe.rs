//! Reads what the rule needs, and nothing else (the one write, UpdateService, is in `act`):
//! - the signals: the ALB's `RequestCount` (Sum, 60 s) and, with the CPU signal, the service's
//!   `AWS/ECS CPUUtilization` (Average, 60 s), over the range [`crate::history::Memory::plan`]
//!   chose. Which API reads them is a matter of cost, not of data (both return the same
//!   datapoints):
//!   - the last hour (every evaluation but the hourly one): one `cloudwatch:GetMetricStatistics`
//!     call per signal, concurrently. Those requests count against CloudWatch's always-free
//!     1 M API requests a month (2 a minute: 86,400 a month); GetMetricData is never free and
//!     would bill 0.01 USD per 1,000 metrics: 0.86 USD a month for the same reads;
//!   - the previous days (the first evaluation of a container, then hourly): one
//!     `cloudwatch:GetMetricData` call for every signal, because the range (3 days of minutes)
//!     is more than GetMetricStatistics returns (1,440 datapoints a call); billed per metric
//!     requested: 2 × 24 a day, 0.01 USD a month;
//! - `ecs:DescribeServices`: desired, running, pending, and whether a deployment is rolling out
//!   (`phoenix_core::ecs::deployment_in_progress`, the rule task-recovery uses too).

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{
    Dimension, Metric, MetricDataQuery, MetricStat, ScanBy, Statistic,
};
use chrono::{DateTime, TimeZone, Utc};
use phoenix_core::AwsFailure;
use phoenix_core::ecs::{DeploymentView, deployment_in_progress};

use crate::config::MetricSource;
/// The start of the minute a time falls in (kept here for callers of the old layout).
pub use crate::history::minute_of;
use crate::history::{FetchPlan, Fetched, ServiceCounts};

/// One signal the rule reads: a CloudWatch metric and its statistic per minute.
struct Signal<'a> {
    id: &'static str,
    namespace: &'static str,
    name: &'static str,
    dimensions: [(&'static str, &'a str); 2],
    statistic: Statistic,
}

impl Signal<'_> {
    fn metric(&self) -> Metric {
        let mut metric = Metric::builder()
            .namespace(self.namespace)
            .metric_name(self.name);
        for (n, v) in self.dimensions {
            metric = metric.dimensions(Dimension::builder().name(n).value(v).build());
        }
        metric.build()
    }

    fn dimensions(&self) -> Vec<Dimension> {
        self.dimensions
            .iter()
            .map(|(n, v)| Dimension::builder().name(*n).value(*v).build())
            .collect()
    }

    fn series_in<'f>(&self, fetched: &'f mut Fetched) -> &'f mut BTreeMap<DateTime<Utc>, f64> {
        if self.id == "cpu" {
            &mut fetched.cpu
        } else {
            &mut fetched.requests
        }
    }
}

/// The signals `source` asks for: requests always, CPU when its signal is on.
fn signals(source: &MetricSource) -> Vec<Signal<'_>> {
    let mut signals = vec![Signal {
        id: "requests",
        namespace: "AWS/ApplicationELB",
        name: "RequestCount",
        dimensions: [
            ("LoadBalancer", &source.load_balancer),
            ("TargetGroup", &source.target_group),
        ],
        statistic: Statistic::Sum,
    }];
    if source.cpu {
        signals.push(Signal {
            id: "cpu",
            namespace: "AWS/ECS",
            name: "CPUUtilization",
            dimensions: [
                ("ClusterName", &source.cluster),
                ("ServiceName", &source.service),
            ],
            statistic: Statistic::Average,
        });
    }
    signals
}

/// The signals over `plan`'s range (see the module docs for which call reads them).
pub async fn metrics(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    source: &MetricSource,
    plan: &FetchPlan,
) -> Result<Fetched, AwsFailure> {
    if plan.refresh_days {
        metric_data(cloudwatch, source, plan).await
    } else {
        statistics(cloudwatch, source, plan).await
    }
}

/// One GetMetricStatistics call per signal, concurrently.
async fn statistics(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    source: &MetricSource,
    plan: &FetchPlan,
) -> Result<Fetched, AwsFailure> {
    let signals = signals(source);
    let calls = signals.iter().map(|signal| async move {
        cloudwatch
            .get_metric_statistics()
            .namespace(signal.namespace)
            .metric_name(signal.name)
            .set_dimensions(Some(signal.dimensions()))
            .start_time(to_smithy(plan.start))
            .end_time(to_smithy(plan.end))
            .period(60)
            .statistics(signal.statistic.clone())
            .send()
            .await
            .map_err(|e| {
                AwsFailure::from_sdk("cloudwatch:GetMetricStatistics", &source.target_group, &e)
            })
    });
    let answers = futures_util::future::join_all(calls).await;
    let mut fetched = Fetched::default();
    for (signal, answer) in signals.iter().zip(answers) {
        let into = signal.series_in(&mut fetched);
        for point in answer?.datapoints() {
            let value = match signal.statistic {
                Statistic::Sum => point.sum(),
                _ => point.average(),
            };
            let at = point
                .timestamp()
                .and_then(|t| Utc.timestamp_opt(t.secs(), 0).single());
            if let (Some(at), Some(value)) = (at, value) {
                // one value per minute: Sum and Average per 60 s never overlap
                into.insert(minute_of(at), value);
            }
        }
    }
    Ok(fetched)
}

/// One GetMetricData request for every signal (its pages, if CloudWatch ever splits the answer,
/// continue the same request).
async fn metric_data(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    source: &MetricSource,
    plan: &FetchPlan,
) -> Result<Fetched, AwsFailure> {
    let signals = signals(source);
    let queries: Vec<MetricDataQuery> = signals
        .iter()
        .map(|signal| {
            MetricDataQuery::builder()
                .id(signal.id)
                .metric_stat(
                    MetricStat::builder()
                        .metric(signal.metric())
                        .period(60)
                        .stat(signal.statistic.as_str())
                        .build(),
                )
                .return_data(true)
                .build()
        })
        .collect();
    let mut fetched = Fetched::default();
    let mut next_token: Option<String> = None;
    loop {
        let out = cloudwatch
            .get_metric_data()
            .set_metric_data_queries(Some(queries.clone()))
            .start_time(to_smithy(plan.start))
            .end_time(to_smithy(plan.end))
            .scan_by(ScanBy::TimestampAscending)
            .set_next_token(next_token.take())
            .send()
            .await
            .map_err(|e| {
                AwsFailure::from_sdk("cloudwatch:GetMetricData", &source.target_group, &e)
            })?;
        for result in out.metric_data_results() {
            let Some(signal) = signals.iter().find(|s| Some(s.id) == result.id()) else {
                continue;
            };
            let into = signal.series_in(&mut fetched);
            for (t, v) in result.timestamps().iter().zip(result.values()) {
                if let Some(t) = Utc.timestamp_opt(t.secs(), 0).single() {
                    into.insert(minute_of(t), *v);
                }
            }
        }
        match out.next_token() {
            Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
            _ => break,
        }
    }
    Ok(fetched)
}

fn to_smithy(t: DateTime<Utc>) -> aws_sdk_cloudwatch::primitives::DateTime {
    aws_sdk_cloudwatch::primitives::DateTime::from_secs(t.timestamp())
}

/// DescribeServices; `None` when the cluster has no ACTIVE service of that name.
pub async fn service(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
) -> Result<Option<ServiceCounts>, AwsFailure> {
    let out = ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .map_err(|e| AwsFailure::from_sdk("ecs:DescribeServices", service, &e))?;
    let Some(found) = out.services().iter().find(|s| s.status() == Some("ACTIVE")) else {
        return Ok(None);
    };
    let views: Vec<DeploymentView<'_>> = found
        .deployments()
        .iter()
        .map(|d| DeploymentView {
            status: d.status().unwrap_or_default(),
            rollout_state: d.rollout_state().map(|s| s.as_str()),
        })
        .collect();
    let count = |n: i32| u32::try_from(n).unwrap_or(0);
    Ok(Some(ServiceCounts {
        desired: count(found.desired_count()),
        running: count(found.running_count()),
        pending: count(found.pending_count()),
        deployments: views.len(),
        deployment_in_progress: deployment_in_progress(&views),
    }))
}
