//! Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document; the MCP
//! registration of 2025-11-25 and after): a `client_id` that is a URL names a JSON document the
//! issuer fetches and trusts as the client's registration.
//!
//! - [`is_document_id`] tells such an id from a registered one; [`check_url`] applies the
//!   draft's rules to the URL itself.
//! - [`client_from_document`] validates a fetched document into the [`Client`] the endpoints
//!   use, refusing what the draft refuses (a secret, a shared-secret method, an id that is not
//!   the URL), with an error that says what was wrong.
//! - [`Documents`] is one issuer's cache (bounded in entries and lifetime, by the answer's
//!   caching headers) and the fetch faults a tester set: the fetch failures a client author
//!   cannot provoke anywhere else.
//!
//! The fetch itself is [`sim_http::fetch`]'s: one deadline, a size cap, no redirects, and the
//! address policy of a rig reachable from outside.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sim_http::fetch::{FetchError, Fetcher, freshness};
use tokio::sync::Semaphore;
use url::Url;

use crate::jose::ClientKeys;
use crate::redirect_uri::check_registrable;
use crate::store::{AuthMethod, Client, ClientKind, GrantType};

/// Documents one issuer keeps cached at most; the one closest to expiry goes first.
pub const MAX_CACHED: usize = 256;

/// The longest a document is reused without fetching it again, whatever its `max-age` says: a
/// client author who edits a document sees the change within this.
pub const MAX_LIFETIME: Duration = Duration::from_secs(3600);

/// How long a document whose answer says nothing about caching is reused.
pub const HEURISTIC_LIFETIME: Duration = Duration::from_secs(300);

/// Fetch faults one issuer holds at most.
pub const MAX_FAULTS: usize = 32;

/// Fetches one issuer runs at once; more wait for a turn within their own deadline, so a slow
/// document host cannot tie up more than this many requests' worth of connections.
const CONCURRENT_FETCHES: usize = 8;

/// Redirect URIs one document may list.
const MAX_REDIRECT_URIS: usize = 16;

/// Whether a `client_id` names a metadata document rather than a registered client.
pub fn is_document_id(client_id: &str) -> bool {
    let lower = client_id.get(..8).map(str::to_ascii_lowercase);
    lower.as_deref() == Some("https://")
        || lower.as_deref().is_some_and(|l| l.starts_with("http://"))
}

/// Applies the draft's rules for a client ID URL (§3): `https` (or `http` where the fetch policy
/// allows it, which the fetcher checks), a path other than `/`, no fragment, no user info, no
/// `.` or `..` segment; and the URL exactly as written, since the document's `client_id` is
/// compared with it as a string.
pub fn check_url(client_id: &str) -> Result<Url, String> {
    let url = Url::parse(client_id)
        .map_err(|error| format!("client_id '{client_id}' is not a URL ({error})"))?;
    if url.fragment().is_some() {
        return Err(format!(
            "client_id '{client_id}' has a fragment, which a client ID URL must not have"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "client_id '{client_id}' carries user info, which a client ID URL must not have"
        ));
    }
    let path = client_id
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|at| &rest[at..]))
        .unwrap_or("");
    let path = path.split(['?', '#']).next().unwrap_or("");
    if path
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Err(format!(
            "client_id '{client_id}' has a '.' or '..' path segment, which a client ID URL \
             must not have"
        ));
    }
    if url.path() == "/" || url.path().is_empty() {
        return Err(format!(
            "client_id '{client_id}' has no path; a client ID URL names a document, such as \
             https://app.example/client.json"
        ));
    }
    Ok(url)
}

