//! `oauth-server`: the authorization server alone, configured from the environment.
//!
//! The `mcp-oauth-sim` launcher will start both servers with full configuration; until then this
//! keeps `cargo run` useful. Variables: `OAUTH_PORT` (9100), `BIND` (127.0.0.1), `OAUTH_BASE_URL`,
//! `SCOPES`, `TOKEN_TTL_SECONDS`, `SEED_REFRESH_TOKEN`, `CONTROL_TOKEN`, `TLS_CERT_FILE` +
//! `TLS_KEY_FILE`.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use oauth_server::Config;
use sim_http::control::ControlGuard;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LOG").unwrap_or_else(|_| "info".into()),
        )
        .with_target(false)
        .with_level(false)
        .without_time()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let port: u16 = var("OAUTH_PORT", "9100")?;
    let bind: IpAddr = var("BIND", "127.0.0.1")?;
    let mut config = Config {
        issuer: optional("OAUTH_BASE_URL"),
        access_token_ttl: Duration::from_secs(var("TOKEN_TTL_SECONDS", "3600")?),
        seed_refresh_token: optional("SEED_REFRESH_TOKEN"),
        ..Config::default()
    };
    if let Some(scopes) = optional("SCOPES") {
        config.scopes = scopes.split_whitespace().map(str::to_owned).collect();
    }
    if let Some(token) = optional("CONTROL_TOKEN") {
        config.control = ControlGuard::with_token(token);
    }
    if let (Some(cert), Some(key)) = (optional("TLS_CERT_FILE"), optional("TLS_KEY_FILE")) {
        let tls = sim_http::tls::Tls::from_pem_files(Path::new(&cert), Path::new(&key))
            .map_err(|error| error.to_string())?;
        config.tls = Some(tls);
    }
    config.validate().map_err(|error| error.to_string())?;
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let addr = SocketAddr::new(bind, port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|error| format!("cannot listen on {addr}: {error}"))?;
    let issuer = config
        .resolve_issuer(port)
        .map_err(|error| error.to_string())?;
    println!("[oauth] authorization server {issuer} ({scheme})");
    oauth_server::serve(listener, config, shutdown_signal())
        .await
        .map_err(|error| error.to_string())
}

/// A variable's value; unset and empty are the same, as in a `.env` file with `NAME=`.
fn optional(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

fn var<T: std::str::FromStr>(name: &str, default: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    let value = optional(name).unwrap_or_else(|| default.to_owned());
    value
        .trim()
        .parse()
        .map_err(|error| format!("{name}={value:?} is invalid: {error}"))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
