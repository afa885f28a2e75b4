//! Per-tool scopes: a tool that needs a scope the token lacks answers 403 naming every scope
//! to ask for, and a token from a wider authorization calls it: the MCP step-up flow.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const WRITE: &str = "mcp:write";

/// Both servers announcing `mcp:tools` and `mcp:write`; the MCP server configured with
/// `tool_scopes` (tool, scopes).
async fn rig_with_tool_scopes(tool_scopes: &[(&str, &str)]) -> Rig {
    let scopes = vec!["mcp:tools".to_owned(), WRITE.to_owned()];
    Rig::start_with(
        oauth_server::Config {
            scopes: scopes.clone(),
            ..oauth_server::Config::default()
        },
        mcp_server::Config {
            scopes,
            tool_scopes: tool_scopes
                .iter()
                .map(|(tool, scopes)| ((*tool).to_owned(), (*scopes).to_owned()))
                .collect(),
            ..mcp_server::Config::default()
        },
    )
    .await
}

fn metadata_url(rig: &Rig) -> String {
    format!(
        "http://127.0.0.1:{}/.well-known/oauth-protected-resource/mcp",
        rig.mcp_port()
    )
}

fn add_call() -> Value {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": "add", "arguments": { "a": 1, "b": 2 } },
    })
}

#[tokio::test]
async fn a_tool_needing_a_scope_the_token_lacks_answers_403_with_granted_and_required_then_the_wider_token_succeeds()
 {
    // Arrange
    let rig = rig_with_tool_scopes(&[("add", WRITE)]).await;
    let narrow = rig
        .token_with(Some(&rig.mcp_url()), Some("mcp:tools"))
        .await;

    // Act
    let refused = rig.post_mcp(Some(&narrow.access), &add_call()).await;
    let challenge = www_authenticate(&refused);
    let (listed, tools) = rig.rpc(&narrow.access, "tools/list", json!({})).await;
    let (echoed, _) = rig
        .call_tool(&narrow.access, "echo", json!({ "message": "x" }))
        .await;
    // The client steps up: a new authorization with the scopes the challenge named.
    let scope = challenge
        .split("scope=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no scope in {challenge}"))
        .to_owned();
    let wide = rig.token_with(Some(&rig.mcp_url()), Some(&scope)).await;
    let (added, sum) = rig
        .call_tool(&wide.access, "add", json!({ "a": 1, "b": 2 }))
        .await;

    // Assert
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        challenge,
        format!(
            r#"Bearer error="insufficient_scope", scope="mcp:tools mcp:write", resource_metadata="{}", error_description="the access token lacks a scope this call needs""#,
            metadata_url(&rig)
        )
    );
    assert_eq!(listed, StatusCode::OK);
    assert_eq!(tools["result"]["tools"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        echoed,
        StatusCode::OK,
        "other tools need only the required scopes"
    );
    assert_eq!(added, StatusCode::OK, "{sum}");
    assert_eq!(tool_text(&sum), "3");
    let state = rig.mcp_state().await;
    assert_eq!(state["counters"]["forbidden"], 1, "{state}");
}

#[tokio::test]
async fn configured_tool_scopes_show_in_the_state_and_leave_the_metadata_scopes_alone() {
    // Arrange
    let rig = rig_with_tool_scopes(&[("whoami", "mcp:write mcp:tools")]).await;

    // Act
    let state = rig.mcp_state().await;
    let document = json_body(
        rig.get_mcp_path("/.well-known/oauth-protected-resource/mcp")
            .await,
    )
    .await;

    // Assert
    assert_eq!(
        state["tool_scopes"],
        json!({ "whoami": "mcp:write mcp:tools" }),
        "{state}"
    );
    assert_eq!(document["scopes_supported"], json!(["mcp:tools", WRITE]));
}

