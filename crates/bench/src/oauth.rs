//! A token, headlessly: dynamic client registration if the server offers it, then the
//! authorization code flow with PKCE S256, reading the code from the authorization endpoint's
//! redirect instead of following it (nothing listens at the redirect URI).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, StatusCode};
use http_body_util::Full;
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use url::Url;
use url::form_urlencoded::{Serializer, byte_serialize};

use crate::discovery::Discovered;
use crate::http::{Conn, Connector, get, origin_of, path_and_query, post};
use crate::{Error, Failure};

/// Where the authorization server is asked to send the code. A loopback URI, as native clients
/// use; nothing listens there, the redirect is read, not followed.
pub const REDIRECT_URI: &str = "http://127.0.0.1:8976/callback";

/// A registered (or given) client.
#[derive(Clone, Debug)]
pub struct Registration {
    pub client_id: String,
    pub client_secret: Option<String>,
    /// `none`, `client_secret_basic` or `client_secret_post`.
    pub auth_method: String,
    pub redirect_uri: String,
}

impl Registration {
    /// A client registered out of band: public, with the given redirect URI.
    pub fn public(client_id: String, redirect_uri: String) -> Self {
        Self {
            client_id,
            client_secret: None,
            auth_method: "none".to_owned(),
            redirect_uri,
        }
    }
}

#[derive(Deserialize)]
struct RegistrationAnswer {
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
}

/// RFC 7591 registration of a public client.
pub async fn register(
    connector: &Connector,
    endpoint: &Url,
    redirect_uri: &str,
) -> Result<Registration, Error> {
    let body = serde_json::json!({
        "client_name": "sim-bench",
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    });
    let mut conn = Conn::new(origin_of(endpoint)?, connector.clone());
    let reply = conn
        .send(post(
            &path_and_query(endpoint),
            "application/json",
            Bytes::from(body.to_string()),
        ))
        .await?;
    if !reply.status.is_success() {
        return Err(Error::Protocol(format!(
            "registration at {endpoint} answered {}: {}",
            reply.status,
            reply.excerpt()
        )));
    }
    let answer: RegistrationAnswer = serde_json::from_slice(&reply.body)
        .map_err(|error| Error::Protocol(format!("registration answer: {error}")))?;
    let auth_method = answer.token_endpoint_auth_method.unwrap_or_else(|| {
        if answer.client_secret.is_some() {
            "client_secret_basic".to_owned()
        } else {
            "none".to_owned()
        }
    });
    Ok(Registration {
        client_id: answer.client_id,
        client_secret: answer.client_secret,
        auth_method,
        redirect_uri: redirect_uri.to_owned(),
    })
}

/// A PKCE verifier and its S256 challenge (RFC 7636).
#[derive(Clone, Debug)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn generate() -> Self {
        let verifier = random_string();
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Self {
            verifier,
            challenge,
        }
    }
}

/// 256 random bits, base64url: a verifier or a `state`.
fn random_string() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The code the authorization endpoint's redirect carries, after checking `state`.
pub fn code_from_redirect(
    status: StatusCode,
    location: Option<&str>,
    state: &str,
) -> Result<String, String> {
    if !status.is_redirection() {
        return Err(format!(
            "the authorization endpoint answered {status}, not a redirect"
        ));
    }
    let location = location.ok_or("the redirect has no Location")?;
    let url = Url::parse(location).map_err(|error| format!("Location '{location}': {error}"))?;
    let mut code = None;
    let mut returned_state = None;
    let mut error = None;
    let mut description = None;
    for (name, value) in url.query_pairs() {
        match &*name {
            "code" => code = Some(value.into_owned()),
            "state" => returned_state = Some(value.into_owned()),
            "error" => error = Some(value.into_owned()),
            "error_description" => description = Some(value.into_owned()),
            _ => {}
        }
    }
    if let Some(error) = error {
        return Err(format!(
            "authorization refused: {error} ({})",
            description.unwrap_or_default()
        ));
    }
    if returned_state.as_deref() != Some(state) {
        return Err("the redirect does not carry the state that was sent".to_owned());
    }
    code.ok_or_else(|| "the redirect carries no code".to_owned())
}

