use reqwest::StatusCode;
use serde_json::{Value, json};
use sim_http::control::ControlGuard;

use crate::support::Rig;

#[tokio::test]
async fn state_shows_toggles_store_and_counters_at_start_up() {
    let rig = Rig::start().await;
    let state = rig.state().await;
    assert_eq!(state["service"], json!("oauth"));
    assert_eq!(state["issuer"], json!(rig.server.issuer()));
    assert_eq!(
        state["toggles"],
        json!({
            "rotate_refresh_tokens": false,
            "access_token_ttl_seconds": 3600,
            "invalid_grant": false,
            "deny_consent": false,
        })
    );
    assert_eq!(
        state["store"],
        json!({"clients": 0, "codes": 0, "access_tokens": 0, "refresh_tokens": 0})
    );
    assert_eq!(state["counters"]["tokens_issued"], json!(0));
}

#[tokio::test]
async fn each_switch_answers_the_resulting_state() {
    let rig = Rig::start().await;
    for (path, field) in [
        ("/control/rotate", "rotate_refresh_tokens"),
        ("/control/invalid-grant", "invalid_grant"),
        ("/control/deny-consent", "deny_consent"),
    ] {
        let (status, state) = rig.control(path, Some(json!({"on": true}))).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(state["toggles"][field], json!(true), "{path}");
        let (_, state) = rig.control(path, Some(json!({"on": false}))).await;
        assert_eq!(state["toggles"][field], json!(false), "{path}");
    }
    let (status, state) = rig
        .control("/control/expires-in", Some(json!({"seconds": 0})))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["toggles"]["access_token_ttl_seconds"], json!(0));
}

#[tokio::test]
async fn revoke_access_deactivates_every_access_token_but_not_refresh_tokens() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let first = rig.full_flow(&client).await;
    let second = rig.full_flow(&client).await;
    let (status, state) = rig.control("/control/revoke-access", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["store"]["access_tokens"], json!(0));
    assert_eq!(state["store"]["refresh_tokens"], json!(2));
    assert!(!rig.is_active(&first.access).await);
    assert!(!rig.is_active(&second.access).await);
    let (status, _) = rig
        .refresh(&client, first.refresh.as_deref().unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn seeded_refresh_token_works_for_any_client() {
    let rig = Rig::start().await;
    let (status, state) = rig
        .control(
            "/control/seed-refresh",
            Some(json!({"token": "deposited-rt"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["store"]["refresh_tokens"], json!(1));
    for _ in 0..2 {
        let client = rig.public_client().await;
        let (status, body) = rig.refresh(&client, "deposited-rt").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["refresh_token"], json!("deposited-rt"));
        assert_eq!(body["scope"], json!("mcp:tools"));
        assert!(rig.is_active(body["access_token"].as_str().unwrap()).await);
    }
}

#[tokio::test]
async fn a_client_unknown_to_the_rig_holding_the_seeded_token_is_adopted() {
    // The deposited-credential scenario after a restart: the client's stored id was issued by an
    // earlier rig.
    let rig = Rig::start_with(oauth_server::Config {
        seed_refresh_token: Some("deposited-rt".into()),
        ..Default::default()
    })
    .await;
    let refresh = |client_id: &'static str, token: &'static str| {
        let rig = &rig;
        async move {
            rig.token(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", token),
                ("client_id", client_id),
            ])
            .await
        }
    };
    let (status, body) = refresh("client-from-yesterday", "deposited-rt").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(
        rig.introspect(access).await["client_id"],
        json!("client-from-yesterday")
    );
    assert_eq!(rig.state().await["store"]["clients"], json!(1));

    // Once adopted it is an ordinary public client: rotation binds the new token to it.
    rig.control("/control/rotate", Some(json!({"on": true})))
        .await;
    let (status, body) = refresh("client-from-yesterday", "deposited-rt").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rotated = body["refresh_token"].as_str().unwrap().to_owned();
    let (status, body) = rig
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rotated),
            ("client_id", "client-from-yesterday"),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Only the seeded token adopts: an unknown client with any other token is still refused,
    // and nothing is registered for it.
    let (status, body) = refresh("stranger", "not-a-token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], json!("invalid_client"));
    assert_eq!(rig.state().await["store"]["clients"], json!(1));
}

#[tokio::test]
async fn seed_from_configuration_is_valid_at_start_and_after_reset() {
    let rig = Rig::start_with(oauth_server::Config {
        seed_refresh_token: Some("from-env".into()),
        ..Default::default()
    })
    .await;
    let client = rig.public_client().await;
    let (status, _) = rig.refresh(&client, "from-env").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rig.state().await["seed_refresh_token"], json!("from-e…"));

    rig.control("/control/reset", None).await;
    let client = rig.public_client().await;
    let (status, _) = rig.refresh(&client, "from-env").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn reset_forgets_clients_tokens_toggles_and_counters() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let tokens = rig.full_flow(&client).await;
    rig.control("/control/rotate", Some(json!({"on": true})))
        .await;
    rig.control("/control/expires-in", Some(json!({"seconds": 7})))
        .await;
    rig.server
        .clock()
        .advance(std::time::Duration::from_secs(30));

    let (status, state) = rig.control("/control/reset", Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["toggles"]["rotate_refresh_tokens"], json!(false));
    assert_eq!(state["toggles"]["access_token_ttl_seconds"], json!(3600));
    assert_eq!(
        state["store"],
        json!({"clients": 0, "codes": 0, "access_tokens": 0, "refresh_tokens": 0})
    );
    assert_eq!(state["counters"]["registrations"], json!(0));
    assert_eq!(state["clock"]["offset_seconds"], json!(0));
    assert!(!rig.is_active(&tokens.access).await);
    let (status, body) = rig
        .refresh(&client, tokens.refresh.as_deref().unwrap())
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the client itself is forgotten: {body}"
    );
}

