use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Pkce, Rig};

const PARALLEL: usize = 32;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_redemptions_of_one_code_yield_exactly_one_token() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let pkce = Pkce::new();
    let code = rig.code(&client, &pkce).await;
    let attempts = (0..PARALLEL).map(|_| rig.exchange(&client, &code, &pkce));
    let results = join_all(attempts).await;
    let ok = results
        .iter()
        .filter(|(status, _)| *status == StatusCode::OK)
        .count();
    assert_eq!(ok, 1);
    for (status, body) in results
        .iter()
        .filter(|(status, _)| *status != StatusCode::OK)
    {
        assert_eq!(*status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], json!("invalid_grant"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_refreshes_with_rotation_yield_exactly_one_new_token() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let refresh = rig.full_flow(&client).await.refresh.unwrap();
    rig.control("/control/rotate", Some(json!({"on": true})))
        .await;
    let attempts = (0..PARALLEL).map(|_| rig.refresh(&client, &refresh));
    let results = join_all(attempts).await;
    let ok = results
        .iter()
        .filter(|(status, _)| *status == StatusCode::OK)
        .count();
    assert_eq!(ok, 1);
    assert!(
        results
            .iter()
            .filter(|(status, _)| *status != StatusCode::OK)
            .all(|(_, body)| body["error"] == json!("invalid_grant"))
    );
    assert_eq!(rig.state().await["store"]["refresh_tokens"], json!(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_refreshes_without_rotation_all_succeed() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let refresh = rig.full_flow(&client).await.refresh.unwrap();
    let results = join_all((0..PARALLEL).map(|_| rig.refresh(&client, &refresh))).await;
    assert!(results.iter().all(|(status, _)| *status == StatusCode::OK));
}
