//! The control calls of the clients without a user: a client with a fresh key pair
//! (`POST /control/clients` with `generate_key`), the trusted assertion issuers, and the
//! tokens the rig mints for the client under test: workload assertions (valid or spoiled on
//! purpose) and, in the identity-provider role, ID tokens.
//!
//! Private keys leave the rig only in these answers, which a tester asked for; the state, the
//! journal and the log never show them.

use std::sync::Arc;

use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sim_http::Response;
use sim_http::control::Call;
use sim_http::response::{json, plain_error};
use sim_http::secret::random_token;

use crate::clients::PreRegistered;
use crate::jose::{KeyAlgorithm, KeyPair};
use crate::state::State;
use crate::trust::{TrustRequest, TrustedIssuer};

/// The paths this module answers.
pub const CLIENTS: &str = "/control/clients";
pub const ISSUERS: &str = "/control/assertion-issuers";
pub const ASSERTIONS: &str = "/control/assertions";
pub const ID_TOKENS: &str = "/control/id-tokens";

/// The audience of a `wrong-audience` assertion: nobody's.
pub const WRONG_AUDIENCE: &str = "https://wrong-audience.invalid";

/// The longest lifetime a tester may give a minted token: a day.
const MAX_MINTED_LIFETIME: u64 = 24 * 3600;

/// Answers the call if it is one of these; `None` for any other.
pub fn call(state: &State, call: &Call) -> Option<Response> {
    let answer = match (&call.method, call.path.as_str()) {
        (&Method::POST, CLIENTS) if generates_key(call) => keyed_client(state, call),
        (&Method::GET, ISSUERS) => Ok(trusted(state, None)),
        (&Method::POST, ISSUERS) => trust(state, call),
        (&Method::DELETE, ISSUERS) => call.no_arguments().map(|()| {
            state.trust.forget_issuers();
            trusted(state, None)
        }),
        (&Method::POST, ASSERTIONS) => mint_assertion(state, call),
        (&Method::POST, ID_TOKENS) => mint_id_token(state, call),
        _ => return None,
    };
    Some(match answer {
        Ok(body) => json(StatusCode::OK, &body),
        Err(message) => plain_error(StatusCode::BAD_REQUEST, &message),
    })
}

fn generates_key(call: &Call) -> bool {
    call.arguments::<Map<String, Value>>()
        .is_ok_and(|arguments| arguments.contains_key("generate_key"))
}

/// What a tester gets of a key pair the rig made: everything the client under test needs.
fn handed_over(pair: &KeyPair) -> Value {
    json!({
        "alg": pair.algorithm(),
        "kid": pair.kid(),
        "private_key_pem": pair.private_pem(),
        "jwk": pair.public_jwk(),
    })
}

/// `POST /control/clients` with `"generate_key": "ES256"|"EdDSA"`: a `private_key_jwt` client
/// whose public key is a fresh one; the answer carries the private key.
fn keyed_client(state: &State, call: &Call) -> Result<Value, String> {
    let mut arguments: Map<String, Value> = call.arguments()?;
    let algorithm: KeyAlgorithm = arguments
        .remove("generate_key")
        .map(serde_json::from_value)
        .transpose()
        .map_err(|_| "generate_key must be ES256 or EdDSA".to_owned())?
        .unwrap_or_default();
    if arguments.contains_key("jwks") || arguments.contains_key("jwks_uri") {
        return Err("generate_key makes the keys; send no jwks or jwks_uri with it".to_owned());
    }
    let pair = KeyPair::generate(algorithm)?;
    arguments
        .entry("auth_method")
        .or_insert_with(|| json!("private_key_jwt"));
    arguments.insert(
        "jwks".into(),
        serde_json::to_value(pair.jwks()).map_err(|error| error.to_string())?,
    );
    let client: PreRegistered = serde_json::from_value(Value::Object(arguments))
        .map_err(|error| format!("invalid arguments: {error}"))?;
    state.pre_register(&client)?;
    let mut generated = handed_over(&pair);
    generated["client_id"] = json!(client.client_id);
    Ok(json!({ "clients": state.pre_registered(), "generated": generated }))
}

/// `GET /control/assertion-issuers`, and the answer of every change: the list, with the key a
/// change just made.
fn trusted(state: &State, added: Option<&TrustedIssuer>) -> Value {
    let issuers: Vec<Value> = state
        .trust
        .issuers()
        .iter()
        .map(|issuer| issuer.describe())
        .collect();
    let mut answer = json!({ "assertion_issuers": issuers });
    if let Some(pair) = added.and_then(|issuer| issuer.signer.as_ref()) {
        answer["generated"] = handed_over(pair);
    }
    answer
}

fn trust(state: &State, call: &Call) -> Result<Value, String> {
    let request: TrustRequest = call.arguments()?;
    let issuer = state.trust.add(request.build()?)?;
    Ok(trusted(state, Some(&issuer)))
}

