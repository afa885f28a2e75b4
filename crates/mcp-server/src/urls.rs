//! The URLs the server announces, and the names under which it accepts tokens.
//!
//! Clients compare the protected-resource metadata's `resource` with the URL they were given,
//! byte for byte after normalisation (`localhost` ≠ `127.0.0.1`). With a configured base URL
//! every answer uses it; without one, the answer uses whichever loopback name the client used,
//! so `http://127.0.0.1:9101/mcp` and `http://localhost:9101/mcp` both work out of the box.
//!
//! The base URL can change at run time (a tunnel's new public name): a [`PublicUrls`] is then
//! built anew from the old one ([`PublicUrls::repointed`]) and swapped whole, so that a
//! request sees one consistent set of URLs, hosts and audiences.

use std::collections::HashSet;

use http::header::{self, HeaderMap};
use http::uri::Authority;
use url::Url;

use crate::config::{Config, MCP_PATH};

/// Where the path-inserted protected-resource metadata lives (RFC 9728 §3.1).
pub const PRM_PATH: &str = "/.well-known/oauth-protected-resource/mcp";
/// The root form, which clients probe when the path-inserted one is missing.
pub const PRM_ROOT_PATH: &str = "/.well-known/oauth-protected-resource";

const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// Former origins remembered at most; past this the oldest is forgotten. A tunnel restarted
/// all day long must not grow the set without end.
pub const MAX_FORMER_AUDIENCES: usize = 32;

#[derive(Debug)]
pub struct PublicUrls {
    /// The configured (or re-pointed) base, kept to rebuild from.
    base: Option<Url>,
    /// Its origin (`scheme://host[:port]`), which every answer uses when present.
    fixed: Option<String>,
    /// `http` or `https`, from whether the listener serves TLS.
    scheme: &'static str,
    port: u16,
    /// The base used when the client's `Host` is not one of ours.
    fallback: String,
    /// The origins this server answers as now: the loopback names and the base, if any.
    in_force: Vec<String>,
    /// Origins this server answered as before a re-point, oldest first, none of them in
    /// force: their tokens are still accepted (same server, same tokens).
    former: Vec<String>,
    /// Whether a re-point adds the origin it leaves to `former` (else `former` is emptied).
    keep_old_audience: bool,
    /// Every `aud` value that names this server: its MCP URL or its origin, under each name,
    /// former ones included.
    audiences: HashSet<String>,
    /// rmcp's `Host` allow-list (DNS-rebinding protection). Former names are not in it: a
    /// request through a name given up is refused.
    hosts: Vec<String>,
    /// rmcp's `Origin` allow-list.
    origins: Vec<String>,
}

impl PublicUrls {
    /// The URLs of the configured base, nothing former.
    pub fn new(config: &Config, port: u16) -> Self {
        Self::build(config, port, config.base(), Vec::new(), true)
    }

    /// The same URLs with `former` as the former origins (each an origin already checked),
    /// or none if not `keep_old_audience`: what a restore brings back.
    pub fn remembering(
        &self,
        config: &Config,
        former: Vec<String>,
        keep_old_audience: bool,
    ) -> Self {
        let former = if keep_old_audience {
            former
        } else {
            Vec::new()
        };
        Self::build(
            config,
            self.port,
            self.base.clone(),
            former,
            keep_old_audience,
        )
    }

    /// The URLs once the base is `base` (`None`: the loopback behaviour). With
    /// `keep_old_audience`, the origin given up joins the former ones; without, they are all
    /// forgotten.
    pub fn repointed(&self, config: &Config, base: Option<Url>, keep_old_audience: bool) -> Self {
        let former = if keep_old_audience {
            let mut former = self.former.clone();
            former.extend(self.fixed.clone());
            former
        } else {
            Vec::new()
        };
        Self::build(config, self.port, base, former, keep_old_audience)
    }

