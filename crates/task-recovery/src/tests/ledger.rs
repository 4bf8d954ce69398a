//! The ledger's faults (claims, reads, completes, releases, the missing-image marker), duplicate
//! deliveries, dry runs, and the re-check and ECS-event flows on mocked AWS.

use aws_smithy_mocks::mock;
use phoenix_core::{ActionStatus, Severity};

use super::at;
use super::mocks::{
    Api, FAULTS, Fault, Faults, Mocked, STUCK, answer, claim_of, failed_call, http, retryable,
};
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::types::AttributeValue;

#[tokio::test]
async fn ledger_claim_faults() {
    for fault in FAULTS {
        // The claim on the stop itself.
        let rule = mock!(aws_sdk_dynamodb::Client::put_item)
            .match_requests(claim_of("task-recovery:stop:"))
            .then_http_response(move || answer(Api::Dynamo, fault));
        let mocked = Mocked::new(
            Faults {
                dynamo: vec![rule],
                ..Faults::default()
            },
            1,
        );
        let result = mocked.handle(STUCK.0, STUCK.1()).await;
        if fault == Fault::Final {
            let outcome = result.expect("recovery goes on without the guard");
            assert!(failed_call(&outcome, "dynamodb:PutItem"), "{outcome:?}");
            assert_eq!(mocked.effects(), (1, 0, 1, 1));
        } else {
            assert!(
                retryable(&result, "dynamodb:PutItem on phoenix-ledger"),
                "{fault:?}: {result:?}"
            );
            assert_eq!(
                mocked.effects(),
                (0, 0, 0, 0),
                "no AWS change before the claim"
            );
        }

        // The claim on the forced deployment.
        let rule = mock!(aws_sdk_dynamodb::Client::put_item)
            .match_requests(claim_of("task-recovery:force:"))
            .then_http_response(move || answer(Api::Dynamo, fault));
        let mocked = Mocked::new(
            Faults {
                dynamo: vec![rule],
                ..Faults::default()
            },
            1,
        );
        let result = mocked.handle(STUCK.0, STUCK.1()).await;
        if fault == Fault::Final {
            let outcome = result.expect("forced unguarded");
            assert!(failed_call(&outcome, "dynamodb:PutItem"), "{outcome:?}");
            assert_eq!(mocked.effects(), (1, 0, 1, 1));
        } else {
            assert!(
                retryable(&result, "dynamodb:PutItem"),
                "{fault:?}: {result:?}"
            );
            assert_eq!(
                mocked.effects(),
                (0, 0, 0, 0),
                "not forced without the claim"
            );
        }
    }
}

#[tokio::test]
async fn ledger_read_faults_after_a_held_key() {
    for fault in FAULTS {
        let held = mock!(aws_sdk_dynamodb::Client::put_item)
            .match_requests(claim_of("task-recovery:stop:"))
            .then_http_response(|| http(Api::Dynamo, 400, "ConditionalCheckFailedException"));
        let read = mock!(aws_sdk_dynamodb::Client::get_item)
            .then_http_response(move || answer(Api::Dynamo, fault));
        let mocked = Mocked::new(
            Faults {
                dynamo: vec![held, read],
                ..Faults::default()
            },
            1,
        );
        let result = mocked.handle(STUCK.0, STUCK.1()).await;
        if fault == Fault::Final {
            let outcome = result.expect("unguarded");
            assert!(failed_call(&outcome, "dynamodb:GetItem"), "{outcome:?}");
        } else {
            assert!(
                retryable(&result, "dynamodb:GetItem"),
                "{fault:?}: {result:?}"
            );
            assert_eq!(mocked.effects(), (0, 0, 0, 0));
        }
    }
}

