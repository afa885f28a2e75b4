//! What the MCP server is configured with at start-up.

use std::collections::BTreeMap;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use sim_http::control::ControlGuard;
use sim_http::form::is_scope_token;
use sim_http::journal;
use sim_http::public_url;
use sim_http::tls::Tls;
use url::Url;

use crate::Error;
use crate::cohost::Cohost;
use crate::profile::Profile;
use crate::tools::TOOL_NAMES;

/// The path of the MCP endpoint. Fixed: clients are given `<base URL>/mcp`.
pub const MCP_PATH: &str = "/mcp";

/// Start-up configuration. The binary fills it from flags and the environment; tests build it
/// directly.
#[derive(Clone, Debug)]
pub struct Config {
    /// The public base URL (`MCP_BASE_URL`): the resource is `<base>/mcp`, and every discovery
    /// URL derives from it. When `None`, the server answers with the loopback name the client
    /// used (`localhost`, `127.0.0.1` or `[::1]`) and its own port, so that a client pointed at
    /// any of them finds a resource identifier equal to the URL it was given.
    pub base_url: Option<String>,
    /// The authorization servers whose tokens this resource accepts, in order: listed so in the
    /// protected-resource metadata, and asked in turn about each token. The control plane can
    /// replace the list at run time; a reset restores this one.
    pub authorization_servers: Vec<AuthorizationServer>,
    /// Extra CA certificates trusted for the introspection call, for an AS serving HTTPS with
    /// the rig's own CA. The system roots are trusted as well.
    pub introspection_roots: Vec<CertificateDer<'static>>,
    /// How long one introspection call may take, connecting included, before the MCP request
    /// is answered 503.
    pub introspection_timeout: Duration,
    /// Scopes announced in the metadata and in every challenge (`SCOPES`).
    pub scopes: Vec<String>,
    /// Scopes a token must hold for `tools/call`; without them the call is refused with
    /// `403 insufficient_scope`. Each must be one of `scopes`. Empty: any active token will do.
    pub required_scopes: Vec<String>,
    /// Scopes a `tools/call` of one tool needs on top of `required_scopes` (tool name → scopes,
    /// space-separated), so that a client can be made to step up for one tool only. Tools are
    /// `echo`, `add` and `whoami`; each scope must be one of `scopes`. The control plane may
    /// change the map at run time; a reset restores this one.
    pub tool_scopes: BTreeMap<String, String>,
    /// Requests the journal keeps (`/control/events`), from 1 to
    /// [`sim_http::journal::MAX_CAPACITY`].
    pub journal_size: usize,
    /// The human-readable name in the metadata.
    pub resource_name: String,
    /// Browser origins allowed to call `/mcp`, in rmcp's syntax (`https://app.example:*`), on
    /// top of the loopback origins and the base URL's origin, which are always allowed.
    pub allowed_origins: Vec<String>,
    /// Who may use `/control`.
    pub control: ControlGuard,
    /// Serve HTTPS with this acceptor.
    pub tls: Option<Tls>,
    /// Connections served at once.
    pub max_connections: usize,
    /// How discovery is laid out and challenges are shaped; the control plane may change it
    /// at run time, a reset restores this one. Its `required_scopes`, when set, wins over
    /// [`Config::required_scopes`].
    pub profile: Profile,
    /// Another server answering, on this origin, every request the MCP server does not route
    /// itself: an authorization server co-hosted on the MCP origin (the 2025-03-26 layout).
    pub cohost: Option<Cohost>,
}

/// An authorization server this resource trusts, and how its tokens are checked.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationServer {
    /// Its issuer, put verbatim into the protected-resource metadata. It must be byte-identical
    /// to the `issuer` of its metadata, or clients refuse the pair.
    pub issuer: String,
    /// Where its tokens are checked (RFC 7662). An internal URL, normally the AS on loopback: a
    /// tunnel in front of the AS may change its public URL, token checks must not depend on it.
    pub introspection_url: String,
}

