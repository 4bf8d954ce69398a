//! Slack mrkdwn as HTML: code blocks, inline markup, links, mentions, with Slack's escaping.

use std::fmt::Write as _;

use super::html::{decode_entities, escape, safe_url};

/// Slack mrkdwn as HTML: code blocks first (nothing is parsed inside them), then inline markup.
pub fn mrkdwn(text: &str) -> String {
    let mut out = String::new();
    let parts: Vec<&str> = text.split("```").collect();
    // An odd number of fences: the last one has no partner and stays text.
    let closed = if parts.len().is_multiple_of(2) {
        parts.len() - 1
    } else {
        parts.len()
    };
    for (i, part) in parts.iter().enumerate() {
        if i >= closed {
            out.push_str(&inline(&format!("```{part}")));
        } else if i % 2 == 1 {
            let code = part.strip_prefix('\n').unwrap_or(part);
            let _ = write!(out, "<pre>{}</pre>", escape(&decode_entities(code)));
        } else {
            out.push_str(&inline(part));
        }
    }
    out
}

/// Inline mrkdwn: `code`, <links|and> <!mentions>, *bold*, _italic_, ~strike~, line breaks.
fn inline(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut plain_run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if !run.is_empty() {
            out.push_str(&escape(&decode_entities(run)));
            run.clear();
        }
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '`' => {
                if let Some(end) = find(&chars, i + 1, '`').filter(|&e| e > i + 1) {
                    flush(&mut plain_run, &mut out);
                    let code: String = chars[i + 1..end].iter().collect();
                    let _ = write!(out, "<code>{}</code>", escape(&decode_entities(&code)));
                    i = end + 1;
                    continue;
                }
            }
            '<' => {
                if let Some(end) = find(&chars, i + 1, '>') {
                    flush(&mut plain_run, &mut out);
                    let inner: String = chars[i + 1..end].iter().collect();
                    out.push_str(&angle(&inner));
                    i = end + 1;
                    continue;
                }
            }
            '*' | '_' | '~' => {
                if let Some(end) = emphasis_end(&chars, i) {
                    flush(&mut plain_run, &mut out);
                    let inner: String = chars[i + 1..end].iter().collect();
                    let tag = match c {
                        '*' => "b",
                        '_' => "i",
                        _ => "s",
                    };
                    let _ = write!(out, "<{tag}>{}</{tag}>", inline(&inner));
                    i = end + 1;
                    continue;
                }
            }
            '\n' => {
                flush(&mut plain_run, &mut out);
                out.push_str("<br>");
                i += 1;
                continue;
            }
            _ => {}
        }
        plain_run.push(c);
        i += 1;
    }
    flush(&mut plain_run, &mut out);
    out
}

/// The next `wanted` on the same line.
fn find(chars: &[char], from: usize, wanted: char) -> Option<usize> {
    chars
        .iter()
        .enumerate()
        .skip(from)
        .take_while(|(_, c)| **c != '\n')
        .find(|(_, c)| **c == wanted)
        .map(|(i, _)| i)
}

/// Where the emphasis opened at `start` closes, if it is one: the marker follows a boundary
/// and precedes a non-space; the closing marker follows a non-space and precedes a boundary.
fn emphasis_end(chars: &[char], start: usize) -> Option<usize> {
    let marker = chars[start];
    let boundary = |c: Option<&char>| c.is_none_or(|c| !c.is_alphanumeric());
    if !boundary(start.checked_sub(1).and_then(|p| chars.get(p))) {
        return None;
    }
    let first = chars.get(start + 1)?;
    if first.is_whitespace() || *first == marker {
        return None;
    }
    let mut j = start + 2;
    while j < chars.len() {
        let c = chars[j];
        if c == '\n' {
            return None;
        }
        if c == marker && !chars[j - 1].is_whitespace() && boundary(chars.get(j + 1)) {
            return Some(j);
        }
        j += 1;
    }
    None
}

/// What Slack does with `<…>`: links, mentions, channel references, dates.
fn angle(inner: &str) -> String {
    let (target, label) = match inner.split_once('|') {
        Some((t, l)) => (t, Some(l)),
        None => (inner, None),
    };
    if let Some(special) = target.strip_prefix('!') {
        // <!here>, <!channel>, <!everyone>, <!subteam^ID|@team>, <!date^…|fallback>
        let shown = label.map(decode_entities).unwrap_or_else(|| {
            let name = special.split('^').next().unwrap_or(special);
            format!("@{name}")
        });
        return format!("<span class=\"mention\">{}</span>", escape(&shown));
    }
    if let Some(user) = target.strip_prefix('@') {
        let shown = label.map_or_else(
            || format!("@{user}"),
            |l| format!("@{}", decode_entities(l)),
        );
        return format!("<span class=\"mention\">{}</span>", escape(&shown));
    }
    if let Some(channel) = target.strip_prefix('#') {
        let shown = label.map_or_else(
            || format!("#{channel}"),
            |l| format!("#{}", decode_entities(l)),
        );
        return format!("<span class=\"mention\">{}</span>", escape(&shown));
    }
    let url = decode_entities(target);
    let shown = match label {
        Some(l) => inline(l),
        None => escape(&url),
    };
    if safe_url(&url) {
        format!("<a href=\"{}\">{shown}</a>", escape(&url))
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mrkdwn_as_slack_shows_it() {
        let cases: &[(&str, &str)] = &[
            ("plain", "plain"),
            ("*bold*", "<b>bold</b>"),
            ("_italic_ and ~gone~", "<i>italic</i> and <s>gone</s>"),
            ("*State*\nALARM (was OK)", "<b>State</b><br>ALARM (was OK)"),
            ("a `x < y` b", "a <code>x &lt; y</code> b"),
            ("`a &lt; b`", "<code>a &lt; b</code>"),
            (
                "```\nline 1\n  *not bold* &lt;x&gt;\n```",
                "<pre>line 1\n  *not bold* &lt;x&gt;\n</pre>",
            ),
            (
                "<https://example.com/a?b=1&amp;c=2|the *docs*>",
                "<a href=\"https://example.com/a?b=1&amp;c=2\">the <b>docs</b></a>",
            ),
            (
                "<https://x.example>",
                "<a href=\"https://x.example\">https://x.example</a>",
            ),
            ("<javascript:alert(1)|click>", "click"),
            (
                "<!channel> and <!here>",
                "<span class=\"mention\">@channel</span> and <span class=\"mention\">@here</span>",
            ),
            ("<@U024BE7LH>", "<span class=\"mention\">@U024BE7LH</span>"),
            ("&lt;!channel&gt; &amp; co", "&lt;!channel&gt; &amp; co"),
            ("93.4% &gt; 80%", "93.4% &gt; 80%"),
            ("snake_case_name stays", "snake_case_name stays"),
            ("2 * 3 * 4", "2 * 3 * 4"),
            ("*unclosed", "*unclosed"),
            ("* not bold*", "* not bold*"),
            ("*bold _and italic_*", "<b>bold <i>and italic</i></b>"),
            ("\"quoted\" 'x'", "&quot;quoted&quot; &#39;x&#39;"),
            ("```unclosed fence", "```unclosed fence"),
        ];
        for (input, want) in cases {
            assert_eq!(&mrkdwn(input), want, "input: {input:?}");
        }
    }
}
