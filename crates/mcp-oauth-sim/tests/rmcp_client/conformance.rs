//! rmcp in every situation of the MCP conformance suite the rig stages: the rig is put in the
//! situation (`Control::stage`), a reference application embedding rmcp does what the suite's
//! reference client does — initialize, `tools/list`, `tools/call` — and the rig's judge
//! computes the suite's checks from the journals. Each test asserts the verdict rmcp really
//! earns: a pass, or the checks it fails, which are findings the README's conformance table
//! lists (`target/client-matrix/rmcp/conformance-<scenario>.json` feeds it).
//!
//! rmcp leaves two decisions to the application, and this one makes them the way the suite's
//! reference client does: on a 401 it authorizes from the challenge and connects again, and on
//! a 403 it asks rmcp for the scope upgrade the challenge names (`request_scope_upgrade`); each
//! at most three times per run, so a server that never relents cannot loop it.

use std::fs;
use std::path::PathBuf;

use mcp_oauth_sim::Sim;
use mcp_oauth_sim::control::conformance::{PRE_REGISTERED_CLIENT, Situation, Verdict};
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use rmcp::ServiceError;
use rmcp::transport::auth::{AuthClient, AuthorizationCallback, AuthorizationManager, OAuthState};
use rmcp::transport::streamable_http_client::StreamableHttpError;
use serde_json::json;

use sim_test_kit::documents::DocumentHost;
use sim_test_kit::pki::{TempDir, TestPki};

use crate::app::{App, REDIRECT_URI, Session, call, transport_error};

/// How many times the application authorizes (or upgrades) in one run at most.
const MAX_AUTHORIZATIONS: usize = 3;

/// What the application saw, step by step, for the record and for a failing test's message.
#[derive(Default)]
struct Run {
    steps: Vec<String>,
    authorizations: usize,
}

impl Run {
    fn note(&mut self, step: impl Into<String>) {
        self.steps.push(step.into());
    }
}

/// Discovery, registration (or the pre-registered client, or the client ID metadata document
/// at `document`), the browser, the code exchange: a new manager holding the token, or what
/// rmcp refused.
async fn authorize(
    app: &App,
    situation: Situation,
    document: Option<&str>,
    challenge: &str,
    run: &mut Run,
) -> Result<AuthorizationManager, String> {
    run.authorizations += 1;
    let mut request = App::request(challenge);
    if let Some(url) = document {
        request = request.with_client_metadata_url(url);
    }
    if situation == Situation::PreRegistration {
        let (id, secret) = PRE_REGISTERED_CLIENT;
        request = request
            .with_preregistered_client(id)
            .with_client_secret(secret);
    }
    let mut state = OAuthState::Unauthorized(app.manager().await);
    state
        .start_authorization(request)
        .await
        .map_err(|error| format!("discovery or registration refused: {error}"))?;
    let url = state
        .get_authorization_url()
        .await
        .map_err(|error| format!("no authorization URL: {error}"))?;
    let callback = browse(app, &url).await?;
    state
        .handle_callback_url(&callback)
        .await
        .map_err(|error| format!("callback refused: {error}"))?;
    state
        .into_authorization_manager()
        .ok_or_else(|| "not authorized after the callback".to_owned())
}

/// The browser, which reports where the authorization server sent it back.
async fn browse(app: &App, url: &str) -> Result<String, String> {
    let response = app
        .browser()
        .get(url)
        .send()
        .await
        .map_err(|error| format!("the authorization endpoint is unreachable: {error}"))?;
    if response.status() != StatusCode::FOUND {
        return Err(format!("/authorize answered {}", response.status()));
    }
    response
        .headers()
        .get(LOCATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| "a redirect without a Location".to_owned())
}

/// The scope upgrade a 403 asks for, on the session's own manager (see the step-up scenario).
async fn upgrade(
    app: &App,
    client: &AuthClient<reqwest::Client>,
    scope: &str,
    run: &mut Run,
) -> Result<(), String> {
    run.authorizations += 1;
    let url = client
        .auth_manager
        .lock()
        .await
        .request_scope_upgrade(scope)
        .await
        .map_err(|error| format!("no upgrade URL: {error}"))?;
    let callback = browse(app, &url).await?;
    let callback = AuthorizationCallback::from_redirect_url(&callback)
        .map_err(|error| format!("callback refused: {error}"))?;
    client
        .auth_manager
        .lock()
        .await
        .exchange_code_for_token_with_issuer(
            &callback.code,
            &callback.csrf_token,
            callback.issuer.as_deref(),
        )
        .await
        .map(|_| ())
        .map_err(|error| format!("upgrade exchange refused: {error}"))
}

