//! What the authorization server is configured with at start-up.

use std::ops::RangeInclusive;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use sim_http::control::ControlGuard;
use sim_http::fetch::FetchPolicy;
use sim_http::form::is_scope_token;
use sim_http::journal;
use sim_http::public_url;
use sim_http::tls::Tls;

use crate::Error;
use crate::clients::{MAX_PRE_REGISTERED, PreRegistered};
use crate::consent::{ConsentMode, User, check_users};
use crate::profile::Profile;
use crate::trust::{MAX_TRUSTED, TrustRequest};

/// Start-up configuration. The binary fills it from flags and the environment; tests build it
/// directly. Every field has a default that suits a rig on a developer machine.
#[derive(Clone, Debug)]
pub struct Config {
    /// The issuer identifier, which is also the base URL of every endpoint in the metadata. When
    /// `None`, `http(s)://localhost:PORT` of the listener. A trailing slash is removed, so that the
    /// issuer is byte-identical wherever it appears.
    pub issuer: Option<String>,
    /// Scopes the server knows (`SCOPES`). A request without `scope` is granted all of them.
    pub scopes: Vec<String>,
    /// Access-token lifetime at start-up (`TOKEN_TTL_SECONDS`); the control plane can change it.
    pub access_token_ttl: Duration,
    /// Refresh-token lifetime. Long, but finite, so abandoned grants are eventually swept.
    pub refresh_token_ttl: Duration,
    /// Authorization-code lifetime (OAuth 2.1 recommends at most 10 minutes).
    pub code_ttl: Duration,
    /// A refresh token valid from start-up for any client (`SEED_REFRESH_TOKEN`), so that a client
    /// holding stored credentials can be tested without a consent round.
    pub seed_refresh_token: Option<String>,
    /// How `/authorize` gets consent at start-up and after a reset (`CONSENT`): approved at once
    /// (`auto`), or on a consent page (`page`). The control plane switches it per issuer.
    pub consent: ConsentMode,
    /// The resource owners a grant may be for (`USERS`), one at least: in auto mode every grant
    /// is the first one's (see [`Config::subject`]); the consent page lets a person pick one.
    pub users: Vec<User>,
    /// Who may use `/control`.
    pub control: ControlGuard,
    /// Serve HTTPS with this acceptor.
    pub tls: Option<Tls>,
    /// Caps that keep memory bounded whatever clients do.
    pub limits: Limits,
    /// How often expired codes and tokens are removed.
    pub sweep_interval: Duration,
    /// Requests the journal (`/control/events`) keeps (`JOURNAL_SIZE`), from 1 to
    /// [`journal::MAX_CAPACITY`]; older ones fall out.
    pub journal_size: usize,
    /// Issuers hosted beside the default one, `main` (`ISSUERS`). Each has clients, codes,
    /// tokens, switches, fault rules and counters of its own; the clock and the journal are
    /// shared. The control plane can add and remove more at run time.
    pub issuers: Vec<IssuerConfig>,
    /// `main`'s profile: where its metadata is, what it declares, its `iss`, scopes and
    /// registration policy. The default is the rig as it always was.
    pub profile: Profile,
    /// `main`'s pre-registered clients, back after every reset.
    pub clients: Vec<PreRegistered>,
    /// `main`'s trusted assertion issuers (`ASSERTION_ISSUERS`), back after every reset.
    pub assertion_issuers: Vec<TrustRequest>,
    /// Listeners another server owns and hands requests to ([`crate::CohostHandler`]): an
    /// issuer whose port is one of these is not bound, and its issuer URL is the cohost's
    /// origin plus its path (the 2025-03-26 layout, the AS on the MCP server's origin).
    pub cohosts: Vec<Cohost>,
    /// How every issuer fetches what a client points it at: client ID metadata documents.
    pub fetch: Fetch,
}

/// What the issuers may fetch, and whom they trust doing it.
#[derive(Clone, Debug, Default)]
pub struct Fetch {
    /// Addresses, schemes, deadline and size cap.
    pub policy: FetchPolicy,
    /// Certificates trusted besides the platform's: the rig's CA, so that a test or a local
    /// client can serve its document on loopback HTTPS with a certificate from `certs`.
    pub roots: Vec<CertificateDer<'static>>,
}

