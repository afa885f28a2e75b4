//! What the authorization server is configured with at start-up.

use std::ops::RangeInclusive;
use std::time::Duration;

use sim_http::control::ControlGuard;
use sim_http::form::is_scope_token;
use sim_http::journal;
use sim_http::public_url;
use sim_http::tls::Tls;

use crate::Error;

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
    /// The resource owner every grant is issued for: consent is auto-approved, there is no login.
    pub subject: String,
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
            subject: "demo-user".to_owned(),
            control: ControlGuard::open(),
            tls: None,
            limits: Limits::default(),
            sweep_interval: Duration::from_secs(15),
            journal_size: journal::DEFAULT_CAPACITY,
        }
    }
}

/// The longest token lifetime accepted anywhere: ten years, far from any overflow.
pub const MAX_TTL_SECS: u64 = 10 * 365 * 24 * 3600;

impl Config {
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
        if !(1..=journal::MAX_CAPACITY).contains(&self.journal_size) {
            return Err(Error::Config(format!(
                "the journal size must be from 1 to {}",
                journal::MAX_CAPACITY
            )));
        }
        Ok(())
    }
}
