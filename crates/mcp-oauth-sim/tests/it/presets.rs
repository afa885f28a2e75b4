//! The failure presets of `mcp-oauth-sim scenario`, each run through the binary against a rig
//! the binary started, and shown to change what a client sees.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

/// A rig whose MCP server also announces `mcp:write`, for step-up and narrowed consent.
fn rig_with_write_scope(dir: &WorkDir) -> Serving {
    Launch::new(dir)
        .args(EPHEMERAL_PORTS)
        .env("SCOPES", "mcp:tools mcp:write")
        .serve()
}

#[tokio::test]
async fn as_down_makes_the_next_n_token_requests_503_and_the_one_after_works() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);
    let tokens = caller.log_in(&rig.mcp.url).await;

    // Act
    let armed = rig.scenario(&["as-down", "2"]);
    let first = caller.refresh(&tokens.client_id, &tokens.refresh).await;
    let second = caller.refresh(&tokens.client_id, &tokens.refresh).await;
    let third = caller.refresh(&tokens.client_id, &tokens.refresh).await;
    let after = rig.scenario(&["faults"]);

    // Assert
    let shown = armed.assert_success().stdout_words();
    assert!(
        shown.contains("oauth #1 token → 503 temporarily_unavailable (2 of 2 left, fired 0)"),
        "{shown}"
    );
    for (status, body) in [&first, &second] {
        assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    }
    assert_eq!(third.0, StatusCode::OK, "{}", third.1);
    let listing = after.assert_success().stdout_words();
    assert!(listing.contains("oauth no fault rules"), "{listing}");
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after_one_second_n_times() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);
    let tokens = caller.log_in(&rig.mcp.url).await;
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens.refresh.as_str()),
        ("client_id", tokens.client_id.as_str()),
    ];

    // Act
    rig.scenario(&["rate-limit", "1"]).assert_success();
    let limited = caller.token_response(&form).await;
    let next = caller.token_response(&form).await;

    // Assert
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers()["retry-after"], "1");
    assert_eq!(limited.headers()["cache-control"], "no-store");
    assert_eq!(next.status(), StatusCode::OK);
}

#[tokio::test]
async fn slow_token_delays_token_answers_until_turned_off() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);
    let tokens = caller.log_in(&rig.mcp.url).await;

    // Act
    rig.scenario(&["slow-token", "100"]).assert_success();
    let replaced = rig.scenario(&["slow-token", "300"]);
    let started = Instant::now();
    let (status, body) = caller.refresh(&tokens.client_id, &tokens.refresh).await;
    let took = started.elapsed();
    let off = rig.scenario(&["slow-token", "off"]);

    // Assert
    let listing = replaced.assert_success().stdout_words();
    assert!(listing.contains("token → delay 300 ms"), "{listing}");
    assert!(
        !listing.contains("delay 100 ms"),
        "the new delay replaces the old: {listing}"
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(took >= Duration::from_millis(300), "{took:?}");
    let state = off.assert_success().stdout_words();
    assert!(!state.contains("fault rules"), "{state}");
}

