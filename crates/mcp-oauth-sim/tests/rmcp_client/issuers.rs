//! rmcp against a path issuer: the MCP server trusts `tenant1` (`/tenant1` of the AS's port),
//! so rmcp must find its metadata at the RFC 8414 path-inserted location, register and
//! authorize under the path, and store the tenant's issuer; then the resource moves back to
//! `main`, and the tenant's tokens stop working. Not part of the Tested-clients matrix: it
//! proves the rig's issuers, not a seed scenario.

use mcp_oauth_sim::Service;
use serde_json::json;

use crate::app::{App, echo};
use crate::journal::Mark;
use crate::rig::{self, Scheme};

async fn run(scheme: Scheme) {
    // Arrange
    let sim = rig::start(scheme, |builder| {
        builder
            .issuer("tenant1=/tenant1")
            .authorization_servers(["tenant1"])
    })
    .await;
    let tenant = sim.issuer_named("tenant1").expect("tenant1 is hosted");
    let app = App::new(&sim);

    // Act
    let challenge = app.challenge().await;
    let manager = app.authorize(App::request(&challenge)).await;
    let session = app.connect(manager).await.expect("initialize succeeds");
    let echoed = echo(&session, "from a path issuer").await;
    let oauth = Mark::beginning().lines(&sim, Service::OAuth).await;
    let stored = app.stored().await;
    let tenant_state = sim.control().issuer("tenant1").oauth_state().await.unwrap();
    let main_state = sim.control().oauth_state().await.unwrap();
    sim.control()
        .trust_issuers(&["main"])
        .await
        .expect("the MCP server trusts main again");
    let after_move = echo(&session, "after the move").await;

    // Assert
    assert_eq!(tenant.issuer, format!("{}/tenant1", sim.issuer()));
    assert_eq!(echoed.expect("echo succeeds"), "from a path issuer");
    assert_eq!(stored.issuer.as_deref(), Some(tenant.issuer.as_str()));
    assert_eq!(
        oauth,
        [
            "GET /.well-known/oauth-authorization-server/tenant1 200",
            "POST /tenant1/register 201",
            "GET /tenant1/authorize 302",
            "POST /tenant1/token 200 authorization_code",
        ],
        "everything at the tenant, nothing at the root"
    );
    assert_eq!(tenant_state.counters.registrations, 1);
    assert_eq!(tenant_state.counters.token_requests.authorization_code, 1);
    assert_eq!(main_state.counters.registrations, 0);
    assert!(
        after_move.is_err(),
        "a token of an issuer the resource no longer lists is refused: {after_move:?}"
    );
    let events = sim
        .control()
        .events(Service::OAuth, 0)
        .await
        .unwrap()
        .events;
    assert!(
        events
            .iter()
            .filter(|event| event.path.starts_with("/tenant1"))
            .all(|event| event.issuer.as_deref() == Some("tenant1")),
        "{}",
        json!(events)
    );
}

#[tokio::test]
async fn http_rmcp_discovers_registers_and_authorizes_at_a_path_issuer() {
    run(Scheme::Http).await;
}

#[tokio::test]
async fn https_rmcp_discovers_registers_and_authorizes_at_a_path_issuer() {
    run(Scheme::Https).await;
}
