//! rmcp across a tunnel that restarted with new URLs (a live re-point) and across a restart of
//! the rig with its state file: what a client holding tokens does when the server it talks to
//! moves.
//!
//! What rmcp (3.11) does, asserted below: `AuthorizationManager::initialize_from_store`
//! compares the issuer it saved with the one it discovers now, and when they differ it clears
//! the stored credentials (a mix-up defence: tokens of one authorization server are never shown
//! to another). So when the authorization server's URL moves, rmcp authorizes again; when only
//! the MCP server's URL moves, or the rig restarts on the same URLs, it carries on with the
//! tokens it holds and refreshes them without a new consent.

use mcp_oauth_sim::control::RePoint;
use mcp_oauth_sim::{RigState, Sim};
use sim_test_kit::forward::Forwarder;

use crate::app::{App, echo};
use crate::rig::{self, Scheme};

/// Tunnels in front of both servers: the rig's public URLs while they are up.
struct Tunnels {
    oauth: Forwarder,
    mcp: Forwarder,
}

impl Tunnels {
    async fn open(sim: &Sim) -> Self {
        Self {
            oauth: Forwarder::to(sim.oauth_addr()).await,
            mcp: Forwarder::to(sim.mcp_addr()).await,
        }
    }

    fn everything(&self) -> RePoint {
        RePoint {
            oauth_url: Some(self.oauth.url()),
            mcp_url: Some(self.mcp.url()),
            keep_old_audience: true,
        }
    }

    fn mcp_only(&self) -> RePoint {
        RePoint {
            oauth_url: None,
            ..self.everything()
        }
    }
}

async fn re_point(sim: &Sim, to: &RePoint) -> RigState {
    let moved = sim.control().re_point(to).await.expect("the rig re-points");
    assert!(
        moved.control_token.is_none(),
        "localhost URLs keep it local"
    );
    moved.state
}

/// Both tokens run out for the rig and for rmcp, so that the next call needs a refresh.
async fn expire(sim: &Sim, app: &App) {
    sim.control()
        .advance_clock(7200)
        .await
        .expect("the clock moves");
    app.age_token(7200).await;
}

/// What an application does once the server moved: an rmcp manager restored from its store,
/// a connection, a call with the token it holds, then the tokens expire and a call that needs a
/// refresh. Answers whether rmcp took the stored credentials, and the two calls' answers.
async fn carry_on(
    sim: &Sim,
    app: &App,
) -> (
    bool,
    Result<String, rmcp::ServiceError>,
    Result<String, rmcp::ServiceError>,
) {
    let mut manager = app.manager().await;
    let loaded = manager
        .initialize_from_store()
        .await
        .expect("rmcp discovers");
    let session = app
        .connect(manager)
        .await
        .expect("initialize with the token it holds");
    let with_old_token = echo(&session, "with the token it holds").await;
    expire(sim, app).await;
    let after_refresh = echo(&session, "after a refresh").await;
    (loaded, with_old_token, after_refresh)
}

#[tokio::test]
async fn rmcp_carries_on_when_the_mcp_servers_url_moves_and_refreshes_for_the_new_one() {
    // Arrange: the MCP server behind a tunnel, rmcp logged in through it.
    let sim = rig::start(Scheme::Http, |builder| builder).await;
    let first = Tunnels::open(&sim).await;
    re_point(&sim, &first.mcp_only()).await;
    let app = App::new(&sim);
    assert_eq!(app.mcp_url(), format!("{}/mcp", first.mcp.url()));
    let session = app.log_in().await;
    assert_eq!(echo(&session, "before").await.unwrap(), "before");
    drop(session);

    // Act: the tunnel restarts with a new URL; the old one is gone.
    let second = Tunnels::open(&sim).await;
    let moved = re_point(&sim, &second.mcp_only()).await;
    drop(first);
    let app = app.moved_to(&moved.mcp.resource);
    let (loaded, with_old_token, after_refresh) = carry_on(&sim, &app).await;
    let state = sim.control().state().await.expect("state");
    let refreshed = app.stored_token("access_token").await;
    let (_, introspected) = app
        .post_form(
            &format!("{}/introspect", sim.issuer()),
            &[("token", refreshed.as_str().unwrap())],
        )
        .await;

    // Assert
    assert!(
        loaded,
        "the issuer did not change, so rmcp keeps its credentials"
    );
    assert_eq!(with_old_token.unwrap(), "with the token it holds");
    assert_eq!(after_refresh.unwrap(), "after a refresh");
    let oauth = &state.oauth.counters;
    assert_eq!(oauth.authorizations, 1, "no new consent");
    assert_eq!(oauth.token_requests.authorization_code, 1);
    assert_eq!(oauth.token_requests.refresh_token, 1);
    assert_eq!(
        oauth.token_errors, 0,
        "the refresh for the new URL was granted"
    );
    assert_eq!(
        introspected["aud"],
        format!("{}/mcp", second.mcp.url()).as_str(),
        "rmcp asked for the new URL (`resource`), which the grant for the old one covers now"
    );
}