/// A listener of another server that serves issuers of this one.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cohost {
    /// The port of that listener, as [`IssuerConfig::port`] names it.
    pub port: u16,
    /// Its public origin (`http://localhost:9000`), the base of its issuers' URLs.
    pub origin: String,
}

impl Cohost {
    /// Checks the port and that the origin is an http(s) origin, without a path.
    pub fn validate(&self) -> Result<(), String> {
        if self.port == 0 {
            return Err("a cohost needs its listener's port, not 0".into());
        }
        let url = public_url::parse("cohost origin", &self.origin)?;
        if url.origin().ascii_serialization() != self.origin {
            return Err(format!(
                "cohost origin '{}' must be a bare origin such as http://localhost:9000",
                self.origin
            ));
        }
        Ok(())
    }
}

/// The name of the issuer every server hosts, at the root of its main listener. The plain
/// `/control/...` paths act on it.
pub const MAIN_ISSUER: &str = "main";

/// Issuers one server hosts at most, `main` included: each costs a store and a fault engine.
pub const MAX_ISSUERS: usize = 32;

/// Where an issuer beside `main` is served.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// How the control plane and the journal name it: 1 to 32 of `a-z`, `0-9`, `-` and `_`.
    pub name: String,
    /// The path of its issuer URL, `""` for an origin (`/tenant1`): its metadata is at
    /// `/.well-known/oauth-authorization-server/tenant1` (RFC 8414 §3.1) and its endpoints at
    /// `/tenant1/authorize`, ….
    #[serde(default)]
    pub path: String,
    /// The port it is served on: `None` for the main listener, `Some(0)` for any free port.
    /// Its issuer URL is then `http(s)://localhost:PORT` plus the path.
    #[serde(default)]
    pub port: Option<u16>,
    /// Its profile; `None`: the default one.
    #[serde(default)]
    pub profile: Option<Profile>,
    /// Its pre-registered clients, back after every reset.
    #[serde(default)]
    pub clients: Vec<PreRegistered>,
    /// Its trusted assertion issuers, back after every reset.
    #[serde(default)]
    pub assertion_issuers: Vec<TrustRequest>,
}

impl IssuerConfig {
    /// Parses the start-up form, `NAME=/PATH`, `NAME=:PORT` or `NAME=:PORT/PATH`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (name, place) = spec.split_once('=').ok_or_else(|| {
            format!("issuer '{spec}' must be NAME=/PATH, NAME=:PORT or NAME=:PORT/PATH")
        })?;
        let (port, path) = match place.strip_prefix(':') {
            Some(rest) => {
                let cut = rest.find('/').unwrap_or(rest.len());
                let port = rest[..cut]
                    .parse::<u16>()
                    .map_err(|_| format!("issuer '{spec}': '{}' is not a port", &rest[..cut]))?;
                (Some(port), &rest[cut..])
            }
            None => (None, place),
        };
        let issuer = Self {
            name: name.trim().to_owned(),
            path: path.trim_end_matches('/').to_owned(),
            port,
            profile: None,
            clients: Vec::new(),
            assertion_issuers: Vec::new(),
        };
        issuer.validate()?;
        Ok(issuer)
    }

    /// Checks the name and the path; the error names the issuer.
    pub fn validate(&self) -> Result<(), String> {
        let name = &self.name;
        let name_ok = (1..=32).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(format!(
                "issuer name '{name}' must be 1 to 32 of a-z, 0-9, '-' and '_'"
            ));
        }
        if name == MAIN_ISSUER {
            return Err(format!("'{MAIN_ISSUER}' is the default issuer's name"));
        }
        if let Some(profile) = &self.profile {
            profile
                .validate()
                .map_err(|error| format!("issuer '{name}': profile: {error}"))?;
        }
        check_clients(&self.clients).map_err(|error| format!("issuer '{name}': {error}"))?;
        check_trust(&self.assertion_issuers)
            .map_err(|error| format!("issuer '{name}': {error}"))?;
        let path = &self.path;
        if path.is_empty() {
            if self.port.is_none() {
                return Err(format!(
                    "issuer '{name}' needs a path or a port of its own: the root of the main \
                     listener is '{MAIN_ISSUER}'"
                ));
            }
            return Ok(());
        }
        let segments: Vec<&str> = match path.strip_prefix('/') {
            Some(rest) if path.len() <= 128 => rest.split('/').collect(),
            _ => {
                return Err(format!(
                    "issuer '{name}': path '{path}' must start with '/' and be at most 128 characters"
                ));
            }
        };
        let segment_ok = |segment: &&str| {
            !segment.is_empty()
                && *segment != "."
                && *segment != ".."
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        };
        if !segments.iter().all(segment_ok) {
            return Err(format!(
                "issuer '{name}': path '{path}' must be segments of letters, digits and -._~"
            ));
        }
        // These would be read as the control plane or as another issuer's metadata.
        if matches!(segments[0], "control" | ".well-known") {
            return Err(format!(
                "issuer '{name}': path '{path}' may not start with /{}",
                segments[0]
            ));
        }
        Ok(())
    }
}

