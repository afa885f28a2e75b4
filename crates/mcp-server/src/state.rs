//! Everything a request handler reads: configuration, the announced URLs, the introspection
//! client, the rmcp service, the tester's fault rules and settings, the journal and the counters.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use sim_http::counter::Counter;
use sim_http::faults::Faults;
use sim_http::journal::Journal;

use crate::Error;
use crate::config::{AuthorizationServer, check_authorization_servers};
use crate::config::{Config, check_tool, check_tool_scopes, parse_base};
use crate::faults::{FORCE_403, TARGETS};
use crate::introspection::{self, Trusted};
use crate::profile::{ChallengeScope, Profile};
use crate::snapshot::{IntrospectionFailure, Migration, Snapshot, Tallies, Toggles};
use crate::tools::Tools;
use crate::urls::PublicUrls;

pub struct State {
    pub config: Config,
    /// The announced URLs and the rmcp service whose Host/Origin guard follows them; swapped
    /// whole by a re-point, so that a request sees one base URL throughout. The write lock is
    /// held while a re-point computes the next value from the current one, so that two
    /// re-points cannot lose each other's former audiences.
    public: RwLock<Arc<Public>>,
    /// The handler every rebuilt service serves: built once, so tool schemas are not generated
    /// again on a re-point.
    tools: Tools,
    /// The profile in force; swapped whole, so that a request reads one consistent profile
    /// however the control plane changes it meanwhile.
    profile: RwLock<Arc<Profile>>,
    /// The configured profile, its `required_scopes` filled in from the configuration: what a
    /// reset and a `null` field go back to.
    configured_profile: Profile,
    /// The authorization servers trusted now; swapped whole by the control plane.
    trusted: RwLock<Trusted>,
    /// The configured ones, kept (with their pooled connections) for a reset: those of the
    /// configuration, under the identifiers a re-point of their issuers gave them since
    /// ([`State::rename_authorization_server`]).
    configured: RwLock<Trusted>,
    /// A switch of the trusted list waiting for its count of authenticated requests. A plain
    /// mutex, never held across an `.await`; the switch itself happens under it, so that a
    /// reset or a new migration cannot interleave with it.
    migration: Mutex<Option<Arc<PendingMigration>>>,
    /// The fault rules of `prm` and `mcp`, the `force-403` preset included.
    pub faults: Faults,
    /// What each request did, for `/control/events`.
    pub journal: Journal,
    /// Per-tool scopes in force (tool → scopes): the configured map until the control plane
    /// changes it. A plain mutex: read once per tool call, never held across an `.await`.
    tool_scopes: Mutex<BTreeMap<String, Vec<String>>>,
    /// Whether a token that could not be checked is answered 401 (else 503).
    outage_unauthorized: AtomicBool,
    pub counters: Counters,
}

/// What depends on the public base URL.
pub struct Public {
    /// The URLs announced and the audiences accepted.
    pub urls: PublicUrls,
    /// rmcp's stateless Streamable HTTP service, allowing the hosts and origins of `urls`.
    /// Stateless (`NeverSessionManager`), so that rebuilding it loses nothing.
    pub service: StreamableHttpService<Tools, NeverSessionManager>,
}

impl Public {
    fn new(urls: PublicUrls, tools: &Tools) -> Arc<Self> {
        let transport = StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_sse_keep_alive(None)
            .with_allowed_hosts(urls.allowed_hosts().to_vec())
            .with_allowed_origins(urls.allowed_origins().to_vec());
        let tools = tools.clone();
        let service = StreamableHttpService::new(
            move || Ok(tools.clone()),
            Arc::new(NeverSessionManager::default()),
            transport,
        );
        Arc::new(Self { urls, service })
    }
}

/// A migration `POST /control/migrate` scheduled.
struct PendingMigration {
    /// The list to trust, checkers ready, so that the switch itself cannot fail.
    to: Trusted,
    /// Authenticated requests still to be served under the old list. The request that takes
    /// it from 1 to 0 — exactly one, whatever the concurrency — makes the switch.
    remaining: AtomicU64,
}

/// What happened since start-up or the last reset, for assertions.
#[derive(Debug, Default)]
pub struct Counters {
    /// Requests to `/mcp`.
    pub requests: Counter,
    pub unauthorized: Counter,
    pub bad_requests: Counter,
    pub forbidden: Counter,
    pub unavailable: Counter,
    pub introspections: Counter,
    pub introspection_failures: Counter,
    /// `tools/call` requests that reached the tools.
    pub tool_calls: Counter,
    /// Requests a fault rule (a preset included) delayed or answered.
    pub faults_fired: Counter,
}

