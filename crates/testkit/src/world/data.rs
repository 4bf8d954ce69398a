//! The world's data: log lines, the backup bucket's 7-day rule, the idempotency ledger table,
//! and the ALB's request metrics.

use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter,
};
use chrono::{DateTime, Utc};

use super::{
    EXPORT_PREFIX, LEDGER_KEY, LEDGER_TTL_ATTRIBUTE, World, fail, metric_dimension, sdk_fail,
};
use crate::HarnessError;

/// Creates the ledger table `table` as the template does: `pk` (S) hash key, on demand, TTL on
/// `expires_at`.
pub async fn create_ledger(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<String, HarnessError> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        TimeToLiveSpecification,
    };
    dynamodb
        .create_table()
        .table_name(table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(LEDGER_KEY)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| fail("ledger attribute", e))?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(LEDGER_KEY)
                .key_type(KeyType::Hash)
                .build()
                .map_err(|e| fail("ledger key", e))?,
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(|e| sdk_fail("dynamodb:CreateTable", e))?;
    dynamodb
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(LEDGER_TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .map_err(|e| fail("ledger TTL", e))?,
        )
        .send()
        .await
        .map_err(|e| sdk_fail("dynamodb:UpdateTimeToLive", e))?;
    Ok(table.to_owned())
}

/// Writes log lines to a stream (created if needed), one second apart, ending at `end`.
pub async fn write_log_lines(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    stream: &str,
    lines: &[String],
    end: DateTime<Utc>,
) -> Result<(), HarnessError> {
    let created = logs
        .create_log_stream()
        .log_group_name(group)
        .log_stream_name(stream)
        .send()
        .await;
    if let Err(e) = created {
        let exists = e
            .as_service_error()
            .is_some_and(|s| s.is_resource_already_exists_exception());
        if !exists {
            return Err(sdk_fail("logs:CreateLogStream", e));
        }
    }
    let start = end.timestamp_millis() - 1000 * i64::try_from(lines.len()).unwrap_or(0);
    let events: Vec<_> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(start + 1000 * i64::try_from(i).unwrap_or(0))
                .message(line)
                .build()
                .map_err(|e| fail("log event", e))
        })
        .collect::<Result<_, _>>()?;
    if events.is_empty() {
        return Ok(());
    }
    logs.put_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .set_log_events(Some(events))
        .send()
        .await
        .map_err(|e| sdk_fail("logs:PutLogEvents", e))?;
    Ok(())
}

/// Exported logs expire after 7 days; nothing else in the bucket does.
pub fn seven_day_rule() -> Result<BucketLifecycleConfiguration, HarnessError> {
    BucketLifecycleConfiguration::builder()
        .rules(
            LifecycleRule::builder()
                .id("expire-log-exports-after-7-days")
                .status(ExpirationStatus::Enabled)
                .filter(
                    LifecycleRuleFilter::builder()
                        .prefix(format!("{EXPORT_PREFIX}/"))
                        .build(),
                )
                .expiration(LifecycleExpiration::builder().days(7).build())
                .build()
                .map_err(|e| fail("lifecycle rule", e))?,
        )
        .build()
        .map_err(|e| fail("lifecycle configuration", e))
}

impl World {
    /// Publishes the ALB's `RequestCount` for the service's target group, one datapoint per
    /// minute starting at `first_minute` (a 0 publishes nothing, as the ALB does without traffic).
    pub async fn put_requests(
        &self,
        first_minute: DateTime<Utc>,
        per_minute: &[u64],
    ) -> Result<(), HarnessError> {
        use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
        let cloudwatch = aws_sdk_cloudwatch::Client::new(&self.sdk);
        let dimension =
            |name: &str, value: String| Dimension::builder().name(name).value(value).build();
        let data: Vec<MetricDatum> = per_minute
            .iter()
            .enumerate()
            .filter(|(_, count)| **count > 0)
            .map(|(i, count)| {
                let at = first_minute + chrono::Duration::minutes(i as i64);
                MetricDatum::builder()
                    .metric_name("RequestCount")
                    .dimensions(dimension(
                        "LoadBalancer",
                        metric_dimension(&self.load_balancer_arn),
                    ))
                    .dimensions(dimension(
                        "TargetGroup",
                        metric_dimension(&self.target_group_arn),
                    ))
                    .timestamp(aws_smithy_types::DateTime::from_secs(at.timestamp()))
                    .unit(StandardUnit::Count)
                    .value(*count as f64)
                    .build()
            })
            .collect();
        for chunk in data.chunks(500) {
            cloudwatch
                .put_metric_data()
                .namespace("AWS/ApplicationELB")
                .set_metric_data(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| sdk_fail("cloudwatch:PutMetricData", e))?;
        }
        Ok(())
    }
}
