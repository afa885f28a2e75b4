//! The one way tests start a server and speak to it.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth_server::{AuthServer, Config};
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

pub const REDIRECT_URI: &str = "http://127.0.0.1:8765/callback";

pub struct Rig {
    pub server: Arc<AuthServer>,
    pub http: reqwest::Client,
    /// Where requests go: `http://ADDR` of the main listener, or another issuer's listener.
    base: String,
    /// The issuer's path, which its endpoints are under and its metadata path ends with.
    prefix: String,
}

const METADATA_PATH: &str = "/.well-known/oauth-authorization-server";

/// A registered client as the registration response described it.
#[derive(Clone, Debug)]
pub struct TestClient {
    pub id: String,
    pub secret: Option<String>,
}

/// A PKCE verifier and its S256 challenge.
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Self {
        let verifier = sim_http::secret::random_token();
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Self {
            verifier,
            challenge,
        }
    }
}

/// The tokens of a successful token response.
#[derive(Clone, Debug)]
pub struct Tokens {
    pub access: String,
    pub refresh: Option<String>,
    pub body: Value,
}

impl Rig {
    pub async fn start() -> Self {
        Self::start_with(Config::default()).await
    }

    pub async fn start_with(config: Config) -> Self {
        let server = AuthServer::start(config).await.expect("server starts");
        let http = reqwest::Client::builder()
            .redirect(Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Self {
            base: format!("http://{}", server.addr()),
            server: Arc::new(server),
            http,
            prefix: String::new(),
        }
    }

    /// The same server, speaking to the issuer served on `port` under `path`: every helper
    /// then registers, authorizes, exchanges and introspects there. Control calls are the same
    /// on every listener.
    pub fn at(&self, port: u16, path: &str) -> Self {
        Self {
            server: Arc::clone(&self.server),
            http: self.http.clone(),
            base: format!("http://127.0.0.1:{port}"),
            prefix: path.to_owned(),
        }
    }

    /// An absolute URL on the issuer, reached by address (the issuer says `localhost`, which
    /// may resolve to ::1 first): control paths as they are, the metadata path with the
    /// issuer's path inserted (RFC 8414 §3.1), endpoints under the issuer's path.
    pub fn url(&self, path: &str) -> String {
        let prefix = &self.prefix;
        if path.starts_with("/control") {
            format!("{}{path}", self.base)
        } else if let Some(rest) = path.strip_prefix(METADATA_PATH) {
            format!("{}{METADATA_PATH}{prefix}{rest}", self.base)
        } else {
            format!("{}{prefix}{path}", self.base)
        }
    }

    /// POSTs a urlencoded form and returns the raw response.
    pub async fn post_form<T: serde::Serialize + ?Sized>(
        &self,
        path: &str,
        form: &T,
    ) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let response = self.http.get(self.url(path)).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn register(&self, metadata: Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.url("/register"))
            .json(&metadata)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    /// Registers a public client (as rmcp and most MCP clients do) with both grants.
    pub async fn public_client(&self) -> TestClient {
        self.client_with("none").await
    }

    pub async fn client_with(&self, auth_method: &str) -> TestClient {
        let (status, body) = self
            .register(json!({
                "redirect_uris": [REDIRECT_URI],
                "token_endpoint_auth_method": auth_method,
                "grant_types": ["authorization_code", "refresh_token"],
                "client_name": "test client",
            }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        TestClient {
            id: body["client_id"].as_str().unwrap().to_owned(),
            secret: body["client_secret"].as_str().map(str::to_owned),
        }
    }

    /// GETs `/authorize` with the standard parameters plus `extra` (an empty value drops a
    /// standard parameter) and returns the raw response.
    pub async fn authorize_raw(
        &self,
        client: &TestClient,
        pkce: &Pkce,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut params: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", &client.id),
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
            .get(self.url("/authorize"))
            .query(&params)
            .send()
            .await
            .unwrap()
    }

    /// Runs `/authorize` and returns the redirect's URL, asserting that it is a redirect.
    pub async fn authorize(&self, client: &TestClient, pkce: &Pkce, extra: &[(&str, &str)]) -> Url {
        let response = self.authorize_raw(client, pkce, extra).await;
        assert_eq!(
            response.status(),
            StatusCode::FOUND,
            "{:?}",
            response.text().await
        );
        location(&response)
    }

    pub async fn code(&self, client: &TestClient, pkce: &Pkce) -> String {
        let redirect = self.authorize(client, pkce, &[]).await;
        query_param(&redirect, "code").expect("redirect carries a code")
    }

    /// POSTs a form to `/token` and returns status, headers and JSON body.
    pub async fn token_raw(
        &self,
        form: &[(&str, &str)],
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let response = self
            .http
            .post(self.url("/token"))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        (status, headers, response.json().await.unwrap())
    }

    pub async fn token(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let (status, _, body) = self.token_raw(form).await;
        (status, body)
    }

    pub async fn exchange(
        &self,
        client: &TestClient,
        code: &str,
        pkce: &Pkce,
    ) -> (StatusCode, Value) {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", &pkce.verifier),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", &client.id),
        ])
        .await
    }

    /// Registration, authorization and code exchange for a public client.
    pub async fn full_flow(&self, client: &TestClient) -> Tokens {
        let pkce = Pkce::new();
        let code = self.code(client, &pkce).await;
        let (status, body) = self.exchange(client, &code, &pkce).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        tokens(body)
    }

    pub async fn refresh(&self, client: &TestClient, refresh_token: &str) -> (StatusCode, Value) {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &client.id),
        ])
        .await
    }

    pub async fn introspect(&self, token: &str) -> Value {
        let response = self
            .http
            .post(self.url("/introspect"))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    pub async fn is_active(&self, token: &str) -> bool {
        self.introspect(token).await["active"] == json!(true)
    }

    /// POSTs JSON to a control endpoint and returns status and body.
    pub async fn control(&self, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.http.post(self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    /// POSTs a fault rule to `/control/faults`.
    pub async fn add_fault(&self, rule: Value) -> (StatusCode, Value) {
        self.control("/control/faults", Some(rule)).await
    }

    /// Adds a fault rule that must be accepted, and returns its id.
    pub async fn fault(&self, rule: Value) -> u64 {
        let (status, body) = self.add_fault(rule).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_u64().unwrap()
    }

    /// The fault rules, as `GET /control/faults` lists them.
    pub async fn faults(&self) -> Vec<Value> {
        let (status, body) = self.get_json("/control/faults").await;
        assert_eq!(status, StatusCode::OK);
        body["faults"].as_array().unwrap().clone()
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        let response = self.http.delete(self.url(path)).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    /// The journal's events from `since` on.
    pub async fn events(&self, since: u64) -> Vec<Value> {
        let (status, body) = self
            .get_json(&format!("/control/events?since={since}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["events"].as_array().unwrap().clone()
    }

    pub async fn state(&self) -> Value {
        let (status, body) = self.get_json("/control/state").await;
        assert_eq!(status, StatusCode::OK);
        body
    }
}

pub fn tokens(body: Value) -> Tokens {
    Tokens {
        access: body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned(),
        refresh: body["refresh_token"].as_str().map(str::to_owned),
        body,
    }
}

pub fn location(response: &reqwest::Response) -> Url {
    let location = response.headers()["location"].to_str().unwrap();
    Url::parse(location).unwrap()
}

pub fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}
