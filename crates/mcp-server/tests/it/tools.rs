//! The MCP surface a client sees once it holds a token from a real code + PKCE flow:
//! initialize, the three tools, their errors, and what the transport refuses.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

fn tool<'a>(tools: &'a [Value], name: &str) -> &'a Value {
    tools
        .iter()
        .find(|tool| tool["name"] == name)
        .unwrap_or_else(|| panic!("no tool {name} in {tools:?}"))
}

fn required(tool: &Value) -> Vec<&str> {
    let mut required: Vec<&str> = tool["inputSchema"]["required"]
        .as_array()
        .unwrap_or_else(|| panic!("no required list in {tool}"))
        .iter()
        .map(|name| name.as_str().unwrap())
        .collect();
    required.sort_unstable();
    required
}

#[tokio::test]
async fn initialize_names_the_server_mcp_oauth_sim_and_announces_tools() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;

    // Act
    let (status, response) = rig.initialize(&tokens.access).await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{response}");
    let result = &response["result"];
    assert_eq!(result["serverInfo"]["name"], "mcp-oauth-sim", "{response}");
    assert!(result["capabilities"]["tools"].is_object(), "{response}");
    assert!(result["protocolVersion"].is_string(), "{response}");
}

#[tokio::test]
async fn tools_list_is_exactly_echo_add_whoami_each_described_with_an_object_schema() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;

    // Act
    let (status, response) = rig.rpc(&tokens.access, "tools/list", json!({})).await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{response}");
    let tools = response["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools in {response}"));
    let mut names: Vec<&str> = tools
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["add", "echo", "whoami"]);
    for tool in tools {
        let description = tool["description"].as_str().unwrap_or_default();
        assert!(!description.trim().is_empty(), "no description: {tool}");
        assert_eq!(tool["inputSchema"]["type"], "object", "{tool}");
    }
    assert_eq!(required(tool(tools, "echo")), ["message"]);
    assert_eq!(required(tool(tools, "add")), ["a", "b"]);
    // schemars' "uint64" and friends are unknown to JSON Schema validators (ajv-formats knows
    // the OpenAPI ones); the TypeScript SDK warns about each unknown format on every call.
    for tool in tools {
        let schemas = tool["inputSchema"].to_string() + &tool["outputSchema"].to_string();
        for format in schemas.split("\"format\":").skip(1) {
            let name = format.split('"').nth(1).unwrap_or_default();
            assert!(
                ["double", "float", "int32", "int64"].contains(&name),
                "format {name} in {tool}"
            );
        }
    }
    assert_eq!(
        tool(tools, "whoami")["outputSchema"]["properties"]["expires_at"]["type"],
        json!(["integer", "null"])
    );
}

#[tokio::test]
async fn echo_returns_the_message_unchanged() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;

    // Act
    let (status, response) = rig
        .call_tool(&tokens.access, "echo", json!({ "message": "hello" }))
        .await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{response}");
    assert_ne!(response["result"]["isError"], true, "{response}");
    assert_eq!(tool_text(&response), "hello");
}

#[tokio::test]
async fn add_returns_the_sum_as_text_for_integers_fractions_and_negatives() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;

    for (arguments, sum) in [
        (json!({ "a": 2, "b": 3 }), "5"),
        (json!({ "a": 0.5, "b": -2 }), "-1.5"),
    ] {
        // Act
        let (status, response) = rig.call_tool(&tokens.access, "add", arguments).await;

        // Assert
        assert_eq!(status, StatusCode::OK, "{response}");
        assert_eq!(tool_text(&response), sum, "{response}");
    }
}

#[tokio::test]
async fn whoami_reports_the_identity_the_authorization_server_introspects() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;
    let introspection = rig.introspect(&tokens.access).await;
    assert_eq!(introspection["active"], true, "{introspection}");

    // Act
    let (status, response) = rig.call_tool(&tokens.access, "whoami", json!({})).await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{response}");
    let me = &response["result"]["structuredContent"];
    assert_eq!(me["subject"], "demo-user", "{response}");
    assert_eq!(me["client_id"], tokens.client_id.as_str(), "{response}");
    assert_eq!(me["scope"], "mcp:tools", "{response}");
    let audience = me["audience"]
        .as_array()
        .unwrap_or_else(|| panic!("no audience list in {response}"));
    assert!(
        audience.contains(&Value::from(rig.mcp_url())),
        "{} not in {audience:?}",
        rig.mcp_url()
    );
    let expires_at = me["expires_at"].as_u64().expect("expires_at");
    let issued_at = me["issued_at"].as_u64().expect("issued_at");
    assert!(expires_at > issued_at, "{response}");
    assert_eq!(Some(expires_at), introspection["exp"].as_u64());
    assert_eq!(Some(issued_at), introspection["iat"].as_u64());
}

