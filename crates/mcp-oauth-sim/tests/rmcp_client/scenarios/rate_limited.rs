//! Scenario 10: The token endpoint rate-limits the next refresh grant (`429`, `Retry-After: 1`)
//! just when rmcp needs one: every access token has been revoked, so the call is answered
//! `401 invalid_token` and rmcp refreshes to retry it (scenario 3). rmcp does not read
//! `Retry-After` and does not retry the refresh: the call fails at once with
//! `Auth(TokenRefreshFailed)`, the 429 being to rmcp what a 503 is (scenario 9). The next call,
//! made right away with no waiting, is answered 401 again, refreshes and is retried with the new
//! token, and succeeds: the application only has to call again.

use mcp_oauth_sim::{Fault, Respond, Service};
use rmcp::transport::auth::AuthError;
use rmcp::transport::streamable_http_client::StreamableHttpError;

use crate::app::{App, echo, transport_error};
use crate::journal::{Mark, line};
use crate::record::Record;
use crate::rig::{self, Scheme};

pub async fn run(scheme: Scheme) {
    let record = Record::start(scheme, 10, "rate-limited refresh");
    // Arrange
    let sim = rig::start(scheme, |builder| builder).await;
    let app = App::new(&sim);
    let session = app.log_in().await;
    assert_eq!(
        echo(&session, "before").await.expect("a first call"),
        "before"
    );
    sim.control().revoke_access_tokens().await.expect("revoke");
    let rule = sim
        .control()
        .add_fault(
            Service::OAuth,
            &Fault::new("token", Respond::retry_after(429, 1))
                .grant_type("refresh_token")
                .times(1),
        )
        .await
        .expect("the fault rule is accepted");
    let mark = Mark::now(&sim).await;

    // Act
    let limited = echo(&session, "while rate-limited").await;
    let left = sim.control().faults(Service::OAuth).await.expect("faults");
    let again = echo(&session, "right after").await;
    let oauth = mark.requests(&sim, Service::OAuth).await;
    let mcp = mark.lines(&sim, Service::Mcp).await;

    // Assert
    match transport_error(limited.expect_err("the call fails")) {
        StreamableHttpError::Auth(AuthError::TokenRefreshFailed(message)) => {
            // The rig answers a 429 with `temporarily_unavailable`, the closest RFC 6749 code.
            assert!(
                message.starts_with("Server returned error response: temporarily_unavailable"),
                "{message}"
            );
        }
        other => panic!("expected rmcp's Auth(TokenRefreshFailed), got {other:?}"),
    }
    assert!(left.is_empty(), "the spent rule is gone: {left:?}");
    assert_eq!(
        again.expect("the next call succeeds without waiting"),
        "right after"
    );
    assert_eq!(
        oauth.iter().map(line).collect::<Vec<_>>(),
        [
            "POST /token 429 refresh_token temporarily_unavailable fault",
            "POST /token 200 refresh_token",
        ],
        "no retry of the rate-limited refresh; the next call's refresh goes through"
    );
    assert_eq!(oauth[0].fault, Some(rule.id));
    assert_eq!(
        mcp,
        [
            // The rate-limited call: rejected, and not retried without a new token.
            "POST /mcp 401 invalid_token",
            // The next call: rejected, refreshed, retried.
            "POST /mcp 401 invalid_token",
            "POST /mcp 200 tools/call echo",
        ]
    );

    record.passed(
        "a 429 on the refresh fails the call at once with Auth(TokenRefreshFailed): Retry-After is not read and the refresh is not retried; the next call (no wait) refreshes and succeeds",
    );
}
