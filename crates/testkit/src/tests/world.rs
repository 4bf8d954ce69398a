//! The world seeds as the template deploys: network and ALB through the query client, the
//! ledger table, and a call record that sees everything.

use super::now;
use crate::world::{LEDGER_KEY, LEDGER_TABLE, LEDGER_TTL_ATTRIBUTE};
use crate::{Emulator, World, WorldSpec, new_account};

async fn seeded() -> World {
    let spec = WorldSpec::new(&new_account(), "http://127.0.0.1:9/unused", now());
    World::seed(Emulator::shared(), &spec)
        .await
        .expect("world seeds")
}

#[tokio::test]
async fn network_and_load_balancer_are_seeded_without_their_sdks() {
    let world = seeded().await;
    assert!(world.vpc_id.starts_with("vpc-"), "{}", world.vpc_id);
    assert_eq!(world.subnets.len(), 2, "{:?}", world.subnets);
    assert!(world.subnets.iter().all(|s| s.starts_with("subnet-")));
    assert!(
        world.security_group.starts_with("sg-"),
        "{}",
        world.security_group
    );
    assert!(
        world
            .load_balancer_arn
            .contains(":loadbalancer/app/phoenix-alb/"),
        "{}",
        world.load_balancer_arn
    );
    assert!(
        world.target_group_arn.contains(":targetgroup/phoenix-tg/"),
        "{}",
        world.target_group_arn
    );
    assert!(world.load_balancer_arn.contains(&world.account));
    let seeding = world.calls().all();
    for op in [
        "ec2:DescribeVpcs",
        "elasticloadbalancing:CreateListener",
        "ecs:RunTask",
    ] {
        assert!(
            seeding.operations().iter().any(|o| o == op),
            "{op} in {seeding}"
        );
    }
}

#[tokio::test]
async fn the_ledger_table_is_seeded_as_specified() {
    let world = seeded().await;
    assert_eq!(world.ledger_table, LEDGER_TABLE);
    assert_eq!(world.env()["LEDGER_TABLE"], "phoenix-ledger");
    let dynamodb = aws_sdk_dynamodb::Client::new(&world.sdk);
    let table = dynamodb
        .describe_table()
        .table_name(LEDGER_TABLE)
        .send()
        .await
        .expect("DescribeTable");
    let table = table.table().expect("table");
    let keys: Vec<(String, String)> = table
        .key_schema()
        .iter()
        .map(|k| {
            (
                k.attribute_name().to_owned(),
                k.key_type().as_str().to_owned(),
            )
        })
        .collect();
    assert_eq!(keys, [(LEDGER_KEY.to_owned(), "HASH".to_owned())]);
    let attributes: Vec<(String, String)> = table
        .attribute_definitions()
        .iter()
        .map(|a| {
            (
                a.attribute_name().to_owned(),
                a.attribute_type().as_str().to_owned(),
            )
        })
        .collect();
    assert_eq!(attributes, [(LEDGER_KEY.to_owned(), "S".to_owned())]);
    assert_eq!(
        table
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map(|m| m.as_str()),
        Some("PAY_PER_REQUEST")
    );
    let ttl = dynamodb
        .describe_time_to_live()
        .table_name(LEDGER_TABLE)
        .send()
        .await
        .expect("DescribeTimeToLive");
    let ttl = ttl.time_to_live_description().expect("ttl");
    assert_eq!(ttl.attribute_name(), Some(LEDGER_TTL_ATTRIBUTE));
    assert_eq!(
        ttl.time_to_live_status().map(|s| s.as_str()),
        Some("ENABLED")
    );
}

#[tokio::test]
async fn the_call_record_sees_each_call_after_a_mark() {
    let world = seeded().await;
    let mark = world.calls().mark();
    assert!(world.calls().since(mark).is_empty());
    let ecs = aws_sdk_ecs::Client::new(&world.sdk);
    ecs.describe_services()
        .cluster(crate::world::CLUSTER)
        .services(crate::world::SERVICE)
        .send()
        .await
        .expect("DescribeServices");
    let read = world.calls().since(mark);
    assert_eq!(read.operations(), ["ecs:DescribeServices"]);
    assert!(read.mutating().is_empty(), "{read}");
    ecs.update_service()
        .cluster(crate::world::CLUSTER)
        .service(crate::world::SERVICE)
        .desired_count(3)
        .send()
        .await
        .expect("UpdateService");
    let all = world.calls().since(mark);
    assert_eq!(all.mutating().operations(), ["ecs:UpdateService"]);
    assert!(all.iter().all(|c| c.account == world.account));
    world
        .put_requests(now(), &[5, 0, 7])
        .await
        .expect("requests published");
    assert_eq!(world.calls().since(mark).named("PutMetricData").len(), 1);
}
