//! `POST /token`: the authorization code and refresh token grants (OAuth 2.1 §3.2, §4.1.3, §4.3),
//! with refresh-token rotation and, when a tester turns it on, reuse detection (§4.3.1): a
//! rotated-out token presented again after the grace period revokes its whole grant. The grants
//! without a user are in [`grants`]; this module checks the issuer offers the one asked for and
//! authenticates the client first.

use std::sync::Arc;

use dashmap::mapref::entry::Entry;
use http::{Request, StatusCode};
use hyper::body::Incoming;
use sim_http::Response;
use sim_http::faults::{Subject, oauth_shaped};
use sim_http::form::Params;
use sim_http::response::json_no_store;

use crate::client_auth::Credentials;
use crate::endpoints::grants::{self, Exchanged};
use crate::endpoints::register::note_evictions;
use crate::endpoints::{named_client, note_client, read_form, required};
use crate::error::OAuthError;
use crate::faults::inject;
use crate::pkce::{is_valid_verifier, verify_s256};
use crate::router::Facts;
use crate::state::{GrantTerms, RefreshIssue, ReuseDetection, State, TokenResponse};
use crate::store::{
    Client, GrantLock, GrantType, RedeemedCode, RefreshToken, RetiredRefreshToken, TokenKey,
};

pub async fn handle(state: &State, request: Request<Incoming>, facts: &mut Facts) -> Response {
    let (parts, params) = match read_form(request).await {
        Ok(form) => form,
        Err(error) => return refuse(state, facts, error),
    };
    let grant_type = params.single("grant_type").ok().flatten();
    if let Some(grant_type) = grant_type {
        let grant = GrantType::parse(grant_type);
        facts.grant = Some(count_grant(state, grant));
        let credential = grant.and_then(|grant| match grant {
            GrantType::AuthorizationCode => Some("code"),
            GrantType::RefreshToken => Some("refresh_token"),
            // An assertion is journaled by its claims, never as a credential.
            _ => None,
        });
        if let Some(Ok(Some(presented))) = credential.map(|name| params.single(name)) {
            facts.presented(presented);
        }
    }
    let credentials = Credentials::read(&parts.headers, &params);
    note_asked(&credentials, &params, facts);
    let client_id = credentials.client_id();
    if let Err(error) = named_client(state, client_id, facts).await {
        return refuse(state, facts, error);
    }
    let subject = Subject {
        endpoint: "token",
        grant_type,
        client_id,
        scope: params.single("scope").ok().flatten(),
        ..Subject::default()
    };
    if let Some(answer) = inject(state, facts, &subject, oauth_shaped).await {
        if answer.status().is_client_error() || answer.status().is_server_error() {
            state.counters.token_errors.bump();
        }
        if facts.error.as_deref() == Some("invalid_grant") {
            state.counters.forced_invalid_grants.bump();
        }
        return answer;
    }
    match token(state, &credentials, &params, facts).await {
        Ok(Issued::Tokens(tokens)) => {
            facts.issued(
                tokens
                    .refresh_token
                    .as_ref()
                    .unwrap_or(&tokens.access_token),
            );
            json_no_store(StatusCode::OK, &tokens)
        }
        Ok(Issued::Exchanged(exchanged)) => {
            facts.issued(&exchanged.access_token);
            json_no_store(StatusCode::OK, &exchanged)
        }
        Err(error) => refuse(state, facts, error),
    }
}

/// Records what the request asked for, as sent, for the journal.
fn note_asked(credentials: &Credentials, params: &Params, facts: &mut Facts) {
    let asked = &mut facts.asked;
    asked.client_auth = credentials.method().map(str::to_owned);
    let resources: Vec<String> = params.values("resource").map(str::to_owned).collect();
    asked.resource = (!resources.is_empty()).then_some(resources);
    asked.scope = params.single("scope").ok().flatten().map(str::to_owned);
}

fn refuse(state: &State, facts: &mut Facts, error: OAuthError) -> Response {
    state.counters.token_errors.bump();
    facts.error = Some(error.code().into());
    error.into_response()
}

/// Counts a token request by its grant type, and names the grant for the log.
fn count_grant(state: &State, grant: Option<GrantType>) -> &'static str {
    let counters = &state.counters;
    let counter = match grant {
        Some(GrantType::AuthorizationCode) => &counters.code_grants,
        Some(GrantType::RefreshToken) => &counters.refresh_grants,
        Some(GrantType::ClientCredentials) => &counters.client_credentials_grants,
        Some(GrantType::JwtBearer) => &counters.jwt_bearer_grants,
        Some(GrantType::TokenExchange) => &counters.token_exchanges,
        None => &counters.other_grants,
    };
    counter.bump();
    grant.map_or("other", GrantType::as_str)
}

