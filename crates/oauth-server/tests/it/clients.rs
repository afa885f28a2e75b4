//! Pre-registered clients (`Config::clients`, `/control/clients`): known without registration,
//! with a fixed id and secret, any loopback redirect URI if so configured; the start-up ones
//! survive every reset, the run-time ones do not.

use oauth_server::{AuthMethod, Config, PreRegistered, RedirectUris};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Pkce, Rig, location, query_param};

const ID: &str = "pre-registered-client";
const SECRET: &str = "pre-registered-secret";

fn basic_client() -> PreRegistered {
    serde_json::from_value(json!({
        "client_id": ID,
        "client_secret": SECRET,
        "auth_method": "client_secret_basic",
        "redirect_uris": "any-loopback",
        "client_name": "conformance",
    }))
    .unwrap()
}

async fn with_basic_client() -> Rig {
    Rig::start_with(Config {
        clients: vec![basic_client()],
        ..Config::default()
    })
    .await
}

/// `/authorize` for `client_id` sending it back to `redirect_uri`; the raw answer.
async fn authorize(
    rig: &Rig,
    client_id: &str,
    redirect_uri: &str,
    pkce: &Pkce,
) -> reqwest::Response {
    rig.http
        .get(rig.url("/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", redirect_uri),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", "S256"),
            ("state", "s"),
        ])
        .send()
        .await
        .unwrap()
}

async fn basic_exchange(
    rig: &Rig,
    code: &str,
    redirect_uri: &str,
    pkce: &Pkce,
    secret: &str,
) -> (StatusCode, Value) {
    let response = rig
        .http
        .post(rig.url("/token"))
        .basic_auth(ID, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", &pkce.verifier),
            ("redirect_uri", redirect_uri),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_pre_registered_client_runs_the_code_flow_with_basic_from_any_loopback_port() {
    let rig = with_basic_client().await;
    for redirect_uri in [
        "http://127.0.0.1:3000/callback",
        "http://localhost:49152/other/path",
        "http://[::1]:1/cb",
    ] {
        let pkce = Pkce::new();
        let response = authorize(&rig, ID, redirect_uri, &pkce).await;
        assert_eq!(response.status(), StatusCode::FOUND, "{redirect_uri}");
        let back = location(&response);
        assert!(back.as_str().starts_with(redirect_uri), "{back}");
        let code = query_param(&back, "code").unwrap();
        let (status, body) = basic_exchange(&rig, &code, redirect_uri, &pkce, SECRET).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["refresh_token"].is_string(), "both grants by default");
    }
    let pkce = Pkce::new();
    let response = authorize(&rig, ID, "http://127.0.0.1:3000/callback", &pkce).await;
    let code = query_param(&location(&response), "code").unwrap();
    let (status, body) = basic_exchange(
        &rig,
        &code,
        "http://127.0.0.1:3000/callback",
        &pkce,
        "wrong",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], json!("invalid_client"));
}

#[tokio::test]
async fn any_loopback_never_redirects_off_loopback() {
    let rig = with_basic_client().await;
    for bad in [
        "https://127.0.0.1/cb",
        "http://evil.example.com/cb",
        "myapp:/cb",
    ] {
        let response = authorize(&rig, ID, bad, &Pkce::new()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert!(response.headers().get("location").is_none());
    }
}

#[tokio::test]
async fn state_and_the_control_plane_list_them_with_secrets_redacted() {
    let rig = with_basic_client().await;
    let state = rig.state().await;
    let listed = &state["clients"][0];
    assert_eq!(listed["client_id"], json!(ID));
    assert_eq!(listed["redirect_uris"], json!("any-loopback"));
    assert_eq!(listed["auth_method"], json!("client_secret_basic"));
    assert_ne!(listed["client_secret"], json!(SECRET));
    assert!(!state.to_string().contains(SECRET), "{state}");
    let (status, body) = rig.get_json("/control/clients").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["clients"], state["clients"]);
}

#[tokio::test]
async fn start_up_clients_survive_resets_and_run_time_ones_do_not() {
    let rig = with_basic_client().await;
    let (status, state) = rig
        .control(
            "/control/clients",
            Some(json!({
                "client_id": "later",
                "auth_method": "none",
                "redirect_uris": ["http://127.0.0.1/cb"],
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{state}");
    assert_eq!(state["clients"].as_array().unwrap().len(), 2);
    let pkce = Pkce::new();
    let response = authorize(&rig, "later", "http://127.0.0.1:5555/cb", &pkce).await;
    assert_eq!(response.status(), StatusCode::FOUND, "loopback any port");

    for reset in ["/control/reset", "/control/issuers/main/reset"] {
        let (status, state) = rig.control(reset, None).await;
        assert_eq!(status, StatusCode::OK);
        let ids: Vec<&Value> = state["clients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|client| &client["client_id"])
            .collect();
        assert_eq!(ids, [&json!(ID)], "{reset}");
        let response = authorize(&rig, "later", "http://127.0.0.1:5555/cb", &Pkce::new()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{reset}");
        let response = authorize(&rig, ID, "http://127.0.0.1:5555/cb", &Pkce::new()).await;
        assert_eq!(response.status(), StatusCode::FOUND, "{reset}");
    }

    let (status, state) = rig.delete(&format!("/control/clients/{ID}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["clients"], json!([]));
    let response = rig
        .http
        .delete(rig.url("/control/clients/nobody"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn pre_registered_clients_are_never_evicted_by_registrations() {
    let rig = Rig::start_with(Config {
        clients: vec![basic_client()],
        limits: oauth_server::Limits {
            max_clients: 2,
            ..Default::default()
        },
        ..Config::default()
    })
    .await;
    for _ in 0..4 {
        rig.public_client().await;
    }
    let response = authorize(&rig, ID, "http://127.0.0.1:3000/cb", &Pkce::new()).await;
    assert_eq!(response.status(), StatusCode::FOUND);
}

#[tokio::test]
async fn a_malformed_pre_registered_client_is_a_400_naming_the_field() {
    let rig = Rig::start().await;
    for (client, named) in [
        (
            json!({"client_id": "c", "auth_method": "client_secret_basic", "redirect_uris": "any-loopback"}),
            "client_secret",
        ),
        (
            json!({"client_id": "c", "auth_method": "none", "redirect_uris": ["http://example.com/cb"]}),
            "redirect_uris",
        ),
        (
            json!({"client_id": "c", "auth_method": "sometimes", "redirect_uris": "any-loopback"}),
            "auth_method",
        ),
        (
            json!({"client_id": "c", "auth_method": "none", "redirect_uris": "any-loopback", "extra": 1}),
            "extra",
        ),
    ] {
        let response = rig
            .http
            .post(rig.url("/control/clients"))
            .json(&client)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{client}");
        let why = response.text().await.unwrap();
        assert!(why.contains(named), "{client}: {why}");
    }
    let public = rig.public_client().await;
    let response = rig
        .http
        .post(rig.url("/control/clients"))
        .json(&json!({"client_id": public.id, "auth_method": "none", "redirect_uris": "any-loopback"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "a registered id stays"
    );
}

#[tokio::test]
async fn a_bad_start_up_client_stops_the_server_from_starting() {
    let bad = PreRegistered {
        client_secret: None,
        auth_method: AuthMethod::ClientSecretPost,
        redirect_uris: RedirectUris::AnyLoopback,
        ..basic_client()
    };
    let started = oauth_server::AuthServer::start(Config {
        clients: vec![bad],
        ..Config::default()
    })
    .await;
    let error = started.err().expect("refused").to_string();
    assert!(error.contains("client_secret"), "{error}");
}