impl Counters {
    fn snapshot(&self) -> Tallies {
        let get = Counter::get;
        Tallies {
            requests: get(&self.requests),
            unauthorized: get(&self.unauthorized),
            bad_requests: get(&self.bad_requests),
            forbidden: get(&self.forbidden),
            unavailable: get(&self.unavailable),
            introspections: get(&self.introspections),
            introspection_failures: get(&self.introspection_failures),
            tool_calls: get(&self.tool_calls),
            faults_fired: get(&self.faults_fired),
        }
    }

    fn all(&self) -> [(&'static str, &Counter); 9] {
        [
            ("requests", &self.requests),
            ("unauthorized", &self.unauthorized),
            ("bad_requests", &self.bad_requests),
            ("forbidden", &self.forbidden),
            ("unavailable", &self.unavailable),
            ("introspections", &self.introspections),
            ("introspection_failures", &self.introspection_failures),
            ("tool_calls", &self.tool_calls),
            ("faults_fired", &self.faults_fired),
        ]
    }
}

impl State {
    /// The state of a server whose configuration [`Config::validate`] accepted.
    pub fn new(config: Config, port: u16) -> Result<Self, Error> {
        let configured = introspection::trusted(&config.authorization_servers, &config)
            .map_err(Error::Config)?;
        // Building the router once keeps tool schemas from being generated per request.
        let tools = Tools::new();
        let public = Public::new(PublicUrls::new(&config, port), &tools);
        let configured_profile = Profile {
            required_scopes: Some(
                config
                    .profile
                    .required_scopes
                    .clone()
                    .unwrap_or_else(|| config.required_scopes.clone()),
            ),
            ..config.profile.clone()
        };
        Ok(Self {
            profile: RwLock::new(Arc::new(configured_profile.clone())),
            configured_profile,
            migration: Mutex::new(None),
            tool_scopes: Mutex::new(configured_tool_scopes(&config)?),
            journal: Journal::new(config.journal_size),
            config,
            public: RwLock::new(public),
            tools,
            trusted: RwLock::new(Arc::clone(&configured)),
            configured: RwLock::new(configured),
            faults: Faults::new(TARGETS),
            outage_unauthorized: AtomicBool::new(false),
            counters: Counters::default(),
        })
    }

