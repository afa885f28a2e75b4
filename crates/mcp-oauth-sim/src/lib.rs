#![warn(missing_docs)]
//! mcp-oauth-sim: an OAuth 2.1 authorization server and an OAuth-protected MCP server, started
//! together, for testing OAuth-MCP clients against failures a real provider will not produce on
//! demand.
//!
//! The binary (`cargo run --release`) starts both on ports 9100 and 9101. This library starts the
//! same rig inside a test, on ephemeral ports, and hands back a [`Control`] client for its
//! failure switches:
//!
//! ```
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = mcp_oauth_sim::Sim::builder().start().await?;
//! // Point the client under test at sim.mcp_url(); it discovers everything else.
//! sim.control().rotate_refresh_tokens(true).await?;
//! // ... drive the client; here, its first request, which has no token yet ...
//! let http = reqwest::Client::builder().no_proxy().build()?;
//! let first = http.post(sim.mcp_url()).send().await?;
//! assert_eq!(first.status(), 401); // with the challenge that leads to the issuer
//! let state = sim.control().mcp_state().await?;
//! assert_eq!(state.counters.unauthorized, 1);
//! sim.stop().await?;
//! # Ok(()) }
//! ```
//!
//! `examples/` holds whole programs (a full client flow, fault rules and the journal, HTTPS,
//! each server alone), which the test suite runs.
//!
//! # Layout
//! - [`settings`]: what the rig is started with, and the rules that turn it into the two servers'
//!   configurations (URLs, trust, control guard).
//! - [`certs`]: the local CA and loopback leaf behind `mcp-oauth-sim certs` and [`SimBuilder::https`].
//! - [`control`]: the typed control-plane client, shared by the `scenario` command and tests:
//!   switches, fault rules, the clock, the journal and its live stream.
//! - [`dashboard`]: the third listener ([`Sim::dashboard_url`]): a page that flips every
//!   scenario through [`Control`] and draws both journals live.

pub mod certs;
pub mod control;
pub mod dashboard;
pub mod flags;
pub mod settings;
pub mod state_file;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use mcp_server::McpServer;
use oauth_server::AuthServer;
use tokio::net::TcpListener;

pub use control::{
    Control, ControlError, Event, Fault, IntrospectionFailure, McpState, OAuthState, Respond,
    RigState, Scenario, Service,
};
pub use settings::{LaunchError, Settings, TlsSource};

type Tweak<C> = Arc<dyn Fn(&mut C) + Send + Sync>;

/// Both servers, running. Dropping it stops them; [`Sim::stop`] also lets in-flight requests
/// finish.
pub struct Sim {
    auth: AuthServer,
    mcp: McpServer,
    control: Control,
    dashboard: dashboard::Dashboard,
    mcp_url: String,
    introspection_url: String,
    scheme: &'static str,
    control_token: Option<(String, bool)>,
    ca_pem: Option<String>,
    /// Where the state is kept, and its writer; `None` without `STATE_FILE`.
    state_file: Option<StateFile>,
}

/// The state file of a running rig: [`state_file::WRITE_EVERY`] a task writes it if anything
/// changed, and [`Sim::stop`] writes it last.
struct StateFile {
    path: std::path::PathBuf,
    savers: Savers,
    /// What the restore at start said, for the log.
    notes: Vec<String>,
    writer: tokio::task::JoinHandle<()>,
}

/// What reads both servers' state for the file, also once they have stopped.
#[derive(Clone)]
struct Savers {
    oauth: oauth_server::Saver,
    mcp: mcp_server::Saver,
    clock: sim_http::Clock,
    /// Held while a write reads the state and replaces the file. Writes overlap otherwise: the
    /// periodic writer's blocking task runs on after [`Sim::stop`] aborts it, and both would
    /// fill the same temporary file, interleaved. Held across the read too, so the last write
    /// to finish holds the latest state.
    writing: Arc<std::sync::Mutex<()>>,
}

impl Savers {
    /// Both servers' journal counts: while they stand still, nothing was changed (every
    /// request, and every control call that changes something, is journaled).
    fn activity(&self) -> (u64, u64) {
        (self.oauth.activity(), self.mcp.activity())
    }

    fn save(&self) -> state_file::Saved {
        state_file::Saved::new(
            self.clock.offset_millis(),
            self.oauth.save(),
            self.mcp.save(),
        )
    }

