//! The conformance suite's situations of clients without a user — the OAuth client-credentials
//! extension (`auth/client-credentials-basic`, `-jwt`), workload identity federation
//! (`auth/wif-jwt-bearer`, SEP-1933) and enterprise-managed authorization
//! (`auth/enterprise-managed-authorization`, SEP-990) — staged on the rig and judged from its
//! journals, and the control calls they are made of.
//!
//! Staging each hands back the suite's context: the credentials its harness gives the client
//! under test (a secret, a private key, assertions, an ID token), made fresh by the rig.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::conformance::Status;
use super::{Control, ControlError, Event, Service};
use reqwest::Method;

/// The suite's context of a situation: what the client under test is given
/// (`MCP_CONFORMANCE_CONTEXT`).
pub type Context = Map<String, Value>;

/// The confidential client of the client-credentials situations, as the suite names it.
pub const CC_CLIENT: (&str, &str) = ("conformance-test-client", "conformance-test-secret");
/// The client of enterprise-managed authorization at the AS, and at the IdP.
pub const XAA_CLIENT: (&str, &str) = ("conformance-test-xaa-client", "conformance-test-xaa-secret");
/// The client the enterprise situation's ID token is for, at the IdP.
pub const IDP_CLIENT: &str = "conformance-test-idp-client";
/// The workload of the WIF situation: the client id it may send, never checked.
pub const WORKLOAD: &str = "conformance-wif-workload";
/// The subject of the WIF situation's assertions.
pub const WORKLOAD_SUBJECT: &str = "conformance-workload";
/// The identity provider the WIF situation trusts, whose key the rig makes.
pub const WORKLOAD_IDP: &str = "https://idp.conformance-test.local";
/// The issuer the enterprise situation adds in the identity-provider role.
pub const IDP: &str = "idp";
/// A scope that makes the WIF situation's AS answer `unauthorized_client`.
pub const WIF_UNAUTHORIZED_SCOPE: &str = "wif.trigger-unauthorized";
/// A scope that makes the WIF situation's AS answer `invalid_scope`.
pub const WIF_REJECTED_SCOPE: &str = "wif.rejected";

/// The grant names as the journal records them.
const CLIENT_CREDENTIALS: &str = "client_credentials";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// A key pair the rig made, as a control call hands it over.
#[derive(Clone, Debug, Deserialize)]
pub struct GeneratedKey {
    /// `ES256` or `EdDSA`.
    pub alg: String,
    /// Its key id (RFC 7638 thumbprint).
    pub kid: String,
    /// The private key, PKCS#8 PEM.
    pub private_key_pem: String,
    /// The public key.
    pub jwk: Value,
}

impl GeneratedKey {
    /// As the control plane answered it.
    pub fn as_json(&self) -> Value {
        json!({
            "alg": self.alg,
            "kid": self.kid,
            "private_key_pem": self.private_key_pem,
            "jwk": self.jwk,
        })
    }
}

#[derive(Deserialize)]
struct WithKey {
    generated: GeneratedKey,
}

#[derive(Deserialize)]
struct Minted {
    #[serde(alias = "id_token")]
    assertion: String,
}

impl Control {
    /// Pre-registers a `private_key_jwt` client at the issuer addressed, with a key pair the
    /// rig makes (`"generate_key": "ES256"|"EdDSA"` besides the client's fields; ES256 when
    /// absent). Answers the key for the client under test.
    pub async fn add_keyed_client(&self, mut client: Value) -> Result<GeneratedKey, ControlError> {
        if client.get("generate_key").is_none() {
            client["generate_key"] = json!("ES256");
        }
        let answer: WithKey = self
            .call(Service::OAuth, Method::POST, "clients", Some(client))
            .await?;
        Ok(answer.generated)
    }

    /// Trusts an assertion issuer at the issuer addressed (`{"issuer", "kind": "workload" |
    /// "id-jag", "jwks" | "jwks_uri" | "rig_issuer" | "generate_key", "subjects", "resources"}`).
    /// Answers the key the rig made, if it made one.
    pub async fn trust_assertion_issuer(
        &self,
        issuer: Value,
    ) -> Result<Option<GeneratedKey>, ControlError> {
        let answer: Value = self
            .call(
                Service::OAuth,
                Method::POST,
                "assertion-issuers",
                Some(issuer),
            )
            .await?;
        Ok(answer
            .get("generated")
            .cloned()
            .and_then(|key| serde_json::from_value(key).ok()))
    }

