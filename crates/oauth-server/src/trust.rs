//! Whom an issuer trusts to sign what a client presents instead of a user's consent: the
//! issuers of jwt-bearer assertions (a workload's identity provider, an enterprise IdP's
//! ID-JAGs), the keys of clients that authenticate with `private_key_jwt`, and the memory of
//! assertion ids that makes each assertion single-use.
//!
//! Keys at a URL are fetched with the issuer's document fetcher, so the same policy governs
//! them as client ID metadata documents (schemes, private addresses, deadline, size), and are
//! cached briefly by the rig's clock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use jsonwebtoken::jwk::JwkSet;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sim_http::fetch::Fetcher;
use url::Url;

use crate::error::OAuthError;
use crate::jose::{self, ClientKeys, KeyAlgorithm, KeyPair};

/// Trusted assertion issuers one issuer holds at most.
pub const MAX_TRUSTED: usize = 16;

/// Assertion ids remembered at most; beyond, a new assertion is refused until old ones expire,
/// which an assertion's short lifetime makes soon.
pub const MAX_ASSERTION_IDS: usize = 100_000;

/// Fetched key sets cached at most, and for how long (rig-clock milliseconds).
const MAX_CACHED_KEY_SETS: usize = 64;
const KEY_SET_LIFETIME_MS: u64 = 5 * 60 * 1000;

/// What an assertion issuer's assertions stand for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AssertionKind {
    /// A workload's identity (SEP-1933, RFC 7523 §2.1): the token is for its `sub`.
    #[default]
    Workload,
    /// An enterprise IdP's Identity Assertion JWT Authorization Grant (SEP-990): `typ`
    /// `oauth-id-jag+jwt`, bound to a client (`client_id`) and a resource (`resource`).
    IdJag,
}

/// Where a trusted issuer's keys are.
#[derive(Clone, Debug)]
pub enum TrustedKeys {
    /// Given inline or at a URL.
    Keys(ClientKeys),
    /// Another issuer of this rig, whose own signing key it is (an IdP on the rig).
    Rig(String),
}

/// An issuer whose assertions this issuer accepts.
#[derive(Debug)]
pub struct TrustedIssuer {
    /// The `iss` its assertions carry.
    pub issuer: String,
    pub kind: AssertionKind,
    pub keys: TrustedKeys,
    /// The subjects it may assert; `None`: any.
    pub subjects: Option<Vec<String>>,
    /// The resources its ID-JAGs may name; `None`: any absolute URL.
    pub resources: Option<Vec<String>>,
    /// The private key, when the rig made it: what mints assertions for the client under test.
    pub signer: Option<KeyPair>,
}

/// A trusted assertion issuer as `POST /control/assertion-issuers` and the start-up settings
/// (`ASSERTION_ISSUERS`) describe it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustRequest {
    /// The `iss` of its assertions, 1 to 2048 characters.
    pub issuer: String,
    /// What its assertions are: a workload's, or ID-JAGs.
    #[serde(default)]
    pub kind: AssertionKind,
    /// Its public keys, a JWK Set.
    #[serde(default)]
    pub jwks: Option<Value>,
    /// Where its public keys are, fetched under the document-fetch policy.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// The name of another issuer of this rig, whose key signs.
    #[serde(default)]
    pub rig_issuer: Option<String>,
    /// Make a key pair; the answer carries the private key.
    #[serde(default)]
    pub generate_key: Option<KeyAlgorithm>,
    /// The subjects it may assert; absent: any.
    #[serde(default)]
    pub subjects: Option<Vec<String>>,
    /// The resources its ID-JAGs may name; absent: any absolute URL.
    #[serde(default)]
    pub resources: Option<Vec<String>>,
}

