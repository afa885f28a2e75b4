//! One issuer's state: its configuration, store, the tester's settings and fault rules, and its
//! counters. What the issuers of a server share (the clock, the journal, the listeners) is the
//! [`Host`](crate::host::Host)'s.

use std::sync::{RwLock, RwLockReadGuard};

use bytes::Bytes;
use serde::Serialize;
use sim_http::Clock;
use sim_http::counter::Counter;
use sim_http::faults::Faults;
use sim_http::secret::{random_token, redact};

use crate::config::Config;
use crate::error::OAuthError;
use crate::faults::{DENY_CONSENT, INVALID_GRANT, TARGETS};
use crate::snapshot::{
    ClockOffset, Consent, Snapshot, StoreLimits, StoreSizes, Stored, Tallies, TokenRequests,
};
use crate::store::{AccessToken, GrantId, RefreshToken, RegistryFull, Store};

/// The switches that are plain settings (the others are fault presets; see [`Toggles`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// A refresh grant returns a new refresh token and the presented one dies.
    pub rotate_refresh_tokens: bool,
    /// Lifetime of access tokens issued from now on.
    pub access_token_ttl_seconds: u64,
    /// When set, `/authorize` grants exactly this scope whatever was asked (narrowed consent).
    pub grant_scope: Option<String>,
    pub reuse_detection: ReuseDetection,
}

/// Refresh-token reuse detection: what a rotated-out refresh token presented again does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ReuseDetection {
    /// Off: it is an unknown token (`invalid_grant`). On: within the grace period it is honoured
    /// as a retry; after, it revokes its whole grant.
    pub on: bool,
    /// How long after its rotation a token is still honoured (a client that lost the answer).
    pub grace_seconds: u64,
}

/// The failure switches as `/control/state` shows them: the settings, and whether each preset
/// fault rule is in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Toggles {
    /// A refresh grant returns a new refresh token and the presented one dies.
    pub rotate_refresh_tokens: bool,
    /// Lifetime of access tokens issued from now on, in seconds.
    pub access_token_ttl_seconds: u64,
    /// Every refresh grant answers `invalid_grant` (the `invalid-grant` preset).
    pub invalid_grant: bool,
    /// `/authorize` answers `access_denied` (the `deny-consent` preset).
    pub deny_consent: bool,
}

/// What happened since start-up (or the last reset), for testers to assert on.
#[derive(Debug, Default)]
pub struct Counters {
    pub registrations: Counter,
    pub authorizations: Counter,
    pub consent_denials: Counter,
    pub code_grants: Counter,
    pub refresh_grants: Counter,
    pub other_grants: Counter,
    pub tokens_issued: Counter,
    pub refreshes: Counter,
    pub token_errors: Counter,
    pub forced_invalid_grants: Counter,
    pub introspections: Counter,
    pub active_introspections: Counter,
    pub revocations: Counter,
    /// Requests a fault rule (a preset included) delayed or answered.
    pub faults_fired: Counter,
    /// Rotated-out refresh tokens presented after the grace period, whose grants were revoked.
    pub reuse_detections: Counter,
}

impl Counters {
    fn snapshot(&self) -> Tallies {
        let get = Counter::get;
        Tallies {
            registrations: get(&self.registrations),
            authorizations: get(&self.authorizations),
            consent_denials: get(&self.consent_denials),
            token_requests: TokenRequests {
                authorization_code: get(&self.code_grants),
                refresh_token: get(&self.refresh_grants),
                other: get(&self.other_grants),
            },
            tokens_issued: get(&self.tokens_issued),
            refreshes: get(&self.refreshes),
            token_errors: get(&self.token_errors),
            forced_invalid_grants: get(&self.forced_invalid_grants),
            introspections: get(&self.introspections),
            active_introspections: get(&self.active_introspections),
            revocations: get(&self.revocations),
            faults_fired: get(&self.faults_fired),
            reuse_detections: get(&self.reuse_detections),
        }
    }

    fn reset(&self) {
        for counter in [
            &self.registrations,
            &self.authorizations,
            &self.consent_denials,
            &self.code_grants,
            &self.refresh_grants,
            &self.other_grants,
            &self.tokens_issued,
            &self.refreshes,
            &self.token_errors,
            &self.forced_invalid_grants,
            &self.introspections,
            &self.active_introspections,
            &self.revocations,
            &self.faults_fired,
            &self.reuse_detections,
        ] {
            counter.reset();
        }
    }
}

