//! The in-memory store: clients, authorization codes, access and refresh tokens.
//!
//! Each kind lives in its own `DashMap` keyed by the SHA-256 of the opaque string a client holds
//! ([`TokenKey`]): the store never holds a code or token in the clear, so neither does a saved
//! copy of it, and a memory dump of the rig yields nothing a client could present. Single-use
//! semantics (a code redeemed once, a rotated refresh token used once) rest on `remove` being
//! atomic: of many concurrent redemptions exactly one gets the value. No guard is ever held across
//! an `.await`.
//!
//! Everything that can expire carries `expires_at` in the rig clock's milliseconds; lookups treat
//! expired entries as absent, and the sweeper removes them so memory stays bounded. Clients do
//! not expire: at the cap, the least recently used one that holds nothing live makes room.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use dashmap::DashMap;
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The SHA-256 of a code or token a client holds: what the store's maps are keyed by. Whoever
/// is presented a token hashes it ([`TokenKey::of`]) to look it up; the token itself is never
/// kept.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenKey([u8; 32]);

impl TokenKey {
    /// The key of `token`, as presented.
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// Its 64 lowercase hex digits, as a saved store names it.
    pub fn to_hex(self) -> String {
        self.0.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    /// The key written as [`TokenKey::to_hex`] wrote it; `None` for anything else.
    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (index, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[index * 2..index * 2 + 2], 16).ok()?;
        }
        Some(Self(bytes))
    }

    /// Whether two keys are equal, taking as long whatever they share: a secret's digest is
    /// compared without telling, through timing, how much of it matched.
    pub fn constant_time_eq(&self, other: &Self) -> bool {
        let differ = self
            .0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |differ, (a, b)| differ | (a ^ b));
        std::hint::black_box(differ) == 0
    }
}

/// Only a prefix of the hash: enough to tell keys apart in a test failure.
impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenKey({}…)", &self.to_hex()[..12])
    }
}

/// A client's secret as the issuer keeps it: its SHA-256, and the redacted prefix the state
/// shows (what `GET /control/clients` showed when the secret itself was kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientSecret {
    digest: TokenKey,
    shown: String,
}

impl ClientSecret {
    /// The kept form of `secret`.
    pub fn new(secret: &str) -> Self {
        Self {
            digest: TokenKey::of(secret),
            shown: sim_http::secret::redact(secret),
        }
    }

    /// A secret as saved: its digest and its redacted prefix.
    pub fn from_parts(digest: TokenKey, shown: String) -> Self {
        Self { digest, shown }
    }

    /// Whether `presented` is the secret, compared digest to digest in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        self.digest.constant_time_eq(&TokenKey::of(presented))
    }

    /// Its SHA-256.
    pub fn digest(&self) -> TokenKey {
        self.digest
    }

    /// Its first characters and an ellipsis, as the state shows it.
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

/// How a client authenticates at the token endpoint (RFC 7591 `token_endpoint_auth_method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A public client: its id in the body, no secret.
    None,
    /// The id and secret in an `Authorization: Basic` header (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// The id and secret in the form body.
    ClientSecretPost,
    /// A JWT signed with the client's private key (RFC 7523 §2.2, OpenID Connect Core §9); the
    /// issuer holds its public keys (`jwks`) or where to fetch them (`jwks_uri`).
    PrivateKeyJwt,
}

impl AuthMethod {
    /// Every method, in the order the metadata lists them.
    pub const ALL: [Self; 4] = [
        Self::None,
        Self::ClientSecretBasic,
        Self::ClientSecretPost,
        Self::PrivateKeyJwt,
    ];

    /// The method named `name` (its RFC 7591 name).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|method| method.as_str() == name)
    }

    /// Its RFC 7591 name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }

    /// Whether the client holds a shared secret.
    pub fn has_secret(self) -> bool {
        matches!(self, Self::ClientSecretBasic | Self::ClientSecretPost)
    }

    /// Whether the client is confidential: it can authenticate, with a secret or a key.
    pub fn is_confidential(self) -> bool {
        self != Self::None
    }
}

/// Read by name, with an error that says which field went wrong and what would do.
impl<'de> serde::Deserialize<'de> for AuthMethod {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <String as serde::Deserialize>::deserialize(deserializer)?;
        Self::parse(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "auth_method '{name}' is not supported; use none, client_secret_basic, \
                 client_secret_post or private_key_jwt"
            ))
        })
    }
}

