// pure: builds the view of a CloudWatch alarm; no I/O, no clock
//! The view of a CloudWatch alarm state change: the value against the threshold and the ECS
//! service in one line, how long an alarm lasted on its recovery, the metric (or expression,
//! or rule), and buttons to the alarm, its children and the ECS service in the console.

use phoenix_core::console;
use phoenix_core::text::{human_duration, truncate_chars};

use super::views::footer;
use super::{RenderContext, Section, Style, View, links, number, utc};
use crate::alarm::{Alarm, AlarmKind, AlarmState, MetricRef};

/// Emoji and colour per state.
fn alarm_look(state: &AlarmState) -> (&'static str, &'static str) {
    match state {
        AlarmState::Alarm => ("🔴", "#D93025"),
        AlarmState::Ok => ("✅", "#2EB67D"),
        AlarmState::InsufficientData => ("⚪", "#9AA0A6"),
        AlarmState::Unknown(_) => ("❔", "#9AA0A6"),
    }
}

fn period(secs: i64) -> String {
    if secs % 60 == 0 {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

fn unit_suffix(unit: Option<&str>, metric: Option<&str>) -> &'static str {
    match unit {
        Some("Percent") => "%",
        Some("Seconds") => " s",
        Some("Milliseconds") => " ms",
        Some("Bytes") => " B",
        Some("Count") => "",
        None if metric.is_some_and(|m| m.ends_with("Utilization")) => "%",
        _ => "",
    }
}

fn metric_label(metric: &MetricRef) -> String {
    metric
        .name
        .clone()
        .or_else(|| metric.id.clone())
        .unwrap_or_else(|| "metric".to_owned())
}

fn metric_description(metric: &MetricRef) -> String {
    let mut parts = Vec::new();
    let name = match (&metric.namespace, &metric.name) {
        (Some(ns), Some(name)) => format!("{ns} {name}"),
        (None, Some(name)) => name.clone(),
        (Some(ns), None) => ns.clone(),
        (None, None) => "metric".to_owned(),
    };
    parts.push(name);
    if let Some(stat) = &metric.stat {
        parts.push(stat.clone());
    }
    if let Some(p) = metric.period_secs {
        parts.push(period(p));
    }
    let dims: Vec<String> = metric
        .dimensions
        .iter()
        .filter(|(n, _)| n != "ClusterName" && n != "ServiceName")
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    if !dims.is_empty() {
        parts.push(dims.join(", "));
    }
    parts.join(" · ")
}

pub fn alarm_view(alarm: &Alarm, context: &RenderContext) -> View {
    let (emoji, colour) = alarm_look(&alarm.state);
    let title = format!("{emoji} {}: {}", alarm.state, alarm.name);
    let (what, unit) = match &alarm.kind {
        AlarmKind::Metric(m) => (
            metric_label(m),
            unit_suffix(alarm.unit.as_deref(), m.name.as_deref()),
        ),
        AlarmKind::MetricMath {
            id,
            expression,
            label,
            ..
        } => (
            label
                .clone()
                .or_else(|| id.clone())
                .unwrap_or_else(|| expression.clone()),
            unit_suffix(alarm.unit.as_deref(), None),
        ),
        AlarmKind::Composite { .. } => ("rule".to_owned(), ""),
        AlarmKind::Other => ("alarm".to_owned(), ""),
    };
    let with_unit = |v: f64| format!("{}{unit}", number(v));
    let limit = match (&alarm.comparison, alarm.threshold) {
        (Some(c), Some(t)) => Some(format!("{} {}", c.symbol(), with_unit(t))),
        (None, Some(t)) => Some(format!("threshold {}", with_unit(t))),
        _ => None,
    };
    let service = alarm.ecs_service();
    let on = service
        .map(|(cluster, service)| format!(" on {cluster}/{service}"))
        .unwrap_or_default();
    let lasted = context
        .lasted
        .map(|d| format!(" — alarm lasted {}", human_duration(d)))
        .unwrap_or_default();
    let headline = match (&alarm.kind, &alarm.state) {
        (AlarmKind::Composite { triggering, .. }, AlarmState::Alarm) if !triggering.is_empty() => {
            format!("Alarm rule is true: triggered by {}", triggering.join(", "))
        }
        (AlarmKind::Composite { .. }, AlarmState::Alarm) => "Alarm rule is true".to_owned(),
        (AlarmKind::Composite { .. }, AlarmState::Ok) => {
            format!("Alarm rule is no longer true{lasted}")
        }
        (AlarmKind::Composite { .. }, state) => format!("Alarm rule is {state}{lasted}"),
        (AlarmKind::Other, _) => {
            let first = alarm.reason.lines().next().unwrap_or_default();
            format!("{}{lasted}", truncate_chars(first, 200))
        }
        (_, AlarmState::Alarm) => match (alarm.value, &limit) {
            (Some(v), Some(l)) => format!("{what} {} {l}{on}", with_unit(v)),
            (Some(v), None) => format!("{what} {}{on}", with_unit(v)),
            (None, Some(l)) => format!("{what} crossed {l}{on}"),
            (None, None) => format!("{what} crossed its threshold{on}"),
        },
        (_, AlarmState::Ok) => match (alarm.value, &limit) {
            (Some(v), Some(l)) => {
                format!("{what} back to {} (alarm at {l}){on}{lasted}", with_unit(v))
            }
            (Some(v), None) => format!("{what} back to {}{on}{lasted}", with_unit(v)),
            (None, _) => format!("{what} back within bounds{on}{lasted}"),
        },
        (_, AlarmState::InsufficientData) => match &limit {
            Some(l) => format!("{what}: not enough data (alarm at {l}){on}{lasted}"),
            None => format!("{what}: not enough data{on}{lasted}"),
        },
        (_, state) => format!("{what} is {state}{on}{lasted}"),
    };

    let mut fields = Vec::new();
    let state = match &alarm.previous {
        Some(previous) => format!("{} (was {previous})", alarm.state),
        None => alarm.state.to_string(),
    };
    fields.push(("State".to_owned(), state));
    if let Some(v) = alarm.value {
        let value = match &limit {
            Some(l) => format!("{} (alarm at {l})", with_unit(v)),
            None => with_unit(v),
        };
        fields.push(("Value".to_owned(), value));
    } else if let Some(l) = &limit {
        fields.push(("Threshold".to_owned(), l.clone()));
    }
    match &alarm.kind {
        AlarmKind::Metric(m) => fields.push(("Metric".to_owned(), metric_description(m))),
        AlarmKind::MetricMath { inputs, .. } => {
            let inputs: Vec<String> = inputs
                .iter()
                .map(|m| {
                    format!(
                        "{}: {}",
                        m.id.as_deref().unwrap_or("?"),
                        metric_description(m)
                    )
                })
                .collect();
            if !inputs.is_empty() {
                fields.push(("Inputs".to_owned(), inputs.join("\n")));
            }
        }
        AlarmKind::Composite { triggering, .. } if !triggering.is_empty() => {
            fields.push(("Triggered by".to_owned(), triggering.join(", ")));
        }
        _ => {}
    }
    if let Some((cluster, service)) = service {
        fields.push(("ECS service".to_owned(), format!("{cluster}/{service}")));
    }
    if let Some(at) = alarm.changed_at {
        fields.push(("Time".to_owned(), utc(at)));
    }
    if let Some(d) = context.lasted {
        fields.push(("Lasted".to_owned(), human_duration(d)));
    }
    if let (Some(n), Some(m)) = (alarm.datapoints_to_alarm, alarm.evaluation_periods) {
        fields.push(("Evaluation".to_owned(), format!("{n} of {m} datapoints")));
    }
    let place: Vec<&str> = [alarm.account.as_deref(), alarm.region.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    if !place.is_empty() {
        fields.push(("Account".to_owned(), place.join(" · ")));
    }

    let mut sections = Vec::new();
    if let AlarmKind::MetricMath { id, expression, .. } = &alarm.kind {
        let expression = match id {
            Some(id) => format!("{id} = {expression}"),
            None => expression.clone(),
        };
        sections.push(Section {
            label: "Expression",
            text: expression,
            style: Style::Code,
        });
    }
    if let AlarmKind::Composite { rule, .. } = &alarm.kind {
        sections.push(Section {
            label: "Rule",
            text: rule.clone(),
            style: Style::Code,
        });
    }
    if let Some(description) = &alarm.description {
        sections.push(Section {
            label: "Description",
            text: description.clone(),
            style: Style::Prose,
        });
    }
    if !alarm.reason.trim().is_empty() {
        sections.push(Section {
            label: "Reason",
            text: alarm.reason.clone(),
            style: Style::Prose,
        });
    }

    let mut named = Vec::new();
    if let Some(region) = &alarm.region {
        named.push((
            "Alarm".to_owned(),
            console::cloudwatch_alarm(region, &alarm.name),
        ));
        if let Some((cluster, service)) = service {
            named.push((
                "ECS service".to_owned(),
                console::ecs_service(region, cluster, service),
            ));
        }
        if let AlarmKind::Composite { triggering, .. } = &alarm.kind {
            for child in triggering.iter().take(3) {
                named.push((
                    format!("Alarm {child}"),
                    console::cloudwatch_alarm(region, child),
                ));
            }
        }
    }
    View {
        emoji,
        colour,
        title,
        headline,
        fields,
        sections,
        links: links(named, context.dashboard_url.as_deref()),
        footer: footer(&format!("CloudWatch {}", alarm.kind.name()), context),
    }
}
