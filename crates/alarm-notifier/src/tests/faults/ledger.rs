//! The ledger's DynamoDB faults: `GetItem`, `PutItem`, `UpdateItem`, `DeleteItem`, an
//! unreachable table and one that never answers.

use phoenix_testkit::Reply;

use super::*;
use crate::tests::support::{Faults, closed_port_url, dynamodb_with_faults, sdk_at, silent_server};

/// The ledger's calls fail: nothing is lost and nothing is sent twice.
#[tokio::test]
async fn ledger_reads_and_claims_that_fail_for_now_injected_postpone_and_the_retry_sends_once() {
    // (operation, status, code, answers replaced): 3 = every attempt of one call
    let cases: [(&str, u16, &str, usize); 3] = [
        ("GetItem", 500, "InternalServerError", 3),
        ("GetItem", 400, "ProvisionedThroughputExceededException", 3),
        ("PutItem", 500, "InternalServerError", 3),
    ];
    for (operation, status, code, times) in cases {
        let case = format!("{operation} {code}");
        let rig = Rig::new().await;
        let faults = Faults::default();
        faults.fail(operation, status, code, times);
        let (secret, publish) = (secret_is(rig.sink.url()), publish_ok());
        let faulty = container(
            secrets_with(&secret),
            sns_with(&publish),
            dynamodb_with_faults(&rig.sdk, &faults),
        );
        let error = handle(&faulty, &fixture(EVENT), "req-1", ROOMY)
            .await
            .expect_err("retried");
        assert!(
            error.0.contains("Slack: not sent: ") && error.0.contains(code),
            "{case}: {error}"
        );
        assert!(
            rig.sink.received().is_empty(),
            "{case}: Slack not posted unguarded"
        );
        assert_eq!(
            publish.num_calls(),
            1,
            "{case}: oncall went out (its own key was fine)"
        );

        let (outcome, published) = rig.retry("req-1").await;
        assert_eq!(outcome.decision.as_deref(), Some("delivered"), "{case}");
        assert_eq!(rig.sink.delivered().len(), 1, "{case}: one post");
        assert_eq!(published, 0, "{case}: no second page");
        // and a duplicate delivery afterwards, in a third container, sends nothing
        let (again, published) = rig.retry("req-2").await;
        assert_eq!(
            again.decision.as_deref(),
            Some("collapsed-duplicate"),
            "{case}"
        );
        assert_eq!((rig.sink.received().len(), published), (1, 0), "{case}");
    }
}

#[tokio::test]
async fn a_ledger_that_cannot_be_used_at_all_injected_delivers_without_the_guarantee() {
    for operation in ["GetItem", "PutItem"] {
        let rig = Rig::new().await;
        let faults = Faults::default();
        faults.fail(operation, 400, "AccessDeniedException", 10);
        let (secret, publish) = (secret_is(rig.sink.url()), publish_ok());
        let n = container(
            secrets_with(&secret),
            sns_with(&publish),
            dynamodb_with_faults(&rig.sdk, &faults),
        );
        let outcome = handle(&n, &fixture(EVENT), "req-1", ROOMY)
            .await
            .expect("a page twice beats no page");
        assert_eq!(
            outcome.decision.as_deref(),
            Some("delivered"),
            "{operation}"
        );
        let slack = outcome.actions[0].detail.clone().unwrap_or_default();
        assert!(
            slack.contains("(not guarded by the ledger: ")
                && slack.contains(&format!(
                    "dynamodb:{operation} on phoenix-ledger failed: AccessDeniedException"
                )),
            "{operation}: {slack}"
        );
        assert_eq!(
            (rig.sink.delivered().len(), publish.num_calls()),
            (1, 1),
            "{operation}"
        );
        if operation == "PutItem" {
            assert!(
                outcome
                    .actions
                    .iter()
                    .any(|a| a.call == "dynamodb:PutItem" && a.status == ActionStatus::Failed),
                "the failed claim is reported: {:?}",
                outcome.actions
            );
        }
    }
}

