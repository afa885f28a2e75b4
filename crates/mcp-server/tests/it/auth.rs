//! The bearer check in front of `/mcp`: what a client sees without a token, with a malformed
//! one, with one the authorization server does not vouch for, and with a good one.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

/// The challenge of a request that carried no bearer token, for a server reached at `base`.
fn no_token_challenge(base: &str) -> String {
    format!(
        r#"Bearer resource_metadata="{base}/.well-known/oauth-protected-resource/mcp", scope="mcp:tools""#
    )
}

/// The `resource_metadata` parameter every challenge of a server reached at `base` carries.
fn resource_metadata_param(base: &str) -> String {
    format!(r#"resource_metadata="{base}/.well-known/oauth-protected-resource/mcp""#)
}

fn by_address(rig: &Rig) -> String {
    format!("http://127.0.0.1:{}", rig.mcp_port())
}

/// Asserts an RFC 6750 `invalid_token` answer that leads the client back to discovery.
async fn assert_invalid_token(rig: &Rig, response: reqwest::Response) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = www_authenticate(&response);
    assert!(
        challenge.starts_with(r#"Bearer error="invalid_token", error_description=""#),
        "{challenge}"
    );
    assert!(
        challenge.contains(&resource_metadata_param(&by_address(rig))),
        "{challenge}"
    );
    assert!(challenge.ends_with(r#"scope="mcp:tools""#), "{challenge}");
    let body = json_body(response).await;
    assert_eq!(body["error"], "invalid_token", "{body}");
    assert!(body["error_description"].is_string(), "{body}");
}

async fn assert_no_token_challenge(rig: &Rig, response: reqwest::Response) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        www_authenticate(&response),
        no_token_challenge(&by_address(rig))
    );
}

#[tokio::test]
async fn request_without_a_token_gets_401_with_a_challenge_naming_the_metadata_at_the_address_used()
{
    let rig = Rig::start().await;

    let response = rig.post_mcp(None, &initialize_message()).await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let port = rig.mcp_port();
    assert_eq!(
        www_authenticate(&response),
        format!(
            r#"Bearer resource_metadata="http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp", scope="mcp:tools""#
        )
    );
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = json_body(response).await;
    assert_eq!(body["error"], "no_token", "{body}");
    assert!(body["error_description"].is_string(), "{body}");
}

#[tokio::test]
async fn challenge_names_the_localhost_metadata_when_the_client_used_localhost() {
    let rig = Rig::start().await;
    let port = rig.mcp_port();

    let response = rig
        .initialize_request()
        .header("host", format!("localhost:{port}"))
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
async fn get_and_delete_without_a_token_get_the_401_challenge_before_rmcp_sees_them() {
    let rig = Rig::start().await;

    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let response = rig
            .http
            .request(method.clone(), rig.mcp_url())
            .header("accept", "text/event-stream")
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{method}");
        assert_eq!(
            www_authenticate(&response),
            no_token_challenge(&by_address(&rig)),
            "{method}"
        );
    }
}

#[tokio::test]
async fn unacceptable_accept_header_without_a_token_gets_401_not_406() {
    let rig = Rig::start().await;

    let response = rig
        .http
        .post(rig.mcp_url())
        .header("accept", "text/html")
        .json(&initialize_message())
        .send()
        .await
        .unwrap();

    assert_no_token_challenge(&rig, response).await;
}

#[tokio::test]
async fn unacceptable_accept_header_with_a_valid_token_reaches_rmcp_and_gets_406() {
    let rig = Rig::start().await;
    let tokens = rig.token().await;

    let response = rig
        .http
        .post(rig.mcp_url())
        .header("accept", "text/html")
        .bearer_auth(&tokens.access)
        .json(&initialize_message())
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::NOT_ACCEPTABLE);
}

#[tokio::test]
async fn token_in_the_query_string_is_ignored_and_gets_the_no_token_challenge() {
    let rig = Rig::start().await;
    let tokens = rig.token().await;

    let response = rig
        .http
        .post(rig.mcp_url())
        .query(&[("access_token", tokens.access.as_str())])
        .header("accept", ACCEPT)
        .header("mcp-protocol-version", PROTOCOL_VERSION)
        .json(&initialize_message())
        .send()
        .await
        .unwrap();

    assert_no_token_challenge(&rig, response).await;
    let counters = &rig.mcp_state().await["counters"];
    assert_eq!(counters["introspections"], 0, "{counters}");
}

