use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::Rig;

#[tokio::test]
async fn active_token_introspects_with_every_field() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let tokens = rig.full_flow(&client).await;
    let body = rig.introspect(&tokens.access).await;
    assert_eq!(body["active"], json!(true));
    assert_eq!(body["scope"], json!("mcp:tools"));
    assert_eq!(body["client_id"], json!(client.id));
    assert_eq!(body["sub"], json!("demo-user"));
    assert_eq!(body["iss"], json!(rig.server.issuer()));
    assert_eq!(body["token_type"], json!("Bearer"));
    let (iat, exp) = (body["iat"].as_u64().unwrap(), body["exp"].as_u64().unwrap());
    assert_eq!(exp - iat, 3600);
    let counters = &rig.state().await["counters"];
    assert_eq!(counters["introspections"], json!(1));
    assert_eq!(counters["active_introspections"], json!(1));
}

#[tokio::test]
async fn get_with_query_token_is_accepted_like_the_original() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let tokens = rig.full_flow(&client).await;
    let (status, body) = rig
        .get_json(&format!("/introspect?token={}", tokens.access))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["active"], json!(true));
}

#[tokio::test]
async fn unknown_token_and_refresh_token_are_exactly_inactive() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let tokens = rig.full_flow(&client).await;
    assert_eq!(
        rig.introspect("no-such-token").await,
        json!({"active": false})
    );
    assert_eq!(
        rig.introspect(tokens.refresh.as_deref().unwrap()).await,
        json!({"active": false})
    );
}

#[tokio::test]
async fn introspection_without_token_is_invalid_request() {
    let rig = Rig::start().await;
    let response = rig.post_form("/introspect", &[("nope", "x")]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], json!("invalid_request"));
    let (status, _) = rig.get_json("/introspect").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn revoking_an_access_token_deactivates_only_it() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let first = rig.full_flow(&client).await;
    let second = rig.full_flow(&client).await;
    let response = rig
        .post_form(
            "/revoke",
            &[
                ("token", first.access.as_str()),
                ("client_id", client.id.as_str()),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert!(!rig.is_active(&first.access).await);
    assert!(rig.is_active(&second.access).await);
    let (status, _) = rig
        .refresh(&client, first.refresh.as_deref().unwrap())
        .await;
    assert_eq!(status, StatusCode::OK, "the refresh token survives");
}

#[tokio::test]
async fn revoking_a_refresh_token_kills_its_grants_access_tokens() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let tokens = rig.full_flow(&client).await;
    let refresh = tokens.refresh.clone().unwrap();
    let (_, refreshed) = rig.refresh(&client, &refresh).await;
    let other_grant = rig.full_flow(&client).await;

    let response = rig
        .post_form(
            "/revoke",
            &[
                ("token", refresh.as_str()),
                ("token_type_hint", "refresh_token"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!rig.is_active(&tokens.access).await);
    assert!(
        !rig.is_active(refreshed["access_token"].as_str().unwrap())
            .await
    );
    assert!(rig.is_active(&other_grant.access).await);
    let (status, _) = rig.refresh(&client, &refresh).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(rig.state().await["counters"]["revocations"], json!(1));
}

#[tokio::test]
async fn revoking_an_unknown_token_is_still_200() {
    let rig = Rig::start().await;
    let response = rig.post_form("/revoke", &[("token", "never-issued")]).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_client_cannot_revoke_another_clients_token() {
    let rig = Rig::start().await;
    let owner = rig.public_client().await;
    let other = rig.public_client().await;
    let tokens = rig.full_flow(&owner).await;
    let response = rig
        .post_form(
            "/revoke",
            &[
                ("token", tokens.access.as_str()),
                ("client_id", other.id.as_str()),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], json!("unauthorized_client"));
    assert!(rig.is_active(&tokens.access).await);
}

#[tokio::test]
async fn revocation_with_a_wrong_secret_is_invalid_client() {
    let rig = Rig::start().await;
    let client = rig.client_with("client_secret_basic").await;
    let response = rig
        .http
        .post(rig.url("/revoke"))
        .basic_auth(&client.id, Some("wrong"))
        .form(&[("token", "whatever")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn revocation_without_token_is_invalid_request() {
    let rig = Rig::start().await;
    let response = rig.post_form("/revoke", &[("token", "")]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], json!("invalid_request"));
}
