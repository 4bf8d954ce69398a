//! JSON log lines, one object per line, each tied to its invocation.
//!
//! Every line carries `timestamp`, `level`, `message`, the event's own fields, and the fields of
//! every span it happened in — above all `requestId` (and `xrayTraceId` when tracing is on), which
//! the Lambda runtime's span and the adapter's own span carry. Spans are always recorded, whatever
//! the level, so a WARN line still says which invocation it belongs to; events below `LOG_LEVEL`
//! are dropped here. The Outcome line and the EMF metric lines do not go through this layer: the
//! adapter writes them itself (see [`crate::lambda`]), so no log level can drop them.
//!
//! A small layer of our own instead of `tracing-subscriber`'s JSON formatter: that one nests span
//! fields under `span`/`spans` (a request id that Logs Insights cannot filter on directly) and
//! costs binary size for features we do not use.

use std::io::Write;
use std::sync::{Arc, Mutex};

use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Metadata, Subscriber, span};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// Where log lines go: a fresh writer per line (stdout in Lambda, stderr in the CLI, a buffer in
/// tests). One `write_all` per line, so concurrent lines never interleave.
pub type MakeWriter = Arc<dyn Fn() -> Box<dyn Write + Send> + Send + Sync>;

/// The log level from its usual spellings (`info`, `WARN`, `warning`, `off`...).
pub fn parse_level(text: &str) -> Option<LevelFilter> {
    match text.trim().to_ascii_lowercase().as_str() {
        "warning" => Some(LevelFilter::WARN),
        "fatal" => Some(LevelFilter::ERROR),
        other => other.parse().ok(),
    }
}

/// Collects fields as JSON values.
#[derive(Default)]
struct JsonFields(Map<String, Value>);

impl JsonFields {
    fn put(&mut self, field: &Field, value: Value) {
        self.0.insert(field.name().to_owned(), value);
    }
}

impl Visit for JsonFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, serde_json::json!(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::from(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, Value::from(format!("{value:?}")));
    }
}

/// The fields a span was created (or later recorded) with.
struct SpanFields(Map<String, Value>);

/// The layer that writes one JSON object per event.
pub struct JsonLines {
    writer: MakeWriter,
    level: LevelFilter,
}

impl JsonLines {
    pub fn new(level: LevelFilter, writer: MakeWriter) -> Self {
        Self { writer, level }
    }

    fn line(&self, event: &Event<'_>, spans: Map<String, Value>) -> String {
        let metadata = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            Value::from(Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)),
        );
        line.insert("level".into(), Value::from(metadata.level().as_str()));
        let mut fields = JsonFields::default();
        event.record(&mut fields);
        if let Some(message) = fields.0.remove("message") {
            line.insert("message".into(), message);
        }
        line.insert("target".into(), Value::from(metadata.target()));
        line.extend(spans);
        line.extend(fields.0);
        Value::Object(line).to_string()
    }
}

impl<S> Layer<S> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        // spans always: they carry the request id of every line below them
        metadata.is_span() || *metadata.level() <= self.level
    }

    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let mut fields = JsonFields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields.0));
        }
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        let mut fields = JsonFields::default();
        values.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            let mut extensions = span.extensions_mut();
            match extensions.get_mut::<SpanFields>() {
                Some(existing) => existing.0.extend(fields.0),
                None => extensions.insert(SpanFields(fields.0)),
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut spans = Map::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<SpanFields>() {
                    spans.extend(fields.0.clone());
                }
            }
        }
        let mut line = self.line(event, spans);
        line.push('\n');
        let _ = (self.writer)().write_all(line.as_bytes());
    }
}

/// A subscriber writing JSON lines at `level` to `writer`.
pub fn subscriber(level: LevelFilter, writer: MakeWriter) -> impl Subscriber + Send + Sync {
    tracing_subscriber::registry().with(JsonLines::new(level, writer))
}

/// Installs the JSON subscriber for the whole process (once; later calls do nothing).
pub fn init(level: LevelFilter, writer: MakeWriter) {
    let _ = tracing::subscriber::set_global_default(subscriber(level, writer));
}

/// A writer into a shared buffer (tests, and the CLI when it shows a function's logs).
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn make_writer(&self) -> MakeWriter {
        let buffer = self.clone();
        Arc::new(move || Box::new(buffer.clone()))
    }

    /// Everything written so far, one string per line.
    pub fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_carries_the_fields_of_its_spans_at_any_level() {
        let captured = Captured::default();
        let subscriber = subscriber(LevelFilter::WARN, captured.make_writer());
        tracing::subscriber::with_default(subscriber, || {
            let outer = tracing::info_span!(
                "Lambda runtime invoke",
                requestId = "req-1",
                xrayTraceId = "Root=1-abc"
            );
            let _entered = outer.enter();
            tracing::info!("dropped below WARN");
            tracing::warn!(call = "ecs:RunTask", attempts = 2_u64, "slow down");
        });
        let lines = captured.lines();
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line: Value = serde_json::from_str(&lines[0]).expect("one JSON object");
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["message"], "slow down");
        assert_eq!(line["requestId"], "req-1");
        assert_eq!(line["xrayTraceId"], "Root=1-abc");
        assert_eq!(line["call"], "ecs:RunTask");
        assert_eq!(line["attempts"], 2);
        assert!(line["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    }

    #[test]
    fn levels_parse_in_their_usual_spellings() {
        assert_eq!(parse_level("INFO"), Some(LevelFilter::INFO));
        assert_eq!(parse_level(" warning "), Some(LevelFilter::WARN));
        assert_eq!(parse_level("off"), Some(LevelFilter::OFF));
        assert_eq!(parse_level("loud"), None);
    }
}
