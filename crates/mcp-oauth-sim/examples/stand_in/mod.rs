//! The client under test, played by the examples: it registers, authorizes with PKCE, exchanges
//! the code and refreshes (through `sim_test_kit::oauth`, the flow the rig's own tests run), and
//! calls tools over Streamable HTTP. Your own client takes its place; nothing here is part of
//! the library. Each example uses its share of it, hence `dead_code`.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sim_test_kit::oauth::Flow;

/// An HTTP client as a local MCP client has one: redirects read, not followed (the
/// authorization redirect goes to a loopback URI nothing listens on), `localhost` resolved to
/// 127.0.0.1 (where the rig listens) whatever the resolver prefers, trusting `ca_pem` only when
/// given (an HTTPS rig).
pub fn http(ca_pem: Option<&str>) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(5))
        .resolve("localhost", SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
    if let Some(pem) = ca_pem {
        builder = builder.tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes())?]);
    }
    Ok(builder.build()?)
}

/// A logged-in client: its tokens, and where it calls tools.
pub struct Client {
    flow: Flow,
    mcp_url: String,
    client_id: String,
    pub access: String,
    pub refresh: String,
}

impl Client {
    /// Registers with the authorization server at `issuer`, authorizes for `mcp_url` and
    /// exchanges the code.
    pub async fn log_in(http: reqwest::Client, issuer: &str, mcp_url: &str) -> Self {
        let flow = Flow::new(http, issuer);
        let tokens = flow.log_in("embedding example", Some(mcp_url), None).await;
        Self {
            flow,
            mcp_url: mcp_url.to_owned(),
            client_id: tokens.client_id,
            access: tokens.access,
            refresh: tokens.refresh.expect("a public client may refresh"),
        }
    }

    /// One refresh grant: the status and the token response (or error). Keeps the new
    /// tokens when it succeeds.
    pub async fn refresh(&mut self) -> (StatusCode, Value) {
        let (status, body) = self.flow.refresh(&self.client_id, &self.refresh, &[]).await;
        if status == StatusCode::OK {
            self.access = body["access_token"].as_str().unwrap_or_default().to_owned();
            if let Some(rotated) = body["refresh_token"].as_str() {
                self.refresh = rotated.to_owned();
            }
        }
        (status, body)
    }

    /// A `tools/call` of `echo` with the current access token: the HTTP status.
    pub async fn echo(&self, message: &str) -> anyhow::Result<StatusCode> {
        let call = json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "echo", "arguments": {"message": message}},
        });
        self.post_mcp(&call).await
    }

    async fn post_mcp(&self, message: &Value) -> anyhow::Result<StatusCode> {
        let response = self
            .flow
            .http
            .post(&self.mcp_url)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .bearer_auth(&self.access)
            .json(message)
            .send()
            .await?;
        Ok(response.status())
    }

    /// What a well-behaved client does with an expired token: a tool call that answers 401
    /// is followed by refreshes (retried while the token endpoint answers 5xx, at most
    /// `attempts`) and the call again. Answers every status it saw, in order.
    pub async fn echo_refreshing(&mut self, attempts: usize) -> anyhow::Result<Vec<StatusCode>> {
        let mut seen = vec![self.echo("before").await?];
        if seen[0] != StatusCode::UNAUTHORIZED {
            return Ok(seen);
        }
        for _ in 0..attempts {
            let (status, _) = self.refresh().await;
            seen.push(status);
            if !status.is_server_error() {
                break;
            }
        }
        seen.push(self.echo("after").await?);
        Ok(seen)
    }
}