    /// The URLs and the rmcp service in force now.
    pub fn public(&self) -> Arc<Public> {
        // A poisoned lock only means a panic elsewhere mid-swap of a pointer.
        Arc::clone(
            &self
                .public
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// Applies `POST /control/base-url`: from the next request on, the server answers as
    /// `base_url` (`None`: the loopback name the client used). Nothing changes unless it is a
    /// valid base URL.
    pub fn repoint(&self, base_url: Option<&str>, keep_old_audience: bool) -> Result<(), String> {
        let base = base_url.map(parse_base).transpose()?;
        self.swap_public(|urls| urls.repointed(&self.config, base, keep_old_audience));
        Ok(())
    }

    /// Accepts the tokens of `former` origins (checked, restored from a save) on top of
    /// today's, or forgets every former origin if not `keep_old_audience`.
    pub fn remember(&self, former: Vec<String>, keep_old_audience: bool) {
        self.swap_public(|urls| urls.remembering(&self.config, former, keep_old_audience));
    }

    fn swap_public(&self, next: impl FnOnce(&PublicUrls) -> PublicUrls) {
        let mut slot = self
            .public
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = Public::new(next(&slot.urls), &self.tools);
    }

    /// The profile in force now.
    pub fn profile(&self) -> Arc<Profile> {
        // A poisoned lock only means a panic elsewhere mid-swap of a pointer.
        Arc::clone(
            &self
                .profile
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// Applies `POST /control/profile` (see [`Profile::merge`]). The write lock is held for
    /// the merge, so that two concurrent calls cannot lose each other's fields.
    pub fn merge_profile(&self, patch: serde_json::Value) -> Result<(), String> {
        let mut slot = self
            .profile
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut profile = Profile::clone(&slot);
        profile.merge(patch, &self.configured_profile)?;
        *slot = Arc::new(profile);
        Ok(())
    }

    /// Puts `profile`, already validated, in force.
    pub fn replace_profile(&self, profile: Profile) {
        *self
            .profile
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(profile);
    }

    /// The scopes every `tools/call` needs under `profile`.
    pub fn required_scopes<'a>(&'a self, profile: &'a Profile) -> &'a [String] {
        profile
            .required_scopes
            .as_deref()
            .unwrap_or(&self.config.required_scopes)
    }

    /// The `scope` of a 401 under `profile`, space-separated (empty: none). `Required` names
    /// those every call needs, or all announced scopes when none is required: naming only what
    /// is needed (least privilege) is what makes a tool's wider scope a step-up rather than
    /// something every client asks for up front.
    pub fn challenge_scope(&self, profile: &Profile) -> String {
        match &profile.challenge_scope {
            ChallengeScope::Required => {
                let required = self.required_scopes(profile);
                if required.is_empty() {
                    self.config.scopes.join(" ")
                } else {
                    required.join(" ")
                }
            }
            ChallengeScope::Omit => String::new(),
            ChallengeScope::List(scopes) => scopes.join(" "),
        }
    }

    fn migration(&self) -> MutexGuard<'_, Option<Arc<PendingMigration>>> {
        // A poisoned lock only means a panic elsewhere mid-swap of a pointer.
        self.migration
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies `POST /control/migrate`: after `after` more authenticated `/mcp` requests the
    /// trusted list becomes `servers` (`0`: now). Replaces a migration already scheduled.
    pub fn migrate(&self, servers: &[AuthorizationServer], after: u64) -> Result<(), String> {
        check_authorization_servers(servers)?;
        let to = introspection::trusted(servers, &self.config)?;
        let mut slot = self.migration();
        if after == 0 {
            *slot = None;
            self.swap_trusted(to);
        } else {
            *slot = Some(Arc::new(PendingMigration {
                to,
                remaining: AtomicU64::new(after),
            }));
        }
        Ok(())
    }

    /// Gives the authorization server whose issuer is `from` the identifier `to` wherever this
    /// server knows it — the trusted list, the configured one a reset goes back to, a scheduled
    /// migration's — as when that issuer was re-pointed to a new public URL. Its introspection
    /// URL stays. `Err` when no list names `from`.
    pub fn rename_authorization_server(&self, from: &str, to: &str) -> Result<(), String> {
        let renamed = |list: &Trusted| -> Result<Option<Trusted>, String> {
            if !list.iter().any(|checker| checker.server.issuer == from) {
                return Ok(None);
            }
            let servers: Vec<AuthorizationServer> = list
                .iter()
                .map(|checker| {
                    let mut server = checker.server.clone();
                    if server.issuer == from {
                        server.issuer = to.to_owned();
                    }
                    server
                })
                .collect();
            check_authorization_servers(&servers)?;
            introspection::trusted(&servers, &self.config).map(Some)
        };
        // Under the migration lock, as a migration's switch and a reset are.
        let mut migration = self.migration();
        let trusted = renamed(&self.trusted())?;
        let configured = renamed(&self.configured())?;
        let pending = match migration.as_ref() {
            Some(pending) => renamed(&pending.to)?.map(|to| PendingMigration {
                to,
                remaining: AtomicU64::new(pending.remaining.load(Ordering::Acquire)),
            }),
            None => None,
        };
        if trusted.is_none() && configured.is_none() && pending.is_none() {
            return Err(format!(
                "no authorization server this server trusts, trusted at start-up or migrates \
                 to has the issuer '{from}'"
            ));
        }
        if let Some(trusted) = trusted {
            self.swap_trusted(trusted);
        }
        if let Some(configured) = configured {
            *self
                .configured
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = configured;
        }
        if let Some(pending) = pending {
            *migration = Some(Arc::new(pending));
        }
        Ok(())
    }

    fn configured(&self) -> Trusted {
        // A poisoned lock only means a panic elsewhere mid-swap of a pointer.
        Arc::clone(
            &self
                .configured
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// Counts one successfully authenticated `/mcp` request towards a scheduled migration;
    /// `true` when this request made the switch.
    pub fn count_authenticated(&self) -> bool {
        let Some(pending) = self.migration().clone() else {
            return false;
        };
        let before = pending
            .remaining
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                left.checked_sub(1)
            });
        if before != Ok(1) {
            return false;
        }
        let mut slot = self.migration();
        // A reset or another migration between the count and here has the last word.
        if !slot
            .as_ref()
            .is_some_and(|current| Arc::ptr_eq(current, &pending))
        {
            return false;
        }
        *slot = None;
        self.swap_trusted(Arc::clone(&pending.to));
        true
    }

    fn tool_scopes(&self) -> MutexGuard<'_, BTreeMap<String, Vec<String>>> {
        // A poisoned lock only means a panic elsewhere mid-update of a plain map.
        self.tool_scopes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every tool's own scopes, as in force now.
    pub fn tool_scopes_in_force(&self) -> BTreeMap<String, Vec<String>> {
        self.tool_scopes().clone()
    }

    /// Puts `scopes`, already checked, in place of every tool's own scopes.
    pub fn replace_tool_scopes(&self, scopes: BTreeMap<String, Vec<String>>) {
        *self.tool_scopes() = scopes;
    }

    /// The scopes a `tools/call` of `tool` needs on top of the required ones.
    pub fn scopes_of_tool(&self, tool: &str) -> Vec<String> {
        self.tool_scopes().get(tool).cloned().unwrap_or_default()
    }

    /// Applies `POST /control/tool-scopes`: each tool given gets these scopes, or none if `null`.
    /// Nothing changes unless every entry is valid.
    pub fn merge_tool_scopes(
        &self,
        changes: BTreeMap<String, Option<String>>,
    ) -> Result<(), String> {
        let mut checked = Vec::with_capacity(changes.len());
        for (tool, scopes) in changes {
            let scopes = match scopes {
                Some(scopes) => Some(check_tool_scopes(&tool, &scopes, &self.config.scopes)?),
                None => check_tool(&tool).map(|()| None)?,
            };
            checked.push((tool, scopes));
        }
        let mut map = self.tool_scopes();
        for (tool, scopes) in checked {
            match scopes {
                Some(scopes) => map.insert(tool, scopes),
                None => map.remove(&tool),
            };
        }
        Ok(())
    }

    /// The authorization servers trusted now, in order.
    pub fn trusted(&self) -> Trusted {
        // A poisoned lock only means a panic elsewhere mid-swap of a pointer.
        Arc::clone(
            &self
                .trusted
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// Applies `POST /control/authorization-servers`: from the next request on, the metadata
    /// lists `servers` and only their tokens are accepted. Nothing changes unless all are valid.
    pub fn trust(&self, servers: &[AuthorizationServer]) -> Result<(), String> {
        check_authorization_servers(servers)?;
        let trusted = introspection::trusted(servers, &self.config)?;
        self.swap_trusted(trusted);
        Ok(())
    }

    fn swap_trusted(&self, trusted: Trusted) {
        *self
            .trusted
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = trusted;
    }

    /// Lets each trusted server's link forget the connections that server closed.
    pub fn forget_closed_connections(&self) {
        for checker in self.trusted().iter() {
            checker.introspector.forget_closed_connections();
        }
    }

    pub fn outage_answer(&self) -> IntrospectionFailure {
        if self.outage_unauthorized.load(Ordering::Relaxed) {
            IntrospectionFailure::InvalidToken
        } else {
            IntrospectionFailure::Unavailable
        }
    }

    pub fn set_outage_answer(&self, answer: IntrospectionFailure) {
        self.outage_unauthorized.store(
            answer == IntrospectionFailure::InvalidToken,
            Ordering::Relaxed,
        );
    }

    /// Back to start-up: no fault rules, no events (numbering goes on), the configured profile,
    /// tool scopes and authorization servers, no migration, 503 on an introspection failure,
    /// every counter zero. The public base URL and the audiences it accepts stay.
    pub fn reset(&self) {
        {
            // Under the migration lock, so that a migration being made cannot undo the reset.
            let mut migration = self.migration();
            *migration = None;
            self.swap_trusted(self.configured());
        }
        self.replace_profile(self.configured_profile.clone());
        self.faults.clear();
        self.journal.clear();
        // Validated at start-up, so this cannot fail now.
        *self.tool_scopes() = configured_tool_scopes(&self.config).unwrap_or_default();
        self.set_outage_answer(IntrospectionFailure::Unavailable);
        // The public URL and the audiences it had stay: where the server is reachable (a
        // tunnel's URL) is not a failure switch, and a reset must not cut off the client.
        for (_, counter) in self.counters.all() {
            counter.reset();
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        let trusted = self.trusted();
        let first = trusted.first();
        let public = self.public();
        let tool_scopes = self
            .tool_scopes()
            .iter()
            .map(|(tool, scopes)| (tool.clone(), scopes.join(" ")))
            .collect();
        Snapshot {
            service: "mcp".to_owned(),
            resource: public.urls.default_resource(),
            base_url: public.urls.base_url().map(str::to_owned),
            keep_old_audience: public.urls.keep_old_audience(),
            former_audiences: public.urls.former_audiences().to_vec(),
            authorization_server: first
                .map(|checker| checker.server.issuer.clone())
                .unwrap_or_default(),
            introspection_url: first
                .map(|checker| checker.introspector.url().to_owned())
                .unwrap_or_default(),
            authorization_servers: trusted
                .iter()
                .map(|checker| checker.server.clone())
                .collect(),
            toggles: Toggles {
                force_403: self.faults.has_preset(FORCE_403),
            },
            counters: self.counters.snapshot(),
            introspection_failure: self.outage_answer(),
            tool_scopes,
            profile: Profile::clone(&self.profile()),
            migration: self.migration().as_ref().map(|pending| Migration {
                to: pending
                    .to
                    .iter()
                    .map(|checker| checker.server.issuer.clone())
                    .collect(),
                remaining: pending.remaining.load(Ordering::Acquire),
            }),
        }
    }
}

fn configured_tool_scopes(config: &Config) -> Result<BTreeMap<String, Vec<String>>, Error> {
    config
        .tool_scopes
        .iter()
        .map(|(tool, scopes)| {
            check_tool_scopes(tool, scopes, &config.scopes)
                .map(|scopes| (tool.clone(), scopes))
                .map_err(Error::Config)
        })
        .collect()
}
