//! Discovery as a client performs it: the RFC 9728 protected-resource metadata, CORS for
//! browser-based clients, the configured public URL and scopes, and rmcp's Host/Origin guard.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const PRM_PATHS: [&str; 2] = [
    "/.well-known/oauth-protected-resource/mcp",
    "/.well-known/oauth-protected-resource",
];

async fn get(rig: &Rig, path: &str, host: Option<&str>) -> reqwest::Response {
    let mut request = rig.http.get(rig.mcp_path(path));
    if let Some(host) = host {
        request = request.header("host", host);
    }
    request.send().await.unwrap()
}

async fn metadata(rig: &Rig, path: &str, host: Option<&str>) -> Value {
    let response = get(rig, path, host).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    assert_eq!(response.headers()["content-type"], "application/json");
    json_body(response).await
}

#[tokio::test]
async fn metadata_at_both_paths_describes_the_resource_by_the_address_the_client_used() {
    let rig = Rig::start().await;
    let port = rig.mcp_port();

    for path in PRM_PATHS {
        let response = get(&rig, path, None).await;

        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.headers()["access-control-allow-origin"], "*");
        let document = json_body(response).await;
        assert_eq!(
            document["resource"],
            format!("http://127.0.0.1:{port}/mcp"),
            "{path}"
        );
        assert_eq!(
            document["authorization_servers"],
            json!([rig.auth.issuer()]),
            "{path}"
        );
        assert_eq!(document["scopes_supported"], json!(["mcp:tools"]), "{path}");
        assert_eq!(
            document["bearer_methods_supported"],
            json!(["header"]),
            "{path}"
        );
        assert!(
            document["resource_name"]
                .as_str()
                .is_some_and(|name| !name.is_empty()),
            "{path}: {document}"
        );
    }
}

