//! `GET|POST /authorize`: the authorization endpoint (OAuth 2.1 §4.1.1).
//!
//! Consent is auto-approved (there is no login: grants are for the first configured user) unless
//! a fault rule answers instead (`deny-consent` is one), and grants what was asked unless a tester
//! narrowed it (`/control/consent`). In page mode (`/control/consent-mode`) a request the fault
//! engine let through is kept under a ticket and answered with the consent page instead
//! ([`consent_page`](super::consent_page)); its decision ([`decision`](super::decision)) gives the
//! same redirects. Errors come in two kinds: while the client or its redirect URI
//! is in doubt, the answer is a 400 page and never a redirect (an open redirector otherwise);
//! after that, errors go back to the client as a redirect carrying `error` and the `state`.
//!
//! Every redirect carries the `iss` the issuer's profile says (RFC 9207: the issuer by default;
//! none, another or a malformed one when a tester stages a client check), error redirects
//! included; with `require_resource` a request without `resource` (RFC 8707) is refused
//! `invalid_target` once the client and redirect URI are trusted.

use std::sync::Arc;

use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use sim_http::Response;
use sim_http::faults::Subject;
use sim_http::form::Params;
use sim_http::response::{page, redirect};
use sim_http::secret::random_token;
use url::Url;

use crate::consent::Pending;
use crate::documents::is_document_id;
use crate::endpoints::{consent_page, note_client, read_form};
use crate::error::OAuthError;
use crate::faults::inject;
use crate::pkce::{S256, is_valid_s256_challenge};
use crate::router::Facts;
use crate::state::State;
use crate::store::{AuthCode, Client, ClientKind, TokenKey};

pub async fn handle(state: &State, request: Request<Incoming>, facts: &mut Facts) -> Response {
    // Where the consent page's decision goes: this path plus `/decision`.
    let path = request.uri().path().to_owned();
    let params = if request.method() == Method::POST {
        match read_form(request).await {
            Ok((_, params)) => Ok(params),
            Err(OAuthError::PayloadTooLarge) => {
                facts.error = Some("invalid_request".into());
                return page(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Authorization request refused",
                    "the request body is too large",
                );
            }
            Err(error) => Err(error.to_string()),
        }
    } else {
        Params::from_query(request.uri()).map_err(|error| error.to_string())
    };
    let params = match params {
        Ok(params) => params,
        Err(message) => return error_page(facts, &message),
    };
    note_asked(&params, facts);
    // A client ID metadata document is fetched before anything is trusted: an unusable one is
    // an error page, never a redirect to a URI only the document could vouch for.
    let document = match params.single("client_id") {
        Ok(Some(client_id)) => match state.resolve_document(client_id, facts).await {
            Some(Ok(client)) => Some(client),
            Some(Err(reason)) => {
                facts.client(client_id);
                let answer = error_page(facts, &reason);
                facts.error = Some("invalid_client".into());
                return answer;
            }
            None => None,
        },
        _ => None,
    };
    let (client, target) = match client_and_redirect(state, &params, document) {
        Ok(found) => found,
        Err(message) => {
            if let Ok(Some(client_id)) = params.single("client_id") {
                state.note_foreign_client(client_id, facts);
            }
            return error_page(facts, &message);
        }
    };
    note_client(&client, facts);
    let reply = Reply {
        redirect_uri: target.uri.clone(),
        client_state: params.single("state").ok().flatten().map(str::to_owned),
        iss: {
            let live = state.live();
            live.profile.iss.for_issuer(&live.issuer)
        },
    };
    facts.asked.iss = reply.iss.clone();
    let refuse = |facts: &mut Facts, (error, description): Refusal| {
        facts.error = Some(error.into());
        reply.send(&[("error", error), ("error_description", &description)])
    };
    let request = match check(state, &params) {
        Ok(request) => request,
        Err(refusal) => return refuse(facts, refusal),
    };
    // The consent decision: where a fault (deny-consent among them) answers instead.
    let subject = Subject {
        endpoint: "authorize",
        client_id: Some(&client.id),
        ..Subject::default()
    };
    let injected = inject(state, facts, &subject, |answer| {
        reply.send(&[
            ("error", answer.error),
            ("error_description", answer.description),
        ])
    })
    .await;
    if let Some(answer) = injected {
        if facts.error.as_deref() == Some("access_denied") {
            state.counters.consent_denials.bump();
        }
        return answer;
    }
    if state.consents.shows_page() {
        let pending = Pending {
            client_id: client.id.clone(),
            redirect_uri: target.uri,
            redirect_uri_sent: target.sent,
            state: reply.client_state,
            iss: reply.iss,
            code_challenge: request.challenge,
            scopes: request
                .scope
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            resources: request.resources,
        };
        facts.note = "consent page shown".into();
        return consent_page::open(state, &client, pending, &path);
    }
    match issue_code(state, &client, &target, request, facts) {
        Ok(code) => {
            state.counters.authorizations.bump();
            facts.issued(&code);
            reply.send(&[("code", &code)])
        }
        Err(refusal) => refuse(facts, refusal),
    }
}

