//! Scenario 6: The user denies consent: the AS redirects back with `error=access_denied` and the
//! client's `state`. rmcp's callback handler fails, but it reads only `code`, `state` and `iss`
//! from the redirect, so its error says the code is missing rather than naming `access_denied`: an
//! application that wants to tell the user why must read `error` itself.

use rmcp::transport::auth::AuthError;

use crate::app::App;
use crate::record::Record;
use crate::rig::{self, Scheme};

pub async fn run(scheme: Scheme) {
    let record = Record::start(scheme, 6, "consent denied");
    // Arrange
    let sim = rig::start(scheme, |builder| builder).await;
    sim.control()
        .deny_consent(true)
        .await
        .expect("deny-consent");
    let app = App::new(&sim);
    let challenge = app.challenge().await;
    let mut state = app.start_authorization(App::request(&challenge)).await;
    let authorization_url = state
        .get_authorization_url()
        .await
        .expect("a session has a URL");

    // Act
    let callback = app.visit(&authorization_url).await;
    let outcome = state.handle_callback_url(callback.as_str()).await;
    let rig = sim.control().oauth_state().await.expect("state");

    // Assert
    let sent_state = query(authorization_url.as_str(), "state");
    assert!(sent_state.is_some(), "rmcp sends a state");
    assert_eq!(
        query(callback.as_str(), "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query(callback.as_str(), "state"), sent_state);
    assert_eq!(query(callback.as_str(), "code"), None);
    match outcome {
        Err(AuthError::AuthorizationFailed(message)) => {
            assert_eq!(message, "Authorization callback missing code");
        }
        other => panic!("expected AuthorizationFailed, got {other:?}"),
    }
    assert!(app.saved().await.is_none(), "rmcp saved nothing");
    assert_eq!(rig.counters.consent_denials, 1);
    assert_eq!(rig.counters.authorizations, 0);
    assert_eq!(rig.counters.token_requests.authorization_code, 0);
    assert_eq!(rig.counters.tokens_issued, 0);
    assert_eq!(rig.store.access_tokens, 0);

    record.passed(
        "the callback fails with AuthorizationFailed(\"Authorization callback missing code\"): rmcp ignores the redirect's error=access_denied; no token requested",
    );
}

fn query(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .expect("a URL")
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}
