//! Secrets Manager `GetSecretValue` and SNS `Publish` faults.

use super::*;
use crate::tests::support::{closed_port_url, sdk_at, silent_server};

/// Secrets Manager cannot give the webhook: Slack fails (retryable), on-call still hears, and
/// the retry posts to Slack once and does not page twice.
#[tokio::test]
async fn secrets_manager_faults_injected_fail_the_slack_channel_and_the_retry_posts_once() {
    let cases: Vec<(&str, Option<Rule>, Option<String>, &str)> = vec![
        (
            "503",
            Some(secret_fails(
                503,
                r#"{"__type":"ServiceUnavailable","message":"Service is unavailable"}"#,
            )),
            None,
            "secretsmanager:GetSecretValue on arn:aws:secretsmanager:eu-west-1:111122223333:secret:phoenix/slack-webhook-AbCdEf failed: ServiceUnavailable: Service is unavailable (HTTP 503, retryable)",
        ),
        (
            "throttled",
            Some(secret_fails(
                400,
                r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
            )),
            None,
            "ThrottlingException: Rate exceeded (HTTP 400, retryable)",
        ),
        (
            "access denied (final)",
            Some(secret_fails(
                400,
                r#"{"__type":"AccessDeniedException","message":"not authorized to perform secretsmanager:GetSecretValue"}"#,
            )),
            None,
            "AccessDeniedException: not authorized to perform secretsmanager:GetSecretValue (HTTP 400, final)",
        ),
        (
            "not a webhook",
            Some(
                mock!(aws_sdk_secretsmanager::Client::get_secret_value).then_output(|| {
                    GetSecretValueOutput::builder()
                        .secret_string(r#"{"token": "x"}"#)
                        .build()
                }),
            ),
            None,
            "does not hold a Slack webhook URL",
        ),
        (
            "connection refused",
            None,
            Some(closed_port_url()),
            "dispatch failure",
        ),
        ("timeout", None, Some(silent_server().await.0), "timeout"),
    ];
    for (case, rule, endpoint, want) in cases {
        let rig = Rig::new().await;
        let publish = publish_ok();
        let secrets = match (&rule, &endpoint) {
            (Some(rule), _) => secrets_with(rule),
            (None, Some(endpoint)) => aws_sdk_secretsmanager::Client::new(&sdk_at(endpoint)),
            (None, None) => unreachable!("a case has a rule or an endpoint"),
        };
        let faulty = container(secrets, sns_with(&publish), rig.ledger());
        let error = handle(&faulty, &fixture(EVENT), "req-1", ROOMY)
            .await
            .expect_err("never a silent success");
        assert!(
            error.0.contains("Slack: cannot read the Slack webhook")
                && error.0.to_lowercase().contains(&want.to_lowercase())
                && error.0.contains("published to oncall"),
            "{case}: {error}"
        );
        assert!(rig.sink.received().is_empty(), "{case}");
        assert_eq!(
            publish.num_calls(),
            1,
            "{case}: on-call still hears about it"
        );

        let (outcome, published) = rig.retry("req-1").await;
        assert_eq!(outcome.decision.as_deref(), Some("delivered"), "{case}");
        assert_eq!(
            statuses(&outcome)[..2],
            [
                ("slack:IncomingWebhook".to_owned(), ActionStatus::Done),
                ("sns:Publish".to_owned(), ActionStatus::Skipped)
            ],
            "{case}"
        );
        assert_eq!(rig.sink.delivered().len(), 1, "{case}: one post");
        assert_eq!(published, 0, "{case}: on-call is not paged twice");
    }
}

/// SNS Publish to `oncall` fails: Slack got it, the invocation fails, the retry publishes once
/// and does not post to Slack again.
#[tokio::test]
async fn sns_publish_faults_injected_fail_the_oncall_channel_and_the_retry_pages_once() {
    const THROTTLED: &str = r#"<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"#;
    const INTERNAL: &str = r#"<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Receiver</Type><Code>InternalError</Code><Message>Internal error</Message></Error><RequestId>r-2</RequestId></ErrorResponse>"#;
    const DENIED: &str = r#"<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>AuthorizationError</Code><Message>User is not authorized to perform: SNS:Publish</Message></Error><RequestId>r-3</RequestId></ErrorResponse>"#;
    let cases: Vec<(&str, Option<Rule>, Option<String>, &str)> = vec![
        (
            "throttled",
            Some(publish_fails(400, THROTTLED)),
            None,
            "Throttling: Rate exceeded (HTTP 400, retryable)",
        ),
        (
            "500",
            Some(publish_fails(500, INTERNAL)),
            None,
            "InternalError: Internal error (HTTP 500, retryable)",
        ),
        (
            "denied (final)",
            Some(publish_fails(403, DENIED)),
            None,
            "AuthorizationError: User is not authorized to perform: SNS:Publish (HTTP 403, final)",
        ),
        (
            "connection refused",
            None,
            Some(closed_port_url()),
            "dispatch failure",
        ),
        ("timeout", None, Some(silent_server().await.0), "timeout"),
    ];
    for (case, rule, endpoint, want) in cases {
        let rig = Rig::new().await;
        let secret = secret_is(rig.sink.url());
        let sns = match (&rule, &endpoint) {
            (Some(rule), _) => sns_with(rule),
            (None, Some(endpoint)) => aws_sdk_sns::Client::new(&sdk_at(endpoint)),
            (None, None) => unreachable!("a case has a rule or an endpoint"),
        };
        let faulty = container(secrets_with(&secret), sns, rig.ledger());
        let error = handle(&faulty, &fixture(EVENT), "req-1", ROOMY)
            .await
            .expect_err("never a silent success");
        assert!(
            error.0.contains("posted to Slack, oncall: sns:Publish on arn:aws:sns:eu-west-1:111122223333:phoenix-oncall failed")
                && error.0.to_lowercase().contains(&want.to_lowercase()),
            "{case}: {error}"
        );
        assert_eq!(rig.sink.delivered().len(), 1, "{case}: Slack got it");

        let (outcome, published) = rig.retry("req-1").await;
        assert_eq!(
            statuses(&outcome)[..2],
            [
                ("slack:IncomingWebhook".to_owned(), ActionStatus::Skipped),
                ("sns:Publish".to_owned(), ActionStatus::Done)
            ],
            "{case}"
        );
        assert_eq!(
            rig.sink.received().len(),
            1,
            "{case}: Slack is not posted twice"
        );
        assert_eq!(published, 1, "{case}: on-call paged once");
    }
}