    /// Writes the file unless what it would hold is `written` (what the last write held, but
    /// its time stamp); answers what the file holds now, that way.
    fn write_if_changed(&self, path: &std::path::Path, written: &[u8]) -> std::io::Result<Vec<u8>> {
        let _writing = self
            .writing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let saved = self.save();
        let unstamped = serde_json::to_vec(&(&saved.clock_offset_ms, &saved.oauth, &saved.mcp))
            .map_err(std::io::Error::other)?;
        if unstamped != written {
            state_file::write(path, &saved)?;
        }
        Ok(unstamped)
    }
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("issuer", &self.issuer())
            .field("mcp_url", &self.mcp_url)
            .finish_non_exhaustive()
    }
}

impl Sim {
    /// A rig for tests: 127.0.0.1, ephemeral ports, plain HTTP, the binary's other defaults.
    pub fn builder() -> SimBuilder {
        SimBuilder {
            settings: Settings {
                oauth_port: 0,
                mcp_port: 0,
                dashboard_port: 0,
                ..Settings::default()
            },
            oauth_tweak: None,
            mcp_tweak: None,
            bad_issuer: None,
        }
    }

    /// Starts both servers with `settings`, as the binary does.
    pub async fn start(settings: Settings) -> Result<Self, LaunchError> {
        Self::start_tweaked(settings, None, None).await
    }

