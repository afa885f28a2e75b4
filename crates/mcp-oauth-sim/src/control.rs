//! A typed client for both control planes: what `mcp-oauth-sim scenario` and Rust tests use to
//! flip failures and read counters, so neither has to remember paths or JSON shapes.
//!
//! Every switch answers the resulting state of the server it changed, as the control planes do.
//! The state types mirror the servers' `GET /control/state` and ignore fields they do not know,
//! so an older client keeps working against a newer rig.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use rustls_pki_types::CertificateDer;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sim_http::log::root_cause;

use crate::Settings;

/// Why a control call failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("cannot reach {url}: {reason} (is mcp-oauth-sim running with these ports and scheme?)")]
    Unreachable { url: String, reason: String },
    #[error("{url} answered {status}: {body}")]
    Refused {
        url: String,
        status: StatusCode,
        body: String,
    },
    #[error("{url} answered something that is not its state: {reason}")]
    BadAnswer { url: String, reason: String },
    #[error("cannot build the control client: {0}")]
    Client(String),
}

/// One of the two servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    OAuth,
    Mcp,
}

/// Talks to the `/control` planes of a running rig.
#[derive(Clone, Debug)]
pub struct Control {
    http: reqwest::Client,
    oauth: String,
    mcp: String,
    token: Option<String>,
}

impl Control {
    /// A client for the control planes at the two base URLs (`scheme://host:port`, no path).
    ///
    /// `local` pins `localhost` to the address the rig listens on, so that a certificate for
    /// `localhost` verifies and no resolver preference for `::1` or `127.0.0.1` gets in the way.
    pub fn new(
        oauth_base: impl Into<String>,
        mcp_base: impl Into<String>,
        roots: &[CertificateDer<'static>],
        token: Option<String>,
        local: Option<SocketAddr>,
    ) -> Result<Self, ControlError> {
        let roots = roots
            .iter()
            .map(|der| reqwest::Certificate::from_der(der))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| ControlError::Client(error.to_string()))?;
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .tls_certs_merge(roots);
        if let Some(addr) = local {
            builder = builder.resolve("localhost", addr);
        }
        let http = builder
            .build()
            .map_err(|error| ControlError::Client(error.to_string()))?;
        Ok(Self {
            http,
            oauth: oauth_base.into().trim_end_matches('/').to_owned(),
            mcp: mcp_base.into().trim_end_matches('/').to_owned(),
            token,
        })
    }

    /// A client for a rig on this machine started with `settings`, listening on these ports,
    /// trusting its certificates.
    pub fn local(
        settings: &Settings,
        oauth_port: u16,
        mcp_port: u16,
        token: Option<String>,
    ) -> Result<Self, ControlError> {
        let roots = settings
            .trust_roots()
            .map_err(|error| ControlError::Client(error.to_string()))?;
        let scheme = settings.scheme();
        Self::new(
            format!("{scheme}://localhost:{oauth_port}"),
            format!("{scheme}://localhost:{mcp_port}"),
            &roots,
            token,
            Some(SocketAddr::new(settings.local_ip(), 0)),
        )
    }

    /// Both servers' state.
    pub async fn state(&self) -> Result<RigState, ControlError> {
        let (oauth, mcp) = tokio::try_join!(self.oauth_state(), self.mcp_state())?;
        Ok(RigState { oauth, mcp })
    }

    /// The authorization server's toggles, store sizes and counters.
    pub async fn oauth_state(&self) -> Result<OAuthState, ControlError> {
        self.call(&self.oauth, Method::GET, "state", None).await
    }

    /// The MCP server's toggle and counters.
    pub async fn mcp_state(&self) -> Result<McpState, ControlError> {
        self.call(&self.mcp, Method::GET, "state", None).await
    }

