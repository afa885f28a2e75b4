//! The servers' `GET /control/state` documents, typed, and the way `scenario` prints them.
//!
//! Fields added to the servers after a field's first release default when absent, so this client
//! reads an older rig's state too.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

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
    /// How far the server's clock is moved from real time.
    #[serde(default)]
    pub clock: ClockOffset,
    /// Narrowed consent, when on.
    #[serde(default)]
    pub consent: Consent,
    #[serde(default)]
    pub reuse_detection: ReuseDetection,
    /// The store caps the server was started with; `None` from a rig too old to show them.
    #[serde(default)]
    pub limits: Option<StoreLimits>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct OAuthToggles {
    pub rotate_refresh_tokens: bool,
    pub access_token_ttl_seconds: u64,
    pub invalid_grant: bool,
    pub deny_consent: bool,
}

/// The authorization server's clock offset (`POST /control/clock`).
#[derive(Clone, Copy, Debug, Default, Deserialize)]
pub struct ClockOffset {
    pub offset_seconds: i64,
}

/// What `/authorize` grants (`POST /control/consent`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Consent {
    /// The scope granted whatever was asked; `None`: what was asked.
    pub grant_scope: Option<String>,
}

/// Refresh-token reuse detection (`POST /control/reuse-detection`).
#[derive(Clone, Copy, Debug, Default, Deserialize)]
pub struct ReuseDetection {
    pub on: bool,
    pub grace_seconds: u64,
}

/// Live (unexpired) entries in the store.
#[derive(Clone, Debug, Deserialize)]
pub struct StoreSizes {
    pub clients: u64,
    pub codes: u64,
    pub access_tokens: u64,
    pub refresh_tokens: u64,
}

/// The authorization server's store caps (`MAX_CLIENTS`, `MAX_TOKENS`, `MAX_CODES`).
#[derive(Clone, Copy, Debug, Deserialize)]
pub struct StoreLimits {
    pub max_clients: u64,
    pub max_tokens: u64,
    pub max_codes: u64,
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
    /// Requests a fault rule answered or delayed.
    #[serde(default)]
    pub faults_fired: u64,
    /// Rotated-out refresh tokens presented after their grace, whose grants were revoked.
    #[serde(default)]
    pub reuse_detections: u64,
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
    /// How a failed token check is answered.
    #[serde(default)]
    pub introspection_failure: IntrospectionFailure,
    /// Scopes each tool needs besides the required ones (tool → space-separated scopes).
    #[serde(default)]
    pub tool_scopes: BTreeMap<String, String>,
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
    /// Requests a fault rule answered or delayed.
    #[serde(default)]
    pub faults_fired: u64,
}

/// How the MCP server answers a request whose token it could not check (the authorization
/// server down, slow, or answering garbage).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum IntrospectionFailure {
    /// `503 temporarily_unavailable` with `Retry-After: 1`: a client should retry.
    #[default]
    #[serde(rename = "503")]
    Unavailable,
    /// `401 invalid_token`: what a server that treats "cannot check" as "bad token" answers;
    /// a client will refresh or re-authorize.
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
            clock,
            consent,
            reuse_detection,
            limits: _,
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
        let reuse = if reuse_detection.on {
            format!("on (grace {} s)", reuse_detection.grace_seconds)
        } else {
            "off".to_owned()
        };
        writeln!(
            f,
            "  clock {:+} s   narrow-consent {}   reuse-detect {}",
            clock.offset_seconds,
            consent.grant_scope.as_deref().unwrap_or("off"),
            reuse,
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
            "  introspections {} ({} active)  revocations {}  reuse detected {}  faults fired {}",
            counters.introspections,
            counters.active_introspections,
            counters.revocations,
            counters.reuse_detections,
            counters.faults_fired,
        )?;
        writeln!(
            f,
            "  scopes {}  start-up seed {}",
            scopes.join(" "),
            seed_refresh_token.as_deref().unwrap_or("none"),
        )?;
        let McpState {
            resource,
            toggles,
            counters,
            introspection_failure,
            tool_scopes,
            ..
        } = &self.mcp;
        writeln!(f, "mcp    {resource}")?;
        let step_up = if tool_scopes.is_empty() {
            "none".to_owned()
        } else {
            tool_scopes
                .iter()
                .map(|(tool, scopes)| format!("{tool}={}", scopes.replace(' ', "+")))
                .collect::<Vec<_>>()
                .join(",")
        };
        writeln!(
            f,
            "  bad-scope {}   step-up {}   failed token checks answer {}",
            on_off(toggles.force_403),
            step_up,
            introspection_failure,
        )?;
        write!(
            f,
            "  requests {}  tool calls {}  401 {}  400 {}  403 {}  503 {}  introspections {} ({} failed)  faults fired {}",
            counters.requests,
            counters.tool_calls,
            counters.unauthorized,
            counters.bad_requests,
            counters.forbidden,
            counters.unavailable,
            counters.introspections,
            counters.introspection_failures,
            counters.faults_fired,
        )
    }
}
