//! Client authentication at the token and revocation endpoints (RFC 6749 §2.3): `none` (the
//! client id in the body), `client_secret_basic` and `client_secret_post`.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use http::header::AUTHORIZATION;
use sim_http::form::{Params, decode_component};
use sim_http::secret::constant_time_eq;

use crate::error::OAuthError;
use crate::state::State;
use crate::store::Client;

/// Credentials as a request presented them.
#[derive(Debug, PartialEq, Eq)]
struct Presented {
    client_id: String,
    secret: Option<String>,
    basic: bool,
}

/// Authenticates the client making the request.
pub fn authenticate(
    state: &State,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Arc<Client>, OAuthError> {
    let presented = presented(headers, params)?.ok_or_else(|| {
        OAuthError::invalid_client("client authentication is required: send client_id", false)
    })?;
    verify(state, presented)
}

/// Authenticates the client if the request identifies one (revocation may be anonymous).
pub fn authenticate_if_present(
    state: &State,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Option<Arc<Client>>, OAuthError> {
    presented(headers, params)?
        .map(|presented| verify(state, presented))
        .transpose()
}

/// The client id a request claims (body or Basic header), not yet authenticated: what a fault
/// rule's `match.client_id` is compared with. `None` when there is none or the credentials are
/// malformed.
pub fn presented_client_id(headers: &HeaderMap, params: &Params) -> Option<String> {
    presented(headers, params)
        .ok()
        .flatten()
        .map(|presented| presented.client_id)
}

/// How the request authenticates, whatever its client registered: a Basic header is
/// `client_secret_basic`, a `client_secret` in the body `client_secret_post`, a bare
/// `client_id` `none`. `None` when it names no client or the credentials are malformed.
pub fn presented_method(headers: &HeaderMap, params: &Params) -> Option<&'static str> {
    let presented = presented(headers, params).ok().flatten()?;
    Some(match (presented.basic, presented.secret.is_some()) {
        (true, _) => "client_secret_basic",
        (false, true) => "client_secret_post",
        (false, false) => "none",
    })
}

/// The client id of a request that presents no secret for a client this server does not know:
/// a public client from before a restart or reset, still holding a seeded refresh token.
pub fn unknown_public_client(
    state: &State,
    headers: &HeaderMap,
    params: &Params,
) -> Option<String> {
    let presented = presented(headers, params).ok().flatten()?;
    let no_secret = presented.secret.as_deref().is_none_or(str::is_empty);
    (no_secret && state.store.client(&presented.client_id).is_none()).then_some(presented.client_id)
}

fn verify(state: &State, presented: Presented) -> Result<Arc<Client>, OAuthError> {
    let basic = presented.basic;
    // Some libraries send public clients as Basic `id:` with an empty password; that is no secret.
    let secret = presented.secret.filter(|secret| !secret.is_empty());
    let client = state
        .client(&presented.client_id)
        .ok_or_else(|| OAuthError::invalid_client("unknown client", basic))?;
    let authenticated = |client: Arc<Client>| {
        state.store.touch(&client);
        Ok(client)
    };
    match (&client.secret, &secret) {
        (Some(expected), Some(secret)) if constant_time_eq(secret, expected) => {
            authenticated(client)
        }
        (Some(_), Some(_)) => Err(OAuthError::invalid_client("wrong client secret", basic)),
        (Some(_), None) => Err(OAuthError::invalid_client(
            format!(
                "this client authenticates with {}; no secret was sent",
                client.auth_method.as_str()
            ),
            basic,
        )),
        (None, Some(_)) => Err(OAuthError::invalid_client(
            "this is a public client (token_endpoint_auth_method none); it has no secret to send",
            basic,
        )),
        (None, None) => authenticated(client),
    }
}

fn presented(headers: &HeaderMap, params: &Params) -> Result<Option<Presented>, OAuthError> {
    let body_id = params.single("client_id")?;
    let body_secret = params.single("client_secret")?;
    let Some(basic) = basic_credentials(headers)? else {
        if body_secret.is_some() && body_id.is_none() {
            return Err(OAuthError::InvalidRequest(
                "client_secret was sent without client_id".into(),
            ));
        }
        return Ok(body_id.map(|id| Presented {
            client_id: id.to_owned(),
            secret: body_secret.map(str::to_owned),
            basic: false,
        }));
    };
    if body_secret.is_some() {
        return Err(OAuthError::InvalidRequest(
            "the client used more than one authentication method (Basic and client_secret)".into(),
        ));
    }
    if body_id.is_some_and(|id| id != basic.client_id) {
        return Err(OAuthError::InvalidRequest(
            "client_id in the body differs from the one in the Authorization header".into(),
        ));
    }
    Ok(Some(basic))
}

/// Parses `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
/// Another scheme is not client authentication and is ignored.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<Presented>, OAuthError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || OAuthError::invalid_client("malformed Basic authorization header", true);
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, encoded) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let id = decode_component(id).ok_or_else(malformed)?;
    let secret = decode_component(secret).ok_or_else(malformed)?;
    if id.is_empty() {
        return Err(malformed());
    }
    Ok(Some(Presented {
        client_id: id,
        secret: Some(secret),
        basic: true,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, value.parse().unwrap());
        headers
    }

    fn encoded(credentials: &str) -> String {
        format!("Basic {}", STANDARD.encode(credentials))
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let presented = basic_credentials(&basic(&encoded("my%20client:s%3Acret+x")))
            .unwrap()
            .unwrap();
        assert_eq!(
            presented,
            Presented {
                client_id: "my client".into(),
                secret: Some("s:cret x".into()),
                basic: true
            }
        );
    }

    #[test]
    fn malformed_basic_is_invalid_client_with_challenge() {
        for bad in [
            "Basic !!!notbase64",
            "Basic",
            &encoded("no-colon"),
            &encoded(":secret"),
        ] {
            let error = basic_credentials(&basic(bad)).unwrap_err();
            assert!(
                matches!(error, OAuthError::InvalidClient { basic: true, .. }),
                "{bad}"
            );
        }
    }

    #[test]
    fn other_schemes_are_not_client_authentication() {
        assert_eq!(basic_credentials(&basic("Bearer abc")).unwrap(), None);
    }

    #[test]
    fn two_methods_at_once_are_refused() {
        let params = Params::parse(b"client_id=a&client_secret=b").unwrap();
        let error = presented(&basic(&encoded("a:b")), &params).unwrap_err();
        assert_eq!(error.code(), "invalid_request");
    }

    #[test]
    fn the_claimed_client_id_comes_from_the_body_or_the_basic_header() {
        let body = Params::parse(b"client_id=from-body").unwrap();
        assert_eq!(
            presented_client_id(&HeaderMap::new(), &body).as_deref(),
            Some("from-body")
        );
        let none = Params::parse(b"").unwrap();
        assert_eq!(
            presented_client_id(&basic(&encoded("from-header:s")), &none).as_deref(),
            Some("from-header")
        );
        assert_eq!(presented_client_id(&basic("Basic !!!"), &none), None);
        assert_eq!(presented_client_id(&HeaderMap::new(), &none), None);
    }

    #[test]
    fn body_credentials_are_read() {
        let params = Params::parse(b"client_id=a&client_secret=b").unwrap();
        let presented = presented(&HeaderMap::new(), &params).unwrap().unwrap();
        assert_eq!(presented.secret.as_deref(), Some("b"));
        assert!(!presented.basic);
    }
}