/// Who a set of tokens is for and what they allow.
#[derive(Clone, Debug)]
pub struct GrantTerms {
    pub client_id: String,
    pub scope: String,
    pub resources: Vec<String>,
    pub subject: String,
    pub grant: GrantId,
}

/// What a token response does about the refresh token.
pub enum RefreshIssue {
    /// No refresh token (the client is not registered for the refresh grant).
    None,
    /// A new refresh token for the grant's full original scope.
    New {
        scope: String,
        resources: Vec<String>,
    },
    /// Hand back the one presented (rotation off).
    Keep(String),
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
}

/// Where an issuer is served and how it is named: an entry of `GET /control/issuers`, read back
/// by the control client as the same type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Place {
    /// How the control plane and the journal name it (`main` for the default issuer).
    pub name: String,
    /// The issuer identifier, also the base of every endpoint URL in its metadata.
    pub issuer: String,
    /// The path its endpoints are routed under, `""` at the root of its listener.
    pub path: String,
    /// The port of the listener it is served on.
    pub port: u16,
    /// Its introspection endpoint on this machine, for a resource server beside the rig: the
    /// listener's own address, so that a tunnel in front of the public URL cannot break it.
    pub introspection_url: String,
}

/// One issuer: everything of its own a request to it reads and changes.
pub struct State {
    /// Its name, issuer identifier and where it is served.
    pub place: Place,
    pub config: Config,
    pub store: Store,
    pub clock: Clock,
    pub counters: Counters,
    /// The metadata document, serialized once: it never changes while the server runs.
    pub metadata: Bytes,
    /// The tester's fault rules, the `deny-consent` and `invalid-grant` presets included.
    pub faults: Faults,
    /// A lock rather than atomics: the settings change together and are read once per request
    /// that needs them; never held across an `.await`.
    settings: RwLock<Settings>,
}

impl State {
    pub fn new(place: Place, config: Config, clock: Clock) -> Self {
        let metadata = crate::endpoints::metadata::document(&place.issuer, &config.scopes);
        let state = Self {
            settings: RwLock::new(Self::initial_settings(&config)),
            faults: Faults::new(TARGETS),
            place,
            config,
            store: Store::default(),
            clock,
            counters: Counters::default(),
            metadata,
        };
        if let Some(token) = state.config.seed_refresh_token.clone() {
            state.seed_refresh_token(token);
        }
        state
    }

    fn initial_settings(config: &Config) -> Settings {
        Settings {
            rotate_refresh_tokens: false,
            access_token_ttl_seconds: config.access_token_ttl.as_secs(),
            grant_scope: None,
            reuse_detection: ReuseDetection::default(),
        }
    }

    fn read_settings(&self) -> RwLockReadGuard<'_, Settings> {
        // A poisoned lock only means a panic elsewhere mid-update of plain data.
        self.settings
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn settings(&self) -> Settings {
        self.read_settings().clone()
    }

