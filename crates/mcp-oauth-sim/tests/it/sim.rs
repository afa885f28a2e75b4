//! The library face: `Sim::builder().start()` in a test, a client driven through it, each typed
//! `Control` switch changing what that client sees, and the handle's lifetime.

use std::time::Duration;

use mcp_oauth_sim::{LaunchError, Service, Sim};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

async fn start() -> Sim {
    Sim::builder().start().await.expect("the rig starts")
}

/// A client pointed at the sim as a user would point one: the MCP URL and the issuer.
fn caller_for(sim: &Sim) -> Caller {
    Caller::new(http_client(), sim.issuer(), sim.mcp_url())
}

#[tokio::test]
async fn a_client_discovers_logs_in_and_calls_a_tool_through_a_sim_on_ephemeral_ports() {
    // Arrange
    let sim = start().await;
    let caller = caller_for(&sim);

    // Act
    let (unauthorized, challenge) = caller.challenge().await;
    let (_, prm) = caller
        .get_json(&format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            caller.mcp_origin()
        ))
        .await;
    let issuer = prm["authorization_servers"][0].as_str().unwrap_or_default();
    let (_, metadata) = caller
        .get_json(&format!("{issuer}/.well-known/oauth-authorization-server"))
        .await;
    let tokens = caller.log_in(&sim.mcp_url()).await;
    let (initialized, init) = caller.initialize(&tokens.access).await;
    let (status, response) = caller.echo(&tokens.access, "hello, sim").await;
    let state = sim.control().state().await.expect("state");

    // Assert
    assert_ne!(sim.oauth_addr().port(), 9100);
    assert!(sim.oauth_addr().ip().is_loopback());
    assert!(sim.mcp_addr().ip().is_loopback());
    assert_eq!(sim.scheme(), "http");
    assert_eq!(
        sim.mcp_url(),
        format!("http://localhost:{}/mcp", sim.mcp_addr().port())
    );
    assert_eq!(unauthorized, StatusCode::UNAUTHORIZED);
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert_eq!(prm["resource"], sim.mcp_url());
    assert_eq!(issuer, sim.issuer());
    assert_eq!(metadata["issuer"], sim.issuer());
    assert_eq!(initialized, StatusCode::OK, "{init}");
    assert_eq!(init["result"]["serverInfo"]["name"], "mcp-oauth-sim");
    assert_eq!(status, StatusCode::OK, "{response}");
    assert_eq!(tool_text(&response), "hello, sim");
    assert_eq!(state.oauth.counters.registrations, 1);
    assert_eq!(state.oauth.counters.token_requests.authorization_code, 1);
    assert_eq!(state.mcp.counters.tool_calls, 1);
    assert_eq!(state.mcp.counters.unauthorized, 1);
    assert!(sim.control_token().is_none(), "a loopback rig needs none");
    assert!(!sim.control_token_generated());
    assert!(sim.ca_pem().is_none());
}

#[tokio::test]
async fn rotate_refresh_tokens_hands_out_a_new_refresh_token_and_retires_the_old_one() {
    // Arrange
    let sim = start().await;
    let caller = caller_for(&sim);
    let tokens = caller.log_in(&sim.mcp_url()).await;

    // Act
    let state = sim
        .control()
        .rotate_refresh_tokens(true)
        .await
        .expect("rotate");
    let (status, rotated) = caller.refresh(&tokens.client_id, &tokens.refresh).await;
    let (again, error) = caller.refresh(&tokens.client_id, &tokens.refresh).await;

    // Assert
    assert!(state.toggles.rotate_refresh_tokens);
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_ne!(
        rotated["refresh_token"],
        tokens.refresh.as_str(),
        "{rotated}"
    );
    assert!(rotated["refresh_token"].is_string(), "{rotated}");
    assert_eq!(again, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["error"], "invalid_grant", "{error}");
}

#[tokio::test]
async fn access_token_ttl_sets_expires_in_of_tokens_issued_afterwards() {
    // Arrange
    let sim = start().await;
    let caller = caller_for(&sim);
    let tokens = caller.log_in(&sim.mcp_url()).await;

    // Act
    let state = sim.control().access_token_ttl(42).await.expect("ttl");
    let (status, refreshed) = caller.refresh(&tokens.client_id, &tokens.refresh).await;

    // Assert
    assert_eq!(state.toggles.access_token_ttl_seconds, 42);
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_eq!(refreshed["expires_in"], 42, "{refreshed}");
}

