//! Saving an issuer's state and restoring it in a later process, so that a client keeps its
//! registration and tokens across a restart of the rig (on new ports, behind a new tunnel).
//!
//! What is saved ([`SavedIssuer`]): the registered clients (secrets as SHA-256 digests), the
//! live and redeemed codes, the access, refresh and rotated-out refresh tokens — every one as
//! the hex of its [`TokenKey`], so a saved file holds no code, token or secret a client could
//! present — the last grant id, the settings, the profile in force, the fault rules (presets
//! by name, others with the times they had left) and the trusted assertion issuers.
//!
//! What is not: the client ID metadata document cache (fetched again when needed), the
//! assertion ids seen, the fetched key sets, the counters and the journal — and the issuer's
//! signing key: a restored issuer signs with a key made at its start, so an ID token or ID-JAG
//! it issued before is not verified by its new JWKS. A trusted assertion issuer whose key the
//! rig made comes back with its public key only: assertions signed with the private key the
//! tester was given still verify, but the rig cannot sign for it any more.
//!
//! Field names are snake_case and part of the file format, which the caller versions: rename
//! none. Expiry times are the rig clock's milliseconds since the Unix epoch; what has expired by
//! the restoring process's clock is dropped on restore.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sim_http::faults::{RespondSpec, RuleSpec};

use crate::faults::{DENY_CONSENT, INVALID_GRANT, deny_consent, invalid_grant};
use crate::host::Host;
use crate::jose::ClientKeys;
use crate::state::{RenamedResource, Settings, State};
use crate::store::{
    AccessToken, AuthCode, AuthMethod, Client, ClientKind, ClientSecret, GrantId, GrantType,
    RedeemedCode, RefreshToken, RetiredRefreshToken, TokenKey,
};
use crate::trust::TrustRequest;

/// Codes or tokens of one kind, by the hex of their [`TokenKey`].
pub type Keyed<T> = BTreeMap<String, T>;

/// One issuer's state, as saved: see the [module](self) for what is and is not in it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedIssuer {
    /// The issuer's name (`main`): what it is matched by on restore.
    pub name: String,
    /// The issuer identifier it had when saved; informative, a restore does not re-point it.
    pub issuer: String,
    /// The registered and pre-registered clients, by id.
    pub clients: Vec<SavedClient>,
    /// Authorization codes issued and not redeemed.
    pub codes: Keyed<AuthCode>,
    /// Codes redeemed, kept to tell a replay from a made-up code.
    pub redeemed_codes: Keyed<RedeemedCode>,
    /// Access tokens.
    pub access_tokens: Keyed<AccessToken>,
    /// Live refresh tokens.
    pub refresh_tokens: Keyed<RefreshToken>,
    /// Refresh tokens rotated out while reuse detection was on.
    pub retired_refresh_tokens: Keyed<RetiredRefreshToken>,
    /// The last grant id handed out: grants made after a restore follow it.
    pub last_grant: GrantId,
    /// The switches: rotation, access-token lifetime, narrowed consent, reuse detection.
    pub settings: Settings,
    /// The profile in force, as `GET /control/profile` shows it; restored as a patch of every
    /// field, through the same checks as `POST /control/profile`.
    pub profile: Value,
    /// The tester's fault rules, each with the times it had left (`None`: until deleted).
    pub fault_rules: Vec<RuleSpec>,
    /// The presets in force: `deny-consent`, `invalid-grant`.
    pub presets: Vec<String>,
    /// The trusted assertion issuers, as `POST /control/assertion-issuers` takes them.
    pub assertion_issuers: Vec<Value>,
    /// The resources renamed since start (a grant for `from` covers `to`): the MCP server's
    /// earlier URLs, so that tokens and grants made for them keep working after the restart.
    #[serde(default)]
    pub renamed_resources: Vec<RenamedResource>,
}

