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

#[cfg(test)]
mod tests {
    use super::*;

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