/// A fetched document checked into the client it describes, or what is wrong with it.
pub fn client_from_document(
    client_id: &str,
    body: &[u8],
    supported: &[AuthMethod],
) -> Result<Client, String> {
    let document: Map<String, Value> = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(document)) => document,
        Ok(_) => return Err("the document is JSON but not an object".to_owned()),
        Err(error) => return Err(format!("the document is not JSON ({error})")),
    };
    match document.get("client_id") {
        Some(Value::String(id)) if id == client_id => {}
        Some(Value::String(id)) => {
            return Err(format!(
                "the document's client_id '{id}' is not the URL it was fetched from \
                 ('{client_id}'); they must be equal, character for character"
            ));
        }
        Some(_) => return Err("the document's client_id is not a string".to_owned()),
        None => return Err("the document has no client_id".to_owned()),
    }
    for secret in ["client_secret", "client_secret_expires_at"] {
        if document.contains_key(secret) {
            return Err(format!(
                "the document contains {secret}: a client ID metadata document is public, so it \
                 never carries a shared secret"
            ));
        }
    }
    let method = match document.get("token_endpoint_auth_method") {
        // A document holds no secret, so the RFC 7591 default (client_secret_basic) cannot be
        // meant: an absent method is a public client.
        None => "none",
        Some(Value::String(method)) => method.as_str(),
        Some(_) => return Err("token_endpoint_auth_method is not a string".to_owned()),
    };
    let auth_method = match method {
        "none" => AuthMethod::None,
        "private_key_jwt" => AuthMethod::PrivateKeyJwt,
        "client_secret_basic" | "client_secret_post" | "client_secret_jwt" => {
            return Err(format!(
                "token_endpoint_auth_method {method} rests on a shared secret, which a client ID \
                 metadata document cannot have; use none or private_key_jwt"
            ));
        }
        other => {
            return Err(format!(
                "token_endpoint_auth_method '{other}' is not supported; use none"
            ));
        }
    };
    if !supported.contains(&auth_method) {
        return Err(format!(
            "token_endpoint_auth_method {method} is not among this issuer's \
             token_endpoint_auth_methods_supported"
        ));
    }
    let keys = ClientKeys::from_metadata(document.get("jwks"), document.get("jwks_uri"))?;
    match (auth_method, &keys) {
        (AuthMethod::PrivateKeyJwt, None) => {
            return Err(
                "token_endpoint_auth_method private_key_jwt needs jwks or jwks_uri".to_owned(),
            );
        }
        (AuthMethod::None, Some(_)) => {
            return Err(
                "jwks and jwks_uri are for token_endpoint_auth_method private_key_jwt".to_owned(),
            );
        }
        _ => {}
    }
    let redirect_uris = match document.get("redirect_uris") {
        Some(Value::Array(uris)) if !uris.is_empty() => uris,
        Some(Value::Array(_)) => return Err("redirect_uris is empty".to_owned()),
        Some(_) => return Err("redirect_uris is not a list".to_owned()),
        None => return Err("the document has no redirect_uris".to_owned()),
    };
    if redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(format!(
            "redirect_uris lists {} URIs; at most {MAX_REDIRECT_URIS}",
            redirect_uris.len()
        ));
    }
    let redirect_uris = redirect_uris
        .iter()
        .map(|uri| match uri {
            Value::String(uri) => check_registrable(uri)
                .map(|()| uri.clone())
                .map_err(|error| format!("redirect_uris: {error}")),
            _ => Err("redirect_uris: every URI must be a string".to_owned()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let grant_types = grant_types(&document)?;
    if let Some(response_types) = document.get("response_types") {
        let lists_code = response_types
            .as_array()
            .is_some_and(|types| types.iter().any(|kind| kind == "code"));
        if !lists_code {
            return Err("response_types must list code".to_owned());
        }
    }
    match document.get("client_name") {
        None | Some(Value::String(_)) => {}
        Some(_) => return Err("client_name is not a string".to_owned()),
    }
    Ok(Client {
        id: client_id.to_owned(),
        secret: None,
        auth_method,
        redirect_uris,
        any_loopback: false,
        kind: ClientKind::Document,
        grant_types,
        keys,
        scope: None,
        registration: document,
        last_used: AtomicU64::new(0),
    })
}

/// The grants a document asks for: RFC 7591's default, `authorization_code`, when it names
/// none; grants this issuer does not know are left aside, as a registration would.
fn grant_types(document: &Map<String, Value>) -> Result<Vec<GrantType>, String> {
    let Some(listed) = document.get("grant_types") else {
        return Ok(vec![GrantType::AuthorizationCode]);
    };
    let listed = listed
        .as_array()
        .ok_or("grant_types is not a list")?
        .iter()
        .map(|grant| {
            grant
                .as_str()
                .ok_or("grant_types: every grant must be a string")
        })
        .collect::<Result<Vec<_>, _>>()?;
    let grants: Vec<GrantType> = GrantType::ALL
        .into_iter()
        .filter(|grant| listed.contains(&grant.as_str()))
        .collect();
    if !grants.contains(&GrantType::AuthorizationCode) {
        return Err(format!(
            "grant_types [{}] does not list authorization_code, the only grant /authorize serves",
            listed.join(", ")
        ));
    }
    Ok(grants)
}

/// A way to make the fetch of a document fail, as a tester sets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FetchFault {
    /// The document host cannot be reached.
    Unreachable,
    /// The host answers nothing before the fetch deadline.
    Slow,
    /// The host answers an HTTP error (`status`, 500 by default).
    HttpError,
    /// The body is not JSON.
    NotJson,
    /// The body is over the size cap.
    TooLarge,
    /// The document's `client_id` is another URL.
    ClientIdMismatch,
    /// The document's `redirect_uris` do not list the one the client uses.
    RedirectUriMissing,
    /// The document carries a `client_secret`.
    ClientSecret,
}

impl FetchFault {
    /// Every fault, in the order `GET /control` lists them.
    pub const ALL: [Self; 8] = [
        Self::Unreachable,
        Self::Slow,
        Self::HttpError,
        Self::NotJson,
        Self::TooLarge,
        Self::ClientIdMismatch,
        Self::RedirectUriMissing,
        Self::ClientSecret,
    ];

    /// Its name, as the control plane takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unreachable => "unreachable",
            Self::Slow => "slow",
            Self::HttpError => "http-error",
            Self::NotJson => "not-json",
            Self::TooLarge => "too-large",
            Self::ClientIdMismatch => "client-id-mismatch",
            Self::RedirectUriMissing => "redirect-uri-missing",
            Self::ClientSecret => "client-secret",
        }
    }
}