/// A registered client, as saved.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedClient {
    /// Its `client_id`.
    pub id: String,
    /// Its secret's digest, for a secret method.
    pub secret: Option<SavedSecret>,
    /// How it authenticates at the token endpoint.
    pub auth_method: AuthMethod,
    /// Its registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Any loopback redirect URI is its own.
    pub any_loopback: bool,
    /// `dynamic` or `pre-registered`.
    pub kind: ClientKind,
    /// The grants it may use.
    pub grant_types: Vec<GrantType>,
    /// Its public keys, for `private_key_jwt`.
    pub keys: Option<SavedKeys>,
    /// The scopes it may be granted without a user.
    pub scope: Option<String>,
    /// Its registration metadata (never with `client_secret`).
    pub registration: Map<String, Value>,
}

/// A client secret, as saved: never the secret itself.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedSecret {
    /// The hex of its SHA-256.
    pub sha256: String,
    /// Its first characters and an ellipsis, as the state shows it.
    pub shown: String,
}

/// Where a client's public keys are.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SavedKeys {
    /// A JWK Set (a key the rig made for the client is saved as its public half).
    Jwks(Value),
    /// The URL they are fetched from.
    JwksUri(String),
}

/// The state of every issuer of a server, as saved.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SavedHost {
    /// One entry per issuer, `main` first.
    pub issuers: Vec<SavedIssuer>,
}

/// What a restore brought back, and what it left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Restored {
    /// Clients registered again.
    pub clients: usize,
    /// Live codes, redeemed codes and tokens of every kind put back.
    pub entries: usize,
    /// Codes and tokens left out because they had expired by the restoring clock.
    pub expired: usize,
    /// Fault rules (presets included) in force again.
    pub fault_rules: usize,
    /// What could not come back, and why, one line each.
    pub notes: Vec<String>,
}

impl SavedIssuer {
    /// Checks everything a restore reads, so that a damaged file changes nothing: every key is
    /// 64 hex digits, every secret digest too, every client's keys parse.
    pub fn check(&self) -> Result<(), String> {
        let issuer = &self.name;
        let maps: [(&str, Vec<&String>); 5] = [
            ("codes", self.codes.keys().collect()),
            ("redeemed_codes", self.redeemed_codes.keys().collect()),
            ("access_tokens", self.access_tokens.keys().collect()),
            ("refresh_tokens", self.refresh_tokens.keys().collect()),
            (
                "retired_refresh_tokens",
                self.retired_refresh_tokens.keys().collect(),
            ),
        ];
        for (map, keys) in maps {
            if let Some(bad) = keys
                .into_iter()
                .find(|key| TokenKey::from_hex(key).is_none())
            {
                return Err(format!(
                    "issuer '{issuer}': {map}: key '{bad}' is not a SHA-256 in hex"
                ));
            }
        }
        for client in &self.clients {
            client
                .client()
                .map_err(|why| format!("issuer '{issuer}': client '{}': {why}", client.id))?;
        }
        Ok(())
    }
}

impl SavedClient {
    fn of(client: &Client) -> Self {
        let keys = client.keys.as_ref().map(|keys| match keys {
            ClientKeys::Inline(set) => {
                SavedKeys::Jwks(serde_json::to_value(set.as_ref()).unwrap_or_default())
            }
            ClientKeys::Uri(url) => SavedKeys::JwksUri(url.to_string()),
        });
        Self {
            id: client.id.clone(),
            secret: client.secret.as_ref().map(|secret| SavedSecret {
                sha256: secret.digest().to_hex(),
                shown: secret.shown().to_owned(),
            }),
            auth_method: client.auth_method,
            redirect_uris: client.redirect_uris.clone(),
            any_loopback: client.any_loopback,
            kind: client.kind,
            grant_types: client.grant_types.clone(),
            keys,
            scope: client.scope.clone(),
            registration: client.registration.clone(),
        }
    }