impl AuthorizationServer {
    /// The server of `issuer`, checking tokens at `introspection_url`.
    pub fn new(issuer: impl Into<String>, introspection_url: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            introspection_url: introspection_url.into(),
        }
    }

    /// Checks both URLs; the error names what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let issuer = public_url::parse("authorization server issuer", &self.issuer)?;
        if self.issuer.ends_with('/') && issuer.path() == "/" {
            return Err(format!(
                "authorization server issuer '{}' must not end with '/': it has to be \
                 byte-identical to the AS metadata's issuer",
                self.issuer
            ));
        }
        public_url::parse("introspection URL", &self.introspection_url)?;
        Ok(())
    }
}

/// Authorization servers one resource lists at most.
pub const MAX_AUTHORIZATION_SERVERS: usize = 16;

/// Checks a list of authorization servers: one to [`MAX_AUTHORIZATION_SERVERS`], each valid,
/// no issuer twice.
pub fn check_authorization_servers(servers: &[AuthorizationServer]) -> Result<(), String> {
    if servers.is_empty() || servers.len() > MAX_AUTHORIZATION_SERVERS {
        return Err(format!(
            "list 1 to {MAX_AUTHORIZATION_SERVERS} authorization servers, not {}",
            servers.len()
        ));
    }
    for (index, server) in servers.iter().enumerate() {
        server.validate()?;
        if servers[..index]
            .iter()
            .any(|other| other.issuer == server.issuer)
        {
            return Err(format!("issuer '{}' is listed twice", server.issuer));
        }
    }
    Ok(())
}

impl Default for Config {
    fn default() -> Self {
        Self {
            base_url: None,
            authorization_servers: vec![AuthorizationServer::new(
                "http://localhost:9100",
                "http://127.0.0.1:9100/introspect",
            )],
            introspection_roots: Vec::new(),
            introspection_timeout: Duration::from_secs(2),
            scopes: vec!["mcp:tools".to_owned()],
            required_scopes: vec!["mcp:tools".to_owned()],
            tool_scopes: BTreeMap::new(),
            journal_size: journal::DEFAULT_CAPACITY,
            resource_name: "mcp-oauth-sim MCP server".to_owned(),
            allowed_origins: Vec::new(),
            control: ControlGuard::open(),
            tls: None,
            max_connections: 1024,
            profile: Profile::default(),
            cohost: None,
        }
    }
}

impl Config {
    /// Checks every value that can be wrong independently of the listener.
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(base) = &self.base_url {
            parse_base(base).map_err(Error::Config)?;
        }
        check_authorization_servers(&self.authorization_servers).map_err(Error::Config)?;
        if self.introspection_timeout.is_zero() {
            return Err(Error::Config("the introspection timeout is zero".into()));
        }
        if let Some(bad) = self.scopes.iter().find(|scope| !is_scope_token(scope)) {
            return Err(Error::Config(format!(
                "scope '{bad}' is not a valid scope token"
            )));
        }
        if let Some(unknown) = self
            .required_scopes
            .iter()
            .find(|scope| !self.scopes.contains(scope))
        {
            return Err(Error::Config(format!(
                "required scope '{unknown}' is not among the announced scopes"
            )));
        }
        for (tool, scopes) in &self.tool_scopes {
            check_tool_scopes(tool, scopes, &self.scopes).map_err(Error::Config)?;
        }
        self.profile
            .validate()
            .map_err(|why| Error::Config(format!("profile: {why}")))?;
        if !(1..=journal::MAX_CAPACITY).contains(&self.journal_size) {
            return Err(Error::Config(format!(
                "the journal size must be from 1 to {}",
                journal::MAX_CAPACITY
            )));
        }
        Ok(())
    }

    /// The fixed base URL, if one is configured (validated by [`Config::validate`]).
    pub(crate) fn base(&self) -> Option<Url> {
        self.base_url
            .as_deref()
            .and_then(|base| parse_base(base).ok())
    }
}

