//! Scenario 2: Access tokens that live five seconds. rmcp refreshes a token once less than 30 s of
//! its lifetime remain, judged from the `expires_in` it saved, so any lifetime under 30 s makes it
//! refresh before every request, and it never presents an expired token: the MCP server sees no 401
//! after the first, unauthenticated one. Waiting for the token to expire would change nothing (the
//! refresh happens either way), so the test does not sleep; scenario 1 shows the margin is what
//! drives it (a one-hour token is never refreshed). Five seconds rather than two leaves a loaded CI
//! machine room between a refresh and the request that uses it.

use crate::app::{App, echo};
use crate::record::Record;
use crate::rig::{self, Scheme};

pub async fn run(scheme: Scheme) {
    let record = Record::start(scheme, 2, "refresh on expiry");
    // Arrange
    let sim = rig::start(scheme, |builder| builder).await;
    sim.control().access_token_ttl(5).await.expect("expires-in");
    let app = App::new(&sim);
    let session = app.log_in().await;
    let connected = sim.control().state().await.expect("state");
    let token_before = app.stored_token("access_token").await;

    // Act
    let first = echo(&session, "first").await;
    let after_first = sim.control().state().await.expect("state");
    let token_after_first = app.stored_token("access_token").await;
    let second = echo(&session, "second").await;
    let after_second = sim.control().state().await.expect("state");
    let token_after_second = app.stored_token("access_token").await;

    // Assert
    assert_eq!(first.expect("the first call succeeds"), "first");
    assert_eq!(second.expect("the second call succeeds"), "second");
    assert_eq!(app.stored_token("expires_in").await, 5);
    // Connecting already refreshed: initialize and notifications/initialized are two requests.
    assert_eq!(connected.oauth.counters.token_requests.refresh_token, 2);
    assert_eq!(after_first.oauth.counters.token_requests.refresh_token, 3);
    assert_eq!(after_second.oauth.counters.token_requests.refresh_token, 4);
    assert_ne!(token_after_first, token_before);
    assert_ne!(token_after_second, token_after_first);
    assert_eq!(after_second.oauth.counters.token_errors, 0);
    // Refreshed before sending, not after a rejection: the only 401 is the first connect's.
    assert_eq!(after_second.mcp.counters.unauthorized, 1);
    assert_eq!(after_second.mcp.counters.tool_calls, 2);

    record.passed(
        "refreshes proactively when under 30 s of lifetime remain, so a 5 s token is refreshed before every request; never sends an expired token",
    );
}
