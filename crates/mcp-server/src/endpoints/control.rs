//! `/control/*` of the MCP server: fault rules, the journal, its failure switches, the
//! profile, the trusted authorization servers and their migration, the public base URL, state
//! and counters. Fault and journal calls answer as [`sim_http`] defines them; every other call
//! answers the resulting state.

use std::collections::BTreeMap;

use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::{Map, Value};
use sim_http::Response;
use sim_http::control::{self, Alias, Call, Entry, Switch};
use sim_http::faults;
use sim_http::response::{json, plain_error};

use crate::config::AuthorizationServer;
use crate::faults::{FORCE_403, force_403};
use crate::snapshot::IntrospectionFailure;
use crate::state::State;

pub const PREFIX: &str = "/control";

const INDEX: [Entry; 19] = [
    (
        "GET",
        "/control/state",
        "toggles, settings, counters and the URLs in use",
    ),
    (
        "GET",
        "/control/faults",
        "the fault rules in place, presets included",
    ),
    (
        "POST",
        "/control/faults",
        r#"{"endpoint": "prm"|"mcp", "match": {"client_id", "method", "tool"}, "respond": {...}, "times": N} — add a fault rule"#,
    ),
    ("DELETE", "/control/faults", "remove every fault rule"),
    ("DELETE", "/control/faults/{id}", "remove one fault rule"),
    (
        "GET",
        "/control/events",
        "?since=SEQ&limit=N — the requests this server answered",
    ),
    (
        "GET",
        "/control/events/stream",
        "?since=SEQ — the same, live, as Server-Sent Events (Last-Event-ID resumes)",
    ),
    (
        "POST",
        "/control/bad-scope",
        r#"{"on": bool} — every tools/call answers 403 insufficient_scope (the force-403 fault preset; also /control/force-403)"#,
    ),
    (
        "POST",
        "/control/introspection-failure",
        r#"{"mode": "503"|"401"} — the answer when the authorization server cannot check a token"#,
    ),
    (
        "POST",
        "/control/step-up",
        r#"{"add": "mcp:write", "whoami": null} — scopes a tool needs (merged; null removes; also /control/tool-scopes)"#,
    ),
    (
        "GET",
        "/control/authorization-servers",
        "the authorization servers trusted now, in order, each with its introspection URL",
    ),
    (
        "POST",
        "/control/authorization-servers",
        r#"{"authorization_servers": [{"issuer": "…", "introspection_url": "…"}]} — replace them: the metadata lists these, tokens of any other are refused 401"#,
    ),
    (
        "POST",
        "/control/migrate",
        r#"{"authorization_servers": [{"issuer": "…", "introspection_url": "…"}], "after": N} — after N more authenticated /mcp requests (0: now) trust these instead"#,
    ),
    (
        "POST",
        "/control/base-url",
        r#"{"base_url": "https://x.example"|null, "keep_old_audience": bool} — answer as this public origin from now on (null: the loopback name the client used); tokens for the old URL stay accepted unless keep_old_audience is false"#,
    ),
    (
        "POST",
        "/control/rename-authorization-server",
        r#"{"from": "…", "to": "…"} — the trusted (and start-up, and migration) authorization server with issuer `from` has issuer `to` now: its issuer was re-pointed"#,
    ),
    (
        "GET",
        "/control/profile",
        "the profile in force: metadata locations, challenge shaping, lazy auth, required scopes",
    ),
    (
        "POST",
        "/control/profile",
        r#"{"prm": ["path","root","custom:/p"], "challenge_scope": "required"|"omit"|[…], …} — change these fields (null: back to start-up)"#,
    ),
    (
        "POST",
        "/control/reset",
        "faults, events, settings, profile, authorization servers, base URL and counters back to start-up; no migration, no former audiences",
    ),
    ("GET", "/control", "this list"),
];

/// The switches' earlier paths (each still works): the paths are the `scenario` names now.
const ALIASES: [Alias; 2] = [
    ("/control/force-403", "/control/bad-scope"),
    ("/control/tool-scopes", "/control/step-up"),
];

/// The arguments of `POST /control/introspection-failure`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Mode {
    mode: String,
}

/// The arguments of `POST /control/authorization-servers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Servers {
    authorization_servers: Vec<AuthorizationServer>,
}

/// Applies `POST /control/base-url` `{"base_url": "https://x.example" | null,
/// "keep_old_audience": bool}` (`keep_old_audience` absent: true). Read field by field, so
/// that an error names its field.
fn repoint(state: &State, arguments: Map<String, Value>) -> Result<(), String> {
    let mut base_url = None;
    let mut keep_old_audience = true;
    for (field, value) in arguments {
        match field.as_str() {
            "base_url" => {
                base_url = Some(
                    Option::<String>::deserialize(value)
                        .map_err(|error| format!("base_url: {error}"))?,
                );
            }
            "keep_old_audience" => {
                keep_old_audience = bool::deserialize(value)
                    .map_err(|error| format!("keep_old_audience: {error}"))?;
            }
            _ => {
                let shown: String = field.chars().take(64).collect();
                return Err(format!(
                    "unknown field '{shown}'; the fields are base_url, keep_old_audience"
                ));
            }
        }
    }
    let base_url = base_url.ok_or(
        "base_url: missing; give the public origin (https://x.example), or null for loopback",
    )?;
    state.repoint(base_url.as_deref(), keep_old_audience)
}

