//! The dashboard: a third listener (`DASHBOARD_PORT`, 9102) serving one page that shows and
//! changes every switch of both servers and draws both journals live, per client.
//!
//! It is the `scenario` command in a browser: every change is a typed [`Scenario`] applied
//! through a [`Control`], answered with the equivalent `cargo scenario` line and the `curl`
//! lines of the control calls really sent ([`Control::recording`]).
//!
//! # Guard
//! The control planes refuse browsers outright; this page is for them, so it guards itself:
//! - while `/control` requires no token (a rig on loopback), the page is open, but only under a
//!   loopback host name or the bind address (a page of another site that rebinds its name to
//!   127.0.0.1 gets nothing);
//! - once `/control` requires the token (configured, generated at start-up, or since a re-point
//!   made the rig public: read live from the servers' shared guard), the page asks for it once
//!   and exchanges it for a session cookie (`HttpOnly`, `SameSite=Strict`), [`MAX_SESSIONS`] at
//!   most, the oldest dropped;
//! - every change is a `POST` to `/api/…` carrying `X-Dashboard-Csrf` (the page's `<meta>`; per
//!   session, or per process while open) and no foreign `Origin`.
//!
//! # Layout
//! - this module: the listener, routing, the guard and the headers every answer carries.
//! - `session`: sessions, CSRF tokens and the login form's exchange.
//! - `api`: `GET /api/state` and `POST /api/scenario`.
//! - `events`: `GET /api/events`, both journals live as Server-Sent Events.
//! - `page`: the HTML (maud) of the page and the login form; `assets/` its script and style.

mod api;
mod events;
mod page;
mod session;

use std::io;
use std::net::IpAddr;
use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use sim_http::control::ControlGuard;
use sim_http::response::{full, method_not_allowed, plain_error};
use sim_http::tls::Tls;
use sim_http::{Handle, Response, ServeOptions};
use tokio::net::TcpListener;

use crate::Control;
pub use session::MAX_SESSIONS;

/// Live event streams the dashboard serves at once; each holds a connection.
pub const MAX_STREAMS: usize = 16;

/// The largest request body the dashboard reads (a fault rule is well under a kilobyte).
pub const MAX_BODY: usize = 64 * 1024;

/// The header every change must carry, equal to the page's CSRF token.
pub const CSRF_HEADER: &str = "x-dashboard-csrf";

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "dashboard_session";

const SCRIPT: &str = include_str!("assets/dashboard.js");
const STYLE: &str = include_str!("assets/dashboard.css");

/// What the dashboard is started with.
pub(crate) struct Options {
    /// The control client of the rig (its clones record what the page sends).
    pub control: Control,
    /// The guard both servers share: whether a token is required now, and which.
    pub guard: ControlGuard,
    /// HTTPS, as the two servers serve it.
    pub tls: Option<Tls>,
    /// The address the rig is bound on: a host the open dashboard answers besides loopback.
    pub bind: IpAddr,
    /// The flags `cargo scenario` needs to find this rig (empty on the default ports).
    pub scenario_flags: Vec<String>,
}

/// The dashboard, running. Dropping it stops it.
pub(crate) struct Dashboard {
    handle: Handle<State, io::Error>,
}

/// What every request of the dashboard shares.
pub(crate) struct State {
    control: Control,
    guard: ControlGuard,
    secure: bool,
    bind: IpAddr,
    scenario_flags: Vec<String>,
    sessions: session::Sessions,
    feed: events::Feed,
}

impl Dashboard {
    /// Serves the dashboard on `listener`.
    pub(crate) fn start(listener: TcpListener, options: Options) -> io::Result<Self> {
        let Options {
            control,
            guard,
            tls,
            bind,
            scenario_flags,
        } = options;
        let state = Arc::new(State {
            feed: events::Feed::new(),
            control,
            guard,
            secure: tls.is_some(),
            bind,
            scenario_flags,
            sessions: session::Sessions::default(),
        });
        let handle = Handle::spawn(listener, state, move |listener, state, stop| {
            let serve_options = ServeOptions {
                tls,
                max_connections: 64,
                ..ServeOptions::default()
            };
            let handler = move |request: Request<Incoming>| {
                let state = Arc::clone(&state);
                async move { secured(route(&state, request).await) }
            };
            sim_http::serve(listener, handler, serve_options, stop)
        })?;
        Ok(Self { handle })
    }

    /// Where it listens.
    pub(crate) fn addr(&self) -> std::net::SocketAddr {
        self.handle.addr()
    }

    /// Ends the event streams, then stops accepting and lets other requests finish.
    pub(crate) async fn stop(self) -> io::Result<()> {
        self.handle.state().feed.close();
        self.handle.stop().await
    }
}

/// The paths and the methods each takes, for `405` answers.
const ROUTES: [(&str, &str); 6] = [
    ("/", "GET"),
    ("/assets/dashboard.js", "GET"),
    ("/assets/dashboard.css", "GET"),
    ("/session", "POST"),
    ("/api/state", "GET"),
    ("/api/scenario", "POST"),
];

