//! Scenario 2: Access tokens that live five seconds, and time passing. rmcp (3.11) refreshes a
//! token before sending once fewer than min(30 s, half its lifetime) seconds remain (at least 1),
//! judged from the `expires_in` it saved and when it received it. A fresh 5 s token is used as it
//! is; at 4 s old (1 s left, under the 2 s margin) it is refreshed first; an expired one too. It
//! never presents an expired token: the MCP server sees no 401 after the first, unauthenticated
//! one. (rmcp 3.9 refreshed under a flat 30 s, so before every request of a short-lived token.)
//!
//! Time passes for both sides without sleeping: the rig's clock moves forward and the client's
//! record of when it received the token moves back by the same amount.

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
    let fresh = app.stored_token("access_token").await;
    let pass = async |seconds: u64| {
        sim.control()
            .advance_clock(seconds as i64)
            .await
            .expect("the rig's clock moves");
        app.age_token(seconds).await;
    };

    // Act
    let while_fresh = echo(&session, "fresh").await;
    let after_fresh = sim.control().state().await.expect("state");
    pass(4).await;
    let near_expiry = echo(&session, "one second left").await;
    let after_near = sim.control().state().await.expect("state");
    let renewed = app.stored_token("access_token").await;
    pass(10).await;
    let expired = echo(&session, "expired").await;
    let after_expired = sim.control().state().await.expect("state");
    let again = echo(&session, "right after").await;
    let after_again = sim.control().state().await.expect("state");

    // Assert
    assert_eq!(
        while_fresh.expect("the call with a fresh token succeeds"),
        "fresh"
    );
    assert_eq!(
        near_expiry.expect("the call near expiry succeeds"),
        "one second left"
    );
    assert_eq!(expired.expect("the call after expiry succeeds"), "expired");
    assert_eq!(again.expect("the next call succeeds"), "right after");
    assert_eq!(app.stored_token("expires_in").await, 5);
    let refreshes =
        |state: &mcp_oauth_sim::RigState| state.oauth.counters.token_requests.refresh_token;
    assert_eq!(
        refreshes(&connected),
        0,
        "a fresh 5 s token is not refreshed to connect"
    );
    assert_eq!(refreshes(&after_fresh), 0);
    assert_eq!(
        refreshes(&after_near),
        1,
        "1 s left is inside the 2 s margin"
    );
    assert_ne!(renewed, fresh);
    assert_eq!(refreshes(&after_expired), 2);
    assert_ne!(app.stored_token("access_token").await, renewed);
    assert_eq!(refreshes(&after_again), 2, "the new token is used as it is");
    assert_eq!(after_again.oauth.counters.token_errors, 0);
    // Refreshed before sending, not after a rejection: the only 401 is the first connect's.
    assert_eq!(after_again.mcp.counters.unauthorized, 1);
    assert_eq!(after_again.mcp.counters.tool_calls, 4);

    record.passed(
        "refreshes before sending once fewer than min(30 s, half the lifetime) remain: a fresh 5 s token is used as is, refreshed at 1 s left and when expired; never sends an expired token",
    );
}