impl TrustRequest {
    /// Checks one given at start-up, which must name its keys: a key the rig made then would
    /// be one nobody could sign with.
    pub fn validate_startup(&self) -> Result<(), String> {
        if self.generate_key.is_some() {
            return Err(format!(
                "assertion issuer '{}': generate_key is for the control plane (its answer carries \
                 the private key); give jwks, jwks_uri or rig_issuer",
                self.issuer
            ));
        }
        self.clone()
            .build()
            .map(drop)
            .map_err(|error| format!("assertion issuer '{}': {error}", self.issuer))
    }

    /// The trusted issuer it describes, checked: exactly one source of keys.
    pub fn build(self) -> Result<TrustedIssuer, String> {
        if self.issuer.is_empty() || self.issuer.len() > 2048 {
            return Err("issuer must be 1 to 2048 characters".to_owned());
        }
        let given = usize::from(self.jwks.is_some())
            + usize::from(self.jwks_uri.is_some())
            + usize::from(self.rig_issuer.is_some())
            + usize::from(self.generate_key.is_some());
        if given != 1 {
            return Err(
                "give exactly one of jwks, jwks_uri, rig_issuer and generate_key".to_owned(),
            );
        }
        for (name, list) in [("subjects", &self.subjects), ("resources", &self.resources)] {
            if list
                .as_ref()
                .is_some_and(|list| list.is_empty() || list.len() > 64)
            {
                return Err(format!("{name} must list 1 to 64 values"));
            }
        }
        let (keys, signer) = match (self.rig_issuer, self.generate_key) {
            (Some(name), _) => (TrustedKeys::Rig(name), None),
            (None, Some(algorithm)) => {
                let pair = KeyPair::generate(algorithm)?;
                let jwks = Arc::new(pair.jwks());
                (TrustedKeys::Keys(ClientKeys::Inline(jwks)), Some(pair))
            }
            (None, None) => {
                let uri = self.jwks_uri.map(Value::from);
                let keys = ClientKeys::from_metadata(self.jwks.as_ref(), uri.as_ref())?
                    .ok_or("no keys")?;
                (TrustedKeys::Keys(keys), None)
            }
        };
        Ok(TrustedIssuer {
            issuer: self.issuer,
            kind: self.kind,
            keys,
            subjects: self.subjects,
            resources: self.resources,
            signer,
        })
    }
}

impl TrustedIssuer {
    /// As the state lists it (never the private key).
    pub fn describe(&self) -> Value {
        let keys = match &self.keys {
            TrustedKeys::Keys(ClientKeys::Inline(set)) => json!({ "jwks": set.as_ref() }),
            TrustedKeys::Keys(ClientKeys::Uri(url)) => json!({ "jwks_uri": url.as_str() }),
            TrustedKeys::Rig(name) => json!({ "rig_issuer": name }),
        };
        let mut described = json!({
            "issuer": self.issuer,
            "kind": self.kind,
            "rig_signs": self.signer.is_some(),
        });
        if let (Value::Object(described), Value::Object(keys)) = (&mut described, keys) {
            described.extend(keys);
            for (name, list) in [("subjects", &self.subjects), ("resources", &self.resources)] {
                if let Some(list) = list {
                    described.insert(name.into(), json!(list));
                }
            }
        }
        described
    }
}

/// Why an assertion cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unusable {
    /// Its `jti` was used before, and the assertion has not expired since.
    Replayed,
    /// Too many assertion ids are remembered: not the client's fault.
    Full,
}

impl Unusable {
    /// The answer: a replay is the caller's refusal (`invalid_client` for a client assertion,
    /// `invalid_grant` for a grant's), a full memory a 503 the client may retry.
    pub fn error(self, jti: &str, refuse: impl Fn(String) -> OAuthError) -> OAuthError {
        match self {
            Self::Replayed => refuse(format!(
                "the assertion with jti '{jti}' was already used; an assertion is single-use"
            )),
            Self::Full => OAuthError::TemporarilyUnavailable(
                "too many assertions in flight; try again shortly".into(),
            ),
        }
    }
}