/// The `client_id` a [`FetchFault::ClientIdMismatch`] document declares.
pub const MISMATCHED_CLIENT_ID: &str = "https://elsewhere.example/client-metadata.json";

/// The only redirect URI a [`FetchFault::RedirectUriMissing`] document lists.
pub const ELSEWHERE_REDIRECT_URI: &str = "https://elsewhere.example/callback";

/// A fault as `POST /control/documents/faults` takes it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// What goes wrong.
    pub fault: FetchFault,
    /// Only the document at this URL (the client id); every document when absent.
    #[serde(default)]
    pub url: Option<String>,
    /// How many fetches it spoils before it goes; for ever when absent.
    #[serde(default)]
    pub times: Option<u32>,
    /// The status of an `http-error` (400 to 599).
    #[serde(default)]
    pub status: Option<u16>,
}

/// A fault in force, as the state lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    /// What `DELETE /control/documents/faults/{id}` names it by.
    pub id: u64,
    /// What goes wrong.
    pub fault: FetchFault,
    /// Only the document at this URL; every document when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Fetches it still spoils; absent: every one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u32>,
    /// The status of an `http-error`; 500 when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Fetches it has spoiled.
    pub fired: u64,
}

/// A cached document, as the state lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedDocument {
    /// Its URL, the client's id.
    pub client_id: String,
    /// Its `client_name`, what the client calls itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// Where it may be sent back.
    pub redirect_uris: Vec<String>,
    /// The grants it may use, of those this issuer knows.
    pub grant_types: Vec<String>,
    /// Times it was fetched since it was cached (a failed fetch forgets it).
    pub fetches: u64,
    /// Requests that used it since.
    pub uses: u64,
    /// Seconds it is still reused without a fetch; 0: the next use fetches it again.
    pub fresh_for_seconds: u64,
}

struct Entry {
    client: Arc<Client>,
    expires_at: u64,
    fetches: u64,
    uses: u64,
}

/// What happened when a request's client document was looked up, for the journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Reused from the cache.
    Cached,
    /// Fetched (again) now.
    Fetched,
}

impl Lookup {
    /// Its name in the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cached => "cached",
            Self::Fetched => "fetched",
        }
    }
}

/// Why a request's client document gave no client.
#[derive(Debug)]
pub struct Refusal {
    /// What was wrong, for the error page, the `invalid_client` and the journal.
    pub reason: String,
    /// Whether a fetch was attempted (a URL refused before fetching is not).
    pub fetched: bool,
}

/// One issuer's documents: the cache and the fetch faults.
pub struct Documents {
    fetcher: Fetcher,
    cache: Mutex<HashMap<String, Entry>>,
    faults: Mutex<Faults>,
    fetches: Semaphore,
}