    /// The store's client it describes, checked.
    fn client(&self) -> Result<Arc<Client>, String> {
        let secret = match &self.secret {
            None => None,
            Some(saved) => {
                let digest = TokenKey::from_hex(&saved.sha256)
                    .ok_or("secret.sha256 is not a SHA-256 in hex")?;
                Some(ClientSecret::from_parts(digest, saved.shown.clone()))
            }
        };
        if secret.is_some() != self.auth_method.has_secret() {
            return Err(format!(
                "auth_method {} and a secret do not go together",
                self.auth_method.as_str()
            ));
        }
        let keys = match &self.keys {
            None => None,
            Some(SavedKeys::Jwks(set)) => ClientKeys::from_metadata(Some(set), None)?,
            Some(SavedKeys::JwksUri(uri)) => {
                ClientKeys::from_metadata(None, Some(&Value::from(uri.as_str())))?
            }
        };
        Ok(Arc::new(Client {
            id: self.id.clone(),
            secret,
            auth_method: self.auth_method,
            redirect_uris: self.redirect_uris.clone(),
            any_loopback: self.any_loopback,
            kind: self.kind,
            grant_types: self.grant_types.clone(),
            keys,
            scope: self.scope.clone(),
            registration: self.registration.clone(),
            last_used: AtomicU64::new(0),
        }))
    }
}

/// `map`'s entries by the hex of their keys.
fn save_map<T: Clone>(map: &dashmap::DashMap<TokenKey, T>) -> Keyed<T> {
    map.iter()
        .map(|entry| (entry.key().to_hex(), entry.value().clone()))
        .collect()
}

/// Puts the entries of `saved` that are live at `now` into `map`, counting them in `restored`.
fn restore_map<T>(
    saved: Keyed<T>,
    map: &dashmap::DashMap<TokenKey, T>,
    expires_at: impl Fn(&T) -> u64,
    now: u64,
    restored: &mut Restored,
) {
    for (hex, entry) in saved {
        // `check` refused a bad key already; one that slipped through is skipped.
        let Some(key) = TokenKey::from_hex(&hex) else {
            continue;
        };
        if expires_at(&entry) <= now {
            restored.expired += 1;
            continue;
        }
        map.insert(key, entry);
        restored.entries += 1;
    }
}

impl State {
    /// Everything of this issuer's a later process needs to go on where it left off.
    pub fn save(&self) -> SavedIssuer {
        let store = &self.store;
        let mut clients: Vec<SavedClient> = store
            .clients
            .iter()
            .filter(|client| client.kind != ClientKind::Document)
            .map(|client| SavedClient::of(client.value()))
            .collect();
        clients.sort_by(|a, b| a.id.cmp(&b.id));
        let mut fault_rules = Vec::new();
        let mut presets = Vec::new();
        for rule in self.faults.list() {
            match rule.preset {
                Some(preset) => presets.push(preset.into_owned()),
                None => fault_rules.push(RuleSpec {
                    endpoint: rule.endpoint,
                    matching: rule.matching,
                    respond: RespondSpec::from(rule.respond),
                    times: rule.remaining,
                }),
            }
        }
        let assertion_issuers = self
            .trust
            .issuers()
            .iter()
            .map(|trusted| {
                let mut described = trusted.describe();
                if let Value::Object(fields) = &mut described {
                    // The request form has no such field: it says whether the rig holds the
                    // private key, which is not saved.
                    fields.remove("rig_signs");
                }
                described
            })
            .collect();
        SavedIssuer {
            name: self.place.name.clone(),
            // The issuer identifier in force (not the whole snapshot, which counts the store).
            issuer: self.issuer(),
            clients,
            codes: save_map(&store.codes),
            redeemed_codes: save_map(&store.redeemed_codes),
            access_tokens: save_map(&store.access_tokens),
            refresh_tokens: save_map(&store.refresh_tokens),
            retired_refresh_tokens: save_map(&store.retired_refresh_tokens),
            last_grant: store.last_grant(),
            settings: self.settings(),
            profile: serde_json::to_value(&self.live().profile).unwrap_or_default(),
            fault_rules,
            presets,
            assertion_issuers,
            renamed_resources: self.renamed_resources(),
        }
    }

