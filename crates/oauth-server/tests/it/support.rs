//! The one way tests start a server and speak to it.

use std::sync::Arc;
use std::time::Duration;

use oauth_server::{AuthServer, Config};
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use serde_json::{Value, json};
use url::Url;

use sim_test_kit::oauth::Flow;
pub use sim_test_kit::oauth::{Pkce, REDIRECT_URI, location, query_param};

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

    /// The OAuth flow against this issuer's endpoints.
    fn flow(&self) -> Flow {
        Flow::new(self.http.clone(), format!("{}{}", self.base, self.prefix))
    }

    /// GETs `/authorize` with the standard parameters plus `extra` (an empty value drops a
    /// standard parameter) and returns the raw response.
    pub async fn authorize_raw(
        &self,
        client: &TestClient,
        pkce: &Pkce,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        self.flow().authorize_raw(&client.id, pkce, extra).await
    }

    /// Runs `/authorize` and returns the redirect's URL, asserting that it is a redirect.
    pub async fn authorize(&self, client: &TestClient, pkce: &Pkce, extra: &[(&str, &str)]) -> Url {
        self.flow().authorize(&client.id, pkce, extra).await
    }

    pub async fn code(&self, client: &TestClient, pkce: &Pkce) -> String {
        self.flow().code(&client.id, pkce, &[]).await
    }

    /// POSTs a form to `/token` and returns status, headers and JSON body.
    pub async fn token_raw(
        &self,
        form: &[(&str, &str)],
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        self.flow().token_raw(form).await
    }

    pub async fn token(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        self.flow().token(form).await
    }

    pub async fn exchange(
        &self,
        client: &TestClient,
        code: &str,
        pkce: &Pkce,
    ) -> (StatusCode, Value) {
        self.flow().exchange(&client.id, code, pkce, &[]).await
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
        self.flow().refresh(&client.id, refresh_token, &[]).await
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

    /// POSTs JSON to a control endpoint and returns status and body as text: for refusals,
    /// which are plain text.
    pub async fn control_text(&self, path: &str, body: Value) -> (StatusCode, String) {
        let response = self
            .http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.text().await.unwrap())
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