    pub fn update_settings(&self, change: impl FnOnce(&mut Settings)) {
        change(
            &mut self
                .settings
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
    }

    /// The switches as the control plane shows them.
    pub fn toggles(&self) -> Toggles {
        let settings = self.settings();
        Toggles {
            rotate_refresh_tokens: settings.rotate_refresh_tokens,
            access_token_ttl_seconds: settings.access_token_ttl_seconds,
            invalid_grant: self.faults.has_preset(INVALID_GRANT),
            deny_consent: self.faults.has_preset(DENY_CONSENT),
        }
    }

    /// Turns reuse detection on or off. Turning it off forgets the rotated-out tokens, which only
    /// detection needs.
    pub fn detect_reuse(&self, detection: ReuseDetection) {
        self.update_settings(|settings| settings.reuse_detection = detection);
        if !detection.on {
            self.store.retired_refresh_tokens.clear();
        }
    }

    pub fn now(&self) -> u64 {
        self.clock.now_millis()
    }

    /// Whether `scope` names only scopes this server grants.
    pub fn knows_scope(&self, scope: &str) -> bool {
        scope == "offline_access" || self.config.scopes.iter().any(|known| known == scope)
    }

    pub fn all_scopes(&self) -> String {
        self.config.scopes.join(" ")
    }

    /// Makes `token` a valid refresh token for any client, with every scope.
    pub fn seed_refresh_token(&self, token: String) {
        let seeded = RefreshToken {
            client_id: None,
            scope: self.all_scopes(),
            resources: Vec::new(),
            subject: self.config.subject.clone(),
            grant: self.store.new_grant(),
            expires_at: self
                .now()
                .saturating_add(self.config.refresh_token_ttl.as_millis() as u64),
        };
        self.store.refresh_tokens.insert(token, seeded);
    }

    /// Issues an access token (and, as asked, a refresh token) under `terms`.
    pub fn issue_tokens(
        &self,
        terms: &GrantTerms,
        refresh: RefreshIssue,
    ) -> Result<TokenResponse, OAuthError> {
        let now = self.now();
        self.ensure_token_capacity(now)?;
        let ttl = self.read_settings().access_token_ttl_seconds;
        let access_token = random_token();
        self.store.access_tokens.insert(
            access_token.clone(),
            AccessToken {
                client_id: terms.client_id.clone(),
                scope: terms.scope.clone(),
                resources: terms.resources.clone(),
                subject: terms.subject.clone(),
                grant: terms.grant,
                issued_at: now,
                expires_at: now.saturating_add(ttl * 1000),
            },
        );
        let refresh_token = match refresh {
            RefreshIssue::None => None,
            RefreshIssue::Keep(token) => Some(token),
            RefreshIssue::New { scope, resources } => {
                let token = random_token();
                self.store.refresh_tokens.insert(
                    token.clone(),
                    RefreshToken {
                        client_id: Some(terms.client_id.clone()),
                        scope,
                        resources,
                        subject: terms.subject.clone(),
                        grant: terms.grant,
                        expires_at: now
                            .saturating_add(self.config.refresh_token_ttl.as_millis() as u64),
                    },
                );
                Some(token)
            }
        };
        self.counters.tokens_issued.bump();
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: ttl,
            refresh_token,
            scope: terms.scope.clone(),
        })
    }

    fn ensure_token_capacity(&self, now: u64) -> Result<(), OAuthError> {
        let max = self.config.limits.max_tokens;
        // An access token and possibly a refresh token.
        if self.store.has_room(now, 2, max, Store::token_count) {
            return Ok(());
        }
        // Rotated-out tokens only serve reuse detection: forget them before refusing to issue.
        if !self.store.retired_refresh_tokens.is_empty() {
            self.store.retired_refresh_tokens.clear();
            if self.store.has_room(now, 2, max, Store::token_count) {
                return Ok(());
            }
        }
        Err(OAuthError::TemporarilyUnavailable(format!(
            "the token store is full ({max} live tokens); wait for tokens to expire or \
             POST /control/reset"
        )))
    }

    /// Makes room to register one more client, evicting idle ones if the registry is full, and
    /// returns the ids of those evicted (who will get `invalid_client` and may register again).
    pub fn make_room_for_client(&self) -> Result<Vec<String>, OAuthError> {
        let max = self.config.limits.max_clients;
        self.store
            .make_room_for_client(self.now(), max)
            .map_err(|RegistryFull| {
                OAuthError::TemporarilyUnavailable(format!(
                    "the client registry is full ({max} clients, each holding a live code or \
                     token); wait for tokens to expire, revoke some, or POST /control/reset"
                ))
            })
    }

    /// Back to start-up: no clients, codes or tokens (the seed token again, if configured),
    /// settings and counters as configured, no fault rules. The clock and the journal are the
    /// host's, and are reset with it.
    pub fn reset(&self) {
        self.store.clear();
        self.update_settings(|settings| *settings = Self::initial_settings(&self.config));
        self.faults.clear();
        self.counters.reset();
        if let Some(token) = self.config.seed_refresh_token.clone() {
            self.seed_refresh_token(token);
        }
    }

    /// What `GET /control/state` shows.
    pub fn snapshot(&self) -> Snapshot {
        let now = self.now();
        let settings = self.settings();
        let store = &self.store;
        let live = |expiries: &mut dyn Iterator<Item = u64>| {
            expiries.filter(|expires_at| *expires_at > now).count() as u64
        };
        let limits = &self.config.limits;
        Snapshot {
            service: "oauth".to_owned(),
            issuer: self.place.issuer.clone(),
            name: self.place.name.clone(),
            toggles: self.toggles(),
            store: StoreSizes {
                clients: store.clients.len() as u64,
                codes: live(&mut store.codes.iter().map(|code| code.expires_at)),
                access_tokens: live(&mut store.access_tokens.iter().map(|token| token.expires_at)),
                refresh_tokens: live(
                    &mut store.refresh_tokens.iter().map(|token| token.expires_at),
                ),
            },
            stored: Stored {
                codes: (store.codes.len() + store.redeemed_codes.len()) as u64,
                tokens: store.token_count() as u64,
            },
            counters: self.counters.snapshot(),
            limits: Some(StoreLimits {
                max_clients: limits.max_clients as u64,
                max_tokens: limits.max_tokens as u64,
                max_codes: limits.max_codes as u64,
            }),
            scopes: self.config.scopes.clone(),
            seed_refresh_token: self.config.seed_refresh_token.as_deref().map(redact),
            clock: ClockOffset {
                offset_seconds: self.clock.offset_millis() / 1000,
            },
            consent: Consent {
                grant_scope: settings.grant_scope,
            },
            reuse_detection: settings.reuse_detection,
            fault_rules: self.faults.list().len(),
            issuers: None,
        }
    }
}

