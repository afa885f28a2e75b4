//! `/mcp`: the bearer check, then rmcp's stateless Streamable HTTP service.
//!
//! Authentication runs before anything rmcp checks (Accept, Host, protocol version), so that an
//! unauthenticated first request always sees the 401 challenge a client bootstraps from.

use http::{HeaderMap, Request, Uri};
use http_body_util::Full;
use hyper::body::Incoming;
use sim_http::Response;
use sim_http::body::{self, MAX_BODY_BYTES};
use sim_http::response::plain_error;

use crate::bearer::{self, Presented};
use crate::error::Denial;
use crate::introspection::{Identity, Verdict};
use crate::router::Facts;
use crate::rpc;
use crate::state::{Counters, State};
use crate::urls;

pub async fn handle(state: &State, request: Request<Incoming>, facts: &mut Facts) -> Response {
    let counters = &state.counters;
    Counters::bump(&counters.requests);
    let identity = match authenticate(state, &request, facts).await {
        Ok(identity) => identity,
        Err(denial) => return deny(state, request.headers(), request.uri(), denial, facts),
    };
    facts.identify(&identity);
    let (mut parts, body) = request.into_parts();
    let body = match body::read(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(error) => return plain_error(error.status(), &error.to_string()),
    };
    facts.rpc = rpc::glance(&body);
    if facts.rpc.is_tool_call() {
        if let Some(denial) = scope_denial(state, &identity, facts) {
            return deny(state, &parts.headers, &parts.uri, denial, facts);
        }
        Counters::bump(&counters.tool_calls);
    }
    parts.extensions.insert(identity);
    state
        .service
        .handle(Request::from_parts(parts, Full::new(body)))
        .await
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
    Counters::bump(&state.counters.introspections);
    let identity = match state.introspector.check(token).await {
        Ok(Verdict::Active(identity)) => identity,
        Ok(Verdict::Inactive) => {
            return Err(Denial::InvalidToken(
                "the access token is expired, revoked or unknown",
            ));
        }
        Err(failure) => {
            Counters::bump(&state.counters.introspection_failures);
            facts.note = failure.kind();
            tracing::warn!(
                target: "introspection",
                "[mcp] token check at {} failed: {failure}",
                state.introspector.url()
            );
            return Err(Denial::Unavailable(format!(
                "the authorization server could not check the token: {failure}"
            )));
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

/// Tool calls need every required scope; the forced switch refuses them whatever the token holds.
fn scope_denial(state: &State, identity: &Identity, facts: &mut Facts) -> Option<Denial> {
    if state.force_403() {
        facts.note = "forced";
        return Some(Denial::InsufficientScope {
            why: "forced by the control plane (force-403)",
            scope: state.scope.clone(),
        });
    }
    let granted: Vec<&str> = identity
        .scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    let required = &state.config.required_scopes;
    if required
        .iter()
        .all(|scope| granted.contains(&scope.as_str()))
    {
        return None;
    }
    // What the client should ask for next: what it needs plus what it already has, so that a
    // step-up does not lose a scope.
    let mut needed: Vec<&str> = required.iter().map(String::as_str).collect();
    needed.extend(
        granted
            .iter()
            .filter(|scope| !required.iter().any(|r| r == *scope)),
    );
    Some(Denial::InsufficientScope {
        why: "the access token lacks a scope this call needs",
        scope: needed.join(" "),
    })
}

fn deny(
    state: &State,
    headers: &HeaderMap,
    uri: &Uri,
    denial: Denial,
    facts: &mut Facts,
) -> Response {
    let counters = &state.counters;
    Counters::bump(match denial {
        Denial::NoToken | Denial::InvalidToken(_) => &counters.unauthorized,
        Denial::Malformed(_) => &counters.bad_requests,
        Denial::InsufficientScope { .. } => &counters.forbidden,
        Denial::Unavailable(_) => &counters.unavailable,
    });
    facts.error = denial.code();
    let base = state.urls.base_for(headers, uri);
    denial.into_response(&urls::metadata_url(&base), &state.scope)
}
