//! The binary's log output: one line per request, as text for people or JSON for machines.
//!
//! Request lines are written by a background thread through a bounded queue, so a burst of
//! traffic costs the servers a format and a queue push rather than a write to a slow terminal.
//! The queue blocks when full instead of dropping: a test rig must not lose the line that shows
//! what a client did.

use std::fmt::{self, Write as _};
use std::time::SystemTime;
#[cfg(test)]
use std::time::UNIX_EPOCH;

use serde_json::{Map, Value};
use sim_http::log::TARGET as REQUEST;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Installs the subscriber `LOG` asks for: a filter (`info`, `warn`, `debug`, or any
/// `tracing` directive list) optionally with `json`, e.g. `LOG=json` or `LOG=json,warn`.
/// The returned [`Log`] flushes queued lines when dropped.
pub fn init(spec: &str) -> Result<Log, String> {
    let mut json = false;
    let directives: Vec<&str> = spec
        .split(',')
        .map(str::trim)
        .filter(|part| {
            let is_json = part.eq_ignore_ascii_case("json");
            json |= is_json;
            !is_json && !part.is_empty()
        })
        .collect();
    let mut directives = if directives.is_empty() {
        "info".to_owned()
    } else {
        directives.join(",")
    };
    // rmcp reports every stateless request's service ending at INFO, three lines per call that
    // say nothing to a tester and cost a fifth of a tool call; keep its warnings unless the
    // filter asks for rmcp explicitly.
    if !directives.contains("rmcp") {
        directives.push_str(",rmcp=warn");
    }
    let filter = EnvFilter::builder()
        .parse(&directives)
        .map_err(|error| format!("LOG={spec:?} is not a log level or filter: {error}"))?;
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("mcp-oauth-sim-log")
        .finish(std::io::stdout());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .event_format(Lines { json })
        .init();
    Ok(Log {
        json,
        _guard: guard,
    })
}

/// The installed log output.
pub struct Log {
    json: bool,
    _guard: WorkerGuard,
}

impl Log {
    /// Prints a line that must always be seen (the ready lines, the control token, stopping),
    /// whatever the level filter: as text, or as a JSON object like every other line when the
    /// log is JSON, so that a machine reading stdout parses every line the same way.
    pub fn announce(&self, line: &str) {
        if self.json {
            let object = serde_json::json!({
                "time": rfc3339_now(),
                "level": "info",
                "msg": line,
            });
            println!("{object}");
        } else {
            println!("{line}");
        }
    }
}

/// Formats events as this rig's lines.
struct Lines {
    json: bool,
}

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        if !self.json && meta.target() == REQUEST {
            // The hot path: a request line is its message, written without a copy.
            let mut message = Message {
                writer: writer.by_ref(),
                result: Ok(()),
            };
            event.record(&mut message);
            message.result?;
            return writeln!(writer);
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        if self.json {
            let mut object = Map::new();
            object.insert("time".into(), Value::String(rfc3339_now()));
            object.insert("level".into(), meta.level().as_str().to_lowercase().into());
            if meta.target() != REQUEST {
                object.insert("target".into(), meta.target().into());
            }
            object.insert("msg".into(), fields.message.into());
            object.extend(fields.rest);
            return writeln!(writer, "{}", Value::Object(object));
        }
        // Anything but a request line says how serious it is and carries its fields.
        if *meta.level() <= Level::WARN {
            write!(writer, "{}: ", meta.level().as_str().to_lowercase())?;
        }
        writer.write_str(&fields.message)?;
        for (key, value) in &fields.rest {
            match value {
                Value::String(text) => write!(writer, " {key}={text}")?,
                other => write!(writer, " {key}={other}")?,
            }
        }
        writeln!(writer)
    }
}

/// Writes an event's message and ignores its other fields.
struct Message<'w> {
    writer: Writer<'w>,
    result: fmt::Result,
}

impl Visit for Message<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.result = write!(self.writer, "{value:?}");
        }
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    rest: Map<String, Value>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.rest.insert(field.name().into(), value.into());
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.rest.insert(field.name().into(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.rest.insert(field.name().into(), value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // Milliseconds to the microsecond are all a reader needs.
        let rounded = (value * 1000.0).round() / 1000.0;
        self.rest.insert(field.name().into(), rounded.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.rest.insert(field.name().into(), value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.rest.insert(field.name().into(), text.into());
        }
    }
}

/// Now as RFC 3339 UTC with milliseconds.
fn rfc3339_now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// `secs.millis` since the Unix epoch as RFC 3339 UTC with milliseconds.
#[cfg(test)]
fn rfc3339(secs: u64, millis: u32) -> String {
    let time = UNIX_EPOCH + std::time::Duration::new(secs, millis * 1_000_000);
    humantime::format_rfc3339_millis(time).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        // 2024-02-29 (a leap day) 12:34:56.789
        assert_eq!(rfc3339(1_709_210_096, 789), "2024-02-29T12:34:56.789Z");
        assert_eq!(rfc3339(1_795_305_600, 5), "2026-11-22T00:00:00.005Z");
    }
}
