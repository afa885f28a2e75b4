//! A typed client for both control planes: what `mcp-oauth-sim scenario` and Rust tests use to
//! flip failures, add fault rules, move the clock, read counters and follow the journal, so
//! neither has to remember paths or JSON shapes.
//!
//! Every switch answers the resulting state of the server it changed, as the control planes do.
//! The state types mirror the servers' `GET /control/state` and ignore fields they do not know
//! (and default the ones they miss), so a client and a rig of different versions still agree.
//!
//! # Layout
//! - this module: [`Control`] and its calls.
//! - [`state`]: the state documents, and how `scenario` prints them.
//! - [`faults`]: fault rules to add ([`Fault`], [`Respond`]) and as listed ([`FaultRule`]).
//! - [`events`]: journal entries ([`Event`]) and live streams of them ([`EventStream`]).

pub mod conformance;
pub mod events;
pub mod faults;
pub mod re_point;
pub mod recording;
pub mod scenario;
pub mod state;
pub mod without_user;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use rustls_pki_types::CertificateDer;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sim_http::log::root_cause;

use crate::Settings;

pub use events::{Event, EventPage, EventStream, Watched};
pub use faults::{Fault, FaultRule, Match, Respond, RigFaults};
pub use oauth_server::snapshot::DocumentsState;
pub use re_point::RePointed;
pub use recording::{Recorder, Sent};
pub use scenario::{Cimd, ClockMove, RePoint, Scenario, ScenarioError};
pub use state::{IntrospectionFailure, McpState, OAuthState, RigState};

/// Why a control call failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The server could not be reached (not running, another port or scheme).
    #[error("cannot reach {url}: {reason} (is mcp-oauth-sim running with these ports and scheme?)")]
    Unreachable {
        /// The control URL called.
        url: String,
        /// The innermost cause.
        reason: String,
    },
    /// The server refused the call: a bad argument (400), an unknown path (404), a missing
    /// control token (401), …
    #[error("{url} answered {status}: {body}")]
    Refused {
        /// The control URL called.
        url: String,
        /// The status it answered.
        status: StatusCode,
        /// Its answer, which says why.
        body: String,
    },
    /// The answer is not the document this client expects (a rig of another version, or not
    /// the rig at all).
    #[error("{url} answered something this client cannot read: {reason}")]
    BadAnswer {
        /// The control URL called.
        url: String,
        /// Why it could not be read.
        reason: String,
    },
    /// The HTTP client could not be made (a CA certificate it cannot use, …).
    #[error("cannot build the control client: {0}")]
    Client(String),
}

/// One of the two servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    /// The authorization server.
    OAuth,
    /// The MCP server.
    Mcp,
}

impl Service {
    /// Both, in the order `scenario` prints them.
    pub const BOTH: [Service; 2] = [Service::OAuth, Service::Mcp];

    /// `oauth` or `mcp`, as the journal and the log lines name it.
    pub fn name(self) -> &'static str {
        match self {
            Self::OAuth => "oauth",
            Self::Mcp => "mcp",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Service {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        match name.to_ascii_lowercase().as_str() {
            "oauth" | "as" => Ok(Self::OAuth),
            "mcp" | "rs" => Ok(Self::Mcp),
            _ => Err(format!("'{name}' is not a service (oauth or mcp)")),
        }
    }
}

/// How long a control call may take. Streams have no overall limit, only this much silence
/// (the servers send a comment every 15 s).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
const STREAM_SILENCE: Duration = Duration::from_secs(45);

/// Talks to the `/control` planes of a running rig.
#[derive(Clone, Debug)]
pub struct Control {
    http: reqwest::Client,
    /// Without an overall timeout, for event streams, which last as long as the rig.
    streaming: reqwest::Client,
    oauth: String,
    mcp: String,
    token: SharedToken,
    /// The issuer the authorization server's calls address, by name; `None` for `main` through
    /// the plain paths.
    issuer: Option<String>,
    /// Where the calls that change something are recorded, for a [`Control::recording`] clone.
    recorder: Option<Recorder>,
}

/// The control token a [`Control`] and its clones send: shared, because a re-point that makes
/// the rig public hands out a token that every clone must send from then on.
#[derive(Clone, Default)]
struct SharedToken(std::sync::Arc<std::sync::RwLock<Option<String>>>);

impl SharedToken {
    fn new(token: Option<String>) -> Self {
        Self(std::sync::Arc::new(std::sync::RwLock::new(token)))
    }

