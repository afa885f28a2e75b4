//! HTTPS: `certs` then `serve` in the same directory, verified by a client that trusts only
//! `certs/ca.pem`; certificates the user brings; and the library's generated CA.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

/// Logs in through `caller` and calls `echo`, asserting every step succeeds.
async fn log_in_and_echo(caller: &Caller, resource: &str) {
    let tokens = caller.log_in(resource).await;
    let (status, response) = caller.echo(&tokens.access, "over TLS").await;
    assert_eq!(status, StatusCode::OK, "{response}");
    assert_eq!(tool_text(&response), "over TLS");
}

#[tokio::test]
async fn after_certs_serve_speaks_https_that_a_client_trusting_only_ca_pem_verifies() {
    // Arrange
    let dir = WorkDir::new();
    let certs = Launch::new(&dir).arg("certs").run();
    certs.assert_success();
    let ca_pem = dir.read("certs/ca.pem");

    // Act
    let mut rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();

    // Assert
    assert!(
        certs.stdout.starts_with("wrote a new CA: certs/ca.pem"),
        "{certs:#?}"
    );
    assert!(certs.stdout.contains("NODE_EXTRA_CA_CERTS="), "{certs:#?}");
    for file in ["ca.pem", "ca-key.pem", "localhost.pem", "localhost-key.pem"] {
        assert!(dir.path().join("certs").join(file).is_file(), "{file}");
    }
    assert_eq!(
        rig.oauth.url,
        format!("https://localhost:{}", rig.oauth.port())
    );
    assert_eq!(
        rig.mcp.url,
        format!("https://localhost:{}/mcp", rig.mcp.port())
    );
    assert_eq!(rig.oauth.scheme, "https");
    rig.line_starting("[tls] serving certs/localhost.pem; clients must trust certs/ca.pem");
    let caller = Caller::new(
        client_trusting_only(ca_pem.as_bytes()),
        &rig.oauth.url,
        &rig.mcp.url,
    );
    let (status, metadata) = caller
        .get_json(&format!(
            "{}/.well-known/oauth-authorization-server",
            rig.oauth.url
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(metadata["issuer"], rig.oauth.url.as_str());
    assert_eq!(
        metadata["token_endpoint"],
        format!("{}/token", rig.oauth.url)
    );
    let (_, prm) = caller
        .get_json(&format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            caller.mcp_origin()
        ))
        .await;
    assert_eq!(prm["resource"], rig.mcp.url.as_str());
    assert_eq!(prm["authorization_servers"], json!([rig.oauth.url]));
    // The MCP server checks the token over HTTPS too, trusting the same CA.
    log_in_and_echo(&caller, &rig.mcp.url).await;
    let untrusting = http_client()
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            rig.oauth.url
        ))
        .send()
        .await;
    assert!(
        untrusting.is_err(),
        "a client without the CA must not connect: {untrusting:?}"
    );
}

#[tokio::test]
async fn certs_again_keeps_the_ca_so_a_client_trusting_the_first_one_still_verifies() {
    // Arrange
    let dir = WorkDir::new();
    Launch::new(&dir)
        .args(["certs"])
        .env("CERTS_DIR", "tls")
        .run()
        .assert_success();
    let first_ca = dir.read("tls/ca.pem");
    let first_leaf = dir.read("tls/localhost.pem");

    // Act
    let again = Launch::new(&dir)
        .args(["certs"])
        .env("CERTS_DIR", "tls")
        .run();
    let mut rig = Launch::new(&dir)
        .args(EPHEMERAL_PORTS)
        .env("CERTS_DIR", "tls")
        .serve();

    // Assert
    assert!(
        again
            .assert_success()
            .stdout
            .starts_with("kept the CA in tls/ca.pem"),
        "{again:#?}"
    );
    assert_eq!(dir.read("tls/ca.pem"), first_ca);
    assert_ne!(dir.read("tls/localhost.pem"), first_leaf, "a new leaf");
    rig.line_starting("[tls] serving tls/localhost.pem; clients must trust tls/ca.pem");
    let caller = Caller::new(
        client_trusting_only(first_ca.as_bytes()),
        &rig.oauth.url,
        &rig.mcp.url,
    );
    log_in_and_echo(&caller, &rig.mcp.url).await;
}

