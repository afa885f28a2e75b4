//! Fault rules on the MCP port: every kind of answer on `prm` and on `mcp`, `times`, `match`
//! narrowing, and the `force-403` switch as a preset of the same engine.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

fn echo_call() -> Value {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": "echo", "arguments": { "message": "hi" } },
    })
}

fn metadata_url(rig: &Rig) -> String {
    format!(
        "http://127.0.0.1:{}/.well-known/oauth-protected-resource/mcp",
        rig.mcp_port()
    )
}

/// A request for the path-inserted metadata, closing after the answer.
fn raw_prm_request(rig: &Rig) -> String {
    format!(
        "GET /.well-known/oauth-protected-resource/mcp HTTP/1.1\r\nHost: {}\r\n\
         Connection: close\r\n\r\n",
        rig.mcp.addr()
    )
}

async fn assert_oauth_json(response: reqwest::Response, status: StatusCode, error: &str) {
    assert_eq!(response.status(), status);
    assert_eq!(
        www_authenticate(&response),
        "",
        "only 401 and 403 challenge"
    );
    let body = json_body(response).await;
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].is_string(), "{body}");
}

// prm

#[tokio::test]
async fn a_prm_error_rule_answers_oauth_json_at_both_metadata_paths_with_retry_after_on_503() {
    // Arrange
    let rig = Rig::start().await;
    let rule = rig
        .add_fault(json!({ "endpoint": "prm", "respond": { "status": 503 } }))
        .await;

    // Act
    let inserted = rig
        .get_mcp_path("/.well-known/oauth-protected-resource/mcp")
        .await;
    let root = rig
        .get_mcp_path("/.well-known/oauth-protected-resource")
        .await;

    // Assert
    assert_eq!(rule["endpoint"], "prm", "{rule}");
    for response in [inserted, root] {
        assert_eq!(response.headers()["retry-after"], "1");
        assert_eq!(response.headers()["access-control-allow-origin"], "*");
        let body = json_body(response).await;
        assert_eq!(body["error"], "temporarily_unavailable", "{body}");
        assert_eq!(
            body["error_description"],
            format!("injected by fault rule {}", rule["id"])
        );
    }
    let state = rig.mcp_state().await;
    assert_eq!(state["counters"]["faults_fired"], 2, "{state}");
}

#[tokio::test]
async fn a_prm_rule_with_a_custom_error_answers_that_status_and_code() {
    // Arrange
    let rig = Rig::start().await;
    rig.add_fault(json!({
        "endpoint": "prm",
        "respond": { "status": 404, "error": "not_found", "error_description": "no metadata here" },
    }))
    .await;

    // Act
    let response = rig
        .get_mcp_path("/.well-known/oauth-protected-resource/mcp")
        .await;

    // Assert
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body = json_body(response).await;
    assert_eq!(
        body,
        json!({ "error": "not_found", "error_description": "no metadata here" })
    );
}

#[tokio::test]
async fn a_prm_rate_limit_answers_429_with_retry_after() {
    // Arrange
    let rig = Rig::start().await;
    rig.add_fault(json!({ "endpoint": "prm", "respond": { "status": 429, "retry_after": 7 } }))
        .await;

    // Act
    let response = rig
        .get_mcp_path("/.well-known/oauth-protected-resource/mcp")
        .await;

    // Assert
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "7");
    let body = json_body(response).await;
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
}

#[tokio::test]
async fn a_prm_delay_answers_the_real_metadata_late() {
    // Arrange
    let rig = Rig::start().await;
    rig.add_fault(json!({ "endpoint": "prm", "respond": { "delay_ms": 300 } }))
        .await;

    // Act
    let started = Instant::now();
    let response = rig
        .get_mcp_path("/.well-known/oauth-protected-resource/mcp")
        .await;
    let elapsed = started.elapsed();

    // Assert
    assert!(elapsed >= Duration::from_millis(300), "took {elapsed:?}");
    assert_eq!(response.status(), StatusCode::OK);
    let document = json_body(response).await;
    assert_eq!(document["resource"], rig.mcp_url(), "{document}");
}