/// Checks each pre-registered client, their number, and that no id is listed twice.
fn check_clients(clients: &[PreRegistered]) -> Result<(), String> {
    if clients.len() > MAX_PRE_REGISTERED {
        return Err(format!(
            "at most {MAX_PRE_REGISTERED} pre-registered clients per issuer"
        ));
    }
    for (index, client) in clients.iter().enumerate() {
        client.validate()?;
        if clients[..index]
            .iter()
            .any(|other| other.client_id == client.client_id)
        {
            return Err(format!(
                "client_id '{}' is pre-registered twice",
                client.client_id
            ));
        }
    }
    Ok(())
}

/// Checks the start-up trusted assertion issuers and their number.
fn check_trust(issuers: &[TrustRequest]) -> Result<(), String> {
    if issuers.len() > MAX_TRUSTED {
        return Err(format!("at most {MAX_TRUSTED} trusted assertion issuers"));
    }
    issuers.iter().try_for_each(TrustRequest::validate_startup)
}

/// Caps on stored state.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Registered clients at most (`MAX_CLIENTS`). Registering beyond evicts the least recently
    /// used client that holds no live code or token; when every client holds one, registration
    /// answers 503.
    pub max_clients: usize,
    /// Live access plus refresh tokens at most (`MAX_TOKENS`); issuing beyond answers 503.
    pub max_tokens: usize,
    /// Unredeemed authorization codes at most (`MAX_CODES`); authorizing beyond answers
    /// `temporarily_unavailable`.
    pub max_codes: usize,
    /// Connections served at once.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_clients: 10_000,
            max_tokens: 500_000,
            max_codes: 100_000,
            max_connections: 1024,
        }
    }
}

impl Limits {
    /// Accepted values of `max_clients`. A full registry is scanned on each registration, so
    /// the ceiling keeps that scan short.
    pub const CLIENTS: RangeInclusive<usize> = 1..=1_000_000;
    /// Accepted values of `max_tokens`: at least an access and a refresh token, which every
    /// token response needs room for; at most a few gigabytes of tokens.
    pub const TOKENS: RangeInclusive<usize> = 2..=10_000_000;
    /// Accepted values of `max_codes`.
    pub const CODES: RangeInclusive<usize> = 1..=1_000_000;

    /// Checks each cap is within its range; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        for (name, value, range) in [
            ("max_clients", self.max_clients, Self::CLIENTS),
            ("max_tokens", self.max_tokens, Self::TOKENS),
            ("max_codes", self.max_codes, Self::CODES),
        ] {
            if !range.contains(&value) {
                return Err(format!(
                    "{name} must be from {} to {}, not {value}",
                    range.start(),
                    range.end()
                ));
            }
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            issuer: None,
            scopes: vec!["mcp:tools".to_owned()],
            access_token_ttl: Duration::from_secs(3600),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            code_ttl: Duration::from_secs(600),
            seed_refresh_token: None,
            consent: ConsentMode::Auto,
            users: vec![User::demo()],
            control: ControlGuard::open(),
            tls: None,
            limits: Limits::default(),
            sweep_interval: Duration::from_secs(15),
            journal_size: journal::DEFAULT_CAPACITY,
            issuers: Vec::new(),
            profile: Profile::default(),
            clients: Vec::new(),
            assertion_issuers: Vec::new(),
            cohosts: Vec::new(),
            fetch: Fetch::default(),
        }
    }
}

