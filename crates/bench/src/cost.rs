//! The report's part 5, the monthly cost at defaults: list prices, the load at the defaults, the
//! template's alarms, and every billable thing the control plane adds, by line item, before and
//! after the free tier.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use crate::cold::{self, ColdRun};

/// Public list prices (us-east-1, read 2026-11-30) of everything the control plane adds.
mod price {
    pub const LAMBDA_ARM_GB_SECOND: f64 = 0.000_013_333_4;
    pub const LAMBDA_PER_MILLION_REQUESTS: f64 = 0.20;
    pub const GET_METRIC_DATA_PER_1000_METRICS: f64 = 0.01;
    /// GetMetricStatistics and the other "API requests" (not GetMetricData): the same price,
    /// but inside CloudWatch's always-free 1 M requests a month.
    pub const API_REQUESTS_PER_1000: f64 = 0.01;
    pub const FREE_API_REQUESTS: f64 = 1_000_000.0;
    pub const ALARM_PER_METRIC_MONTH: f64 = 0.10;
    /// Per metric-month, "prorated by the hour and metered only when you send metrics" (the
    /// pricing page): a metric sent in 31 hours of a 730-hour month costs 31/730 of this.
    pub const CUSTOM_METRIC_MONTH: f64 = 0.30;
    pub const HOURS_A_MONTH: f64 = 730.0;
    pub const LOGS_INGEST_PER_GB: f64 = 0.50;
    pub const LOGS_STORE_PER_GB_MONTH: f64 = 0.03;
    pub const LOGS_INSIGHTS_PER_GB_SCANNED: f64 = 0.005;
    pub const SNS_PER_MILLION_PUBLISHES: f64 = 0.50;
    pub const SQS_PER_MILLION_REQUESTS: f64 = 0.40;
    pub const DYNAMODB_PER_MILLION_WRITES: f64 = 1.25;
    pub const DYNAMODB_PER_MILLION_READS: f64 = 0.25;
    pub const SECRET_MONTH: f64 = 0.40;
    pub const XRAY_PER_MILLION_TRACES: f64 = 5.0;
}

/// The load at the defaults: (function, invocations a month, why, ledger writes, ledger reads,
/// SNS publishes, each per invocation).
const LOAD: [(&str, f64, &str, f64, f64, f64); 5] = [
    (
        "task-recovery",
        600.0,
        "≈10 task stops a day, each with a re-check",
        2.0,
        1.0,
        1.0,
    ),
    (
        "request-scaler",
        43_200.0 + 500.0,
        "1-minute schedule + ≈500 alarm fast paths",
        0.0,
        0.0,
        0.05,
    ),
    (
        "alarm-notifier",
        600.0,
        "≈20 alerts a day, each to Slack and oncall",
        4.0,
        2.0,
        1.0,
    ),
    ("backup", 30.0, "daily", 6.0, 2.0, 1.0),
    ("daily-digest", 30.0, "daily", 2.0, 1.0, 1.0),
];

/// One line of the cost table.
struct LineItem {
    item: String,
    basis: String,
    usd: f64,
    /// What AWS's always-free tier leaves of it (an account's first 10 alarm-metrics, 10 custom
    /// metrics, 1M CloudWatch API requests, 5 GB of logs, 1M SQS requests, 1M Lambda requests and
    /// 400,000 GB-s are free; GetMetricData and Secrets Manager are never free), the control
    /// plane being the first to use them.
    after_free_tier: f64,
    /// The same when the app's own alarms, Container Insights metrics and logs have used those
    /// allowances up first (the allowances nothing of the app uses stay free).
    app_first: f64,
}

impl LineItem {
    /// Billed in every column: no free allowance covers it.
    fn never_free(item: &str, basis: String, usd: f64) -> Self {
        LineItem {
            item: item.into(),
            basis,
            usd,
            after_free_tier: usd,
            app_first: usd,
        }
    }

    /// Inside an always-free allowance that nothing of the app uses: free after the free tier,
    /// whoever uses the allowance first.
    fn within_free_allowance(item: &str, basis: String, usd: f64) -> Self {
        LineItem {
            item: item.into(),
            basis,
            usd,
            after_free_tier: 0.0,
            app_first: 0.0,
        }
    }
}

