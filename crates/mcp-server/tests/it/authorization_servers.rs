//! The resource's list of authorization servers, switched at run time: the metadata lists
//! exactly the servers trusted, and a token of a server no longer listed is refused.

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

fn listed(rig: &Rig, name: &str) -> Value {
    let place = rig.auth.issuer_named(name).unwrap();
    json!({ "issuer": place.issuer, "introspection_url": place.introspection_url })
}

async fn token_of(rig: &Rig, path: &str) -> String {
    obtain_tokens(&rig.http, &rig.auth_path(path), Some(&rig.mcp_url()), None)
        .await
        .access
}

async fn prm_servers(rig: &Rig) -> Value {
    let response = rig
        .http
        .get(rig.mcp_path("/.well-known/oauth-protected-resource/mcp"))
        .send()
        .await
        .unwrap();
    response.json::<Value>().await.unwrap()["authorization_servers"].clone()
}

#[tokio::test]
async fn switching_the_list_moves_the_metadata_and_refuses_the_old_issuers_tokens() {
    let rig = two_issuers().await;
    let main_token = token_of(&rig, "").await;
    let tenant_token = token_of(&rig, "/tenant1").await;
    let main_issuer = rig.auth.issuer().to_owned();
    let tenant_issuer = rig.auth.issuer_named("tenant1").unwrap().issuer;
    assert_eq!(rig.initialize(&main_token).await.0, StatusCode::OK);
    let (refused, _) = rig.initialize(&tenant_token).await;
    assert_eq!(
        refused,
        StatusCode::UNAUTHORIZED,
        "tenant1 is not trusted yet"
    );

    let (status, state) = rig
        .mcp_control(
            "/control/authorization-servers",
            json!({ "authorization_servers": [listed(&rig, "tenant1")] }),
        )
        .await;

    assert_eq!(status, StatusCode::OK, "{state}");
    assert_eq!(
        state["authorization_servers"][0]["issuer"],
        json!(tenant_issuer)
    );
    assert_eq!(prm_servers(&rig).await, json!([tenant_issuer]));
    assert_eq!(rig.initialize(&tenant_token).await.0, StatusCode::OK);
    let response = rig
        .post_mcp(Some(&main_token), &crate::support::initialize_message())
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        www_authenticate(&response).contains(r#"error="invalid_token""#),
        "{}",
        www_authenticate(&response)
    );
    assert_ne!(main_issuer, tenant_issuer);
}

#[tokio::test]
async fn with_two_servers_listed_each_ones_tokens_are_accepted_in_order() {
    let rig = two_issuers().await;
    let body = json!({ "authorization_servers": [listed(&rig, "tenant1"), listed(&rig, "main")] });
    let (status, _) = rig
        .mcp_control("/control/authorization-servers", body)
        .await;
    assert_eq!(status, StatusCode::OK);

    let main_token = token_of(&rig, "").await;
    let tenant_token = token_of(&rig, "/tenant1").await;

    assert_eq!(rig.initialize(&main_token).await.0, StatusCode::OK);
    assert_eq!(rig.initialize(&tenant_token).await.0, StatusCode::OK);
    let tenant_issuer = rig.auth.issuer_named("tenant1").unwrap().issuer;
    assert_eq!(
        prm_servers(&rig).await,
        json!([tenant_issuer, rig.auth.issuer()]),
        "listed in the order given"
    );
    let (_, whoami) = rig.call_tool(&tenant_token, "whoami", json!({})).await;
    assert!(whoami.to_string().contains("demo-user"), "{whoami}");
}

#[tokio::test]
async fn reset_trusts_the_configured_server_again() {
    let rig = two_issuers().await;
    let body = json!({ "authorization_servers": [listed(&rig, "tenant1")] });
    rig.mcp_control("/control/authorization-servers", body)
        .await;

    let (status, state) = rig.mcp_control("/control/reset", json!({})).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["authorization_server"], json!(rig.auth.issuer()));
    assert_eq!(prm_servers(&rig).await, json!([rig.auth.issuer()]));
    let main_token = token_of(&rig, "").await;
    assert_eq!(rig.initialize(&main_token).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_bad_list_is_refused_and_the_old_one_stays() {
    let rig = two_issuers().await;
    let bad = [
        json!({ "authorization_servers": [] }),
        json!({ "authorization_servers": [{ "issuer": "ftp://x", "introspection_url": "http://127.0.0.1:1/introspect" }] }),
        json!({ "authorization_servers": [{ "issuer": "http://localhost:1/", "introspection_url": "http://127.0.0.1:1/introspect" }] }),
        json!({ "authorization_servers": [listed(&rig, "main"), listed(&rig, "main")] }),
        json!({ "authorization_servers": [{ "issuer": "http://localhost:1" }] }),
        json!({ "servers": [] }),
    ];
    for body in bad {
        let (status, answer) = rig
            .mcp_control("/control/authorization-servers", body.clone())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
    }
    assert_eq!(prm_servers(&rig).await, json!([rig.auth.issuer()]));
    let listed = rig
        .http
        .get(rig.mcp_path("/control/authorization-servers"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(listed["authorization_servers"].as_array().unwrap().len(), 1);
}
