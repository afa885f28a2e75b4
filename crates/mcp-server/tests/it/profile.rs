//! The profile, as a client sees it: where protected-resource metadata is served and what it
//! says, what 401 and 403 challenges carry, which methods need no token, which scopes every
//! tool call needs — changed at run time, refused when malformed, undone by a reset.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const PRM: &str = "/.well-known/oauth-protected-resource/mcp";
const PRM_ROOT: &str = "/.well-known/oauth-protected-resource";

/// Changes the profile, asserting that the change was accepted; answers the state.
async fn set_profile(rig: &Rig, patch: Value) -> Value {
    let (status, state) = rig.mcp_control("/control/profile", patch.clone()).await;
    assert_eq!(status, StatusCode::OK, "{patch}: {state}");
    state
}

/// The base URL the client uses (by address), as the server answers it.
fn base(rig: &Rig) -> String {
    format!("http://127.0.0.1:{}", rig.mcp_port())
}

/// GETs a metadata path: its status and, if 200, its document.
async fn metadata(rig: &Rig, path: &str) -> (StatusCode, Value) {
    let response = rig.get_mcp_path(path).await;
    let status = response.status();
    (status, json_body(response).await)
}

/// The challenge of an `initialize` without a token.
async fn no_token_challenge(rig: &Rig) -> String {
    let response = rig.initialize_request().send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    www_authenticate(&response)
}

#[tokio::test]
async fn the_default_profile_is_shown_in_state_and_by_get_profile_with_the_required_scopes_in_force()
 {
    // Arrange
    let rig = Rig::start().await;

    // Act
    let state = rig.mcp_state().await;
    let (status, profile) = rig.mcp_get("/control/profile").await;

    // Assert
    let expected = json!({
        "prm": ["path", "root"],
        "prm_root_resource": "mcp-url",
        "prm_resource": null,
        "prm_scopes_supported": null,
        "resource_metadata": true,
        "challenge_scope": "required",
        "challenge_error": false,
        "insufficient_scope": "required+granted",
        "unauthenticated": [],
        "required_scopes": ["mcp:tools"],
    });
    assert_eq!(status, StatusCode::OK);
    assert_eq!(profile, expected);
    assert_eq!(state["profile"], expected);
    assert_eq!(state["migration"], Value::Null);
}

