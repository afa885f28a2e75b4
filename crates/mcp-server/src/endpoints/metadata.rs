//! `GET /.well-known/oauth-protected-resource[/mcp]`: RFC 9728 protected-resource metadata, unless
//! a `prm` fault rule answers first (an injected error is OAuth-shaped JSON).

use http::{HeaderMap, StatusCode, Uri};
use serde_json::json;
use sim_http::Response;
use sim_http::faults::{Subject, oauth_shaped};
use sim_http::response::json;

use crate::faults;
use crate::router::Facts;
use crate::state::State;
use crate::urls;

pub async fn handle(state: &State, headers: &HeaderMap, uri: &Uri, facts: &mut Facts) -> Response {
    let subject = Subject {
        endpoint: "prm",
        ..Subject::default()
    };
    let injected = faults::fire(state, &subject, facts, |answer, facts| {
        facts.error = Some(answer.error.to_owned());
        oauth_shaped(answer)
    });
    if let Some(answer) = injected.await {
        return answer;
    }
    let base = state.urls.base_for(headers, uri);
    let issuers: Vec<String> = state
        .trusted()
        .iter()
        .map(|checker| checker.server.issuer.clone())
        .collect();
    let mut document = json!({
        "resource": urls::resource(&base),
        // Verbatim: clients compare it with the AS metadata's issuer byte for byte.
        "authorization_servers": issuers,
        "bearer_methods_supported": ["header"],
        "resource_name": state.config.resource_name,
    });
    // RFC 9728 §2: scopes_supported is optional; an empty list would say "no scopes".
    if !state.config.scopes.is_empty() {
        document["scopes_supported"] = json!(state.config.scopes);
    }
    json(StatusCode::OK, &document)
}
