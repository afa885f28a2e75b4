//! Both servers over HTTPS with the rig's own CA: the announced URLs say `https`, and the MCP
//! server verifies the authorization server with the CA it was given for introspection.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn over_https_a_client_trusting_the_ca_discovers_gets_a_token_and_calls_a_tool() {
    let rig = TlsRig::start(true).await;
    let port = rig.mcp.addr().port();

    let challenge = rig.post_mcp(None, &initialize_message()).await;
    assert_eq!(challenge.status(), StatusCode::UNAUTHORIZED);
    let document: Value = rig
        .http
        .get(rig.mcp_path("/.well-known/oauth-protected-resource/mcp"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        document["resource"],
        format!("https://127.0.0.1:{port}/mcp")
    );
    assert_eq!(
        document["authorization_servers"],
        json!([rig.auth.issuer()])
    );
    assert!(
        rig.auth.issuer().starts_with("https://"),
        "{}",
        rig.auth.issuer()
    );
    let tokens = rig.token().await;

    let response = rig
        .post_mcp(
            Some(&tokens.access),
            &json!({
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": { "name": "echo", "arguments": { "message": "over TLS" } },
            }),
        )
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    // ALPN picks HTTP/2, where the name the client used arrives as `:authority`, not `Host`.
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    let body = json_body(response).await;
    assert_eq!(tool_text(&body), "over TLS", "{body}");
    let counters = &rig.mcp_state().await["counters"];
    assert_eq!(counters["tool_calls"], 1, "{counters}");
    assert_eq!(counters["introspection_failures"], 0, "{counters}");
}

#[tokio::test]
async fn over_https_the_challenge_points_at_https_metadata() {
    let rig = TlsRig::start(true).await;
    let port = rig.mcp.addr().port();

    let response = rig.post_mcp(None, &initialize_message()).await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        www_authenticate(&response),
        format!(
            r#"Bearer resource_metadata="https://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp", scope="mcp:tools""#
        )
    );
}

#[tokio::test]
async fn over_https_a_token_for_the_plain_http_url_of_the_server_is_refused() {
    let rig = TlsRig::start(true).await;
    let resource = format!("http://127.0.0.1:{}/mcp", rig.mcp.addr().port());
    let tokens = obtain_tokens(&rig.http, &rig.auth_base(), Some(&resource), None).await;

    let response = rig
        .post_mcp(Some(&tokens.access), &initialize_message())
        .await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        www_authenticate(&response).starts_with(r#"Bearer error="invalid_token""#),
        "{}",
        www_authenticate(&response)
    );
}

#[tokio::test]
async fn without_the_ca_for_introspection_the_mcp_server_cannot_verify_the_as_and_answers_503() {
    let rig = TlsRig::start(false).await;
    let tokens = rig.token().await;

    let response = rig
        .post_mcp(Some(&tokens.access), &initialize_message())
        .await;

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(www_authenticate(&response).is_empty());
    assert_eq!(response.headers()["retry-after"], "1");
    let body = json_body(response).await;
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    let counters = &rig.mcp_state().await["counters"];
    assert_eq!(counters["introspection_failures"], 1, "{counters}");
    assert_eq!(counters["unavailable"], 1, "{counters}");
    assert_eq!(counters["unauthorized"], 0, "{counters}");
}

#[tokio::test]
async fn the_tls_port_does_not_answer_plain_http() {
    let rig = TlsRig::start(true).await;

    let plain = client()
        .get(format!(
            "http://{}/.well-known/oauth-protected-resource",
            rig.mcp.addr()
        ))
        .send()
        .await;

    assert!(
        plain.is_err() || plain.unwrap().status() != StatusCode::OK,
        "no plain HTTP on a TLS port"
    );
}