#[tokio::test]
async fn a_prm_malformed_rule_answers_200_json_that_does_not_parse() {
    // Arrange
    let rig = Rig::start().await;
    rig.add_fault(json!({ "endpoint": "prm", "respond": { "malformed": true } }))
        .await;

    // Act
    let response = rig
        .get_mcp_path("/.well-known/oauth-protected-resource/mcp")
        .await;

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let text = response.text().await.unwrap();
    assert!(
        serde_json::from_str::<Value>(&text).is_err(),
        "parsed: {text}"
    );
}

#[tokio::test]
async fn a_prm_drop_closes_the_connection_without_an_answer() {
    // Arrange
    let rig = Rig::start().await;
    rig.add_fault(json!({ "endpoint": "prm", "respond": { "drop": true }, "times": 1 }))
        .await;

    // Act
    let dropped = raw_exchange(rig.mcp.addr(), &raw_prm_request(&rig)).await;
    let next = raw_exchange(rig.mcp.addr(), &raw_prm_request(&rig)).await;

    // Assert
    assert!(
        dropped.is_empty(),
        "answered: {}",
        String::from_utf8_lossy(&dropped)
    );
    assert!(
        next.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&next)
    );
}

#[tokio::test]
async fn a_rule_with_times_fires_that_many_times_then_disappears() {
    // Arrange
    let rig = Rig::start().await;
    let rule = rig
        .add_fault(json!({ "endpoint": "prm", "respond": { "status": 503 }, "times": 2 }))
        .await;
    assert_eq!(
        rule,
        json!({ "id": rule["id"], "endpoint": "prm", "respond": { "status": 503, "error": "temporarily_unavailable" },
                "times": 2, "remaining": 2, "fired": 0 })
    );

    // Act
    let first = rig
        .get_mcp_path("/.well-known/oauth-protected-resource/mcp")
        .await
        .status();
    let listed = rig.faults().await;
    let second = rig
        .get_mcp_path("/.well-known/oauth-protected-resource/mcp")
        .await
        .status();
    let third = rig
        .get_mcp_path("/.well-known/oauth-protected-resource/mcp")
        .await
        .status();

    // Assert
    assert_eq!(first, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["remaining"], 1, "{listed:?}");
    assert_eq!(listed[0]["fired"], 1, "{listed:?}");
    assert_eq!(second, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(third, StatusCode::OK);
    assert!(rig.faults().await.is_empty());
    assert_eq!(rig.mcp_state().await["counters"]["faults_fired"], 2);
}

// mcp

#[tokio::test]
async fn an_mcp_401_rule_answers_the_invalid_token_challenge_of_a_real_refusal() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;
    let rule = rig
        .add_fault(json!({
            "endpoint": "mcp",
            "respond": { "status": 401, "error": "invalid_token" },
            "times": 1,
        }))
        .await;

    // Act
    let refused = rig.post_mcp(Some(&tokens.access), &echo_call()).await;
    let (after, _) = rig
        .call_tool(&tokens.access, "echo", json!({ "message": "x" }))
        .await;

    // Assert
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        www_authenticate(&refused),
        format!(
            r#"Bearer error="invalid_token", error_description="injected by fault rule {}", resource_metadata="{}", scope="mcp:tools""#,
            rule["id"],
            metadata_url(&rig)
        )
    );
    let body = json_body(refused).await;
    assert_eq!(body["error"], "invalid_token", "{body}");
    assert_eq!(after, StatusCode::OK);
    let state = rig.mcp_state().await;
    assert_eq!(state["counters"]["unauthorized"], 1, "{state}");
    assert_eq!(state["counters"]["faults_fired"], 1, "{state}");
    assert_eq!(state["counters"]["tool_calls"], 1, "{state}");
}

