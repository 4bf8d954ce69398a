//! The webhook URL is a secret: it never appears in any log line (every level, the SDK's and
//! hyper's included), in the Outcome line, or in the error Lambda records — whether the
//! delivery succeeds after a retry, is refused, or cannot reach Slack at all.

use std::time::Duration;

use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use phoenix_core::Invocation;
use phoenix_core::lambda::handle_and_report;
use phoenix_core::logging::{Captured, subscriber};
use phoenix_testkit::{Reply, SlackSink};
use tracing::level_filters::LevelFilter;

use super::support::{closed_port_url, emulator_with_ledger, fixture, notifier, now};
use crate::Clients;

/// The secret part of the webhook URL.
const TOKEN: &str = "s3cr3tW3bh00kT0ken";

#[tokio::test]
async fn the_webhook_url_is_in_no_log_line_no_outcome_and_no_error() {
    let sdk = emulator_with_ledger().await;
    let sink = SlackSink::start().await.expect("sink");
    let base = sink
        .url()
        .split("/services/")
        .next()
        .expect("a base URL")
        .to_owned();
    let cases = [
        (
            "delivered after a 429",
            format!("{base}/services/T0SECRET/B0SECRET/{TOKEN}"),
            vec![Reply::RateLimited {
                retry_after_secs: 1,
            }],
        ),
        (
            "refused with 404",
            format!("{base}/services/T0SECRET/B0SECRET/{TOKEN}"),
            vec![Reply::NotFound],
        ),
        (
            "unreachable",
            format!("{}/services/T0SECRET/B0SECRET/{TOKEN}", closed_port_url()),
            vec![],
        ),
        (
            "in the URL's user info",
            format!(
                "http://hook:{TOKEN}@{}/services/x",
                base.trim_start_matches("http://")
            ),
            vec![],
        ),
    ];
    for (case, webhook, replies) in cases {
        sink.reply_next(replies);
        let secret =
            mock!(aws_sdk_secretsmanager::Client::get_secret_value).then_output(move || {
                GetSecretValueOutput::builder()
                    .secret_string(webhook.clone())
                    .build()
            });
        let publish = mock!(aws_sdk_sns::Client::publish)
            .then_output(|| PublishOutput::builder().message_id("m").build());
        let n = notifier(
            Clients {
                secrets: mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, &[&secret]),
                sns: mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&publish]),
                dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            },
            false,
        );
        let logs = Captured::default();
        let mut outcome_line = Captured::default();
        let invocation = Invocation::new(fixture("sns-notice.json"), now())
            .request_id(format!("req-{case}"))
            .time_left(Duration::from_secs(20));
        let result = {
            let _guard = tracing::subscriber::set_default(subscriber(
                LevelFilter::TRACE,
                logs.make_writer(),
            ));
            handle_and_report(&n, invocation, &mut outcome_line).await
        };
        let mut everything = logs.lines();
        everything.extend(outcome_line.lines());
        match &result {
            Ok(outcome) => everything.push(outcome.to_json().to_string()),
            Err(error) => everything.push(error.0.clone()),
        }
        assert!(
            everything.len() > 2,
            "{case}: lines were captured: {everything:?}"
        );
        for line in &everything {
            assert!(!line.contains(TOKEN), "{case}: the webhook leaked: {line}");
            assert!(
                !line.contains("T0SECRET"),
                "{case}: the webhook's path leaked: {line}"
            );
        }
        // What is said instead: the secret's ARN and the webhook's host.
        let joined = everything.join("\n");
        assert!(
            joined.contains("secret:phoenix/slack-webhook-AbCdEf"),
            "{case}: {joined}"
        );
        assert!(joined.contains("http://127.0.0.1:"), "{case}: {joined}");
    }
}
