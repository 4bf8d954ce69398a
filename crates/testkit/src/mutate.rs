// pure: a seeded mutator of JSON events; no I/O, no clock
//! Mutation fuzzing of events: every input a function can be handed, grown from the real samples
//! in `events/`. One to three mutations per event, chosen by a seeded generator (the same seed
//! gives the same events, so a failure can be replayed):
//!
//! * **types**: a value becomes null, a boolean, a number, a string, an array or an object;
//! * **keys**: a key dropped, or given twice in the JSON text (the last one wins: the value is
//!   replaced), an object emptied;
//! * **numbers and times at the limits**: `i64::MAX`, `-1`, `1e308`, years 0001 and 9999, times
//!   far in the future or past, malformed times, epoch numbers where a string was;
//! * **strings**: 100 KB long, control characters, right-to-left overrides, Slack mentions,
//!   markup, other accounts' and regions' ARNs, other groups and families;
//! * **envelopes**: the event wrapped in SNS, SQS or EventBridge, an SNS message unwrapped,
//!   a JSON text inside SNS `Message` cut short, an array of events, a bare scalar.
//!
//! No AWS, no clock, no I/O: `crates/cli/src/fuzz.rs` drives it through the real handlers.

use serde_json::{Map, Value, json};

/// SplitMix64: small, fast, seedable; good enough to pick mutations.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            usize::try_from(self.next_u64() % n as u64).unwrap_or(0)
        }
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            items.get(self.below(items.len()))
        }
    }
}

/// Values at the limits of what JSON can carry where a number or a time is expected.
const LIMIT_NUMBERS: &[f64] = &[
    0.0,
    -1.0,
    0.5,
    1e308,
    -1e308,
    9_007_199_254_740_993.0,
    4_294_967_296.0,
];

const TIMES: &[&str] = &[
    "9999-12-31T23:59:59.999Z",
    "0001-01-01T00:00:00Z",
    "+262143-12-31T23:59:59Z",
    "+262142-12-31T23:59:59Z",
    "-262143-01-01T00:00:00Z",
    "1970-01-01T00:00:00Z",
    "2126-11-30T12:00:00Z",
    "1926-11-30T12:00:00Z",
    "2026-13-45T99:99:99Z",
    "2026-11-30T25:00:00+14:00",
    "2026-11-30",
    "yesterday",
    "",
];

const STRINGS: &[&str] = &[
    "<!channel> <@U123> *bold* `code`",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "\u{202e}gnp.exe",
    "line\nbreak\r\tand \u{0}nul",
    "💥🔥 ünïcödé ℵ",
    "%s%n%x {0} ${jndi:ldap://x}",
    "../../../../etc/passwd",
    "arn:aws:ecs:eu-west-1:999999999999:cluster/phoenix-cluster",
    "arn:aws:ecs:us-east-1:123456789012:cluster/phoenix-cluster",
    "junk/arn:aws:ecs:eu-west-1:123456789012:cluster/phoenix-cluster",
    "arn:aws:ecs:eu-west-1:123456789012:task-definition/evil-family:1",
    "arn:aws:ecs:eu-west-1:123456789012:task-definition/phoenix-worker:999999999999",
    "family:phoenix-worker",
    "family:evil-family",
    "service:phoenix-service",
    "service:",
    "family:",
    "STOPPED",
    "RUNNING",
    "ALARM",
    "OK",
    "TaskFailedToStart",
    "EssentialContainerExited",
    "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref: not found",
    "aws.events",
    "aws.ecs",
    "aws.cloudwatch",
    "Scheduled Event",
    "ECS Task State Change",
    "phoenix-ops/notice@1",
    "https://evil.example.com/console.aws.amazon.com",
    "https://hooks.slack.com/services/T0/B0/XXXX",
    "mongodb://admin:hunter2@db:27017",
];

/// Keys whose values the functions read: mutations land on them more often than a random
/// path would (a random path rarely hits `detail.stoppedAt`).
const HOT_KEYS: &[&str] = &[
    "id",
    "time",
    "source",
    "detail-type",
    "account",
    "region",
    "clusterArn",
    "taskArn",
    "taskDefinitionArn",
    "group",
    "lastStatus",
    "desiredStatus",
    "stopCode",
    "stoppedReason",
    "stoppedAt",
    "startedAt",
    "createdAt",
    "version",
    "containers",
    "exitCode",
    "Message",
    "MessageId",
    "Subject",
    "Timestamp",
    "NewStateValue",
    "OldStateValue",
    "StateChangeTime",
    "AlarmName",
    "AlarmArn",
    "state",
    "value",
    "timestamp",
    "schema",
    "severity",
    "links",
    "url",
    "database",
    "logs",
    "dry_run",
    "reason",
    "body",
    "Records",
];

