use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Pkce, REDIRECT_URI, Rig, query_param};

fn assert_oauth_error(status: StatusCode, body: &Value, expected_status: StatusCode, error: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["error"], json!(error), "{body}");
    assert!(body["error_description"].is_string(), "{body}");
}

#[tokio::test]
async fn code_exchange_returns_bearer_tokens_that_are_never_cached() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let pkce = Pkce::new();
    let code = rig.code(&client, &pkce).await;
    let (status, headers, body) = rig
        .token_raw(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &pkce.verifier),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", &client.id),
        ])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["pragma"], "no-cache");
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(body["token_type"], json!("Bearer"));
    assert_eq!(body["expires_in"], json!(3600));
    assert_eq!(body["scope"], json!("mcp:tools"));
    assert_eq!(body["access_token"].as_str().unwrap().len(), 43);
    assert_eq!(body["refresh_token"].as_str().unwrap().len(), 43);
    assert_ne!(body["access_token"], body["refresh_token"]);
    let state = rig.state().await;
    assert_eq!(
        state["counters"]["token_requests"]["authorization_code"],
        json!(1)
    );
    assert_eq!(state["store"]["access_tokens"], json!(1));
    assert_eq!(state["store"]["refresh_tokens"], json!(1));
    assert_eq!(state["store"]["codes"], json!(0));
}

#[tokio::test]
async fn reused_code_is_invalid_grant_and_revokes_what_it_issued() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let pkce = Pkce::new();
    let code = rig.code(&client, &pkce).await;
    let (status, first) = rig.exchange(&client, &code, &pkce).await;
    assert_eq!(status, StatusCode::OK);
    let tokens = crate::support::tokens(first);
    assert!(rig.is_active(&tokens.access).await);

    let (status, body) = rig.exchange(&client, &code, &pkce).await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");
    assert!(
        !rig.is_active(&tokens.access).await,
        "replay revokes the access token"
    );
    let (status, body) = rig
        .refresh(&client, tokens.refresh.as_deref().unwrap())
        .await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn wrong_or_malformed_verifier_is_refused_and_burns_the_code() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;

    let pkce = Pkce::new();
    let code = rig.code(&client, &pkce).await;
    let wrong = Pkce::new();
    let (status, body) = rig.exchange(&client, &code, &wrong).await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");
    let (status, body) = rig.exchange(&client, &code, &pkce).await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");

    let code = rig.code(&client, &pkce).await;
    for verifier in [
        "",
        "short",
        &"~".repeat(129),
        &format!("{}!", "a".repeat(50)),
    ] {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", client.id.as_str()),
        ];
        if !verifier.is_empty() {
            form.push(("code_verifier", verifier));
        }
        let (status, body) = rig.token(&form).await;
        assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_request");
    }
    // Malformed verifiers are refused before the code is looked at, so it is still good.
    let (status, _) = rig.exchange(&client, &code, &pkce).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn verifier_of_another_code_is_invalid_grant() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let first = Pkce::new();
    let second = Pkce::new();
    let _ = rig.code(&client, &first).await;
    let code = rig.code(&client, &second).await;
    let (status, body) = rig.exchange(&client, &code, &first).await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn code_is_bound_to_its_client_and_redirect_uri() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let other = rig.public_client().await;
    let pkce = Pkce::new();

    let code = rig.code(&client, &pkce).await;
    let (status, body) = rig.exchange(&other, &code, &pkce).await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");

    let code = rig.code(&client, &pkce).await;
    let (status, body) = rig
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &pkce.verifier),
            ("redirect_uri", "http://127.0.0.1:8765/callbacK"),
            ("client_id", &client.id),
        ])
        .await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");

    let code = rig.code(&client, &pkce).await;
    let (status, body) = rig
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &pkce.verifier),
            ("client_id", &client.id),
        ])
        .await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn code_expires_after_ten_minutes() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let pkce = Pkce::new();
    let code = rig.code(&client, &pkce).await;
    rig.server.clock().advance(Duration::from_secs(601));
    let (status, body) = rig.exchange(&client, &code, &pkce).await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
}

