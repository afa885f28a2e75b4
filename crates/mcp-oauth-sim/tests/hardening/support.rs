//! The rig under test, raw requests, what a case expects, and a full flow.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mcp_oauth_sim::Sim;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::redirect::Policy;
use reqwest::{Method, Url};
use serde_json::{Value, json};

/// Where clients of the table say they listen (nothing does).
pub const REDIRECT_URI: &str = "http://127.0.0.1:8765/callback";
/// A registered https redirect URI, where no loopback port leniency applies.
pub const HTTPS_REDIRECT_URI: &str = "https://app.example.test/callback";
/// The PKCE verifier of every code the table asks for.
pub const VERIFIER: &str = "hardening-table-pkce-verifier-0123456789-abcdefghijklmnop";
/// A well-formed verifier that is not [`VERIFIER`].
pub const OTHER_VERIFIER: &str = "hardening-table-pkce-verifier-0123456789-abcdefghijklmnoq";
pub const PROTOCOL_VERSION: &str = "2025-06-18";
/// The scope every tool call needs, and the one `whoami` needs on top (step-up).
pub const TOOLS_SCOPE: &str = "mcp:tools";
pub const ADMIN_SCOPE: &str = "mcp:admin";

/// Both servers on 127.0.0.1 with ephemeral ports, and a client for them.
pub struct Rig {
    pub sim: Sim,
    pub http: reqwest::Client,
    /// The authorization server's origin.
    pub auth: String,
    /// The MCP server's origin.
    pub mcp_origin: String,
}

impl Rig {
    pub async fn start() -> Self {
        let sim = Sim::builder()
            .scopes([TOOLS_SCOPE])
            .tool_scopes([("whoami", ADMIN_SCOPE)])
            .start()
            .await
            .expect("the rig starts");
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(Policy::none())
            .timeout(Duration::from_secs(10))
            .resolve("localhost", SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .build()
            .expect("build an HTTP client");
        let mcp_origin = Url::parse(&sim.mcp_url())
            .expect("the MCP URL parses")
            .origin()
            .ascii_serialization();
        Self {
            auth: sim.issuer().trim_end_matches('/').to_owned(),
            mcp_origin,
            sim,
            http,
        }
    }

    /// A URL on the authorization server.
    pub fn auth(&self, path: &str) -> String {
        format!("{}{path}", self.auth)
    }

    /// A URL on the MCP server.
    pub fn mcp(&self, path: &str) -> String {
        format!("{}{path}", self.mcp_origin)
    }

    pub async fn send(&self, request: Req) -> Result<Answer, String> {
        request.send(&self.http).await
    }

    /// Registers a client with `metadata`; its registration response.
    pub async fn register(&self, metadata: Value) -> Value {
        let answer = self
            .send(Req::post(self.auth("/register")).json(metadata.to_string()))
            .await
            .expect("POST /register");
        assert_eq!(answer.status, 201, "{}", answer.text());
        answer.json()
    }

    /// A public client allowed both grants, redirecting to [`REDIRECT_URI`] and
    /// [`HTTPS_REDIRECT_URI`].
    pub async fn public_client(&self) -> String {
        let registration = self
            .register(json!({
                "redirect_uris": [REDIRECT_URI, HTTPS_REDIRECT_URI],
                "grant_types": ["authorization_code", "refresh_token"],
                "token_endpoint_auth_method": "none",
            }))
            .await;
        string(&registration, "client_id")
    }

    /// A confidential client using `method`; its id and secret.
    pub async fn confidential_client(&self, method: &str) -> (String, String) {
        let registration = self
            .register(json!({
                "redirect_uris": [REDIRECT_URI],
                "grant_types": ["authorization_code", "refresh_token"],
                "token_endpoint_auth_method": method,
            }))
            .await;
        (
            string(&registration, "client_id"),
            string(&registration, "client_secret"),
        )
    }

    /// An authorization code for `client_id`, bound to [`VERIFIER`], for `scope` (all scopes
    /// when `None`), with `redirect_uri` sent when given.
    pub async fn code(
        &self,
        client_id: &str,
        redirect_uri: Option<&str>,
        scope: Option<&str>,
    ) -> String {
        self.code_with(client_id, redirect_uri, scope, VERIFIER)
            .await
    }

    /// As [`Rig::code`], bound to `verifier`.
    pub async fn code_with(
        &self,
        client_id: &str,
        redirect_uri: Option<&str>,
        scope: Option<&str>,
        verifier: &str,
    ) -> String {
        let mut query = vec![
            ("response_type", "code".to_owned()),
            ("client_id", client_id.to_owned()),
            ("code_challenge", challenge_of(verifier)),
            ("code_challenge_method", "S256".to_owned()),
            ("state", "s".to_owned()),
            // As real clients do (RFC 8707): the grant is bound to the MCP server.
            ("resource", self.sim.mcp_url().to_owned()),
        ];
        if let Some(redirect_uri) = redirect_uri {
            query.push(("redirect_uri", redirect_uri.to_owned()));
        }
        if let Some(scope) = scope {
            query.push(("scope", scope.to_owned()));
        }
        let url = Url::parse_with_params(&self.auth("/authorize"), &query).expect("a URL");
        let answer = self
            .send(Req::get(url.as_str()))
            .await
            .expect("GET /authorize");
        assert_eq!(answer.status, 302, "{}", answer.text());
        let location = answer.location().expect("a Location");
        query_value(&location, "code").unwrap_or_else(|| panic!("no code in {location}"))
    }

    /// Redeems a code for a public client; the token response.
    pub async fn redeem(&self, client_id: &str, code: &str, redirect_uri: Option<&str>) -> Value {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", VERIFIER),
            ("client_id", client_id),
        ];
        if let Some(redirect_uri) = redirect_uri {
            form.push(("redirect_uri", redirect_uri));
        }
        let answer = self
            .send(Req::post(self.auth("/token")).form(urlencode(&form)))
            .await
            .expect("POST /token");
        assert_eq!(answer.status, 200, "{}", answer.text());
        answer.json()
    }

