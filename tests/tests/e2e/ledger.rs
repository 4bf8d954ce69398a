//! The ledger (phoenix-core) against DynamoDB in the emulator, over real HTTP: what makes an
//! effect happen once across containers.

use chrono::{Duration, TimeZone, Utc};
use phoenix_core::{Claim, Ledger};
use phoenix_testkit::{Emulator, World, WorldSpec, new_account};

fn at(minute: i64) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0)
        .single()
        .expect("valid")
        + Duration::minutes(minute)
}

async fn ledger() -> Ledger {
    let spec = WorldSpec::new(&new_account(), "http://127.0.0.1:9/unused", at(0));
    let world = World::seed(Emulator::shared(), &spec)
        .await
        .expect("world seeds");
    Ledger::new(
        aws_sdk_dynamodb::Client::new(&world.sdk),
        world.ledger_table.clone(),
    )
}

#[tokio::test]
async fn one_claim_wins_the_other_sees_it_held_then_done() {
    let ledger = ledger().await;
    let (lease, keep) = (Duration::minutes(5), Duration::hours(1));
    let first = ledger
        .claim("slack:m-1", "req-a", at(0), lease, keep)
        .await
        .expect("claim");
    assert_eq!(first, Claim::Acquired);
    match ledger
        .claim("slack:m-1", "req-b", at(1), lease, keep)
        .await
        .expect("claim")
    {
        Claim::Held { by, .. } => assert_eq!(by, "req-a"),
        other => panic!("a second container must see the key held: {other:?}"),
    }
    // the holder's own retry (same request id) takes it back while it is held
    assert_eq!(
        ledger
            .claim("slack:m-1", "req-a", at(1), lease, keep)
            .await
            .expect("claim"),
        Claim::Acquired
    );
    assert!(
        ledger
            .complete("slack:m-1", "req-a", at(2), keep, "posted")
            .await
            .expect("complete")
    );
    for owner in ["req-b", "req-a"] {
        match ledger
            .claim("slack:m-1", owner, at(3), lease, keep)
            .await
            .expect("claim")
        {
            Claim::Done { note, .. } => assert_eq!(note, "posted"),
            other => panic!("{owner}: a done key is never taken again: {other:?}"),
        }
    }
    // after its keep, the entry is gone for every purpose
    assert_eq!(
        ledger
            .claim(
                "slack:m-1",
                "req-c",
                at(2) + keep + Duration::minutes(1),
                lease,
                keep
            )
            .await
            .expect("claim"),
        Claim::Acquired
    );
}

#[tokio::test]
async fn a_dead_holders_lease_runs_out_and_a_release_frees_at_once() {
    let ledger = ledger().await;
    let (lease, keep) = (Duration::minutes(5), Duration::hours(1));
    assert_eq!(
        ledger
            .claim("run:1", "req-a", at(0), lease, keep)
            .await
            .expect("claim"),
        Claim::Acquired
    );
    // req-a died: after its lease another invocation takes over
    assert_eq!(
        ledger
            .claim("run:1", "req-b", at(6), lease, keep)
            .await
            .expect("claim"),
        Claim::Acquired
    );
    // req-a cannot complete what it lost
    assert!(
        !ledger
            .complete("run:1", "req-a", at(7), keep, "late")
            .await
            .expect("complete")
    );
    ledger.release("run:1", "req-b").await.expect("release");
    assert_eq!(
        ledger
            .claim("run:1", "req-c", at(7), lease, keep)
            .await
            .expect("claim"),
        Claim::Acquired
    );
}

#[tokio::test]
async fn a_marker_is_written_once_until_it_expires() {
    let ledger = ledger().await;
    let keep = Duration::hours(24);
    assert!(
        ledger
            .record("image-missing:svc:img", "req-a", at(0), keep, "warned")
            .await
            .expect("record")
    );
    assert!(
        !ledger
            .record("image-missing:svc:img", "req-b", at(60), keep, "warned")
            .await
            .expect("record")
    );
    let entry = ledger
        .read("image-missing:svc:img", at(60))
        .await
        .expect("read")
        .expect("live");
    assert!(entry.done && entry.note == "warned");
    assert!(
        ledger
            .read("image-missing:svc:img", at(0) + keep + Duration::minutes(1))
            .await
            .expect("read")
            .is_none()
    );
    assert!(
        ledger
            .record(
                "image-missing:svc:img",
                "req-c",
                at(0) + keep + Duration::minutes(1),
                keep,
                "again"
            )
            .await
            .expect("record")
    );
}