#[tokio::test]
async fn a_duplicate_delivery_found_in_the_ledger_does_nothing() {
    let held = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(claim_of("task-recovery:stop:"))
        .then_http_response(|| http(Api::Dynamo, 400, "ConditionalCheckFailedException"));
    let done = mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| {
        GetItemOutput::builder()
            .item("pk", AttributeValue::S("task-recovery:stop:x".into()))
            .item("state", AttributeValue::S("done".into()))
            .item("owner", AttributeValue::S("req-0".into()))
            .item(
                "at",
                AttributeValue::N(at(10, 16, 0).timestamp().to_string()),
            )
            .item("note", AttributeValue::S("force-new-deployment".into()))
            .item(
                "expires_at",
                AttributeValue::N(at(23, 0, 0).timestamp().to_string()),
            )
            .build()
    });
    let mocked = Mocked::new(
        Faults {
            dynamo: vec![held, done],
            ..Faults::default()
        },
        1,
    );
    let outcome = mocked.handle(STUCK.0, STUCK.1()).await.expect("ignored");
    assert!(
        outcome.ignored.as_deref().is_some_and(
            |w| w.starts_with("duplicate delivery: already handled at 2026-11-20T10:16:00")
        ),
        "{outcome:?}"
    );
    assert_eq!(mocked.effects(), (0, 0, 0, 0));
}

#[tokio::test]
async fn ledger_complete_and_release_faults_never_undo_an_effect() {
    for fault in FAULTS {
        let complete = mock!(aws_sdk_dynamodb::Client::update_item)
            .then_http_response(move || answer(Api::Dynamo, fault));
        let mocked = Mocked::new(
            Faults {
                dynamo: vec![complete],
                ..Faults::default()
            },
            1,
        );
        let outcome = mocked
            .handle(STUCK.0, STUCK.1())
            .await
            .expect("the effects happened");
        assert!(
            failed_call(&outcome, "dynamodb:UpdateItem"),
            "{fault:?}: {outcome:?}"
        );
        assert_eq!(mocked.effects(), (1, 0, 1, 1));

        // A release that fails after a retryable error: the original error is what Lambda sees.
        let update = mock!(aws_sdk_ecs::Client::update_service)
            .then_http_response(|| answer(Api::Ecs, Fault::Throttled));
        let release = mock!(aws_sdk_dynamodb::Client::delete_item)
            .then_http_response(move || answer(Api::Dynamo, fault));
        let mocked = Mocked::new(
            Faults {
                ecs: vec![update],
                dynamo: vec![release.clone()],
                ..Faults::default()
            },
            1,
        );
        let result = mocked.handle(STUCK.0, STUCK.1()).await;
        assert!(
            retryable(&result, "ecs:UpdateService"),
            "{fault:?}: {result:?}"
        );
        assert_eq!(release.num_calls(), 2, "both releases tried");
    }
}

#[tokio::test]
async fn the_missing_image_marker_faults() {
    for fault in FAULTS {
        let rule = mock!(aws_sdk_dynamodb::Client::put_item)
            .match_requests(claim_of("task-recovery:image-missing:"))
            .then_http_response(move || answer(Api::Dynamo, fault));
        let mocked = Mocked::new(
            Faults {
                dynamo: vec![rule],
                ..Faults::default()
            },
            1,
        );
        let result = mocked
            .handle("ecs-task-stopped-image-missing.json", at(10, 17, 0))
            .await;
        if fault == Fault::Final {
            let outcome = result.expect("reported anyway");
            assert!(failed_call(&outcome, "dynamodb:PutItem"), "{outcome:?}");
            // The fact people need stays a warning; the ledger's trouble is in the Outcome.
            assert_eq!(outcome.notice.map(|n| n.severity), Some(Severity::Warning));
            assert_eq!(mocked.effects(), (0, 0, 0, 1), "never restarted, told once");
        } else {
            assert!(
                retryable(&result, "dynamodb:PutItem"),
                "{fault:?}: {result:?}"
            );
            assert_eq!(mocked.effects(), (0, 0, 0, 0));
        }
    }
}

#[tokio::test]
async fn dry_run_makes_no_mutating_call_and_no_ledger_write() {
    let mocked = Mocked::with_config(
        Faults::default(),
        1,
        super::config_with(&[("DRY_RUN", "true")]),
    );
    let outcome = mocked.handle(STUCK.0, STUCK.1()).await.expect("handled");
    assert_eq!(outcome.decision.as_deref(), Some("force-new-deployment"));
    assert!(
        outcome
            .actions
            .iter()
            .all(|a| a.status == ActionStatus::DryRun),
        "{outcome:?}"
    );
    let calls: Vec<&str> = outcome.actions.iter().map(|a| a.call.as_str()).collect();
    assert_eq!(calls, ["ecs:UpdateService", "sqs:SendMessage"]);
    assert!(outcome.actions[1].detail.as_deref().is_some_and(|d| d.starts_with("would schedule re-check of phoenix-service at 10:18:00 UTC (in 60 s), attempt 1 of 3")));
    assert_eq!(mocked.effects(), (0, 0, 0, 0));
    for op in ["PutItem", "UpdateItem", "DeleteItem", "GetItem"] {
        assert_eq!(mocked.calls(op), 0, "{op}");
    }
}

