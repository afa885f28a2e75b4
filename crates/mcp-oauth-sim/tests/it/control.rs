//! The typed `Control` calls beyond the switches — fault rules, the clock, narrowed consent,
//! reuse detection, the introspection-failure mode, tool scopes, the journal and its live
//! stream — each against a `Sim`, with its effect on a client.

use std::time::Duration;

use mcp_oauth_sim::control::{Fault, Respond, Watched};
use mcp_oauth_sim::{ControlError, IntrospectionFailure, Service, Sim};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

fn caller_for(sim: &Sim) -> Caller {
    Caller::new(http_client(), sim.issuer(), sim.mcp_url())
}

#[tokio::test]
async fn add_fault_takes_a_typed_rule_or_json_and_faults_delete_fault_clear_faults_manage_them() {
    // Arrange
    let sim = Sim::builder().start().await.expect("the rig starts");
    let control = sim.control();
    let caller = caller_for(&sim);
    let tokens = caller.log_in(&sim.mcp_url()).await;

    // Act
    let typed = control
        .add_fault(
            Service::OAuth,
            &Fault::new("token", Respond::status(503))
                .grant_type("refresh_token")
                .times(1),
        )
        .await
        .expect("add a typed rule");
    let (down, _) = caller.refresh(&tokens.client_id, &tokens.refresh).await;
    let (up, _) = caller.refresh(&tokens.client_id, &tokens.refresh).await;
    let raw = control
        .add_fault(
            Service::Mcp,
            &json!({"endpoint": "mcp", "match": {"tool": "echo"}, "respond": {"drop": true}}),
        )
        .await
        .expect("add a JSON rule");
    let listed = control.faults(Service::Mcp).await.expect("list");
    let dropped = caller
        .http
        .post(&caller.mcp)
        .bearer_auth(&tokens.access)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "echo", "arguments": {"message": "x"}}}))
        .send()
        .await;
    let left = control
        .delete_fault(Service::Mcp, raw.id)
        .await
        .expect("delete");
    let unknown = control.delete_fault(Service::Mcp, raw.id).await;
    let refused = control
        .add_fault(Service::Mcp, &Fault::new("token", Respond::status(503)))
        .await;
    control.deny_consent(true).await.expect("deny consent");
    let cleared = control.clear_faults().await.expect("clear");
    let state = control.oauth_state().await.expect("state");

    // Assert
    assert_eq!(typed.endpoint, "token");
    assert_eq!(
        (typed.times, typed.remaining, typed.fired),
        (Some(1), Some(1), 0)
    );
    assert_eq!(typed.matching.grant_type.as_deref(), Some("refresh_token"));
    assert_eq!(down, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(up, StatusCode::OK);
    assert_eq!(raw.respond, Respond::Drop);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].fired, 0);
    assert!(
        dropped.is_err(),
        "the connection closes without an answer: {dropped:?}"
    );
    assert!(left.is_empty());
    assert!(
        matches!(
            unknown,
            Err(ControlError::Refused {
                status: StatusCode::NOT_FOUND,
                ..
            })
        ),
        "{unknown:?}"
    );
    let refused = refused
        .expect_err("the MCP server has no token endpoint")
        .to_string();
    assert!(refused.contains("unknown endpoint 'token'"), "{refused}");
    assert!(cleared.oauth.is_empty() && cleared.mcp.is_empty());
    assert!(
        !state.toggles.deny_consent,
        "clearing takes the presets too"
    );
    assert_eq!(state.counters.faults_fired, 1);
}

