//! `/control` on the MCP port: the index, the force-403 switch and what it does to `/mcp`,
//! reset, argument checking, routing, and the guard (no browsers; a token when configured).
//! Fault rules, the journal, per-tool scopes and the introspection-failure mode have their own
//! files (faults.rs, journal.rs, step_up.rs, outage.rs).

use reqwest::StatusCode;
use serde_json::{Value, json};
use sim_http::control::ControlGuard;

use crate::support::*;

/// POSTs a raw body to a control path of the MCP server.
async fn post_control_raw(rig: &Rig, path: &str, body: &'static str) -> (StatusCode, Value) {
    let response = rig
        .http
        .post(rig.mcp_path(path))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn get_control_lists_every_call_of_the_plane() {
    // Arrange
    let rig = Rig::start().await;

    // Act
    let response = rig.http.get(rig.mcp_path("/control")).send().await.unwrap();

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    let index: Value = response.json().await.unwrap();
    assert_eq!(index["service"], "mcp", "{index}");
    let endpoints: Vec<(&str, &str)> = index["endpoints"]
        .as_array()
        .unwrap_or_else(|| panic!("no endpoints in {index}"))
        .iter()
        .map(|entry| {
            (
                entry["method"].as_str().unwrap(),
                entry["path"].as_str().unwrap(),
            )
        })
        .collect();
    for expected in [
        ("POST", "/control/force-403"),
        ("POST", "/control/reset"),
        ("GET", "/control/state"),
        ("GET", "/control/faults"),
        ("POST", "/control/faults"),
        ("DELETE", "/control/faults"),
        ("DELETE", "/control/faults/{id}"),
        ("GET", "/control/events"),
        ("GET", "/control/events/stream"),
        ("POST", "/control/introspection-failure"),
        ("POST", "/control/tool-scopes"),
    ] {
        assert!(endpoints.contains(&expected), "{expected:?} not in {index}");
    }
}

#[tokio::test]
async fn force_403_on_answers_the_state_with_the_toggle_set() {
    // Arrange
    let rig = Rig::start().await;
    assert_eq!(rig.mcp_state().await["toggles"]["force_403"], false);

    // Act
    let (status, state) = rig
        .mcp_control("/control/force-403", json!({ "on": true }))
        .await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{state}");
    assert_eq!(state["service"], "mcp", "{state}");
    assert_eq!(state["toggles"]["force_403"], true, "{state}");
    assert_eq!(rig.mcp_state().await["toggles"]["force_403"], true);
}

#[tokio::test]
async fn forced_403_answers_tool_calls_with_insufficient_scope_challenge() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;
    rig.mcp_control("/control/force-403", json!({ "on": true }))
        .await;
    let message = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": "echo", "arguments": { "message": "hi" } },
    });

    // Act
    let response = rig.post_mcp(Some(&tokens.access), &message).await;

    // Assert
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let expected = format!(
        r#"Bearer error="insufficient_scope", scope="mcp:tools", resource_metadata="http://127.0.0.1:{}/.well-known/oauth-protected-resource/mcp""#,
        rig.mcp.addr().port()
    );
    let challenge = www_authenticate(&response);
    assert!(challenge.starts_with(&expected), "{challenge}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "insufficient_scope", "{body}");
    let state = rig.mcp_state().await;
    assert_eq!(state["counters"]["forbidden"], 1, "{state}");
    assert_eq!(state["counters"]["tool_calls"], 0, "{state}");
}

#[tokio::test]
async fn forced_403_leaves_initialize_and_tools_list_answering_200() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;
    rig.mcp_control("/control/force-403", json!({ "on": true }))
        .await;

    // Act
    let (initialize, initialized) = rig.initialize(&tokens.access).await;
    let (list, listed) = rig.rpc(&tokens.access, "tools/list", json!({})).await;

    // Assert
    assert_eq!(initialize, StatusCode::OK, "{initialized}");
    assert_eq!(initialized["result"]["serverInfo"]["name"], "mcp-oauth-sim");
    assert_eq!(list, StatusCode::OK, "{listed}");
    assert_eq!(listed["result"]["tools"].as_array().map(Vec::len), Some(3));
    assert_eq!(rig.mcp_state().await["counters"]["forbidden"], 0);
}

#[tokio::test]
async fn each_forced_403_increments_the_forbidden_counter() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;
    rig.mcp_control("/control/force-403", json!({ "on": true }))
        .await;

    // Act
    for _ in 0..3 {
        let (status, _) = rig.call_tool(&tokens.access, "whoami", json!({})).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }

    // Assert
    let state = rig.mcp_state().await;
    assert_eq!(state["counters"]["forbidden"], 3, "{state}");
    assert_eq!(state["counters"]["tool_calls"], 0, "{state}");
}

#[tokio::test]
async fn force_403_off_lets_tool_calls_through_again() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;
    rig.mcp_control("/control/force-403", json!({ "on": true }))
        .await;
    let (forced, _) = rig
        .call_tool(&tokens.access, "echo", json!({ "message": "x" }))
        .await;
    assert_eq!(forced, StatusCode::FORBIDDEN);

    // Act
    let (status, state) = rig
        .mcp_control("/control/force-403", json!({ "on": false }))
        .await;
    let (called, response) = rig
        .call_tool(&tokens.access, "echo", json!({ "message": "back" }))
        .await;

    // Assert
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["toggles"]["force_403"], false, "{state}");
    assert_eq!(called, StatusCode::OK, "{response}");
    assert_eq!(tool_text(&response), "back");
}

