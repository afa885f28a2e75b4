//! The bench tool against our own rig, started in-process: the real authorization server and
//! the real MCP server on 127.0.0.1:0, with real HTTP between them. Runs are short and bounded.

use std::time::Duration;

use mcp_server::McpServer;
use oauth_server::AuthServer;
use serde_json::json;
use sim_bench::ceiling;
use sim_bench::commands::{self, ClientChoice};
use sim_bench::load::{self, CallTarget, Load};
use sim_bench::soak;
use url::Url;

/// Both servers, wired as the launcher wires them.
struct Rig {
    auth: AuthServer,
    mcp: McpServer,
}

impl Rig {
    async fn start() -> Self {
        let auth = AuthServer::start(oauth_server::Config::default())
            .await
            .expect("authorization server starts");
        let mcp = McpServer::start(mcp_server::Config {
            authorization_servers: vec![mcp_server::AuthorizationServer::new(
                auth.issuer().to_owned(),
                format!("http://{}/introspect", auth.addr()),
            )],
            ..mcp_server::Config::default()
        })
        .await
        .expect("MCP server starts");
        Self { auth, mcp }
    }

    fn target(&self) -> CallTarget {
        let url = Url::parse(&self.mcp.url()).unwrap();
        commands::call_target(&url, None, "echo", &json!({"message": "bench"})).unwrap()
    }
}

fn brief(concurrency: usize) -> Load {
    Load::brief(concurrency, Duration::from_millis(700))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_flow_discovers_the_rig_registers_and_redeems_a_code() {
    let rig = Rig::start().await;
    let (discovered, registration, token) =
        commands::obtain_token(&rig.target(), &ClientChoice::Register, None)
            .await
            .expect("a token, headlessly");
    assert_eq!(discovered.issuer, rig.auth.issuer());
    assert_eq!(discovered.resource, rig.mcp.url());
    assert_eq!(discovered.scope.as_deref(), Some("mcp:tools"));
    assert!(discovered.registration_endpoint.is_some());
    assert_eq!(registration.auth_method, "none");
    assert_eq!(token.len(), 43);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_against_the_rig_succeed_without_errors() {
    let rig = Rig::start().await;
    let target = rig.target();
    let (_, _, token) = commands::obtain_token(&target, &ClientChoice::Register, None)
        .await
        .unwrap();
    let report = load::calls(&target, &token, brief(4)).await.unwrap();
    assert_eq!(report.error_count(), 0, "{}", report.to_text());
    assert!(report.ok() > 0, "{}", report.to_text());
    assert!(report.percentile_ms(50.0) > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_against_the_rig_reuse_one_registration_without_errors() {
    let rig = Rig::start().await;
    let target = rig.target();
    let (discovered, registration, _) =
        commands::obtain_token(&target, &ClientChoice::Register, None)
            .await
            .unwrap();
    let report = load::flows(&target, &discovered, &registration, brief(4))
        .await
        .unwrap();
    assert_eq!(report.error_count(), 0, "{}", report.to_text());
    assert!(report.ok() > 0, "{}", report.to_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_the_rig_never_issued_is_counted_as_401_at_initialize() {
    let rig = Rig::start().await;
    let report = load::calls(&rig.target(), "not-a-token", brief(2))
        .await
        .unwrap();
    assert_eq!(report.ok(), 0);
    assert_eq!(
        report.errors.get("initialize:401"),
        Some(&2),
        "{}",
        report.to_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ceiling_endpoint_is_measured_by_the_same_client() {
    let server = ceiling::Background::start().unwrap();
    let url = Url::parse(&format!("http://{}/mcp", server.addr)).unwrap();
    let target = commands::call_target(&url, None, "echo", &json!({})).unwrap();
    let report = load::calls(&target, "unused", brief(2)).await.unwrap();
    assert_eq!(report.error_count(), 0, "{}", report.to_text());
    assert!(report.ok() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_brief_soak_sees_only_expected_errors_and_leaves_the_store_empty() {
    // Arrange: the rig in this process, sweeping often so that settling is quick.
    let auth = AuthServer::start(oauth_server::Config {
        sweep_interval: Duration::from_millis(50),
        ..oauth_server::Config::default()
    })
    .await
    .unwrap();
    let mcp = McpServer::start(mcp_server::Config {
        authorization_servers: vec![mcp_server::AuthorizationServer::new(
            auth.issuer().to_owned(),
            format!("http://{}/introspect", auth.addr()),
        )],
        ..mcp_server::Config::default()
    })
    .await
    .unwrap();
    let options = soak::Options {
        users: 8,
        duration: Duration::from_secs(2),
        flip_every: Duration::from_millis(40),
        settle_timeout: Duration::from_secs(5),
        quiet: Duration::ZERO,
        timeout: Duration::from_secs(5),
    };
    let url = Url::parse(&mcp.url()).unwrap();

    // Act
    let report = soak::run(&Default::default(), &url, std::process::id(), &options)
        .await
        .expect("the soak runs");

    // Assert
    let text = report.to_text();
    let tally = &report.tally;
    assert_eq!(tally.unexpected_count(), 0, "{text}");
    for operation in ["call", "refresh", "authorize", "flip"] {
        assert!(
            tally.ok.get(operation).is_some_and(|&n| n > 0),
            "no {operation}: {text}"
        );
    }
    assert!(tally.expected_count() > 0, "the flips showed: {text}");
    assert!(tally.requests > tally.ok.values().sum::<u64>(), "{text}");
    assert!(report.tokens_loaded > 0, "{text}");
    assert_eq!(report.tokens_end, 0, "{text}");
    if cfg!(target_os = "linux") {
        assert!(report.rss_peak >= report.rss_start, "{text}");
        assert!(report.rss_end.is_some(), "{text}");
    }
    let state = reqwest_free_state(&auth).await;
    assert_eq!(
        state["clock"]["offset_seconds"], 0,
        "the clock is reset: {state}"
    );
    assert_eq!(state["toggles"]["rotate_refresh_tokens"], false, "{state}");
}

/// The authorization server's state, read with the bench's own client.
async fn reqwest_free_state(auth: &AuthServer) -> serde_json::Value {
    let url = Url::parse(&format!("http://{}/control/state", auth.addr())).unwrap();
    let mut conn = sim_bench::http::Conn::new(
        sim_bench::http::Origin::of(&url).unwrap(),
        Default::default(),
    );
    let reply = conn
        .send(sim_bench::http::get("/control/state"))
        .await
        .unwrap();
    serde_json::from_slice(&reply.body).unwrap()
}
