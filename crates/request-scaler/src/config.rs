// pure: settings read from an injected lookup, every bad variable named (no env access here)
//! The function's settings, read once at start-up.

use phoenix_core::Vars;
use serde::Serialize;

use crate::policy::Policy;

/// Where the signals are read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetricSource {
    /// `LoadBalancer` dimension: `app/NAME/ID`.
    pub load_balancer: String,
    /// `TargetGroup` dimension: `targetgroup/NAME/ID`.
    pub target_group: String,
    /// `ClusterName` and `ServiceName` of the CPU metric.
    pub cluster: String,
    pub service: String,
    /// Request the CPU metric too.
    pub cpu: bool,
}

impl MetricSource {
    /// Signals read per evaluation: metrics in the hourly GetMetricData call (billed per metric),
    /// GetMetricStatistics calls in the others (one per signal).
    pub fn metrics_per_call(&self) -> usize {
        1 + usize::from(self.cpu)
    }
}

/// Settings, read once at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    pub cluster: String,
    pub service: String,
    pub metrics: MetricSource,
    pub alerts_topic_arn: String,
    pub policy: Policy,
    pub dry_run: bool,
}

/// Reads every variable; problems are recorded in `vars`, defaults returned meanwhile.
pub fn read(vars: &mut Vars<'_>) -> Config {
    let cluster = vars.required("CLUSTER_NAME");
    let service = vars.required("SERVICE_NAME");
    let load_balancer = vars.required("LOAD_BALANCER_DIMENSION");
    let target_group = vars.required("TARGET_GROUP_DIMENSION");
    let alerts_topic_arn = vars.required_arn("ALERTS_TOPIC_ARN", "sns");
    let target_per_task = vars.number_in("TARGET_REQUESTS_PER_TASK", 100, 1, 1_000_000);
    // never 0: the scaler never parks the service; a 0 is always a person's choice
    let min_tasks = vars.number_in("MIN_TASKS", 1, 1, 1_000);
    let max_tasks = vars.number_in("MAX_TASKS", 10, 1, 1_000);
    let stabilization_minutes = vars.number_in("SCALE_IN_STABILIZATION_MINUTES", 5, 1, 60);
    // 0 turns the CPU signal off (one read a minute instead of two)
    let target_cpu_percent = vars.number_in("TARGET_CPU_PERCENT", 70, 0, 100);
    let dry_run = vars.flag("DRY_RUN", false);
    if min_tasks > max_tasks {
        vars.invalid(
            "MIN_TASKS",
            format!("{min_tasks} is above MAX_TASKS ({max_tasks})"),
        );
    }
    if !load_balancer.is_empty() && !load_balancer.starts_with("app/") {
        vars.invalid(
            "LOAD_BALANCER_DIMENSION",
            format!("`{load_balancer}` is not an ALB dimension (app/NAME/ID)"),
        );
    }
    if !target_group.is_empty() && !target_group.starts_with("targetgroup/") {
        vars.invalid(
            "TARGET_GROUP_DIMENSION",
            format!("`{target_group}` is not a target group dimension (targetgroup/NAME/ID)"),
        );
    }
    Config {
        metrics: MetricSource {
            load_balancer,
            target_group,
            cluster: cluster.clone(),
            service: service.clone(),
            cpu: target_cpu_percent > 0,
        },
        cluster,
        service,
        alerts_topic_arn,
        policy: Policy {
            target_per_task,
            min_tasks,
            max_tasks,
            stabilization_minutes,
            target_cpu_percent,
        },
        dry_run,
    }
}
