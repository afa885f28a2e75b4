//! `POST /introspect` (form `token=…`) and `GET /introspect?token=…`: RFC 7662.
//!
//! Only access tokens are ever reported active: the MCP server introspects bearer tokens, and a
//! refresh token presented as a bearer token must not pass.

use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use serde_json::{Value, json};
use sim_http::Response;
use sim_http::form::Params;
use sim_http::response::json_no_store;

use crate::endpoints::{read_form, required};
use crate::error::OAuthError;
use crate::router::Facts;
use crate::state::{Counters, State};

pub async fn handle(state: &State, request: Request<Incoming>, facts: &mut Facts) -> Response {
    let params = if request.method() == Method::GET {
        Params::from_query(request.uri()).map_err(OAuthError::from)
    } else {
        read_form(request).await.map(|(_, params)| params)
    };
    let token = match params.and_then(|params| required(&params, "token").map(str::to_owned)) {
        Ok(token) => token,
        Err(error) => {
            facts.error = error.code();
            return error.into_response();
        }
    };
    Counters::bump(&state.counters.introspections);
    let Some(access) = state.store.live_access_token(&token, state.now()) else {
        facts.note = "inactive".into();
        return json_no_store(StatusCode::OK, &json!({ "active": false }));
    };
    Counters::bump(&state.counters.active_introspections);
    facts.client(&access.client_id);
    let mut answer = json!({
        "active": true,
        "scope": access.scope,
        "client_id": access.client_id,
        "sub": access.subject,
        "iss": state.issuer,
        "exp": access.expires_at / 1000,
        "iat": access.issued_at / 1000,
        "token_type": "Bearer",
    });
    // RFC 7662 §2.2: `aud` is a string or an array; absent when the token names no resource.
    match access.resources.as_slice() {
        [] => {}
        [one] => answer["aud"] = Value::from(one.as_str()),
        many => answer["aud"] = Value::from(many.to_vec()),
    }
    json_no_store(StatusCode::OK, &answer)
}
