//! Fetching a document a client points the rig at (a client ID metadata document, a JWKS):
//! one GET to a URL the rig does not control, so every step of it is bounded and every address
//! it reaches is checked first.
//!
//! - The whole fetch (resolution, connection, TLS, headers and body) has one deadline, so a
//!   document sent a byte at a time costs no more than the timeout.
//! - The body is read up to a cap; a `Content-Length` over it is refused before reading.
//! - Redirects are never followed: a 3xx is an answer the caller refuses.
//! - `http` URLs are refused unless allowed ([`FetchPolicy::allow_http`]).
//! - When the rig is reachable from outside, the host is resolved here and every address it
//!   resolves to must be public (or listed in [`FetchPolicy::allowed`]); the connection then goes
//!   to a checked address, so a name that resolves elsewhere a second time changes nothing.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http::header::{self, HeaderValue};
use http_body_util::Full;
use url::Url;

use crate::outbound::{Connector, Origin, OutboundError, Reply, path_and_query, read_body};

/// Why a fetch gave no document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The URL is not one the policy lets the rig fetch; the message says which setting would.
    #[error("{0}")]
    Refused(String),
    /// The host did not resolve, or no connection could be opened.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The deadline passed before the whole answer arrived.
    #[error("no complete answer within {0:?}")]
    Timeout(Duration),
    /// The body is larger than the cap.
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    /// The connection failed mid-answer.
    #[error("the connection failed: {0}")]
    Transport(String),
}

/// One entry of [`FetchPolicy::allowed`]: a host name, an address or a CIDR range that may be
/// fetched although it is not public.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Allowed {
    /// A host name, compared case-insensitively with the URL's host.
    Host(String),
    /// An address range: the network and its prefix length.
    Range(IpAddr, u8),
}

impl Allowed {
    /// Parses `host`, `10.0.0.7`, `fd00::/8` or `10.0.0.0/8`.
    pub fn parse(entry: &str) -> Result<Self, String> {
        let entry = entry.trim();
        if entry.is_empty() {
            return Err("an allowed host is empty".to_owned());
        }
        if let Some((network, bits)) = entry.split_once('/') {
            let network: IpAddr = network
                .parse()
                .map_err(|_| format!("'{entry}': '{network}' is not an IP address"))?;
            let max = if network.is_ipv4() { 32 } else { 128 };
            let bits = bits
                .parse::<u8>()
                .ok()
                .filter(|bits| *bits <= max)
                .ok_or_else(|| format!("'{entry}': the prefix length must be 0 to {max}"))?;
            return Ok(Self::Range(network, bits));
        }
        let bare = entry.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(Self::Range(ip, if ip.is_ipv4() { 32 } else { 128 }));
        }
        if !entry
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'.')
        {
            return Err(format!(
                "'{entry}' is not a host name, address or CIDR range"
            ));
        }
        Ok(Self::Host(entry.to_ascii_lowercase()))
    }

    fn admits(&self, host: &str, ip: IpAddr) -> bool {
        match self {
            Self::Host(name) => name.eq_ignore_ascii_case(host),
            Self::Range(network, bits) => in_range(ip, *network, *bits),
        }
    }
}

impl fmt::Display for Allowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Host(name) => f.write_str(name),
            Self::Range(ip, bits) if *bits == if ip.is_ipv4() { 32 } else { 128 } => {
                write!(f, "{ip}")
            }
            Self::Range(ip, bits) => write!(f, "{ip}/{bits}"),
        }
    }
}

fn in_range(ip: IpAddr, network: IpAddr, bits: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(network)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(network) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(network)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(network) & mask
        }
        _ => false,
    }
}

