//! `POST /revoke`: token revocation (RFC 7009).
//!
//! Answers 200 whether or not the token existed, so a client cannot probe for valid tokens.
//! Revoking a refresh token revokes its whole grant, access tokens included (§2.1). A client that
//! identifies itself may only revoke its own tokens; an anonymous request (the original rig's
//! behaviour, kept for scripts) may revoke any.

use http::{Request, StatusCode};
use hyper::body::Incoming;
use sim_http::Response;
use sim_http::response::empty;

use crate::client_auth::authenticate_if_present;
use crate::endpoints::{read_form, required};
use crate::error::OAuthError;
use crate::router::Facts;
use crate::state::{Counters, State};

pub async fn handle(state: &State, request: Request<Incoming>, facts: &mut Facts) -> Response {
    match revoke(state, request, facts).await {
        Ok(()) => empty(StatusCode::OK),
        Err(error) => {
            facts.error = error.code();
            error.into_response()
        }
    }
}

async fn revoke(
    state: &State,
    request: Request<Incoming>,
    facts: &mut Facts,
) -> Result<(), OAuthError> {
    let (parts, params) = read_form(request).await?;
    let token = required(&params, "token")?;
    // The hint is only an optimisation (§2.1); both stores are searched whatever it says.
    params.single("token_type_hint")?;
    let client = authenticate_if_present(state, &parts.headers, &params)?;
    if let Some(client) = &client {
        facts.client(&client.id);
    }
    let owner_ok = |owner: Option<&str>| match (&client, owner) {
        (None, _) | (_, None) => true,
        (Some(client), Some(owner)) => client.id == owner,
    };

    let store = &state.store;
    let refresh = store
        .refresh_tokens
        .get(token)
        .map(|entry| (entry.grant, entry.client_id.clone()));
    if let Some((grant, owner)) = refresh {
        if !owner_ok(owner.as_deref()) {
            return Err(OAuthError::UnauthorizedClient(
                "the token was issued to another client".into(),
            ));
        }
        store.revoke_grant(grant);
        Counters::bump(&state.counters.revocations);
        facts.note = "refresh_token".into();
        return Ok(());
    }
    let access_owner = store
        .access_tokens
        .get(token)
        .map(|entry| entry.client_id.clone());
    if let Some(owner) = access_owner {
        if !owner_ok(Some(&owner)) {
            return Err(OAuthError::UnauthorizedClient(
                "the token was issued to another client".into(),
            ));
        }
        store.access_tokens.remove(token);
        Counters::bump(&state.counters.revocations);
        facts.note = "access_token".into();
    }
    Ok(())
}
