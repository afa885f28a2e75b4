//! rmcp's client credentials (`ClientCredentialsConfig` through
//! `OAuthState::authenticate_client_credentials`) against the rig's plain features, outside the
//! conformance presets: a confidential client added through the control plane, with a secret or
//! with `private_key_jwt` (an ES256 key the test generates and registers as a JWKS, or one the
//! rig generates), gets a token that works at the MCP server, which sees the client itself as
//! the subject. Then the refusals it meets, and what rmcp does with each: a wrong secret, an
//! assertion signed with another key, a token fault rule on the `client_credentials` grant, and
//! the end of the token's life.
//!
//! What rmcp does, in short: it discovers from the MCP URL (a GET of it for the 401's
//! challenge, PRM, AS metadata) and sends one token request; a refusal is
//! `AuthError::ClientCredentialsError` carrying the OAuth error code, with no retry and nothing
//! saved; trying again is the application's decision. rmcp does not renew a client-credentials
//! token: there is no refresh token, so once the token is inside rmcp's refresh margin (30 s
//! before expiry, or half a short lifetime) rmcp sends the call without it, the MCP server
//! answers 401, and the application gets `AuthRequired` with the challenge; it must
//! authenticate again.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcp_oauth_sim::{Fault, Respond, Service, Sim};
use rmcp::transport::auth::AuthError;
use rmcp::transport::streamable_http_client::StreamableHttpError;
use serde_json::{Value, json};

use crate::app::{App, echo, transport_error};
use crate::journal::{Mark, line};
use crate::machine::{self, whoami};
use crate::rig::{self, Scheme};

const CLIENT_ID: &str = "rmcp-machine";
const SECRET: &str = "rmcp-machine-secret";
const KEY_CLIENT_ID: &str = "rmcp-machine-key";

/// A confidential client that may only use `client_credentials`, authenticating in the body
/// (what rmcp sends when the AS offers `client_secret_post`, as the rig does by default).
async fn add_secret_client(sim: &Sim) {
    sim.control()
        .add_client(json!({
            "client_id": CLIENT_ID,
            "client_secret": SECRET,
            "auth_method": "client_secret_post",
            "grant_types": ["client_credentials"],
        }))
        .await
        .expect("the rig takes a client-credentials client");
}

/// An ES256 key pair of the test's own: the private key as PKCS#8 PEM (what rmcp signs with),
/// the public key as a JWK (what the AS verifies with).
fn es256_key() -> (String, Value) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .expect("an ES256 key is generated");
    // The SEC 1 uncompressed point: 0x04, then x and y, 32 bytes each.
    let point = key.public_key_raw();
    assert_eq!(
        (point.len(), point[0]),
        (65, 4),
        "an uncompressed P-256 point"
    );
    let jwk = json!({
        "kty": "EC",
        "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..]),
        "alg": "ES256",
        "use": "sig",
        "kid": "rmcp-test-key",
    });
    (key.serialize_pem(), jwk)
}

/// What the authorization server saw, and what the MCP server saw, since `mark`.
async fn journals(sim: &Sim, mark: Mark) -> (Vec<String>, Vec<String>) {
    (
        mark.lines(sim, Service::OAuth).await,
        mark.lines(sim, Service::Mcp).await,
    )
}

/// The token works at the MCP server, which sees the client as the caller; rmcp keeps it in
/// the application's store, without a refresh token.
async fn assert_works_as(app: &App, client_id: &str, session: &crate::app::Session) {
    assert_eq!(
        echo(session, "a machine").await.expect("echo answers"),
        "a machine"
    );
    let identity = whoami(session).await;
    assert_eq!(identity["subject"], client_id, "{identity}");
    assert_eq!(identity["client_id"], client_id, "{identity}");
    let stored = app.stored().await;
    assert_eq!(stored.client_id, client_id);
    assert_eq!(app.stored_token("refresh_token").await, Value::Null);
}

