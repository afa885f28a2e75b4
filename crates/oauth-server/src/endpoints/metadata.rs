//! `GET /.well-known/oauth-authorization-server`: RFC 8414 metadata.
//!
//! OIDC discovery (`/.well-known/openid-configuration`) is deliberately not served: this is not an
//! OpenID provider, and the TypeScript client validates that document against the full OIDC
//! schema, so a partial one would break it.

use bytes::Bytes;
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue};
use serde_json::json;
use sim_http::Response;
use sim_http::faults::{Subject, oauth_shaped};
use sim_http::response::full;

use crate::faults::inject;
use crate::router::Facts;
use crate::state::State;
use crate::store::{AuthMethod, GrantType};

pub const PATH: &str = "/.well-known/oauth-authorization-server";

/// Serializes the metadata for `issuer`. Every endpoint URL derives from the issuer, so the
/// document stays consistent behind a tunnel.
pub fn document(issuer: &str, scopes: &[String]) -> Bytes {
    let auth_methods = AuthMethod::ALL.map(AuthMethod::as_str);
    let document = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "registration_endpoint": format!("{issuer}/register"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": GrantType::ALL.map(GrantType::as_str),
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": scopes,
        "authorization_response_iss_parameter_supported": true,
    });
    Bytes::from(serde_json::to_vec_pretty(&document).unwrap_or_default())
}

pub async fn handle(state: &State, facts: &mut Facts) -> Response {
    let subject = Subject {
        endpoint: "metadata",
        ..Subject::default()
    };
    if let Some(answer) = inject(state, facts, &subject, oauth_shaped).await {
        return answer;
    }
    let mut response = Response::new(full(state.metadata.clone()));
    *response.status_mut() = StatusCode::OK;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
