//! `mcp-oauth-sim`: starts both servers, makes local certificates, and flips scenarios on a
//! running rig.
//!
//! Configuration comes from flags, then the environment, then a `.env` file in the working
//! directory, then defaults. Every failure to start is one `error:` line and a non-zero exit.

/// `println!` for command output that may go into a pipe: a reader that goes away (`| head`) ends
/// the command quietly instead of panicking on the broken pipe, as `print!` would.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

mod logging;
mod scenario;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use mcp_oauth_sim::certs;
use mcp_oauth_sim::settings::{VARIABLES, parse_tool_scopes};
use mcp_oauth_sim::{Control, Settings, Sim, TlsSource};

#[derive(Parser)]
#[command(
    name = "mcp-oauth-sim",
    version,
    about = "An OAuth 2.1 authorization server and an OAuth-protected MCP server with failures on demand",
    after_help = "Every option can also be set in the environment or in ./.env, under the name shown \
                  in brackets. Without a command, `serve` runs."
)]
struct Cli {
    #[command(flatten)]
    rig: RigArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Start both servers (the default).
    Serve,
    /// Write a local CA and a certificate for localhost, 127.0.0.1 and ::1; `serve` then uses
    /// HTTPS.
    Certs {
        /// Start a new CA instead of signing the new certificate with the existing one.
        #[arg(long)]
        new_ca: bool,
    },
    /// Flip a failure on the running rig and print both servers' state; or read what the rig
    /// did (`events`, `watch`).
    Scenario(scenario::ScenarioArgs),
}

/// Options shared by `serve` and `scenario` (which must find the rig `serve` started).
#[derive(Args)]
struct RigArgs {
    /// Port of the authorization server.
    #[arg(
        long,
        env = "OAUTH_PORT",
        value_name = "OAUTH_PORT",
        default_value_t = 9100,
        global = true
    )]
    oauth_port: u16,
    /// Port of the MCP server.
    #[arg(
        long,
        env = "MCP_PORT",
        value_name = "MCP_PORT",
        default_value_t = 9101,
        global = true
    )]
    mcp_port: u16,
    /// Address both servers listen on.
    #[arg(
        long,
        env = "BIND",
        value_name = "BIND",
        default_value = "127.0.0.1",
        global = true
    )]
    bind: IpAddr,
    /// Public URL of the authorization server, its issuer [default: http(s)://localhost:OAUTH_PORT].
    #[arg(
        long,
        env = "OAUTH_BASE_URL",
        value_name = "OAUTH_BASE_URL",
        global = true
    )]
    oauth_base_url: Option<String>,
    /// Public origin of the MCP server; clients get <this>/mcp [default: http(s)://localhost:MCP_PORT].
    #[arg(long, env = "MCP_BASE_URL", value_name = "MCP_BASE_URL", global = true)]
    mcp_base_url: Option<String>,
    /// Where the MCP server introspects tokens [default: the authorization server on loopback].
    #[arg(
        long,
        env = "OAUTH_INTERNAL_URL",
        value_name = "OAUTH_INTERNAL_URL",
        global = true
    )]
    oauth_internal_url: Option<String>,
    /// PEM certificate chain for HTTPS [default: CERTS_DIR/localhost.pem when it exists].
    #[arg(
        long,
        env = "TLS_CERT_FILE",
        value_name = "TLS_CERT_FILE",
        global = true
    )]
    tls_cert_file: Option<PathBuf>,
    /// PEM private key for HTTPS [default: CERTS_DIR/localhost-key.pem when it exists].
    #[arg(long, env = "TLS_KEY_FILE", value_name = "TLS_KEY_FILE", global = true)]
    tls_key_file: Option<PathBuf>,
    /// Where `certs` writes and `serve` looks for certificates.
    #[arg(
        long,
        visible_alias = "dir",
        env = "CERTS_DIR",
        value_name = "CERTS_DIR",
        default_value = certs::DEFAULT_DIR,
        global = true
    )]
    certs_dir: PathBuf,
    /// A refresh token valid from start-up for any client.
    #[arg(
        long,
        env = "SEED_REFRESH_TOKEN",
        value_name = "SEED_REFRESH_TOKEN",
        global = true
    )]
    seed_refresh_token: Option<String>,
    /// Access-token lifetime at start-up, in seconds.
    #[arg(
        long,
        env = "TOKEN_TTL_SECONDS",
        value_name = "TOKEN_TTL_SECONDS",
        default_value_t = 3600,
        global = true
    )]
    token_ttl_seconds: u64,
    /// Issuers hosted beside `main`, comma-separated: `NAME=/PATH` (under a path of OAUTH_PORT),
    /// `NAME=:PORT` (a port of its own; 0 picks one) or `NAME=:PORT/PATH`.
    #[arg(long, env = "ISSUERS", value_name = "ISSUERS", global = true)]
    issuers: Option<String>,
    /// The issuers the MCP server trusts, by name, comma-separated, in order.
    #[arg(
        long,
        env = "MCP_AUTHORIZATION_SERVERS",
        value_name = "MCP_AUTHORIZATION_SERVERS",
        default_value = "main",
        global = true
    )]
    mcp_authorization_servers: String,
    /// Space-separated scopes both servers announce; tool calls require the first.
    #[arg(
        long,
        env = "SCOPES",
        value_name = "SCOPES",
        default_value = "mcp:tools",
        global = true
    )]
    scopes: String,
    /// Scopes a tool needs too, announced besides SCOPES: `add=mcp:write,whoami=mcp:admin`
    /// (several for one tool: `add=mcp:write+mcp:admin`).
    #[arg(long, env = "TOOL_SCOPES", value_name = "TOOL_SCOPES", global = true)]
    tool_scopes: Option<String>,
    /// Requests each server's journal keeps for /control/events (1 to 100000).
    #[arg(
        long,
        env = "JOURNAL_SIZE",
        value_name = "JOURNAL_SIZE",
        default_value_t = sim_http::journal::DEFAULT_CAPACITY,
        global = true
    )]
    journal_size: usize,
    /// Registered clients the authorization server keeps (1 to 1000000); registering beyond
    /// evicts the least recently used client holding no live code or token.
    #[arg(
        long,
        env = "MAX_CLIENTS",
        value_name = "MAX_CLIENTS",
        default_value_t = oauth_server::Limits::default().max_clients,
        global = true
    )]
    max_clients: usize,
    /// Live access and refresh tokens the authorization server keeps (2 to 10000000); beyond,
    /// the token endpoint answers 503.
    #[arg(
        long,
        env = "MAX_TOKENS",
        value_name = "MAX_TOKENS",
        default_value_t = oauth_server::Limits::default().max_tokens,
        global = true
    )]
    max_tokens: usize,
    /// Unredeemed authorization codes the authorization server keeps (1 to 1000000).
    #[arg(
        long,
        env = "MAX_CODES",
        value_name = "MAX_CODES",
        default_value_t = oauth_server::Limits::default().max_codes,
        global = true
    )]
    max_codes: usize,
    /// Bearer token /control requires [default: none on loopback; generated when exposed].
    #[arg(
        long,
        env = "CONTROL_TOKEN",
        value_name = "CONTROL_TOKEN",
        global = true,
        hide_env_values = true
    )]
    control_token: Option<String>,
    /// Log filter (info, warn, debug, …), optionally with `json`: `json` or `json,warn`.
    #[arg(
        long,
        env = "LOG",
        value_name = "LOG",
        default_value = "info",
        global = true
    )]
    log: String,
}

