//! Reads what the rule needs, and nothing else (the one write, UpdateService, is in `act`):
//! - ONE `cloudwatch:GetMetricData` call per evaluation for every signal: the ALB's
//!   `RequestCount` (Sum, 60 s) and, with the CPU signal, the service's `AWS/ECS
//!   CPUUtilization` (Average, 60 s), over the range [`crate::history::Memory::plan`] chose
//!   (the last hour, or the previous days when they are due);
//! - `ecs:DescribeServices`: desired, running, pending, and whether a deployment is rolling out
//!   (`phoenix_core::ecs::deployment_in_progress`, the rule task-recovery uses too).

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use chrono::{DateTime, TimeZone, Utc};
use phoenix_core::AwsFailure;
use phoenix_core::ecs::{DeploymentView, deployment_in_progress};

use crate::config::MetricSource;
/// The start of the minute a time falls in (kept here for callers of the old layout).
pub use crate::history::minute_of;
use crate::history::{FetchPlan, Fetched, ServiceCounts};

/// The queries of one GetMetricData call.
fn queries(source: &MetricSource) -> Vec<MetricDataQuery> {
    let query = |id: &str, namespace: &str, name: &str, dims: [(&str, &str); 2], stat: &str| {
        let mut metric = Metric::builder().namespace(namespace).metric_name(name);
        for (n, v) in dims {
            metric = metric.dimensions(Dimension::builder().name(n).value(v).build());
        }
        MetricDataQuery::builder()
            .id(id)
            .metric_stat(
                MetricStat::builder()
                    .metric(metric.build())
                    .period(60)
                    .stat(stat)
                    .build(),
            )
            .return_data(true)
            .build()
    };
    let mut queries = vec![query(
        "requests",
        "AWS/ApplicationELB",
        "RequestCount",
        [
            ("LoadBalancer", &source.load_balancer),
            ("TargetGroup", &source.target_group),
        ],
        "Sum",
    )];
    if source.cpu {
        queries.push(query(
            "cpu",
            "AWS/ECS",
            "CPUUtilization",
            [
                ("ClusterName", &source.cluster),
                ("ServiceName", &source.service),
            ],
            "Average",
        ));
    }
    queries
}

/// The signals over `plan`'s range: one GetMetricData request (its pages, if CloudWatch ever
/// splits the answer, continue the same request).
pub async fn metrics(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    source: &MetricSource,
    plan: &FetchPlan,
) -> Result<Fetched, AwsFailure> {
    let mut fetched = Fetched::default();
    let mut next_token: Option<String> = None;
    loop {
        let out = cloudwatch
            .get_metric_data()
            .set_metric_data_queries(Some(queries(source)))
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
            let into: &mut BTreeMap<DateTime<Utc>, f64> = match result.id() {
                Some("requests") => &mut fetched.requests,
                Some("cpu") => &mut fetched.cpu,
                _ => continue,
            };
            for (t, v) in result.timestamps().iter().zip(result.values()) {
                if let Some(t) = Utc.timestamp_opt(t.secs(), 0).single() {
                    // one value per minute: Sum and Average per 60 s never overlap
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
