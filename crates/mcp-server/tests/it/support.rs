//! The one way tests start the two servers and speak to them.

use std::time::Duration;

use mcp_server::McpServer;
use oauth_server::AuthServer;
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use serde_json::{Value, json};

use sim_test_kit::oauth::Flow;
pub use sim_test_kit::pki::TestPki;
/// What a Streamable HTTP client must accept.
pub const ACCEPT: &str = "application/json, text/event-stream";
pub const PROTOCOL_VERSION: &str = "2025-06-18";

/// The authorization server and the MCP server, wired as the launcher wires them: the MCP
/// server introspects at the AS's loopback address and announces the AS's issuer.
pub struct Rig {
    pub auth: AuthServer,
    pub mcp: McpServer,
    pub http: reqwest::Client,
    auth_config: oauth_server::Config,
    mcp_config: mcp_server::Config,
}

/// Tokens from a completed flow, and the client they were issued to.
#[derive(Clone, Debug)]
pub struct Tokens {
    pub client_id: String,
    pub access: String,
    pub refresh: String,
}

impl Rig {
    pub async fn start() -> Self {
        Self::start_with(
            oauth_server::Config::default(),
            mcp_server::Config::default(),
        )
        .await
    }

    /// Starts both servers; the MCP config's authorization server is filled in from the AS that
    /// was started.
    pub async fn start_with(
        auth_config: oauth_server::Config,
        mcp_config: mcp_server::Config,
    ) -> Self {
        let auth = AuthServer::start(auth_config.clone())
            .await
            .expect("authorization server starts");
        let mcp_config = mcp_server::Config {
            authorization_servers: vec![mcp_server::AuthorizationServer::new(
                auth.issuer().to_owned(),
                format!("http://{}/introspect", auth.addr()),
            )],
            ..mcp_config
        };
        let mcp = McpServer::start(mcp_config.clone())
            .await
            .expect("MCP server starts");
        Self {
            auth,
            mcp,
            http: client(),
            auth_config,
            mcp_config,
        }
    }

    /// Stops the authorization server; the MCP server keeps running.
    pub async fn stop_auth(&mut self) -> std::net::SocketAddr {
        let addr = self.auth.addr();
        let placeholder = AuthServer::start(self.auth_config.clone()).await.unwrap();
        let old = std::mem::replace(&mut self.auth, placeholder);
        old.stop().await.unwrap();
        addr
    }