impl RigArgs {
    fn tls(&self) -> anyhow::Result<Option<TlsSource>> {
        let ca = Some(self.certs_dir.join(certs::CA_FILE)).filter(|path| path.is_file());
        match (&self.tls_cert_file, &self.tls_key_file) {
            (Some(cert), Some(key)) => Ok(Some(TlsSource::Files {
                cert: cert.clone(),
                key: key.clone(),
                ca,
            })),
            (Some(_), None) => bail!("TLS_CERT_FILE is set but TLS_KEY_FILE is not"),
            (None, Some(_)) => bail!("TLS_KEY_FILE is set but TLS_CERT_FILE is not"),
            (None, None) => Ok(certs::files_in(&self.certs_dir)
                .map(|(cert, key)| TlsSource::Files { cert, key, ca })),
        }
    }

    fn settings(&self) -> anyhow::Result<Settings> {
        Ok(Settings {
            bind: self.bind,
            oauth_port: self.oauth_port,
            mcp_port: self.mcp_port,
            oauth_base_url: self.oauth_base_url.clone(),
            mcp_base_url: self.mcp_base_url.clone(),
            oauth_internal_url: self.oauth_internal_url.clone(),
            issuers: match &self.issuers {
                Some(text) => Settings::parse_issuers(text)?,
                None => Vec::new(),
            },
            mcp_authorization_servers: self
                .mcp_authorization_servers
                .split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
                .collect(),
            tls: self.tls()?,
            seed_refresh_token: self.seed_refresh_token.clone(),
            token_ttl: Duration::from_secs(self.token_ttl_seconds),
            scopes: self.scopes.split_whitespace().map(str::to_owned).collect(),
            tool_scopes: match &self.tool_scopes {
                Some(text) => parse_tool_scopes(text)?,
                None => Default::default(),
            },
            journal_size: self.journal_size,
            max_clients: self.max_clients,
            max_tokens: self.max_tokens,
            max_codes: self.max_codes,
            control_token: self.control_token.clone(),
        })
    }
}

fn write_out(text: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(error) = out.write_fmt(text).and_then(|()| out.flush()) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write the output: {error}");
        std::process::exit(1);
    }
}

