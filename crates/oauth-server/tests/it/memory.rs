//! Memory stays bounded: expired codes and tokens leave the store, and the caps answer a clear
//! error instead of growing without end. Expiry is driven by the rig clock, never by waiting.

use std::time::{Duration, Instant};

use futures::future::join_all;
use oauth_server::{Config, Limits};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Pkce, Rig, query_param};

/// Polls `/control/state` until `ready` holds, for at most five seconds.
async fn state_when(rig: &Rig, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let state = rig.state().await;
        if ready(&state) || Instant::now() > deadline {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn stored_tokens(state: &Value) -> u64 {
    state["stored"]["tokens"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_tokens_and_codes_are_swept_and_the_store_shrinks_back_to_empty() {
    // Arrange: a sweeper that runs every 50 ms, and 2,000 access tokens from parallel refreshes.
    let rig = Rig::start_with(Config {
        sweep_interval: Duration::from_millis(50),
        ..Config::default()
    })
    .await;
    let client = rig.public_client().await;
    let refresh = rig.full_flow(&client).await.refresh.unwrap();
    let unredeemed = rig.code(&client, &Pkce::new()).await;
    for _ in 0..(2_000 / 64) {
        let batch = join_all((0..64).map(|_| rig.refresh(&client, &refresh))).await;
        assert!(batch.iter().all(|(status, _)| *status == StatusCode::OK));
    }
    let full = rig.state().await;
    assert_eq!(stored_tokens(&full), 1 + 1 + 31 * 64, "{full}");
    assert_eq!(full["stored"]["codes"], json!(2), "redeemed and unredeemed");

    // Act: an hour passes (access tokens and codes expire), then a month (refresh tokens).
    rig.control("/control/clock", Some(json!({"advance_seconds": 3601})))
        .await;
    let after_an_hour = state_when(&rig, |state| stored_tokens(state) == 1).await;
    rig.control(
        "/control/clock",
        Some(json!({"advance_seconds": 31 * 24 * 3600})),
    )
    .await;
    let after_a_month = state_when(&rig, |state| stored_tokens(state) == 0).await;

    // Assert
    assert_eq!(stored_tokens(&after_an_hour), 1, "{after_an_hour}");
    assert_eq!(
        after_an_hour["stored"]["codes"],
        json!(0),
        "{after_an_hour}"
    );
    assert_eq!(stored_tokens(&after_a_month), 0, "{after_a_month}");
    let (status, body) = rig.exchange(&client, &unredeemed, &Pkce::new()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn a_full_token_store_answers_503_with_a_reason_until_tokens_expire() {
    // Arrange
    let rig = Rig::start_with(Config {
        limits: Limits {
            max_tokens: 4,
            ..Limits::default()
        },
        ..Config::default()
    })
    .await;
    let client = rig.public_client().await;
    let first = rig.full_flow(&client).await;
    let refresh = first.refresh.unwrap();
    let (status, _) = rig.refresh(&client, &refresh).await;
    assert_eq!(status, StatusCode::OK);

    // Act
    let (status, _, body) = rig
        .token_raw(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", &client.id),
        ])
        .await;
    rig.control("/control/clock", Some(json!({"advance_seconds": 3601})))
        .await;
    let (after_expiry, _) = rig.refresh(&client, &refresh).await;

    // Assert
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], json!("temporarily_unavailable"));
    let reason = body["error_description"].as_str().unwrap();
    assert!(
        reason.contains("token store is full (4 live tokens)"),
        "{reason}"
    );
    assert_eq!(after_expiry, StatusCode::OK, "expired tokens made room");
}

#[tokio::test]
async fn a_full_code_store_refuses_new_authorizations_until_codes_expire() {
    // Arrange
    let rig = Rig::start_with(Config {
        limits: Limits {
            max_codes: 2,
            ..Limits::default()
        },
        ..Config::default()
    })
    .await;
    let client = rig.public_client().await;
    rig.code(&client, &Pkce::new()).await;
    rig.code(&client, &Pkce::new()).await;

    // Act
    let refused = rig.authorize(&client, &Pkce::new(), &[]).await;
    rig.control("/control/clock", Some(json!({"advance_seconds": 601})))
        .await;
    let after_expiry = rig.authorize(&client, &Pkce::new(), &[]).await;

    // Assert: the refusal goes back to the client, as the redirect error it can read.
    assert_eq!(
        query_param(&refused, "error").as_deref(),
        Some("temporarily_unavailable"),
        "{refused}"
    );
    assert!(query_param(&refused, "code").is_none());
    assert!(
        query_param(&after_expiry, "code").is_some(),
        "{after_expiry}"
    );
}
