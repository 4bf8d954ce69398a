//! The Slack webhook's faults, the dry run, and events that are not ours.

use phoenix_testkit::Reply;

use super::*;
use crate::tests::support::{closed_port_url, ledger_items, sdk_at, silent_server};

/// The Slack webhook's answers: 429 with Retry-After, 5xx, 4xx, refused, no answer.
#[tokio::test]
async fn slack_429_with_retry_after_is_waited_out_within_the_invocation_and_posted_once() {
    let rig = Rig::new().await;
    rig.sink.reply_next([Reply::RateLimited {
        retry_after_secs: 1,
    }]);
    let outcome = rig.retry("req-1").await.0;
    let received = rig.sink.received();
    assert_eq!(
        received.iter().map(|r| r.answered).collect::<Vec<_>>(),
        [429, 200]
    );
    assert!(received[1].at - received[0].at >= Duration::from_secs(1));
    let detail = outcome.actions[0].detail.clone().unwrap_or_default();
    assert!(
        detail.contains("after 2 attempts (retried after 429 (Retry-After 1 s)"),
        "{detail}"
    );
}

#[tokio::test]
async fn slack_faults_that_outlive_the_invocation_fail_it_and_the_retry_posts_once() {
    // (case, the webhook, what Slack answers until it recovers, time left, error)
    let silent = silent_server().await.0;
    let cases: Vec<(&str, Option<String>, Reply, Duration, &str)> = vec![
        (
            "429 beyond the time left",
            None,
            Reply::RateLimited {
                retry_after_secs: 30,
            },
            ROOMY,
            "Slack rate-limited the webhook (429, Retry-After 30 s); waiting 30000 ms would outlive the invocation",
        ),
        (
            "5xx to the end",
            None,
            Reply::ServerError,
            Duration::from_secs(5),
            "Slack answered 500 internal_error; waiting",
        ),
        (
            "404",
            None,
            Reply::NotFound,
            ROOMY,
            "Slack webhook answered 404 no_service: the webhook was revoked or its channel deleted — the message was NOT delivered",
        ),
        (
            "400",
            None,
            Reply::Status {
                code: 400,
                body: "invalid_payload".into(),
            },
            ROOMY,
            "Slack webhook answered 400 invalid_payload: Slack refused the message format",
        ),
        (
            "connection refused",
            Some(format!("{}/services/T0/B0/x", closed_port_url())),
            Reply::Ok,
            ROOMY,
            "Slack webhook unreachable after 3 attempts",
        ),
        (
            "no answer",
            Some(format!("{silent}/services/T0/B0/x")),
            Reply::Ok,
            Duration::from_secs(4),
            "no answer from http://127.0.0.1",
        ),
    ];
    for (case, webhook, answer, time_left, want) in cases {
        let rig = Rig::new().await;
        rig.sink.always(answer);
        let (secret, publish) = (
            secret_is(webhook.unwrap_or_else(|| rig.sink.url())),
            publish_ok(),
        );
        let n = container(secrets_with(&secret), sns_with(&publish), rig.ledger());
        let error = handle(&n, &fixture(EVENT), "req-1", time_left)
            .await
            .expect_err("never a silent success");
        assert!(error.0.contains(want), "{case}: {error}");
        assert!(
            !error.0.contains("/services/"),
            "{case}: the webhook URL is a secret: {error}"
        );
        assert!(rig.sink.delivered().is_empty(), "{case}");
        assert_eq!(publish.num_calls(), 1, "{case}: on-call got it");

        rig.sink.always(Reply::Ok);
        let (outcome, published) = rig.retry("req-1").await;
        assert_eq!(outcome.actions[0].status, ActionStatus::Done, "{case}");
        assert_eq!(rig.sink.delivered().len(), 1, "{case}: posted once");
        assert_eq!(published, 0, "{case}: not paged twice");
    }
}

#[tokio::test]
async fn dry_run_reads_the_ledger_renders_and_changes_nothing() {
    let rig = Rig::new().await;
    // A delivered message, then the same again in a dry run: the dry run says it would skip.
    rig.retry("req-1").await;
    let secrets = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, &[]);
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[]);
    let dry = notifier(
        Clients {
            secrets,
            sns,
            dynamodb: rig.ledger(),
        },
        true,
    );
    let before = ledger_items(&rig.sdk).await;
    let outcome = handle(&dry, &fixture(EVENT), "req-2", ROOMY)
        .await
        .expect("dry run");
    assert_eq!(outcome.decision.as_deref(), Some("dry-run"));
    assert!(
        outcome
            .actions
            .iter()
            .all(|a| a.status == ActionStatus::DryRun),
        "{:?}",
        outcome.actions
    );
    assert!(
        outcome.actions[0]
            .detail
            .clone()
            .unwrap_or_default()
            .starts_with("would not send: already delivered")
    );
    let other = handle(&dry, &fixture("sns-notice.json"), "req-3", ROOMY)
        .await
        .expect("dry run");
    assert_eq!(
        other.actions[0].detail.as_deref(),
        Some("rendered, not sent")
    );
    let rendered = &other.observed["messages"][0]["rendered"];
    assert_eq!(
        rendered["slack"]["blocks"][0]["text"]["text"],
        "🚨 CRITICAL: phoenix-worker is crash-looping: 3 failures in 10 min"
    );
    assert_eq!(
        ledger_items(&rig.sdk).await,
        before,
        "a dry run writes nothing"
    );
    assert_eq!(rig.sink.received().len(), 1);
}

fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
    phoenix_testkit::arbitrary::json_value(
        &[
            "CloudWatch Alarm State Change",
            "ALARM",
            "RDS DB Cluster Event",
            "aws.rds",
        ],
        &[
            "detail-type",
            "detail",
            "source",
            "alarmName",
            "alarmData",
            "Records",
            "AlarmName",
            "schema",
        ],
    )
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// Random JSON: never a panic; what is not ours is ignored without any AWS call (every
    /// client here fails any call).
    #[test]
    fn random_json_is_ignored_without_any_aws_call_when_not_ours(payload in json_value()) {
        if crate::event::parse_event(&payload).is_err() {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            let outcome = runtime.block_on(async {
                let clients = Clients {
                    secrets: mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, &[]),
                    sns: mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[]),
                    dynamodb: aws_sdk_dynamodb::Client::new(&sdk_at(&closed_port_url())),
                };
                notifier(clients, false).handle(Invocation::new(payload, now())).await
            });
            let outcome = outcome.expect("never an error");
            proptest::prop_assert!(outcome.ignored.is_some(), "{outcome:?}");
        }
    }
}