/// A grant a client may use at the token endpoint (RFC 7591 `grant_types`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum GrantType {
    /// `authorization_code`.
    #[serde(rename = "authorization_code")]
    AuthorizationCode,
    /// `refresh_token`.
    #[serde(rename = "refresh_token")]
    RefreshToken,
    /// `client_credentials` (RFC 6749 §4.4): a confidential client on its own behalf.
    #[serde(rename = "client_credentials")]
    ClientCredentials,
    /// The JWT bearer grant (RFC 7523 §2.1): a workload's assertion, or an ID-JAG.
    #[serde(rename = "urn:ietf:params:oauth:grant-type:jwt-bearer")]
    JwtBearer,
    /// Token exchange (RFC 8693), which an identity-provider issuer offers to turn an ID token
    /// into an ID-JAG (enterprise-managed authorization).
    #[serde(rename = "urn:ietf:params:oauth:grant-type:token-exchange")]
    TokenExchange,
}

impl GrantType {
    /// Every grant this server supports, in the order the metadata lists them.
    pub const ALL: [Self; 5] = [
        Self::AuthorizationCode,
        Self::RefreshToken,
        Self::ClientCredentials,
        Self::JwtBearer,
        Self::TokenExchange,
    ];

    /// The grants of a client acting for a user: what a client gets when it names none.
    pub const USER: [Self; 2] = [Self::AuthorizationCode, Self::RefreshToken];

    /// The grant named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|grant| grant.as_str() == name)
    }

    /// Its RFC 7591 name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::JwtBearer => "urn:ietf:params:oauth:grant-type:jwt-bearer",
            Self::TokenExchange => "urn:ietf:params:oauth:grant-type:token-exchange",
        }
    }
}

/// A registered client.
#[derive(Debug)]
pub struct Client {
    pub id: String,
    /// Present exactly when `auth_method` is a secret method; its digest, never the secret.
    pub secret: Option<ClientSecret>,
    pub auth_method: AuthMethod,
    pub redirect_uris: Vec<String>,
    /// Pre-registered with `"redirect_uris": "any-loopback"`: any http loopback URI, any port
    /// and path, is its redirect URI.
    pub any_loopback: bool,
    /// How the issuer came to know it; a pre-registered client is never evicted to make room
    /// for a registration, and a document's lives in the document cache, not the registry.
    pub kind: ClientKind,
    pub grant_types: Vec<GrantType>,
    /// Where its public keys are, for `private_key_jwt`; `None` for the other methods.
    pub keys: Option<crate::jose::ClientKeys>,
    /// The scopes it may be granted without a user (`client_credentials`); `None`: any the
    /// issuer knows.
    pub scope: Option<String>,
    /// The registration response without `client_secret` (which is answered once, when it is
    /// made, and kept only as a digest): every metadata field the client sent, plus what the
    /// server assigned.
    pub registration: Map<String, Value>,
    /// When the client was last registered, authorized or authenticated, as a tick of
    /// [`Store::touch`]: the order in which idle clients are evicted at the cap. A tick rather
    /// than a time, so that two uses within a millisecond (or across a clock rewind) still
    /// compare.
    pub last_used: AtomicU64,
}

impl Client {
    /// Whether `/authorize` may send this client back to `requested`.
    pub fn accepts_redirect(&self, requested: &str) -> bool {
        (self.any_loopback && crate::redirect_uri::is_any_loopback(requested))
            || self
                .redirect_uris
                .iter()
                .any(|registered| crate::redirect_uri::matches(registered, requested))
    }

    pub fn may_use_grant(&self, grant_type: GrantType) -> bool {
        self.grant_types.contains(&grant_type)
    }
}

/// How an issuer came to know a client: what the journal and the state call its registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientKind {
    /// Registered at `/register` (RFC 7591).
    Dynamic,
    /// Configured, from the start-up settings or `POST /control/clients`.
    PreRegistered,
    /// Its `client_id` is the URL of its client ID metadata document, fetched by the issuer.
    Document,
}

impl ClientKind {
    /// Its name in the journal and the state.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dynamic => "dynamic",
            Self::PreRegistered => "pre-registered",
            Self::Document => "document",
        }
    }
}

