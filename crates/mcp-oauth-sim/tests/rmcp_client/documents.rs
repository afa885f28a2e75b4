//! rmcp with a client ID metadata document (`with_client_metadata_url`), over HTTPS: the rig
//! serves HTTPS with its generated CA (which the application trusts) and fetches the document
//! from a host of the test's on loopback HTTPS with a CA of its own (`FETCH_CA_FILE`). What
//! rmcp does when the AS offers documents, when it does not, and when the fetch goes wrong.
//!
//! A fetch that fails at `/authorize` is an error page in the browser: rmcp never sees a
//! callback, so nothing reaches the application from rmcp. A fetch that fails at `/token` is
//! `invalid_client`, which rmcp reports from the code exchange (or the refresh).

use mcp_oauth_sim::{Service, Sim};
use reqwest::StatusCode;
use rmcp::transport::auth::AuthorizationRequest;
use serde_json::json;
use sim_test_kit::documents::DocumentHost;
use sim_test_kit::pki::{TempDir, TestPki};

use crate::app::{App, REDIRECT_URI, call};
use crate::journal::Mark;

const DOCUMENT: &str = "/rmcp-client.json";

/// An HTTPS rig that trusts `host`'s CA for document fetches, and the URL of a valid document
/// listing the application's redirect URI.
struct Setup {
    sim: Sim,
    host: DocumentHost,
    url: String,
    _ca: TempDir,
}

impl Setup {
    /// What the application asks rmcp for: the usual request, naming the hosted document.
    fn request(&self, challenge: &str) -> AuthorizationRequest {
        App::request(challenge).with_client_metadata_url(&self.url)
    }
}

async fn setup() -> Setup {
    let pki = TestPki::generate("rmcp documents");
    let ca = TempDir::new("rmcp-documents-ca");
    let ca_file = ca.write("ca.pem", &pki.ca_pem);
    let host = DocumentHost::start(Some(&pki)).await;
    let url = host.client(DOCUMENT, &[REDIRECT_URI], vec![]);
    let sim = Sim::builder()
        .https()
        .expect("a CA and a localhost certificate are generated")
        .fetch_ca_file(ca_file)
        .start()
        .await
        .expect("the rig starts");
    Setup {
        sim,
        host,
        url,
        _ca: ca,
    }
}

/// The `/authorize` and `/register` requests since `mark`: (client id, registration, status).
async fn authorizations(sim: &Sim, mark: Mark) -> (Vec<(String, String, u16)>, usize) {
    let requests = mark.requests(sim, Service::OAuth).await;
    let authorizes = requests
        .iter()
        .filter(|event| event.path == "/authorize")
        .map(|event| {
            (
                event.client_id.clone().unwrap_or_default(),
                event.asked.registration.clone().unwrap_or_default(),
                event.status,
            )
        })
        .collect();
    let registrations = requests
        .iter()
        .filter(|event| event.path == "/register")
        .count();
    (authorizes, registrations)
}

#[tokio::test]
async fn rmcp_names_its_document_when_the_as_offers_documents_and_never_registers() {
    // Arrange
    let setup = setup().await;
    let app = App::new(&setup.sim);
    let mark = Mark::beginning();

    // Act: a first run, then a tool call.
    let challenge = app.challenge().await;
    let manager = app.authorize(setup.request(&challenge)).await;
    let session = app
        .connect(manager)
        .await
        .expect("initialize with the token");
    let echoed = call(&session, "echo", json!({ "message": "by document" })).await;
    let stored = app.stored().await;

    // Assert
    assert!(echoed.is_ok(), "{echoed:?}");
    assert_eq!(
        stored.client_id, setup.url,
        "the document URL is rmcp's client id"
    );
    let (authorizes, registrations) = authorizations(&setup.sim, mark).await;
    assert_eq!(
        authorizes,
        [(setup.url.clone(), "document".to_owned(), 302)]
    );
    assert_eq!(registrations, 0, "no dynamic registration");
    assert_eq!(
        setup.host.hits(DOCUMENT),
        1,
        "fetched once, then cached for /token"
    );
    let documents = setup.sim.control().documents().await.expect("documents");
    assert_eq!(
        documents.cached[0].client_name.as_deref(),
        Some("Test client")
    );
    assert!(documents.cached[0].uses >= 2, "{:?}", documents.cached);
}

#[tokio::test]
async fn rmcp_registers_dynamically_when_documents_are_declared_unsupported_or_not_declared() {
    for declared in [json!(false), json!("omit")] {
        // Arrange
        let setup = setup().await;
        setup
            .sim
            .control()
            .oauth_profile(json!({ "client_id_metadata_document_supported": declared }))
            .await
            .expect("the profile changes");
        let app = App::new(&setup.sim);
        let mark = Mark::beginning();

        // Act
        let challenge = app.challenge().await;
        let manager = app.authorize(setup.request(&challenge)).await;
        let connected = app.connect(manager).await;

        // Assert
        assert!(connected.is_ok(), "{declared}: {:?}", connected.err());
        let (authorizes, registrations) = authorizations(&setup.sim, mark).await;
        assert_eq!(registrations, 1, "{declared}: registered");
        assert_eq!(authorizes.len(), 1);
        assert_eq!(authorizes[0].1, "dynamic", "{declared}: {authorizes:?}");
        assert_ne!(authorizes[0].0, setup.url);
        assert_eq!(
            setup.host.hits(DOCUMENT),
            0,
            "{declared}: the document was never fetched"
        );
    }
}

