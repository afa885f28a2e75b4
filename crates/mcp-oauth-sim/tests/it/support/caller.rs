//! The client under test, played by the test: registration, PKCE, tokens and MCP calls, over
//! plain HTTP or trusting one CA.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::redirect::Policy;
use serde_json::{Value, json};
use url::Url;

/// The public URLs of a rig "behind a tunnel". They resolve nowhere, which is the point: every
/// request the rig makes to itself must go over loopback.
pub const PUBLIC_ISSUER: &str = "https://auth.example.test";
pub const PUBLIC_MCP_ORIGIN: &str = "https://mcp.example.test";
pub const PUBLIC_MCP_URL: &str = "https://mcp.example.test/mcp";

/// Where the stand-in client says it listens for the authorization redirect (nothing does).
pub use sim_test_kit::oauth::REDIRECT_URI;
use sim_test_kit::oauth::{Flow, Pkce};
/// What a Streamable HTTP client must accept.
const ACCEPT: &str = "application/json, text/event-stream";
pub const PROTOCOL_VERSION: &str = "2025-06-18";

/// An HTTP client as a local MCP client has one: no redirects followed, bounded, `localhost`
/// resolved to 127.0.0.1 (where the rig listens) whatever the resolver prefers.
pub fn http_client() -> reqwest::Client {
    client_builder().build().expect("build an HTTP client")
}

/// A client that trusts `ca_pem` and nothing else: not even the system's roots.
pub fn client_trusting_only(ca_pem: &[u8]) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(ca_pem).expect("the CA file is PEM");
    client_builder()
        .tls_certs_only([ca])
        .build()
        .expect("build an HTTPS client")
}

fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(Policy::none())
        .timeout(Duration::from_secs(10))
        .resolve("localhost", SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
}

/// Tokens from a completed authorization, and the client they were issued to.
#[derive(Clone, Debug)]
pub struct Tokens {
    pub client_id: String,
    pub access: String,
    pub refresh: String,
    /// The token response's `scope`: what was granted.
    pub scope: String,
}

/// The client under test, played by the test: it registers, authorizes with PKCE, exchanges
/// codes, refreshes, and calls tools, against an authorization server and an MCP URL.
pub struct Caller {
    pub http: reqwest::Client,
    /// Where the authorization server is reached (an origin, no path).
    pub auth: String,
    /// Where `/mcp` is reached.
    pub mcp: String,
    /// The `Host` header of MCP requests, when it should differ from the URL's (a tunnel's).
    mcp_host: Option<String>,
}

impl Caller {
    pub fn new(http: reqwest::Client, auth: impl Into<String>, mcp: impl Into<String>) -> Self {
        Self {
            http,
            auth: auth.into().trim_end_matches('/').to_owned(),
            mcp: mcp.into(),
            mcp_host: None,
        }
    }

    /// Sends MCP requests with this `Host`, as a tunnel forwarding to loopback would.
    pub fn with_mcp_host(mut self, host: &str) -> Self {
        self.mcp_host = Some(host.to_owned());
        self
    }

    /// The MCP server's origin, from the MCP URL.
    pub fn mcp_origin(&self) -> String {
        Url::parse(&self.mcp)
            .expect("the MCP URL parses")
            .origin()
            .ascii_serialization()
    }

    pub async fn get_json(&self, url: &str) -> (StatusCode, Value) {
        let response = self.http.get(url).send().await.expect("GET");
        let status = response.status();
        (status, body_json(response).await)
    }

    /// The OAuth flow against the authorization server.
    fn flow(&self) -> Flow {
        Flow::new(self.http.clone(), &self.auth)
    }

    /// Dynamic client registration of a public client.
    pub async fn register(&self) -> String {
        self.flow()
            .register_public("mcp-oauth-sim end-to-end tests")
            .await
    }