/// What a failed call asks of the application.
enum Next {
    Authorize(String),
    Upgrade(String),
    GiveUp(String),
}

fn next_step(error: ServiceError) -> Next {
    match error {
        ServiceError::TransportSend(_) => match transport_error(error) {
            StreamableHttpError::AuthRequired(error) => {
                Next::Authorize(error.www_authenticate_header)
            }
            StreamableHttpError::InsufficientScope(error) => match error.required_scope {
                Some(scope) => Next::Upgrade(scope),
                None => Next::GiveUp(format!("403 without a scope: {error}")),
            },
            other => Next::GiveUp(format!("transport error: {other}")),
        },
        other => Next::GiveUp(format!("{other}")),
    }
}

/// The reference application: connect, `tools/list`, `tools/call echo`, authorizing and
/// upgrading as the server asks, within [`MAX_AUTHORIZATIONS`].
async fn drive(sim: &Sim, situation: Situation, document: Option<&str>) -> Run {
    let app = App::new(sim);
    let mut run = Run::default();
    let mut client = app.auth_client(app.manager().await);
    let mut session: Option<Session> = None;
    let mut calls = ["tools/list", "tools/call echo"].into_iter().peekable();
    while let Some(&call_name) = calls.peek() {
        let connected = match &session {
            Some(session) => session,
            None => match app.connect_with(client.clone()).await {
                Ok(connected) => {
                    run.note("initialize succeeded");
                    session.insert(connected)
                }
                Err(error) => {
                    let Some(challenge) = error.auth_challenge().map(str::to_owned) else {
                        run.note(format!("initialize failed: {error}"));
                        return run;
                    };
                    run.note("initialize: 401");
                    if run.authorizations >= MAX_AUTHORIZATIONS {
                        run.note("gave up: authorized three times already");
                        return run;
                    }
                    match authorize(&app, situation, document, &challenge, &mut run).await {
                        Ok(manager) => {
                            run.note("authorized");
                            client = app.auth_client(manager);
                        }
                        Err(why) => {
                            run.note(why);
                            return run;
                        }
                    }
                    continue;
                }
            },
        };
        let outcome = match call_name {
            "tools/list" => connected.list_tools(None).await.map(|_| ()),
            _ => call(connected, "echo", json!({ "message": "conformance" }))
                .await
                .map(|_| ()),
        };
        let error = match outcome {
            Ok(()) => {
                run.note(format!("{call_name} succeeded"));
                calls.next();
                continue;
            }
            Err(error) => error,
        };
        if run.authorizations >= MAX_AUTHORIZATIONS {
            run.note(format!("{call_name} failed again; gave up: {error}"));
            return run;
        }
        match next_step(error) {
            Next::Authorize(challenge) => {
                run.note(format!("{call_name}: 401"));
                match authorize(&app, situation, document, &challenge, &mut run).await {
                    Ok(manager) => {
                        run.note("authorized");
                        client = app.auth_client(manager);
                        session = None;
                    }
                    Err(why) => {
                        run.note(why);
                        return run;
                    }
                }
            }
            Next::Upgrade(scope) => {
                run.note(format!("{call_name}: 403 naming '{scope}'"));
                if let Err(why) = upgrade(&app, &client, &scope, &mut run).await {
                    run.note(why);
                    return run;
                }
                run.note("upgraded");
            }
            Next::GiveUp(why) => {
                run.note(format!("{call_name} failed: {why}"));
                return run;
            }
        }
    }
    run
}

/// How the application identifies itself to the authorization server.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Identity {
    /// Dynamic registration (or the situation's pre-registered client).
    Registered,
    /// A client ID metadata document it serves on loopback HTTPS, which the rig fetches.
    Document,
}

/// Stages `situation`, drives rmcp through it, and judges it.
async fn judge(situation: Situation, identity: Identity) -> (Verdict, Run) {
    let pki = TestPki::generate("conformance documents");
    let certs = TempDir::new("conformance-ca");
    let ca = certs.write("ca.pem", &pki.ca_pem);
    let host = DocumentHost::start(Some(&pki)).await;
    let document = (identity == Identity::Document)
        .then(|| host.client("/rmcp.json", &[REDIRECT_URI], vec![]));
    let sim = Sim::builder()
        .fetch_ca_file(ca)
        .start()
        .await
        .expect("the rig starts");
    sim.control()
        .stage(situation)
        .await
        .unwrap_or_else(|error| panic!("{} cannot be staged: {error}", situation.name()));
    let run = drive(&sim, situation, document.as_deref()).await;
    let verdict = sim.control().judge(situation).await.expect("the journals");
    (verdict, run)
}

