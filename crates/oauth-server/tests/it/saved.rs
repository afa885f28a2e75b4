//! `AuthServer::save` and `AuthServer::restore`: a client's registration, codes and tokens, and
//! the tester's switches and fault rules, carried from one server process to the next.

use std::time::Duration;

use oauth_server::SavedHost;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Pkce, REDIRECT_URI, Rig, TestClient, tokens};

/// Saves `rig`'s server and reads it back through JSON, as the file a later process reads.
fn saved_as_json(rig: &Rig) -> (String, SavedHost) {
    let text = serde_json::to_string_pretty(&rig.server.save()).unwrap();
    let read = serde_json::from_str(&text).unwrap();
    (text, read)
}

/// The code grant for a client that sends its secret in the body.
async fn exchange_with_secret(rig: &Rig, client: &TestClient, code: &str, pkce: &Pkce) -> Value {
    let (status, body) = rig
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", &client.id),
            ("client_secret", client.secret.as_deref().unwrap()),
            ("code_verifier", &pkce.verifier),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The refresh grant for a client that sends its secret in the body.
async fn refresh_with_secret(rig: &Rig, client: &TestClient, refresh: &str) -> (StatusCode, Value) {
    rig.token(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh),
        ("client_id", &client.id),
        ("client_secret", client.secret.as_deref().unwrap()),
    ])
    .await
}

async fn ok(rig: &Rig, path: &str, body: Value) {
    let (status, answer) = rig.control(path, Some(body)).await;
    assert!(status.is_success(), "{path}: {status} {answer}");
}

