#![warn(missing_docs)]
//! An OAuth-protected MCP server for testing OAuth-MCP clients.
//!
//! `POST /mcp` speaks MCP over Streamable HTTP (rmcp, stateless) with three tools, `echo`,
//! `add` and `whoami`. Every request must carry a bearer token (unless the profile lets its
//! JSON-RPC method pass without one), and every token is checked by
//! calling the authorization server's RFC 7662 introspection endpoint over HTTP — nothing is
//! cached, so a revocation or expiry shows on the very next call. Clients discover the
//! authorization server from the 401 challenge and the RFC 9728 protected-resource metadata.
//! A `/control` plane makes it fail on demand — fault rules on the metadata and on `/mcp`
//! (`force-403` is one of them), a 401 instead of a 503 when tokens cannot be checked, scopes a
//! single tool needs (step-up), a profile reshaping discovery and challenges, a switch of
//! authorization servers after N requests, a new public base URL while it runs — and records
//! every request in a journal a test can read or follow.
//!
//! # Layout
//! - [`config`]: start-up configuration and its defaults.
//! - [`profile`]: how discovery is laid out and challenges are shaped (metadata locations,
//!   challenge scope and error, lazy authentication), at start-up and at run time.
//! - [`cohost`]: a server co-hosted on the MCP origin, answering every path the MCP server
//!   does not route itself.
//! - `urls`: the URLs announced (configured, or the loopback name the client used) and the
//!   audiences accepted.
//! - `bearer`, `introspection`: reading the token and checking it with each trusted
//!   authorization server, over [`sim_http::outbound`]'s pooled connections.
//! - `challenge`: the one mapping from a refusal to its RFC 6750 challenge (or 503).
//! - `rpc`: a glance at the JSON-RPC body (method, tool) for the log line and the fault rules.
//! - `faults`: the endpoints fault rules may target, the `force-403` preset, and firing a rule.
//! - [`SavedMcp`] (`saved`): the switches, settings and audiences kept across a restart.
//! - `tools`: the rmcp handler; `state`: fault rules, settings, the journal and the counters.
//! - `router`: the `match (method, path)`, the log line and the journal event;
//!   `endpoints/*`: one file per endpoint.
//!
//! # Example
//! ```
//! # #[tokio::main]
//! # async fn main() -> Result<(), mcp_server::Error> {
//! // Nothing needs to listen at the authorization server's URLs until a token is presented.
//! let config = mcp_server::Config {
//!     authorization_servers: vec![mcp_server::AuthorizationServer::new(
//!         "http://localhost:9100",
//!         "http://127.0.0.1:9100/introspect",
//!     )],
//!     ..mcp_server::Config::default()
//! };
//! let server = mcp_server::McpServer::start(config).await?;
//! println!("point your client at {}", server.url());
//! assert_eq!(server.url(), format!("http://localhost:{}/mcp", server.addr().port()));
//! server.stop().await?;
//! # Ok(()) }
//! ```

pub mod cohost;
pub mod config;
pub mod profile;

mod bearer;
mod challenge;
mod endpoints;
mod faults;
mod introspection;
mod router;
mod rpc;
mod saved;
pub mod snapshot;
mod state;
mod tools;
mod urls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sim_http::{AbortOnDrop, Handle, ServeOptions};
use tokio::net::TcpListener;

pub use cohost::Cohost;
pub use config::{AuthorizationServer, Config, MCP_PATH};
pub use introspection::Identity;
pub use profile::Profile;
pub use saved::{SavedFault, SavedMcp};
pub use snapshot::{IntrospectionFailure, Migration, Snapshot};
pub use tools::TOOL_NAMES;
pub use urls::{PRM_PATH, PRM_ROOT_PATH};

use crate::state::State;

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid; the text says which setting and why.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Binding, reading the address of, or serving on a listener failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Serves the MCP server on `listener` until `shutdown` completes, then drains.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let state = prepare(&listener, config)?;
    run(listener, state, shutdown).await
}

fn prepare(listener: &TcpListener, config: Config) -> Result<Arc<State>, Error> {
    config.validate()?;
    Ok(Arc::new(State::new(config, listener.local_addr()?.port())?))
}