#[tokio::test]
async fn a_completion_that_fails_injected_is_reported_and_a_duplicate_still_sends_nothing() {
    let rig = Rig::new().await;
    let faults = Faults::default();
    faults.fail_unapplied("UpdateItem", 500, "InternalServerError", 3);
    let (secret, publish) = (secret_is(rig.sink.url()), publish_ok());
    let n = container(
        secrets_with(&secret),
        sns_with(&publish),
        dynamodb_with_faults(&rig.sdk, &faults),
    );
    let outcome = handle(&n, &fixture(EVENT), "req-1", ROOMY)
        .await
        .expect("delivered: the post stands");
    assert_eq!(outcome.decision.as_deref(), Some("delivered"));
    let failed: Vec<String> = outcome
        .actions
        .iter()
        .filter(|a| a.status == ActionStatus::Failed)
        .map(|a| format!("{} {}", a.call, a.detail.clone().unwrap_or_default()))
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0].starts_with("dynamodb:UpdateItem")
            && failed[0].contains("delivered, but not recorded as done"),
        "{failed:?}"
    );
    // A duplicate delivery in another container while the claim's lease runs: nothing sent.
    let (again, published) = rig.retry("req-2").await;
    assert_eq!(
        again.decision.as_deref(),
        Some("collapsed-duplicate"),
        "{again:?}"
    );
    assert!(
        again.actions[0]
            .detail
            .clone()
            .unwrap_or_default()
            .contains("being delivered by another invocation (req-1, lease until"),
        "{:?}",
        again.actions
    );
    assert_eq!(
        (rig.sink.received().len(), publish.num_calls() + published),
        (1, 1)
    );
}

#[tokio::test]
async fn a_release_that_fails_injected_leaves_the_claim_to_this_invocations_retry() {
    let rig = Rig::new().await;
    rig.sink.always(Reply::NotFound);
    let faults = Faults::default();
    faults.fail_unapplied("DeleteItem", 500, "InternalServerError", 3);
    let (secret, publish) = (secret_is(rig.sink.url()), publish_ok());
    let n = container(
        secrets_with(&secret),
        sns_with(&publish),
        dynamodb_with_faults(&rig.sdk, &faults),
    );
    let error = handle(&n, &fixture(EVENT), "req-1", ROOMY)
        .await
        .expect_err("Slack refused it");
    assert!(
        error.0.contains("404 no_service")
            && error
                .0
                .contains("also: dynamodb:DeleteItem on phoenix-ledger failed"),
        "{error}"
    );
    // The key stays held by req-1: another container's duplicate waits for it...
    rig.sink.always(Reply::Ok);
    let (other, _) = rig.retry("req-2").await;
    assert_eq!(
        other.actions[0].status,
        ActionStatus::Skipped,
        "{:?}",
        other.actions
    );
    assert!(rig.sink.delivered().is_empty());
    // ...and req-1's own retry takes it over and posts once.
    let (outcome, published) = rig.retry("req-1").await;
    assert_eq!(
        outcome.actions[0].status,
        ActionStatus::Done,
        "{:?}",
        outcome.actions
    );
    assert_eq!(rig.sink.delivered().len(), 1);
    assert_eq!(publish.num_calls() + published, 1, "paged once");
}

#[tokio::test]
async fn a_ledger_that_cannot_be_reached_or_never_answers_postpones_everything() {
    for (case, endpoint) in [
        ("connection refused", closed_port_url()),
        ("timeout", silent_server().await.0),
    ] {
        let rig = Rig::new().await;
        let (secret, publish) = (secret_is(rig.sink.url()), publish_ok());
        let n = container(
            secrets_with(&secret),
            sns_with(&publish),
            aws_sdk_dynamodb::Client::new(&sdk_at(&endpoint)),
        );
        let error = handle(&n, &fixture(EVENT), "req-1", ROOMY)
            .await
            .expect_err("retryable");
        assert!(
            error.0.contains("Slack: not sent: the ledger cannot be read now: dynamodb:GetItem on phoenix-ledger failed")
                && error.0.contains("oncall: not sent"),
            "{case}: {error}"
        );
        assert_eq!(
            (rig.sink.received().len(), publish.num_calls()),
            (0, 0),
            "{case}"
        );
        let (outcome, published) = rig.retry("req-1").await;
        assert_eq!(outcome.decision.as_deref(), Some("delivered"), "{case}");
        assert_eq!((rig.sink.delivered().len(), published), (1, 1), "{case}");
    }
}
