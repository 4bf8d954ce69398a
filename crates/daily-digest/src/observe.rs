//! Reads what the digest tells, from CloudWatch (metrics, alarms, the functions' log lines) and
//! ECS (the service's counts). Reads only: nothing here changes anything.
//!
//! Every read is independent; the handler turns a failed one into a gap the digest names. Each
//! call is bounded: paging stops at [`LOG_PAGES_MAX`] pages of log lines and
//! [`HISTORY_PAGES_MAX`] pages of alarm history.

use aws_sdk_cloudwatch::types::{
    AlarmType, Dimension, HistoryItemType, Metric, MetricDataQuery, MetricStat, ScanBy,
};
use chrono::{DateTime, Duration, DurationRound, TimeZone, Utc};
use phoenix_core::AwsFailure;
use phoenix_core::metrics::NAMESPACE;
use serde_json::Value;

use crate::decide::{AlarmNow, AlarmState, Point, ServiceCounts, Transition};
use crate::event::Window;
use crate::lines::LogLine;

/// Pages of log lines read in all (each up to 10,000 lines or 1 MB).
pub const LOG_PAGES_MAX: usize = 100;
/// Pages of alarm history (100 items each).
pub const HISTORY_PAGES_MAX: usize = 50;
/// How far back the last successful backup is looked for.
pub const BACKUP_LOOKBACK_DAYS: i64 = 8;
/// The lines the digest needs: Outcome lines and failures. Only a pre-filter: every line is
/// read again by `lines::parse`, which decides.
pub const OUTCOME_FILTER: &str =
    r#"{ ($.outcome.function = "*") || ($.level = "ERROR") || ($.level = "WARN") }"#;
/// The metrics backup emits for its heartbeat alarms (name, statistic).
pub const BACKUP_SUCCEEDED: &str = "BackupSucceeded";
pub const LOG_EXPORT_LAG: &str = "LogExportLagHours";

fn to_smithy(t: DateTime<Utc>) -> aws_sdk_cloudwatch::primitives::DateTime {
    aws_sdk_cloudwatch::primitives::DateTime::from_secs(t.timestamp())
}

fn from_smithy(t: &aws_sdk_cloudwatch::primitives::DateTime) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(t.secs(), 0).single()
}

fn dimension(name: &str, value: &str) -> Dimension {
    Dimension::builder().name(name).value(value).build()
}

fn query(
    id: &str,
    namespace: &str,
    name: &str,
    dims: Vec<Dimension>,
    period: i32,
    stat: &str,
) -> MetricDataQuery {
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace(namespace)
                        .metric_name(name)
                        .set_dimensions(Some(dims))
                        .build(),
                )
                .period(period)
                .stat(stat)
                .build(),
        )
        .return_data(true)
        .build()
}

/// GetMetricData for some queries over `[start, end)`, every page: points by query id.
async fn metric_data(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    queries: Vec<MetricDataQuery>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    resource: &str,
) -> Result<Vec<(String, Point)>, AwsFailure> {
    let mut out = Vec::new();
    let mut next_token: Option<String> = None;
    for _ in 0..HISTORY_PAGES_MAX {
        let page = cloudwatch
            .get_metric_data()
            .set_metric_data_queries(Some(queries.clone()))
            .start_time(to_smithy(start))
            .end_time(to_smithy(end))
            .scan_by(ScanBy::TimestampAscending)
            .set_next_token(next_token.take())
            .send()
            .await
            .map_err(|e| AwsFailure::from_sdk("cloudwatch:GetMetricData", resource, &e))?;
        for result in page.metric_data_results() {
            let id = result.id().unwrap_or_default();
            for (t, v) in result.timestamps().iter().zip(result.values()) {
                if let Some(at) = from_smithy(t) {
                    out.push((id.to_owned(), Point { at, value: *v }));
                }
            }
        }
        match page.next_token() {
            Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
            _ => break,
        }
    }
    Ok(out)
}

/// The ALB's requests per minute in the window (RequestCount, Sum, 60 s).
pub async fn requests(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    load_balancer: &str,
    target_group: &str,
    window: &Window,
) -> Result<Vec<Point>, AwsFailure> {
    let dims = vec![
        dimension("LoadBalancer", load_balancer),
        dimension("TargetGroup", target_group),
    ];
    let q = query(
        "requests",
        "AWS/ApplicationELB",
        "RequestCount",
        dims,
        60,
        "Sum",
    );
    let points = metric_data(cloudwatch, vec![q], window.start, window.end, target_group).await?;
    Ok(points
        .into_iter()
        .filter(|(id, _)| id == "requests")
        .map(|(_, p)| p)
        .collect())
}

