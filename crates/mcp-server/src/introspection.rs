//! The token check: RFC 7662 introspection at the authorization server, over HTTP, on every
//! request. Nothing is cached, so a revocation or an expiry on the authorization server shows on
//! the very next MCP call.

use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use url::form_urlencoded;

use std::sync::Arc;

use http::header::{self, HeaderValue};
use http::{Method, Request};
use http_body_util::Full;
use sim_http::outbound::{Connector, Origin, OutboundError, Pool, path_and_query};

use crate::config::{AuthorizationServer, Config};

/// An introspection answer larger than this is not one our authorization server would send.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Who the caller is, as the authorization server described the token. Tools receive it
/// through the request's extensions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, rmcp::schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct Identity {
    /// The resource owner (`sub`).
    pub subject: Option<String>,
    /// The OAuth client the token was issued to.
    pub client_id: Option<String>,
    /// The scopes granted, space-separated.
    pub scope: String,
    /// The resources the token is restricted to (`aud`); empty when unrestricted.
    pub audience: Vec<String>,
    /// When the token expires, in seconds since the Unix epoch, by the authorization server's clock.
    #[schemars(schema_with = "epoch_seconds")]
    pub expires_at: Option<u64>,
    /// When the token was issued, in seconds since the Unix epoch.
    #[schemars(schema_with = "epoch_seconds")]
    pub issued_at: Option<u64>,
}

/// An optional non-negative integer, without the `"format": "uint64"` schemars would add: JSON
/// Schema validators do not know that format, and the TypeScript SDK's warns on every call.
fn epoch_seconds(_: &mut rmcp::schemars::SchemaGenerator) -> rmcp::schemars::Schema {
    rmcp::schemars::json_schema!({ "type": ["integer", "null"], "minimum": 0 })
}

/// What introspection said about a token.
#[derive(Debug)]
pub enum Verdict {
    Active(Identity),
    /// Expired, revoked, unknown, or not an access token.
    Inactive,
}

/// Why a token could not be checked: the authorization server is down, slow or broken.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("answered HTTP {0}")]
    Status(u16),
    #[error("answered something that is not an introspection response: {0}")]
    Garbage(String),
    #[error("{0}")]
    Transport(String),
}

impl Failure {
    /// A short word for the log line.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Timeout(_) => "timeout",
            Self::Connect(_) => "unreachable",
            Self::Status(_) => "status",
            Self::Garbage(_) => "garbage",
            Self::Transport(_) => "transport",
        }
    }
}

#[derive(Debug, Deserialize)]
struct Answer {
    active: bool,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default)]
    exp: Option<u64>,
    #[serde(default)]
    iat: Option<u64>,
}

/// RFC 7662 §2.2 allows `aud` as a string or an array of strings.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// The introspection endpoint, over pooled keep-alive connections.
///
/// Every MCP request makes one introspection call, so this is the hottest client path of the
/// rig: a call is a pooled connection, a prebuilt request and a body read (a general-purpose
/// client cost about three times as much).
pub struct Introspector {
    pool: Pool,
    /// The request target, parsed once.
    path: http::Uri,
    url: String,
    timeout: Duration,
}

impl Introspector {
    /// The client of `url`, trusting the configured extra roots and bounded by its timeout.
    pub fn new(url: &str, config: &Config) -> Result<Self, String> {
        let parsed = url::Url::parse(url)
            .map_err(|error| format!("introspection client of {url}: {error}"))?;
        let origin = Origin::of(&parsed)?;
        let path = path_and_query(&parsed)
            .parse()
            .map_err(|error: http::uri::InvalidUri| error.to_string())?;
        let connector = Connector::new(config.introspection_roots.clone());
        Ok(Self {
            pool: Pool::new(origin, connector),
            path,
            url: url.to_owned(),
            timeout: config.introspection_timeout,
        })
    }

    fn request(&self, body: Bytes) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.path.clone();
        let headers = request.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        request
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// See [`Pool::forget_closed`].
    pub fn forget_closed_connections(&self) {
        self.pool.forget_closed();
    }

    /// Asks the authorization server about `token`, connecting included, within the timeout.
    pub async fn check(&self, token: &str) -> Result<Verdict, Failure> {
        let mut body = String::with_capacity(6 + token.len() + 8);
        body.push_str("token=");
        body.extend(form_urlencoded::byte_serialize(token.as_bytes()));
        let answer = tokio::time::timeout(
            self.timeout,
            self.pool
                .send(self.request(Bytes::from(body)), MAX_ANSWER_BYTES),
        )
        .await
        .map_err(|_| Failure::Timeout(self.timeout))?;
        let reply = answer.map_err(|error| match error {
            OutboundError::Connect(cause) => Failure::Connect(cause),
            OutboundError::Transport(cause) => Failure::Transport(cause),
            OutboundError::TooLarge => {
                Failure::Garbage(format!("larger than {MAX_ANSWER_BYTES} bytes"))
            }
        })?;
        if reply.status != http::StatusCode::OK {
            return Err(Failure::Status(reply.status.as_u16()));
        }
        parse(&reply.body)
    }
}

