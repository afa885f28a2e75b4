//! Sessions of a guarded dashboard: the control token exchanged once, through the login form,
//! for a cookie; and the CSRF token each session's page carries.

use std::collections::VecDeque;
use std::sync::Mutex;

use http::header::{self, HeaderMap, HeaderValue};
use http::{Request, StatusCode};
use hyper::body::Incoming;
use sim_http::Response;
use sim_http::form::Params;
use sim_http::response::{empty, plain_error};
use sim_http::secret::{constant_time_eq, random_token};

use super::{MAX_BODY, SESSION_COOKIE, State, page};

/// Sessions kept at once; a new one beyond drops the oldest.
pub const MAX_SESSIONS: usize = 64;

/// One signed-in browser: its cookie's value and its page's CSRF token, both 256-bit random.
struct Session {
    id: String,
    csrf: String,
}

/// The sessions, newest last, and the CSRF token of the open dashboard.
pub(super) struct Sessions {
    kept: Mutex<VecDeque<Session>>,
    open_csrf: String,
}

impl Default for Sessions {
    fn default() -> Self {
        Self {
            kept: Mutex::new(VecDeque::new()),
            open_csrf: random_token(),
        }
    }
}

impl Sessions {
    /// The CSRF token of the page while no session is needed: one per process.
    pub(super) fn open_csrf(&self) -> &str {
        &self.open_csrf
    }

    /// A new session; answers its cookie value.
    fn open(&self) -> String {
        let session = Session {
            id: random_token(),
            csrf: random_token(),
        };
        let id = session.id.clone();
        let mut kept = self.lock();
        if kept.len() >= MAX_SESSIONS {
            kept.pop_front();
        }
        kept.push_back(session);
        id
    }

    /// The CSRF token of the session whose cookie `headers` carry.
    pub(super) fn find(&self, headers: &HeaderMap) -> Option<String> {
        let presented = cookie(headers, SESSION_COOKIE)?;
        let kept = self.lock();
        // Every id compared in constant time, all of them: which one matched, and how much of
        // another, is not told by the time taken.
        let mut found = None;
        for session in kept.iter() {
            if constant_time_eq(&presented, &session.id) {
                found = Some(session.csrf.clone());
            }
        }
        found
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Session>> {
        // A poisoned lock only means a panic elsewhere mid-push.
        self.kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// `401` for an API call without a session.
pub(super) fn required() -> Response {
    plain_error(
        StatusCode::UNAUTHORIZED,
        "the dashboard requires a session: sign in at / with the control token",
    )
}

/// `POST /session`: the form field `token`, compared in constant time with the control token,
/// exchanged for a session cookie and a redirect to the page; a wrong one gets the form again.
pub(super) async fn log_in(state: &State, request: Request<Incoming>) -> Response {
    if !state.same_origin(request.headers()) {
        return plain_error(
            StatusCode::FORBIDDEN,
            "sign in from the dashboard's own page (foreign Origin)",
        );
    }
    let body = match sim_http::body::read(request.into_body(), MAX_BODY).await {
        Ok(body) => body,
        Err(error) => return plain_error(error.status(), &error.to_string()),
    };
    if !state.guard.requires_token() {
        // Nothing to sign in to: the page is open.
        return see_other(None);
    }
    let token = Params::parse(&body)
        .ok()
        .and_then(|params| params.single("token").ok().flatten().map(str::to_owned));
    match token {
        Some(token) if state.guard.accepts(&token) => {
            let id = state.sessions.open();
            let secure = if state.secure { "; Secure" } else { "" };
            see_other(Some(format!(
                "{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/{secure}"
            )))
        }
        _ => page::login(
            StatusCode::UNAUTHORIZED,
            Some("That is not the control token."),
        ),
    }
}

/// `303` to the page, setting `cookie` if given.
fn see_other(cookie: Option<String>) -> Response {
    let mut response = empty(StatusCode::SEE_OTHER);
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, HeaderValue::from_static("/"));
    if let Some(value) = cookie.and_then(|cookie| HeaderValue::from_str(&cookie).ok()) {
        headers.insert(header::SET_COOKIE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_bounded_and_the_oldest_goes() {
        let sessions = Sessions::default();
        let first = sessions.open();
        let mut last = String::new();
        for _ in 0..MAX_SESSIONS {
            last = sessions.open();
        }
        let with = |id: &str| {
            let mut headers = HeaderMap::new();
            let value = format!("other=1; {SESSION_COOKIE}={id}");
            headers.insert(header::COOKIE, HeaderValue::from_str(&value).unwrap());
            headers
        };
        assert!(sessions.find(&with(&first)).is_none(), "the oldest went");
        assert!(sessions.find(&with(&last)).is_some());
        assert!(sessions.find(&with("forged")).is_none());
        assert!(sessions.find(&HeaderMap::new()).is_none());
    }
}