    /// Starts a fresh authorization server on `addr` (state is in memory, so tokens from before
    /// are gone), with the same issuer the MCP server announces.
    pub async fn restart_auth_on(&mut self, addr: std::net::SocketAddr) {
        let config = oauth_server::Config {
            issuer: Some(self.mcp_config.authorization_servers[0].issuer.clone()),
            ..self.auth_config.clone()
        };
        // The port was just released; give the OS a moment if it still holds it.
        let mut attempts = 0;
        let listener = loop {
            match tokio::net::TcpListener::bind(addr).await {
                Ok(listener) => break listener,
                Err(error) if attempts < 50 => {
                    attempts += 1;
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(error) => panic!("cannot rebind {addr}: {error}"),
            }
        };
        self.auth = AuthServer::start_on(listener, config).await.unwrap();
    }

    /// The MCP URL by address (the configured one says `localhost`, which may resolve to ::1).
    pub fn mcp_url(&self) -> String {
        format!("http://{}/mcp", self.mcp.addr())
    }

    pub fn mcp_path(&self, path: &str) -> String {
        format!("http://{}{path}", self.mcp.addr())
    }

    pub fn auth_path(&self, path: &str) -> String {
        format!("http://{}{path}", self.auth.addr())
    }

    /// Registration, `/authorize` with PKCE S256 and `resource`, and the code exchange: what a
    /// real client does after discovery.
    pub async fn token(&self) -> Tokens {
        self.token_for(Some(&self.mcp_url())).await
    }

    pub async fn token_for(&self, resource: Option<&str>) -> Tokens {
        self.token_with(resource, None).await
    }

    /// A token for `resource` (if any) with the `scope` requested at `/authorize` (if any).
    pub async fn token_with(&self, resource: Option<&str>, scope: Option<&str>) -> Tokens {
        obtain_tokens(&self.http, &self.auth_path(""), resource, scope).await
    }

    /// POSTs a JSON-RPC message to `/mcp` as a Streamable HTTP client would.
    pub async fn post_mcp(&self, token: Option<&str>, message: &Value) -> reqwest::Response {
        post_mcp(&self.http, &self.mcp_url(), token, message).await
    }

    /// Sends a JSON-RPC request and returns the HTTP status and the parsed JSON-RPC response.
    pub async fn rpc(&self, token: &str, method: &str, params: Value) -> (StatusCode, Value) {
        let message = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let response = self.post_mcp(Some(token), &message).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn initialize(&self, token: &str) -> (StatusCode, Value) {
        self.rpc(
            token,
            "initialize",
            json!({
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": { "name": "mcp-server tests", "version": "0" },
            }),
        )
        .await
    }

    /// Calls a tool and returns the HTTP status and the JSON-RPC response.
    pub async fn call_tool(
        &self,
        token: &str,
        name: &str,
        arguments: Value,
    ) -> (StatusCode, Value) {
        self.rpc(
            token,
            "tools/call",
            json!({ "name": name, "arguments": arguments }),
        )
        .await
    }

    /// POSTs to a control endpoint of the MCP server.
    pub async fn mcp_control(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.post_json(&self.mcp_path(path), &body).await
    }

    /// POSTs to a control endpoint of the authorization server.
    pub async fn auth_control(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.post_json(&self.auth_path(path), &body).await
    }

    pub async fn mcp_state(&self) -> Value {
        control_state(&self.http, &self.mcp_path("/control/state")).await
    }

    pub async fn post_json(&self, url: &str, body: &Value) -> (StatusCode, Value) {
        let response = self.http.post(url).json(body).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// POSTs a JSON-RPC message to an MCP URL with the headers a Streamable HTTP client sends.
pub async fn post_mcp(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    message: &Value,
) -> reqwest::Response {
    let mut request = http
        .post(url)
        .header("accept", ACCEPT)
        .header("mcp-protocol-version", PROTOCOL_VERSION)
        .json(message);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// GETs a control plane's state, asserting that it answers 200.
pub async fn control_state(http: &reqwest::Client, url: &str) -> Value {
    let response = http.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The `WWW-Authenticate` header of a response, or an empty string.
pub fn www_authenticate(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("www-authenticate")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// The text of the first content block of a `tools/call` result.
pub fn tool_text(response: &Value) -> &str {
    response["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text content in {response}"))
}

// Helpers added for tools.rs, control.rs and outage.rs.

impl Rig {
    /// POSTs raw bytes to `/mcp` with a bearer token and the headers a Streamable HTTP client
    /// sends: for bodies no JSON encoder would produce.
    pub async fn post_mcp_raw(
        &self,
        token: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.http
            .post(self.mcp_url())
            .header("accept", ACCEPT)
            .header("mcp-protocol-version", PROTOCOL_VERSION)
            .header("content-type", content_type)
            .bearer_auth(token)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// What the authorization server's RFC 7662 endpoint says about `token`, asked exactly as
    /// the MCP server asks (form POST, no client authentication).
    pub async fn introspect(&self, token: &str) -> Value {
        let response = self
            .http
            .post(self.auth_path("/introspect"))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }
}

/// A stand-in for the authorization server's introspection endpoint that misbehaves, on its
/// own 127.0.0.1:0 listener. Dropping it aborts the listener and every connection it holds.
pub struct FakeIntrospection {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl FakeIntrospection {
    /// Reads each request in full, then writes `answer` (a complete raw HTTP/1.1 response)
    /// and closes the connection.
    pub async fn answering(answer: &'static str) -> Self {
        Self::spawn(move |mut stream| async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut seen = Vec::new();
            let mut buffer = [0u8; 4096];
            let wanted = loop {
                let Ok(read) = stream.read(&mut buffer).await else {
                    return;
                };
                if read == 0 {
                    return;
                }
                seen.extend_from_slice(&buffer[..read]);
                if let Some(end) = seen.windows(4).position(|window| window == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|line| line.strip_prefix("content-length:"))
                        .and_then(|value| value.trim().parse().ok())
                        .unwrap_or(0);
                    break end + 4 + length;
                }
            };
            while seen.len() < wanted {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(read) => seen.extend_from_slice(&buffer[..read]),
                }
            }
            let _ = stream.write_all(answer.as_bytes()).await;
            let _ = stream.shutdown().await;
        })
        .await
    }

    /// Accepts connections and never answers: holds each socket open until dropped.
    pub async fn silent() -> Self {
        Self::spawn(|stream| async move {
            std::future::pending::<()>().await;
            drop(stream);
        })
        .await
    }

    async fn spawn<F, Fut>(serve: F) -> Self
    where
        F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/introspect", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                connections.spawn(serve(stream));
            }
        });
        Self { url, task }
    }
}

impl Drop for FakeIntrospection {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every connection task.
        self.task.abort();
    }
}

