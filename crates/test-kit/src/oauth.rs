//! The OAuth flow as a public MCP client runs it: dynamic registration, `/authorize` with PKCE
//! S256 (the redirect read, not followed), the code exchange and the refresh grant.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

/// The loopback redirect URI the test clients register; nothing listens there, since the
/// redirect is read rather than followed.
pub const REDIRECT_URI: &str = "http://127.0.0.1:8765/callback";

/// A PKCE verifier and its S256 challenge (RFC 7636 §4.2).
#[derive(Clone, Debug)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    /// A fresh random verifier.
    pub fn new() -> Self {
        Self::from_verifier(sim_http::secret::random_token())
    }

    /// The pair for a given verifier.
    pub fn from_verifier(verifier: impl Into<String>) -> Self {
        let verifier = verifier.into();
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Self {
            verifier,
            challenge,
        }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Self::new()
    }
}

/// The tokens of a successful code exchange.
#[derive(Clone, Debug)]
pub struct Tokens {
    pub client_id: String,
    pub access: String,
    /// Absent when the client is not registered for the refresh grant.
    pub refresh: Option<String>,
    /// The scope granted.
    pub scope: String,
    /// The whole token response.
    pub body: Value,
}

/// The flow against one issuer: `base` is where its endpoints are (`http://127.0.0.1:PORT`, or
/// with the issuer's path), reached with `http`, which must not follow redirects.
#[derive(Clone, Debug)]
pub struct Flow {
    pub http: reqwest::Client,
    pub base: String,
}

impl Flow {
    /// The flow against the endpoints under `base`.
    pub fn new(http: reqwest::Client, base: impl Into<String>) -> Self {
        Self {
            http,
            base: base.into().trim_end_matches('/').to_owned(),
        }
    }

    /// Registers a public client of the code and refresh grants with [`REDIRECT_URI`] and
    /// answers its id; asserts the registration was accepted.
    pub async fn register_public(&self, client_name: &str) -> String {
        let response = self
            .http
            .post(format!("{}/register", self.base))
            .json(&json!({
                "client_name": client_name,
                "redirect_uris": [REDIRECT_URI],
                "grant_types": ["authorization_code", "refresh_token"],
                "token_endpoint_auth_method": "none",
            }))
            .send()
            .await
            .expect("POST /register");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["client_id"]
            .as_str()
            .expect("the registration answers a client_id")
            .to_owned()
    }

    /// `GET /authorize` with the standard parameters for `client_id` and `pkce`, plus `extra`
    /// (an empty value drops a standard parameter); the raw answer.
    pub async fn authorize_raw(
        &self,
        client_id: &str,
        pkce: &Pkce,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut params: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT_URI),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", "S256"),
            ("state", "st4te"),
        ];
        for (name, value) in extra {
            params.retain(|(existing, _)| existing != name);
            if !value.is_empty() {
                params.push((name, value));
            }
        }
        self.http
            .get(format!("{}/authorize", self.base))
            .query(&params)
            .send()
            .await
            .expect("GET /authorize")
    }

    /// [`Flow::authorize_raw`], asserting a redirect; answers where it redirects to.
    pub async fn authorize(&self, client_id: &str, pkce: &Pkce, extra: &[(&str, &str)]) -> Url {
        let response = self.authorize_raw(client_id, pkce, extra).await;
        let status = response.status();
        if status != StatusCode::FOUND {
            panic!("/authorize answered {status}: {:?}", response.text().await);
        }
        location(&response)
    }

    /// The code of an authorization, asserting the redirect carries one.
    pub async fn code(&self, client_id: &str, pkce: &Pkce, extra: &[(&str, &str)]) -> String {
        let redirect = self.authorize(client_id, pkce, extra).await;
        query_param(&redirect, "code")
            .unwrap_or_else(|| panic!("no code in the redirect {redirect}"))
    }

    /// POSTs a form to `/token`: status, headers and JSON body.
    pub async fn token_raw(
        &self,
        form: &[(&str, &str)],
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let response = self
            .http
            .post(format!("{}/token", self.base))
            .form(form)
            .send()
            .await
            .expect("POST /token");
        let status = response.status();
        let headers = response.headers().clone();
        (
            status,
            headers,
            response.json().await.unwrap_or(Value::Null),
        )
    }

    /// POSTs a form to `/token`: status and JSON body.
    pub async fn token(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let (status, _, body) = self.token_raw(form).await;
        (status, body)
    }

    /// The code exchange, plus `extra` form fields.
    pub async fn exchange(
        &self,
        client_id: &str,
        code: &str,
        pkce: &Pkce,
        extra: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", &pkce.verifier),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", client_id),
        ];
        form.extend_from_slice(extra);
        self.token(&form).await
    }

    /// A refresh grant, plus `extra` form fields.
    pub async fn refresh(
        &self,
        client_id: &str,
        refresh_token: &str,
        extra: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
        ];
        form.extend_from_slice(extra);
        self.token(&form).await
    }

    /// The whole flow of a new public client: registration, authorization (for `resource` and
    /// `scope` if given) and the code exchange (repeating `resource`), asserting each step.
    pub async fn log_in(
        &self,
        client_name: &str,
        resource: Option<&str>,
        scope: Option<&str>,
    ) -> Tokens {
        let client_id = self.register_public(client_name).await;
        let pkce = Pkce::new();
        let mut extra = Vec::new();
        extra.extend(resource.map(|resource| ("resource", resource)));
        extra.extend(scope.map(|scope| ("scope", scope)));
        let code = self.code(&client_id, &pkce, &extra).await;
        let resource: Vec<(&str, &str)> = resource
            .map(|resource| ("resource", resource))
            .into_iter()
            .collect();
        let (status, body) = self.exchange(&client_id, &code, &pkce, &resource).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        tokens(client_id, body)
    }
}

/// The tokens of a token response for `client_id`.
pub fn tokens(client_id: String, body: Value) -> Tokens {
    Tokens {
        client_id,
        access: body["access_token"]
            .as_str()
            .expect("the answer has an access_token")
            .to_owned(),
        refresh: body["refresh_token"].as_str().map(str::to_owned),
        scope: body["scope"].as_str().unwrap_or_default().to_owned(),
        body,
    }
}

/// Where a redirect points.
pub fn location(response: &reqwest::Response) -> Url {
    let location = response.headers()["location"]
        .to_str()
        .expect("an ASCII Location");
    Url::parse(location).expect("Location is a URL")
}

/// A query parameter of `url`.
pub fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}
