//! One issuer's state: its configuration, store, the tester's settings and fault rules, and its
//! counters. What the issuers of a server share (the clock, the journal, the listeners) is the
//! [`Host`](crate::host::Host)'s.

use std::sync::{Arc, RwLock, RwLockReadGuard, Weak};

use bytes::Bytes;
use jsonwebtoken::jwk::JwkSet;
use serde::Serialize;
use sim_http::Clock;
use sim_http::counter::Counter;
use sim_http::faults::Faults;
use sim_http::fetch::Fetcher;
use sim_http::secret::{random_token, redact};

use crate::clients::{MAX_PRE_REGISTERED, PreRegistered, RedirectUris};
use crate::config::Config;
use crate::consent::Consents;
use crate::documents::{Documents, Lookup, Refusal, is_document_id};
use crate::endpoints::metadata::{self, Form};
use crate::error::OAuthError;
use crate::faults::{DENY_CONSENT, INVALID_GRANT, TARGETS};
use crate::host::Host;
use crate::jose::{ClientKeys, KeyAlgorithm, KeyPair};
use crate::profile::Profile;
use crate::snapshot::{
    ClockOffset, Consent, DocumentsState, Snapshot, StoreLimits, StoreSizes, Stored, Tallies,
    TokenRequests,
};
use crate::store::{
    AccessToken, Client, ClientKind, GrantId, RefreshToken, RegistryFull, Store, TokenKey,
};
use crate::trust::{Trust, TrustRequest, TrustedKeys};