    /// A whole flow on a fresh client: discovery, registration, authorization, code exchange,
    /// a tool call, a refresh, introspection and revocation, each answering as it should.
    pub async fn full_flow(&self) -> Result<(), String> {
        let step = |what: &str, answer: &Answer, status: u16| {
            if answer.status == status {
                Ok(())
            } else {
                Err(format!(
                    "full flow: {what} answered {} instead of {status}: {}",
                    answer.status,
                    answer.text()
                ))
            }
        };
        let challenge = self.send(Req::mcp_call(self, None, &tools_list())).await?;
        step("POST /mcp without a token", &challenge, 401)?;
        let prm = self
            .send(Req::get(
                self.mcp("/.well-known/oauth-protected-resource/mcp"),
            ))
            .await?;
        step("PRM", &prm, 200)?;
        let metadata = self
            .send(Req::get(
                self.auth("/.well-known/oauth-authorization-server"),
            ))
            .await?;
        step("AS metadata", &metadata, 200)?;
        let client_id = self.public_client().await;
        let code = self.code(&client_id, Some(REDIRECT_URI), None).await;
        let tokens = self.redeem(&client_id, &code, Some(REDIRECT_URI)).await;
        let access = string(&tokens, "access_token");
        let refresh = string(&tokens, "refresh_token");
        let call = self
            .send(Req::mcp_call(self, Some(&access), &echo("still standing")))
            .await?;
        step("tools/call echo", &call, 200)?;
        if !call.text().contains("still standing") {
            return Err(format!("full flow: echo answered {}", call.text()));
        }
        let refreshed = self
            .send(Req::post(self.auth("/token")).form(urlencode(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("client_id", &client_id),
            ])))
            .await?;
        step("refresh", &refreshed, 200)?;
        let access = string(&refreshed.json(), "access_token");
        let introspected = self
            .send(Req::post(self.auth("/introspect")).form(urlencode(&[("token", &access)])))
            .await?;
        step("introspect", &introspected, 200)?;
        if introspected.json()["active"] != true {
            return Err(format!(
                "full flow: introspection said {}",
                introspected.text()
            ));
        }
        let revoked = self
            .send(
                Req::post(self.auth("/revoke"))
                    .form(urlencode(&[("token", &refresh), ("client_id", &client_id)])),
            )
            .await?;
        step("revoke", &revoked, 200)?;
        let after = self
            .send(Req::mcp_call(self, Some(&access), &echo("gone")))
            .await?;
        step("tools/call after revocation", &after, 401)
    }
}

/// A request as sent, bytes and all.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Vec<u8>,
}

