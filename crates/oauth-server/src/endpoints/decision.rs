//! `POST {prefix}/authorize/decision`: a person's answer on the consent page (OAuth 2.1 §4.1.2:
//! the authorization server "obtains an authorization decision").
//!
//! The form carries the ticket of a pending authorization, the CSRF token bound to it
//! (compared in constant time), `decision=approve|deny`, the `user` to act as and the ticked
//! `scope`s. Anything wrong with it — an unknown, used or expired ticket, a missing or foreign
//! CSRF token, a user not configured, a scope the ticket did not ask for, no scope ticked, a
//! body over [`MAX_DECISION_BYTES`] — is a 4xx page, never a redirect: until the ticket is
//! trusted, the redirect URI is not known. A refused form keeps its ticket (the person may go
//! back and correct it); a decision that stands uses the ticket up.
//!
//! Approve issues the code for the ticked scopes that the user may be granted, as that user,
//! and redirects as automatic consent does (`code`, `state`, `iss`); if the user may be granted
//! none of them, and on Deny, the redirect is `error=access_denied`, as the `deny-consent`
//! preset gives.

use http::{Request, StatusCode};
use hyper::body::Incoming;
use sim_http::Response;
use sim_http::body::{self, BodyError};
use sim_http::form::{Params, has_content_type};

use super::authorize::{Reply, issue};
use super::consent_page::refusal;
use crate::consent::{Pending, TicketRefusal};
use crate::router::Facts;
use crate::state::State;
use crate::store::AuthCode;

/// Where the decision goes, after the authorization endpoint's path.
pub const PATH: &str = "/authorize/decision";

/// A decision form is a ticket, a token, a user and a few scopes: 16 KiB is ample.
pub const MAX_DECISION_BYTES: usize = 16 * 1024;

/// What the person decided, checked against the ticket.
enum Decided {
    /// Approve as `subject`, granting `scope` (empty: the user may be granted none of them).
    Approve {
        pending: Pending,
        subject: String,
        scope: Vec<String>,
    },
    Deny(Pending),
}

pub async fn handle(state: &State, request: Request<Incoming>, facts: &mut Facts) -> Response {
    let refuse = |facts: &mut Facts, status: StatusCode, message: &str| {
        facts.error = Some("invalid_request".into());
        facts.note = "consent decision refused".into();
        refusal(status, message)
    };
    let (parts, body) = request.into_parts();
    if !has_content_type(&parts.headers, "application/x-www-form-urlencoded") {
        return refuse(
            facts,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the decision must be an application/x-www-form-urlencoded form",
        );
    }
    let bytes = match body::read(body, MAX_DECISION_BYTES).await {
        Ok(bytes) => bytes,
        Err(BodyError::TooLarge) => {
            return refuse(
                facts,
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the decision form exceeds {MAX_DECISION_BYTES} bytes"),
            );
        }
        Err(error) => return refuse(facts, StatusCode::BAD_REQUEST, &error.to_string()),
    };
    let params = match Params::parse(&bytes) {
        Ok(params) => params,
        Err(error) => return refuse(facts, StatusCode::BAD_REQUEST, &error.to_string()),
    };
    let field = |name: &'static str| params.single(name).ok().flatten();
    let Some(ticket) = field("ticket") else {
        return refuse(
            facts,
            StatusCode::BAD_REQUEST,
            "the decision has no ticket (exactly one is needed)",
        );
    };
    let Some(csrf) = field("csrf") else {
        return refuse(
            facts,
            StatusCode::FORBIDDEN,
            "the decision has no CSRF token (exactly one is needed)",
        );
    };
    let approve = match field("decision") {
        Some("approve") => true,
        Some("deny") => false,
        _ => {
            return refuse(
                facts,
                StatusCode::BAD_REQUEST,
                "decision must be approve or deny",
            );
        }
    };
    let user = field("user");
    let ticked: Vec<&str> = params.values("scope").collect();
    let decided = state.consents.decide(ticket, csrf, state.now(), |pending| {
        if !approve {
            return Ok(Decided::Deny(pending.clone()));
        }
        check_approval(state, pending, user, &ticked)
    });
    let decided = match decided {
        Ok(Ok(decided)) => decided,
        Ok(Err(message)) => return refuse(facts, StatusCode::BAD_REQUEST, &message),
        Err(why) => {
            let status = match why {
                TicketRefusal::WrongCsrf => StatusCode::FORBIDDEN,
                TicketRefusal::Unknown | TicketRefusal::Expired => StatusCode::BAD_REQUEST,
            };
            return refuse(facts, status, why.message());
        }
    };
    answer(state, decided, facts)
}

