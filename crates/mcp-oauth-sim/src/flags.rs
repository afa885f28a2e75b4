//! The rig's flags and environment variables, declared once (clap derives the flag, the
//! variable, the default and the `--help` line from each field), and turned into [`Settings`].

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use sim_http::fetch::Allowed;

use crate::certs;
use crate::control::conformance::Situation;
use crate::settings::{LaunchError, Settings, TlsSource, parse_tool_scopes};

/// The rig's settings as flags and environment variables: options shared by `serve` and
/// `scenario` (which must find the rig `serve` started). Each field is the one declaration of
/// its setting: flag, variable, default and help line; [`variables`] lists the variables from
/// it, and a test checks `.env.example` and docs/settings.md's table against it.
#[derive(Args, Debug)]
pub struct Flags {
    /// Port of the authorization server.
    #[arg(
        long,
        env = "OAUTH_PORT",
        value_name = "OAUTH_PORT",
        default_value_t = 9100,
        global = true
    )]
    pub oauth_port: u16,
    /// Port of the MCP server.
    #[arg(
        long,
        env = "MCP_PORT",
        value_name = "MCP_PORT",
        default_value_t = 9101,
        global = true
    )]
    pub mcp_port: u16,
    /// Port of the dashboard, a page that flips every switch and draws both journals live (0: any free port).
    #[arg(
        long,
        env = "DASHBOARD_PORT",
        value_name = "DASHBOARD_PORT",
        default_value_t = 9102,
        global = true
    )]
    pub dashboard_port: u16,
    /// Address both servers listen on.
    #[arg(
        long,
        env = "BIND",
        value_name = "BIND",
        default_value = "127.0.0.1",
        global = true
    )]
    pub bind: IpAddr,
    /// Public URL of the authorization server, its issuer [default: http(s)://localhost:OAUTH_PORT].
    #[arg(
        long,
        env = "OAUTH_BASE_URL",
        value_name = "OAUTH_BASE_URL",
        global = true
    )]
    pub oauth_base_url: Option<String>,
    /// Public origin of the MCP server; clients get <this>/mcp [default: http(s)://localhost:MCP_PORT].
    #[arg(long, env = "MCP_BASE_URL", value_name = "MCP_BASE_URL", global = true)]
    pub mcp_base_url: Option<String>,
    /// Where the MCP server introspects tokens [default: the authorization server on loopback].
    #[arg(
        long,
        env = "OAUTH_INTERNAL_URL",
        value_name = "OAUTH_INTERNAL_URL",
        global = true
    )]
    pub oauth_internal_url: Option<String>,
    /// PEM certificate chain for HTTPS [default: CERTS_DIR/localhost.pem when it exists].
    #[arg(
        long,
        env = "TLS_CERT_FILE",
        value_name = "TLS_CERT_FILE",
        global = true
    )]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key for HTTPS [default: CERTS_DIR/localhost-key.pem when it exists].
    #[arg(long, env = "TLS_KEY_FILE", value_name = "TLS_KEY_FILE", global = true)]
    pub tls_key_file: Option<PathBuf>,
    /// Where `certs` writes and `serve` looks for certificates.
    #[arg(
        long,
        visible_alias = "dir",
        env = "CERTS_DIR",
        value_name = "CERTS_DIR",
        default_value = certs::DEFAULT_DIR,
        global = true
    )]
    pub certs_dir: PathBuf,
    /// A refresh token valid from start-up for any client.
    #[arg(
        long,
        env = "SEED_REFRESH_TOKEN",
        value_name = "SEED_REFRESH_TOKEN",
        global = true
    )]
    pub seed_refresh_token: Option<String>,
    /// Access-token lifetime at start-up, in seconds.
    #[arg(
        long,
        env = "TOKEN_TTL_SECONDS",
        value_name = "TOKEN_TTL_SECONDS",
        default_value_t = 3600,
        global = true
    )]
    pub token_ttl_seconds: u64,
    /// Issuers hosted beside `main`, comma-separated: `NAME=/PATH` (under a path of OAUTH_PORT),
    /// `NAME=:PORT` (a port of its own; 0 picks one) or `NAME=:PORT/PATH`.
    #[arg(long, env = "ISSUERS", value_name = "ISSUERS", global = true)]
    pub issuers: Option<String>,
    /// The issuers the MCP server trusts, by name, comma-separated, in order.
    #[arg(
        long,
        env = "MCP_AUTHORIZATION_SERVERS",
        value_name = "MCP_AUTHORIZATION_SERVERS",
        default_value = "main",
        global = true
    )]
    pub mcp_authorization_servers: String,
    /// The default issuer's knobs as JSON (discovery layout, iss, registration policy), e.g.
    /// '{"metadata":["oidc-inserted"]}'; POST /control/profile changes them at run time.
    #[arg(long, env = "AS_PROFILE", value_name = "AS_PROFILE", global = true)]
    pub as_profile: Option<String>,
    /// The MCP server's knobs as JSON (PRM layout, challenges, lazy auth), e.g.
    /// '{"challenge_scope":"omit"}'; POST /control/profile changes them at run time.
    #[arg(long, env = "MCP_PROFILE", value_name = "MCP_PROFILE", global = true)]
    pub mcp_profile: Option<String>,
    /// Pre-registered clients of the default issuer, a JSON list: [{"client_id", "client_secret",
    /// "auth_method", "redirect_uris": [..] | "any-loopback"}]; they survive every reset.
    #[arg(long, env = "CLIENTS", value_name = "CLIENTS", global = true)]
    pub clients: Option<String>,
    /// How /authorize gets consent: auto (approved at once, for the first of USERS) or page (a
    /// consent page: a person picks a user and the scopes, then approves or denies);
    /// POST /control/consent-mode switches it at run time.
    #[arg(
        long,
        env = "CONSENT",
        value_name = "CONSENT",
        default_value = "auto",
        global = true
    )]
    pub consent: String,
    /// The users a grant may be for, a JSON list: [{"sub", "name", "scopes": [..]}] (scopes:
    /// those the user may be granted; absent: all). The first is the subject of automatic
    /// consent. Default: one, demo-user.
    #[arg(long, env = "USERS", value_name = "USERS", global = true)]
    pub users: Option<String>,
    /// Issuers whose jwt-bearer assertions the default issuer accepts, a JSON list: [{"issuer",
    /// "kind": "workload"|"id-jag", "jwks" | "jwks_uri" | "rig_issuer", "subjects", "resources"}];
    /// they survive every reset.
    #[arg(
        long,
        env = "ASSERTION_ISSUERS",
        value_name = "ASSERTION_ISSUERS",
        global = true
    )]
    pub assertion_issuers: Option<String>,
    /// A situation of the MCP conformance suite to stage once both servers are up (`scenario
    /// conformance list` lists them); a reset undoes it.
    #[arg(long, env = "CONFORMANCE", value_name = "CONFORMANCE", global = true)]
    pub conformance: Option<String>,
    /// Space-separated scopes both servers announce; tool calls require the first.
    #[arg(
        long,
        env = "SCOPES",
        value_name = "SCOPES",
        default_value = "mcp:tools",
        global = true
    )]
    pub scopes: String,
    /// Scopes a tool needs too, announced besides SCOPES: `add=mcp:write,whoami=mcp:admin`
    /// (several for one tool: `add=mcp:write+mcp:admin`).
    #[arg(long, env = "TOOL_SCOPES", value_name = "TOOL_SCOPES", global = true)]
    pub tool_scopes: Option<String>,
    /// Requests each server's journal keeps for /control/events (1 to 100000).
    #[arg(
        long,
        env = "JOURNAL_SIZE",
        value_name = "JOURNAL_SIZE",
        default_value_t = sim_http::journal::DEFAULT_CAPACITY,
        global = true
    )]
    pub journal_size: usize,
    /// Registered clients the authorization server keeps (1 to 1000000); registering beyond
    /// evicts the least recently used client holding no live code or token.
    #[arg(
        long,
        env = "MAX_CLIENTS",
        value_name = "MAX_CLIENTS",
        default_value_t = oauth_server::Limits::default().max_clients,
        global = true
    )]
    pub max_clients: usize,
    /// Live access and refresh tokens the authorization server keeps (2 to 10000000); beyond,
    /// the token endpoint answers 503.
    #[arg(
        long,
        env = "MAX_TOKENS",
        value_name = "MAX_TOKENS",
        default_value_t = oauth_server::Limits::default().max_tokens,
        global = true
    )]
    pub max_tokens: usize,
    /// Unredeemed authorization codes the authorization server keeps (1 to 1000000).
    #[arg(
        long,
        env = "MAX_CODES",
        value_name = "MAX_CODES",
        default_value_t = oauth_server::Limits::default().max_codes,
        global = true
    )]
    pub max_codes: usize,
    /// Fetch client ID metadata documents from plain http URLs too (a client serving its
    /// document locally over http).
    #[arg(
        long,
        env = "FETCH_ALLOW_HTTP",
        value_name = "FETCH_ALLOW_HTTP",
        default_value_t = false,
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new(),
        global = true
    )]
    pub fetch_allow_http: bool,
    /// Non-public hosts, addresses or CIDR ranges documents may be fetched from while the rig
    /// is exposed, comma-separated (`docs.internal,10.0.0.0/8`); a local rig fetches from anywhere.
    #[arg(
        long,
        env = "FETCH_ALLOW_HOSTS",
        value_name = "FETCH_ALLOW_HOSTS",
        global = true
    )]
    pub fetch_allow_hosts: Option<String>,
    /// Deadline of one client ID metadata document fetch, connection to last byte (1 to 30000).
    #[arg(
        long,
        env = "FETCH_TIMEOUT_MS",
        value_name = "FETCH_TIMEOUT_MS",
        default_value_t = 5000,
        global = true
    )]
    pub fetch_timeout_ms: u64,
    /// PEM file of CAs document fetches trust besides the platform's and the rig's own
    /// [default: CERTS_DIR/ca.pem when it exists].
    #[arg(
        long,
        env = "FETCH_CA_FILE",
        value_name = "FETCH_CA_FILE",
        global = true
    )]
    pub fetch_ca_file: Option<PathBuf>,
    /// Bearer token /control requires [default: none on loopback; generated when exposed].
    #[arg(
        long,
        env = "CONTROL_TOKEN",
        value_name = "CONTROL_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub control_token: Option<String>,
    /// Keep clients, codes, tokens, switches and fault rules in this file across a restart:
    /// loaded at start, written within a second of a change and at a clean stop.
    #[arg(long, env = "STATE_FILE", value_name = "STATE_FILE", global = true)]
    pub state_file: Option<PathBuf>,
    /// Log filter (info, warn, debug, …), optionally with `json`: `json` or `json,warn`.
    #[arg(
        long,
        env = "LOG",
        value_name = "LOG",
        default_value = "info",
        global = true
    )]
    pub log: String,
}

