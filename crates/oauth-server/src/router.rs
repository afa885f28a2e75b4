//! Routing: one `match (method, path)` for the whole server, and what each request leaves behind:
//! a log line and a journal event.

use std::sync::Arc;
use std::time::Instant;

use http::{Method, Request};
use hyper::body::Incoming;
use sim_http::Response;
use sim_http::journal::{self, Event};
use sim_http::log::{RequestLine, short_id};
use sim_http::response::{method_not_allowed, not_found, preflight, with_cors};
use sim_http::secret::redact;

use crate::config::MAIN_ISSUER;
use crate::endpoints::{authorize, control, introspect, metadata, register, revoke, token};
use crate::host::Host;

/// Facts a handler learns while answering, for the request's log line and journal event. Never a
/// whole secret: client ids are public, credentials are kept redacted.
#[derive(Debug, Default)]
pub struct Facts {
    /// The name of the issuer the request was routed to.
    pub issuer: Option<String>,
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

/// Answers a request that arrived on the listener of `port`.
pub async fn handle(host: Arc<Host>, port: u16, request: Request<Incoming>) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut facts = Facts::default();
    let response = route(&host, port, request, &mut facts).await;
    let elapsed = started.elapsed();
    // `main` goes unnamed in the line, which stays as it was before there were other issuers.
    let issuer = facts
        .issuer
        .as_deref()
        .filter(|name| *name != MAIN_ISSUER)
        .unwrap_or_default();
    let client = facts.client.as_deref().map(short_id).unwrap_or_default();
    let fault = facts.fault.map(|id| id.to_string()).unwrap_or_default();
    RequestLine {
        service: "oauth",
        method: &method,
        path: &path,
        status: response.status(),
        fields: &[
            ("issuer", issuer),
            ("grant", facts.grant),
            ("client", &client),
            ("error", facts.error.as_deref().unwrap_or_default()),
            ("fault", &fault),
            ("note", &facts.note),
        ],
        elapsed,
    }
    .emit();
    if journal::records(&method, &path) {
        let answered = Event::answered("oauth", &method, path, &response, elapsed);
        host.journal.record(event(answered, facts));
    }
    response
}

/// The journal event of a request: what the handler learned, on top of what was answered.
fn event(answered: Event, facts: Facts) -> Event {
    let Facts {
        issuer,
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
        issuer,
        client_id: client,
        grant_type: (!grant.is_empty()).then(|| grant.to_owned()),
        fault,
        error,
        subject,
        presented,
        issued,
        note: (!note.is_empty()).then_some(note),
        ..answered
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

async fn route(
    host: &Arc<Host>,
    port: u16,
    request: Request<Incoming>,
    facts: &mut Facts,
) -> Response {
    let path = request.uri().path();
    if path.starts_with(control::PREFIX) {
        return control::handle(host, request).await;
    }
    let Some((state, endpoint)) = host.resolve(port, path) else {
        return not_found(path);
    };
    let state = &*state;
    facts.issuer = Some(state.place.name.clone());
    if request.method() == Method::OPTIONS
        && let Some(methods) = cors_methods(endpoint)
    {
        return preflight(methods);
    }
    match (request.method(), endpoint) {
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
        (_, _) => not_found(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_carry_the_facts_and_leave_out_empty_ones() {
        let facts = Facts {
            grant: "refresh_token",
            note: String::new(),
            ..Facts::default()
        };
        let event = event(Event::default(), facts);
        assert_eq!(event.grant_type.as_deref(), Some("refresh_token"));
        assert_eq!(event.note, None);
    }
}
