//! Scope enforcement: a token without the scope tools need gets a step-up challenge.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

async fn rig_with_two_scopes() -> Rig {
    let scopes = vec!["mcp:tools".to_owned(), "profile".to_owned()];
    Rig::start_with(
        oauth_server::Config {
            scopes: scopes.clone(),
            ..oauth_server::Config::default()
        },
        mcp_server::Config {
            scopes,
            ..mcp_server::Config::default()
        },
    )
    .await
}

#[tokio::test]
async fn tool_call_without_the_required_scope_gets_a_step_up_challenge_naming_all_scopes_needed() {
    let rig = rig_with_two_scopes().await;
    let tokens = rig.token_with(Some(&rig.mcp_url()), Some("profile")).await;
    let message = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": "echo", "arguments": { "message": "hi" } },
    });

    let response = rig.post_mcp(Some(&tokens.access), &message).await;

    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let port = rig.mcp.addr().port();
    // The required scope first, then the one already granted, so a step-up loses nothing.
    assert_eq!(
        www_authenticate(&response),
        format!(
            r#"Bearer error="insufficient_scope", scope="mcp:tools profile", resource_metadata="http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp", error_description="the access token lacks a scope this call needs""#
        )
    );
    assert_eq!(rig.mcp_state().await["counters"]["forbidden"], 1);
    assert_eq!(rig.mcp_state().await["counters"]["tool_calls"], 0);
}

#[tokio::test]
async fn token_without_the_required_scope_may_still_initialize_and_list_tools() {
    let rig = rig_with_two_scopes().await;
    let tokens = rig.token_with(Some(&rig.mcp_url()), Some("profile")).await;

    let (initialized, _) = rig.initialize(&tokens.access).await;
    let (listed, body) = rig.rpc(&tokens.access, "tools/list", json!({})).await;

    assert_eq!(initialized, StatusCode::OK);
    assert_eq!(listed, StatusCode::OK);
    assert_eq!(body["result"]["tools"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn token_with_the_required_scope_among_others_calls_tools() {
    let rig = rig_with_two_scopes().await;
    let tokens = rig
        .token_with(Some(&rig.mcp_url()), Some("profile mcp:tools"))
        .await;

    let (status, body) = rig
        .call_tool(&tokens.access, "echo", json!({ "message": "hi" }))
        .await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(tool_text(&body), "hi");
}

#[tokio::test]
async fn with_no_required_scopes_any_active_token_calls_tools() {
    let scopes = vec!["mcp:tools".to_owned(), "profile".to_owned()];
    let rig = Rig::start_with(
        oauth_server::Config {
            scopes: scopes.clone(),
            ..oauth_server::Config::default()
        },
        mcp_server::Config {
            scopes,
            required_scopes: Vec::new(),
            ..mcp_server::Config::default()
        },
    )
    .await;
    let tokens = rig.token_with(Some(&rig.mcp_url()), Some("profile")).await;

    let (status, _) = rig
        .call_tool(&tokens.access, "add", json!({ "a": 1, "b": 2 }))
        .await;

    assert_eq!(status, StatusCode::OK);
}
