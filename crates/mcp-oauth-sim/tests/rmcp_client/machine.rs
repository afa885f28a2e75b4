//! Clients without a user, through rmcp's own support for them:
//! - client credentials: `ClientCredentialsConfig::{ClientSecret, PrivateKeyJwt}` handed to
//!   `OAuthState::authenticate_client_credentials`, which discovers the authorization server
//!   from the MCP URL (a GET of it for the 401's challenge, PRM, AS metadata), checks that the AS offers the authentication
//!   method, and asks for a token (`client_secret_basic` when the AS offers only that, otherwise
//!   `client_secret_post`; `private_key_jwt` signs an RFC 7523 assertion with `aud` = the issuer);
//!   the manager it leaves authorized goes into an `AuthClient` like any other;
//! - enterprise-managed authorization (feature `auth-enterprise-managed`):
//!   `enterprise::EmaExchangeRequest::new_with_id_token(..).exchange(..)`, which exchanges the ID
//!   token at the IdP for an ID-JAG (RFC 8693) and presents it to the AS (RFC 7523 jwt-bearer). It
//!   does not discover anything and keeps no credentials: the application finds the AS with
//!   rmcp's discovery (`resolve_metadata`) and sends the access token it gets as a bearer header.
//!
//! rmcp 3.11 has no grant for a workload's own assertion (`wif-jwt-bearer`): its one jwt-bearer
//! request is `EmaIdJag::exchange`, and an `EmaIdJag` only comes out of an IdP token exchange.

use rmcp::ServiceExt;
use rmcp::service::ClientInitializeError;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::auth::enterprise::{
    EmaAccessToken, EmaAuthorizationServer, EmaClientAuthentication, EmaError, EmaExchangeRequest,
};
use rmcp::transport::auth::{
    AuthError, AuthorizationManager, ClientCredentialsConfig, JwtSigningAlgorithm, OAuthHttpClient,
    OAuthHttpClientFuture, OAuthHttpRequest, OAuthState,
};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

use crate::app::{App, Session};

/// The context a situation's staging hands the client, as the suite's `MCP_CONFORMANCE_CONTEXT`.
pub use mcp_oauth_sim::control::conformance::Context;

/// A string of the context, which the situation promises.
pub fn field<'a>(context: &'a Context, key: &str) -> &'a str {
    context
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("the context has no string '{key}': {}", json!(context)))
}

/// rmcp's client credentials with a secret, for the MCP URL (rmcp refuses a token request
/// without `resource`, which the MCP authorization spec requires). No scope: the rig grants
/// every scope it offers when none is asked for.
pub fn with_secret(client_id: &str, client_secret: &str, mcp_url: &str) -> ClientCredentialsConfig {
    ClientCredentialsConfig::ClientSecret {
        client_id: client_id.to_owned(),
        client_secret: client_secret.to_owned(),
        scopes: Vec::new(),
        resource: Some(mcp_url.to_owned()),
    }
}

/// rmcp's client credentials with `private_key_jwt`: an ES256 key as PKCS#8 PEM; the
/// assertion's audience is the issuer rmcp discovers.
pub fn with_key(client_id: &str, private_key_pem: &str, mcp_url: &str) -> ClientCredentialsConfig {
    ClientCredentialsConfig::PrivateKeyJwt {
        client_id: client_id.to_owned(),
        signing_key: private_key_pem.as_bytes().to_vec(),
        signing_algorithm: JwtSigningAlgorithm::ES256,
        token_endpoint_audience: None,
        scopes: Vec::new(),
        resource: Some(mcp_url.to_owned()),
    }
}

/// Discovery and the token request: a manager holding the token (saved in the app's store), or
/// what rmcp refused.
pub async fn authenticate(
    app: &App,
    config: ClientCredentialsConfig,
) -> Result<AuthorizationManager, AuthError> {
    let mut state = OAuthState::Unauthorized(app.manager().await);
    state.authenticate_client_credentials(config).await?;
    Ok(state
        .into_authorization_manager()
        .expect("a successful client-credentials authentication leaves rmcp authorized"))
}

/// [`authenticate`], then initialize through rmcp's `AuthClient` with that manager.
pub async fn connect(app: &App, config: ClientCredentialsConfig) -> Result<Session, String> {
    let manager = authenticate(app, config)
        .await
        .map_err(|error| format!("rmcp's client-credentials authentication failed: {error}"))?;
    app.connect(manager)
        .await
        .map_err(|error| format!("initialize failed: {error}"))
}

