//! Everything the rig is started with, and how it becomes the two servers' configurations.
//!
//! The binary fills [`Settings`] from flags, the environment and `.env`; [`crate::SimBuilder`]
//! fills it from Rust. Both then go through [`Settings::prepare`], so a rig started either way
//! derives its URLs, trust and control guard by the same rules.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use mcp_server::TOOL_NAMES;
use oauth_server::Limits;
use rustls_pki_types::CertificateDer;
use sim_http::control::ControlGuard;
use sim_http::fetch::{Allowed, FetchPolicy};
use sim_http::form::is_scope_token;
use sim_http::journal;
use sim_http::public_url;
use sim_http::secret::random_token;
use sim_http::tls::Tls;
use url::Url;

use crate::certs::{self, CertError, Pki};

/// How the rig is started.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The address both servers listen on (`BIND`).
    pub bind: IpAddr,
    /// The authorization server's port (`OAUTH_PORT`); 0 picks a free one.
    pub oauth_port: u16,
    /// The MCP server's port (`MCP_PORT`); 0 picks a free one.
    pub mcp_port: u16,
    /// The dashboard's port (`DASHBOARD_PORT`); 0 picks a free one.
    pub dashboard_port: u16,
    /// The AS's public URL, which is also its issuer (`OAUTH_BASE_URL`).
    pub oauth_base_url: Option<String>,
    /// The MCP server's public origin (`MCP_BASE_URL`); the MCP URL is `<this>/mcp`.
    pub mcp_base_url: Option<String>,
    /// Where the MCP server reaches the AS to introspect tokens (`OAUTH_INTERNAL_URL`): a base
    /// URL (`/introspect` is appended) or the full endpoint. Default: the AS on loopback.
    pub oauth_internal_url: Option<String>,
    /// Issuers the AS hosts beside `main` (`ISSUERS`): under a path of its port, or on a port
    /// of their own, each with its own clients, tokens and switches.
    pub issuers: Vec<oauth_server::IssuerConfig>,
    /// The issuers the MCP server trusts, by name and in order (`MCP_AUTHORIZATION_SERVERS`):
    /// its metadata lists them, and it accepts the tokens of each. Default: `main`.
    pub mcp_authorization_servers: Vec<String>,
    /// HTTPS on both ports.
    pub tls: Option<TlsSource>,
    /// A refresh token valid from the start for any client (`SEED_REFRESH_TOKEN`).
    pub seed_refresh_token: Option<String>,
    /// The default issuer's knobs at start-up (`AS_PROFILE`); a reset restores them.
    pub oauth_profile: oauth_server::Profile,
    /// The MCP server's knobs at start-up (`MCP_PROFILE`); a reset restores them.
    pub mcp_profile: mcp_server::Profile,
    /// The default issuer's pre-registered clients (`CLIENTS`), kept across resets.
    pub clients: Vec<oauth_server::PreRegistered>,
    /// How `/authorize` gets consent at start-up and after a reset (`CONSENT`), every issuer.
    pub consent: oauth_server::ConsentMode,
    /// The users a grant may be for (`USERS`); the first is the subject of automatic consent.
    pub users: Vec<oauth_server::User>,
    /// The issuers whose jwt-bearer assertions the default issuer accepts
    /// (`ASSERTION_ISSUERS`), kept across resets.
    pub assertion_issuers: Vec<oauth_server::TrustRequest>,
    /// A situation of the conformance suite staged once both servers are up (`CONFORMANCE`).
    pub conformance: Option<crate::control::conformance::Situation>,
    /// Access-token lifetime at start-up (`TOKEN_TTL_SECONDS`).
    pub token_ttl: Duration,
    /// The scopes both servers announce (`SCOPES`); tool calls require the first.
    pub scopes: Vec<String>,
    /// Scopes a tool needs on top of the first of `scopes` (`TOOL_SCOPES`): tool name →
    /// space-separated scopes. They are announced by both servers besides `scopes`, so that a
    /// client can ask for them; a call without them is `403 insufficient_scope` (step-up).
    pub tool_scopes: BTreeMap<String, String>,
    /// Requests each server's journal keeps for `/control/events` (`JOURNAL_SIZE`).
    pub journal_size: usize,
    /// Registered clients the AS keeps (`MAX_CLIENTS`); beyond, the least recently used idle
    /// one is evicted. Within [`oauth_server::Limits::CLIENTS`].
    pub max_clients: usize,
    /// Live access and refresh tokens the AS keeps (`MAX_TOKENS`). Within
    /// [`oauth_server::Limits::TOKENS`].
    pub max_tokens: usize,
    /// Unredeemed authorization codes the AS keeps (`MAX_CODES`). Within
    /// [`oauth_server::Limits::CODES`].
    pub max_codes: usize,
    /// The bearer token `/control` requires (`CONTROL_TOKEN`). When unset and the rig is
    /// reachable from outside (a public base URL, or a non-loopback bind), one is generated.
    pub control_token: Option<String>,
    /// Plain `http` client ID metadata document URLs are fetched too (`FETCH_ALLOW_HTTP`), for
    /// a client under test that serves its document over http locally.
    pub fetch_allow_http: bool,
    /// Hosts, addresses and CIDR ranges that are not public but may be fetched from while the
    /// rig is reachable from outside (`FETCH_ALLOW_HOSTS`); on a local rig anything may.
    pub fetch_allow_hosts: Vec<Allowed>,
    /// The deadline of one document fetch, connection to last byte (`FETCH_TIMEOUT_MS`).
    pub fetch_timeout: Duration,
    /// A PEM file of CA certificates document fetches trust besides the platform's and the
    /// rig's own (`FETCH_CA_FILE`); the binary defaults it to `CERTS_DIR/ca.pem` when that
    /// exists, so a document served with a certificate from `certs` verifies.
    pub fetch_ca_file: Option<PathBuf>,
    /// Where both servers' state is kept across a restart (`STATE_FILE`): loaded at start when
    /// it exists, written within [`crate::state_file::WRITE_EVERY`] of a change and at a clean
    /// stop. `None`: the rig forgets everything when it stops.
    pub state_file: Option<PathBuf>,
}