/// What rmcp is expected to earn: a pass, or exactly these failing checks.
async fn expect(situation: Situation, failing: &[&str]) {
    // The suite's reference client offers a document wherever it can; so does this one where
    // the situation is about documents.
    let identity = match situation {
        Situation::BasicCimd => Identity::Document,
        _ => Identity::Registered,
    };
    let (verdict, run) = expect_as(situation, identity, failing).await;
    record(situation, &verdict, &run);
}

/// [`expect`], identified as `identity`, without recording for the table (which shows each
/// situation as [`expect`] runs it).
async fn expect_as(situation: Situation, identity: Identity, failing: &[&str]) -> (Verdict, Run) {
    let (verdict, run) = judge(situation, identity).await;
    let mut failed: Vec<&str> = verdict
        .checks
        .iter()
        .filter(|check| {
            matches!(
                check.status,
                mcp_oauth_sim::control::conformance::Status::Failure
                    | mcp_oauth_sim::control::conformance::Status::Warning
            )
        })
        .map(|check| check.id)
        .collect();
    failed.dedup();
    assert_eq!(
        failed,
        failing,
        "{verdict}\nwhat the application saw:\n  {}",
        run.steps.join("\n  ")
    );
    (verdict, run)
}

/// `<dir>/rmcp/conformance-<scenario>.json`, for the README's conformance table.
fn record(situation: Situation, verdict: &Verdict, run: &Run) {
    let base = match std::env::var_os("CLIENT_MATRIX_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/client-matrix"),
    };
    let dir = base.join("rmcp");
    fs::create_dir_all(&dir).expect("the matrix directory");
    let result = json!({
        "client": "rmcp",
        "scenario": verdict.scenario,
        "passed": verdict.passed(),
        "problems": verdict.problems(),
        "steps": run.steps,
    });
    let path = dir.join(format!("conformance-{}.json", situation.name()));
    fs::write(&path, serde_json::to_string_pretty(&result).unwrap() + "\n")
        .unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
}

/// One test per situation, each asserting what rmcp earns there.
macro_rules! situations {
    ($($test:ident => $situation:ident [$($failing:literal),*]),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $test() {
                expect(Situation::$situation, &[$($failing),*]).await;
            }
        )*
    };
}

situations! {
    metadata_default => MetadataDefault [],
    metadata_var1 => MetadataVar1 [],
    metadata_var2 => MetadataVar2 [],
    metadata_var3 => MetadataVar3 [],
    basic_cimd => BasicCimd [],
    scope_from_www_authenticate => ScopeFromWwwAuthenticate [],
    scope_from_scopes_supported => ScopeFromScopesSupported [],
    scope_omitted_when_undefined => ScopeOmittedWhenUndefined [],
    scope_step_up => ScopeStepUp [],
    scope_retry_limit => ScopeRetryLimit [],
    token_endpoint_auth_basic => TokenEndpointAuthBasic [],
    token_endpoint_auth_post => TokenEndpointAuthPost [],
    token_endpoint_auth_none => TokenEndpointAuthNone [],
    pre_registration => PreRegistration [],
    oauth_metadata_backcompat => OauthMetadataBackcompat [],
    oauth_endpoint_fallback => OauthEndpointFallback [],
    resource_mismatch => ResourceMismatch [],
    offline_access_scope => OfflineAccessScope [],
    offline_access_not_supported => OfflineAccessNotSupported [],
    authorization_server_migration => AuthorizationServerMigration [],
    iss_supported => IssSupported [],
    iss_not_advertised => IssNotAdvertised [],
    iss_supported_missing => IssSupportedMissing [],
    iss_wrong_issuer => IssWrongIssuer [],
    iss_unexpected => IssUnexpected [],
    iss_normalized => IssNormalized [],
    metadata_issuer_mismatch => MetadataIssuerMismatch [],
}

/// The document half of `offline-access-scope`: the grants the check reads are the document's.
#[tokio::test]
async fn offline_access_scope_by_document() {
    expect_as(Situation::OfflineAccessScope, Identity::Document, &[]).await;
}

/// Without a document URL, rmcp registers dynamically although the AS offers documents: the
/// suite's WARNING for a client that could not use one.
#[tokio::test]
async fn basic_cimd_without_a_document_falls_back_to_registration() {
    expect_as(
        Situation::BasicCimd,
        Identity::Registered,
        &["cimd-client-id-used"],
    )
    .await;
}