#[tokio::test]
async fn introspect_down_makes_mcp_calls_503_or_401_until_turned_off() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);
    let tokens = caller.log_in(&rig.mcp.url).await;

    // Act
    let down = rig.scenario(&["introspect-down"]);
    let unavailable = caller
        .call_tool(&tokens.access, "echo", json!({"message": "a"}))
        .await;
    let as_401 = rig.scenario(&["introspect-down", "401"]);
    let unauthorized = caller
        .call_tool(&tokens.access, "echo", json!({"message": "b"}))
        .await;
    let off = rig.scenario(&["introspect-down", "off"]);
    let (status, body) = caller.echo(&tokens.access, "back").await;

    // Assert
    let shown = down.assert_success().stdout_words();
    assert!(shown.contains("failed token checks answer 503"), "{shown}");
    assert!(shown.contains("oauth #1 introspect → 503"), "{shown}");
    assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(unavailable.headers()["retry-after"], "1");
    let shown = as_401.assert_success().stdout_words();
    assert!(shown.contains("failed token checks answer 401"), "{shown}");
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
    let challenge = challenge_of(&unauthorized);
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    let shown = off.assert_success().stdout_words();
    assert!(shown.contains("failed token checks answer 503"), "{shown}");
    assert!(!shown.contains("fault rules"), "{shown}");
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn clock_forward_makes_a_token_issued_before_inactive_and_reset_brings_it_back() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);
    let tokens = caller.log_in(&rig.mcp.url).await;

    // Act: the token lives 3600 s; an hour and a second later it is dead.
    let forward = rig.scenario(&["clock", "+3601"]);
    let (expired, _) = caller.echo(&tokens.access, "later").await;
    let back = rig.scenario(&["clock", "-1"]);
    let reset = rig.scenario(&["clock", "reset"]);
    let (status, body) = caller.echo(&tokens.access, "now").await;

    // Assert
    assert!(
        forward
            .assert_success()
            .stdout_words()
            .contains("clock +3601 s")
    );
    assert_eq!(expired, StatusCode::UNAUTHORIZED);
    let shown = back.assert_success().stdout_words();
    assert!(
        shown.contains("clock +3600 s"),
        "a negative number moves back: {shown}"
    );
    assert!(reset.assert_success().stdout_words().contains("clock +0 s"));
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn step_up_makes_calls_of_that_tool_403_naming_the_scope_while_others_work() {
    // Arrange: a token for mcp:tools only.
    let dir = WorkDir::new();
    let rig = rig_with_write_scope(&dir);
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);
    rig.scenario(&["narrow-consent", "mcp:tools"])
        .assert_success();
    let narrow = caller.log_in(&rig.mcp.url).await;

    // Act
    let step_up = rig.scenario(&["step-up", "add", "mcp:write"]);
    let add = caller
        .call_tool(&narrow.access, "add", json!({"a": 1, "b": 2}))
        .await;
    let (echo, _) = caller.echo(&narrow.access, "still fine").await;
    let (listed, _) = caller.rpc(&narrow.access, "tools/list", json!({})).await;
    rig.scenario(&["narrow-consent", "off"]).assert_success();
    let wide = caller.log_in(&rig.mcp.url).await;
    let (stepped_up, sum) = caller
        .rpc(
            &wide.access,
            "tools/call",
            json!({"name": "add", "arguments": {"a": 1, "b": 2}}),
        )
        .await;
    let removed = rig.scenario(&["step-up", "add", "off"]);

    // Assert
    let shown = step_up.assert_success().stdout_words();
    assert!(shown.contains("step-up add=mcp:write"), "{shown}");
    assert_eq!(add.status(), StatusCode::FORBIDDEN);
    let challenge = challenge_of(&add);
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    let scope = challenge
        .split("scope=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default();
    assert!(scope.split(' ').any(|s| s == "mcp:write"), "{challenge}");
    assert!(scope.split(' ').any(|s| s == "mcp:tools"), "{challenge}");
    assert_eq!(echo, StatusCode::OK);
    assert_eq!(listed, StatusCode::OK);
    assert_eq!(wide.scope, "mcp:tools mcp:write");
    assert_eq!(stepped_up, StatusCode::OK, "{sum}");
    assert!(
        removed
            .assert_success()
            .stdout_words()
            .contains("step-up none")
    );
}

#[tokio::test]
async fn narrow_consent_grants_only_that_scope_whatever_was_asked() {
    // Arrange
    let dir = WorkDir::new();
    let rig = rig_with_write_scope(&dir);
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);

    // Act
    let narrowed = rig.scenario(&["narrow-consent", "mcp:tools"]);
    let tokens = caller.log_in(&rig.mcp.url).await;
    let unknown = rig.scenario(&["narrow-consent", "mcp:nope"]);
    let off = rig.scenario(&["narrow-consent", "off"]);
    let wide = caller.log_in(&rig.mcp.url).await;

    // Assert
    let shown = narrowed.assert_success().stdout_words();
    assert!(shown.contains("narrow-consent mcp:tools"), "{shown}");
    assert_eq!(tokens.scope, "mcp:tools");
    assert_eq!(unknown.status.code(), Some(1), "{unknown:#?}");
    assert!(unknown.stderr.contains("400"), "{unknown:#?}");
    assert!(
        off.assert_success()
            .stdout_words()
            .contains("narrow-consent off")
    );
    assert_eq!(wide.scope, "mcp:tools mcp:write");
}

#[tokio::test]
async fn reuse_detect_on_revokes_the_grant_when_a_rotated_out_refresh_token_returns() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);
    rig.scenario(&["rotate", "on"]).assert_success();
    let detect = rig.scenario(&["reuse-detect", "on", "0"]);
    let tokens = caller.log_in(&rig.mcp.url).await;

    // Act
    let (rotated, pair) = caller.refresh(&tokens.client_id, &tokens.refresh).await;
    let new_refresh = pair["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let new_access = pair["access_token"].as_str().unwrap_or_default().to_owned();
    let (reused, error) = caller.refresh(&tokens.client_id, &tokens.refresh).await;
    let (family, _) = caller.refresh(&tokens.client_id, &new_refresh).await;
    let (call, _) = caller.echo(&new_access, "revoked with its grant").await;
    let state = rig.scenario(&["state"]);

    // Assert
    let shown = detect.assert_success().stdout_words();
    assert!(shown.contains("reuse-detect on (grace 0 s)"), "{shown}");
    assert_eq!(rotated, StatusCode::OK, "{pair}");
    assert_eq!(reused, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["error"], "invalid_grant", "{error}");
    assert!(
        error["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("reuse"),
        "{error}"
    );
    assert_eq!(
        family,
        StatusCode::BAD_REQUEST,
        "the whole grant is revoked"
    );
    assert_eq!(call, StatusCode::UNAUTHORIZED);
    assert!(
        state.stdout_words().contains("reuse detected 1"),
        "{state:#?}"
    );
}

#[tokio::test]
async fn reuse_detect_with_a_grace_accepts_a_rotated_out_token_used_again_at_once() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);
    rig.scenario(&["rotate", "on"]).assert_success();
    rig.scenario(&["reuse-detect", "on", "60"]).assert_success();
    let tokens = caller.log_in(&rig.mcp.url).await;

    // Act
    let (first, _) = caller.refresh(&tokens.client_id, &tokens.refresh).await;
    let (again, body) = caller.refresh(&tokens.client_id, &tokens.refresh).await;
    let off = rig.scenario(&["reuse-detect", "off"]);

    // Assert
    assert_eq!(first, StatusCode::OK);
    assert_eq!(again, StatusCode::OK, "within the grace: {body}");
    assert!(
        off.assert_success()
            .stdout_words()
            .contains("reuse-detect off")
    );
}

