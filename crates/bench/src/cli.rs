//! The command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use url::Url;

/// Benchmarks an OAuth-protected MCP server found by standard discovery: ours, or any peer.
#[derive(Debug, Parser)]
#[command(name = "sim-bench", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Obtains a token headlessly (discovery, DCR, PKCE), then sends authenticated `tools/call`
    /// requests at the given concurrency for the given time, over keep-alive connections.
    Calls(CallsArgs),
    /// Complete flows per second: `/authorize` + `/token` + an authenticated `tools/call`, each
    /// flow a fresh code and token. The client is registered once and reused, since servers
    /// rate-limit registration.
    Flows(FlowsArgs),
    /// The machine's ceiling: a bare hyper endpoint answering a constant `tools/call` response,
    /// measured with the same client (or, with --listen, only served).
    Ceiling(CeilingArgs),
    /// Obtains a token headlessly and prints it.
    Token(TargetArgs),
    /// Mixed users (flows, tool calls, refreshes) against the rig while one of them flips its
    /// switches; then the clock past every expiry. Reports requests, errors by kind (expected
    /// or not) and the server's RSS at start, peak and end; fails on any unexpected error.
    Soak(SoakArgs),
    /// Starts a command, waits until every --ready URL answers HTTP, prints `pid=… ready_ms=…`,
    /// and exits leaving the command running (its output goes to --log).
    Launch(LaunchArgs),
}

/// Which server, and how to get a token for it.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// The MCP endpoint, e.g. http://localhost:9101/mcp.
    pub url: Url,
    /// Use this client instead of registering one (for servers without DCR).
    #[arg(long)]
    pub client_id: Option<String>,
    /// The redirect URI registered for --client-id.
    #[arg(long, default_value = crate::oauth::REDIRECT_URI)]
    pub redirect_uri: String,
    /// The scope to request (default: the challenge's, else the metadata's scopes_supported).
    #[arg(long)]
    pub scope: Option<String>,
    /// Extra CA certificates (PEM) to trust for HTTPS, besides the platform's.
    #[arg(long)]
    pub cacert: Option<PathBuf>,
}

/// The tool each call invokes.
#[derive(Debug, Args)]
pub struct ToolArgs {
    /// The tool to call.
    #[arg(long, default_value = "echo")]
    pub tool: String,
    /// Its arguments, a JSON object.
    #[arg(long, default_value = r#"{"message":"bench"}"#, value_parser = json_object)]
    pub arguments: serde_json::Value,
}

/// How long and how hard.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Requests (or flows) in flight at once, one keep-alive connection each.
    #[arg(short, long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
    /// How long to measure: `5s`, `500ms`, `2m`, or seconds.
    #[arg(short, long, default_value = "5s", value_parser = duration)]
    pub duration: Duration,
    /// Load sent before measuring, not counted.
    #[arg(long, default_value = "500ms", value_parser = duration)]
    pub warmup: Duration,
    /// Stop each worker after this many operations, whatever the time.
    #[arg(long, default_value_t = 2_000_000)]
    pub max_per_worker: u64,
    /// A request (or flow) taking longer fails as `timeout`.
    #[arg(long, default_value = "10s", value_parser = duration)]
    pub timeout: Duration,
    /// `text` for people, `kv` (one line of key=value) for scripts.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Kv,
}

#[derive(Debug, Args)]
pub struct CallsArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Skip discovery and use this access token.
    #[arg(long, allow_hyphen_values = true)]
    pub token: Option<String>,
    #[command(flatten)]
    pub tool: ToolArgs,
    #[command(flatten)]
    pub load: LoadArgs,
}

#[derive(Debug, Args)]
pub struct FlowsArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub tool: ToolArgs,
    #[command(flatten)]
    pub load: LoadArgs,
}

#[derive(Debug, Args)]
pub struct CeilingArgs {
    /// Only serve the endpoint on this address (until SIGTERM or Ctrl-C), for a client in
    /// another process: `sim-bench calls http://ADDR/mcp --token x`.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    #[command(flatten)]
    pub load: LoadArgs,
}

#[derive(Debug, Args)]
pub struct SoakArgs {
    /// The MCP endpoint of a rig that is already running, with open control planes. Without it,
    /// the rig binary (--server) is started on free loopback ports and stopped afterwards.
    pub url: Option<Url>,
    /// The rig process whose memory to report, with a URL (default: none measured).
    #[arg(long, requires = "url")]
    pub pid: Option<u32>,
    /// The rig binary to start [default: mcp-oauth-sim next to sim-bench].
    #[arg(long, conflicts_with = "url")]
    pub server: Option<PathBuf>,
    /// Users at once, the one flipping switches included.
    #[arg(short, long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(2..=1024))]
    pub users: u16,
    /// How long the load lasts: `60s`, `500ms`, `2m`, or seconds.
    #[arg(short, long, default_value = "60s", value_parser = duration)]
    pub duration: Duration,
    /// The pause between two control flips.
    #[arg(long, default_value = "250ms", value_parser = duration)]
    pub flip_every: Duration,
    /// How long to wait for the store to be swept once the clock has moved (the rig sweeps
    /// every 15 s).
    #[arg(long, default_value = "40s", value_parser = duration)]
    pub settle_timeout: Duration,
    /// How long the rig is left alone after the store empties before the last RSS reading
    /// (the rig hands memory back on the sweep after a large one too).
    #[arg(long, default_value = "16s", value_parser = duration)]
    pub quiet: Duration,
    /// An operation taking longer fails as `timeout`.
    #[arg(long, default_value = "10s", value_parser = duration)]
    pub timeout: Duration,
}

