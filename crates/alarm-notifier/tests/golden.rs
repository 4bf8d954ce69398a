//! Golden tests: the Block Kit JSON and the plain text rendered for every input kind (fixtures
//! in `events/`), plus the safety properties every rendering must have: hostile names escaped,
//! Block Kit limits respected, Unicode intact. `UPDATE_EXPECT=1 cargo test -p alarm-notifier
//! --test golden` rewrites the golden files after a deliberate change.

use alarm_notifier::input::{Message, parse_body, parse_event};
use alarm_notifier::render::{
    BLOCKS_MAX, BUTTON_TEXT_MAX, FIELD_MAX, FIELDS_PER_SECTION, HEADER_MAX, RenderContext,
    SECTION_MAX,
};
use alarm_notifier::{render, render_event};
use expect_test::expect_file;
use phoenix_core::text::TRUNCATION_MARKER;
use proptest::prelude::*;
use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect("json")
}

const FIXTURES: &[&str] = &[
    "sns-cloudwatch-alarm-cpu.json",
    "sns-cloudwatch-alarm-ok.json",
    "sns-cloudwatch-alarm-insufficient.json",
    "sns-cloudwatch-alarm-metric-math.json",
    "sns-cloudwatch-alarm-composite.json",
    "sns-notice.json",
    "sns-plain-text.json",
    "sns-hostile-names.json",
    "cloudwatch-alarm-cpu-alarm.json",
    "cloudwatch-alarm-cpu-ok.json",
    "cloudwatch-alarm-composite.json",
];

/// Every text a Slack client would show or interpret, with where it sits.
fn texts(payload: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    fn walk(value: &Value, path: &str, out: &mut Vec<(String, String)>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    if let (true, Some(text)) = (k == "text", v.as_str()) {
                        out.push((path.to_owned(), text.to_owned()));
                    }
                    walk(v, &format!("{path}/{k}"), out);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(v, &format!("{path}/{i}"), out);
                }
            }
            _ => {}
        }
    }
    walk(payload, "", &mut out);
    out
}

