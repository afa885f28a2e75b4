//! The guard in front of every `/control` plane.
//!
//! The control plane can revoke every token and reset the rig, so it must not be reachable by
//! whoever else can reach the rig: when a tunnel makes the rig public, it demands a bearer token.
//! Browsers never get to it either: a cross-origin page could otherwise flip switches with a
//! simple form post (CSRF) or through DNS rebinding, so any request carrying `Origin` is refused.

use std::sync::{Arc, RwLock};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::json;

use crate::Response;
use crate::body::{self, MAX_BODY_BYTES};
use crate::form;
use crate::response::{challenge, json, method_not_allowed, not_found, plain_error};
use crate::secret::{constant_time_eq, random_token};

/// Who may use a control plane.
///
/// Clones share one guard: the two servers of a rig are handed clones of the same one, so that
/// when a re-point makes the rig public ([`ControlGuard::expose`]) both demand the token from
/// that request on.
#[derive(Clone, Default)]
pub struct ControlGuard {
    /// A lock rather than a fixed value because it changes at most once or twice in a run
    /// (when a tunnel URL is set), and is read once per control call; never held across an
    /// `.await`.
    token: Arc<RwLock<Option<String>>>,
}

// Written by hand so that the token never reaches a log through `{:?}` of a configuration.
impl std::fmt::Debug for ControlGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let token = if self.requires_token() {
            "Some(<redacted>)"
        } else {
            "None"
        };
        f.debug_struct("ControlGuard")
            .field("token", &format_args!("{token}"))
            .finish()
    }
}

impl ControlGuard {
    /// Open to any non-browser caller: for a rig reachable on loopback only.
    pub fn open() -> Self {
        Self::default()
    }

    /// Requires `Authorization: Bearer <token>`.
    pub fn with_token(token: impl Into<String>) -> Self {
        Self {
            token: Arc::new(RwLock::new(Some(token.into()))),
        }
    }

    /// Whether a token is required.
    pub fn requires_token(&self) -> bool {
        self.read().is_some()
    }

    /// From now on requires a token, as a start-up reachable from outside does: a new one from
    /// the OS RNG if none was required, written to the operator's log and answered, so that the
    /// call that exposed the rig can tell it too; it is never told again. `None` when a token
    /// was required already.
    pub fn expose(&self) -> Option<String> {
        let mut token = self
            .token
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if token.is_some() {
            return None;
        }
        let generated = random_token();
        *token = Some(generated.clone());
        // The operator's own terminal, as at a start-up in tunnel mode.
        tracing::warn!(
            target: "mcp_oauth_sim::control",
            "the rig is reachable from outside now, so /control requires \
             `Authorization: Bearer {generated}`"
        );
        Some(generated)
    }

    /// Whether `presented` is the token required now, compared in constant time; `false` when
    /// none is required (there is nothing to present). For callers that take the token some
    /// other way than a bearer header: the dashboard's login form.
    pub fn accepts(&self, presented: &str) -> bool {
        self.read()
            .as_deref()
            .is_some_and(|expected| constant_time_eq(presented.trim(), expected))
    }

    /// The token required now, for the rig's own in-process clients of its control planes
    /// (the dashboard's), which must follow a token that appeared at run time. Never logged.
    pub fn token(&self) -> Option<String> {
        self.read().clone()
    }

    /// Admits a request, or says why not.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        if headers.contains_key(header::ORIGIN) {
            return Err(Refusal::FromBrowser);
        }
        let expected = self.read();
        let Some(expected) = expected.as_deref() else {
            return Ok(());
        };
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        match presented {
            Some(token) if constant_time_eq(token, expected) => Ok(()),
            _ => Err(Refusal::Unauthorized),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Option<String>> {
        // A poisoned lock only means a panic elsewhere mid-assignment of an `Option`.
        self.token
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Why the guard turned a request away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The request carried `Origin`: it came from a web page.
    FromBrowser,
    /// The control token was required and missing or wrong.
    Unauthorized,
}

impl Refusal {
    /// 403 for a browser, 401 with a `Bearer` challenge for a missing or wrong token.
    pub fn into_response(self) -> Response {
        match self {
            Self::FromBrowser => plain_error(
                StatusCode::FORBIDDEN,
                "the control plane does not accept requests from browsers (Origin header present)",
            ),
            Self::Unauthorized => {
                let mut response = plain_error(
                    StatusCode::UNAUTHORIZED,
                    "the control plane requires Authorization: Bearer <CONTROL_TOKEN>",
                );
                let value = challenge("Bearer", &[("realm", "control")]);
                if let Ok(value) = HeaderValue::from_str(&value) {
                    response
                        .headers_mut()
                        .insert(header::WWW_AUTHENTICATE, value);
                }
                response
            }
        }
    }
}

/// A control call that got past the guard, with its body read.
#[derive(Debug)]
pub struct Call {
    /// The request method.
    pub method: Method,
    /// The path without a trailing slash, so `/control/state/` is `/control/state`.
    pub path: String,
    /// The raw query string, if any (`since=…` of the journal).
    pub query: Option<String>,
    /// The request headers.
    pub headers: HeaderMap,
    /// The whole body, at most [`MAX_BODY_BYTES`].
    pub body: Bytes,
}

impl Call {
    /// Checks the guard and reads the body; an `Err` is the answer to send back as it is.
    pub async fn read(guard: &ControlGuard, request: Request<Incoming>) -> Result<Self, Response> {
        guard
            .check(request.headers())
            .map_err(Refusal::into_response)?;
        let method = request.method().clone();
        let path = request.uri().path().trim_end_matches('/').to_owned();
        let query = request.uri().query().map(str::to_owned);
        let (parts, body) = request.into_parts();
        let body = body::read(body, MAX_BODY_BYTES)
            .await
            .map_err(|error| plain_error(error.status(), &error.to_string()))?;
        Ok(Self {
            method,
            path,
            query,
            headers: parts.headers,
            body,
        })
    }

    /// The body as JSON arguments of type `T`: always a JSON object, so that `[true]` is not
    /// taken for `{"on": true}`.
    pub fn arguments<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
        match form::json_value(&self.body)? {
            arguments @ serde_json::Value::Object(_) => {
                T::deserialize(arguments).map_err(|error| format!("invalid arguments: {error}"))
            }
            _ => Err("the arguments must be a JSON object".to_owned()),
        }
    }

    /// For calls that take no arguments: an empty body or `{}`, so plain `curl -XPOST` works.
    pub fn no_arguments(&self) -> Result<(), String> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        match form::json::<serde_json::Value>(&self.body)? {
            serde_json::Value::Object(map) if map.is_empty() => Ok(()),
            _ => Err("this call takes no arguments; send no body or {}".to_owned()),
        }
    }
}

