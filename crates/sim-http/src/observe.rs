//! What every request leaves behind, the same way on every server: the [`Facts`] its handler
//! learned, one log line, one journal event, and what a fault rule that fired adds to them.
//!
//! ```
//! # use sim_http::observe::Facts;
//! # // A server's router: answers, and notes what it learned.
//! # async fn route<B>(_: http::Request<B>, facts: &mut Facts) -> sim_http::Response {
//! #     facts.grant = Some("refresh_token");
//! #     facts.client("client-1234");
//! #     sim_http::response::json(http::StatusCode::OK, &serde_json::json!({}))
//! # }
//! # async fn handle<B>(request: http::Request<B>, journal: &sim_http::journal::Journal) -> sim_http::Response {
//! use sim_http::observe::{Facts, Field, Observation};
//! let seen = Observation::begin(&request);
//! let mut facts = Facts::default();
//! let response = route(request, &mut facts).await;
//! seen.end("oauth", &[Field::Grant, Field::Client, Field::Error], &response, facts, journal);
//! # response }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! # let journal = sim_http::journal::Journal::new(10);
//! # let request = http::Request::post("/token").body(()).unwrap();
//! # handle(request, &journal).await;
//! # let page = journal.since(0, 10);
//! # let event = String::from_utf8_lossy(&page.events[0].1).into_owned();
//! # assert!(event.contains(r#""grant_type":"refresh_token""#), "{event}");
//! # }
//! ```

use std::borrow::Cow;
use std::time::Instant;

use http::{Method, Request};

use crate::Response;
use crate::faults::Fired;
use crate::journal::{self, Asked, Event, Journal};
use crate::log::{RequestLine, short_grant, short_id};
use crate::secret::redact;

/// The issuer every authorization server hosts; its name is left out of log lines, which stay
/// as they were before a server could host several.
pub const DEFAULT_ISSUER: &str = "main";

/// Facts a handler learns while answering, for the request's log line and journal event. Never a
/// whole secret: client ids are public, credentials are kept redacted.
#[derive(Debug, Default)]
pub struct Facts {
    /// The name of the authorization server's issuer the request was routed to.
    pub issuer: Option<String>,
    /// The grant type of a token request (`authorization_code`, `refresh_token`, `other`).
    pub grant: Option<&'static str>,
    /// The full id of the client (the log line shortens it).
    pub client: Option<String>,
    /// The JSON-RPC method of an MCP request.
    pub rpc_method: Option<String>,
    /// The tool of a `tools/call`.
    pub tool: Option<String>,
    /// The resource owner the tokens are for.
    pub subject: Option<String>,
    /// The OAuth or RFC 6750 error code answered.
    pub error: Option<String>,
    /// What else happened, in a few words (`consent narrowed`, `delayed`, …); empty: nothing.
    pub note: Cow<'static, str>,
    /// The fault rule that fired.
    pub fault: Option<u64>,
    /// The credential presented (code, refresh token, bearer token), redacted.
    pub presented: Option<String>,
    /// The credential issued (code; refresh token, else access token), redacted.
    pub issued: Option<String>,
    /// What the request asked for (scope, resource, PKCE method, client authentication, …).
    pub asked: Asked,
}

impl Facts {
    /// The request came from `client_id`.
    pub fn client(&mut self, client_id: &str) {
        self.client = Some(client_id.to_owned());
    }

    /// The request presented `secret`; kept redacted.
    pub fn presented(&mut self, secret: &str) {
        self.presented = Some(redact(secret));
    }

    /// The answer issued `secret`; kept redacted.
    pub fn issued(&mut self, secret: &str) {
        self.issued = Some(redact(secret));
    }

    /// A fault rule fired on the request: its id, the error it answered unless the handler
    /// had already named one (the first error is the one the client saw), and what it did.
    pub fn fired(&mut self, fired: &Fired) {
        self.fault = Some(fired.id);
        if self.error.is_none() {
            self.error.clone_from(&fired.error);
        }
        if let Some(note) = fired.note {
            self.note = note.into();
        }
    }

    /// The journal event of the request: these facts on top of what was answered.
    pub fn into_event(self, answered: Event) -> Event {
        let Facts {
            issuer,
            grant,
            client,
            rpc_method,
            tool,
            subject,
            error,
            note,
            fault,
            presented,
            issued,
            asked,
        } = self;
        Event {
            issuer,
            client_id: client,
            grant_type: grant.map(str::to_owned),
            rpc_method,
            tool,
            fault,
            error,
            subject,
            presented,
            issued,
            note: (!note.is_empty()).then(|| note.into_owned()),
            asked,
            ..answered
        }
    }