/// A successful token response: what a client keeps.
#[derive(Clone, Debug, Deserialize)]
pub struct Grant {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Seconds the access token lives, when the server says.
    #[serde(default)]
    pub expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: String,
}

/// One authorization code flow after discovery and registration: `/authorize`, its redirect,
/// `/token`. Holds a keep-alive connection to each endpoint so that flows can repeat cheaply.
pub struct Authorizer {
    discovered: Discovered,
    registration: Registration,
    authorize: Conn,
    token: Conn,
}

impl Authorizer {
    pub fn new(
        connector: &Connector,
        discovered: Discovered,
        registration: Registration,
    ) -> Result<Self, Error> {
        let authorize = Conn::new(
            origin_of(&discovered.authorization_endpoint)?,
            connector.clone(),
        );
        let token = Conn::new(origin_of(&discovered.token_endpoint)?, connector.clone());
        Ok(Self {
            discovered,
            registration,
            authorize,
            token,
        })
    }

    /// Requests sent to the authorization and token endpoints so far.
    pub fn requests(&self) -> u64 {
        self.authorize.sent() + self.token.sent()
    }

    /// Drops both connections; the next flow opens new ones.
    pub fn reset(&mut self) {
        self.authorize.reset();
        self.token.reset();
    }

    /// Runs a flow and returns the access token.
    pub async fn access_token(&mut self) -> Result<String, Failure> {
        self.grant().await.map(|grant| grant.access_token)
    }

    /// Runs a flow and returns the token response.
    pub async fn grant(&mut self) -> Result<Grant, Failure> {
        let pkce = Pkce::generate();
        let state = random_string();
        let reply = self
            .authorize
            .send(get(&self.authorize_target(&pkce, &state)))
            .await
            .map_err(|error| Failure::transport("authorize", error))?;
        let code = code_from_redirect(reply.status, reply.header(header::LOCATION), &state)
            .map_err(|detail| {
                Failure::new(format!("authorize:{}", reply.status.as_u16()), detail)
            })?;
        let reply = self
            .token
            .send(self.token_request(&code, &pkce))
            .await
            .map_err(|error| Failure::transport("token", error))?;
        let status = reply.status.as_u16();
        if reply.status != StatusCode::OK {
            return Err(Failure::new(format!("token:{status}"), reply.excerpt()));
        }
        serde_json::from_slice::<Grant>(&reply.body)
            .map_err(|error| Failure::new("token:garbage", error.to_string()))
    }

    /// The refresh grant with `refresh_token`. A refusal is counted as
    /// `refresh:STATUS:ERROR` (`refresh:400:invalid_grant`), so that its OAuth error shows.
    pub async fn refresh(&mut self, refresh_token: &str) -> Result<Grant, Failure> {
        let form = Serializer::new(String::new())
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", refresh_token)
            .append_pair("client_id", &self.registration.client_id)
            .append_pair("resource", &self.discovered.resource)
            .finish();
        let request = post(
            &path_and_query(&self.discovered.token_endpoint),
            "application/x-www-form-urlencoded",
            Bytes::from(form),
        );
        let reply = self
            .token
            .send(request)
            .await
            .map_err(|error| Failure::transport("refresh", error))?;
        if reply.status != StatusCode::OK {
            let error = serde_json::from_slice::<ErrorAnswer>(&reply.body)
                .map_or_else(|_| "?".to_owned(), |answer| answer.error);
            return Err(Failure::new(
                format!("refresh:{}:{error}", reply.status.as_u16()),
                reply.excerpt(),
            ));
        }
        serde_json::from_slice::<Grant>(&reply.body)
            .map_err(|error| Failure::new("refresh:garbage", error.to_string()))
    }

