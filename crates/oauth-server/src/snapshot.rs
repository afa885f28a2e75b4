//! `GET /control/state` of an issuer: one document, written by the server and read back by the
//! control client (`mcp_oauth_sim::OAuthState` is [`Snapshot`]).
//!
//! Fields added after a field's first release default when absent, so a client reads an older
//! rig's state too.

use serde::{Deserialize, Serialize};

use crate::state::{Place, ReuseDetection, Toggles};

/// An issuer's switches, store sizes, counters and settings.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Snapshot {
    /// Always `oauth`.
    #[serde(default)]
    pub service: String,
    pub issuer: String,
    /// The issuer's name (`main`, …).
    #[serde(default)]
    pub name: String,
    pub toggles: Toggles,
    pub store: StoreSizes,
    /// What memory holds: expired entries the sweeper has not removed yet included.
    #[serde(default)]
    pub stored: Stored,
    pub counters: Tallies,
    /// The store caps the server was started with; `None` from a rig too old to show them.
    #[serde(default)]
    pub limits: Option<StoreLimits>,
    pub scopes: Vec<String>,
    /// The refresh token seeded at start-up (`SEED_REFRESH_TOKEN`), shortened. Tokens seeded
    /// later through the control plane count among the live refresh tokens instead.
    pub seed_refresh_token: Option<String>,
    /// How far the server's clock is moved from real time (shared by every issuer).
    #[serde(default)]
    pub clock: ClockOffset,
    /// Narrowed consent, when on.
    #[serde(default)]
    pub consent: Consent,
    #[serde(default)]
    pub reuse_detection: ReuseDetection,
    /// Fault rules in place, presets included.
    #[serde(default)]
    pub fault_rules: usize,
    /// Every issuer the server hosts, on the plain `/control/state` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuers: Option<Vec<Place>>,
}

/// Live (unexpired) entries in the store.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct StoreSizes {
    pub clients: u64,
    pub codes: u64,
    pub access_tokens: u64,
    pub refresh_tokens: u64,
}

/// Entries held in memory, expired ones not yet swept included.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize)]
pub struct Stored {
    pub codes: u64,
    pub tokens: u64,
}

/// The store caps (`MAX_CLIENTS`, `MAX_TOKENS`, `MAX_CODES`).
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
pub struct StoreLimits {
    pub max_clients: u64,
    pub max_tokens: u64,
    pub max_codes: u64,
}

/// The counters, as read at one moment.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Tallies {
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
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct TokenRequests {
    pub authorization_code: u64,
    pub refresh_token: u64,
    pub other: u64,
}

/// The clock offset (`POST /control/clock`).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize)]
pub struct ClockOffset {
    pub offset_seconds: i64,
}

/// What `/authorize` grants (`POST /control/consent`).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Consent {
    /// The scope granted whatever was asked; `None`: what was asked.
    pub grant_scope: Option<String>,
}
