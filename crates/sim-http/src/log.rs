//! One log line per request.
//!
//! The line is what a tester watches while their client runs, so it leads with the service and
//! the facts that matter (`[oauth] POST /token 200 grant=refresh_token client=3fJk2a… 0.3ms`)
//! and never carries a secret: callers pass redacted values only.

use std::fmt;
use std::time::Duration;

use http::{Method, StatusCode};

/// A request's log line, formatted only if the log level lets it through.
pub struct RequestLine<'a> {
    /// `oauth` or `mcp`.
    pub service: &'static str,
    /// The request method.
    pub method: &'a Method,
    /// The request path.
    pub path: &'a str,
    /// The status answered.
    pub status: StatusCode,
    /// Extra `key=value` facts; empty values are left out.
    pub fields: &'a [(&'static str, &'a str)],
    /// Time to answer.
    pub elapsed: Duration,
}

impl fmt::Display for RequestLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] {} {} {}",
            self.service,
            self.method,
            self.path,
            self.status.as_u16()
        )?;
        for (key, value) in self.fields.iter().filter(|(_, value)| !value.is_empty()) {
            write!(f, " {key}={value}")?;
        }
        write!(f, " {:.1}ms", self.elapsed.as_secs_f64() * 1000.0)
    }
}

/// A client id shortened for a log line: ids are public, but 43 characters drown the line and
/// a prefix is enough to tell clients apart.
pub fn short_id(id: &str) -> String {
    id.chars().take(8).collect()
}

/// A grant type named for a log line: the URN grants by their last part (`jwt-bearer`,
/// `token-exchange`); the journal's JSON keeps the full name.
pub fn short_grant(grant: &str) -> &str {
    grant
        .strip_prefix("urn:ietf:params:oauth:grant-type:")
        .unwrap_or(grant)
}

/// The innermost cause of an error, which is the part that says what happened ("Connection
/// refused", "invalid peer certificate"); clients wrap it in messages such as "error sending
/// request".
pub fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Log target of request lines, so that a subscriber can format them apart from other events.
pub const TARGET: &str = "request";

impl RequestLine<'_> {
    /// Emits the line: a warning for server errors, information otherwise.
    ///
    /// The message is the whole line; the facts also travel as fields, so that a JSON log
    /// (`LOG=json`) has them as keys. Field values are computed only when the level is enabled.
    pub fn emit(&self) {
        macro_rules! emit {
            ($level:ident) => {
                tracing::$level!(
                    target: TARGET,
                    service = self.service,
                    method = %self.method,
                    path = self.path,
                    status = self.status.as_u16(),
                    ms = self.elapsed.as_secs_f64() * 1000.0,
                    issuer = self.fact("issuer"),
                    grant = self.fact("grant"),
                    client = self.fact("client"),
                    rpc = self.fact("rpc"),
                    tool = self.fact("tool"),
                    sub = self.fact("sub"),
                    error = self.fact("error"),
                    note = self.fact("note"),
                    "{self}"
                )
            };
        }
        if self.status.is_server_error() {
            emit!(warn);
        } else {
            emit!(info);
        }
    }

    fn fact(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(name, value)| *name == key && !value.is_empty())
            .map(|(_, value)| *value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_leads_with_service_and_skips_empty_fields() {
        let line = RequestLine {
            service: "oauth",
            method: &Method::POST,
            path: "/token",
            status: StatusCode::OK,
            fields: &[
                ("grant", "refresh_token"),
                ("error", ""),
                ("client", "abc…"),
            ],
            elapsed: Duration::from_micros(250),
        };
        assert_eq!(
            line.to_string(),
            "[oauth] POST /token 200 grant=refresh_token client=abc… 0.2ms"
        );
    }
}