#[tokio::test]
async fn each_metadata_location_is_served_only_where_the_profile_says_and_the_challenge_names_the_first()
 {
    // Arrange
    let rig = Rig::start().await;
    let mcp_url = format!("{}/mcp", base(&rig));

    // Act + Assert: a custom path only.
    set_profile(&rig, json!({"prm": ["custom:/meta/prm-1"]})).await;
    let (custom, document) = metadata(&rig, "/meta/prm-1").await;
    assert_eq!(custom, StatusCode::OK);
    assert_eq!(document["resource"], mcp_url);
    assert_eq!(metadata(&rig, PRM).await.0, StatusCode::NOT_FOUND);
    assert_eq!(metadata(&rig, PRM_ROOT).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        no_token_challenge(&rig).await,
        format!(
            r#"Bearer resource_metadata="{}/meta/prm-1", scope="mcp:tools""#,
            base(&rig)
        )
    );

    // The root form only, describing the origin.
    set_profile(
        &rig,
        json!({"prm": ["root"], "prm_root_resource": "origin"}),
    )
    .await;
    let (root, document) = metadata(&rig, PRM_ROOT).await;
    assert_eq!(root, StatusCode::OK);
    assert_eq!(document["resource"], base(&rig));
    assert_eq!(metadata(&rig, PRM).await.0, StatusCode::NOT_FOUND);
    assert_eq!(metadata(&rig, "/meta/prm-1").await.0, StatusCode::NOT_FOUND);
    assert!(
        no_token_challenge(&rig)
            .await
            .contains(&format!(r#"resource_metadata="{}{PRM_ROOT}""#, base(&rig)))
    );

    // The root form describing the MCP URL, next to the path form.
    set_profile(
        &rig,
        json!({"prm": ["path", "root"], "prm_root_resource": "mcp-url"}),
    )
    .await;
    assert_eq!(metadata(&rig, PRM_ROOT).await.1["resource"], mcp_url);
    assert_eq!(metadata(&rig, PRM).await.1["resource"], mcp_url);

    // Nowhere: every form 404s and the challenge points at none.
    set_profile(&rig, json!({"prm": []})).await;
    assert_eq!(metadata(&rig, PRM).await.0, StatusCode::NOT_FOUND);
    assert_eq!(metadata(&rig, PRM_ROOT).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        no_token_challenge(&rig).await,
        r#"Bearer scope="mcp:tools""#
    );
}

#[tokio::test]
async fn a_resource_override_is_declared_by_every_form_while_tokens_are_still_judged_by_the_real_resource()
 {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;

    // Act
    set_profile(
        &rig,
        json!({"prm_resource": "https://evil.example.com/mcp", "prm_root_resource": "origin"}),
    )
    .await;
    let (_, path_form) = metadata(&rig, PRM).await;
    let (_, root_form) = metadata(&rig, PRM_ROOT).await;
    let (status, _) = rig.initialize(&tokens.access).await;

    // Assert
    assert_eq!(path_form["resource"], "https://evil.example.com/mcp");
    assert_eq!(root_form["resource"], "https://evil.example.com/mcp");
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn scopes_supported_may_be_omitted_or_any_list_independently_of_the_announced_scopes() {
    // Arrange
    let rig = Rig::start().await;

    // Act
    let (_, announced) = metadata(&rig, PRM).await;
    set_profile(&rig, json!({"prm_scopes_supported": "omit"})).await;
    let (_, omitted) = metadata(&rig, PRM).await;
    set_profile(
        &rig,
        json!({"prm_scopes_supported": ["mcp:basic", "mcp:read"]}),
    )
    .await;
    let (_, listed) = metadata(&rig, PRM_ROOT).await;

    // Assert
    assert_eq!(announced["scopes_supported"], json!(["mcp:tools"]));
    assert!(omitted.get("scopes_supported").is_none(), "{omitted}");
    assert_eq!(listed["scopes_supported"], json!(["mcp:basic", "mcp:read"]));
}

#[tokio::test]
async fn challenges_carry_resource_metadata_unless_switched_off_on_401_and_403_alike() {
    // Arrange
    let rig = Rig::start().await;
    let narrow = rig.token().await;
    set_profile(&rig, json!({"resource_metadata": false})).await;

    // Act
    let missing = no_token_challenge(&rig).await;
    let invalid = rig
        .initialize_request()
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    set_profile(&rig, json!({"required_scopes": ["mcp:tools", "mcp:admin"]})).await;
    let forbidden = rig
        .post_mcp(
            Some(&narrow.access),
            &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                    "params": {"name": "echo", "arguments": {"message": "x"}}}),
        )
        .await;

    // Assert
    assert_eq!(missing, r#"Bearer scope="mcp:tools""#);
    assert_eq!(invalid.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        www_authenticate(&invalid),
        r#"Bearer error="invalid_token", error_description="the access token is expired, revoked or unknown", scope="mcp:tools""#
    );
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    let challenge = www_authenticate(&forbidden);
    assert!(challenge.starts_with(r#"Bearer error="insufficient_scope""#));
    assert!(!challenge.contains("resource_metadata"), "{challenge}");
}

#[tokio::test]
async fn the_401_scope_is_what_the_request_needs_nothing_or_an_explicit_list() {
    // Arrange
    let rig = Rig::start().await;
    let metadata_url = format!("{}{PRM}", base(&rig));

    // Act
    let required = no_token_challenge(&rig).await;
    set_profile(&rig, json!({"challenge_scope": "omit"})).await;
    let omitted = no_token_challenge(&rig).await;
    let invalid = rig
        .initialize_request()
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    set_profile(
        &rig,
        json!({"challenge_scope": ["mcp:basic", "offline_access"]}),
    )
    .await;
    let listed = no_token_challenge(&rig).await;

    // Assert
    assert_eq!(
        required,
        format!(r#"Bearer resource_metadata="{metadata_url}", scope="mcp:tools""#)
    );
    assert_eq!(
        omitted,
        format!(r#"Bearer resource_metadata="{metadata_url}""#)
    );
    assert!(!www_authenticate(&invalid).contains("scope="));
    assert_eq!(
        listed,
        format!(r#"Bearer resource_metadata="{metadata_url}", scope="mcp:basic offline_access""#)
    );
}

#[tokio::test]
async fn challenge_error_gives_the_missing_token_401_the_conformance_mocks_invalid_token_shape() {
    // Arrange
    let rig = Rig::start().await;

    // Act
    set_profile(&rig, json!({"challenge_error": true})).await;
    let challenge = no_token_challenge(&rig).await;

    // Assert
    assert_eq!(
        challenge,
        format!(
            r#"Bearer error="invalid_token", error_description="this MCP server requires an OAuth bearer token", resource_metadata="{}{PRM}", scope="mcp:tools""#,
            base(&rig)
        )
    );
}

/// Both servers knowing `mcp:tools`, `mcp:write` and `mcp:read`; every tool call needs
/// `mcp:tools mcp:write` (from the profile).
async fn rig_requiring_write() -> Rig {
    let scopes: Vec<String> = ["mcp:tools", "mcp:write", "mcp:read"]
        .map(str::to_owned)
        .to_vec();
    let rig = Rig::start_with(
        oauth_server::Config {
            scopes: scopes.clone(),
            ..oauth_server::Config::default()
        },
        mcp_server::Config {
            scopes,
            ..mcp_server::Config::default()
        },
    )
    .await;
    set_profile(&rig, json!({"required_scopes": ["mcp:tools", "mcp:write"]})).await;
    rig
}

/// The `scope` of the 403 a tool call with `token` gets.
async fn forbidden_scope(rig: &Rig, token: &str) -> String {
    let response = rig
        .post_mcp(
            Some(token),
            &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                    "params": {"name": "echo", "arguments": {"message": "x"}}}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let challenge = www_authenticate(&response);
    challenge
        .split("scope=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no scope in {challenge}"))
        .to_owned()
}

#[tokio::test]
async fn the_403_scope_is_the_missing_scopes_the_required_ones_or_those_and_the_granted_ones() {
    // Arrange: a token with mcp:tools and mcp:read, lacking mcp:write.
    let rig = rig_requiring_write().await;
    let token = rig
        .token_with(Some(&rig.mcp_url()), Some("mcp:tools mcp:read"))
        .await
        .access;

    // Act
    let granted = forbidden_scope(&rig, &token).await;
    set_profile(&rig, json!({"insufficient_scope": "required"})).await;
    let required = forbidden_scope(&rig, &token).await;
    set_profile(&rig, json!({"insufficient_scope": "missing"})).await;
    let missing = forbidden_scope(&rig, &token).await;
    // A fault-injected 403 is shaped the same way.
    let (status, _) = rig
        .mcp_control("/control/bad-scope", json!({"on": true}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let injected = forbidden_scope(&rig, &token).await;

    // Assert
    assert_eq!(granted, "mcp:tools mcp:write mcp:read");
    assert_eq!(required, "mcp:tools mcp:write");
    assert_eq!(missing, "mcp:write");
    assert_eq!(injected, "mcp:write");
}

#[tokio::test]
async fn required_scopes_set_at_run_time_decide_the_401_scope_and_what_a_tool_call_needs() {
    // Arrange
    let rig = rig_requiring_write().await;
    let narrow = rig
        .token_with(Some(&rig.mcp_url()), Some("mcp:tools"))
        .await
        .access;

    // Act
    let challenge = no_token_challenge(&rig).await;
    let (refused, _) = rig
        .call_tool(&narrow, "echo", json!({"message": "x"}))
        .await;
    set_profile(&rig, json!({"required_scopes": null})).await;
    let (allowed, answer) = rig
        .call_tool(&narrow, "echo", json!({"message": "x"}))
        .await;

    // Assert
    assert!(
        challenge.ends_with(r#"scope="mcp:tools mcp:write""#),
        "{challenge}"
    );
    assert_eq!(refused, StatusCode::FORBIDDEN);
    assert_eq!(allowed, StatusCode::OK, "{answer}");
    assert_eq!(tool_text(&answer), "x");
}

#[tokio::test]
async fn lazy_auth_serves_the_listed_methods_without_a_token_and_refuses_the_rest() {
    // Arrange
    let rig = Rig::start().await;
    set_profile(
        &rig,
        json!({"unauthenticated": ["initialize", "notifications/*"]}),
    )
    .await;

    // Act
    let initialized = rig.initialize_request().send().await.unwrap();
    let initialized_status = initialized.status();
    let initialize_answer = json_body(initialized).await;
    let notified = post_mcp(
        &rig.http,
        &rig.mcp_url(),
        None,
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    let listed = post_mcp(
        &rig.http,
        &rig.mcp_url(),
        None,
        &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    )
    .await;
    // A token, if sent, is still checked.
    let (bad_token, _) = rig.initialize("not-a-token").await;

    // Assert
    assert_eq!(initialized_status, StatusCode::OK, "{initialize_answer}");
    assert!(
        initialize_answer["result"]["serverInfo"].is_object(),
        "{initialize_answer}"
    );
    assert_eq!(notified.status(), StatusCode::ACCEPTED);
    assert_eq!(listed.status(), StatusCode::UNAUTHORIZED);
    assert!(www_authenticate(&listed).starts_with("Bearer resource_metadata="));
    assert_eq!(bad_token, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn lazy_auth_refuses_a_tokenless_body_it_cannot_read_with_the_usual_401() {
    // Arrange
    let rig = Rig::start().await;
    set_profile(&rig, json!({"unauthenticated": ["*"]})).await;

    // Act
    let garbage = rig
        .http
        .post(rig.mcp_url())
        .header("accept", ACCEPT)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let get = rig
        .http
        .get(rig.mcp_url())
        .header("accept", ACCEPT)
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(garbage.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(get.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_malformed_profile_is_a_400_naming_the_field_and_changes_nothing() {
    // Arrange
    let rig = Rig::start().await;
    let before = rig.mcp_get("/control/profile").await.1;

    for (patch, named) in [
        (json!({"nope": true}), "nope"),
        (
            json!({"prm": ["path"], "challenge_error": "yes"}),
            "challenge_error",
        ),
        (json!({"prm": ["custom:no-slash"]}), "prm"),
        (json!({"prm": ["custom:/mcp"]}), "prm"),
        (json!({"prm": ["custom:/control/state"]}), "prm"),
        (json!({"prm": ["custom:/with space"]}), "prm"),
        (json!({"prm": ["elsewhere"]}), "prm"),
        (json!({"prm_root_resource": "host"}), "prm_root_resource"),
        (
            json!({"prm_scopes_supported": "none"}),
            "prm_scopes_supported",
        ),
        (json!({"challenge_scope": 3}), "challenge_scope"),
        (json!({"insufficient_scope": "some"}), "insufficient_scope"),
        (json!({"unauthenticated": ["a*b"]}), "unauthenticated"),
        (json!({"required_scopes": ["two words"]}), "required_scopes"),
    ] {
        // Act
        let response = rig
            .http
            .post(rig.mcp_path("/control/profile"))
            .json(&patch)
            .send()
            .await
            .unwrap();

        // Assert
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{patch}");
        let text = response.text().await.unwrap();
        assert!(text.contains(named), "{patch}: {text}");
        assert_eq!(rig.mcp_get("/control/profile").await.1, before, "{patch}");
    }
    let (status, _) = rig.mcp_control("/control/profile", json!([1])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn reset_restores_the_configured_profile_not_the_default_one() {
    // Arrange: a start-up profile with lazy auth and the root form only.
    let configured = mcp_server::Profile {
        prm: vec![mcp_server::profile::PrmLocation::Root],
        unauthenticated: vec!["initialize".to_owned()],
        ..mcp_server::Profile::default()
    };
    let rig = Rig::start_with(
        oauth_server::Config::default(),
        mcp_server::Config {
            profile: configured,
            ..mcp_server::Config::default()
        },
    )
    .await;
    let at_start = rig.mcp_get("/control/profile").await.1;
    set_profile(
        &rig,
        json!({"prm": ["path"], "unauthenticated": [], "challenge_error": true,
               "challenge_scope": "omit", "insufficient_scope": "missing",
               "prm_resource": "https://x.example/mcp", "resource_metadata": false}),
    )
    .await;
    assert_eq!(metadata(&rig, PRM_ROOT).await.0, StatusCode::NOT_FOUND);

    // Act
    let (status, state) = rig.mcp_control("/control/reset", json!({})).await;

    // Assert
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["profile"], at_start);
    assert_eq!(at_start["prm"], json!(["root"]));
    assert_eq!(at_start["unauthenticated"], json!(["initialize"]));
    assert_eq!(metadata(&rig, PRM_ROOT).await.0, StatusCode::OK);
    assert_eq!(metadata(&rig, PRM).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        rig.initialize_request().send().await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_null_field_goes_back_to_the_configured_value() {
    // Arrange
    let rig = Rig::start_with(
        oauth_server::Config::default(),
        mcp_server::Config {
            profile: mcp_server::Profile {
                challenge_error: true,
                ..mcp_server::Profile::default()
            },
            ..mcp_server::Config::default()
        },
    )
    .await;
    set_profile(&rig, json!({"challenge_error": false, "prm": []})).await;

    // Act
    let state = set_profile(&rig, json!({"challenge_error": null})).await;

    // Assert
    assert_eq!(state["profile"]["challenge_error"], true);
    assert_eq!(state["profile"]["prm"], json!([]));
}

#[tokio::test]
async fn the_journal_records_the_authorization_scheme_of_each_mcp_request_as_sent() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;

    // Act
    rig.initialize(&tokens.access).await;
    rig.initialize_request()
        .header("authorization", "DPoP abc")
        .send()
        .await
        .unwrap();
    rig.initialize_request()
        .basic_auth("user", Some("secret"))
        .send()
        .await
        .unwrap();
    rig.initialize_request().send().await.unwrap();
    let page = rig.events("").await;

    // Assert
    let schemes: Vec<Value> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["path"] == "/mcp")
        .map(|event| event["auth_scheme"].clone())
        .collect();
    assert_eq!(
        schemes,
        [json!("Bearer"), json!("DPoP"), json!("Basic"), Value::Null]
    );
}
