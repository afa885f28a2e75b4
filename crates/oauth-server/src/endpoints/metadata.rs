//! `GET /.well-known/oauth-authorization-server{path}`: RFC 8414 metadata; and, where the
//! issuer's profile says so, the same document as an OpenID Connect discovery document at
//! `/.well-known/openid-configuration{path}` or `{path}/.well-known/openid-configuration`,
//! with the JWKS it points at (`{path}/.well-known/jwks.json`).
//!
//! The OIDC forms exist because clients fall back to OIDC discovery, and some (the TypeScript
//! SDK) validate that document against the full OIDC schema, so the document is complete
//! (`jwks_uri` with the issuer's real key, `subject_types_supported`,
//! `id_token_signing_alg_values_supported`) rather than partial. The only ID tokens an issuer
//! signs are those a tester asks for (`POST /control/id-tokens`), for an enterprise IdP role.

use bytes::Bytes;
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue};
use serde_json::{Map, Value, json};
use sim_http::Response;
use sim_http::faults::{Subject, oauth_shaped};
use sim_http::response::full;

use crate::faults::inject;
use crate::jose;
use crate::profile::{Declared, Profile, ScopesSupported};
use crate::router::Facts;
use crate::state::State;
use crate::store::{AuthMethod, GrantType};

/// The RFC 8414 well-known path; also the router's name for that document.
pub const PATH: &str = "/.well-known/oauth-authorization-server";
/// The OIDC discovery well-known path; also the router's name for that document.
pub const OIDC: &str = "/.well-known/openid-configuration";
/// Where an issuer with an OIDC document serves its keys, below its path.
pub const JWKS: &str = "/.well-known/jwks.json";

/// What a document is rendered as.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// RFC 8414 only.
    Oauth,
    /// RFC 8414 plus the OpenID Connect Discovery fields.
    Oidc,
}

/// Serializes the metadata for `issuer` under `profile`, whose scopes are resolved. Every
/// endpoint URL derives from the issuer, so the document stays consistent behind a tunnel.
/// Keys go in the order the original `json!` document had them, so that the default profile
/// answers byte for byte what the rig always did.
pub fn document(issuer: &str, profile: &Profile, scopes: &[String], form: Form) -> Bytes {
    let moved = format!("{issuer}{}", profile.prefix());
    let auth_methods: Vec<&str> = profile.auth_methods.iter().map(|m| m.as_str()).collect();
    let mut document = Map::new();
    let mut put = |key: &str, value: Value| {
        document.insert(key.to_owned(), value);
    };
    put(
        "issuer",
        Value::from(profile.metadata_issuer.as_deref().unwrap_or(issuer)),
    );
    put(
        "authorization_endpoint",
        json!(format!("{moved}/authorize")),
    );
    put("token_endpoint", json!(format!("{moved}/token")));
    if profile.registration {
        put("registration_endpoint", json!(format!("{moved}/register")));
    }
    put(
        "introspection_endpoint",
        json!(format!("{issuer}/introspect")),
    );
    put("revocation_endpoint", json!(format!("{moved}/revoke")));
    put("response_types_supported", json!(["code"]));
    put("response_modes_supported", json!(["query"]));
    let grants: Vec<&str> = profile.grant_types.iter().map(|g| g.as_str()).collect();
    put("grant_types_supported", json!(grants));
    put("code_challenge_methods_supported", json!(["S256"]));
    put("token_endpoint_auth_methods_supported", json!(auth_methods));
    let signed = profile.auth_methods.contains(&AuthMethod::PrivateKeyJwt);
    if signed {
        put(
            "token_endpoint_auth_signing_alg_values_supported",
            json!(jose::ALGORITHMS),
        );
    }
    put(
        "revocation_endpoint_auth_methods_supported",
        json!(auth_methods),
    );
    if signed {
        put(
            "revocation_endpoint_auth_signing_alg_values_supported",
            json!(jose::ALGORITHMS),
        );
    }
    put(
        "introspection_endpoint_auth_methods_supported",
        json!(["none"]),
    );
    match &profile.scopes_supported {
        ScopesSupported::Known => put("scopes_supported", json!(scopes)),
        ScopesSupported::List(listed) => put("scopes_supported", json!(listed)),
        ScopesSupported::Omit => {}
    }
    for (name, declared) in [
        (
            "authorization_response_iss_parameter_supported",
            profile.iss_parameter_supported,
        ),
        (
            "client_id_metadata_document_supported",
            profile.client_id_metadata_document_supported,
        ),
    ] {
        match declared {
            Declared::True => put(name, json!(true)),
            Declared::False => put(name, json!(false)),
            Declared::Omit => {}
        }
    }
    // An identity provider's tokens are checked with its keys, found from its metadata.
    if form == Form::Oidc || profile.grant_types.contains(&GrantType::TokenExchange) {
        put("jwks_uri", json!(format!("{issuer}{JWKS}")));
    }
    if form == Form::Oidc {
        put("subject_types_supported", json!(["public"]));
        put("id_token_signing_alg_values_supported", json!(["ES256"]));
        put(
            "claims_supported",
            json!(["sub", "iss", "aud", "exp", "iat"]),
        );
    }
    Bytes::from(serde_json::to_vec_pretty(&Value::Object(document)).unwrap_or_default())
}

/// Answers a metadata document (`endpoint` is [`PATH`] or [`OIDC`]) or the JWKS.
pub async fn handle(state: &State, endpoint: &str, facts: &mut Facts) -> Response {
    let subject = Subject {
        endpoint: "metadata",
        ..Subject::default()
    };
    if let Some(answer) = inject(state, facts, &subject, oauth_shaped).await {
        return answer;
    }
    let body = match endpoint {
        JWKS => state.jwks.clone(),
        OIDC => state.live().oidc_metadata.clone(),
        _ => state.live().metadata.clone(),
    };
    let mut response = Response::new(full(body));
    *response.status_mut() = StatusCode::OK;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_profile_offers_every_grant_method_and_client_documents() {
        let scopes = vec!["mcp:tools".to_owned()];
        let issuer = "http://localhost:1";
        let original = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "registration_endpoint": format!("{issuer}/register"),
            "introspection_endpoint": format!("{issuer}/introspect"),
            "revocation_endpoint": format!("{issuer}/revoke"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials",
                                      "urn:ietf:params:oauth:grant-type:jwt-bearer"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256", "EdDSA"],
            "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"],
            "revocation_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256", "EdDSA"],
            "introspection_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": scopes,
            "authorization_response_iss_parameter_supported": true,
            "client_id_metadata_document_supported": true,
        });
        assert_eq!(
            document(issuer, &Profile::default(), &scopes, Form::Oauth),
            Bytes::from(serde_json::to_vec_pretty(&original).unwrap())
        );
    }
}