#[tokio::test]
async fn a_recheck_makes_its_calls_and_survives_their_faults() {
    // The fixture's re-check is due at 10:16:41.930 and the default service is short: forced.
    let now = at(10, 16, 45);
    let mocked = Mocked::new(Faults::default(), 1);
    let outcome = mocked
        .handle("ecs-recheck-sqs.json", now)
        .await
        .expect("handled");
    assert_eq!(
        outcome.decision.as_deref(),
        Some("force-new-deployment"),
        "{outcome:?}"
    );
    assert_eq!(
        outcome.event_id.as_deref(),
        Some("00000000-0000-0000-5418-ad0d00000001#recheck-1")
    );
    assert_eq!(mocked.effects(), (1, 0, 1, 1));
    for fault in FAULTS {
        let rule = mock!(aws_sdk_ecs::Client::describe_services)
            .then_http_response(move || answer(Api::Ecs, fault));
        let mocked = Mocked::new(
            Faults {
                ecs: vec![rule],
                ..Faults::default()
            },
            1,
        );
        let result = mocked.handle("ecs-recheck-sqs.json", now).await;
        if fault == Fault::Final {
            let outcome = result.expect("final");
            assert_eq!(outcome.decision.as_deref(), Some("could-not-observe"));
            assert_eq!(mocked.effects(), (0, 0, 0, 1));
        } else {
            assert!(
                retryable(&result, "ecs:DescribeServices"),
                "{fault:?}: {result:?}"
            );
            assert_eq!(mocked.calls("DeleteItem"), 1);
        }
    }
    // Held by another container right now: SQS must hand it out again later.
    let held = mock!(aws_sdk_dynamodb::Client::put_item)
        .then_http_response(|| http(Api::Dynamo, 400, "ConditionalCheckFailedException"));
    let holder = mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| {
        GetItemOutput::builder()
            .item("state", AttributeValue::S("held".into()))
            .item("owner", AttributeValue::S("req-other".into()))
            .item(
                "at",
                AttributeValue::N(at(10, 16, 44).timestamp().to_string()),
            )
            .item(
                "expires_at",
                AttributeValue::N(at(23, 0, 0).timestamp().to_string()),
            )
            .build()
    });
    let mocked = Mocked::new(
        Faults {
            dynamo: vec![held, holder],
            ..Faults::default()
        },
        1,
    );
    let result = mocked.handle("ecs-recheck-sqs.json", now).await;
    assert!(
        matches!(&result, Err(e) if e.0.contains("being handled by invocation req-other")),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_deployment_event_reads_the_service_and_tells_once() {
    let now = at(10, 35, 0);
    let mocked = Mocked::new(Faults::default(), 1);
    let outcome = mocked
        .handle("ecs-deployment-failed.json", now)
        .await
        .expect("handled");
    assert_eq!(outcome.decision.as_deref(), Some("deployment-failed"));
    assert_eq!(mocked.effects(), (0, 0, 0, 1));
    for fault in FAULTS {
        let rule =
            mock!(aws_sdk_sns::Client::publish).then_http_response(move || answer(Api::Sns, fault));
        let mocked = Mocked::new(
            Faults {
                sns: vec![rule],
                ..Faults::default()
            },
            1,
        );
        let result = mocked.handle("ecs-deployment-failed.json", now).await;
        if fault == Fault::Final {
            assert!(result.is_ok_and(|o| failed_call(&o, "sns:Publish")));
        } else {
            assert!(retryable(&result, "sns:Publish"), "{fault:?}: {result:?}");
            assert_eq!(mocked.calls("DeleteItem"), 1);
        }
    }
}