#[tokio::test]
async fn revoke_access_tokens_makes_the_next_tool_call_401_while_refresh_still_works() {
    // Arrange
    let sim = start().await;
    let caller = caller_for(&sim);
    let tokens = caller.log_in(&sim.mcp_url()).await;

    // Act
    let state = sim.control().revoke_access_tokens().await.expect("revoke");
    let (status, _) = caller.echo(&tokens.access, "revoked").await;
    let (refreshed, body) = caller.refresh(&tokens.client_id, &tokens.refresh).await;

    // Assert
    assert_eq!(state.store.access_tokens, 0);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(refreshed, StatusCode::OK, "{body}");
    let access = body["access_token"].as_str().unwrap_or_default();
    let (status, response) = caller.echo(access, "back").await;
    assert_eq!(status, StatusCode::OK, "{response}");
}

#[tokio::test]
async fn invalid_grant_makes_every_refresh_fail_until_turned_off() {
    // Arrange
    let sim = start().await;
    let caller = caller_for(&sim);
    let tokens = caller.log_in(&sim.mcp_url()).await;

    // Act
    let on = sim
        .control()
        .invalid_grant(true)
        .await
        .expect("invalid grant");
    let (refused, error) = caller.refresh(&tokens.client_id, &tokens.refresh).await;
    let off = sim
        .control()
        .invalid_grant(false)
        .await
        .expect("invalid grant");
    let (accepted, body) = caller.refresh(&tokens.client_id, &tokens.refresh).await;

    // Assert
    assert!(on.toggles.invalid_grant);
    assert_eq!(refused, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["error"], "invalid_grant", "{error}");
    assert!(!off.toggles.invalid_grant);
    assert_eq!(off.counters.forced_invalid_grants, 1);
    assert_eq!(accepted, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn deny_consent_redirects_back_with_access_denied_and_the_state() {
    // Arrange
    let sim = start().await;
    let caller = caller_for(&sim);
    let client_id = caller.register().await;

    // Act
    let state = sim
        .control()
        .deny_consent(true)
        .await
        .expect("deny consent");
    let redirect = caller.authorize(&client_id, &sim.mcp_url()).await;

    // Assert
    assert!(state.toggles.deny_consent);
    assert!(redirect.as_str().starts_with(REDIRECT_URI), "{redirect}");
    assert_eq!(
        query_value(&redirect, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_value(&redirect, "state").as_deref(), Some("xyz"));
    assert_eq!(query_value(&redirect, "code"), None);
    assert_eq!(
        query_value(&redirect, "iss").as_deref(),
        Some(sim.issuer().as_str())
    );
}

#[tokio::test]
async fn seed_refresh_token_is_accepted_from_any_registered_client() {
    // Arrange
    let sim = start().await;
    let caller = caller_for(&sim);
    let client_id = caller.register().await;
    let seeded = "seeded-through-the-control-client";

    // Act
    let before = caller.refresh(&client_id, seeded).await.0;
    let state = sim
        .control()
        .seed_refresh_token(seeded)
        .await
        .expect("seed");
    let (status, body) = caller.refresh(&client_id, seeded).await;

    // Assert
    assert_eq!(before, StatusCode::BAD_REQUEST);
    assert_eq!(state.store.refresh_tokens, 1);
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = body["access_token"].as_str().unwrap_or_default();
    let (status, response) = caller.echo(access, "seeded").await;
    assert_eq!(status, StatusCode::OK, "{response}");
}

#[tokio::test]
async fn force_403_answers_tool_calls_with_insufficient_scope() {
    // Arrange
    let sim = start().await;
    let caller = caller_for(&sim);
    let tokens = caller.log_in(&sim.mcp_url()).await;

    // Act
    let state = sim.control().force_403(true).await.expect("force 403");
    let message = json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": { "name": "echo", "arguments": { "message": "denied" } },
    });
    let response = caller.post_mcp(Some(&tokens.access), &message).await;

    // Assert
    assert!(state.toggles.force_403);
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .expect("ASCII challenge");
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    let mcp = sim.control().mcp_state().await.expect("state");
    assert_eq!(mcp.counters.forbidden, 1);
}

#[tokio::test]
async fn reset_forgets_clients_and_tokens_and_turns_every_switch_off() {
    // Arrange
    let sim = start().await;
    let caller = caller_for(&sim);
    let tokens = caller.log_in(&sim.mcp_url()).await;
    let control = sim.control();
    control.rotate_refresh_tokens(true).await.expect("rotate");
    control.access_token_ttl(7).await.expect("ttl");
    control.invalid_grant(true).await.expect("invalid grant");
    control.deny_consent(true).await.expect("deny consent");
    control.force_403(true).await.expect("force 403");

    // Act
    let state = control.reset().await.expect("reset");
    let (status, _) = caller.echo(&tokens.access, "forgotten").await;
    let (refresh, error) = caller.refresh(&tokens.client_id, &tokens.refresh).await;

    // Assert
    let toggles = &state.oauth.toggles;
    assert!(!toggles.rotate_refresh_tokens);
    assert_eq!(toggles.access_token_ttl_seconds, 3600);
    assert!(!toggles.invalid_grant);
    assert!(!toggles.deny_consent);
    assert!(!state.mcp.toggles.force_403);
    assert_eq!(state.oauth.store.clients, 0);
    assert_eq!(state.oauth.store.refresh_tokens, 0);
    assert_eq!(state.oauth.counters.registrations, 0);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_ne!(refresh, StatusCode::OK, "{error}");
}

#[tokio::test]
async fn raw_state_returns_each_servers_document_with_fields_the_types_lack() {
    // Arrange
    let sim = start().await;

    // Act
    let oauth = sim
        .control()
        .raw_state(Service::OAuth)
        .await
        .expect("state");
    let mcp = sim.control().raw_state(Service::Mcp).await.expect("state");

    // Assert
    assert_eq!(oauth["service"], "oauth", "{oauth}");
    assert_eq!(oauth["issuer"], sim.issuer(), "{oauth}");
    assert_eq!(oauth["toggles"]["rotate_refresh_tokens"], false, "{oauth}");
    assert_eq!(mcp["toggles"]["force_403"], false, "{mcp}");
    assert_eq!(mcp["resource"], sim.mcp_url(), "{mcp}");
    assert_eq!(mcp["introspection_url"], sim.introspection_url(), "{mcp}");
}

#[tokio::test]
async fn builder_settings_reach_both_servers() {
    // Arrange
    let seeded = "seeded-at-start-up-0123456789";

    // Act
    let sim = Sim::builder()
        .scopes(["files:read", "files:write"])
        .token_ttl(Duration::from_secs(90))
        .seed_refresh_token(seeded)
        .configure_oauth(|config| config.users = vec![oauth_server::User::new("alice")])
        .configure_mcp(|config| config.resource_name = "Files under test".into())
        .start()
        .await
        .expect("the rig starts");

    // Assert
    let caller = caller_for(&sim);
    let (_, metadata) = caller
        .get_json(&format!(
            "{}/.well-known/oauth-authorization-server",
            sim.issuer()
        ))
        .await;
    assert_eq!(
        metadata["scopes_supported"],
        json!(["files:read", "files:write"])
    );
    let (_, prm) = caller
        .get_json(&format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            caller.mcp_origin()
        ))
        .await;
    assert_eq!(
        prm["scopes_supported"],
        json!(["files:read", "files:write"])
    );
    assert_eq!(prm["resource_name"], "Files under test");
    let (_, challenge) = caller.challenge().await;
    assert!(
        challenge.contains("scope=\"files:read\""),
        "the challenge names what every call needs, the first scope: {challenge}"
    );
    let client_id = caller.register().await;
    let (status, body) = caller.refresh(&client_id, seeded).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["expires_in"], 90, "{body}");
    let access = body["access_token"].as_str().unwrap_or_default();
    let (status, me) = caller
        .rpc(
            access,
            "tools/call",
            json!({ "name": "whoami", "arguments": {} }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(
        me["result"]["structuredContent"]["subject"], "alice",
        "{me}"
    );
    let state = sim.control().oauth_state().await.expect("state");
    assert_eq!(state.toggles.access_token_ttl_seconds, 90);
    assert!(state.seed_refresh_token.is_some());
}

#[tokio::test]
async fn a_chosen_control_token_guards_control_and_the_typed_client_sends_it() {
    // Arrange
    let sim = Sim::builder()
        .control_token("sim-control-token")
        .start()
        .await
        .expect("the rig starts");

    // Act
    let typed = sim.control().deny_consent(true).await;
    let anonymous = http_client()
        .get(format!("{}/control/state", sim.issuer()))
        .send()
        .await
        .expect("GET")
        .status();

    // Assert
    assert!(typed.expect("authorized").toggles.deny_consent);
    assert_eq!(anonymous, StatusCode::UNAUTHORIZED);
    assert_eq!(sim.control_token(), Some("sim-control-token"));
    assert!(!sim.control_token_generated());
}

#[tokio::test]
async fn dropping_the_sim_stops_both_servers() {
    // Arrange
    let sim = start().await;
    let (oauth, mcp) = (sim.oauth_addr(), sim.mcp_addr());
    let (status, _) = caller_for(&sim)
        .get_json(&format!(
            "{}/.well-known/oauth-authorization-server",
            sim.issuer()
        ))
        .await;
    assert_eq!(status, StatusCode::OK);

    // Act
    drop(sim);

    // Assert
    assert_closes(oauth).await;
    assert_closes(mcp).await;
}

#[tokio::test]
async fn stop_returns_once_both_ports_are_closed() {
    // Arrange
    let sim = start().await;
    let (oauth, mcp) = (sim.oauth_addr(), sim.mcp_addr());

    // Act
    tokio::time::timeout(Duration::from_secs(10), sim.stop())
        .await
        .expect("stop finishes")
        .expect("stop succeeds");

    // Assert
    assert!(tokio::net::TcpStream::connect(oauth).await.is_err());
    assert!(tokio::net::TcpStream::connect(mcp).await.is_err());
}

#[tokio::test]
async fn bad_settings_and_a_taken_port_are_refused_with_a_message_naming_them() {
    // Arrange
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a port");
    let port = taken.local_addr().expect("address").port();

    // Act
    let no_scopes = Sim::builder().scopes(Vec::<String>::new()).start().await;
    let bare_host = Sim::builder()
        .mcp_base_url("abc.trycloudflare.com")
        .start()
        .await;
    let in_use = Sim::builder().ports(0, port).start().await;

    // Assert
    let message = no_scopes.expect_err("no scopes").to_string();
    assert_eq!(message, "SCOPES must name at least one scope");
    let message = bare_host.expect_err("a bare host").to_string();
    assert!(
        message.starts_with("MCP_BASE_URL 'abc.trycloudflare.com' is not a URL"),
        "{message}"
    );
    let error = in_use.expect_err("the port is taken");
    assert!(matches!(error, LaunchError::Listen { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot listen on 127.0.0.1:{port} (MCP_PORT)")),
        "{error}"
    );
}

#[tokio::test]
async fn a_situation_staged_by_the_builder_is_undone_by_a_reset_which_keeps_the_start_up_profile() {
    use mcp_oauth_sim::control::conformance::Situation;
    // Arrange
    let mcp_profile: mcp_server::Profile =
        serde_json::from_value(json!({ "challenge_error": true })).unwrap();
    let sim = Sim::builder()
        .mcp_profile(mcp_profile)
        .conformance(Situation::MetadataVar1)
        .start()
        .await
        .expect("the rig starts");
    let caller = caller_for(&sim);
    let origin = sim.mcp_url().trim_end_matches("/mcp").to_owned();

    // Act
    let (staged, _) = caller
        .get_json(&format!(
            "{}/.well-known/openid-configuration",
            sim.issuer()
        ))
        .await;
    sim.control().reset().await.expect("reset");
    let (after_reset, _) = caller
        .get_json(&format!(
            "{}/.well-known/openid-configuration",
            sim.issuer()
        ))
        .await;
    let mcp = sim.control().mcp_state().await.expect("state");
    let (root_prm, _) = caller
        .get_json(&format!("{origin}/.well-known/oauth-protected-resource"))
        .await;

    // Assert
    assert_eq!(
        staged,
        StatusCode::OK,
        "metadata-var1 serves OIDC discovery"
    );
    assert_eq!(
        after_reset,
        StatusCode::NOT_FOUND,
        "a reset undoes the situation"
    );
    assert!(
        mcp.profile.challenge_error,
        "but keeps the start-up profile"
    );
    assert_eq!(root_prm, StatusCode::OK);
}
