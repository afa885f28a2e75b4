//! `GET /control/state` of an issuer: one document, written by the server and read back by the
//! control client (`mcp_oauth_sim::OAuthState` is [`Snapshot`]).
//!
//! Fields added after a field's first release default when absent, so a client reads an older
//! rig's state too.

use serde::{Deserialize, Serialize};

use crate::clients::PreRegistered;
use crate::consent::ConsentMode;
use crate::documents::{CachedDocument, FaultRule};
use crate::profile::Profile;
use crate::state::{Place, ReuseDetection, Toggles};

/// An issuer's switches, store sizes, counters and settings.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Snapshot {
    /// Always `oauth`.
    #[serde(default)]
    pub service: String,
    /// The issuer identifier, also the base URL of its endpoints.
    pub issuer: String,
    /// The issuer's name (`main`, …).
    #[serde(default)]
    pub name: String,
    /// The failure switches.
    pub toggles: Toggles,
    /// Live entries in the store.
    pub store: StoreSizes,
    /// What memory holds: expired entries the sweeper has not removed yet included.
    #[serde(default)]
    pub stored: Stored,
    /// What happened since start-up or the last reset.
    pub counters: Tallies,
    /// The store caps the server was started with; `None` from a rig too old to show them.
    #[serde(default)]
    pub limits: Option<StoreLimits>,
    /// The scopes the issuer knows (`SCOPES`); a request without `scope` is granted all of them.
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
    /// Refresh-token reuse detection: whether it is on, and its grace period.
    #[serde(default)]
    pub reuse_detection: ReuseDetection,
    /// Fault rules in place, presets included.
    #[serde(default)]
    pub fault_rules: usize,
    /// The profile in force, every field shown (scopes resolved).
    #[serde(default)]
    pub profile: Profile,
    /// The pre-registered clients, secrets redacted.
    #[serde(default)]
    pub clients: Vec<PreRegistered>,
    /// The client ID metadata documents cached, and the fetch faults in force.
    #[serde(default)]
    pub documents: DocumentsState,
    /// Every issuer the server hosts, on the plain `/control/state` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuers: Option<Vec<Place>>,
}

/// Live (unexpired) entries in the store.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct StoreSizes {
    /// Registered clients.
    pub clients: u64,
    /// Authorization codes issued and not yet redeemed or expired.
    pub codes: u64,
    /// Access tokens not yet expired or revoked.
    pub access_tokens: u64,
    /// Refresh tokens not yet expired, revoked or rotated out.
    pub refresh_tokens: u64,
}

/// Entries held in memory, expired ones not yet swept included.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize)]
pub struct Stored {
    /// Authorization codes, redeemed ones kept to detect a replay included.
    pub codes: u64,
    /// Access and refresh tokens, rotated-out refresh tokens kept for reuse detection included.
    pub tokens: u64,
}

/// The store caps (`MAX_CLIENTS`, `MAX_TOKENS`, `MAX_CODES`).
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
pub struct StoreLimits {
    /// Registered clients at most (`MAX_CLIENTS`).
    pub max_clients: u64,
    /// Live access plus refresh tokens at most (`MAX_TOKENS`).
    pub max_tokens: u64,
    /// Unredeemed authorization codes at most (`MAX_CODES`).
    pub max_codes: u64,
}

/// The counters, as read at one moment.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Tallies {
    /// Clients registered at `/register`.
    pub registrations: u64,
    /// Authorization codes issued by `/authorize`.
    pub authorizations: u64,
    /// `/authorize` requests a fault rule answered `access_denied`, as the `deny-consent`
    /// preset does.
    pub consent_denials: u64,
    /// `POST /token` calls that sent a `grant_type`, by grant type.
    pub token_requests: TokenRequests,
    /// Successful token responses, from either grant.
    pub tokens_issued: u64,
    /// Successful refresh grants.
    pub refreshes: u64,
    /// `POST /token` calls answered with an error, injected ones included.
    pub token_errors: u64,
    /// `POST /token` calls a fault rule answered `invalid_grant`, as the `invalid-grant` preset
    /// does.
    pub forced_invalid_grants: u64,
    /// Introspection requests that named a token.
    pub introspections: u64,
    /// Introspections that found a live access token (`active: true`).
    pub active_introspections: u64,
    /// Revocations of a known token: an access token, or a refresh token with its whole grant.
    pub revocations: u64,
    /// Requests a fault rule answered or delayed.
    #[serde(default)]
    pub faults_fired: u64,
    /// Rotated-out refresh tokens presented after their grace, whose grants were revoked.
    #[serde(default)]
    pub reuse_detections: u64,
    /// Requests that named a client id another issuer of the host issued.
    #[serde(default)]
    pub foreign_client_ids: u64,
    /// Client ID metadata documents fetched (successfully or not, faults included).
    #[serde(default)]
    pub document_fetches: u64,
    /// Requests refused because their client's document could not be fetched or was unusable.
    #[serde(default)]
    pub document_refusals: u64,
}

/// `documents` of the state, and `GET /control/documents`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct DocumentsState {
    /// The cached documents, by URL.
    pub cached: Vec<CachedDocument>,
    /// The fetch faults in force, oldest first.
    pub faults: Vec<FaultRule>,
}

/// `POST /token` calls by grant type.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct TokenRequests {
    /// Calls with `grant_type=authorization_code`.
    pub authorization_code: u64,
    /// Calls with `grant_type=refresh_token`.
    pub refresh_token: u64,
    /// Calls with `grant_type=client_credentials`.
    #[serde(default)]
    pub client_credentials: u64,
    /// Calls with the jwt-bearer grant (a workload assertion or an ID-JAG).
    #[serde(default)]
    pub jwt_bearer: u64,
    /// Calls with the token-exchange grant (an ID token for an ID-JAG).
    #[serde(default)]
    pub token_exchange: u64,
    /// Calls with any other `grant_type`.
    pub other: u64,
}

/// The clock offset (`POST /control/clock`).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize)]
pub struct ClockOffset {
    /// Seconds the clock is ahead of real time; 0 when it was never moved or was reset.
    pub offset_seconds: i64,
}

/// How `/authorize` gets consent (`POST /control/consent-mode`) and what it grants
/// (`POST /control/consent`).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Consent {
    /// The scope granted whatever was asked; `None`: what was asked. Automatic consent only:
    /// on the consent page the person's choice is granted.
    pub grant_scope: Option<String>,
    /// `auto` (approved at once) or `page` (a person decides on the consent page).
    #[serde(default)]
    pub mode: ConsentMode,
    /// In page mode, how many more authorizations show the page before it is `auto` again;
    /// `None`: until changed.
    #[serde(default)]
    pub next: Option<u32>,
    /// Authorizations waiting on a consent page (expired ones not dropped yet included).
    #[serde(default)]
    pub pending: u64,
}
