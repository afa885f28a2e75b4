use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Pkce, REDIRECT_URI, Rig, location, query_param};

#[tokio::test]
async fn success_redirects_with_code_state_and_iss() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let response = rig.authorize_raw(&client, &Pkce::new(), &[]).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let redirect = location(&response);
    assert_eq!(
        format!("{}", redirect).split('?').next().unwrap(),
        REDIRECT_URI
    );
    assert_eq!(query_param(&redirect, "code").unwrap().len(), 43);
    assert_eq!(query_param(&redirect, "state").as_deref(), Some("st4te"));
    assert_eq!(
        query_param(&redirect, "iss").as_deref(),
        Some(rig.server.issuer().as_str())
    );
    assert_eq!(rig.state().await["counters"]["authorizations"], json!(1));
    assert_eq!(rig.state().await["store"]["codes"], json!(1));
}

#[tokio::test]
async fn state_is_optional_and_not_invented() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let redirect = rig.authorize(&client, &Pkce::new(), &[("state", "")]).await;
    assert!(query_param(&redirect, "code").is_some());
    assert!(query_param(&redirect, "state").is_none());
}

#[tokio::test]
async fn post_with_a_form_body_is_accepted() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let pkce = Pkce::new();
    let response = rig
        .post_form(
            "/authorize",
            &[
                ("response_type", "code"),
                ("client_id", client.id.as_str()),
                ("redirect_uri", REDIRECT_URI),
                ("code_challenge", pkce.challenge.as_str()),
                ("code_challenge_method", "S256"),
                ("state", "p0st"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(
        query_param(&location(&response), "state").as_deref(),
        Some("p0st")
    );
}

#[tokio::test]
async fn loopback_redirect_uri_matches_on_any_port_and_is_used_as_sent() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let redirect = rig
        .authorize(
            &client,
            &Pkce::new(),
            &[("redirect_uri", "http://127.0.0.1:49999/callback")],
        )
        .await;
    assert_eq!(redirect.port(), Some(49999));
    assert_eq!(redirect.path(), "/callback");
}

#[tokio::test]
async fn omitted_redirect_uri_uses_the_only_registered_one() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let redirect = rig
        .authorize(&client, &Pkce::new(), &[("redirect_uri", "")])
        .await;
    assert_eq!(redirect.as_str().split('?').next().unwrap(), REDIRECT_URI);
}

#[tokio::test]
async fn unknown_client_or_unregistered_redirect_gets_a_page_never_a_redirect() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let stranger = crate::support::TestClient {
        id: "no-such-client".into(),
        secret: None,
    };
    let cases: Vec<(&crate::support::TestClient, Vec<(&str, &str)>)> = vec![
        (&stranger, vec![]),
        (&client, vec![("client_id", "")]),
        (
            &client,
            vec![("redirect_uri", "http://127.0.0.1:8765/callbacK")],
        ),
        (
            &client,
            vec![("redirect_uri", "http://127.0.0.1:8765/callback#x")],
        ),
        (
            &client,
            vec![("redirect_uri", "http://localhost:8765/callback")],
        ),
        (
            &client,
            vec![("redirect_uri", "https://evil.example/callback")],
        ),
        (
            &client,
            vec![("redirect_uri", "javascript:alert(document.cookie)")],
        ),
    ];
    for (who, extra) in cases {
        let response = rig.authorize_raw(who, &Pkce::new(), &extra).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{extra:?}");
        assert!(response.headers().get("location").is_none(), "{extra:?}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let page = response.text().await.unwrap();
        assert!(!page.contains("<script"), "input is escaped");
    }
    assert_eq!(rig.state().await["store"]["codes"], json!(0));
}

#[tokio::test]
async fn duplicated_client_id_gets_a_page() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let url = format!(
        "{}?client_id={}&client_id={}",
        rig.url("/authorize"),
        client.id,
        client.id
    );
    let response = rig.http.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("location").is_none());
}

