//! Reads what the rule needs: requests per minute for the service's target group
//! (CloudWatch GetMetricData, RequestCount Sum over 60 s) and the service's counts.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use aws_sdk_ecs::types::DeploymentRolloutState;
use chrono::{DateTime, Duration, DurationRound, TimeZone, Utc};
use phoenix_core::AwsFailure;
use serde::Serialize;

/// Where the requests are counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestMetric {
    /// `LoadBalancer` dimension: `app/NAME/ID`.
    pub load_balancer: String,
    /// `TargetGroup` dimension: `targetgroup/NAME/ID`.
    pub target_group: String,
}

/// The minutes the rule sees.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Minutes {
    /// Complete minutes, oldest first; a minute without a datapoint is 0.
    pub complete: Vec<u64>,
    /// The previous minute (CloudWatch may still be publishing it) and the current one.
    pub partial: Vec<u64>,
    /// Start of the newest complete minute.
    pub newest_complete_at: Option<DateTime<Utc>>,
}

/// Arranges datapoints into minutes: minutes before `now - 1 min` are complete, the last two may
/// still grow. `complete_count` complete minutes are returned.
pub fn arrange(
    datapoints: &BTreeMap<DateTime<Utc>, f64>,
    now: DateTime<Utc>,
    complete_count: usize,
) -> Minutes {
    let current = minute_of(now);
    let at = |start: DateTime<Utc>| -> u64 {
        datapoints
            .get(&start)
            .map(|v| {
                if v.is_finite() && *v > 0.0 {
                    v.round() as u64
                } else {
                    0
                }
            })
            .unwrap_or(0)
    };
    let newest_complete = current - Duration::minutes(2);
    let complete = (0..complete_count)
        .rev()
        .map(|back| at(newest_complete - Duration::minutes(back as i64)))
        .collect();
    Minutes {
        complete,
        partial: vec![at(current - Duration::minutes(1)), at(current)],
        newest_complete_at: Some(newest_complete),
    }
}

/// The start of the minute `t` falls in.
pub fn minute_of(t: DateTime<Utc>) -> DateTime<Utc> {
    // truncation fails only for timestamps near the end of chrono's range
    t.duration_trunc(Duration::minutes(1)).unwrap_or(t)
}

/// RequestCount (Sum, 60 s) per minute start, from `complete_count + 2` minutes ago to now.
pub async fn requests(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    metric: &RequestMetric,
    now: DateTime<Utc>,
    complete_count: usize,
) -> Result<BTreeMap<DateTime<Utc>, f64>, AwsFailure> {
    let current = minute_of(now);
    let start = current - Duration::minutes(complete_count as i64 + 2);
    let end = current + Duration::minutes(1);
    let query = MetricDataQuery::builder()
        .id("requests")
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace("AWS/ApplicationELB")
                        .metric_name("RequestCount")
                        .dimensions(dimension("LoadBalancer", &metric.load_balancer))
                        .dimensions(dimension("TargetGroup", &metric.target_group))
                        .build(),
                )
                .period(60)
                .stat("Sum")
                .build(),
        )
        .return_data(true)
        .build();
    let mut points = BTreeMap::new();
    let mut next_token: Option<String> = None;
    loop {
        let out = cloudwatch
            .get_metric_data()
            .metric_data_queries(query.clone())
            .start_time(to_smithy(start))
            .end_time(to_smithy(end))
            .scan_by(ScanBy::TimestampAscending)
            .set_next_token(next_token.take())
            .send()
            .await
            .map_err(|e| {
                AwsFailure::from_sdk("cloudwatch:GetMetricData", &metric.target_group, &e)
            })?;
        for result in out.metric_data_results() {
            for (t, v) in result.timestamps().iter().zip(result.values()) {
                if let Some(t) = Utc.timestamp_opt(t.secs(), 0).single() {
                    *points.entry(minute_of(t)).or_insert(0.0) += v;
                }
            }
        }
        match out.next_token() {
            Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
            _ => break,
        }
    }
    Ok(points)
}

fn dimension(name: &str, value: &str) -> Dimension {
    Dimension::builder().name(name).value(value).build()
}

fn to_smithy(t: DateTime<Utc>) -> aws_sdk_cloudwatch::primitives::DateTime {
    aws_sdk_cloudwatch::primitives::DateTime::from_secs(t.timestamp())
}

/// The service's counts and whether a deployment is rolling out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceCounts {
    pub desired: u32,
    pub running: u32,
    pub pending: u32,
    pub deployments: usize,
    pub deployment_in_progress: bool,
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
    let deployments = found.deployments();
    let primary_rolling = deployments.iter().any(|d| {
        d.status() == Some("PRIMARY")
            && d.rollout_state() == Some(&DeploymentRolloutState::InProgress)
    });
    let count = |n: i32| u32::try_from(n).unwrap_or(0);
    Ok(Some(ServiceCounts {
        desired: count(found.desired_count()),
        running: count(found.running_count()),
        pending: count(found.pending_count()),
        deployments: deployments.len(),
        deployment_in_progress: deployments.len() > 1 || primary_rolling,
    }))
}

/// UpdateService(desiredCount): sets, never increments, so a repeat is harmless.
pub async fn set_desired(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
    desired: u32,
) -> Result<(), AwsFailure> {
    ecs.update_service()
        .cluster(cluster)
        .service(service)
        .desired_count(i32::try_from(desired).unwrap_or(i32::MAX))
        .send()
        .await
        .map_err(|e| AwsFailure::from_sdk("ecs:UpdateService", service, &e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, h, m, s)
            .single()
            .expect("valid")
    }

    #[test]
    fn minutes_are_arranged_with_gaps_as_zero_and_the_last_two_as_partial() {
        let mut points = BTreeMap::new();
        points.insert(at(12, 0, 0), 50.0);
        points.insert(at(12, 2, 0), 70.0);
        points.insert(at(12, 3, 0), 900.0);
        points.insert(at(12, 4, 0), 12.0);
        points.insert(at(12, 5, 0), 3.0);
        let minutes = arrange(&points, at(12, 5, 30), 4);
        // complete: 12:00..12:03 (12:01 missing → 0); partial: 12:04, 12:05
        assert_eq!(minutes.complete, vec![50, 0, 70, 900]);
        assert_eq!(minutes.partial, vec![12, 3]);
        assert_eq!(minutes.newest_complete_at, Some(at(12, 3, 0)));
    }

    #[test]
    fn minute_of_truncates() {
        assert_eq!(minute_of(at(12, 5, 59)), at(12, 5, 0));
    }
}
