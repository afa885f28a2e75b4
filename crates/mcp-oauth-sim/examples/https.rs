//! The rig over HTTPS (`docs/embedding.md`): `.https()?` generates a CA and a leaf for
//! `localhost`, and a client that trusts that CA alone (`sim.ca_pem()`) logs in and calls a
//! tool. `cargo run --example https`; the test suite runs it too.

// docs:start
use mcp_oauth_sim::Sim;
// docs:end
use reqwest::StatusCode;

#[path = "stand_in/mod.rs"]
mod stand_in;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    run().await
}

/// Every URL the rig announces is `https://`, and verifies against the generated CA only.
pub async fn run() -> anyhow::Result<()> {
    // docs:start
    let sim = Sim::builder().https()?.start().await?; // a fresh CA, a leaf for localhost
    let ca_pem = sim.ca_pem().expect("the CA it generated"); // what the client must trust
    let client = log_in(ca_pem, &sim).await?; // the client under test, trusting that CA alone
    assert!(sim.mcp_url().starts_with("https://localhost:"));
    assert_eq!(client.echo("over TLS").await?, StatusCode::OK);
    // docs:end
    let untrusting = stand_in::http(None)?;
    let refused = untrusting.get(sim.mcp_url()).send().await;
    assert!(
        refused.is_err(),
        "without the CA the certificate does not verify"
    );
    sim.stop().await?;
    Ok(())
}

/// The client under test, logged in over HTTPS with `ca_pem` as its only root.
async fn log_in(ca_pem: &str, sim: &Sim) -> anyhow::Result<stand_in::Client> {
    let http = stand_in::http(Some(ca_pem))?;
    Ok(stand_in::Client::log_in(http, &sim.issuer(), &sim.mcp_url()).await)
}