    async fn start_tweaked(
        settings: Settings,
        oauth_tweak: Option<Tweak<oauth_server::Config>>,
        mcp_tweak: Option<Tweak<mcp_server::Config>>,
    ) -> Result<Self, LaunchError> {
        let prepared = settings.prepare()?;
        let oauth_listener = listen(settings.bind, settings.oauth_port, "OAUTH_PORT").await?;
        let mcp_listener = listen(settings.bind, settings.mcp_port, "MCP_PORT").await?;
        let dashboard_listener =
            listen(settings.bind, settings.dashboard_port, "DASHBOARD_PORT").await?;
        let oauth_addr = oauth_listener.local_addr()?;
        let mcp_port = mcp_listener.local_addr()?.port();
        let scopes = settings.announced_scopes();

        let mut oauth = oauth_server::Config {
            issuer: settings.oauth_base_url.clone(),
            scopes: scopes.clone(),
            journal_size: settings.journal_size,
            access_token_ttl: settings.token_ttl,
            seed_refresh_token: settings.seed_refresh_token.clone(),
            issuers: settings.issuers.clone(),
            profile: settings.oauth_profile.clone(),
            clients: settings.clients.clone(),
            consent: settings.consent,
            users: settings.users.clone(),
            assertion_issuers: settings.assertion_issuers.clone(),
            // The MCP server hands the AS what it does not serve itself, so an issuer on its
            // port lives on the MCP origin (the 2025-03-26 layout).
            cohosts: vec![oauth_server::Cohost {
                port: mcp_port,
                origin: settings.mcp_origin(mcp_port),
            }],
            control: prepared.control.clone(),
            tls: prepared.tls.clone(),
            fetch: prepared.fetch.clone(),
            limits: oauth_server::Limits {
                max_clients: settings.max_clients,
                max_tokens: settings.max_tokens,
                max_codes: settings.max_codes,
                ..oauth_server::Limits::default()
            },
            ..oauth_server::Config::default()
        };
        if let Some(tweak) = &oauth_tweak {
            tweak(&mut oauth);
        }
        oauth.validate()?;
        // Started first: the MCP server trusts issuers whose ports are known only then.
        let auth = AuthServer::start_on(oauth_listener, oauth).await?;
        let introspection_url = settings.introspection_url(oauth_addr.port());
        let authorization_servers = settings
            .mcp_authorization_servers
            .iter()
            .map(|name| match auth.issuer_named(name) {
                // `main` keeps the introspection URL that OAUTH_INTERNAL_URL may set.
                Some(place) if place.name == oauth_server::MAIN_ISSUER => Ok(
                    mcp_server::AuthorizationServer::new(place.issuer, introspection_url.clone()),
                ),
                Some(place) => Ok(mcp_server::AuthorizationServer::new(
                    place.issuer,
                    place.introspection_url,
                )),
                None => Err(LaunchError::Config(format!(
                    "MCP_AUTHORIZATION_SERVERS names '{name}', which is not an issuer"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut mcp = mcp_server::Config {
            base_url: settings.mcp_base_url.clone(),
            authorization_servers,
            introspection_roots: prepared.roots.clone(),
            scopes,
            // Every tool call needs the first of SCOPES, so a client that asks for what the
            // challenge names can call; TOOL_SCOPES adds a tool's own on top (step-up).
            required_scopes: settings.scopes.iter().take(1).cloned().collect(),
            tool_scopes: prepared.tool_scopes.clone(),
            journal_size: settings.journal_size,
            control: prepared.control.clone(),
            tls: prepared.tls.clone(),
            profile: settings.mcp_profile.clone(),
            cohost: Some(cohost(&auth, mcp_port)),
            ..mcp_server::Config::default()
        };
        if let Some(tweak) = &mcp_tweak {
            tweak(&mut mcp);
        }
        mcp.validate()?;

        let mcp = McpServer::start_on(mcp_listener, mcp).await?;
        let control = Control::local(
            &settings,
            auth.addr().port(),
            mcp.addr().port(),
            prepared
                .control_token
                .as_ref()
                .map(|(token, _)| token.clone()),
        )?;
        let state_file = match &settings.state_file {
            Some(path) => Some(restore(path, &auth, &mcp, &control).await?),
            None => None,
        };
        let scenario_flags = match (auth.addr().port(), mcp.addr().port()) {
            (9100, 9101) => Vec::new(),
            (oauth, mcp) => vec![
                "--oauth-port".to_owned(),
                oauth.to_string(),
                "--mcp-port".to_owned(),
                mcp.to_string(),
            ],
        };
        let dashboard = dashboard::Dashboard::start(
            dashboard_listener,
            dashboard::Options {
                control: control.clone(),
                guard: prepared.control.clone(),
                tls: prepared.tls.clone(),
                bind: settings.bind,
                scenario_flags,
            },
        )?;
        if let Some(situation) = settings.conformance {
            control.stage(situation).await.map_err(|error| {
                LaunchError::Config(format!(
                    "CONFORMANCE: cannot stage {}: {error}",
                    situation.suite_name()
                ))
            })?;
        }
        Ok(Self {
            mcp_url: mcp.url(),
            auth,
            mcp,
            control,
            dashboard,
            introspection_url,
            scheme: settings.scheme(),
            control_token: prepared.control_token,
            ca_pem: prepared.ca_pem,
            state_file,
        })
    }

    /// What loading the state file said (one line per issuer, and what was left out); empty
    /// without `STATE_FILE`.
    pub fn restored(&self) -> &[String] {
        self.state_file
            .as_ref()
            .map_or(&[], |state_file| state_file.notes.as_slice())
    }

    /// The URL to give the client under test: the MCP endpoint, which is also the resource
    /// identifier, as it is now (a re-point changes it). Everything else is discovered from it.
    pub fn mcp_url(&self) -> String {
        self.mcp.url()
    }

    /// The default issuer, `main`, byte-identical to its metadata's `issuer` (as it is now: a
    /// re-point changes it).
    pub fn issuer(&self) -> String {
        self.auth.issuer()
    }

    /// Every issuer the authorization server hosts now, `main` first: name, issuer URL, port,
    /// path and the introspection URL on this machine.
    pub fn issuers(&self) -> Vec<oauth_server::Place> {
        self.auth.issuers()
    }

    /// The issuer named `name`, if it is hosted now.
    pub fn issuer_named(&self, name: &str) -> Option<oauth_server::Place> {
        self.auth.issuer_named(name)
    }

    /// The failure switches and counters of both servers.
    pub fn control(&self) -> &Control {
        &self.control
    }

    /// The dashboard's page: `http(s)://localhost:PORT/`, open on loopback, behind the control
    /// token (exchanged once for a session) when the control plane requires it.
    pub fn dashboard_url(&self) -> String {
        format!(
            "{}://localhost:{}/",
            self.scheme,
            self.dashboard.addr().port()
        )
    }

    /// Where the dashboard listens.
    pub fn dashboard_addr(&self) -> SocketAddr {
        self.dashboard.addr()
    }

    /// Where the authorization server listens.
    pub fn oauth_addr(&self) -> SocketAddr {
        self.auth.addr()
    }

    /// Where the MCP server listens.
    pub fn mcp_addr(&self) -> SocketAddr {
        self.mcp.addr()
    }

    /// Where the MCP server introspects tokens.
    pub fn introspection_url(&self) -> &str {
        &self.introspection_url
    }

    /// `http` or `https`: what both listeners speak.
    pub fn scheme(&self) -> &'static str {
        self.scheme
    }

    /// The token `/control` required at start-up, if any (a re-point that made the rig public
    /// answers its own: [`RePointed::control_token`](control::RePointed::control_token)).
    pub fn control_token(&self) -> Option<&str> {
        self.control_token.as_ref().map(|(token, _)| token.as_str())
    }

    /// Whether the control token was generated at start-up (the rig is exposed and none was
    /// set), and so must be shown to the person running it.
    pub fn control_token_generated(&self) -> bool {
        self.control_token
            .as_ref()
            .is_some_and(|(_, generated)| *generated)
    }

    /// The CA certificate (PEM) a client must trust, when the rig generated its certificates.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Stops the dashboard and both servers, letting in-flight requests finish; then writes
    /// the state file, if there is one, with everything they did.
    pub async fn stop(self) -> Result<(), LaunchError> {
        if let Some(state_file) = &self.state_file {
            state_file.writer.abort();
        }
        let dashboard = self.dashboard.stop().await;
        let (mcp, auth) = tokio::join!(self.mcp.stop(), self.auth.stop());
        if let Some(state_file) = &self.state_file {
            state_file
                .savers
                .write_if_changed(&state_file.path, &[])
                .map_err(|error| {
                    LaunchError::Config(format!(
                        "STATE_FILE {} cannot be written: {error}",
                        state_file.path.display()
                    ))
                })?;
        }
        mcp?;
        auth?;
        dashboard?;
        Ok(())
    }
}

/// Loads the state file at `path` into the servers just started, if it exists, and starts its
/// writer. A file that cannot be used stops the start, and is left alone.
async fn restore(
    path: &std::path::Path,
    auth: &AuthServer,
    mcp: &McpServer,
    control: &Control,
) -> Result<StateFile, LaunchError> {
    let shown = path.display();
    let failed = |why: String| LaunchError::Config(format!("STATE_FILE {shown}: {why}"));
    let mut notes = Vec::new();
    let savers = Savers {
        oauth: auth.saver(),
        mcp: mcp.saver(),
        clock: auth.clock().clone(),
        writing: Arc::default(),
    };
    match state_file::read(path).map_err(LaunchError::Config)? {
        None => notes.push(format!(
            "{shown} does not exist yet: it is written from now on"
        )),
        Some(saved) => {
            // First: expiry is judged by the rig clock, which may have been moved.
            auth.clock().set_offset_millis(saved.clock_offset_ms);
            notes.extend(auth.restore(saved.oauth).map_err(failed)?);
            let keep_old_audience = saved.mcp.keep_old_audience;
            let former: Vec<String> = saved.mcp.former_audiences.clone();
            mcp.restore(saved.mcp).map_err(failed)?;
            // Tokens for the MCP server's URLs before the restart keep working (the MCP server
            // took its former audiences back); a grant for one of them covers today's URL too,
            // so a client refreshing for it needs no new consent.
            let resource = mcp.url();
            if keep_old_audience {
                for origin in former {
                    let from = format!("{}{}", origin.trim_end_matches('/'), mcp_server::MCP_PATH);
                    if from == resource {
                        continue;
                    }
                    let renamed = serde_json::json!({ "from": from, "to": resource });
                    for place in auth.issuers() {
                        control
                            .issuer(&place.name)
                            .rename_resource(renamed.clone())
                            .await
                            .map_err(|error| failed(error.to_string()))?;
                    }
                }
            }
        }
    }
    // Written at once: a path that cannot be written is a start-up error, not a surprise at
    // the first change.
    let mut seen = savers.activity();
    let mut written = savers
        .write_if_changed(path, &[])
        .map_err(|error| failed(format!("cannot be written: {error}")))?;
    let writer = {
        let savers = savers.clone();
        let path = path.to_owned();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(state_file::WRITE_EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                // An idle rig costs nothing: no walk of the stores unless a request came.
                // Read before the save, so that a request during it is seen next time.
                let activity = savers.activity();
                if activity == seen && !written.is_empty() {
                    continue;
                }
                seen = activity;
                // Saving walks the stores: off the async threads, which serve requests.
                let savers = savers.clone();
                let target = path.clone();
                let last = std::mem::take(&mut written);
                let outcome =
                    tokio::task::spawn_blocking(move || savers.write_if_changed(&target, &last))
                        .await;
                match outcome {
                    Ok(Ok(bytes)) => written = bytes,
                    Ok(Err(error)) => tracing::warn!(
                        target: "mcp_oauth_sim::state",
                        "cannot write STATE_FILE {}: {error}",
                        path.display()
                    ),
                    Err(_) => {}
                }
            }
        })
    };
    Ok(StateFile {
        path: path.to_owned(),
        savers,
        notes,
        writer,
    })
}

/// The authorization server as the MCP server's co-host: requests the MCP server does not
/// route itself go to the issuers served on its port (the 2025-03-26 layout), and get a 404
/// when there are none.
fn cohost(auth: &AuthServer, port: u16) -> mcp_server::Cohost {
    let handler = auth.cohost();
    mcp_server::Cohost::new(move |request| {
        let handler = handler.clone();
        Box::pin(async move { handler.handle(port, request).await })
    })
}

async fn listen(ip: IpAddr, port: u16, what: &'static str) -> Result<TcpListener, LaunchError> {
    let addr = SocketAddr::new(ip, port);
    TcpListener::bind(addr)
        .await
        .map_err(|source| LaunchError::Listen { addr, what, source })
}

/// Configures a [`Sim`] for a test. Every setting has the binary's default, except the ports,
/// which are ephemeral.
#[must_use]
pub struct SimBuilder {
    settings: Settings,
    oauth_tweak: Option<Tweak<oauth_server::Config>>,
    mcp_tweak: Option<Tweak<mcp_server::Config>>,
    /// Why an [`SimBuilder::issuer`] spec was refused: reported by `start`, so that the
    /// builder's chain stays infallible.
    bad_issuer: Option<String>,
}

impl SimBuilder {
    /// Scopes both servers announce; tool calls require the first.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.settings.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Scopes a tool needs besides the first of [`SimBuilder::scopes`] (tool → space-separated
    /// scopes), as `TOOL_SCOPES` sets them: a call without them is `403 insufficient_scope`
    /// naming them. Both servers announce them.
    pub fn tool_scopes<I, T, S>(mut self, tool_scopes: I) -> Self
    where
        I: IntoIterator<Item = (T, S)>,
        T: Into<String>,
        S: Into<String>,
    {
        self.settings.tool_scopes = tool_scopes
            .into_iter()
            .map(|(tool, scopes)| (tool.into(), scopes.into()))
            .collect();
        self
    }

    /// Hosts another issuer (`ISSUERS`): `"tenant1=/tenant1"` under a path of the AS's port,
    /// `"other=:0"` on a free port of its own, `"x=:0/t"` both. A bad spec fails the start.
    pub fn issuer(mut self, spec: &str) -> Self {
        match oauth_server::IssuerConfig::parse(spec) {
            Ok(issuer) => self.settings.issuers.push(issuer),
            Err(why) => self.bad_issuer = Some(why),
        }
        self
    }

    /// The issuers the MCP server trusts, by name, in order (`MCP_AUTHORIZATION_SERVERS`).
    pub fn authorization_servers<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.settings.mcp_authorization_servers = names.into_iter().map(Into::into).collect();
        self
    }

    /// The default issuer's knobs at start-up (`AS_PROFILE`): discovery layout, `iss`,
    /// registration policy. A reset restores them.
    pub fn oauth_profile(mut self, profile: oauth_server::Profile) -> Self {
        self.settings.oauth_profile = profile;
        self
    }

    /// The MCP server's knobs at start-up (`MCP_PROFILE`): PRM layout, challenges, lazy auth.
    pub fn mcp_profile(mut self, profile: mcp_server::Profile) -> Self {
        self.settings.mcp_profile = profile;
        self
    }

    /// A pre-registered client of the default issuer (`CLIENTS`), kept across resets.
    pub fn client(mut self, client: oauth_server::PreRegistered) -> Self {
        self.settings.clients.push(client);
        self
    }

    /// Stages a situation of the MCP conformance suite once both servers are up
    /// (`CONFORMANCE`); see [`control::conformance`].
    pub fn conformance(mut self, situation: control::conformance::Situation) -> Self {
        self.settings.conformance = Some(situation);
        self
    }

    /// Keep both servers' state in `path` across a restart (`STATE_FILE`): loaded at start if
    /// it exists, written within a second of a change and at [`Sim::stop`].
    pub fn state_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.settings.state_file = Some(path.into());
        self
    }

