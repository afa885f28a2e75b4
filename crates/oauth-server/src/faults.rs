//! Where the fault engine ([`sim_http::faults`]) meets the authorization server: the endpoints a
//! rule may target, the two presets that the original switches became, and [`inject`], which
//! every endpoint calls at its fault point.
//!
//! Fault points (each endpoint calls [`inject`] where everything a rule may match on is known):
//! - `metadata`, `register`, `introspect`: first thing, after method routing.
//! - `authorize`: once the client, its redirect URI and the request are checked, at the consent
//!   decision (so a fault never redirects to an unregistered URI, and an error renders as the
//!   usual error redirect with `state` and `iss`).
//! - `token`: once the form is parsed (`grant_type`, and `client_id` from the form or the Basic
//!   header, not yet authenticated), before client authentication.
//! - `revoke`: once the form is parsed.

use sim_http::Response;
use sim_http::faults::{ErrorAnswer, Match, Respond, Rule, Subject, Target};

use crate::router::Facts;
use crate::state::State;

/// The endpoints rules may target, and the `match` keys each knows.
pub const TARGETS: &[Target] = &[
    ("metadata", &[]),
    ("register", &[]),
    ("authorize", &["client_id"]),
    ("token", &["grant_type", "client_id", "scope"]),
    ("introspect", &[]),
    ("revoke", &["client_id"]),
];

/// The preset behind `POST /control/deny-consent`.
pub const DENY_CONSENT: &str = "deny-consent";

/// The preset behind `POST /control/invalid-grant`.
pub const INVALID_GRANT: &str = "invalid-grant";

/// `/authorize` answers `access_denied` (as an error redirect).
pub fn deny_consent() -> Rule {
    Rule::new(
        "authorize",
        Match::default(),
        Respond::error_described(
            400,
            "access_denied",
            "the resource owner denied the request (deny-consent is on)",
        ),
    )
}

/// Every refresh grant answers `invalid_grant`.
pub fn invalid_grant() -> Rule {
    Rule::new(
        "token",
        Match {
            grant_type: Some("refresh_token".into()),
            ..Match::default()
        },
        Respond::error_described(
            400,
            "invalid_grant",
            "refresh token is invalid (invalid-grant is on)",
        ),
    )
}

/// Lets the fault rules have their say on a request: `Some(answer)` is to be sent instead of the
/// endpoint's own; `None` means answer normally (after the delay a rule may have added).
///
/// What fired goes into `facts` for the log line and the journal: the rule's id, and the error
/// code answered or a note (`malformed`, `dropped`, `delayed`).
pub async fn inject(
    state: &State,
    facts: &mut Facts,
    subject: &Subject<'_>,
    render: impl FnOnce(&ErrorAnswer<'_>) -> Response,
) -> Option<Response> {
    let fired = state.faults.fire(subject, render).await?;
    state.counters.faults_fired.bump();
    facts.fired(&fired);
    fired.response
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_http::faults::Faults;

    #[test]
    fn presets_are_valid_rules_of_this_server() {
        let faults = Faults::new(TARGETS);
        faults
            .set_preset(DENY_CONSENT, Some(deny_consent()))
            .unwrap();
        faults
            .set_preset(INVALID_GRANT, Some(invalid_grant()))
            .unwrap();
        assert!(faults.has_preset(DENY_CONSENT) && faults.has_preset(INVALID_GRANT));
        let refresh = Subject {
            endpoint: "token",
            grant_type: Some("refresh_token"),
            ..Subject::default()
        };
        let code = Subject {
            grant_type: Some("authorization_code"),
            ..refresh
        };
        assert!(
            faults.take(&code).is_none(),
            "invalid-grant spares the code grant"
        );
        assert!(faults.take(&refresh).is_some());
    }
}
