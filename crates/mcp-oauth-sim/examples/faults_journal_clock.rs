//! Fault rules, the clock and the journal from Rust (`docs/embedding.md`): the clock moved past
//! every token's expiry, the next two refreshes made to fail, a client that recovers, and the
//! journal showing what it did, live and afterwards. `cargo run --example faults_journal_clock`;
//! the test suite runs it too.

// docs:start
use mcp_oauth_sim::control::{Fault, Respond, Watched};
use mcp_oauth_sim::{Service, Sim};
// docs:end
use reqwest::StatusCode;

#[path = "stand_in/mod.rs"]
mod stand_in;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    run().await
}

/// A logged-in client finds its token expired, refreshes through two 503s, and calls again.
pub async fn run() -> anyhow::Result<()> {
    // docs:start
    let sim = Sim::builder()
        .tool_scopes([("add", "mcp:write")]) // as TOOL_SCOPES
        .journal_size(5_000) // as JOURNAL_SIZE
        .start()
        .await?;
    let control = sim.control();
    let mut client = log_in(&sim).await?; // the client under test, logged in
    // The next two refreshes answer 503; the third goes through.
    let rule = Fault::new("token", Respond::status(503))
        .grant_type("refresh_token")
        .times(2);
    control.add_fault(Service::OAuth, &rule).await?;
    control.advance_clock(3600).await?; // every token issued so far has expired
    let mut live = control.watch_all().await?; // both journals, as requests happen
    let run = tokio::spawn(async move { client.echo_refreshing(5).await });
    while let Some(Ok(Watched::Event(event))) = live.next().await {
        println!("{event}"); // [oauth] #7 POST /token 503 grant=refresh_token …
        if event.status == 200 && event.grant_type.as_deref() == Some("refresh_token") {
            break;
        }
    }
    let refreshes = control
        .all_events(0)
        .await?
        .iter()
        .filter(|event| event.grant_type.as_deref() == Some("refresh_token"))
        .count();
    assert_eq!(refreshes, 3);
    // docs:end
    let seen = run.await??;
    assert_eq!(
        seen,
        [401, 503, 503, 200, 200].map(|code| StatusCode::from_u16(code).unwrap()),
        "expired, two faulted refreshes, a refresh, a call that goes through"
    );
    assert_eq!(control.mcp_state().await?.tool_scopes["add"], "mcp:write");
    let rules = control.faults(Service::OAuth).await?;
    assert!(
        rules.is_empty(),
        "a rule that has fired its times is gone: {rules:?}"
    );
    Ok(())
}

/// The client under test, logged in to `sim` before the failures start.
async fn log_in(sim: &Sim) -> anyhow::Result<stand_in::Client> {
    let http = stand_in::http(None)?;
    Ok(stand_in::Client::log_in(http, &sim.issuer(), &sim.mcp_url()).await)
}
