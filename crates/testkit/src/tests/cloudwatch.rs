//! Every CloudWatch operation phoenix-ops and its tests use round-trips through the current SDK
//! (RPC-v2 CBOR) and the test kit's translation to moto's JSON 1.0 protocol.

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, HistoryItemType, Metric, MetricDataQuery, MetricDatum,
    MetricStat, StandardUnit, StateValue, Statistic,
};
use aws_smithy_types::DateTime as SdkTime;

use super::now;
use crate::emulator::EcsGaps;
use crate::{CallLog, Emulator, new_account};

fn client() -> (Client, CallLog) {
    let calls = CallLog::default();
    let sdk =
        Emulator::shared().sdk_config_recording(&new_account(), EcsGaps::default(), calls.clone());
    (Client::new(&sdk), calls)
}

fn at(minute: i64) -> SdkTime {
    SdkTime::from_secs((now() + chrono::Duration::minutes(minute)).timestamp())
}

fn datum(minute: i64, value: f64, target_group: &str) -> MetricDatum {
    MetricDatum::builder()
        .metric_name("RequestCount")
        .dimensions(
            Dimension::builder()
                .name("TargetGroup")
                .value(target_group)
                .build(),
        )
        .timestamp(at(minute))
        .unit(StandardUnit::Count)
        .value(value)
        .build()
}

#[tokio::test]
async fn metric_data_round_trips_with_timestamps_doubles_and_dimensions() {
    let (cw, calls) = client();
    // 600 datapoints: a body over 10 KB, which the SDK sends gzip-compressed.
    let data: Vec<MetricDatum> = (0..600).map(|m| datum(m, 1.5 + m as f64, "tg/a")).collect();
    cw.put_metric_data()
        .namespace("AWS/ApplicationELB")
        .set_metric_data(Some(data))
        .send()
        .await
        .expect("PutMetricData");

    let stats = cw
        .get_metric_statistics()
        .namespace("AWS/ApplicationELB")
        .metric_name("RequestCount")
        .dimensions(
            Dimension::builder()
                .name("TargetGroup")
                .value("tg/a")
                .build(),
        )
        .start_time(at(0))
        .end_time(at(3))
        .period(60)
        .statistics(Statistic::Sum)
        .statistics(Statistic::SampleCount)
        .send()
        .await
        .expect("GetMetricStatistics");
    let mut points: Vec<(i64, f64)> = stats
        .datapoints()
        .iter()
        .map(|d| {
            (
                d.timestamp().map_or(0, SdkTime::secs),
                d.sum().unwrap_or_default(),
            )
        })
        .collect();
    points.sort_by_key(|p| p.0);
    assert_eq!(
        points,
        [
            (at(0).secs(), 1.5),
            (at(1).secs(), 2.5),
            (at(2).secs(), 3.5)
        ],
        "{stats:?}"
    );

    let query = MetricDataQuery::builder()
        .id("requests")
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace("AWS/ApplicationELB")
                        .metric_name("RequestCount")
                        .dimensions(
                            Dimension::builder()
                                .name("TargetGroup")
                                .value("tg/a")
                                .build(),
                        )
                        .build(),
                )
                .period(60)
                .stat("Sum")
                .build(),
        )
        .build();
    let pages: Vec<_> = cw
        .get_metric_data()
        .metric_data_queries(query)
        .start_time(at(0))
        .end_time(at(5))
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("GetMetricData pages");
    // moto answers in one page (it ignores MaxDatapoints and never pages GetMetricData).
    assert_eq!(pages.len(), 1);
    let result = &pages[0].metric_data_results()[0];
    assert_eq!(result.id(), Some("requests"));
    let mut values = result.values().to_vec();
    values.sort_by(f64::total_cmp);
    assert_eq!(values, [1.5, 2.5, 3.5, 4.5, 5.5]);
    assert_eq!(result.timestamps().len(), 5);

    assert_eq!(
        calls.all().operations(),
        [
            "monitoring:PutMetricData",
            "monitoring:GetMetricStatistics",
            "monitoring:GetMetricData"
        ]
    );
    assert_eq!(calls.all().mutating().len(), 1);
}

#[tokio::test]
async fn paging_tokens_round_trip() {
    let (cw, _) = client();
    // moto pages ListMetrics by 500: 501 distinct metrics make two pages.
    let data: Vec<MetricDatum> = (0..501)
        .map(|i| datum(0, 1.0, &format!("tg/{i}")))
        .collect();
    for chunk in data.chunks(250) {
        cw.put_metric_data()
            .namespace("Paging")
            .set_metric_data(Some(chunk.to_vec()))
            .send()
            .await
            .expect("PutMetricData");
    }
    let pages: Vec<_> = cw
        .list_metrics()
        .namespace("Paging")
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("ListMetrics pages");
    assert_eq!(pages.len(), 2);
    assert_eq!(pages.iter().map(|p| p.metrics().len()).sum::<usize>(), 501);
}