/// Every path (list of keys/indices) in a value, the root included.
fn paths(value: &Value) -> Vec<Vec<PathStep>> {
    let mut out = vec![Vec::new()];
    let mut stack = vec![(Vec::new(), value)];
    while let Some((path, v)) = stack.pop() {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    let mut p = path.clone();
                    p.push(PathStep::Key(k.clone()));
                    out.push(p.clone());
                    stack.push((p, child));
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    let mut p = path.clone();
                    p.push(PathStep::Index(i));
                    out.push(p.clone());
                    stack.push((p, child));
                }
            }
            _ => {}
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn describe(path: &[PathStep]) -> String {
    if path.is_empty() {
        return "$".to_owned();
    }
    path.iter()
        .map(|s| match s {
            PathStep::Key(k) => format!(".{k}"),
            PathStep::Index(i) => format!("[{i}]"),
        })
        .collect()
}

fn get_mut<'a>(value: &'a mut Value, path: &[PathStep]) -> Option<&'a mut Value> {
    let mut at = value;
    for step in path {
        at = match step {
            PathStep::Key(k) => at.as_object_mut()?.get_mut(k)?,
            PathStep::Index(i) => at.as_array_mut()?.get_mut(*i)?,
        };
    }
    Some(at)
}

fn any_value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth > 2 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => Value::from(rng.below(2) == 0),
        2 => json!(*rng.pick(LIMIT_NUMBERS).unwrap_or(&0.0)),
        3 => Value::from(*rng.pick(&[i64::MAX, i64::MIN, 0, -1, 1]).unwrap_or(&0)),
        4 => Value::from(*rng.pick(STRINGS).unwrap_or(&"")),
        5 => Value::from(*rng.pick(TIMES).unwrap_or(&"")),
        6 => Value::Array(
            (0..rng.below(3))
                .map(|_| any_value(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let mut map = Map::new();
            for _ in 0..rng.below(3) {
                let key = (*rng.pick(HOT_KEYS).unwrap_or(&"k")).to_owned();
                map.insert(key, any_value(rng, depth + 1));
            }
            Value::Object(map)
        }
    }
}