    fn build(
        config: &Config,
        port: u16,
        base: Option<Url>,
        former: Vec<String>,
        keep_old_audience: bool,
    ) -> Self {
        let scheme = if config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let fixed = base.as_ref().map(|url| url.origin().ascii_serialization());
        let mut bases: Vec<String> = LOOPBACK_HOSTS
            .iter()
            .map(|host| format!("{scheme}://{host}:{port}"))
            .collect();
        let mut hosts: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
        let mut origins: Vec<String> = ["http", "https"]
            .iter()
            .flat_map(|scheme| {
                LOOPBACK_HOSTS
                    .iter()
                    .map(move |host| format!("{scheme}://{host}:*"))
            })
            .collect();
        if let (Some(url), Some(fixed)) = (&base, &fixed) {
            if !bases.contains(fixed) {
                bases.push(fixed.clone());
            }
            if let Some(host) = url.host_str() {
                hosts.push(host.trim_matches(['[', ']']).to_owned());
            }
            if let Some(port) = url.port_or_known_default() {
                origins.push(format!(
                    "{}://{}:{port}",
                    url.scheme(),
                    url.host_str().unwrap_or_default()
                ));
            }
        }
        origins.extend(config.allowed_origins.iter().cloned());
        let former = bounded_former(former, &bases);
        let audiences = bases
            .iter()
            .chain(&former)
            .flat_map(|base| {
                [
                    format!("{base}{MCP_PATH}"),
                    base.clone(),
                    format!("{base}/"),
                ]
            })
            .collect();
        Self {
            base,
            fallback: fixed
                .clone()
                .unwrap_or_else(|| format!("{scheme}://localhost:{port}")),
            fixed,
            scheme,
            port,
            in_force: bases,
            former,
            keep_old_audience,
            audiences,
            hosts,
            origins,
        }
    }

    /// The base URL to answer `request` with: the configured one, or the loopback name and
    /// port the client used.
    pub fn base_for(&self, headers: &HeaderMap, uri: &http::Uri) -> String {
        if let Some(fixed) = &self.fixed {
            return fixed.clone();
        }
        let authority = headers
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<Authority>().ok())
            .or_else(|| uri.authority().cloned());
        match authority {
            Some(authority)
                if authority.port_u16() == Some(self.port)
                    && LOOPBACK_HOSTS
                        .iter()
                        .any(|host| authority.host().eq_ignore_ascii_case(host)) =>
            {
                format!(
                    "{}://{}:{}",
                    self.scheme,
                    authority.host().to_ascii_lowercase(),
                    self.port
                )
            }
            _ => self.fallback.clone(),
        }
    }

    /// The MCP URL (the resource identifier) clients are normally given.
    pub fn default_resource(&self) -> String {
        format!("{}{MCP_PATH}", self.fallback)
    }

    /// Whether an introspected audience names this server (RFC 8707). Both the MCP URL and
    /// the server's origin are accepted: the MCP specification allows either as the canonical
    /// resource identifier.
    pub fn accepts_audience(&self, audience: &str) -> bool {
        self.audiences.contains(audience)
    }

    pub fn allowed_hosts(&self) -> &[String] {
        &self.hosts
    }

    pub fn allowed_origins(&self) -> &[String] {
        &self.origins
    }

    /// The base URL in force (its origin), `None` for the loopback behaviour.
    pub fn base_url(&self) -> Option<&str> {
        self.fixed.as_deref()
    }

    /// Whether a re-point keeps accepting the audiences it leaves.
    pub fn keep_old_audience(&self) -> bool {
        self.keep_old_audience
    }

    /// The origins whose tokens are accepted though the server no longer answers as them,
    /// oldest first.
    pub fn former_audiences(&self) -> &[String] {
        &self.former
    }

    /// Every origin whose tokens are accepted now, former ones first: what a restart must
    /// keep accepting, on whatever ports it comes back.
    pub fn remembered(&self) -> Vec<String> {
        self.former.iter().chain(&self.in_force).cloned().collect()
    }
}

/// `former` without the origins in force and without repeats (the latest mention counts),
/// the newest [`MAX_FORMER_AUDIENCES`] of them, oldest first.
fn bounded_former(former: Vec<String>, in_force: &[String]) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for origin in former.into_iter().rev() {
        if kept.len() == MAX_FORMER_AUDIENCES {
            break;
        }
        if !in_force.contains(&origin) && !kept.contains(&origin) {
            kept.push(origin);
        }
    }
    kept.reverse();
    kept
}