#[tokio::test]
async fn request_errors_after_the_client_is_known_redirect_with_error_and_state() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    for (extra, error) in [
        (vec![("code_challenge", "")], "invalid_request"),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("code_challenge_method", "")], "invalid_request"),
        (vec![("code_challenge", "too-short")], "invalid_request"),
        (vec![("response_type", "")], "invalid_request"),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (
            vec![("scope", "mcp:tools admin:everything")],
            "invalid_scope",
        ),
        (vec![("resource", "not-absolute")], "invalid_target"),
        (
            vec![("resource", "https://mcp.example/mcp#frag")],
            "invalid_target",
        ),
    ] {
        let redirect = rig.authorize(&client, &Pkce::new(), &extra).await;
        assert_eq!(
            query_param(&redirect, "error").as_deref(),
            Some(error),
            "{extra:?}"
        );
        assert!(query_param(&redirect, "error_description").is_some());
        assert_eq!(
            query_param(&redirect, "state").as_deref(),
            Some("st4te"),
            "{extra:?}"
        );
        assert_eq!(
            query_param(&redirect, "iss").as_deref(),
            Some(rig.server.issuer().as_str())
        );
        assert!(query_param(&redirect, "code").is_none());
    }
    assert_eq!(rig.state().await["store"]["codes"], json!(0));
}

#[tokio::test]
async fn duplicated_parameter_redirects_invalid_request() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let pkce = Pkce::new();
    let url = format!(
        "{}?response_type=code&client_id={}&redirect_uri={}&code_challenge={}&code_challenge_method=S256&scope=mcp:tools&scope=mcp:tools",
        rig.url("/authorize"),
        client.id,
        REDIRECT_URI,
        pkce.challenge
    );
    let response = rig.http.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(
        query_param(&location(&response), "error").as_deref(),
        Some("invalid_request")
    );
}

#[tokio::test]
async fn denied_consent_redirects_access_denied_with_state() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    rig.control("/control/deny-consent", Some(json!({"on": true})))
        .await;
    let redirect = rig.authorize(&client, &Pkce::new(), &[]).await;
    assert_eq!(
        query_param(&redirect, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(&redirect, "state").as_deref(), Some("st4te"));
    assert!(query_param(&redirect, "code").is_none());
    let state = rig.state().await;
    assert_eq!(state["counters"]["consent_denials"], json!(1));
    assert_eq!(state["store"]["codes"], json!(0));

    rig.control("/control/deny-consent", Some(json!({"on": false})))
        .await;
    let redirect = rig.authorize(&client, &Pkce::new(), &[]).await;
    assert!(query_param(&redirect, "code").is_some());
}

#[tokio::test]
async fn offline_access_and_prompt_consent_are_accepted() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let pkce = Pkce::new();
    let redirect = rig
        .authorize(
            &client,
            &pkce,
            &[("scope", "mcp:tools offline_access"), ("prompt", "consent")],
        )
        .await;
    let code = query_param(&redirect, "code").expect("code");
    let (status, body) = rig.exchange(&client, &code, &pkce).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["scope"], json!("mcp:tools offline_access"));
}

#[tokio::test]
async fn without_scope_every_configured_scope_is_granted() {
    let rig = Rig::start_with(oauth_server::Config {
        scopes: vec!["mcp:tools".into(), "mcp:write".into()],
        ..Default::default()
    })
    .await;
    let client = rig.public_client().await;
    let tokens = rig.full_flow(&client).await;
    assert_eq!(tokens.body["scope"], json!("mcp:tools mcp:write"));

    let pkce = Pkce::new();
    let redirect = rig
        .authorize(&client, &pkce, &[("scope", "mcp:write")])
        .await;
    let (_, body) = rig
        .exchange(&client, &query_param(&redirect, "code").unwrap(), &pkce)
        .await;
    assert_eq!(body["scope"], json!("mcp:write"));
}