#[tokio::test]
async fn token_in_a_form_body_is_ignored_and_gets_the_no_token_challenge() {
    let rig = Rig::start().await;
    let tokens = rig.token().await;

    let response = rig
        .http
        .post(rig.mcp_url())
        .header("accept", ACCEPT)
        .form(&[("access_token", tokens.access.as_str())])
        .send()
        .await
        .unwrap();

    assert_no_token_challenge(&rig, response).await;
}

#[tokio::test]
async fn unknown_token_gets_invalid_token_challenge_with_the_metadata_url() {
    let rig = Rig::start().await;

    let response = rig
        .post_mcp(Some("not-a-token-the-server-issued"), &initialize_message())
        .await;

    assert_invalid_token(&rig, response).await;
}

#[tokio::test]
async fn overlong_token_gets_invalid_token_without_asking_the_authorization_server() {
    let rig = Rig::start().await;
    let overlong = "a".repeat(4097);

    let response = rig.post_mcp(Some(&overlong), &initialize_message()).await;

    assert_invalid_token(&rig, response).await;
    let counters = &rig.mcp_state().await["counters"];
    assert_eq!(counters["introspections"], 0, "{counters}");
    assert_eq!(counters["unauthorized"], 1, "{counters}");
}

#[tokio::test]
async fn malformed_bearer_headers_get_400_invalid_request_without_introspection() {
    let rig = Rig::start().await;
    let valid = rig.token().await.access;
    let cases: [(&str, Vec<String>); 5] = [
        ("scheme alone", vec!["Bearer".into()]),
        ("two tokens", vec![format!("Bearer {valid} {valid}")]),
        (
            "comma-separated tokens",
            vec![format!("Bearer {valid},{valid}")],
        ),
        (
            "characters outside b64token",
            vec![format!("Bearer {valid}\"")],
        ),
        (
            "two Authorization headers",
            vec![format!("Bearer {valid}"), format!("Bearer {valid}")],
        ),
    ];

    for (case, values) in cases {
        let mut request = rig.initialize_request();
        for value in values {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();

        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{case}");
        let challenge = www_authenticate(&response);
        assert!(
            challenge.starts_with(r#"Bearer error="invalid_request", error_description=""#),
            "{case}: {challenge}"
        );
        assert!(
            challenge.contains(&resource_metadata_param(&by_address(&rig))),
            "{case}: {challenge}"
        );
        let body = json_body(response).await;
        assert_eq!(body["error"], "invalid_request", "{case}: {body}");
    }
    let counters = &rig.mcp_state().await["counters"];
    assert_eq!(counters["bad_requests"], 5, "{counters}");
    assert_eq!(counters["introspections"], 0, "{counters}");
}

#[tokio::test]
async fn lowercase_scheme_and_extra_spaces_before_the_token_are_accepted() {
    let rig = Rig::start().await;
    let valid = rig.token().await.access;

    for value in [
        format!("bearer {valid}"),
        format!("BEARER {valid}"),
        format!("Bearer    {valid}"),
    ] {
        let response = rig
            .initialize_request()
            .header("authorization", &value)
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), StatusCode::OK, "{value}");
        let body = json_body(response).await;
        assert!(body["result"]["serverInfo"].is_object(), "{body}");
    }
}

#[tokio::test]
async fn basic_credentials_count_as_no_token_and_get_the_challenge_without_error() {
    let rig = Rig::start().await;

    let response = rig
        .initialize_request()
        .basic_auth("user", Some("password"))
        .send()
        .await
        .unwrap();

    assert_no_token_challenge(&rig, response).await;
}

#[tokio::test]
async fn valid_token_initializes_and_is_refused_on_the_next_call_after_the_authorization_server_revokes_it()
 {
    let rig = Rig::start().await;
    let tokens = rig.token().await;
    let (status, body) = rig.initialize(&tokens.access).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["result"]["protocolVersion"], PROTOCOL_VERSION,
        "{body}"
    );

    let (status, _) = rig.auth_control("/control/revoke-access", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let response = rig
        .post_mcp(Some(&tokens.access), &initialize_message())
        .await;

    assert_invalid_token(&rig, response).await;
}