    /// A server's state document as it is: for printing, or for fields these types lack.
    pub async fn raw_state(&self, service: Service) -> Result<Value, ControlError> {
        let base = match service {
            Service::OAuth => &self.oauth,
            Service::Mcp => &self.mcp,
        };
        self.call(base, Method::GET, "state", None).await
    }

    /// Refresh grants return a new refresh token and retire the presented one.
    pub async fn rotate_refresh_tokens(&self, on: bool) -> Result<OAuthState, ControlError> {
        self.oauth_post("rotate", json!({ "on": on })).await
    }

    /// Access tokens issued from now on live `seconds`.
    pub async fn access_token_ttl(&self, seconds: u64) -> Result<OAuthState, ControlError> {
        self.oauth_post("expires-in", json!({ "seconds": seconds }))
            .await
    }

    /// Every live access token becomes inactive; refresh tokens stay valid.
    pub async fn revoke_access_tokens(&self) -> Result<OAuthState, ControlError> {
        self.call(&self.oauth, Method::POST, "revoke-access", None)
            .await
    }

    /// Every refresh grant answers `invalid_grant`.
    pub async fn invalid_grant(&self, on: bool) -> Result<OAuthState, ControlError> {
        self.oauth_post("invalid-grant", json!({ "on": on })).await
    }

    /// `/authorize` redirects back with `access_denied`.
    pub async fn deny_consent(&self, on: bool) -> Result<OAuthState, ControlError> {
        self.oauth_post("deny-consent", json!({ "on": on })).await
    }

    /// Makes `token` a valid refresh token for any client.
    pub async fn seed_refresh_token(&self, token: &str) -> Result<OAuthState, ControlError> {
        self.oauth_post("seed-refresh", json!({ "token": token }))
            .await
    }

    /// Tool calls answer `403 insufficient_scope`.
    pub async fn force_403(&self, on: bool) -> Result<McpState, ControlError> {
        self.call(
            &self.mcp,
            Method::POST,
            "force-403",
            Some(json!({ "on": on })),
        )
        .await
    }

    /// Both servers back to their start-up state: clients, codes and tokens are forgotten, so
    /// every client must register and consent again.
    pub async fn reset(&self) -> Result<RigState, ControlError> {
        let (oauth, mcp) = tokio::try_join!(
            self.call(&self.oauth, Method::POST, "reset", None),
            self.call(&self.mcp, Method::POST, "reset", None),
        )?;
        Ok(RigState { oauth, mcp })
    }

    async fn oauth_post(&self, name: &str, body: Value) -> Result<OAuthState, ControlError> {
        self.call(&self.oauth, Method::POST, name, Some(body)).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        base: &str,
        method: Method,
        name: &str,
        body: Option<Value>,
    ) -> Result<T, ControlError> {
        let url = format!("{base}/control/{name}");
        let mut request = self.http.request(method, &url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|error| ControlError::Unreachable {
                url: url.clone(),
                reason: root_cause(&error),
            })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|error| ControlError::Unreachable {
                url: url.clone(),
                reason: root_cause(&error),
            })?;
        if !status.is_success() {
            return Err(ControlError::Refused {
                url,
                status,
                body: text.trim().to_owned(),
            });
        }
        serde_json::from_str(&text).map_err(|error| ControlError::BadAnswer {
            url,
            reason: error.to_string(),
        })
    }
}

/// Both servers' state, as `scenario state` prints it.
#[derive(Clone, Debug)]
pub struct RigState {
    pub oauth: OAuthState,
    pub mcp: McpState,
}

