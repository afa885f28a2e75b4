//! Scenario 11: Step-up. The rig has two scopes, and `add` needs `mcp:write` besides `mcp:tools`.
//! The application asks for `mcp:tools` only: left to itself, rmcp asks for the union of the
//! challenge's scope (here `mcp:tools`, all `initialize` needs) and every scope the protected
//! resource metadata lists (SEP-2350 accumulation), so it would hold `mcp:write` from the start
//! and never need a step-up. `echo` works; `add` is refused with `InsufficientScope` carrying the challenge's scope,
//! `mcp:tools mcp:write` (granted ∪ required). rmcp does no step-up of its own (scenario 7), so
//! the application does it, headlessly here, on the connected session's own manager, which it
//! reaches through a clone of the `AuthClient` it connected with:
//! `AuthorizationManager::request_scope_upgrade` (the URL for the union of the granted and the
//! required scopes, same client id and redirect URI), the browser, then
//! `exchange_code_for_token_with_issuer`; `OAuthState::request_scope_upgrade` and
//! `handle_callback_url` are these two calls, but need the manager by value, which the transport
//! owns. The same session's next `add` goes out with the new token: no reconnect.
//!
//! Not the way to do it: a manager restored from the store (`initialize_from_store`) can refresh
//! but not re-authorize, since rmcp configures it with the MCP URL as its redirect URI, which no
//! authorization server has registered; the test checks that its upgrade URL says so.

use mcp_oauth_sim::Service;
use rmcp::transport::auth::{AuthorizationCallback, OAuthState};
use rmcp::transport::streamable_http_client::StreamableHttpError;
use serde_json::json;
use url::Url;

use crate::app::{App, REDIRECT_URI, call, echo, text, transport_error};
use crate::journal::Mark;
use crate::record::Record;
use crate::rig::{self, Scheme};

pub async fn run(scheme: Scheme) {
    let record = Record::start(scheme, 11, "step-up");
    // Arrange
    let sim = rig::start(scheme, |builder| {
        builder
            .scopes(["mcp:tools", "mcp:write"])
            .tool_scopes([("add", "mcp:write")])
    })
    .await;
    let app = App::new(&sim);
    let challenge = app.challenge().await;
    let manager = app
        .authorize(App::request(&challenge).with_scopes(["mcp:tools"]))
        .await;
    let client = app.auth_client(manager);
    let session = app
        .connect_with(client.clone())
        .await
        .expect("initialize succeeds");
    let client_id = app.stored().await.client_id;
    let mark = Mark::now(&sim).await;

    // Act
    let echoed = echo(&session, "within mcp:tools").await;
    let refused = call(&session, "add", json!({ "a": 2, "b": 3 })).await;
    let required = match transport_error(refused.expect_err("add is refused")) {
        StreamableHttpError::InsufficientScope(error) => {
            assert!(
                error
                    .www_authenticate_header
                    .contains("error=\"insufficient_scope\""),
                "{}",
                error.www_authenticate_header
            );
            error.required_scope.expect("the challenge names the scope")
        }
        other => panic!("expected rmcp's InsufficientScope, got {other:?}"),
    };
    // The lock is not held while the user is at the browser: the session's requests need it.
    let upgrade_url = client
        .auth_manager
        .lock()
        .await
        .request_scope_upgrade(&required)
        .await
        .expect("rmcp makes the upgrade URL");
    let callback = app.visit(&upgrade_url).await;
    let callback = AuthorizationCallback::from_redirect_url(callback.as_str())
        .expect("the redirect carries a code and the state");
    client
        .auth_manager
        .lock()
        .await
        .exchange_code_for_token_with_issuer(
            &callback.code,
            &callback.csrf_token,
            callback.issuer.as_deref(),
        )
        .await
        .expect("rmcp exchanges the code");
    let sum = call(&session, "add", json!({ "a": 2, "b": 3 })).await;
    let caller = call(&session, "whoami", json!({}))
        .await
        .expect("whoami succeeds");
    let oauth = mark.lines(&sim, Service::OAuth).await;
    let mcp = mark.lines(&sim, Service::Mcp).await;
    let mut restored = app.manager().await;
    assert!(
        restored
            .initialize_from_store()
            .await
            .expect("rmcp reads the store"),
        "rmcp accepted the stored credentials"
    );
    let mut state = OAuthState::Authorized(restored);
    let restored_url = state
        .request_scope_upgrade(&required, REDIRECT_URI)
        .await
        .expect("rmcp makes an upgrade URL");

    // Assert
    assert!(challenge.contains("scope=\"mcp:tools\""), "{challenge}");
    assert_eq!(
        echoed.expect("echo needs mcp:tools only"),
        "within mcp:tools"
    );
    assert_eq!(required, "mcp:tools mcp:write");
    assert_eq!(
        query(&upgrade_url, "scope").as_deref(),
        Some("mcp:tools mcp:write")
    );
    assert_eq!(
        query(&upgrade_url, "redirect_uri").as_deref(),
        Some(REDIRECT_URI)
    );
    assert_eq!(query(&upgrade_url, "client_id"), Some(client_id.clone()));
    assert_eq!(text(&sum.expect("add succeeds after the step-up")), "5");
    let identity = caller.structured_content.expect("structured content");
    assert_eq!(identity["scope"], "mcp:tools mcp:write");
    assert_eq!(identity["client_id"], client_id.as_str());
    assert_eq!(
        app.stored().await.granted_scopes,
        ["mcp:tools", "mcp:write"],
        "rmcp saved the wider grant"
    );
    assert_eq!(
        oauth,
        ["GET /authorize 302", "POST /token 200 authorization_code"],
        "one authorization for the union of scopes; no registration, no refresh"
    );
    assert_eq!(
        mcp,
        [
            "POST /mcp 200 tools/call echo",
            "POST /mcp 403 tools/call add insufficient_scope",
            "POST /mcp 200 tools/call add",
            "POST /mcp 200 tools/call whoami",
        ],
        "one refusal, then the same session with the new token; no reconnect"
    );
    assert_eq!(
        query(&restored_url, "redirect_uri").as_deref(),
        Some(sim.mcp_url().as_str()),
        "a manager restored from the store redirects to the MCP URL"
    );

    record.passed(
        "403 for one tool surfaces as InsufficientScope with scope granted ∪ required; the application's request_scope_upgrade + code exchange on the session's own manager (no reconnect) makes the next call succeed with mcp:write",
    );
}

fn query(url: &str, name: &str) -> Option<String> {
    Url::parse(url)
        .expect("a URL")
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}