/// Whether `ip` is an address anyone on the internet reaches as the same host: not loopback,
/// private, link-local, shared (CGNAT), multicast, documentation, benchmarking or reserved, and
/// not an IPv6 form that embeds such an IPv4 address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // 100.64.0.0/10, shared address space (carrier-grade NAT).
        || (a == 100 && (64..128).contains(&b))
        // 192.0.0.0/24, IETF protocol assignments.
        || (a == 192 && b == 0 && c == 0)
        // 198.18.0.0/15, benchmarking.
        || (a == 198 && (b == 18 || b == 19))
        // 240.0.0.0/4, reserved.
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = ip.segments();
    let embedded_v4 = |high: u16, low: u16| {
        Ipv4Addr::new((high >> 8) as u8, high as u8, (low >> 8) as u8, low as u8)
    };
    // 64:ff9b::/96 (NAT64) and 2002::/16 (6to4) reach the IPv4 address they embed.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded_v4(segments[6], segments[7]));
    }
    if segments[0] == 0x2002 {
        return is_public_v4(embedded_v4(segments[1], segments[2]));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // fc00::/7, unique local.
        || (segments[0] & 0xfe00) == 0xfc00
        // fe80::/10, link-local; fec0::/10, the deprecated site-local.
        || (segments[0] & 0xffc0) == 0xfe80
        || (segments[0] & 0xffc0) == 0xfec0
        // 2001:db8::/32, documentation.
        || (segments[0] == 0x2001 && segments[1] == 0x0db8)
        // ::/96, the deprecated IPv4-compatible form, and 100::/64, discard.
        || segments[..6] == [0, 0, 0, 0, 0, 0]
        || segments[..4] == [0x100, 0, 0, 0])
}

/// What the rig may fetch and how much it spends on one fetch.
#[derive(Clone, Debug)]
pub struct FetchPolicy {
    /// Whether any address may be reached: true while the rig is reachable only from this
    /// machine, where documents on loopback are the normal case.
    pub any_address: bool,
    /// Hosts and ranges that may be reached although not public, when `any_address` is false.
    pub allowed: Vec<Allowed>,
    /// Whether plain `http` URLs may be fetched.
    pub allow_http: bool,
    /// The deadline of one whole fetch.
    pub timeout: Duration,
    /// The largest body accepted.
    pub max_bytes: usize,
    /// The setting that lists allowed hosts, named in a refusal.
    pub allowed_setting: &'static str,
    /// The setting that allows `http`, named in a refusal.
    pub http_setting: &'static str,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        Self {
            any_address: true,
            allowed: Vec::new(),
            allow_http: false,
            timeout: Duration::from_secs(5),
            max_bytes: 5 * 1024,
            allowed_setting: "FETCH_ALLOW_HOSTS",
            http_setting: "FETCH_ALLOW_HTTP",
        }
    }
}

/// Fetches documents under a [`FetchPolicy`], over connections of its own (documents are
/// fetched rarely and from anywhere: nothing is pooled).
#[derive(Clone)]
pub struct Fetcher {
    connector: Connector,
    policy: FetchPolicy,
    /// Set once the rig became reachable from outside at run time ([`Fetcher::confine`]):
    /// shared by every clone, and it overrides the policy's `any_address`.
    confined: Arc<AtomicBool>,
}

impl Fetcher {
    /// A fetcher trusting `connector`'s roots, under `policy`.
    pub fn new(connector: Connector, policy: FetchPolicy) -> Self {
        Self {
            connector,
            policy,
            confined: Arc::new(AtomicBool::new(false)),
        }
    }

    /// From now on this fetcher and its clones reach public addresses only (and the policy's
    /// allowed ones), as the policy of a rig reachable from outside says: called when a
    /// re-point made the rig public, so that no one outside can make it fetch from inside.
    pub fn confine(&self) {
        self.confined.store(true, Ordering::Relaxed);
    }

    /// The policy in force.
    pub fn policy(&self) -> &FetchPolicy {
        &self.policy
    }