/// An MCP server, alone, checking tokens at `introspection_url`.
pub async fn mcp_server_introspecting_at(
    introspection_url: &str,
    introspection_timeout: Duration,
) -> McpServer {
    McpServer::start(mcp_server::Config {
        authorization_servers: vec![mcp_server::AuthorizationServer::new(
            "http://localhost:1",
            introspection_url.to_owned(),
        )],
        introspection_timeout,
        ..mcp_server::Config::default()
    })
    .await
    .expect("MCP server starts")
}

// Helpers added for auth.rs, metadata.rs and tls.rs.

/// The JSON-RPC `initialize` request a client sends first.
pub fn initialize_message() -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": { "name": "mcp-server tests", "version": "0" },
        },
    })
}

impl Rig {
    /// An `initialize` POST to `/mcp` with the headers a Streamable HTTP client sends, but no
    /// credentials: the test adds the `Authorization`, `Host` or `Origin` it is about.
    pub fn initialize_request(&self) -> reqwest::RequestBuilder {
        self.http
            .post(self.mcp_url())
            .header("accept", ACCEPT)
            .header("mcp-protocol-version", PROTOCOL_VERSION)
            .json(&initialize_message())
    }

    pub fn mcp_port(&self) -> u16 {
        self.mcp.addr().port()
    }
}

