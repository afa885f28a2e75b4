//! `/mcp`: the bearer check, the tester's `mcp` fault rules, the scope check (required scopes and
//! per-tool scopes), then rmcp's stateless Streamable HTTP service.
//!
//! Authentication runs before anything rmcp checks (Accept, Host, protocol version), so that an
//! unauthenticated first request always sees the 401 challenge a client bootstraps from. When
//! the profile names methods that need no token (lazy authentication), a request without one is
//! read first — bounded like any body — to learn its method; a token, when sent, is checked as
//! always.

use bytes::Bytes;
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
use crate::challenge::{Context, Denial};
use crate::faults;
use crate::introspection::{self, Identity, Verdict};
use crate::profile::{ChallengeScope, Profile};
use crate::router::{Facts, identify};
use crate::rpc::{self, Glance, Unreadable};
use crate::snapshot::IntrospectionFailure;
use crate::state::State;

/// The media type of a JSON-RPC message.
const JSON: &str = "application/json";

/// What the journal notes on the request that switched the authorization servers.
const SWITCHED: &str = "authorization servers switched";

pub async fn handle(
    state: &State,
    profile: &Profile,
    request: Request<Incoming>,
    facts: &mut Facts,
) -> Response {
    let counters = &state.counters;
    counters.requests.bump();
    facts.asked.auth_scheme = auth_scheme(request.headers());
    let identity = match authenticate(state, &request, facts).await {
        Ok(identity) => Some(identity),
        // Whether a request without a token may pass depends on its method: read it first.
        Err(Denial::NoToken) if !profile.unauthenticated.is_empty() => None,
        Err(denial) if denial.status() == StatusCode::UNAUTHORIZED => {
            return challenge(state, profile, request, denial, facts).await;
        }
        Err(denial) => {
            return deny(
                state,
                profile,
                request.headers(),
                request.uri(),
                denial,
                facts,
            );
        }
    };
    let (parts, body) = request.into_parts();
    let Some(identity) = identity else {
        return lazy(state, profile, parts, body, facts).await;
    };
    identify(facts, &identity);
    let body = match body::read(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(error) => return plain_error(error.status(), &error.to_string()),
    };
    // Only a JSON POST carries a message; anything else is rmcp's to refuse (405, 415).
    let glance = if is_message(&parts) {
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
    // Counted once the token is known good, and before anything else can refuse the call:
    // the request that makes the switch was authenticated under the old list. A method that
    // needs no token does not count, whatever it carried, as for the conformance suite's
    // server: the migration follows the first call that needed the authorization server.
    if !profile.is_unauthenticated(&glance.method) && state.count_authenticated() {
        facts.note = SWITCHED.into();
    }
    serve(state, profile, parts, body, glance, Some(identity), facts).await
}

fn is_message(parts: &Parts) -> bool {
    parts.method == Method::POST && has_content_type(&parts.headers, JSON)
}

/// A request without a token while some methods need none: served if its method is one of
/// them, else the 401 it would have got anyway. A body that cannot be read or parsed is not
/// one of them.
async fn lazy(
    state: &State,
    profile: &Profile,
    parts: Parts,
    body: Incoming,
    facts: &mut Facts,
) -> Response {
    let read = if is_message(&parts) {
        body::read(body, MAX_BODY_BYTES)
            .await
            .ok()
            .and_then(|body| rpc::glance(&body).ok().map(|glance| (body, glance)))
    } else {
        None
    };
    match read {
        Some((body, glance)) if profile.is_unauthenticated(&glance.method) => {
            serve(state, profile, parts, body, glance, None, facts).await
        }
        Some((_, glance)) => {
            let tool = Some(glance.tool).filter(|_| glance.method == "tools/call");
            challenge_naming(
                state,
                profile,
                &parts,
                tool.as_deref(),
                Denial::NoToken,
                facts,
            )
        }
        None => challenge_naming(state, profile, &parts, None, Denial::NoToken, facts),
    }
}

/// The fault rules, the scope check and rmcp, for an authenticated request or (`identity`
/// `None`) one whose method needs no token, which has no scopes to check.
async fn serve(
    state: &State,
    profile: &Profile,
    mut parts: Parts,
    body: Bytes,
    glance: Glance,
    identity: Option<Identity>,
    facts: &mut Facts,
) -> Response {
    let counters = &state.counters;
    let message = is_message(&parts);
    let injected = inject(state, profile, &parts, identity.as_ref(), &glance, facts).await;
    let given = |value: &str| (!value.is_empty()).then(|| value.to_owned());
    facts.rpc_method = given(&glance.method);
    facts.tool = given(&glance.tool);
    if let Some(answer) = injected {
        return answer;
    }
    if glance.is_tool_call() {
        if let Some(identity) = &identity
            && let Some(denial) = scope_denial(state, profile, identity, &glance.tool)
        {
            return deny(state, profile, &parts.headers, &parts.uri, denial, facts);
        }
        counters.tool_calls.bump();
    }
    if let Some(identity) = identity {
        parts.extensions.insert(identity);
    }
    // Held for the call: a re-point meanwhile serves the next request with the new service.
    let public = state.public();
    let answer = public
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

/// The scheme of the `Authorization` header as sent (`Bearer`, `DPoP`, `Basic`, …), made safe
/// for the journal; `None` without the header.
fn auth_scheme(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(http::header::AUTHORIZATION)?.as_bytes();
    let scheme = value.split(|byte| *byte == b' ').next().unwrap_or_default();
    let shown: String = scheme
        .iter()
        .take(32)
        .map(|&byte| {
            if byte.is_ascii_graphic() {
                byte as char
            } else {
                '?'
            }
        })
        .collect();
    (!shown.is_empty()).then_some(shown)
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
    let public = state.public();
    if !identity.audience.is_empty()
        && !identity
            .audience
            .iter()
            .any(|audience| public.urls.accepts_audience(audience))
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
    profile: &Profile,
    parts: &Parts,
    identity: Option<&Identity>,
    glance: &Glance,
    facts: &mut Facts,
) -> Option<Response> {
    let subject = Subject {
        endpoint: "mcp",
        client_id: identity.and_then(|identity| identity.client_id.as_deref()),
        method: Some(glance.method.as_str()).filter(|method| !method.is_empty()),
        tool: Some(glance.tool.as_str()).filter(|tool| !tool.is_empty()),
        ..Subject::default()
    };
    faults::fire(state, &subject, facts, |answer, facts| {
        let scope = match answer.status {
            StatusCode::UNAUTHORIZED => state.challenge_scope(profile),
            StatusCode::FORBIDDEN => {
                let required = required_scopes(state, profile, &glance.tool);
                let granted = identity.map(granted).unwrap_or_default();
                let named = profile.insufficient_scope.scopes(&required, &granted);
                // A client must be able to act on a 403 even when nothing is missing (a rule
                // refusing a token that has it all): name what the call needs, else what a
                // 401 would.
                if !named.is_empty() {
                    named.join(" ")
                } else if !required.is_empty() {
                    required.join(" ")
                } else {
                    state.challenge_scope(profile)
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
        deny(state, profile, &parts.headers, &parts.uri, denial, facts)
    })
    .await
}

/// A 401 names the scopes this very request needs (least privilege): the required ones, and for
/// a `tools/call` its tool's too. A client then asks for a tool's wider scope only when it calls
/// that tool, and one that authorizes again after an `insufficient_scope` gets what it needs.
async fn challenge(
    state: &State,
    profile: &Profile,
    request: Request<Incoming>,
    denial: Denial,
    facts: &mut Facts,
) -> Response {
    let (parts, body) = request.into_parts();
    let tool = if is_message(&parts) {
        // Bounded like any body; a body that cannot be read or parsed just gets the usual scope.
        let body = body::read(body, MAX_BODY_BYTES).await.unwrap_or_default();
        rpc::glance(&body)
            .ok()
            .filter(Glance::is_tool_call)
            .map(|glance| glance.tool)
    } else {
        None
    };
    challenge_naming(state, profile, &parts, tool.as_deref(), denial, facts)
}

/// The 401 of a request that calls `tool` (if any), with the scope the profile asks for.
fn challenge_naming(
    state: &State,
    profile: &Profile,
    parts: &Parts,
    tool: Option<&str>,
    denial: Denial,
    facts: &mut Facts,
) -> Response {
    let scope = match tool {
        Some(tool)
            if profile.challenge_scope == ChallengeScope::Required
                && !state.scopes_of_tool(tool).is_empty() =>
        {
            required_scopes(state, profile, tool).join(" ")
        }
        _ => state.challenge_scope(profile),
    };
    deny_naming(
        state,
        profile,
        &parts.headers,
        &parts.uri,
        denial,
        facts,
        &scope,
    )
}

/// The scopes a `tools/call` of `tool` needs: the required ones, then the tool's own.
fn required_scopes(state: &State, profile: &Profile, tool: &str) -> Vec<String> {
    let mut required = state.required_scopes(profile).to_vec();
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

/// A tool call needs every required scope and every scope of its tool; a refusal names the
/// scopes the profile's `insufficient_scope` says.
fn scope_denial(
    state: &State,
    profile: &Profile,
    identity: &Identity,
    tool: &str,
) -> Option<Denial> {
    let required = required_scopes(state, profile, tool);
    let granted = granted(identity);
    if required
        .iter()
        .all(|scope| granted.contains(&scope.as_str()))
    {
        return None;
    }
    Some(Denial::InsufficientScope {
        why: "the access token lacks a scope this call needs",
        scope: profile
            .insufficient_scope
            .scopes(&required, &granted)
            .join(" "),
    })
}

fn deny(
    state: &State,
    profile: &Profile,
    headers: &HeaderMap,
    uri: &Uri,
    denial: Denial,
    facts: &mut Facts,
) -> Response {
    let scope = state.challenge_scope(profile);
    deny_naming(state, profile, headers, uri, denial, facts, &scope)
}

/// [`deny`], with a 401 challenge naming `scope`.
fn deny_naming(
    state: &State,
    profile: &Profile,
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
    let metadata_url = profile
        .metadata_path()
        .map(|path| format!("{}{path}", state.public().urls.base_for(headers, uri)));
    denial.into_response(&Context {
        metadata_url: metadata_url.as_deref(),
        scope,
        error_without_token: profile.challenge_error,
    })
}
