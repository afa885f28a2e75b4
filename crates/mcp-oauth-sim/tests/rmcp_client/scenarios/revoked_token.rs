//! Scenario 3: Every access token revoked behind the client's back: rmcp still believes its token
//! good for an hour, sends it, gets `401 invalid_token`, refreshes once and retries, and the call
//! succeeds without the application noticing.

use crate::app::{App, echo};
use crate::record::Record;
use crate::rig::{self, Scheme};

pub async fn run(scheme: Scheme) {
    let record = Record::start(scheme, 3, "revoked token");
    // Arrange
    let sim = rig::start(scheme, |builder| builder).await;
    let app = App::new(&sim);
    let session = app.log_in().await;
    assert_eq!(
        echo(&session, "before").await.expect("a first call"),
        "before"
    );
    let access_before = app.stored_token("access_token").await;
    let refresh_before = app.stored_token("refresh_token").await;
    let revoked = sim.control().revoke_access_tokens().await.expect("revoke");
    assert_eq!(revoked.store.access_tokens, 0);
    let before = sim.control().state().await.expect("state");

    // Act
    let answer = echo(&session, "after revocation").await;
    let after = sim.control().state().await.expect("state");

    // Assert
    assert_eq!(answer.expect("the call succeeds"), "after revocation");
    let (was, now) = (&before.oauth.counters, &after.oauth.counters);
    assert_eq!(
        now.token_requests.refresh_token,
        was.token_requests.refresh_token + 1
    );
    assert_eq!(now.refreshes, was.refreshes + 1);
    assert_eq!(
        now.authorizations, was.authorizations,
        "no new authorization"
    );
    assert_eq!(
        after.mcp.counters.unauthorized,
        before.mcp.counters.unauthorized + 1,
        "one rejected attempt, then the retry with the new token"
    );
    assert_eq!(
        after.mcp.counters.tool_calls,
        before.mcp.counters.tool_calls + 1
    );
    assert_ne!(app.stored_token("access_token").await, access_before);
    assert_eq!(
        app.stored_token("refresh_token").await,
        refresh_before,
        "without rotation the refresh token stays"
    );

    record.passed("on 401 invalid_token refreshes once and retries the request; the call succeeds");
}