    /// Mints a jwt-bearer assertion of a trusted issuer whose key the rig made (`{"issuer",
    /// "sub", "audience", "variant": "valid" | "wrong-audience" | "expired" | "unknown-key",
    /// "lifetime_seconds", "claims"}`).
    pub async fn mint_assertion(&self, request: Value) -> Result<String, ControlError> {
        let minted: Minted = self
            .call(Service::OAuth, Method::POST, "assertions", Some(request))
            .await?;
        Ok(minted.assertion)
    }

    /// An ID token signed by the issuer addressed, for a client to exchange for an ID-JAG
    /// (`{"aud", "sub", "lifetime_seconds", "claims"}`).
    pub async fn mint_id_token(&self, request: Value) -> Result<String, ControlError> {
        let minted: Minted = self
            .call(Service::OAuth, Method::POST, "id-tokens", Some(request))
            .await?;
        Ok(minted.assertion)
    }
}

/// The four situations, as [`super::conformance::Situation`] hands them over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WithoutUser {
    ClientCredentialsBasic,
    ClientCredentialsJwt,
    WifJwtBearer,
    EnterpriseManaged,
}

impl WithoutUser {
    /// Puts a reset rig in the situation and answers the suite's context.
    pub(crate) async fn stage(self, control: &Control) -> Result<Context, ControlError> {
        let mut context = Context::new();
        let mut give = |key: &str, value: &str| {
            context.insert(key.to_owned(), Value::from(value));
        };
        match self {
            Self::ClientCredentialsBasic => {
                control
                    .oauth_profile(json!({
                        "grant_types": [CLIENT_CREDENTIALS],
                        "auth_methods": ["client_secret_basic"],
                    }))
                    .await?;
                control
                    .add_client(json!({
                        "client_id": CC_CLIENT.0,
                        "client_secret": CC_CLIENT.1,
                        "auth_method": "client_secret_basic",
                        "grant_types": [CLIENT_CREDENTIALS],
                    }))
                    .await?;
                give("client_id", CC_CLIENT.0);
                give("client_secret", CC_CLIENT.1);
            }
            Self::ClientCredentialsJwt => {
                control
                    .oauth_profile(json!({
                        "grant_types": [CLIENT_CREDENTIALS],
                        "auth_methods": ["private_key_jwt"],
                    }))
                    .await?;
                let key = control
                    .add_keyed_client(json!({
                        "client_id": CC_CLIENT.0,
                        "grant_types": [CLIENT_CREDENTIALS],
                        "generate_key": "ES256",
                    }))
                    .await?;
                give("client_id", CC_CLIENT.0);
                give("private_key_pem", &key.private_key_pem);
                give("signing_algorithm", &key.alg);
            }
            Self::WifJwtBearer => {
                control
                    .oauth_profile(json!({
                        "grant_types": [JWT_BEARER],
                        "auth_methods": ["none"],
                        "registration": false,
                    }))
                    .await?;
                control
                    .trust_assertion_issuer(json!({
                        "issuer": WORKLOAD_IDP,
                        "kind": "workload",
                        "generate_key": "ES256",
                    }))
                    .await?;
                for (scope, error) in [
                    (WIF_UNAUTHORIZED_SCOPE, "unauthorized_client"),
                    (WIF_REJECTED_SCOPE, "invalid_scope"),
                ] {
                    let rule = json!({
                        "endpoint": "token",
                        "match": { "scope": scope },
                        "respond": { "status": 400, "error": error },
                    });
                    control.add_fault(Service::OAuth, &rule).await?;
                }
                let mint = |variant: &str| json!({ "issuer": WORKLOAD_IDP, "sub": WORKLOAD_SUBJECT, "variant": variant });
                give("client_id", WORKLOAD);
                for (key, variant) in [
                    ("valid_jwt", "valid"),
                    ("wrong_audience_jwt", "wrong-audience"),
                    ("expired_jwt", "expired"),
                ] {
                    let assertion = control.mint_assertion(mint(variant)).await?;
                    give(key, &assertion);
                }
            }
            Self::EnterpriseManaged => {
                let idp = control
                    .host_issuer(json!({
                        "name": IDP,
                        "port": 0,
                        "profile": {
                            "metadata": ["oidc-inserted"],
                            "grant_types": [TOKEN_EXCHANGE],
                            "registration": false,
                            "id_jag_client_id": XAA_CLIENT.0,
                        },
                    }))
                    .await?;
                control
                    .oauth_profile(json!({
                        "grant_types": [JWT_BEARER],
                        "auth_methods": ["client_secret_basic"],
                    }))
                    .await?;
                let resource = control.mcp_state().await?.resource;
                control
                    .trust_assertion_issuer(json!({
                        "issuer": idp.issuer,
                        "kind": "id-jag",
                        "rig_issuer": IDP,
                        "resources": [resource],
                    }))
                    .await?;
                control
                    .add_client(json!({
                        "client_id": XAA_CLIENT.0,
                        "client_secret": XAA_CLIENT.1,
                        "auth_method": "client_secret_basic",
                        "grant_types": [JWT_BEARER],
                    }))
                    .await?;
                let id_token = control
                    .issuer(IDP)
                    .mint_id_token(json!({ "aud": IDP_CLIENT }))
                    .await?;
                give("client_id", XAA_CLIENT.0);
                give("client_secret", XAA_CLIENT.1);
                give("idp_client_id", IDP_CLIENT);
                give("idp_id_token", &id_token);
                give("idp_issuer", &idp.issuer);
                give("idp_token_endpoint", &format!("{}/token", idp.issuer));
            }
        }
        Ok(context)
    }

