//! Client authentication at the token and revocation endpoints (RFC 6749 §2.3): `none` (the
//! client id in the body), `client_secret_basic`, `client_secret_post`, and `private_key_jwt`
//! (RFC 7523 §2.2, OpenID Connect Core §9): a JWT the client signed with a key it registered.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use http::header::AUTHORIZATION;
use sim_http::form::{Params, decode_component};
use sim_http::journal::Assertion;

use crate::error::OAuthError;
use crate::jose::{self, Claims, MAX_LIFETIME_SECS};
use crate::router::Facts;
use crate::state::State;
use crate::store::{AuthMethod, Client};
use crate::trust::TrustedKeys;

/// The one `client_assertion_type` of RFC 7523 §2.2.
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Credentials as a request presented them.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Presented {
    client_id: String,
    secret: Option<String>,
    basic: bool,
    /// A `client_assertion` of the jwt-bearer type.
    assertion: Option<String>,
}

/// The client credentials of one request, read once: the token and revocation endpoints ask
/// several things of them (the claimed id for the journal and fault rules, the method, whether
/// the client is known, then authentication), and reading a client assertion means decoding a
/// JWT.
pub struct Credentials(Result<Option<Presented>, OAuthError>);

impl Credentials {
    /// Reads them from the Basic header and the form; malformed ones are kept as the error
    /// authentication answers.
    pub fn read(headers: &HeaderMap, params: &Params) -> Self {
        Self(presented(headers, params))
    }

    fn presented(&self) -> Option<&Presented> {
        self.0.as_ref().ok().and_then(Option::as_ref)
    }

    /// Authenticates the client making the request.
    pub async fn authenticate(
        &self,
        state: &State,
        facts: &mut Facts,
    ) -> Result<Arc<Client>, OAuthError> {
        let presented = self.0.clone()?.ok_or_else(|| {
            OAuthError::invalid_client("client authentication is required: send client_id", false)
        })?;
        verify(state, presented, facts).await
    }

    /// Authenticates the client if the request identifies one (revocation may be anonymous).
    pub async fn authenticate_if_present(
        &self,
        state: &State,
        facts: &mut Facts,
    ) -> Result<Option<Arc<Client>>, OAuthError> {
        match self.0.clone()? {
            Some(presented) => verify(state, presented, facts).await.map(Some),
            None => Ok(None),
        }
    }

    /// The client id the request claims (body, Basic header or client assertion), not yet
    /// authenticated: what a fault rule's `match.client_id` is compared with. `None` when
    /// there is none or the credentials are malformed.
    pub fn client_id(&self) -> Option<&str> {
        self.presented()
            .map(|presented| presented.client_id.as_str())
    }

    /// How the request authenticates, whatever its client registered: a Basic header is
    /// `client_secret_basic`, a `client_secret` in the body `client_secret_post`, a client
    /// assertion `private_key_jwt`, a bare `client_id` `none`. `None` when it names no client
    /// or the credentials are malformed.
    pub fn method(&self) -> Option<&'static str> {
        let presented = self.presented()?;
        Some(
            match (
                presented.basic,
                presented.secret.is_some(),
                &presented.assertion,
            ) {
                (_, _, Some(_)) => "private_key_jwt",
                (true, _, _) => "client_secret_basic",
                (false, true, _) => "client_secret_post",
                (false, false, None) => "none",
            },
        )
    }

    /// The client id of a request that presents no credential for a client this server does
    /// not know: a public client from before a restart or reset, still holding a seeded refresh
    /// token, or a workload naming itself beside its jwt-bearer assertion.
    pub fn unknown_public_client(&self, state: &State) -> Option<String> {
        let presented = self.presented()?;
        let no_secret = presented.secret.as_deref().is_none_or(str::is_empty);
        (no_secret && presented.assertion.is_none() && state.client(&presented.client_id).is_none())
            .then(|| presented.client_id.clone())
    }
}

