//! `GET /control/state` of the MCP server: one document, written by the server and read back by
//! the control client (`mcp_oauth_sim::McpState` is [`Snapshot`]).
//!
//! Fields added after a field's first release default when absent, so a client reads an older
//! rig's state too.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::config::AuthorizationServer;
use crate::profile::Profile;

/// The MCP server's switches, settings and counters, and the URLs in use.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Snapshot {
    /// Always `mcp`.
    #[serde(default)]
    pub service: String,
    /// The MCP URL clients are normally given: the resource identifier of RFC 8707.
    pub resource: String,
    /// The public base URL in force (an origin), `null` when the server answers with the
    /// loopback name the client used. Changed by `POST /control/base-url`.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Whether a change of base URL keeps accepting the tokens of the URL it leaves.
    #[serde(default = "keep_old_audience")]
    pub keep_old_audience: bool,
    /// Origins this server answered as before a change of base URL, oldest first, whose
    /// tokens it still accepts: a token whose `aud` is `<origin>/mcp`, `<origin>` or
    /// `<origin>/`. At most 32.
    #[serde(default)]
    pub former_audiences: Vec<String>,
    /// The first authorization server's issuer, as before there could be several.
    pub authorization_server: String,
    /// Where the first authorization server's tokens are checked.
    pub introspection_url: String,
    /// Every authorization server trusted, in order.
    #[serde(default)]
    pub authorization_servers: Vec<AuthorizationServer>,
    /// The switches that are fault presets.
    pub toggles: Toggles,
    /// What happened since start-up or the last reset.
    pub counters: Tallies,
    /// How a failed token check is answered.
    #[serde(default)]
    pub introspection_failure: IntrospectionFailure,
    /// Scopes each tool needs besides the required ones (tool → space-separated scopes).
    #[serde(default)]
    pub tool_scopes: BTreeMap<String, String>,
    /// The profile in force, every field given (`required_scopes` as the list in force).
    #[serde(default)]
    pub profile: Profile,
    /// The switch of authorization servers `POST /control/migrate` scheduled, until it
    /// happens; `null` when none is waiting.
    #[serde(default)]
    pub migration: Option<Migration>,
}

/// What a state without the field (an older rig) had: former audiences were kept.
fn keep_old_audience() -> bool {
    true
}

/// A scheduled switch of the trusted authorization servers.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct Migration {
    /// The issuers trusted after the switch, in order.
    pub to: Vec<String>,
    /// Authenticated `/mcp` requests still served under the current list; the last of them
    /// makes the switch.
    pub remaining: u64,
}

/// The switches that are fault presets.
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
pub struct Toggles {
    /// Every `tools/call` answers 403 `insufficient_scope` (the `force-403` preset).
    pub force_403: bool,
}

/// The counters, as read at one moment.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Tallies {
    /// Requests to `/mcp`.
    pub requests: u64,
    /// `/mcp` requests answered 401: no token, an invalid one, or an injected 401.
    pub unauthorized: u64,
    /// `/mcp` requests answered 400: a malformed `Authorization` header or a body that is not a
    /// JSON-RPC message the server understands.
    pub bad_requests: u64,
    /// `/mcp` requests answered 403: a tool call lacking a scope, or an injected 403
    /// (`force-403` included).
    pub forbidden: u64,
    /// `/mcp` requests answered 503 because the token could not be checked.
    pub unavailable: u64,
    /// Token checks with the trusted authorization servers: one per `/mcp` request with a
    /// well-formed bearer token.
    pub introspections: u64,
    /// Token checks that failed: the authorization server was down, slow or answered garbage.
    pub introspection_failures: u64,
    /// `tools/call` requests that reached the tools.
    pub tool_calls: u64,
    /// Requests a fault rule answered or delayed.
    #[serde(default)]
    pub faults_fired: u64,
}

/// How `/mcp` answers a request whose token could not be checked (the authorization server
/// down, slow, or answering garbage).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum IntrospectionFailure {
    /// `503 temporarily_unavailable` with `Retry-After: 1`: the token may be fine; a client
    /// should retry.
    #[default]
    #[serde(rename = "503")]
    Unavailable,
    /// `401 invalid_token`, as a server that treats "cannot check" as "bad token" answers; a
    /// client will refresh or re-authorize.
    #[serde(rename = "401")]
    InvalidToken,
}

impl IntrospectionFailure {
    /// The status it answers.
    pub fn status(self) -> u16 {
        match self {
            Self::Unavailable => 503,
            Self::InvalidToken => 401,
        }
    }
}

impl fmt::Display for IntrospectionFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.status())
    }
}

impl FromStr for IntrospectionFailure {
    type Err = String;

    fn from_str(mode: &str) -> Result<Self, String> {
        match mode {
            "503" => Ok(Self::Unavailable),
            "401" => Ok(Self::InvalidToken),
            _ => Err(format!(
                "'{mode}' is not an introspection-failure mode (503 or 401)"
            )),
        }
    }
}
