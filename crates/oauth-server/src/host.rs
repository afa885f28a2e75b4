//! The server process: the issuers it hosts, the listeners they are served on, and what they
//! share — the clock, the journal, the start-up configuration.
//!
//! An issuer is found from the port a request arrived on and its path: metadata at
//! `/.well-known/oauth-authorization-server{path}` (RFC 8414 §3.1, path inserted) or the OIDC
//! forms its profile turns on, and endpoints at `{path}{prefix}/{endpoint}` (the prefix of its
//! profile; `introspect` always at `{path}/introspect`). `main` is at the root of the main
//! listener; others sit under a path of it or on a port of their own, which is bound when the
//! issuer is added and closed when the last issuer on it goes — unless the port is a cohost's,
//! a listener another server owns and hands requests from. Nothing one issuer holds is known to
//! another.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock, Weak};

use sim_http::fetch::Fetcher;
use sim_http::journal::Journal;
use sim_http::outbound::Connector;
use sim_http::{Clock, Running, ServeOptions, public_url};
use tokio::net::TcpListener;

use crate::Error;
use crate::clients::PreRegistered;
use crate::config::{Config, IssuerConfig, MAIN_ISSUER, MAX_ISSUERS};
use crate::endpoints::{decision, metadata};
use crate::profile::{MetadataLocation, Profile};
use crate::router;
use crate::state::{Place, Setup, State};
use crate::trust::TrustRequest;

/// Everything the issuers of one server share.
pub struct Host {
    pub config: Config,
    pub clock: Clock,
    /// What each request did, to every issuer, for `/control/events`.
    pub journal: Journal,
    /// The main listener's address: `main` is served there, and run-time listeners bind its IP.
    main: SocketAddr,
    /// The issuers, `main` first, in the order they were added. A lock rather than a concurrent
    /// map: it is read once per request, changed only by the control plane, and never held
    /// across an `.await`.
    issuers: RwLock<Vec<Arc<State>>>,
    /// The listeners beside the main one, by port; dropping one stops it.
    listeners: Mutex<HashMap<u16, Running<io::Error>>>,
    /// The public origins set at run time for listeners other than the main one (whose origin
    /// is `main`'s issuer), by port: what an issuer added there later is based on.
    origins: Mutex<HashMap<u16, String>>,
    /// This host, for the handlers of listeners bound at run time: weak, so that a listener
    /// does not keep the host alive after the server has stopped.
    this: Weak<Host>,
    /// The one fetcher of client ID metadata documents, shared by every issuer.
    fetcher: Fetcher,
}

/// A listener bound for an issuer at start-up, served once the server runs.
pub struct Bound(Vec<TcpListener>);

impl Host {
    /// The host of a checked `config` served on `main`, with its start-up issuers; the
    /// listeners they need beyond the main one are bound here, so that a port in use is a
    /// start-up error.
    pub async fn new(
        config: Config,
        main: SocketAddr,
        clock: Clock,
    ) -> Result<(Arc<Self>, Bound), Error> {
        config.validate()?;
        let main_issuer = config.resolve_issuer(main.port())?;
        let journal = Journal::new(config.journal_size);
        let fetcher = Fetcher::new(
            Connector::new(config.fetch.roots.clone()),
            config.fetch.policy.clone(),
        );
        let host = Arc::new_cyclic(|this| Self {
            config,
            clock,
            journal,
            main,
            issuers: RwLock::new(Vec::new()),
            listeners: Mutex::new(HashMap::new()),
            origins: Mutex::new(HashMap::new()),
            this: this.clone(),
            fetcher,
        });
        let place = host.place(
            MAIN_ISSUER.to_owned(),
            main_issuer,
            String::new(),
            main.port(),
        );
        let profile = host.config.profile.clone();
        State::fits(&place, false, &profile).map_err(Error::Config)?;
        let clients = host.config.clients.clone();
        let trusted = host.config.assertion_issuers.clone();
        let state = host.issuer_state(place, profile, (clients, trusted), false);
        host.write().push(state);
        let mut bound = Vec::new();
        for issuer in host.config.issuers.clone() {
            if let Some(listener) = host.add_issuer(&issuer, false).await? {
                bound.push(listener);
            }
        }
        Ok((host, Bound(bound)))
    }

