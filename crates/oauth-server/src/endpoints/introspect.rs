//! `POST /introspect` (form `token=…`) and `GET /introspect?token=…`: RFC 7662.
//!
//! Only access tokens are ever reported active: the MCP server introspects bearer tokens, and a
//! refresh token presented as a bearer token must not pass.

use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use serde::Serialize;
use sim_http::Response;
use sim_http::faults::{Subject, oauth_shaped};
use sim_http::form::Params;
use sim_http::response::json_no_store;

use crate::endpoints::{read_form, required};
use crate::error::OAuthError;
use crate::faults::inject;
use crate::router::Facts;
use crate::state::State;
use crate::store::{AccessToken, TokenKey};

pub async fn handle(state: &State, request: Request<Incoming>, facts: &mut Facts) -> Response {
    let subject = Subject {
        endpoint: "introspect",
        ..Subject::default()
    };
    if let Some(answer) = inject(state, facts, &subject, oauth_shaped).await {
        return answer;
    }
    let params = if request.method() == Method::GET {
        Params::from_query(request.uri()).map_err(OAuthError::from)
    } else {
        read_form(request).await.map(|(_, params)| params)
    };
    let params = match params {
        Ok(params) => params,
        Err(error) => {
            facts.error = Some(error.code().into());
            return error.into_response();
        }
    };
    let token = match required(&params, "token") {
        Ok(token) => token,
        Err(error) => {
            facts.error = Some(error.code().into());
            return error.into_response();
        }
    };
    facts.presented(token);
    state.counters.introspections.bump();
    // Every MCP request is checked here: answer from the stored token in place (the map's read
    // guard is held only while serializing, never across an await) instead of copying it.
    let live = state.live();
    let answer = state
        .store
        .with_live_access_token(&TokenKey::of(token), state.now(), |access| {
            facts.client(&access.client_id);
            facts.subject = Some(access.subject.clone());
            json_no_store(StatusCode::OK, &Active::new(access, &live.issuer))
        });
    match answer {
        Some(answer) => {
            state.counters.active_introspections.bump();
            answer
        }
        None => {
            facts.note = "inactive".into();
            json_no_store(StatusCode::OK, &Inactive { active: false })
        }
    }
}

#[derive(Serialize)]
struct Inactive {
    active: bool,
}

/// The answer for a live access token. Fields in alphabetical order, as before.
#[derive(Serialize)]
struct Active<'a> {
    active: bool,
    /// RFC 7662 §2.2: `aud` is a string or an array; absent when the token names no resource.
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<Audience<'a>>,
    client_id: &'a str,
    exp: u64,
    iat: u64,
    iss: &'a str,
    scope: &'a str,
    sub: &'a str,
    token_type: &'static str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Audience<'a> {
    One(&'a str),
    Many(&'a [String]),
}

impl<'a> Active<'a> {
    fn new(access: &'a AccessToken, issuer: &'a str) -> Self {
        let aud = match access.resources.as_slice() {
            [] => None,
            [one] => Some(Audience::One(one)),
            many => Some(Audience::Many(many)),
        };
        Self {
            active: true,
            aud,
            client_id: &access.client_id,
            exp: access.expires_at / 1000,
            iat: access.issued_at / 1000,
            iss: issuer,
            scope: &access.scope,
            sub: &access.subject,
            token_type: "Bearer",
        }
    }
}