/// The resource identifier for a base URL.
pub fn resource(base: &str) -> String {
    format!("{base}{MCP_PATH}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, host.parse().unwrap());
        headers
    }

    #[test]
    fn without_a_base_url_the_client_sees_the_loopback_name_it_used() {
        let urls = PublicUrls::new(&Config::default(), 9101);
        let uri = http::Uri::from_static("/mcp");
        assert_eq!(
            urls.base_for(&headers("127.0.0.1:9101"), &uri),
            "http://127.0.0.1:9101"
        );
        assert_eq!(
            urls.base_for(&headers("LOCALHOST:9101"), &uri),
            "http://localhost:9101"
        );
        assert_eq!(
            urls.base_for(&headers("[::1]:9101"), &uri),
            "http://[::1]:9101"
        );
        // A name that is not ours, or another port, gets the default.
        assert_eq!(
            urls.base_for(&headers("evil.example:9101"), &uri),
            "http://localhost:9101"
        );
        assert_eq!(
            urls.base_for(&headers("localhost:80"), &uri),
            "http://localhost:9101"
        );
    }

    #[test]
    fn a_base_url_wins_over_the_host_header() {
        let config = Config {
            base_url: Some("https://mcp.trycloudflare.com/".into()),
            ..Config::default()
        };
        let urls = PublicUrls::new(&config, 9101);
        let uri = http::Uri::from_static("/mcp");
        assert_eq!(
            urls.base_for(&headers("localhost:9101"), &uri),
            "https://mcp.trycloudflare.com"
        );
        assert_eq!(urls.default_resource(), "https://mcp.trycloudflare.com/mcp");
        assert!(urls.accepts_audience("https://mcp.trycloudflare.com/mcp"));
        assert!(
            urls.allowed_hosts()
                .contains(&"mcp.trycloudflare.com".to_owned())
        );
        assert!(
            urls.allowed_origins()
                .contains(&"https://mcp.trycloudflare.com:443".to_owned())
        );
    }

    #[test]
    fn audiences_are_this_server_under_any_of_its_names_and_nothing_else() {
        let urls = PublicUrls::new(&Config::default(), 9101);
        for ours in [
            "http://localhost:9101/mcp",
            "http://127.0.0.1:9101/mcp",
            "http://[::1]:9101/mcp",
            "http://localhost:9101",
            "http://localhost:9101/",
        ] {
            assert!(urls.accepts_audience(ours), "{ours}");
        }
        for theirs in [
            "http://localhost:9100",
            "http://localhost:9101/other",
            "https://localhost:9101/mcp",
            "https://other.example/mcp",
            "",
        ] {
            assert!(!urls.accepts_audience(theirs), "{theirs}");
        }
    }

    fn base(url: &str) -> Option<Url> {
        Some(Url::parse(url).unwrap())
    }

    #[test]
    fn a_repoint_keeps_the_old_origin_as_a_former_audience_but_not_as_a_host() {
        let config = Config {
            base_url: Some("https://old.example".into()),
            ..Config::default()
        };
        let old = PublicUrls::new(&config, 9101);
        let new = old.repointed(&config, base("https://new.example"), true);
        assert_eq!(new.base_url(), Some("https://new.example"));
        assert_eq!(new.default_resource(), "https://new.example/mcp");
        assert_eq!(new.former_audiences(), ["https://old.example"]);
        assert!(new.accepts_audience("https://old.example/mcp"));
        assert!(new.accepts_audience("https://new.example/mcp"));
        assert!(new.allowed_hosts().contains(&"new.example".to_owned()));
        assert!(!new.allowed_hosts().contains(&"old.example".to_owned()));
        assert!(
            !new.allowed_origins()
                .iter()
                .any(|origin| origin.contains("old.example"))
        );
    }

    #[test]
    fn a_repoint_without_keeping_forgets_every_former_audience() {
        let config = Config::default();
        let urls = PublicUrls::new(&config, 9101)
            .repointed(&config, base("https://a.example"), true)
            .repointed(&config, base("https://b.example"), true);
        assert_eq!(urls.former_audiences(), ["https://a.example"]);
        let urls = urls.repointed(&config, None, false);
        assert!(urls.former_audiences().is_empty());
        assert!(!urls.accepts_audience("https://a.example/mcp"));
        assert!(!urls.accepts_audience("https://b.example/mcp"));
        assert!(urls.accepts_audience("http://localhost:9101/mcp"));
        assert_eq!(urls.base_url(), None);
    }

    #[test]
    fn former_audiences_are_bounded_distinct_and_never_the_origin_in_force() {
        let config = Config::default();
        let mut urls = PublicUrls::new(&config, 9101);
        for round in 0..MAX_FORMER_AUDIENCES + 5 {
            urls = urls.repointed(&config, base(&format!("https://t{round}.example")), true);
        }
        // Back to a former one: it is in force again, not former.
        let back = format!("https://t{}.example", MAX_FORMER_AUDIENCES);
        urls = urls.repointed(&config, base(&back), true);
        let former = urls.former_audiences();
        assert_eq!(former.len(), MAX_FORMER_AUDIENCES);
        assert!(!former.contains(&back));
        assert_eq!(
            former.last().unwrap(),
            &format!("https://t{}.example", MAX_FORMER_AUDIENCES + 4)
        );
        // The oldest went first.
        assert!(!urls.accepts_audience("https://t0.example/mcp"));
        assert!(urls.accepts_audience("https://t5.example/mcp"));
    }
}
