//! `POST /control/clock`: moving the clock every expiry decision reads.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Pkce, Rig};

#[tokio::test]
async fn moving_the_clock_expires_access_tokens_and_codes_without_waiting() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let tokens = rig.full_flow(&client).await;
    let pkce = Pkce::new();
    let code = rig.code(&client, &pkce).await;
    assert!(rig.is_active(&tokens.access).await);

    let (status, state) = rig
        .control("/control/clock", Some(json!({"advance_seconds": 3601})))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["clock"], json!({"offset_seconds": 3601}));
    assert_eq!(
        rig.introspect(&tokens.access).await,
        json!({"active": false})
    );
    let (status, body) = rig.exchange(&client, &code, &pkce).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], json!("invalid_grant"));
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("expired")
    );

    // The refresh token lives for 30 days: refreshing restores access.
    let (status, body) = rig
        .refresh(&client, tokens.refresh.as_deref().unwrap())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn introspection_times_are_on_the_rig_clock() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let before = rig.full_flow(&client).await;
    let iat_before = rig.introspect(&before.access).await["iat"]
        .as_u64()
        .unwrap();
    rig.control("/control/clock", Some(json!({"advance_seconds": 1000})))
        .await;
    let after = rig.full_flow(&client).await;
    let introspection = rig.introspect(&after.access).await;
    let iat = introspection["iat"].as_u64().unwrap();
    assert!(
        (iat_before + 1000..iat_before + 1010).contains(&iat),
        "{iat}"
    );
    assert_eq!(introspection["exp"], json!(iat + 3600));
}

#[tokio::test]
async fn the_clock_goes_back_no_further_than_system_time_and_resets() {
    let rig = Rig::start().await;
    let (_, state) = rig
        .control("/control/clock", Some(json!({"advance_seconds": 100})))
        .await;
    assert_eq!(state["clock"]["offset_seconds"], json!(100));
    let (status, state) = rig
        .control("/control/clock", Some(json!({"advance_seconds": -40})))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["clock"]["offset_seconds"], json!(60));
    let (status, body) = rig
        .control("/control/clock", Some(json!({"advance_seconds": -61})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("behind system time")
    );
    assert_eq!(rig.state().await["clock"]["offset_seconds"], json!(60));

    let (status, state) = rig
        .control("/control/clock", Some(json!({"reset": true})))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["clock"]["offset_seconds"], json!(0));
}

#[tokio::test]
async fn bad_clock_moves_are_400() {
    let rig = Rig::start().await;
    for body in [
        json!({}),
        json!({"reset": false}),
        json!({"advance_seconds": 5, "reset": true}),
        json!({"advance_seconds": 315_360_001}),
        json!({"advance_seconds": 1.5}),
        json!({"advance": 5}),
    ] {
        let (status, answer) = rig.control("/control/clock", Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(answer["error"].is_string(), "{body}");
    }
    assert_eq!(rig.state().await["clock"]["offset_seconds"], json!(0));
}