/// An issued, not yet redeemed authorization code and everything it is bound to. Its field names
/// are those of a saved store ([`crate::saved`]): rename none.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct AuthCode {
    pub client_id: String,
    /// The redirect URI the code was delivered to.
    pub redirect_uri: String,
    /// Whether `/authorize` was sent `redirect_uri`; if so, `/token` must repeat it.
    pub redirect_uri_sent: bool,
    pub code_challenge: String,
    pub scope: String,
    pub resources: Vec<String>,
    pub subject: String,
    pub expires_at: u64,
}

/// Identifies one authorization (one consent): every token descended from a code, through any
/// number of refreshes and rotations, shares it. Revoking a grant revokes the whole family.
pub type GrantId = u64;

/// An issued access token. Its field names are those of a saved store: rename none.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct AccessToken {
    pub client_id: String,
    pub scope: String,
    pub resources: Vec<String>,
    pub subject: String,
    pub grant: GrantId,
    pub issued_at: u64,
    pub expires_at: u64,
}

/// An issued refresh token. Its field names are those of a saved store: rename none.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct RefreshToken {
    /// `None` for a seeded token, which any client may present.
    pub client_id: Option<String>,
    /// The scope of the original grant: a refresh may ask for less, never more.
    pub scope: String,
    pub resources: Vec<String>,
    pub subject: String,
    pub grant: GrantId,
    pub expires_at: u64,
}

impl RefreshToken {
    pub fn usable_by(&self, client_id: &str) -> bool {
        self.client_id
            .as_deref()
            .is_none_or(|owner| owner == client_id)
    }
}

/// A code that was redeemed, remembered until it would have expired, so that a replay can be
/// told apart from a made-up code and the tokens issued from it revoked (OAuth 2.1 §4.1.3).
#[derive(Clone, Copy, Debug, Serialize, serde::Deserialize)]
pub struct RedeemedCode {
    pub grant: GrantId,
    pub expires_at: u64,
}

/// A refresh token rotated out while reuse detection was on, remembered until it would have
/// expired: presenting it again is either a client's retry within the grace period or a replay by
/// someone who stole it.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct RetiredRefreshToken {
    pub token: RefreshToken,
    /// When it was rotated out, in the rig clock's milliseconds.
    pub retired_at: u64,
}

/// All state. `Arc`ed clients make a lookup a reference-count bump rather than a deep copy.
#[derive(Debug, Default)]
pub struct Store {
    pub clients: DashMap<String, Arc<Client>>,
    pub codes: DashMap<TokenKey, AuthCode>,
    pub redeemed_codes: DashMap<TokenKey, RedeemedCode>,
    pub access_tokens: DashMap<TokenKey, AccessToken>,
    pub refresh_tokens: DashMap<TokenKey, RefreshToken>,
    /// Rotated-out refresh tokens, kept for reuse detection only. They count against the token
    /// cap, and are the first thing forgotten when the cap is reached.
    pub retired_refresh_tokens: DashMap<TokenKey, RetiredRefreshToken>,
    /// Striped locks over grants: see [`Store::lock_grant`].
    grant_locks: [Mutex<()>; GRANT_LOCK_STRIPES],
    /// Striped locks over authorization codes: see [`Store::lock_code`].
    code_locks: [Mutex<()>; GRANT_LOCK_STRIPES],
    /// The last grant id handed out; saved and restored with the tokens, so that a grant made
    /// after a restore never shares an id (and a revocation) with a restored one.
    next_grant: AtomicU64,
    /// The last tick [`Store::touch`] handed out.
    use_ticks: AtomicU64,
    /// When (rig-clock milliseconds) a sweep last left a cap still reached; 0: never.
    futile_sweep_at: AtomicU64,
}

/// How long after a sweep that freed too little [`Store::has_room`] refuses without sweeping
/// again, in rig-clock milliseconds.
const SWEEP_PAUSE_MS: u64 = 1000;

/// How many locks the grants share. More stripes only make two unrelated grants wait for each
/// other less often, and each is held for microseconds.
const GRANT_LOCK_STRIPES: usize = 32;

/// Proof that the caller holds a grant's lock ([`Store::lock_grant`]).
pub struct GrantLock<'a> {
    grant: GrantId,
    _held: MutexGuard<'a, ()>,
}

impl GrantLock<'_> {
    pub fn grant(&self) -> GrantId {
        self.grant
    }
}