    /// Requests each server's journal keeps (`/control/events`); the oldest are dropped.
    pub fn journal_size(mut self, events: usize) -> Self {
        self.settings.journal_size = events;
        self
    }

    /// Registered clients the AS keeps (`MAX_CLIENTS`); registering beyond evicts the least
    /// recently used client that holds no live code or token.
    pub fn max_clients(mut self, clients: usize) -> Self {
        self.settings.max_clients = clients;
        self
    }

    /// Live access and refresh tokens the AS keeps (`MAX_TOKENS`); beyond, the token endpoint
    /// answers `503 temporarily_unavailable`.
    pub fn max_tokens(mut self, tokens: usize) -> Self {
        self.settings.max_tokens = tokens;
        self
    }

    /// Unredeemed authorization codes the AS keeps (`MAX_CODES`).
    pub fn max_codes(mut self, codes: usize) -> Self {
        self.settings.max_codes = codes;
        self
    }

    /// Lifetime of access tokens issued at start-up (the control plane can change it later).
    pub fn token_ttl(mut self, ttl: Duration) -> Self {
        self.settings.token_ttl = ttl;
        self
    }

    /// A refresh token valid from the start for any client, for testing stored credentials.
    pub fn seed_refresh_token(mut self, token: impl Into<String>) -> Self {
        self.settings.seed_refresh_token = Some(token.into());
        self
    }

