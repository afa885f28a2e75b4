//! Scenario 8: A client starting from stored credentials: its registered client id, an access token
//! that expired long ago, and a refresh token the rig was started with (`SEED_REFRESH_TOKEN`, valid
//! for any client). rmcp loads them (`initialize_from_store`), sees the access token is spent,
//! refreshes before its first request and connects, with no consent round.

use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use rmcp::transport::auth::{CredentialStore, OAuthTokenResponse, StoredCredentials};
use serde_json::json;

use crate::app::{App, REDIRECT_URI, call};
use crate::record::Record;
use crate::rig::{self, Scheme};

const SEEDED: &str = "seeded-refresh-token-for-rmcp";

pub async fn run(scheme: Scheme) {
    let record = Record::start(scheme, 8, "seeded refresh token");
    // Arrange
    let sim = rig::start(scheme, |builder| builder.seed_refresh_token(SEEDED)).await;
    let app = App::new(&sim);
    // The client registered in an earlier run; the AS must know its id to accept a refresh.
    let metadata = app.as_metadata(&sim.issuer()).await;
    let (status, registered) = app
        .post_json(
            metadata["registration_endpoint"]
                .as_str()
                .expect("DCR is offered"),
            &json!({
                "client_name": "mcp-oauth-sim rmcp matrix",
                "redirect_uris": [REDIRECT_URI],
                "grant_types": ["authorization_code", "refresh_token"],
                "token_endpoint_auth_method": "none",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    let client_id = registered["client_id"]
        .as_str()
        .expect("a client id")
        .to_owned();
    let tokens: OAuthTokenResponse = serde_json::from_value(json!({
        "access_token": "an-access-token-from-an-earlier-run",
        "token_type": "bearer",
        "expires_in": 3600,
        "refresh_token": SEEDED,
        "scope": "mcp:tools",
    }))
    .expect("a token response");
    let two_hours_ago = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        - 7200;
    let stored = StoredCredentials::new(
        client_id.clone(),
        Some(tokens),
        vec!["mcp:tools".to_owned()],
        Some(two_hours_ago),
    )
    .with_issuer(Some(sim.issuer().to_owned()));
    app.store
        .save(stored)
        .await
        .expect("the in-memory store saves");

    // Act
    let mut manager = app.manager().await;
    let loaded = manager
        .initialize_from_store()
        .await
        .expect("rmcp reads the store and discovers the AS");
    let session = app.connect(manager).await.expect("initialize succeeds");
    let caller = call(&session, "whoami", json!({}))
        .await
        .expect("whoami succeeds");
    let state = sim.control().state().await.expect("state");

    // Assert
    assert!(loaded, "rmcp accepted the stored credentials");
    let identity = caller.structured_content.expect("structured content");
    assert_eq!(identity["client_id"], client_id.as_str());
    assert_ne!(
        app.stored_token("access_token").await,
        "an-access-token-from-an-earlier-run"
    );
    assert_eq!(
        app.stored_token("refresh_token").await,
        SEEDED,
        "without rotation the AS keeps the seeded token"
    );
    let oauth = &state.oauth.counters;
    assert_eq!(oauth.token_requests.refresh_token, 1);
    assert_eq!(oauth.refreshes, 1);
    assert_eq!(oauth.token_errors, 0);
    assert_eq!(oauth.authorizations, 0, "no consent round");
    assert_eq!(oauth.token_requests.authorization_code, 0);
    assert_eq!(oauth.registrations, 1, "only the earlier run's");
    assert_eq!(state.mcp.counters.tool_calls, 1);

    record.passed(
        "initialize_from_store, then a proactive refresh with the stored refresh token before the first request; no consent round",
    );
}