impl Default for Settings {
    /// The binary's defaults: 127.0.0.1, ports 9100 and 9101 (the dashboard 9102), plain HTTP.
    fn default() -> Self {
        let caps = Limits::default();
        Self {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            oauth_port: 9100,
            mcp_port: 9101,
            dashboard_port: 9102,
            oauth_base_url: None,
            mcp_base_url: None,
            oauth_internal_url: None,
            issuers: Vec::new(),
            mcp_authorization_servers: vec![oauth_server::MAIN_ISSUER.to_owned()],
            tls: None,
            seed_refresh_token: None,
            oauth_profile: oauth_server::Profile::default(),
            mcp_profile: mcp_server::Profile::default(),
            clients: Vec::new(),
            consent: oauth_server::ConsentMode::Auto,
            users: vec![oauth_server::User::demo()],
            assertion_issuers: Vec::new(),
            conformance: None,
            token_ttl: Duration::from_secs(3600),
            scopes: vec!["mcp:tools".to_owned()],
            tool_scopes: BTreeMap::new(),
            journal_size: journal::DEFAULT_CAPACITY,
            max_clients: caps.max_clients,
            max_tokens: caps.max_tokens,
            max_codes: caps.max_codes,
            control_token: None,
            fetch_allow_http: false,
            fetch_allow_hosts: Vec::new(),
            fetch_timeout: FetchPolicy::default().timeout,
            fetch_ca_file: None,
            state_file: None,
        }
    }
}

/// The longest document fetch `FETCH_TIMEOUT_MS` allows: a fetch holds an `/authorize` or
/// `/token` request open, which a client gives up on after some seconds anyway.
pub const MAX_FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the HTTPS certificate comes from.
#[derive(Clone, Debug)]
pub enum TlsSource {
    /// PEM files: the chain (leaf first) and its key, plus an optional CA file to trust on the
    /// introspection link (the `certs` directory's `ca.pem`).
    Files {
        /// The certificate chain, leaf first (`TLS_CERT_FILE`).
        cert: PathBuf,
        /// Its private key (`TLS_KEY_FILE`).
        key: PathBuf,
        /// A CA the MCP server trusts when it introspects over HTTPS.
        ca: Option<PathBuf>,
    },
    /// Certificates made in memory (tests).
    Generated(Pki),
}

