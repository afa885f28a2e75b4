//! Scenario 7: Tool calls answered `403 insufficient_scope`. rmcp's `AuthClient` reacts only to
//! 401s, so the 403 reaches the application at once as `InsufficientScope` with the scope the
//! challenge names; rmcp makes no step-up of its own (that is the application's call, through
//! `OAuthState::request_scope_upgrade`), so the AS sees no request at all because of it.

use mcp_oauth_sim::{Service, Sim};
use rmcp::transport::streamable_http_client::StreamableHttpError;

use crate::app::{App, echo, transport_error};
use crate::journal::{Mark, line};
use crate::record::Record;
use crate::rig::{self, Scheme};

pub async fn run(scheme: Scheme) {
    let record = Record::start(scheme, 7, "insufficient scope");
    // Arrange
    let sim = rig::start(scheme, |builder| builder).await;
    let app = App::new(&sim);
    let session = app.log_in().await;
    sim.control().force_403(true).await.expect("force-403");

    // Act
    let first = echo(&session, "forbidden").await;
    let after_first = sim.control().state().await.expect("state");
    let journal_first = oauth_flow(&sim).await;
    let second = echo(&session, "forbidden again").await;
    let after_second = sim.control().state().await.expect("state");
    let journal_second = oauth_flow(&sim).await;

    // Assert
    for outcome in [first, second] {
        match transport_error(outcome.expect_err("the call fails")) {
            StreamableHttpError::InsufficientScope(error) => {
                assert_eq!(error.required_scope.as_deref(), Some("mcp:tools"));
                assert!(
                    error
                        .www_authenticate_header
                        .contains("error=\"insufficient_scope\""),
                    "{}",
                    error.www_authenticate_header
                );
            }
            other => panic!("expected rmcp's InsufficientScope, got {other:?}"),
        }
    }
    // The whole OAuth history is the first login: one /authorize, one /token (the code). The
    // two refused calls added nothing: no refresh, no authorization, no registration.
    for state in [&after_first, &after_second] {
        let oauth = &state.oauth.counters;
        assert_eq!(oauth.registrations, 1);
        assert_eq!(oauth.authorizations + oauth.consent_denials, 1);
        assert_eq!(oauth.token_requests.authorization_code, 1);
        assert_eq!(oauth.token_requests.refresh_token, 0);
        assert_eq!(oauth.token_requests.other, 0);
    }
    // The same, request by request, from the AS's journal.
    for journal in [journal_first, journal_second] {
        assert_eq!(
            journal,
            ["GET /authorize 302", "POST /token 200 authorization_code"]
        );
    }
    // One 403 per call: rmcp does not retry it.
    assert_eq!(after_first.mcp.counters.forbidden, 1);
    assert_eq!(after_second.mcp.counters.forbidden, 2);

    record.passed(
        "403 surfaces at once as InsufficientScope (required scope from the challenge); no automatic step-up, refresh or retry",
    );
}

/// Every `/authorize` and `/token` request the AS has answered, from its journal.
async fn oauth_flow(sim: &Sim) -> Vec<String> {
    Mark::beginning()
        .requests(sim, Service::OAuth)
        .await
        .iter()
        .filter(|event| ["/authorize", "/token"].contains(&event.path.as_str()))
        .map(line)
        .collect()
}
