//! `/control/*` of the MCP server: its failure switches, state and counters. Every call answers
//! the resulting state.

use std::sync::atomic::Ordering;

use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use sim_http::Response;
use sim_http::control::{self, Call, Entry, Switch};
use sim_http::response::{json, plain_error};

use crate::state::State;

pub const PREFIX: &str = "/control";

const INDEX: [Entry; 3] = [
    (
        "GET",
        "/control/state",
        "toggles, counters and the URLs in use",
    ),
    (
        "POST",
        "/control/force-403",
        r#"{"on": bool} — every tools/call answers 403 insufficient_scope"#,
    ),
    (
        "POST",
        "/control/reset",
        "toggles and counters back to start-up",
    ),
];

pub async fn handle(state: &State, request: Request<Incoming>) -> Response {
    let call = match Call::read(&state.config.control, request).await {
        Ok(call) => call,
        Err(answer) => return answer,
    };
    let outcome = match (&call.method, call.path.as_str()) {
        (&Method::GET, "/control") => return control::index("mcp", &INDEX),
        (&Method::GET, "/control/state") => Ok(()),
        (&Method::POST, "/control/force-403") => call
            .arguments()
            .map(|Switch { on }| state.toggles.force_403.store(on, Ordering::Relaxed)),
        (&Method::POST, "/control/reset") => call.no_arguments().map(|()| state.reset()),
        (_, path) => return control::unrouted(path, &INDEX),
    };
    match outcome {
        Ok(()) => json(StatusCode::OK, &state.snapshot()),
        Err(message) => plain_error(StatusCode::BAD_REQUEST, &message),
    }
}
