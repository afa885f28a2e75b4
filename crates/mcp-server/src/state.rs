//! Everything a request handler reads: configuration, the announced URLs, the introspection
//! client, the rmcp service, the tester's fault rules and settings, the journal and the counters.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use sim_http::counter::Counter;
use sim_http::faults::Faults;
use sim_http::journal::Journal;

use crate::Error;
use crate::config::{AuthorizationServer, check_authorization_servers};
use crate::config::{Config, check_tool, check_tool_scopes};
use crate::faults::{FORCE_403, TARGETS};
use crate::introspection::{self, Trusted};
use crate::snapshot::{IntrospectionFailure, Snapshot, Tallies, Toggles};
use crate::tools::Tools;
use crate::urls::PublicUrls;

pub struct State {
    pub config: Config,
    pub urls: PublicUrls,
    /// The scopes a 401 challenge names, space-separated: those every call needs
    /// (`required_scopes`), or all announced scopes when none is required. Naming only what is
    /// needed (least privilege) is what makes a tool's wider scope a step-up rather than
    /// something every client asks for up front.
    pub scope: String,
    /// The authorization servers trusted now; swapped whole by the control plane.
    trusted: RwLock<Trusted>,
    /// The configured ones, kept (with their pooled connections) for a reset.
    configured: Trusted,
    pub service: StreamableHttpService<Tools, NeverSessionManager>,
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
        let urls = PublicUrls::new(&config, port);
        let configured = introspection::trusted(&config.authorization_servers, &config)
            .map_err(Error::Config)?;
        let transport = StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_sse_keep_alive(None)
            .with_allowed_hosts(urls.allowed_hosts().to_vec())
            .with_allowed_origins(urls.allowed_origins().to_vec());
        // Building the router once keeps tool schemas from being generated per request.
        let tools = Tools::new();
        let service = StreamableHttpService::new(
            move || Ok(tools.clone()),
            Arc::new(NeverSessionManager::default()),
            transport,
        );
        Ok(Self {
            scope: if config.required_scopes.is_empty() {
                config.scopes.join(" ")
            } else {
                config.required_scopes.join(" ")
            },
            tool_scopes: Mutex::new(configured_tool_scopes(&config)?),
            journal: Journal::new(config.journal_size),
            config,
            urls,
            trusted: RwLock::new(Arc::clone(&configured)),
            configured,
            service,
            faults: Faults::new(TARGETS),
            outage_unauthorized: AtomicBool::new(false),
            counters: Counters::default(),
        })
    }

    fn tool_scopes(&self) -> MutexGuard<'_, BTreeMap<String, Vec<String>>> {
        // A poisoned lock only means a panic elsewhere mid-update of a plain map.
        self.tool_scopes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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

    /// Back to start-up: no fault rules, no events (numbering goes on), the configured tool
    /// scopes and authorization servers, 503 on an introspection failure, every counter zero.
    pub fn reset(&self) {
        self.swap_trusted(Arc::clone(&self.configured));
        self.faults.clear();
        self.journal.clear();
        // Validated at start-up, so this cannot fail now.
        *self.tool_scopes() = configured_tool_scopes(&self.config).unwrap_or_default();
        self.set_outage_answer(IntrospectionFailure::Unavailable);
        for (_, counter) in self.counters.all() {
            counter.reset();
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        let trusted = self.trusted();
        let first = trusted.first();
        let tool_scopes = self
            .tool_scopes()
            .iter()
            .map(|(tool, scopes)| (tool.clone(), scopes.join(" ")))
            .collect();
        Snapshot {
            service: "mcp".to_owned(),
            resource: self.urls.default_resource(),
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