#[tokio::test]
async fn reset_turns_force_403_off_and_every_counter_back_to_zero() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;
    rig.call_tool(&tokens.access, "echo", json!({ "message": "x" }))
        .await;
    rig.post_mcp(
        None,
        &json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" }),
    )
    .await;
    rig.mcp_control("/control/force-403", json!({ "on": true }))
        .await;
    rig.call_tool(&tokens.access, "echo", json!({ "message": "x" }))
        .await;
    let before = rig.mcp_state().await;
    for counter in ["requests", "tool_calls", "forbidden", "unauthorized"] {
        assert_ne!(before["counters"][counter], 0, "{counter}: {before}");
    }

    // Act
    let (status, answered) = rig.mcp_control("/control/reset", json!({})).await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{answered}");
    for state in [answered, rig.mcp_state().await] {
        assert_eq!(state["toggles"]["force_403"], false, "{state}");
        let counters = state["counters"]
            .as_object()
            .unwrap_or_else(|| panic!("no counters in {state}"));
        assert!(counters.len() >= 8, "{state}");
        for (name, value) in counters {
            assert_eq!(value, 0, "{name}: {state}");
        }
    }
    let (called, _) = rig
        .call_tool(&tokens.access, "echo", json!({ "message": "x" }))
        .await;
    assert_eq!(called, StatusCode::OK);
}

#[tokio::test]
async fn reset_accepts_an_empty_body_but_refuses_arguments_with_400() {
    // Arrange
    let rig = Rig::start().await;

    // Act
    let (empty, _) = post_control_raw(&rig, "/control/reset", "").await;
    let (with_arguments, body) = rig
        .mcp_control("/control/reset", json!({ "counters": true }))
        .await;

    // Assert
    assert_eq!(empty, StatusCode::OK);
    assert_eq!(with_arguments, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"].is_string(), "{body}");
}

#[tokio::test]
async fn force_403_refuses_bad_json_a_non_boolean_and_unknown_fields_with_400() {
    // Arrange
    let rig = Rig::start().await;

    for body in [
        "{not json",
        r#"{"on":"yes"}"#,
        r#"{"on":1}"#,
        r#"{"on":true,"for":"ever"}"#,
        r#"{}"#,
        "",
    ] {
        // Act
        let (status, answer) = post_control_raw(&rig, "/control/force-403", body).await;

        // Assert
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?}: {answer}");
        assert!(answer["error"].is_string(), "{body:?}: {answer}");
    }
    assert_eq!(rig.mcp_state().await["toggles"]["force_403"], false);
}

#[tokio::test]
async fn get_on_force_403_is_405_allowing_post() {
    // Arrange
    let rig = Rig::start().await;

    // Act
    let response = rig
        .http
        .get(rig.mcp_path("/control/force-403"))
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "POST");
}

#[tokio::test]
async fn an_unknown_control_path_is_404() {
    // Arrange
    let rig = Rig::start().await;

    // Act
    let get = rig
        .http
        .get(rig.mcp_path("/control/x"))
        .send()
        .await
        .unwrap();
    let (post, _) = rig.mcp_control("/control/force-404", json!({})).await;

    // Assert
    assert_eq!(get.status(), StatusCode::NOT_FOUND);
    assert_eq!(post, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_control_request_carrying_an_origin_header_is_refused_with_403() {
    // Arrange
    let rig = Rig::start().await;

    // Act
    let read = rig
        .http
        .get(rig.mcp_path("/control/state"))
        .header("origin", "http://127.0.0.1:3000")
        .send()
        .await
        .unwrap();
    let flip = rig
        .http
        .post(rig.mcp_path("/control/force-403"))
        .header("origin", "https://evil.example")
        .json(&json!({ "on": true }))
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(read.status(), StatusCode::FORBIDDEN);
    assert_eq!(flip.status(), StatusCode::FORBIDDEN);
    assert_eq!(rig.mcp_state().await["toggles"]["force_403"], false);
}

#[tokio::test]
async fn a_control_token_guards_the_control_plane_but_not_mcp() {
    // Arrange
    let rig = Rig::start_with(
        oauth_server::Config::default(),
        mcp_server::Config {
            control: ControlGuard::with_token("s3cret"),
            ..mcp_server::Config::default()
        },
    )
    .await;
    let tokens = rig.token().await;
    let state_url = rig.mcp_path("/control/state");
    let flip_url = rig.mcp_path("/control/force-403");

    // Act
    let anonymous = rig.http.get(&state_url).send().await.unwrap();
    let wrong = rig
        .http
        .get(&state_url)
        .bearer_auth("s3cre")
        .send()
        .await
        .unwrap();
    let oauth_token = rig
        .http
        .get(&state_url)
        .bearer_auth(&tokens.access)
        .send()
        .await
        .unwrap();
    let anonymous_flip = rig
        .http
        .post(&flip_url)
        .json(&json!({ "on": true }))
        .send()
        .await
        .unwrap();
    let right = rig
        .http
        .get(&state_url)
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    let (called, response) = rig
        .call_tool(&tokens.access, "echo", json!({ "message": "still here" }))
        .await;
    let no_token = rig
        .post_mcp(
            None,
            &json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" }),
        )
        .await;

    // Assert
    for refused in [&anonymous, &wrong, &oauth_token, &anonymous_flip] {
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(www_authenticate(refused), r#"Bearer realm="control""#);
    }
    assert_eq!(right.status(), StatusCode::OK);
    let state: Value = right.json().await.unwrap();
    assert_eq!(state["toggles"]["force_403"], false, "{state}");
    assert_eq!(called, StatusCode::OK, "{response}");
    assert_eq!(tool_text(&response), "still here");
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);
    assert!(
        www_authenticate(&no_token).contains("resource_metadata="),
        "{}",
        www_authenticate(&no_token)
    );
}
