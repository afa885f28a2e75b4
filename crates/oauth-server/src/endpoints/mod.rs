//! One module per endpoint.

mod assertions;
pub mod authorize;
pub(crate) mod consent_page;
pub mod control;
pub(crate) mod decision;
pub(crate) mod grants;
pub mod introspect;
pub mod metadata;
pub mod register;
pub mod revoke;
pub mod token;

use http::Request;
use http::request::Parts;
use hyper::body::Incoming;
use sim_http::body::{self, MAX_BODY_BYTES};
use sim_http::form::{Params, has_content_type};

use crate::error::OAuthError;
use crate::router::Facts;
use crate::state::State;
use crate::store::{Client, ClientKind};

/// Reads an `application/x-www-form-urlencoded` body, as the token, introspection and revocation
/// endpoints require (RFC 6749 §3.2).
pub(crate) async fn read_form(request: Request<Incoming>) -> Result<(Parts, Params), OAuthError> {
    let (parts, body) = request.into_parts();
    if !has_content_type(&parts.headers, "application/x-www-form-urlencoded") {
        return Err(OAuthError::InvalidRequest(
            "Content-Type must be application/x-www-form-urlencoded".into(),
        ));
    }
    let bytes = body::read(body, MAX_BODY_BYTES).await?;
    Ok((parts, Params::parse(&bytes)?))
}

/// A parameter that must be present exactly once.
pub(crate) fn required<'a>(params: &'a Params, name: &'a str) -> Result<&'a str, OAuthError> {
    params
        .single(name)?
        .ok_or_else(|| OAuthError::InvalidRequest(format!("missing required parameter '{name}'")))
}

/// The client a token or revocation request names, before it is authenticated: a client ID
/// metadata document is resolved (an unusable one is `invalid_client` saying why), and the id
/// is noted, or that another issuer issued it.
pub(crate) async fn named_client(
    state: &State,
    client_id: Option<&str>,
    facts: &mut Facts,
) -> Result<(), OAuthError> {
    let Some(client_id) = client_id else {
        return Ok(());
    };
    if let Some(Err(reason)) = state.resolve_document(client_id, facts).await {
        facts.client(client_id);
        let basic = facts.asked.client_auth.as_deref() == Some("client_secret_basic");
        return Err(OAuthError::invalid_client(reason, basic));
    }
    if state.client(client_id).is_some() {
        facts.client(client_id);
    } else {
        state.note_foreign_client(client_id, facts);
    }
    Ok(())
}

/// Records how the issuer knows the client and what it calls itself; for a document, the
/// grants it declares (what a conformance check of `grant_types` reads).
pub(crate) fn note_client(client: &Client, facts: &mut Facts) {
    facts.client(&client.id);
    let asked = &mut facts.asked;
    asked.registration = Some(client.kind.as_str().to_owned());
    asked.client_name = client
        .registration
        .get("client_name")
        .and_then(|name| name.as_str())
        .map(str::to_owned);
    if client.kind == ClientKind::Document {
        asked.grant_types = client
            .registration
            .get("grant_types")
            .and_then(|grants| grants.as_array())
            .map(|grants| {
                grants
                    .iter()
                    .filter_map(|grant| grant.as_str().map(str::to_owned))
                    .collect()
            });
    }
}
