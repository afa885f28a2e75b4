//! Scenario 9: The authorization server is down (`503`) for the next two refresh grants, while
//! the client's 5 s access token is 4 s old (aged in its store), inside rmcp's refresh margin, so
//! rmcp refreshes before every request (scenario 2). rmcp does
//! not send the call with the access token it holds, although that token has seconds left: the
//! failed refresh ends the call before any request reaches the MCP server, as
//! `Auth(TokenRefreshFailed)` (rmcp's "retryable" refresh error, not "authorization required").
//! Nothing is cleared: the session and the stored credentials survive, and once the fault rule is
//! spent the next call on the same session refreshes and succeeds with no action from the
//! application. One refresh attempt per call, no retry inside rmcp.

use mcp_oauth_sim::{Fault, Respond, Service};
use rmcp::transport::auth::AuthError;
use rmcp::transport::streamable_http_client::StreamableHttpError;

use crate::app::{App, echo, transport_error};
use crate::journal::{Mark, line};
use crate::record::Record;
use crate::rig::{self, Scheme};

pub async fn run(scheme: Scheme) {
    let record = Record::start(scheme, 9, "AS down during refresh");
    // Arrange
    let sim = rig::start(scheme, |builder| builder).await;
    sim.control().access_token_ttl(5).await.expect("expires-in");
    let app = App::new(&sim);
    let session = app.log_in().await;
    app.age_token(4).await;
    let rule = sim
        .control()
        .add_fault(
            Service::OAuth,
            &Fault::new("token", Respond::status(503))
                .grant_type("refresh_token")
                .times(2),
        )
        .await
        .expect("the fault rule is accepted");
    let stored_before = app.stored_token("access_token").await;
    let mark = Mark::now(&sim).await;

    // Act
    let first = echo(&session, "while the AS is down").await;
    let after_first = sim.control().faults(Service::OAuth).await.expect("faults");
    let second = echo(&session, "while the AS is still down").await;
    let after_second = sim.control().faults(Service::OAuth).await.expect("faults");
    let stored_during = app.stored_token("access_token").await;
    let recovered = echo(&session, "once the AS is back").await;
    let oauth = mark.requests(&sim, Service::OAuth).await;
    let mcp = mark.lines(&sim, Service::Mcp).await;

    // Assert
    for outcome in [first, second] {
        match transport_error(outcome.expect_err("the call fails")) {
            StreamableHttpError::Auth(AuthError::TokenRefreshFailed(message)) => {
                assert!(
                    message.starts_with("Server returned error response: temporarily_unavailable"),
                    "{message}"
                );
            }
            other => panic!("expected rmcp's Auth(TokenRefreshFailed), got {other:?}"),
        }
    }
    assert_eq!(after_first.len(), 1, "{after_first:?}");
    assert_eq!(after_first[0].remaining, Some(1));
    assert_eq!(after_first[0].fired, 1);
    assert!(
        after_second.is_empty(),
        "the spent rule is gone: {after_second:?}"
    );
    assert_eq!(
        stored_during, stored_before,
        "a failed refresh leaves the stored credentials as they were"
    );
    assert_eq!(
        recovered.expect("the same session recovers by itself"),
        "once the AS is back"
    );
    assert_ne!(app.stored_token("access_token").await, stored_before);
    assert_eq!(
        oauth.iter().map(line).collect::<Vec<_>>(),
        [
            "POST /token 503 refresh_token temporarily_unavailable fault",
            "POST /token 503 refresh_token temporarily_unavailable fault",
            "POST /token 200 refresh_token",
        ],
        "one refresh attempt per call, then the refresh that works; no re-authorization"
    );
    assert!(oauth[..2].iter().all(|event| event.fault == Some(rule.id)));
    assert_eq!(
        mcp,
        ["POST /mcp 200 tools/call echo"],
        "the failed calls never reached the MCP server"
    );

    record.passed(
        "a 503 on the proactive refresh fails the call with Auth(TokenRefreshFailed) before it is sent (the held token is not used); one attempt per call; the next call refreshes and succeeds on the same session",
    );
}