/// What `POST /control/assertions` makes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// Signed by the issuer's key, for this issuer, short-lived.
    #[default]
    Valid,
    /// Otherwise valid, for another audience.
    WrongAudience,
    /// Otherwise valid, expired a minute ago.
    Expired,
    /// Claiming the issuer's key id, signed by a key nobody registered.
    UnknownKey,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MintAssertion {
    /// The trusted issuer, whose key the rig made.
    issuer: String,
    sub: String,
    /// Defaults to this issuer's identifier.
    #[serde(default)]
    audience: Option<String>,
    #[serde(default)]
    variant: Variant,
    #[serde(default = "five_minutes")]
    lifetime_seconds: u64,
    /// Claims to add or override (`client_id` and `resource` of an ID-JAG, `scope`, …).
    #[serde(default)]
    claims: Map<String, Value>,
}

fn check_lifetime(seconds: u64) -> Result<(), String> {
    if seconds == 0 || seconds > MAX_MINTED_LIFETIME {
        return Err(format!(
            "lifetime_seconds must be from 1 to {MAX_MINTED_LIFETIME}"
        ));
    }
    Ok(())
}

fn five_minutes() -> u64 {
    300
}

/// `POST /control/assertions`: a jwt-bearer assertion of a trusted issuer whose key the rig
/// made, as the client under test would get it from its platform; or spoiled as asked.
fn mint_assertion(state: &State, call: &Call) -> Result<Value, String> {
    let mint: MintAssertion = call.arguments()?;
    let issuer: Arc<TrustedIssuer> = state
        .trust
        .issuer(&mint.issuer)
        .ok_or_else(|| format!("'{}' is not a trusted assertion issuer here", mint.issuer))?;
    let signer = issuer.signer.as_ref().ok_or_else(|| {
        format!(
            "the rig did not make '{}''s key (add it with generate_key to mint its assertions)",
            mint.issuer
        )
    })?;
    check_lifetime(mint.lifetime_seconds)?;
    let now = state.clock.now_secs();
    let audience = match mint.variant {
        Variant::WrongAudience => WRONG_AUDIENCE.to_owned(),
        _ => mint.audience.unwrap_or_else(|| state.issuer()),
    };
    let (iat, exp) = match mint.variant {
        Variant::Expired => (now.saturating_sub(360), now.saturating_sub(60)),
        _ => (now, now + mint.lifetime_seconds),
    };
    let mut claims = json!({
        "iss": mint.issuer,
        "sub": mint.sub,
        "aud": audience,
        "iat": iat,
        "exp": exp,
        "jti": random_token(),
    });
    if let Value::Object(claims) = &mut claims {
        claims.extend(mint.claims);
    }
    let typ = match issuer.kind {
        crate::trust::AssertionKind::IdJag => crate::endpoints::grants::ID_JAG_TYPE,
        crate::trust::AssertionKind::Workload => "JWT",
    };
    let assertion = match mint.variant {
        Variant::UnknownKey => {
            let stranger = KeyPair::generate(signer_algorithm(signer))?;
            stranger.sign_as(typ, &claims, signer.kid())?
        }
        _ => signer.sign(typ, &claims)?,
    };
    Ok(json!({ "assertion": assertion, "claims": claims }))
}

fn signer_algorithm(pair: &KeyPair) -> KeyAlgorithm {
    match pair.algorithm() {
        "EdDSA" => KeyAlgorithm::EdDSA,
        _ => KeyAlgorithm::ES256,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MintIdToken {
    /// The user; defaults to the configured subject.
    #[serde(default)]
    sub: Option<String>,
    /// The client the ID token is for (at this identity provider).
    aud: String,
    #[serde(default = "an_hour")]
    lifetime_seconds: u64,
    /// Claims to add (`email`, `name`, …).
    #[serde(default)]
    claims: Map<String, Value>,
}

fn an_hour() -> u64 {
    3600
}

/// `POST /control/id-tokens`: an ID token this issuer signs for a test user, as an enterprise
/// IdP would after the user signed in: what the client under test exchanges for an ID-JAG.
fn mint_id_token(state: &State, call: &Call) -> Result<Value, String> {
    let mint: MintIdToken = call.arguments()?;
    check_lifetime(mint.lifetime_seconds)?;
    if mint.aud.is_empty() || mint.aud.len() > 255 {
        return Err("aud must be 1 to 255 characters".to_owned());
    }
    let now = state.clock.now_secs();
    let mut claims = json!({
        "iss": state.issuer(),
        "sub": mint.sub.unwrap_or_else(|| state.config.subject().to_owned()),
        "aud": mint.aud,
        "iat": now,
        "auth_time": now,
        "exp": now + mint.lifetime_seconds,
    });
    if let Value::Object(claims) = &mut claims {
        claims.extend(mint.claims);
    }
    let id_token = state.signer.sign("JWT", &claims)?;
    Ok(json!({ "id_token": id_token, "claims": claims }))
}