#[tokio::test]
async fn bad_control_input_is_400_with_a_message() {
    let rig = Rig::start().await;
    for (path, body) in [
        ("/control/rotate", "{\"on\": \"yes\"}"),
        ("/control/rotate", "{\"enabled\": true}"),
        ("/control/rotate", ""),
        ("/control/rotate", "{not json"),
        ("/control/expires-in", "{\"seconds\": -5}"),
        ("/control/expires-in", "{\"seconds\": 1.5}"),
        ("/control/expires-in", "{\"seconds\": 99999999999}"),
        ("/control/seed-refresh", "{\"token\": \"\"}"),
        ("/control/seed-refresh", "{\"token\": \"has space\"}"),
        ("/control/revoke-access", "{\"unexpected\": 1}"),
    ] {
        let response = rig
            .http
            .post(rig.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path} {body}");
        let answer: Value = response.json().await.unwrap();
        assert!(
            !answer["error"].as_str().unwrap().is_empty(),
            "{path} {body}"
        );
    }
    assert_eq!(
        rig.state().await["toggles"]["access_token_ttl_seconds"],
        json!(3600)
    );
}

#[tokio::test]
async fn unknown_control_path_is_404_and_wrong_method_405() {
    let rig = Rig::start().await;
    let (status, _) = rig.control("/control/explode", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = rig
        .http
        .get(rig.url("/control/rotate"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "POST");
    let (status, index) = rig.get_json("/control").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(index["endpoints"].as_array().unwrap().len(), 49);
}

#[tokio::test]
async fn control_token_guards_the_control_plane_only() {
    let rig = Rig::start_with(oauth_server::Config {
        control: ControlGuard::with_token("s3cret-control"),
        ..Default::default()
    })
    .await;
    let response = rig
        .http
        .get(rig.url("/control/state"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer realm="control""#
    );
    let response = rig
        .http
        .post(rig.url("/control/reset"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = rig
        .http
        .get(rig.url("/control/state"))
        .bearer_auth("s3cret-control")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Everything else stays open.
    rig.public_client().await;
}

#[tokio::test]
async fn browsers_cannot_drive_the_control_plane() {
    let rig = Rig::start().await;
    let response = rig
        .http
        .post(rig.url("/control/reset"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_switch_answers_to_its_scenario_name_and_to_its_earlier_path() {
    let rig = Rig::start().await;
    for (current, earlier, body, field) in [
        (
            "/control/dead-refresh",
            "/control/invalid-grant",
            json!({"on": true}),
            "invalid_grant",
        ),
        (
            "/control/expire-access",
            "/control/expires-in",
            json!({"seconds": 7}),
            "access_token_ttl_seconds",
        ),
    ] {
        let (status, state) = rig.control(current, Some(body.clone())).await;
        assert_eq!(status, StatusCode::OK, "{current}: {state}");
        let changed = state["toggles"][field].clone();
        rig.control("/control/reset", Some(json!({}))).await;
        let (status, state) = rig.control(earlier, Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{earlier}: {state}");
        assert_eq!(
            state["toggles"][field], changed,
            "{earlier} flips what {current} flips"
        );
    }
    let (status, state) = rig
        .control(
            "/control/narrow-consent",
            Some(json!({"grant_scope": "mcp:tools"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["consent"]["grant_scope"], "mcp:tools");
}
