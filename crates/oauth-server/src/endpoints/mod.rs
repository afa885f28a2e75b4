//! One module per endpoint.

pub mod authorize;
pub mod control;
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