#[tokio::test]
async fn an_mcp_403_rule_answers_insufficient_scope_naming_the_granted_and_required_scopes() {
    // Arrange
    let scopes = vec!["mcp:tools".to_owned(), "profile".to_owned()];
    let rig = Rig::start_with(
        oauth_server::Config {
            scopes: scopes.clone(),
            ..oauth_server::Config::default()
        },
        mcp_server::Config {
            scopes,
            ..mcp_server::Config::default()
        },
    )
    .await;
    let tokens = rig
        .token_with(Some(&rig.mcp_url()), Some("profile mcp:tools"))
        .await;
    rig.add_fault(json!({
        "endpoint": "mcp",
        "respond": { "status": 403, "error": "insufficient_scope", "error_description": "step up" },
    }))
    .await;

    // Act
    let response = rig.post_mcp(Some(&tokens.access), &echo_call()).await;

    // Assert
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        www_authenticate(&response),
        format!(
            r#"Bearer error="insufficient_scope", scope="mcp:tools profile", resource_metadata="{}", error_description="step up""#,
            metadata_url(&rig)
        )
    );
    assert_eq!(rig.mcp_state().await["counters"]["forbidden"], 1);
}

#[tokio::test]
async fn an_mcp_503_rule_answers_oauth_json_with_retry_after_and_no_challenge() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;
    rig.add_fault(json!({ "endpoint": "mcp", "respond": { "status": 503 } }))
        .await;

    // Act
    let response = rig.post_mcp(Some(&tokens.access), &echo_call()).await;

    // Assert
    assert_eq!(response.headers()["retry-after"], "1");
    assert_oauth_json(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
    )
    .await;
    let state = rig.mcp_state().await;
    assert_eq!(state["counters"]["tool_calls"], 0, "{state}");
}

#[tokio::test]
async fn an_mcp_rate_limit_answers_429_with_retry_after() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;
    rig.add_fault(json!({ "endpoint": "mcp", "respond": { "status": 429, "retry_after": 2 } }))
        .await;

    // Act
    let response = rig.post_mcp(Some(&tokens.access), &echo_call()).await;

    // Assert
    assert_eq!(response.headers()["retry-after"], "2");
    assert_oauth_json(
        response,
        StatusCode::TOO_MANY_REQUESTS,
        "temporarily_unavailable",
    )
    .await;
}

#[tokio::test]
async fn an_mcp_delay_answers_the_tool_call_late() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;
    rig.add_fault(json!({ "endpoint": "mcp", "respond": { "delay_ms": 300 } }))
        .await;

    // Act
    let started = Instant::now();
    let (status, response) = rig
        .call_tool(&tokens.access, "echo", json!({ "message": "late" }))
        .await;
    let elapsed = started.elapsed();

    // Assert
    assert!(elapsed >= Duration::from_millis(300), "took {elapsed:?}");
    assert_eq!(status, StatusCode::OK, "{response}");
    assert_eq!(tool_text(&response), "late");
}

#[tokio::test]
async fn an_mcp_malformed_rule_answers_200_json_that_does_not_parse() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;
    rig.add_fault(json!({ "endpoint": "mcp", "respond": { "malformed": true } }))
        .await;

    // Act
    let response = rig.post_mcp(Some(&tokens.access), &echo_call()).await;

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let text = response.text().await.unwrap();
    assert!(
        serde_json::from_str::<Value>(&text).is_err(),
        "parsed: {text}"
    );
}

#[tokio::test]
async fn an_mcp_drop_closes_the_connection_without_an_answer() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;
    rig.add_fault(json!({ "endpoint": "mcp", "respond": { "drop": true }, "times": 1 }))
        .await;

    // Act
    let dropped = raw_exchange(
        rig.mcp.addr(),
        &raw_tool_call(rig.mcp.addr(), &tokens.access),
    )
    .await;
    let next = raw_exchange(
        rig.mcp.addr(),
        &raw_tool_call(rig.mcp.addr(), &tokens.access),
    )
    .await;

    // Assert
    assert!(
        dropped.is_empty(),
        "answered: {}",
        String::from_utf8_lossy(&dropped)
    );
    assert!(
        next.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&next)
    );
}

