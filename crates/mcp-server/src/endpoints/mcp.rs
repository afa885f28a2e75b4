//! `/mcp`: the bearer check, the tester's `mcp` fault rules, the scope check (required scopes and
//! per-tool scopes), then rmcp's stateless Streamable HTTP service.
//!
//! Authentication runs before anything rmcp checks (Accept, Host, protocol version), so that an
//! unauthenticated first request always sees the 401 challenge a client bootstraps from.

use http::request::Parts;
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::Full;
use hyper::body::Incoming;
use sim_http::Response;
use sim_http::body::{self, MAX_BODY_BYTES};
use sim_http::faults::{Subject, oauth_shaped};
use sim_http::form::has_content_type;
use sim_http::response::plain_error;

use crate::bearer::{self, Presented};
use crate::challenge::Denial;
use crate::faults;
use crate::introspection::{self, Identity, Verdict};
use crate::router::{Facts, identify};
use crate::rpc::{self, Glance, Unreadable};
use crate::snapshot::IntrospectionFailure;
use crate::state::State;
use crate::urls;

/// The media type of a JSON-RPC message.
const JSON: &str = "application/json";

pub async fn handle(state: &State, request: Request<Incoming>, facts: &mut Facts) -> Response {
    let counters = &state.counters;
    counters.requests.bump();
    let identity = match authenticate(state, &request, facts).await {
        Ok(identity) => identity,
        Err(denial) if denial.status() == StatusCode::UNAUTHORIZED => {
            return challenge(state, request, denial, facts).await;
        }
        Err(denial) => return deny(state, request.headers(), request.uri(), denial, facts),
    };
    identify(facts, &identity);
    let (mut parts, body) = request.into_parts();
    let body = match body::read(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(error) => return plain_error(error.status(), &error.to_string()),
    };
    // Only a JSON POST carries a message; anything else is rmcp's to refuse (405, 415).
    let message = parts.method == Method::POST && has_content_type(&parts.headers, JSON);
    let glance = if message {
        match rpc::glance(&body) {
            Ok(glance) => glance,
            Err(unreadable) => {
                counters.bad_requests.bump();
                facts.error = Some(unreadable.code().to_string());
                return unreadable.into_response();
            }
        }
    } else {
        Glance::default()
    };
    let injected = inject(state, &parts, &identity, &glance, facts).await;
    let given = |value: &str| (!value.is_empty()).then(|| value.to_owned());
    facts.rpc_method = given(&glance.method);
    facts.tool = given(&glance.tool);
    if let Some(answer) = injected {
        return answer;
    }
    if glance.is_tool_call() {
        if let Some(denial) = scope_denial(state, &identity, &glance.tool) {
            return deny(state, &parts.headers, &parts.uri, denial, facts);
        }
        counters.tool_calls.bump();
    }
    parts.extensions.insert(identity);
    let answer = state
        .service
        .handle(Request::from_parts(parts, Full::new(body)))
        .await;
    // rmcp answers 415 for a JSON body it cannot deserialize; the media type was right, the
    // message was not.
    if message && answer.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        counters.bad_requests.bump();
        return Unreadable::Invalid("not a message this server understands").into_response();
    }
    answer
}

async fn authenticate<B>(
    state: &State,
    request: &Request<B>,
    facts: &mut Facts,
) -> Result<Identity, Denial> {
    let token = match bearer::presented(request.headers()) {
        Presented::Nothing => return Err(Denial::NoToken),
        Presented::Malformed(why) => return Err(Denial::Malformed(why)),
        Presented::TooLong => return Err(Denial::InvalidToken("the access token is too long")),
        Presented::Token(token) => token,
    };
    facts.presented(token);
    state.counters.introspections.bump();
    let trusted = state.trusted();
    let identity = match introspection::check(&trusted, token).await {
        Ok(Verdict::Active(identity)) => identity,
        Ok(Verdict::Inactive) => {
            return Err(Denial::InvalidToken(
                "the access token is expired, revoked or unknown",
            ));
        }
        Err((failure, url)) => {
            state.counters.introspection_failures.bump();
            facts.note = failure.kind().into();
            tracing::warn!(
                target: "introspection",
                "[mcp] token check at {url} failed: {failure}",
            );
            return Err(match state.outage_answer() {
                IntrospectionFailure::Unavailable => Denial::Unavailable(format!(
                    "the authorization server could not check the token: {failure}"
                )),
                IntrospectionFailure::InvalidToken => Denial::InvalidToken(
                    "the authorization server could not check the access token",
                ),
            });
        }
    };
    // RFC 8707: a token restricted to other resources is not for us. A token without `aud`
    // was issued without a resource indicator and is accepted.
    if !identity.audience.is_empty()
        && !identity
            .audience
            .iter()
            .any(|audience| state.urls.accepts_audience(audience))
    {
        return Err(Denial::InvalidToken(
            "the access token was issued for another resource",
        ));
    }
    Ok(identity)
}