#[tokio::test]
async fn a_restored_server_honours_the_old_tokens_codes_secrets_switches_and_rules() {
    // Arrange: a confidential client with a rotated grant and an unredeemed code, a
    // pre-registered machine client, switches flipped and a fault rule.
    let old = Rig::start().await;
    ok(&old, "/control/rotate", json!({"on": true})).await;
    ok(
        &old,
        "/control/reuse-detect",
        json!({"on": true, "grace_seconds": 0}),
    )
    .await;
    ok(&old, "/control/expire-access", json!({"seconds": 600})).await;
    ok(&old, "/control/profile", json!({"iss": "omit"})).await;
    ok(
        &old,
        "/control/clients",
        json!({"client_id": "machine", "client_secret": "machine-secret-kept-as-a-digest",
               "auth_method": "client_secret_basic", "grant_types": ["client_credentials"]}),
    )
    .await;
    let client = old.client_with("client_secret_post").await;
    let pkce = Pkce::new();
    let code = old.code(&client, &pkce).await;
    let first = tokens(exchange_with_secret(&old, &client, &code, &pkce).await);
    let (status, body) =
        refresh_with_secret(&old, &client, first.refresh.as_deref().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rotated = tokens(body);
    let unredeemed_pkce = Pkce::new();
    let unredeemed = old.code(&client, &unredeemed_pkce).await;
    old.fault(json!({"endpoint": "revoke", "respond": {"status": 503}, "times": 2}))
        .await;
    ok(&old, "/control/deny-consent", json!({"on": true})).await;
    let (_, old_profile) = old.get_json("/control/profile").await;

    // Act: save, then mint a token the saved state does not know; restore in a new server.
    let (text, saved) = saved_as_json(&old);
    let (status, after_save) =
        refresh_with_secret(&old, &client, rotated.refresh.as_deref().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{after_save}");
    let after_save = tokens(after_save);
    let new = Rig::start().await;
    let notes = new.server.restore(saved).unwrap();

    // Assert: nothing a client could present is in the file.
    let secret = client.secret.clone().unwrap();
    for held in [
        first.access.as_str(),
        first.refresh.as_deref().unwrap(),
        rotated.access.as_str(),
        rotated.refresh.as_deref().unwrap(),
        code.as_str(),
        unredeemed.as_str(),
        secret.as_str(),
        "machine-secret-kept-as-a-digest",
    ] {
        assert!(
            !text.contains(held),
            "{held} is in the saved state:\n{text}"
        );
    }
    assert!(notes[0].starts_with("issuer 'main':"), "{notes:?}");
    // The switches, the profile and the rules are back.
    let state = new.state().await;
    assert_eq!(
        state["toggles"]["rotate_refresh_tokens"],
        json!(true),
        "{state}"
    );
    assert_eq!(state["toggles"]["deny_consent"], json!(true), "{state}");
    assert_eq!(state["toggles"]["access_token_ttl_seconds"], json!(600));
    assert_eq!(
        state["reuse_detection"],
        json!({"on": true, "grace_seconds": 0})
    );
    let (_, new_profile) = new.get_json("/control/profile").await;
    assert_eq!(new_profile, old_profile);
    let (_, clients) = new.get_json("/control/clients").await;
    assert_eq!(
        clients["clients"][0]["client_id"],
        json!("machine"),
        "{clients}"
    );
    assert_eq!(
        clients["clients"][0]["client_secret"],
        json!("machin…"),
        "{clients}"
    );
    // The access token introspects active, the unredeemed code redeems, and the rotated
    // refresh token refreshes with the client's secret.
    assert!(new.is_active(&rotated.access).await);
    assert!(
        !new.is_active(&after_save.access).await,
        "minted after the save"
    );
    let redeemed = exchange_with_secret(&new, &client, &unredeemed, &unredeemed_pkce).await;
    assert!(redeemed["access_token"].is_string(), "{redeemed}");
    let (status, body) =
        refresh_with_secret(&new, &client, rotated.refresh.as_deref().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) =
        refresh_with_secret(&new, &client, after_save.refresh.as_deref().unwrap()).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "minted after the save: {body}"
    );
    // The first refresh token was rotated out: replayed, reuse detection revokes the grant.
    let (status, body) =
        refresh_with_secret(&new, &client, first.refresh.as_deref().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("reuse detected"),
        "{body}"
    );
    assert!(
        !new.is_active(&rotated.access).await,
        "revoked with its grant"
    );
    // The machine client's secret still authenticates.
    let response = new
        .http
        .post(new.url("/token"))
        .basic_auth("machine", Some("machine-secret-kept-as-a-digest"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // The fault rule fires its two remaining times, then is gone.
    for _ in 0..2 {
        let response = new.post_form("/revoke", &[("token", "anything")]).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    let response = new.post_form("/revoke", &[("token", "anything")]).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn what_expired_by_the_restoring_clock_is_dropped() {
    // Arrange: a live and a redeemed code (ten minutes), an access token (an hour), a refresh
    // token (a month).
    let old = Rig::start().await;
    let client = old.public_client().await;
    let issued = old.full_flow(&client).await;
    let pkce = Pkce::new();
    let code = old.code(&client, &pkce).await;
    let (_, saved) = saved_as_json(&old);

    // Act: the new server's clock is two hours on.
    let new = Rig::start().await;
    new.server.clock().advance(Duration::from_secs(2 * 3600));
    let notes = new.server.restore(saved).unwrap();

    // Assert
    assert!(
        notes[0].contains("1 clients, 1 codes and tokens") && notes[0].contains("3 expired"),
        "{notes:?}"
    );
    assert!(!new.is_active(&issued.access).await);
    let (status, body) = new.exchange(&client, &code, &pkce).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["error_description"],
        json!("authorization code is unknown")
    );
    let (status, body) = new
        .refresh(&client, issued.refresh.as_deref().unwrap())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn an_issuer_not_hosted_now_is_dropped_with_a_note_and_a_damaged_file_changes_nothing() {
    // Arrange
    let old = Rig::start().await;
    let client = old.public_client().await;
    let issued = old.full_flow(&client).await;
    let (_, saved) = saved_as_json(&old);
    let mut elsewhere = saved.clone();
    elsewhere.issuers[0].name = "gone".into();
    let mut damaged = saved.clone();
    let tokens = &mut damaged.issuers[0].access_tokens;
    let token = tokens.values().next().unwrap().clone();
    tokens.insert("not-a-digest".into(), token);
    let new = Rig::start().await;

    // Act
    let dropped = new.server.restore(elsewhere).unwrap();
    let refused = new.server.restore(damaged).unwrap_err();

    // Assert
    assert_eq!(
        dropped,
        ["issuer 'gone' is not hosted now; its state was dropped"]
    );
    assert!(
        refused.contains("access_tokens: key 'not-a-digest'"),
        "{refused}"
    );
    assert!(!new.is_active(&issued.access).await, "nothing was restored");
    assert_eq!(new.state().await["store"]["clients"], json!(0));
}
