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
    let glance = rpc::glance(&body);
    if glance.is_tool_call() {
        if state.force_403() {
            facts.note = "forced";
            facts.rpc = glance;
            let denial = Denial::InsufficientScope("forced by the control plane (force-403)");
            return deny(state, &parts.headers, &parts.uri, denial, facts);
        }
        Counters::bump(&counters.tool_calls);
    }
    facts.rpc = glance;
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
        Denial::InsufficientScope(_) => &counters.forbidden,
        Denial::Unavailable(_) => &counters.unavailable,
    });
    facts.error = denial.code();
    let base = state.urls.base_for(headers, uri);
    denial.into_response(&urls::metadata_url(&base), &state.scope)
}
