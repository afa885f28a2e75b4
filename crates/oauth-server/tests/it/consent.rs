//! `POST /control/consent`: consent that grants a narrower scope than asked.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Pkce, Rig, query_param};

fn three_scopes() -> oauth_server::Config {
    oauth_server::Config {
        scopes: vec!["mcp:tools".into(), "mcp:write".into(), "mcp:admin".into()],
        ..Default::default()
    }
}

#[tokio::test]
async fn narrowed_consent_grants_only_the_set_scope_whatever_was_asked() {
    let rig = Rig::start_with(three_scopes()).await;
    let client = rig.public_client().await;
    let (status, state) = rig
        .control(
            "/control/consent",
            Some(json!({"grant_scope": "mcp:tools"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["consent"]["grant_scope"], json!("mcp:tools"));

    let pkce = Pkce::new();
    let redirect = rig
        .authorize(&client, &pkce, &[("scope", "mcp:tools mcp:write")])
        .await;
    let code = query_param(&redirect, "code").unwrap();
    let (status, body) = rig.exchange(&client, &code, &pkce).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["scope"], json!("mcp:tools"));
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(rig.introspect(access).await["scope"], json!("mcp:tools"));
    let (status, body) = rig
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
            ("client_id", &client.id),
            ("scope", "mcp:write"),
        ])
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the grant is the narrowed one"
    );
    assert_eq!(body["error"], json!("invalid_scope"));
    let events = rig.events(0).await;
    let authorize = events
        .iter()
        .find(|event| event["path"] == "/authorize")
        .unwrap();
    assert_eq!(authorize["note"], json!("consent narrowed"));

    let (_, state) = rig
        .control("/control/consent", Some(json!({"grant_scope": null})))
        .await;
    assert_eq!(state["consent"]["grant_scope"], json!(null));
    let pkce = Pkce::new();
    let redirect = rig
        .authorize(&client, &pkce, &[("scope", "mcp:tools mcp:write")])
        .await;
    let (_, body) = rig
        .exchange(&client, &query_param(&redirect, "code").unwrap(), &pkce)
        .await;
    assert_eq!(body["scope"], json!("mcp:tools mcp:write"));
}

#[tokio::test]
async fn consent_scope_must_be_known() {
    let rig = Rig::start_with(three_scopes()).await;
    for body in [
        json!({"grant_scope": "mcp:tools mcp:nope"}),
        json!({"grant_scope": " "}),
        json!({"grant_scope": 5}),
        json!({}),
        json!({"grant_scope": "mcp:tools", "extra": 1}),
    ] {
        let (status, answer) = rig.control("/control/consent", Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(answer["error"].is_string(), "{body}");
    }
    let (_, state) = rig.control("/control/reset", None).await;
    assert_eq!(state["consent"]["grant_scope"], json!(null));
}

#[tokio::test]
async fn reset_ends_narrowed_consent() {
    let rig = Rig::start_with(three_scopes()).await;
    rig.control(
        "/control/consent",
        Some(json!({"grant_scope": "mcp:admin"})),
    )
    .await;
    let (_, state) = rig.control("/control/reset", None).await;
    assert_eq!(state["consent"]["grant_scope"], json!(null));
}