#[tokio::test]
async fn rmcp_drops_its_credentials_when_the_authorization_servers_url_moves_and_authorizes_again()
{
    // Arrange: both servers behind tunnels, rmcp logged in through them.
    let sim = rig::start(Scheme::Http, |builder| builder).await;
    let first = Tunnels::open(&sim).await;
    re_point(&sim, &first.everything()).await;
    let app = App::new(&sim);
    let session = app.log_in().await;
    assert_eq!(echo(&session, "before").await.unwrap(), "before");
    drop(session);
    let client_id = app.stored().await.client_id;

    // Act: both tunnels restart with new URLs.
    let second = Tunnels::open(&sim).await;
    let moved = re_point(&sim, &second.everything()).await;
    drop(first);
    let app = app.moved_to(&moved.mcp.resource);
    let mut manager = app.manager().await;
    let loaded = manager
        .initialize_from_store()
        .await
        .expect("rmcp discovers");
    let kept = app.saved().await;
    let session = app.log_in().await;
    let again = echo(&session, "after a new consent").await;
    let state = sim.control().state().await.expect("state");

    // Assert: the rig would have honoured the old tokens (see the test above and
    // `a_re_point_changes_every_url_and_iss_at_once_and_keeps_clients_and_tokens`); rmcp will
    // not show them to an issuer it did not get them from.
    assert!(!loaded, "rmcp refuses credentials saved for another issuer");
    assert!(kept.is_none(), "and clears them: {kept:?}");
    assert_eq!(again.unwrap(), "after a new consent");
    assert_eq!(moved.oauth.issuer, second.oauth.url());
    assert_ne!(
        app.stored().await.client_id,
        client_id,
        "it registered again"
    );
    assert_eq!(state.oauth.counters.authorizations, 2);
}

#[tokio::test]
async fn rmcp_carries_on_across_a_restart_of_the_rig_with_its_state_file() {
    // Arrange
    let dir = sim_test_kit::pki::TempDir::new("rmcp-state-file");
    let path = dir.path().join("state.json");
    let sim = rig::start(Scheme::Http, |builder| builder.state_file(&path)).await;
    let (oauth_port, mcp_port) = (sim.oauth_addr().port(), sim.mcp_addr().port());
    let app = App::new(&sim);
    let session = app.log_in().await;
    assert_eq!(echo(&session, "before").await.unwrap(), "before");
    drop(session);

    // Act: a clean stop, and the rig again on the same ports (the same URLs).
    sim.stop()
        .await
        .expect("the rig stops and writes its state");
    let sim = rig::start(Scheme::Http, |builder| {
        builder.state_file(&path).ports(oauth_port, mcp_port)
    })
    .await;
    let app = app.moved_to(&sim.mcp_url());
    let (loaded, with_old_token, after_refresh) = carry_on(&sim, &app).await;
    let state = sim.control().state().await.expect("state");

    // Assert
    assert!(loaded);
    assert_eq!(with_old_token.unwrap(), "with the token it holds");
    assert_eq!(after_refresh.unwrap(), "after a refresh");
    let oauth = &state.oauth.counters;
    assert_eq!(oauth.authorizations, 0, "no new consent after the restart");
    assert_eq!(oauth.registrations, 0, "nor a new registration");
    assert_eq!(oauth.token_requests.refresh_token, 1);
    assert_eq!(oauth.token_errors, 0);
    assert_eq!(
        state.mcp.counters.unauthorized, 1,
        "the expired token, once"
    );
}
