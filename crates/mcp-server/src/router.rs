//! Routing: one `match (method, path)` for the whole server, and what each request leaves
//! behind: its log line and its journal event.

use std::sync::Arc;

use http::{Method, Request};
use hyper::body::Incoming;
use sim_http::Response;
use sim_http::observe::{Field, Observation};
use sim_http::response::{method_not_allowed, not_found, preflight, with_cors};

use crate::cohost::Cohost;
use crate::config::MCP_PATH;
use crate::endpoints::{control, mcp, metadata};
use crate::introspection::Identity;
use crate::profile::Profile;
use crate::state::State;

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
    // One profile for the whole request, however the control plane changes it meanwhile.
    let profile = state.profile();
    if let Some(cohost) = handed_over(&state, &profile, request.uri().path()) {
        // Not logged or journaled here: the co-hosted server records its own requests.
        return cohost.handle(request).await;
    }
    let seen = Observation::begin(&request);
    let mut facts = Facts::default();
    let response = route(&state, &profile, request, &mut facts).await;
    seen.end("mcp", &LINE, &response, facts, &state.journal);
    response
}

/// `/mcp` allows these methods (GET and DELETE get rmcp's 405 in stateless mode, after auth).
const MCP_METHODS: &str = "GET, POST, DELETE, OPTIONS";

/// The co-hosted server, when it is the one to answer `path`: any path but `/mcp`, the
/// control plane and the metadata locations served now. A metadata path the profile does not
/// serve goes to it too, so that the server co-hosted on this origin may answer it.
fn handed_over<'a>(state: &'a State, profile: &Profile, path: &str) -> Option<&'a Cohost> {
    let ours =
        path == MCP_PATH || path.starts_with(control::PREFIX) || profile.serving(path).is_some();
    state.config.cohost.as_ref().filter(|_| !ours)
}

async fn route(
    state: &State,
    profile: &Profile,
    request: Request<Incoming>,
    facts: &mut Facts,
) -> Response {
    let path = request.uri().path();
    if path.starts_with(control::PREFIX) {
        return control::handle(state, request).await;
    }
    // A custom metadata location is never `/mcp` (the profile refuses it), so the arms
    // cannot overlap.
    match (request.method(), path, profile.serving(path)) {
        // Browsers send preflights without credentials: they must pass without a token.
        (&Method::OPTIONS, MCP_PATH, _) => preflight(MCP_METHODS),
        (&Method::OPTIONS, _, Some(_)) => preflight("GET, OPTIONS"),
        (_, MCP_PATH, _) => with_cors(mcp::handle(state, profile, request, facts).await),
        (&Method::GET | &Method::HEAD, _, Some(location)) => {
            let (headers, uri) = (request.headers(), request.uri());
            with_cors(metadata::handle(state, profile, location, headers, uri, facts).await)
        }
        (_, _, Some(_)) => with_cors(method_not_allowed("GET")),
        (_, path, None) => not_found(path),
    }
}