#[tokio::test]
async fn a_document_the_as_cannot_use_stops_rmcp_at_the_browser_without_a_fallback_or_a_loop() {
    for fault in [
        "unreachable",
        "redirect-uri-missing",
        "not-json",
        "client-id-mismatch",
    ] {
        // Arrange: every fetch of the document fails this way.
        let setup = setup().await;
        setup
            .sim
            .control()
            .document_fault(json!({ "fault": fault }))
            .await
            .expect("the fault is set");
        let app = App::new(&setup.sim);
        let mark = Mark::beginning();

        // Act: rmcp builds the authorization URL without fetching anything; the browser then
        // meets the AS's refusal.
        let challenge = app.challenge().await;
        let state = app.start_authorization(setup.request(&challenge)).await;
        let url = state
            .get_authorization_url()
            .await
            .expect("a session has a URL");
        let page = app
            .browser()
            .get(&url)
            .send()
            .await
            .expect("the AS answers");
        let status = page.status();
        let location = page.headers().get("location").cloned();
        let text = page.text().await.unwrap_or_default();

        // Assert
        assert_eq!(status, StatusCode::BAD_REQUEST, "{fault}");
        assert!(location.is_none(), "{fault}: never a redirect");
        assert!(
            text.contains("metadata document"),
            "{fault}: the page says why: {text}"
        );
        let (authorizes, registrations) = authorizations(&setup.sim, mark).await;
        assert_eq!(authorizes.len(), 1, "{fault}: one authorization, no retry");
        assert_eq!(
            registrations, 0,
            "{fault}: rmcp does not fall back to registration"
        );
        assert!(app.saved().await.is_none(), "{fault}: rmcp saved nothing");
    }
}

#[tokio::test]
async fn a_document_that_fails_at_the_code_exchange_is_an_invalid_client_rmcp_reports() {
    // Arrange: the document is fine for /authorize; the next fetch (forced by the fault) fails.
    let setup = setup().await;
    let app = App::new(&setup.sim);
    let challenge = app.challenge().await;
    let mut state = app.start_authorization(setup.request(&challenge)).await;
    let url = state.get_authorization_url().await.expect("a URL");
    let callback = app.visit(&url).await;
    setup
        .sim
        .control()
        .document_fault(json!({ "fault": "http-error", "status": 503, "times": 1 }))
        .await
        .expect("the fault is set");
    let mark = Mark::now(&setup.sim).await;

    // Act
    let exchanged = state.handle_callback_url(callback.as_str()).await;

    // Assert
    let error = exchanged
        .expect_err("the code exchange is refused")
        .to_string();
    assert!(
        error.contains("OAuth token exchange failed") && error.contains("invalid_client"),
        "rmcp reports the refused exchange: {error}"
    );
    assert!(
        error.contains("answered 503"),
        "with the AS's reason: {error}"
    );
    let requests = mark.requests(&setup.sim, Service::OAuth).await;
    let tokens: Vec<u16> = requests
        .iter()
        .filter(|event| event.path == "/token")
        .map(|event| event.status)
        .collect();
    assert_eq!(
        tokens,
        [401],
        "one refused exchange, not retried: {requests:?}"
    );
    assert!(app.saved().await.is_none(), "no tokens saved");
}

#[tokio::test]
async fn a_document_that_fails_at_a_refresh_is_a_refused_refresh_rmcp_reports_with_the_reason() {
    // Arrange: a connected client whose access token the rig then revokes, so that the next
    // call makes rmcp refresh; the refresh fetches the document again and fails.
    let setup = setup().await;
    let app = App::new(&setup.sim);
    let challenge = app.challenge().await;
    let manager = app.authorize(setup.request(&challenge)).await;
    let session = app
        .connect(manager)
        .await
        .expect("initialize with the token");
    let control = setup.sim.control();
    control.revoke_access_tokens().await.expect("revoke");
    control
        .document_fault(json!({ "fault": "unreachable", "url": setup.url }))
        .await
        .expect("the fault is set");
    let mark = Mark::now(&setup.sim).await;

    // Act
    let refused = call(&session, "echo", json!({ "message": "after revoke" })).await;

    // Assert
    let error = refused
        .expect_err("the call cannot be authorized")
        .to_string();
    let requests = mark.requests(&setup.sim, Service::OAuth).await;
    let refreshes: Vec<u16> = requests
        .iter()
        .filter(|event| event.grant_type.as_deref() == Some("refresh_token"))
        .map(|event| event.status)
        .collect();
    assert_eq!(
        refreshes,
        [401],
        "one refresh, refused invalid_client, not retried: {requests:?}"
    );
    assert!(
        error.contains("OAuth token refresh failed") && error.contains("invalid_client"),
        "rmcp reports the refused refresh: {error}"
    );
    assert!(
        error.contains("unreachable"),
        "with the AS's reason: {error}"
    );
    let last = requests
        .iter()
        .rfind(|event| event.path == "/token")
        .unwrap();
    assert!(
        last.note
            .as_deref()
            .unwrap_or_default()
            .contains("unreachable"),
        "{last:?}"
    );
}