async fn secret(scheme: Scheme) {
    // Arrange
    let sim = rig::start(scheme, |builder| builder).await;
    add_secret_client(&sim).await;
    let app = App::new(&sim);
    let mark = Mark::now(&sim).await;

    // Act
    let session = machine::connect(
        &app,
        machine::with_secret(CLIENT_ID, SECRET, &sim.mcp_url()),
    )
    .await
    .expect("rmcp authenticates and initializes");

    // Assert
    assert_works_as(&app, CLIENT_ID, &session).await;
    let (oauth, mcp) = journals(&sim, mark).await;
    assert_eq!(
        oauth,
        [
            "GET /.well-known/oauth-authorization-server 200",
            "POST /token 200 client_credentials",
        ],
        "discovery, then one token request"
    );
    assert_eq!(
        mcp[..3],
        [
            // rmcp's discovery asks the MCP URL for its challenge, then reads PRM.
            "GET /mcp 401 no_token",
            "GET /.well-known/oauth-protected-resource/mcp 200",
            // The first MCP request already carries the token.
            "POST /mcp 200 initialize",
        ],
        "{mcp:?}"
    );
}

#[tokio::test]
async fn http_a_secret_gets_a_token_the_mcp_server_accepts_as_the_client() {
    secret(Scheme::Http).await;
}

#[tokio::test]
async fn https_a_secret_gets_a_token_the_mcp_server_accepts_as_the_client() {
    secret(Scheme::Https).await;
}

async fn private_key_jwt(scheme: Scheme) {
    // Arrange
    let sim = rig::start(scheme, |builder| builder).await;
    let (pem, jwk) = es256_key();
    sim.control()
        .add_client(json!({
            "client_id": KEY_CLIENT_ID,
            "auth_method": "private_key_jwt",
            "jwks": { "keys": [jwk] },
            "grant_types": ["client_credentials"],
        }))
        .await
        .expect("the rig takes a private_key_jwt client with its JWKS");
    let app = App::new(&sim);
    let mark = Mark::now(&sim).await;

    // Act
    let session = machine::connect(&app, machine::with_key(KEY_CLIENT_ID, &pem, &sim.mcp_url()))
        .await
        .expect("rmcp signs an assertion, authenticates and initializes");

    // Assert
    assert_works_as(&app, KEY_CLIENT_ID, &session).await;
    let (oauth, _) = journals(&sim, mark).await;
    assert_eq!(
        oauth,
        [
            "GET /.well-known/oauth-authorization-server 200",
            "POST /token 200 client_credentials",
        ]
    );
}

#[tokio::test]
async fn http_private_key_jwt_gets_a_token_the_mcp_server_accepts_as_the_client() {
    private_key_jwt(Scheme::Http).await;
}

#[tokio::test]
async fn https_private_key_jwt_gets_a_token_the_mcp_server_accepts_as_the_client() {
    private_key_jwt(Scheme::Https).await;
}

/// The key made by the rig (`generate_key`), handed over by the control plane, as a tester
/// configuring a client by hand would get it.
#[tokio::test]
async fn http_private_key_jwt_with_a_key_the_rig_generates() {
    // Arrange
    let sim = rig::start(Scheme::Http, |builder| builder).await;
    let key = sim
        .control()
        .add_keyed_client(json!({
            "client_id": KEY_CLIENT_ID,
            "auth_method": "private_key_jwt",
            "generate_key": "ES256",
            "grant_types": ["client_credentials"],
        }))
        .await
        .expect("the rig makes the client's key");
    let app = App::new(&sim);

    // Act
    let session = machine::connect(
        &app,
        machine::with_key(KEY_CLIENT_ID, &key.private_key_pem, &sim.mcp_url()),
    )
    .await
    .expect("rmcp signs with the rig's key, authenticates and initializes");

    // Assert
    assert_eq!(key.alg, "ES256");
    assert_works_as(&app, KEY_CLIENT_ID, &session).await;
}