    /// The value of `field` as its log line shows it (`None`: the line leaves it out).
    fn shown(&self, field: Field) -> Option<Cow<'_, str>> {
        fn borrowed(value: &Option<String>) -> Option<Cow<'_, str>> {
            value.as_deref().map(Cow::Borrowed)
        }
        match field {
            Field::Issuer => self
                .issuer
                .as_deref()
                .filter(|name| *name != DEFAULT_ISSUER)
                .map(Cow::Borrowed),
            Field::Grant => self.grant.map(|grant| Cow::Borrowed(short_grant(grant))),
            Field::Rpc => borrowed(&self.rpc_method),
            Field::Tool => borrowed(&self.tool),
            Field::Sub => borrowed(&self.subject),
            Field::Client => self.client.as_deref().map(|id| Cow::Owned(short_id(id))),
            Field::Error => borrowed(&self.error),
            Field::Fault => self.fault.map(|id| Cow::Owned(id.to_string())),
            Field::Note => Some(Cow::Borrowed(&*self.note)),
        }
    }
}

/// How many facts a log line can show: one of each [`Field`].
const FIELDS: usize = 9;

/// A fact a server's log line may show, named as the line names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// `issuer=`, for an issuer other than [`DEFAULT_ISSUER`].
    Issuer,
    /// `grant=`.
    Grant,
    /// `rpc=`, the JSON-RPC method.
    Rpc,
    /// `tool=`.
    Tool,
    /// `sub=`.
    Sub,
    /// `client=`, shortened.
    Client,
    /// `error=`.
    Error,
    /// `fault=`, the rule's id.
    Fault,
    /// `note=`.
    Note,
}

impl Field {
    fn key(self) -> &'static str {
        match self {
            Self::Issuer => "issuer",
            Self::Grant => "grant",
            Self::Rpc => "rpc",
            Self::Tool => "tool",
            Self::Sub => "sub",
            Self::Client => "client",
            Self::Error => "error",
            Self::Fault => "fault",
            Self::Note => "note",
        }
    }
}

/// A request being answered: what its log line and journal event need from before the answer.
pub struct Observation {
    started: Instant,
    method: Method,
    path: String,
}

impl Observation {
    /// Starts the clock on `request`.
    pub fn begin<B>(request: &Request<B>) -> Self {
        Self {
            started: Instant::now(),
            method: request.method().clone(),
            path: request.uri().path().to_owned(),
        }
    }

    /// The request was answered with `response`: emits its log line, showing the facts in
    /// `shown` in that order (empty ones left out), and records its journal event (unless it is
    /// one the journal leaves out: reads of the control plane, preflights).
    pub fn end(
        self,
        service: &'static str,
        shown: &[Field],
        response: &Response,
        facts: Facts,
        journal: &Journal,
    ) {
        let elapsed = self.started.elapsed();
        {
            // Arrays rather than vectors: this runs on every request, and the line shows at
            // most one of each field. An empty value is left out of the line.
            let values: [(&str, Cow<'_, str>); FIELDS] = std::array::from_fn(|at| {
                shown.get(at).map_or(("", Cow::Borrowed("")), |field| {
                    (field.key(), facts.shown(*field).unwrap_or_default())
                })
            });
            let fields: [(&str, &str); FIELDS] =
                std::array::from_fn(|at| (values[at].0, &*values[at].1));
            RequestLine {
                service,
                method: &self.method,
                path: &self.path,
                status: response.status(),
                fields: &fields[..shown.len().min(FIELDS)],
                elapsed,
            }
            .emit();
        }
        if journal::records(&self.method, &self.path) {
            let answered = Event::answered(service, &self.method, self.path, response, elapsed);
            journal.record(facts.into_event(answered));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_carry_the_facts_and_leave_out_empty_ones() {
        let facts = Facts {
            grant: Some("refresh_token"),
            issuer: Some("tenant1".into()),
            ..Facts::default()
        };
        let event = facts.into_event(Event::default());
        assert_eq!(event.grant_type.as_deref(), Some("refresh_token"));
        assert_eq!(event.issuer.as_deref(), Some("tenant1"));
        assert_eq!(event.note, None);
    }

    #[test]
    fn the_line_leaves_out_the_default_issuer_and_shortens_the_client() {
        let mut facts = Facts {
            issuer: Some(DEFAULT_ISSUER.into()),
            ..Facts::default()
        };
        facts.client("abcdefghijklmnop");
        assert_eq!(facts.shown(Field::Issuer), None);
        assert_eq!(facts.shown(Field::Client).as_deref(), Some("abcdefgh"));
        facts.issuer = Some("tenant1".into());
        assert_eq!(facts.shown(Field::Issuer).as_deref(), Some("tenant1"));
    }

    #[test]
    fn a_fired_rule_keeps_the_error_the_handler_named_first() {
        let fired = |error: &str| Fired {
            id: 7,
            preset: None,
            error: Some(error.into()),
            note: Some("delayed"),
            response: None,
        };
        let mut facts = Facts::default();
        facts.fired(&fired("temporarily_unavailable"));
        assert_eq!(facts.error.as_deref(), Some("temporarily_unavailable"));
        assert_eq!((facts.fault, &*facts.note), (Some(7), "delayed"));
        let mut named = Facts {
            error: Some("invalid_token".into()),
            ..Facts::default()
        };
        named.fired(&fired("insufficient_scope"));
        assert_eq!(named.error.as_deref(), Some("invalid_token"));
    }
}