/// The template's CloudWatch alarms at default parameters: (logical id, metrics billed,
/// namespaces). Metric-math alarms are billed per metric they read.
fn template_alarms() -> Result<Vec<(String, usize, Vec<String>)>, String> {
    use phoenix_testkit::sim::template::{Resolver, Template};
    let template = Template::from_repo().map_err(|e| e.to_string())?;
    let resolver = Resolver::new();
    let scope = template.scope(&BTreeMap::new(), &resolver);
    let mut alarms = Vec::new();
    for id in template.resources_of_type("AWS::CloudWatch::Alarm") {
        if !scope.exists(&id)? {
            continue;
        }
        let properties = scope.properties(&id)?;
        let mut namespaces = Vec::new();
        if let Some(ns) = properties["Namespace"].as_str() {
            namespaces.push(ns.to_owned());
        }
        for query in properties["Metrics"].as_array().into_iter().flatten() {
            if let Some(ns) = query
                .pointer("/MetricStat/Metric/Namespace")
                .and_then(Value::as_str)
            {
                namespaces.push(ns.to_owned());
            }
        }
        let metrics = namespaces.len().max(1);
        alarms.push((id, metrics, namespaces));
    }
    Ok(alarms)
}

/// 5. Monthly cost at defaults: every billable thing the control plane adds, by line item.
pub fn monthly_cost(cold: &BTreeMap<String, Vec<ColdRun>>) -> String {
    use price::*;
    let memory_gb = 128.0 / 1024.0;
    let mut items: Vec<LineItem> = Vec::new();
    let mut lambda_total = 0.0;
    let mut log_gb = 0.0;
    let mut writes = 0.0;
    let mut reads = 0.0;
    let mut publishes = 0.0;
    let mut invocations_total = 0.0;
    let mut per_function = String::from(
        "| function | invocations/month | basis | billed ms | log bytes/invocation | Lambda $ |\n\
         |---|---:|---|---:|---:|---:|\n",
    );
    for (name, invocations, why, ledger_writes, ledger_reads, sns) in LOAD {
        let runs = cold.get(name).map(Vec::as_slice).unwrap_or_default();
        let measured = Some(cold::warm_stats(runs).median)
            .filter(|m| m.is_finite())
            .unwrap_or(50.0);
        // real AWS answers slower than the local emulator: 40 ms per invocation; backup also
        // waits for its log exports (60 s a run)
        let allowance = if name == "backup" { 60_000.0 } else { 40.0 };
        let billed_ms = (measured + allowance).ceil();
        let lambda = invocations * (billed_ms / 1000.0) * memory_gb * LAMBDA_ARM_GB_SECOND
            + invocations / 1e6 * LAMBDA_PER_MILLION_REQUESTS;
        // what the function writes (measured) plus Lambda's own START/END/REPORT lines in JSON
        let bytes = cold::log_bytes_per_invocation(runs).unwrap_or(3_000.0) + 1_000.0;
        let _ = writeln!(
            per_function,
            "| {name} | {invocations:.0} | {why} | {billed_ms:.0} | {bytes:.0} | {lambda:.4} |"
        );
        lambda_total += lambda;
        log_gb += invocations * bytes / 1e9;
        writes += invocations * ledger_writes;
        reads += invocations * ledger_reads;
        publishes += invocations * sns;
        invocations_total += invocations;
    }
    items.push(LineItem::within_free_allowance(
        "Lambda (5 functions, arm64, 128 MB)",
        format!(
            "{invocations_total:.0} invocations, measured durations + allowances (table below)"
        ),
        lambda_total,
    ));
    // request-scaler: requests and CPU read every minute by GetMetricStatistics (one request per
    // signal), except the hourly read of the previous days: one GetMetricData call for both.
    // The digest: one GetMetricData call of 3 metrics a day.
    let scaler_evaluations = 43_200.0 + 500.0;
    let hourly = 24.0 * 30.0;
    let statistics_requests = (scaler_evaluations - hourly) * 2.0;
    let scaler_metrics = hourly * 2.0;
    let digest_metrics = 30.0 * 3.0;
    let gmd = (scaler_metrics + digest_metrics) / 1000.0 * GET_METRIC_DATA_PER_1000_METRICS;
    let gms = statistics_requests / 1000.0 * API_REQUESTS_PER_1000;
    let gms_free =
        (statistics_requests - FREE_API_REQUESTS).max(0.0) / 1000.0 * API_REQUESTS_PER_1000;
    items.push(LineItem {
        item: "CloudWatch GetMetricStatistics (API requests)".into(),
        basis: format!(
            "{statistics_requests:.0} requests (scaler: requests + CPU each minute but the hourly one) of the \
             1 M free; half with TargetCpuPercent=0"
        ),
        usd: gms,
        after_free_tier: gms_free,
        app_first: gms_free,
    });
    items.push(LineItem::never_free(
        "CloudWatch GetMetricData",
        format!(
            "{scaler_metrics:.0} metrics (scaler: the previous days, hourly) + {digest_metrics:.0} (digest)"
        ),
        gmd,
    ));
    match template_alarms() {
        Ok(alarms) => {
            let control: Vec<&(String, usize, Vec<String>)> = alarms
                .iter()
                .filter(|(id, _, ns)| {
                    id == "RequestAlarm"
                        || ns
                            .iter()
                            .any(|n| n == "PhoenixOps" || n == "AWS/Lambda" || n == "AWS/SQS")
                })
                .collect();
            let app: Vec<&(String, usize, Vec<String>)> = alarms
                .iter()
                .filter(|a| !control.iter().any(|c| c.0 == a.0))
                .collect();
            let metrics =
                |set: &[&(String, usize, Vec<String>)]| set.iter().map(|a| a.1).sum::<usize>();
            let names = |set: &[&(String, usize, Vec<String>)]| {
                set.iter()
                    .map(|a| format!("{} ({})", a.0, a.1))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let control_metrics = metrics(&control);
            let app_metrics = metrics(&app);
            // the app's alarms first: what is left of the 10 free alarm-metrics
            let free_left = 10usize.saturating_sub(app_metrics);
            items.push(LineItem {
                item: "CloudWatch alarms of the control plane".into(),
                basis: format!("{control_metrics} alarm-metrics: {}", names(&control)),
                usd: control_metrics as f64 * ALARM_PER_METRIC_MONTH,
                after_free_tier: control_metrics.saturating_sub(10) as f64 * ALARM_PER_METRIC_MONTH,
                app_first: control_metrics.saturating_sub(free_left) as f64
                    * ALARM_PER_METRIC_MONTH,
            });
            let custom: std::collections::BTreeSet<&str> = alarms
                .iter()
                .filter(|(_, _, ns)| ns.iter().any(|n| n == "PhoenixOps"))
                .map(|(id, _, _)| id.as_str())
                .collect();
            // backup sends them once a day (30 runs, and a manual one): 31 metered hours
            let metered_hours = 31.0;
            let custom_usd =
                custom.len() as f64 * CUSTOM_METRIC_MONTH * metered_hours / HOURS_A_MONTH;
            items.push(LineItem {
                item: "CloudWatch custom metrics (EMF)".into(),
                basis: format!(
                    "{} metrics, each read by an alarm ({}); Stack and Function dimensions only; \
                     sent by the daily backup, so metered {metered_hours:.0} h of {HOURS_A_MONTH:.0} \
                     (prorated by the hour)",
                    custom.len(),
                    custom.iter().copied().collect::<Vec<_>>().join(", ")
                ),
                usd: custom_usd,
                after_free_tier: 0.0,
                // Container Insights' metrics are custom metrics: they use the free 10 up
                app_first: custom_usd,
            });
            items.push(LineItem::never_free(
                "(the app's own alarms: CPU peak, 5xx, health, DocumentDB)",
                format!(
                    "{app_metrics} alarm-metrics, not the control plane's: {}",
                    names(&app)
                ),
                0.0,
            ));
            // listed, not added: they watch Phoenix itself (requirement 4, issue 17)
            if let Some(last) = items.last_mut() {
                last.basis.push_str(&format!(
                    " — {:.2} USD, counted with the app",
                    app_metrics as f64 * ALARM_PER_METRIC_MONTH
                ));
            }
        }
        Err(e) => items.push(LineItem::never_free(
            "CloudWatch alarms",
            format!("template not read: {e}"),
            f64::NAN,
        )),
    }
    let ingest = log_gb * LOGS_INGEST_PER_GB;
    let store = log_gb * LOGS_STORE_PER_GB_MONTH;
    // the digest's query scans a day's lines once a day: a month's volume in a month
    let insights = log_gb * LOGS_INSIGHTS_PER_GB_SCANNED;
    items.push(LineItem {
        item: "CloudWatch Logs".into(),
        basis: format!(
            "{:.0} MB ingested (measured bytes per invocation + 1 KB of Lambda's platform lines), \
             kept a month; the digest's daily Logs Insights query over a day",
            log_gb * 1000.0
        ),
        usd: ingest + store + insights,
        after_free_tier: if log_gb <= 5.0 {
            insights
        } else {
            ingest + store + insights
        },
        // the app's and Container Insights' logs use the free 5 GB up
        app_first: ingest + store + insights,
    });
    items.push(LineItem::never_free(
        "Secrets Manager (the Slack webhook)",
        "1 secret; read once per notifier container".into(),
        SECRET_MONTH,
    ));
    // Lambda's SQS event source long-polls the re-check queue all the time: about 5 pollers,
    // a 20 s receive each, so ≈ 15 requests a minute whether or not a message comes.
    let sqs_requests = 15.0 * 60.0 * 24.0 * 30.0;
    items.push(LineItem::within_free_allowance(
        "SQS (re-check queue, dead-letter queue)",
        format!("≈{sqs_requests:.0} requests: Lambda's pollers of the re-check queue"),
        sqs_requests / 1e6 * SQS_PER_MILLION_REQUESTS,
    ));
    items.push(LineItem::never_free(
        "DynamoDB (the ledger, on demand)",
        format!("{writes:.0} writes, {reads:.0} reads; a few KB stored"),
        writes / 1e6 * DYNAMODB_PER_MILLION_WRITES + reads / 1e6 * DYNAMODB_PER_MILLION_READS,
    ));
    items.push(LineItem::within_free_allowance(
        "SNS",
        format!("{publishes:.0} publishes to alerts and oncall; deliveries to Lambda free, e-mail $2/100k"),
        publishes / 1e6 * SNS_PER_MILLION_PUBLISHES,
    ));
    items.push(LineItem::never_free(
        "X-Ray",
        format!(
            "off by default (XRayTracing); On: {:.0} traces ≈ {:.2} USD",
            invocations_total,
            invocations_total / 1e6 * XRAY_PER_MILLION_TRACES
        ),
        0.0,
    ));
    items.push(LineItem::never_free(
        "EventBridge, the dashboard",
        "rules on AWS service events and schedules: free; one dashboard (3 per account are free, then 3 USD each)".into(),
        0.0,
    ));
    let total: f64 = items.iter().map(|i| i.usd).sum();
    let after: f64 = items.iter().map(|i| i.after_free_tier).sum();
    let app_first: f64 = items.iter().map(|i| i.app_first).sum();
    let verdict = |usd: f64| {
        if usd <= 1.0 {
            "met".to_owned()
        } else {
            format!("{:.2} over", usd - 1.0)
        }
    };
    let mut out = String::from(
        "## 5. Monthly cost at defaults (control plane only, every line item)\n\n\
         Public list prices, us-east-1, read 2026-11-30. Durations are the measured warm medians \
         of table 2 plus 40 ms per invocation for real AWS latency (backup: plus 60 s of export \
         waiting); log bytes are measured from the functions' stdout in table 2's runs. The alarms \
         and custom metrics are read from `infra/template.yaml` at its default parameters.\n\n\
         | line item | basis | USD/month | after the free tier | after it, the app first |\n\
         |---|---|---:|---:|---:|\n",
    );
    for item in &items {
        let _ = writeln!(
            out,
            "| {} | {} | {:.2} | {:.2} | {:.2} |",
            item.item, item.basis, item.usd, item.after_free_tier, item.app_first
        );
    }
    let _ = writeln!(
        out,
        "| **all** | | **{total:.2}** | **{after:.2}** | **{app_first:.2}** |\n\n\
         Target ≤ 1 USD/month: {after:.2} after the free tier ({}); {app_first:.2} when the app \
         has used the free alarms, custom metrics and logs first ({}). Before the free tier \
         {total:.2}: the Slack secret, the signals read every minute and the alarms issue 17 \
         asks for are above 1 USD on their own (README, Performance › Targets).\n\n{per_function}",
        verdict(after),
        verdict(app_first)
    );
    out
}
