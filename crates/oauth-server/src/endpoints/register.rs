//! `POST /register`: dynamic client registration (RFC 7591).
//!
//! The issuer's profile decides the client-authentication policy: a method it does not list
//! (`auth_methods`) is refused `invalid_client_metadata`, unless it assigns one whatever was
//! asked (`assign_auth_method`), as the conformance suite's servers do. With registration off
//! the router answers 404 before this runs.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use http::{Request, StatusCode};
use hyper::body::Incoming;
use serde_json::{Map, Value};
use sim_http::Response;
use sim_http::body::{self, MAX_BODY_BYTES};
use sim_http::faults::{Subject, oauth_shaped};
use sim_http::form::{self, has_content_type, is_scope_token};
use sim_http::log::short_id;
use sim_http::response::json_no_store;
use sim_http::secret::random_token;

use crate::error::OAuthError;
use crate::faults::inject;
use crate::jose::ClientKeys;
use crate::redirect_uri::check_registrable;
use crate::router::Facts;
use crate::state::State;
use crate::store::{AuthMethod, Client, ClientKind, ClientSecret, GrantType};

/// Metadata fields that, when present, must be strings (RFC 7591 §2).
const STRING_FIELDS: [&str; 9] = [
    "client_name",
    "client_uri",
    "logo_uri",
    "tos_uri",
    "policy_uri",
    "jwks_uri",
    "software_id",
    "software_version",
    "application_type",
];

pub async fn handle(state: &State, request: Request<Incoming>, facts: &mut Facts) -> Response {
    let subject = Subject {
        endpoint: "register",
        ..Subject::default()
    };
    if let Some(answer) = inject(state, facts, &subject, oauth_shaped).await {
        return answer;
    }
    match register(state, request, facts).await {
        Ok((client, secret)) => {
            facts.client(&client.id);
            state.counters.registrations.bump();
            // The secret is answered this once: the issuer keeps only its digest.
            let mut answer = client.registration.clone();
            if let Some(secret) = secret {
                answer.insert("client_secret".into(), Value::from(secret));
            }
            json_no_store(StatusCode::CREATED, &answer)
        }
        Err(error) => {
            facts.error = Some(error.code().into());
            error.into_response()
        }
    }
}

