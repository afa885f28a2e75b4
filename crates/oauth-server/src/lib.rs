#![warn(missing_docs)]
//! An in-memory OAuth 2.1 authorization server for testing OAuth-protected MCP clients.
//!
//! It is exactly as the specs say (RFC 8414 metadata, RFC 7591 registration, PKCE S256, the code
//! and refresh grants, RFC 7662 introspection, RFC 7009 revocation, RFC 8707 resources, RFC 9207
//! `iss`) until a tester flips a failure on its `/control` plane: refresh-token rotation and reuse
//! detection, a short access-token lifetime, revocation, `invalid_grant`, denied or narrowed
//! consent, a seeded refresh token, a clock moved forward, and fault rules that make any endpoint
//! answer an error, a 429, garbage, late or not at all. `/control/events` records every request.
//!
//! One server hosts several issuers: `main` at the root, others under a path (RFC 8414
//! path-inserted metadata, endpoints under the path) or on a port of their own, each with its
//! own clients, tokens, switches and fault rules; the clock and the journal are shared.
//!
//! Each issuer has a [`Profile`]: where its metadata is discovered (RFC 8414, OIDC
//! path-inserted or path-appended, nowhere), the issuer it declares, an endpoint prefix, the
//! `iss` of its redirects, the scopes it knows and announces, and its registration policy;
//! and may hold [pre-registered clients](PreRegistered). An issuer may also be served on
//! another server's listener ([`AuthServer::cohost`]): the 2025-03-26 layout, where the MCP
//! server's origin is the authorization server's too.
//!
//! # Layout
//! - [`config`]: start-up configuration and its defaults, the issuers beside `main` included.
//! - [`consent`]: the consent mode (automatic or a consent page), the users a grant may be
//!   for, and the pending authorizations a page's decision answers.
//! - [`profile`]: an issuer's discovery, `iss`, scope and registration knobs.
//! - `clients`: pre-registered clients; [`documents`]: clients whose id is the URL of their
//!   client ID metadata document, fetched, validated and cached, and the faults of that fetch.
//! - `host`: the issuers, their listeners and what they share; which issuer a request is for.
//! - `state` / `store`: one issuer's settings, counters and token maps (in memory, swept).
//! - `saved`: an issuer's and the host's state saved for a later process ([`SavedHost`]), with
//!   codes, tokens and secrets as SHA-256 digests only.
//! - `faults`: the endpoints fault rules target, the presets, and the hook each endpoint calls.
//! - `router`: the `match (method, path)`, the log line and the journal event;
//!   `endpoints/*`: one file per endpoint.
//! - `error`: the one mapping from an OAuth error to its HTTP answer.
//! - `pkce`, `redirect_uri`, `client_auth`: the rules each endpoint applies.
//!
//! # Example
//! ```
//! # #[tokio::main]
//! # async fn main() -> Result<(), oauth_server::Error> {
//! // An ephemeral port of 127.0.0.1; the issuer names it `localhost`.
//! let server = oauth_server::AuthServer::start(oauth_server::Config::default()).await?;
//! println!("metadata at {}/.well-known/oauth-authorization-server", server.issuer());
//! assert_eq!(server.issuer(), format!("http://localhost:{}", server.addr().port()));
//! server.stop().await?;
//! # Ok(()) }
//! ```

pub mod config;
pub mod profile;

mod client_auth;
mod clients;
pub mod consent;
pub mod documents;
mod endpoints;
mod error;
mod faults;
mod host;
pub mod jose;
mod pkce;
mod redirect_uri;
mod router;
mod saved;
pub mod snapshot;
mod state;
mod store;
mod trust;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use std::sync::Weak;

use http::Request;
use hyper::body::Incoming;
use sim_http::{AbortOnDrop, Clock, Handle};
use tokio::net::TcpListener;