#[tokio::test]
async fn fault_adds_any_rule_which_faults_lists_and_delete_fault_and_clear_faults_remove() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);
    let tokens = caller.log_in(&rig.mcp.url).await;
    let rule = r#"{"endpoint":"mcp","match":{"tool":"add"},"respond":{"status":500}}"#;

    // Act
    let added = rig.scenario(&["fault", "mcp", rule]);
    let broken = caller
        .call_tool(&tokens.access, "add", json!({"a": 1, "b": 1}))
        .await;
    let (echo, _) = caller.echo(&tokens.access, "unaffected").await;
    let listed = rig.scenario(&["faults", "--json"]);
    let deleted = rig.scenario(&["delete-fault", "mcp", "1"]);
    let (fixed, _) = caller
        .rpc(
            &tokens.access,
            "tools/call",
            json!({"name": "add", "arguments": {"a": 1, "b": 1}}),
        )
        .await;
    rig.scenario(&["deny-consent", "on"]).assert_success();
    rig.scenario(&["as-down", "5"]).assert_success();
    let cleared = rig.scenario(&["clear-faults"]);
    let empty = rig.scenario(&["faults"]);

    // Assert
    let shown = added.assert_success().stdout_words();
    assert!(
        shown.contains("added mcp #1 mcp tool=add → 500 server_error (until deleted, fired 0)"),
        "{shown}"
    );
    assert_eq!(broken.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(echo, StatusCode::OK);
    let listing: serde_json::Value =
        serde_json::from_str(&listed.assert_success().stdout).expect("faults --json is JSON");
    assert_eq!(listing["mcp"][0]["fired"], 1, "{listing}");
    assert_eq!(listing["oauth"], json!([]), "{listing}");
    deleted.assert_success();
    assert_eq!(fixed, StatusCode::OK);
    let state = cleared.assert_success().stdout_words();
    assert!(
        state.contains("deny-consent off"),
        "presets go too: {state}"
    );
    let empty = empty.assert_success().stdout_words();
    assert_eq!(empty, "oauth no fault rules mcp no fault rules");
}

#[tokio::test]
async fn presets_given_the_wrong_values_exit_non_zero_with_what_they_need() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();
    let cases = [
        (
            &["as-down"][..],
            "as-down needs a number of requests (1 or more)",
        ),
        (
            &["as-down", "0"][..],
            "as-down needs a number of requests (1 or more)",
        ),
        (
            &["rate-limit", "many"][..],
            "rate-limit needs a number of requests",
        ),
        (
            &["slow-token", "fast"][..],
            "slow-token needs milliseconds or off",
        ),
        (
            &["introspect-down", "418"][..],
            "introspect-down needs 503, 401 or off",
        ),
        (
            &["clock", "soon"][..],
            "clock needs +SECONDS, -SECONDS or reset",
        ),
        (
            &["step-up", "add"][..],
            "step-up needs a tool and a scope (or off)",
        ),
        (
            &["narrow-consent"][..],
            "narrow-consent needs a scope or off",
        ),
        (
            &["reuse-detect", "on", "long"][..],
            "reuse-detect needs on|off and optionally",
        ),
        (
            &["fault", "web", "{}"][..],
            "'web' is not a service (oauth or mcp)",
        ),
        (&["fault", "oauth", "{nope"][..], "the rule is not JSON"),
        (
            &["delete-fault", "oauth", "x"][..],
            "delete-fault needs a service",
        ),
        (
            &["rotate", "on", "twice"][..],
            "rotate takes 1 value(s), not 2",
        ),
        (
            &["state", "--since", "3"][..],
            "--since goes with events only",
        ),
        (&["step-up", "add", "mcp:nope"][..], "answered 400"),
        (
            &[
                "fault",
                "oauth",
                r#"{"endpoint":"mcp","respond":{"status":503}}"#,
            ][..],
            "unknown endpoint",
        ),
    ];

    for (args, message) in cases {
        // Act
        let finished = rig.scenario(args);

        // Assert
        assert_eq!(finished.status.code(), Some(1), "{args:?}: {finished:#?}");
        assert!(
            finished.stderr.starts_with("error: ") && finished.stderr.contains(message),
            "{args:?}: expected {message:?} in {:?}",
            finished.stderr
        );
    }
    let faults = rig.scenario(&["faults"]).assert_success().stdout_words();
    assert_eq!(faults, "oauth no fault rules mcp no fault rules");
}