impl Store {
    /// Serializes what is done under one grant: issuing tokens under it and revoking it. Without
    /// this, a refresh racing its own replay could issue its pair just after the replay revoked
    /// the grant, and the pair would outlive the revocation; with it, the revocation waits and
    /// takes the pair too. Held across map operations only, never across an await, and never two
    /// at once.
    pub fn lock_grant(&self, grant: GrantId) -> GrantLock<'_> {
        let stripe = (grant % GRANT_LOCK_STRIPES as u64) as usize;
        GrantLock {
            grant,
            // Nothing is left half-done under this lock when a holder panics: the maps are
            // consistent after every single operation.
            _held: self.grant_locks[stripe]
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        }
    }

    /// Serializes a code's redemption with the look-ups of its replays: held from the code's
    /// removal until it is recorded as redeemed, so that a replay never finds it in neither map
    /// (and answers "unknown" instead of revoking what it was redeemed for). Held across map
    /// operations only; a replay drops it before it waits for the grant's lock.
    pub fn lock_code(&self, code: &TokenKey) -> MutexGuard<'_, ()> {
        // The key is a SHA-256 already: any byte of it spreads codes evenly.
        let stripe = code.0[0] as usize % GRANT_LOCK_STRIPES;
        // As for grants: the maps are consistent after every single operation.
        self.code_locks[stripe]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub fn new_grant(&self) -> GrantId {
        self.next_grant.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The last grant id handed out (0: none yet).
    pub fn last_grant(&self) -> GrantId {
        self.next_grant.load(Ordering::Relaxed)
    }

    /// Makes the next grant id follow `last` at least: after a restore, new grants never reuse
    /// a restored one's id.
    pub fn grants_after(&self, last: GrantId) {
        self.next_grant.fetch_max(last, Ordering::Relaxed);
    }

    /// The client `id`, without counting this as a use (a log line naming it, a fault rule's
    /// match).
    pub fn client(&self, id: &str) -> Option<Arc<Client>> {
        self.clients.get(id).map(|entry| Arc::clone(entry.value()))
    }

    /// The client `id`, which is being used: it becomes the most recently used.
    pub fn use_client(&self, id: &str) -> Option<Arc<Client>> {
        let client = self.client(id)?;
        self.touch(&client);
        Some(client)
    }

    /// Marks `client` as the most recently used.
    pub fn touch(&self, client: &Client) {
        let tick = self.use_ticks.fetch_add(1, Ordering::Relaxed) + 1;
        client.last_used.fetch_max(tick, Ordering::Relaxed);
    }

    /// Registers `client`, as the most recently used.
    pub fn add_client(&self, client: Arc<Client>) {
        self.touch(&client);
        self.clients.insert(client.id.clone(), client);
    }

    /// Makes room for one more client under `max` by forgetting the least recently used clients
    /// that hold no live code, access token or refresh token, and returns their ids. `Err` when
    /// the registry is full of clients in use. Only a full registry costs a scan of the store.
    pub fn make_room_for_client(&self, now: u64, max: usize) -> Result<Vec<String>, RegistryFull> {
        let mut evicted = Vec::new();
        // Concurrent registrations may have overshot the cap; a few rounds also absorb losing a
        // race for a victim to another registration, or to its own use.
        for _ in 0..8 {
            if self.clients.len() < max {
                return Ok(evicted);
            }
            let (id, last_used) = self
                .least_recently_used_idle_client(now)
                .ok_or(RegistryFull)?;
            // Only if it was not used since the scan: a use may have just given it a code.
            if self
                .clients
                .remove_if(&id, |_, client| {
                    client.last_used.load(Ordering::Relaxed) == last_used
                })
                .is_some()
            {
                evicted.push(id);
            }
        }
        if self.clients.len() < max {
            Ok(evicted)
        } else {
            Err(RegistryFull)
        }
    }

    /// The client, and its last use, that was used longest ago among those holding nothing live.
    fn least_recently_used_idle_client(&self, now: u64) -> Option<(String, u64)> {
        let mut idle: HashMap<String, u64> = self
            .clients
            .iter()
            .filter(|client| client.kind != ClientKind::PreRegistered)
            .map(|client| (client.id.clone(), client.last_used.load(Ordering::Relaxed)))
            .collect();
        for code in self.codes.iter().filter(|code| code.expires_at > now) {
            idle.remove(code.client_id.as_str());
        }
        for token in self
            .access_tokens
            .iter()
            .filter(|token| token.expires_at > now)
        {
            idle.remove(token.client_id.as_str());
        }
        for token in self
            .refresh_tokens
            .iter()
            .filter(|token| token.expires_at > now)
        {
            if let Some(owner) = &token.client_id {
                idle.remove(owner.as_str());
            }
        }
        idle.into_iter().min_by_key(|(_, last_used)| *last_used)
    }

    /// Registers `id` as a public client of the code and refresh grants with no redirect URI (so it
    /// cannot start an authorization without registering), or returns the client already there.
    pub fn adopt_public_client(&self, id: String) -> Arc<Client> {
        let grant_types = GrantType::USER.to_vec();
        let mut registration = Map::new();
        registration.insert("client_id".into(), Value::from(id.clone()));
        registration.insert("token_endpoint_auth_method".into(), Value::from("none"));
        registration.insert(
            "grant_types".into(),
            Value::from(
                grant_types
                    .iter()
                    .map(|grant| grant.as_str())
                    .collect::<Vec<_>>(),
            ),
        );
        registration.insert("redirect_uris".into(), Value::Array(Vec::new()));
        let client = Arc::clone(
            self.clients
                .entry(id.clone())
                .or_insert_with(|| {
                    Arc::new(Client {
                        id,
                        secret: None,
                        auth_method: AuthMethod::None,
                        redirect_uris: Vec::new(),
                        any_loopback: false,
                        kind: ClientKind::Dynamic,
                        grant_types,
                        keys: None,
                        scope: None,
                        registration,
                        last_used: AtomicU64::new(0),
                    })
                })
                .value(),
        );
        self.touch(&client);
        client
    }

    /// Calls `answer` with the live access token `token`, if any, without copying it. The map's
    /// guard is held while `answer` runs, so it must not block or await.
    pub fn with_live_access_token<T>(
        &self,
        token: &TokenKey,
        now: u64,
        answer: impl FnOnce(&AccessToken) -> T,
    ) -> Option<T> {
        self.access_tokens
            .get(token)
            .filter(|entry| entry.expires_at > now)
            .map(|entry| answer(entry.value()))
    }

    /// Revokes every token of a grant, under its lock. Its rotated-out refresh tokens are
    /// forgotten too, so that none of them can be honoured as a retry within the reuse grace
    /// period.
    pub fn revoke_grant(&self, lock: &GrantLock<'_>) {
        let grant = lock.grant;
        self.access_tokens.retain(|_, token| token.grant != grant);
        self.refresh_tokens.retain(|_, token| token.grant != grant);
        self.retired_refresh_tokens
            .retain(|_, retired| retired.token.grant != grant);
    }

    /// Stored tokens of every kind (expired but unswept ones included: the cap is about memory).
    pub fn token_count(&self) -> usize {
        self.access_tokens.len() + self.refresh_tokens.len() + self.retired_refresh_tokens.len()
    }

    /// Whether `needed` more entries fit under `max`, as counted by `len`. When they seem not to,
    /// expired entries are swept first, so a cap only bites on live state.
    ///
    /// A store full of live entries stays full for a while, and sweeping it for every request
    /// that finds it so would make each pay a scan of the whole store: after a sweep that left
    /// a cap reached, the next waits [`SWEEP_PAUSE_MS`] of the rig's clock (the periodic sweeper
    /// runs meanwhile), so what expires within that pause is reclaimed up to a second late.
    pub fn has_room(
        &self,
        now: u64,
        needed: usize,
        max: usize,
        len: impl Fn(&Self) -> usize,
    ) -> bool {
        if len(self) + needed <= max {
            return true;
        }
        let futile = self.futile_sweep_at.load(Ordering::Relaxed);
        // A clock moved back (a reset) ends the pause too.
        if futile != 0 && (futile..futile.saturating_add(SWEEP_PAUSE_MS)).contains(&now) {
            return false;
        }
        self.sweep(now);
        let room = len(self) + needed <= max;
        if !room {
            self.futile_sweep_at.store(now.max(1), Ordering::Relaxed);
        }
        room
    }

    /// Removes everything that has expired by `now`, and answers how many entries went. A map
    /// left mostly empty gives its table back, so that memory follows the store down after a
    /// burst.
    pub fn sweep(&self, now: u64) -> usize {
        let before = self.entries();
        self.codes.retain(|_, code| code.expires_at > now);
        self.redeemed_codes.retain(|_, code| code.expires_at > now);
        self.access_tokens.retain(|_, token| token.expires_at > now);
        self.refresh_tokens
            .retain(|_, token| token.expires_at > now);
        self.retired_refresh_tokens
            .retain(|_, retired| retired.token.expires_at > now);
        shrink_if_sparse(&self.codes);
        shrink_if_sparse(&self.redeemed_codes);
        shrink_if_sparse(&self.access_tokens);
        shrink_if_sparse(&self.refresh_tokens);
        shrink_if_sparse(&self.retired_refresh_tokens);
        before.saturating_sub(self.entries())
    }

    fn entries(&self) -> usize {
        self.codes.len()
            + self.redeemed_codes.len()
            + self.access_tokens.len()
            + self.refresh_tokens.len()
            + self.retired_refresh_tokens.len()
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.clients.clear();
        self.codes.clear();
        self.redeemed_codes.clear();
        self.access_tokens.clear();
        self.refresh_tokens.clear();
        self.retired_refresh_tokens.clear();
        self.futile_sweep_at.store(0, Ordering::Relaxed);
    }
}