fn main() -> ExitCode {
    let outcome = load_environment().and_then(|()| run(Cli::parse()));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", describe(&error));
            ExitCode::FAILURE
        }
    }
}

/// Loads `.env` from the working directory only (not its parents: a rig started from a
/// subdirectory must not pick up some other project's settings); real environment variables
/// win. Then drops empty variables, which `.env.example` shows as `NAME=`.
fn load_environment() -> anyhow::Result<()> {
    let path = Path::new(".env");
    if path.is_file() {
        dotenvy::from_path(path).context("cannot read .env")?;
    }
    for name in VARIABLES {
        if std::env::var_os(name).is_some_and(|value| value.to_string_lossy().trim().is_empty()) {
            // SAFETY: called first thing in `main`, before the runtime or any other thread
            // exists, so nothing can read the environment concurrently.
            unsafe { std::env::remove_var(name) };
        }
    }
    Ok(())
}

/// The error and its causes on one line, leaving out a cause the message above it already
/// quotes (errors that name their source in their own message).
fn describe(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Certs { new_ca } => certs_command(&cli.rig.certs_dir, cli.rig.oauth_port, new_ca),
        command => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            match command {
                Command::Scenario(args) => runtime.block_on(scenario(&cli.rig, args)),
                _ => runtime.block_on(serve(&cli.rig)),
            }
        }
    }
}

async fn serve(args: &RigArgs) -> anyhow::Result<()> {
    let log = logging::init(&args.log).map_err(anyhow::Error::msg)?;
    let settings = args.settings()?;
    let shutdown = shutdown_signal()?;
    let sim = Sim::start(settings.clone()).await?;
    let scheme = sim.scheme();
    let issuer = sim.issuer();
    let mcp_url = sim.mcp_url();
    if settings.oauth_base_url.is_some() {
        let listening = sim.oauth_addr();
        log.announce(&format!(
            "[oauth] authorization server {issuer} ({scheme} on {listening})"
        ));
    } else {
        log.announce(&format!("[oauth] authorization server {issuer} ({scheme})"));
    }
    if settings.mcp_base_url.is_some() || settings.oauth_internal_url.is_some() {
        let listening = sim.mcp_addr();
        let introspection = sim.introspection_url();
        log.announce(&format!(
            "[mcp] protected MCP server {mcp_url} ({scheme} on {listening}; tokens checked at \
             {introspection})"
        ));
    } else {
        log.announce(&format!("[mcp] protected MCP server {mcp_url}"));
    }
    if let Some(TlsSource::Files { cert, ca, .. }) = &settings.tls {
        let cert = cert.display();
        match ca {
            Some(ca) => log.announce(&format!(
                "[tls] serving {cert}; clients must trust {}",
                ca.display()
            )),
            None => log.announce(&format!("[tls] serving {cert}")),
        }
    }
    if let Some(token) = sim.control_token() {
        if sim.control_token_generated() {
            log.announce(&format!(
                "[control] the rig is reachable from outside, so /control requires \
                 `Authorization: Bearer {token}`"
            ));
            log.announce(&format!(
                "[control] for the scenario command: export CONTROL_TOKEN={token}"
            ));
        } else {
            log.announce("[control] /control requires the bearer token in CONTROL_TOKEN");
        }
    }
    shutdown.await;
    log.announce("[sim] stopping: finishing in-flight requests");
    sim.stop().await?;
    Ok(())
}

fn certs_command(dir: &Path, oauth_port: u16, new_ca: bool) -> anyhow::Result<()> {
    let fresh_ca = certs::write_dir(dir, new_ca)?;
    let ca = dir.join(certs::CA_FILE);
    if fresh_ca {
        say!("wrote a new CA: {}", ca.display());
    } else {
        say!(
            "kept the CA in {} (trust set up before still holds; --new-ca replaces it)",
            ca.display()
        );
    }
    say!(
        "wrote {} and {} for {}",
        dir.join(certs::CERT_FILE).display(),
        dir.join(certs::KEY_FILE).display(),
        certs::LEAF_NAMES.join(", ")
    );
    say!("{}", certs::trust_instructions(dir, oauth_port));
    Ok(())
}

async fn scenario(args: &RigArgs, scenario: scenario::ScenarioArgs) -> anyhow::Result<()> {
    let settings = args.settings()?;
    let control = Control::local(
        &settings,
        settings.oauth_port,
        settings.mcp_port,
        settings.control_token.clone(),
    )?;
    scenario::run(&control, scenario).await
}

/// Listens for Ctrl-C and SIGTERM from the moment it is called, which must be before the ready
/// lines are printed: a supervisor may signal as soon as it sees them, and a listener registered
/// only when first polled would let that signal kill the process or be lost.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?;
        let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        let mut ctrl_c = tokio::signal::windows::ctrl_c().context("cannot listen for Ctrl-C")?;
        Ok(async move {
            ctrl_c.recv().await;
        })
    }
}
