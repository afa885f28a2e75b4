//! rmcp in every situation of the MCP conformance suite the rig stages: the rig is put in the
//! situation (`Control::stage`), a reference application embedding rmcp does what the suite's
//! reference client does — initialize, `tools/list`, `tools/call` — and the rig's judge
//! computes the suite's checks from the journals. Each test asserts the verdict rmcp really
//! earns: a pass, or the checks it fails, which are findings the conformance table of
//! docs/conformance.md lists (`target/client-matrix/rmcp/conformance-<scenario>.json` feeds it).
//!
//! rmcp leaves two decisions to the application, and this one makes them the way the suite's
//! reference client does: on a 401 it authorizes from the challenge and connects again, and on
//! a 403 it asks rmcp for the scope upgrade the challenge names (`request_scope_upgrade`); each
//! at most three times per run, so a server that never relents cannot loop it.
//!
//! The four situations of clients without a user are driven from the context their staging
//! hands back, with rmcp's own support (`machine`): client credentials with the context's
//! secret or key, enterprise-managed authorization with its ID token. rmcp has nothing for the
//! workload's assertions of `wif-jwt-bearer`, so there the application only meets the 401, and
//! the record says unsupported. A pass is also held to what the application saw: its tool call
//! answered, unless the client is meant to stop, or the test names where rmcp stops although
//! the suite's checks (which read only the token requests there) pass.

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
use crate::machine::{self, Context, field};

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

    /// Whether the run got as far as the reference client goes: its tool call answered.
    fn called(&self) -> bool {
        self.steps.last().map(String::as_str) == Some("tools/call echo succeeded")
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

/// The reference application as a client without a user, from the context the staging gave:
/// rmcp's client credentials (a secret, or `private_key_jwt` with the context's key), or rmcp's
/// enterprise-managed exchange; then initialize, `tools/list`, `tools/call echo`. For the
/// workload (`wif-jwt-bearer`) rmcp offers nothing: the application connects, meets the 401,
/// and has no rmcp API to present its assertion with.
async fn drive_without_user(sim: &Sim, situation: Situation, context: &Context) -> Run {
    let app = App::new(sim);
    let mut run = Run::default();
    let connected = match situation {
        Situation::ClientCredentialsBasic => {
            let config = machine::with_secret(
                field(context, "client_id"),
                field(context, "client_secret"),
                &sim.mcp_url(),
            );
            machine::connect(&app, config).await
        }
        Situation::ClientCredentialsJwt => {
            // rmcp's `JwtSigningAlgorithm` has no EdDSA; the situation's key is ES256.
            assert_eq!(field(context, "signing_algorithm"), "ES256");
            let config = machine::with_key(
                field(context, "client_id"),
                field(context, "private_key_pem"),
                &sim.mcp_url(),
            );
            machine::connect(&app, config).await
        }
        Situation::EnterpriseManagedAuthorization => {
            // As the suite's context says nothing of scopes, the application asks for none.
            match machine::enterprise(&app, context, &[]).await {
                Ok(token) => {
                    run.note(
                        "rmcp exchanged the ID token for an ID-JAG and the ID-JAG for a token",
                    );
                    machine::connect_bearer(&app, token.access_token.secret())
                        .await
                        .map_err(|error| format!("initialize failed: {error}"))
                }
                Err(why) => Err(why.to_string()),
            }
        }
        Situation::WifJwtBearer => match app.connect(app.manager().await).await {
            Ok(_) => Err("initialize succeeded without a token".to_owned()),
            Err(error) => {
                run.note(format!("initialize without a token failed: {error}"));
                Err(UNSUPPORTED_WIF.to_owned())
            }
        },
        other => panic!("{} has a user", other.name()),
    };
    let session = match connected {
        Ok(session) => {
            run.note("initialize succeeded");
            session
        }
        Err(why) => {
            run.note(why);
            return run;
        }
    };
    match session.list_tools(None).await {
        Ok(_) => run.note("tools/list succeeded"),
        Err(error) => {
            run.note(format!("tools/list failed: {error}"));
            return run;
        }
    }
    match call(&session, "echo", json!({ "message": "conformance" })).await {
        Ok(_) => run.note("tools/call echo succeeded"),
        Err(error) => run.note(format!("tools/call echo failed: {error}")),
    }
    run
}

/// What the application can do with `wif-jwt-bearer`'s assertions through rmcp 3.11.
const UNSUPPORTED_WIF: &str = "unsupported: rmcp 3.11 has no jwt-bearer grant for a workload's \
     own assertion (its only jwt-bearer request redeems an ID-JAG from its enterprise exchange), \
     so valid_jwt cannot be presented";

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
    let context = sim
        .control()
        .stage(situation)
        .await
        .unwrap_or_else(|error| panic!("{} cannot be staged: {error}", situation.name()));
    let run = match situation {
        Situation::ClientCredentialsBasic
        | Situation::ClientCredentialsJwt
        | Situation::WifJwtBearer
        | Situation::EnterpriseManagedAuthorization => {
            drive_without_user(&sim, situation, &context).await
        }
        _ => drive(&sim, situation, document.as_deref()).await,
    };
    let verdict = sim.control().judge(situation).await.expect("the journals");
    (verdict, run)
}

