//! `/control/*`: the failure switches of the authorization server. JSON in, and every call
//! answers the resulting state, so a tester sees at once what they changed.

use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;
use sim_http::Response;
use sim_http::control::{self, Call, Entry, Switch};
use sim_http::response::{json, plain_error};

use crate::config::MAX_TTL_SECS;
use crate::state::State;

pub const PREFIX: &str = "/control";

/// Every control call, with what it takes: answered by `GET /control`.
const INDEX: [Entry; 8] = [
    ("GET", "/control/state", "toggles, store sizes and counters"),
    (
        "POST",
        "/control/rotate",
        r#"{"on": bool} — rotate refresh tokens on every refresh"#,
    ),
    (
        "POST",
        "/control/expires-in",
        r#"{"seconds": N} — lifetime of access tokens issued from now on"#,
    ),
    (
        "POST",
        "/control/revoke-access",
        "every live access token becomes inactive",
    ),
    (
        "POST",
        "/control/invalid-grant",
        r#"{"on": bool} — every refresh grant answers invalid_grant"#,
    ),
    (
        "POST",
        "/control/deny-consent",
        r#"{"on": bool} — /authorize answers access_denied"#,
    ),
    (
        "POST",
        "/control/seed-refresh",
        r#"{"token": "…"} — make a string a valid refresh token"#,
    ),
    (
        "POST",
        "/control/reset",
        "clients, codes, tokens, toggles and counters back to start-up",
    ),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Lifetime {
    seconds: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Seed {
    token: String,
}

pub async fn handle(state: &State, request: Request<Incoming>) -> Response {
    let call = match Call::read(&state.config.control, request).await {
        Ok(call) => call,
        Err(answer) => return answer,
    };
    let outcome = match (&call.method, call.path.as_str()) {
        (&Method::GET, "/control") => return control::index("oauth", &INDEX),
        (&Method::GET, "/control/state") => Ok(()),
        (&Method::POST, "/control/rotate") => call.arguments().map(|Switch { on }| {
            state.update_toggles(|toggles| toggles.rotate_refresh_tokens = on)
        }),
        (&Method::POST, "/control/expires-in") => {
            call.arguments().and_then(|Lifetime { seconds }| {
                let seconds = u64::try_from(seconds)
                    .map_err(|_| "seconds must be a non-negative integer".to_owned())?;
                if seconds > MAX_TTL_SECS {
                    return Err(format!("seconds must be at most {MAX_TTL_SECS}"));
                }
                state.update_toggles(|toggles| toggles.access_token_ttl_seconds = seconds);
                Ok(())
            })
        }
        (&Method::POST, "/control/revoke-access") => call
            .no_arguments()
            .map(|()| state.store.access_tokens.clear()),
        (&Method::POST, "/control/invalid-grant") => call
            .arguments()
            .map(|Switch { on }| state.update_toggles(|toggles| toggles.invalid_grant = on)),
        (&Method::POST, "/control/deny-consent") => call
            .arguments()
            .map(|Switch { on }| state.update_toggles(|toggles| toggles.deny_consent = on)),
        (&Method::POST, "/control/seed-refresh") => call.arguments().and_then(|Seed { token }| {
            if token.is_empty() || token.len() > 4096 || token.chars().any(char::is_whitespace) {
                return Err("token must be 1 to 4096 characters without whitespace".to_owned());
            }
            state.seed_refresh_token(token);
            Ok(())
        }),
        (&Method::POST, "/control/reset") => call.no_arguments().map(|()| state.reset()),
        (_, path) => return control::unrouted(path, &INDEX),
    };
    match outcome {
        Ok(()) => json(StatusCode::OK, &state.snapshot()),
        Err(message) => plain_error(StatusCode::BAD_REQUEST, &message),
    }
}
