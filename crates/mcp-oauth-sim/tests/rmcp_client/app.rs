//! The application around rmcp, as a program embedding its OAuth client would be written, with
//! the browser replaced by one GET.
//!
//! rmcp pieces used: `AuthorizationManager::new` + `with_client` (our reqwest client for every
//! OAuth request: discovery, registration, token) + `set_credential_store`; `OAuthState`
//! (`start_authorization`, `get_authorization_url`, `handle_callback_url`,
//! `into_authorization_manager`); `AuthClient` around the same reqwest client, inside
//! `StreamableHttpClientTransport::with_client`; `().serve(transport)`.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use mcp_oauth_sim::Sim;
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{ClientInitializeError, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::auth::{
    AuthClient, AuthorizationManager, AuthorizationRequest, CredentialStore,
    InMemoryCredentialStore, OAuthState, StoredCredentials,
};
use rmcp::transport::streamable_http_client::{
    StreamableHttpClientTransportConfig, StreamableHttpError,
};
use rmcp::{RoleClient, ServiceError, ServiceExt};
use serde_json::{Map, Value, json};
use url::Url;

/// Registered with the AS and never listened on: the test reads the redirect instead. Loopback
/// `http` is what a native client registers (RFC 8252), and the rig accepts it on any port.
pub const REDIRECT_URI: &str = "http://127.0.0.1/callback";

/// A connected rmcp client.
pub type Session = RunningService<RoleClient, ()>;

/// The transport whose errors rmcp hands back inside `ServiceError::TransportSend`.
type Transport = StreamableHttpClientTransport<AuthClient<reqwest::Client>>;

/// One client installation: the MCP URL it was given, its HTTP client and its credential store.
pub struct App {
    http: reqwest::Client,
    mcp_url: String,
    /// Shared with every `AuthorizationManager` this app makes, as a file or keychain would be:
    /// the test reads what rmcp saved and deposits credentials for it.
    pub store: InMemoryCredentialStore,
}

impl App {
    pub fn new(sim: &Sim) -> Self {
        let mut builder = reqwest::Client::builder()
            // Nothing here may go through a proxy from the environment.
            .no_proxy()
            .timeout(Duration::from_secs(10))
            // The same client plays the browser, which must see the authorization redirect
            // rather than follow it to a callback nobody listens on. rmcp's own requests
            // (discovery, registration, token) meet no redirects from the rig.
            .redirect(reqwest::redirect::Policy::none())
            // The rig listens on 127.0.0.1 only; without this, `localhost` may be tried on ::1
            // first, where another process could hold the same port number.
            .resolve("localhost", SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        if let Some(pem) = sim.ca_pem() {
            // Only the rig's CA: a handshake that succeeds proves this client verified the
            // rig's certificate against it, with no system store involved and no process-wide
            // setting (SSL_CERT_FILE) shared with parallel tests.
            let ca = reqwest::Certificate::from_pem(pem.as_bytes()).expect("the CA is PEM");
            builder = builder.tls_certs_only([ca]);
        }
        Self {
            http: builder.build().expect("the reqwest client builds"),
            mcp_url: sim.mcp_url().to_owned(),
            store: InMemoryCredentialStore::new(),
        }
    }

    /// The same installation given another MCP URL, as a user edits a server's URL after it
    /// moved: the same HTTP client and the same credential store.
    pub fn moved_to(&self, mcp_url: &str) -> Self {
        Self {
            http: self.http.clone(),
            mcp_url: mcp_url.to_owned(),
            store: self.store.clone(),
        }
    }

    /// The HTTP client that plays the browser (it does not follow redirects).
    pub fn browser(&self) -> &reqwest::Client {
        &self.http
    }

    /// The MCP URL this installation was given.
    pub fn mcp_url(&self) -> &str {
        &self.mcp_url
    }

    /// An rmcp authorization manager for the MCP URL, using this app's HTTP client for all of
    /// its OAuth requests and this app's credential store.
    pub async fn manager(&self) -> AuthorizationManager {
        let mut manager = AuthorizationManager::new(self.mcp_url.as_str())
            .await
            .expect("the MCP URL is a URL");
        manager
            .with_client(self.http.clone())
            .expect("rmcp takes the client");
        manager.set_credential_store(self.store.clone());
        manager
    }

    /// Connects and initializes through rmcp's `AuthClient`, which takes the access token from
    /// `manager` (refreshing it when rmcp thinks it must) for every request.
    pub async fn connect(
        &self,
        manager: AuthorizationManager,
    ) -> Result<Session, ClientInitializeError> {
        self.connect_with(self.auth_client(manager)).await
    }

    /// rmcp's `AuthClient` around this app's HTTP client and `manager`. A clone shares the
    /// manager (`auth_manager` is an `Arc<Mutex<…>>`): an application keeps one to act on the
    /// authorization of a session it has connected, as a step-up does.
    pub fn auth_client(&self, manager: AuthorizationManager) -> AuthClient<reqwest::Client> {
        AuthClient::new(self.http.clone(), manager)
    }

    /// [`App::connect`] with an `AuthClient` the caller made.
    pub async fn connect_with(
        &self,
        client: AuthClient<reqwest::Client>,
    ) -> Result<Session, ClientInitializeError> {
        let transport = StreamableHttpClientTransport::with_client(
            client,
            StreamableHttpClientTransportConfig::with_uri(self.mcp_url.as_str()),
        );
        ().serve(transport).await
    }

    /// Connects with no credentials, as a first run does: rmcp sends `initialize` without a
    /// token and reports the 401 as "authorization required", carrying its challenge.
    pub async fn challenge(&self) -> String {
        let error = match self.connect(self.manager().await).await {
            Ok(_) => panic!("a client without credentials was let in"),
            Err(error) => error,
        };
        assert!(error.is_authorization_required(), "{error}");
        error
            .auth_challenge()
            .expect("the 401 carries a WWW-Authenticate challenge")
            .to_owned()
    }

    /// What the application asks rmcp for: dynamic registration under this name, the redirect
    /// URI above, discovery seeded by the 401's challenge.
    pub fn request(challenge: &str) -> AuthorizationRequest {
        AuthorizationRequest::new(REDIRECT_URI)
            .with_client_name("mcp-oauth-sim rmcp matrix")
            .with_challenge(challenge)
    }

    /// Discovery and registration: rmcp's state machine, left in its session state holding the
    /// authorization URL.
    pub async fn start_authorization(&self, request: AuthorizationRequest) -> OAuthState {
        let mut state = OAuthState::Unauthorized(self.manager().await);
        state
            .start_authorization(request)
            .await
            .expect("discovery and registration succeed");
        state
    }

    /// The browser: open the authorization URL and report where the AS sends it back.
    pub async fn visit(&self, authorization_url: &str) -> Url {
        let response = self
            .http
            .get(authorization_url)
            .send()
            .await
            .expect("the authorization endpoint answers");
        assert_eq!(response.status(), StatusCode::FOUND, "{authorization_url}");
        let location = response
            .headers()
            .get(LOCATION)
            .expect("a redirect has a Location")
            .to_str()
            .expect("the Location is text");
        Url::parse(location).expect("the Location is an absolute URL")
    }

    /// The whole authorization: discovery, registration, consent, code exchange.
    pub async fn authorize(&self, request: AuthorizationRequest) -> AuthorizationManager {
        let mut state = self.start_authorization(request).await;
        let url = state
            .get_authorization_url()
            .await
            .expect("a session has a URL");
        let callback = self.visit(&url).await;
        state
            .handle_callback_url(callback.as_str())
            .await
            .expect("rmcp exchanges the code");
        state
            .into_authorization_manager()
            .expect("the state machine is authorized")
    }

    /// A first run from nothing but the MCP URL, to a connected client.
    pub async fn log_in(&self) -> Session {
        let challenge = self.challenge().await;
        let manager = self.authorize(Self::request(&challenge)).await;
        self.connect(manager)
            .await
            .expect("initialize succeeds with the token")
    }

    /// What rmcp saved, if anything.
    pub async fn saved(&self) -> Option<StoredCredentials> {
        self.store
            .load()
            .await
            .expect("the in-memory store cannot fail")
    }

    /// What rmcp saved.
    pub async fn stored(&self) -> StoredCredentials {
        self.saved().await.expect("rmcp saved credentials")
    }

    /// Makes the saved token `seconds` older, as if that much time had passed for the client
    /// since rmcp received it: rmcp judges expiry from its own record of when that was, so
    /// this is how a test moves the client's time without sleeping (the rig's clock is moved
    /// with the control plane).
    pub async fn age_token(&self, seconds: u64) {
        let mut stored = self.stored().await;
        let received = stored
            .token_received_at
            .expect("rmcp records when it received the token");
        stored.token_received_at = Some(received.saturating_sub(seconds));
        self.store
            .save(stored)
            .await
            .expect("the in-memory store cannot fail");
    }

    /// A field of the saved token response (`access_token`, `refresh_token`, `expires_in`), read
    /// from its serialized form, as a store persisting it would write it.
    pub async fn stored_token(&self, field: &str) -> Value {
        let stored = self.stored().await;
        let tokens = serde_json::to_value(&stored.token_response).expect("tokens serialize");
        tokens[field].clone()
    }

    /// The rig's AS metadata, fetched as any OAuth client would (for endpoints the test uses
    /// itself).
    pub async fn as_metadata(&self, issuer: &str) -> Value {
        self.http
            .get(format!("{issuer}/.well-known/oauth-authorization-server"))
            .send()
            .await
            .expect("the AS answers")
            .json()
            .await
            .expect("the metadata is JSON")
    }

    /// A form POST outside rmcp, for what the test checks on the AS directly.
    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self
            .http
            .post(url)
            .form(form)
            .send()
            .await
            .expect("the AS answers");
        let status = response.status();
        (status, response.json().await.expect("the answer is JSON"))
    }

    /// A JSON POST outside rmcp.
    pub async fn post_json(&self, url: &str, body: &Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(url)
            .json(body)
            .send()
            .await
            .expect("the AS answers");
        let status = response.status();
        (status, response.json().await.expect("the answer is JSON"))
    }
}

/// `tools/call` through rmcp.
pub async fn call(
    session: &Session,
    tool: &'static str,
    arguments: Value,
) -> Result<CallToolResult, ServiceError> {
    let arguments: Map<String, Value> = match arguments {
        Value::Object(map) => map,
        other => panic!("tool arguments are an object, not {other}"),
    };
    session
        .call_tool(CallToolRequestParams::new(tool).with_arguments(arguments))
        .await
}

/// `echo`'s answer, or why rmcp could not get one.
pub async fn echo(session: &Session, message: &str) -> Result<String, ServiceError> {
    call(session, "echo", json!({ "message": message }))
        .await
        .map(|result| text(&result))
}

/// The first text block of a tool result.
pub fn text(result: &CallToolResult) -> String {
    assert_ne!(result.is_error, Some(true), "{result:?}");
    result
        .content
        .first()
        .and_then(|block| block.as_text())
        .map(|text| text.text.clone())
        .unwrap_or_else(|| panic!("no text in {result:?}"))
}

/// The transport error inside a failed call: how rmcp tells the application that HTTP or
/// OAuth, rather than the tool, failed.
pub fn transport_error(error: ServiceError) -> StreamableHttpError<reqwest::Error> {
    match error {
        ServiceError::TransportSend(error) => match error.downcast::<Transport, RoleClient>() {
            Ok(error) => error,
            Err(other) => panic!("a transport error of another transport: {other}"),
        },
        other => panic!("expected a transport error, rmcp gave {other:?}"),
    }
}