#[derive(Debug, Args)]
pub struct LaunchArgs {
    /// A URL that must answer HTTP (any status) before the command counts as ready; repeat for
    /// each port.
    #[arg(long = "ready", required = true)]
    pub ready: Vec<Url>,
    /// Where the command's output goes (default: discarded).
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Give up (and stop the command) if it is not ready by then.
    #[arg(long, default_value = "20s", value_parser = duration)]
    pub timeout: Duration,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// `5s`, `250ms`, `2m`, `1.5s`, or a bare number of seconds.
pub fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|ch: char| !(ch.is_ascii_digit() || ch == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration such as 5s or 500ms"))?;
    let seconds = match unit.trim() {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" | "min" => number * 60.0,
        other => return Err(format!("unknown unit '{other}': use ms, s or m")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|error| error.to_string())
}

fn json_object(text: &str) -> Result<serde_json::Value, String> {
    match serde_json::from_str(text) {
        Ok(value @ serde_json::Value::Object(_)) => Ok(value),
        Ok(_) => Err("the arguments must be a JSON object".to_owned()),
        Err(error) => Err(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("sim-bench").chain(args.iter().copied()))
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(duration("five").is_err());
        assert!(duration("5h").is_err());
        assert!(duration("").is_err());
    }

    #[test]
    fn calls_defaults_suit_a_quick_run() {
        let Command::Calls(args) = parse(&["calls", "http://localhost:9101/mcp"])
            .unwrap()
            .command
        else {
            panic!("calls")
        };
        assert_eq!(args.target.url.as_str(), "http://localhost:9101/mcp");
        assert_eq!(args.load.concurrency, 16);
        assert_eq!(args.load.duration, Duration::from_secs(5));
        assert_eq!(args.load.format, Format::Text);
        assert_eq!(args.tool.tool, "echo");
        assert_eq!(args.tool.arguments, serde_json::json!({"message": "bench"}));
        assert!(args.token.is_none());
    }

    #[test]
    fn calls_accept_a_tool_token_and_load_shape() {
        let cli = parse(&[
            "calls",
            "http://localhost:3000/mcp",
            "-c",
            "1",
            "-d",
            "2s",
            "--tool",
            "greet",
            "--arguments",
            r#"{"name":"bench"}"#,
            "--token",
            "-abc",
            "--format",
            "kv",
        ])
        .unwrap();
        let Command::Calls(args) = cli.command else {
            panic!("calls")
        };
        assert_eq!(args.load.concurrency, 1);
        assert_eq!(args.load.duration, Duration::from_secs(2));
        assert_eq!(args.tool.tool, "greet");
        // Tokens are base64url: one may start with a dash.
        assert_eq!(args.token.as_deref(), Some("-abc"));
        assert_eq!(args.load.format, Format::Kv);
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert!(parse(&["calls", "not a url"]).is_err());
        assert!(parse(&["calls", "http://a/mcp", "-c", "0"]).is_err());
        assert!(parse(&["calls", "http://a/mcp", "--arguments", "[1]"]).is_err());
        assert!(parse(&["flows", "http://a/mcp", "--token", "x"]).is_err());
        assert!(parse(&["launch", "--ready", "http://a/"]).is_err());
    }

    #[test]
    fn launch_takes_the_command_after_a_double_dash() {
        let cli = parse(&[
            "launch",
            "--ready",
            "http://127.0.0.1:1/",
            "--ready",
            "http://127.0.0.1:2/",
            "--",
            "node",
            "server.js",
            "--oauth",
        ])
        .unwrap();
        let Command::Launch(args) = cli.command else {
            panic!("launch")
        };
        assert_eq!(args.ready.len(), 2);
        assert_eq!(args.command, ["node", "server.js", "--oauth"]);
    }

    #[test]
    fn soak_defaults_to_a_minute_of_64_users_against_a_rig_it_starts() {
        let Command::Soak(args) = parse(&["soak"]).unwrap().command else {
            panic!("soak")
        };
        assert_eq!(args.users, 64);
        assert_eq!(args.duration, Duration::from_secs(60));
        assert!(args.url.is_none() && args.server.is_none() && args.pid.is_none());
        let Command::Soak(args) = parse(&["soak", "--duration", "2s", "--users", "8"])
            .unwrap()
            .command
        else {
            panic!("soak")
        };
        assert_eq!((args.users, args.duration), (8, Duration::from_secs(2)));
        assert!(parse(&["soak", "--users", "1"]).is_err());
        assert!(parse(&["soak", "--pid", "1"]).is_err(), "--pid needs a URL");
        assert!(parse(&["soak", "http://a/mcp", "--server", "x"]).is_err());
    }

    #[test]
    fn ceiling_may_only_serve() {
        let cli = parse(&["ceiling", "--listen", "127.0.0.1:0"]).unwrap();
        let Command::Ceiling(args) = cli.command else {
            panic!("ceiling")
        };
        assert_eq!(args.listen, Some("127.0.0.1:0".parse().unwrap()));
    }
}
