//! Routing: one `match (method, path)` for the whole server, and what each request leaves behind:
//! a log line and a journal event.

use std::sync::Arc;

use http::{Method, Request};
use hyper::body::Incoming;
use sim_http::Response;
use sim_http::observe::{Field, Observation};
use sim_http::response::{method_not_allowed, not_found, preflight, with_cors};

use crate::endpoints::{
    authorize, control, decision, introspect, metadata, register, revoke, token,
};
use crate::host::Host;

pub use sim_http::observe::Facts;

/// What the authorization server's log line shows, in this order.
const LINE: [Field; 6] = [
    Field::Issuer,
    Field::Grant,
    Field::Client,
    Field::Error,
    Field::Fault,
    Field::Note,
];

/// Answers a request that arrived on the listener of `port`.
pub async fn handle(host: Arc<Host>, port: u16, request: Request<Incoming>) -> Response {
    observed(host, port, request, Plane::Served).await
}

/// Answers a request another server handed over from its listener on `port`: as [`handle`],
/// except that the control plane is not there (it is the other server's path space).
pub async fn handle_cohosted(host: Arc<Host>, port: u16, request: Request<Incoming>) -> Response {
    observed(host, port, request, Plane::Absent).await
}

/// Whether `/control` is this server's on the listener.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Plane {
    Served,
    Absent,
}

async fn observed(
    host: Arc<Host>,
    port: u16,
    request: Request<Incoming>,
    plane: Plane,
) -> Response {
    let seen = Observation::begin(&request);
    let mut facts = Facts::default();
    let response = route(&host, port, request, plane, &mut facts).await;
    seen.end("oauth", &LINE, &response, facts, &host.journal);
    response
}

/// Endpoints that browser-based clients call cross-origin, and the methods each allows.
fn cors_methods(path: &str) -> Option<&'static str> {
    match path {
        metadata::PATH | metadata::OIDC | metadata::JWKS => Some("GET, OPTIONS"),
        "/register" | "/token" | "/revoke" => Some("POST, OPTIONS"),
        "/introspect" => Some("GET, POST, OPTIONS"),
        _ => None,
    }
}

async fn route(
    host: &Arc<Host>,
    port: u16,
    request: Request<Incoming>,
    plane: Plane,
    facts: &mut Facts,
) -> Response {
    let path = request.uri().path();
    if plane == Plane::Served && path.starts_with(control::PREFIX) {
        return control::handle(host, request).await;
    }
    let Some((state, endpoint)) = host.resolve(port, path) else {
        return not_found(path);
    };
    let state = &*state;
    facts.issuer = Some(state.place.name.clone());
    // Registration turned off: as if there were no such endpoint (RFC 7591 is optional).
    if endpoint == "/register" && !state.live().profile.registration {
        return not_found(path);
    }
    if request.method() == Method::OPTIONS
        && let Some(methods) = cors_methods(endpoint)
    {
        return preflight(methods);
    }
    match (request.method(), endpoint) {
        (&Method::GET | &Method::HEAD, metadata::PATH | metadata::OIDC | metadata::JWKS) => {
            with_cors(metadata::handle(state, endpoint, facts).await)
        }
        (&Method::POST, "/register") => with_cors(register::handle(state, request, facts).await),
        (&Method::GET | &Method::POST, "/authorize") => {
            authorize::handle(state, request, facts).await
        }
        (&Method::POST, decision::PATH) => decision::handle(state, request, facts).await,
        (&Method::POST, "/token") => with_cors(token::handle(state, request, facts).await),
        (&Method::GET | &Method::POST, "/introspect") => {
            with_cors(introspect::handle(state, request, facts).await)
        }
        (&Method::POST, "/revoke") => with_cors(revoke::handle(state, request, facts).await),
        (_, metadata::PATH | metadata::OIDC | metadata::JWKS) => {
            with_cors(method_not_allowed("GET"))
        }
        (_, "/register" | "/token" | "/revoke") => with_cors(method_not_allowed("POST")),
        (_, "/introspect") => with_cors(method_not_allowed("GET, POST")),
        (_, "/authorize") => method_not_allowed("GET, POST"),
        (_, decision::PATH) => method_not_allowed("POST"),
        (_, _) => not_found(path),
    }
}