/// What a token request gets.
enum Issued {
    Tokens(TokenResponse),
    Exchanged(Exchanged),
}

/// Checks the grant is offered, authenticates the client and runs the grant.
async fn token(
    state: &State,
    credentials: &Credentials,
    params: &Params,
    facts: &mut Facts,
) -> Result<Issued, OAuthError> {
    let grant_type = required(params, "grant_type")?;
    let live = state.live();
    let offered = &live.profile.grant_types;
    let Some(grant) = GrantType::parse(grant_type).filter(|grant| offered.contains(grant)) else {
        let names: Vec<&str> = offered.iter().map(|grant| grant.as_str()).collect();
        return Err(OAuthError::UnsupportedGrantType(format!(
            "grant_type '{grant_type}' is not supported here; this issuer accepts {}",
            names.join(", ")
        )));
    };
    if matches!(grant, GrantType::JwtBearer | GrantType::TokenExchange) {
        // The assertion is the credential: client authentication is optional, and a client id
        // this issuer does not know is only a name (a workload's).
        let named = credentials.unknown_public_client(state);
        let client = match named {
            Some(_) => None,
            None => credentials.authenticate_if_present(state, facts).await?,
        };
        if let Some(client) = &client {
            note_client(client, facts);
        }
        return Ok(match grant {
            GrantType::JwtBearer => Issued::Tokens(
                grants::jwt_bearer(state, client.as_deref(), named, params, facts).await?,
            ),
            _ => Issued::Exchanged(grants::token_exchange(
                state,
                client.as_deref(),
                params,
                facts,
            )?),
        });
    }
    let client = match credentials.authenticate(state, facts).await {
        Ok(client) => client,
        Err(refused) if grant == GrantType::RefreshToken => {
            adopt_seeded_client(state, credentials, params, facts).ok_or(refused)?
        }
        Err(refused) => return Err(refused),
    };
    note_client(&client, facts);
    Ok(Issued::Tokens(match grant {
        GrantType::AuthorizationCode => redeem_code(state, &client, params, facts)?,
        GrantType::RefreshToken => refresh(state, &client, params, facts)?,
        _ => grants::client_credentials(state, &client, params, facts)?,
    }))
}

/// A seeded refresh token stands for credentials a client stored before this rig started (the
/// "deposit a credential, then call" scenario), so the client id stored with it is one this rig
/// has never registered. Such a public client is registered on the spot, as the one the seeded
/// grant was for; refusing it `invalid_client` would make the scenario impossible after a
/// restart or reset. Like a registration, it may evict an idle client to make room.
fn adopt_seeded_client(
    state: &State,
    credentials: &Credentials,
    params: &Params,
    facts: &mut Facts,
) -> Option<Arc<Client>> {
    let presented = params.single("refresh_token").ok().flatten()?;
    let now = state.now();
    let seeded = state
        .store
        .refresh_tokens
        .get(&TokenKey::of(presented))
        .is_some_and(|token| token.client_id.is_none() && token.expires_at > now);
    if !seeded {
        return None;
    }
    let id = credentials
        .unknown_public_client(state)
        .filter(|id| id.len() <= 255 && id.bytes().all(|byte| byte.is_ascii_graphic()))?;
    let evicted = state.make_room_for_client().ok()?;
    note_evictions(facts, &evicted);
    Some(state.store.adopt_public_client(id))
}