/// Every registered client holds a live code or token, so none can be evicted to make room.
#[derive(Debug)]
pub struct RegistryFull;

/// Shrinks `map` when under a quarter of its table is used: rehashing is then cheap, and a
/// table that kept its peak size would hold the memory of entries long gone.
fn shrink_if_sparse<K: Eq + std::hash::Hash + Clone, V>(map: &DashMap<K, V>) {
    if map.len() * 4 < map.capacity() {
        map.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(grant: GrantId, expires_at: u64) -> AccessToken {
        AccessToken {
            client_id: "c".into(),
            scope: "s".into(),
            resources: vec![],
            subject: "u".into(),
            grant,
            issued_at: 0,
            expires_at,
        }
    }

    #[test]
    fn expired_tokens_are_absent_and_swept() {
        let store = Store::default();
        store
            .access_tokens
            .insert(TokenKey::of("live"), access(1, 2_000));
        store
            .access_tokens
            .insert(TokenKey::of("dead"), access(1, 1_000));
        let grant_of = |token| {
            store.with_live_access_token(&TokenKey::of(token), 1_500, |access| access.grant)
        };
        assert_eq!(grant_of("live"), Some(1));
        assert_eq!(grant_of("dead"), None);
        store.sweep(1_500);
        assert_eq!(store.access_tokens.len(), 1);
    }

    #[test]
    fn a_sweep_that_empties_a_map_gives_its_table_back() {
        let store = Store::default();
        for index in 0..10_000 {
            store
                .access_tokens
                .insert(TokenKey::of(&format!("t{index}")), access(1, 1_000));
        }
        let peak = store.access_tokens.capacity();
        store.sweep(1_500);
        assert!(store.access_tokens.is_empty());
        assert!(
            store.access_tokens.capacity() < peak / 4,
            "{} of {peak}",
            store.access_tokens.capacity()
        );
    }

    #[test]
    fn has_room_sweeps_expired_entries_before_refusing() {
        let store = Store::default();
        store
            .access_tokens
            .insert(TokenKey::of("dead"), access(1, 1_000));
        store
            .access_tokens
            .insert(TokenKey::of("live"), access(1, 9_000));
        let count = |store: &Store| store.access_tokens.len();
        assert!(store.has_room(500, 1, 3, count));
        assert_eq!(store.access_tokens.len(), 2, "no sweep while there is room");
        assert!(
            store.has_room(2_000, 2, 3, count),
            "the expired token made room"
        );
        assert!(!store.has_room(2_000, 3, 3, count));
    }

    #[test]
    fn a_full_store_of_live_tokens_is_swept_once_a_second_not_on_every_request() {
        let store = Store::default();
        let count = |store: &Store| store.access_tokens.len();
        store
            .access_tokens
            .insert(TokenKey::of("a"), access(1, 60_000));
        store
            .access_tokens
            .insert(TokenKey::of("b"), access(1, 60_000));
        assert!(!store.has_room(10_000, 1, 2, count), "full of live tokens");
        // One expires; within the pause nobody scans the store for it.
        store
            .access_tokens
            .insert(TokenKey::of("c"), access(1, 10_100));
        assert!(!store.has_room(10_500, 0, 2, count));
        assert_eq!(store.access_tokens.len(), 3, "not swept during the pause");
        // After it, the next request sweeps and finds the room.
        assert!(store.has_room(11_000, 0, 2, count));
        assert_eq!(store.access_tokens.len(), 2);
    }

    #[test]
    fn revoking_a_grant_spares_other_grants() {
        let store = Store::default();
        store
            .access_tokens
            .insert(TokenKey::of("a"), access(1, u64::MAX));
        store
            .access_tokens
            .insert(TokenKey::of("b"), access(2, u64::MAX));
        store.revoke_grant(&store.lock_grant(1));
        assert!(store.access_tokens.contains_key(&TokenKey::of("b")));
        assert!(!store.access_tokens.contains_key(&TokenKey::of("a")));
    }

    #[test]
    fn a_full_registry_evicts_the_least_recently_used_client_holding_nothing_live() {
        let store = Store::default();
        for id in ["old", "pinned", "expired", "recent"] {
            store.adopt_public_client(id.into());
        }
        store.access_tokens.insert(
            TokenKey::of("t"),
            AccessToken {
                client_id: "pinned".into(),
                ..access(1, 9_000)
            },
        );
        store.access_tokens.insert(
            TokenKey::of("gone"),
            AccessToken {
                client_id: "expired".into(),
                ..access(2, 1_000)
            },
        );
        store.use_client("old");

        assert!(store.make_room_for_client(2_000, 5).unwrap().is_empty());
        assert_eq!(store.make_room_for_client(2_000, 4).unwrap(), ["expired"]);
        assert_eq!(store.make_room_for_client(2_000, 3).unwrap(), ["recent"]);
        assert_eq!(store.make_room_for_client(2_000, 2).unwrap(), ["old"]);
        assert!(store.make_room_for_client(2_000, 1).is_err());
        assert!(store.clients.contains_key("pinned"));
    }

    fn retired(grant: GrantId, expires_at: u64) -> RetiredRefreshToken {
        RetiredRefreshToken {
            token: RefreshToken {
                client_id: Some("c".into()),
                scope: "s".into(),
                resources: vec![],
                subject: "u".into(),
                grant,
                expires_at,
            },
            retired_at: 0,
        }
    }

    #[test]
    fn retired_refresh_tokens_count_expire_and_go_with_their_grant() {
        let store = Store::default();
        store
            .retired_refresh_tokens
            .insert(TokenKey::of("old"), retired(1, 1_000));
        store
            .retired_refresh_tokens
            .insert(TokenKey::of("kept"), retired(2, 9_000));
        store
            .retired_refresh_tokens
            .insert(TokenKey::of("family"), retired(3, 9_000));
        assert_eq!(store.token_count(), 3, "they count against the cap");
        store.sweep(1_500);
        assert!(
            !store
                .retired_refresh_tokens
                .contains_key(&TokenKey::of("old"))
        );
        store.revoke_grant(&store.lock_grant(3));
        assert!(
            !store
                .retired_refresh_tokens
                .contains_key(&TokenKey::of("family"))
        );
        assert!(
            store
                .retired_refresh_tokens
                .contains_key(&TokenKey::of("kept"))
        );
    }

    #[test]
    fn token_keys_are_sha256_in_hex_and_read_back() {
        let key = TokenKey::of("abc");
        assert_eq!(
            key.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(TokenKey::from_hex(&key.to_hex()), Some(key));
        assert_eq!(TokenKey::from_hex("ba78"), None);
        assert_eq!(TokenKey::from_hex(&"g".repeat(64)), None);
    }

    #[test]
    fn a_client_secret_is_kept_as_a_digest_and_matches_only_itself() {
        let secret = ClientSecret::new("pre-registered-secret");
        assert!(secret.matches("pre-registered-secret"));
        assert!(!secret.matches("pre-registered-secreT"));
        assert!(!secret.matches(""));
        assert_eq!(secret.shown(), "pre-re…");
        assert!(!format!("{secret:?}").contains("registered-secret"));
    }

    #[test]
    fn seeded_refresh_token_is_usable_by_any_client() {
        let seeded = RefreshToken {
            client_id: None,
            scope: "s".into(),
            resources: vec![],
            subject: "u".into(),
            grant: 1,
            expires_at: u64::MAX,
        };
        assert!(seeded.usable_by("anyone"));
        let owned = RefreshToken {
            client_id: Some("c1".into()),
            ..seeded
        };
        assert!(owned.usable_by("c1"));
        assert!(!owned.usable_by("c2"));
    }
}
