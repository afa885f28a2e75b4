//! The consent page `/authorize` answers in page mode, and the refusal pages of its decision.
//!
//! Rendered with `maud`, which escapes every value it interpolates: whatever a client chose
//! (its name, its redirect URI) and the scope strings are text, never markup. No script; the
//! form is a plain POST that works without JavaScript. Every page is `no-store`, may not be
//! framed (`X-Frame-Options: DENY`, CSP `frame-ancestors 'none'`), loads nothing
//! (`default-src 'none'`, the inline style aside) and sends no referrer.
//!
//! What a test or a browser drives it by — stable names and ids: the form `#consent-form`
//! with hidden `ticket` and `csrf`; a checkbox `scope` per scope asked (`#scope-0`, … ticked);
//! a radio `user` per user (`#user-0`, … the first checked), its value the subject; the buttons
//! `decision=approve` (`#approve`) and `decision=deny` (`#deny`). Who asks: `#client-name`,
//! `#client-id`, `#client-kind` (`dynamic`, `document`, `pre-registered`), `#redirect-host`
//! and `#redirect-uri`.

use http::{HeaderValue, StatusCode, header};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use sim_http::Response;
use sim_http::response::full;
use url::Url;

use crate::consent::{Pending, User};
use crate::state::State;
use crate::store::Client;

/// The inline style: the only thing the page's policy lets it use besides its own markup.
const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;\
padding:0 1rem;color:#222}dt{font-weight:600}dd{margin:0 0 .5rem 0;word-break:break-all}\
fieldset{margin:1rem 0;border:1px solid #ccc;border-radius:4px}label{display:block;\
margin:.25rem 0}code{background:#f3f3f3;padding:0 .2rem}button{font-size:1rem;\
padding:.4rem 1.2rem;margin-right:.5rem}";

/// The headers every page of the consent flow carries.
const CSP: &str = "frame-ancestors 'none'; default-src 'none'; style-src 'unsafe-inline'; \
                   base-uri 'none'";

/// Keeps `pending` under a new ticket and answers the page that decides it; `path` is where
/// the request came (`…/authorize`), the decision going to `path` + `/decision`.
pub fn open(state: &State, client: &Client, pending: Pending, path: &str) -> Response {
    let users = &state.config.users;
    let name = client
        .registration
        .get("client_name")
        .and_then(|name| name.as_str())
        .filter(|name| !name.is_empty())
        .map(str::to_owned);
    let host = Url::parse(&pending.redirect_uri)
        .ok()
        .and_then(|url| {
            url.host_str().map(|host| match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_owned(),
            })
        })
        .unwrap_or_default();
    let scopes = pending.scopes.clone();
    let redirect_uri = pending.redirect_uri.clone();
    let opened = state.consents.open(pending, state.now());
    let shown = name.as_deref().unwrap_or(&client.id);
    let body = html! {
        h1 { "Authorize " span #client-name { (shown) } }
        p { "An application asks to act on a user's behalf. Approve or deny; untick a scope to grant less." }
        dl #client {
            dt { "Client ID" } dd #client-id { code { (client.id) } }
            dt { "Registered" } dd #client-kind { (client.kind.as_str()) }
            dt { "Redirects to" } dd #redirect-host { (host) }
            dt { "Redirect URI" } dd #redirect-uri { code { (redirect_uri) } }
        }
        form #consent-form method="post" action={ (path) "/decision" } {
            input type="hidden" name="ticket" value=(opened.ticket);
            input type="hidden" name="csrf" value=(opened.csrf);
            fieldset #scopes {
                legend { "Scopes" }
                @if scopes.is_empty() {
                    p { "No scope asked for." }
                }
                @for (index, scope) in scopes.iter().enumerate() {
                    label {
                        input type="checkbox" name="scope" id={ "scope-" (index) } value=(scope) checked;
                        " " code { (scope) }
                    }
                }
            }
            fieldset #users {
                legend { "Act as" }
                @for (index, user) in users.iter().enumerate() {
                    label {
                        input type="radio" name="user" id={ "user-" (index) } value=(user.sub) checked[index == 0];
                        " " (user.display_name()) " " code { (user.sub) } " " (may_have(user))
                    }
                }
            }
            button type="submit" name="decision" value="approve" #approve { "Approve" }
            button type="submit" name="decision" value="deny" #deny { "Deny" }
        }
    };
    respond(StatusCode::OK, &format!("Authorize {shown}"), body)
}

/// What a user may be granted, as the page says it.
fn may_have(user: &User) -> String {
    match &user.scopes {
        None => "(may be granted every scope)".to_owned(),
        Some(scopes) if scopes.is_empty() => "(may be granted no scope)".to_owned(),
        Some(scopes) => format!("(may be granted {})", scopes.join(" ")),
    }
}

/// A refused decision: a page saying why, never a redirect.
pub fn refusal(status: StatusCode, message: &str) -> Response {
    let body = html! {
        h1 { "Consent refused" }
        p #reason { (message) }
    };
    respond(status, "Consent refused", body)
}

fn respond(status: StatusCode, title: &str, body: Markup) -> Response {
    let document = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body { main { (body) } }
        }
    };
    let mut response = Response::new(full(document.into_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}