impl Req {
    pub fn new(method: &str, url: impl Into<String>) -> Self {
        Self {
            method: Method::from_bytes(method.as_bytes()).expect("a method token"),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }

    pub fn post(url: impl Into<String>) -> Self {
        Self::new("POST", url)
    }

    /// Adds a header (a second one of the same name is added, not replaced).
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers.push((
            HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
            HeaderValue::from_bytes(value.as_ref()).expect("a header value"),
        ));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// A urlencoded form body (replacing any body and content type).
    pub fn form(self, body: impl Into<Vec<u8>>) -> Self {
        self.content_type("application/x-www-form-urlencoded")
            .body(body)
    }

    /// A JSON body (replacing any body and content type).
    pub fn json(self, body: impl Into<Vec<u8>>) -> Self {
        self.content_type("application/json").body(body)
    }

    fn content_type(mut self, value: &str) -> Self {
        self.headers
            .retain(|(name, _)| name != reqwest::header::CONTENT_TYPE);
        self.header("content-type", value)
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", format!("Bearer {token}"))
    }

    /// HTTP Basic with the id and secret urlencoded first (RFC 6749 §2.3.1).
    pub fn basic(self, id: &str, secret: &str) -> Self {
        let pair = format!(
            "{}:{}",
            urlencode_component(id),
            urlencode_component(secret)
        );
        self.header("authorization", format!("Basic {}", STANDARD.encode(pair)))
    }

    /// The headers a Streamable HTTP client sends.
    pub fn streamable(self) -> Self {
        self.header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", PROTOCOL_VERSION)
    }

    /// A JSON-RPC POST to `/mcp`, with or without a token.
    pub fn mcp_call(rig: &Rig, token: Option<&str>, body: &str) -> Self {
        let request = Self::post(rig.mcp("/mcp")).streamable().json(body);
        match token {
            Some(token) => request.bearer(token),
            None => request,
        }
    }

    pub async fn send(self, http: &reqwest::Client) -> Result<Answer, String> {
        let mut headers = HeaderMap::new();
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        let response = http
            .request(self.method, &self.url)
            .headers(headers)
            .body(self.body)
            .send()
            .await
            .map_err(|error| {
                let error = format!("no answer: {error:?}");
                error.chars().take(300).collect::<String>()
            })?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        // An event stream never ends: its headers say enough.
        let streaming = headers
            .get(reqwest::header::CONTENT_TYPE)
            .is_some_and(|value| value.as_bytes().starts_with(b"text/event-stream"));
        if streaming {
            return Ok(Answer {
                status,
                headers,
                body: Vec::new(),
            });
        }
        let body = response
            .bytes()
            .await
            .map_err(|error| format!("body broke off: {error}"))?
            .to_vec();
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

/// What came back.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        text.chars().take(300).collect()
    }

    /// The body as JSON, `Null` when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    pub fn location(&self) -> Option<Url> {
        self.header("location")
            .and_then(|value| Url::parse(value).ok())
    }
}

/// What a case must answer: a status, and the shape that carries its error code.
#[derive(Clone, Copy, Debug)]
pub struct Expect {
    pub status: u16,
    pub shape: Shape,
}