fn redeem_code(
    state: &State,
    client: &Client,
    params: &Params,
    facts: &mut Facts,
) -> Result<TokenResponse, OAuthError> {
    let code = required(params, "code")?;
    let verifier = params.single("code_verifier")?.ok_or_else(|| {
        OAuthError::InvalidRequest(
            "code_verifier is required: the code was issued with PKCE".into(),
        )
    })?;
    if !is_valid_verifier(verifier) {
        return Err(OAuthError::InvalidRequest(
            "code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~]".into(),
        ));
    }
    let redirect_uri = params.single("redirect_uri")?;
    let requested_resources: Vec<&str> = params.values("resource").collect();
    // Before the code is touched: a refused request leaves it redeemable with a `resource`.
    if requested_resources.is_empty() && state.live().profile.require_resource {
        return Err(OAuthError::InvalidTarget(
            "resource is required (RFC 8707): name the protected resource the token is for".into(),
        ));
    }

    // Removing the code is the redemption: of concurrent attempts exactly one gets it, and a
    // failed attempt burns it, so a verifier cannot be guessed at leisure. The grant's lock is
    // held from before the removal until the tokens are in, and the code's from the removal
    // until it is recorded as redeemed: a replay waits for that record, then for the tokens, and
    // revokes them too.
    let code = TokenKey::of(code);
    let grant = state.store.new_grant();
    let issuing = state.store.lock_grant(grant);
    let redeemed = {
        let _code = state.store.lock_code(&code);
        let removed = state.store.codes.remove(&code);
        if let Some((_, issued)) = &removed {
            state.store.redeemed_codes.insert(
                code,
                RedeemedCode {
                    grant,
                    expires_at: issued.expires_at,
                },
            );
        }
        removed
    };
    let Some((_, issued)) = redeemed else {
        drop(issuing);
        let replayed = {
            let _code = state.store.lock_code(&code);
            state.store.redeemed_codes.get(&code).map(|entry| *entry)
        };
        return Err(match replayed {
            Some(redeemed) => {
                // The lock waits for the exchange that redeemed it to finish issuing, so its
                // tokens are among those revoked.
                state
                    .store
                    .revoke_grant(&state.store.lock_grant(redeemed.grant));
                OAuthError::InvalidGrant(
                    "authorization code was already used; the tokens issued from it are revoked"
                        .into(),
                )
            }
            None => OAuthError::InvalidGrant("authorization code is unknown".into()),
        });
    };
    let now = state.now();
    if issued.expires_at <= now {
        return Err(OAuthError::InvalidGrant(
            "authorization code has expired".into(),
        ));
    }
    if issued.client_id != client.id {
        return Err(OAuthError::InvalidGrant(
            "authorization code was issued to another client".into(),
        ));
    }
    match redirect_uri {
        Some(sent) if sent != issued.redirect_uri => {
            return Err(OAuthError::InvalidGrant(
                "redirect_uri differs from the one the code was issued for".into(),
            ));
        }
        None if issued.redirect_uri_sent => {
            return Err(OAuthError::InvalidGrant(
                "redirect_uri is required: the authorization request included it".into(),
            ));
        }
        _ => {}
    }
    if !verify_s256(verifier, &issued.code_challenge) {
        return Err(OAuthError::InvalidGrant(
            "code_verifier does not match the code_challenge".into(),
        ));
    }
    let resources = narrow_resources(state, &issued.resources, &requested_resources)?;

    let terms = GrantTerms {
        client_id: client.id.clone(),
        scope: issued.scope.clone(),
        resources: resources.clone(),
        subject: issued.subject,
        grant,
    };
    let refresh = if client.may_use_grant(GrantType::RefreshToken) {
        RefreshIssue::New {
            scope: issued.scope,
            resources: issued.resources,
        }
    } else {
        RefreshIssue::None
    };
    let tokens = state.issue_tokens(&terms, refresh)?;
    facts.subject = Some(terms.subject);
    Ok(tokens)
}