/// Block Kit's limits and our escaping, checked on any payload.
fn assert_slack_rules(payload: &Value) {
    let top = payload["blocks"].as_array().map_or(0, Vec::len);
    let attached = payload["attachments"][0]["blocks"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(top + attached <= BLOCKS_MAX, "{} blocks", top + attached);
    for (path, text) in texts(payload) {
        let n = text.chars().count();
        assert!(
            !text.contains('<') && !text.contains('>'),
            "unescaped at {path}: {text}"
        );
        let amps = text.matches('&').count();
        let entities = text.matches("&amp;").count()
            + text.matches("&lt;").count()
            + text.matches("&gt;").count();
        assert_eq!(amps, entities, "a bare & at {path}: {text}");
        let max = if path.contains("/fields/") {
            FIELD_MAX
        } else if path == "/blocks/0/text" {
            HEADER_MAX
        } else if path.contains("/elements/") && path.ends_with("/text") {
            BUTTON_TEXT_MAX
        } else {
            SECTION_MAX
        };
        assert!(n <= max, "{n} > {max} characters at {path}");
    }
    assert!(
        payload["blocks"][0]["text"]["text"]
            .as_str()
            .map_or(0, |t| t.chars().count())
            <= HEADER_MAX
    );
    for block in payload["attachments"][0]["blocks"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(fields) = block["fields"].as_array() {
            assert!(fields.len() <= FIELDS_PER_SECTION);
        }
        for element in block["elements"].as_array().into_iter().flatten() {
            if element["type"] == "button" {
                let label = element["text"]["text"].as_str().unwrap_or_default();
                assert!(label.chars().count() <= BUTTON_TEXT_MAX, "{label}");
                let url = element["url"].as_str().unwrap_or_default();
                assert!(
                    url.starts_with("https://") || url.starts_with("http://"),
                    "{url}"
                );
            }
        }
    }
}

#[test]
fn every_input_kind_renders_as_its_golden_file() {
    for name in FIXTURES {
        let rendered = render_event(&fixture(name)).expect("ours");
        assert_eq!(rendered.len(), 1, "{name}");
        let r = &rendered[0];
        assert_slack_rules(&r.slack);
        let stem = name.trim_end_matches(".json");
        let pretty = serde_json::to_string_pretty(&r.slack).expect("json") + "\n";
        expect_file![format!("golden/{stem}.slack.json")].assert_eq(&pretty);
        let text = format!(
            "Subject: {}\nSeverity: {}\n\n{}",
            r.subject, r.severity, r.text
        );
        expect_file![format!("golden/{stem}.txt")].assert_eq(&text);
    }
}

#[test]
fn hostile_names_can_neither_mention_nor_link() {
    let r = &render_event(&fixture("sns-hostile-names.json")).expect("ours")[0];
    let body = r.slack.to_string();
    for raw in [
        "<!channel>",
        "<!here>",
        "<!everyone>",
        "<@U024BE7LH>",
        "<https://evil.example|",
        "|click me>",
    ] {
        assert!(!body.contains(raw), "{raw} survived: {body}");
    }
    assert!(body.contains("&lt;!channel&gt; cpu &amp; &lt;https://evil.example|click me&gt;"));
    // Unicode is intact, in Slack and in the plain text.
    for text in [&body, &r.text] {
        assert!(text.contains("ünïcødé 🔥"), "{text}");
        assert!(text.contains("日本語"), "{text}");
    }
    // Buttons go to the console only (the alarm name is percent-encoded in them).
    assert!(!body.contains("\"url\":\"https://evil"), "{body}");
    assert!(
        r.subject.is_ascii() && r.subject.len() <= 100,
        "{}",
        r.subject
    );
}

#[test]
fn very_long_descriptions_are_cut_with_a_marker() {
    let sns = fixture("sns-cloudwatch-alarm-cpu.json");
    let mut body: Value = serde_json::from_str(
        sns["Records"][0]["Sns"]["Message"]
            .as_str()
            .expect("message"),
    )
    .expect("json");
    body["AlarmDescription"] = json!("déjà vu 🔁 & <more> ".repeat(2_000));
    body["AlarmName"] = json!("n".repeat(400));
    let message = parse_body(None, &body.to_string());
    assert!(matches!(message, Message::Alarm(_)));
    let r = render(&message, &RenderContext::default());
    assert_slack_rules(&r.slack);
    let description = texts(&r.slack)
        .into_iter()
        .find(|(_, t)| t.starts_with("*Description*"))
        .expect("description section")
        .1;
    assert_eq!(description.chars().count(), SECTION_MAX);
    assert!(description.ends_with(TRUNCATION_MARKER), "{description}");
    let header = r.slack["blocks"][0]["text"]["text"]
        .as_str()
        .expect("header");
    assert_eq!(header.chars().count(), HEADER_MAX);
    assert!(header.ends_with(TRUNCATION_MARKER));
    assert!(r.text.chars().count() <= alarm_notifier::render::TEXT_MAX);
}

#[test]
fn a_notice_with_many_fields_and_links_stays_within_block_kit_limits() {
    let mut notice = phoenix_core::Notice::new(
        phoenix_core::Severity::Warning,
        "backup",
        "t".repeat(500),
        "s".repeat(10_000),
        chrono::DateTime::UNIX_EPOCH,
    );
    for i in 0..200 {
        notice = notice.field(format!("field {i} <b>"), "v".repeat(3_000));
        notice = notice.link(
            format!("link {i} {}", "x".repeat(100)),
            format!("https://example.com/{i}"),
        );
    }
    notice = notice
        .link("bad", "javascript:alert(1)")
        .details("line\n".repeat(5_000));
    let r = render(
        &Message::Notice(Box::new(notice)),
        &RenderContext::default(),
    );
    assert_slack_rules(&r.slack);
    assert!(!r.slack.to_string().contains("javascript:"));
}

fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
    phoenix_testkit::arbitrary::json_value(
        &[
            "ALARM",
            "CloudWatch Alarm State Change",
            "phoenix-ops/notice@1",
        ],
        &[
            "Records",
            "Sns",
            "Message",
            "AlarmName",
            "NewStateValue",
            "Trigger",
            "Metrics",
            "detail-type",
            "detail",
            "state",
            "value",
            "alarmName",
            "schema",
        ],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Any string as an SNS message: understood or plain text, rendered within the rules.
    #[test]
    fn any_message_text_renders_within_the_rules(subject in proptest::option::of(".{0,200}"), body in ".{0,4000}") {
        let message = parse_body(subject.as_deref(), &body);
        let r = render(&message, &RenderContext::default());
        assert_slack_rules(&r.slack);
        prop_assert!(r.subject.is_ascii() && r.subject.len() <= 100);
    }

    /// Any JSON as a message body (so alarm-shaped junk too): never a panic.
    #[test]
    fn any_json_body_renders_within_the_rules(value in json_value()) {
        let message = parse_body(None, &value.to_string());
        let r = render(&message, &RenderContext::default());
        assert_slack_rules(&r.slack);
    }

    /// Any JSON as the event: not ours, or rendered within the rules; never a panic.
    #[test]
    fn any_json_event_is_ignored_or_rendered(value in json_value()) {
        if let Ok(rendered) = render_event(&value) {
            for r in rendered { assert_slack_rules(&r.slack); }
        }
        let _ = parse_event(&value);
    }
}
