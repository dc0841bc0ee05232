//! Logs: one line per event, bounded, with the fields of the spans it
//! happened in (`request.id`, `stripe.event_id`, `report.id`, …) beside its
//! own. Text for people (the default), JSON for machines with
//! `LOG_FORMAT=json`; which events, by `RUST_LOG` (default
//! `modelpick=info,warp=warn`).
//!
//! Bounded: a field's value is cut at [`MAX_VALUE_BYTES`] and a line at
//! [`MAX_LINE_BYTES`], so no input (a provider's answer, a crafted request)
//! can grow a line or the log without limit.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

pub const MAX_VALUE_BYTES: usize = 512;
pub const MAX_LINE_BYTES: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// `LOG_FORMAT`: `json`, or anything else (or nothing) for text.
    pub fn from_env() -> Self {
        match std::env::var("LOG_FORMAT").as_deref() {
            Ok("json") => Self::Json,
            _ => Self::Text,
        }
    }
}

/// Installs the process's subscriber: `RUST_LOG`'s filter, lines to stdout.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("modelpick=info,warp=warn"));
    tracing_subscriber::registry()
        .with(filter)
        .with(LineLayer::new(format, Arc::new(Stdout)))
        .init();
}

/// Where finished lines go.
pub trait LineSink: Send + Sync + 'static {
    fn write_line(&self, line: &str);
}

struct Stdout;

impl LineSink for Stdout {
    fn write_line(&self, line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(line.as_bytes());
        let _ = out.write_all(b"\n");
    }
}

/// A value cut at `MAX_VALUE_BYTES`, on a character boundary, saying so.
fn bounded(mut value: String) -> String {
    if value.len() > MAX_VALUE_BYTES {
        let cut = value.len();
        let mut end = MAX_VALUE_BYTES;
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        value.truncate(end);
        let _ = write!(value, "…(+{} bytes)", cut - end);
    }
    value
}

/// An event's or a span's fields, each bounded as it is recorded.
#[derive(Default, Debug, Clone)]
struct Fields(Vec<(&'static str, String)>);

impl Fields {
    fn set(&mut self, name: &'static str, value: String) {
        let value = bounded(value);
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field.name(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.set(field.name(), text);
    }
}

pub struct LineLayer {
    format: LogFormat,
    sink: Arc<dyn LineSink>,
}

impl LineLayer {
    pub fn new(format: LogFormat, sink: Arc<dyn LineSink>) -> Self {
        Self { format, sink }
    }

    fn text_line(
        &self,
        level: &str,
        target: &str,
        message: &str,
        fields: &[(&str, String)],
    ) -> String {
        let mut line = format!(
            "{} {level:>5} {target}: {message}",
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        );
        for (name, value) in fields {
            let piece = if value.is_empty() || value.contains([' ', '"', '=', '\n']) {
                format!(" {name}={value:?}")
            } else {
                format!(" {name}={value}")
            };
            if line.len() + piece.len() > MAX_LINE_BYTES - 4 {
                line.push_str(" …");
                break;
            }
            line.push_str(&piece);
        }
        line
    }

    fn json_line(
        &self,
        level: &str,
        target: &str,
        message: &str,
        fields: &[(&str, String)],
    ) -> String {
        let mut object = serde_json::Map::new();
        object.insert(
            "ts".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .into(),
        );
        object.insert("level".into(), level.into());
        object.insert("target".into(), target.into());
        object.insert("message".into(), message.into());
        let mut size = message.len() + target.len() + 64;
        for (name, value) in fields {
            size += name.len() + value.len() + 6;
            if size >= MAX_LINE_BYTES {
                break;
            }
            object.insert((*name).into(), value.clone().into());
        }
        serde_json::Value::Object(object).to_string()
    }
}

impl<S> Layer<S> for LineLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: Context<'_, S>,
    ) {
        if let Some(span) = ctx.span(id) {
            if let Some(fields) = span.extensions_mut().get_mut::<Fields>() {
                values.record(fields);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut own = Fields::default();
        event.record(&mut own);
        let message = own
            .0
            .iter()
            .position(|(name, _)| *name == "message")
            .map(|at| own.0.remove(at).1)
            .unwrap_or_default();
        // The event's own fields first, then its spans' from the innermost
        // out; a name already given is not repeated.
        let mut fields = own;
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                if let Some(span_fields) = span.extensions().get::<Fields>() {
                    for (name, value) in &span_fields.0 {
                        if !fields.0.iter().any(|(n, _)| n == name) {
                            fields.0.push((name, value.clone()));
                        }
                    }
                }
            }
        }
        let meta = event.metadata();
        let level = meta.level().as_str();
        let line = match self.format {
            LogFormat::Text => self.text_line(level, meta.target(), &message, &fields.0),
            LogFormat::Json => self.json_line(level, meta.target(), &message, &fields.0),
        };
        self.sink.write_line(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tracing::Instrument;

    /// Lines kept in memory.
    #[derive(Default, Clone)]
    struct MemorySink(Arc<Mutex<Vec<String>>>);

    impl LineSink for MemorySink {
        fn write_line(&self, line: &str) {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(line.to_owned());
        }
    }

    fn capture(format: LogFormat) -> (MemorySink, tracing::subscriber::DefaultGuard) {
        let sink = MemorySink::default();
        let subscriber =
            tracing_subscriber::registry().with(LineLayer::new(format, Arc::new(sink.clone())));
        (sink, tracing::subscriber::set_default(subscriber))
    }

    #[tokio::test(flavor = "current_thread")]
    async fn interleaved_requests_each_log_with_their_own_ids() {
        let (sink, _guard) = capture(LogFormat::Text);
        let work = |id: &'static str| {
            async move {
                for step in 0..3 {
                    tokio::task::yield_now().await;
                    tracing::info!(step, "working");
                }
            }
            .instrument(tracing::info_span!("request", request.id = id))
        };
        tokio::join!(work("aaa"), work("bbb"));
        let lines = sink.0.lock().unwrap().clone();
        assert_eq!(lines.len(), 6);
        for line in &lines {
            let ids = ["request.id=aaa", "request.id=bbb"]
                .iter()
                .filter(|id| line.contains(*id))
                .count();
            assert_eq!(ids, 1, "one request's id per line: {line}");
        }
    }

    #[test]
    fn a_huge_value_gives_a_bounded_line() {
        let (sink, _guard) = capture(LogFormat::Text);
        let huge = "x".repeat(100_000);
        let span = tracing::info_span!("request", request.id = "r1", body = %huge);
        span.in_scope(|| tracing::warn!(answer = %huge, other = %huge, "a large answer"));
        let line = sink.0.lock().unwrap()[0].clone();
        assert!(line.len() <= MAX_LINE_BYTES, "{}", line.len());
        assert!(line.contains("a large answer"));
        assert!(line.contains("…(+99488 bytes)"));
    }

    #[test]
    fn json_lines_carry_the_span_fields() {
        let (sink, _guard) = capture(LogFormat::Json);
        let span = tracing::info_span!("report", report.id = "rep-1");
        span.in_scope(|| tracing::error!(error = "the provider failed", "call failed"));
        let line: serde_json::Value = serde_json::from_str(&sink.0.lock().unwrap()[0]).unwrap();
        assert_eq!(line["level"], "ERROR");
        assert_eq!(line["message"], "call failed");
        assert_eq!(line["report.id"], "rep-1");
        assert_eq!(line["error"], "the provider failed");
    }
}
