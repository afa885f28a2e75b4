//! Routing: one `match (method, path)` for the whole server, and the request log line.

use std::sync::Arc;
use std::time::Instant;

use http::{Method, Request};
use hyper::body::Incoming;
use sim_http::Response;
use sim_http::log::{RequestLine, short_id};
use sim_http::response::{method_not_allowed, not_found, preflight, with_cors};

use crate::config::MCP_PATH;
use crate::endpoints::{control, mcp, metadata};
use crate::introspection::Identity;
use crate::rpc::Glance;
use crate::state::State;
use crate::urls::{PRM_PATH, PRM_ROOT_PATH};

/// Facts a handler learns while answering, for the request's log line. Never the token.
#[derive(Debug, Default)]
pub struct Facts {
    pub rpc: Glance,
    pub subject: String,
    pub client: String,
    pub error: &'static str,
    pub note: &'static str,
}

impl Facts {
    pub fn identify(&mut self, identity: &Identity) {
        self.subject = identity.subject.clone().unwrap_or_default();
        self.client = short_id(identity.client_id.as_deref().unwrap_or_default());
    }
}

pub async fn handle(state: Arc<State>, request: Request<Incoming>) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut facts = Facts::default();
    let response = route(&state, request, &mut facts).await;
    RequestLine {
        service: "mcp",
        method: &method,
        path: &path,
        status: response.status(),
        fields: &[
            ("rpc", &facts.rpc.method),
            ("tool", &facts.rpc.tool),
            ("sub", &facts.subject),
            ("client", &facts.client),
            ("error", facts.error),
            ("note", facts.note),
        ],
        elapsed: started.elapsed(),
    }
    .emit();
    response
}

/// `/mcp` allows these methods (GET and DELETE get rmcp's 405 in stateless mode, after auth).
const MCP_METHODS: &str = "GET, POST, DELETE, OPTIONS";

async fn route(state: &State, request: Request<Incoming>, facts: &mut Facts) -> Response {
    let path = request.uri().path();
    if path.starts_with(control::PREFIX) {
        return control::handle(state, request).await;
    }
    match (request.method(), path) {
        // Browsers send preflights without credentials: they must pass without a token.
        (&Method::OPTIONS, MCP_PATH) => preflight(MCP_METHODS),
        (&Method::OPTIONS, PRM_PATH | PRM_ROOT_PATH) => preflight("GET, OPTIONS"),
        (_, MCP_PATH) => with_cors(mcp::handle(state, request, facts).await),
        (&Method::GET | &Method::HEAD, PRM_PATH | PRM_ROOT_PATH) => {
            with_cors(metadata::handle(state, request.headers(), request.uri()))
        }
        (_, PRM_PATH | PRM_ROOT_PATH) => with_cors(method_not_allowed("GET")),
        (_, path) => not_found(path),
    }
}