/// The `mcp` fault rules, once the caller and its call are known, and before the scope check so
/// that a rule may refuse a call the token would be allowed. An injected 401 or 403 is the
/// RFC 6750 challenge a real refusal would carry; any other error is OAuth-shaped JSON.
async fn inject(
    state: &State,
    parts: &Parts,
    identity: &Identity,
    glance: &Glance,
    facts: &mut Facts,
) -> Option<Response> {
    let subject = Subject {
        endpoint: "mcp",
        client_id: identity.client_id.as_deref(),
        method: Some(glance.method.as_str()).filter(|method| !method.is_empty()),
        tool: Some(glance.tool.as_str()).filter(|tool| !tool.is_empty()),
        ..Subject::default()
    };
    faults::fire(state, &subject, facts, |answer, facts| {
        let scope = match answer.status {
            StatusCode::UNAUTHORIZED => state.scope.clone(),
            StatusCode::FORBIDDEN => {
                let scope = step_up_scope(&required_scopes(state, &glance.tool), identity);
                if scope.is_empty() {
                    state.scope.clone()
                } else {
                    scope
                }
            }
            _ => {
                facts.error = Some(answer.error.to_owned());
                return oauth_shaped(answer);
            }
        };
        let denial = Denial::Injected {
            status: answer.status,
            error: answer.error.to_owned(),
            description: answer.description.to_owned(),
            scope,
        };
        deny(state, &parts.headers, &parts.uri, denial, facts)
    })
    .await
}

/// A 401 names the scopes this very request needs (least privilege): the required ones, and for
/// a `tools/call` its tool's too. A client then asks for a tool's wider scope only when it calls
/// that tool, and one that authorizes again after an `insufficient_scope` gets what it needs.
async fn challenge(
    state: &State,
    request: Request<Incoming>,
    denial: Denial,
    facts: &mut Facts,
) -> Response {
    let (parts, body) = request.into_parts();
    let tool = if parts.method == Method::POST && has_content_type(&parts.headers, JSON) {
        // Bounded like any body; a body that cannot be read or parsed just gets the usual scope.
        let body = body::read(body, MAX_BODY_BYTES).await.unwrap_or_default();
        rpc::glance(&body)
            .ok()
            .filter(Glance::is_tool_call)
            .map(|glance| glance.tool)
    } else {
        None
    };
    let Some(tool) = tool.filter(|tool| !state.scopes_of_tool(tool).is_empty()) else {
        return deny(state, &parts.headers, &parts.uri, denial, facts);
    };
    let scope = required_scopes(state, &tool).join(" ");
    deny_naming(state, &parts.headers, &parts.uri, denial, facts, &scope)
}

/// The scopes a `tools/call` of `tool` needs: the required ones, then the tool's own.
fn required_scopes(state: &State, tool: &str) -> Vec<String> {
    let mut required = state.config.required_scopes.clone();
    for scope in state.scopes_of_tool(tool) {
        if !required.contains(&scope) {
            required.push(scope);
        }
    }
    required
}

fn granted(identity: &Identity) -> Vec<&str> {
    identity
        .scope
        .split(' ')
        .filter(|scope| !scope.is_empty())
        .collect()
}

/// What the client should ask for next: what the call needs plus what the token already has, so
/// that a step-up does not lose a scope.
fn step_up_scope(required: &[String], identity: &Identity) -> String {
    let mut needed: Vec<&str> = required.iter().map(String::as_str).collect();
    for scope in granted(identity) {
        if !needed.contains(&scope) {
            needed.push(scope);
        }
    }
    needed.join(" ")
}

/// A tool call needs every required scope and every scope of its tool.
fn scope_denial(state: &State, identity: &Identity, tool: &str) -> Option<Denial> {
    let required = required_scopes(state, tool);
    let granted = granted(identity);
    if required
        .iter()
        .all(|scope| granted.contains(&scope.as_str()))
    {
        return None;
    }
    Some(Denial::InsufficientScope {
        why: "the access token lacks a scope this call needs",
        scope: step_up_scope(&required, identity),
    })
}

fn deny(
    state: &State,
    headers: &HeaderMap,
    uri: &Uri,
    denial: Denial,
    facts: &mut Facts,
) -> Response {
    deny_naming(state, headers, uri, denial, facts, &state.scope)
}

/// [`deny`], with a 401 challenge naming `scope`.
fn deny_naming(
    state: &State,
    headers: &HeaderMap,
    uri: &Uri,
    denial: Denial,
    facts: &mut Facts,
    scope: &str,
) -> Response {
    let counters = &state.counters;
    let counter = match denial.status() {
        StatusCode::UNAUTHORIZED => &counters.unauthorized,
        StatusCode::BAD_REQUEST => &counters.bad_requests,
        StatusCode::FORBIDDEN => &counters.forbidden,
        _ => &counters.unavailable,
    };
    counter.bump();
    facts.error = Some(denial.code().to_owned());
    let base = state.urls.base_for(headers, uri);
    denial.into_response(&urls::metadata_url(&base), scope)
}
