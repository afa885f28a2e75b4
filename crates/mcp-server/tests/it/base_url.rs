//! `POST /control/base-url`: re-pointing the server's public URL while it runs (a tunnel that
//! came up or changed its name). Everything derived from the URL follows at once — the
//! metadata's `resource`, the challenge's `resource_metadata`, rmcp's Host/Origin guard and the
//! audiences accepted — while tokens for the URL left stay good unless told otherwise.

use std::collections::BTreeMap;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use mcp_server::{PRM_PATH, PRM_ROOT_PATH};

use crate::support::*;

const OLD: &str = "https://old.example.test";
const NEW: &str = "https://new.example.test";

/// A rig whose MCP server starts with the public base URL `base`.
async fn rig_at(base: &str) -> Rig {
    Rig::start_with(
        oauth_server::Config::default(),
        mcp_server::Config {
            base_url: Some(base.to_owned()),
            ..mcp_server::Config::default()
        },
    )
    .await
}

/// Re-points the MCP server, asserting that the call was accepted; answers the new state.
async fn repoint(rig: &Rig, body: Value) -> Value {
    let (status, state) = rig.mcp_control("/control/base-url", body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}: {state}");
    state
}

/// An `initialize` with `token`, sent to the server's address with this `Host` (and `Origin`,
/// if any): what a request through a tunnel of that name looks like to the server.
async fn initialize_as(rig: &Rig, token: &str, host: &str, origin: Option<&str>) -> StatusCode {
    let mut request = rig
        .initialize_request()
        .bearer_auth(token)
        .header("host", host);
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    request.send().await.unwrap().status()
}

#[tokio::test]
async fn after_a_repoint_the_metadata_and_the_challenge_name_the_new_url() {
    // Arrange: on a public URL from the start, so that the control plane stays as configured
    // (open) and the state can be read after the move.
    let rig = rig_at(OLD).await;

    // Act
    let state = repoint(&rig, json!({ "base_url": NEW })).await;

    // Assert
    assert_eq!(state["base_url"], NEW, "{state}");
    assert_eq!(state["resource"], format!("{NEW}/mcp"), "{state}");
    assert_eq!(state["keep_old_audience"], true, "{state}");
    assert_eq!(rig.mcp.url(), format!("{NEW}/mcp"));
    for path in [PRM_PATH, PRM_ROOT_PATH] {
        let document = json_body(rig.get_mcp_path(path).await).await;
        assert_eq!(document["resource"], format!("{NEW}/mcp"), "{path}");
    }
    let challenge = rig.post_mcp(None, &initialize_message()).await;
    assert_eq!(challenge.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        www_authenticate(&challenge),
        format!(
            r#"Bearer resource_metadata="{NEW}/.well-known/oauth-protected-resource/mcp", scope="mcp:tools""#
        )
    );
    let shown = rig.mcp_state().await;
    assert_eq!(shown["base_url"], NEW, "{shown}");
    assert_eq!(shown["keep_old_audience"], true, "{shown}");
}

