//! Everything a request handler reads: configuration, the announced URLs, the introspection
//! client, the rmcp service, the tester's toggles and the counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::{Value, json};

use crate::Error;
use crate::config::Config;
use crate::introspection::Introspector;
use crate::tools::Tools;
use crate::urls::PublicUrls;

pub struct State {
    pub config: Config,
    pub urls: PublicUrls,
    /// The scopes as they go into challenges and metadata, space-separated.
    pub scope: String,
    pub introspector: Introspector,
    pub service: StreamableHttpService<Tools, NeverSessionManager>,
    pub toggles: Toggles,
    pub counters: Counters,
}

/// The failure switches of the MCP server.
#[derive(Debug, Default)]
pub struct Toggles {
    /// Every `tools/call` answers 403 `insufficient_scope`.
    pub force_403: AtomicBool,
}

/// What happened since start-up or the last reset, for assertions.
#[derive(Debug, Default)]
pub struct Counters {
    /// Requests to `/mcp`.
    pub requests: AtomicU64,
    pub unauthorized: AtomicU64,
    pub bad_requests: AtomicU64,
    pub forbidden: AtomicU64,
    pub unavailable: AtomicU64,
    pub introspections: AtomicU64,
    pub introspection_failures: AtomicU64,
    /// `tools/call` requests that reached the tools.
    pub tool_calls: AtomicU64,
}

impl Counters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn all(&self) -> [(&'static str, &AtomicU64); 8] {
        [
            ("requests", &self.requests),
            ("unauthorized", &self.unauthorized),
            ("bad_requests", &self.bad_requests),
            ("forbidden", &self.forbidden),
            ("unavailable", &self.unavailable),
            ("introspections", &self.introspections),
            ("introspection_failures", &self.introspection_failures),
            ("tool_calls", &self.tool_calls),
        ]
    }
}

impl State {
    pub fn new(config: Config, port: u16) -> Result<Self, Error> {
        let urls = PublicUrls::new(&config, port);
        let introspector = Introspector::new(&config)?;
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
            scope: config.scopes.join(" "),
            config,
            urls,
            introspector,
            service,
            toggles: Toggles::default(),
            counters: Counters::default(),
        })
    }

    pub fn force_403(&self) -> bool {
        self.toggles.force_403.load(Ordering::Relaxed)
    }

    pub fn reset(&self) {
        self.toggles.force_403.store(false, Ordering::Relaxed);
        for (_, counter) in self.counters.all() {
            counter.store(0, Ordering::Relaxed);
        }
    }

    pub fn snapshot(&self) -> Value {
        let counters: serde_json::Map<String, Value> = self
            .counters
            .all()
            .into_iter()
            .map(|(name, counter)| (name.to_owned(), counter.load(Ordering::Relaxed).into()))
            .collect();
        json!({
            "service": "mcp",
            "resource": self.urls.default_resource(),
            "authorization_server": self.config.authorization_server,
            "introspection_url": self.introspector.url(),
            "toggles": { "force_403": self.force_403() },
            "counters": counters,
        })
    }
}