    /// Whether the policy lets `url` be fetched, before any address is known: its scheme.
    pub fn check_scheme(&self, url: &Url) -> Result<(), FetchError> {
        match url.scheme() {
            "https" => Ok(()),
            "http" if self.policy.allow_http => Ok(()),
            "http" => Err(FetchError::Refused(format!(
                "plain http URLs are not fetched; set {}=true to allow them",
                self.policy.http_setting
            ))),
            other => Err(FetchError::Refused(format!(
                "'{other}' URLs are not fetched; use https"
            ))),
        }
    }

    /// GETs `url` asking for `accept`, within the policy's deadline and size cap. A 3xx comes
    /// back as an answer, not followed.
    pub async fn get(&self, url: &Url, accept: &'static str) -> Result<Reply, FetchError> {
        self.check_scheme(url)?;
        let timeout = self.policy.timeout;
        tokio::time::timeout(timeout, self.get_unbounded(url, accept))
            .await
            .map_err(|_| FetchError::Timeout(timeout))?
    }

    async fn get_unbounded(&self, url: &Url, accept: &'static str) -> Result<Reply, FetchError> {
        let origin = Origin::of(url).map_err(FetchError::Refused)?;
        let addresses = self.addresses(&origin).await?;
        let mut last_error = String::new();
        let mut sender = None;
        for addr in addresses {
            match self.connector.connect_at(&origin, addr).await {
                Ok(connected) => {
                    sender = Some(connected);
                    break;
                }
                Err(error) => last_error = error.to_string(),
            }
        }
        let mut sender = sender.ok_or(FetchError::Unreachable(last_error))?;
        let mut request = Request::new(Full::new(Bytes::new()));
        *request.uri_mut() = path_and_query(url)
            .parse()
            .map_err(|_| FetchError::Refused(format!("{url}: not a usable request target")))?;
        let headers = request.headers_mut();
        headers.insert(header::HOST, origin.authority.clone());
        headers.insert(header::ACCEPT, HeaderValue::from_static(accept));
        headers.insert(
            header::USER_AGENT,
            HeaderValue::from_static(concat!("mcp-oauth-sim/", env!("CARGO_PKG_VERSION"))),
        );
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| FetchError::Transport(crate::log::root_cause(&error)))?;
        let (parts, body) = response.into_parts();
        let max = self.policy.max_bytes;
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|length| length > max as u64) {
            return Err(FetchError::TooLarge(max));
        }
        let body = read_body(body, max).await.map_err(|error| match error {
            OutboundError::TooLarge => FetchError::TooLarge(max),
            other => FetchError::Transport(other.to_string()),
        })?;
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// The addresses `origin`'s host resolves to, each checked against the policy.
    async fn addresses(&self, origin: &Origin) -> Result<Vec<SocketAddr>, FetchError> {
        let host = origin.host.as_str();
        let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host, origin.port))
            .await
            .map_err(|error| FetchError::Unreachable(format!("{host}: {error}")))?
            .collect();
        if resolved.is_empty() {
            return Err(FetchError::Unreachable(format!("{host}: no address")));
        }
        if self.policy.any_address && !self.confined.load(Ordering::Relaxed) {
            return Ok(resolved);
        }
        // One inside address refuses the name: a name that resolves both in and out must not
        // be a way in.
        for addr in &resolved {
            let ip = addr.ip();
            let admitted = is_public(ip)
                || self
                    .policy
                    .allowed
                    .iter()
                    .any(|allowed| allowed.admits(host, ip));
            if !admitted {
                return Err(FetchError::Refused(format!(
                    "{host} resolves to {ip}, which is not a public address, and the rig is \
                     reachable from outside; list it in {} to allow it",
                    self.policy.allowed_setting
                )));
            }
        }
        Ok(resolved)
    }
}

