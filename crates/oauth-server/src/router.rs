//! Routing: one `match (method, path)` for the whole server, and the request log line.

use std::sync::Arc;
use std::time::Instant;

use http::{Method, Request};
use hyper::body::Incoming;
use sim_http::Response;
use sim_http::log::{RequestLine, short_id};
use sim_http::response::{method_not_allowed, not_found, preflight, with_cors};

use crate::endpoints::{authorize, control, introspect, metadata, register, revoke, token};
use crate::state::State;

/// Facts a handler learns while answering, for the request's log line. Never secrets: client
/// ids are public, tokens are not logged.
#[derive(Debug, Default)]
pub struct Facts {
    pub grant: &'static str,
    pub client: String,
    pub error: &'static str,
    pub note: String,
}

impl Facts {
    pub fn client(&mut self, client_id: &str) {
        self.client = short_id(client_id);
    }
}

pub async fn handle(state: Arc<State>, request: Request<Incoming>) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut facts = Facts::default();
    let response = route(&state, request, &mut facts).await;
    RequestLine {
        service: "oauth",
        method: &method,
        path: &path,
        status: response.status(),
        fields: &[
            ("grant", facts.grant),
            ("client", &facts.client),
            ("error", facts.error),
            ("note", &facts.note),
        ],
        elapsed: started.elapsed(),
    }
    .emit();
    response
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
        (&Method::GET | &Method::HEAD, metadata::PATH) => with_cors(metadata::handle(state)),
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