    /// `GET /authorize` with PKCE S256 for `resource`; returns where the server redirects to.
    pub async fn authorize(&self, client_id: &str, resource: &str) -> Url {
        self.flow()
            .authorize(
                client_id,
                &Pkce::new(),
                &[("resource", resource), ("state", "xyz")],
            )
            .await
    }

    /// Registration, authorization and code exchange for `resource`.
    pub async fn log_in(&self, resource: &str) -> Tokens {
        let tokens = self
            .flow()
            .log_in("mcp-oauth-sim end-to-end tests", Some(resource), None)
            .await;
        Tokens {
            refresh: tokens.refresh.expect("the client may refresh"),
            access: tokens.access,
            scope: tokens.scope,
            client_id: tokens.client_id,
        }
    }

    /// A refresh grant; answers the status and the token response or error.
    pub async fn refresh(&self, client_id: &str, refresh_token: &str) -> (StatusCode, Value) {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
        ])
        .await
    }

    async fn token(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self.token_response(form).await;
        let status = response.status();
        (status, body_json(response).await)
    }

    /// `POST /token` with `form`, the whole response (for its headers).
    pub async fn token_response(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}/token", self.auth))
            .form(form)
            .send()
            .await
            .expect("POST /token")
    }

    /// A `tools/call` of `tool`, the whole response (for a challenge).
    pub async fn call_tool(&self, token: &str, tool: &str, arguments: Value) -> reqwest::Response {
        let message = json!({
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": { "name": tool, "arguments": arguments },
        });
        self.post_mcp(Some(token), &message).await
    }

    /// POSTs a JSON-RPC message to `/mcp` with the headers a Streamable HTTP client sends.
    pub async fn post_mcp(&self, token: Option<&str>, message: &Value) -> reqwest::Response {
        let mut request = self
            .http
            .post(&self.mcp)
            .header("accept", ACCEPT)
            .header("mcp-protocol-version", PROTOCOL_VERSION)
            .json(message);
        if let Some(host) = &self.mcp_host {
            request = request.header("host", host);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("POST /mcp")
    }

    /// A JSON-RPC request; answers the HTTP status and the parsed response.
    pub async fn rpc(&self, token: &str, method: &str, params: Value) -> (StatusCode, Value) {
        let message = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let response = self.post_mcp(Some(token), &message).await;
        let status = response.status();
        (status, body_json(response).await)
    }

    pub async fn initialize(&self, token: &str) -> (StatusCode, Value) {
        self.rpc(
            token,
            "initialize",
            json!({
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": { "name": "mcp-oauth-sim end-to-end tests", "version": "0" },
            }),
        )
        .await
    }

    /// `echo` with `message`; answers the HTTP status and the JSON-RPC response.
    pub async fn echo(&self, token: &str, message: &str) -> (StatusCode, Value) {
        self.rpc(
            token,
            "tools/call",
            json!({ "name": "echo", "arguments": { "message": message } }),
        )
        .await
    }

    /// A tool call without a token, to read the challenge.
    pub async fn challenge(&self) -> (StatusCode, String) {
        let message = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" });
        let response = self.post_mcp(None, &message).await;
        let status = response.status();
        let header = response
            .headers()
            .get("www-authenticate")
            .map(|value| value.to_str().expect("ASCII challenge").to_owned())
            .unwrap_or_default();
        (status, header)
    }
}

/// The `WWW-Authenticate` header of a response, or "".
pub fn challenge_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("www-authenticate")
        .map(|value| value.to_str().expect("ASCII challenge").to_owned())
        .unwrap_or_default()
}

/// A response body as JSON; `Value::String` of the text when it is not JSON.
pub async fn body_json(response: reqwest::Response) -> Value {
    let text = response.text().await.expect("read the body");
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

pub fn query_value(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// The text of the first content block of a `tools/call` result.
pub fn tool_text(response: &Value) -> &str {
    response["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text content in {response}"))
}

/// Waits until nothing accepts connections at `addr`, failing after a few seconds.
pub async fn assert_closes(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "{addr} still accepts connections"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