async fn run(
    listener: TcpListener,
    state: Arc<State>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let options = ServeOptions {
        tls: state.config.tls.clone(),
        max_connections: state.config.max_connections,
        ..ServeOptions::default()
    };
    // Open event streams never end by themselves: close them as soon as the server is told to
    // stop, so that the drain does not wait for them.
    let journal_owner = Arc::clone(&state);
    let shutdown = async move {
        shutdown.await;
        journal_owner.journal.close();
    };
    let pruner = AbortOnDrop(tokio::spawn(forget_closed_connections(Arc::clone(&state))));
    let handler = move |request| router::handle(Arc::clone(&state), request);
    let served = sim_http::serve(listener, handler, options, shutdown).await;
    drop(pruner);
    Ok(served?)
}

/// How often the introspection link forgets the connections the authorization server closed.
const PRUNE_EVERY: Duration = Duration::from_secs(5);

async fn forget_closed_connections(state: Arc<State>) {
    let mut ticks = tokio::time::interval(PRUNE_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        state.forget_closed_connections();
    }
}

/// A running MCP server. Dropping it stops the server; [`McpServer::stop`] also waits for
/// in-flight requests to finish.
pub struct McpServer(Handle<State, Error>);

impl McpServer {
    /// Starts a server on an ephemeral port of 127.0.0.1.
    pub async fn start(config: Config) -> Result<Self, Error> {
        Self::start_on(sim_http::loopback().await?, config).await
    }

    /// Starts a server on a listener the caller bound.
    pub async fn start_on(listener: TcpListener, config: Config) -> Result<Self, Error> {
        let state = prepare(&listener, config)?;
        Ok(Self(Handle::spawn(listener, state, run)?))
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.0.addr()
    }

    /// The MCP URL to give a client: `<base URL>/mcp`, which is also the resource identifier.
    pub fn url(&self) -> String {
        self.0.state().public().urls.default_resource()
    }

    /// Re-points the server, as `POST /control/base-url` does: from the next request on it
    /// answers as `base_url` (an `http(s)` origin; `None`: the loopback name the client used) —
    /// the metadata's `resource`, the challenges' `resource_metadata`, the hosts and origins
    /// rmcp allows and the audiences accepted all change at once. With `keep_old_audience`,
    /// tokens for the URL left stay accepted. Answers the new state; an invalid URL changes
    /// nothing and the error says why.
    pub fn set_base_url(
        &self,
        base_url: Option<&str>,
        keep_old_audience: bool,
    ) -> Result<Snapshot, String> {
        let state = self.0.state();
        state.repoint(base_url, keep_old_audience)?;
        Ok(state.snapshot())
    }

    /// The switches, settings and audiences to keep across a restart (see [`SavedMcp`]).
    pub fn save(&self) -> SavedMcp {
        self.0.state().save()
    }

    /// Brings back what [`McpServer::save`] kept, normally right after start-up: the profile,
    /// tool scopes, fault rules and introspection-failure mode replace today's, and the saved
    /// audiences are accepted as former ones if `keep_old_audience` was on. The URLs stay as
    /// configured. On an error nothing changes; the error names the entry.
    pub fn restore(&self, saved: SavedMcp) -> Result<(), String> {
        self.0.state().restore(saved)
    }

    /// What saves this server's switches, also once it has stopped (see
    /// [`McpServer::save`]).
    pub fn saver(&self) -> Saver {
        Saver(Arc::clone(self.0.state()))
    }

    /// Stops accepting, waits for in-flight requests, and returns how serving ended.
    pub async fn stop(self) -> Result<(), Error> {
        self.0.stop().await
    }
}

/// Saves an [`McpServer`]'s switches ([`McpServer::saver`]); it keeps the state, not the
/// listener, alive.
#[derive(Clone)]
pub struct Saver(Arc<State>);

impl Saver {
    /// As [`McpServer::save`].
    pub fn save(&self) -> SavedMcp {
        self.0.save()
    }

    /// How many requests (control calls that change something included) the server has
    /// journaled: while it stands still, what [`Saver::save`] answers has not changed.
    pub fn activity(&self) -> u64 {
        self.0.journal.recorded()
    }
}
