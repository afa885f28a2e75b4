//! `POST /revoke`: token revocation (RFC 7009).
//!
//! Answers 200 whether or not the token existed, so a client cannot probe for valid tokens.
//! Revoking a refresh token revokes its whole grant, access tokens included (§2.1). A client that
//! identifies itself may only revoke its own tokens; an anonymous request (the original rig's
//! behaviour, kept for scripts) may revoke any.

use http::{Request, StatusCode};
use hyper::body::Incoming;
use sim_http::Response;
use sim_http::faults::{Subject, oauth_shaped};
use sim_http::form::Params;
use sim_http::response::empty;

use crate::client_auth::Credentials;
use crate::endpoints::{named_client, note_client, read_form, required};
use crate::error::OAuthError;
use crate::faults::inject;
use crate::router::Facts;
use crate::state::State;
use crate::store::TokenKey;

pub async fn handle(state: &State, request: Request<Incoming>, facts: &mut Facts) -> Response {
    let (parts, params) = match read_form(request).await {
        Ok(form) => form,
        Err(error) => return refuse(facts, error),
    };
    if let Ok(Some(token)) = params.single("token") {
        facts.presented(token);
    }
    let credentials = Credentials::read(&parts.headers, &params);
    facts.asked.client_auth = credentials.method().map(str::to_owned);
    let client_id = credentials.client_id();
    if let Err(error) = named_client(state, client_id, facts).await {
        return refuse(facts, error);
    }
    let subject = Subject {
        endpoint: "revoke",
        client_id,
        ..Subject::default()
    };
    if let Some(answer) = inject(state, facts, &subject, oauth_shaped).await {
        return answer;
    }
    match revoke(state, &credentials, &params, facts).await {
        Ok(()) => empty(StatusCode::OK),
        Err(error) => refuse(facts, error),
    }
}

fn refuse(facts: &mut Facts, error: OAuthError) -> Response {
    facts.error = Some(error.code().into());
    error.into_response()
}

async fn revoke(
    state: &State,
    credentials: &Credentials,
    params: &Params,
    facts: &mut Facts,
) -> Result<(), OAuthError> {
    let token = required(params, "token")?;
    // The hint is only an optimisation (§2.1); both stores are searched whatever it says.
    params.single("token_type_hint")?;
    let client = credentials.authenticate_if_present(state, facts).await?;
    if let Some(client) = &client {
        note_client(client, facts);
    }
    let owner_ok = |owner: Option<&str>| match (&client, owner) {
        (None, _) | (_, None) => true,
        (Some(client), Some(owner)) => client.id == owner,
    };

    let store = &state.store;
    let key = TokenKey::of(token);
    let refresh = store
        .refresh_tokens
        .get(&key)
        .map(|entry| (entry.grant, entry.client_id.clone()));
    if let Some((grant, owner)) = refresh {
        if !owner_ok(owner.as_deref()) {
            return Err(OAuthError::UnauthorizedClient(
                "the token was issued to another client".into(),
            ));
        }
        store.revoke_grant(&store.lock_grant(grant));
        state.counters.revocations.bump();
        facts.note = "refresh_token".into();
        return Ok(());
    }
    let access_owner = store
        .access_tokens
        .get(&key)
        .map(|entry| entry.client_id.clone());
    if let Some(owner) = access_owner {
        if !owner_ok(Some(&owner)) {
            return Err(OAuthError::UnauthorizedClient(
                "the token was issued to another client".into(),
            ));
        }
        store.access_tokens.remove(&key);
        state.counters.revocations.bump();
        facts.note = "access_token".into();
    }
    Ok(())
}
