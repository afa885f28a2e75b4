//! Behind a tunnel: public base URLs in everything a client reads (AS metadata, protected
//! resource metadata, the challenge, `iss`) while the rig keeps talking to itself over loopback,
//! and a control plane that demands the token it printed. `script`: `scripts/tunnel.sh`.

mod script;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

/// A port nothing listens on (just released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("find a free port")
        .port()
}

/// `serve` with both public base URLs, on ports 0.
fn serve_behind_tunnel(dir: &WorkDir) -> Serving {
    Launch::new(dir)
        .args(EPHEMERAL_PORTS)
        .env("OAUTH_BASE_URL", PUBLIC_ISSUER)
        .env("MCP_BASE_URL", PUBLIC_MCP_ORIGIN)
        .serve()
}

/// A client reaching the rig over loopback, as the tunnel's far end does, and presenting the
/// public host to the MCP server, as the tunnel forwards it.
fn loopback_caller(rig: &Serving) -> Caller {
    Caller::new(
        http_client(),
        rig.oauth.local_origin(),
        format!("{}/mcp", rig.mcp.local_origin()),
    )
    .with_mcp_host("mcp.example.test")
}

/// The token from `[control] for the scenario command: export CONTROL_TOKEN=…`.
fn printed_control_token(rig: &mut Serving) -> String {
    rig.line_starting("[control] for the scenario command: export CONTROL_TOKEN=")
        .rsplit_once('=')
        .expect("the line ends with the token")
        .1
        .to_owned()
}

#[tokio::test]
async fn public_base_urls_appear_in_metadata_prm_challenge_and_iss_while_introspection_stays_local()
{
    // Arrange
    let dir = WorkDir::new();
    let mut rig = serve_behind_tunnel(&dir);
    let caller = loopback_caller(&rig);

    // Act
    let (_, metadata) = caller
        .get_json(&format!(
            "{}/.well-known/oauth-authorization-server",
            caller.auth
        ))
        .await;
    let (_, prm) = caller
        .get_json(&format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            rig.mcp.local_origin()
        ))
        .await;
    let (unauthorized, challenge) = caller.challenge().await;
    let client_id = caller.register().await;
    let redirect = caller.authorize(&client_id, PUBLIC_MCP_URL).await;
    let tokens = caller.log_in(PUBLIC_MCP_URL).await;
    let (status, response) = caller.echo(&tokens.access, "through the tunnel").await;

    // Assert
    let oauth_addr = rig.oauth.addr;
    assert_eq!(
        rig.stdout_so_far()[0],
        format!("[oauth] authorization server {PUBLIC_ISSUER} (http on {oauth_addr})")
    );
    assert_eq!(
        rig.stdout_so_far()[1],
        format!(
            "[mcp] protected MCP server {PUBLIC_MCP_URL} (http on {}; tokens checked at http://{oauth_addr}/introspect)",
            rig.mcp.addr
        )
    );
    assert_eq!(
        rig.mcp.introspection,
        Some(format!("http://{oauth_addr}/introspect"))
    );
    assert_eq!(metadata["issuer"], PUBLIC_ISSUER);
    for (field, path) in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("registration_endpoint", "/register"),
        ("introspection_endpoint", "/introspect"),
    ] {
        assert_eq!(metadata[field], format!("{PUBLIC_ISSUER}{path}"), "{field}");
    }
    assert_eq!(prm["resource"], PUBLIC_MCP_URL);
    assert_eq!(prm["authorization_servers"], json!([PUBLIC_ISSUER]));
    assert_eq!(unauthorized, StatusCode::UNAUTHORIZED);
    assert!(
        challenge.contains(&format!(
            "resource_metadata=\"{PUBLIC_MCP_ORIGIN}/.well-known/oauth-protected-resource/mcp\""
        )),
        "{challenge}"
    );
    assert_eq!(
        query_value(&redirect, "iss").as_deref(),
        Some(PUBLIC_ISSUER),
        "{redirect}"
    );
    assert_eq!(status, StatusCode::OK, "{response}");
    assert_eq!(tool_text(&response), "through the tunnel");
    let token = printed_control_token(&mut rig);
    let state = http_client()
        .get(format!("{}/control/state", rig.mcp.local_origin()))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET /control/state");
    let state = body_json(state).await;
    assert_eq!(state["counters"]["tool_calls"], 1, "{state}");
    assert_eq!(state["counters"]["introspection_failures"], 0, "{state}");
}