/// One mutation, in place; returns what it did.
fn mutate_once(event: &mut Value, others: &[Value], rng: &mut Rng) -> String {
    let all = paths(event);
    // half the time, aim at a key the functions read
    let hot: Vec<&Vec<PathStep>> = all
        .iter()
        .filter(|p| matches!(p.last(), Some(PathStep::Key(k)) if HOT_KEYS.contains(&k.as_str())))
        .collect();
    let path = if !hot.is_empty() && rng.below(2) == 0 {
        hot[rng.below(hot.len())].clone()
    } else {
        all[rng.below(all.len())].clone()
    };
    let at = describe(&path);
    match rng.below(12) {
        0 => {
            // change the type
            let new = any_value(rng, 0);
            if let Some(v) = get_mut(event, &path) {
                *v = new;
            }
            format!("type of {at}")
        }
        1 => {
            // drop the key (or empty the root)
            if let Some((last, parent)) = path.split_last() {
                if let Some(p) = get_mut(event, parent) {
                    match (p, last) {
                        (Value::Object(m), PathStep::Key(k)) => {
                            m.remove(k);
                        }
                        (Value::Array(a), PathStep::Index(i)) if *i < a.len() => {
                            a.remove(*i);
                        }
                        _ => {}
                    }
                }
                format!("drop {at}")
            } else {
                *event = json!({});
                "empty object".to_owned()
            }
        }
        2 => {
            // a key given twice: the last value wins
            let new = any_value(rng, 1);
            if let Some(v) = get_mut(event, &path) {
                *v = new;
            }
            format!("duplicate key {at}")
        }
        3 => {
            let time = Value::from(*rng.pick(TIMES).unwrap_or(&""));
            if let Some(v) = get_mut(event, &path) {
                *v = time;
            }
            format!("time at {at}")
        }
        4 => {
            let n = if rng.below(2) == 0 {
                json!(*rng.pick(LIMIT_NUMBERS).unwrap_or(&0.0))
            } else {
                Value::from(
                    *rng.pick(&[i64::MAX, i64::MIN, -1, 253_402_300_800_000])
                        .unwrap_or(&0),
                )
            };
            if let Some(v) = get_mut(event, &path) {
                *v = n;
            }
            format!("number at {at}")
        }
        5 => {
            let huge = match rng.below(3) {
                0 => "A".repeat(100_000),
                1 => "<!channel> ".repeat(5_000),
                _ => "é\u{202e}\u{0}".repeat(20_000),
            };
            if let Some(v) = get_mut(event, &path) {
                *v = Value::from(huge);
            }
            format!("huge string at {at}")
        }
        6 => {
            let s = Value::from(*rng.pick(STRINGS).unwrap_or(&""));
            if let Some(v) = get_mut(event, &path) {
                *v = s;
            }
            format!("hostile string at {at}")
        }
        7 => {
            // wrap in an envelope
            let inner = event.clone();
            let text = inner.to_string();
            *event = match rng.below(4) {
                0 => json!({"Records": [{"EventSource": "aws:sns", "Sns": {
                    "MessageId": "00000000-0000-0000-0000-00000000fuzz", "Message": text,
                    "Subject": "fuzz", "Timestamp": "2026-11-30T12:00:00Z"}}]}),
                1 => {
                    json!({"Records": [{"eventSource": "aws:sqs", "messageId": "fuzz-1", "body": text}]})
                }
                2 => json!({"version": "0", "id": "fuzz-eb", "source": "aws.events",
                    "detail-type": "Scheduled Event", "time": "2026-11-30T12:00:00Z",
                    "region": "eu-west-1", "account": "123456789012", "detail": inner}),
                _ => json!([inner.clone(), inner]),
            };
            "wrapped in an envelope".to_owned()
        }
        8 => {
            // unwrap or cut an SNS message
            if let Some(message) = event.pointer_mut("/Records/0/Sns/Message") {
                let text = message.as_str().unwrap_or_default().to_owned();
                if rng.below(2) == 0 && !text.is_empty() {
                    let mut cut = rng.below(text.len());
                    while !text.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    *message = Value::from(&text[..cut]);
                    "SNS message cut short".to_owned()
                } else {
                    let inner = serde_json::from_str(&text).unwrap_or(Value::from(text));
                    *event = inner;
                    "SNS message unwrapped".to_owned()
                }
            } else {
                *event = Value::from(event.to_string());
                "event as a JSON string".to_owned()
            }
        }
        9 => {
            // graft a part of another sample
            if let Some(other) = rng.pick(others) {
                let other_paths = paths(other);
                let graft_path = other_paths[rng.below(other_paths.len())].clone();
                let mut source = other.clone();
                let graft = get_mut(&mut source, &graft_path)
                    .cloned()
                    .unwrap_or(Value::Null);
                if let Some(v) = get_mut(event, &path) {
                    *v = graft;
                }
            }
            format!("graft at {at}")
        }
        10 => {
            *event = any_value(rng, 0);
            "replaced by random JSON".to_owned()
        }
        _ => {
            // an object emptied or an array doubled
            if let Some(v) = get_mut(event, &path) {
                match v {
                    Value::Object(m) => m.clear(),
                    Value::Array(a) => {
                        let copy = a.clone();
                        a.extend(copy);
                    }
                    other => *other = Value::Array(vec![other.clone()]),
                }
            }
            format!("reshaped {at}")
        }
    }
}

/// A mutated copy of `sample` (1 to 3 mutations) and what was done to it.
pub fn mutate(sample: &Value, others: &[Value], rng: &mut Rng) -> (Value, String) {
    let mut event = sample.clone();
    // one mutation half the time: events close to a real one reach deeper into the handler
    let count = if rng.below(2) == 0 {
        1
    } else {
        2 + rng.below(2)
    };
    let mut done = Vec::with_capacity(count);
    for _ in 0..count {
        done.push(mutate_once(&mut event, others, rng));
    }
    (event, done.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_events_and_mutations_differ() {
        let sample = json!({"id": "e1", "time": "2026-11-30T12:00:00Z",
            "detail": {"group": "service:phoenix-service", "version": 3, "containers": [{"exitCode": 1}]}});
        let others = [json!({"Records": [{"Sns": {"Message": "{}"}}]})];
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..50)
                .map(|_| mutate(&sample, &others, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        let events = run(7);
        let distinct: std::collections::BTreeSet<String> =
            events.iter().map(|(e, _)| e.to_string()).collect();
        assert!(distinct.len() > 40, "{}", distinct.len());
        assert!(events.iter().all(|(e, _)| *e != sample));
    }

    #[test]
    fn below_stays_in_range() {
        let mut rng = Rng::new(1);
        for n in [1, 2, 7, 1000] {
            for _ in 0..100 {
                assert!(rng.below(n) < n);
            }
        }
        assert_eq!(rng.below(0), 0);
    }
}