struct CachedKeys {
    keys: Arc<JwkSet>,
    expires_at: u64,
}

/// An issuer's trust: its assertion issuers, fetched key sets and the assertion ids seen.
#[derive(Default)]
pub struct Trust {
    issuers: RwLock<Vec<Arc<TrustedIssuer>>>,
    key_sets: Mutex<HashMap<String, CachedKeys>>,
    /// `iss` and `jti`, to when the assertion expires (rig-clock milliseconds).
    seen: DashMap<(String, String), u64>,
    /// Until when (rig-clock milliseconds) a full `seen` is not scanned again.
    full_until: AtomicU64,
}

impl Trust {
    fn key_sets(&self) -> MutexGuard<'_, HashMap<String, CachedKeys>> {
        // A poisoned lock only means a panic elsewhere mid-insert of plain data.
        self.key_sets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The trusted issuers, in the order they were added.
    pub fn issuers(&self) -> Vec<Arc<TrustedIssuer>> {
        self.issuers
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The one whose assertions carry `iss`.
    pub fn issuer(&self, iss: &str) -> Option<Arc<TrustedIssuer>> {
        self.issuers()
            .into_iter()
            .find(|trusted| trusted.issuer == iss)
    }

    /// Trusts `issuer`, replacing one with the same `iss`.
    pub fn add(&self, issuer: TrustedIssuer) -> Result<Arc<TrustedIssuer>, String> {
        let mut issuers = self
            .issuers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        issuers.retain(|trusted| trusted.issuer != issuer.issuer);
        if issuers.len() >= MAX_TRUSTED {
            return Err(format!("at most {MAX_TRUSTED} trusted assertion issuers"));
        }
        let issuer = Arc::new(issuer);
        issuers.push(Arc::clone(&issuer));
        Ok(issuer)
    }

    /// Trusts no assertion issuer any more.
    pub fn forget_issuers(&self) {
        self.issuers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }

    /// Forgets every trusted issuer, fetched key set and assertion id (a reset).
    pub fn clear(&self) {
        self.forget_issuers();
        self.key_sets().clear();
        self.seen.clear();
        self.full_until.store(0, Ordering::Relaxed);
    }

    /// The key set at `url`: cached while fresh, else fetched now under the fetch policy.
    pub async fn fetch_keys(
        &self,
        fetcher: &Fetcher,
        url: &Url,
        now: u64,
    ) -> Result<Arc<JwkSet>, String> {
        if let Some(cached) = self.key_sets().get(url.as_str())
            && cached.expires_at > now
        {
            return Ok(Arc::clone(&cached.keys));
        }
        let reply = fetcher
            .get(url, "application/jwk-set+json, application/json")
            .await
            .map_err(|error| format!("jwks_uri {url}: {error}"))?;
        if reply.status != 200 {
            return Err(format!("jwks_uri {url} answered {}", reply.status));
        }
        let keys = Arc::new(
            jose::parse_jwks_bytes(&reply.body)
                .map_err(|error| format!("jwks_uri {url}: {error}"))?,
        );
        let mut cached = self.key_sets();
        cached.retain(|_, entry| entry.expires_at > now);
        if cached.len() < MAX_CACHED_KEY_SETS {
            cached.insert(
                url.as_str().to_owned(),
                CachedKeys {
                    keys: Arc::clone(&keys),
                    expires_at: now.saturating_add(KEY_SET_LIFETIME_MS),
                },
            );
        }
        Ok(keys)
    }

    /// Marks the assertion `jti` of `iss` as used until `expires_at`; refused if it was used
    /// before (a replay) or too many are remembered. A memory full of live ids is scanned for
    /// expired ones at most once a second of the rig's clock, not by every assertion that finds
    /// it full.
    pub fn use_once(
        &self,
        iss: &str,
        jti: &str,
        expires_at: u64,
        now: u64,
    ) -> Result<(), Unusable> {
        if self.seen.len() >= MAX_ASSERTION_IDS {
            if now < self.full_until.load(Ordering::Relaxed) {
                return Err(Unusable::Full);
            }
            self.seen.retain(|_, until| *until > now);
            if self.seen.len() >= MAX_ASSERTION_IDS {
                self.full_until
                    .store(now.saturating_add(1000), Ordering::Relaxed);
                return Err(Unusable::Full);
            }
        }
        match self.seen.entry((iss.to_owned(), jti.to_owned())) {
            Entry::Occupied(used) if *used.get() > now => Err(Unusable::Replayed),
            Entry::Occupied(mut expired) => {
                expired.insert(expires_at);
                Ok(())
            }
            Entry::Vacant(vacant) => {
                vacant.insert(expires_at);
                Ok(())
            }
        }
    }

    /// Forgets the assertion ids that have expired.
    pub fn sweep(&self, now: u64) {
        self.seen.retain(|_, until| *until > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assertion_id_is_honoured_once_while_it_lives() {
        let trust = Trust::default();
        assert_eq!(trust.use_once("iss", "a", 2_000, 1_000), Ok(()));
        assert_eq!(
            trust.use_once("iss", "a", 2_000, 1_500),
            Err(Unusable::Replayed)
        );
        // Another issuer's `a` is another assertion.
        assert!(trust.use_once("other", "a", 2_000, 1_500).is_ok());
        // Once expired, the id may come back (the assertion itself could not).
        assert!(trust.use_once("iss", "a", 4_000, 2_500).is_ok());
        trust.sweep(5_000);
        assert!(trust.seen.is_empty());
    }

    #[test]
    fn a_full_memory_of_assertion_ids_is_a_503_and_is_not_scanned_by_every_assertion() {
        let trust = Trust::default();
        for n in 0..MAX_ASSERTION_IDS {
            trust.seen.insert(("iss".into(), n.to_string()), 60_000);
        }
        let full = trust.use_once("iss", "new", 60_000, 10_000).unwrap_err();
        assert_eq!(full, Unusable::Full);
        assert!(matches!(
            full.error("new", OAuthError::InvalidGrant),
            OAuthError::TemporarilyUnavailable(_)
        ));
        // One id expires; within the pause nobody scans for it.
        trust.seen.insert(("iss".into(), "0".into()), 10_100);
        assert_eq!(
            trust.use_once("iss", "new", 60_000, 10_500),
            Err(Unusable::Full)
        );
        // After it, the scan finds the room.
        assert_eq!(trust.use_once("iss", "new", 60_000, 11_100), Ok(()));
    }

    #[test]
    fn a_trusted_issuer_needs_exactly_one_source_of_keys() {
        let request = |value: Value| serde_json::from_value::<TrustRequest>(value).unwrap();
        assert!(request(json!({"issuer": "https://idp"})).build().is_err());
        assert!(
            request(json!({"issuer": "https://idp", "generate_key": "ES256", "rig_issuer": "idp"}))
                .build()
                .is_err()
        );
        let made = request(json!({"issuer": "https://idp", "generate_key": "EdDSA"}))
            .build()
            .unwrap();
        assert!(made.signer.is_some());
        assert_eq!(made.describe()["rig_signs"], true);
        assert!(made.describe().get("jwks").is_some());
        let trust = Trust::default();
        for n in 0..MAX_TRUSTED {
            let issuer = request(json!({"issuer": format!("https://idp/{n}"), "rig_issuer": "x"}));
            trust.add(issuer.build().unwrap()).unwrap();
        }
        let one_more = request(json!({"issuer": "https://idp/more", "rig_issuer": "x"}));
        assert!(trust.add(one_more.build().unwrap()).is_err());
        // Replacing one that is there is not one more.
        let again = request(json!({"issuer": "https://idp/0", "generate_key": "ES256"}));
        assert!(trust.add(again.build().unwrap()).is_ok());
    }
}