#[tokio::test]
async fn mcp_rules_never_fire_for_a_request_without_a_valid_token() {
    // Arrange
    let rig = Rig::start().await;
    rig.add_fault(json!({ "endpoint": "mcp", "respond": { "status": 503 } }))
        .await;

    // Act
    let anonymous = rig.post_mcp(None, &echo_call()).await;
    let unknown = rig.post_mcp(Some("not-a-token"), &echo_call()).await;

    // Assert
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(!www_authenticate(&anonymous).contains("error="));
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert!(www_authenticate(&unknown).starts_with(r#"Bearer error="invalid_token""#));
    assert_eq!(rig.faults().await[0]["fired"], 0);
}

#[tokio::test]
async fn a_rule_matching_a_method_leaves_other_methods_alone() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;
    rig.add_fault(json!({
        "endpoint": "mcp", "match": { "method": "tools/list" }, "respond": { "status": 503 },
    }))
    .await;

    // Act
    let (listed, _) = rig.rpc(&tokens.access, "tools/list", json!({})).await;
    let (initialized, _) = rig.initialize(&tokens.access).await;
    let (called, _) = rig
        .call_tool(&tokens.access, "echo", json!({ "message": "x" }))
        .await;

    // Assert
    assert_eq!(listed, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(initialized, StatusCode::OK);
    assert_eq!(called, StatusCode::OK);
}

#[tokio::test]
async fn a_rule_matching_a_tool_leaves_other_tools_alone() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;
    rig.add_fault(json!({
        "endpoint": "mcp", "match": { "method": "tools/call", "tool": "add" },
        "respond": { "status": 500, "error": "server_error" },
    }))
    .await;

    // Act
    let (added, body) = rig
        .call_tool(&tokens.access, "add", json!({ "a": 1, "b": 2 }))
        .await;
    let (echoed, response) = rig
        .call_tool(&tokens.access, "echo", json!({ "message": "x" }))
        .await;

    // Assert
    assert_eq!(added, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["error"], "server_error", "{body}");
    assert_eq!(echoed, StatusCode::OK);
    assert_eq!(tool_text(&response), "x");
}

#[tokio::test]
async fn a_rule_matching_a_client_id_leaves_other_clients_alone() {
    // Arrange
    let rig = Rig::start().await;
    let targeted = rig.token().await;
    let other = rig.token().await;
    assert_ne!(targeted.client_id, other.client_id);
    rig.add_fault(json!({
        "endpoint": "mcp", "match": { "client_id": targeted.client_id },
        "respond": { "status": 503 },
    }))
    .await;

    // Act
    let (refused, _) = rig
        .call_tool(&targeted.access, "echo", json!({ "message": "x" }))
        .await;
    let (served, _) = rig
        .call_tool(&other.access, "echo", json!({ "message": "x" }))
        .await;

    // Assert
    assert_eq!(refused, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(served, StatusCode::OK);
}

#[tokio::test]
async fn rules_the_mcp_server_cannot_apply_are_refused_with_400() {
    // Arrange
    let rig = Rig::start().await;

    for (rule, expected) in [
        (
            json!({ "endpoint": "token", "respond": { "status": 503 } }),
            "unknown endpoint",
        ),
        (
            json!({ "endpoint": "prm", "match": { "tool": "add" }, "respond": { "status": 503 } }),
            "match.tool does not apply",
        ),
        (
            json!({ "endpoint": "mcp", "match": { "grant_type": "refresh_token" }, "respond": { "status": 503 } }),
            "match.grant_type does not apply",
        ),
        (
            json!({ "endpoint": "mcp", "respond": { "status": 403 } }),
            "error is required",
        ),
    ] {
        // Act
        let (status, answer) = rig.mcp_control("/control/faults", rule.clone()).await;

        // Assert
        assert_eq!(status, StatusCode::BAD_REQUEST, "{rule}: {answer}");
        let message = answer["error"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{rule}: {answer}");
    }
    assert!(rig.faults().await.is_empty());
}

#[tokio::test]
async fn rules_are_deleted_one_by_one_or_all_at_once_and_by_reset() {
    // Arrange
    let rig = Rig::start().await;
    let first = rig
        .add_fault(json!({ "endpoint": "prm", "respond": { "status": 503 } }))
        .await;
    rig.add_fault(json!({ "endpoint": "mcp", "respond": { "malformed": true } }))
        .await;

    // Act
    let (deleted, remaining) = rig
        .mcp_delete(&format!("/control/faults/{}", first["id"]))
        .await;
    let (unknown, _) = rig.mcp_delete("/control/faults/999").await;
    let (cleared, none) = rig.mcp_delete("/control/faults").await;
    rig.add_fault(json!({ "endpoint": "prm", "respond": { "drop": true } }))
        .await;
    rig.mcp_control("/control/reset", json!({})).await;

    // Assert
    assert_eq!(deleted, StatusCode::OK);
    assert_eq!(remaining["faults"].as_array().map(Vec::len), Some(1));
    assert_eq!(remaining["faults"][0]["endpoint"], "mcp", "{remaining}");
    assert_eq!(unknown, StatusCode::NOT_FOUND);
    assert_eq!(cleared, StatusCode::OK);
    assert_eq!(none, json!({ "faults": [] }));
    assert!(rig.faults().await.is_empty(), "reset clears the rules");
}

// force-403, a preset

#[tokio::test]
async fn force_403_is_a_preset_rule_listed_with_the_other_faults() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;

    // Act
    let (status, state) = rig
        .mcp_control("/control/force-403", json!({ "on": true }))
        .await;
    rig.mcp_control("/control/force-403", json!({ "on": true }))
        .await;
    let listed = rig.faults().await;
    let (forced, _) = rig.call_tool(&tokens.access, "whoami", json!({})).await;

    // Assert
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["toggles"]["force_403"], true, "{state}");
    assert_eq!(
        listed.len(),
        1,
        "switching on twice keeps one rule: {listed:?}"
    );
    let rule = &listed[0];
    assert_eq!(rule["preset"], "force-403", "{rule}");
    assert_eq!(rule["endpoint"], "mcp", "{rule}");
    assert_eq!(rule["match"], json!({ "method": "tools/call" }), "{rule}");
    assert_eq!(
        rule["respond"],
        json!({ "status": 403, "error": "insufficient_scope",
                "error_description": "forced by the control plane (force-403)" })
    );
    assert_eq!(rule["times"], Value::Null, "{rule}");
    assert_eq!(forced, StatusCode::FORBIDDEN);
    let state = rig.mcp_state().await;
    assert_eq!(state["counters"]["faults_fired"], 1, "{state}");
    let events = rig.events("").await;
    let call = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|event| event["path"] == "/mcp")
        .cloned()
        .unwrap_or_else(|| panic!("no /mcp event in {events}"));
    assert_eq!(call["note"], "forced", "{call}");
    assert_eq!(call["fault"], rule["id"], "{call}");
    assert_eq!(call["error"], "insufficient_scope", "{call}");
}