/// Registers the client; answers it and its secret, if it has one.
async fn register(
    state: &State,
    request: Request<Incoming>,
    facts: &mut Facts,
) -> Result<(Arc<Client>, Option<String>), OAuthError> {
    let (parts, body) = request.into_parts();
    if !has_content_type(&parts.headers, "application/json") {
        return Err(OAuthError::InvalidClientMetadata(
            "Content-Type must be application/json".into(),
        ));
    }
    let bytes = body::read(body, MAX_BODY_BYTES).await?;
    let metadata: Value = form::json(&bytes).map_err(OAuthError::InvalidClientMetadata)?;
    let Value::Object(mut metadata) = metadata else {
        return Err(OAuthError::InvalidClientMetadata(
            "the body must be a JSON object".into(),
        ));
    };

    note_asked(&metadata, facts);
    let live = state.live();
    let offered = &live.profile.auth_methods;
    let asked = match metadata.get("token_endpoint_auth_method") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(AuthMethod::parse(name).ok_or_else(|| {
            OAuthError::InvalidClientMetadata(format!(
                "token_endpoint_auth_method '{name}' is not supported; use none, \
                 client_secret_basic, client_secret_post or private_key_jwt"
            ))
        })?),
        Some(_) => return Err(not_a("token_endpoint_auth_method", "string")),
    };
    let auth_method = match (live.profile.assign_auth_method, asked) {
        (Some(assigned), _) => assigned,
        (None, Some(asked)) if offered.contains(&asked) => asked,
        (None, Some(asked)) => {
            let names: Vec<&str> = offered.iter().map(|method| method.as_str()).collect();
            return Err(OAuthError::InvalidClientMetadata(format!(
                "token_endpoint_auth_method '{}' is not offered here; offered: {}",
                asked.as_str(),
                names.join(", ")
            )));
        }
        // RFC 7591 §2: the default is client_secret_basic; where that is not offered the
        // server picks, and the answer says what it picked.
        (None, None) if offered.contains(&AuthMethod::ClientSecretBasic) => {
            AuthMethod::ClientSecretBasic
        }
        (None, None) => offered
            .first()
            .copied()
            .unwrap_or(AuthMethod::ClientSecretBasic),
    };
    // RFC 7591 §2: by default a client uses the authorization code grant only.
    let grant_types = match string_list(&metadata, "grant_types")? {
        None => vec![GrantType::AuthorizationCode],
        Some(names) => names
            .iter()
            .map(|name| {
                GrantType::parse(name).ok_or_else(|| {
                    let known: Vec<&str> = GrantType::ALL.iter().map(|g| g.as_str()).collect();
                    OAuthError::InvalidClientMetadata(format!(
                        "grant type '{name}' is not supported; use {}",
                        known.join(", ")
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    let code = grant_types.contains(&GrantType::AuthorizationCode);
    let issuing = [
        GrantType::AuthorizationCode,
        GrantType::ClientCredentials,
        GrantType::JwtBearer,
        GrantType::TokenExchange,
    ];
    if !grant_types.iter().any(|grant| issuing.contains(grant)) {
        return Err(OAuthError::InvalidClientMetadata(
            "grant_types must include a grant that issues tokens: authorization_code, \
             client_credentials or the jwt-bearer grant"
                .into(),
        ));
    }
    if !auth_method.is_confidential()
        && let Some(grant) = grant_types.iter().find(|grant| {
            matches!(
                grant,
                GrantType::ClientCredentials | GrantType::TokenExchange
            )
        })
    {
        return Err(OAuthError::InvalidClientMetadata(format!(
            "grant type {} is for confidential clients; token_endpoint_auth_method none cannot \
             use it",
            grant.as_str()
        )));
    }
    // A client of the code grant needs somewhere to be sent back; one without a user does not.
    let redirect_uris = if code || metadata.contains_key("redirect_uris") {
        redirect_uris(&metadata)?
    } else {
        Vec::new()
    };
    let keys = ClientKeys::from_metadata(metadata.get("jwks"), metadata.get("jwks_uri"))
        .map_err(OAuthError::InvalidClientMetadata)?;
    match (auth_method == AuthMethod::PrivateKeyJwt, keys.is_some()) {
        (true, false) => {
            return Err(OAuthError::InvalidClientMetadata(
                "token_endpoint_auth_method private_key_jwt needs jwks or jwks_uri".into(),
            ));
        }
        (false, true) => {
            return Err(OAuthError::InvalidClientMetadata(
                "jwks and jwks_uri are for token_endpoint_auth_method private_key_jwt".into(),
            ));
        }
        _ => {}
    }
    let response_types = string_list(&metadata, "response_types")?.unwrap_or_else(|| {
        if code {
            vec!["code".to_owned()]
        } else {
            Vec::new()
        }
    });
    let expected: &[&str] = if code { &["code"] } else { &[] };
    if response_types != expected {
        return Err(OAuthError::InvalidClientMetadata(if code {
            "response_types must be [\"code\"]".into()
        } else {
            "response_types must be empty without the authorization_code grant".into()
        }));
    }
    for field in STRING_FIELDS {
        if metadata
            .get(field)
            .is_some_and(|value| !value.is_string() && !value.is_null())
        {
            return Err(not_a(field, "string"));
        }
    }
    string_list(&metadata, "contacts")?;
    match metadata.get("scope") {
        None | Some(Value::Null) => {}
        Some(Value::String(scope)) if scope.split(' ').all(is_scope_token) => {}
        Some(_) => {
            return Err(OAuthError::InvalidClientMetadata(
                "scope must be a space-separated list of scope tokens".into(),
            ));
        }
    }

    let evicted = state.make_room_for_client()?;
    note_evictions(facts, &evicted);

    let id = random_token();
    let secret = auth_method.has_secret().then(random_token);
    let scope = metadata
        .get("scope")
        .and_then(Value::as_str)
        .map(str::to_owned);
    metadata.insert("client_id".into(), Value::from(id.clone()));
    metadata.insert(
        "client_id_issued_at".into(),
        Value::from(state.clock.now_secs()),
    );
    // Never kept in the registration: the answer adds the secret.
    metadata.remove("client_secret");
    if secret.is_some() {
        metadata.insert("client_secret_expires_at".into(), Value::from(0));
    } else {
        metadata.remove("client_secret_expires_at");
    }
    // Client management (RFC 7592) is not offered; never echo fields that would suggest it.
    metadata.remove("registration_access_token");
    metadata.remove("registration_client_uri");
    metadata.insert("redirect_uris".into(), Value::from(redirect_uris.clone()));
    metadata.insert(
        "token_endpoint_auth_method".into(),
        Value::from(auth_method.as_str()),
    );
    let grant_names: Vec<&str> = grant_types.iter().map(|grant| grant.as_str()).collect();
    metadata.insert("grant_types".into(), Value::from(grant_names));
    metadata.insert("response_types".into(), Value::from(response_types));

    let client = Arc::new(Client {
        id,
        secret: secret.as_deref().map(ClientSecret::new),
        auth_method,
        redirect_uris,
        any_loopback: false,
        kind: ClientKind::Dynamic,
        grant_types,
        keys,
        scope,
        registration: metadata,
        last_used: AtomicU64::new(0),
    });
    state.store.add_client(Arc::clone(&client));
    Ok((client, secret))
}

/// Records what the registration asked for, as sent, for the journal.
fn note_asked(metadata: &Map<String, Value>, facts: &mut Facts) {
    let text = |field: &str| {
        metadata
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let texts = |field: &str| {
        metadata.get(field).and_then(Value::as_array).map(|items| {
            items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect()
        })
    };
    let asked = &mut facts.asked;
    asked.grant_types = texts("grant_types");
    asked.application_type = text("application_type");
    asked.token_endpoint_auth_method = text("token_endpoint_auth_method");
    asked.redirect_uris = texts("redirect_uris");
    asked.scope = text("scope");
}

/// Says in the log and the journal which clients made room for this one (`evicted=<short id>`).
pub(crate) fn note_evictions(facts: &mut Facts, evicted: &[String]) {
    if evicted.is_empty() {
        return;
    }
    let ids: Vec<String> = evicted.iter().map(|id| short_id(id)).collect();
    facts.note = format!("evicted={}", ids.join(",")).into();
}

fn redirect_uris(metadata: &Map<String, Value>) -> Result<Vec<String>, OAuthError> {
    let uris = match metadata.get("redirect_uris") {
        None | Some(Value::Null) => {
            return Err(OAuthError::InvalidRedirectUri(
                "redirect_uris is required for the authorization code grant".into(),
            ));
        }
        Some(Value::Array(uris)) if !uris.is_empty() => uris,
        Some(_) => {
            return Err(OAuthError::InvalidRedirectUri(
                "redirect_uris must be a non-empty array of URIs".into(),
            ));
        }
    };
    uris.iter()
        .map(|uri| {
            let uri = uri.as_str().ok_or_else(|| {
                OAuthError::InvalidRedirectUri("every redirect URI must be a string".into())
            })?;
            check_registrable(uri).map_err(OAuthError::InvalidRedirectUri)?;
            Ok(uri.to_owned())
        })
        .collect()
}

/// An optional array of strings.
fn string_list(
    metadata: &Map<String, Value>,
    field: &str,
) -> Result<Option<Vec<String>>, OAuthError> {
    match metadata.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| not_a(field, "array of strings"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(not_a(field, "array of strings")),
    }
}

fn not_a(field: &str, kind: &str) -> OAuthError {
    OAuthError::InvalidClientMetadata(format!("{field} must be a {kind}"))
}