/// An authorization server the resource trusts, and the client that checks its tokens.
pub struct Checker {
    pub server: AuthorizationServer,
    pub introspector: Introspector,
}

/// The authorization servers trusted now, in order. Shared so that a request keeps the list it
/// started with while the control plane swaps in another.
pub type Trusted = Arc<[Checker]>;

/// A checker for each of `servers`, which [`check_authorization_servers`] accepted.
///
/// [`check_authorization_servers`]: crate::config::check_authorization_servers
pub fn trusted(servers: &[AuthorizationServer], config: &Config) -> Result<Trusted, String> {
    servers
        .iter()
        .map(|server| {
            Ok(Checker {
                introspector: Introspector::new(&server.introspection_url, config)?,
                server: server.clone(),
            })
        })
        .collect()
}

/// Asks each trusted server in turn about `token`; the first that knows it as active wins.
/// Tokens are opaque, so nothing says which server issued one: a token no listed server
/// vouches for is inactive here, whoever issued it. A server that could not answer makes the
/// result a failure only if no other one vouches for the token (the token may be its).
pub async fn check(trusted: &[Checker], token: &str) -> Result<Verdict, (Failure, String)> {
    let mut failed = None;
    for checker in trusted {
        match checker.introspector.check(token).await {
            Ok(Verdict::Active(identity)) => return Ok(Verdict::Active(identity)),
            Ok(Verdict::Inactive) => {}
            Err(failure) => {
                failed.get_or_insert((failure, checker.introspector.url().to_owned()));
            }
        }
    }
    match failed {
        Some(failed) => Err(failed),
        None => Ok(Verdict::Inactive),
    }
}

fn parse(body: &[u8]) -> Result<Verdict, Failure> {
    let answer: Answer =
        serde_json::from_slice(body).map_err(|error| Failure::Garbage(error.to_string()))?;
    if !answer.active {
        return Ok(Verdict::Inactive);
    }
    let audience = match answer.aud {
        None => Vec::new(),
        Some(Audience::One(one)) => vec![one],
        Some(Audience::Many(many)) => many,
    };
    Ok(Verdict::Active(Identity {
        subject: answer.sub,
        client_id: answer.client_id,
        scope: answer.scope.unwrap_or_default(),
        audience,
        expires_at: answer.exp,
        issued_at: answer.iat,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_is_a_form_post_to_the_path_of_the_url() {
        let config = Config::default();
        let introspector = Introspector::new("http://127.0.0.1:9100/introspect", &config).unwrap();
        let request = introspector.request(Bytes::from_static(b"token=x"));
        assert_eq!(request.method(), Method::POST);
        assert_eq!(request.uri(), "/introspect");
        assert_eq!(
            request.headers()[header::CONTENT_TYPE],
            "application/x-www-form-urlencoded"
        );
        let tenant = Introspector::new("https://[::1]/tenant1/introspect?x=1", &config).unwrap();
        assert_eq!(
            tenant.request(Bytes::new()).uri(),
            "/tenant1/introspect?x=1"
        );
        assert_eq!(tenant.pool.origin().host, "::1");
        assert!(Introspector::new("ftp://127.0.0.1/introspect", &config).is_err());
    }

    #[test]
    fn active_answer_becomes_an_identity() {
        let verdict = parse(
            br#"{"active":true,"sub":"demo-user","client_id":"c1","scope":"mcp:tools",
                 "aud":"http://localhost:9101/mcp","exp":2000000000,"iat":1999996400,"iss":"x"}"#,
        )
        .unwrap();
        let Verdict::Active(identity) = verdict else {
            panic!("expected active")
        };
        assert_eq!(identity.subject.as_deref(), Some("demo-user"));
        assert_eq!(identity.audience, ["http://localhost:9101/mcp"]);
        assert_eq!(identity.expires_at, Some(2_000_000_000));
    }

    #[test]
    fn audience_may_be_an_array_or_absent() {
        let Verdict::Active(many) = parse(br#"{"active":true,"aud":["a","b"]}"#).unwrap() else {
            panic!("expected active")
        };
        assert_eq!(many.audience, ["a", "b"]);
        let Verdict::Active(none) = parse(br#"{"active":true}"#).unwrap() else {
            panic!("expected active")
        };
        assert!(none.audience.is_empty());
    }

    #[test]
    fn inactive_needs_nothing_else() {
        assert!(matches!(
            parse(br#"{"active":false}"#),
            Ok(Verdict::Inactive)
        ));
    }

    #[test]
    fn answers_without_a_boolean_active_are_garbage() {
        for body in [
            &b"<html>oops</html>"[..],
            br#"{"scope":"x"}"#,
            br#"{"active":"true"}"#,
            b"",
        ] {
            assert!(matches!(parse(body), Err(Failure::Garbage(_))));
        }
    }
}