#[cfg(test)]
impl Place {
    /// `main` at `http://localhost:1`, for unit tests that need an issuer and no listener.
    pub fn test() -> Self {
        Self {
            name: crate::config::MAIN_ISSUER.into(),
            issuer: "http://localhost:1".into(),
            path: String::new(),
            port: 1,
            introspection_url: "http://127.0.0.1:1/introspect".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use serde_json::{Value, json};

    use super::*;

    /// The state document as JSON, as `GET /control/state` answers it.
    fn shown(state: &State) -> Value {
        serde_json::to_value(state.snapshot()).unwrap()
    }

    fn terms(grant: GrantId) -> GrantTerms {
        GrantTerms {
            client_id: "c".into(),
            scope: "mcp:tools".into(),
            resources: Vec::new(),
            subject: "u".into(),
            grant,
        }
    }

    #[test]
    fn a_hundred_thousand_short_lived_tokens_are_swept_once_they_expire() {
        // Arrange: tokens that live one minute, issued as fast as the store takes them.
        let state = State::new(Place::test(), Config::default(), Clock::new());
        state.update_settings(|settings| settings.access_token_ttl_seconds = 60);
        let started = Instant::now();
        for grant in 0..50_000 {
            let issued = state.issue_tokens(
                &terms(grant),
                RefreshIssue::New {
                    scope: "mcp:tools".into(),
                    resources: Vec::new(),
                },
            );
            assert!(issued.is_ok(), "token {grant} refused");
        }
        assert_eq!(state.store.token_count(), 100_000);
        assert_eq!(shown(&state)["stored"]["tokens"], json!(100_000));
        assert_eq!(shown(&state)["store"]["access_tokens"], json!(50_000));

        // Act: the access tokens expire, then (a month later) the refresh tokens; the sweeper
        // runs after each.
        state.clock.advance(Duration::from_secs(61));
        state.store.sweep(state.now());
        let after_access = state.store.token_count();
        state.clock.advance(state.config.refresh_token_ttl);
        state.store.sweep(state.now());

        // Assert
        assert_eq!(after_access, 50_000, "only the refresh tokens are left");
        let snapshot = shown(&state);
        assert_eq!(snapshot["stored"]["tokens"], json!(0), "{snapshot}");
        assert_eq!(snapshot["store"]["refresh_tokens"], json!(0), "{snapshot}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "took {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_full_token_store_refuses_with_a_clear_error_until_tokens_expire() {
        // Arrange
        let config = Config {
            limits: crate::config::Limits {
                max_tokens: 4,
                ..Default::default()
            },
            ..Config::default()
        };
        let state = State::new(Place::test(), config, Clock::new());
        state.update_settings(|settings| settings.access_token_ttl_seconds = 60);
        let keep = |grant| state.issue_tokens(&terms(grant), RefreshIssue::Keep("r".into()));
        for grant in 0..3 {
            keep(grant).unwrap();
        }

        // Act
        let refused = keep(3).unwrap_err();
        state.clock.advance(Duration::from_secs(61));
        let after_expiry = keep(4);

        // Assert
        assert!(
            matches!(&refused, OAuthError::TemporarilyUnavailable(why)
                if why.contains("token store is full (4 live tokens)")),
            "{refused:?}"
        );
        assert!(after_expiry.is_ok(), "expired tokens make room");
        assert_eq!(state.store.token_count(), 1);
    }
}
