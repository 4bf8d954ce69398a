//! Rendering: the golden Block Kit JSON and plain text of every input kind (fixtures in
//! `events/`, goldens in `tests/golden/`, read by the gallery generator too), and the rules
//! every rendering keeps: text escaped, buttons only to the console and the dashboard, the
//! dashboard on every message, Block Kit limits, nothing dropped without saying so.
//! `UPDATE_EXPECT=1 cargo test -p alarm-notifier render` rewrites the goldens after a
//! deliberate change.

use expect_test::expect_file;
use phoenix_core::console::is_allowed_link;
use phoenix_core::text::TRUNCATION_MARKER;
use phoenix_core::{Notice, Severity};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::support::{DASHBOARD, fixture, sns_body};
use crate::event::{parse_body, parse_event};
use crate::message::Message;
use crate::render::{
    BLOCKS_MAX, BUTTON_TEXT_MAX, BUTTONS_MAX, FIELD_MAX, FIELDS_PER_SECTION, HEADER_MAX,
    RenderContext, SECTION_MAX, TEXT_MAX, cut, escape, number, pieces,
};
use crate::{render, render_event, render_event_with};

const FIXTURES: &[&str] = &[
    "sns-cloudwatch-alarm-cpu.json",
    "sns-cloudwatch-alarm-ok.json",
    "sns-cloudwatch-alarm-insufficient.json",
    "sns-cloudwatch-alarm-metric-math.json",
    "sns-cloudwatch-alarm-composite.json",
    "sns-notice.json",
    "sns-notice-digest.json",
    "sns-plain-text.json",
    "sns-hostile-names.json",
    "cloudwatch-alarm-cpu-alarm.json",
    "cloudwatch-alarm-cpu-ok.json",
    "cloudwatch-alarm-composite.json",
    "docdb-cluster-failover.json",
    "sns-docdb-instance-restarted.json",
    "docdb-cluster-maintenance.json",
];

fn with_dashboard() -> RenderContext {
    RenderContext {
        dashboard_url: Some(DASHBOARD.to_owned()),
        ..RenderContext::default()
    }
}

/// Every text a Slack client would show or interpret, with where it sits.
fn texts(payload: &Value) -> Vec<(String, String)> {
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
    let mut out = Vec::new();
    walk(payload, "", &mut out);
    out
}

