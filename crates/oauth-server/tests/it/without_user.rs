//! Clients without a user (issue #18), over real HTTP: the `client_credentials` grant (RFC 6749
//! §4.4), `private_key_jwt` client authentication (RFC 7523 §2.2) with keys the rig made, keys
//! registered inline and keys at a `jwks_uri`, the jwt-bearer grant (RFC 7523 §2.1) with a
//! trusted workload issuer, and enterprise-managed authorization: an issuer in the
//! identity-provider role exchanging an ID token for an ID-JAG (RFC 8693), which the client
//! redeems at the main issuer. Each test asserts what a client would see.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::future::join_all;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use oauth_server::Config;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sim_http::fetch::FetchPolicy;
use sim_http::secret::random_token;
use sim_test_kit::documents::{Answer, DocumentHost};
use sim_test_kit::pki::TestPki;

use crate::support::{Rig, TestClient};

const CLIENT_CREDENTIALS: &str = "client_credentials";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
const ID_JAG_TYPE: &str = "urn:ietf:params:oauth:token-type:id-jag";
/// The protected resource the tokens are for.
const RESOURCE: &str = "https://mcp.example/mcp";
/// A workload's identity provider, trusted by the main issuer.
const WORKLOAD_IDP: &str = "https://workload-idp.example";
const JWKS_PATH: &str = "/jwks.json";

// --- Arrange helpers -------------------------------------------------------------------------

/// A rig knowing three scopes, so that a client's `scope` can be narrower than the issuer's.
async fn scoped_rig() -> Rig {
    Rig::start_with(Config {
        scopes: vec!["mcp:tools".into(), "mcp:read".into(), "mcp:admin".into()],
        ..Config::default()
    })
    .await
}

