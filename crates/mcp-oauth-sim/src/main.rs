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

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use mcp_oauth_sim::certs;
use mcp_oauth_sim::flags::{Flags, variables};
use mcp_oauth_sim::{Control, Sim, TlsSource};

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
    rig: Flags,
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
    for name in variables() {
        if std::env::var_os(&name).is_some_and(|value| value.to_string_lossy().trim().is_empty()) {
            // SAFETY: called first thing in `main`, before the runtime or any other thread
            // exists, so nothing can read the environment concurrently.
            unsafe { std::env::remove_var(&name) };
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

async fn serve(args: &Flags) -> anyhow::Result<()> {
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
    log.announce(&format!("[dashboard] {}", sim.dashboard_url()));
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
    for client in &settings.clients {
        // The secret is the operator's own setting, shown so that it can be handed to the
        // client under test; the log line is on the operator's terminal.
        let secret = client
            .client_secret
            .as_deref()
            .map_or(String::new(), |secret| format!(" client_secret={secret}"));
        log.announce(&format!(
            "[oauth] pre-registered client_id={}{secret} ({})",
            client.client_id,
            client.auth_method.as_str()
        ));
    }
    if let Some(path) = &settings.state_file {
        for note in sim.restored() {
            log.announce(&format!("[state] {note}"));
        }
        log.announce(&format!(
            "[state] kept in {} (written within {} s of a change, and at a clean stop)",
            path.display(),
            mcp_oauth_sim::state_file::WRITE_EVERY.as_secs()
        ));
    }
    if let Some(situation) = settings.conformance {
        log.announce(&format!(
            "[conformance] staged {}: a passing client {}",
            situation.suite_name(),
            situation.passing()
        ));
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

async fn scenario(args: &Flags, scenario: scenario::ScenarioArgs) -> anyhow::Result<()> {
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