#[tokio::test]
async fn in_tunnel_mode_control_answers_401_without_the_printed_token() {
    // Arrange
    let dir = WorkDir::new();
    let mut rig = serve_behind_tunnel(&dir);
    let warning = rig.line_starting("[control] the rig is reachable from outside");
    let token = printed_control_token(&mut rig);
    let http = http_client();

    for origin in [rig.oauth.local_origin(), rig.mcp.local_origin()] {
        let url = format!("{origin}/control/state");

        // Act
        let anonymous = http.get(&url).send().await.expect("GET").status();
        let wrong = http
            .get(&url)
            .bearer_auth("not-the-token")
            .send()
            .await
            .expect("GET")
            .status();
        let with_token = http
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .expect("GET")
            .status();

        // Assert
        assert_eq!(anonymous, StatusCode::UNAUTHORIZED, "{url}");
        assert_eq!(wrong, StatusCode::UNAUTHORIZED, "{url}");
        assert_eq!(with_token, StatusCode::OK, "{url}");
    }
    assert!(
        warning.contains(&format!("`Authorization: Bearer {token}`")),
        "{warning}"
    );
    assert_eq!(token.len(), 43, "{token}");
}

#[tokio::test]
async fn scenario_on_a_tunnelled_rig_needs_the_control_token() {
    // Arrange
    let dir = WorkDir::new();
    let mut rig = serve_behind_tunnel(&dir);
    let token = printed_control_token(&mut rig);
    let ports = rig.port_args();
    let scenario = |token: Option<&str>| {
        let mut launch = Launch::new(&dir)
            .args(["scenario", "rotate", "on"])
            .args(ports.iter().map(String::as_str))
            .env("OAUTH_BASE_URL", PUBLIC_ISSUER)
            .env("MCP_BASE_URL", PUBLIC_MCP_ORIGIN);
        if let Some(token) = token {
            launch = launch.env("CONTROL_TOKEN", token);
        }
        launch.run()
    };

    // Act
    let without = scenario(None);
    let with = scenario(Some(&token));

    // Assert
    assert_eq!(without.status.code(), Some(1), "{without:#?}");
    assert!(without.stderr.starts_with("error: "), "{without:#?}");
    assert!(without.stderr.contains("401"), "{without:#?}");
    let words = with.assert_success().stdout_words();
    assert!(words.contains("rotate on"), "{words}");
    assert!(words.contains(&format!("oauth {PUBLIC_ISSUER}")), "{words}");
    assert!(words.contains(&format!("mcp {PUBLIC_MCP_URL}")), "{words}");
}

#[tokio::test]
async fn a_chosen_control_token_is_required_and_never_printed() {
    // Arrange
    let dir = WorkDir::new();
    let chosen = "chosen-control-token-for-the-tests";

    // Act
    let mut rig = Launch::new(&dir)
        .args(EPHEMERAL_PORTS)
        .env("MCP_BASE_URL", PUBLIC_MCP_ORIGIN)
        .env("CONTROL_TOKEN", chosen)
        .serve();

    // Assert
    let line = rig.line_starting("[control] ");
    assert_eq!(
        line,
        "[control] /control requires the bearer token in CONTROL_TOKEN"
    );
    let url = format!("{}/control/state", rig.oauth.local_origin());
    let http = http_client();
    let anonymous = http.get(&url).send().await.expect("GET").status();
    let with_token = http
        .get(&url)
        .bearer_auth(chosen)
        .send()
        .await
        .expect("GET")
        .status();
    assert_eq!(anonymous, StatusCode::UNAUTHORIZED);
    assert_eq!(with_token, StatusCode::OK);
    let finished = rig.stop_with("TERM");
    assert!(!finished.stdout.contains(chosen), "{finished:#?}");
}

