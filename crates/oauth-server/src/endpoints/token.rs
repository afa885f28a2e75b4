//! `POST /token`: the authorization code and refresh token grants (OAuth 2.1 §3.2, §4.1.3, §4.3).

use http::{Request, StatusCode};
use hyper::body::Incoming;
use sim_http::Response;
use sim_http::form::Params;
use sim_http::response::json_no_store;

use crate::client_auth::authenticate;
use crate::endpoints::{read_form, required};
use crate::error::OAuthError;
use crate::pkce::{is_valid_verifier, verify_s256};
use crate::router::Facts;
use crate::state::{Counters, GrantTerms, RefreshIssue, State, TokenResponse};
use crate::store::{Client, RedeemedCode};

pub async fn handle(state: &State, request: Request<Incoming>, facts: &mut Facts) -> Response {
    match token(state, request, facts).await {
        Ok(tokens) => json_no_store(StatusCode::OK, &tokens),
        Err(error) => {
            Counters::bump(&state.counters.token_errors);
            facts.error = error.code();
            error.into_response()
        }
    }
}

async fn token(
    state: &State,
    request: Request<Incoming>,
    facts: &mut Facts,
) -> Result<TokenResponse, OAuthError> {
    let (parts, params) = read_form(request).await?;
    let grant_type = required(&params, "grant_type")?;
    facts.grant = match grant_type {
        "authorization_code" => {
            Counters::bump(&state.counters.code_grants);
            "authorization_code"
        }
        "refresh_token" => {
            Counters::bump(&state.counters.refresh_grants);
            "refresh_token"
        }
        _ => {
            Counters::bump(&state.counters.other_grants);
            "other"
        }
    };
    let client = authenticate(state, &parts.headers, &params)?;
    facts.client(&client.id);
    match grant_type {
        "authorization_code" => redeem_code(state, &client, &params),
        "refresh_token" => refresh(state, &client, &params),
        other => Err(OAuthError::UnsupportedGrantType(format!(
            "grant_type '{other}' is not supported; use authorization_code or refresh_token"
        ))),
    }
}

fn redeem_code(
    state: &State,
    client: &Client,
    params: &Params,
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

    // Removing the code is the redemption: of concurrent attempts exactly one gets it, and a
    // failed attempt burns it, so a verifier cannot be guessed at leisure.
    let Some((_, issued)) = state.store.codes.remove(code) else {
        return Err(
            match state.store.redeemed_codes.get(code).map(|entry| *entry) {
                Some(redeemed) => {
                    state.store.revoke_grant(redeemed.grant);
                    OAuthError::InvalidGrant(
                    "authorization code was already used; the tokens issued from it are revoked".into(),
                )
                }
                None => OAuthError::InvalidGrant("authorization code is unknown".into()),
            },
        );
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
    let resources = narrow_resources(&issued.resources, &requested_resources)?;

    let grant = state.store.new_grant();
    state.store.redeemed_codes.insert(
        code.to_owned(),
        RedeemedCode {
            grant,
            expires_at: issued.expires_at,
        },
    );
    let terms = GrantTerms {
        client_id: client.id.clone(),
        scope: issued.scope.clone(),
        resources: resources.clone(),
        subject: issued.subject,
        grant,
    };
    let refresh = if client.may_use_grant("refresh_token") {
        RefreshIssue::New {
            scope: issued.scope,
            resources: issued.resources,
        }
    } else {
        RefreshIssue::None
    };
    state.issue_tokens(&terms, refresh)
}

fn refresh(state: &State, client: &Client, params: &Params) -> Result<TokenResponse, OAuthError> {
    let presented = required(params, "refresh_token")?;
    let requested_scope = params.single("scope")?;
    let requested_resources: Vec<&str> = params.values("resource").collect();
    if !client.may_use_grant("refresh_token") {
        return Err(OAuthError::UnauthorizedClient(
            "the client did not register for the refresh_token grant".into(),
        ));
    }
    let toggles = state.toggles();
    if toggles.invalid_grant {
        Counters::bump(&state.counters.forced_invalid_grants);
        return Err(OAuthError::InvalidGrant(
            "refresh token is invalid (invalid-grant is on)".into(),
        ));
    }

    let now = state.now();
    let rotate = toggles.rotate_refresh_tokens;
    let usable =
        |token: &crate::store::RefreshToken| token.usable_by(&client.id) && token.expires_at > now;
    // With rotation the presented token dies on use; removing it only when it is usable keeps a
    // wrong client from destroying someone else's token, and makes concurrent uses race for it.
    let current = if rotate {
        state
            .store
            .refresh_tokens
            .remove_if(presented, |_, token| usable(token))
            .map(|(_, token)| token)
    } else {
        state
            .store
            .refresh_tokens
            .get(presented)
            .filter(|token| usable(token))
            .map(|token| token.clone())
    };
    let current = current.ok_or_else(|| {
        OAuthError::InvalidGrant(
            "refresh token is unknown, expired, revoked, rotated out, or was issued to another client".into(),
        )
    })?;

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
    let resources = narrow_resources(&current.resources, &requested_resources)?;
    let terms = GrantTerms {
        client_id: client.id.clone(),
        scope,
        resources,
        subject: current.subject.clone(),
        grant: current.grant,
    };
    let refresh = if rotate {
        RefreshIssue::New {
            scope: current.scope,
            resources: current.resources,
        }
    } else {
        RefreshIssue::Keep(presented.to_owned())
    };
    let tokens = state.issue_tokens(&terms, refresh)?;
    Counters::bump(&state.counters.refreshes);
    Ok(tokens)
}

/// The resources a new access token is for (RFC 8707 §2.2): those requested, which must be among
/// the grant's when the grant named any; otherwise all of the grant's.
fn narrow_resources(granted: &[String], requested: &[&str]) -> Result<Vec<String>, OAuthError> {
    if requested.is_empty() {
        return Ok(granted.to_vec());
    }
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