#[test]
fn certs_with_new_ca_replaces_the_ca() {
    // Arrange
    let dir = WorkDir::new();
    Launch::new(&dir).arg("certs").run().assert_success();
    let first_ca = dir.read("certs/ca.pem");

    // Act
    let finished = Launch::new(&dir).args(["certs", "--new-ca"]).run();

    // Assert
    assert!(
        finished
            .assert_success()
            .stdout
            .starts_with("wrote a new CA: certs/ca.pem"),
        "{finished:#?}"
    );
    assert_ne!(dir.read("certs/ca.pem"), first_ca);
}

#[tokio::test]
async fn tls_cert_and_key_files_serve_https_and_introspection_trusts_the_chain_they_hold() {
    // Arrange: certificates somewhere other than ./certs, named by the two variables.
    let dir = WorkDir::new();
    Launch::new(&dir)
        .args(["certs", "--certs-dir", "elsewhere"])
        .run()
        .assert_success();
    let ca_pem = dir.read("elsewhere/ca.pem");

    // Act
    let mut rig = Launch::new(&dir)
        .args(EPHEMERAL_PORTS)
        .env("TLS_CERT_FILE", "elsewhere/localhost.pem")
        .env("TLS_KEY_FILE", "elsewhere/localhost-key.pem")
        .serve();

    // Assert
    assert_eq!(rig.oauth.scheme, "https");
    let tls_line = rig.line_starting("[tls] ");
    assert_eq!(tls_line, "[tls] serving elsewhere/localhost.pem");
    let caller = Caller::new(
        client_trusting_only(ca_pem.as_bytes()),
        &rig.oauth.url,
        &rig.mcp.url,
    );
    log_in_and_echo(&caller, &rig.mcp.url).await;
}

#[tokio::test]
async fn scenario_in_the_directory_with_certs_reaches_the_https_rig() {
    // Arrange
    let dir = WorkDir::new();
    Launch::new(&dir).arg("certs").run().assert_success();
    let rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();
    let ports = rig.port_args();

    // Act
    let finished = Launch::new(&dir)
        .args(["scenario", "deny-consent", "on"])
        .args(ports.iter().map(String::as_str))
        .run();

    // Assert
    let words = finished.assert_success().stdout_words();
    assert!(words.contains("deny-consent on"), "{words}");
    assert!(
        words.contains(&format!("oauth https://localhost:{}", rig.oauth.port())),
        "{words}"
    );
}

#[tokio::test]
async fn https_sim_serves_both_ports_to_a_client_trusting_only_its_ca_pem() {
    // Arrange
    let sim = mcp_oauth_sim::Sim::builder()
        .https()
        .expect("generate certificates")
        .start()
        .await
        .expect("the rig starts");
    let ca_pem = sim.ca_pem().expect("a generated CA").to_owned();
    let caller = Caller::new(
        client_trusting_only(ca_pem.as_bytes()),
        sim.issuer(),
        sim.mcp_url(),
    );

    // Act
    log_in_and_echo(&caller, &sim.mcp_url()).await;
    let state = sim.control().state().await.expect("control over HTTPS");

    // Assert
    assert_eq!(sim.scheme(), "https");
    assert_eq!(
        sim.issuer(),
        format!("https://localhost:{}", sim.oauth_addr().port())
    );
    assert_eq!(
        sim.mcp_url(),
        format!("https://localhost:{}/mcp", sim.mcp_addr().port())
    );
    assert!(
        ca_pem.starts_with("-----BEGIN CERTIFICATE-----"),
        "{ca_pem}"
    );
    assert_eq!(
        sim.introspection_url(),
        format!("https://{}/introspect", sim.oauth_addr())
    );
    assert_eq!(state.mcp.counters.tool_calls, 1);
    assert_eq!(state.mcp.counters.introspection_failures, 0);
    let untrusting = http_client().get(sim.issuer()).send().await;
    assert!(untrusting.is_err(), "{untrusting:?}");
}
