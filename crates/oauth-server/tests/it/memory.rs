//! Memory stays bounded: expired codes and tokens leave the store, and the caps answer a clear
//! error instead of growing without end. Expiry is driven by the rig clock, never by waiting.

use std::time::{Duration, Instant};

use futures::future::join_all;
use oauth_server::{Config, Limits};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Pkce, Rig, TestClient, query_param};

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
    let (status, headers, body) = rig
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
    assert_eq!(headers["retry-after"], "1", "a full store is worth a retry");
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

fn clients_at_most(max_clients: usize) -> Config {
    Config {
        limits: Limits {
            max_clients,
            ..Limits::default()
        },
        ..Config::default()
    }
}

/// A token request by `client` that authenticates it (a use) and fails on the made-up grant.
async fn use_at_token_endpoint(rig: &Rig, client: &TestClient) -> (StatusCode, Value) {
    rig.refresh(client, "made-up-refresh-token").await
}

async fn is_registered(rig: &Rig, client: &TestClient) -> bool {
    let (status, body) = use_at_token_endpoint(rig, client).await;
    match status {
        StatusCode::BAD_REQUEST => true,
        StatusCode::UNAUTHORIZED => false,
        other => panic!("unexpected {other}: {body}"),
    }
}

#[tokio::test]
async fn at_the_client_cap_idle_clients_are_evicted_least_recently_used_first_and_one_holding_a_token_is_kept()
 {
    // Arrange: three places; `holder` holds tokens, `used` was used after `idle` registered.
    let rig = Rig::start_with(clients_at_most(3)).await;
    let holder = rig.public_client().await;
    let used = rig.public_client().await;
    let idle = rig.public_client().await;
    let tokens = rig.full_flow(&holder).await;
    use_at_token_endpoint(&rig, &used).await;
    let next_event = rig.events(0).await.last().unwrap()["seq"].as_u64().unwrap() + 1;

    // Act
    let fourth = rig.public_client().await;
    let fifth = rig.public_client().await;
    let sixth = rig.public_client().await;

    // Assert: `idle` went first, then `used`, then `fourth`; `holder` stays.
    let registrations: Vec<Value> = rig
        .events(next_event)
        .await
        .into_iter()
        .filter(|event| event["path"] == "/register")
        .collect();
    let notes: Vec<&Value> = registrations.iter().map(|event| &event["note"]).collect();
    let short = |client: &TestClient| json!(format!("evicted={}", &client.id[..8]));
    assert_eq!(notes, [&short(&idle), &short(&used), &short(&fourth)]);
    assert!(!is_registered(&rig, &idle).await);
    assert!(!is_registered(&rig, &used).await);
    assert!(!is_registered(&rig, &fourth).await);
    assert!(is_registered(&rig, &fifth).await);
    assert!(is_registered(&rig, &sixth).await);
    let (status, body) = rig.refresh(&holder, tokens.refresh.as_ref().unwrap()).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the client in use kept its place: {body}"
    );
    let state = rig.state().await;
    assert_eq!(state["store"]["clients"], json!(3), "{state}");
}

#[tokio::test]
async fn a_client_holding_only_an_unredeemed_code_is_kept_and_one_whose_tokens_expired_is_not() {
    // Arrange
    let rig = Rig::start_with(clients_at_most(2)).await;
    let lapsed = rig.public_client().await;
    rig.full_flow(&lapsed).await;
    let authorizing = rig.public_client().await;
    rig.control(
        "/control/clock",
        Some(json!({"advance_seconds": 31 * 24 * 3600})),
    )
    .await;
    let pkce = Pkce::new();
    let code = rig.code(&authorizing, &pkce).await;

    // Act
    let newcomer = rig.public_client().await;

    // Assert
    assert!(!is_registered(&rig, &lapsed).await, "its tokens expired");
    let (status, body) = rig.exchange(&authorizing, &code, &pkce).await;
    assert_eq!(status, StatusCode::OK, "the code kept it: {body}");
    assert!(is_registered(&rig, &newcomer).await);
}

#[tokio::test]
async fn an_evicted_client_gets_401_invalid_client_at_the_token_endpoint_and_can_register_again() {
    // Arrange
    let rig = Rig::start_with(clients_at_most(1)).await;
    let evicted = rig.client_with("client_secret_post").await;
    rig.public_client().await;

    // Act
    let (status, body) = rig
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", "any"),
            ("code_verifier", &Pkce::new().verifier),
            ("redirect_uri", crate::support::REDIRECT_URI),
            ("client_id", &evicted.id),
            ("client_secret", evicted.secret.as_deref().unwrap()),
        ])
        .await;
    let again = rig.public_client().await;

    // Assert
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], json!("invalid_client"));
    rig.full_flow(&again).await;
}
