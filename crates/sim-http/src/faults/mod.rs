//! The fault engine: rules a tester adds at run time to make an endpoint fail on demand.
//!
//! A rule names an endpoint, optionally narrows which requests it applies to (`match`), says how
//! to answer (`respond`) and how many times (`times`, or until deleted). Each server asks
//! [`Faults::fire`] at the point of an endpoint where everything a rule may match on is known,
//! and either answers with the fault or carries on.
//!
//! The original on/off switches of the rig (`deny-consent`, `invalid-grant`, `force-403`) are
//! *presets*: named rules of this same engine, so there is one mechanism behind every injected
//! failure and `GET /control/faults` shows all of them.
//!
//! The engine is bounded (at most [`MAX_RULES`] rules per server) and cheap when idle: with no
//! rules, [`Faults::fire`] is one atomic load.

mod rule;

use std::borrow::Cow;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::{Method, StatusCode};
use serde_json::json;

pub use rule::{Match, Respond, RespondSpec, Rule, RuleSpec};

use crate::Response;
use crate::control::Call;
use crate::response::{full, json, not_found, oauth_error, plain_error};

/// Rules one server holds at most: enough for any scenario, small enough to scan per request.
pub const MAX_RULES: usize = 64;

/// The longest delay a rule may add. Clients time out long before this.
pub const MAX_DELAY_MS: u64 = 60_000;

/// What a request offers a rule to match on. Fields a server does not know for an endpoint stay
/// `None`, and a rule matching on such a field never fires there.
#[derive(Clone, Copy, Debug, Default)]
pub struct Subject<'a> {
    /// The endpoint's name among the server's targets (`token`, `mcp`, …).
    pub endpoint: &'a str,
    /// The `grant_type` of a token request, as sent.
    pub grant_type: Option<&'a str>,
    /// The client the request names, or on the MCP server the client of its token.
    pub client_id: Option<&'a str>,
    /// The JSON-RPC method of an MCP request.
    pub method: Option<&'a str>,
    /// The tool of a `tools/call`.
    pub tool: Option<&'a str>,
    /// The `scope` a token request asked for, space-separated.
    pub scope: Option<&'a str>,
}

