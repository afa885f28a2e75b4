//! Routing: one `match (method, path)` for the whole server, and what each request leaves
//! behind: its log line and its journal event.

use std::sync::Arc;
use std::time::Instant;

use http::{Method, Request};
use hyper::body::Incoming;
use sim_http::Response;
use sim_http::journal::{self, Event};
use sim_http::log::{RequestLine, short_id};
use sim_http::response::{method_not_allowed, not_found, preflight, with_cors};

use crate::config::MCP_PATH;
use crate::endpoints::{control, mcp, metadata};
use crate::introspection::Identity;
use crate::rpc::Glance;
use crate::state::State;
use crate::urls::{PRM_PATH, PRM_ROOT_PATH};

/// Facts a handler learns while answering, for the request's log line and journal event.
/// Never a whole token.
#[derive(Debug, Default)]
pub struct Facts {
    pub rpc: Glance,
    pub subject: String,
    /// The full client id (ids are public); the log line shortens it.
    pub client_id: String,
    /// The bearer token presented, redacted.
    pub presented: Option<String>,
    /// The error code answered, if any.
    pub error: String,
    pub note: &'static str,
    /// The fault rule that fired on the request.
    pub fault: Option<u64>,
}

impl Facts {
    pub fn identify(&mut self, identity: &Identity) {
        self.subject = identity.subject.clone().unwrap_or_default();
        self.client_id = identity.client_id.clone().unwrap_or_default();
    }
}

pub async fn handle(state: Arc<State>, request: Request<Incoming>) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut facts = Facts::default();
    let response = route(&state, request, &mut facts).await;
    let elapsed = started.elapsed();
    let client = short_id(&facts.client_id);
    RequestLine {
        service: "mcp",
        method: &method,
        path: &path,
        status: response.status(),
        fields: &[
            ("rpc", &facts.rpc.method),
            ("tool", &facts.rpc.tool),
            ("sub", &facts.subject),
            ("client", &client),
            ("error", &facts.error),
            ("note", facts.note),
        ],
        elapsed,
    }
    .emit();
    if journal::records(&method, &path) {
        let answered = Event::answered("mcp", &method, path, &response, elapsed);
        state.journal.record(event(answered, facts));
    }
    response
}

/// The journal event of a request: what the handler learned, on top of what was answered.
fn event(answered: Event, facts: Facts) -> Event {
    let given = |value: String| (!value.is_empty()).then_some(value);
    Event {
        client_id: given(facts.client_id),
        rpc_method: given(facts.rpc.method),
        tool: given(facts.rpc.tool),
        fault: facts.fault,
        error: given(facts.error),
        subject: given(facts.subject),
        presented: facts.presented,
        note: given(facts.note.to_owned()),
        ..answered
    }
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