#[tokio::test]
async fn tool_scopes_set_by_the_control_plane_apply_at_once_and_null_removes_them() {
    // Arrange
    let rig = rig_with_tool_scopes(&[]).await;
    let narrow = rig
        .token_with(Some(&rig.mcp_url()), Some("mcp:tools"))
        .await;
    let (before, _) = rig.call_tool(&narrow.access, "whoami", json!({})).await;

    // Act
    let (set, state) = rig
        .mcp_control(
            "/control/tool-scopes",
            json!({ "whoami": WRITE, "add": WRITE }),
        )
        .await;
    let refused = rig
        .post_mcp(
            Some(&narrow.access),
            &json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
                     "params": { "name": "whoami", "arguments": {} } }),
        )
        .await;
    let (removed, after_removal) = rig
        .mcp_control("/control/tool-scopes", json!({ "whoami": null }))
        .await;
    let (again, _) = rig.call_tool(&narrow.access, "whoami", json!({})).await;

    // Assert
    assert_eq!(before, StatusCode::OK);
    assert_eq!(set, StatusCode::OK, "{state}");
    assert_eq!(
        state["tool_scopes"],
        json!({ "add": WRITE, "whoami": WRITE }),
        "{state}"
    );
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(
        www_authenticate(&refused).contains(r#"scope="mcp:tools mcp:write""#),
        "{}",
        www_authenticate(&refused)
    );
    assert_eq!(removed, StatusCode::OK, "{after_removal}");
    assert_eq!(after_removal["tool_scopes"], json!({ "add": WRITE }));
    assert_eq!(again, StatusCode::OK);
}

#[tokio::test]
async fn reset_restores_the_configured_tool_scopes() {
    // Arrange
    let rig = rig_with_tool_scopes(&[("add", WRITE)]).await;
    rig.mcp_control(
        "/control/tool-scopes",
        json!({ "add": null, "echo": WRITE }),
    )
    .await;

    // Act
    let (status, state) = rig.mcp_control("/control/reset", json!({})).await;

    // Assert
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["tool_scopes"], json!({ "add": WRITE }), "{state}");
}

#[tokio::test]
async fn tool_scopes_naming_an_unknown_tool_or_scope_are_refused_with_400_and_change_nothing() {
    // Arrange
    let rig = rig_with_tool_scopes(&[("add", WRITE)]).await;

    for (body, expected) in [
        (json!({ "delete": WRITE }), "unknown tool"),
        (
            json!({ "echo": "mcp:admin" }),
            "not among the announced scopes",
        ),
        (json!({ "echo": WRITE, "nope": null }), "unknown tool"),
        (json!({ "echo": "" }), "no scopes given"),
        (json!({ "echo": 1 }), ""),
        (json!(["echo"]), ""),
    ] {
        // Act
        let (status, answer) = rig.mcp_control("/control/tool-scopes", body.clone()).await;

        // Assert
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        let message = answer["error"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{body}: {answer}");
    }
    let state = rig.mcp_state().await;
    assert_eq!(state["tool_scopes"], json!({ "add": WRITE }), "{state}");
}

#[tokio::test]
async fn a_configuration_naming_an_unknown_tool_or_scope_does_not_start() {
    for tool_scopes in [[("delete", WRITE)], [("add", "mcp:admin")]] {
        // Act
        let started = mcp_server::McpServer::start(mcp_server::Config {
            scopes: vec!["mcp:tools".into(), WRITE.into()],
            tool_scopes: tool_scopes
                .iter()
                .map(|(tool, scopes)| ((*tool).to_owned(), (*scopes).to_owned()))
                .collect(),
            ..mcp_server::Config::default()
        })
        .await;

        // Assert
        let error = started.err().map(|error| error.to_string());
        assert!(
            error
                .as_deref()
                .is_some_and(|error| error.starts_with("invalid configuration")),
            "{tool_scopes:?}: {error:?}"
        );
    }
}

#[tokio::test]
async fn a_401_names_the_scopes_of_the_request_so_a_client_asks_for_a_tools_scope_only_when_calling_it()
 {
    // Arrange
    let rig = rig_with_tool_scopes(&[("add", WRITE)]).await;
    let echo_call = json!({
        "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": { "name": "echo", "arguments": { "message": "x" } },
    });

    // Act
    let initialize = rig.post_mcp(None, &initialize_message()).await;
    let echo = rig.post_mcp(None, &echo_call).await;
    let add = rig.post_mcp(None, &add_call()).await;
    let add_with_a_dead_token = rig.post_mcp(Some("expired-or-revoked"), &add_call()).await;

    // Assert
    let scope_of = |response: &reqwest::Response| {
        let challenge = www_authenticate(response);
        challenge
            .split("scope=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no scope in {challenge}"))
    };
    for response in [&initialize, &echo, &add, &add_with_a_dead_token] {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(scope_of(&initialize), "mcp:tools");
    assert_eq!(scope_of(&echo), "mcp:tools");
    assert_eq!(scope_of(&add), "mcp:tools mcp:write");
    assert_eq!(scope_of(&add_with_a_dead_token), "mcp:tools mcp:write");
}
