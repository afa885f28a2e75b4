//! The grants without a user at `/token`: `client_credentials` (RFC 6749 §4.4), the JWT bearer
//! grant (RFC 7523 §2.1) with a workload's assertion or an enterprise IdP's ID-JAG, and token
//! exchange (RFC 8693), with which an issuer in the identity-provider role turns an ID token
//! into an ID-JAG for another authorization server.
//!
//! None of them issues a refresh token: a client that can sign or authenticate again at will
//! has no use for one.

use serde::Serialize;
use serde_json::json;
use sim_http::form::Params;
use sim_http::secret::random_token;

use crate::client_auth::seen;
use crate::endpoints::required;
use crate::error::OAuthError;
use crate::jose::{self, Claims, MAX_LIFETIME_SECS};
use crate::router::Facts;
use crate::state::{GrantTerms, RefreshIssue, State, TokenResponse};
use crate::store::{Client, GrantType};
use crate::trust::AssertionKind;

/// The `typ` of an Identity Assertion JWT Authorization Grant.
pub const ID_JAG_TYPE: &str = "oauth-id-jag+jwt";
/// RFC 8693 token type names.
pub const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
pub const ID_JAG: &str = "urn:ietf:params:oauth:token-type:id-jag";

/// How long an ID-JAG the rig issues lives: it is meant for one token request, at once.
const ID_JAG_LIFETIME_SECS: u64 = 300;

/// `client_credentials`: a confidential client on its own behalf. The token's subject is the
/// client; its scope is what was asked, within what the client may have.
pub fn client_credentials(
    state: &State,
    client: &Client,
    params: &Params,
    facts: &mut Facts,
) -> Result<TokenResponse, OAuthError> {
    if !client.auth_method.is_confidential() {
        return Err(OAuthError::UnauthorizedClient(
            "client_credentials is for confidential clients; a public client cannot use it".into(),
        ));
    }
    if !client.may_use_grant(GrantType::ClientCredentials) {
        return Err(OAuthError::UnauthorizedClient(
            "the client is not registered for the client_credentials grant".into(),
        ));
    }
    let scope = granted_scope(state, params.single("scope")?, client.scope.as_deref())?;
    let resources = requested_resources(state, params)?;
    issue(
        state,
        client.id.clone(),
        client.id.clone(),
        scope,
        resources,
        facts,
    )
}