pub use clients::{MAX_PRE_REGISTERED, PreRegistered, RedirectUris};
pub use config::{Cohost, Config, Fetch, IssuerConfig, Limits, MAIN_ISSUER};
pub use consent::{ConsentMode, User};
pub use error::OAuthError;
pub use profile::{AuthMethod, GrantType, Profile};
pub use saved::{SavedClient, SavedHost, SavedIssuer, SavedKeys, SavedSecret};
pub use snapshot::Snapshot;
pub use state::{Place, ReuseDetection, Toggles};
pub use trust::{AssertionKind, TrustRequest};

use crate::host::{Bound, Host};
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

/// Serves the authorization server on `listener` until `shutdown` completes, then drains.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let (host, bound) = Host::new(config, listener.local_addr()?, Clock::new()).await?;
    run(listener, host, bound, shutdown).await
}

async fn run(
    listener: TcpListener,
    host: Arc<Host>,
    bound: Bound,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let options = host::serve_options(&host.config);
    let port = listener.local_addr()?.port();
    // The sweeper lives exactly as long as serving does.
    let sweeper = AbortOnDrop(tokio::spawn(sweep(Arc::clone(&host))));
    host.serve_bound(bound);
    // Live journal streams never end by themselves: end them as soon as stopping begins, so that
    // draining does not wait for them.
    let stopping = Arc::clone(&host);
    let shutdown = async move {
        shutdown.await;
        stopping.journal.close();
    };
    let serving = Arc::clone(&host);
    let handler = move |request| router::handle(Arc::clone(&serving), port, request);
    let served = sim_http::serve(listener, handler, options, shutdown).await;
    host.stop_listeners().await;
    drop(sweeper);
    Ok(served?)
}

