//! One function per subcommand, and the setup they share: discovery, a client, a token.

use std::fs::File;

use url::Url;

use crate::cli::{
    CallsArgs, CeilingArgs, Command, FlowsArgs, Format, LaunchArgs, LoadArgs, SoakArgs, TargetArgs,
};
use crate::discovery::{self, Discovered};
use crate::http::Connector;
use crate::load::{self, CallTarget, Load};
use crate::oauth::{self, Authorizer, Registration};
use crate::stats::Report;
use crate::{Error, ceiling, launch, mcp, soak};

/// Runs a subcommand; what it prints goes to stdout.
pub async fn run(command: Command) -> Result<(), Error> {
    match command {
        Command::Calls(args) => calls(args).await,
        Command::Flows(args) => flows(args).await,
        Command::Ceiling(args) => ceiling(args).await,
        Command::Token(args) => {
            let target = call_target(
                &args.url,
                args.cacert.as_deref(),
                "echo",
                &Default::default(),
            )?;
            let (_, _, token) =
                obtain_token(&target, &ClientChoice::from(&args), args.scope).await?;
            println!("{token}");
            Ok(())
        }
        Command::Launch(args) => launch(args).await,
        Command::Soak(args) => soak(args).await,
    }
}

/// Register a client, or use one registered out of band.
#[derive(Clone, Debug)]
pub enum ClientChoice {
    Register,
    Given(Registration),
}

impl From<&TargetArgs> for ClientChoice {
    fn from(args: &TargetArgs) -> Self {
        match &args.client_id {
            None => Self::Register,
            Some(id) => Self::Given(Registration::public(id.clone(), args.redirect_uri.clone())),
        }
    }
}

/// What every `tools/call` worker needs.
pub fn call_target(
    mcp_url: &Url,
    cacert: Option<&std::path::Path>,
    tool: &str,
    arguments: &serde_json::Value,
) -> Result<CallTarget, Error> {
    let arguments = if arguments.is_null() {
        serde_json::json!({})
    } else {
        arguments.clone()
    };
    Ok(CallTarget {
        connector: Connector::new(cacert)?,
        mcp_url: mcp_url.clone(),
        tool_call: mcp::tool_call_prefix(tool, &arguments),
    })
}

/// Discovery, registration (unless given) and one flow: what a client does before its first
/// call.
pub async fn obtain_token(
    target: &CallTarget,
    client: &ClientChoice,
    scope: Option<String>,
) -> Result<(Discovered, Registration, String), Error> {
    let mut discovered = discovery::discover(&target.connector, &target.mcp_url).await?;
    if scope.is_some() {
        discovered.scope = scope;
    }
    let registration = match client {
        ClientChoice::Given(registration) => registration.clone(),
        ClientChoice::Register => {
            let endpoint = discovered.registration_endpoint.as_ref().ok_or_else(|| {
                Error::Usage(
                    "the authorization server offers no registration endpoint: pass --client-id"
                        .into(),
                )
            })?;
            oauth::register(&target.connector, endpoint, oauth::REDIRECT_URI).await?
        }
    };
    let mut authorizer =
        Authorizer::new(&target.connector, discovered.clone(), registration.clone())?;
    let token = authorizer.access_token().await?;
    Ok((discovered, registration, token))
}

fn load_of(args: &LoadArgs) -> Load {
    Load {
        concurrency: usize::from(args.concurrency),
        duration: args.duration,
        warmup: args.warmup,
        max_per_worker: args.max_per_worker,
        timeout: args.timeout,
    }
}

fn print(report: &Report, format: Format) {
    match format {
        Format::Text => print!("{}", report.to_text()),
        Format::Kv => println!("{}", report.to_kv()),
    }
}

async fn calls(args: CallsArgs) -> Result<(), Error> {
    let target = call_target(
        &args.target.url,
        args.target.cacert.as_deref(),
        &args.tool.tool,
        &args.tool.arguments,
    )?;
    let token = match args.token {
        Some(token) => token,
        None => {
            let client = ClientChoice::from(&args.target);
            obtain_token(&target, &client, args.target.scope).await?.2
        }
    };
    let report = load::calls(&target, &token, load_of(&args.load)).await?;
    print(&report, args.load.format);
    Ok(())
}

async fn flows(args: FlowsArgs) -> Result<(), Error> {
    let target = call_target(
        &args.target.url,
        args.target.cacert.as_deref(),
        &args.tool.tool,
        &args.tool.arguments,
    )?;
    let client = ClientChoice::from(&args.target);
    let (discovered, registration, _) = obtain_token(&target, &client, args.target.scope).await?;
    let report = load::flows(&target, &discovered, &registration, load_of(&args.load)).await?;
    print(&report, args.load.format);
    Ok(())
}

async fn ceiling(args: CeilingArgs) -> Result<(), Error> {
    if let Some(addr) = args.listen {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        println!("ceiling endpoint http://{}/mcp", listener.local_addr()?);
        ceiling::serve(listener, stop_signal()).await;
        return Ok(());
    }
    let server = ceiling::Background::start()?;
    let url = Url::parse(&format!("http://{}/mcp", server.addr))
        .map_err(|error| Error::Usage(error.to_string()))?;
    let target = call_target(&url, None, "echo", &serde_json::json!({"message": "bench"}))?;
    let mut report = load::calls(&target, "ceiling", load_of(&args.load)).await?;
    report.mode = "ceiling";
    drop(server);
    print(&report, args.load.format);
    Ok(())
}

async fn launch(args: LaunchArgs) -> Result<(), Error> {
    let log = args.log.as_deref().map(File::create).transpose()?;
    let launched = launch::launch(&args.command, &args.ready, log, args.timeout).await?;
    println!(
        "pid={} ready_ms={:.1}",
        launched.pid,
        launched.ready_after.as_secs_f64() * 1000.0
    );
    Ok(())
}

async fn soak(args: SoakArgs) -> Result<(), Error> {
    let options = soak::Options {
        users: usize::from(args.users),
        duration: args.duration,
        flip_every: args.flip_every,
        settle_timeout: args.settle_timeout,
        quiet: args.quiet,
        timeout: args.timeout,
    };
    let connector = Connector::default();
    let report = match args.url {
        Some(url) => {
            let pid = args.pid.unwrap_or(0);
            soak::run(&connector, &url, pid, &options).await?
        }
        None => {
            let server = match args.server {
                Some(path) => path,
                None => std::env::current_exe()?.with_file_name("mcp-oauth-sim"),
            };
            let rig = launch::Rig::start(&server).await?;
            println!(
                "started {} (pid {}), ready in {:.1} ms",
                server.display(),
                rig.pid(),
                rig.ready_after.as_secs_f64() * 1000.0
            );
            soak::run(&connector, &rig.mcp_url, rig.pid(), &options).await?
        }
    };
    print!("{}", report.to_text());
    match report.tally.unexpected_count() {
        0 => Ok(()),
        count => Err(Error::Protocol(format!("{count} unexpected errors"))),
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