#[tokio::test]
async fn an_assertion_signed_with_another_key_is_invalid_client_which_rmcp_reports_without_retrying()
 {
    // Arrange: the AS knows one key; rmcp signs with another.
    let sim = rig::start(Scheme::Http, |builder| builder).await;
    let (_, registered) = es256_key();
    let (other_pem, _) = es256_key();
    sim.control()
        .add_client(json!({
            "client_id": KEY_CLIENT_ID,
            "auth_method": "private_key_jwt",
            "jwks": { "keys": [registered] },
            "grant_types": ["client_credentials"],
        }))
        .await
        .expect("the rig takes a private_key_jwt client with its JWKS");
    let app = App::new(&sim);
    let mark = Mark::now(&sim).await;

    // Act
    let outcome = machine::authenticate(
        &app,
        machine::with_key(KEY_CLIENT_ID, &other_pem, &sim.mcp_url()),
    )
    .await;

    // Assert
    let message = refusal(outcome);
    // rmcp builds this request itself (no client_id in the body, RFC 7523 §3), and words the
    // refusal differently from the secret's.
    assert!(
        message.starts_with("Token exchange failed: invalid_client: "),
        "{message}"
    );
    assert!(app.saved().await.is_none(), "nothing is saved");
    let (oauth, _) = journals(&sim, mark).await;
    assert_eq!(
        oauth,
        [
            "GET /.well-known/oauth-authorization-server 200",
            "POST /token 401 client_credentials invalid_client",
        ],
        "one token request, not retried"
    );
}

/// The message of rmcp's client-credentials refusal.
fn refusal(outcome: Result<rmcp::transport::auth::AuthorizationManager, AuthError>) -> String {
    match outcome {
        Err(AuthError::ClientCredentialsError(message)) => message,
        Err(other) => panic!("expected rmcp's ClientCredentialsError, got {other:?}"),
        Ok(_) => panic!("rmcp was given a token"),
    }
}

#[tokio::test]
async fn a_wrong_secret_is_invalid_client_which_rmcp_reports_without_retrying() {
    // Arrange
    let sim = rig::start(Scheme::Http, |builder| builder).await;
    add_secret_client(&sim).await;
    let app = App::new(&sim);
    let mark = Mark::now(&sim).await;

    // Act
    let outcome = machine::authenticate(
        &app,
        machine::with_secret(CLIENT_ID, "not-the-secret", &sim.mcp_url()),
    )
    .await;

    // Assert
    let message = refusal(outcome);
    assert!(
        message
            .starts_with("Token exchange failed: Server returned error response: invalid_client"),
        "the OAuth error code reaches the application: {message}"
    );
    assert!(app.saved().await.is_none(), "nothing is saved");
    let (oauth, mcp) = journals(&sim, mark).await;
    assert_eq!(
        oauth,
        [
            "GET /.well-known/oauth-authorization-server 200",
            "POST /token 401 client_credentials invalid_client",
        ],
        "one token request, not retried"
    );
    assert_eq!(
        mcp,
        [
            "GET /mcp 401 no_token",
            "GET /.well-known/oauth-protected-resource/mcp 200",
        ],
        "discovery only"
    );
}

#[tokio::test]
async fn a_token_fault_on_the_grant_fails_once_and_authenticating_again_works() {
    // Arrange
    let sim = rig::start(Scheme::Http, |builder| builder).await;
    add_secret_client(&sim).await;
    let rule = sim
        .control()
        .add_fault(
            Service::OAuth,
            &Fault::new("token", Respond::status(503))
                .grant_type("client_credentials")
                .times(1),
        )
        .await
        .expect("a fault rule may match the client_credentials grant");
    let app = App::new(&sim);
    let config = || machine::with_secret(CLIENT_ID, SECRET, &sim.mcp_url());
    let mark = Mark::now(&sim).await;

    // Act
    let first = machine::authenticate(&app, config()).await;
    let saved_after_first = app.saved().await;
    let second = machine::authenticate(&app, config()).await;

    // Assert
    let message = refusal(first);
    assert!(
        message.starts_with(
            "Token exchange failed: Server returned error response: temporarily_unavailable"
        ),
        "{message}"
    );
    assert!(saved_after_first.is_none(), "nothing is saved");
    let oauth = mark.requests(&sim, Service::OAuth).await;
    let second_manager = second.expect("the next authentication gets a token");
    assert_eq!(
        oauth.iter().map(line).collect::<Vec<_>>(),
        [
            "GET /.well-known/oauth-authorization-server 200",
            "POST /token 503 client_credentials temporarily_unavailable fault",
            "GET /.well-known/oauth-authorization-server 200",
            "POST /token 200 client_credentials",
        ],
        "no retry inside rmcp: the second attempt is the application's"
    );
    assert_eq!(oauth[1].fault, Some(rule.id));
    let session = app
        .connect(second_manager)
        .await
        .expect("initialize with the second token");
    assert_works_as(&app, CLIENT_ID, &session).await;
}