/// The arguments of `POST /control/rename-authorization-server`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Renamed {
    from: String,
    to: String,
}

/// Whether the server answers under loopback names only.
fn is_local(state: &State) -> bool {
    state
        .snapshot()
        .base_url
        .as_deref()
        .is_none_or(sim_http::public_url::is_loopback)
}

/// The state after a re-point. When it moved the server from loopback to a URL reachable from
/// outside and the control plane required no token, it requires one from now on, as a start-up
/// with that URL would; the token is told in this answer and the log only. (A server configured
/// with a public URL and an open control plane was set up so by its embedder, and stays so.)
fn repointed(state: &State, was_local: bool) -> Response {
    let snapshot = state.snapshot();
    let mut answer = serde_json::to_value(&snapshot).unwrap_or_default();
    let exposed = was_local && !is_local(state);
    if let Some(token) = exposed.then(|| state.config.control.expose()).flatten() {
        answer["control_token"] = token.into();
    }
    json(StatusCode::OK, &answer)
}

/// `after` is a count of requests a test makes; more than this is a mistake.
const MAX_AFTER: u64 = 1_000_000;

/// Applies `POST /control/migrate` `{"authorization_servers": […], "after": N}` (`after`
/// absent: now). Read field by field, so that an error names its field.
fn migrate(state: &State, arguments: Map<String, Value>) -> Result<(), String> {
    let mut servers = None;
    let mut after = 0;
    for (field, value) in arguments {
        match field.as_str() {
            "authorization_servers" => {
                servers = Some(
                    Vec::<AuthorizationServer>::deserialize(value)
                        .map_err(|error| format!("authorization_servers: {error}"))?,
                );
            }
            "after" => {
                after = u64::deserialize(value).map_err(|error| format!("after: {error}"))?;
            }
            _ => {
                let shown: String = field.chars().take(64).collect();
                return Err(format!(
                    "unknown field '{shown}'; the fields are authorization_servers, after"
                ));
            }
        }
    }
    let servers = servers.ok_or("authorization_servers: missing; list the servers to trust")?;
    if after > MAX_AFTER {
        return Err(format!("after: at most {MAX_AFTER} requests, not {after}"));
    }
    state.migrate(&servers, after)
}

fn trusted(state: &State) -> Response {
    let trusted = state.trusted();
    let servers: Vec<&AuthorizationServer> =
        trusted.iter().map(|checker| &checker.server).collect();
    json(
        StatusCode::OK,
        &serde_json::json!({ "authorization_servers": servers }),
    )
}

pub async fn handle(state: &State, request: Request<Incoming>) -> Response {
    let call = match Call::read(&state.config.control, request).await {
        Ok(call) => call,
        Err(answer) => return answer,
    };
    if let Some(answer) = faults::control(&state.faults, &call) {
        return answer;
    }
    if let Some(answer) = state.journal.control(&call) {
        return answer;
    }
    let outcome = match (&call.method, control::canonical(&call.path, &ALIASES)) {
        (&Method::GET, "/control") => return control::index("mcp", &INDEX, &ALIASES),
        (&Method::GET, "/control/state") => Ok(()),
        (&Method::POST, "/control/bad-scope") => call
            .arguments()
            .and_then(|Switch { on }| state.faults.set_preset(FORCE_403, on.then(force_403))),
        (&Method::POST, "/control/introspection-failure") => call
            .arguments()
            .and_then(|Mode { mode }| mode.parse::<IntrospectionFailure>())
            .map(|answer| state.set_outage_answer(answer)),
        (&Method::POST, "/control/step-up") => call
            .arguments::<BTreeMap<String, Option<String>>>()
            .and_then(|changes| state.merge_tool_scopes(changes)),
        (&Method::GET, "/control/authorization-servers") => return trusted(state),
        (&Method::POST, "/control/authorization-servers") => call.arguments().and_then(
            |Servers {
                 authorization_servers,
             }| state.trust(&authorization_servers),
        ),
        (&Method::POST, "/control/migrate") => call
            .arguments()
            .and_then(|arguments| migrate(state, arguments)),
        (&Method::POST, "/control/base-url") => {
            let was_local = is_local(state);
            return match call
                .arguments()
                .and_then(|arguments| repoint(state, arguments))
            {
                Ok(()) => repointed(state, was_local),
                Err(message) => plain_error(StatusCode::BAD_REQUEST, &message),
            };
        }
        (&Method::POST, "/control/rename-authorization-server") => {
            match call.arguments::<Renamed>() {
                Ok(Renamed { from, to }) => {
                    if let Err(message) = state.rename_authorization_server(&from, &to) {
                        return plain_error(StatusCode::NOT_FOUND, &message);
                    }
                    Ok(())
                }
                Err(message) => Err(message),
            }
        }
        (&Method::GET, "/control/profile") => {
            return json(StatusCode::OK, &*state.profile());
        }
        (&Method::POST, "/control/profile") => call
            .arguments::<Value>()
            .and_then(|patch| state.merge_profile(patch)),
        (&Method::POST, "/control/reset") => call.no_arguments().map(|()| state.reset()),
        (_, path) => return control::unrouted(path, &INDEX),
    };
    match outcome {
        Ok(()) => json(StatusCode::OK, &state.snapshot()),
        Err(message) => plain_error(StatusCode::BAD_REQUEST, &message),
    }
}
