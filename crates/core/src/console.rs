//! AWS console links, so a human can go from a Slack message to the thing itself.

/// Console host for a region (China and GovCloud have their own).
fn host(region: &str) -> String {
    if region.starts_with("cn-") {
        "https://console.amazonaws.cn".to_owned()
    } else if region.starts_with("us-gov-") {
        "https://console.amazonaws-us-gov.com".to_owned()
    } else {
        format!("https://{region}.console.aws.amazon.com")
    }
}

/// Percent-encodes a path segment or query value (RFC 3986 unreserved characters kept).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub fn ecs_service(region: &str, cluster: &str, service: &str) -> String {
    format!(
        "{}/ecs/v2/clusters/{}/services/{}/health?region={region}",
        host(region),
        encode(cluster),
        encode(service)
    )
}

pub fn ecs_task(region: &str, cluster: &str, task_id: &str) -> String {
    format!(
        "{}/ecs/v2/clusters/{}/tasks/{}/configuration?region={region}",
        host(region),
        encode(cluster),
        encode(task_id)
    )
}

pub fn cloudwatch_alarm(region: &str, alarm_name: &str) -> String {
    format!(
        "{}/cloudwatch/home?region={region}#alarmsV2:alarm/{}",
        host(region),
        encode(alarm_name)
    )
}

/// The console encodes `/` in log group names as `$252F` inside its fragment.
pub fn log_stream(region: &str, group: &str, stream: &str) -> String {
    let console_escape = |s: &str| encode(s).replace('%', "$25");
    format!(
        "{}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/{}/log-events/{}",
        host(region),
        console_escape(group),
        console_escape(stream)
    )
}

pub fn docdb_snapshots(region: &str) -> String {
    format!("{}/docdb/home?region={region}#snapshots", host(region))
}

pub fn s3_prefix(region: &str, bucket: &str, prefix: &str) -> String {
    format!(
        "https://s3.console.aws.amazon.com/s3/buckets/{}?region={region}&prefix={}",
        encode(bucket),
        encode(prefix)
    )
}

/// The only links a message to people may carry as a button: the AWS console (any region,
/// China, GovCloud, S3's console) and the stack's own dashboard. Anything else in a Notice (which
/// anyone allowed to publish to `alerts` could write) is shown as text, never as a button.
pub fn is_allowed_link(url: &str, dashboard_url: Option<&str>) -> bool {
    if dashboard_url.is_some_and(|d| !d.is_empty() && url == d) {
        return true;
    }
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let host = rest
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if host.contains('@') || host.contains(':') {
        return false;
    }
    host == "console.aws.amazon.com"
        || host == "s3.console.aws.amazon.com"
        || host == "console.amazonaws.cn"
        || host == "console.amazonaws-us-gov.com"
        || host
            .strip_suffix(".console.aws.amazon.com")
            .is_some_and(|region| {
                !region.is_empty()
                    && region
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            })
}

/// The stack's CloudWatch dashboard.
pub fn dashboard(region: &str, name: &str) -> String {
    format!(
        "{}/cloudwatch/home?region={region}#dashboards/dashboard/{}",
        host(region),
        encode(name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_console_and_dashboard_links_are_buttons() {
        let dash = dashboard("eu-west-1", "phoenix-ops-phoenix");
        assert!(is_allowed_link(&dash, Some(&dash)));
        for good in [
            "https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/c",
            "https://console.aws.amazon.com/cloudwatch",
            "https://s3.console.aws.amazon.com/s3/buckets/b",
            "https://console.amazonaws.cn/ecs",
        ] {
            assert!(is_allowed_link(good, None), "{good}");
        }
        for bad in [
            "http://eu-west-1.console.aws.amazon.com/",
            "https://evil.example.com/console.aws.amazon.com",
            "https://console.aws.amazon.com.evil.example/",
            "https://user@console.aws.amazon.com/",
            "https://x.y.console.aws.amazon.com/",
            "javascript:alert(1)",
            "https://hooks.slack.com/services/T/B/X",
        ] {
            assert!(!is_allowed_link(bad, Some(&dash)), "{bad}");
        }
    }

    #[test]
    fn links_point_at_the_right_console() {
        assert_eq!(
            ecs_service("eu-west-1", "phoenix-cluster", "phoenix-service"),
            "https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/phoenix-cluster/services/phoenix-service/health?region=eu-west-1"
        );
        assert_eq!(
            cloudwatch_alarm("eu-west-1", "phoenix cpu<high>"),
            "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/phoenix%20cpu%3Chigh%3E"
        );
        assert!(ecs_task("cn-north-1", "c", "t").starts_with("https://console.amazonaws.cn/"));
        assert_eq!(
            log_stream("eu-west-1", "/ecs/phoenix", "ecs/phoenix/abc"),
            "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/$252Fecs$252Fphoenix/log-events/ecs$252Fphoenix$252Fabc"
        );
    }
}
