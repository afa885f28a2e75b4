//! When the authorization server cannot check a token — down, broken, or silent — the MCP
//! server answers 503 quickly, without a challenge (the token may be fine), and recovers on its
//! own once the authorization server is back.

use std::time::{Duration, Instant};

use mcp_server::McpServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

/// Far above a refused loopback connection or a 300 ms timeout, far below "hangs".
const PROMPTLY: Duration = Duration::from_secs(2);

fn tool_call(message: &str) -> Value {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": "echo", "arguments": { "message": message } },
    })
}

/// POSTs a tool call with `token` to a bare MCP server, as a client would.
async fn call_mcp(server: &McpServer, token: &str) -> reqwest::Response {
    client()
        .post(format!("http://{}/mcp", server.addr()))
        .header("accept", ACCEPT)
        .header("mcp-protocol-version", PROTOCOL_VERSION)
        .bearer_auth(token)
        .json(&tool_call("hi"))
        .send()
        .await
        .unwrap()
}

/// Asserts the answer a client gets when its token could not be checked.
async fn assert_unavailable(response: reqwest::Response) {
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        response.headers().contains_key("retry-after"),
        "no Retry-After in {:?}",
        response.headers()
    );
    assert_eq!(www_authenticate(&response), "", "a 503 must not challenge");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
}

async fn get_prm(server: &McpServer) -> (StatusCode, Value) {
    let response = client()
        .get(format!(
            "http://{}/.well-known/oauth-protected-resource/mcp",
            server.addr()
        ))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_stopped_authorization_server_makes_tool_calls_answer_503_promptly_without_a_challenge() {
    // Arrange
    let mut rig = Rig::start().await;
    let tokens = rig.token().await;
    let (before, _) = rig
        .call_tool(&tokens.access, "echo", json!({ "message": "up" }))
        .await;
    assert_eq!(before, StatusCode::OK);
    rig.stop_auth().await;

    // Act
    let started = Instant::now();
    let response = rig.post_mcp(Some(&tokens.access), &tool_call("down")).await;
    let elapsed = started.elapsed();

    // Assert
    assert!(elapsed < PROMPTLY, "took {elapsed:?}");
    assert_eq!(response.headers()["retry-after"], "1");
    assert_unavailable(response).await;
    let state = rig.mcp_state().await;
    assert_eq!(state["counters"]["introspection_failures"], 1, "{state}");
    assert_eq!(state["counters"]["unavailable"], 1, "{state}");
    assert_eq!(state["counters"]["unauthorized"], 0, "{state}");
    assert_eq!(state["counters"]["tool_calls"], 1, "{state}");
}

#[tokio::test]
async fn the_mcp_server_recovers_without_a_restart_once_the_authorization_server_is_back() {
    // Arrange
    let mut rig = Rig::start().await;
    let old = rig.token().await;
    let addr = rig.stop_auth().await;
    let (down, _) = rig
        .call_tool(&old.access, "echo", json!({ "message": "down" }))
        .await;
    assert_eq!(down, StatusCode::SERVICE_UNAVAILABLE);

    // Act
    rig.restart_auth_on(addr).await;
    let fresh = rig.token().await;
    let (status, response) = rig
        .call_tool(&fresh.access, "echo", json!({ "message": "back" }))
        .await;
    // The restarted server forgot every token: the old one is now simply invalid.
    let stale = rig.post_mcp(Some(&old.access), &tool_call("stale")).await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{response}");
    assert_eq!(tool_text(&response), "back");
    assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);
    assert!(
        www_authenticate(&stale).starts_with(r#"Bearer error="invalid_token""#),
        "{}",
        www_authenticate(&stale)
    );
    let state = rig.mcp_state().await;
    assert_eq!(state["counters"]["introspection_failures"], 1, "{state}");
}

#[tokio::test]
async fn an_outage_answers_503_for_every_kind_of_mcp_request_not_only_tool_calls() {
    // Arrange
    let mut rig = Rig::start().await;
    let tokens = rig.token().await;
    rig.stop_auth().await;

    // Act
    let (initialize, _) = rig.initialize(&tokens.access).await;
    let (list, _) = rig.rpc(&tokens.access, "tools/list", json!({})).await;
    let no_token = rig.post_mcp(None, &tool_call("anonymous")).await;

    // Assert
    assert_eq!(initialize, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(list, StatusCode::SERVICE_UNAVAILABLE);
    // Without a token there is nothing to check: the client still gets its bootstrap 401.
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);
    assert!(www_authenticate(&no_token).contains("resource_metadata="));
    let state = rig.mcp_state().await;
    assert_eq!(state["counters"]["introspection_failures"], 2, "{state}");
}

#[tokio::test]
async fn an_authorization_server_answering_html_or_500_or_nothing_gives_503_not_500() {
    for answer in [
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 26\r\nConnection: close\r\n\r\n<html><h1>oops</h1></html>",
        "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 4\r\nConnection: close\r\n\r\nboom",
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"ok\":true}",
        // Accepts, reads the request, and hangs up without a word.
        "",
    ] {
        // Arrange
        let broken = FakeIntrospection::answering(answer).await;
        let server = mcp_server_introspecting_at(&broken.url, Duration::from_secs(2)).await;

        // Act
        let started = Instant::now();
        let response = call_mcp(&server, "any-token").await;
        let elapsed = started.elapsed();

        // Assert
        let first_line = answer.lines().next().unwrap_or("(nothing)");
        assert!(elapsed < PROMPTLY, "{first_line}: took {elapsed:?}");
        assert_eq!(
            response.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{first_line}"
        );
        assert_unavailable(response).await;
        let (prm, document) = get_prm(&server).await;
        assert_eq!(prm, StatusCode::OK, "{first_line}: {document}");
        assert_eq!(
            document["authorization_servers"],
            json!(["http://localhost:1"])
        );
        server.stop().await.unwrap();
        drop(broken);
    }
}

#[tokio::test]
async fn an_authorization_server_that_never_answers_gives_503_after_the_introspection_timeout() {
    // Arrange
    let silent = FakeIntrospection::silent().await;
    let server = mcp_server_introspecting_at(&silent.url, Duration::from_millis(300)).await;

    // Act
    let started = Instant::now();
    let response = call_mcp(&server, "any-token").await;
    let elapsed = started.elapsed();

    // Assert
    assert!(elapsed < PROMPTLY, "took {elapsed:?}");
    assert!(
        elapsed >= Duration::from_millis(250),
        "answered in {elapsed:?}, before the 300 ms timeout could have run out"
    );
    assert_unavailable(response).await;
    let (prm, _) = get_prm(&server).await;
    assert_eq!(prm, StatusCode::OK);
    // A second request is not stuck behind the first.
    let started = Instant::now();
    let again = call_mcp(&server, "any-token").await;
    assert!(started.elapsed() < PROMPTLY);
    assert_eq!(again.status(), StatusCode::SERVICE_UNAVAILABLE);
    server.stop().await.unwrap();
    drop(silent);
}