/// What rmcp is expected to earn: a pass, or exactly these failing checks. A pass must be one
/// the application feels, its tool call answered, unless the situation expects the client to
/// stop (`client_errs`) or `stopped` names the step where rmcp stops although the checks pass
/// (the suite checks only the token requests there).
async fn expect(situation: Situation, failing: &[&str], stopped: Option<&str>) {
    // The suite's reference client offers a document wherever it can; so does this one where
    // the situation is about documents.
    let identity = match situation {
        Situation::BasicCimd => Identity::Document,
        _ => Identity::Registered,
    };
    let (verdict, run) = expect_as(situation, identity, failing).await;
    let steps = run.steps.join("\n  ");
    match stopped {
        None if verdict.passed() && !situation.client_errs() => {
            assert!(
                run.called(),
                "the checks pass, the application did not:\n  {steps}"
            );
        }
        None => {}
        Some(why) => {
            assert!(verdict.passed(), "{verdict}");
            assert!(!run.called(), "the application got through:\n  {steps}");
            assert!(
                run.steps.iter().any(|step| step.contains(why)),
                "expected a step saying '{why}':\n  {steps}"
            );
        }
    }
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

/// `<dir>/rmcp/conformance-<scenario>.json`, for the conformance table of docs/conformance.md.
fn record(situation: Situation, verdict: &Verdict, run: &Run) {
    let base = match std::env::var_os("CLIENT_MATRIX_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/client-matrix"),
    };
    let dir = base.join("rmcp");
    fs::create_dir_all(&dir).expect("the matrix directory");
    let mut result = json!({
        "client": "rmcp",
        "scenario": verdict.scenario,
        "passed": verdict.passed(),
        "problems": verdict.problems(),
        "steps": run.steps,
    });
    // A situation rmcp has no support for says so beside its failing checks; a pass the
    // application did not get through says where it stopped.
    if let Some(unsupported) = run
        .steps
        .iter()
        .find(|step| step.starts_with("unsupported: "))
    {
        result["note"] = json!(unsupported);
    } else if verdict.passed() && !run.called() && !situation.client_errs() {
        result["note"] = json!(format!(
            "the suite's checks pass, but the application stopped: {}",
            run.steps
                .last()
                .map(String::as_str)
                .unwrap_or("before any request")
        ));
    }
    let path = dir.join(format!("conformance-{}.json", situation.name()));
    fs::write(&path, serde_json::to_string_pretty(&result).unwrap() + "\n")
        .unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
}

/// One test per situation, each asserting what rmcp earns there.
/// `app_fails "…"` marks a situation whose checks rmcp passes although the application never
/// gets to call a tool: the step it stops at.
macro_rules! situations {
    ($($test:ident => $situation:ident [$($failing:literal),*] $(app_fails $why:literal)?),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $test() {
                let stopped: Option<&str> = None $(.or(Some($why)))?;
                expect(Situation::$situation, &[$($failing),*], stopped).await;
            }
        )*

        /// The situations the table covers.
        const COVERED: &[Situation] = &[$(Situation::$situation),*];
    };
}

/// The table covers every situation the rig stages.
#[test]
fn every_situation_the_rig_stages_has_a_test() {
    let missing: Vec<&str> = Situation::ALL
        .iter()
        .filter(|situation| !COVERED.contains(situation))
        .map(|situation| situation.name())
        .collect();
    assert!(missing.is_empty(), "no test for {missing:?}");
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
    client_credentials_basic => ClientCredentialsBasic [],
    client_credentials_jwt => ClientCredentialsJwt [],
    wif_jwt_bearer => WifJwtBearer ["wif-assertion-verified"],
    enterprise_managed_authorization => EnterpriseManagedAuthorization []
        app_fails "invalid EMA response from ResourceAuthorizationServer: access token scope exceeds ID-JAG scope",
}

/// Enterprise-managed authorization with the application asking for the scope the MCP server's
/// tools need (`mcp:tools`, which its 401 names): the ID-JAG carries it, the AS's token stays
/// within it, rmcp accepts the answer, and the token works at the MCP server, which sees the
/// ID token's user.
#[tokio::test]
async fn enterprise_managed_authorization_asking_for_a_scope_gets_through() {
    let sim = Sim::builder().start().await.expect("the rig starts");
    let situation = Situation::EnterpriseManagedAuthorization;
    let context = sim.control().stage(situation).await.expect("staged");
    let app = App::new(&sim);
    let token = machine::enterprise(&app, &context, &["mcp:tools"])
        .await
        .unwrap_or_else(|why| panic!("{why}"));
    let session = machine::connect_bearer(&app, token.access_token.secret())
        .await
        .expect("initialize with the token");
    let echoed = crate::app::echo(&session, "enterprise").await;
    let identity = machine::whoami(&session).await;
    let verdict = sim.control().judge(situation).await.expect("the journals");

    assert!(verdict.passed(), "{verdict}");
    assert_eq!(echoed.expect("echo answers"), "enterprise");
    assert_eq!(
        token.scopes,
        std::collections::HashSet::from(["mcp:tools".to_owned()])
    );
    assert_eq!(
        identity["client_id"],
        field(&context, "client_id"),
        "{identity}"
    );
    assert_eq!(
        identity["subject"],
        id_token_subject(field(&context, "idp_id_token")),
        "{identity}"
    );
}

/// The `sub` of a JWT, read without verifying it (the rig minted it for the test).
fn id_token_subject(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).expect("a JWT has a payload");
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url"),
    )
    .expect("JSON claims");
    claims["sub"].clone()
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