#[tokio::test]
async fn advance_clock_expires_tokens_issued_before_and_reset_clock_restores_real_time() {
    // Arrange
    let sim = Sim::builder()
        .token_ttl(Duration::from_secs(60))
        .start()
        .await
        .expect("the rig starts");
    let caller = caller_for(&sim);
    let tokens = caller.log_in(&sim.mcp_url()).await;

    // Act
    let forward = sim.control().advance_clock(61).await.expect("advance");
    let (expired, _) = caller.echo(&tokens.access, "later").await;
    let reset = sim.control().reset_clock().await.expect("reset");
    let (alive, body) = caller.echo(&tokens.access, "now").await;
    let month = sim
        .control()
        .advance_clock(30 * 86_400 + 1)
        .await
        .expect("advance a month");
    let (refresh, error) = caller.refresh(&tokens.client_id, &tokens.refresh).await;

    // Assert
    assert_eq!(forward.clock.offset_seconds, 61);
    assert_eq!(expired, StatusCode::UNAUTHORIZED);
    assert_eq!(reset.clock.offset_seconds, 0);
    assert_eq!(alive, StatusCode::OK, "{body}");
    assert_eq!(month.clock.offset_seconds, 30 * 86_400 + 1);
    assert_eq!(
        refresh,
        StatusCode::BAD_REQUEST,
        "refresh tokens live 30 days: {error}"
    );
}

#[tokio::test]
async fn narrow_consent_grants_only_the_given_scope_until_cleared() {
    // Arrange
    let sim = Sim::builder()
        .scopes(["mcp:tools", "mcp:read"])
        .start()
        .await
        .expect("the rig starts");
    let caller = caller_for(&sim);

    // Act
    let narrowed = sim
        .control()
        .narrow_consent(Some("mcp:read"))
        .await
        .expect("narrow");
    let tokens = caller.log_in(&sim.mcp_url()).await;
    let (call, _) = caller.echo(&tokens.access, "needs mcp:tools").await;
    let (_, refreshed) = caller.refresh(&tokens.client_id, &tokens.refresh).await;
    let cleared = sim.control().narrow_consent(None).await.expect("clear");
    let wide = caller.log_in(&sim.mcp_url()).await;

    // Assert
    assert_eq!(narrowed.consent.grant_scope.as_deref(), Some("mcp:read"));
    assert_eq!(tokens.scope, "mcp:read");
    assert_eq!(call, StatusCode::FORBIDDEN, "mcp:tools was not granted");
    assert_eq!(
        refreshed["scope"], "mcp:read",
        "a refresh keeps it: {refreshed}"
    );
    assert_eq!(cleared.consent.grant_scope, None);
    assert_eq!(wide.scope, "mcp:tools mcp:read");
}

#[tokio::test]
async fn reuse_detection_shows_in_the_state_and_counts_what_it_caught() {
    // Arrange
    let sim = Sim::builder().start().await.expect("the rig starts");
    let control = sim.control();
    let caller = caller_for(&sim);
    control.rotate_refresh_tokens(true).await.expect("rotate");
    let tokens = caller.log_in(&sim.mcp_url()).await;

    // Act
    let on = control.reuse_detection(true, 0).await.expect("on");
    caller.refresh(&tokens.client_id, &tokens.refresh).await;
    let (reused, error) = caller.refresh(&tokens.client_id, &tokens.refresh).await;
    let off = control.reuse_detection(false, 0).await.expect("off");

    // Assert
    assert!(on.reuse_detection.on);
    assert_eq!(on.reuse_detection.grace_seconds, 0);
    assert_eq!(reused, StatusCode::BAD_REQUEST, "{error}");
    assert!(!off.reuse_detection.on);
    assert_eq!(off.counters.reuse_detections, 1);
}