#[tokio::test]
async fn unknown_code_and_unknown_grant_type() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let (status, body) = rig.exchange(&client, "made-up-code", &Pkce::new()).await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");

    let (status, body) = rig
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", &client.id),
        ])
        .await;
    // Offered, but not to a public client.
    assert_oauth_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "unauthorized_client",
    );
    let (status, body) = rig
        .token(&[("grant_type", "password"), ("client_id", &client.id)])
        .await;
    assert_oauth_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "unsupported_grant_type",
    );
    let counted = &rig.state().await["counters"]["token_requests"];
    assert_eq!(counted["other"], json!(1));
    assert_eq!(counted["client_credentials"], json!(1));
}

#[tokio::test]
async fn missing_or_duplicated_parameters_are_invalid_request() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let (status, body) = rig.token(&[("client_id", &client.id)]).await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_request");
    let (status, body) = rig
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &client.id),
            ("code_verifier", &"a".repeat(43)),
        ])
        .await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_request");
    let (status, body) = rig
        .token(&[
            ("grant_type", "refresh_token"),
            ("grant_type", "refresh_token"),
            ("client_id", &client.id),
        ])
        .await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_request");
    let (status, body) = rig
        .token(&[("grant_type", ""), ("client_id", &client.id)])
        .await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn token_endpoint_requires_a_form_body() {
    let rig = Rig::start().await;
    let response = rig
        .http
        .post(rig.url("/token"))
        .json(&json!({"grant_type": "authorization_code"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], json!("invalid_request"));

    let response = rig
        .http
        .post(rig.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let response = rig
        .http
        .post(rig.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(b"grant_type=%FF%FE".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn client_secret_basic_and_post_both_authenticate() {
    let rig = Rig::start().await;
    for method in ["client_secret_basic", "client_secret_post"] {
        let client = rig.client_with(method).await;
        let secret = client.secret.clone().unwrap();
        let pkce = Pkce::new();
        let code = rig.code(&client, &pkce).await;
        let mut request = rig.http.post(rig.url("/token"));
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", pkce.verifier.as_str()),
            ("redirect_uri", REDIRECT_URI),
        ];
        if method == "client_secret_basic" {
            request = request.basic_auth(&client.id, Some(&secret));
        } else {
            form.push(("client_id", &client.id));
            form.push(("client_secret", &secret));
        }
        let response = request.form(&form).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{method}");
    }
}

#[tokio::test]
async fn wrong_secret_is_401_invalid_client_with_basic_challenge_only_for_basic() {
    let rig = Rig::start().await;
    let client = rig.client_with("client_secret_basic").await;
    let form = [("grant_type", "refresh_token"), ("refresh_token", "x")];

    let response = rig
        .http
        .post(rig.url("/token"))
        .basic_auth(&client.id, Some("wrong"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic ")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], json!("invalid_client"));

    let response = rig
        .http
        .post(rig.url("/token"))
        .header(
            "authorization",
            format!("Basic {}", STANDARD.encode("no-colon-here")),
        )
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().contains_key("www-authenticate"));

    let (status, headers, body) = rig
        .token_raw(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", &client.id),
            ("client_secret", "wrong"),
        ])
        .await;
    assert_oauth_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_client");
    assert!(!headers.contains_key("www-authenticate"));

    let (status, body) = rig
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", &client.id),
        ])
        .await;
    assert_oauth_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_client");
}

#[tokio::test]
async fn unknown_or_missing_client_is_invalid_client() {
    let rig = Rig::start().await;
    let (status, body) = rig
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", "nobody"),
        ])
        .await;
    assert_oauth_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_client");
    let (status, body) = rig
        .token(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .await;
    assert_oauth_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_client");
}

#[tokio::test]
async fn public_client_may_use_basic_with_an_empty_password() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let pkce = Pkce::new();
    let code = rig.code(&client, &pkce).await;
    let response = rig
        .http
        .post(rig.url("/token"))
        .basic_auth(&client.id, Some(""))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", pkce.verifier.as_str()),
            ("redirect_uri", REDIRECT_URI),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn public_client_presenting_a_secret_is_invalid_client() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let (status, body) = rig
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", &client.id),
            ("client_secret", "invented"),
        ])
        .await;
    assert_oauth_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_client");
}