async fn verify(
    state: &State,
    presented: Presented,
    facts: &mut Facts,
) -> Result<Arc<Client>, OAuthError> {
    let basic = presented.basic;
    // Some libraries send public clients as Basic `id:` with an empty password; that is no secret.
    let secret = presented.secret.filter(|secret| !secret.is_empty());
    let client = state
        .client(&presented.client_id)
        .ok_or_else(|| OAuthError::invalid_client("unknown client", basic))?;
    let method = client.auth_method;
    if let Some(assertion) = presented.assertion {
        if method != AuthMethod::PrivateKeyJwt {
            return Err(OAuthError::invalid_client(
                format!(
                    "this client authenticates with {}; it registered no keys for a \
                     client_assertion",
                    method.as_str()
                ),
                false,
            ));
        }
        check_assertion(state, &client, &assertion, facts).await?;
        state.store.touch(&client);
        return Ok(client);
    }
    let authenticated = |client: Arc<Client>| {
        state.store.touch(&client);
        Ok(client)
    };
    // The way the secret came, against the way the client registered, where the issuer insists.
    if secret.is_some() && method.has_secret() && state.live().profile.enforce_auth_method {
        let used = if basic {
            AuthMethod::ClientSecretBasic
        } else {
            AuthMethod::ClientSecretPost
        };
        if used != method {
            return Err(OAuthError::invalid_client(
                format!(
                    "this client registered {}; it sent its secret with {}",
                    method.as_str(),
                    used.as_str()
                ),
                basic,
            ));
        }
    }
    match (&client.secret, &secret) {
        (Some(expected), Some(secret)) if expected.matches(secret) => authenticated(client),
        (Some(_), Some(_)) => Err(OAuthError::invalid_client("wrong client secret", basic)),
        (Some(_), None) => Err(OAuthError::invalid_client(
            format!(
                "this client authenticates with {}; no secret was sent",
                method.as_str()
            ),
            basic,
        )),
        (None, _) if method == AuthMethod::PrivateKeyJwt => Err(OAuthError::invalid_client(
            format!(
                "this client authenticates with private_key_jwt: send client_assertion_type \
                 {JWT_BEARER_ASSERTION} and a signed client_assertion"
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

/// Checks a client assertion: signed by one of the client's keys, `iss` and `sub` its id, for
/// this issuer, short-lived and not used before.
async fn check_assertion(
    state: &State,
    client: &Client,
    assertion: &str,
    facts: &mut Facts,
) -> Result<(), OAuthError> {
    let refuse =
        |why: String| OAuthError::invalid_client(format!("client_assertion: {why}"), false);
    let keys = client
        .keys
        .clone()
        .ok_or_else(|| refuse("the client registered no keys".into()))?;
    let keys = state
        .key_set(&TrustedKeys::Keys(keys))
        .await
        .map_err(&refuse)?;
    let read = jose::verify(assertion, &keys).map_err(&refuse)?;
    let claims = Claims(&read.claims);
    let now = state.clock.now_secs();
    facts.asked.client_assertion = Some(seen(&read, now));
    for claim in ["iss", "sub"] {
        if claims.str(claim) != Some(client.id.as_str()) {
            return Err(refuse(format!(
                "{claim} must be the client id '{}'",
                client.id
            )));
        }
    }
    let issuer = state.issuer();
    let issuer = issuer.as_str();
    let with_slash = format!("{issuer}/");
    let token_endpoint = state.token_endpoint();
    if !claims.audience_is_one_of(&[issuer, &with_slash, &token_endpoint]) {
        return Err(refuse(format!(
            "aud must be this issuer ({issuer}) or its token endpoint ({token_endpoint})"
        )));
    }
    claims
        .check_times(now, MAX_LIFETIME_SECS)
        .map_err(&refuse)?;
    // RFC 7523 §3 leaves `jti` optional; when present it makes the assertion single-use.
    if let Some(jti) = claims.str("jti") {
        let until = claims.exp().saturating_add(jose::LEEWAY_SECS) * 1000;
        state
            .trust
            .use_once(&client.id, jti, until, state.now())
            .map_err(|unusable| unusable.error(jti, refuse))?;
    }
    Ok(())
}

/// What the journal keeps of a JWT, read at `now` (seconds).
pub fn seen(read: &jose::Unverified, now: u64) -> Assertion {
    let claims = Claims(&read.claims);
    let text = |value: Option<&str>| value.map(|value| value.chars().take(256).collect());
    Assertion {
        iss: text(claims.str("iss")),
        sub: text(claims.str("sub")),
        aud: claims
            .audiences()
            .into_iter()
            .take(8)
            .map(|aud| aud.chars().take(256).collect())
            .collect(),
        jti: text(claims.str("jti")),
        typ: text(read.header.get("typ").and_then(|typ| typ.as_str())),
        expires_in: read
            .claims
            .get("exp")
            .and_then(|exp| exp.as_i64())
            .map(|exp| exp.saturating_sub(i64::try_from(now).unwrap_or(i64::MAX))),
    }
}

fn presented(headers: &HeaderMap, params: &Params) -> Result<Option<Presented>, OAuthError> {
    let body_id = params.single("client_id")?;
    let body_secret = params.single("client_secret")?;
    let assertion_type = params.single("client_assertion_type")?;
    let assertion = params.single("client_assertion")?;
    let basic = basic_credentials(headers)?;
    if let Some(assertion) = assertion {
        if basic.is_some() || body_secret.is_some() {
            return Err(OAuthError::InvalidRequest(
                "the client used more than one authentication method (a client_assertion and \
                 a secret)"
                    .into(),
            ));
        }
        if assertion_type != Some(JWT_BEARER_ASSERTION) {
            return Err(OAuthError::invalid_client(
                format!("client_assertion_type must be {JWT_BEARER_ASSERTION}"),
                false,
            ));
        }
        // The assertion names its client in `sub` (RFC 7523 §3); `client_id` is optional.
        let claimed = jose::peek(assertion)
            .ok()
            .and_then(|read| read.claims.get("sub")?.as_str().map(str::to_owned));
        let client_id = match (body_id, claimed) {
            (Some(id), _) => id.to_owned(),
            (None, Some(sub)) => sub,
            (None, None) => {
                return Err(OAuthError::invalid_client(
                    "client_assertion: not a readable JWT with a sub, and no client_id was sent",
                    false,
                ));
            }
        };
        return Ok(Some(Presented {
            client_id,
            secret: None,
            basic: false,
            assertion: Some(assertion.to_owned()),
        }));
    }
    if assertion_type.is_some() {
        return Err(OAuthError::InvalidRequest(
            "client_assertion_type was sent without client_assertion".into(),
        ));
    }
    let Some(basic) = basic else {
        if body_secret.is_some() && body_id.is_none() {
            return Err(OAuthError::InvalidRequest(
                "client_secret was sent without client_id".into(),
            ));
        }
        return Ok(body_id.map(|id| Presented {
            client_id: id.to_owned(),
            secret: body_secret.map(str::to_owned),
            basic: false,
            assertion: None,
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
        assertion: None,
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
                basic: true,
                assertion: None,
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
            Credentials::read(&HeaderMap::new(), &body).client_id(),
            Some("from-body")
        );
        let none = Params::parse(b"").unwrap();
        assert_eq!(
            Credentials::read(&basic(&encoded("from-header:s")), &none).client_id(),
            Some("from-header")
        );
        assert_eq!(
            Credentials::read(&basic("Basic !!!"), &none).client_id(),
            None
        );
        assert_eq!(
            Credentials::read(&HeaderMap::new(), &none).client_id(),
            None
        );
    }

    #[test]
    fn body_credentials_are_read() {
        let params = Params::parse(b"client_id=a&client_secret=b").unwrap();
        let presented = presented(&HeaderMap::new(), &params).unwrap().unwrap();
        assert_eq!(presented.secret.as_deref(), Some("b"));
        assert!(!presented.basic);
    }
}
