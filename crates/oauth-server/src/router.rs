//! Routing: one `match (method, path)` for the whole server, and what each request leaves behind:
//! a log line and a journal event.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Method, Request};
use hyper::body::Incoming;
use sim_http::Response;
use sim_http::faults::DropConnection;
use sim_http::journal::Event;
use sim_http::log::{RequestLine, short_id};
use sim_http::response::{method_not_allowed, not_found, preflight, with_cors};
use sim_http::secret::redact;

use crate::endpoints::{authorize, control, introspect, metadata, register, revoke, token};
use crate::state::State;

/// Facts a handler learns while answering, for the request's log line and journal event. Never a
/// whole secret: client ids are public, credentials are kept redacted.
#[derive(Debug, Default)]
pub struct Facts {
    /// `authorization_code`, `refresh_token` or `other`.
    pub grant: &'static str,
    /// The full id of a registered client (the log line shortens it).
    pub client: Option<String>,
    /// The OAuth error code answered.
    pub error: Option<String>,
    pub note: String,
    /// The fault rule that fired.
    pub fault: Option<u64>,
    /// The resource owner the tokens are for.
    pub subject: Option<String>,
    /// The credential presented (code, refresh token, token to check or revoke), redacted.
    pub presented: Option<String>,
    /// The credential issued (code; refresh token, else access token), redacted.
    pub issued: Option<String>,
}

impl Facts {
    pub fn client(&mut self, client_id: &str) {
        self.client = Some(client_id.to_owned());
    }

    pub fn presented(&mut self, secret: &str) {
        self.presented = Some(redact(secret));
    }

    pub fn issued(&mut self, secret: &str) {
        self.issued = Some(redact(secret));
    }
}

/// The longest path a journal event keeps: paths come from clients.
const MAX_JOURNAL_PATH: usize = 256;

pub async fn handle(state: Arc<State>, request: Request<Incoming>) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut facts = Facts::default();
    let response = route(&state, request, &mut facts).await;
    let elapsed = started.elapsed();
    let dropped = response.extensions().get::<DropConnection>().is_some();
    let client = facts.client.as_deref().map(short_id).unwrap_or_default();
    let fault = facts.fault.map(|id| id.to_string()).unwrap_or_default();
    RequestLine {
        service: "oauth",
        method: &method,
        path: &path,
        status: response.status(),
        fields: &[
            ("grant", facts.grant),
            ("client", &client),
            ("error", facts.error.as_deref().unwrap_or_default()),
            ("fault", &fault),
            ("note", &facts.note),
        ],
        elapsed,
    }
    .emit();
    if is_journaled(&method, &path) {
        // A dropped connection got no answer at all: status 0.
        let status = if dropped {
            0
        } else {
            response.status().as_u16()
        };
        state
            .journal
            .record(event(method, path, status, elapsed, facts));
    }
    response
}

/// Every request but the reads of the control plane (polling the journal must not fill it) and
/// CORS preflights.
fn is_journaled(method: &Method, path: &str) -> bool {
    let control_read = (method == Method::GET || method == Method::HEAD)
        && (path == control::PREFIX || path.starts_with("/control/"));
    !control_read && method != Method::OPTIONS
}

fn event(method: Method, mut path: String, status: u16, elapsed: Duration, facts: Facts) -> Event {
    if let Some((cut, _)) = path.char_indices().nth(MAX_JOURNAL_PATH) {
        path.truncate(cut);
        path.push('…');
    }
    let Facts {
        grant,
        client,
        error,
        note,
        fault,
        subject,
        presented,
        issued,
    } = facts;
    Event {
        service: "oauth",
        method: method.to_string(),
        path,
        status,
        ms: (elapsed.as_secs_f64() * 100_000.0).round() / 100.0,
        client_id: client,
        grant_type: (!grant.is_empty()).then(|| grant.to_owned()),
        fault,
        error,
        subject,
        presented,
        issued,
        note: (!note.is_empty()).then_some(note),
        ..Event::default()
    }
}

/// Endpoints that browser-based clients call cross-origin, and the methods each allows.
fn cors_methods(path: &str) -> Option<&'static str> {
    match path {
        metadata::PATH => Some("GET, OPTIONS"),
        "/register" | "/token" | "/revoke" => Some("POST, OPTIONS"),
        "/introspect" => Some("GET, POST, OPTIONS"),
        _ => None,
    }
}

async fn route(state: &State, request: Request<Incoming>, facts: &mut Facts) -> Response {
    let path = request.uri().path();
    if path.starts_with(control::PREFIX) {
        return control::handle(state, request).await;
    }
    if request.method() == Method::OPTIONS
        && let Some(methods) = cors_methods(path)
    {
        return preflight(methods);
    }
    match (request.method(), path) {
        (&Method::GET | &Method::HEAD, metadata::PATH) => {
            with_cors(metadata::handle(state, facts).await)
        }
        (&Method::POST, "/register") => with_cors(register::handle(state, request, facts).await),
        (&Method::GET | &Method::POST, "/authorize") => {
            authorize::handle(state, request, facts).await
        }
        (&Method::POST, "/token") => with_cors(token::handle(state, request, facts).await),
        (&Method::GET | &Method::POST, "/introspect") => {
            with_cors(introspect::handle(state, request, facts).await)
        }
        (&Method::POST, "/revoke") => with_cors(revoke::handle(state, request, facts).await),
        (_, metadata::PATH) => with_cors(method_not_allowed("GET")),
        (_, "/register" | "/token" | "/revoke") => with_cors(method_not_allowed("POST")),
        (_, "/introspect") => with_cors(method_not_allowed("GET, POST")),
        (_, "/authorize") => method_not_allowed("GET, POST"),
        (_, path) => not_found(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_reads_and_preflights_are_not_journaled() {
        assert!(!is_journaled(&Method::GET, "/control/events"));
        assert!(!is_journaled(&Method::HEAD, "/control/state"));
        assert!(!is_journaled(&Method::GET, "/control"));
        assert!(!is_journaled(&Method::OPTIONS, "/token"));
        assert!(is_journaled(&Method::POST, "/control/faults"));
        assert!(is_journaled(&Method::DELETE, "/control/faults/3"));
        assert!(is_journaled(&Method::GET, "/authorize"));
        assert!(is_journaled(&Method::GET, "/controlled"));
    }

    #[test]
    fn events_round_the_time_and_bound_the_path() {
        let facts = Facts {
            grant: "refresh_token",
            note: String::new(),
            ..Facts::default()
        };
        let event = event(
            Method::POST,
            format!("/{}", "x".repeat(1000)),
            200,
            Duration::from_micros(1_234_567),
            facts,
        );
        assert_eq!(event.ms, 1234.57);
        assert_eq!(event.path.chars().count(), MAX_JOURNAL_PATH + 1);
        assert_eq!(event.grant_type.as_deref(), Some("refresh_token"));
        assert_eq!(event.note, None);
        assert_eq!(event.status, 200);
    }
}
