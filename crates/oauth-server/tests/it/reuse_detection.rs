//! `POST /control/reuse-detection`: a rotated-out refresh token presented again.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Rig, TestClient, Tokens};

/// A rig with rotation and reuse detection on, and a client holding a grant.
async fn rotating_rig(grace_seconds: u64) -> (Rig, TestClient, Tokens) {
    let rig = Rig::start().await;
    rig.control("/control/rotate", Some(json!({"on": true})))
        .await;
    let (status, state) = rig
        .control(
            "/control/reuse-detection",
            Some(json!({"on": true, "grace_seconds": grace_seconds})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        state["reuse_detection"],
        json!({"on": true, "grace_seconds": grace_seconds})
    );
    let client = rig.public_client().await;
    let tokens = rig.full_flow(&client).await;
    (rig, client, tokens)
}

/// Refreshes with `token`, which must succeed; the new pair.
async fn rotate(rig: &Rig, client: &TestClient, token: &str) -> Tokens {
    let (status, body) = rig.refresh(client, token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    crate::support::tokens(body)
}

#[tokio::test]
async fn a_rotated_out_token_replayed_after_the_grace_period_revokes_its_whole_family() {
    let (rig, client, first) = rotating_rig(0).await;
    let a = first.refresh.clone().unwrap();
    let second = rotate(&rig, &client, &a).await;
    let b = second.refresh.clone().unwrap();
    assert_ne!(a, b);
    let bystander = rig.public_client().await;
    let other = rig.full_flow(&bystander).await;

    let (status, body) = rig.refresh(&client, &a).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": "invalid_grant",
               "error_description": "refresh token reuse detected; the grant was revoked"})
    );
    let (status, body) = rig.refresh(&client, &b).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the successor died too: {body}"
    );
    assert!(!rig.is_active(&first.access).await);
    assert!(!rig.is_active(&second.access).await);

    assert!(
        rig.is_active(&other.access).await,
        "another family is untouched"
    );
    rotate(&rig, &bystander, other.refresh.as_deref().unwrap()).await;

    let state = rig.state().await;
    assert_eq!(state["counters"]["reuse_detections"], json!(1));
    let events = rig.events(0).await;
    assert!(
        events
            .iter()
            .any(|event| event["note"] == json!("reuse detected"))
    );
}

#[tokio::test]
async fn a_replay_within_the_grace_period_gets_a_new_pair_and_later_is_reuse() {
    let (rig, client, first) = rotating_rig(60).await;
    let a = first.refresh.clone().unwrap();
    let second = rotate(&rig, &client, &a).await;
    let b = second.refresh.clone().unwrap();

    let retry = rotate(&rig, &client, &a).await;
    let c = retry.refresh.clone().unwrap();
    assert!(c != a && c != b, "a fresh refresh token");
    assert!(rig.is_active(&retry.access).await);
    assert!(rig.is_active(&second.access).await);
    assert_eq!(rig.state().await["counters"]["reuse_detections"], json!(0));

    rig.control("/control/clock", Some(json!({"advance_seconds": 61})))
        .await;
    let (status, body) = rig.refresh(&client, &a).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("reuse detected")
    );
    let (status, _) = rig.refresh(&client, &c).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the whole family is gone");
}

#[tokio::test]
async fn without_detection_a_rotated_out_token_is_just_invalid() {
    let rig = Rig::start().await;
    rig.control("/control/rotate", Some(json!({"on": true})))
        .await;
    let client = rig.public_client().await;
    let first = rig.full_flow(&client).await;
    let a = first.refresh.clone().unwrap();
    let second = rotate(&rig, &client, &a).await;

    let (status, body) = rig.refresh(&client, &a).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], json!("invalid_grant"));
    assert!(
        !body["error_description"]
            .as_str()
            .unwrap()
            .contains("reuse")
    );
    assert!(rig.is_active(&second.access).await, "nothing was revoked");
    rotate(&rig, &client, second.refresh.as_deref().unwrap()).await;
    assert_eq!(rig.state().await["reuse_detection"]["on"], json!(false));
}

#[tokio::test]
async fn another_client_replaying_a_rotated_out_token_revokes_nothing() {
    let (rig, client, first) = rotating_rig(0).await;
    let a = first.refresh.clone().unwrap();
    let second = rotate(&rig, &client, &a).await;
    let thief = rig.public_client().await;
    let (status, body) = rig.refresh(&thief, &a).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        !body["error_description"]
            .as_str()
            .unwrap()
            .contains("reuse")
    );
    rotate(&rig, &client, second.refresh.as_deref().unwrap()).await;
}

#[tokio::test]
async fn a_full_token_store_forgets_rotated_out_tokens_before_refusing_to_issue() {
    let rig = Rig::start_with(oauth_server::Config {
        limits: oauth_server::Limits {
            max_tokens: 4,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    rig.control("/control/rotate", Some(json!({"on": true})))
        .await;
    rig.control("/control/reuse-detection", Some(json!({"on": true})))
        .await;
    // Access tokens that expire at once leave the store to refresh tokens, live and retired.
    rig.control("/control/expires-in", Some(json!({"seconds": 0})))
        .await;
    let client = rig.public_client().await;
    let mut refresh = rig.full_flow(&client).await.refresh.unwrap();
    // Each refresh retires a token; without forgetting them, the third would find no room.
    for _ in 0..4 {
        refresh = rotate(&rig, &client, &refresh).await.refresh.unwrap();
    }
}

#[tokio::test]
async fn bad_reuse_detection_settings_are_400() {
    let rig = Rig::start().await;
    for body in [
        json!({"grace_seconds": 5}),
        json!({"on": true, "grace_seconds": 3601}),
        json!({"on": true, "grace_seconds": -1}),
        json!({"on": "yes"}),
    ] {
        let (status, _) = rig
            .control("/control/reuse-detection", Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    let (status, state) = rig
        .control("/control/reuse-detection", Some(json!({"on": true})))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        state["reuse_detection"],
        json!({"on": true, "grace_seconds": 0})
    );
    let (_, state) = rig.control("/control/reset", None).await;
    assert_eq!(
        state["reuse_detection"],
        json!({"on": false, "grace_seconds": 0})
    );
}
