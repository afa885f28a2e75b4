use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{REDIRECT_URI, Rig};

#[tokio::test]
async fn public_client_registration_echoes_metadata_without_a_secret() {
    let rig = Rig::start().await;
    let (status, body) = rig
        .register(json!({
            "redirect_uris": [REDIRECT_URI, "https://app.example.com/cb"],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "client_name": "rmcp",
            "application_type": "native",
            "scope": "mcp:tools",
            "software_id": "x-custom",
            "client_id": "chosen-by-the-client",
            "registration_access_token": "invented",
        }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["client_id"].as_str().unwrap().len(), 43);
    assert!(body["client_id_issued_at"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(
        body["redirect_uris"],
        json!([REDIRECT_URI, "https://app.example.com/cb"])
    );
    assert_eq!(body["token_endpoint_auth_method"], json!("none"));
    assert_eq!(
        body["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(body["response_types"], json!(["code"]));
    assert_eq!(body["client_name"], json!("rmcp"));
    assert_eq!(body["application_type"], json!("native"));
    assert_eq!(body["scope"], json!("mcp:tools"));
    assert_eq!(body["software_id"], json!("x-custom"));
    assert!(body.get("client_secret").is_none());
    assert!(
        body.get("registration_access_token").is_none(),
        "RFC 7592 is not offered"
    );
    assert_eq!(rig.state().await["store"]["clients"], json!(1));
    assert_eq!(rig.state().await["counters"]["registrations"], json!(1));
}

#[tokio::test]
async fn secret_methods_get_a_secret_that_never_expires() {
    let rig = Rig::start().await;
    for method in ["client_secret_basic", "client_secret_post"] {
        let (status, body) = rig
            .register(
                json!({"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": method}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(body["client_secret"].as_str().unwrap().len(), 43);
        assert_eq!(body["client_secret_expires_at"], json!(0));
        assert_eq!(body["token_endpoint_auth_method"], json!(method));
    }
}

#[tokio::test]
async fn omitted_fields_get_rfc_7591_defaults() {
    let rig = Rig::start().await;
    let (status, body) = rig.register(json!({"redirect_uris": [REDIRECT_URI]})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        body["token_endpoint_auth_method"],
        json!("client_secret_basic")
    );
    assert_eq!(body["grant_types"], json!(["authorization_code"]));
    assert_eq!(body["response_types"], json!(["code"]));
    assert!(body["client_secret"].is_string());
}

#[tokio::test]
async fn registration_response_is_not_cached_and_readable_cross_origin() {
    let rig = Rig::start().await;
    let response = rig
        .http
        .post(rig.url("/register"))
        .json(&json!({"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn bad_redirect_uris_are_invalid_redirect_uri() {
    let rig = Rig::start().await;
    for uris in [
        Value::Null,
        json!([]),
        json!("http://localhost/cb"),
        json!([42]),
        json!(["http://example.com/cb"]),
        json!(["https://app.example.com/cb#fragment"]),
        json!(["javascript:alert(1)"]),
        json!(["/relative"]),
        json!([REDIRECT_URI, "data:text/html,x"]),
    ] {
        let mut metadata = json!({"token_endpoint_auth_method": "none"});
        if !uris.is_null() {
            metadata["redirect_uris"] = uris.clone();
        }
        let (status, body) = rig.register(metadata).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uris}");
        assert_eq!(body["error"], json!("invalid_redirect_uri"), "{uris}");
        assert!(body["error_description"].is_string());
    }
    assert_eq!(rig.state().await["store"]["clients"], json!(0));
}

#[tokio::test]
async fn bad_metadata_is_invalid_client_metadata() {
    let rig = Rig::start().await;
    let uris = json!([REDIRECT_URI]);
    for metadata in [
        json!({"redirect_uris": uris, "token_endpoint_auth_method": "private_key_jwt"}),
        json!({"redirect_uris": uris, "token_endpoint_auth_method": 7}),
        json!({"redirect_uris": uris, "grant_types": ["client_credentials"],
               "token_endpoint_auth_method": "none"}),
        json!({"redirect_uris": uris, "grant_types": ["refresh_token"]}),
        json!({"redirect_uris": uris, "grant_types": "authorization_code"}),
        json!({"redirect_uris": uris, "response_types": ["token"]}),
        json!({"redirect_uris": uris, "client_name": ["not", "a", "string"]}),
        json!({"redirect_uris": uris, "contacts": "me@example.com"}),
        json!({"redirect_uris": uris, "scope": 5}),
        json!(["not", "an", "object"]),
    ] {
        let (status, body) = rig.register(metadata.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{metadata}");
        assert_eq!(
            body["error"],
            json!("invalid_client_metadata"),
            "{metadata}"
        );
    }
}

#[tokio::test]
async fn malformed_json_or_wrong_content_type_is_a_clear_400() {
    let rig = Rig::start().await;
    for (content_type, body) in [
        ("application/json", "{\"redirect_uris\": ["),
        ("application/json", ""),
        (
            "application/x-www-form-urlencoded",
            "redirect_uris=http://127.0.0.1/cb",
        ),
        ("text/plain", "{}"),
    ] {
        let response = rig
            .http
            .post(rig.url("/register"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{content_type} {body}"
        );
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"], json!("invalid_client_metadata"));
        assert!(!error["error_description"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_registry_of_clients_holding_live_tokens_answers_503_with_retry_after_until_reset() {
    // Arrange: both places taken by clients in use.
    let rig = Rig::start_with(oauth_server::Config {
        limits: oauth_server::Limits {
            max_clients: 2,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    for _ in 0..2 {
        let client = rig.public_client().await;
        rig.full_flow(&client).await;
    }

    // Act
    let refused = rig
        .http
        .post(rig.url("/register"))
        .json(&json!({"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none"}))
        .send()
        .await
        .unwrap();
    let retry_after = refused.headers().get("retry-after").cloned();
    let status = refused.status();
    let body: Value = refused.json().await.unwrap();
    rig.control("/control/reset", None).await;
    let after_reset = rig.public_client().await;

    // Assert
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], json!("temporarily_unavailable"));
    let reason = body["error_description"].as_str().unwrap();
    assert!(
        reason.contains("client registry is full (2 clients, each holding a live code or token)"),
        "{reason}"
    );
    assert_eq!(
        retry_after.as_ref().map(|value| value.as_bytes()),
        Some(&b"1"[..])
    );
    assert!(!after_reset.id.is_empty());
}