/// Why the enterprise-managed exchange did not give a token.
#[derive(Debug)]
pub enum EnterpriseFailure {
    /// rmcp's discovery of the AS failed.
    Discovery(AuthError),
    /// The discovered metadata names no issuer, which the ID-JAG's audience must be.
    NoIssuer,
    /// One of the two exchanges failed (`EmaError` says which stage).
    Exchange(EmaError),
}

impl std::fmt::Display for EnterpriseFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Discovery(error) => write!(f, "discovery of the AS failed: {error}"),
            Self::NoIssuer => f.write_str("the AS metadata names no issuer"),
            Self::Exchange(error) => write!(f, "the enterprise-managed exchange failed: {error}"),
        }
    }
}

/// Enterprise-managed authorization from a situation's context: rmcp's discovery finds the AS
/// (its issuer and token endpoint), then rmcp exchanges the ID token at the IdP (a public
/// client there: the IdP checks no client authentication) for an ID-JAG carrying `scopes`
/// (none: no `scope` parameter) and presents it at the AS with `client_secret_basic`.
pub async fn enterprise(
    app: &App,
    context: &Context,
    scopes: &[&str],
) -> Result<EmaAccessToken, EnterpriseFailure> {
    let discovered = app
        .manager()
        .await
        .resolve_metadata()
        .await
        .map_err(EnterpriseFailure::Discovery)?
        .metadata;
    let issuer = discovered.issuer.ok_or(EnterpriseFailure::NoIssuer)?;
    let idp = EmaAuthorizationServer::new(
        field(context, "idp_issuer"),
        field(context, "idp_token_endpoint"),
        field(context, "idp_client_id"),
    );
    // `oauth2::ClientSecret`, made from its serialized form: rmcp does not re-export oauth2,
    // and this crate does not depend on it.
    let secret = serde_json::from_value(json!(field(context, "client_secret")))
        .expect("a client secret deserializes from a string");
    let resource_as = EmaAuthorizationServer::new(
        issuer,
        discovered.token_endpoint,
        field(context, "client_id"),
    )
    .with_client_authentication(EmaClientAuthentication::ClientSecretBasic(secret));
    let http = OAuthHttp(app.browser().clone());
    EmaExchangeRequest::new_with_id_token(
        idp,
        resource_as,
        app.mcp_url(),
        field(context, "idp_id_token"),
    )
    .with_scopes(scopes.iter().copied())
    .exchange(&http, &http)
    .await
    .map_err(EnterpriseFailure::Exchange)
}

/// Initialize with an access token rmcp's enterprise exchange gave: rmcp's Streamable HTTP
/// transport sends it as `Authorization: Bearer` (`auth_header`); nothing refreshes it.
pub async fn connect_bearer(app: &App, token: &str) -> Result<Session, ClientInitializeError> {
    let transport = StreamableHttpClientTransport::with_client(
        app.browser().clone(),
        StreamableHttpClientTransportConfig::with_uri(app.mcp_url()).auth_header(token),
    );
    ().serve(transport).await
}

/// rmcp's OAuth HTTP port (`OAuthHttpClient`) over the app's reqwest client, so that the
/// enterprise exchanges go where everything else goes: no proxy, the rig's CA. That client never
/// follows redirects, which is what rmcp asks for these requests (`OAuthHttpRedirectPolicy::Stop`).
pub struct OAuthHttp(pub reqwest::Client);

impl OAuthHttpClient for OAuthHttp {
    fn execute(&self, request: OAuthHttpRequest) -> OAuthHttpClientFuture<'_> {
        // The answer is an `http::Response<Vec<u8>>`, a crate this one does not depend on: the
        // dead branch lets the compiler name the type from rmcp's future.
        let mut answer = Default::default();
        if false {
            drop::<OAuthHttpClientFuture<'static>>(Box::pin(std::future::ready(Ok(answer))));
            unreachable!();
        }
        Box::pin(async move {
            let request = reqwest::Request::try_from(request.request)?;
            let response = self.0.execute(request).await?;
            *answer.status_mut() = response.status();
            *answer.version_mut() = response.version();
            *answer.headers_mut() = response.headers().clone();
            *answer.body_mut() = response.bytes().await?.to_vec();
            Ok(answer)
        })
    }
}

/// `whoami`'s structured answer: how the MCP server sees the token.
pub async fn whoami(session: &Session) -> Value {
    let result = crate::app::call(session, "whoami", json!({}))
        .await
        .expect("whoami answers");
    match result.structured_content {
        Some(identity) => identity,
        None => serde_json::from_str(&crate::app::text(&result)).expect("whoami answers JSON"),
    }
}