/// The authorization server's `GET /control/state`.
#[derive(Clone, Debug, Deserialize)]
pub struct OAuthState {
    pub issuer: String,
    pub toggles: OAuthToggles,
    pub store: StoreSizes,
    pub counters: OAuthCounters,
    pub scopes: Vec<String>,
    /// The refresh token seeded at start-up (`SEED_REFRESH_TOKEN`), shortened. Tokens seeded
    /// later through the control plane count among the live refresh tokens instead.
    pub seed_refresh_token: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct OAuthToggles {
    pub rotate_refresh_tokens: bool,
    pub access_token_ttl_seconds: u64,
    pub invalid_grant: bool,
    pub deny_consent: bool,
}

/// Live (unexpired) entries in the store.
#[derive(Clone, Debug, Deserialize)]
pub struct StoreSizes {
    pub clients: u64,
    pub codes: u64,
    pub access_tokens: u64,
    pub refresh_tokens: u64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct OAuthCounters {
    pub registrations: u64,
    pub authorizations: u64,
    pub consent_denials: u64,
    pub token_requests: TokenRequests,
    pub tokens_issued: u64,
    pub refreshes: u64,
    pub token_errors: u64,
    pub forced_invalid_grants: u64,
    pub introspections: u64,
    pub active_introspections: u64,
    pub revocations: u64,
}

/// `POST /token` calls by grant type.
#[derive(Clone, Debug, Deserialize)]
pub struct TokenRequests {
    pub authorization_code: u64,
    pub refresh_token: u64,
    pub other: u64,
}

/// The MCP server's `GET /control/state`.
#[derive(Clone, Debug, Deserialize)]
pub struct McpState {
    pub resource: String,
    pub authorization_server: String,
    pub introspection_url: String,
    pub toggles: McpToggles,
    pub counters: McpCounters,
}

#[derive(Clone, Debug, Deserialize)]
pub struct McpToggles {
    pub force_403: bool,
}

#[derive(Clone, Debug, Deserialize)]
pub struct McpCounters {
    pub requests: u64,
    pub unauthorized: u64,
    pub bad_requests: u64,
    pub forbidden: u64,
    pub unavailable: u64,
    pub introspections: u64,
    pub introspection_failures: u64,
    pub tool_calls: u64,
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

impl fmt::Display for RigState {
    /// The state as a tester reads it: switches by their scenario names, then what happened.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let OAuthState {
            issuer,
            toggles,
            store,
            counters,
            scopes,
            seed_refresh_token,
        } = &self.oauth;
        writeln!(f, "oauth  {issuer}")?;
        writeln!(
            f,
            "  rotate {:<5} dead-refresh {:<5} deny-consent {:<5} access-token TTL {} s",
            on_off(toggles.rotate_refresh_tokens),
            on_off(toggles.invalid_grant),
            on_off(toggles.deny_consent),
            toggles.access_token_ttl_seconds,
        )?;
        writeln!(
            f,
            "  live: {} clients, {} codes, {} access tokens, {} refresh tokens",
            store.clients, store.codes, store.access_tokens, store.refresh_tokens
        )?;
        writeln!(
            f,
            "  registrations {}  authorizations {} ({} denied)  token requests: {} code, {} refresh, {} other ({} failed)",
            counters.registrations,
            counters.authorizations,
            counters.consent_denials,
            counters.token_requests.authorization_code,
            counters.token_requests.refresh_token,
            counters.token_requests.other,
            counters.token_errors,
        )?;
        writeln!(
            f,
            "  introspections {} ({} active)  revocations {}  scopes {}  start-up seed {}",
            counters.introspections,
            counters.active_introspections,
            counters.revocations,
            scopes.join(" "),
            seed_refresh_token.as_deref().unwrap_or("none"),
        )?;
        let McpState {
            resource,
            toggles,
            counters,
            ..
        } = &self.mcp;
        writeln!(f, "mcp    {resource}")?;
        writeln!(f, "  bad-scope {}", on_off(toggles.force_403))?;
        write!(
            f,
            "  requests {}  tool calls {}  401 {}  400 {}  403 {}  503 {}  introspections {} ({} failed)",
            counters.requests,
            counters.tool_calls,
            counters.unauthorized,
            counters.bad_requests,
            counters.forbidden,
            counters.unavailable,
            counters.introspections,
            counters.introspection_failures,
        )
    }
}