/// Where the code goes, and whether the client named it.
struct Target {
    uri: String,
    sent: bool,
}

/// Finds the client (the one its metadata document describes, when `document` is resolved)
/// and the redirect URI to answer at, or says why there is none to trust.
fn client_and_redirect(
    state: &State,
    params: &Params,
    document: Option<Arc<Client>>,
) -> Result<(Arc<Client>, Target), String> {
    let client_id = params
        .single("client_id")
        .map_err(|error| error.to_string())?
        .ok_or("the request has no client_id")?;
    let client = match document {
        Some(client) => client,
        None => state.store.use_client(client_id).ok_or_else(|| {
            if is_document_id(client_id) {
                format!(
                    "unknown client_id '{client_id}': this issuer does not fetch client ID \
                     metadata documents (client_id_metadata_documents is off); register the \
                     client first"
                )
            } else {
                format!("unknown client_id '{client_id}': register the client first")
            }
        })?,
    };
    let target = match params
        .single("redirect_uri")
        .map_err(|error| error.to_string())?
    {
        Some(requested) => {
            if !client.accepts_redirect(requested) {
                if client.kind == ClientKind::Document {
                    return Err(format!(
                        "redirect_uri '{requested}' is not among the redirect_uris of the \
                         client's metadata document ({}); refusing to redirect there",
                        client.redirect_uris.join(", ")
                    ));
                }
                return Err(format!(
                    "redirect_uri '{requested}' is not registered for this client; refusing to \
                     redirect there"
                ));
            }
            Target {
                uri: requested.to_owned(),
                sent: true,
            }
        }
        None if client.any_loopback => {
            return Err(
                "redirect_uri is required: this client may use any loopback redirect URI".into(),
            );
        }
        None => match client.redirect_uris.as_slice() {
            [only] => Target {
                uri: only.clone(),
                sent: false,
            },
            _ => return Err("redirect_uri is required: the client registered several".into()),
        },
    };
    Ok((client, target))
}