/// The arguments of every on/off switch: `{"on": bool}`.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Switch {
    /// `true` to turn the switch on, `false` to turn it off.
    pub on: bool,
}

/// One entry of a control plane's index: method, path, and what the call does.
pub type Entry = (&'static str, &'static str, &'static str);

/// `GET /control`: every call of the plane, so a tester can discover them with one request;
/// each earlier name is listed too, as what it stands for.
pub fn index(service: &str, entries: &[Entry], aliases: &[Alias]) -> Response {
    let mut endpoints: Vec<_> = entries
        .iter()
        .map(|(method, path, effect)| json!({ "method": method, "path": path, "effect": effect }))
        .collect();
    for (earlier, current) in aliases {
        if let Some((method, _, _)) = entries.iter().find(|(_, path, _)| path == current) {
            let effect = format!("the earlier name of {current}");
            endpoints.push(json!({ "method": method, "path": earlier, "effect": effect }));
        }
    }
    json(
        StatusCode::OK,
        &json!({ "service": service, "endpoints": endpoints }),
    )
}

/// An earlier name of a control path, and the name it has now: a switch's path is its
/// `scenario` name, so that one switch has one name everywhere; the earlier one keeps working.
pub type Alias = (&'static str, &'static str);

/// The path `path` stands for: itself, or the current name of an earlier one.
pub fn canonical<'a>(path: &'a str, aliases: &[Alias]) -> &'a str {
    aliases
        .iter()
        .find(|(earlier, _)| *earlier == path)
        .map_or(path, |(_, current)| current)
}

/// The answer for a path the plane does not route: 405 with `Allow` when the path is a known
/// call reached with the wrong method, 404 otherwise.
pub fn unrouted(path: &str, entries: &[Entry]) -> Response {
    match entries.iter().find(|(_, known, _)| *known == path) {
        Some((allowed, _, _)) => method_not_allowed(allowed),
        None => not_found(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (header::HeaderName::from_static(k), v.parse().unwrap()))
            .collect()
    }

    #[test]
    fn open_guard_admits_plain_callers_but_not_browsers() {
        let guard = ControlGuard::open();
        assert!(guard.check(&HeaderMap::new()).is_ok());
        let refused = guard
            .check(&headers(&[("origin", "https://evil.example")]))
            .unwrap_err();
        assert_eq!(refused, Refusal::FromBrowser);
        assert_eq!(refused.into_response().status(), StatusCode::FORBIDDEN);
    }

    #[test]
    fn exposing_an_open_guard_makes_every_clone_require_one_new_token() {
        let guard = ControlGuard::open();
        let other_server = guard.clone();
        let token = guard.expose().expect("a token, since none was required");
        assert_eq!(token.len(), 43, "256 bits, base64url");
        assert!(guard.expose().is_none(), "told once, not replaced");
        let bearer = format!("Bearer {token}");
        for guard in [&guard, &other_server] {
            assert_eq!(
                guard.check(&HeaderMap::new()),
                Err(Refusal::Unauthorized),
                "no token any more"
            );
            assert!(guard.check(&headers(&[("authorization", &bearer)])).is_ok());
        }
        let configured = ControlGuard::with_token("t0ken");
        assert!(configured.expose().is_none(), "a configured token stays");
    }

    #[test]
    fn accepts_only_the_exact_token_and_nothing_when_open() {
        let guard = ControlGuard::with_token("t0ken");
        assert!(guard.accepts("t0ken"));
        assert!(!guard.accepts("t0ke"));
        assert!(!guard.accepts(""));
        assert!(!ControlGuard::open().accepts(""));
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let shown = format!("{:?}", ControlGuard::with_token("t0p-s3cret"));
        assert!(!shown.contains("t0p-s3cret"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn token_guard_requires_the_exact_bearer_token() {
        let guard = ControlGuard::with_token("t0ken");
        assert!(
            guard
                .check(&headers(&[("authorization", "Bearer t0ken")]))
                .is_ok()
        );
        assert!(
            guard
                .check(&headers(&[("authorization", "bearer t0ken")]))
                .is_ok()
        );
        for bad in ["Bearer t0ke", "Bearer", "Basic t0ken", "t0ken"] {
            let refused = guard
                .check(&headers(&[("authorization", bad)]))
                .unwrap_err()
                .into_response();
            assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{bad}");
            assert_eq!(
                refused.headers()[header::WWW_AUTHENTICATE],
                r#"Bearer realm="control""#
            );
        }
        assert_eq!(guard.check(&HeaderMap::new()), Err(Refusal::Unauthorized));
    }
}