#[tokio::test]
async fn near_expiry_rmcp_drops_the_token_it_cannot_refresh_and_the_call_meets_a_401() {
    // Arrange: a 60 s token, 45 s old in the client's store (inside rmcp's 30 s margin).
    let sim = rig::start(Scheme::Http, |builder| builder).await;
    add_secret_client(&sim).await;
    sim.control()
        .access_token_ttl(60)
        .await
        .expect("expires-in");
    let app = App::new(&sim);
    let config = || machine::with_secret(CLIENT_ID, SECRET, &sim.mcp_url());
    let session = machine::connect(&app, config())
        .await
        .expect("rmcp authenticates and initializes");
    app.age_token(45).await;
    let mark = Mark::now(&sim).await;

    // Act
    let expired = echo(&session, "near expiry").await;
    let (oauth, mcp) = journals(&sim, mark).await;
    let again = machine::connect(&app, config())
        .await
        .expect("authenticating again works");

    // Assert
    match transport_error(expired.expect_err("the call fails")) {
        StreamableHttpError::AuthRequired(error) => assert!(
            error
                .www_authenticate_header
                .starts_with("Bearer resource_metadata="),
            "the MCP server's own challenge: {error:?}"
        ),
        other => panic!("expected rmcp's AuthRequired, got {other:?}"),
    }
    assert!(
        oauth.is_empty(),
        "no refresh (there is no refresh token) and no new client-credentials request: {oauth:?}"
    );
    assert_eq!(
        mcp,
        ["POST /mcp 401 no_token"],
        "rmcp drops the token it cannot renew and sends the call without one"
    );
    assert_eq!(
        echo(&again, "after authenticating again")
            .await
            .expect("echo"),
        "after authenticating again"
    );
}

/// A client registered for `client_secret_basic` at a server that offers every method and holds
/// clients to the one they registered (`enforce_auth_method`): rmcp picks the method from what
/// the server offers, not from the registration, so it sends the secret in the body and is
/// refused. A finding: against a strict server, rmcp's client-credentials client must be
/// registered for `client_secret_post` (or the server offer Basic alone).
#[tokio::test]
async fn rmcp_sends_its_secret_in_the_body_whatever_the_client_registered() {
    // Arrange
    let sim = rig::start(Scheme::Http, |builder| builder).await;
    sim.control()
        .add_client(json!({
            "client_id": CLIENT_ID,
            "client_secret": SECRET,
            "auth_method": "client_secret_basic",
            "grant_types": ["client_credentials"],
        }))
        .await
        .expect("the rig takes a client-credentials client");
    sim.control()
        .oauth_profile(json!({ "enforce_auth_method": true }))
        .await
        .expect("the knob is taken");
    let app = App::new(&sim);

    // Act
    let outcome = machine::authenticate(
        &app,
        machine::with_secret(CLIENT_ID, SECRET, &sim.mcp_url()),
    )
    .await;

    // Assert
    let message = refusal(outcome);
    assert!(
        message.contains("invalid_client")
            && message.contains(
                "registered client_secret_basic; it sent its secret with client_secret_post"
            ),
        "{message}"
    );
}
