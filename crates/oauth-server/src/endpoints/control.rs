//! `/control/*`: the failure switches of the authorization server. JSON in, and every call
//! answers the resulting state, so a tester sees at once what they changed.

use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use sim_http::Response;
use sim_http::body::{self, MAX_BODY_BYTES};
use sim_http::form;
use sim_http::response::{json, method_not_allowed, not_found, plain_error};

use crate::config::MAX_TTL_SECS;
use crate::state::State;

pub const PREFIX: &str = "/control";

/// Every control call, with what it takes: answered by `GET /control`.
const INDEX: [(&str, &str, &str); 8] = [
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
struct Switch {
    on: bool,
}

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
    if let Err(refused) = state.config.control.check(request.headers()) {
        return refused.into_response();
    }
    let method = request.method().clone();
    let path = request.uri().path().trim_end_matches('/').to_owned();
    let body = match body::read(request.into_body(), MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(error) => return plain_error(error.status(), &error.to_string()),
    };
    let outcome = match (&method, path.as_str()) {
        (&Method::GET, "/control") => return index(),
        (&Method::GET, "/control/state") => Ok(()),
        (&Method::POST, "/control/rotate") => parse::<Switch>(&body).map(|Switch { on }| {
            state.update_toggles(|toggles| toggles.rotate_refresh_tokens = on)
        }),
        (&Method::POST, "/control/expires-in") => {
            parse::<Lifetime>(&body).and_then(|Lifetime { seconds }| {
                let seconds = u64::try_from(seconds)
                    .map_err(|_| "seconds must be a non-negative integer".to_owned())?;
                if seconds > MAX_TTL_SECS {
                    return Err(format!("seconds must be at most {MAX_TTL_SECS}"));
                }
                state.update_toggles(|toggles| toggles.access_token_ttl_seconds = seconds);
                Ok(())
            })
        }
        (&Method::POST, "/control/revoke-access") => {
            no_body(&body).map(|()| state.store.access_tokens.clear())
        }
        (&Method::POST, "/control/invalid-grant") => parse::<Switch>(&body)
            .map(|Switch { on }| state.update_toggles(|toggles| toggles.invalid_grant = on)),
        (&Method::POST, "/control/deny-consent") => parse::<Switch>(&body)
            .map(|Switch { on }| state.update_toggles(|toggles| toggles.deny_consent = on)),
        (&Method::POST, "/control/seed-refresh") => {
            parse::<Seed>(&body).and_then(|Seed { token }| {
                if token.is_empty() || token.len() > 4096 || token.chars().any(char::is_whitespace)
                {
                    return Err("token must be 1 to 4096 characters without whitespace".to_owned());
                }
                state.seed_refresh_token(token);
                Ok(())
            })
        }
        (&Method::POST, "/control/reset") => no_body(&body).map(|()| state.reset()),
        (_, path) => {
            return match INDEX.iter().find(|(_, known, _)| *known == path) {
                Some((allowed, _, _)) => method_not_allowed(allowed),
                None => not_found(path),
            };
        }
    };
    match outcome {
        Ok(()) => json(StatusCode::OK, &state.snapshot()),
        Err(message) => plain_error(StatusCode::BAD_REQUEST, &message),
    }
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    form::json(body)
}

/// Calls that take no arguments accept an empty body or `{}`, so plain `curl -XPOST` works.
fn no_body(body: &[u8]) -> Result<(), String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    match form::json::<serde_json::Value>(body)? {
        serde_json::Value::Object(map) if map.is_empty() => Ok(()),
        _ => Err("this call takes no arguments; send no body or {}".to_owned()),
    }
}

fn index() -> Response {
    let endpoints: Vec<_> = INDEX
        .iter()
        .map(|(method, path, what)| json!({ "method": method, "path": path, "effect": what }))
        .collect();
    json(
        StatusCode::OK,
        &json!({ "service": "oauth", "endpoints": endpoints }),
    )
}
