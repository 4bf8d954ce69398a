//! The request-scaler act: steady traffic at 50 requests/min, a spike to 1,200 (more than the
//! maximum of 10 tasks can serve), then no traffic at all. The real scaler reads the emulator's
//! CloudWatch each minute and sets the service's desiredCount; every action reaches Slack. When
//! traffic stops, capacity is held for half an hour (it often comes back), then released.

use std::time::Duration;

use ::request_scaler::RequestScaler;
use phoenix_testkit::world;
use serde_json::{Value, json};

use super::Stage;

fn schedule(stage: &Stage, n: usize) -> Value {
    json!({
        "version": "0",
        "id": format!("sandbox-scaler-{n}"),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": stage.world.account,
        "time": stage.clock.to_rfc3339(),
        "region": stage.world.region,
        "resources": [format!("arn:aws:events:{}:{}:rule/phoenix-request-scaler", stage.world.region, stage.world.account)],
        "detail": {}
    })
}

async fn desired(stage: &Stage) -> Option<i32> {
    let ecs = aws_sdk_ecs::Client::new(&stage.world.sdk);
    let out = ecs
        .describe_services()
        .cluster(world::CLUSTER)
        .services(world::SERVICE)
        .send()
        .await
        .ok()?;
    out.services().first().map(|s| s.desired_count())
}

/// One evaluation at scenario time, then the Slack messages it caused. Returns desiredCount.
async fn evaluate(stage: &mut Stage, scaler: &RequestScaler, n: usize) -> Option<i32> {
    let event = schedule(stage, n);
    let _ = stage.run(scaler, event).await;
    stage.relay_alerts().await;
    desired(stage).await
}

pub async fn act(stage: &mut Stage) {
    stage.act("request-scaler");
    stage.say("scenario: 50 req/min, a spike to 1,200 req/min, then no traffic at all (target 100/task, min 1, max 10)");
    let scaler = match stage.function::<RequestScaler>(&[]) {
        Ok(f) => f,
        Err(e) => return stage.check("request-scaler starts", false, e),
    };
    let minute = chrono::Duration::minutes(1);
    let start = ::request_scaler::history::minute_of(stage.clock);

    // 1. Steady, light traffic for the last eight minutes: two tasks are one too many.
    if let Err(e) = stage.world.put_requests(start - minute * 8, &[50; 8]).await {
        return stage.check("traffic is published", false, e);
    }
    stage.clock = start + chrono::Duration::seconds(30);
    stage
        .say("the ALB has counted 50 requests a minute for 8 minutes; the 1-minute schedule fires");
    let quiet = evaluate(stage, &scaler, 1).await;
    stage.check(
        "steady 50 req/min settles at 1 task",
        quiet == Some(1),
        format!("desiredCount {quiet:?}"),
    );

    // 2. The spike: 1,200 requests a minute from the next minute on.
    if let Err(e) = stage.world.put_requests(start, &[1_200; 3]).await {
        return stage.check("traffic is published", false, e);
    }
    stage.advance(Duration::from_secs(180));
    stage.say("traffic jumps to 1,200 req/min; CloudWatch publishes the first full minute");
    let spiked = evaluate(stage, &scaler, 2).await;
    stage.check(
        "the spike scales out at once, to the maximum",
        spiked == Some(10),
        format!("desiredCount {spiked:?}"),
    );
    stage.advance(Duration::from_secs(60));
    stage.say("a minute later, same load: nothing to change");
    let held = evaluate(stage, &scaler, 3).await;
    stage.check(
        "the same load changes nothing",
        held == Some(10),
        format!("desiredCount {held:?}"),
    );

    // 3. Traffic falls to zero: the ALB publishes nothing at all.
    stage.advance(Duration::from_secs(180));
    stage.say("traffic stops: the ALB publishes no RequestCount datapoints (target tracking would never scale in now)");
    let early = evaluate(stage, &scaler, 4).await;
    stage.check(
        "traffic that just stopped keeps its capacity (it often comes back)",
        early == Some(10),
        format!("desiredCount {early:?}"),
    );
    stage.advance(Duration::from_secs(30 * 60));
    stage.say("half an hour without a single request");
    let after = evaluate(stage, &scaler, 5).await;
    stage.check(
        "zero traffic for half an hour scales back in to the minimum",
        after == Some(1),
        format!("desiredCount {after:?}"),
    );
}