#[tokio::test]
async fn deleting_the_force_403_rule_turns_the_switch_off() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;
    rig.mcp_control("/control/force-403", json!({ "on": true }))
        .await;
    let id = rig.faults().await[0]["id"].clone();

    // Act
    let (deleted, _) = rig.mcp_delete(&format!("/control/faults/{id}")).await;
    let (called, _) = rig
        .call_tool(&tokens.access, "echo", json!({ "message": "x" }))
        .await;

    // Assert
    assert_eq!(deleted, StatusCode::OK);
    assert_eq!(rig.mcp_state().await["toggles"]["force_403"], false);
    assert_eq!(called, StatusCode::OK);
}

#[tokio::test]
async fn an_older_rule_fires_before_the_force_403_preset() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;
    rig.add_fault(json!({
        "endpoint": "mcp", "match": { "tool": "echo" }, "respond": { "status": 503 }, "times": 1,
    }))
    .await;
    rig.mcp_control("/control/force-403", json!({ "on": true }))
        .await;

    // Act
    let (first, _) = rig
        .call_tool(&tokens.access, "echo", json!({ "message": "x" }))
        .await;
    let (second, _) = rig
        .call_tool(&tokens.access, "echo", json!({ "message": "x" }))
        .await;

    // Assert
    assert_eq!(first, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(second, StatusCode::FORBIDDEN);
}
