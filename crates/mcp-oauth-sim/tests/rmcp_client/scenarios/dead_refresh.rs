//! Scenario 5: A refresh token the AS refuses (`invalid_grant`) while the access token is revoked.
//! rmcp tries one refresh, and when it is refused hands the application the server's challenge as
//! "authorization required"; it does not start an authorization by itself (it cannot: that needs
//! the user). The application authorizes again, keeping its registered client id, and calls
//! succeed.

use rmcp::transport::streamable_http_client::StreamableHttpError;

use crate::app::{App, echo, transport_error};
use crate::record::Record;
use crate::rig::{self, Scheme};

pub async fn run(scheme: Scheme) {
    let record = Record::start(scheme, 5, "dead refresh token");
    // Arrange
    let sim = rig::start(scheme, |builder| builder).await;
    let app = App::new(&sim);
    let session = app.log_in().await;
    assert_eq!(
        echo(&session, "before").await.expect("a first call"),
        "before"
    );
    sim.control()
        .invalid_grant(true)
        .await
        .expect("invalid-grant");
    sim.control().revoke_access_tokens().await.expect("revoke");
    let before = sim.control().state().await.expect("state");

    // Act
    let refused = echo(&session, "with a dead refresh token").await;
    let after_refusal = sim.control().state().await.expect("state");
    let kept = app.stored().await;
    sim.control()
        .invalid_grant(false)
        .await
        .expect("invalid-grant off");
    let challenge = match transport_error(refused.expect_err("the call fails")) {
        StreamableHttpError::AuthRequired(required) => required.www_authenticate_header,
        other => panic!("expected rmcp's AuthRequired, got {other:?}"),
    };
    let request = App::request(&challenge).with_preregistered_client(kept.client_id.clone());
    let manager = app.authorize(request).await;
    let session = app.connect(manager).await.expect("initialize succeeds");
    let recovered = echo(&session, "after authorizing again").await;
    let after = sim.control().state().await.expect("state");

    // Assert
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    let (was, refusal) = (&before.oauth.counters, &after_refusal.oauth.counters);
    assert_eq!(
        refusal.token_requests.refresh_token,
        was.token_requests.refresh_token + 1,
        "one refresh attempt, no loop"
    );
    assert_eq!(refusal.forced_invalid_grants, 1);
    assert_eq!(refusal.authorizations, was.authorizations);
    assert_eq!(
        after_refusal.mcp.counters.unauthorized,
        before.mcp.counters.unauthorized + 1,
        "no retry without a new token"
    );
    // rmcp's default store hook leaves rejected credentials in place; the application decides.
    assert!(kept.token_response.is_some());
    assert_eq!(
        recovered.expect("the call succeeds"),
        "after authorizing again"
    );
    let now = &after.oauth.counters;
    assert_eq!(now.registrations, 1, "the stored client id was reused");
    assert_eq!(now.authorizations, 2);
    assert_eq!(now.token_requests.authorization_code, 2);
    assert_eq!(app.stored().await.client_id, kept.client_id);

    record.passed(
        "one refresh attempt; invalid_grant surfaces as AuthRequired with the 401 challenge (no loop, no automatic re-authorization); authorizing again works",
    );
}