    fn get(&self) -> Option<String> {
        // A poisoned lock only means a panic elsewhere mid-assignment of an `Option`.
        self.0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn set(&self, token: String) {
        *self
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(token);
    }
}

// By hand, so that `{:?}` of a control client never shows the token.
impl fmt::Debug for SharedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.get().is_some() {
            "Some(<redacted>)"
        } else {
            "None"
        })
    }
}

/// `GET /control/issuers`.
#[derive(serde::Deserialize)]
struct Issuers {
    issuers: Vec<oauth_server::Place>,
}

/// `GET /control/authorization-servers`.
#[derive(serde::Deserialize)]
struct AuthorizationServers {
    authorization_servers: Vec<mcp_server::AuthorizationServer>,
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
        let build = |configure: fn(reqwest::ClientBuilder) -> reqwest::ClientBuilder| {
            let roots = roots
                .iter()
                .map(|der| reqwest::Certificate::from_der(der))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| ControlError::Client(error.to_string()))?;
            let mut builder = reqwest::Client::builder()
                .no_proxy()
                .connect_timeout(CALL_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .tls_certs_merge(roots);
            if let Some(addr) = local {
                builder = builder.resolve("localhost", addr);
            }
            configure(builder)
                .build()
                .map_err(|error| ControlError::Client(error.to_string()))
        };
        Ok(Self {
            http: build(|builder| builder.timeout(CALL_TIMEOUT))?,
            streaming: build(|builder| builder.read_timeout(STREAM_SILENCE))?,
            oauth: oauth_base.into().trim_end_matches('/').to_owned(),
            mcp: mcp_base.into().trim_end_matches('/').to_owned(),
            token: SharedToken::new(token),
            issuer: None,
            recorder: None,
        })
    }

    /// The same client, with every authorization-server call addressed to the issuer `name`
    /// (`/control/issuers/{name}/…`): its switches, fault rules, state and reset. The clock and
    /// the journal are shared by all issuers; MCP server calls are unchanged.
    pub fn issuer(&self, name: &str) -> Self {
        Self {
            issuer: (name != oauth_server::MAIN_ISSUER).then(|| name.to_owned()),
            ..self.clone()
        }
    }

    /// Every issuer the authorization server hosts, `main` first.
    pub async fn issuers(&self) -> Result<Vec<oauth_server::Place>, ControlError> {
        let url = format!("{}/control/issuers", self.oauth);
        let listed: Issuers = self.fetch(Method::GET, url, None).await?;
        Ok(listed.issuers)
    }

    /// Hosts another issuer: under `path` of the AS's port, or on `port` (0: any free one).
    /// Answers where it is.
    pub async fn add_issuer(
        &self,
        issuer: &oauth_server::IssuerConfig,
    ) -> Result<oauth_server::Place, ControlError> {
        self.host_issuer(json!({ "name": issuer.name, "path": issuer.path, "port": issuer.port }))
            .await
    }

    /// Stops hosting the issuer `name`; everything it held is forgotten.
    pub async fn remove_issuer(
        &self,
        name: &str,
    ) -> Result<Vec<oauth_server::Place>, ControlError> {
        let url = format!("{}/control/issuers/{name}", self.oauth);
        let listed: Issuers = self.fetch(Method::DELETE, url, None).await?;
        Ok(listed.issuers)
    }

    /// The authorization servers the MCP server trusts now, in order.
    pub async fn authorization_servers(
        &self,
    ) -> Result<Vec<mcp_server::AuthorizationServer>, ControlError> {
        let url = format!("{}/control/authorization-servers", self.mcp);
        let listed: AuthorizationServers = self.fetch(Method::GET, url, None).await?;
        Ok(listed.authorization_servers)
    }

    /// Makes the MCP server trust exactly `servers`, in order: its metadata lists them, and a
    /// token of any other server is refused `401 invalid_token`.
    pub async fn trust(
        &self,
        servers: &[mcp_server::AuthorizationServer],
    ) -> Result<McpState, ControlError> {
        let body = json!({ "authorization_servers": servers });
        self.call(
            Service::Mcp,
            Method::POST,
            "authorization-servers",
            Some(body),
        )
        .await
    }

    /// Makes the MCP server trust the rig's issuers named `names`, in order, each checked at
    /// its introspection URL on this machine.
    pub async fn trust_issuers(&self, names: &[&str]) -> Result<McpState, ControlError> {
        let servers = self.servers_named(names).await?;
        self.trust(&servers).await
    }

    /// After `after` more authenticated MCP requests (0: now), the MCP server trusts only the
    /// rig's issuers named `names`: its metadata lists them and the old issuers' tokens are
    /// refused. The request that reaches the count is still served under the old list.
    pub async fn migrate(&self, names: &[&str], after: u64) -> Result<McpState, ControlError> {
        let servers = self.servers_named(names).await?;
        let body = json!({ "authorization_servers": servers, "after": after });
        self.call(Service::Mcp, Method::POST, "migrate", Some(body))
            .await
    }

    /// The rig's issuers named `names`, as the MCP server trusts them.
    async fn servers_named(
        &self,
        names: &[&str],
    ) -> Result<Vec<mcp_server::AuthorizationServer>, ControlError> {
        let places = self.issuers().await?;
        names
            .iter()
            .map(|name| {
                places
                    .iter()
                    .find(|place| place.name == *name)
                    .map(|place| {
                        mcp_server::AuthorizationServer::new(
                            place.issuer.clone(),
                            place.introspection_url.clone(),
                        )
                    })
                    .ok_or_else(|| ControlError::Refused {
                        url: format!("{}/control/issuers", self.oauth),
                        status: StatusCode::NOT_FOUND,
                        body: format!("no issuer is named '{name}'"),
                    })
            })
            .collect()
    }

    /// From now on a grant of the issuer addressed for the resource `from` also covers `to`
    /// (`{"from": …, "to": …}`): the MCP server that was at `from` is at `to`. Answers every
    /// resource renamed so far.
    pub async fn rename_resource(&self, renamed: Value) -> Result<Value, ControlError> {
        self.call(
            Service::OAuth,
            Method::POST,
            "renamed-resources",
            Some(renamed),
        )
        .await
    }

    /// Changes the knobs of the issuer addressed (`main` unless [`Control::issuer`] chose
    /// another): the fields of `patch` replace the current values, a `null` restores the
    /// configured one. See `GET /control` for the fields.
    pub async fn oauth_profile(&self, patch: Value) -> Result<OAuthState, ControlError> {
        self.oauth_post("profile", patch).await
    }

    /// Changes the MCP server's knobs, as [`Control::oauth_profile`] does the issuer's.
    pub async fn mcp_profile(&self, patch: Value) -> Result<McpState, ControlError> {
        self.call(Service::Mcp, Method::POST, "profile", Some(patch))
            .await
    }

    /// Pre-registers a client at the issuer addressed (`{"client_id", "client_secret",
    /// "auth_method", "redirect_uris": [...] | "any-loopback", "grant_types"}`); a reset forgets
    /// it. Answers the issuer's state.
    pub async fn add_client(&self, client: Value) -> Result<OAuthState, ControlError> {
        self.oauth_post("clients", client).await
    }

    /// The client ID metadata documents the issuer addressed has cached, and its fetch faults.
    pub async fn documents(&self) -> Result<DocumentsState, ControlError> {
        self.get(Service::OAuth, "documents").await
    }

    /// Makes fetches of client ID metadata documents fail at the issuer addressed, as `fault`
    /// says (`{"fault": "unreachable", "url": …, "times": N, "status": S}`; see `GET /control`).
    pub async fn document_fault(&self, fault: Value) -> Result<DocumentsState, ControlError> {
        self.call(
            Service::OAuth,
            Method::POST,
            "documents/faults",
            Some(fault),
        )
        .await
    }

    /// Removes every fetch fault of the issuer addressed.
    pub async fn clear_document_faults(&self) -> Result<DocumentsState, ControlError> {
        self.call(Service::OAuth, Method::DELETE, "documents/faults", None)
            .await
    }

    /// Makes the cached document at `url` (every one: `None`) count as changed: its next use
    /// fetches it again.
    pub async fn document_changed(
        &self,
        url: Option<&str>,
    ) -> Result<DocumentsState, ControlError> {
        self.call(
            Service::OAuth,
            Method::POST,
            "documents/changed",
            Some(json!({ "url": url })),
        )
        .await
    }

    /// Hosts another issuer from its whole description (`name`, `path`, `port`, `profile`,
    /// `clients`) and answers where it is.
    pub async fn host_issuer(&self, body: Value) -> Result<oauth_server::Place, ControlError> {
        let name = body["name"].as_str().unwrap_or_default().to_owned();
        let url = format!("{}/control/issuers", self.oauth);
        let listed: Issuers = self.fetch(Method::POST, url.clone(), Some(body)).await?;
        listed
            .issuers
            .into_iter()
            .find(|place| place.name == name)
            .ok_or_else(|| ControlError::BadAnswer {
                url,
                reason: format!("issuer '{name}' is not listed after adding it"),
            })
    }

    /// Sends `token` from now on, as this client and its clones do after a re-point that made
    /// the rig public: for a client in the rig's own process that learns a token some other
    /// way (the dashboard reads it from the servers' guard).
    pub(crate) fn adopt_token(&self, token: String) {
        if self.token.get().as_deref() != Some(token.as_str()) {
            self.token.set(token);
        }
    }

    /// Whether this client sends a control token.
    pub fn sends_token(&self) -> bool {
        self.token.get().is_some()
    }

    /// The port of the MCP server this client reaches, where a co-hosted issuer is served.
    pub fn mcp_port(&self) -> Result<u16, ControlError> {
        reqwest::Url::parse(&self.mcp)
            .ok()
            .and_then(|url| url.port_or_known_default())
            .ok_or_else(|| ControlError::Client(format!("'{}' has no port", self.mcp)))
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

    fn base(&self, service: Service) -> &str {
        match service {
            Service::OAuth => &self.oauth,
            Service::Mcp => &self.mcp,
        }
    }

    /// Both servers' state: every issuer the authorization server hosts, and the MCP server.
    pub async fn state(&self) -> Result<RigState, ControlError> {
        let (oauth, mcp) = tokio::try_join!(self.oauth_state(), self.mcp_state())?;
        let issuers = self.other_issuers(&oauth).await?;
        Ok(RigState {
            oauth,
            issuers,
            mcp,
        })
    }

    /// The state of each issuer `oauth` lists besides itself (the plain `/control/state` of
    /// `main` lists them all; an issuer's own lists none).
    async fn other_issuers(&self, oauth: &OAuthState) -> Result<Vec<OAuthState>, ControlError> {
        let others = oauth
            .issuers
            .iter()
            .flatten()
            .filter(|place| place.name != oauth.name);
        let mut states = Vec::new();
        for place in others {
            states.push(self.issuer(&place.name).oauth_state().await?);
        }
        Ok(states)
    }

    /// The authorization server's toggles, store sizes and counters.
    pub async fn oauth_state(&self) -> Result<OAuthState, ControlError> {
        self.get(Service::OAuth, "state").await
    }

    /// The MCP server's toggles and counters.
    pub async fn mcp_state(&self) -> Result<McpState, ControlError> {
        self.get(Service::Mcp, "state").await
    }

    /// A server's state document as it is: for printing, or for fields these types lack.
    pub async fn raw_state(&self, service: Service) -> Result<Value, ControlError> {
        self.get(service, "state").await
    }

    /// Refresh grants return a new refresh token and retire the presented one.
    pub async fn rotate_refresh_tokens(&self, on: bool) -> Result<OAuthState, ControlError> {
        self.oauth_post("rotate", json!({ "on": on })).await
    }

    /// Access tokens issued from now on live `seconds`.
    pub async fn access_token_ttl(&self, seconds: u64) -> Result<OAuthState, ControlError> {
        self.oauth_post("expire-access", json!({ "seconds": seconds }))
            .await
    }

    /// Every live access token becomes inactive; refresh tokens stay valid.
    pub async fn revoke_access_tokens(&self) -> Result<OAuthState, ControlError> {
        self.call(Service::OAuth, Method::POST, "revoke", None)
            .await
    }

    /// Every refresh grant answers `invalid_grant`.
    pub async fn invalid_grant(&self, on: bool) -> Result<OAuthState, ControlError> {
        self.oauth_post("dead-refresh", json!({ "on": on })).await
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

    /// Moves the authorization server's clock by `seconds` (negative: back), on top of earlier
    /// moves: codes and tokens expire, and introspection reports `exp`/`iat`, by that clock.
    pub async fn advance_clock(&self, seconds: i64) -> Result<OAuthState, ControlError> {
        self.oauth_post("clock", json!({ "advance_seconds": seconds }))
            .await
    }

    /// Puts the authorization server's clock back to real time.
    pub async fn reset_clock(&self) -> Result<OAuthState, ControlError> {
        self.oauth_post("clock", json!({ "reset": true })).await
    }

    /// `/authorize` grants only `scope` (space-separated), whatever the client asked for;
    /// `None` grants what was asked again.
    pub async fn narrow_consent(&self, scope: Option<&str>) -> Result<OAuthState, ControlError> {
        self.oauth_post("narrow-consent", json!({ "grant_scope": scope }))
            .await
    }

    /// Refresh-token reuse detection: with rotation on, a rotated-out refresh token presented
    /// more than `grace_seconds` after its rotation is `invalid_grant` and revokes its whole
    /// grant; within the grace it still works.
    pub async fn reuse_detection(
        &self,
        on: bool,
        grace_seconds: u64,
    ) -> Result<OAuthState, ControlError> {
        self.oauth_post(
            "reuse-detect",
            json!({ "on": on, "grace_seconds": grace_seconds }),
        )
        .await
    }

    /// How the MCP server answers when it cannot check a token: `503` (retry) or `401`
    /// (`invalid_token`, as if the token were bad).
    pub async fn introspection_failure(
        &self,
        mode: IntrospectionFailure,
    ) -> Result<McpState, ControlError> {
        self.call(
            Service::Mcp,
            Method::POST,
            "introspection-failure",
            Some(json!({ "mode": mode })),
        )
        .await
    }

    /// Changes the scopes tools need (tool → space-separated scopes; `None` removes a tool's),
    /// merged into the current ones. Each scope must be one the MCP server announces.
    pub async fn tool_scopes<I, T, S>(&self, changes: I) -> Result<McpState, ControlError>
    where
        I: IntoIterator<Item = (T, Option<S>)>,
        T: Into<String>,
        S: Into<String>,
    {
        let changes: BTreeMap<String, Option<String>> = changes
            .into_iter()
            .map(|(tool, scopes)| (tool.into(), scopes.map(Into::into)))
            .collect();
        self.call(Service::Mcp, Method::POST, "step-up", Some(json!(changes)))
            .await
    }

    /// Tool calls answer `403 insufficient_scope`.
    pub async fn force_403(&self, on: bool) -> Result<McpState, ControlError> {
        self.call(
            Service::Mcp,
            Method::POST,
            "bad-scope",
            Some(json!({ "on": on })),
        )
        .await
    }

    /// Both servers back to their start-up state: clients, codes, tokens, fault rules and
    /// journals are forgotten, so every client must register and consent again.
    pub async fn reset(&self) -> Result<RigState, ControlError> {
        let (oauth, mcp) = tokio::try_join!(
            self.call::<OAuthState>(Service::OAuth, Method::POST, "reset", None),
            self.call(Service::Mcp, Method::POST, "reset", None),
        )?;
        let issuers = self.other_issuers(&oauth).await?;
        Ok(RigState {
            oauth,
            issuers,
            mcp,
        })
    }

    async fn oauth_post(&self, name: &str, body: Value) -> Result<OAuthState, ControlError> {
        self.call(Service::OAuth, Method::POST, name, Some(body))
            .await
    }

    async fn get<T: DeserializeOwned>(
        &self,
        service: Service,
        name: &str,
    ) -> Result<T, ControlError> {
        self.call(service, Method::GET, name, None).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        service: Service,
        method: Method,
        name: &str,
        body: Option<Value>,
    ) -> Result<T, ControlError> {
        let url = match (&self.issuer, service) {
            (Some(issuer), Service::OAuth) => {
                format!("{}/control/issuers/{issuer}/{name}", self.oauth)
            }
            _ => format!("{}/control/{name}", self.base(service)),
        };
        self.fetch(method, url, body).await
    }

    async fn fetch<T: DeserializeOwned>(
        &self,
        method: Method,
        url: String,
        body: Option<Value>,
    ) -> Result<T, ControlError> {
        if let (Some(recorder), false) = (&self.recorder, method == Method::GET) {
            recorder.record(Sent {
                method: method.to_string(),
                url: url.clone(),
                body: body.clone(),
            });
        }
        let mut request = self.http.request(method, &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = self.send(request, &url).await?;
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

    /// Sends `request` to `url` with the control token, if there is one.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<reqwest::Response, ControlError> {
        let request = match self.token.get() {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        request
            .send()
            .await
            .map_err(|error| ControlError::Unreachable {
                url: url.to_owned(),
                reason: root_cause(&error),
            })
    }
}