/// Checks an approval: a configured user, scopes the ticket asked for, one at least if it
/// asked any; the grant is those the user may be granted.
fn check_approval(
    state: &State,
    pending: &Pending,
    user: Option<&str>,
    ticked: &[&str],
) -> Result<Decided, String> {
    let user = user.ok_or("choose a user to act as (exactly one)")?;
    let user = state
        .config
        .users
        .iter()
        .find(|known| known.sub == user)
        .ok_or_else(|| format!("'{user}' is not one of the configured users"))?;
    if let Some(foreign) = ticked
        .iter()
        .find(|scope| !pending.scopes.iter().any(|asked| asked == *scope))
    {
        return Err(format!(
            "scope '{foreign}' was not asked for by this authorization"
        ));
    }
    if ticked.is_empty() && !pending.scopes.is_empty() {
        return Err("tick at least one scope to approve, or deny".into());
    }
    // In the order asked, each once, as far as the user may have them.
    let scope = pending
        .scopes
        .iter()
        .filter(|asked| ticked.contains(&asked.as_str()) && user.may_have(asked))
        .cloned()
        .collect();
    Ok(Decided::Approve {
        pending: pending.clone(),
        subject: user.sub.clone(),
        scope,
    })
}

/// The redirect a decision that stands gives.
fn answer(state: &State, decided: Decided, facts: &mut Facts) -> Response {
    let (pending, outcome) = match decided {
        Decided::Approve {
            pending,
            subject,
            scope,
        } => (pending, Some((subject, scope))),
        Decided::Deny(pending) => (pending, None),
    };
    facts.client(&pending.client_id);
    facts.asked.iss = pending.iss.clone();
    let reply = Reply {
        redirect_uri: pending.redirect_uri.clone(),
        client_state: pending.state.clone(),
        iss: pending.iss.clone(),
    };
    let deny = |facts: &mut Facts, description: &str| {
        state.counters.consent_denials.bump();
        facts.error = Some("access_denied".into());
        reply.send(&[
            ("error", "access_denied"),
            ("error_description", description),
        ])
    };
    let Some((subject, scope)) = outcome else {
        facts.note = "consent denied on the page".into();
        return deny(facts, "the user denied the authorization request");
    };
    if scope.is_empty() && !pending.scopes.is_empty() {
        facts.note = "consent page: the user may have none of the scopes".into();
        return deny(
            facts,
            &format!("the user '{subject}' may be granted none of the scopes approved"),
        );
    }
    let narrowed = scope.len() < pending.scopes.len();
    let code = AuthCode {
        client_id: pending.client_id,
        redirect_uri: pending.redirect_uri,
        redirect_uri_sent: pending.redirect_uri_sent,
        code_challenge: pending.code_challenge,
        scope: scope.join(" "),
        resources: pending.resources,
        subject,
        expires_at: 0,
    };
    match issue(state, code) {
        Ok(code) => {
            state.counters.authorizations.bump();
            facts.issued(&code);
            facts.note = if narrowed {
                "consent page: approved, narrowed".into()
            } else {
                "consent page: approved".into()
            };
            reply.send(&[("code", &code)])
        }
        Err((error, description)) => {
            facts.error = Some(error.into());
            reply.send(&[("error", error), ("error_description", &description)])
        }
    }
}
