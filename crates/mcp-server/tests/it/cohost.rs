//! A server co-hosted on the MCP origin (the 2025-03-26 layout): every request the MCP server
//! does not route itself reaches it — a metadata path the profile does not serve included —
//! but `/mcp` and the control plane never do.

use http_body_util::BodyExt;
use mcp_server::Cohost;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

/// A stand-in for a co-hosted authorization server: `200 cohost <method> <path> <body>`.
fn stand_in() -> Cohost {
    Cohost::new(|request| {
        Box::pin(async move {
            let line = format!("cohost {} {}", request.method(), request.uri().path());
            let body = request
                .into_body()
                .collect()
                .await
                .map(|body| body.to_bytes())
                .unwrap_or_default();
            let text = format!("{line} {}", String::from_utf8_lossy(&body));
            http::Response::new(sim_http::response::full(text))
        })
    })
}

async fn cohosted_rig() -> Rig {
    Rig::start_with(
        oauth_server::Config::default(),
        mcp_server::Config {
            cohost: Some(stand_in()),
            ..mcp_server::Config::default()
        },
    )
    .await
}

async fn text_of(response: reqwest::Response) -> (StatusCode, String) {
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn requests_the_mcp_server_does_not_route_reach_the_cohost_as_they_came() {
    // Arrange
    let rig = cohosted_rig().await;

    // Act
    let metadata = text_of(
        rig.get_mcp_path("/.well-known/oauth-authorization-server")
            .await,
    )
    .await;
    let token = text_of(
        rig.http
            .post(rig.mcp_path("/token"))
            .body("grant_type=x")
            .send()
            .await
            .unwrap(),
    )
    .await;

    // Assert
    assert_eq!(
        metadata,
        (
            StatusCode::OK,
            "cohost GET /.well-known/oauth-authorization-server ".to_owned()
        )
    );
    assert_eq!(
        token,
        (StatusCode::OK, "cohost POST /token grant_type=x".to_owned())
    );
}

#[tokio::test]
async fn mcp_control_and_the_metadata_served_stay_the_mcp_servers_own() {
    // Arrange
    let rig = cohosted_rig().await;

    // Act
    let mcp = rig.initialize_request().send().await.unwrap().status();
    let state = rig.get_mcp_path("/control/state").await.status();
    let unknown_control = text_of(rig.get_mcp_path("/control/nothing-here").await).await;
    let prm = json_body(
        rig.get_mcp_path("/.well-known/oauth-protected-resource/mcp")
            .await,
    )
    .await;

    // Assert
    assert_eq!(mcp, StatusCode::UNAUTHORIZED);
    assert_eq!(state, StatusCode::OK);
    assert_eq!(unknown_control.0, StatusCode::NOT_FOUND);
    assert!(
        !unknown_control.1.contains("cohost"),
        "{}",
        unknown_control.1
    );
    assert_eq!(prm["resource"], rig.mcp_url());
}

#[tokio::test]
async fn a_metadata_path_the_profile_does_not_serve_goes_to_the_cohost() {
    // Arrange
    let rig = cohosted_rig().await;
    let (status, _) = rig
        .mcp_control("/control/profile", json!({"prm": []}))
        .await;
    assert_eq!(status, StatusCode::OK);

    // Act
    let path_form = text_of(
        rig.get_mcp_path("/.well-known/oauth-protected-resource/mcp")
            .await,
    )
    .await;
    let root_form = text_of(
        rig.get_mcp_path("/.well-known/oauth-protected-resource")
            .await,
    )
    .await;

    // Assert
    assert!(path_form.1.starts_with("cohost GET "), "{}", path_form.1);
    assert!(root_form.1.starts_with("cohost GET "), "{}", root_form.1);
}

#[tokio::test]
async fn requests_handed_to_the_cohost_are_not_in_the_mcp_journal() {
    // Arrange
    let rig = cohosted_rig().await;

    // Act
    rig.get_mcp_path("/authorize").await;
    rig.initialize_request().send().await.unwrap();
    let page = rig.events("").await;

    // Assert
    let paths: Vec<Value> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["path"].clone())
        .collect();
    assert_eq!(paths, [json!("/mcp")]);
}

#[tokio::test]
async fn without_a_cohost_an_unrouted_path_is_404_as_before() {
    // Arrange
    let rig = Rig::start().await;

    // Act
    let status = rig.get_mcp_path("/authorize").await.status();

    // Assert
    assert_eq!(status, StatusCode::NOT_FOUND);
}
