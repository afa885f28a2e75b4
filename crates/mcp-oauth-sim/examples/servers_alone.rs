//! Each server alone (`docs/embedding.md`): the authorization server and the MCP server started
//! from their own crates, the second trusting the first, and the authorization server's clock
//! moved to expire a token without waiting. `cargo run --example servers_alone`; the test suite
//! runs it too.

// docs:start
use std::time::Duration;
// docs:end
use reqwest::StatusCode;

#[path = "stand_in/mod.rs"]
mod stand_in;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    run().await
}

/// A token that works until the clock passes its lifetime, then draws a 401.
pub async fn run() -> anyhow::Result<()> {
    // docs:start
    let server = oauth_server::AuthServer::start(oauth_server::Config::default()).await?;
    let mcp = mcp_server::McpServer::start(mcp_server::Config {
        authorization_servers: vec![mcp_server::AuthorizationServer::new(
            server.issuer(),
            format!("http://{}/introspect", server.addr()),
        )],
        ..mcp_server::Config::default()
    })
    .await?;
    let client = log_in(&server.issuer(), &mcp.url()).await?; // the client under test
    assert_eq!(client.echo("fresh").await?, StatusCode::OK);
    server.clock().advance(Duration::from_secs(3601)); // expire tokens without waiting
    assert_eq!(client.echo("expired").await?, StatusCode::UNAUTHORIZED);
    // docs:end
    mcp.stop().await?;
    server.stop().await?;
    Ok(())
}

/// The client under test, logged in.
async fn log_in(issuer: &str, mcp_url: &str) -> anyhow::Result<stand_in::Client> {
    let http = stand_in::http(None)?;
    Ok(stand_in::Client::log_in(http, issuer, mcp_url).await)
}
