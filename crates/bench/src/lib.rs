//! `sim-bench`: how fast an OAuth-protected MCP server answers, measured the way clients use
//! it, against our rig or any peer found by standard discovery.
//!
//! # Layout
//! - [`cli`]: the command line; [`commands`]: one function per subcommand.
//! - [`http`]: keep-alive HTTP/1.1 connections, one per worker.
//! - [`discovery`]: the 401 challenge, protected-resource and authorization-server metadata.
//! - [`oauth`]: registration, PKCE, the authorize redirect and the code exchange.
//! - [`mcp`]: sessions, `tools/call`, and JSON or event-stream answers.
//! - [`load`]: the worker loops of the `calls` and `flows` modes; [`stats`]: what they measured.
//! - [`ceiling`]: the bare endpoint that shows what the machine can do.
//! - [`launch`]: starting a server and timing it until it answers.
//! - [`soak`]: mixed users for a bounded time while switches flip; errors by kind and RSS.
//!
//! # Example
//! ```
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # // Both servers on ephemeral ports, as `mcp-oauth-sim serve` runs them on 9100 and 9101.
//! # let auth = oauth_server::AuthServer::start(oauth_server::Config::default()).await?;
//! # let mcp = mcp_server::McpServer::start(mcp_server::Config {
//! #     authorization_servers: vec![mcp_server::AuthorizationServer::new(
//! #         auth.issuer(),
//! #         format!("http://{}/introspect", auth.addr()),
//! #     )],
//! #     ..mcp_server::Config::default()
//! # })
//! # .await?;
//! use sim_bench::{commands, load::Load};
//! let url = url::Url::parse(&mcp.url())?; // http://localhost:9101/mcp for a rig run by hand
//! let target = commands::call_target(&url, None, "echo", &serde_json::json!({"message": "hi"}))?;
//! let (_, _, token) = commands::obtain_token(&target, &commands::ClientChoice::Register, None).await?;
//! let report = sim_bench::load::calls(&target, &token, Load::brief(2, std::time::Duration::from_millis(200))).await?;
//! println!("{}", report.to_text());
//! assert!(report.ok() > 0 && report.error_count() == 0, "{}", report.to_text());
//! # Ok(()) }
//! ```

pub mod ceiling;
pub mod cli;
pub mod commands;
pub mod discovery;
pub mod http;
pub mod launch;
pub mod load;
pub mod mcp;
pub mod oauth;
pub mod soak;
pub mod stats;

/// Why a command could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Arguments or URLs that cannot work.
    #[error("{0}")]
    Usage(String),
    /// Connecting, sending or reading failed.
    #[error("{0}")]
    Transport(String),
    /// The server answered something a client cannot go on with.
    #[error("{0}")]
    Protocol(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Why one operation of a run failed: the kind it is counted under (`401`, `io`, `timeout`,
/// `rpc-error`, `token:400`, …) and what happened, for the report.
#[derive(Debug)]
pub struct Failure {
    pub key: String,
    pub detail: String,
}

impl Failure {
    pub fn new(key: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            detail: detail.into(),
        }
    }

    /// A failure to connect, send or read during `step` (empty for the measured call itself).
    pub fn transport(step: &str, error: Error) -> Self {
        let key = if step.is_empty() {
            "io".to_owned()
        } else {
            format!("{step}:io")
        };
        Self::new(key, error.to_string())
    }

    /// The same failure, counted as part of `step`.
    pub fn during(self, step: &str) -> Self {
        Self {
            key: format!("{step}:{}", self.key),
            ..self
        }
    }

    /// Runs `operation`, failing it as `timeout` if it takes longer than `limit`.
    pub async fn within<T>(
        limit: std::time::Duration,
        operation: impl std::future::Future<Output = Result<T, Self>>,
    ) -> Result<T, Self> {
        tokio::time::timeout(limit, operation)
            .await
            .unwrap_or_else(|_| Err(Self::new("timeout", format!("no answer within {limit:?}"))))
    }

    /// Whether the connection it happened on is no longer to be trusted.
    pub fn is_transport(&self) -> bool {
        self.key.ends_with("io") || self.key.ends_with("timeout")
    }
}

impl From<Failure> for Error {
    fn from(failure: Failure) -> Self {
        Self::Protocol(format!("{}: {}", failure.key, failure.detail))
    }
}