/// The longest token lifetime accepted anywhere: ten years, far from any overflow.
pub const MAX_TTL_SECS: u64 = 10 * 365 * 24 * 3600;

impl Config {
    /// The subject of grants made without a person's choice: the first user's (auto consent,
    /// seeded refresh tokens, ID tokens minted without `sub`).
    pub fn subject(&self) -> &str {
        self.users
            .first()
            .map_or("demo-user", |user| user.sub.as_str())
    }

    /// The issuer this configuration yields on `port`, checked: an absolute `http(s)` URL without
    /// query or fragment, with no trailing slash.
    pub fn resolve_issuer(&self, port: u16) -> Result<String, Error> {
        let Some(configured) = &self.issuer else {
            let scheme = if self.tls.is_some() { "https" } else { "http" };
            return Ok(format!("{scheme}://localhost:{port}"));
        };
        let issuer = configured.trim_end_matches('/');
        public_url::parse("issuer", issuer).map_err(Error::Config)?;
        Ok(issuer.to_owned())
    }

    /// Checks the values that can be wrong independently of the listener.
    pub fn validate(&self) -> Result<(), Error> {
        if self.scopes.is_empty() {
            return Err(Error::Config("at least one scope is required".into()));
        }
        if let Some(bad) = self.scopes.iter().find(|scope| !is_scope_token(scope)) {
            return Err(Error::Config(format!(
                "scope '{bad}' is not a valid scope token"
            )));
        }
        for (name, ttl) in [
            ("access-token TTL", self.access_token_ttl),
            ("refresh-token TTL", self.refresh_token_ttl),
            ("code TTL", self.code_ttl),
        ] {
            if ttl.as_secs() > MAX_TTL_SECS {
                return Err(Error::Config(format!(
                    "{name} exceeds {MAX_TTL_SECS} seconds"
                )));
            }
        }
        if self
            .seed_refresh_token
            .as_deref()
            .is_some_and(str::is_empty)
        {
            return Err(Error::Config("the seed refresh token is empty".into()));
        }
        self.limits.validate().map_err(Error::Config)?;
        check_users(&self.users).map_err(Error::Config)?;
        if !(1..=journal::MAX_CAPACITY).contains(&self.journal_size) {
            return Err(Error::Config(format!(
                "the journal size must be from 1 to {}",
                journal::MAX_CAPACITY
            )));
        }
        if self.issuers.len() >= MAX_ISSUERS {
            return Err(Error::Config(format!(
                "at most {MAX_ISSUERS} issuers, '{MAIN_ISSUER}' included"
            )));
        }
        self.profile
            .validate()
            .map_err(|error| Error::Config(format!("profile: {error}")))?;
        check_clients(&self.clients).map_err(Error::Config)?;
        check_trust(&self.assertion_issuers).map_err(Error::Config)?;
        for (index, cohost) in self.cohosts.iter().enumerate() {
            cohost.validate().map_err(Error::Config)?;
            if self.cohosts[..index]
                .iter()
                .any(|other| other.port == cohost.port)
            {
                return Err(Error::Config(format!(
                    "two cohosts have port {}",
                    cohost.port
                )));
            }
        }
        for (index, issuer) in self.issuers.iter().enumerate() {
            issuer.validate().map_err(Error::Config)?;
            if let Some(twin) = self.issuers[..index]
                .iter()
                .find(|other| other.name == issuer.name)
            {
                return Err(Error::Config(format!(
                    "two issuers are named '{}'",
                    twin.name
                )));
            }
        }
        Ok(())
    }
}