/// Why the rig could not start. Each message is the one line a user sees.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// A setting's value is wrong; the message names the setting.
    #[error("{0}")]
    Config(String),
    /// A port could not be bound.
    #[error("cannot listen on {addr} ({what}): {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The setting that named it (`OAUTH_PORT`, `MCP_PORT`, `DASHBOARD_PORT`).
        what: &'static str,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The certificates could not be made or read.
    #[error(transparent)]
    Cert(#[from] CertError),
    /// The authorization server refused its configuration.
    #[error("authorization server: {0}")]
    Auth(#[from] oauth_server::Error),
    /// The MCP server refused its configuration.
    #[error("MCP server: {0}")]
    Mcp(#[from] mcp_server::Error),
    /// Anything else the operating system refused.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The control client for the rig could not be made.
    #[error(transparent)]
    Control(#[from] crate::ControlError),
}

/// The settings resolved into what the servers are started with, minus the listeners' ports,
/// which are known only once bound.
pub(crate) struct Prepared {
    pub tls: Option<Tls>,
    /// Certificates the introspection link and the control client trust besides the system's.
    pub roots: Vec<CertificateDer<'static>>,
    /// The CA a client must trust, when the rig made it.
    pub ca_pem: Option<String>,
    /// What the issuers may fetch, and the roots they trust doing it.
    pub fetch: oauth_server::Fetch,
    pub control: ControlGuard,
    /// The control token, and whether the rig generated it (so the binary prints it).
    pub control_token: Option<(String, bool)>,
    /// `tool_scopes` checked, each value normalized to space-separated scopes.
    pub tool_scopes: BTreeMap<String, String>,
}

impl Settings {
    /// `https` when a certificate is configured.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// Whether someone other than this machine's user can reach the rig: through a public
    /// base URL (a tunnel connects over loopback, so the bind address alone says nothing) or
    /// a bind address other than loopback.
    pub fn exposed(&self) -> bool {
        !self.bind.is_loopback()
            || [&self.oauth_base_url, &self.mcp_base_url]
                .into_iter()
                .flatten()
                .any(|url| !public_url::is_loopback(url))
    }

    /// Checks what can be checked before binding, loads certificates, and settles the control
    /// guard.
    pub(crate) fn prepare(&self) -> Result<Prepared, LaunchError> {
        if self.scopes.is_empty() {
            return Err(LaunchError::Config(
                "SCOPES must name at least one scope".into(),
            ));
        }
        let tool_scopes = check_tool_scopes(&self.tool_scopes)?;
        oauth_server::consent::check_users(&self.users)
            .map_err(|why| LaunchError::Config(format!("USERS: {why}")))?;
        for issuer in &self.issuers {
            issuer
                .validate()
                .map_err(|why| LaunchError::Config(format!("ISSUERS: {why}")))?;
        }
        if self.mcp_authorization_servers.is_empty() {
            return Err(LaunchError::Config(
                "MCP_AUTHORIZATION_SERVERS must name at least one issuer".into(),
            ));
        }
        if let Some(unknown) = self.mcp_authorization_servers.iter().find(|name| {
            *name != oauth_server::MAIN_ISSUER
                && !self.issuers.iter().any(|issuer| issuer.name == **name)
        }) {
            let mut known = vec![oauth_server::MAIN_ISSUER];
            known.extend(self.issuers.iter().map(|issuer| issuer.name.as_str()));
            return Err(LaunchError::Config(format!(
                "MCP_AUTHORIZATION_SERVERS names '{unknown}', which is not an issuer ({})",
                known.join(", ")
            )));
        }
        if !(1..=journal::MAX_CAPACITY).contains(&self.journal_size) {
            return Err(LaunchError::Config(format!(
                "JOURNAL_SIZE must be from 1 to {}, not {}",
                journal::MAX_CAPACITY,
                self.journal_size
            )));
        }
        for (name, value, range) in [
            ("MAX_CLIENTS", self.max_clients, Limits::CLIENTS),
            ("MAX_TOKENS", self.max_tokens, Limits::TOKENS),
            ("MAX_CODES", self.max_codes, Limits::CODES),
        ] {
            if !range.contains(&value) {
                return Err(LaunchError::Config(format!(
                    "{name} must be from {} to {}, not {value}",
                    range.start(),
                    range.end()
                )));
            }
        }
        for (what, url) in [
            ("OAUTH_BASE_URL", &self.oauth_base_url),
            ("MCP_BASE_URL", &self.mcp_base_url),
            ("OAUTH_INTERNAL_URL", &self.oauth_internal_url),
        ] {
            if let Some(url) = url {
                public_url::parse(what, url).map_err(LaunchError::Config)?;
            }
        }
        let (tls, ca_pem) = match &self.tls {
            None => (None, None),
            Some(TlsSource::Generated(pki)) => (Some(pki.tls()?), Some(pki.ca_pem().to_owned())),
            Some(TlsSource::Files { cert, key, .. }) => (
                Some(Tls::from_pem_files(cert, key).map_err(CertError::from)?),
                None,
            ),
        };
        let roots = self.trust_roots()?;
        let fetch = self.fetch(&roots)?;
        let control_token = match &self.control_token {
            Some(token) => Some((token.clone(), false)),
            None if self.exposed() => Some((random_token(), true)),
            None => None,
        };
        let control = match &control_token {
            Some((token, _)) => ControlGuard::with_token(token.clone()),
            None => ControlGuard::open(),
        };
        Ok(Prepared {
            tls,
            roots,
            ca_pem,
            fetch,
            control,
            control_token,
            tool_scopes,
        })
    }

    /// What the issuers may fetch: anything while the rig is local (documents on loopback are
    /// the normal case there), public addresses and the listed ones once it is exposed; and
    /// whom they trust: the rig's own roots, and `fetch_ca_file`'s.
    fn fetch(&self, roots: &[CertificateDer<'static>]) -> Result<oauth_server::Fetch, LaunchError> {
        if self.fetch_timeout.is_zero() || self.fetch_timeout > MAX_FETCH_TIMEOUT {
            return Err(LaunchError::Config(format!(
                "FETCH_TIMEOUT_MS must be from 1 to {}",
                MAX_FETCH_TIMEOUT.as_millis()
            )));
        }
        let mut roots = roots.to_vec();
        if let Some(file) = &self.fetch_ca_file {
            let extra = certs::read_certificates(file)
                .map_err(|error| LaunchError::Config(format!("FETCH_CA_FILE: {error}")))?;
            roots.extend(extra);
        }
        Ok(oauth_server::Fetch {
            policy: FetchPolicy {
                any_address: !self.exposed(),
                allowed: self.fetch_allow_hosts.clone(),
                allow_http: self.fetch_allow_http,
                timeout: self.fetch_timeout,
                ..FetchPolicy::default()
            },
            roots,
        })
    }

    /// The scopes both servers announce: `scopes`, then those only `tool_scopes` names.
    pub fn announced_scopes(&self) -> Vec<String> {
        let mut announced = self.scopes.clone();
        for scope in self
            .tool_scopes
            .values()
            .flat_map(|scopes| split_scopes(scopes))
        {
            if !announced.iter().any(|known| known == scope) {
                announced.push(scope.to_owned());
            }
        }
        announced
    }

    /// The certificates a local client of this rig trusts besides the system's: the served chain
    /// itself and the CA file when there is one, so that the link to our own servers verifies
    /// whatever certificate the user brought.
    pub fn trust_roots(&self) -> Result<Vec<CertificateDer<'static>>, CertError> {
        match &self.tls {
            None => Ok(Vec::new()),
            Some(TlsSource::Generated(pki)) => Ok(vec![pki.ca_der()]),
            Some(TlsSource::Files { cert, ca, .. }) => {
                let mut roots = certs::read_certificates(cert)?;
                if let Some(ca) = ca {
                    roots.extend(certs::read_certificates(ca)?);
                }
                Ok(roots)
            }
        }
    }

    /// The address the servers are reached at from this machine: the bind address, or loopback
    /// when bound to every interface.
    pub fn local_ip(&self) -> IpAddr {
        match self.bind {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        }
    }

    /// Parses `ISSUERS`: comma-separated `NAME=/PATH`, `NAME=:PORT` or `NAME=:PORT/PATH`.
    pub fn parse_issuers(text: &str) -> Result<Vec<oauth_server::IssuerConfig>, LaunchError> {
        text.split(',')
            .map(str::trim)
            .filter(|spec| !spec.is_empty())
            .map(|spec| {
                oauth_server::IssuerConfig::parse(spec)
                    .map_err(|why| LaunchError::Config(format!("ISSUERS: {why}")))
            })
            .collect()
    }

    /// The introspection endpoint the MCP server calls, given the AS's bound port.
    /// The MCP server's public origin on `mcp_port`: `MCP_BASE_URL`, else `localhost`.
    pub(crate) fn mcp_origin(&self, mcp_port: u16) -> String {
        match &self.mcp_base_url {
            Some(base) => base.trim_end_matches('/').to_owned(),
            None => format!("{}://localhost:{mcp_port}", self.scheme()),
        }
    }

    pub(crate) fn introspection_url(&self, oauth_port: u16) -> String {
        match &self.oauth_internal_url {
            Some(url) => {
                let url = url.trim_end_matches('/');
                match Url::parse(url) {
                    Ok(parsed) if parsed.path() == "/" => format!("{url}/introspect"),
                    _ => url.to_owned(),
                }
            }
            None => format!(
                "{}://{}/introspect",
                self.scheme(),
                SocketAddr::new(self.local_ip(), oauth_port)
            ),
        }
    }
}

/// Parses `TOOL_SCOPES`: `tool=scope,tool=scope`, several scopes for one tool separated by
/// spaces or `+` (`add=mcp:write+mcp:admin`). The tools are checked when the rig starts.
pub fn parse_tool_scopes(text: &str) -> Result<BTreeMap<String, String>, LaunchError> {
    let mut map = BTreeMap::new();
    for entry in text
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
    {
        let Some((tool, scopes)) = entry.split_once('=') else {
            return Err(tool_scopes_error(format!(
                "'{entry}' is not tool=scope (e.g. add=mcp:write,whoami=mcp:admin)"
            )));
        };
        let tool = tool.trim();
        if map
            .insert(tool.to_owned(), scopes.trim().to_owned())
            .is_some()
        {
            return Err(tool_scopes_error(format!("names tool '{tool}' twice")));
        }
    }
    check_tool_scopes(&map)
}

/// The scopes of one `TOOL_SCOPES` value: separated by whitespace or `+`.
fn split_scopes(scopes: &str) -> impl Iterator<Item = &str> {
    scopes
        .split(|c: char| c.is_whitespace() || c == '+')
        .filter(|scope| !scope.is_empty())
}

/// Checks every tool is one of the MCP server's [`TOOL_NAMES`] with at least one valid scope, and writes each value
/// space-separated, as the MCP server takes it.
fn check_tool_scopes(
    tool_scopes: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, LaunchError> {
    let mut checked = BTreeMap::new();
    for (tool, scopes) in tool_scopes {
        if !TOOL_NAMES.contains(&tool.as_str()) {
            return Err(tool_scopes_error(format!(
                "names unknown tool '{tool}'; the tools are {}",
                TOOL_NAMES.join(", ")
            )));
        }
        let scopes: Vec<&str> = split_scopes(scopes).collect();
        if scopes.is_empty() {
            return Err(tool_scopes_error(format!("gives tool '{tool}' no scope")));
        }
        if let Some(bad) = scopes.iter().find(|scope| !is_scope_token(scope)) {
            return Err(tool_scopes_error(format!(
                "scope '{bad}' of tool '{tool}' is not a valid scope token"
            )));
        }
        checked.insert(tool.clone(), scopes.join(" "));
    }
    Ok(checked)
}

fn tool_scopes_error(reason: String) -> LaunchError {
    LaunchError::Config(format!("TOOL_SCOPES {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_base_url_or_an_open_bind_exposes_the_rig() {
        let local = Settings::default();
        assert!(!local.exposed());
        let tunnel = Settings {
            mcp_base_url: Some("https://abc.trycloudflare.com".into()),
            ..Settings::default()
        };
        assert!(tunnel.exposed());
        let local_names = Settings {
            oauth_base_url: Some("https://localhost:9100".into()),
            mcp_base_url: Some("http://[::1]:9101".into()),
            ..Settings::default()
        };
        assert!(!local_names.exposed());
        let open = Settings {
            bind: "0.0.0.0".parse().unwrap(),
            ..Settings::default()
        };
        assert!(open.exposed());
    }

    #[test]
    fn exposed_rig_gets_a_generated_control_token_unless_one_is_set() {
        let tunnel = Settings {
            oauth_base_url: Some("https://abc.example".into()),
            ..Settings::default()
        };
        let (token, generated) = tunnel.prepare().unwrap().control_token.unwrap();
        assert!(generated);
        assert_eq!(token.len(), 43, "256 bits, base64url");
        let chosen = Settings {
            control_token: Some("s3cret".into()),
            ..tunnel
        };
        assert_eq!(
            chosen.prepare().unwrap().control_token,
            Some(("s3cret".to_owned(), false))
        );
        assert!(
            Settings::default()
                .prepare()
                .unwrap()
                .control_token
                .is_none()
        );
    }

    #[test]
    fn introspection_goes_to_loopback_unless_told_otherwise() {
        let tunnel = Settings {
            oauth_base_url: Some("https://abc.example".into()),
            ..Settings::default()
        };
        assert_eq!(
            tunnel.introspection_url(9100),
            "http://127.0.0.1:9100/introspect"
        );
        let open = Settings {
            bind: "::".parse().unwrap(),
            ..Settings::default()
        };
        assert_eq!(open.introspection_url(9100), "http://[::1]:9100/introspect");
        let base = Settings {
            oauth_internal_url: Some("http://10.0.0.5:9100/".into()),
            ..Settings::default()
        };
        assert_eq!(base.introspection_url(1), "http://10.0.0.5:9100/introspect");
        let full = Settings {
            oauth_internal_url: Some("http://auth.internal/oauth2/introspect".into()),
            ..Settings::default()
        };
        assert_eq!(
            full.introspection_url(1),
            "http://auth.internal/oauth2/introspect"
        );
    }

    #[test]
    fn tool_scopes_parse_with_spaces_or_plus_between_scopes() {
        let parsed = parse_tool_scopes(" add=mcp:write+mcp:admin , whoami=mcp:admin ").unwrap();
        assert_eq!(parsed["add"], "mcp:write mcp:admin");
        let settings = Settings {
            tool_scopes: parsed,
            ..Settings::default()
        };
        let prepared = settings.prepare().unwrap();
        assert_eq!(prepared.tool_scopes["add"], "mcp:write mcp:admin");
        assert_eq!(prepared.tool_scopes["whoami"], "mcp:admin");
        assert_eq!(
            settings.announced_scopes(),
            ["mcp:tools", "mcp:write", "mcp:admin"]
        );
        let spaced = parse_tool_scopes("echo=mcp:tools extra").unwrap();
        assert_eq!(
            check_tool_scopes(&spaced).unwrap()["echo"],
            "mcp:tools extra"
        );
        assert!(parse_tool_scopes("").unwrap().is_empty());
    }

    #[test]
    fn bad_tool_scopes_name_the_variable_and_the_mistake() {
        for (text, expected) in [
            ("add", "'add' is not tool=scope"),
            ("add=", "gives tool 'add' no scope"),
            (
                "nope=mcp:write",
                "unknown tool 'nope'; the tools are echo, add, whoami",
            ),
            ("add=a,add=b", "names tool 'add' twice"),
            ("add=a\"b", "not a valid scope token"),
        ] {
            let message = parse_tool_scopes(text).unwrap_err().to_string();
            assert!(message.starts_with("TOOL_SCOPES "), "{text}: {message}");
            assert!(message.contains(expected), "{text}: {message}");
        }
    }

    #[test]
    fn bad_urls_and_empty_scopes_are_refused() {
        for settings in [
            Settings {
                scopes: Vec::new(),
                ..Settings::default()
            },
            Settings {
                mcp_base_url: Some("abc.trycloudflare.com".into()),
                ..Settings::default()
            },
            Settings {
                oauth_internal_url: Some("ftp://127.0.0.1".into()),
                ..Settings::default()
            },
            Settings {
                journal_size: 0,
                ..Settings::default()
            },
            Settings {
                journal_size: journal::MAX_CAPACITY + 1,
                ..Settings::default()
            },
            Settings {
                max_clients: 0,
                ..Settings::default()
            },
            Settings {
                max_tokens: 1,
                ..Settings::default()
            },
            Settings {
                max_codes: Limits::CODES.end() + 1,
                ..Settings::default()
            },
            Settings {
                tool_scopes: BTreeMap::from([("fetch".to_owned(), "mcp:web".to_owned())]),
                ..Settings::default()
            },
        ] {
            assert!(settings.prepare().is_err(), "{settings:?}");
        }
    }
}