async fn route(state: &Arc<State>, request: Request<Incoming>) -> Response {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    if let Some(refused) = state.foreign_host(request.headers()) {
        return refused;
    }
    match (&method, path.as_str()) {
        (&Method::GET, "/assets/dashboard.js") => asset(SCRIPT, "text/javascript; charset=utf-8"),
        (&Method::GET, "/assets/dashboard.css") => asset(STYLE, "text/css; charset=utf-8"),
        // No icon: an empty answer rather than a 404 in every browser console.
        (&Method::GET, "/favicon.ico") => sim_http::response::empty(StatusCode::NO_CONTENT),
        (&Method::GET, "/") => match state.session_of(request.headers()) {
            Some(csrf) => page::dashboard(state, &csrf),
            None => page::login(StatusCode::UNAUTHORIZED, None),
        },
        (&Method::POST, "/session") => session::log_in(state, request).await,
        (&Method::GET, "/api/state") => match state.session_of(request.headers()) {
            Some(_) => api::state(state).await,
            None => session::required(),
        },
        (&Method::GET, "/api/events") => match state.session_of(request.headers()) {
            Some(_) => state.feed.stream(&api::control(state)).await,
            None => session::required(),
        },
        (&Method::POST, "/api/scenario") => match state.change_refused(request.headers()) {
            None => api::scenario(state, request).await,
            Some(refused) => refused,
        },
        (_, "/api/events") => method_not_allowed("GET"),
        _ => match ROUTES.iter().find(|(known, _)| *known == path) {
            Some((_, allowed)) => method_not_allowed(allowed),
            None => plain_error(StatusCode::NOT_FOUND, &format!("no such page: {path}")),
        },
    }
}

impl State {
    /// While the dashboard is open, only a request addressed to a loopback name or the bind
    /// address is answered: a page whose name a rebinding DNS server points at 127.0.0.1 gets
    /// a `403` instead of the page and its CSRF token. Answers that refusal, if it is one.
    fn foreign_host(&self, headers: &HeaderMap) -> Option<Response> {
        if self.guard.requires_token() {
            return None;
        }
        let host = host_name(headers).unwrap_or_default();
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback() || ip == self.bind);
        (!loopback).then(|| {
            plain_error(
                StatusCode::FORBIDDEN,
                "the dashboard answers only under localhost or the address the rig listens on",
            )
        })
    }

    /// The CSRF token of the page for this request: the session's, or the process's while no
    /// session is needed; `None` when a session is needed and the request has none.
    fn session_of(&self, headers: &HeaderMap) -> Option<String> {
        if self.guard.requires_token() {
            self.sessions.find(headers)
        } else {
            Some(self.sessions.open_csrf().to_owned())
        }
    }

    /// Why a change may not be made, if it may not: it needs a session (when the token is
    /// required), the CSRF header, and no foreign `Origin`.
    fn change_refused(&self, headers: &HeaderMap) -> Option<Response> {
        if !self.same_origin(headers) {
            return Some(plain_error(
                StatusCode::FORBIDDEN,
                "a change must come from the dashboard's own page (foreign Origin)",
            ));
        }
        let Some(csrf) = self.session_of(headers) else {
            return Some(session::required());
        };
        let presented = headers
            .get(CSRF_HEADER)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        (!sim_http::secret::constant_time_eq(presented, &csrf)).then(|| {
            plain_error(
                StatusCode::FORBIDDEN,
                "a change must carry the page's X-Dashboard-Csrf header",
            )
        })
    }

    /// No `Origin`, or the dashboard's own: this scheme and the host the request was sent to.
    fn same_origin(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return true;
        };
        let host = headers
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        let scheme = if self.secure { "https" } else { "http" };
        origin
            .to_str()
            .is_ok_and(|origin| !host.is_empty() && origin == format!("{scheme}://{host}"))
    }
}

/// The host of the `Host` header, without the port.
fn host_name(headers: &HeaderMap) -> Option<&str> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    if host.starts_with('[') {
        return host.split_inclusive(']').next();
    }
    Some(host.split(':').next().unwrap_or(host))
}

fn asset(text: &'static str, content_type: &'static str) -> Response {
    let mut response = Response::new(full(text));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The headers every answer of the dashboard carries: no script but its own file, no
/// framing, no caching, no referrer.
fn secured(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; frame-ancestors 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
        // Not `no-referrer`: under it Chromium sends `Origin: null` with the login form's POST,
        // which the same-origin check must refuse; `same-origin` still sends nothing elsewhere.
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_name_leaves_the_port_out() {
        let with = |host: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
            host_name(&headers).map(str::to_owned)
        };
        assert_eq!(with("localhost:9102").as_deref(), Some("localhost"));
        assert_eq!(with("[::1]:9102").as_deref(), Some("[::1]"));
        assert_eq!(with("127.0.0.1").as_deref(), Some("127.0.0.1"));
    }
}