    /// What a passing client does, in a sentence.
    pub(crate) fn passing(self) -> &'static str {
        match self {
            Self::ClientCredentialsBasic => {
                "asks for a token with the client_credentials grant, authenticating with Basic \
                 conformance-test-client:conformance-test-secret, and calls the tools with it"
            }
            Self::ClientCredentialsJwt => {
                "asks for a token with the client_credentials grant and a private_key_jwt client \
                 assertion (iss = sub = conformance-test-client, aud the issuer) signed with the \
                 given ES256 key"
            }
            Self::WifJwtBearer => {
                "presents the given valid workload assertion with the jwt-bearer grant, once, and \
                 calls the tools with the token"
            }
            Self::EnterpriseManaged => {
                "exchanges the ID token at the IdP for an ID-JAG (audience the AS, resource the \
                 MCP server), then presents it with the jwt-bearer grant and Basic client \
                 authentication"
            }
        }
    }

    /// The suite's checks, from the authorization server's journal.
    pub(crate) fn judge(
        self,
        oauth: &[Event],
        check: &mut dyn FnMut(&'static str, Status, String),
    ) {
        let tokens: Vec<&Event> = oauth
            .iter()
            .filter(|event| event.method == "POST" && event.path.ends_with("/token"))
            .collect();
        let main: Vec<&Event> = tokens
            .iter()
            .copied()
            .filter(|event| event.issuer.as_deref().is_none_or(|name| name == "main"))
            .collect();
        let grant = |event: &Event| event.grant_type.clone().unwrap_or_else(|| "none".into());
        let other_grants = |wanted: &str, events: &[&Event]| -> Vec<String> {
            events
                .iter()
                .map(|event| grant(event))
                .filter(|grant| grant != wanted)
                .collect()
        };
        let failure_only = |check: &mut dyn FnMut(&'static str, Status, String),
                            id: &'static str,
                            problems: Vec<String>| {
            if !problems.is_empty() {
                check(id, Status::Failure, problems.join("; "));
            }
        };
        fn succeeded<'a>(events: &[&'a Event], wanted: &str) -> Vec<&'a Event> {
            events
                .iter()
                .copied()
                .filter(|event| event.status == 200 && event.grant_type.as_deref() == Some(wanted))
                .collect()
        }
        match self {
            Self::ClientCredentialsBasic | Self::ClientCredentialsJwt => {
                let wrong = other_grants(CLIENT_CREDENTIALS, &main);
                failure_only(
                    check,
                    "client-credentials-grant-type",
                    wrong
                        .iter()
                        .map(|grant| format!("grant_type {grant}"))
                        .collect(),
                );
                let ok = succeeded(&main, CLIENT_CREDENTIALS);
                let method = if self == Self::ClientCredentialsBasic {
                    "client_secret_basic"
                } else {
                    "private_key_jwt"
                };
                let by_method: Vec<&&Event> = ok
                    .iter()
                    .filter(|event| event.asked.client_auth.as_deref() == Some(method))
                    .collect();
                let id = if self == Self::ClientCredentialsBasic {
                    "client-credentials-basic-auth"
                } else {
                    "client-credentials-jwt-verified"
                };
                let (status, detail) = match (by_method.len(), main.last()) {
                    (0, None) => (Status::Failure, "no token request".to_owned()),
                    (0, Some(last)) => (
                        Status::Failure,
                        format!(
                            "no token issued to a {method} request; the last was {} with {}{}",
                            last.status,
                            last.asked
                                .client_auth
                                .as_deref()
                                .unwrap_or("no client authentication"),
                            last.note
                                .as_deref()
                                .map(|note| format!(" ({note})"))
                                .unwrap_or_default()
                        ),
                    ),
                    (n, _) => (
                        Status::Success,
                        format!("{n} token(s) issued with {method}"),
                    ),
                };
                check(id, status, detail);
                if self == Self::ClientCredentialsJwt {
                    let unauthenticated: Vec<String> = main
                        .iter()
                        .filter(|event| {
                            event.status == 401
                                && event.asked.client_auth.as_deref() != Some("private_key_jwt")
                        })
                        .map(|event| {
                            format!(
                                "a 401 to a request without a jwt-bearer client_assertion ({})",
                                event
                                    .asked
                                    .client_auth
                                    .as_deref()
                                    .unwrap_or("no client auth")
                            )
                        })
                        .collect();
                    failure_only(check, "client-credentials-assertion-type", unauthenticated);
                    for (id, claim) in [
                        ("client-credentials-jwt-iss", "iss"),
                        ("client-credentials-jwt-sub", "sub"),
                    ] {
                        let wrong: Vec<String> = main
                            .iter()
                            .filter_map(|event| event.asked.client_assertion.as_ref())
                            .filter_map(|assertion| {
                                let value = if claim == "iss" {
                                    &assertion.iss
                                } else {
                                    &assertion.sub
                                };
                                (value.as_deref() != Some(CC_CLIENT.0))
                                    .then(|| format!("{claim} {value:?}"))
                            })
                            .collect();
                        failure_only(check, id, wrong);
                    }
                }
            }
            Self::WifJwtBearer => {
                failure_only(
                    check,
                    "wif-grant-type",
                    other_grants(JWT_BEARER, &main)
                        .iter()
                        .map(|grant| format!("grant_type {grant}"))
                        .collect(),
                );
                let bearer: Vec<&Event> = main
                    .iter()
                    .copied()
                    .filter(|event| grant(event) == JWT_BEARER)
                    .collect();
                let described = |event: &Event| {
                    event
                        .error
                        .clone()
                        .unwrap_or_else(|| event.status.to_string())
                };
                failure_only(
                    check,
                    "wif-assertion-missing",
                    bearer
                        .iter()
                        .filter(|event| {
                            event.asked.assertion.is_none()
                                && event.error.as_deref() == Some("invalid_request")
                        })
                        .map(|event| format!("a request without assertion ({})", described(event)))
                        .collect(),
                );
                failure_only(
                    check,
                    "wif-assertion-malformed",
                    bearer
                        .iter()
                        .filter(|event| {
                            event.asked.assertion.is_none()
                                && event.error.as_deref() == Some("invalid_grant")
                        })
                        .map(|_| "an assertion that is not a JWT".to_owned())
                        .collect(),
                );
                let assertions: Vec<_> = bearer
                    .iter()
                    .filter_map(|event| event.asked.assertion.as_ref())
                    .collect();
                failure_only(
                    check,
                    "wif-assertion-expired",
                    assertions
                        .iter()
                        .filter(|assertion| assertion.expires_in.is_some_and(|left| left <= 0))
                        .map(|assertion| {
                            let ago = -assertion.expires_in.unwrap_or_default();
                            format!("an assertion that had expired {ago} s before")
                        })
                        .collect(),
                );
                failure_only(
                    check,
                    "wif-assertion-audience",
                    assertions
                        .iter()
                        .filter(|assertion| {
                            assertion
                                .aud
                                .iter()
                                .any(|aud| aud.contains("wrong-audience"))
                        })
                        .map(|assertion| format!("an assertion for {:?}", assertion.aud))
                        .collect(),
                );
                let ok = succeeded(&main, JWT_BEARER);
                let (status, detail) = if ok.is_empty() {
                    (
                        Status::Failure,
                        format!("no token issued; {} jwt-bearer request(s)", bearer.len()),
                    )
                } else {
                    (
                        Status::Success,
                        "the valid assertion got a token".to_owned(),
                    )
                };
                check("wif-assertion-verified", status, detail);
                if let Some(failed) = main.iter().position(|event| event.status != 200) {
                    let after = &main[failed + 1..];
                    if after.iter().any(|event| grant(event) == JWT_BEARER) {
                        check(
                            "wif-no-retry",
                            Status::Warning,
                            "another jwt-bearer request after a refused one".into(),
                        );
                    }
                    if after.iter().any(|event| grant(event) != JWT_BEARER) {
                        check(
                            "wif-grant-fallback",
                            Status::Warning,
                            "another grant after the jwt-bearer grant was refused".into(),
                        );
                    }
                }
            }
            Self::EnterpriseManaged => {
                let exchanges: Vec<&Event> = tokens
                    .iter()
                    .copied()
                    .filter(|event| event.issuer.as_deref() == Some(IDP))
                    .collect();
                let exchanged = exchanges.iter().any(|event| {
                    event.status == 200
                        && grant(event) == TOKEN_EXCHANGE
                        && event.asked.resource.is_some()
                });
                let (status, detail) = match (exchanged, exchanges.last()) {
                    (true, _) => (Status::Success, "the IdP issued an ID-JAG".to_owned()),
                    (false, None) => (Status::Failure, "no request to the IdP".to_owned()),
                    (false, Some(last)) => (
                        Status::Failure,
                        format!(
                            "no ID-JAG issued for a resource; the last IdP request was {} {}",
                            grant(last),
                            last.error.as_deref().unwrap_or("(no resource)")
                        ),
                    ),
                };
                check("complete-flow-token-exchange", status, detail);
                let granted = succeeded(&main, JWT_BEARER)
                    .into_iter()
                    .any(|event| event.asked.client_auth.as_deref() == Some("client_secret_basic"));
                let (status, detail) = match (granted, main.last()) {
                    (true, _) => (Status::Success, "the AS accepted the ID-JAG".to_owned()),
                    (false, None) => (Status::Failure, "no request to the AS".to_owned()),
                    (false, Some(last)) => (
                        Status::Failure,
                        format!(
                            "no token issued for an ID-JAG with Basic; the last AS request was {} \
                             {}",
                            grant(last),
                            last.error.as_deref().unwrap_or("")
                        ),
                    ),
                };
                check("complete-flow-jwt-bearer", status, detail);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use sim_http::journal::{Asked, Assertion};

    use super::*;

    fn token(grant: &str, status: u16, asked: Asked) -> Event {
        Event {
            method: "POST".into(),
            path: "/token".into(),
            issuer: Some("main".into()),
            status,
            grant_type: Some(grant.into()),
            error: (status != 200).then(|| "invalid_grant".into()),
            asked,
            ..Event::default()
        }
    }

    fn judged(situation: WithoutUser, events: &[Event]) -> Vec<(&'static str, Status)> {
        let mut checks = Vec::new();
        situation.judge(events, &mut |id, status, _| checks.push((id, status)));
        checks
    }

    fn authenticated(method: &str) -> Asked {
        Asked {
            client_auth: Some(method.into()),
            ..Asked::default()
        }
    }

    #[test]
    fn client_credentials_passes_only_with_the_method_the_situation_offers() {
        let basic = [token(
            CLIENT_CREDENTIALS,
            200,
            authenticated("client_secret_basic"),
        )];
        assert_eq!(
            judged(WithoutUser::ClientCredentialsBasic, &basic),
            [("client-credentials-basic-auth", Status::Success)]
        );
        let post = [token(
            CLIENT_CREDENTIALS,
            200,
            authenticated("client_secret_post"),
        )];
        assert_eq!(
            judged(WithoutUser::ClientCredentialsBasic, &post),
            [("client-credentials-basic-auth", Status::Failure)]
        );
        let code_first = [
            token("authorization_code", 400, Asked::default()),
            token(
                CLIENT_CREDENTIALS,
                200,
                authenticated("client_secret_basic"),
            ),
        ];
        assert!(
            judged(WithoutUser::ClientCredentialsBasic, &code_first)
                .contains(&("client-credentials-grant-type", Status::Failure))
        );
        assert_eq!(
            judged(WithoutUser::ClientCredentialsJwt, &[]),
            [("client-credentials-jwt-verified", Status::Failure)]
        );
    }

    #[test]
    fn a_client_assertion_naming_another_client_fails_iss_and_sub() {
        let asked = Asked {
            client_auth: Some("private_key_jwt".into()),
            client_assertion: Some(Assertion {
                iss: Some("someone-else".into()),
                sub: Some(CC_CLIENT.0.into()),
                ..Assertion::default()
            }),
            ..Asked::default()
        };
        let checks = judged(
            WithoutUser::ClientCredentialsJwt,
            &[token(CLIENT_CREDENTIALS, 401, asked)],
        );
        assert!(checks.contains(&("client-credentials-jwt-iss", Status::Failure)));
        assert!(
            !checks
                .iter()
                .any(|(id, _)| *id == "client-credentials-jwt-sub")
        );
        assert!(checks.contains(&("client-credentials-jwt-verified", Status::Failure)));
    }

    #[test]
    fn wif_flags_a_spoiled_assertion_a_retry_and_a_fallback() {
        let presented = |expires_in: i64, aud: &str| Asked {
            assertion: Some(Assertion {
                aud: vec![aud.into()],
                expires_in: Some(expires_in),
                ..Assertion::default()
            }),
            ..Asked::default()
        };
        let good = [token(
            JWT_BEARER,
            200,
            presented(300, "http://localhost:9100"),
        )];
        assert_eq!(
            judged(WithoutUser::WifJwtBearer, &good),
            [("wif-assertion-verified", Status::Success)]
        );
        let stubborn = [
            token(JWT_BEARER, 400, presented(-60, "http://localhost:9100")),
            token(
                JWT_BEARER,
                400,
                presented(300, "https://wrong-audience.invalid"),
            ),
            token(CLIENT_CREDENTIALS, 400, Asked::default()),
        ];
        let checks = judged(WithoutUser::WifJwtBearer, &stubborn);
        for expected in [
            ("wif-grant-type", Status::Failure),
            ("wif-assertion-expired", Status::Failure),
            ("wif-assertion-audience", Status::Failure),
            ("wif-assertion-verified", Status::Failure),
            ("wif-no-retry", Status::Warning),
            ("wif-grant-fallback", Status::Warning),
        ] {
            assert!(checks.contains(&expected), "{expected:?} in {checks:?}");
        }
    }

    #[test]
    fn enterprise_needs_both_steps_each_at_its_server() {
        let exchange = Event {
            issuer: Some(IDP.into()),
            asked: Asked {
                resource: Some(vec!["http://localhost:9101/mcp".into()]),
                ..Asked::default()
            },
            ..token(TOKEN_EXCHANGE, 200, Asked::default())
        };
        let bearer = token(JWT_BEARER, 200, authenticated("client_secret_basic"));
        let both = [exchange.clone(), bearer];
        assert_eq!(
            judged(WithoutUser::EnterpriseManaged, &both),
            [
                ("complete-flow-token-exchange", Status::Success),
                ("complete-flow-jwt-bearer", Status::Success)
            ]
        );
        // An ID-JAG presented without client authentication earns no token.
        let anonymous = [exchange, token(JWT_BEARER, 401, Asked::default())];
        assert!(
            judged(WithoutUser::EnterpriseManaged, &anonymous)
                .contains(&("complete-flow-jwt-bearer", Status::Failure))
        );
    }
}