fn refresh(
    state: &State,
    client: &Client,
    params: &Params,
    facts: &mut Facts,
) -> Result<TokenResponse, OAuthError> {
    let presented = required(params, "refresh_token")?;
    let requested_scope = params.single("scope")?;
    let requested_resources: Vec<&str> = params.values("resource").collect();
    if !client.may_use_grant(GrantType::RefreshToken) {
        return Err(OAuthError::UnauthorizedClient(
            "the client did not register for the refresh_token grant".into(),
        ));
    }

    let now = state.now();
    let settings = state.settings();
    let rotate = settings.rotate_refresh_tokens;
    let detection = settings.reuse_detection;
    let usable = |token: &RefreshToken| token.usable_by(&client.id) && token.expires_at > now;
    // Everything below happens under the grant's lock, so that concurrent uses of one token (and
    // its revocation) are judged one after the other: a replay is judged only once the use it
    // replays has issued its pair, and so revokes that pair too. A token in neither map is
    // simply unknown.
    let key = TokenKey::of(presented);
    let grant = state
        .store
        .refresh_tokens
        .get(&key)
        .map(|token| token.grant)
        .or_else(|| {
            state
                .store
                .retired_refresh_tokens
                .get(&key)
                .map(|retired| retired.token.grant)
        });
    let lock = grant.map(|grant| state.store.lock_grant(grant));
    // With rotation the presented token dies on use; taking it only when it is usable keeps a
    // wrong client from destroying someone else's token. It is retired before it leaves the live
    // map, so that at every moment it is in one of them (the lookup above relies on it).
    let current = if rotate {
        match state.store.refresh_tokens.entry(key) {
            Entry::Occupied(entry) if usable(entry.get()) => {
                if detection.on {
                    state.store.retired_refresh_tokens.insert(
                        key,
                        RetiredRefreshToken {
                            token: entry.get().clone(),
                            retired_at: now,
                        },
                    );
                }
                Some(entry.remove())
            }
            _ => None,
        }
    } else {
        state
            .store
            .refresh_tokens
            .get(&key)
            .filter(|token| usable(token))
            .map(|token| token.clone())
    };
    // A rotated-out token honoured within the grace period gets a new pair, whatever `rotate`.
    let (current, renew) = match current {
        Some(current) => (current, rotate),
        None => (
            rotated_out(state, client, &key, lock.as_ref(), now, detection, facts)?,
            true,
        ),
    };

    let scope = match requested_scope {
        None => current.scope.clone(),
        Some(requested) => {
            let granted: Vec<&str> = current.scope.split(' ').collect();
            if let Some(extra) = requested
                .split_whitespace()
                .find(|scope| !granted.contains(scope))
            {
                return Err(OAuthError::InvalidScope(format!(
                    "scope '{extra}' was not part of the original grant; a refresh may only narrow it"
                )));
            }
            requested.split_whitespace().collect::<Vec<_>>().join(" ")
        }
    };
    let resources = narrow_resources(state, &current.resources, &requested_resources)?;
    let terms = GrantTerms {
        client_id: client.id.clone(),
        scope,
        resources,
        subject: current.subject.clone(),
        grant: current.grant,
    };
    let refresh = if renew {
        RefreshIssue::New {
            scope: current.scope,
            resources: current.resources,
        }
    } else {
        RefreshIssue::Keep(presented.to_owned())
    };
    let tokens = state.issue_tokens(&terms, refresh)?;
    state.counters.refreshes.bump();
    facts.subject = Some(terms.subject);
    Ok(tokens)
}

/// A refresh token that is not live: a rotated-out one presented again is, with reuse detection
/// on, honoured within the grace period (the client lost the answer and retries) and afterwards
/// taken as a replay that revokes the whole grant. Anything else is simply invalid.
fn rotated_out(
    state: &State,
    client: &Client,
    presented: &TokenKey,
    lock: Option<&GrantLock<'_>>,
    now: u64,
    detection: ReuseDetection,
    facts: &mut Facts,
) -> Result<RefreshToken, OAuthError> {
    let invalid = || {
        OAuthError::InvalidGrant(
            "refresh token is unknown, expired, revoked, rotated out, or was issued to another client".into(),
        )
    };
    // Without the grant's lock the token was in neither map when looked up: unknown.
    let Some(lock) = lock.filter(|_| detection.on) else {
        return Err(invalid());
    };
    // Copied out, so that no map guard is held while the grant is revoked below.
    let Some(retired) = state
        .store
        .retired_refresh_tokens
        .get(presented)
        .filter(|retired| {
            retired.token.grant == lock.grant()
                && retired.token.usable_by(&client.id)
                && retired.token.expires_at > now
        })
        .map(|retired| retired.clone())
    else {
        return Err(invalid());
    };
    let grace_ends = retired
        .retired_at
        .saturating_add(detection.grace_seconds.saturating_mul(1000));
    if now < grace_ends {
        facts.note = "reuse within grace".into();
        return Ok(retired.token);
    }
    state.store.revoke_grant(lock);
    state.counters.reuse_detections.bump();
    facts.note = "reuse detected".into();
    Err(OAuthError::InvalidGrant(
        "refresh token reuse detected; the grant was revoked".into(),
    ))
}

/// The resources a new access token is for (RFC 8707 §2.2): those requested, which must be among
/// the grant's when the grant named any; otherwise all of the grant's.
///
/// A resource renamed since the grant ([`State::rename_resource`]) counts as granted.
fn narrow_resources(
    state: &State,
    granted: &[String],
    requested: &[&str],
) -> Result<Vec<String>, OAuthError> {
    if requested.is_empty() {
        return Ok(granted.to_vec());
    }
    let granted = state.covered_resources(granted);
    if let Some(outside) = requested.iter().find(|resource| {
        url::Url::parse(resource).map_or(true, |url| url.fragment().is_some())
            || (!granted.is_empty() && !granted.iter().any(|known| known == *resource))
    }) {
        return Err(OAuthError::InvalidTarget(format!(
            "resource '{outside}' is not a valid resource for this grant"
        )));
    }
    Ok(requested
        .iter()
        .map(|resource| (*resource).to_owned())
        .collect())
}