/// The JWT bearer grant: an assertion from a trusted issuer stands for its `sub`. A workload's
/// assertion needs no client authentication (the client id, if any, is recorded); an ID-JAG
/// needs the confidential client it was issued to (`client_id`), for the resource it names.
pub async fn jwt_bearer(
    state: &State,
    client: Option<&Client>,
    named: Option<String>,
    params: &Params,
    facts: &mut Facts,
) -> Result<TokenResponse, OAuthError> {
    let invalid = |why: String| OAuthError::InvalidGrant(format!("assertion: {why}"));
    let assertion = required(params, "assertion")?;
    let read = jose::peek(assertion).map_err(&invalid)?;
    let now = state.clock.now_secs();
    facts.asked.assertion = Some(seen(&read, now));
    let claims = Claims(&read.claims);
    let iss = claims
        .str("iss")
        .ok_or_else(|| invalid("it has no iss".into()))?;
    let trusted = state
        .trust
        .issuer(iss)
        .ok_or_else(|| invalid(format!("its issuer '{iss}' is not trusted here")))?;
    let id_jag = read.header.get("typ").and_then(|typ| typ.as_str()) == Some(ID_JAG_TYPE);
    match (trusted.kind, id_jag) {
        (AssertionKind::IdJag, false) => {
            return Err(invalid(format!(
                "'{iss}' issues ID-JAGs; the header's typ must be {ID_JAG_TYPE}"
            )));
        }
        (AssertionKind::Workload, true) => {
            return Err(invalid(format!(
                "'{iss}' is trusted for workload assertions, not ID-JAGs"
            )));
        }
        _ => {}
    }
    let keys = state.key_set(&trusted.keys).await.map_err(&invalid)?;
    jose::verify(assertion, &keys).map_err(&invalid)?;
    let issuer = state.issuer();
    let issuer = issuer.as_str();
    let with_slash = format!("{issuer}/");
    let token_endpoint = state.token_endpoint();
    if !claims.audience_is_one_of(&[issuer, &with_slash, &token_endpoint]) {
        return Err(invalid(format!(
            "aud must be this issuer ({issuer}) or its token endpoint; it is {:?}",
            claims.audiences()
        )));
    }
    claims
        .check_times(now, MAX_LIFETIME_SECS)
        .map_err(&invalid)?;
    let sub = claims
        .str("sub")
        .ok_or_else(|| invalid("it has no sub".into()))?
        .to_owned();
    if let Some(subjects) = &trusted.subjects
        && !subjects.contains(&sub)
    {
        return Err(invalid(format!(
            "'{iss}' may not assert the subject '{sub}'"
        )));
    }
    let jti = claims.str("jti");
    if id_jag && jti.is_none() {
        return Err(invalid("an ID-JAG must have a jti".into()));
    }
    let (client_id, ceiling, resources) = if id_jag {
        let client = client
            .filter(|client| client.auth_method.is_confidential())
            .ok_or_else(|| {
                OAuthError::invalid_client(
                    "an ID-JAG is presented by the confidential client it was issued to: \
                 authenticate",
                    false,
                )
            })?;
        if claims.str("client_id") != Some(client.id.as_str()) {
            return Err(invalid(format!(
                "the ID-JAG was issued to client '{}', not '{}'",
                claims.str("client_id").unwrap_or(""),
                client.id
            )));
        }
        // As for client_credentials: the grants a client registered are the ones it may use.
        if !client.may_use_grant(GrantType::JwtBearer) {
            return Err(OAuthError::UnauthorizedClient(
                "the client is not registered for the jwt-bearer grant".into(),
            ));
        }
        let resource = claims
            .str("resource")
            .ok_or_else(|| invalid("the ID-JAG names no resource".into()))?;
        if trusted
            .resources
            .as_ref()
            .is_some_and(|known| !known.iter().any(|known| known == resource))
        {
            return Err(OAuthError::InvalidTarget(format!(
                "the ID-JAG's resource '{resource}' is not one this issuer serves"
            )));
        }
        check_resource(resource)?;
        let ceiling = claims.str("scope").map(str::to_owned);
        (client.id.clone(), ceiling, vec![resource.to_owned()])
    } else {
        let resources = requested_resources(state, params)?;
        let client_id = client
            .map(|client| client.id.clone())
            .or(named)
            .unwrap_or_else(|| sub.clone());
        (client_id, None, resources)
    };
    let scope = granted_scope(state, params.single("scope")?, ceiling.as_deref())?;
    // Used up only once every check passed: a request refused for its client, resource or
    // scope leaves the assertion to the client it was issued to, so whoever intercepts an
    // ID-JAG cannot burn it without that client's credentials.
    if let Some(jti) = jti {
        let until = claims.exp().saturating_add(jose::LEEWAY_SECS) * 1000;
        state
            .trust
            .use_once(iss, jti, until, state.now())
            .map_err(|unusable| unusable.error(jti, invalid))?;
    }
    issue(state, client_id, sub, scope, resources, facts)
}