    /// Serves the listeners bound at start-up.
    pub fn serve_bound(&self, bound: Bound) {
        for listener in bound.0 {
            self.serve_listener(listener);
        }
    }

    /// Stops every listener beside the main one, letting in-flight requests finish.
    pub async fn stop_listeners(&self) {
        let listeners: Vec<_> = self
            .lock_listeners()
            .drain()
            .map(|(_, running)| running)
            .collect();
        for running in listeners {
            let _ = running.stop().await;
        }
    }

    /// The issuer a request on `port` for `path` is for, and the endpoint path within it
    /// (`/token`, or [`metadata::PATH`], [`metadata::OIDC`], [`metadata::JWKS`]). A metadata
    /// location its profile does not serve, and an endpoint away from where its profile puts
    /// it, is no issuer's: 404. A few string comparisons per issuer, under one read lock.
    pub fn resolve<'p>(&self, port: u16, path: &'p str) -> Option<(Arc<State>, &'p str)> {
        let issuers = self.read();
        let on_port = || issuers.iter().filter(|issuer| issuer.place.port == port);
        let find =
            |wanted: &dyn Fn(&State) -> bool| on_port().find(|issuer| wanted(issuer)).cloned();
        if let Some(rest) = path.strip_prefix(metadata::PATH) {
            let issuer = find(&|issuer| {
                issuer.place.path == rest && issuer.live().profile.serves(MetadataLocation::Oauth)
            });
            return issuer.map(|issuer| (issuer, metadata::PATH));
        }
        let inserted = path.strip_prefix(metadata::OIDC);
        let appended = path.strip_suffix(metadata::OIDC);
        if inserted.is_some() || appended.is_some() {
            let issuer = find(&|issuer| {
                let profile = &issuer.live().profile;
                (inserted == Some(issuer.place.path.as_str())
                    && profile.serves(MetadataLocation::OidcInserted))
                    || (appended == Some(issuer.place.path.as_str())
                        && profile.serves(MetadataLocation::OidcAppended))
            });
            return issuer.map(|issuer| (issuer, metadata::OIDC));
        }
        if let Some(base) = path.strip_suffix(metadata::JWKS) {
            let issuer = find(&|issuer| issuer.place.path == base);
            return issuer.map(|issuer| (issuer, metadata::JWKS));
        }
        // The consent page's decision goes beside the authorization endpoint, wherever it is.
        let (base, endpoint) = match path.strip_suffix(decision::PATH) {
            Some(base) => path.split_at(base.len()),
            None => path.split_at(path.rfind('/')?),
        };
        let moved = matches!(
            endpoint,
            "/authorize" | decision::PATH | "/token" | "/register" | "/revoke"
        );
        let issuer = find(&|issuer| {
            let own = issuer.place.path.as_str();
            if !moved {
                return own == base;
            }
            let live = issuer.live();
            let prefix = live.profile.prefix();
            base.len() == own.len() + prefix.len()
                && base.starts_with(own)
                && base.ends_with(prefix)
        })?;
        Some((issuer, endpoint))
    }

    /// Whether `port` is a cohost's: a listener another server owns.
    pub fn is_cohost(&self, port: u16) -> bool {
        self.config.cohosts.iter().any(|cohost| cohost.port == port)
    }

    /// Checks and merges `patch` into `state`'s profile, then puts it in force: nothing changes
    /// unless the whole patch is valid, the issuer stays discoverable, and its endpoints do not
    /// land where another issuer's are.
    pub fn change_profile(&self, state: &State, patch: serde_json::Value) -> Result<(), String> {
        let mut profile = state.live().profile.clone();
        profile.merge(patch, &state.configured)?;
        if profile.scopes.is_none() {
            profile.scopes = state.configured.scopes.clone();
        }
        State::fits(&state.place, state.cohosted, &profile)?;
        // Under the write lock, so that an issuer added meanwhile is checked against too.
        let issuers = self.write();
        check_routes(&issuers, &state.place, &profile)?;
        state.set_profile(profile);
        Ok(())
    }

    /// The issuer named `name`.
    pub fn issuer(&self, name: &str) -> Option<Arc<State>> {
        self.read()
            .iter()
            .find(|issuer| issuer.place.name == name)
            .cloned()
    }

    /// The default issuer, `main`, which is never removed.
    pub fn main_issuer(&self) -> Arc<State> {
        Arc::clone(&self.read()[0])
    }

    /// Every issuer, `main` first.
    pub fn issuers(&self) -> Vec<Arc<State>> {
        self.read().clone()
    }

    /// Where each issuer is, `main` first.
    pub fn places(&self) -> Vec<Place> {
        self.read().iter().map(|issuer| issuer.place()).collect()
    }

    /// Adds an issuer at run time, binding (and serving) its port if it needs one.
    pub async fn add(&self, issuer: &IssuerConfig) -> Result<Place, String> {
        issuer.validate()?;
        let listener = self
            .add_issuer(issuer, true)
            .await
            .map_err(|error| error.to_string())?;
        if let Some(listener) = listener {
            self.serve_listener(listener);
        }
        self.issuer(&issuer.name)
            .map(|added| added.place())
            .ok_or_else(|| format!("issuer '{}' was removed meanwhile", issuer.name))
    }

    /// Removes an issuer and forgets all it held; its port is closed if no issuer is left on it.
    pub async fn remove(&self, name: &str) -> Result<Place, String> {
        if name == MAIN_ISSUER {
            return Err(format!(
                "'{MAIN_ISSUER}' is the default issuer and cannot be removed"
            ));
        }
        let removed = {
            let mut issuers = self.write();
            let index = issuers
                .iter()
                .position(|issuer| issuer.place.name == name)
                .ok_or_else(|| format!("no issuer is named '{name}'"))?;
            issuers.remove(index)
        };
        let port = removed.place.port;
        let idle =
            port != self.main.port() && !self.read().iter().any(|issuer| issuer.place.port == port);
        let running = if idle {
            self.lock_listeners().remove(&port)
        } else {
            None
        };
        if let Some(running) = running {
            let _ = running.stop().await;
        }
        Ok(removed.place())
    }

    /// Re-points the issuers served on `port` (the main listener's when `None`) to the public
    /// base URL `base_url`, as when a tunnel in front of that listener got a new URL; `None`
    /// means no public URL any more: `http(s)://localhost:PORT`. On the main listener `main` becomes `base_url` itself and
    /// every other issuer there its origin plus the issuer's path; on another listener every
    /// issuer becomes the origin plus its path. Only the URLs change, at once and together;
    /// every client, code, token, switch and fault rule stays. Answers the issuers re-pointed.
    pub fn set_base_url(
        &self,
        port: Option<u16>,
        base_url: Option<&str>,
    ) -> Result<Vec<Place>, String> {
        let port = port.unwrap_or(self.main.port());
        let on_port: Vec<Arc<State>> = self
            .read()
            .iter()
            .filter(|issuer| issuer.place.port == port)
            .cloned()
            .collect();
        if on_port.is_empty() {
            return Err(format!("no issuer is served on port {port}"));
        }
        let main_url = match base_url {
            Some(url) => {
                let url = url.trim_end_matches('/');
                public_url::parse("base_url", url)?;
                url.to_owned()
            }
            // No public URL: the loopback name, as a start-up without a base URL has.
            None => format!("{}://localhost:{port}", self.scheme()),
        };
        let origin = url::Url::parse(&main_url)
            .map(|url| url.origin().ascii_serialization())
            .map_err(|error| format!("base_url '{main_url}' is not a URL: {error}"))?;
        let mut origins = self.lock_origins();
        for issuer in &on_port {
            let url = if issuer.place.name == MAIN_ISSUER {
                main_url.clone()
            } else {
                format!("{origin}{}", issuer.place.path)
            };
            issuer.set_issuer(url);
        }
        // What an issuer added to this listener later is based on.
        if base_url.is_some() {
            origins.insert(port, origin);
        } else {
            origins.remove(&port);
        }
        drop(origins);
        tracing::info!(
            target: "mcp_oauth_sim::oauth",
            "issuers on port {port} re-pointed to {main_url}"
        );
        Ok(on_port.iter().map(|issuer| issuer.place()).collect())
    }

    /// From now on client ID metadata documents and key sets are fetched from public addresses
    /// only (and those the policy allows), as at a start-up reachable from outside.
    pub fn confine_fetches(&self) {
        self.fetcher.confine();
    }

    /// Back to start-up: the start-up issuers only, each reset; the journal emptied (numbering
    /// goes on); the clock on system time.
    pub async fn reset(&self) -> Result<(), String> {
        let configured: Vec<&str> = self
            .config
            .issuers
            .iter()
            .map(|issuer| issuer.name.as_str())
            .collect();
        let added: Vec<String> = self
            .read()
            .iter()
            .map(|issuer| issuer.place.name.clone())
            .filter(|name| name != MAIN_ISSUER && !configured.contains(&name.as_str()))
            .collect();
        for name in added {
            self.remove(&name).await?;
        }
        let missing: Vec<IssuerConfig> = self
            .config
            .issuers
            .iter()
            .filter(|issuer| self.issuer(&issuer.name).is_none())
            .cloned()
            .collect();
        for issuer in missing {
            self.add(&issuer).await?;
        }
        for issuer in self.issuers() {
            issuer.reset();
        }
        self.journal.clear();
        self.clock.reset();
        Ok(())
    }

    /// Registers `issuer`, binding its port first when it has one of its own; the listener is
    /// returned for the caller to serve.
    async fn add_issuer(
        &self,
        issuer: &IssuerConfig,
        at_run_time: bool,
    ) -> Result<Option<TcpListener>, Error> {
        if self.read().len() >= MAX_ISSUERS {
            return Err(Error::Config(format!(
                "at most {MAX_ISSUERS} issuers, '{MAIN_ISSUER}' included"
            )));
        }
        if self.issuer(&issuer.name).is_some() {
            return Err(Error::Config(format!(
                "an issuer is already named '{}'",
                issuer.name
            )));
        }
        let wanted = issuer.port.filter(|port| *port != self.main.port());
        let cohost = wanted.and_then(|port| {
            self.config
                .cohosts
                .iter()
                .find(|cohost| cohost.port == port)
        });
        let (port, listener) = match wanted {
            None => (self.main.port(), None),
            // Another server owns the listener and hands its requests over.
            Some(port) if cohost.is_some() => (port, None),
            // A port another issuer is served on already (bound now, or at start-up and not
            // served yet) is shared, not bound twice.
            Some(port) if port != 0 && self.read().iter().any(|other| other.place.port == port) => {
                (port, None)
            }
            Some(port) => {
                let listener = TcpListener::bind(SocketAddr::new(self.main.ip(), port))
                    .await
                    .map_err(|error| {
                        Error::Config(format!(
                            "issuer '{}': cannot listen on port {port}: {error}",
                            issuer.name
                        ))
                    })?;
                (listener.local_addr()?.port(), Some(listener))
            }
        };
        let re_pointed = self.lock_origins().get(&port).cloned();
        let issuer_url = match (wanted, re_pointed, cohost) {
            (None, _, _) => format!("{}{}", self.main_origin(), issuer.path),
            (Some(_), Some(origin), _) => format!("{origin}{}", issuer.path),
            (Some(_), None, Some(cohost)) => format!("{}{}", cohost.origin, issuer.path),
            (Some(_), None, None) => {
                format!("{}://localhost:{port}{}", self.scheme(), issuer.path)
            }
        };
        let mut place = self.place(issuer.name.clone(), issuer_url, issuer.path.clone(), port);
        if let Some(cohost) = cohost {
            // The other server's listener, on this machine, with the scheme of its origin.
            let scheme = cohost.origin.split(':').next().unwrap_or("http");
            let internal = SocketAddr::new(loopback_for(self.main.ip()), port);
            place.introspection_url = format!("{scheme}://{internal}{}/introspect", issuer.path);
        }
        let profile = issuer.profile.clone().unwrap_or_default();
        let refused = |why: String| Error::Config(format!("issuer '{}': {why}", issuer.name));
        State::fits(&place, cohost.is_some(), &profile).map_err(refused)?;
        let startup = (issuer.clients.clone(), issuer.assertion_issuers.clone());
        let state = self.issuer_state(place, profile, startup, cohost.is_some());
        {
            let mut issuers = self.write();
            if let Some(twin) = issuers
                .iter()
                .find(|other| other.place.port == port && other.place.path == issuer.path)
            {
                return Err(Error::Config(format!(
                    "issuer '{}' would be served where '{}' is (port {port}, path '{}')",
                    issuer.name, twin.place.name, issuer.path
                )));
            }
            check_routes(&issuers, &state.place, &state.live().profile).map_err(Error::Config)?;
            issuers.push(state);
        }
        if at_run_time {
            tracing::info!(target: "mcp_oauth_sim::oauth", "issuer '{}' added", issuer.name);
        }
        Ok(listener)
    }

    /// An issuer's state, with what it gets back after every reset: its pre-registered
    /// clients and trusted assertion issuers.
    fn issuer_state(
        &self,
        place: Place,
        profile: Profile,
        (clients, assertion_issuers): (Vec<PreRegistered>, Vec<TrustRequest>),
        cohosted: bool,
    ) -> Arc<State> {
        let setup = Setup {
            profile,
            clients,
            assertion_issuers,
            cohosted,
            fetcher: self.fetcher.clone(),
            host: self.this.clone(),
        };
        Arc::new(State::with(
            place,
            self.config.clone(),
            self.clock.clone(),
            setup,
        ))
    }

    fn place(&self, name: String, issuer: String, path: String, port: u16) -> Place {
        let internal = SocketAddr::new(loopback_for(self.main.ip()), port);
        Place {
            introspection_url: format!("{}://{internal}{path}/introspect", self.scheme()),
            name,
            issuer,
            path,
            port,
        }
    }

    /// The scheme and authority of `main`'s issuer: path issuers on the main listener extend it.
    fn main_origin(&self) -> String {
        let main = self.main_issuer().issuer();
        match url::Url::parse(&main) {
            Ok(url) => url.origin().ascii_serialization(),
            Err(_) => main,
        }
    }

    fn scheme(&self) -> &'static str {
        if self.config.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    fn serve_listener(&self, listener: TcpListener) {
        let Ok(port) = listener.local_addr().map(|addr| addr.port()) else {
            return;
        };
        let options = serve_options(&self.config);
        let host = self.this.clone();
        let handler = move |request| {
            let host = host.upgrade();
            async move {
                match host {
                    Some(host) => router::handle(host, port, request).await,
                    None => sim_http::response::plain_error(
                        http::StatusCode::SERVICE_UNAVAILABLE,
                        "the authorization server is stopping",
                    ),
                }
            }
        };
        let running = Running::spawn(|stop| sim_http::serve(listener, handler, options, stop));
        self.lock_listeners().insert(port, running);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<State>>> {
        // A poisoned lock only means a panic elsewhere mid-update of a plain list.
        self.issuers
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Arc<State>>> {
        self.issuers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_origins(&self) -> std::sync::MutexGuard<'_, HashMap<u16, String>> {
        // A poisoned lock only means a panic elsewhere mid-insert into a plain map.
        self.origins
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_listeners(&self) -> std::sync::MutexGuard<'_, HashMap<u16, Running<io::Error>>> {
        self.listeners
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// How every listener of the server is served.
pub fn serve_options(config: &Config) -> ServeOptions {
    ServeOptions {
        tls: config.tls.clone(),
        max_connections: config.limits.max_connections,
        ..ServeOptions::default()
    }
}

/// Refuses a profile whose endpoint base (`{path}{prefix}`) or path is another issuer's on the
/// same port: a request there could not tell which issuer it is for.
fn check_routes(issuers: &[Arc<State>], place: &Place, profile: &Profile) -> Result<(), String> {
    let bases = |path: &str, prefix: &str| [path.to_owned(), format!("{path}{prefix}")];
    let mine = bases(&place.path, profile.prefix());
    for other in issuers {
        if other.place.port != place.port || other.place.name == place.name {
            continue;
        }
        let theirs = bases(&other.place.path, other.live().profile.prefix());
        if mine.iter().any(|base| theirs.contains(base)) {
            return Err(format!(
                "issuer '{}' would be served where '{}' is (port {}, '{}' or '{}')",
                place.name, other.place.name, place.port, mine[0], mine[1]
            ));
        }
    }
    Ok(())
}

/// The address this machine reaches a listener bound to `ip` at: loopback for a wildcard.
fn loopback_for(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    }
}