    /// Require `Authorization: Bearer <token>` on `/control` (the [`Control`] client sends it).
    pub fn control_token(mut self, token: impl Into<String>) -> Self {
        self.settings.control_token = Some(token.into());
        self
    }

    /// Trusts the CA certificates of the PEM file `path` when fetching client ID metadata
    /// documents, as `FETCH_CA_FILE` does: a test hosting its document on loopback HTTPS.
    pub fn fetch_ca_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.settings.fetch_ca_file = Some(path.into());
        self
    }

    /// Fetches plain `http` document URLs too, as `FETCH_ALLOW_HTTP=true` does.
    pub fn fetch_allow_http(mut self, allow: bool) -> Self {
        self.settings.fetch_allow_http = allow;
        self
    }

    /// The deadline of one document fetch, as `FETCH_TIMEOUT_MS` sets it.
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.settings.fetch_timeout = timeout;
        self
    }

    /// Serve HTTPS with a freshly generated CA and leaf; [`Sim::ca_pem`] is what to trust.
    pub fn https(mut self) -> Result<Self, certs::CertError> {
        self.settings.tls = Some(TlsSource::Generated(certs::Pki::generate()?));
        Ok(self)
    }

    /// Serve HTTPS with these certificates.
    pub fn tls(mut self, source: TlsSource) -> Self {
        self.settings.tls = Some(source);
        self
    }

    /// The authorization server's public URL and issuer, as behind a tunnel.
    pub fn oauth_base_url(mut self, url: impl Into<String>) -> Self {
        self.settings.oauth_base_url = Some(url.into());
        self
    }

    /// The MCP server's public origin, as behind a tunnel.
    pub fn mcp_base_url(mut self, url: impl Into<String>) -> Self {
        self.settings.mcp_base_url = Some(url.into());
        self
    }

    /// Where the MCP server introspects (a base URL or the full endpoint).
    pub fn oauth_internal_url(mut self, url: impl Into<String>) -> Self {
        self.settings.oauth_internal_url = Some(url.into());
        self
    }

    /// Fixed ports instead of ephemeral ones (the dashboard's stays ephemeral).
    pub fn ports(mut self, oauth: u16, mcp: u16) -> Self {
        self.settings.oauth_port = oauth;
        self.settings.mcp_port = mcp;
        self
    }

    /// The dashboard's port (0, the builder's default: any free one).
    pub fn dashboard_port(mut self, port: u16) -> Self {
        self.settings.dashboard_port = port;
        self
    }

    /// Adjusts the authorization server's configuration after the settings are applied: code
    /// lifetime, store limits, the subject, anything [`oauth_server::Config`] has.
    pub fn configure_oauth(
        mut self,
        tweak: impl Fn(&mut oauth_server::Config) + Send + Sync + 'static,
    ) -> Self {
        self.oauth_tweak = Some(Arc::new(tweak));
        self
    }

    /// Adjusts the MCP server's configuration after the settings are applied.
    pub fn configure_mcp(
        mut self,
        tweak: impl Fn(&mut mcp_server::Config) + Send + Sync + 'static,
    ) -> Self {
        self.mcp_tweak = Some(Arc::new(tweak));
        self
    }

    /// All settings at once, replacing what was set so far (the tweaks stay).
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// Starts both servers.
    pub async fn start(self) -> Result<Sim, LaunchError> {
        if let Some(why) = self.bad_issuer {
            return Err(LaunchError::Config(format!("ISSUERS: {why}")));
        }
        Sim::start_tweaked(self.settings, self.oauth_tweak, self.mcp_tweak).await
    }
}