#[tokio::test]
async fn a_sim_behind_public_urls_generates_a_control_token_that_its_control_client_sends() {
    // Arrange
    let sim = mcp_oauth_sim::Sim::builder()
        .oauth_base_url(PUBLIC_ISSUER)
        .mcp_base_url(PUBLIC_MCP_ORIGIN)
        .start()
        .await
        .expect("the rig starts");
    let caller = Caller::new(
        http_client(),
        format!("http://{}", sim.oauth_addr()),
        format!("http://{}/mcp", sim.mcp_addr()),
    )
    .with_mcp_host("mcp.example.test");

    // Act
    let tokens = caller.log_in(PUBLIC_MCP_URL).await;
    let (status, response) = caller.echo(&tokens.access, "tunnelled sim").await;
    let state = sim.control().force_403(true).await;
    let anonymous = http_client()
        .get(format!("http://{}/control/state", sim.mcp_addr()))
        .send()
        .await
        .expect("GET")
        .status();

    // Assert
    assert_eq!(sim.issuer(), PUBLIC_ISSUER);
    assert_eq!(sim.mcp_url(), PUBLIC_MCP_URL);
    assert_eq!(
        sim.introspection_url(),
        format!("http://{}/introspect", sim.oauth_addr())
    );
    assert!(sim.control_token_generated());
    assert_eq!(sim.control_token().map(str::len), Some(43));
    assert_eq!(status, StatusCode::OK, "{response}");
    let state = state.expect("the control client carries the token");
    assert!(state.toggles.force_403);
    assert_eq!(state.counters.tool_calls, 1);
    assert_eq!(anonymous, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn oauth_internal_url_is_where_the_mcp_server_checks_tokens() {
    // Arrange: one rig checking tokens at a closed port, one at its own AS by full endpoint.
    let dir = WorkDir::new();
    let closed = free_port();
    let mut astray = Launch::new(&dir)
        .args(EPHEMERAL_PORTS)
        .env("OAUTH_INTERNAL_URL", &format!("http://127.0.0.1:{closed}/"))
        .serve();
    let oauth_port = free_port().to_string();
    let mut direct = Launch::new(&dir)
        .args(["--oauth-port", &oauth_port, "--mcp-port", "0"])
        .env(
            "OAUTH_INTERNAL_URL",
            &format!("http://127.0.0.1:{oauth_port}/introspect"),
        )
        .serve();

    // Act
    let mut answers = Vec::new();
    for rig in [&astray, &direct] {
        let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);
        let tokens = caller.log_in(&rig.mcp.url).await;
        answers.push(caller.echo(&tokens.access, "checked").await);
    }

    // Assert
    assert_eq!(
        astray.mcp.introspection,
        Some(format!("http://127.0.0.1:{closed}/introspect"))
    );
    assert_eq!(
        answers[0].0,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answers[0].1
    );
    astray.line_starting("[mcp] POST /mcp 503");
    assert_eq!(
        direct.mcp.introspection,
        Some(format!("http://127.0.0.1:{oauth_port}/introspect"))
    );
    assert_eq!(answers[1].0, StatusCode::OK, "{}", answers[1].1);
    direct.line_starting("[oauth] POST /introspect 200");
}

#[tokio::test]
async fn behind_a_tunnel_no_document_is_fetched_from_an_inside_address_unless_listed() {
    // Arrange: a document on loopback, and two tunnelled rigs: one lists nothing, one lists
    // 127.0.0.1 (as FETCH_ALLOW_HOSTS would).
    let pki = sim_test_kit::pki::TestPki::generate("tunnel documents");
    let ca = sim_test_kit::pki::TempDir::new("tunnel-documents");
    let ca_file = ca.write("ca.pem", &pki.ca_pem);
    let host = sim_test_kit::documents::DocumentHost::start(Some(&pki)).await;
    let redirect = "http://127.0.0.1:8765/callback";
    let id = host.client("/client.json", &[redirect], vec![]);
    let tunnelled = |allowed: Option<&str>| {
        let mut settings = mcp_oauth_sim::Settings {
            oauth_port: 0,
            mcp_port: 0,
            dashboard_port: 0,
            oauth_base_url: Some(PUBLIC_ISSUER.into()),
            mcp_base_url: Some(PUBLIC_MCP_ORIGIN.into()),
            fetch_ca_file: Some(ca_file.clone()),
            ..mcp_oauth_sim::Settings::default()
        };
        if let Some(allowed) = allowed {
            settings.fetch_allow_hosts = vec![sim_http::fetch::Allowed::parse(allowed).unwrap()];
        }
        mcp_oauth_sim::Sim::start(settings)
    };
    let strict = tunnelled(None).await.expect("the rig starts");
    let listed = tunnelled(Some("127.0.0.0/8"))
        .await
        .expect("the rig starts");
    let authorize = async |sim: &mcp_oauth_sim::Sim| {
        let pkce = sim_test_kit::oauth::Pkce::new();
        sim_test_kit::oauth::Flow::new(http_client(), format!("http://{}", sim.oauth_addr()))
            .authorize_raw(&id, &pkce, &[])
            .await
    };

    // Act
    let refused = authorize(&strict).await;
    let refused_status = refused.status();
    let page = refused.text().await.unwrap();
    let allowed = authorize(&listed).await;

    // Assert
    assert_eq!(refused_status, StatusCode::BAD_REQUEST);
    assert!(page.contains("is not a public address"), "{page}");
    assert!(page.contains("FETCH_ALLOW_HOSTS"), "{page}");
    assert_eq!(
        allowed.status(),
        StatusCode::FOUND,
        "{:?}",
        allowed.text().await
    );
    assert_eq!(
        host.hits("/client.json"),
        1,
        "only the rig that lists loopback fetched"
    );
}