#[tokio::test]
async fn refresh_without_rotation_keeps_the_same_refresh_token_valid() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let tokens = rig.full_flow(&client).await;
    let refresh = tokens.refresh.unwrap();
    for _ in 0..3 {
        let (status, body) = rig.refresh(&client, &refresh).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["refresh_token"], json!(refresh));
        assert_ne!(body["access_token"], json!(tokens.access));
        assert!(rig.is_active(body["access_token"].as_str().unwrap()).await);
    }
    let counters = &rig.state().await["counters"];
    assert_eq!(counters["refreshes"], json!(3));
    assert_eq!(counters["token_requests"]["refresh_token"], json!(3));
}

#[tokio::test]
async fn refresh_with_rotated_out_token_is_invalid_grant() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let first = rig.full_flow(&client).await.refresh.unwrap();
    let (_, toggled) = rig
        .control("/control/rotate", Some(json!({"on": true})))
        .await;
    assert_eq!(toggled["toggles"]["rotate_refresh_tokens"], json!(true));

    let (status, body) = rig.refresh(&client, &first).await;
    assert_eq!(status, StatusCode::OK);
    let second = body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, first);

    let (status, body) = rig.refresh(&client, &first).await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");
    let (status, body) = rig.refresh(&client, &second).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(body["refresh_token"], json!(second));
}

#[tokio::test]
async fn refresh_may_narrow_scope_but_never_widen_it() {
    let rig = Rig::start_with(oauth_server::Config {
        scopes: vec!["mcp:tools".into(), "mcp:write".into()],
        ..Default::default()
    })
    .await;
    let client = rig.public_client().await;
    let pkce = Pkce::new();
    let redirect = rig
        .authorize(&client, &pkce, &[("scope", "mcp:tools")])
        .await;
    let (_, body) = rig
        .exchange(&client, &query_param(&redirect, "code").unwrap(), &pkce)
        .await;
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();

    let (status, body) = rig
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", &client.id),
            ("scope", "mcp:tools mcp:write"),
        ])
        .await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_scope");
    let (status, body) = rig
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", &client.id),
            ("scope", "mcp:tools"),
        ])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["scope"], json!("mcp:tools"));
}

#[tokio::test]
async fn narrowed_refresh_keeps_the_full_grant_for_the_next_refresh() {
    let rig = Rig::start_with(oauth_server::Config {
        scopes: vec!["a".into(), "b".into()],
        ..Default::default()
    })
    .await;
    let client = rig.public_client().await;
    let refresh = rig.full_flow(&client).await.refresh.unwrap();
    rig.control("/control/rotate", Some(json!({"on": true})))
        .await;
    let form = |token: &str, scope: &str| {
        vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", token.to_owned()),
            ("client_id", client.id.clone()),
            ("scope", scope.to_owned()),
        ]
    };
    let response = rig.post_form("/token", &form(&refresh, "a")).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["scope"], json!("a"));
    let rotated = body["refresh_token"].as_str().unwrap();
    let response = rig.post_form("/token", &form(rotated, "a b")).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn refresh_token_of_another_client_is_invalid_grant_and_not_destroyed() {
    let rig = Rig::start().await;
    let owner = rig.public_client().await;
    let thief = rig.public_client().await;
    let refresh = rig.full_flow(&owner).await.refresh.unwrap();
    rig.control("/control/rotate", Some(json!({"on": true})))
        .await;
    let (status, body) = rig.refresh(&thief, &refresh).await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");
    let (status, _) = rig.refresh(&owner, &refresh).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn forced_invalid_grant_fails_every_refresh_until_turned_off() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let refresh = rig.full_flow(&client).await.refresh.unwrap();
    rig.control("/control/invalid-grant", Some(json!({"on": true})))
        .await;
    for _ in 0..2 {
        let (status, body) = rig.refresh(&client, &refresh).await;
        assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");
    }
    assert_eq!(
        rig.state().await["counters"]["forced_invalid_grants"],
        json!(2)
    );
    rig.control("/control/invalid-grant", Some(json!({"on": false})))
        .await;
    let (status, _) = rig.refresh(&client, &refresh).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn client_registered_without_refresh_grant_gets_no_refresh_token() {
    let rig = Rig::start().await;
    let (_, body) = rig
        .register(json!({
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code"],
        }))
        .await;
    let client = crate::support::TestClient {
        id: body["client_id"].as_str().unwrap().into(),
        secret: None,
    };
    let tokens = rig.full_flow(&client).await;
    assert!(tokens.refresh.is_none());
    let (status, body) = rig.refresh(&client, "anything").await;
    assert_oauth_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "unauthorized_client",
    );
}