/// The body of a response as JSON (`Null` when it is not JSON).
pub async fn json_body(response: reqwest::Response) -> Value {
    let text = response.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// The token flow every test uses (registration, `/authorize` with PKCE S256, code
/// exchange) against the authorization server at `auth_base`, with any client: for a rig that
/// is not a [`Rig`], such as one serving HTTPS.
pub async fn obtain_tokens(
    http: &reqwest::Client,
    auth_base: &str,
    resource: Option<&str>,
    scope: Option<&str>,
) -> Tokens {
    let tokens = Flow::new(http.clone(), auth_base)
        .log_in("mcp-server tests", resource, scope)
        .await;
    Tokens {
        refresh: tokens.refresh.expect("the client may refresh"),
        client_id: tokens.client_id,
        access: tokens.access,
    }
}

/// Both servers serving HTTPS with certificates from one [`TestPki`], the MCP server
/// introspecting at `https://127.0.0.1:ASPORT/introspect`.
pub struct TlsRig {
    pub auth: AuthServer,
    pub mcp: McpServer,
    /// A client trusting the rig's CA.
    pub http: reqwest::Client,
}

impl TlsRig {
    /// With `trust_ca_for_introspection` false, the MCP server trusts only the system roots for
    /// its introspection calls, so it cannot verify the authorization server.
    pub async fn start(trust_ca_for_introspection: bool) -> Self {
        let pki = TestPki::generate("mcp-server test CA");
        let auth = AuthServer::start(oauth_server::Config {
            tls: Some(pki.tls()),
            ..oauth_server::Config::default()
        })
        .await
        .expect("authorization server starts");
        let mcp = McpServer::start(mcp_server::Config {
            authorization_servers: vec![mcp_server::AuthorizationServer::new(
                auth.issuer().to_owned(),
                format!("https://{}/introspect", auth.addr()),
            )],
            introspection_roots: if trust_ca_for_introspection {
                vec![pki.ca_der.clone()]
            } else {
                Vec::new()
            },
            tls: Some(pki.tls()),
            ..mcp_server::Config::default()
        })
        .await
        .expect("MCP server starts");
        Self {
            http: pki.client(),
            auth,
            mcp,
        }
    }

    pub fn mcp_url(&self) -> String {
        format!("https://{}/mcp", self.mcp.addr())
    }

    pub fn mcp_path(&self, path: &str) -> String {
        format!("https://{}{path}", self.mcp.addr())
    }

    pub fn auth_base(&self) -> String {
        format!("https://{}", self.auth.addr())
    }

    /// Tokens for the MCP URL by address, obtained over HTTPS.
    pub async fn token(&self) -> Tokens {
        obtain_tokens(&self.http, &self.auth_base(), Some(&self.mcp_url()), None).await
    }

    /// POSTs a JSON-RPC message to `/mcp` over HTTPS as a Streamable HTTP client would.
    pub async fn post_mcp(&self, token: Option<&str>, message: &Value) -> reqwest::Response {
        post_mcp(&self.http, &self.mcp_url(), token, message).await
    }

    pub async fn mcp_state(&self) -> Value {
        control_state(&self.http, &self.mcp_path("/control/state")).await
    }
}

// Helpers added for faults.rs, journal.rs and step_up.rs.

impl Rig {
    /// GETs a control path of the MCP server.
    pub async fn mcp_get(&self, path: &str) -> (StatusCode, Value) {
        let response = self.http.get(self.mcp_path(path)).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// DELETEs a control path of the MCP server.
    pub async fn mcp_delete(&self, path: &str) -> (StatusCode, Value) {
        let response = self.http.delete(self.mcp_path(path)).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Adds a fault rule to the MCP server, asserting that it was accepted; answers the rule.
    pub async fn add_fault(&self, rule: Value) -> Value {
        let (status, added) = self.mcp_control("/control/faults", rule.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{rule}: {added}");
        added
    }

    /// The fault rules of the MCP server.
    pub async fn faults(&self) -> Vec<Value> {
        let (status, listed) = self.mcp_get("/control/faults").await;
        assert_eq!(status, StatusCode::OK, "{listed}");
        listed["faults"].as_array().cloned().unwrap_or_default()
    }

    /// A page of the MCP server's journal; `query` is appended to `/control/events`.
    pub async fn events(&self, query: &str) -> Value {
        let (status, page) = self.mcp_get(&format!("/control/events{query}")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page
    }

    /// GETs a metadata (or any) path of the MCP server.
    pub async fn get_mcp_path(&self, path: &str) -> reqwest::Response {
        self.http.get(self.mcp_path(path)).send().await.unwrap()
    }
}

/// Writes a raw HTTP/1.1 request and reads until the server closes the connection.
pub use sim_test_kit::raw::exchange as raw_exchange;

/// A raw `tools/call` of `echo` to the MCP server with `token`, closing after the answer.
pub fn raw_tool_call(addr: std::net::SocketAddr, token: &str) -> String {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}"#;
    format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nAccept: {ACCEPT}\r\nMCP-Protocol-Version: {PROTOCOL_VERSION}\r\n\
         Content-Type: application/json\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
}