pub(crate) type Refusal = (&'static str, String);

/// What a checked request asks for.
struct Checked {
    challenge: String,
    scope: String,
    resources: Vec<String>,
}

/// Checks the rest of the request: response type, PKCE, scope, resources.
fn check(state: &State, params: &Params) -> Result<Checked, Refusal> {
    let invalid = |description: String| ("invalid_request", description);
    let single = |name| {
        params
            .single(name)
            .map_err(|error| invalid(error.to_string()))
    };

    single("state")?;
    match single("response_type")? {
        Some("code") => {}
        Some(other) => {
            return Err((
                "unsupported_response_type",
                format!("response_type '{other}' is not supported; use code"),
            ));
        }
        None => return Err(invalid("missing required parameter 'response_type'".into())),
    }
    let challenge = single("code_challenge")?
        .ok_or_else(|| invalid("code_challenge is required: PKCE with S256".into()))?;
    match single("code_challenge_method")? {
        Some(S256) => {}
        Some(other) => {
            return Err(invalid(format!(
                "code_challenge_method '{other}' is not supported; use S256"
            )));
        }
        // RFC 7636 defaults an absent method to plain, which OAuth 2.1 servers refuse.
        None => {
            return Err(invalid(
                "code_challenge_method is required and must be S256".into(),
            ));
        }
    }
    if !is_valid_s256_challenge(challenge) {
        return Err(invalid(
            "code_challenge is not a base64url SHA-256 digest (43 characters)".into(),
        ));
    }
    let resources = resources(params)?;
    if resources.is_empty() && state.live().profile.require_resource {
        return Err((
            "invalid_target",
            "resource is required (RFC 8707): name the protected resource the token is for".into(),
        ));
    }
    Ok(Checked {
        challenge: challenge.to_owned(),
        scope: granted_scope(state, single("scope")?)?,
        resources,
    })
}

/// Consents (narrowing the scope if the tester said so) and issues a code.
fn issue_code(
    state: &State,
    client: &Client,
    target: &Target,
    request: Checked,
    facts: &mut Facts,
) -> Result<String, Refusal> {
    let scope = match state.settings().grant_scope {
        Some(narrowed) => {
            if narrowed != request.scope {
                facts.note = "consent narrowed".into();
            }
            narrowed
        }
        None => request.scope,
    };
    issue(
        state,
        AuthCode {
            client_id: client.id.clone(),
            redirect_uri: target.uri.clone(),
            redirect_uri_sent: target.sent,
            code_challenge: request.challenge,
            scope,
            resources: request.resources,
            subject: state.config.subject().to_owned(),
            expires_at: 0,
        },
    )
}

/// Stores `code` (its expiry set from now) under a new code, if the store has room.
pub(crate) fn issue(state: &State, mut code: AuthCode) -> Result<String, Refusal> {
    let now = state.now();
    if !state
        .store
        .has_room(now, 1, state.config.limits.max_codes, |store| {
            store.codes.len()
        })
    {
        return Err((
            "temporarily_unavailable",
            "too many unredeemed authorization codes".into(),
        ));
    }
    code.expires_at = now.saturating_add(state.config.code_ttl.as_millis() as u64);
    let secret = random_token();
    state.store.codes.insert(TokenKey::of(&secret), code);
    Ok(secret)
}

/// The scope to grant: the one asked for if every part is known, all scopes if none was asked.
fn granted_scope(state: &State, requested: Option<&str>) -> Result<String, Refusal> {
    let Some(requested) = requested else {
        return Ok(state.all_scopes());
    };
    let mut granted: Vec<&str> = Vec::new();
    for scope in requested.split_whitespace() {
        if !state.knows_scope(scope) {
            return Err((
                "invalid_scope",
                format!("unknown scope '{scope}'; known: {}", state.all_scopes()),
            ));
        }
        if !granted.contains(&scope) {
            granted.push(scope);
        }
    }
    if granted.is_empty() {
        return Ok(state.all_scopes());
    }
    Ok(granted.join(" "))
}

/// RFC 8707 resource indicators: absolute URIs without a fragment, possibly several.
fn resources(params: &Params) -> Result<Vec<String>, Refusal> {
    params
        .values("resource")
        .map(|resource| match Url::parse(resource) {
            Ok(url) if url.fragment().is_none() => Ok(resource.to_owned()),
            _ => Err((
                "invalid_target",
                format!("resource '{resource}' is not an absolute URI without a fragment"),
            )),
        })
        .collect()
}

/// Records what the request asked for, as sent, for the journal.
fn note_asked(params: &Params, facts: &mut Facts) {
    let asked = &mut facts.asked;
    asked.scope = params.single("scope").ok().flatten().map(str::to_owned);
    let resources: Vec<String> = params.values("resource").map(str::to_owned).collect();
    asked.resource = (!resources.is_empty()).then_some(resources);
    asked.pkce_method = Some(if params.contains("code_challenge") {
        // RFC 7636 §4.3: an absent method means plain.
        let method = params.single("code_challenge_method").ok().flatten();
        method.unwrap_or("plain").to_owned()
    } else {
        "none".to_owned()
    });
    asked.state = Some(params.contains("state"));
}

/// Answers the client at its redirect URI, adding `state` and `iss` (RFC 9207) to every answer.
pub(crate) struct Reply {
    pub redirect_uri: String,
    /// The client's `state`, sent back as it came (none if it was sent twice: a refusal).
    pub client_state: Option<String>,
    /// What the profile says `iss` is; `None`: no `iss` parameter.
    pub iss: Option<String>,
}

impl Reply {
    pub fn send(&self, params: &[(&str, &str)]) -> Response {
        let Ok(mut url) = Url::parse(&self.redirect_uri) else {
            // Registered URIs are parsed at registration, so this cannot happen; be safe anyway.
            return page(
                StatusCode::BAD_REQUEST,
                "Invalid redirect URI",
                "the redirect URI cannot be parsed",
            );
        };
        {
            let mut query = url.query_pairs_mut();
            for (name, value) in params {
                query.append_pair(name, value);
            }
            if let Some(client_state) = &self.client_state {
                query.append_pair("state", client_state);
            }
            if let Some(iss) = &self.iss {
                query.append_pair("iss", iss);
            }
        }
        redirect(url.as_str())
    }
}

fn error_page(facts: &mut Facts, message: &str) -> Response {
    facts.error = Some("invalid_request".into());
    page(
        StatusCode::BAD_REQUEST,
        "Authorization request refused",
        message,
    )
}