    /// Replaces this issuer's clients, codes, tokens, settings, profile, fault rules and
    /// trusted assertion issuers with `saved`'s, leaving out what has expired by `now` (rig-clock
    /// milliseconds). Meant for start-up, before the issuer serves. Its start-up clients and
    /// trusted issuers are put back over the saved ones: the configuration wins where they
    /// share an id. What cannot come back is left out and named in the notes.
    pub fn restore(&self, saved: SavedIssuer, now: u64) -> Restored {
        let mut restored = Restored::default();
        let name = &self.place.name;
        let store = &self.store;
        store.clear();
        self.trust.forget_issuers();
        self.faults.clear();

        for client in &saved.clients {
            match client.client() {
                Ok(client) => {
                    store.add_client(client);
                    restored.clients += 1;
                }
                Err(why) => restored.notes.push(format!(
                    "issuer '{name}': client '{}' left out: {why}",
                    client.id
                )),
            }
        }
        restore_map(
            saved.codes,
            &store.codes,
            |code| code.expires_at,
            now,
            &mut restored,
        );
        restore_map(
            saved.redeemed_codes,
            &store.redeemed_codes,
            |code| code.expires_at,
            now,
            &mut restored,
        );
        restore_map(
            saved.access_tokens,
            &store.access_tokens,
            |token| token.expires_at,
            now,
            &mut restored,
        );
        restore_map(
            saved.refresh_tokens,
            &store.refresh_tokens,
            |token| token.expires_at,
            now,
            &mut restored,
        );
        restore_map(
            saved.retired_refresh_tokens,
            &store.retired_refresh_tokens,
            |retired| retired.token.expires_at,
            now,
            &mut restored,
        );
        store.grants_after(saved.last_grant);
        self.forget_renamed_resources();
        for renamed in saved.renamed_resources {
            let shown = format!("{} → {}", renamed.from, renamed.to);
            if let Err(why) = self.rename_resource(renamed) {
                restored.notes.push(format!(
                    "issuer '{name}': renamed resource {shown} left out: {why}"
                ));
            }
        }

        for described in saved.assertion_issuers {
            let added = serde_json::from_value::<TrustRequest>(described.clone())
                .map_err(|error| error.to_string())
                .and_then(TrustRequest::build)
                .and_then(|trusted| self.trust.add(trusted));
            if let Err(why) = added {
                let iss = described["issuer"].as_str().unwrap_or("?");
                restored.notes.push(format!(
                    "issuer '{name}': assertion issuer '{iss}' left out: {why}"
                ));
            }
        }
        self.add_startup_clients();
        if let Some(token) = self.config.seed_refresh_token.clone()
            && !store.refresh_tokens.contains_key(&TokenKey::of(&token))
        {
            self.seed_refresh_token(token);
        }

        self.update_settings(|settings| *settings = saved.settings);
        if let Err(why) = self.restore_profile(saved.profile) {
            restored.notes.push(format!(
                "issuer '{name}': profile left as configured: {why}"
            ));
        }
        for preset in saved.presets {
            let rule = match preset.as_str() {
                DENY_CONSENT => Some((DENY_CONSENT, deny_consent())),
                INVALID_GRANT => Some((INVALID_GRANT, invalid_grant())),
                _ => None,
            };
            match rule.map(|(preset, rule)| self.faults.set_preset(preset, Some(rule))) {
                Some(Ok(())) => restored.fault_rules += 1,
                Some(Err(why)) => restored.notes.push(format!(
                    "issuer '{name}': preset '{preset}' left out: {why}"
                )),
                None => restored.notes.push(format!(
                    "issuer '{name}': preset '{preset}' is not one of this server's; left out"
                )),
            }
        }
        for rule in saved.fault_rules {
            let endpoint = rule.endpoint.clone();
            match self.faults.add(rule) {
                Ok(_) => restored.fault_rules += 1,
                Err(why) => restored.notes.push(format!(
                    "issuer '{name}': a fault rule on '{endpoint}' left out: {why}"
                )),
            }
        }
        restored
    }

