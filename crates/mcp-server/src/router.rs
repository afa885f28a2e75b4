//! Routing: one `match (method, path)` for the whole server, and what each request leaves
//! behind: its log line and its journal event.

use std::sync::Arc;

use http::{Method, Request};
use hyper::body::Incoming;
use sim_http::Response;
use sim_http::observe::{Field, Observation};
use sim_http::response::{method_not_allowed, not_found, preflight, with_cors};

use crate::config::MCP_PATH;
use crate::endpoints::{control, mcp, metadata};
use crate::introspection::Identity;
use crate::state::State;
use crate::urls::{PRM_PATH, PRM_ROOT_PATH};

pub use sim_http::observe::Facts;

/// What the MCP server's log line shows, in this order.
const LINE: [Field; 6] = [
    Field::Rpc,
    Field::Tool,
    Field::Sub,
    Field::Client,
    Field::Error,
    Field::Note,
];

/// Notes in `facts` who the token stood for.
pub fn identify(facts: &mut Facts, identity: &Identity) {
    facts.subject = identity.subject.clone();
    facts.client = identity.client_id.clone();
}

pub async fn handle(state: Arc<State>, request: Request<Incoming>) -> Response {
    let seen = Observation::begin(&request);
    let mut facts = Facts::default();
    let response = route(&state, request, &mut facts).await;
    seen.end("mcp", &LINE, &response, facts, &state.journal);
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
            with_cors(metadata::handle(state, request.headers(), request.uri(), facts).await)
        }
        (_, PRM_PATH | PRM_ROOT_PATH) => with_cors(method_not_allowed("GET")),
        (_, path) => not_found(path),
    }
}
