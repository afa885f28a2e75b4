//! The README's "In a Rust test": the whole rig in-process on ephemeral ports, a switch flipped,
//! a client run against it, a counter read. `cargo run --example embed`; the test suite runs
//! it too (`tests/it/docs/examples.rs`), and checks that the README and `docs/embedding.md`
//! show the code between the `docs:` markers.

// docs:start
use std::time::Duration;

use mcp_oauth_sim::Sim;
// docs:end
use reqwest::StatusCode;

#[path = "stand_in/mod.rs"]
mod stand_in;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    run().await
}

/// Starts a rig with rotation on; the stand-in client logs in and refreshes once.
pub async fn run() -> anyhow::Result<()> {
    // docs:start
    let sim = Sim::builder()
        .token_ttl(Duration::from_secs(5))
        .start()
        .await?;
    let url = sim.mcp_url(); // http://localhost:<port>/mcp: give it to the client
    sim.control().rotate_refresh_tokens(true).await?;
    run_the_client(sim.issuer(), url).await?; // logs in, refreshes once
    let state = sim.control().oauth_state().await?;
    assert_eq!(state.counters.token_requests.refresh_token, 1);
    sim.stop().await?;
    // docs:end
    Ok(())
}

/// The client under test: logs in and refreshes once, and checks what it was handed: a new
/// refresh token (rotation is on) and an access token of the builder's `token_ttl`.
async fn run_the_client(issuer: String, mcp_url: String) -> anyhow::Result<()> {
    let mut client = stand_in::Client::log_in(stand_in::http(None)?, &issuer, &mcp_url).await;
    let presented = client.refresh.clone();
    let (status, answer) = client.refresh().await;
    anyhow::ensure!(
        status == StatusCode::OK,
        "the refresh answered {status}: {answer}"
    );
    anyhow::ensure!(
        answer["refresh_token"].is_string() && answer["refresh_token"] != presented.as_str(),
        "rotation hands out a new refresh token: {answer}"
    );
    anyhow::ensure!(answer["expires_in"] == 5, "token_ttl is 5 s: {answer}");
    Ok(())
}