#[derive(Default)]
struct Faults {
    rules: Vec<FaultRule>,
    next_id: u64,
}

impl Documents {
    /// An empty cache, fetching with `fetcher`.
    pub fn new(fetcher: Fetcher) -> Self {
        Self {
            fetcher,
            cache: Mutex::new(HashMap::new()),
            faults: Mutex::new(Faults::default()),
            fetches: Semaphore::new(CONCURRENT_FETCHES),
        }
    }

    /// What fetches documents, and the key sets clients point at.
    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    fn cache(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // A poisoned lock only means a panic elsewhere mid-insert of plain data.
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The client of a cached document, fresh or not: for the synchronous lookups that follow
    /// an endpoint's [`Documents::resolve`].
    pub fn cached(&self, client_id: &str) -> Option<Arc<Client>> {
        self.cache()
            .get(client_id)
            .map(|entry| Arc::clone(&entry.client))
    }

    /// The client whose document is at `client_id`: the cached one while it is fresh and no
    /// fault is set for it, else fetched now and validated. `now` is the rig's clock, so that
    /// moving the clock ages the cache too.
    pub async fn resolve(
        &self,
        client_id: &str,
        supported: &[AuthMethod],
        now: u64,
    ) -> Result<(Arc<Client>, Lookup), Refusal> {
        let unfetched = |reason: String| Refusal {
            reason,
            fetched: false,
        };
        let url = check_url(client_id).map_err(unfetched)?;
        self.fetcher
            .check_scheme(&url)
            .map_err(|error| unfetched(error.to_string()))?;
        let fault = self.take_fault(client_id);
        if fault.is_none()
            && let Some(entry) = self.cache().get_mut(client_id)
            && entry.expires_at > now
        {
            entry.uses += 1;
            return Ok((Arc::clone(&entry.client), Lookup::Cached));
        }
        let fetched = self.fetch(&url, fault).await;
        let mut cache = self.cache();
        let (fetches, uses) = cache
            .remove(client_id)
            .map_or((0, 0), |entry| (entry.fetches, entry.uses));
        let (client, lifetime) = match fetched.and_then(|(body, lifetime)| {
            client_from_document(client_id, &body, supported).map(|client| (client, lifetime))
        }) {
            Ok(found) => found,
            // A document that no longer validates leaves nothing to reuse.
            Err(error) => {
                return Err(Refusal {
                    reason: format!("client metadata document {client_id}: {error}"),
                    fetched: true,
                });
            }
        };
        let client = Arc::new(client);
        // What a fault made of a document is not the document: the next use fetches again.
        if lifetime > Duration::ZERO && fault.is_none() {
            if cache.len() >= MAX_CACHED {
                evict_one(&mut cache, now);
            }
            cache.insert(
                client_id.to_owned(),
                Entry {
                    client: Arc::clone(&client),
                    expires_at: now.saturating_add(lifetime.as_millis() as u64),
                    fetches: fetches + 1,
                    uses: uses + 1,
                },
            );
        }
        Ok((client, Lookup::Fetched))
    }

    /// Fetches the document, or fails as `fault` says; the body and how long it may be reused.
    async fn fetch(
        &self,
        url: &Url,
        fault: Option<(FetchFault, Option<u16>)>,
    ) -> Result<(Vec<u8>, Duration), String> {
        let timeout = self.fetcher.policy().timeout;
        let max = self.fetcher.policy().max_bytes;
        // A turn within the fetch's own deadline, so a queue of slow hosts cannot grow a wait
        // beyond what one fetch costs.
        let _turn = tokio::time::timeout(timeout, self.fetches.acquire())
            .await
            .map_err(|_| {
                format!("no fetch slot within {timeout:?}: too many documents are being fetched")
            })?
            .map_err(|_| "the document fetcher is closed".to_owned())?;
        let transport = |error: FetchError| format!("fetching it failed: {error}");
        match fault {
            Some((FetchFault::Unreachable, _)) => {
                return Err(transport(FetchError::Unreachable(format!(
                    "{} (the unreachable fetch fault)",
                    url.host_str().unwrap_or_default()
                ))));
            }
            Some((FetchFault::Slow, _)) => {
                tokio::time::sleep(timeout).await;
                return Err(transport(FetchError::Timeout(timeout)));
            }
            Some((FetchFault::TooLarge, _)) => return Err(transport(FetchError::TooLarge(max))),
            Some((FetchFault::HttpError, status)) => {
                let status = StatusCode::from_u16(status.unwrap_or(500))
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                return Err(format!("the document host answered {status}"));
            }
            _ => {}
        }
        let reply = self
            .fetcher
            .get(url, "application/json")
            .await
            .map_err(transport)?;
        if reply.status.is_redirection() {
            let location = reply
                .headers
                .get(http::header::LOCATION)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("nowhere");
            return Err(format!(
                "the document host answered {} to {location}; redirects are not followed, \
                 the document must be at its client_id",
                reply.status
            ));
        }
        if reply.status != StatusCode::OK {
            return Err(format!("the document host answered {}", reply.status));
        }
        let lifetime = freshness(&reply.headers)
            .unwrap_or(HEURISTIC_LIFETIME)
            .min(MAX_LIFETIME);
        let body = reply.body.to_vec();
        let body = match fault {
            Some((FetchFault::NotJson, _)) => {
                b"<html><body>Not the document</body></html>".to_vec()
            }
            Some((kind, _)) => spoil(&body, kind),
            None => body,
        };
        Ok((body, lifetime))
    }

    /// Takes the fault that spoils the next fetch of `client_id`, if any, counting it down.
    fn take_fault(&self, client_id: &str) -> Option<(FetchFault, Option<u16>)> {
        let mut faults = self.faults();
        let index = faults
            .rules
            .iter()
            .position(|rule| rule.url.as_deref().is_none_or(|url| url == client_id))?;
        let rule = &mut faults.rules[index];
        rule.fired += 1;
        let taken = (rule.fault, rule.status);
        if let Some(remaining) = &mut rule.remaining {
            *remaining -= 1;
            if *remaining == 0 {
                faults.rules.remove(index);
            }
        }
        Some(taken)
    }

    /// Adds a fault; the rule as it is listed.
    pub fn add_fault(&self, spec: FaultSpec) -> Result<FaultRule, String> {
        if spec.times == Some(0) {
            return Err("times must be at least 1 (omit it for every fetch)".to_owned());
        }
        if let Some(url) = &spec.url {
            check_url(url)?;
        }
        match (spec.fault, spec.status) {
            (FetchFault::HttpError, Some(status)) if !(400..=599).contains(&status) => {
                return Err("status must be from 400 to 599".to_owned());
            }
            (FetchFault::HttpError, _) | (_, None) => {}
            (other, Some(_)) => {
                return Err(format!(
                    "status goes with the http-error fault, not {}",
                    other.as_str()
                ));
            }
        }
        let mut faults = self.faults();
        if faults.rules.len() >= MAX_FAULTS {
            return Err(format!(
                "at most {MAX_FAULTS} fetch faults; DELETE /control/documents/faults first"
            ));
        }
        faults.next_id += 1;
        let rule = FaultRule {
            id: faults.next_id,
            fault: spec.fault,
            url: spec.url,
            remaining: spec.times,
            status: spec.status,
            fired: 0,
        };
        faults.rules.push(rule.clone());
        Ok(rule)
    }

    /// Removes the fault `id`; `false` if there is none.
    pub fn remove_fault(&self, id: u64) -> bool {
        let mut faults = self.faults();
        let before = faults.rules.len();
        faults.rules.retain(|rule| rule.id != id);
        faults.rules.len() != before
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.faults().rules.clear();
    }

    /// The faults in force, oldest first.
    pub fn fault_rules(&self) -> Vec<FaultRule> {
        self.faults().rules.clone()
    }

    /// Makes the cached document at `client_id` (every one when `None`) count as changed: its
    /// next use fetches it again. The number of documents so marked.
    pub fn mark_changed(&self, client_id: Option<&str>) -> usize {
        let mut cache = self.cache();
        let mut marked = 0;
        for (id, entry) in cache.iter_mut() {
            if client_id.is_none_or(|wanted| wanted == id) {
                entry.expires_at = 0;
                marked += 1;
            }
        }
        marked
    }

    /// The cached documents, by URL.
    pub fn list(&self, now: u64) -> Vec<CachedDocument> {
        let mut documents: Vec<CachedDocument> = self
            .cache()
            .iter()
            .map(|(id, entry)| CachedDocument {
                client_id: id.clone(),
                client_name: entry
                    .client
                    .registration
                    .get("client_name")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                redirect_uris: entry.client.redirect_uris.clone(),
                grant_types: entry
                    .client
                    .grant_types
                    .iter()
                    .map(|grant| grant.as_str().to_owned())
                    .collect(),
                fetches: entry.fetches,
                uses: entry.uses,
                fresh_for_seconds: entry.expires_at.saturating_sub(now) / 1000,
            })
            .collect();
        documents.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        documents
    }

    /// Forgets every cached document.
    pub fn forget_cached(&self) {
        self.cache().clear();
    }

    /// Forgets every cached document and fault.
    pub fn clear(&self) {
        self.cache().clear();
        self.clear_faults();
    }
}

/// Forgets the expired documents, or if none is, the one closest to expiry.
fn evict_one(cache: &mut HashMap<String, Entry>, now: u64) {
    let before = cache.len();
    cache.retain(|_, entry| entry.expires_at > now);
    if cache.len() < before {
        return;
    }
    if let Some(oldest) = cache
        .iter()
        .min_by_key(|(_, entry)| entry.expires_at)
        .map(|(id, _)| id.clone())
    {
        cache.remove(&oldest);
    }
}

/// The document as a content fault turns it: the fetched JSON with one field made wrong. A body
/// that is not a JSON object is left as it is (its own error is the one to see).
fn spoil(body: &[u8], fault: FetchFault) -> Vec<u8> {
    let Ok(Value::Object(mut document)) = serde_json::from_slice::<Value>(body) else {
        return body.to_vec();
    };
    match fault {
        FetchFault::ClientIdMismatch => {
            document.insert("client_id".into(), Value::from(MISMATCHED_CLIENT_ID));
        }
        FetchFault::RedirectUriMissing => {
            document.insert(
                "redirect_uris".into(),
                Value::from(vec![ELSEWHERE_REDIRECT_URI]),
            );
        }
        FetchFault::ClientSecret => {
            document.insert(
                "client_secret".into(),
                Value::from("served-by-the-client-secret-fault"),
            );
        }
        _ => {}
    }
    serde_json::to_vec(&Value::Object(document)).unwrap_or_else(|_| body.to_vec())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const URL: &str = "https://app.example/client.json";

    fn checked(document: Value) -> Result<Client, String> {
        client_from_document(URL, document.to_string().as_bytes(), &AuthMethod::ALL)
    }

    fn valid() -> Value {
        json!({
            "client_id": URL,
            "client_name": "App",
            "redirect_uris": ["http://127.0.0.1:3000/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none"
        })
    }

    #[test]
    fn a_valid_document_is_a_public_client_with_its_grants_and_redirects() {
        let client = checked(valid()).unwrap();
        assert_eq!(client.id, URL);
        assert_eq!(client.kind, ClientKind::Document);
        assert_eq!(client.auth_method, AuthMethod::None);
        assert!(
            client.accepts_redirect("http://127.0.0.1:49152/callback"),
            "any loopback port"
        );
        assert!(!client.accepts_redirect("http://127.0.0.1:3000/other"));
        assert_eq!(client.grant_types, GrantType::USER.to_vec());

        let mut minimal = valid();
        minimal.as_object_mut().unwrap().remove("grant_types");
        minimal
            .as_object_mut()
            .unwrap()
            .remove("token_endpoint_auth_method");
        let client = checked(minimal).unwrap();
        assert_eq!(
            client.grant_types,
            vec![GrantType::AuthorizationCode],
            "RFC 7591's default"
        );
        assert_eq!(client.auth_method, AuthMethod::None);
    }

    #[test]
    fn documents_the_draft_refuses_are_refused_saying_why() {
        let with = |field: &str, value: Value| {
            let mut document = valid();
            document
                .as_object_mut()
                .unwrap()
                .insert(field.into(), value);
            checked(document).unwrap_err()
        };
        let without = |field: &str| {
            let mut document = valid();
            document.as_object_mut().unwrap().remove(field);
            checked(document).unwrap_err()
        };
        for (error, says) in [
            (
                with("client_id", json!("https://other.example/c.json")),
                "is not the URL",
            ),
            (without("client_id"), "no client_id"),
            (with("client_secret", json!("s")), "client_secret"),
            (
                with("client_secret_expires_at", json!(0)),
                "client_secret_expires_at",
            ),
            (
                with("token_endpoint_auth_method", json!("client_secret_basic")),
                "shared secret",
            ),
            (
                with("token_endpoint_auth_method", json!("private_key_jwt")),
                "jwks or jwks_uri",
            ),
            (without("redirect_uris"), "no redirect_uris"),
            (with("redirect_uris", json!([])), "empty"),
            (
                with("redirect_uris", json!(["javascript:alert(1)"])),
                "redirect_uris",
            ),
            (
                with("grant_types", json!(["refresh_token"])),
                "authorization_code",
            ),
            (with("response_types", json!(["token"])), "code"),
            (with("client_name", json!(7)), "client_name"),
        ] {
            assert!(error.contains(says), "{error:?} should say {says:?}");
        }
        let not_object = client_from_document(URL, b"[1]", &AuthMethod::ALL).unwrap_err();
        assert!(not_object.contains("not an object"), "{not_object}");
        let not_json = client_from_document(URL, b"<html>", &AuthMethod::ALL).unwrap_err();
        assert!(not_json.contains("not JSON"), "{not_json}");
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let nested = client_from_document(URL, deep.as_bytes(), &AuthMethod::ALL).unwrap_err();
        assert!(nested.contains("not JSON"), "{nested}");
        let public_refused = client_from_document(
            URL,
            valid().to_string().as_bytes(),
            &[AuthMethod::ClientSecretBasic],
        )
        .unwrap_err();
        assert!(
            public_refused.contains("token_endpoint_auth_methods_supported"),
            "{public_refused}"
        );
    }

    #[test]
    fn client_id_urls_follow_the_draft() {
        assert!(check_url(URL).is_ok());
        assert!(check_url("https://app.example/c.json?v=1").is_ok());
        for (bad, says) in [
            ("https://app.example", "no path"),
            ("https://app.example/", "no path"),
            ("https://app.example/c.json#x", "fragment"),
            ("https://user:pw@app.example/c.json", "user info"),
            ("https://app.example/a/../c.json", "'..'"),
            ("https://app.example/./c.json", "'.'"),
            ("https://", "not a URL"),
        ] {
            let error = check_url(bad).unwrap_err();
            assert!(error.contains(says), "{bad}: {error}");
        }
        assert!(is_document_id(URL) && is_document_id("HTTP://x/y"));
        assert!(!is_document_id("abc") && !is_document_id("https:/"));
    }

    #[test]
    fn content_faults_spoil_one_field_of_the_fetched_document() {
        let body = valid().to_string().into_bytes();
        let spoiled = |fault| checked(serde_json::from_slice(&spoil(&body, fault)).unwrap());
        assert!(
            spoiled(FetchFault::ClientIdMismatch)
                .unwrap_err()
                .contains(MISMATCHED_CLIENT_ID)
        );
        assert!(
            spoiled(FetchFault::ClientSecret)
                .unwrap_err()
                .contains("client_secret")
        );
        let elsewhere = spoiled(FetchFault::RedirectUriMissing).unwrap();
        assert!(!elsewhere.accepts_redirect("http://127.0.0.1:3000/callback"));
    }

    #[test]
    fn faults_count_down_and_match_their_url() {
        let documents = Documents::new(Fetcher::new(
            sim_http::outbound::Connector::default(),
            sim_http::fetch::FetchPolicy::default(),
        ));
        let once = documents
            .add_fault(FaultSpec {
                fault: FetchFault::Unreachable,
                url: Some(URL.into()),
                times: Some(1),
                status: None,
            })
            .unwrap();
        assert_eq!(once.remaining, Some(1));
        assert_eq!(documents.take_fault("https://other.example/c.json"), None);
        assert_eq!(
            documents.take_fault(URL),
            Some((FetchFault::Unreachable, None))
        );
        assert_eq!(documents.take_fault(URL), None, "used up");
        let bad_status = documents.add_fault(FaultSpec {
            fault: FetchFault::Slow,
            url: None,
            times: None,
            status: Some(500),
        });
        assert!(bad_status.unwrap_err().contains("http-error"));
        let zero = documents.add_fault(FaultSpec {
            fault: FetchFault::Slow,
            url: None,
            times: Some(0),
            status: None,
        });
        assert!(zero.is_err());
    }
}