impl Flags {
    fn tls(&self) -> Result<Option<TlsSource>, LaunchError> {
        let ca = Some(self.certs_dir.join(certs::CA_FILE)).filter(|path| path.is_file());
        match (&self.tls_cert_file, &self.tls_key_file) {
            (Some(cert), Some(key)) => Ok(Some(TlsSource::Files {
                cert: cert.clone(),
                key: key.clone(),
                ca,
            })),
            (Some(_), None) => Err(LaunchError::Config(
                "TLS_CERT_FILE is set but TLS_KEY_FILE is not".into(),
            )),
            (None, Some(_)) => Err(LaunchError::Config(
                "TLS_KEY_FILE is set but TLS_CERT_FILE is not".into(),
            )),
            (None, None) => Ok(certs::files_in(&self.certs_dir)
                .map(|(cert, key)| TlsSource::Files { cert, key, ca })),
        }
    }

    /// The settings these flags say.
    pub fn settings(&self) -> Result<Settings, LaunchError> {
        Ok(Settings {
            bind: self.bind,
            oauth_port: self.oauth_port,
            mcp_port: self.mcp_port,
            dashboard_port: self.dashboard_port,
            oauth_base_url: self.oauth_base_url.clone(),
            mcp_base_url: self.mcp_base_url.clone(),
            oauth_internal_url: self.oauth_internal_url.clone(),
            issuers: match &self.issuers {
                Some(text) => Settings::parse_issuers(text)?,
                None => Vec::new(),
            },
            mcp_authorization_servers: self
                .mcp_authorization_servers
                .split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
                .collect(),
            tls: self.tls()?,
            seed_refresh_token: self.seed_refresh_token.clone(),
            oauth_profile: json_setting("AS_PROFILE", self.as_profile.as_deref())?
                .unwrap_or_default(),
            mcp_profile: json_setting("MCP_PROFILE", self.mcp_profile.as_deref())?
                .unwrap_or_default(),
            clients: json_setting("CLIENTS", self.clients.as_deref())?.unwrap_or_default(),
            consent: oauth_server::ConsentMode::parse(self.consent.trim())
                .map_err(|error| LaunchError::Config(format!("CONSENT: {error}")))?,
            users: json_setting("USERS", self.users.as_deref())?
                .unwrap_or_else(|| vec![oauth_server::User::demo()]),
            assertion_issuers: json_setting(
                "ASSERTION_ISSUERS",
                self.assertion_issuers.as_deref(),
            )?
            .unwrap_or_default(),
            conformance: match self.conformance.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(name) => Some(Situation::parse(name).ok_or_else(|| {
                    LaunchError::Config(format!(
                        "CONFORMANCE: '{name}' is not a situation the rig stages; \
                         `mcp-oauth-sim scenario conformance list` lists them"
                    ))
                })?),
            },
            token_ttl: Duration::from_secs(self.token_ttl_seconds),
            scopes: self.scopes.split_whitespace().map(str::to_owned).collect(),
            tool_scopes: match &self.tool_scopes {
                Some(text) => parse_tool_scopes(text)?,
                None => Default::default(),
            },
            journal_size: self.journal_size,
            max_clients: self.max_clients,
            max_tokens: self.max_tokens,
            max_codes: self.max_codes,
            control_token: self.control_token.clone(),
            fetch_allow_http: self.fetch_allow_http,
            fetch_allow_hosts: self
                .fetch_allow_hosts
                .iter()
                .flat_map(|list| list.split(','))
                .filter(|entry| !entry.trim().is_empty())
                .map(|entry| {
                    Allowed::parse(entry)
                        .map_err(|error| LaunchError::Config(format!("FETCH_ALLOW_HOSTS: {error}")))
                })
                .collect::<Result<_, _>>()?,
            fetch_timeout: Duration::from_millis(self.fetch_timeout_ms),
            fetch_ca_file: self.fetch_ca_file.clone().or_else(|| {
                Some(self.certs_dir.join(certs::CA_FILE)).filter(|path| path.is_file())
            }),
            state_file: self.state_file.clone(),
        })
    }
}

/// Every environment variable the rig reads, in the order `--help` lists them.
pub fn variables() -> Vec<String> {
    defaults().into_iter().map(|(name, _)| name).collect()
}

/// A setting given as JSON, read as its type; empty counts as unset.
fn json_setting<T: serde::de::DeserializeOwned>(
    name: &str,
    text: Option<&str>,
) -> Result<Option<T>, LaunchError> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => serde_json::from_str(text)
            .map(Some)
            .map_err(|error| LaunchError::Config(format!("{name}: {error}"))),
    }
}

/// Every variable with its default as `--help` shows it (`None` when it has none).
pub fn defaults() -> Vec<(String, Option<String>)> {
    Flags::augment_args(clap::Command::new("mcp-oauth-sim"))
        .get_arguments()
        .filter_map(|arg| {
            let name = arg.get_env()?.to_string_lossy().into_owned();
            let default = arg
                .get_default_values()
                .first()
                .map(|value| value.to_string_lossy().into_owned());
            Some((name, default))
        })
        .collect()
}