/// An endpoint a server lets rules target, and the `match` keys it knows there.
pub type Target = (&'static str, &'static [&'static str]);

/// A rule that fired, and what it did: [`Faults::fire`]'s answer.
#[derive(Debug)]
pub struct Fired {
    /// The rule's id, for the request's journal entry.
    pub id: u64,
    /// The switch the rule stands for, if it is a preset.
    pub preset: Option<Cow<'static, str>>,
    /// The error code answered: the injected one, or `temporarily_unavailable` of a
    /// `retry_after` answer.
    pub error: Option<String>,
    /// What happened when no error code says it: `delayed`, `malformed` or `dropped`.
    pub note: Option<&'static str>,
    /// The answer to send instead of the endpoint's own; `None` after a delay: answer normally.
    pub response: Option<Response>,
}

/// Marks a response whose connection is to be closed without sending it; the server's accept loop
/// honours it.
#[derive(Clone, Copy, Debug)]
pub struct DropConnection;

/// One server's fault rules.
#[derive(Debug)]
pub struct Faults {
    targets: &'static [Target],
    rules: Mutex<Rules>,
    /// `rules.list.len()`, readable without the lock: the idle fast path.
    armed: AtomicUsize,
}

#[derive(Debug, Default)]
struct Rules {
    list: Vec<Rule>,
    next_id: u64,
}

impl Faults {
    /// An engine for a server whose endpoints are `targets`.
    pub fn new(targets: &'static [Target]) -> Self {
        Self {
            targets,
            rules: Mutex::default(),
            armed: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Rules> {
        // A poisoned lock only means a panic elsewhere mid-update; the list is still well formed.
        self.rules
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn publish(&self, rules: &Rules) {
        self.armed.store(rules.list.len(), Ordering::Release);
    }

    /// Checks a tester's rule against this server's endpoints and adds it.
    pub fn add(&self, spec: RuleSpec) -> Result<Rule, String> {
        let respond = Respond::checked(spec.respond)?;
        let times = match spec.times {
            Some(0) => return Err("times must be at least 1 (omit it for until deleted)".into()),
            Some(times) if times > 1_000_000 => {
                return Err("times must be at most 1000000".into());
            }
            times => times,
        };
        let rule = Rule {
            times,
            remaining: times,
            ..Rule::new(&spec.endpoint, spec.matching, respond)
        };
        self.insert(rule)
    }

    fn check_target(&self, rule: &Rule) -> Result<(), String> {
        let names = || {
            self.targets
                .iter()
                .map(|(name, _)| *name)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some((_, keys)) = self.targets.iter().find(|(name, _)| *name == rule.endpoint) else {
            return Err(format!(
                "unknown endpoint '{}'; this server's endpoints are {}",
                rule.endpoint,
                names()
            ));
        };
        if let Some(key) = rule.matching.keys().find(|key| !keys.contains(key)) {
            return Err(format!(
                "match.{key} does not apply to endpoint '{}' (it knows: {})",
                rule.endpoint,
                if keys.is_empty() {
                    "nothing".to_owned()
                } else {
                    keys.join(", ")
                }
            ));
        }
        Ok(())
    }

    fn insert(&self, mut rule: Rule) -> Result<Rule, String> {
        self.check_target(&rule)?;
        let mut rules = self.lock();
        if rules.list.len() >= MAX_RULES {
            return Err(format!(
                "at most {MAX_RULES} fault rules at once; DELETE /control/faults/{{id}} or \
                 DELETE /control/faults first"
            ));
        }
        rules.next_id += 1;
        rule.id = rules.next_id;
        rules.list.push(rule.clone());
        self.publish(&rules);
        Ok(rule)
    }

    /// Turns a preset on (replacing an earlier rule of the same preset) or off.
    pub fn set_preset(&self, preset: &'static str, rule: Option<Rule>) -> Result<(), String> {
        self.remove_where(|existing| existing.preset.as_deref() == Some(preset));
        if let Some(rule) = rule {
            self.insert(Rule {
                preset: Some(Cow::Borrowed(preset)),
                ..rule
            })?;
        }
        Ok(())
    }

    /// Whether a preset's rule is in place (and so the switch is on).
    pub fn has_preset(&self, preset: &str) -> bool {
        self.armed.load(Ordering::Acquire) > 0
            && self
                .lock()
                .list
                .iter()
                .any(|rule| rule.preset.as_deref() == Some(preset))
    }

    /// Every rule, oldest first.
    pub fn list(&self) -> Vec<Rule> {
        self.lock().list.clone()
    }

    /// Deletes rule `id`; false if there is none.
    pub fn remove(&self, id: u64) -> bool {
        self.remove_where(|rule| rule.id == id) > 0
    }

    /// Deletes every rule, presets included.
    pub fn clear(&self) {
        self.remove_where(|_| true);
    }

    fn remove_where(&self, doomed: impl Fn(&Rule) -> bool) -> usize {
        let mut rules = self.lock();
        let before = rules.list.len();
        rules.list.retain(|rule| !doomed(rule));
        self.publish(&rules);
        before - rules.list.len()
    }

    /// The first rule (oldest first) that applies to `subject`, counted as fired.
    pub fn take(&self, subject: &Subject<'_>) -> Option<(u64, Option<Cow<'static, str>>, Respond)> {
        if self.armed.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut rules = self.lock();
        let at = rules
            .list
            .iter()
            .position(|rule| rule.endpoint == subject.endpoint && rule.matching.admits(subject))?;
        let rule = &mut rules.list[at];
        rule.fired += 1;
        let fired = (rule.id, rule.preset.clone(), rule.respond.clone());
        if let Some(remaining) = &mut rule.remaining {
            *remaining -= 1;
            if *remaining == 0 {
                rules.list.remove(at);
                self.publish(&rules);
            }
        }
        Some(fired)
    }

    /// Applies the first matching rule, if any: waits out a delay, or builds the fault's answer.
    ///
    /// `error` renders [`Respond::Error`] in the endpoint's own shape; [`oauth_shaped`] suits
    /// every endpoint that answers OAuth JSON.
    pub async fn fire(
        &self,
        subject: &Subject<'_>,
        error: impl FnOnce(&ErrorAnswer<'_>) -> Response,
    ) -> Option<Fired> {
        let (id, preset, respond) = self.take(subject)?;
        let mut fired = Fired {
            id,
            preset,
            error: None,
            note: None,
            response: None,
        };
        match respond {
            Respond::Delay { millis } => {
                tokio::time::sleep(Duration::from_millis(millis)).await;
                fired.note = Some("delayed");
            }
            Respond::Error {
                status,
                error: code,
                description,
            } => {
                // Checked when the rule was added: a 4xx or 5xx with an error code.
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
                let code = code.unwrap_or_else(|| "server_error".to_owned());
                let description =
                    description.unwrap_or_else(|| format!("injected by fault rule {id}"));
                fired.response = Some(error(&ErrorAnswer {
                    status,
                    error: &code,
                    description: &description,
                }));
                fired.error = Some(code);
            }
            Respond::RetryAfter { status, seconds } => {
                let code = "temporarily_unavailable";
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
                let mut response = oauth_error(
                    status,
                    code,
                    &format!("rate limited by fault rule {id}; retry after {seconds} s"),
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                fired.response = Some(response);
                fired.error = Some(code.to_owned());
            }
            Respond::Malformed => {
                fired.response = Some(malformed(id));
                fired.note = Some("malformed");
            }
            Respond::Drop => {
                let mut response = Response::new(crate::response::empty_body());
                response.extensions_mut().insert(DropConnection);
                fired.response = Some(response);
                fired.note = Some("dropped");
            }
        }
        Some(fired)
    }
}

/// An injected error, for the endpoint to render in its own shape.
#[derive(Clone, Copy, Debug)]
pub struct ErrorAnswer<'a> {
    /// The status to answer.
    pub status: StatusCode,
    /// The error code: the rule's, or `server_error` if it has none.
    pub error: &'a str,
    /// The rule's description, or `injected by fault rule {id}` if it has none.
    pub description: &'a str,
}

/// The OAuth JSON shape of an injected error (RFC 6749 §5.2), with `Retry-After: 1` on a 503 so
/// that a well-behaved client knows the outage is brief.
pub fn oauth_shaped(answer: &ErrorAnswer<'_>) -> Response {
    let mut response = oauth_error(answer.status, answer.error, answer.description);
    if answer.status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// `200` declared as JSON, whose body is cut off mid-object: what a client sees when a proxy
/// truncates an answer. A parser must reject it.
fn malformed(id: u64) -> Response {
    let mut response = Response::new(full(format!(
        r#"{{"injected_by_fault_rule": {id}, "truncated": "#
    )));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Answers `/control/faults` and `/control/faults/{id}`; `None` for any other path.
pub fn control(faults: &Faults, call: &Call) -> Option<Response> {
    let rest = call.path.strip_prefix("/control/faults")?;
    let listing = |faults: &Faults| json(StatusCode::OK, &json!({ "faults": faults.list() }));
    let answer = match (&call.method, rest) {
        (&Method::GET, "") => listing(faults),
        (&Method::POST, "") => match call
            .arguments::<RuleSpec>()
            .and_then(|spec| faults.add(spec))
        {
            Ok(rule) => json(StatusCode::CREATED, &rule),
            Err(message) => plain_error(StatusCode::BAD_REQUEST, &message),
        },
        (&Method::DELETE, "") => {
            faults.clear();
            listing(faults)
        }
        (&Method::DELETE, id) => match id.strip_prefix('/').and_then(|id| id.parse::<u64>().ok()) {
            Some(id) if faults.remove(id) => listing(faults),
            Some(id) => plain_error(StatusCode::NOT_FOUND, &format!("no fault rule {id}")),
            None => not_found(&call.path),
        },
        (_, "") => crate::response::method_not_allowed("GET, POST, DELETE"),
        (_, id) if id.starts_with('/') => crate::response::method_not_allowed("DELETE"),
        _ => return None,
    };
    Some(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TARGETS: &[Target] = &[
        ("token", &["grant_type", "client_id", "scope"]),
        ("mcp", &["client_id", "method", "tool"]),
        ("metadata", &[]),
    ];

    fn spec(value: serde_json::Value) -> Result<RuleSpec, String> {
        serde_json::from_value(value).map_err(|error| error.to_string())
    }

    fn add(faults: &Faults, value: serde_json::Value) -> Result<Rule, String> {
        faults.add(spec(value)?)
    }

    fn token(grant_type: &str) -> Subject<'_> {
        Subject {
            endpoint: "token",
            grant_type: Some(grant_type),
            ..Subject::default()
        }
    }

    #[test]
    fn times_counts_down_and_the_rule_disappears() {
        let faults = Faults::new(TARGETS);
        let rule = add(
            &faults,
            json!({"endpoint": "token", "respond": {"status": 503}, "times": 2}),
        )
        .unwrap();
        assert_eq!(rule.remaining, Some(2));
        assert_eq!(faults.take(&token("refresh_token")).unwrap().0, rule.id);
        assert_eq!(faults.list()[0].remaining, Some(1));
        assert_eq!(faults.list()[0].fired, 1);
        assert!(faults.take(&token("refresh_token")).is_some());
        assert!(faults.list().is_empty());
        assert!(faults.take(&token("refresh_token")).is_none());
    }

    #[test]
    fn a_scope_match_wants_that_token_among_the_requested_ones() {
        let faults = Faults::new(TARGETS);
        let rule = add(
            &faults,
            json!({"endpoint": "token", "match": {"scope": "wif.rejected"},
                   "respond": {"status": 400, "error": "invalid_scope"}}),
        )
        .unwrap();
        let asking = |scope: Option<&'static str>| Subject {
            scope,
            ..token("urn:ietf:params:oauth:grant-type:jwt-bearer")
        };
        assert!(faults.take(&asking(None)).is_none());
        assert!(faults.take(&asking(Some("wif.rejected.not"))).is_none());
        assert!(faults.take(&asking(Some("mcp:tools"))).is_none());
        assert_eq!(
            faults
                .take(&asking(Some("mcp:tools wif.rejected")))
                .unwrap()
                .0,
            rule.id
        );
    }

    #[test]
    fn match_narrows_and_the_oldest_matching_rule_wins() {
        let faults = Faults::new(TARGETS);
        let refresh = add(
            &faults,
            json!({"endpoint": "token", "match": {"grant_type": "refresh_token"},
                   "respond": {"status": 400, "error": "invalid_grant"}}),
        )
        .unwrap();
        let any = add(
            &faults,
            json!({"endpoint": "token", "respond": {"drop": true}}),
        )
        .unwrap();
        assert_eq!(faults.take(&token("refresh_token")).unwrap().0, refresh.id);
        assert_eq!(faults.take(&token("authorization_code")).unwrap().0, any.id);
        let other = Subject {
            endpoint: "mcp",
            ..Subject::default()
        };
        assert!(
            faults.take(&other).is_none(),
            "rules keep to their endpoint"
        );
    }

    #[test]
    fn bad_rules_are_refused_with_a_reason() {
        let faults = Faults::new(TARGETS);
        for (rule, expected) in [
            (
                json!({"endpoint": "nope", "respond": {"status": 503}}),
                "unknown endpoint",
            ),
            (
                json!({"endpoint": "metadata", "match": {"tool": "add"}, "respond": {"status": 503}}),
                "match.tool does not apply",
            ),
            (
                json!({"endpoint": "token", "respond": {}}),
                "one kind of answer",
            ),
            (
                json!({"endpoint": "token", "respond": {"delay_ms": 5, "drop": true}}),
                "one kind of answer",
            ),
            (
                json!({"endpoint": "token", "respond": {"status": 302}}),
                "400 to 599",
            ),
            (
                json!({"endpoint": "token", "respond": {"status": 400}}),
                "error is required",
            ),
            (
                json!({"endpoint": "token", "respond": {"status": 400, "error": "a\"b"}}),
                "printable",
            ),
            (
                json!({"endpoint": "token", "respond": {"status": 200, "retry_after": 1}}),
                "429 or 503",
            ),
            (
                json!({"endpoint": "token", "respond": {"delay_ms": 999_999}}),
                "at most",
            ),
            (
                json!({"endpoint": "token", "respond": {"drop": false}}),
                "only be true",
            ),
            (
                json!({"endpoint": "token", "respond": {"status": 503}, "times": 0}),
                "at least 1",
            ),
        ] {
            let refused = add(&faults, rule.clone()).unwrap_err();
            assert!(refused.contains(expected), "{rule}: {refused}");
        }
        assert!(spec(json!({"endpoint": "token", "respond": {"status": 503}, "x": 1})).is_err());
        assert!(faults.list().is_empty());
    }

    #[test]
    fn presets_replace_themselves_and_clear_with_everything() {
        let faults = Faults::new(TARGETS);
        let rule = || {
            Rule::new(
                "token",
                Match::default(),
                Respond::error(400, "invalid_grant"),
            )
        };
        faults.set_preset("invalid-grant", Some(rule())).unwrap();
        faults.set_preset("invalid-grant", Some(rule())).unwrap();
        assert_eq!(faults.list().len(), 1);
        assert!(faults.has_preset("invalid-grant"));
        faults.set_preset("invalid-grant", None).unwrap();
        assert!(!faults.has_preset("invalid-grant"));
        faults.set_preset("invalid-grant", Some(rule())).unwrap();
        faults.clear();
        assert!(!faults.has_preset("invalid-grant"));
    }

    #[test]
    fn the_rule_count_is_capped() {
        let faults = Faults::new(TARGETS);
        for _ in 0..MAX_RULES {
            add(
                &faults,
                json!({"endpoint": "metadata", "respond": {"malformed": true}}),
            )
            .unwrap();
        }
        let refused = add(
            &faults,
            json!({"endpoint": "metadata", "respond": {"malformed": true}}),
        )
        .unwrap_err();
        assert!(refused.contains("at most"), "{refused}");
    }

    #[tokio::test]
    async fn each_kind_of_answer() {
        let faults = Faults::new(TARGETS);
        let subject = Subject {
            endpoint: "metadata",
            ..Subject::default()
        };
        for respond in [
            json!({"status": 503}),
            json!({"status": 429, "retry_after": 7}),
            json!({"malformed": true}),
            json!({"drop": true}),
            json!({"delay_ms": 20}),
        ] {
            add(
                &faults,
                json!({"endpoint": "metadata", "respond": respond, "times": 1}),
            )
            .unwrap();
        }
        let answer = |fired: Option<Fired>| {
            let fired = fired.expect("a rule fired");
            (fired.response.expect("an answer"), fired.error, fired.note)
        };
        let (down, error, _) = answer(faults.fire(&subject, oauth_shaped).await);
        assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(down.headers()[header::RETRY_AFTER], "1");
        assert_eq!(error.as_deref(), Some("temporarily_unavailable"));
        let (limited, _, _) = answer(faults.fire(&subject, oauth_shaped).await);
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(limited.headers()[header::RETRY_AFTER], "7");
        let (garbage, _, note) = answer(faults.fire(&subject, oauth_shaped).await);
        assert_eq!(garbage.status(), StatusCode::OK);
        assert_eq!(note, Some("malformed"));
        let (dropped, _, note) = answer(faults.fire(&subject, oauth_shaped).await);
        assert!(dropped.extensions().get::<DropConnection>().is_some());
        assert_eq!(note, Some("dropped"));
        let started = tokio::time::Instant::now();
        let delayed = faults.fire(&subject, oauth_shaped).await.unwrap();
        assert!(delayed.response.is_none() && delayed.note == Some("delayed"));
        assert!(started.elapsed() >= Duration::from_millis(20));
        assert!(faults.fire(&subject, oauth_shaped).await.is_none());
    }

    #[test]
    fn rules_show_as_posted() {
        let faults = Faults::new(TARGETS);
        let rule = add(
            &faults,
            json!({"endpoint": "mcp", "match": {"tool": "add"},
                   "respond": {"status": 403, "error": "insufficient_scope"}, "times": 3}),
        )
        .unwrap();
        let shown = serde_json::to_value(&rule).unwrap();
        assert_eq!(
            shown,
            json!({"id": 1, "endpoint": "mcp", "match": {"tool": "add"},
                   "respond": {"status": 403, "error": "insufficient_scope"},
                   "times": 3, "remaining": 3, "fired": 0})
        );
    }
}
