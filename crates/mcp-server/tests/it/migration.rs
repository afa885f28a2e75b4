//! Authorization-server migration: after N more authenticated requests the resource trusts
//! another issuer — the metadata lists it, the old issuer's tokens are refused — exactly once,
//! however many requests race for it; a reset cancels it.

use oauth_server::IssuerConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Rig, obtain_tokens, www_authenticate};

/// An AS hosting `main` and `tenant1` (under `/tenant1`); the MCP server trusts `main`.
async fn two_issuers() -> Rig {
    Rig::start_with(
        oauth_server::Config {
            issuers: vec![IssuerConfig::parse("tenant1=/tenant1").unwrap()],
            ..oauth_server::Config::default()
        },
        mcp_server::Config::default(),
    )
    .await
}

fn tenant1(rig: &Rig) -> (String, Value) {
    let place = rig.auth.issuer_named("tenant1").unwrap();
    let listed = json!({ "issuer": place.issuer, "introspection_url": place.introspection_url });
    (place.issuer, listed)
}

async fn token_of(rig: &Rig, path: &str) -> String {
    obtain_tokens(&rig.http, &rig.auth_path(path), Some(&rig.mcp_url()), None)
        .await
        .access
}

async fn prm_servers(rig: &Rig) -> Value {
    let response = rig
        .get_mcp_path("/.well-known/oauth-protected-resource/mcp")
        .await;
    response.json::<Value>().await.unwrap()["authorization_servers"].clone()
}

async fn tools_list(rig: &Rig, token: &str) -> reqwest::Response {
    rig.post_mcp(
        Some(token),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await
}

/// The `/mcp` events of the MCP journal that switched the authorization servers.
async fn switches(rig: &Rig) -> usize {
    rig.events("?limit=1000").await["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["note"] == "authorization servers switched")
        .count()
}

#[tokio::test]
async fn after_one_request_the_old_issuers_token_is_refused_and_the_metadata_lists_the_new_issuer()
{
    // Arrange
    let rig = two_issuers().await;
    let old = token_of(&rig, "").await;
    let new = token_of(&rig, "/tenant1").await;
    let (tenant_issuer, listed) = tenant1(&rig);

    // Act
    let (status, state) = rig
        .mcp_control(
            "/control/migrate",
            json!({"authorization_servers": [listed], "after": 1}),
        )
        .await;
    let before = prm_servers(&rig).await;
    let first = tools_list(&rig, &old).await;
    let after = prm_servers(&rig).await;
    let second = tools_list(&rig, &old).await;
    let with_new = tools_list(&rig, &new).await;
    let later = rig.mcp_state().await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{state}");
    assert_eq!(
        state["migration"],
        json!({"to": [tenant_issuer], "remaining": 1})
    );
    assert_eq!(before, json!([rig.auth.issuer()]));
    assert_eq!(first.status(), StatusCode::OK, "served under the old list");
    assert_eq!(after, json!([tenant_issuer]));
    assert_eq!(second.status(), StatusCode::UNAUTHORIZED);
    assert!(
        www_authenticate(&second).starts_with(r#"Bearer error="invalid_token""#),
        "{}",
        www_authenticate(&second)
    );
    assert_eq!(with_new.status(), StatusCode::OK);
    assert_eq!(later["migration"], Value::Null);
    assert_eq!(later["authorization_server"], tenant_issuer);
    assert_eq!(switches(&rig).await, 1);
}

#[tokio::test]
async fn only_authenticated_requests_count_towards_a_migration() {
    // Arrange
    let rig = two_issuers().await;
    let old = token_of(&rig, "").await;
    let (_, listed) = tenant1(&rig);
    rig.mcp_control(
        "/control/migrate",
        json!({"authorization_servers": [listed], "after": 2}),
    )
    .await;

    // Act
    rig.initialize_request().send().await.unwrap();
    tools_list(&rig, "not-a-token").await;
    let first = tools_list(&rig, &old).await;
    let remaining = rig.mcp_state().await["migration"]["remaining"].clone();

    // Assert
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(remaining, 1);
}

#[tokio::test]
async fn after_zero_switches_at_once() {
    // Arrange
    let rig = two_issuers().await;
    let old = token_of(&rig, "").await;
    let (tenant_issuer, listed) = tenant1(&rig);

    // Act
    let (status, state) = rig
        .mcp_control(
            "/control/migrate",
            json!({"authorization_servers": [listed]}),
        )
        .await;
    let refused = tools_list(&rig, &old).await;

    // Assert
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["migration"], Value::Null);
    assert_eq!(prm_servers(&rig).await, json!([tenant_issuer]));
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn concurrent_requests_make_exactly_one_switch_after_the_count() {
    // Arrange
    let rig = two_issuers().await;
    let old = token_of(&rig, "").await;
    let (tenant_issuer, listed) = tenant1(&rig);
    rig.mcp_control(
        "/control/migrate",
        json!({"authorization_servers": [listed], "after": 5}),
    )
    .await;

    // Act
    let answers = futures::future::join_all((0..24).map(|_| tools_list(&rig, &old))).await;
    let served = answers
        .iter()
        .filter(|answer| answer.status() == StatusCode::OK)
        .count();
    let afterwards = tools_list(&rig, &old).await;

    // Assert: at least the 5 counted were served (others may have been checked under the old
    // list while the switch was being made), exactly one made the switch.
    assert!(served >= 5, "{served} served");
    assert_eq!(switches(&rig).await, 1);
    assert_eq!(afterwards.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(prm_servers(&rig).await, json!([tenant_issuer]));
}

#[tokio::test]
async fn reset_cancels_a_pending_migration_and_restores_the_configured_servers() {
    // Arrange
    let rig = two_issuers().await;
    let old = token_of(&rig, "").await;
    let (_, listed) = tenant1(&rig);
    rig.mcp_control(
        "/control/migrate",
        json!({"authorization_servers": [listed], "after": 1}),
    )
    .await;

    // Act
    let (status, state) = rig.mcp_control("/control/reset", json!({})).await;
    let first = tools_list(&rig, &old).await;
    let second = tools_list(&rig, &old).await;

    // Assert
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["migration"], Value::Null);
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(second.status(), StatusCode::OK, "no switch happened");
    assert_eq!(prm_servers(&rig).await, json!([rig.auth.issuer()]));
}

#[tokio::test]
async fn a_malformed_migration_is_a_400_naming_what_is_wrong_and_schedules_nothing() {
    // Arrange
    let rig = two_issuers().await;
    let (_, listed) = tenant1(&rig);

    for (arguments, named) in [
        (
            json!({"authorization_servers": []}),
            "authorization servers",
        ),
        (
            json!({"authorization_servers": [listed], "after": 1_000_001}),
            "after",
        ),
        (
            json!({"authorization_servers": [listed], "after": -1}),
            "after",
        ),
        (
            json!({"authorization_servers": [listed], "then": 1}),
            "then",
        ),
        (
            json!({"authorization_servers": [{"issuer": "nope", "introspection_url": "x"}]}),
            "issuer",
        ),
    ] {
        // Act
        let response = rig
            .http
            .post(rig.mcp_path("/control/migrate"))
            .json(&arguments)
            .send()
            .await
            .unwrap();

        // Assert
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{arguments}");
        let text = response.text().await.unwrap();
        assert!(text.contains(named), "{arguments}: {text}");
    }
    assert_eq!(rig.mcp_state().await["migration"], Value::Null);
}