#[tokio::test]
async fn metadata_at_both_paths_names_the_localhost_resource_when_the_client_used_localhost() {
    let rig = Rig::start().await;
    let port = rig.mcp_port();
    let host = format!("localhost:{port}");

    for path in PRM_PATHS {
        let document = metadata(&rig, path, Some(&host)).await;

        assert_eq!(
            document["resource"],
            format!("http://localhost:{port}/mcp"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn metadata_lowercases_the_loopback_name_and_keeps_ipv6_brackets() {
    let rig = Rig::start().await;
    let port = rig.mcp_port();

    let upper = metadata(&rig, PRM_PATHS[0], Some(&format!("LocalHost:{port}"))).await;
    let ipv6 = metadata(&rig, PRM_PATHS[0], Some(&format!("[::1]:{port}"))).await;

    assert_eq!(upper["resource"], format!("http://localhost:{port}/mcp"));
    assert_eq!(ipv6["resource"], format!("http://[::1]:{port}/mcp"));
}

#[tokio::test]
async fn metadata_for_a_host_that_is_not_ours_falls_back_to_localhost_not_the_foreign_name() {
    let rig = Rig::start().await;
    let port = rig.mcp_port();

    let document = metadata(&rig, PRM_PATHS[0], Some(&format!("evil.example:{port}"))).await;

    assert_eq!(document["resource"], format!("http://localhost:{port}/mcp"));
}

#[tokio::test]
async fn authorization_server_in_the_metadata_is_byte_identical_to_the_issuer_the_as_announces() {
    let rig = Rig::start().await;
    let as_metadata: Value = rig
        .http
        .get(rig.auth_path("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let document = metadata(&rig, PRM_PATHS[0], None).await;

    let issuer = as_metadata["issuer"]
        .as_str()
        .expect("AS metadata has an issuer");
    assert_eq!(document["authorization_servers"], json!([issuer]));
}

#[tokio::test]
async fn preflight_on_mcp_answers_204_without_a_token_and_never_reaches_the_bearer_check() {
    let rig = Rig::start().await;

    let response = rig
        .http
        .request(reqwest::Method::OPTIONS, rig.mcp_url())
        .header("origin", "http://localhost:6274")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, mcp-protocol-version",
        )
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], "*");
    let methods = headers["access-control-allow-methods"].to_str().unwrap();
    assert!(methods.contains("POST"), "{methods}");
    let allowed = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for wanted in ["authorization", "content-type", "mcp-protocol-version"] {
        assert!(allowed.contains(wanted), "{wanted} in {allowed}");
    }
    assert!(www_authenticate(&response).is_empty());
    let counters = &rig.mcp_state().await["counters"];
    assert_eq!(counters["requests"], 0, "{counters}");
}

#[tokio::test]
async fn preflight_on_the_metadata_allows_get() {
    let rig = Rig::start().await;

    for path in PRM_PATHS {
        let response = rig
            .http
            .request(reqwest::Method::OPTIONS, rig.mcp_path(path))
            .header("origin", "http://localhost:6274")
            .header("access-control-request-method", "GET")
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{path}");
        assert_eq!(response.headers()["access-control-allow-origin"], "*");
        let methods = response.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap();
        assert!(methods.contains("GET"), "{path}: {methods}");
    }
}

#[tokio::test]
async fn challenge_is_readable_by_browser_clients_through_cors() {
    let rig = Rig::start().await;

    let response = rig
        .initialize_request()
        .header("origin", "http://localhost:6274")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let exposed = response.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("www-authenticate"), "{exposed}");
}

#[tokio::test]
async fn post_to_the_metadata_gets_405_allowing_get() {
    let rig = Rig::start().await;

    for path in PRM_PATHS {
        let response = rig
            .http
            .post(rig.mcp_path(path))
            .json(&json!({}))
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_eq!(response.headers()["allow"], "GET", "{path}");
    }
}

#[tokio::test]
async fn configured_base_url_is_the_resource_and_the_challenge_target_whatever_the_host() {
    let rig = Rig::start_with(
        oauth_server::Config::default(),
        mcp_server::Config {
            base_url: Some("https://mcp.example.test".into()),
            ..mcp_server::Config::default()
        },
    )
    .await;
    let port = rig.mcp_port();
    let localhost = format!("localhost:{port}");

    for host in [None, Some(localhost.as_str()), Some("mcp.example.test")] {
        for path in PRM_PATHS {
            let document = metadata(&rig, path, host).await;
            assert_eq!(
                document["resource"], "https://mcp.example.test/mcp",
                "{host:?} {path}"
            );
        }
        let mut request = rig.initialize_request();
        if let Some(host) = host {
            request = request.header("host", host);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{host:?}");
        assert_eq!(
            www_authenticate(&response),
            r#"Bearer resource_metadata="https://mcp.example.test/.well-known/oauth-protected-resource/mcp", scope="mcp:tools""#,
            "{host:?}"
        );
    }
}

#[tokio::test]
async fn with_a_base_url_a_token_for_the_public_resource_is_accepted_also_through_the_public_host()
{
    let rig = Rig::start_with(
        oauth_server::Config::default(),
        mcp_server::Config {
            base_url: Some("https://mcp.example.test".into()),
            ..mcp_server::Config::default()
        },
    )
    .await;
    let tokens = rig.token_for(Some("https://mcp.example.test/mcp")).await;

    let direct = rig
        .initialize_request()
        .bearer_auth(&tokens.access)
        .send()
        .await
        .unwrap();
    let through_public_host = rig
        .initialize_request()
        .header("host", "mcp.example.test")
        .header("origin", "https://mcp.example.test")
        .bearer_auth(&tokens.access)
        .send()
        .await
        .unwrap();

    assert_eq!(direct.status(), StatusCode::OK);
    assert_eq!(through_public_host.status(), StatusCode::OK);
}

#[tokio::test]
async fn metadata_announces_every_scope_and_the_challenge_only_the_required_ones() {
    let scopes = vec!["a".to_owned(), "b".to_owned()];
    let rig = Rig::start_with(
        oauth_server::Config {
            scopes: scopes.clone(),
            ..oauth_server::Config::default()
        },
        mcp_server::Config {
            scopes,
            required_scopes: vec!["a".to_owned()],
            ..mcp_server::Config::default()
        },
    )
    .await;
    let port = rig.mcp_port();

    let document = metadata(&rig, PRM_PATHS[0], None).await;
    let response = rig.post_mcp(None, &initialize_message()).await;

    assert_eq!(document["scopes_supported"], json!(["a", "b"]));
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        www_authenticate(&response),
        format!(
            r#"Bearer resource_metadata="http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp", scope="a""#
        )
    );
}

#[tokio::test]
async fn unknown_paths_get_404() {
    let rig = Rig::start().await;

    for path in [
        "/nope",
        "/.well-known/oauth-protected-resource/other",
        "/.well-known/oauth-authorization-server",
        "/mcp/",
    ] {
        let response = get(&rig, path, None).await;

        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let body = json_body(response).await;
        assert!(body["error"].is_string(), "{path}: {body}");
    }
}

#[tokio::test]
async fn valid_token_with_a_foreign_host_is_refused_by_the_dns_rebinding_guard() {
    let rig = Rig::start().await;
    let tokens = rig.token().await;

    let response = rig
        .initialize_request()
        .header("host", "evil.example")
        .bearer_auth(&tokens.access)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn foreign_host_without_a_token_gets_a_challenge_pointing_at_localhost_not_the_foreign_host()
{
    let rig = Rig::start().await;
    let port = rig.mcp_port();

    let response = rig
        .initialize_request()
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        www_authenticate(&response),
        format!(
            r#"Bearer resource_metadata="http://localhost:{port}/.well-known/oauth-protected-resource/mcp", scope="mcp:tools""#
        )
    );
}

#[tokio::test]
async fn foreign_origin_is_refused_and_a_loopback_origin_is_accepted() {
    let rig = Rig::start().await;
    let tokens = rig.token().await;

    let foreign = rig
        .initialize_request()
        .header("origin", "https://evil.example")
        .bearer_auth(&tokens.access)
        .send()
        .await
        .unwrap();
    let loopback = rig
        .initialize_request()
        .header("origin", "http://localhost:6274")
        .bearer_auth(&tokens.access)
        .send()
        .await
        .unwrap();

    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert_eq!(loopback.status(), StatusCode::OK);
}

#[tokio::test]
async fn configured_allowed_origin_is_accepted_and_others_still_refused() {
    let rig = Rig::start_with(
        oauth_server::Config::default(),
        mcp_server::Config {
            allowed_origins: vec!["https://app.example:*".into()],
            ..mcp_server::Config::default()
        },
    )
    .await;
    let tokens = rig.token().await;

    let mut statuses = Vec::new();
    for origin in ["https://app.example:8443", "https://other.example:8443"] {
        let response = rig
            .initialize_request()
            .header("origin", origin)
            .bearer_auth(&tokens.access)
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
    }

    assert_eq!(statuses, [StatusCode::OK, StatusCode::FORBIDDEN]);
}