#[tokio::test]
async fn alarms_round_trip_and_history_is_a_clear_error() {
    let (cw, _) = client();
    cw.put_metric_alarm()
        .alarm_name("phoenix-cpu")
        .namespace("AWS/ECS")
        .metric_name("CPUUtilization")
        .dimensions(
            Dimension::builder()
                .name("ServiceName")
                .value("phoenix-service")
                .build(),
        )
        .statistic(Statistic::Average)
        .period(60)
        .evaluation_periods(3)
        .threshold(80.5)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .alarm_actions("arn:aws:sns:eu-west-1:123456789012:phoenix-alerts")
        .send()
        .await
        .expect("PutMetricAlarm");
    cw.set_alarm_state()
        .alarm_name("phoenix-cpu")
        .state_value(StateValue::Alarm)
        .state_reason("test")
        .send()
        .await
        .expect("SetAlarmState");
    let alarms = cw
        .describe_alarms()
        .alarm_names("phoenix-cpu")
        .send()
        .await
        .expect("DescribeAlarms");
    let alarm = &alarms.metric_alarms()[0];
    assert_eq!(alarm.state_value(), Some(&StateValue::Alarm));
    assert_eq!(alarm.threshold(), Some(80.5));
    assert_eq!(alarm.period(), Some(60));
    assert_eq!(alarm.evaluation_periods(), Some(3));
    assert_eq!(alarm.dimensions()[0].value(), Some("phoenix-service"));
    assert!(alarm.state_updated_timestamp().is_some(), "{alarm:?}");
    assert_eq!(alarm.alarm_actions().len(), 1);

    // moto 5.2.5 does not implement DescribeAlarmHistory: the SDK gets a final, named error.
    let history = cw
        .describe_alarm_history()
        .alarm_name("phoenix-cpu")
        .history_item_type(HistoryItemType::StateUpdate)
        .send()
        .await
        .expect_err("moto has no DescribeAlarmHistory");
    let meta = aws_sdk_cloudwatch::error::ProvideErrorMetadata::meta(&history);
    assert_eq!(meta.code(), Some("NotImplemented"), "{history:?}");
    assert!(
        meta.message()
            .is_some_and(|m| m.contains("DescribeAlarmHistory")),
        "{history:?}"
    );
}

#[tokio::test]
async fn dashboards_round_trip_and_a_missing_one_is_a_modelled_error() {
    let (cw, _) = client();
    let body = r#"{"widgets":[{"type":"text","x":0,"y":0,"width":6,"height":3,"properties":{"markdown":"phoenix"}}]}"#;
    cw.put_dashboard()
        .dashboard_name("phoenix")
        .dashboard_body(body)
        .send()
        .await
        .expect("PutDashboard");
    let got = cw
        .get_dashboard()
        .dashboard_name("phoenix")
        .send()
        .await
        .expect("GetDashboard");
    assert_eq!(got.dashboard_body(), Some(body));
    let listed = cw.list_dashboards().send().await.expect("ListDashboards");
    let entry = &listed.dashboard_entries()[0];
    assert_eq!(entry.dashboard_name(), Some("phoenix"));
    assert!(entry.last_modified().is_some(), "{entry:?}");
    assert!(entry.size().is_some_and(|s| s > 0), "{entry:?}");

    let missing = cw
        .get_dashboard()
        .dashboard_name("nope")
        .send()
        .await
        .expect_err("no such dashboard");
    assert!(
        missing
            .as_service_error()
            .is_some_and(|e| e.is_dashboard_not_found_error()),
        "{missing:?}"
    );
}

#[tokio::test]
async fn processes_reach_cloudwatch_through_the_emulator_proxy() {
    // What a function binary does with AWS_ENDPOINT_URL: the plain HTTPS client, no wrapper.
    let proxy = crate::EmulatorProxy::start(Emulator::shared().url())
        .await
        .expect("proxy starts");
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(crate::emulator::REGION))
        .endpoint_url(proxy.url())
        .credentials_provider(aws_sdk_cloudwatch::config::SharedCredentialsProvider::new(
            aws_sdk_cloudwatch::config::Credentials::new("AKIA", "secret", None, None, "test"),
        ))
        .http_client(phoenix_core::aws::https_client())
        .sleep_impl(aws_smithy_async::rt::sleep::SharedAsyncSleep::new(
            aws_smithy_async::rt::sleep::TokioSleep::new(),
        ))
        .build();
    let cw = Client::new(&sdk);
    cw.put_metric_data()
        .namespace("Proxy")
        .metric_data(datum(0, 2.5, "tg/proxy"))
        .send()
        .await
        .expect("PutMetricData through the proxy");
    let stats = cw
        .get_metric_statistics()
        .namespace("Proxy")
        .metric_name("RequestCount")
        .dimensions(
            Dimension::builder()
                .name("TargetGroup")
                .value("tg/proxy")
                .build(),
        )
        .start_time(at(0))
        .end_time(at(1))
        .period(60)
        .statistics(Statistic::Sum)
        .send()
        .await
        .expect("GetMetricStatistics through the proxy");
    assert_eq!(stats.datapoints()[0].sum(), Some(2.5));
    // non-CloudWatch calls pass through unchanged
    let sns = aws_sdk_sns::Client::new(&sdk);
    let topic = sns
        .create_topic()
        .name("proxy-topic")
        .send()
        .await
        .expect("CreateTopic through the proxy");
    assert!(
        topic
            .topic_arn()
            .is_some_and(|a| a.contains(crate::emulator::DEFAULT_ACCOUNT))
    );
    assert_eq!(
        proxy.calls().all().operations(),
        [
            "monitoring:PutMetricData",
            "monitoring:GetMetricStatistics",
            "sns:CreateTopic"
        ]
    );
}