#[tokio::test]
async fn token_is_refused_as_soon_as_the_authorization_server_clock_passes_its_expiry() {
    let rig = Rig::start().await;
    let (status, _) = rig
        .auth_control("/control/expires-in", json!({ "seconds": 60 }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let tokens = rig.token().await;
    let (status, body) = rig.initialize(&tokens.access).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    rig.auth.clock().advance(Duration::from_secs(59));
    let (status, body) = rig.initialize(&tokens.access).await;
    assert_eq!(status, StatusCode::OK, "a second before expiry: {body}");

    rig.auth.clock().advance(Duration::from_secs(2));
    let response = rig
        .post_mcp(Some(&tokens.access), &initialize_message())
        .await;

    assert_invalid_token(&rig, response).await;
}

#[tokio::test]
async fn tokens_issued_for_other_resources_get_invalid_token() {
    let rig = Rig::start().await;
    let port = rig.mcp_port();
    let auth_port = rig.auth.addr().port();

    for resource in [
        "https://other.example/mcp".to_owned(),
        format!("http://127.0.0.1:{auth_port}/mcp"),
        format!("https://127.0.0.1:{port}/mcp"),
        format!("http://127.0.0.1:{port}/other"),
    ] {
        let tokens = rig.token_for(Some(&resource)).await;
        let response = rig
            .post_mcp(Some(&tokens.access), &initialize_message())
            .await;

        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{resource}");
        let challenge = www_authenticate(&response);
        assert!(
            challenge.starts_with(r#"Bearer error="invalid_token""#),
            "{resource}: {challenge}"
        );
        assert!(
            challenge.contains(&resource_metadata_param(&by_address(&rig))),
            "{resource}: {challenge}"
        );
    }
}

#[tokio::test]
async fn token_issued_without_a_resource_indicator_is_accepted() {
    let rig = Rig::start().await;
    let tokens = rig.token_for(None).await;

    let (status, body) = rig.initialize(&tokens.access).await;

    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn token_issued_for_the_localhost_name_of_this_server_is_accepted_at_its_address() {
    let rig = Rig::start().await;
    let resource = format!("http://localhost:{}/mcp", rig.mcp_port());
    let tokens = rig.token_for(Some(&resource)).await;

    let (status, body) = rig.initialize(&tokens.access).await;

    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn token_issued_for_the_origin_of_this_server_is_accepted() {
    let rig = Rig::start().await;
    let resource = format!("http://127.0.0.1:{}", rig.mcp_port());
    let tokens = rig.token_for(Some(&resource)).await;

    let (status, body) = rig.initialize(&tokens.access).await;

    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn refresh_token_presented_as_a_bearer_token_gets_invalid_token() {
    let rig = Rig::start().await;
    let tokens = rig.token().await;

    let response = rig
        .post_mcp(Some(&tokens.refresh), &initialize_message())
        .await;

    assert_invalid_token(&rig, response).await;
}

#[tokio::test]
async fn get_and_delete_with_a_valid_token_get_405_from_the_stateless_transport() {
    let rig = Rig::start().await;
    let tokens = rig.token().await;

    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let response = rig
            .http
            .request(method.clone(), rig.mcp_url())
            .header("accept", "text/event-stream")
            .header("mcp-protocol-version", PROTOCOL_VERSION)
            .bearer_auth(&tokens.access)
            .send()
            .await
            .unwrap();

        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method}"
        );
        assert_eq!(response.headers()["allow"], "POST", "{method}");
        assert!(www_authenticate(&response).is_empty(), "{method}");
    }
}

#[tokio::test]
async fn counters_count_unauthorized_answers_bad_requests_and_introspections() {
    let rig = Rig::start().await;
    let tokens = rig.token().await;

    let _ = rig.post_mcp(None, &initialize_message()).await;
    let _ = rig.post_mcp(Some("unknown"), &initialize_message()).await;
    let _ = rig
        .initialize_request()
        .header("authorization", "Bearer")
        .send()
        .await
        .unwrap();
    let (status, _) = rig.initialize(&tokens.access).await;
    assert_eq!(status, StatusCode::OK);

    let counters = &rig.mcp_state().await["counters"];
    let expected = json!({
        "requests": 4,
        "unauthorized": 2,
        "bad_requests": 1,
        "forbidden": 0,
        "unavailable": 0,
        "introspections": 2,
        "introspection_failures": 0,
        "tool_calls": 0,
        "faults_fired": 0,
    });
    assert_eq!(counters, &expected);
}

#[tokio::test]
async fn counters_count_an_expired_token_as_unauthorized_after_one_introspection() {
    let rig = Rig::start().await;
    rig.auth_control("/control/expires-in", json!({ "seconds": 1 }))
        .await;
    let tokens = rig.token().await;
    rig.auth.clock().advance(Duration::from_secs(2));

    let response = rig
        .post_mcp(Some(&tokens.access), &initialize_message())
        .await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let counters: &Value = &rig.mcp_state().await["counters"];
    assert_eq!(counters["introspections"], 1, "{counters}");
    assert_eq!(counters["unauthorized"], 1, "{counters}");
    assert_eq!(counters["introspection_failures"], 0, "{counters}");
}
