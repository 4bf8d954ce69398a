//! The stack's switches: reserved concurrency only behind its parameter, and a service parked
//! at 0 without an image whose count CloudFormation never resets.

use serde_yaml_ng::Value;

use super::{
    get, is_no_value, is_ref, number, path, property, resource, resources_of_type, tag_of,
    template, untag,
};

#[test]
fn reserved_concurrency_is_opt_in_and_never_unconditional() {
    let template = template();
    let parameter = path(&template, &["Parameters", "ReservedConcurrency"])
        .expect("a ReservedConcurrency parameter");
    assert_eq!(
        get(parameter, "Default").and_then(Value::as_str),
        Some("Off")
    );
    let condition = path(&template, &["Conditions", "ReservesConcurrency"])
        .expect("a ReservesConcurrency condition");
    let equals = untag(condition).as_sequence().expect("!Equals [a, b]");
    assert_eq!(tag_of(condition).as_deref(), Some("!Equals"));
    assert!(is_ref(&equals[0], "ReservedConcurrency") && equals[1].as_str() == Some("On"));
    assert!(
        path(
            &template,
            &["Globals", "Function", "ReservedConcurrentExecutions"]
        )
        .is_none(),
        "Globals must not reserve concurrency"
    );
    let mut reserved_when_on = 0.0;
    for kind in ["AWS::Serverless::Function", "AWS::Lambda::Function"] {
        for (id, function) in resources_of_type(&template, kind) {
            let Some(value) = property(function, "ReservedConcurrentExecutions") else {
                continue;
            };
            let args = untag(value).as_sequence();
            let guarded = tag_of(value).as_deref() == Some("!If")
                && args.is_some_and(|a| {
                    a.len() == 3
                        && a[0].as_str() == Some("ReservesConcurrency")
                        && is_no_value(&a[2])
                });
            assert!(
                guarded,
                "{id}: ReservedConcurrentExecutions must be !If [ReservesConcurrency, N, !Ref AWS::NoValue]: \
                 a new account's quota of 10 cannot grant any"
            );
            reserved_when_on += args.and_then(|a| number(a.get(1))).unwrap_or(0.0);
        }
    }
    assert!(
        reserved_when_on <= 10.0,
        "with ReservedConcurrency=On the functions reserve {reserved_when_on}: keep it within 10 \
         (the parameter's description promises it)"
    );
}

#[test]
fn cloudformation_parks_the_service_without_an_image_and_never_resets_its_count() {
    let template = template();
    assert!(
        path(&template, &["Parameters", "AppDesiredCount"]).is_none(),
        "AppDesiredCount would reset the count request-scaler set on every deploy"
    );
    let count = property(resource(&template, "Service"), "DesiredCount").expect("DesiredCount");
    let args = untag(count).as_sequence().expect("!If [HasImage, …, 0]");
    assert_eq!(tag_of(count).as_deref(), Some("!If"));
    assert_eq!(args[0].as_str(), Some("HasImage"));
    assert!(
        is_no_value(&args[1]),
        "with an image, no DesiredCount at all"
    );
    assert_eq!(
        number(args.get(2)),
        Some(0.0),
        "without an image, parked at 0"
    );
}