    fn authorize_target(&self, pkce: &Pkce, state: &str) -> String {
        let mut url = self.discovered.authorization_endpoint.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &self.registration.client_id)
                .append_pair("redirect_uri", &self.registration.redirect_uri)
                .append_pair("code_challenge", &pkce.challenge)
                .append_pair("code_challenge_method", "S256")
                .append_pair("state", state)
                .append_pair("resource", &self.discovered.resource);
            if let Some(scope) = &self.discovered.scope {
                query.append_pair("scope", scope);
            }
        }
        path_and_query(&url)
    }

    fn token_request(&self, code: &str, pkce: &Pkce) -> Request<Full<Bytes>> {
        let registration = &self.registration;
        let mut form = Serializer::new(String::new());
        form.append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("code_verifier", &pkce.verifier)
            .append_pair("redirect_uri", &registration.redirect_uri)
            .append_pair("resource", &self.discovered.resource);
        let secret = registration.client_secret.as_deref();
        let basic = match (registration.auth_method.as_str(), secret) {
            ("client_secret_basic", Some(secret)) => {
                Some(basic_credentials(&registration.client_id, secret))
            }
            ("client_secret_post", Some(secret)) => {
                form.append_pair("client_id", &registration.client_id)
                    .append_pair("client_secret", secret);
                None
            }
            _ => {
                form.append_pair("client_id", &registration.client_id);
                None
            }
        };
        let mut request = post(
            &path_and_query(&self.discovered.token_endpoint),
            "application/x-www-form-urlencoded",
            Bytes::from(form.finish()),
        );
        if let Some(basic) = basic {
            request.headers_mut().insert(header::AUTHORIZATION, basic);
        }
        request
    }
}

/// RFC 6749 §2.3.1: both halves form-encoded, then base64.
fn basic_credentials(id: &str, secret: &str) -> HeaderValue {
    let encoded = format!(
        "{}:{}",
        byte_serialize(id.as_bytes()).collect::<String>(),
        byte_serialize(secret.as_bytes()).collect::<String>()
    );
    HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(encoded)))
        .expect("base64 is a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_is_read_from_the_redirect_after_the_state_is_checked() {
        let location =
            "http://127.0.0.1:8976/callback?code=abc&state=s1&iss=http%3A%2F%2Flocalhost%3A9100";
        assert_eq!(
            code_from_redirect(StatusCode::FOUND, Some(location), "s1").unwrap(),
            "abc"
        );
        assert!(
            code_from_redirect(StatusCode::FOUND, Some(location), "other")
                .unwrap_err()
                .contains("state")
        );
        // Express answers 302 with a body; a 303 or 307 is a redirect all the same.
        assert!(code_from_redirect(StatusCode::SEE_OTHER, Some(location), "s1").is_ok());
    }

    #[test]
    fn refusals_and_non_redirects_are_explained() {
        let denied =
            "http://127.0.0.1:8976/callback?error=access_denied&error_description=no&state=s";
        let error = code_from_redirect(StatusCode::FOUND, Some(denied), "s").unwrap_err();
        assert!(
            error.contains("access_denied") && error.contains("no"),
            "{error}"
        );
        assert!(code_from_redirect(StatusCode::BAD_REQUEST, None, "s").is_err());
        assert!(code_from_redirect(StatusCode::FOUND, None, "s").is_err());
        assert!(code_from_redirect(StatusCode::FOUND, Some("/relative?code=x"), "s").is_err());
        let no_code = "http://127.0.0.1:8976/callback?state=s";
        assert!(code_from_redirect(StatusCode::FOUND, Some(no_code), "s").is_err());
    }

    #[test]
    fn pkce_challenge_is_the_s256_of_the_verifier() {
        let pkce = Pkce::generate();
        assert_eq!(pkce.verifier.len(), 43);
        assert_eq!(
            pkce.challenge,
            URL_SAFE_NO_PAD.encode(Sha256::digest(pkce.verifier.as_bytes()))
        );
        assert_ne!(Pkce::generate().verifier, pkce.verifier);
        // RFC 7636 Appendix B.
        let known = URL_SAFE_NO_PAD.encode(Sha256::digest(
            b"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        ));
        assert_eq!(known, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn basic_credentials_encode_both_halves() {
        assert_eq!(basic_credentials("a b", "c:d"), "Basic YStiOmMlM0Fk");
    }
}