/// How long an answer may be cached by its `Cache-Control` (`max-age`, `no-store`, `no-cache`)
/// or, without one, its `Expires` against `Date`: `Some(ZERO)` for "do not reuse", `None` when
/// the answer says nothing (the caller picks a heuristic lifetime).
pub fn freshness(headers: &http::HeaderMap) -> Option<Duration> {
    let directives = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|directive| directive.trim().to_ascii_lowercase());
    let mut max_age = None;
    for directive in directives {
        if directive == "no-store" || directive == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(seconds) = directive.strip_prefix("max-age=") {
            // A malformed max-age makes the answer stale (RFC 9111 §4.2.1).
            let seconds = seconds.trim_matches('"').parse::<u64>().unwrap_or(0);
            max_age = Some(Duration::from_secs(seconds));
        }
    }
    if max_age.is_some() {
        return max_age;
    }
    let date = |name| parse_http_date(headers.get(name)?.to_str().ok()?);
    headers.get(header::EXPIRES)?;
    // An invalid Expires, "0" included, means already expired (RFC 9111 §5.3).
    let Some(expires) = date(header::EXPIRES) else {
        return Some(Duration::ZERO);
    };
    let now = date(header::DATE).unwrap_or_else(std::time::SystemTime::now);
    Some(expires.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only form senders may
/// generate (RFC 9110 §5.6.7).
fn parse_http_date(value: &str) -> Option<std::time::SystemTime> {
    let rest = value.trim().split_once(", ")?.1;
    let mut parts = rest.split(' ');
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: u64 = parts.next()?.parse().ok()?;
    let time = parts.next()?;
    if parts.next()? != "GMT" {
        return None;
    }
    let rfc3339 = format!("{year:04}-{month:02}-{day:02}T{time}Z");
    humantime::parse_rfc3339(&rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_addresses_are_not_public() {
        for inside in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "2001:db8::1",
        ] {
            assert!(!is_public(inside.parse().unwrap()), "{inside}");
        }
        for outside in [
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(outside.parse().unwrap()), "{outside}");
        }
    }

    #[test]
    fn allowed_entries_parse_and_match() {
        let range = Allowed::parse("10.0.0.0/8").unwrap();
        assert!(range.admits("x", "10.9.8.7".parse().unwrap()));
        assert!(!range.admits("x", "11.0.0.1".parse().unwrap()));
        let one = Allowed::parse("[::1]").unwrap();
        assert!(one.admits("x", "::1".parse().unwrap()));
        assert_eq!(one.to_string(), "::1");
        let host = Allowed::parse("Docs.Internal").unwrap();
        assert!(host.admits("docs.internal", "10.0.0.1".parse().unwrap()));
        assert!(!host.admits("other.internal", "10.0.0.1".parse().unwrap()));
        assert!(Allowed::parse("10.0.0.0/33").is_err());
        assert!(Allowed::parse("a b").is_err());
        assert!(Allowed::parse("").is_err());
        assert_eq!(
            Allowed::parse("0.0.0.0/0").unwrap().to_string(),
            "0.0.0.0/0"
        );
    }

    #[test]
    fn freshness_follows_cache_control_then_expires() {
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut map = http::HeaderMap::new();
            for (name, value) in pairs {
                map.append(*name, value.parse().unwrap());
            }
            map
        };
        let secs = |n| Some(Duration::from_secs(n));
        assert_eq!(freshness(&headers(&[])), None);
        assert_eq!(
            freshness(&headers(&[("cache-control", "public, max-age=60")])),
            secs(60)
        );
        assert_eq!(
            freshness(&headers(&[("cache-control", "max-age=60, no-store")])),
            secs(0)
        );
        assert_eq!(
            freshness(&headers(&[("cache-control", "no-cache")])),
            secs(0)
        );
        assert_eq!(
            freshness(&headers(&[("cache-control", "max-age=x")])),
            secs(0)
        );
        assert_eq!(
            freshness(&headers(&[
                ("date", "Sun, 06 Nov 1994 08:49:37 GMT"),
                ("expires", "Sun, 06 Nov 1994 08:59:37 GMT"),
            ])),
            secs(600)
        );
        assert_eq!(freshness(&headers(&[("expires", "0")])), secs(0));
    }
}