    /// Puts a saved profile in force through the checks of `POST /control/profile`.
    fn restore_profile(&self, saved: Value) -> Result<(), String> {
        match self.host() {
            Some(host) => host.change_profile(self, saved),
            // No host (a unit test): the same merge and checks, with no other issuer to collide.
            None => {
                let mut profile = self.configured.clone();
                profile.merge(saved, &self.configured)?;
                if profile.scopes.is_none() {
                    profile.scopes = self.configured.scopes.clone();
                }
                State::fits(&self.place, self.cohosted, &profile)?;
                self.set_profile(profile);
                Ok(())
            }
        }
    }
}

impl Host {
    /// Every issuer's state, `main` first.
    pub fn save(&self) -> SavedHost {
        SavedHost {
            issuers: self.issuers().iter().map(|issuer| issuer.save()).collect(),
        }
    }

    /// Restores each saved issuer hosted now, matched by name, and answers one note per issuer
    /// (what came back) plus what was left out. An issuer in `saved` that is not hosted is
    /// skipped with a note. `Err`, with nothing changed, when an entry cannot be read.
    pub fn restore(&self, saved: SavedHost) -> Result<Vec<String>, String> {
        for (index, issuer) in saved.issuers.iter().enumerate() {
            issuer.check()?;
            if saved.issuers[..index]
                .iter()
                .any(|earlier| earlier.name == issuer.name)
            {
                return Err(format!("issuer '{}' is saved twice", issuer.name));
            }
        }
        let now = self.clock.now_millis();
        let mut notes = Vec::new();
        for issuer in saved.issuers {
            let Some(state) = self.issuer(&issuer.name) else {
                notes.push(format!(
                    "issuer '{}' is not hosted now; its state was dropped",
                    issuer.name
                ));
                continue;
            };
            let restored = state.restore(issuer, now);
            notes.push(format!(
                "issuer '{}': {} clients, {} codes and tokens, {} fault rules restored; {} \
                 expired entries dropped",
                state.place.name,
                restored.clients,
                restored.entries,
                restored.fault_rules,
                restored.expired
            ));
            notes.extend(restored.notes);
        }
        Ok(notes)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sim_http::Clock;

    use super::*;
    use crate::config::Config;
    use crate::jose::{KeyAlgorithm, KeyPair};
    use crate::state::{GrantTerms, Place, RefreshIssue, ReuseDetection};

    fn issuer() -> State {
        State::new(Place::test(), Config::default(), Clock::new())
    }

    /// A client of each kind of keys and secret, every profile field off its default, the
    /// switches flipped, rules and a preset, and tokens of every kind.
    fn busy_issuer() -> State {
        let state = issuer();
        let keys = KeyPair::generate(KeyAlgorithm::ES256).unwrap().jwks();
        for (id, metadata) in [
            ("keyed", json!({"jwks": keys})),
            (
                "fetched",
                json!({"jwks_uri": "https://client.example/jwks.json"}),
            ),
        ] {
            let mut client = json!({"client_id": id, "auth_method": "private_key_jwt",
                                    "grant_types": ["client_credentials"], "scope": "mcp:tools"});
            client
                .as_object_mut()
                .unwrap()
                .extend(metadata.as_object().unwrap().clone());
            state
                .pre_register(&serde_json::from_value(client).unwrap())
                .unwrap();
        }
        state
            .pre_register(
                &serde_json::from_value(
                    json!({"client_id": "secret", "client_secret": "s3cret-s3cret",
                    "auth_method": "client_secret_post", "redirect_uris": "any-loopback"}),
                )
                .unwrap(),
            )
            .unwrap();
        let mut profile = state.live().profile.clone();
        let patch = json!({
            "metadata": ["oauth", "oidc-appended"], "metadata_issuer": "https://other.example",
            "endpoint_prefix": "/oauth2", "iss_parameter_supported": "omit",
            "iss": "value:https://else.example", "scopes": ["a", "b"], "scopes_supported": ["a"],
            "registration": false, "auth_methods": ["none", "private_key_jwt"],
            "assign_auth_method": "none", "enforce_auth_method": true, "require_resource": true,
            "client_id_metadata_document_supported": false, "client_id_metadata_documents": false,
            "grant_types": ["authorization_code", "refresh_token"], "id_jag_client_id": "app",
        });
        profile.merge(patch, &state.configured).unwrap();
        state.set_profile(profile);
        state.update_settings(|settings| {
            settings.rotate_refresh_tokens = true;
            settings.access_token_ttl_seconds = 42;
            settings.grant_scope = Some("a".into());
        });
        state.detect_reuse(ReuseDetection {
            on: true,
            grace_seconds: 7,
        });
        state
            .faults
            .add(
                serde_json::from_value(
                    json!({"endpoint": "token", "match": {"grant_type": "refresh_token"},
                "respond": {"status": 429, "retry_after": 3}, "times": 5}),
                )
                .unwrap(),
            )
            .unwrap();
        state
            .faults
            .set_preset(INVALID_GRANT, Some(invalid_grant()))
            .unwrap();
        let trusted: TrustRequest = serde_json::from_value(json!({
            "issuer": "https://workload.example", "generate_key": "ES256", "subjects": ["w"],
        }))
        .unwrap();
        state.trust.add(trusted.build().unwrap()).unwrap();
        let terms = GrantTerms {
            client_id: "secret".into(),
            scope: "a".into(),
            resources: vec!["https://mcp.example/mcp".into()],
            subject: "user".into(),
            grant: state.store.new_grant(),
        };
        let new = || RefreshIssue::New {
            scope: "a b".into(),
            resources: Vec::new(),
        };
        state.issue_tokens(&terms, new()).unwrap();
        let retired = state.issue_tokens(&terms, new()).unwrap();
        let key = TokenKey::of(retired.refresh_token.as_deref().unwrap());
        let (_, token) = state.store.refresh_tokens.remove(&key).unwrap();
        state.store.retired_refresh_tokens.insert(
            key,
            RetiredRefreshToken {
                token,
                retired_at: state.now(),
            },
        );
        state
    }

    #[test]
    fn a_restored_issuer_saves_exactly_what_it_was_restored_from() {
        // Arrange
        let saved = busy_issuer().save();
        let text = serde_json::to_string(&saved).unwrap();

        // Act
        let fresh = issuer();
        let restored = fresh.restore(serde_json::from_str(&text).unwrap(), fresh.now());

        // Assert
        assert_eq!(restored.notes, Vec::<String>::new());
        assert_eq!(restored.clients, 3);
        assert_eq!(restored.entries, 4, "two access, one refresh, one retired");
        assert_eq!(restored.fault_rules, 2);
        assert_eq!(
            serde_json::to_value(fresh.save()).unwrap(),
            serde_json::to_value(&saved).unwrap()
        );
        assert!(fresh.faults.has_preset(INVALID_GRANT));
        assert!(
            fresh.store.new_grant() > saved.last_grant,
            "new grants follow the saved ones"
        );
        assert!(!text.contains("s3cret-s3cret"), "{text}");
        assert!(text.contains(&TokenKey::of("s3cret-s3cret").to_hex()));
        let secret = fresh.store.client("secret").unwrap();
        assert!(secret.secret.as_ref().unwrap().matches("s3cret-s3cret"));
    }

    #[test]
    fn the_configuration_wins_over_a_saved_client_of_the_same_id() {
        // Arrange: the saved client "secret" had another secret than the one configured now.
        let saved = busy_issuer().save();
        let configured = serde_json::from_value(json!({"client_id": "secret",
            "client_secret": "configured-now", "auth_method": "client_secret_basic",
            "redirect_uris": "any-loopback"}))
        .unwrap();
        let setup = crate::state::Setup {
            clients: vec![configured],
            ..crate::state::Setup::test()
        };
        let fresh = State::with(Place::test(), Config::default(), Clock::new(), setup);

        // Act
        fresh.restore(saved, fresh.now());

        // Assert
        let client = fresh.store.client("secret").unwrap();
        assert!(client.secret.as_ref().unwrap().matches("configured-now"));
        assert!(
            fresh.store.client("keyed").is_some(),
            "the others came back"
        );
    }
}
