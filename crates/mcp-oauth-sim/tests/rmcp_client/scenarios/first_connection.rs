//! Scenario 1: From nothing but the MCP URL: 401 → protected-resource metadata → AS metadata →
//! dynamic registration → authorization (PKCE, `resource`) → code exchange → initialize → tools.

use serde_json::json;

use crate::app::{App, call, text};
use crate::record::Record;
use crate::rig::{self, Scheme};

pub async fn run(scheme: Scheme) {
    let record = Record::start(scheme, 1, "first connection");
    // Arrange
    let sim = rig::start(scheme, |builder| builder).await;
    let app = App::new(&sim);

    // Act
    let challenge = app.challenge().await;
    let manager = app.authorize(App::request(&challenge)).await;
    let session = app.connect(manager).await.expect("initialize succeeds");
    let tools = session.list_tools(None).await.expect("tools/list succeeds");
    let echoed = call(&session, "echo", json!({ "message": "hello from rmcp" }))
        .await
        .expect("echo succeeds");
    let sum = call(&session, "add", json!({ "a": 2, "b": 3 }))
        .await
        .expect("add succeeds");
    let caller = call(&session, "whoami", json!({}))
        .await
        .expect("whoami succeeds");
    let stored = app.stored().await;
    let state = sim.control().state().await.expect("state");

    // Assert
    let mcp_url = sim.mcp_url();
    let origin = mcp_url.trim_end_matches("/mcp");
    assert!(
        challenge.contains(&format!(
            "resource_metadata=\"{origin}/.well-known/oauth-protected-resource/mcp\""
        )),
        "{challenge}"
    );
    let mut names: Vec<&str> = tools.tools.iter().map(|tool| tool.name.as_ref()).collect();
    names.sort_unstable();
    assert_eq!(names, ["add", "echo", "whoami"]);
    assert_eq!(text(&echoed), "hello from rmcp");
    assert_eq!(text(&sum), "5");
    let identity = caller
        .structured_content
        .expect("whoami answers structured content");
    assert_eq!(
        identity["client_id"], stored.client_id,
        "the token belongs to the client rmcp registered"
    );
    assert_eq!(identity["subject"], "demo-user");
    assert_eq!(identity["scope"], "mcp:tools");
    assert_eq!(
        identity["audience"],
        json!([sim.mcp_url()]),
        "rmcp sent `resource` on authorize and token, so the token is bound to the MCP URL"
    );
    assert_eq!(stored.issuer.as_deref(), Some(sim.issuer().as_str()));
    assert!(app.stored_token("refresh_token").await.is_string());
    let oauth = &state.oauth.counters;
    assert_eq!(oauth.registrations, 1);
    assert_eq!(oauth.authorizations, 1);
    assert_eq!(oauth.token_requests.authorization_code, 1);
    // A one-hour token is far from rmcp's refresh margin (30 s at most): no refresh at all.
    assert_eq!(oauth.token_requests.refresh_token, 0);
    assert_eq!(oauth.token_errors, 0);
    let mcp = &state.mcp.counters;
    // The unauthenticated initialize is the only 401; discovery then starts from its challenge.
    assert_eq!(mcp.unauthorized, 1);
    assert_eq!(mcp.tool_calls, 3);

    record.passed(
        "discovery from the 401 challenge, DCR, PKCE + resource on authorize and token, iss checked; tools listed and called",
    );
}