/// Checks that `tool` is one of ours and that `scopes` (space-separated, at least one) are all
/// announced; answers them normalised (single spaces, no repeats). Shared by the start-up check
/// and `POST /control/tool-scopes`.
pub(crate) fn check_tool_scopes(
    tool: &str,
    scopes: &str,
    announced: &[String],
) -> Result<Vec<String>, String> {
    check_tool(tool)?;
    let mut listed: Vec<String> = Vec::new();
    for scope in scopes.split_ascii_whitespace() {
        if !announced.iter().any(|known| known == scope) {
            return Err(format!(
                "scope '{scope}' for tool '{tool}' is not among the announced scopes ({}); the \
                 authorization server grants only those, so start the rig with it in SCOPES or \
                 TOOL_SCOPES",
                announced.join(" ")
            ));
        }
        if !listed.iter().any(|seen| seen == scope) {
            listed.push(scope.to_owned());
        }
    }
    if listed.is_empty() {
        return Err(format!(
            "no scopes given for tool '{tool}' (to require none, remove it)"
        ));
    }
    Ok(listed)
}

/// Checks that `tool` is one of ours.
pub(crate) fn check_tool(tool: &str) -> Result<(), String> {
    if TOOL_NAMES.contains(&tool) {
        return Ok(());
    }
    Err(format!(
        "unknown tool '{tool}'; the tools are {}",
        TOOL_NAMES.join(", ")
    ))
}

/// A base URL is an `http(s)` origin: the MCP endpoint is always at `/mcp` below it, so a path
/// would only ever be a mistake such as passing the MCP URL itself. Shared by the start-up
/// check and `POST /control/base-url`.
pub(crate) fn parse_base(base: &str) -> Result<Url, String> {
    let url = public_url::parse("MCP base URL", base)?;
    if url.path() != "/" {
        return Err(format!(
            "MCP base URL '{base}' must not have a path; the MCP endpoint is always <base>/mcp"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "the MCP base URL must not carry a user name or password; give the origin only".into(),
        );
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn base_url_with_a_path_is_refused_with_a_hint() {
        let config = Config {
            base_url: Some("https://x.trycloudflare.com/mcp".into()),
            ..Config::default()
        };
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("<base>/mcp"), "{error}");
        let config = Config {
            base_url: Some("https://x.trycloudflare.com/".into()),
            ..Config::default()
        };
        config.validate().unwrap();
    }

    #[test]
    fn issuer_with_trailing_slash_is_refused() {
        let config = Config {
            authorization_servers: vec![AuthorizationServer::new(
                "http://localhost:9100/",
                "http://127.0.0.1:9100/introspect",
            )],
            ..Config::default()
        };
        assert!(config.validate().is_err());
    }

    #[test]
    fn non_http_urls_and_bad_scopes_are_refused() {
        for config in [
            Config {
                authorization_servers: vec![AuthorizationServer::new(
                    "http://localhost:9100",
                    "ftp://127.0.0.1/introspect",
                )],
                ..Config::default()
            },
            Config {
                base_url: Some("not a url".into()),
                ..Config::default()
            },
            Config {
                scopes: vec!["has space".into()],
                ..Config::default()
            },
            Config {
                scopes: vec!["a".into()],
                ..Config::default()
            },
            Config {
                journal_size: 0,
                ..Config::default()
            },
            Config {
                journal_size: journal::MAX_CAPACITY + 1,
                ..Config::default()
            },
        ] {
            assert!(config.validate().is_err(), "{config:?}");
        }
    }

    #[test]
    fn tool_scopes_must_name_our_tools_and_announced_scopes() {
        let with = |tool: &str, scopes: &str| Config {
            scopes: vec!["mcp:tools".into(), "mcp:write".into()],
            tool_scopes: BTreeMap::from([(tool.to_owned(), scopes.to_owned())]),
            ..Config::default()
        };
        with("add", "mcp:write").validate().unwrap();
        with("whoami", "mcp:write  mcp:tools").validate().unwrap();
        for (tool, scopes, expected) in [
            ("delete", "mcp:write", "unknown tool 'delete'"),
            ("add", "mcp:admin", "scope 'mcp:admin'"),
            ("add", " ", "no scopes given"),
        ] {
            let error = with(tool, scopes).validate().unwrap_err().to_string();
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn tool_scopes_are_normalised() {
        let announced = ["a".to_owned(), "b".to_owned()];
        assert_eq!(
            check_tool_scopes("echo", " b a  b ", &announced).unwrap(),
            ["b", "a"]
        );
    }
}