/// What a token exchange answers (RFC 8693 §2.2.1).
#[derive(Debug, Serialize)]
pub struct Exchanged {
    pub access_token: String,
    pub issued_token_type: &'static str,
    pub token_type: &'static str,
    pub expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// Token exchange, in the identity-provider role: an ID token this issuer signed becomes an
/// ID-JAG for the authorization server named by `audience`.
pub fn token_exchange(
    state: &State,
    client: Option<&Client>,
    params: &Params,
    facts: &mut Facts,
) -> Result<Exchanged, OAuthError> {
    let subject_token = required(params, "subject_token")?;
    let subject_type = required(params, "subject_token_type")?;
    if subject_type != ID_TOKEN {
        return Err(OAuthError::InvalidRequest(format!(
            "subject_token_type must be {ID_TOKEN}: this identity provider exchanges ID tokens"
        )));
    }
    let requested = required(params, "requested_token_type")?;
    if requested != ID_JAG {
        return Err(OAuthError::InvalidRequest(format!(
            "requested_token_type must be {ID_JAG}: ID-JAGs are the only tokens issued here"
        )));
    }
    let audience = required(params, "audience")?;
    check_resource(audience).map_err(|_| {
        OAuthError::InvalidTarget(format!(
            "audience '{audience}' must be the authorization server's issuer URL"
        ))
    })?;
    let resource = params.single("resource")?;
    if let Some(resource) = resource {
        check_resource(resource)?;
    }
    let invalid = |why: String| OAuthError::InvalidGrant(format!("subject_token: {why}"));
    let read = jose::verify(subject_token, &state.signer.jwks()).map_err(&invalid)?;
    let now = state.clock.now_secs();
    facts.asked.assertion = Some(seen(&read, now));
    let claims = Claims(&read.claims);
    let issuer = state.issuer();
    if claims.str("iss") != Some(issuer.as_str()) {
        return Err(invalid(format!(
            "iss must be this identity provider, {issuer}"
        )));
    }
    // An ID token lives longer than an assertion; a day is generous for a test.
    claims.check_times(now, 24 * 3600).map_err(&invalid)?;
    if let Some(client) = client
        && !claims.audience_is_one_of(&[client.id.as_str()])
    {
        return Err(invalid(format!(
            "the ID token was issued to another client than '{}'",
            client.id
        )));
    }
    let sub = claims
        .str("sub")
        .ok_or_else(|| invalid("it has no sub".into()))?;
    let client_id = state
        .live()
        .profile
        .id_jag_client_id
        .clone()
        .or_else(|| client.map(|client| client.id.clone()))
        .ok_or_else(|| {
            OAuthError::InvalidRequest(
                "no client_id for the ID-JAG: authenticate, or set this issuer's \
                 id_jag_client_id"
                    .into(),
            )
        })?;
    let scope = params.single("scope")?.map(str::to_owned);
    let mut jag = json!({
        "iss": state.issuer(),
        "sub": sub,
        "aud": audience,
        "client_id": client_id,
        "jti": random_token(),
        "iat": now,
        "exp": now + ID_JAG_LIFETIME_SECS,
    });
    for (name, value) in [
        ("resource", resource.map(str::to_owned)),
        ("scope", scope.clone()),
    ] {
        if let Some(value) = value {
            jag[name] = json!(value);
        }
    }
    let access_token = state
        .signer
        .sign(ID_JAG_TYPE, &jag)
        .map_err(OAuthError::TemporarilyUnavailable)?;
    facts.subject = Some(sub.to_owned());
    Ok(Exchanged {
        access_token,
        issued_token_type: ID_JAG,
        token_type: "N_A",
        expires_in: ID_JAG_LIFETIME_SECS,
        scope,
    })
}

/// The scope to grant: what was asked, each one known here and within `ceiling` if any;
/// nothing asked is the ceiling, or every scope the issuer knows.
fn granted_scope(
    state: &State,
    asked: Option<&str>,
    ceiling: Option<&str>,
) -> Result<String, OAuthError> {
    let Some(asked) = asked.filter(|asked| !asked.trim().is_empty()) else {
        return Ok(ceiling.map_or_else(|| state.all_scopes(), str::to_owned));
    };
    let mut granted = Vec::new();
    for scope in asked.split_whitespace() {
        if !state.knows_scope(scope) {
            return Err(OAuthError::InvalidScope(format!(
                "scope '{scope}' is not known here"
            )));
        }
        if ceiling.is_some_and(|ceiling| !ceiling.split(' ').any(|allowed| allowed == scope)) {
            return Err(OAuthError::InvalidScope(format!(
                "scope '{scope}' is beyond what this client may have"
            )));
        }
        if !granted.contains(&scope) {
            granted.push(scope);
        }
    }
    Ok(granted.join(" "))
}

/// The `resource` values of the request (RFC 8707), each an absolute URI without a fragment;
/// required when the profile says so.
fn requested_resources(state: &State, params: &Params) -> Result<Vec<String>, OAuthError> {
    let resources: Vec<String> = params.values("resource").map(str::to_owned).collect();
    if resources.is_empty() && state.live().profile.require_resource {
        return Err(OAuthError::InvalidTarget(
            "resource is required (RFC 8707): name the protected resource the token is for".into(),
        ));
    }
    for resource in &resources {
        check_resource(resource)?;
    }
    Ok(resources)
}

fn check_resource(resource: &str) -> Result<(), OAuthError> {
    match url::Url::parse(resource) {
        Ok(url) if url.fragment().is_none() && resource.len() <= 2048 => Ok(()),
        _ => Err(OAuthError::InvalidTarget(format!(
            "resource '{resource}' must be an absolute URI without a fragment"
        ))),
    }
}

fn issue(
    state: &State,
    client_id: String,
    subject: String,
    scope: String,
    resources: Vec<String>,
    facts: &mut Facts,
) -> Result<TokenResponse, OAuthError> {
    let terms = GrantTerms {
        client_id,
        scope,
        resources,
        subject,
        grant: state.store.new_grant(),
    };
    let tokens = state.issue_tokens(&terms, RefreshIssue::None)?;
    facts.subject = Some(terms.subject);
    Ok(tokens)
}