#[derive(Clone, Copy, Debug)]
pub enum Shape {
    /// RFC 6749 §5.2 JSON `{"error": code}`, `Cache-Control: no-store`.
    OAuth(&'static str),
    /// `invalid_client` JSON with a `WWW-Authenticate: Basic` challenge (the Basic header was used).
    BasicChallenge,
    /// A 302 back to the client with `error=code` and the `state` sent (`s`).
    Redirect(&'static str),
    /// An HTML error page: the authorization endpoint's answer when it must not redirect.
    Page,
    /// An RFC 6750 `Bearer` challenge with this `error` (`None`: no `error` parameter at all).
    Bearer(Option<&'static str>),
    /// A JSON-RPC error object with this code.
    Rpc(i64),
    /// A JSON-RPC result.
    RpcResult,
    /// A tool's failure, reported in its result (`isError`), as MCP wants for bad arguments.
    ToolError,
    /// The plain JSON error of the control plane and unknown paths: `{"error": "<message>"}`.
    Plain,
    /// Only the status matters.
    Status,
}

pub const fn oauth(status: u16, code: &'static str) -> Expect {
    Expect {
        status,
        shape: Shape::OAuth(code),
    }
}

pub const fn basic_challenge() -> Expect {
    Expect {
        status: 401,
        shape: Shape::BasicChallenge,
    }
}

pub const fn redirect(code: &'static str) -> Expect {
    Expect {
        status: 302,
        shape: Shape::Redirect(code),
    }
}

pub const fn page() -> Expect {
    Expect {
        status: 400,
        shape: Shape::Page,
    }
}

pub const fn bearer(status: u16, code: Option<&'static str>) -> Expect {
    Expect {
        status,
        shape: Shape::Bearer(code),
    }
}

pub const fn rpc(status: u16, code: i64) -> Expect {
    Expect {
        status,
        shape: Shape::Rpc(code),
    }
}

pub const fn rpc_result() -> Expect {
    Expect {
        status: 200,
        shape: Shape::RpcResult,
    }
}

pub const fn tool_error() -> Expect {
    Expect {
        status: 200,
        shape: Shape::ToolError,
    }
}

pub const fn plain(status: u16) -> Expect {
    Expect {
        status,
        shape: Shape::Plain,
    }
}

pub const fn status(status: u16) -> Expect {
    Expect {
        status,
        shape: Shape::Status,
    }
}

impl Expect {
    /// Whether `answer` is what was expected; if not, what differs.
    pub fn check(&self, answer: &Answer) -> Result<(), String> {
        let mismatch = |what: String| {
            Err(format!(
                "expected {} {:?}, got {} ({what}): {}",
                self.status,
                self.shape,
                answer.status,
                answer.text()
            ))
        };
        if answer.status >= 500 {
            return mismatch("a server error".into());
        }
        if answer.status != self.status {
            return mismatch("status".into());
        }
        let body = answer.json();
        match self.shape {
            Shape::OAuth(code) => {
                if body["error"] != code {
                    return mismatch(format!("error is {}", body["error"]));
                }
                if answer.header("cache-control") != Some("no-store") {
                    return mismatch("no Cache-Control: no-store".into());
                }
            }
            Shape::BasicChallenge => {
                if body["error"] != "invalid_client" {
                    return mismatch(format!("error is {}", body["error"]));
                }
                let challenge = answer.header("www-authenticate").unwrap_or_default();
                if !challenge.starts_with("Basic ") {
                    return mismatch(format!("WWW-Authenticate is '{challenge}'"));
                }
            }
            Shape::Redirect(code) => {
                let Some(location) = answer.location() else {
                    return mismatch("no Location".into());
                };
                if query_value(&location, "error").as_deref() != Some(code)
                    || query_value(&location, "state").as_deref() != Some("s")
                    || query_value(&location, "code").is_some()
                {
                    return mismatch(format!("Location is {location}"));
                }
            }
            Shape::Page => {
                let html = answer
                    .header("content-type")
                    .is_some_and(|value| value.starts_with("text/html"));
                if !html || answer.headers.contains_key("location") {
                    return mismatch("not an error page".into());
                }
            }
            Shape::Bearer(code) => {
                let challenge = answer.header("www-authenticate").unwrap_or_default();
                let has_error = challenge.contains("error=\"");
                let ok = challenge.starts_with("Bearer ")
                    && challenge.contains("resource_metadata=\"")
                    && match code {
                        Some(code) => challenge.contains(&format!("error=\"{code}\"")),
                        None => !has_error,
                    };
                if !ok {
                    return mismatch(format!("WWW-Authenticate is '{challenge}'"));
                }
            }
            Shape::Rpc(code) => {
                if body["jsonrpc"] != "2.0" || body["error"]["code"] != code {
                    return mismatch("JSON-RPC error code".into());
                }
            }
            Shape::RpcResult => {
                if body["jsonrpc"] != "2.0" || !body["result"].is_object() {
                    return mismatch("no JSON-RPC result".into());
                }
            }
            Shape::ToolError => {
                if body["result"]["isError"] != true {
                    return mismatch("no tool error".into());
                }
            }
            Shape::Plain => {
                if !body["error"].is_string() {
                    return mismatch("no plain JSON error".into());
                }
            }
            Shape::Status => {}
        }
        Ok(())
    }
}

pub fn challenge_of(verifier: &str) -> String {
    sim_test_kit::oauth::Pkce::from_verifier(verifier).challenge
}

pub fn query_value(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

pub fn string(body: &Value, name: &str) -> String {
    body[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {body}"))
        .to_owned()
}

/// A urlencoded form of `pairs`.
pub fn urlencode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| {
            format!(
                "{}={}",
                urlencode_component(name),
                urlencode_component(value)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

pub fn urlencode_component(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

pub fn tools_list() -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string()
}

pub fn echo(message: &str) -> String {
    json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": message}},
    })
    .to_string()
}

/// Writes `request` to `addr` over a fresh connection and reads the status of the answer.
pub async fn raw_status(addr: SocketAddr, request: &[u8]) -> Result<u16, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|error| format!("connect: {error}"))?;
    // The server may answer and close before reading everything: a failed write is no failure.
    let _ = stream.write_all(request).await;
    let mut head = [0u8; 12];
    tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut head))
        .await
        .map_err(|_| "no answer within 10 s".to_owned())?
        .map_err(|error| format!("no answer: {error}"))?;
    std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|status| status.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {:?}", String::from_utf8_lossy(&head)))
}
