//! The webhook from its secret: plain or JSON, and never shown beyond its host.

use crate::deliver::Webhook;

#[test]
fn webhooks_come_from_plain_or_json_secrets_and_never_show_their_path() {
    let plain =
        Webhook::from_secret(" https://hooks.slack.com/services/T0/B0/secret ").expect("url");
    assert_eq!(plain.host(), "https://hooks.slack.com");
    assert_eq!(format!("{plain:?}"), "Webhook(https://hooks.slack.com)");
    let json =
        Webhook::from_secret(r#"{"url": "http://127.0.0.1:8080/services/x"}"#).expect("json");
    assert_eq!(json.host(), "http://127.0.0.1:8080");
    let with_user = Webhook::from_secret("https://user:pw@hooks.slack.com/x").expect("url");
    assert_eq!(with_user.host(), "https://hooks.slack.com");
    for bad in [
        "",
        "hooks.slack.com/x",
        "ftp://x/y",
        r#"{"token": "x"}"#,
        "{",
        "https://",
    ] {
        assert!(Webhook::from_secret(bad).is_none(), "{bad}");
    }
}
