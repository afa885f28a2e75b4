//! Scenario 4: Refresh-token rotation: every refresh retires the presented refresh token. Three
//! forced refreshes (revoke, then call); each must be made with the newest token rmcp saved, since
//! an older one would be refused. Then the first refresh token, presented by hand, is
//! `invalid_grant`.

use std::collections::HashSet;

use reqwest::StatusCode;

use crate::app::{App, echo};
use crate::record::Record;
use crate::rig::{self, Scheme};

pub async fn run(scheme: Scheme) {
    let record = Record::start(scheme, 4, "refresh token rotation");
    // Arrange
    let sim = rig::start(scheme, |builder| builder).await;
    sim.control()
        .rotate_refresh_tokens(true)
        .await
        .expect("rotate");
    let app = App::new(&sim);
    let session = app.log_in().await;
    let client_id = app.stored().await.client_id;
    let first = app.stored_token("refresh_token").await;
    let mut refresh_tokens = vec![first.clone()];

    // Act
    for round in 1..=3 {
        sim.control().revoke_access_tokens().await.expect("revoke");
        let message = format!("round {round}");
        let answer = echo(&session, &message).await;
        assert_eq!(answer.expect("the call succeeds after a rotation"), message);
        refresh_tokens.push(app.stored_token("refresh_token").await);
    }
    let rotated = sim.control().oauth_state().await.expect("state");
    let token_endpoint = app.as_metadata(&sim.issuer()).await["token_endpoint"]
        .as_str()
        .expect("the metadata names a token endpoint")
        .to_owned();
    let (status, refused) = app
        .post_form(
            &token_endpoint,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", first.as_str().expect("a string")),
                ("client_id", &client_id),
            ],
        )
        .await;

    // Assert
    let distinct: HashSet<String> = refresh_tokens.iter().map(ToString::to_string).collect();
    assert_eq!(distinct.len(), 4, "every refresh saved a new refresh token");
    assert_eq!(rotated.counters.token_requests.refresh_token, 3);
    assert_eq!(
        rotated.counters.token_errors, 0,
        "no refresh presented a retired token"
    );
    assert_eq!(
        rotated.store.refresh_tokens, 1,
        "only the newest refresh token is alive"
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(refused["error"], "invalid_grant", "{refused}");

    record.passed(
        "saves the rotated refresh token from each refresh and uses the newest; the first is rejected with invalid_grant",
    );
}