/// The main issuer's identifier: what a client assertion's `aud` names.
async fn issuer_of(rig: &Rig) -> String {
    let (status, metadata) = rig
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(status, StatusCode::OK, "{metadata}");
    metadata["issuer"].as_str().unwrap().to_owned()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A private key as a client holds it: what it signs its assertions with.
struct Signer {
    key: EncodingKey,
    alg: Algorithm,
    kid: Option<String>,
}

impl Signer {
    /// The key the rig handed over (`generated` of a control answer).
    fn handed_over(generated: &Value) -> Self {
        let pem = generated["private_key_pem"]
            .as_str()
            .expect("a private key");
        let (key, alg) = match generated["alg"].as_str() {
            Some("EdDSA") => (EncodingKey::from_ed_pem(pem.as_bytes()), Algorithm::EdDSA),
            _ => (EncodingKey::from_ec_pem(pem.as_bytes()), Algorithm::ES256),
        };
        Self {
            key: key.expect("the handed-over PEM reads"),
            alg,
            kid: generated["kid"].as_str().map(str::to_owned),
        }
    }

    /// A key made here, nobody's but this test's, and its public JWK (with `kid`).
    fn made_here(signature: &'static rcgen::SignatureAlgorithm, alg: Algorithm) -> (Self, Value) {
        let pair = rcgen::KeyPair::generate_for(signature).unwrap();
        let pem = pair.serialize_pem();
        let key = match alg {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(pem.as_bytes()),
            _ => EncodingKey::from_ec_pem(pem.as_bytes()),
        }
        .unwrap();
        let kid = format!("test-{}", &random_token()[..8]);
        let mut jwk = serde_json::to_value(Jwk::from_encoding_key(&key, alg).unwrap()).unwrap();
        jwk["kid"] = json!(kid);
        let signer = Self {
            key,
            alg,
            kid: Some(kid),
        };
        (signer, jwk)
    }

    fn es256() -> (Self, Value) {
        Self::made_here(&rcgen::PKCS_ECDSA_P256_SHA256, Algorithm::ES256)
    }

    /// The same private key, its header naming `kid`: a forger who knows a registered key id.
    fn claiming(mut self, kid: Option<String>) -> Self {
        self.kid = kid;
        self
    }

    fn sign_typed(&self, typ: &str, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.typ = Some(typ.to_owned());
        header.kid = self.kid.clone();
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_typed("JWT", claims)
    }
}

/// The claims of a good client assertion of `client_id` for `aud`, with a fresh `jti`.
fn client_claims(client_id: &str, aud: &str) -> Value {
    let now = now();
    json!({
        "iss": client_id, "sub": client_id, "aud": aud,
        "iat": now, "exp": now + 60, "jti": random_token(),
    })
}

/// Pre-registers a client whose key pair the rig makes; answers the client's signer.
async fn keyed_client(rig: &Rig, client_id: &str, alg: &str) -> Signer {
    let (status, body) = rig
        .control(
            "/control/clients",
            Some(json!({
                "client_id": client_id,
                "grant_types": [CLIENT_CREDENTIALS],
                "generate_key": alg,
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["generated"]["client_id"], client_id);
    assert_eq!(body["generated"]["alg"], alg);
    Signer::handed_over(&body["generated"])
}

/// Pre-registers a confidential client with a secret.
async fn secret_client(rig: &Rig, client_id: &str, grant_types: &[&str], scope: Option<&str>) {
    let mut client = json!({
        "client_id": client_id,
        "client_secret": format!("{client_id}-secret"),
        "auth_method": "client_secret_basic",
        "grant_types": grant_types,
    });
    if let Some(scope) = scope {
        client["scope"] = json!(scope);
    }
    let (status, body) = rig.control("/control/clients", Some(client)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// POSTs `form` to `/token` with HTTP Basic as `client_id`, its secret `{client_id}-secret`.
async fn token_basic(rig: &Rig, client_id: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = rig
        .http
        .post(rig.url("/token"))
        .basic_auth(client_id, Some(format!("{client_id}-secret")))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The client_credentials grant, authenticated by `assertion`, plus `extra`.
async fn with_assertion(rig: &Rig, assertion: &str, extra: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut form = vec![
        ("grant_type", CLIENT_CREDENTIALS),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ];
    form.extend_from_slice(extra);
    rig.token(&form).await
}

/// The jwt-bearer grant with `assertion`, plus `extra`.
async fn jwt_bearer(rig: &Rig, assertion: &str, extra: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut form = vec![("grant_type", JWT_BEARER), ("assertion", assertion)];
    form.extend_from_slice(extra);
    rig.token(&form).await
}

/// The answer must be `status` with `error`, its description saying `says`.
#[track_caller]
fn assert_refused(answer: &(StatusCode, Value), status: StatusCode, error: &str, says: &str) {
    let (got, body) = answer;
    assert_eq!(*got, status, "{body}");
    assert_eq!(body["error"], error, "{body}");
    let description = body["error_description"].as_str().unwrap_or_default();
    assert!(
        description.contains(says),
        "{description:?} should say {says:?}"
    );
}

/// The answer must be a token response without a refresh token; answers the access token.
#[track_caller]
fn issued(answer: &(StatusCode, Value)) -> String {
    let (status, body) = answer;
    assert_eq!(*status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert!(body.get("refresh_token").is_none(), "no refresh: {body}");
    body["access_token"].as_str().unwrap().to_owned()
}

// --- client_credentials ----------------------------------------------------------------------

#[tokio::test]
async fn client_credentials_gives_a_confidential_client_a_token_of_its_own_without_a_refresh_token()
{
    // Arrange
    let rig = scoped_rig().await;
    secret_client(
        &rig,
        "machine",
        &[CLIENT_CREDENTIALS],
        Some("mcp:tools mcp:read"),
    )
    .await;
    let (_, metadata) = rig
        .get_json("/.well-known/oauth-authorization-server")
        .await;

    // Act
    let narrowed = token_basic(
        &rig,
        "machine",
        &[
            ("grant_type", CLIENT_CREDENTIALS),
            ("scope", "mcp:read"),
            ("resource", RESOURCE),
        ],
    )
    .await;
    let whole = token_basic(&rig, "machine", &[("grant_type", CLIENT_CREDENTIALS)]).await;

    // Assert
    let granted_types = metadata["grant_types_supported"].as_array().unwrap();
    assert!(
        granted_types.contains(&json!(CLIENT_CREDENTIALS)),
        "{metadata}"
    );
    assert_eq!(narrowed.1["scope"], "mcp:read", "{}", narrowed.1);
    let introspection = rig.introspect(&issued(&narrowed)).await;
    assert_eq!(introspection["active"], true);
    assert_eq!(introspection["sub"], "machine", "the client is the subject");
    assert_eq!(introspection["client_id"], "machine");
    assert_eq!(introspection["aud"], RESOURCE, "resource becomes aud");
    assert_eq!(introspection["scope"], "mcp:read");
    let introspection = rig.introspect(&issued(&whole)).await;
    assert_eq!(
        introspection["scope"], "mcp:tools mcp:read",
        "nothing asked is the client's whole scope"
    );
    assert!(introspection.get("aud").is_none(), "{introspection}");
    let counters = &rig.state().await["counters"];
    assert_eq!(
        counters["token_requests"]["client_credentials"], 2,
        "{counters}"
    );
}

#[tokio::test]
async fn client_credentials_beyond_the_clients_scope_or_unknown_is_invalid_scope() {
    // Arrange
    let rig = scoped_rig().await;
    secret_client(&rig, "machine", &[CLIENT_CREDENTIALS], Some("mcp:tools")).await;
    let ask = |scope: &'static str| {
        let rig = &rig;
        async move {
            token_basic(
                rig,
                "machine",
                &[("grant_type", CLIENT_CREDENTIALS), ("scope", scope)],
            )
            .await
        }
    };

    // Act
    let beyond = ask("mcp:tools mcp:admin").await;
    let unknown = ask("no-such-scope").await;
    let within = ask("mcp:tools").await;

    // Assert
    assert_refused(
        &beyond,
        StatusCode::BAD_REQUEST,
        "invalid_scope",
        "mcp:admin",
    );
    assert_refused(
        &unknown,
        StatusCode::BAD_REQUEST,
        "invalid_scope",
        "not known",
    );
    issued(&within);
}

#[tokio::test]
async fn client_credentials_for_a_public_client_or_one_not_registered_for_it_is_unauthorized_client()
 {
    // Arrange: a public client and a confidential client, both of the code grant only.
    let rig = Rig::start().await;
    let public = rig.public_client().await;
    let confidential = rig.client_with("client_secret_post").await;
    let secret = confidential.secret.clone().unwrap();

    // Act
    let as_public = rig
        .token(&[
            ("grant_type", CLIENT_CREDENTIALS),
            ("client_id", &public.id),
        ])
        .await;
    let unregistered = rig
        .token(&[
            ("grant_type", CLIENT_CREDENTIALS),
            ("client_id", &confidential.id),
            ("client_secret", &secret),
        ])
        .await;
    let wrong_secret = rig
        .token(&[
            ("grant_type", CLIENT_CREDENTIALS),
            ("client_id", &confidential.id),
            ("client_secret", "not-the-secret"),
        ])
        .await;

    // Assert
    assert_refused(
        &as_public,
        StatusCode::BAD_REQUEST,
        "unauthorized_client",
        "public client",
    );
    assert_refused(
        &unregistered,
        StatusCode::BAD_REQUEST,
        "unauthorized_client",
        "not registered",
    );
    assert_refused(
        &wrong_secret,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "wrong client secret",
    );
}

#[tokio::test]
async fn an_issuer_whose_profile_leaves_out_client_credentials_answers_unsupported_grant_type() {
    // Arrange
    let rig = Rig::start().await;
    secret_client(&rig, "machine", &[CLIENT_CREDENTIALS], None).await;
    let (status, body) = rig
        .control(
            "/control/profile",
            Some(json!({"grant_types": ["authorization_code", "refresh_token"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Act
    let answer = token_basic(&rig, "machine", &[("grant_type", CLIENT_CREDENTIALS)]).await;
    let (_, metadata) = rig
        .get_json("/.well-known/oauth-authorization-server")
        .await;

    // Assert
    assert_refused(
        &answer,
        StatusCode::BAD_REQUEST,
        "unsupported_grant_type",
        "authorization_code, refresh_token",
    );
    assert_eq!(
        metadata["grant_types_supported"],
        json!(["authorization_code", "refresh_token"])
    );
}

#[tokio::test]
async fn dynamic_registration_without_a_user_needs_no_redirect_uri_but_a_credential() {
    // Arrange
    let rig = Rig::start().await;
    let issuer = issuer_of(&rig).await;
    let (signer, jwk) = Signer::es256();

    // Act
    let (secret_status, with_secret) = rig
        .register(json!({
            "grant_types": [CLIENT_CREDENTIALS],
            "token_endpoint_auth_method": "client_secret_basic",
            "client_name": "a machine",
        }))
        .await;
    let (keyed_status, with_keys) = rig
        .register(json!({
            "grant_types": [CLIENT_CREDENTIALS],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [jwk.clone()]},
        }))
        .await;
    let mut private = jwk.clone();
    private["d"] = json!("AAAA");
    let (private_status, private_refused) = rig
        .register(json!({
            "grant_types": [CLIENT_CREDENTIALS],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [private]},
        }))
        .await;
    let (keyless_status, keyless) = rig
        .register(json!({
            "grant_types": [CLIENT_CREDENTIALS],
            "token_endpoint_auth_method": "private_key_jwt",
        }))
        .await;
    let (public_status, public) = rig
        .register(json!({
            "grant_types": [CLIENT_CREDENTIALS],
            "token_endpoint_auth_method": "none",
        }))
        .await;

    // Assert: both registered clients get tokens; the refusals say why.
    assert_eq!(secret_status, StatusCode::CREATED, "{with_secret}");
    let machine = TestClient {
        id: with_secret["client_id"].as_str().unwrap().to_owned(),
        secret: with_secret["client_secret"].as_str().map(str::to_owned),
    };
    let response = rig
        .http
        .post(rig.url("/token"))
        .basic_auth(&machine.id, machine.secret.as_deref())
        .form(&[("grant_type", CLIENT_CREDENTIALS)])
        .send()
        .await
        .unwrap();
    let status = response.status();
    issued(&(status, response.json().await.unwrap()));

    assert_eq!(keyed_status, StatusCode::CREATED, "{with_keys}");
    assert!(with_keys.get("client_secret").is_none(), "{with_keys}");
    let keyed_id = with_keys["client_id"].as_str().unwrap();
    let assertion = signer.sign(&client_claims(keyed_id, &issuer));
    let token = issued(&with_assertion(&rig, &assertion, &[]).await);
    assert_eq!(rig.introspect(&token).await["sub"], keyed_id);

    for (status, body, says) in [
        (private_status, private_refused, "private"),
        (keyless_status, keyless, "jwks"),
        (public_status, public, "confidential"),
    ] {
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], "invalid_client_metadata", "{body}");
        let description = body["error_description"].as_str().unwrap();
        assert!(description.contains(says), "{description:?} says {says:?}");
    }
}

// --- private_key_jwt -------------------------------------------------------------------------

#[tokio::test]
async fn private_key_jwt_with_a_generated_es256_or_eddsa_key_gets_a_token() {
    for alg in ["ES256", "EdDSA"] {
        // Arrange
        let rig = Rig::start().await;
        let issuer = issuer_of(&rig).await;
        let signer = keyed_client(&rig, "keyed", alg).await;
        let to_token_endpoint = signer.sign(&client_claims("keyed", &format!("{issuer}/token")));
        let to_issuer = signer.sign(&client_claims("keyed", &issuer));

        // Act: once with the token endpoint as aud and no client_id, once with the issuer.
        let first = with_assertion(&rig, &to_token_endpoint, &[]).await;
        let second = with_assertion(&rig, &to_issuer, &[("client_id", "keyed")]).await;

        // Assert
        let token = issued(&first);
        issued(&second);
        let introspection = rig.introspect(&token).await;
        assert_eq!(introspection["sub"], "keyed", "{alg}");
        assert_eq!(introspection["client_id"], "keyed", "{alg}");
        let listed = rig.get_json("/control/clients").await.1;
        let text = listed.to_string();
        assert!(
            !text.contains("PRIVATE KEY"),
            "{alg}: the state keeps no private key"
        );
    }
}

#[tokio::test]
async fn an_rs256_key_registered_inline_signs_client_assertions() {
    // Arrange
    let rig = Rig::start().await;
    let issuer = issuer_of(&rig).await;
    let (signer, jwk) = Signer::made_here(&rcgen::PKCS_RSA_SHA256, Algorithm::RS256);
    let (status, body) = rig
        .control(
            "/control/clients",
            Some(json!({
                "client_id": "rsa-client",
                "auth_method": "private_key_jwt",
                "jwks": {"keys": [jwk]},
                "grant_types": [CLIENT_CREDENTIALS],
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (other, _) = Signer::made_here(&rcgen::PKCS_RSA_SHA256, Algorithm::RS256);

    // Act
    let good = with_assertion(
        &rig,
        &signer.sign(&client_claims("rsa-client", &issuer)),
        &[],
    )
    .await;
    let forged = with_assertion(
        &rig,
        &other
            .claiming(signer.kid.clone())
            .sign(&client_claims("rsa-client", &issuer)),
        &[],
    )
    .await;

    // Assert
    assert_eq!(rig.introspect(&issued(&good)).await["sub"], "rsa-client");
    assert_refused(
        &forged,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "signature",
    );
}

#[tokio::test]
async fn a_replayed_client_assertion_is_invalid_client() {
    // Arrange
    let rig = Rig::start().await;
    let issuer = issuer_of(&rig).await;
    let signer = keyed_client(&rig, "keyed", "ES256").await;
    let assertion = signer.sign(&client_claims("keyed", &issuer));

    // Act
    let first = with_assertion(&rig, &assertion, &[]).await;
    let replayed = with_assertion(&rig, &assertion, &[]).await;

    // Assert
    issued(&first);
    assert_refused(
        &replayed,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "already used",
    );
}

#[tokio::test]
async fn the_journal_records_the_client_assertions_claims_but_never_the_assertion() {
    // Arrange
    let rig = Rig::start().await;
    let issuer = issuer_of(&rig).await;
    let signer = keyed_client(&rig, "keyed", "EdDSA").await;
    let claims = client_claims("keyed", &issuer);
    let assertion = signer.sign(&claims);
    let signature = assertion.rsplit('.').next().unwrap().to_owned();

    // Act
    issued(&with_assertion(&rig, &assertion, &[("scope", "mcp:tools")]).await);
    let events = rig.events(0).await;

    // Assert
    let token = events
        .iter()
        .find(|event| event["path"] == "/token")
        .expect("the token request is journaled");
    let recorded = &token["client_assertion"];
    assert_eq!(recorded["iss"], "keyed", "{token}");
    assert_eq!(recorded["sub"], "keyed");
    assert_eq!(recorded["aud"], json!([issuer]));
    assert_eq!(recorded["jti"], claims["jti"]);
    assert_eq!(token["client_auth"], "private_key_jwt", "{token}");
    let journal = serde_json::to_string(&events).unwrap();
    assert!(
        !journal.contains(&assertion),
        "the assertion is never journaled"
    );
    assert!(!journal.contains(&signature), "nor its signature");
}

// --- bad client assertions -------------------------------------------------------------------

/// A client assertion that must be refused, and how: `401 invalid_client` unless told.
struct Bad {
    case: &'static str,
    assertion: String,
    /// Form fields sent besides the grant and the assertion.
    extra: Vec<(&'static str, &'static str)>,
    status: StatusCode,
    error: &'static str,
    /// What the `error_description` must say.
    says: &'static str,
}

impl Bad {
    fn new(case: &'static str, assertion: String, says: &'static str) -> Self {
        Self {
            case,
            assertion,
            extra: Vec::new(),
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            says,
        }
    }

    fn sending(mut self, extra: &[(&'static str, &'static str)]) -> Self {
        self.extra.extend_from_slice(extra);
        self
    }

    fn answered(mut self, status: StatusCode, error: &'static str) -> Self {
        self.status = status;
        self.error = error;
        self
    }
}

#[tokio::test]
async fn every_bad_client_assertion_is_a_clear_refusal_and_the_next_good_one_is_served() {
    // Arrange
    let rig = Rig::start().await;
    let issuer = issuer_of(&rig).await;
    let signer = keyed_client(&rig, "keyed", "ES256").await;
    let kid = signer.kid.clone();
    let good = || client_claims("keyed", &issuer);
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = good();
        change(&mut claims);
        signer.sign(&claims)
    };
    let b64 = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    let unsigned = format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&good()));
    let tampered = {
        let signed = signer.sign(&good());
        let parts: Vec<&str> = signed.split('.').collect();
        let mut claims = good();
        claims["sub"] = json!("keyed");
        claims["scope"] = json!("mcp:admin");
        format!("{}.{}.{}", parts[0], b64(&claims), parts[2])
    };
    let (stranger, _) = Signer::es256();
    let forged = stranger.claiming(kid).sign(&good());
    let oversized = with(&|claims| claims["padding"] = json!("x".repeat(9 * 1024)));
    let two_minutes_ago = now() - 120;
    let with_id = [("client_id", "keyed")];
    let cases = [
        Bad::new("alg none", unsigned, "alg none").sending(&with_id),
        Bad::new("tampered payload", tampered, "signature"),
        Bad::new(
            "wrong iss",
            with(&|claims| claims["iss"] = json!("someone-else")),
            "iss must be the client id",
        ),
        Bad::new(
            "wrong sub, client_id sent",
            with(&|claims| claims["sub"] = json!("someone-else")),
            "sub must be the client id",
        )
        .sending(&with_id),
        Bad::new(
            "wrong sub naming nobody",
            with(&|claims| claims["sub"] = json!("someone-else")),
            "unknown client",
        ),
        Bad::new(
            "wrong aud",
            with(&|claims| claims["aud"] = json!("https://elsewhere.example")),
            "aud must be this issuer",
        ),
        Bad::new(
            "expired",
            with(&|claims| {
                claims["iat"] = json!(two_minutes_ago - 60);
                claims["exp"] = json!(two_minutes_ago);
            }),
            "expired",
        ),
        Bad::new(
            "exp too far ahead",
            with(&|claims| claims["exp"] = json!(now() + 24 * 3600)),
            "ahead",
        ),
        Bad::new(
            "no exp",
            with(&|claims| drop(claims.as_object_mut().unwrap().remove("exp"))),
            "no exp",
        ),
        Bad::new("another key claiming the kid", forged, "signature"),
        Bad::new("oversized", oversized, "longer than").sending(&with_id),
        Bad::new("not a JWT", "not-a-jwt".into(), "not a JWT").sending(&with_id),
        Bad::new(
            "not a JWT, no client_id",
            "not-a-jwt".into(),
            "no client_id",
        ),
        Bad::new(
            "wrong client_assertion_type",
            with(&|_| {}),
            "client_assertion_type must be",
        )
        .sending(&[("client_assertion_type", "urn:example:saml")]),
        Bad::new(
            "assertion and a secret",
            with(&|_| {}),
            "more than one authentication method",
        )
        .sending(&[("client_id", "keyed"), ("client_secret", "s")])
        .answered(StatusCode::BAD_REQUEST, "invalid_request"),
    ];

    for bad in cases {
        // Act
        let mut form = vec![
            ("grant_type", CLIENT_CREDENTIALS),
            ("client_assertion", bad.assertion.as_str()),
        ];
        if !bad
            .extra
            .iter()
            .any(|(name, _)| *name == "client_assertion_type")
        {
            form.push(("client_assertion_type", ASSERTION_TYPE));
        }
        form.extend_from_slice(&bad.extra);
        let answer = rig.token(&form).await;

        // Assert
        let case = bad.case;
        assert!(!answer.0.is_server_error(), "{case}: {answer:?}");
        let (status, body) = &answer;
        assert_eq!(
            (*status, body["error"].as_str()),
            (bad.status, Some(bad.error)),
            "{case}: {body}"
        );
        let description = body["error_description"].as_str().unwrap_or_default();
        assert!(
            description.contains(bad.says),
            "{case}: {description:?} should say {:?}",
            bad.says
        );
    }
    let after = with_assertion(&rig, &signer.sign(&good()), &[]).await;
    issued(&after);
}

#[tokio::test]
async fn a_secret_client_presenting_an_assertion_and_a_keyed_client_sending_a_secret_are_refused() {
    // Arrange
    let rig = Rig::start().await;
    let issuer = issuer_of(&rig).await;
    secret_client(&rig, "machine", &[CLIENT_CREDENTIALS], None).await;
    keyed_client(&rig, "keyed", "ES256").await;
    let (stranger, _) = Signer::es256();

    // Act
    let assertion_for_secret_client = with_assertion(
        &rig,
        &stranger.sign(&client_claims("machine", &issuer)),
        &[],
    )
    .await;
    let secret_for_keyed_client = rig
        .token(&[
            ("grant_type", CLIENT_CREDENTIALS),
            ("client_id", "keyed"),
            ("client_secret", "guess"),
        ])
        .await;

    // Assert
    assert_refused(
        &assertion_for_secret_client,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "registered no keys",
    );
    assert_refused(
        &secret_for_keyed_client,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "private_key_jwt",
    );
}

// --- jwks_uri --------------------------------------------------------------------------------

/// A rig trusting `pki`'s CA for fetches under `policy`, an HTTPS host serving a JWK Set at
/// [`JWKS_PATH`], and a client `remote` whose keys are there.
async fn rig_with_remote_keys(policy: FetchPolicy) -> (Rig, DocumentHost, Signer, TestPki) {
    let (rig, host, pki) = crate::documents::rig_and_host(policy).await;
    let (signer, jwk) = Signer::es256();
    host.set(
        JWKS_PATH,
        Answer::Json {
            status: 200,
            headers: vec![],
            body: json!({"keys": [jwk]}),
        },
    );
    let (status, body) = rig
        .control(
            "/control/clients",
            Some(json!({
                "client_id": "remote",
                "auth_method": "private_key_jwt",
                "jwks_uri": host.url(JWKS_PATH),
                "grant_types": [CLIENT_CREDENTIALS],
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (rig, host, signer, pki)
}

#[tokio::test]
async fn keys_at_a_jwks_uri_are_fetched_over_https_once_and_cached() {
    // Arrange
    let (rig, host, signer, _pki) = rig_with_remote_keys(FetchPolicy::default()).await;
    let issuer = issuer_of(&rig).await;

    // Act
    let first = with_assertion(&rig, &signer.sign(&client_claims("remote", &issuer)), &[]).await;
    let second = with_assertion(&rig, &signer.sign(&client_claims("remote", &issuer)), &[]).await;

    // Assert
    issued(&first);
    issued(&second);
    assert_eq!(host.hits(JWKS_PATH), 1, "fetched once, then cached");
}

#[tokio::test]
async fn a_jwks_uri_answering_garbage_or_an_error_is_invalid_client_saying_why() {
    // Arrange
    let (rig, host, signer, _pki) = rig_with_remote_keys(FetchPolicy::default()).await;
    let issuer = issuer_of(&rig).await;
    let answers = [
        (
            Answer::Raw {
                status: 200,
                content_type: "application/json",
                body: b"{not json".to_vec(),
            },
            "not JSON",
        ),
        (
            Answer::Json {
                status: 200,
                headers: vec![],
                body: json!({"keys": "none"}),
            },
            "\"keys\" list",
        ),
        (
            Answer::Redirect {
                location: "https://localhost:1/jwks.json".to_owned(),
            },
            "302",
        ),
        (
            Answer::Json {
                status: 500,
                headers: vec![],
                body: json!({"error": "boom"}),
            },
            "500",
        ),
    ];

    for (answer, says) in answers {
        host.set(JWKS_PATH, answer);

        // Act
        let refused =
            with_assertion(&rig, &signer.sign(&client_claims("remote", &issuer)), &[]).await;

        // Assert: a failed fetch is not cached, so each answer is fetched anew.
        assert_refused(&refused, StatusCode::UNAUTHORIZED, "invalid_client", says);
        assert_refused(
            &refused,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "jwks_uri",
        );
    }
    assert_eq!(host.hits(JWKS_PATH), 4, "the redirect was not followed");
}

#[tokio::test]
async fn a_policy_forbidding_inside_addresses_refuses_a_loopback_jwks_uri() {
    // Arrange
    let policy = FetchPolicy {
        any_address: false,
        ..FetchPolicy::default()
    };
    let (rig, host, signer, _pki) = rig_with_remote_keys(policy).await;
    let issuer = issuer_of(&rig).await;

    // Act
    let refused = with_assertion(&rig, &signer.sign(&client_claims("remote", &issuer)), &[]).await;

    // Assert
    assert_refused(
        &refused,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "jwks_uri",
    );
    assert_eq!(host.hits(JWKS_PATH), 0, "nothing inside is reached");
}

#[tokio::test]
async fn a_jwks_host_slow_to_answer_is_cut_off_at_the_fetch_timeout() {
    // Arrange
    let policy = FetchPolicy {
        timeout: Duration::from_millis(400),
        ..FetchPolicy::default()
    };
    let (rig, host, signer, _pki) = rig_with_remote_keys(policy).await;
    let issuer = issuer_of(&rig).await;
    host.set(
        JWKS_PATH,
        Answer::Drip {
            body: br#"{"keys": [{"kty": "EC", "crv": "P-256"}]}"#.to_vec(),
            every: Duration::from_millis(100),
        },
    );
    let started = Instant::now();

    // Act
    let refused = with_assertion(&rig, &signer.sign(&client_claims("remote", &issuer)), &[]).await;

    // Assert
    let took = started.elapsed();
    assert_refused(
        &refused,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "jwks_uri",
    );
    assert!(
        took < Duration::from_secs(3),
        "answered in {took:?}, not a hang"
    );
}

// --- jwt-bearer, a workload's assertion ------------------------------------------------------

/// Trusts [`WORKLOAD_IDP`] for workload assertions with a key the rig makes (and `extra`).
async fn trust_workload_idp(rig: &Rig, extra: Value) {
    let mut request = json!({"issuer": WORKLOAD_IDP, "kind": "workload", "generate_key": "ES256"});
    if let (Value::Object(request), Value::Object(extra)) = (&mut request, extra) {
        request.extend(extra);
    }
    let (status, body) = rig
        .control("/control/assertion-issuers", Some(request))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        !body["assertion_issuers"]
            .to_string()
            .contains("PRIVATE KEY"),
        "the list never shows the private key"
    );
}

/// An assertion of [`WORKLOAD_IDP`] minted by the rig.
async fn mint(rig: &Rig, request: Value) -> String {
    let mut request = request;
    request["issuer"] = json!(WORKLOAD_IDP);
    let (status, body) = rig.control("/control/assertions", Some(request)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["assertion"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_minted_workload_assertion_gets_a_token_for_its_subject() {
    // Arrange
    let rig = Rig::start().await;
    trust_workload_idp(&rig, json!({})).await;
    let assertion = mint(&rig, json!({"sub": "workload-7"})).await;

    // Act
    let answer = jwt_bearer(
        &rig,
        &assertion,
        &[("client_id", "some-workload"), ("resource", RESOURCE)],
    )
    .await;

    // Assert
    let introspection = rig.introspect(&issued(&answer)).await;
    assert_eq!(introspection["sub"], "workload-7");
    assert_eq!(introspection["client_id"], "some-workload", "a name only");
    assert_eq!(introspection["aud"], RESOURCE);
    let events = rig.events(0).await;
    let token = events
        .iter()
        .find(|event| event["path"] == "/token")
        .unwrap();
    assert_eq!(token["assertion"]["iss"], WORKLOAD_IDP, "{token}");
    assert_eq!(token["assertion"]["sub"], "workload-7");
    assert!(!serde_json::to_string(&events).unwrap().contains(&assertion));
}

#[tokio::test]
async fn spoiled_workload_assertions_are_invalid_grant_and_a_missing_one_invalid_request() {
    // Arrange
    let rig = Rig::start().await;
    let issuer = issuer_of(&rig).await;
    trust_workload_idp(&rig, json!({})).await;
    let minted = |variant: &'static str| {
        let rig = &rig;
        async move { mint(rig, json!({"sub": "workload", "variant": variant})).await }
    };
    let replayed = minted("valid").await;
    issued(&jwt_bearer(&rig, &replayed, &[]).await);
    let (stranger, _) = Signer::es256();
    let now = now();
    let untrusted = stranger.sign(&json!({
        "iss": "https://stranger.example", "sub": "workload", "aud": issuer,
        "iat": now, "exp": now + 60, "jti": random_token(),
    }));
    let cases = [
        (
            "wrong audience",
            minted("wrong-audience").await,
            "aud must be this issuer",
        ),
        ("expired", minted("expired").await, "expired"),
        ("unknown key", minted("unknown-key").await, "signature"),
        ("replayed", replayed, "already used"),
        ("untrusted issuer", untrusted, "not trusted"),
        ("malformed", "a.b".to_owned(), "not a JWT"),
    ];

    for (case, assertion, says) in cases {
        // Act
        let answer = jwt_bearer(&rig, &assertion, &[]).await;

        // Assert
        let (status, body) = &answer;
        assert_eq!(*status, StatusCode::BAD_REQUEST, "{case}: {body}");
        assert_eq!(body["error"], "invalid_grant", "{case}: {body}");
        let description = body["error_description"].as_str().unwrap();
        assert!(
            description.contains(says),
            "{case}: {description:?} should say {says:?}"
        );
    }
    let missing = rig.token(&[("grant_type", JWT_BEARER)]).await;
    assert_refused(
        &missing,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "assertion",
    );
    issued(&jwt_bearer(&rig, &minted("valid").await, &[]).await);
}

#[tokio::test]
async fn of_sixteen_parallel_presentations_of_one_workload_assertion_exactly_one_gets_a_token() {
    // Arrange
    let rig = Rig::start().await;
    trust_workload_idp(&rig, json!({})).await;
    let assertion = mint(&rig, json!({"sub": "workload"})).await;

    // Act
    let answers = join_all((0..16).map(|_| jwt_bearer(&rig, &assertion, &[]))).await;

    // Assert
    let served = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::OK)
        .count();
    assert_eq!(served, 1, "{answers:?}");
    for (status, body) in answers
        .iter()
        .filter(|(status, _)| *status != StatusCode::OK)
    {
        assert_eq!(*status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], "invalid_grant", "{body}");
    }
}

#[tokio::test]
async fn a_subjects_allow_list_refuses_every_other_subject() {
    // Arrange
    let rig = Rig::start().await;
    trust_workload_idp(&rig, json!({"subjects": ["allowed-workload"]})).await;
    let allowed = mint(&rig, json!({"sub": "allowed-workload"})).await;
    let other = mint(&rig, json!({"sub": "other-workload"})).await;

    // Act
    let refused = jwt_bearer(&rig, &other, &[]).await;
    let accepted = jwt_bearer(&rig, &allowed, &[]).await;

    // Assert
    assert_refused(
        &refused,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "may not assert the subject 'other-workload'",
    );
    let token = issued(&accepted);
    assert_eq!(rig.introspect(&token).await["sub"], "allowed-workload");
}

#[tokio::test]
async fn moving_the_rig_clock_past_an_assertions_exp_makes_it_expire() {
    // Arrange
    let rig = Rig::start().await;
    trust_workload_idp(&rig, json!({})).await;
    let assertion = mint(&rig, json!({"sub": "workload", "lifetime_seconds": 60})).await;
    let (status, _) = rig
        .control("/control/clock", Some(json!({"advance_seconds": 120})))
        .await;
    assert_eq!(status, StatusCode::OK);

    // Act
    let answer = jwt_bearer(&rig, &assertion, &[]).await;

    // Assert
    assert_refused(&answer, StatusCode::BAD_REQUEST, "invalid_grant", "expired");
    let fresh = mint(&rig, json!({"sub": "workload", "lifetime_seconds": 60})).await;
    issued(&jwt_bearer(&rig, &fresh, &[]).await);
}

#[tokio::test]
async fn a_fault_rule_on_jwt_bearer_and_a_scope_fires_only_for_that_scope() {
    // Arrange
    let rig = scoped_rig().await;
    trust_workload_idp(&rig, json!({})).await;
    rig.fault(json!({
        "endpoint": "token",
        "match": {"grant_type": JWT_BEARER, "scope": "mcp:admin"},
        "respond": {"status": 400, "error": "invalid_scope"},
    }))
    .await;
    secret_client(&rig, "machine", &[CLIENT_CREDENTIALS], None).await;

    // Act
    let targeted = jwt_bearer(
        &rig,
        &mint(&rig, json!({"sub": "workload"})).await,
        &[("scope", "mcp:tools mcp:admin")],
    )
    .await;
    let other_scope = jwt_bearer(
        &rig,
        &mint(&rig, json!({"sub": "workload"})).await,
        &[("scope", "mcp:read")],
    )
    .await;
    let other_grant = token_basic(
        &rig,
        "machine",
        &[("grant_type", CLIENT_CREDENTIALS), ("scope", "mcp:admin")],
    )
    .await;

    // Assert
    assert_eq!(targeted.0, StatusCode::BAD_REQUEST, "{}", targeted.1);
    assert_eq!(targeted.1["error"], "invalid_scope");
    assert_eq!(other_scope.1["scope"], "mcp:read", "{}", other_scope.1);
    issued(&other_scope);
    issued(&other_grant);
    assert_eq!(rig.faults().await[0]["fired"], 1);
}

// --- enterprise-managed authorization: an IdP's ID-JAG ---------------------------------------

/// The main issuer trusting the rig's issuer `idp` (the identity-provider role) for ID-JAGs for
/// [`RESOURCE`], and the confidential client `xaa-client` (Basic) at the main issuer.
struct Enterprise {
    main: Rig,
    idp: Rig,
    main_issuer: String,
}

impl Enterprise {
    async fn start() -> Self {
        let main = Rig::start().await;
        let (status, body) = main
            .control(
                "/control/issuers",
                Some(json!({
                    "name": "idp",
                    "port": 0,
                    "profile": {
                        "grant_types": [TOKEN_EXCHANGE],
                        "id_jag_client_id": "xaa-client",
                    },
                })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let added = body["issuers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|issuer| issuer["name"] == "idp")
            .cloned()
            .unwrap();
        let idp = main.at(added["port"].as_u64().unwrap() as u16, "");
        let (status, body) = main
            .control(
                "/control/assertion-issuers",
                Some(json!({
                    "issuer": added["issuer"],
                    "kind": "id-jag",
                    "rig_issuer": "idp",
                    "resources": [RESOURCE],
                })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for client in ["xaa-client", "other-client"] {
            secret_client(&main, client, &[JWT_BEARER], None).await;
        }
        let main_issuer = issuer_of(&main).await;
        Self {
            main,
            idp,
            main_issuer,
        }
    }

    /// An ID token of the IdP for its client `idp-client`, as the user's sign-in gave it.
    async fn id_token(&self) -> String {
        let (status, body) = self
            .main
            .control(
                "/control/issuers/idp/id-tokens",
                Some(json!({"aud": "idp-client", "sub": "alice"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["id_token"].as_str().unwrap().to_owned()
    }

    /// Token exchange at the IdP: `subject_token` for an ID-JAG for the main issuer and
    /// `resource`.
    async fn exchange(
        &self,
        subject_token: &str,
        subject_type: &str,
        resource: &str,
    ) -> (StatusCode, Value) {
        self.idp
            .token(&[
                ("grant_type", TOKEN_EXCHANGE),
                ("subject_token", subject_token),
                ("subject_token_type", subject_type),
                ("requested_token_type", ID_JAG_TYPE),
                ("audience", &self.main_issuer),
                ("resource", resource),
            ])
            .await
    }

    /// An ID-JAG for `resource`, from a fresh ID token.
    async fn id_jag(&self, resource: &str) -> String {
        let (status, body) = self
            .exchange(&self.id_token().await, ID_TOKEN_TYPE, resource)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }
}

/// The claims of a JWT, unverified.
fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn header_of(jwt: &str) -> Value {
    let header = jwt.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

#[tokio::test]
async fn an_id_token_exchanged_at_the_idp_becomes_an_id_jag_the_client_redeems_for_its_resource() {
    // Arrange
    let enterprise = Enterprise::start().await;
    let id_token = enterprise.id_token().await;

    // Act
    let (status, exchanged) = enterprise
        .exchange(&id_token, ID_TOKEN_TYPE, RESOURCE)
        .await;
    let id_jag = exchanged["access_token"].as_str().unwrap_or_default();
    let redeemed = token_basic(
        &enterprise.main,
        "xaa-client",
        &[("grant_type", JWT_BEARER), ("assertion", id_jag)],
    )
    .await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{exchanged}");
    assert_eq!(exchanged["issued_token_type"], ID_JAG_TYPE);
    assert_eq!(exchanged["token_type"], "N_A");
    assert_eq!(header_of(id_jag)["typ"], "oauth-id-jag+jwt");
    let jag = claims_of(id_jag);
    assert_eq!(jag["aud"], enterprise.main_issuer.as_str());
    assert_eq!(jag["client_id"], "xaa-client");
    assert_eq!(jag["resource"], RESOURCE);
    assert_eq!(jag["sub"], "alice");
    let introspection = enterprise.main.introspect(&issued(&redeemed)).await;
    assert_eq!(introspection["aud"], RESOURCE);
    assert_eq!(introspection["sub"], "alice");
    assert_eq!(introspection["client_id"], "xaa-client");
}

#[tokio::test]
async fn an_id_jag_is_only_for_its_authenticated_client_and_its_resource() {
    // Arrange
    let enterprise = Enterprise::start().await;
    let main = &enterprise.main;
    let id_jag = enterprise.id_jag(RESOURCE).await;
    let elsewhere = enterprise.id_jag("https://other.example/mcp").await;

    // Act
    let anonymous = jwt_bearer(main, &id_jag, &[]).await;
    let other_client = token_basic(
        main,
        "other-client",
        &[("grant_type", JWT_BEARER), ("assertion", &id_jag)],
    )
    .await;
    let other_resource = token_basic(
        main,
        "xaa-client",
        &[("grant_type", JWT_BEARER), ("assertion", &elsewhere)],
    )
    .await;
    let its_own = token_basic(
        main,
        "xaa-client",
        &[("grant_type", JWT_BEARER), ("assertion", &id_jag)],
    )
    .await;
    let again = token_basic(
        main,
        "xaa-client",
        &[("grant_type", JWT_BEARER), ("assertion", &id_jag)],
    )
    .await;

    // Assert: the refusals did not use the ID-JAG up; its own client's redemption did.
    assert_refused(
        &anonymous,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "authenticate",
    );
    assert_refused(
        &other_client,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "issued to client 'xaa-client'",
    );
    assert_refused(
        &other_resource,
        StatusCode::BAD_REQUEST,
        "invalid_target",
        "https://other.example/mcp",
    );
    assert_eq!(main.introspect(&issued(&its_own)).await["aud"], RESOURCE);
    assert_refused(
        &again,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "already used",
    );
}

#[tokio::test]
async fn an_id_jag_for_a_client_not_registered_for_the_jwt_bearer_grant_is_unauthorized_client() {
    // Arrange: the ID-JAG's client, registered again for client_credentials only.
    let enterprise = Enterprise::start().await;
    let main = &enterprise.main;
    let id_jag = enterprise.id_jag(RESOURCE).await;
    let (status, body) = main.delete("/control/clients/xaa-client").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    secret_client(main, "xaa-client", &[CLIENT_CREDENTIALS], None).await;
    let form = [("grant_type", JWT_BEARER), ("assertion", id_jag.as_str())];

    // Act
    let refused = token_basic(main, "xaa-client", &form).await;
    main.delete("/control/clients/xaa-client").await;
    secret_client(main, "xaa-client", &[JWT_BEARER], None).await;
    let registered = token_basic(main, "xaa-client", &form).await;

    // Assert
    assert_refused(
        &refused,
        StatusCode::BAD_REQUEST,
        "unauthorized_client",
        "jwt-bearer",
    );
    issued(&registered);
}

#[tokio::test]
async fn the_idp_refuses_a_wrong_subject_token_type_and_a_forged_id_token_and_an_id_token_is_no_id_jag()
 {
    // Arrange
    let enterprise = Enterprise::start().await;
    let id_token = enterprise.id_token().await;
    let kid = header_of(&id_token)["kid"].as_str().map(str::to_owned);
    let (stranger, _) = Signer::es256();
    let forged = stranger.claiming(kid).sign(&claims_of(&id_token));

    // Act
    let wrong_type = enterprise
        .exchange(
            &id_token,
            "urn:ietf:params:oauth:token-type:access_token",
            RESOURCE,
        )
        .await;
    let forged_exchange = enterprise.exchange(&forged, ID_TOKEN_TYPE, RESOURCE).await;
    let genuine = enterprise
        .exchange(&id_token, ID_TOKEN_TYPE, RESOURCE)
        .await;
    let at_main = enterprise
        .main
        .token(&[
            ("grant_type", TOKEN_EXCHANGE),
            ("subject_token", &id_token),
            ("subject_token_type", ID_TOKEN_TYPE),
            ("requested_token_type", ID_JAG_TYPE),
            ("audience", &enterprise.main_issuer),
        ])
        .await;
    // A client that skips the exchange and presents the ID token itself.
    let skipped_exchange = token_basic(
        &enterprise.main,
        "xaa-client",
        &[("grant_type", JWT_BEARER), ("assertion", &id_token)],
    )
    .await;

    // Assert
    assert_refused(
        &wrong_type,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "subject_token_type",
    );
    assert_refused(
        &forged_exchange,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "signature",
    );
    assert_eq!(genuine.0, StatusCode::OK, "{}", genuine.1);
    assert_refused(
        &at_main,
        StatusCode::BAD_REQUEST,
        "unsupported_grant_type",
        "token-exchange",
    );
    assert_refused(
        &skipped_exchange,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "oauth-id-jag+jwt",
    );
}