/// rmcp 3.9 follows MCP 2025-11-25 (SEP-1303): arguments that do not fit the input schema are
/// a tool execution error (`result.isError`), which the model can read and correct, not a
/// JSON-RPC protocol error. Either way the client gets HTTP 200 and no sum.
#[tokio::test]
async fn add_with_a_missing_or_non_numeric_argument_is_a_tool_error_naming_the_field_not_a_server_error()
 {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;

    for (arguments, named) in [
        (json!({ "a": 2 }), "`b`"),
        (json!({}), "`a`"),
        (json!({ "a": "2", "b": 3 }), "string"),
        (json!({ "a": 1, "b": null }), "null"),
    ] {
        // Act
        let (status, response) = rig
            .call_tool(&tokens.access, "add", arguments.clone())
            .await;

        // Assert
        assert_eq!(status, StatusCode::OK, "{arguments}: {response}");
        assert_eq!(response["id"], 1, "{response}");
        assert_eq!(
            response["result"]["isError"], true,
            "{arguments}: expected a tool error, got {response}"
        );
        let text = tool_text(&response);
        assert!(
            text.contains("deserialize") && text.contains(named),
            "{arguments}: {text}"
        );
    }
}

#[tokio::test]
async fn add_whose_sum_overflows_is_a_json_rpc_invalid_params_error() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;

    // Act
    let (status, response) = rig
        .call_tool(&tokens.access, "add", json!({ "a": 1e308, "b": 1e308 }))
        .await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{response}");
    assert_eq!(response["error"]["code"], -32602, "{response}");
    assert!(response.get("result").is_none(), "{response}");
}

#[tokio::test]
async fn calling_an_unknown_tool_is_a_json_rpc_error() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;

    // Act
    let (status, response) = rig
        .call_tool(&tokens.access, "rm_rf", json!({ "path": "/" }))
        .await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{response}");
    assert!(response["error"]["code"].is_i64(), "{response}");
    assert!(response.get("result").is_none(), "{response}");
}

#[tokio::test]
async fn a_notification_is_accepted_with_202_and_no_body() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;

    // Act
    let response = rig
        .post_mcp(
            Some(&tokens.access),
            &json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }),
        )
        .await;

    // Assert
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert!(response.text().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_client_error_never_a_server_error() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;

    for body in ["this is not json", "{\"jsonrpc\":\"2.0\",", ""] {
        // Act
        let response = rig
            .post_mcp_raw(&tokens.access, "application/json", body)
            .await;

        // Assert
        let status = response.status();
        assert!(status.is_client_error(), "{body:?} answered {status}");
    }
}

#[tokio::test]
async fn a_two_mebibyte_body_with_a_valid_token_is_refused_with_413() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;
    let padding = "x".repeat(2 * 1024 * 1024);
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": "echo", "arguments": { "message": padding } },
    })
    .to_string();

    // Act
    let response = rig
        .post_mcp_raw(&tokens.access, "application/json", body)
        .await;

    // Assert
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(rig.mcp_state().await["counters"]["tool_calls"], 0);
}

#[tokio::test]
async fn every_tool_call_that_reaches_the_tools_is_counted_even_when_it_fails() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;
    assert_eq!(rig.mcp_state().await["counters"]["tool_calls"], 0);

    // Act
    rig.call_tool(&tokens.access, "echo", json!({ "message": "1" }))
        .await;
    rig.call_tool(&tokens.access, "add", json!({ "a": 1, "b": 1 }))
        .await;
    rig.call_tool(&tokens.access, "whoami", json!({})).await;
    rig.call_tool(&tokens.access, "add", json!({ "a": 1 }))
        .await;
    rig.call_tool(&tokens.access, "nope", json!({})).await;
    // Not tool calls: they must not count.
    rig.initialize(&tokens.access).await;
    rig.rpc(&tokens.access, "tools/list", json!({})).await;

    // Assert
    let state = rig.mcp_state().await;
    assert_eq!(state["counters"]["tool_calls"], 5, "{state}");
    assert_eq!(state["counters"]["requests"], 7, "{state}");
}
