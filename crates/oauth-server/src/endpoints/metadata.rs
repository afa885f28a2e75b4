//! `GET /.well-known/oauth-authorization-server{path}`: RFC 8414 metadata; and, where the
//! issuer's profile says so, the same document as an OpenID Connect discovery document at
//! `/.well-known/openid-configuration{path}` or `{path}/.well-known/openid-configuration`,
//! with the JWKS it points at (`{path}/.well-known/jwks.json`).
//!
//! This is not an OpenID provider: it issues no ID tokens. The OIDC forms exist because clients
//! fall back to OIDC discovery, and some (the TypeScript SDK) validate that document against
//! the full OIDC schema, so the document is complete (`jwks_uri` with a real key,
//! `subject_types_supported`, `id_token_signing_alg_values_supported`) rather than partial.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use sim_http::Response;
use sim_http::faults::{Subject, oauth_shaped};
use sim_http::response::full;

use crate::faults::inject;
use crate::profile::{Declared, Profile, ScopesSupported};
use crate::router::Facts;
use crate::state::State;
use crate::store::GrantType;

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
    put(
        "grant_types_supported",
        json!(GrantType::ALL.map(GrantType::as_str)),
    );
    put("code_challenge_methods_supported", json!(["S256"]));
    put("token_endpoint_auth_methods_supported", json!(auth_methods));
    put(
        "revocation_endpoint_auth_methods_supported",
        json!(auth_methods),
    );
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
    if form == Form::Oidc {
        put("jwks_uri", json!(format!("{issuer}{JWKS}")));
        put("subject_types_supported", json!(["public"]));
        put("id_token_signing_alg_values_supported", json!(["ES256"]));
        put(
            "claims_supported",
            json!(["sub", "iss", "aud", "exp", "iat"]),
        );
    }
    Bytes::from(serde_json::to_vec_pretty(&Value::Object(document)).unwrap_or_default())
}

/// The JWKS of one EC P-256 public key, from its uncompressed SEC1 point (`04 || X || Y`), with
/// its RFC 7638 thumbprint as `kid`. `None` if the point is not 65 bytes.
pub fn jwks(point: &[u8]) -> Option<Bytes> {
    let [4, coordinates @ ..] = point else {
        return None;
    };
    if coordinates.len() != 64 {
        return None;
    }
    let (x, y) = coordinates.split_at(32);
    let (x, y) = (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y));
    // RFC 7638 §3.2: the required members, in lexicographic order, without whitespace.
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
    let keys = json!({"keys": [{
        "kty": "EC", "crv": "P-256", "x": x, "y": y, "use": "sig", "alg": "ES256", "kid": kid,
    }]});
    serde_json::to_vec_pretty(&keys).ok().map(Bytes::from)
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
    fn the_jwk_is_a_p256_key_with_its_thumbprint_as_kid() {
        let mut point = vec![4u8];
        point.extend(0..64u8);
        let keys: Value = serde_json::from_slice(&jwks(&point).unwrap()).unwrap();
        let key = &keys["keys"][0];
        assert_eq!(key["kty"], "EC");
        assert_eq!(key["crv"], "P-256");
        assert_eq!(key["x"].as_str().unwrap().len(), 43);
        assert_eq!(key["kid"].as_str().unwrap().len(), 43);
        assert!(jwks(&point[1..]).is_none());
    }

    #[test]
    fn the_default_profile_renders_the_original_document_and_offers_client_documents() {
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
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
            "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
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