#[tokio::test]
async fn after_a_repoint_rmcp_lets_the_new_name_through_and_refuses_the_old_public_one() {
    // Arrange: a token for the loopback address, which every base URL accepts.
    let rig = rig_at(OLD).await;
    let tokens = rig.token().await;
    let old_host = OLD.trim_start_matches("https://");
    let new_host = NEW.trim_start_matches("https://");
    assert_eq!(
        initialize_as(&rig, &tokens.access, old_host, Some(OLD)).await,
        StatusCode::OK
    );

    // Act
    repoint(&rig, json!({ "base_url": NEW })).await;

    // Assert
    assert_eq!(
        initialize_as(&rig, &tokens.access, new_host, Some(NEW)).await,
        StatusCode::OK
    );
    assert_eq!(
        initialize_as(&rig, &tokens.access, old_host, None).await,
        StatusCode::FORBIDDEN
    );
    let loopback = format!("127.0.0.1:{}", rig.mcp_port());
    assert_eq!(
        initialize_as(&rig, &tokens.access, &loopback, Some(OLD)).await,
        StatusCode::FORBIDDEN,
        "the old origin is no longer allowed"
    );
    assert_eq!(
        initialize_as(&rig, &tokens.access, &loopback, None).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_token_for_the_old_url_keeps_working_by_default_and_not_with_keep_old_audience_false() {
    // Arrange
    let rig = rig_at(OLD).await;
    let old_token = rig.token_for(Some(&format!("{OLD}/mcp"))).await.access;

    // Act: the default keeps the old audience.
    let kept = repoint(&rig, json!({ "base_url": NEW })).await;
    let (status_kept, _) = rig.initialize(&old_token).await;

    // Assert
    assert_eq!(kept["former_audiences"], json!([OLD]), "{kept}");
    assert_eq!(status_kept, StatusCode::OK);

    // Act: another re-point that gives up every former audience.
    const NEWER: &str = "https://newer.example.test";
    let dropped = repoint(
        &rig,
        json!({ "base_url": NEWER, "keep_old_audience": false }),
    )
    .await;
    let refused = rig.post_mcp(Some(&old_token), &initialize_message()).await;

    // Assert
    assert_eq!(dropped["former_audiences"], json!([]), "{dropped}");
    assert_eq!(dropped["keep_old_audience"], false, "{dropped}");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let challenge = www_authenticate(&refused);
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    assert!(
        challenge.contains(&format!(
            r#"resource_metadata="{NEWER}/.well-known/oauth-protected-resource/mcp""#
        )),
        "{challenge}"
    );
    let new_token = rig.token_for(Some(&format!("{NEWER}/mcp"))).await.access;
    assert_eq!(rig.initialize(&new_token).await.0, StatusCode::OK);
}

#[tokio::test]
async fn null_goes_back_to_the_loopback_name() {
    // Arrange
    let rig = rig_at(OLD).await;
    let port = rig.mcp_port();
    repoint(&rig, json!({ "base_url": NEW })).await;

    // Act
    let loopback = repoint(&rig, json!({ "base_url": null })).await;
    let document = json_body(
        rig.http
            .get(rig.mcp_path(PRM_PATH))
            .header("host", format!("127.0.0.1:{port}"))
            .send()
            .await
            .unwrap(),
    )
    .await;

    // Assert
    assert_eq!(loopback["base_url"], Value::Null, "{loopback}");
    assert_eq!(
        loopback["former_audiences"],
        json!([OLD, NEW]),
        "{loopback}"
    );
    assert_eq!(document["resource"], format!("http://127.0.0.1:{port}/mcp"));
}

#[tokio::test]
async fn a_reset_keeps_the_url_in_force_and_the_audiences_it_accepts() {
    // Arrange
    let rig = rig_at(OLD).await;
    repoint(&rig, json!({ "base_url": NEW })).await;

    // Act: where the server is reachable is not a failure switch; a reset between two test
    // cases must not cut a client off its tunnel.
    let (status, reset) = rig.mcp_control("/control/reset", json!({})).await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{reset}");
    assert_eq!(reset["base_url"], NEW, "{reset}");
    assert_eq!(reset["resource"], format!("{NEW}/mcp"), "{reset}");
    assert_eq!(reset["former_audiences"], json!([OLD]), "{reset}");
}

#[tokio::test]
async fn a_move_from_loopback_to_a_public_url_makes_the_control_plane_require_a_token_told_once() {
    // Arrange: a server on loopback names, its control plane open.
    let rig = Rig::start().await;

    // Act
    let public = repoint(&rig, json!({ "base_url": NEW })).await;
    let (refused, _) = rig.mcp_control("/control/state", json!({})).await;
    let token = public["control_token"]
        .as_str()
        .expect("a token, told once")
        .to_owned();
    let answer = rig
        .http
        .post(rig.mcp_path("/control/base-url"))
        .bearer_auth(&token)
        .json(&json!({ "base_url": "https://newer.example.test" }))
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(token.len(), 43, "256 bits from the OS RNG");
    assert_eq!(refused, StatusCode::UNAUTHORIZED, "from that request on");
    assert_eq!(answer.status(), StatusCode::OK);
    let answer: Value = answer.json().await.unwrap();
    assert!(answer.get("control_token").is_none(), "told once: {answer}");
}

#[tokio::test]
async fn a_renamed_authorization_server_keeps_its_introspection_url_and_survives_a_reset() {
    // Arrange
    let rig = Rig::start().await;
    let before = rig.mcp_state().await;
    let old = before["authorization_server"].as_str().unwrap().to_owned();
    let checked_at = before["introspection_url"].clone();
    let token = rig.token().await.access;

    // Act
    let body = json!({ "from": old, "to": "https://as.example.test" });
    let (status, renamed) = rig
        .mcp_control("/control/rename-authorization-server", body.clone())
        .await;
    let (_, reset) = rig.mcp_control("/control/reset", json!({})).await;
    let (unknown, message) = rig
        .mcp_control("/control/rename-authorization-server", body)
        .await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{renamed}");
    for state in [&renamed, &reset] {
        assert_eq!(
            state["authorization_server"], "https://as.example.test",
            "{state}"
        );
        assert_eq!(state["introspection_url"], checked_at, "{state}");
    }
    assert_eq!(
        rig.initialize(&token).await.0,
        StatusCode::OK,
        "tokens still checked"
    );
    assert_eq!(unknown, StatusCode::NOT_FOUND, "{message}");
}

#[tokio::test]
async fn a_bad_base_url_is_a_400_naming_the_problem_and_changes_nothing() {
    // Arrange
    let rig = rig_at(OLD).await;
    let before = rig.mcp_state().await;

    for (body, expected) in [
        (
            json!({ "base_url": format!("{NEW}/mcp") }),
            "must not have a path",
        ),
        (
            json!({ "base_url": "ftp://x.example" }),
            "must be an http(s) URL",
        ),
        (json!({ "base_url": "not a url" }), "is not a URL"),
        (json!({ "base_url": "https://x.example/?a=1" }), "query"),
        (
            json!({ "base_url": "https://me:pw@x.example" }),
            "user name or password",
        ),
        (json!({ "base_url": 5 }), "base_url:"),
        (json!({}), "base_url: missing"),
        (
            json!({ "base_url": NEW, "keep_old_audience": "yes" }),
            "keep_old_audience:",
        ),
        (
            json!({ "base_url": NEW, "keep": true }),
            "unknown field 'keep'",
        ),
    ] {
        // Act
        let (status, answer) = rig.mcp_control("/control/base-url", body.clone()).await;

        // Assert
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        let message = answer["error"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{body}: {message}");
        assert!(!message.contains("pw"), "no password echoed: {message}");
    }
    let after = rig.mcp_state().await;
    for field in [
        "base_url",
        "resource",
        "keep_old_audience",
        "former_audiences",
    ] {
        assert_eq!(after[field], before[field], "{field}");
    }
    let document = json_body(rig.get_mcp_path(PRM_PATH).await).await;
    assert_eq!(document["resource"], format!("{OLD}/mcp"));
}

#[tokio::test]
async fn the_handle_re_points_in_process_as_the_control_call_does() {
    // Arrange
    let rig = rig_at(OLD).await;

    // Act
    let state = rig.mcp.set_base_url(Some(NEW), false).unwrap();
    let error = rig
        .mcp
        .set_base_url(Some("https://x.example/mcp"), true)
        .unwrap_err();

    // Assert
    assert_eq!(state.base_url.as_deref(), Some(NEW));
    assert_eq!(state.resource, format!("{NEW}/mcp"));
    assert!(!state.keep_old_audience);
    assert!(state.former_audiences.is_empty());
    assert!(error.contains("must not have a path"), "{error}");
    assert_eq!(rig.mcp.url(), format!("{NEW}/mcp"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tool_calls_keep_working_while_the_base_url_changes() {
    // Arrange: one token for the loopback address, one for the public name; the re-points go
    // back and forth keeping old audiences, so both stay good throughout.
    const OTHER: &str = "https://other.example.test";
    let rig = rig_at(OLD).await;
    let loopback = rig.token().await.access;
    let public = rig.token_for(Some(&format!("{OLD}/mcp"))).await.access;
    const WORKERS: usize = 4;
    const CALLS: usize = 75;
    const REPOINTS: usize = 60;

    // Act
    let calls = join_all((0..WORKERS).map(|worker| {
        let (rig, loopback, public) = (&rig, &loopback, &public);
        async move {
            let mut statuses = Vec::with_capacity(CALLS);
            for call in 0..CALLS {
                let token = if (worker + call) % 2 == 0 {
                    loopback
                } else {
                    public
                };
                let message = format!("{worker}-{call}");
                let (status, answer) = rig
                    .call_tool(token, "echo", json!({ "message": message }))
                    .await;
                statuses.push((status, answer));
            }
            statuses
        }
    }));
    let repoints = async {
        for round in 0..REPOINTS {
            let base = if round % 2 == 0 { OTHER } else { OLD };
            repoint(&rig, json!({ "base_url": base })).await;
        }
    };
    let (calls, ()) = tokio::join!(calls, repoints);

    // Assert
    let mut tally: BTreeMap<u16, usize> = BTreeMap::new();
    for (status, answer) in calls.iter().flatten() {
        *tally.entry(status.as_u16()).or_default() += 1;
        if *status == StatusCode::OK {
            assert!(tool_text(answer).contains('-'), "{answer}");
        }
    }
    assert_eq!(tally, BTreeMap::from([(200, WORKERS * CALLS)]));
    let state = rig.mcp_state().await;
    assert_eq!(state["base_url"], OLD, "{state}");
    assert_eq!(state["former_audiences"], json!([OTHER]), "{state}");
}