/// The switches that are plain settings (the others are fault presets; see [`Toggles`]). Its
/// field names are those of a saved issuer ([`crate::saved`]): rename none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
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
    pub client_credentials_grants: Counter,
    pub jwt_bearer_grants: Counter,
    pub token_exchanges: Counter,
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
    /// Requests that named a client id of another issuer of the host.
    pub foreign_client_ids: Counter,
    pub document_fetches: Counter,
    pub document_refusals: Counter,
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
                client_credentials: get(&self.client_credentials_grants),
                jwt_bearer: get(&self.jwt_bearer_grants),
                token_exchange: get(&self.token_exchanges),
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
            foreign_client_ids: get(&self.foreign_client_ids),
            document_fetches: get(&self.document_fetches),
            document_refusals: get(&self.document_refusals),
        }
    }

    fn reset(&self) {
        for counter in [
            &self.registrations,
            &self.authorizations,
            &self.consent_denials,
            &self.code_grants,
            &self.refresh_grants,
            &self.client_credentials_grants,
            &self.jwt_bearer_grants,
            &self.token_exchanges,
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
            &self.foreign_client_ids,
            &self.document_fetches,
            &self.document_refusals,
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

/// What an issuer is set up with beside the host's configuration.
pub struct Setup {
    /// Its configured profile: what a reset and a `null` field go back to.
    pub profile: Profile,
    /// Its start-up pre-registered clients, back after every reset.
    pub clients: Vec<PreRegistered>,
    /// Its start-up trusted assertion issuers, back after every reset.
    pub assertion_issuers: Vec<TrustRequest>,
    /// Served on a listener another server owns (co-hosting), rather than one of the host's.
    pub cohosted: bool,
    /// The host, to tell a client id of another issuer from an unknown one.
    pub host: Weak<Host>,
    /// What fetches client ID metadata documents (the host's, shared).
    pub fetcher: Fetcher,
}

impl Setup {
    /// The default profile, no clients, an empty key set and no host: for unit tests.
    #[cfg(test)]
    pub fn test() -> Self {
        Self {
            profile: Profile::default(),
            clients: Vec::new(),
            assertion_issuers: Vec::new(),
            cohosted: false,
            host: Weak::new(),
            fetcher: Fetcher::new(
                sim_http::outbound::Connector::default(),
                sim_http::fetch::FetchPolicy::default(),
            ),
        }
    }
}

/// The profile in force and what it renders, replaced whole when the profile changes, so that
/// a request reads one consistent version with one lock and one reference-count bump.
#[derive(Debug)]
pub struct Live {
    /// The issuer identifier in force: the start-up one until a re-point
    /// ([`State::set_issuer`]), and the base of every endpoint URL in the documents below.
    pub issuer: String,
    /// The profile, its `scopes` resolved.
    pub profile: Profile,
    /// The scopes known, space-separated: what a request without `scope` is granted.
    pub all_scopes: String,
    /// The RFC 8414 document, serialized once per profile.
    pub metadata: Bytes,
    /// The OIDC discovery document, serialized once per profile (empty when none is served).
    pub oidc_metadata: Bytes,
}

impl Live {
    fn render(issuer: String, profile: Profile) -> Self {
        let scopes = profile.scopes.clone().unwrap_or_default();
        let oidc_metadata = if profile.serves_oidc() {
            metadata::document(&issuer, &profile, &scopes, Form::Oidc)
        } else {
            Bytes::new()
        };
        Self {
            metadata: metadata::document(&issuer, &profile, &scopes, Form::Oauth),
            oidc_metadata,
            issuer,
            all_scopes: scopes.join(" "),
            profile,
        }
    }

    /// The scopes known (`offline_access` aside).
    pub fn scopes(&self) -> &[String] {
        self.profile.scopes.as_deref().unwrap_or_default()
    }
}

/// One issuer: everything of its own a request to it reads and changes.
pub struct State {
    /// Its name and where it is served. Its `issuer` is the start-up one: a re-point changes
    /// [`State::issuer`] and [`State::place`], which every answer reads.
    pub place: Place,
    pub config: Config,
    pub store: Store,
    pub clock: Clock,
    pub counters: Counters,
    /// The tester's fault rules, the `deny-consent` and `invalid-grant` presets included.
    pub faults: Faults,
    /// The profile it was configured with, scopes resolved: what reset and `null` restore.
    pub configured: Profile,
    /// Whether it is co-hosted on another server's listener.
    pub cohosted: bool,
    /// Its own signing key: what signs the ID tokens and ID-JAGs it issues as an identity
    /// provider, made at start. Its public half is the JWKS its metadata points at.
    pub signer: KeyPair,
    /// That JWKS, serialized once.
    pub jwks: Bytes,
    /// The assertion issuers it trusts, the key sets it fetched and the assertion ids it saw.
    pub trust: Trust,
    /// The client ID metadata documents it has fetched, and the fetch faults a tester set.
    pub documents: Documents,
    /// The consent mode in force and the authorizations waiting on a consent page.
    pub consents: Consents,
    /// Its start-up pre-registered clients.
    startup_clients: Vec<PreRegistered>,
    /// Its start-up trusted assertion issuers.
    startup_trust: Vec<TrustRequest>,
    host: Weak<Host>,
    /// The profile in force. Read on every request that needs it (a clone of the `Arc`),
    /// replaced only by the control plane; never held across an `.await`.
    live: RwLock<Arc<Live>>,
    /// A lock rather than atomics: the settings change together and are read once per request
    /// that needs them; never held across an `.await`.
    settings: RwLock<Settings>,
    /// Resources that moved (from, to): see [`State::rename_resource`]. Not a setting: like the
    /// URLs it follows, a reset keeps it.
    renamed_resources: RwLock<Vec<RenamedResource>>,
}

/// A protected resource's identifier that changed: a grant for `from` also covers `to`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenamedResource {
    pub from: String,
    pub to: String,
}

/// How many renamed resources an issuer remembers; the oldest goes first. A tunnel restarted
/// a few times a day stays far below it.
pub const MAX_RENAMED_RESOURCES: usize = 32;

impl State {
    /// An issuer with the default profile and no pre-registered clients.
    #[cfg(test)]
    pub fn new(place: Place, config: Config, clock: Clock) -> Self {
        Self::with(place, config, clock, Setup::test())
    }

    /// An issuer set up as `setup` says; its profile and clients were checked by the caller.
    pub fn with(place: Place, config: Config, clock: Clock, setup: Setup) -> Self {
        let mut configured = setup.profile;
        if configured.scopes.is_none() {
            configured.scopes = Some(config.scopes.clone());
        }
        let live = Live::render(place.issuer.clone(), configured.clone());
        // A P-256 key from the OS RNG cannot fail to be made short of a broken crypto library,
        // which would have failed the TLS set-up already.
        let signer = KeyPair::generate(KeyAlgorithm::ES256).expect("an ES256 key pair");
        let jwks = Bytes::from(serde_json::to_vec_pretty(&signer.jwks()).unwrap_or_default());
        let consents = Consents::new(config.consent);
        let state = Self {
            settings: RwLock::new(Self::initial_settings(&config)),
            faults: Faults::new(TARGETS),
            place,
            config,
            store: Store::default(),
            clock,
            counters: Counters::default(),
            configured,
            cohosted: setup.cohosted,
            signer,
            jwks,
            trust: Trust::default(),
            documents: Documents::new(setup.fetcher),
            consents,
            renamed_resources: RwLock::new(Vec::new()),
            startup_clients: setup.clients,
            startup_trust: setup.assertion_issuers,
            host: setup.host,
            live: RwLock::new(Arc::new(live)),
        };
        state.add_startup_clients();
        if let Some(token) = state.config.seed_refresh_token.clone() {
            state.seed_refresh_token(token);
        }
        state
    }

    /// Adds its start-up pre-registered clients and trusted assertion issuers, replacing any
    /// of the same id or `iss`.
    pub(crate) fn add_startup_clients(&self) {
        for client in &self.startup_clients {
            self.store.add_client(client.client());
        }
        // Checked with the configuration, so that building them again cannot fail.
        for trusted in &self.startup_trust {
            if let Ok(issuer) = trusted.clone().build() {
                let _ = self.trust.add(issuer);
            }
        }
    }

    /// The host serving it; `None` once the server has stopped, or in unit tests.
    pub(crate) fn host(&self) -> Option<Arc<Host>> {
        self.host.upgrade()
    }

    /// The profile in force and its documents.
    pub fn live(&self) -> Arc<Live> {
        // A poisoned lock only means a panic elsewhere mid-replace of an `Arc`.
        Arc::clone(
            &self
                .live
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// Puts `profile` in force; the caller checked it (see [`State::fits`]).
    pub fn set_profile(&self, profile: Profile) {
        let mut live = self.write_live();
        *live = Arc::new(Live::render(live.issuer.clone(), profile));
    }

    /// The issuer identifier in force (see [`Live::issuer`]).
    pub fn issuer(&self) -> String {
        self.live().issuer.clone()
    }

    /// Where it is served and how it is named now: [`State::place`]'s fields with the issuer
    /// identifier in force.
    pub fn place(&self) -> Place {
        Place {
            issuer: self.issuer(),
            ..self.place.clone()
        }
    }

    /// Re-points the issuer to `issuer` (checked by the caller), at once for every request
    /// that starts after this: metadata, `iss`, the introspection answer, what assertions must
    /// be addressed to. Clients, codes, tokens, switches and fault rules stay: it is the same
    /// server under another name, as when a tunnel's URL changes.
    pub fn set_issuer(&self, issuer: String) {
        let mut live = self.write_live();
        *live = Arc::new(Live::render(issuer, live.profile.clone()));
    }

    /// From now on a grant for the resource `from` also covers `to`: a client that was
    /// authorized for the MCP server under its old URL may ask for a token for its new one
    /// (RFC 8707 `resource` on a refresh or code exchange) without a new consent, as the same
    /// server re-pointed. Both must be absolute URIs without a fragment.
    pub fn rename_resource(&self, renamed: RenamedResource) -> Result<(), String> {
        for (what, uri) in [("from", &renamed.from), ("to", &renamed.to)] {
            if url::Url::parse(uri).map_or(true, |url| url.fragment().is_some()) {
                return Err(format!(
                    "{what} '{uri}' must be an absolute URI without a fragment"
                ));
            }
        }
        if renamed.from == renamed.to {
            return Err("from and to are the same resource".to_owned());
        }
        let mut all = self
            .renamed_resources
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        all.retain(|known| *known != renamed);
        if all.len() >= MAX_RENAMED_RESOURCES {
            all.remove(0);
        }
        all.push(renamed);
        Ok(())
    }

    /// The resources renamed so far, oldest first.
    pub fn renamed_resources(&self) -> Vec<RenamedResource> {
        self.renamed_resources
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Forgets every renamed resource: a grant covers only what it was for.
    pub fn forget_renamed_resources(&self) {
        self.renamed_resources
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }

    /// `granted` and every resource a rename made of one of them, through any number of
    /// renames: what a grant for `granted` covers now.
    pub fn covered_resources(&self, granted: &[String]) -> Vec<String> {
        let mut covered = granted.to_vec();
        let renamed = self
            .renamed_resources
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if renamed.is_empty() || granted.is_empty() {
            return covered;
        }
        // A fixed point: each pass adds at least one of the bounded renames, or ends.
        loop {
            let before = covered.len();
            for rename in renamed.iter() {
                if covered.contains(&rename.from) && !covered.contains(&rename.to) {
                    covered.push(rename.to.clone());
                }
            }
            if covered.len() == before {
                return covered;
            }
        }
    }

    fn write_live(&self) -> std::sync::RwLockWriteGuard<'_, Arc<Live>> {
        self.live
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether `profile` can be served for an issuer at `place`: metadata nowhere only leaves
    /// a client the default endpoints at the root of the origin, so it needs an issuer
    /// co-hosted at the root of another server's origin.
    pub fn fits(place: &Place, cohosted: bool, profile: &Profile) -> Result<(), String> {
        profile.validate()?;
        if profile.metadata.is_empty() && !(cohosted && place.path.is_empty()) {
            return Err(format!(
                "metadata: [] leaves issuer '{}' discoverable nowhere; nothing could discover \
                 this issuer (allowed only for an issuer co-hosted at the root of another \
                 server's origin)",
                place.name
            ));
        }
        Ok(())
    }

    /// Adds or replaces a pre-registered client; a dynamically registered one keeps its id.
    pub fn pre_register(&self, client: &PreRegistered) -> Result<(), String> {
        client.validate()?;
        match self.store.client(&client.client_id) {
            Some(existing) if existing.kind != ClientKind::PreRegistered => {
                return Err(format!(
                    "client_id '{}' is already registered dynamically",
                    client.client_id
                ));
            }
            Some(_) => {}
            None if self.pre_registered().len() >= MAX_PRE_REGISTERED => {
                return Err(format!(
                    "at most {MAX_PRE_REGISTERED} pre-registered clients per issuer"
                ));
            }
            None => {}
        }
        self.store.add_client(client.client());
        Ok(())
    }

    /// Forgets the pre-registered client `id`; `false` if there is none.
    pub fn forget_pre_registered(&self, id: &str) -> bool {
        self.store
            .clients
            .remove_if(id, |_, client| client.kind == ClientKind::PreRegistered)
            .is_some()
    }

    /// The pre-registered clients, by id, secrets redacted.
    pub fn pre_registered(&self) -> Vec<PreRegistered> {
        let mut clients: Vec<PreRegistered> = self
            .store
            .clients
            .iter()
            .filter(|client| client.kind == ClientKind::PreRegistered)
            .map(|client| {
                let registered = |name: &str| {
                    client
                        .registration
                        .get(name)
                        .and_then(|value| value.as_str())
                        .map(str::to_owned)
                };
                PreRegistered {
                    client_id: client.id.clone(),
                    // Only its redacted prefix is kept beside the digest.
                    client_secret: client
                        .secret
                        .as_ref()
                        .map(|secret| secret.shown().to_owned()),
                    auth_method: client.auth_method,
                    redirect_uris: if client.any_loopback {
                        RedirectUris::AnyLoopback
                    } else {
                        RedirectUris::List(client.redirect_uris.clone())
                    },
                    grant_types: client.grant_types.clone(),
                    client_name: registered("client_name"),
                    jwks: client.registration.get("jwks").cloned(),
                    jwks_uri: registered("jwks_uri"),
                    scope: client.scope.clone(),
                }
            })
            .collect();
        clients.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        clients
    }

    /// Notes, when `client_id` is unknown here, that another issuer of the host knows it: a
    /// client that carried its credentials from one authorization server to another.
    pub fn note_foreign_client(&self, client_id: &str, facts: &mut crate::router::Facts) {
        if self.store.client(client_id).is_some() {
            return;
        }
        let Some(host) = self.host.upgrade() else {
            return;
        };
        let owner = host.issuers().into_iter().find(|other| {
            other.place.name != self.place.name && other.store.client(client_id).is_some()
        });
        if let Some(owner) = owner {
            facts.note = format!("client of issuer '{}'", owner.place.name).into();
            self.counters.foreign_client_ids.bump();
        }
    }

    /// The public keys `keys` names: inline, fetched from a URL (cached briefly), or another
    /// issuer of this rig's own.
    pub async fn key_set(&self, keys: &TrustedKeys) -> Result<Arc<JwkSet>, String> {
        match keys {
            TrustedKeys::Keys(ClientKeys::Inline(set)) => Ok(Arc::clone(set)),
            TrustedKeys::Keys(ClientKeys::Uri(url)) => {
                self.trust
                    .fetch_keys(self.documents.fetcher(), url, self.now())
                    .await
            }
            TrustedKeys::Rig(name) => {
                let host = self.host.upgrade().ok_or("the rig is stopping")?;
                let issuer = host
                    .issuer(name)
                    .ok_or_else(|| format!("the rig has no issuer '{name}'"))?;
                Ok(Arc::new(issuer.signer.jwks()))
            }
        }
    }

    /// The URL of its token endpoint, which an assertion may name as its audience.
    pub fn token_endpoint(&self) -> String {
        let live = self.live();
        format!("{}{}/token", live.issuer, live.profile.prefix())
    }

    /// The client `id`, whether registered, pre-registered or described by a cached document
    /// (which [`State::resolve_document`] brought in).
    pub fn client(&self, id: &str) -> Option<Arc<Client>> {
        self.store.client(id).or_else(|| self.documents.cached(id))
    }

    /// For a `client_id` that is a URL, while this issuer resolves them: the client its
    /// metadata document describes (cached or fetched now), or why there is none. `None` for
    /// any other id, which the registry answers. The journal learns how the document was had.
    pub async fn resolve_document(
        &self,
        client_id: &str,
        facts: &mut crate::router::Facts,
    ) -> Option<Result<Arc<Client>, String>> {
        let live = self.live();
        if !live.profile.client_id_metadata_documents || !is_document_id(client_id) {
            return None;
        }
        let resolved = self
            .documents
            .resolve(client_id, &live.profile.auth_methods, self.now())
            .await;
        let asked = &mut facts.asked;
        Some(match resolved {
            Ok((client, lookup)) => {
                if lookup == Lookup::Fetched {
                    self.counters.document_fetches.bump();
                }
                asked.document = Some(lookup.as_str().to_owned());
                Ok(client)
            }
            Err(Refusal {
                reason: error,
                fetched,
            }) => {
                if fetched {
                    self.counters.document_fetches.bump();
                }
                self.counters.document_refusals.bump();
                asked.document = Some("refused".to_owned());
                facts.note = error.clone().into();
                Err(error)
            }
        })
    }

    /// The cached documents and the fetch faults, as the state shows them.
    pub fn documents_state(&self) -> DocumentsState {
        DocumentsState {
            cached: self.documents.list(self.now()),
            faults: self.documents.fault_rules(),
        }
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
        scope == "offline_access" || self.live().scopes().iter().any(|known| known == scope)
    }

    /// The scopes known, space-separated: what a request without `scope` is granted.
    pub fn all_scopes(&self) -> String {
        self.live().all_scopes.clone()
    }

    /// Makes `token` a valid refresh token for any client, with every scope.
    pub fn seed_refresh_token(&self, token: String) {
        let seeded = RefreshToken {
            client_id: None,
            scope: self.all_scopes(),
            resources: Vec::new(),
            subject: self.config.subject().to_owned(),
            grant: self.store.new_grant(),
            expires_at: self
                .now()
                .saturating_add(self.config.refresh_token_ttl.as_millis() as u64),
        };
        self.store
            .refresh_tokens
            .insert(TokenKey::of(&token), seeded);
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
            TokenKey::of(&access_token),
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
                    TokenKey::of(&token),
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
        self.documents.clear();
        self.consents.reset();
        self.trust.clear();
        // The start-up clients and trusted issuers.
        self.add_startup_clients();
        self.set_profile(self.configured.clone());
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
            issuer: self.issuer(),
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
            scopes: self.live().scopes().to_vec(),
            seed_refresh_token: self.config.seed_refresh_token.as_deref().map(redact),
            clock: ClockOffset {
                offset_seconds: self.clock.offset_millis() / 1000,
            },
            consent: Consent {
                grant_scope: settings.grant_scope,
                mode: self.consents.mode().mode,
                next: self.consents.mode().next,
                pending: self.consents.pending() as u64,
            },
            reuse_detection: settings.reuse_detection,
            fault_rules: self.faults.list().len(),
            profile: self.live().profile.clone(),
            clients: self.pre_registered(),
            documents: self.documents_state(),
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
    fn start_up_assertion_issuers_come_back_after_a_reset_and_added_ones_do_not() {
        let keys = KeyPair::generate(KeyAlgorithm::ES256).unwrap().jwks();
        let startup: TrustRequest = serde_json::from_value(json!({
            "issuer": "https://workload-idp.example",
            "jwks": keys,
        }))
        .unwrap();
        let setup = Setup {
            assertion_issuers: vec![startup.clone()],
            ..Setup::test()
        };
        let state = State::with(Place::test(), Config::default(), Clock::new(), setup);
        let added: TrustRequest = serde_json::from_value(json!({
            "issuer": "https://added.example",
            "generate_key": "ES256",
        }))
        .unwrap();
        state.trust.add(added.clone().build().unwrap()).unwrap();
        assert_eq!(state.trust.issuers().len(), 2);
        state.reset();
        let left: Vec<String> = state
            .trust
            .issuers()
            .iter()
            .map(|issuer| issuer.issuer.clone())
            .collect();
        assert_eq!(left, ["https://workload-idp.example"]);
        // At start-up a key the rig would make is one nobody could sign with.
        let made = Config {
            assertion_issuers: vec![added],
            ..Config::default()
        };
        let refused = made.validate().unwrap_err().to_string();
        assert!(refused.contains("generate_key"), "{refused}");
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