#[tokio::test]
async fn introspection_failure_401_answers_invalid_token_when_tokens_cannot_be_checked() {
    // Arrange
    let sim = Sim::builder().start().await.expect("the rig starts");
    let control = sim.control();
    let caller = caller_for(&sim);
    let tokens = caller.log_in(&sim.mcp_url()).await;
    control
        .add_fault(
            Service::OAuth,
            &Fault::new("introspect", Respond::Malformed),
        )
        .await
        .expect("break introspection");

    // Act
    let (default, _) = caller.echo(&tokens.access, "a").await;
    let state = control
        .introspection_failure(IntrospectionFailure::InvalidToken)
        .await
        .expect("mode");
    let (as_401, _) = caller.echo(&tokens.access, "b").await;

    // Assert
    assert_eq!(default, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        state.introspection_failure,
        IntrospectionFailure::InvalidToken
    );
    assert_eq!(as_401, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn tool_scopes_from_the_builder_are_announced_and_required_and_control_changes_them() {
    // Arrange
    let sim = Sim::builder()
        .tool_scopes([("add", "mcp:write")])
        .start()
        .await
        .expect("the rig starts");
    let control = sim.control();
    let caller = caller_for(&sim);
    control
        .narrow_consent(Some("mcp:tools"))
        .await
        .expect("narrow");
    let tokens = caller.log_in(&sim.mcp_url()).await;

    // Act
    let before = control.mcp_state().await.expect("state");
    let (_, metadata) = caller
        .get_json(&format!(
            "{}/.well-known/oauth-authorization-server",
            sim.issuer()
        ))
        .await;
    let denied = caller
        .call_tool(&tokens.access, "add", json!({"a": 1, "b": 2}))
        .await;
    let removed = control
        .tool_scopes([("add", None::<&str>)])
        .await
        .expect("remove");
    let (allowed, _) = caller
        .rpc(
            &tokens.access,
            "tools/call",
            json!({"name": "add", "arguments": {"a": 1, "b": 2}}),
        )
        .await;
    let added = control
        .tool_scopes([("whoami", Some("mcp:write"))])
        .await
        .expect("add");
    let reset = control.reset().await.expect("reset");

    // Assert
    assert_eq!(before.tool_scopes["add"], "mcp:write");
    assert_eq!(
        metadata["scopes_supported"],
        json!(["mcp:tools", "mcp:write"])
    );
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    assert!(
        challenge_of(&denied).contains("mcp:write"),
        "{}",
        challenge_of(&denied)
    );
    assert!(removed.tool_scopes.is_empty());
    assert_eq!(allowed, StatusCode::OK);
    assert_eq!(added.tool_scopes["whoami"], "mcp:write");
    assert_eq!(
        reset.mcp.tool_scopes, before.tool_scopes,
        "a reset restores the configured map"
    );
}

#[tokio::test]
async fn events_and_all_events_page_through_the_journals_without_whole_secrets() {
    // Arrange
    let sim = Sim::builder().start().await.expect("the rig starts");
    let control = sim.control();
    let caller = caller_for(&sim);
    let tokens = caller.log_in(&sim.mcp_url()).await;
    caller.echo(&tokens.access, "journaled").await;

    // Act
    let oauth = control
        .events(Service::OAuth, 0)
        .await
        .expect("oauth events");
    let after = control
        .events(Service::OAuth, oauth.next)
        .await
        .expect("later");
    let all = control.all_events(0).await.expect("all events");

    // Assert
    let paths: Vec<&str> = oauth.events.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["/register", "/authorize", "/token", "/introspect"]);
    assert_eq!(
        oauth.events[2].grant_type.as_deref(),
        Some("authorization_code")
    );
    assert_eq!(
        oauth.events[2].client_id.as_deref(),
        Some(tokens.client_id.as_str())
    );
    assert!(after.events.is_empty());
    assert_eq!(after.next, oauth.next);
    let call = all.last().expect("events");
    assert_eq!(
        (&*call.service, call.tool.as_deref()),
        ("mcp", Some("echo"))
    );
    let everything = serde_json::to_string(&all).expect("JSON");
    for secret in [&tokens.access, &tokens.refresh] {
        assert!(!everything.contains(secret.as_str()), "{everything}");
    }
}

#[tokio::test]
async fn watch_all_delivers_requests_as_they_happen_and_ends_when_the_sim_stops() {
    // Arrange
    let sim = Sim::builder().start().await.expect("the rig starts");
    let caller = caller_for(&sim);
    let mut stream = sim.control().watch_all().await.expect("watch");
    let mut oauth_only = sim
        .control()
        .watch(Service::OAuth, Some(1))
        .await
        .expect("watch one");

    // Act
    caller.challenge().await;
    caller
        .get_json(&format!(
            "{}/.well-known/oauth-authorization-server",
            sim.issuer()
        ))
        .await;
    let mut arrived = Vec::new();
    for _ in 0..2 {
        arrived.push(tokio::time::timeout(Duration::from_secs(5), stream.next()).await);
    }
    let only = tokio::time::timeout(Duration::from_secs(5), oauth_only.next()).await;
    sim.stop().await.expect("stop");
    let end = tokio::time::timeout(Duration::from_secs(5), stream.next()).await;

    // Assert
    let event = |item: Result<Option<Result<Watched, ControlError>>, _>| match item {
        Ok(Some(Ok(Watched::Event(event)))) => event,
        other => panic!("expected an event, got {other:?}"),
    };
    let mut arrived: Vec<_> = arrived.into_iter().map(event).collect();
    arrived.sort_by(|a, b| a.service.cmp(&b.service));
    assert_eq!((&*arrived[0].service, arrived[0].status), ("mcp", 401));
    assert_eq!(arrived[1].path, "/.well-known/oauth-authorization-server");
    assert_eq!(event(only).seq, 1);
    assert!(
        matches!(end, Ok(None)),
        "the stream ends with the rig: {end:?}"
    );
}

#[tokio::test]
async fn the_rig_state_shows_every_issuer_and_a_switch_flipped_on_one_shows_there_only() {
    // Arrange
    let sim = Sim::builder()
        .issuer("tenant1=/tenant1")
        .issuer("other=:0")
        .start()
        .await
        .expect("the rig starts");

    // Act
    sim.control()
        .issuer("tenant1")
        .rotate_refresh_tokens(true)
        .await
        .expect("rotate on tenant1");
    let state = sim.control().state().await.expect("state");
    let shown = state.to_string();

    // Assert
    let names: Vec<&str> = state
        .issuers
        .iter()
        .map(|issuer| issuer.name.as_str())
        .collect();
    assert_eq!(names, ["tenant1", "other"]);
    assert!(!state.oauth.toggles.rotate_refresh_tokens);
    assert!(state.issuers[0].toggles.rotate_refresh_tokens);
    assert!(!state.issuers[1].toggles.rotate_refresh_tokens);
    assert!(
        shown.contains(&format!("oauth  {}\n", sim.issuer())),
        "{shown}"
    );
    assert!(
        shown.contains(&format!(
            "oauth  {}/tenant1  (issuer tenant1)",
            sim.issuer()
        )),
        "{shown}"
    );
    assert_eq!(shown.matches("  rotate on ").count(), 1, "{shown}");
}

#[tokio::test]
async fn consent_mode_puts_the_consent_page_in_front_of_the_next_authorizations_then_auto_again() {
    // Arrange
    let sim = Sim::builder().start().await.unwrap();
    let control = sim.control();
    let page_once = mcp_oauth_sim::Scenario::parse(
        mcp_oauth_sim::control::scenario::Name::ConsentMode,
        &["page".to_owned(), "1".to_owned()],
    )
    .unwrap();

    let client_id = caller_for(&sim).register().await;
    let flow = sim_test_kit::oauth::Flow::new(http_client(), sim.issuer());
    let authorize = || async {
        flow.authorize_raw(&client_id, &sim_test_kit::oauth::Pkce::new(), &[])
            .await
            .status()
    };

    // Act
    control.apply(&page_once).await.unwrap();
    let once = control.oauth_state().await.unwrap();
    let first = authorize().await;
    let second = authorize().await;

    // Assert: the page for one authorization, then automatic consent again.
    assert_eq!(once.consent.mode, oauth_server::ConsentMode::Page);
    assert_eq!(once.consent.next, Some(1));
    assert_eq!(first, StatusCode::OK, "the consent page, not a redirect");
    assert_eq!(second, StatusCode::FOUND, "automatic again");
    for bad in [&["page", "0"][..], &["manual"], &["auto", "2"], &[]] {
        let words: Vec<String> = bad.iter().map(|word| (*word).to_owned()).collect();
        assert!(
            mcp_oauth_sim::Scenario::parse(
                mcp_oauth_sim::control::scenario::Name::ConsentMode,
                &words
            )
            .is_err(),
            "{bad:?}"
        );
    }
}