#[tokio::test]
async fn access_token_expires_by_ttl_on_the_rig_clock() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let (_, state) = rig
        .control("/control/expires-in", Some(json!({"seconds": 5})))
        .await;
    assert_eq!(state["toggles"]["access_token_ttl_seconds"], json!(5));
    let tokens = rig.full_flow(&client).await;
    assert_eq!(tokens.body["expires_in"], json!(5));
    let introspection = rig.introspect(&tokens.access).await;
    assert_eq!(introspection["active"], json!(true));
    let iat = introspection["iat"].as_u64().unwrap();
    assert_eq!(introspection["exp"].as_u64().unwrap(), iat + 5);

    rig.server.clock().advance(Duration::from_secs(4));
    assert!(rig.is_active(&tokens.access).await);
    rig.server.clock().advance(Duration::from_secs(2));
    assert!(!rig.is_active(&tokens.access).await);
    assert_eq!(rig.state().await["store"]["access_tokens"], json!(0));

    // The refresh token outlives it, and refreshing restores access.
    let (status, body) = rig
        .refresh(&client, tokens.refresh.as_deref().unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(rig.is_active(body["access_token"].as_str().unwrap()).await);
}

#[tokio::test]
async fn short_ttl_expires_in_real_time_too() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    rig.control("/control/expires-in", Some(json!({"seconds": 1})))
        .await;
    let tokens = rig.full_flow(&client).await;
    assert!(rig.is_active(&tokens.access).await);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(!rig.is_active(&tokens.access).await);
}

#[tokio::test]
async fn refresh_token_expires_after_its_lifetime() {
    let rig = Rig::start_with(oauth_server::Config {
        refresh_token_ttl: Duration::from_secs(60),
        ..Default::default()
    })
    .await;
    let client = rig.public_client().await;
    let refresh = rig.full_flow(&client).await.refresh.unwrap();
    rig.server.clock().advance(Duration::from_secs(61));
    let (status, body) = rig.refresh(&client, &refresh).await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn resource_is_bound_into_the_audience() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let pkce = Pkce::new();
    let resource = "http://localhost:9101/mcp";
    let redirect = rig
        .authorize(&client, &pkce, &[("resource", resource)])
        .await;
    let code = query_param(&redirect, "code").unwrap();
    let (status, body) = rig
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &pkce.verifier),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", &client.id),
            ("resource", resource),
        ])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        rig.introspect(body["access_token"].as_str().unwrap()).await["aud"],
        json!(resource)
    );

    let refresh = body["refresh_token"].as_str().unwrap();
    let (status, body) = rig
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", &client.id),
            ("resource", "https://elsewhere.example/mcp"),
        ])
        .await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_target");
    let (status, body) = rig
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", &client.id),
            ("resource", resource),
        ])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        rig.introspect(body["access_token"].as_str().unwrap()).await["aud"],
        json!(resource)
    );
}

#[tokio::test]
async fn token_without_resource_has_no_audience() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let tokens = rig.full_flow(&client).await;
    assert!(rig.introspect(&tokens.access).await.get("aud").is_none());
}
