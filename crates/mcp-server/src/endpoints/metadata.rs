//! `GET` of each protected-resource metadata location the profile serves (RFC 9728 §3:
//! `/.well-known/oauth-protected-resource[/mcp]`, or a custom path), unless a `prm` fault rule
//! answers first (an injected error is OAuth-shaped JSON).

use http::{HeaderMap, StatusCode, Uri};
use serde_json::json;
use sim_http::Response;
use sim_http::faults::{Subject, oauth_shaped};
use sim_http::response::json;

use crate::faults;
use crate::profile::{PrmLocation, Profile, RootResource, ScopesSupported};
use crate::router::Facts;
use crate::state::State;
use crate::urls;

pub async fn handle(
    state: &State,
    profile: &Profile,
    location: &PrmLocation,
    headers: &HeaderMap,
    uri: &Uri,
    facts: &mut Facts,
) -> Response {
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
    let base = state.public().urls.base_for(headers, uri);
    let issuers: Vec<String> = state
        .trusted()
        .iter()
        .map(|checker| checker.server.issuer.clone())
        .collect();
    let resource = match (&profile.prm_resource, location, profile.prm_root_resource) {
        // The resource-mismatch trap: tokens are still judged by the real resource.
        (Some(resource), _, _) => resource.clone(),
        // RFC 9728 §3.3 lets the root form describe the origin, as the conformance mock does.
        (None, PrmLocation::Root, RootResource::Origin) => base,
        (None, _, _) => urls::resource(&base),
    };
    let mut document = json!({
        "resource": resource,
        // Verbatim: clients compare it with the AS metadata's issuer byte for byte.
        "authorization_servers": issuers,
        "bearer_methods_supported": ["header"],
        "resource_name": state.config.resource_name,
    });
    match &profile.prm_scopes_supported {
        // RFC 9728 §2: scopes_supported is optional; an empty list would say "no scopes".
        None if !state.config.scopes.is_empty() => {
            document["scopes_supported"] = json!(state.config.scopes);
        }
        None | Some(ScopesSupported::Omit) => {}
        // As chosen, `[]` included: the tester asked for exactly this.
        Some(ScopesSupported::List(scopes)) => document["scopes_supported"] = json!(scopes),
    }
    json(StatusCode::OK, &document)
}
