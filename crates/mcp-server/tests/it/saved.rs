//! `McpServer::save` and `McpServer::restore`: a tester's switches survive a restart (through
//! JSON, as the state file holds them), and so do the audiences tokens were bound to, on
//! whatever ports the server comes back.

use mcp_server::{McpServer, PRM_PATH as PRM, SavedMcp};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const OLD: &str = "https://old.example.test";
const NEW: &str = "https://new.example.test";

fn scopes() -> Vec<String> {
    vec!["mcp:tools".to_owned(), "mcp:write".to_owned()]
}

/// A rig announcing `mcp:tools` and `mcp:write`, its MCP server at `base` (if any).
async fn rig_with(base: Option<&str>) -> Rig {
    Rig::start_with(
        oauth_server::Config {
            scopes: scopes(),
            ..oauth_server::Config::default()
        },
        mcp_server::Config {
            scopes: scopes(),
            base_url: base.map(str::to_owned),
            ..mcp_server::Config::default()
        },
    )
    .await
}

/// A second MCP server, on a port of its own, trusting `rig`'s authorization server as the
/// rig's own does: the same server after a restart.
async fn restarted(rig: &Rig) -> McpServer {
    McpServer::start(mcp_server::Config {
        scopes: scopes(),
        authorization_servers: vec![mcp_server::AuthorizationServer::new(
            rig.auth.issuer().to_owned(),
            format!("http://{}/introspect", rig.auth.addr()),
        )],
        ..mcp_server::Config::default()
    })
    .await
    .expect("MCP server starts")
}

/// The saved state as the file holds it, read back.
fn through_json(saved: SavedMcp) -> SavedMcp {
    let text = serde_json::to_string_pretty(&saved).unwrap();
    serde_json::from_str(&text).unwrap()
}

async fn state_of(rig: &Rig, server: &McpServer) -> Value {
    control_state(
        &rig.http,
        &format!("http://{}/control/state", server.addr()),
    )
    .await
}

async fn initialize_at(rig: &Rig, server: &McpServer, token: &str) -> StatusCode {
    let url = format!("http://{}/mcp", server.addr());
    post_mcp(&rig.http, &url, Some(token), &initialize_message())
        .await
        .status()
}