/// backup's heartbeat metrics, hourly, over the last [`BACKUP_LOOKBACK_DAYS`] days:
/// (`BackupSucceeded` sums, `LogExportLagHours` maxima).
pub async fn backup_metrics(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    stack: &str,
    now: DateTime<Utc>,
) -> Result<(Vec<Point>, Vec<Point>), AwsFailure> {
    let dims = || vec![dimension("Stack", stack), dimension("Function", "backup")];
    let end = now
        .duration_trunc(Duration::hours(1))
        .unwrap_or(now)
        .checked_add_signed(Duration::hours(1))
        .unwrap_or(now);
    let start = end
        .checked_sub_signed(Duration::days(BACKUP_LOOKBACK_DAYS))
        .unwrap_or(end);
    let queries = vec![
        query(
            "succeeded",
            NAMESPACE,
            BACKUP_SUCCEEDED,
            dims(),
            3600,
            "Sum",
        ),
        query("lag", NAMESPACE, LOG_EXPORT_LAG, dims(), 3600, "Maximum"),
    ];
    let points = metric_data(cloudwatch, queries, start, end, NAMESPACE).await?;
    let pick = |id: &str| -> Vec<Point> {
        points
            .iter()
            .filter(|(i, _)| i == id)
            .map(|(_, p)| *p)
            .collect()
    };
    Ok((pick("succeeded"), pick("lag")))
}

/// The watched alarms as they are now (DescribeAlarms, 100 names a call).
pub async fn alarms(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    names: &[String],
) -> Result<Vec<AlarmNow>, AwsFailure> {
    let mut out = Vec::new();
    for chunk in names.chunks(100) {
        let mut next_token: Option<String> = None;
        for _ in 0..HISTORY_PAGES_MAX {
            let page = cloudwatch
                .describe_alarms()
                .set_alarm_names(Some(chunk.to_vec()))
                .alarm_types(AlarmType::MetricAlarm)
                .alarm_types(AlarmType::CompositeAlarm)
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|e| {
                    AwsFailure::from_sdk("cloudwatch:DescribeAlarms", "the stack's alarms", &e)
                })?;
            for alarm in page.metric_alarms() {
                out.push(AlarmNow {
                    name: alarm.alarm_name().unwrap_or_default().to_owned(),
                    state: AlarmState::from(alarm.state_value().map(|s| s.as_str()).unwrap_or("")),
                    since: alarm
                        .state_updated_timestamp()
                        .and_then(from_smithy)
                        .unwrap_or(DateTime::<Utc>::MIN_UTC),
                });
            }
            for alarm in page.composite_alarms() {
                out.push(AlarmNow {
                    name: alarm.alarm_name().unwrap_or_default().to_owned(),
                    state: AlarmState::from(alarm.state_value().map(|s| s.as_str()).unwrap_or("")),
                    since: alarm
                        .state_updated_timestamp()
                        .and_then(from_smithy)
                        .unwrap_or(DateTime::<Utc>::MIN_UTC),
                });
            }
            match page.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
                _ => break,
            }
        }
    }
    Ok(out)
}

/// `(from, to)` of one history item: its HistoryData JSON, or its summary
/// ("Alarm updated from OK to ALARM").
pub fn states_of(data: Option<&str>, summary: Option<&str>) -> Option<(AlarmState, AlarmState)> {
    if let Some(value) = data.and_then(|d| serde_json::from_str::<Value>(d).ok()) {
        let state = |p: &str| value.pointer(p).and_then(Value::as_str);
        if let (Some(from), Some(to)) =
            (state("/oldState/stateValue"), state("/newState/stateValue"))
        {
            return Some((AlarmState::from(from), AlarmState::from(to)));
        }
    }
    let rest = summary?.split_once(" from ")?.1;
    let (from, to) = rest.split_once(" to ")?;
    Some((AlarmState::from(from.trim()), AlarmState::from(to.trim())))
}