fn attached(payload: &Value) -> Vec<Value> {
    payload["attachments"][0]["blocks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn buttons(payload: &Value) -> Vec<(String, String)> {
    attached(payload)
        .iter()
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .filter(|e| e["type"] == "button")
        .map(|e| {
            (
                e["text"]["text"].as_str().unwrap_or_default().to_owned(),
                e["url"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Block Kit's limits, our escaping, and the link rule, checked on any payload.
fn assert_slack_rules(payload: &Value, dashboard: Option<&str>) {
    let top = payload["blocks"].as_array().map_or(0, Vec::len);
    assert!(
        top + attached(payload).len() <= BLOCKS_MAX,
        "too many blocks"
    );
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
    for block in attached(payload) {
        if let Some(fields) = block["fields"].as_array() {
            assert!(fields.len() <= FIELDS_PER_SECTION);
        }
    }
    let buttons = buttons(payload);
    assert!(buttons.len() <= BUTTONS_MAX);
    for (label, url) in &buttons {
        assert!(label.chars().count() <= BUTTON_TEXT_MAX, "{label}");
        assert!(is_allowed_link(url, dashboard), "a button to {url}");
    }
    if let Some(dashboard) = dashboard {
        assert!(
            buttons.iter().any(|(_, url)| url == dashboard),
            "every message carries the dashboard button: {buttons:?}"
        );
    }
}

#[test]
fn every_input_kind_renders_as_its_golden_file() {
    for name in FIXTURES {
        let rendered = render_event_with(&fixture(name), Some(DASHBOARD)).expect("ours");
        assert_eq!(rendered.len(), 1, "{name}");
        let r = &rendered[0];
        assert_slack_rules(&r.slack, Some(DASHBOARD));
        assert!(
            r.text.contains(&format!("Dashboard: {DASHBOARD}\n")),
            "{name}: the on-call text names the dashboard"
        );
        let stem = name.trim_end_matches(".json");
        let pretty = serde_json::to_string_pretty(&r.slack).expect("json") + "\n";
        expect_file![format!("../../tests/golden/{stem}.slack.json")].assert_eq(&pretty);
        let text = format!(
            "Subject: {}\nSeverity: {}\n\n{}",
            r.subject, r.severity, r.text
        );
        expect_file![format!("../../tests/golden/{stem}.txt")].assert_eq(&text);
    }
}

#[test]
fn without_a_dashboard_no_dashboard_button_is_made_up() {
    let r = &render_event(&fixture("sns-plain-text.json")).expect("ours")[0];
    assert_slack_rules(&r.slack, None);
    assert!(buttons(&r.slack).is_empty());
    assert!(!r.text.contains("Dashboard:"));
}

#[test]
fn hostile_names_can_neither_mention_nor_link() {
    let r =
        &render_event_with(&fixture("sns-hostile-names.json"), Some(DASHBOARD)).expect("ours")[0];
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
    for text in [&body, &r.text] {
        assert!(text.contains("ünïcødé 🔥"), "{text}");
        assert!(text.contains("日本語"), "{text}");
    }
    assert!(!body.contains("\"url\":\"https://evil"), "{body}");
    assert!(
        r.subject.is_ascii() && r.subject.len() <= 100,
        "{}",
        r.subject
    );
}

fn notice_with_links(links: &[(&str, &str)]) -> Message {
    let mut notice = Notice::new(
        Severity::Error,
        "task-recovery",
        "phoenix-service crashed",
        "exit 1",
        chrono::DateTime::UNIX_EPOCH,
    );
    for (label, url) in links {
        notice = notice.link(*label, *url);
    }
    Message::Notice(Box::new(notice))
}

#[test]
fn only_console_and_dashboard_links_become_buttons_the_rest_is_text() {
    let message = notice_with_links(&[
        (
            "Task",
            "https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/c/tasks/t/configuration?region=eu-west-1",
        ),
        ("Click me", "https://evil.example/phish?x=<1>&y=`2`"),
        ("Webhook", "https://hooks.slack.com/services/T/B/X"),
        ("Script", "javascript:alert(1)"),
        ("Dashboard again", DASHBOARD),
    ]);
    let r = render(&message, &with_dashboard());
    assert_slack_rules(&r.slack, Some(DASHBOARD));
    let labels: Vec<String> = buttons(&r.slack).into_iter().map(|(l, _)| l).collect();
    assert_eq!(labels, ["Task", "Dashboard"], "the dashboard once, last");
    let links = texts(&r.slack)
        .into_iter()
        .map(|(_, t)| t)
        .find(|t| t.starts_with("*Links*"))
        .expect("a links section");
    assert_eq!(
        links,
        "*Links* (not AWS console links: shown as text, not as buttons)\n\
         Click me: `https://evil.example/phish?x=&lt;1&gt;&amp;y=%602%60`\n\
         Webhook: `https://hooks.slack.com/services/T/B/X`\n\
         Script: `javascript:alert(1)`"
    );
    assert!(
        r.text
            .contains("Click me (unverified link): https://evil.example/phish"),
        "{}",
        r.text
    );
    assert!(
        r.text
            .contains("Task: https://eu-west-1.console.aws.amazon.com/ecs/"),
        "{}",
        r.text
    );
}

#[test]
fn more_links_than_buttons_are_listed_as_text_and_the_dashboard_stays() {
    let urls: Vec<String> = (0..40)
        .map(|i| format!("https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/c/tasks/t{i}"))
        .collect();
    let links: Vec<(&str, &str)> = urls.iter().map(|u| ("Task", u.as_str())).collect();
    let r = render(&notice_with_links(&links), &with_dashboard());
    assert_slack_rules(&r.slack, Some(DASHBOARD));
    assert_eq!(buttons(&r.slack).len(), BUTTONS_MAX);
    let as_text = r.slack.to_string();
    assert!(as_text.contains("t39`"), "the 40th link is shown as text");
}

#[test]
fn very_long_texts_continue_and_are_cut_with_a_marker_never_dropped() {
    let mut body: Value =
        serde_json::from_str(&sns_body("sns-cloudwatch-alarm-cpu.json")).expect("json");
    body["AlarmDescription"] = json!("déjà vu 🔁 & <more> ".repeat(2_000));
    body["AlarmName"] = json!("n".repeat(400));
    let message = parse_body(None, &body.to_string());
    assert!(matches!(message, Message::Alarm(_)));
    let r = render(&message, &with_dashboard());
    assert_slack_rules(&r.slack, Some(DASHBOARD));
    let all = texts(&r.slack);
    let description = all
        .iter()
        .position(|(_, t)| t.starts_with("*Description*"))
        .expect("description section");
    // the description takes four blocks, the last one cut and saying so
    let last = &all[description + 3].1;
    assert!(
        last.contains(TRUNCATION_MARKER) && last.contains("more part(s) not shown"),
        "{last}"
    );
    let header = r.slack["blocks"][0]["text"]["text"]
        .as_str()
        .expect("header");
    assert_eq!(header.chars().count(), HEADER_MAX);
    assert!(header.ends_with(TRUNCATION_MARKER));
    assert!(r.text.chars().count() <= TEXT_MAX);
    assert!(r.text.contains(TRUNCATION_MARKER));
    assert!(
        r.text.ends_with(&format!(
            "Dashboard: {DASHBOARD}\n\n— phoenix-ops alarm-notifier · CloudWatch metric-alarm\n"
        )),
        "links and footer stay: {}",
        &r.text[r.text.len() - 300..]
    );
}

#[test]
fn a_notice_with_too_many_blocks_says_how_many_were_left_out() {
    let mut notice = Notice::new(
        Severity::Warning,
        "backup",
        "t".repeat(500),
        "s".repeat(10_000),
        chrono::DateTime::UNIX_EPOCH,
    );
    for i in 0..600 {
        notice = notice.field(format!("field {i} <b>"), "v".repeat(3_000));
    }
    notice = notice
        .link("bad", "javascript:alert(1)")
        .details("line\n".repeat(5_000));
    let r = render(&Message::Notice(Box::new(notice)), &with_dashboard());
    assert_slack_rules(&r.slack, Some(DASHBOARD));
    let blocks = attached(&r.slack);
    let marker = &blocks[blocks.len() - 3];
    assert_eq!(marker["type"], "context");
    assert_eq!(
        marker["elements"][0]["text"],
        "… 20 more block(s) not shown: Slack allows 50 per message"
    );
    assert_eq!(
        blocks[blocks.len() - 2]["type"],
        "actions",
        "the buttons stay"
    );
    assert_eq!(
        blocks[blocks.len() - 1]["type"],
        "context",
        "the footer stays"
    );
}

#[test]
fn the_daily_digest_reads_as_a_report() {
    let r =
        &render_event_with(&fixture("sns-notice-digest.json"), Some(DASHBOARD)).expect("ours")[0];
    assert_eq!(
        r.slack["blocks"][0]["text"]["text"],
        "📊 Daily digest for phoenix-ops-prod: 19 Nov 07:00 to 20 Nov 07:00 UTC — needs attention"
    );
    let story = texts(&r.slack)
        .into_iter()
        .map(|(_, t)| t)
        .find(|t| t.starts_with("*The last 24 hours*"))
        .expect("the story");
    assert!(!story.contains("```"), "prose, not code: {story}");
    assert!(story.contains("\n*Crashes:*\n• 03:12"), "{story}");
    assert!(story.contains("*Still open:*"), "{story}");
    assert_eq!(r.severity, Severity::Warning);
    // SNS subjects are ASCII: the dash becomes `?`.
    assert_eq!(
        r.subject,
        "Daily digest for phoenix-ops-prod: 19 Nov 07:00 to 20 Nov 07:00 UTC - needs attention"
    );
}

#[test]
fn text_helpers_escape_cut_and_split_safely() {
    assert_eq!(
        escape("<!channel> & <https://x|y>"),
        "&lt;!channel&gt; &amp; &lt;https://x|y&gt;"
    );
    let cases: &[(&str, usize, &str)] = &[
        ("short", 10, "short"),
        ("ab&amp;cdefghijklmnopqrstuvwxyz", 16, "ab… [truncated]"),
        (
            "abc&amp;defghijklmnopqrstuvwxyz",
            21,
            "abc&amp;… [truncated]",
        ),
        ("ééééééééééééééééééééé", 15, "éé… [truncated]"),
    ];
    for (text, max, want) in cases {
        assert_eq!(&cut(text, *max), want, "{text} {max}");
    }
    for (v, want) in [
        (80.0, "80"),
        (93.4, "93.4"),
        (0.00016, "0.0002"),
        (-0.0, "0"),
        (12.345678, "12.3457"),
    ] {
        assert_eq!(number(v), want);
    }
    // Pieces break at lines, never inside an escape, and say what they left out.
    assert_eq!(pieces("a\nb\nc", 20, 4), ["a\nb\nc"]);
    assert_eq!(
        pieces(&"x".repeat(50), 20, 4),
        ["x".repeat(20), "x".repeat(20), "x".repeat(10)]
    );
    let escaped = "&amp;".repeat(10);
    for piece in pieces(&escaped, 22, 10) {
        assert!(
            piece.starts_with("&amp;") && piece.ends_with("&amp;"),
            "{piece}"
        );
    }
    let cut_short = pieces(&"line\n".repeat(100), 60, 2);
    assert_eq!(cut_short.len(), 2);
    assert!(
        cut_short[1].ends_with("… [truncated] (7 more part(s) not shown)"),
        "{cut_short:?}"
    );
    assert!(cut_short.iter().all(|p| p.chars().count() <= 60));
    let tiny = pieces(&"line\n".repeat(100), 20, 2);
    assert!(
        tiny[1].ends_with(TRUNCATION_MARKER) && tiny.iter().all(|p| p.chars().count() <= 20),
        "{tiny:?}"
    );
}

fn json_value() -> impl Strategy<Value = Value> {
    phoenix_testkit::arbitrary::json_value(
        &[
            "ALARM",
            "CloudWatch Alarm State Change",
            "RDS DB Cluster Event",
            "aws.rds",
            "phoenix-ops/notice@1",
            "daily-digest",
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
            "source",
            "state",
            "value",
            "alarmName",
            "schema",
            "SourceIdentifier",
            "EventCategories",
            "links",
        ],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Any string as an SNS message: understood or plain text, rendered within the rules.
    #[test]
    fn any_message_text_renders_within_the_rules(subject in proptest::option::of(".{0,200}"), body in ".{0,4000}") {
        let message = parse_body(subject.as_deref(), &body);
        let r = render(&message, &with_dashboard());
        assert_slack_rules(&r.slack, Some(DASHBOARD));
        prop_assert!(r.subject.is_ascii() && r.subject.len() <= 100);
        prop_assert!(r.text.chars().count() <= TEXT_MAX);
    }

    /// Any JSON as a message body (alarm-, Notice- and event-shaped junk too): never a panic.
    #[test]
    fn any_json_body_renders_within_the_rules(value in json_value()) {
        let message = parse_body(None, &value.to_string());
        let r = render(&message, &with_dashboard());
        assert_slack_rules(&r.slack, Some(DASHBOARD));
    }

    /// Any JSON as the event: not ours, or rendered within the rules; never a panic.
    #[test]
    fn any_json_event_is_ignored_or_rendered(value in json_value()) {
        if let Ok(rendered) = render_event_with(&value, Some(DASHBOARD)) {
            for r in rendered { assert_slack_rules(&r.slack, Some(DASHBOARD)); }
        }
        let _ = parse_event(&value);
    }

    /// Pieces never exceed their room, never cut an escape, and keep every character when
    /// nothing had to be cut.
    #[test]
    fn pieces_keep_their_limits(text in "[a-z&<> \\n]{0,400}", room in 14usize..60) {
        let escaped = escape(&text);
        let parts = pieces(&escaped, room, 100);
        for part in &parts {
            prop_assert!(part.chars().count() <= room);
            let amps = part.matches('&').count();
            let entities = part.matches("&amp;").count() + part.matches("&lt;").count() + part.matches("&gt;").count();
            prop_assert_eq!(amps, entities);
        }
        let joined: String = parts.concat();
        prop_assert_eq!(joined.replace('\n', ""), escaped.replace('\n', ""));
    }
}