#[tokio::test]
async fn a_restored_server_has_the_profile_tool_scopes_faults_and_outage_mode_it_was_saved_with() {
    // Arrange: every kind of switch set, and a counted rule fired once.
    let rig = rig_with(None).await;
    for (path, body) in [
        ("/control/profile", json!({ "challenge_error": true })),
        ("/control/step-up", json!({ "add": "mcp:write" })),
        ("/control/introspection-failure", json!({ "mode": "401" })),
        ("/control/bad-scope", json!({ "on": true })),
    ] {
        let (status, answer) = rig.mcp_control(path, body).await;
        assert_eq!(status, StatusCode::OK, "{path}: {answer}");
    }
    rig.add_fault(json!({ "endpoint": "prm", "respond": { "status": 503 }, "times": 3 }))
        .await;
    assert_eq!(
        rig.get_mcp_path(PRM).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    let saved = through_json(rig.mcp.save());
    let server = restarted(&rig).await;

    // Act
    server.restore(saved).unwrap();

    // Assert
    let state = state_of(&rig, &server).await;
    assert_eq!(state["profile"]["challenge_error"], true, "{state}");
    assert_eq!(
        state["tool_scopes"],
        json!({ "add": "mcp:write" }),
        "{state}"
    );
    assert_eq!(state["introspection_failure"], "401", "{state}");
    assert_eq!(state["toggles"]["force_403"], true, "{state}");
    let prm = format!("http://{}{PRM}", server.addr());
    for expected in [503, 503, 200] {
        let status = rig.http.get(&prm).send().await.unwrap().status();
        assert_eq!(status.as_u16(), expected, "the rule had two answers left");
    }
    let tokens = rig.token_for(None).await;
    let url = format!("http://{}/mcp", server.addr());
    let message = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": { "name": "echo", "arguments": { "message": "hi" } } });
    let forced = post_mcp(&rig.http, &url, Some(&tokens.access), &message).await;
    assert_eq!(forced.status(), StatusCode::FORBIDDEN, "force-403 is on");
}

#[tokio::test]
async fn tokens_for_the_urls_in_force_when_saved_still_work_after_a_restart_on_other_ports() {
    // Arrange: a token for the old public URL, one for the new one, one for the loopback
    // address of the old port.
    let rig = rig_with(Some(OLD)).await;
    let loopback = rig.token().await.access;
    let old = rig.token_for(Some(&format!("{OLD}/mcp"))).await.access;
    let (status, _) = rig
        .mcp_control("/control/base-url", json!({ "base_url": NEW }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let new = rig.token_for(Some(&format!("{NEW}/mcp"))).await.access;
    let saved = through_json(rig.mcp.save());
    let server = restarted(&rig).await;
    assert_eq!(
        initialize_at(&rig, &server, &new).await,
        StatusCode::UNAUTHORIZED,
        "not before the restore"
    );

    // Act
    server.restore(saved).unwrap();

    // Assert
    for token in [&loopback, &old, &new] {
        assert_eq!(initialize_at(&rig, &server, token).await, StatusCode::OK);
    }
    let state = state_of(&rig, &server).await;
    assert_eq!(
        state["base_url"],
        Value::Null,
        "the configuration decides the URL"
    );
    let former = state["former_audiences"].as_array().unwrap();
    for origin in [OLD, NEW, &format!("http://127.0.0.1:{}", rig.mcp_port())] {
        assert!(former.contains(&json!(origin)), "{origin}: {state}");
    }
}

#[tokio::test]
async fn without_keep_old_audience_a_restore_brings_back_no_audience() {
    // Arrange
    let rig = rig_with(Some(OLD)).await;
    let old = rig.token_for(Some(&format!("{OLD}/mcp"))).await.access;
    let (status, _) = rig
        .mcp_control(
            "/control/base-url",
            json!({ "base_url": OLD, "keep_old_audience": false }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let saved = through_json(rig.mcp.save());
    assert_eq!(saved.base_url.as_deref(), Some(OLD));
    let server = restarted(&rig).await;

    // Act
    server.restore(saved).unwrap();

    // Assert
    assert_eq!(
        initialize_at(&rig, &server, &old).await,
        StatusCode::UNAUTHORIZED
    );
    let state = state_of(&rig, &server).await;
    assert_eq!(state["keep_old_audience"], false, "{state}");
    assert_eq!(state["former_audiences"], json!([]), "{state}");
}

#[tokio::test]
async fn a_restore_with_a_bad_entry_changes_nothing_and_names_the_entry() {
    // Arrange
    let rig = rig_with(None).await;
    let server = restarted(&rig).await;
    let before = state_of(&rig, &server).await;
    let good = || SavedMcp {
        introspection_failure: mcp_server::IntrospectionFailure::InvalidToken,
        ..SavedMcp::default()
    };
    let with = |patch: Value| -> SavedMcp {
        let mut document = serde_json::to_value(good()).unwrap();
        for (field, value) in patch.as_object().unwrap() {
            document[field] = value.clone();
        }
        serde_json::from_value(document).unwrap()
    };

    for (saved, expected) in [
        (
            with(json!({ "tool_scopes": { "add": ["mcp:admin"] } })),
            "tool_scopes: scope 'mcp:admin'",
        ),
        (
            with(json!({ "tool_scopes": { "delete": ["mcp:write"] } })),
            "tool_scopes: unknown tool 'delete'",
        ),
        (
            with(json!({ "faults": [{ "preset": "deny-consent" }] })),
            "faults: unknown preset 'deny-consent'",
        ),
        (
            with(
                json!({ "faults": [{ "rule": { "endpoint": "token", "respond": { "status": 503 } } }] }),
            ),
            "faults: unknown endpoint 'token'",
        ),
        (
            with(json!({ "former_audiences": ["ftp://old.example"] })),
            "former_audiences:",
        ),
        (
            with(json!({ "profile": { "prm": ["path", "path"] } })),
            "profile: prm",
        ),
    ] {
        // Act
        let error = server.restore(saved).unwrap_err();

        // Assert
        assert!(error.starts_with(expected), "{expected}: {error}");
    }
    let after = state_of(&rig, &server).await;
    for field in [
        "profile",
        "tool_scopes",
        "introspection_failure",
        "toggles",
        "former_audiences",
    ] {
        assert_eq!(after[field], before[field], "{field}");
    }
}

#[tokio::test]
async fn a_saved_state_reads_back_from_json_with_missing_fields_at_their_defaults() {
    // Act
    let saved: SavedMcp = serde_json::from_str(r#"{"faults": [{"preset": "force-403"}]}"#).unwrap();

    // Assert
    assert!(saved.keep_old_audience);
    assert!(saved.former_audiences.is_empty());
    assert_eq!(saved.base_url, None);
    assert!(
        matches!(&saved.faults[..], [mcp_server::SavedFault::Preset(name)] if name == "force-403")
    );
}
