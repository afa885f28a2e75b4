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

// The 401 mode: some resource servers answer an unverifiable token as invalid, and a client
// must cope with that too.

/// Asserts the answer a client gets in the 401 mode when its token could not be checked.
async fn assert_invalid_token_challenge(response: reqwest::Response) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = www_authenticate(&response);
    assert!(
        challenge.starts_with(
            r#"Bearer error="invalid_token", error_description="the authorization server could not check the access token", resource_metadata=""#
        ),
        "{challenge}"
    );
    assert!(challenge.ends_with(r#"scope="mcp:tools""#), "{challenge}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token", "{body}");
}

/// Switches a bare MCP server's introspection-failure answer.
async fn set_failure_mode(server: &McpServer, mode: &str) -> (StatusCode, Value) {
    let response = client()
        .post(format!(
            "http://{}/control/introspection-failure",
            server.addr()
        ))
        .json(&json!({ "mode": mode }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn in_401_mode_a_stopped_authorization_server_gets_an_invalid_token_challenge() {
    // Arrange
    let mut rig = Rig::start().await;
    let tokens = rig.token().await;
    assert_eq!(rig.mcp_state().await["introspection_failure"], "503");
    let (status, state) = rig
        .mcp_control("/control/introspection-failure", json!({ "mode": "401" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{state}");
    assert_eq!(state["introspection_failure"], "401", "{state}");
    rig.stop_auth().await;

    // Act
    let response = rig.post_mcp(Some(&tokens.access), &tool_call("down")).await;

    // Assert
    assert_invalid_token_challenge(response).await;
    let state = rig.mcp_state().await;
    assert_eq!(state["counters"]["introspection_failures"], 1, "{state}");
    assert_eq!(state["counters"]["unauthorized"], 1, "{state}");
    assert_eq!(state["counters"]["unavailable"], 0, "{state}");
    let events = rig.events("").await;
    let call = &events["events"][1];
    assert_eq!(call["error"], "invalid_token", "{events}");
    assert_eq!(call["note"], "unreachable", "{events}");
}

#[tokio::test]
async fn in_401_mode_garbage_a_500_a_hang_up_and_a_timeout_all_get_the_invalid_token_challenge() {
    for (answer, timeout) in [
        (
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 26\r\nConnection: close\r\n\r\n<html><h1>oops</h1></html>",
            Duration::from_secs(2),
        ),
        (
            "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 4\r\nConnection: close\r\n\r\nboom",
            Duration::from_secs(2),
        ),
        ("", Duration::from_secs(2)),
    ] {
        // Arrange
        let broken = FakeIntrospection::answering(answer).await;
        let server = mcp_server_introspecting_at(&broken.url, timeout).await;
        let (status, _) = set_failure_mode(&server, "401").await;
        assert_eq!(status, StatusCode::OK);

        // Act
        let response = call_mcp(&server, "any-token").await;

        // Assert
        assert_invalid_token_challenge(response).await;
        server.stop().await.unwrap();
        drop(broken);
    }
    let silent = FakeIntrospection::silent().await;
    let server = mcp_server_introspecting_at(&silent.url, Duration::from_millis(200)).await;
    set_failure_mode(&server, "401").await;
    assert_invalid_token_challenge(call_mcp(&server, "any-token").await).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn back_in_503_mode_and_after_a_reset_an_outage_answers_503_again() {
    // Arrange
    let mut rig = Rig::start().await;
    let tokens = rig.token().await;
    rig.mcp_control("/control/introspection-failure", json!({ "mode": "401" }))
        .await;
    rig.stop_auth().await;
    let in_401_mode = rig.post_mcp(Some(&tokens.access), &tool_call("a")).await;

    // Act
    let (_, state) = rig
        .mcp_control("/control/introspection-failure", json!({ "mode": "503" }))
        .await;
    let in_503_mode = rig.post_mcp(Some(&tokens.access), &tool_call("b")).await;
    rig.mcp_control("/control/introspection-failure", json!({ "mode": "401" }))
        .await;
    let (_, reset) = rig.mcp_control("/control/reset", json!({})).await;
    let after_reset = rig.post_mcp(Some(&tokens.access), &tool_call("c")).await;

    // Assert
    assert_eq!(in_401_mode.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(state["introspection_failure"], "503", "{state}");
    assert_unavailable(in_503_mode).await;
    assert_eq!(reset["introspection_failure"], "503", "{reset}");
    assert_unavailable(after_reset).await;
}

#[tokio::test]
async fn introspection_failure_refuses_unknown_modes_with_400() {
    // Arrange
    let rig = Rig::start().await;

    for body in [
        json!({ "mode": "500" }),
        json!({ "mode": 401 }),
        json!({}),
        json!({ "mode": "401", "for": "ever" }),
    ] {
        // Act
        let (status, answer) = rig
            .mcp_control("/control/introspection-failure", body.clone())
            .await;

        // Assert
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
    }
    assert_eq!(rig.mcp_state().await["introspection_failure"], "503");
}

#[tokio::test]
async fn an_introspect_fault_on_the_authorization_server_is_answered_per_the_failure_mode() {
    // Arrange
    let rig = Rig::start_with(
        oauth_server::Config::default(),
        mcp_server::Config {
            // Long enough for a loaded machine, short enough for the delayed answer to miss it.
            introspection_timeout: Duration::from_millis(800),
            ..mcp_server::Config::default()
        },
    )
    .await;
    let tokens = rig.token().await;
    let kinds = [
        (json!({ "status": 503 }), "status"),
        (
            json!({ "status": 401, "error": "invalid_client" }),
            "status",
        ),
        (json!({ "malformed": true }), "garbage"),
        (json!({ "drop": true }), "transport"),
        (json!({ "delay_ms": 1500 }), "timeout"),
    ];

    for mode in ["503", "401"] {
        rig.mcp_control("/control/introspection-failure", json!({ "mode": mode }))
            .await;
        for (respond, kind) in &kinds {
            let (status, rule) = rig
                .auth_control(
                    "/control/faults",
                    json!({ "endpoint": "introspect", "respond": respond, "times": 1 }),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{rule}");

            // Act
            let response = rig.post_mcp(Some(&tokens.access), &tool_call(kind)).await;

            // Assert
            if mode == "503" {
                assert_unavailable(response).await;
            } else {
                assert_invalid_token_challenge(response).await;
            }
            let page = rig.events("").await;
            let last = page["events"].as_array().unwrap().last().unwrap().clone();
            assert_eq!(last["note"], *kind, "{respond}: {last}");
        }
    }
    let (status, _) = rig
        .call_tool(&tokens.access, "echo", json!({ "message": "back" }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let state = rig.mcp_state().await;
    assert_eq!(state["counters"]["introspection_failures"], 10, "{state}");
    assert_eq!(state["counters"]["unavailable"], 5, "{state}");
    assert_eq!(state["counters"]["unauthorized"], 5, "{state}");
}
