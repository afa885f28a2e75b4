use reqwest::StatusCode;
use serde_json::json;

use crate::support::Rig;

#[tokio::test]
async fn metadata_lists_every_endpoint_under_the_issuer() {
    let rig = Rig::start().await;
    let (status, metadata) = rig
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(status, StatusCode::OK);
    let issuer = format!("http://localhost:{}", rig.server.addr().port());
    assert_eq!(metadata["issuer"], json!(issuer));
    assert_eq!(rig.server.issuer(), issuer);
    for (field, path) in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("registration_endpoint", "/register"),
        ("introspection_endpoint", "/introspect"),
        ("revocation_endpoint", "/revoke"),
    ] {
        assert_eq!(metadata[field], json!(format!("{issuer}{path}")), "{field}");
    }
    assert_eq!(metadata["response_types_supported"], json!(["code"]));
    assert_eq!(
        metadata["grant_types_supported"],
        json!([
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:jwt-bearer"
        ])
    );
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert_eq!(
        metadata["token_endpoint_auth_methods_supported"],
        json!([
            "none",
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt"
        ])
    );
    assert_eq!(
        metadata["token_endpoint_auth_signing_alg_values_supported"],
        json!(["ES256", "RS256", "EdDSA"])
    );
    assert_eq!(metadata["scopes_supported"], json!(["mcp:tools"]));
    assert_eq!(
        metadata["authorization_response_iss_parameter_supported"],
        json!(true)
    );
}

#[tokio::test]
async fn configured_issuer_is_used_verbatim_without_trailing_slash() {
    let rig = Rig::start_with(oauth_server::Config {
        issuer: Some("https://auth.example.trycloudflare.com/".into()),
        scopes: vec!["mcp:tools".into(), "mcp:admin".into()],
        ..Default::default()
    })
    .await;
    let (_, metadata) = rig
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(
        metadata["issuer"],
        json!("https://auth.example.trycloudflare.com")
    );
    assert_eq!(
        metadata["token_endpoint"],
        json!("https://auth.example.trycloudflare.com/token")
    );
    assert_eq!(
        metadata["scopes_supported"],
        json!(["mcp:tools", "mcp:admin"])
    );
}

#[tokio::test]
async fn invalid_issuer_or_scopes_refuse_to_start() {
    for config in [
        oauth_server::Config {
            issuer: Some("not a url".into()),
            ..Default::default()
        },
        oauth_server::Config {
            issuer: Some("ftp://host".into()),
            ..Default::default()
        },
        oauth_server::Config {
            issuer: Some("https://h/?q=1".into()),
            ..Default::default()
        },
        oauth_server::Config {
            scopes: vec![],
            ..Default::default()
        },
        oauth_server::Config {
            scopes: vec!["bad\"scope".into()],
            ..Default::default()
        },
    ] {
        let error = oauth_server::AuthServer::start(config)
            .await
            .err()
            .expect("refused");
        assert!(matches!(error, oauth_server::Error::Config(_)), "{error}");
    }
}

#[tokio::test]
async fn discovery_is_readable_cross_origin() {
    let rig = Rig::start().await;
    let response = rig
        .http
        .get(rig.url("/.well-known/oauth-authorization-server"))
        .header("origin", "http://localhost:6274")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], "*");

    let preflight = rig
        .http
        .request(reqwest::Method::OPTIONS, rig.url("/token"))
        .header("origin", "http://localhost:6274")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    assert!(
        preflight.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
}

#[tokio::test]
async fn authorize_endpoint_has_no_cors() {
    let rig = Rig::start().await;
    let preflight = rig
        .http
        .request(reqwest::Method::OPTIONS, rig.url("/authorize"))
        .header("origin", "http://localhost:6274")
        .send()
        .await
        .unwrap();
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert_eq!(preflight.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn openid_configuration_is_not_served_and_unknown_paths_are_404() {
    let rig = Rig::start().await;
    let (status, _) = rig.get_json("/.well-known/openid-configuration").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = rig.get_json("/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().unwrap().contains("/nope"));
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let rig = Rig::start().await;
    for (method, path, allow) in [
        (
            reqwest::Method::POST,
            "/.well-known/oauth-authorization-server",
            "GET",
        ),
        (reqwest::Method::GET, "/token", "POST"),
        (reqwest::Method::GET, "/register", "POST"),
        (reqwest::Method::GET, "/revoke", "POST"),
        (reqwest::Method::DELETE, "/authorize", "GET, POST"),
        (reqwest::Method::PUT, "/introspect", "GET, POST"),
    ] {
        let response = rig
            .http
            .request(method.clone(), rig.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
    }
}