/// State changes of the watched alarms in the window (DescribeAlarmHistory, StateUpdate items,
/// across the account's alarms, kept when the name is watched).
pub async fn history(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    names: &[String],
    window: &Window,
) -> Result<Vec<Transition>, AwsFailure> {
    let mut out = Vec::new();
    let mut next_token: Option<String> = None;
    for _ in 0..HISTORY_PAGES_MAX {
        let page = cloudwatch
            .describe_alarm_history()
            .history_item_type(HistoryItemType::StateUpdate)
            .start_date(to_smithy(window.start))
            .end_date(to_smithy(window.end))
            .scan_by(ScanBy::TimestampAscending)
            .max_records(100)
            .set_next_token(next_token.take())
            .send()
            .await
            .map_err(|e| {
                AwsFailure::from_sdk("cloudwatch:DescribeAlarmHistory", "the stack's alarms", &e)
            })?;
        for item in page.alarm_history_items() {
            let name = item.alarm_name().unwrap_or_default();
            if !names.iter().any(|n| n == name) {
                continue;
            }
            let (Some(at), Some((from, to))) = (
                item.timestamp().and_then(from_smithy),
                states_of(item.history_data(), item.history_summary()),
            ) else {
                continue;
            };
            out.push(Transition {
                alarm: name.to_owned(),
                at,
                from,
                to,
            });
        }
        match page.next_token() {
            Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
            _ => break,
        }
    }
    Ok(out)
}

/// The functions' log lines in the window that may be Outcome or failure lines (FilterLogEvents
/// per group). A group that does not exist yet has no lines. `true` when there were more pages
/// than [`LOG_PAGES_MAX`].
pub async fn log_lines(
    logs: &aws_sdk_cloudwatchlogs::Client,
    groups: &[String],
    window: &Window,
) -> Result<(Vec<LogLine>, bool), AwsFailure> {
    let mut out = Vec::new();
    let mut pages = 0;
    for group in groups {
        let mut next_token: Option<String> = None;
        loop {
            if pages >= LOG_PAGES_MAX {
                return Ok((out, true));
            }
            pages += 1;
            let page = logs
                .filter_log_events()
                .log_group_name(group)
                .start_time(window.start.timestamp_millis())
                .end_time(window.end.timestamp_millis())
                .filter_pattern(OUTCOME_FILTER)
                .set_next_token(next_token.take())
                .send()
                .await;
            let page = match page {
                Ok(page) => page,
                Err(e) => {
                    let failure = AwsFailure::from_sdk("logs:FilterLogEvents", group.as_str(), &e);
                    if failure.is_code("ResourceNotFoundException") {
                        break;
                    }
                    return Err(failure);
                }
            };
            for event in page.events() {
                let Some(time) = event
                    .timestamp()
                    .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
                else {
                    continue;
                };
                out.push(LogLine {
                    time,
                    message: event.message().unwrap_or_default().to_owned(),
                });
            }
            match page.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
                _ => break,
            }
        }
    }
    Ok((out, false))
}

/// The service's counts; `None` when the cluster has no ACTIVE service of that name.
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
    let count = |n: i32| u32::try_from(n).unwrap_or(0);
    Ok(out
        .services()
        .iter()
        .find(|s| s.status() == Some("ACTIVE"))
        .map(|s| ServiceCounts {
            name: s.service_name().unwrap_or(service).to_owned(),
            desired: count(s.desired_count()),
            running: count(s.running_count()),
            pending: count(s.pending_count()),
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_items_are_read_from_data_or_summary() {
        let data = r#"{"version":"1.0","oldState":{"stateValue":"OK"},"newState":{"stateValue":"ALARM","stateReason":"x"}}"#;
        type Case<'a> = (
            Option<&'a str>,
            Option<&'a str>,
            Option<(AlarmState, AlarmState)>,
        );
        let cases: &[Case] = &[
            (Some(data), None, Some((AlarmState::Ok, AlarmState::Alarm))),
            (
                None,
                Some("Alarm updated from ALARM to OK"),
                Some((AlarmState::Alarm, AlarmState::Ok)),
            ),
            (
                Some("not json"),
                Some("Alarm updated from INSUFFICIENT_DATA to ALARM"),
                Some((AlarmState::InsufficientData, AlarmState::Alarm)),
            ),
            (Some(r#"{"oldState": {}}"#), None, None),
            (None, Some("Alarm \"x\" created"), None),
            (None, None, None),
        ];
        for (data, summary, want) in cases {
            assert_eq!(&states_of(*data, *summary), want, "{data:?} {summary:?}");
        }
    }
}