async fn sweep(host: Arc<Host>) {
    let mut ticks = tokio::time::interval(host.config.sweep_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut released_last_time = false;
    loop {
        ticks.tick().await;
        let now = host.clock.now_millis();
        let swept: usize = host
            .issuers()
            .iter()
            .map(|issuer| {
                issuer.trust.sweep(now);
                issuer.store.sweep(now)
            })
            .sum();
        let large = swept >= RELEASE_AFTER;
        // After a large sweep, once more on the next tick: what a burst held besides tokens (its
        // connections, closed once idle past the header-read timeout) is let go of only later.
        if large || released_last_time {
            // Off the runtime's threads: trimming a large heap walks all of it.
            let _ = tokio::task::spawn_blocking(release_freed_memory).await;
        }
        released_last_time = large;
    }
}

/// Entries a sweep must remove before freed memory is handed back to the operating system.
const RELEASE_AFTER: usize = 1024;

/// Hands the heap pages that expired entries occupied back to the operating system. glibc keeps
/// freed memory for reuse, so after a burst of tokens expires the process would otherwise stay
/// at its peak size, which hides from a tester whether the rig really lets go of its state.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release_freed_memory() {
    // SAFETY: malloc_trim only returns glibc's own free pages; it has no preconditions and
    // allocations made meanwhile by other threads are synchronized by glibc's arena locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_freed_memory() {}

/// A running authorization server. Dropping it stops the server; [`AuthServer::stop`] also waits
/// for in-flight requests to finish.
pub struct AuthServer {
    handle: Handle<Host, Error>,
    /// `main`, which is never replaced or removed.
    main: Arc<State>,
}

impl AuthServer {
    /// Starts a server on an ephemeral port of 127.0.0.1.
    pub async fn start(config: Config) -> Result<Self, Error> {
        Self::start_on(sim_http::loopback().await?, config).await
    }

    /// Starts a server on a listener the caller bound.
    pub async fn start_on(listener: TcpListener, config: Config) -> Result<Self, Error> {
        let (host, bound) = Host::new(config, listener.local_addr()?, Clock::new()).await?;
        let main = host.main_issuer();
        let handle = Handle::spawn(listener, host, |listener, host, stop| {
            run(listener, host, bound, stop)
        })?;
        Ok(Self { handle, main })
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.handle.addr()
    }

    /// The default issuer's identifier in force (also the base URL of its endpoints).
    pub fn issuer(&self) -> String {
        self.main.issuer()
    }

    /// Every issuer served now, `main` first: name, issuer URL, port and internal
    /// introspection URL.
    pub fn issuers(&self) -> Vec<Place> {
        self.handle.state().places()
    }

    /// The issuer named `name`, if it is served now.
    pub fn issuer_named(&self, name: &str) -> Option<Place> {
        self.handle
            .state()
            .issuer(name)
            .map(|issuer| issuer.place())
    }

    /// What another server (the MCP server) hands the requests of a co-hosted listener to:
    /// see [`Config::cohosts`].
    pub fn cohost(&self) -> CohostHandler {
        CohostHandler {
            host: Arc::downgrade(self.handle.state()),
        }
    }

    /// Every issuer's clients, codes, tokens, settings, profile and fault rules, for a later
    /// process to [restore](AuthServer::restore): codes, tokens and secrets only as SHA-256
    /// digests. What is left out (the signing keys among others) is listed in [`SavedIssuer`]'s
    /// module.
    pub fn save(&self) -> SavedHost {
        self.handle.state().save()
    }

    /// Puts back what [`AuthServer::save`] saved, issuer by issuer (matched by name), leaving
    /// out what has expired by this server's clock; call it before clients are let in. Answers
    /// one line per saved issuer saying what came back (or that it is not hosted now and was
    /// dropped) and one per thing left out. `Err`, with nothing changed, when `saved` cannot be
    /// read (a key that is not a SHA-256, a client's keys that do not parse).
    pub fn restore(&self, saved: SavedHost) -> Result<Vec<String>, String> {
        self.handle.state().restore(saved)
    }

    /// What saves this server's state, also once it has stopped: a state file is written last
    /// after the in-flight requests finished.
    pub fn saver(&self) -> Saver {
        Saver(Arc::clone(self.handle.state()))
    }

    /// The server's clock, which every issuer shares: move it forward to expire codes and
    /// tokens without waiting.
    pub fn clock(&self) -> &Clock {
        &self.handle.state().clock
    }

    /// Stops accepting, waits for in-flight requests, and returns how serving ended.
    pub async fn stop(self) -> Result<(), Error> {
        self.handle.stop().await
    }
}

/// Saves an [`AuthServer`]'s state ([`AuthServer::saver`]); it keeps the state, not the
/// listeners, alive.
#[derive(Clone)]
pub struct Saver(Arc<Host>);

impl Saver {
    /// As [`AuthServer::save`].
    pub fn save(&self) -> SavedHost {
        self.0.save()
    }

    /// How many requests (control calls that change something included) the server has
    /// journaled: while it stands still, what [`Saver::save`] answers has not changed.
    pub fn activity(&self) -> u64 {
        self.0.journal.recorded()
    }
}

/// Serves the issuers co-hosted on another server's listeners ([`Config::cohosts`]): that
/// server hands it every request it does not route itself. Cheap to clone; it does not keep
/// the authorization server alive.
#[derive(Clone)]
pub struct CohostHandler {
    host: Weak<Host>,
}

impl std::fmt::Debug for CohostHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CohostHandler")
            .field("running", &(self.host.strong_count() > 0))
            .finish()
    }
}

impl CohostHandler {
    /// Answers `request`, which arrived on the cohost listener of `port`: as an issuer
    /// served there would, `404` for anything none serves (the control plane included, which
    /// is only on the authorization server's own listeners). Journaled as an `oauth` event.
    pub async fn handle(&self, port: u16, request: Request<Incoming>) -> sim_http::Response {
        match self.host.upgrade() {
            Some(host) if host.is_cohost(port) => {
                router::handle_cohosted(host, port, request).await
            }
            Some(_) => sim_http::response::not_found(request.uri().path()),
            None => sim_http::response::plain_error(
                http::StatusCode::SERVICE_UNAVAILABLE,
                "the authorization server has stopped",
            ),
        }
    }
}
