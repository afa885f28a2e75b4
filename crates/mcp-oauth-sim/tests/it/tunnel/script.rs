//! `scripts/tunnel.sh` against the real binary, with `tests/tunnel/cloudflared` standing in for
//! cloudflared: each "tunnel" is a reverse proxy on 127.0.0.1 that announces itself as
//! `http://localhost:<port>` in cloudflared's banner and passes the client's `Host` through.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use url::Url;

use crate::support::*;

/// The host the stand-in announces when a test wants a public-looking URL, as
/// `<random>.trycloudflare.com` is: not loopback, so the rig guards its control plane.
const TUNNEL_HOST: &str = "tunnel.example.test";

/// A client as a remote MCP client has one, resolving [`TUNNEL_HOST`] to the stand-in's
/// loopback listeners.
fn tunnel_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .resolve("localhost", SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .resolve(TUNNEL_HOST, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .build()
        .expect("build an HTTP client")
}

/// The issuer and the MCP resource the rig announces now, asked at the URLs it printed at
/// start-up (on loopback, the MCP server names the host it was asked at).
async fn public_urls(rig: &Serving) -> (String, String) {
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);
    let (_, metadata) = caller
        .get_json(&format!(
            "{}/.well-known/oauth-authorization-server",
            rig.oauth.url
        ))
        .await;
    let (_, prm) = caller
        .get_json(&format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            caller.mcp_origin()
        ))
        .await;
    let text = |value: &serde_json::Value| value.as_str().unwrap_or_default().to_owned();
    (text(&metadata["issuer"]), text(&prm["resource"]))
}

/// The stand-in for cloudflared.
fn stand_in() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/tunnel/cloudflared")
}

/// `scripts/tunnel.sh` for `rig`, through the stand-in, which writes the pid of each tunnel
/// it plays into `pids`. Not started yet.
fn tunnel_script(dir: &WorkDir, rig: &Serving, pids: &Path) -> Launch {
    Launch::script(dir, "tunnel.sh")
        .env("CLOUDFLARED", stand_in().to_str().unwrap())
        .env("CLOUDFLARED_STANDIN_PIDS", pids.to_str().unwrap())
        .env("MCP_OAUTH_SIM", BIN)
        .env("OAUTH_PORT", &rig.oauth.port().to_string())
        .env("MCP_PORT", &rig.mcp.port().to_string())
        .env("TUNNEL_WAIT", "10")
}

/// A directory for the stand-in's pid files, inside `dir`.
fn pid_dir(dir: &WorkDir) -> PathBuf {
    let pids = dir.path().join("tunnel-pids");
    std::fs::create_dir_all(&pids).expect("create the pid directory");
    pids
}

/// The pids of the tunnels the stand-in played.
fn tunnel_pids(pids: &Path) -> Vec<String> {
    std::fs::read_dir(pids)
        .expect("read the pid directory")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fn running(pid: &str) -> bool {
    Command::new("kill")
        .args(["-0", pid])
        .stderr(Stdio::null())
        .status()
        .expect("run kill")
        .success()
}

/// The URL in `[tunnel] <name> <url> -> <local origin>`.
fn announced_url(line: &str, name: &str) -> String {
    line.strip_prefix(&format!("[tunnel] {name} "))
        .and_then(|rest| rest.split_once(" -> "))
        .unwrap_or_else(|| panic!("not a `[tunnel] {name}` line: {line:?}"))
        .0
        .to_owned()
}

/// Where a stand-in tunnel listens, from its `http://<host>:<port>` URL.
fn proxy_addr(url: &str) -> SocketAddr {
    let port = Url::parse(url)
        .unwrap()
        .port()
        .expect("the URL names a port");
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

#[tokio::test]
async fn tunnel_sh_repoints_the_running_rig_at_both_tunnels_and_points_it_back_on_ctrl_c() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();
    let pids = pid_dir(&dir);

    // Act
    let mut script = tunnel_script(&dir, &rig, &pids)
        .env("CLOUDFLARED_STANDIN_HOST", TUNNEL_HOST)
        .start();
    let oauth_url = announced_url(
        &script.line_where(|l| l.starts_with("[tunnel] oauth ")),
        "oauth",
    );
    let mcp_origin = announced_url(
        &script.line_where(|l| l.starts_with("[tunnel] mcp ")),
        "mcp",
    );
    let token_line = script.line_where(|line| line.starts_with("[tunnel] control token: "));
    let give = script.line_where(|line| line.starts_with("[tunnel] give your client "));
    script.line_where(|line| line.starts_with("[tunnel] ready"));
    let mcp_url = format!("{mcp_origin}/mcp");
    let caller = Caller::new(tunnel_client(), &oauth_url, &mcp_url);
    let (_, metadata) = caller
        .get_json(&format!(
            "{oauth_url}/.well-known/oauth-authorization-server"
        ))
        .await;
    let (_, prm) = caller
        .get_json(&format!(
            "{mcp_origin}/.well-known/oauth-protected-resource/mcp"
        ))
        .await;
    let (unauthorized, challenge) = caller.challenge().await;
    let tokens = caller.log_in(&mcp_url).await;
    let (status, response) = caller.echo(&tokens.access, "through the stand-in").await;
    let token = token_line
        .strip_prefix("[tunnel] control token: ")
        .unwrap()
        .to_owned();
    let control = format!("{}/control/state", rig.oauth.local_origin());
    let anonymous = http_client()
        .get(&control)
        .send()
        .await
        .expect("GET")
        .status();
    let with_token = http_client()
        .get(&control)
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET")
        .status();
    let finished = script.stop_with("INT");

    // Assert: while the script runs, everything a client reads names the tunnels' URLs.
    for (name, url) in [("oauth", &oauth_url), ("mcp", &mcp_origin)] {
        assert!(
            url.starts_with(&format!("http://{TUNNEL_HOST}:")),
            "{name}: {url}"
        );
    }
    assert_eq!(give, format!("[tunnel] give your client {mcp_url}"));
    assert_eq!(metadata["issuer"], oauth_url, "{metadata}");
    assert_eq!(metadata["token_endpoint"], format!("{oauth_url}/token"));
    assert_eq!(prm["resource"], mcp_url, "{prm}");
    assert_eq!(prm["authorization_servers"], json!([oauth_url]), "{prm}");
    assert_eq!(unauthorized, StatusCode::UNAUTHORIZED);
    assert!(
        challenge.contains(&format!(
            "resource_metadata=\"{mcp_origin}/.well-known/oauth-protected-resource/mcp\""
        )),
        "{challenge}"
    );
    assert_eq!(status, StatusCode::OK, "{response}");
    assert_eq!(tool_text(&response), "through the stand-in");
    // The rig is reachable from outside now: /control wants the token the script printed.
    assert_eq!(anonymous, StatusCode::UNAUTHORIZED);
    assert_eq!(with_token, StatusCode::OK);

    // Assert: Ctrl-C stops both tunnels and points the rig back at loopback.
    assert!(finished.status.success(), "{finished:#?}");
    assert!(
        finished
            .stderr
            .contains("[tunnel] tunnels stopped; the rig is back on loopback"),
        "{finished:#?}"
    );
    let tunnels = tunnel_pids(&pids);
    assert_eq!(tunnels.len(), 2, "{tunnels:?}");
    for pid in &tunnels {
        assert!(!running(pid), "tunnel {pid} still runs");
    }
    assert_closes(proxy_addr(&oauth_url)).await;
    assert_closes(proxy_addr(&mcp_origin)).await;
    let (issuer, resource) = public_urls(&rig).await;
    assert_eq!(issuer, rig.oauth.url);
    assert_eq!(resource, rig.mcp.url);
}

#[tokio::test]
async fn tunnel_sh_keep_leaves_the_rig_on_the_tunnel_urls_after_ctrl_c() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();
    let pids = pid_dir(&dir);
    let mut script = tunnel_script(&dir, &rig, &pids).arg("--keep").start();
    let oauth_url = announced_url(
        &script.line_where(|l| l.starts_with("[tunnel] oauth ")),
        "oauth",
    );
    let mcp_origin = announced_url(
        &script.line_where(|l| l.starts_with("[tunnel] mcp ")),
        "mcp",
    );
    let ready = script.line_where(|line| line.starts_with("[tunnel] ready"));

    // Act
    let finished = script.stop_with("INT");

    // Assert
    assert_eq!(ready, "[tunnel] ready; Ctrl-C stops both tunnels");
    assert!(finished.status.success(), "{finished:#?}");
    assert!(
        finished.stderr.contains(
            "the rig still names their URLs (--keep): `mcp-oauth-sim scenario tunnel local` points it back"
        ),
        "{finished:#?}"
    );
    for pid in &tunnel_pids(&pids) {
        assert!(!running(pid), "tunnel {pid} still runs");
    }
    let (issuer, resource) = public_urls(&rig).await;
    assert_eq!(issuer, oauth_url);
    assert_eq!(resource, format!("{mcp_origin}/mcp"));
}

#[test]
fn tunnel_sh_without_cloudflared_says_how_to_get_it_and_exits_1() {
    // Arrange
    let dir = WorkDir::new();
    let missing = dir.path().join("no-such-cloudflared");

    // Act
    let finished = Launch::script(&dir, "tunnel.sh")
        .env("CLOUDFLARED", missing.to_str().unwrap())
        .env("MCP_OAUTH_SIM", BIN)
        .run();

    // Assert
    assert_eq!(finished.status.code(), Some(1), "{finished:#?}");
    assert_eq!(finished.stdout, "", "{finished:#?}");
    let lines: Vec<&str> = finished.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {finished:#?}");
    assert!(
        lines[0].starts_with(&format!(
            "tunnel.sh: no cloudflared ('{}')",
            missing.display()
        )),
        "{finished:#?}"
    );
    assert!(lines[0].contains("install it"), "{finished:#?}");
    assert!(lines[0].contains("set CLOUDFLARED"), "{finished:#?}");
}

#[test]
fn tunnel_sh_gives_up_after_tunnel_wait_on_a_tunnel_that_prints_no_url_and_stops_it() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();
    let pids = pid_dir(&dir);
    let started = Instant::now();

    // Act
    let finished = tunnel_script(&dir, &rig, &pids)
        .env("CLOUDFLARED_STANDIN_NO_URL", "1")
        .env("TUNNEL_WAIT", "1")
        .run();

    // Assert
    let took = started.elapsed();
    assert_eq!(finished.status.code(), Some(1), "{finished:#?}");
    assert_eq!(
        finished.stderr.lines().last(),
        Some("tunnel.sh: no tunnel URL for the oauth server within 1s (TUNNEL_WAIT)"),
        "{finished:#?}"
    );
    assert!(
        finished.stderr.contains("Requesting new quick Tunnel"),
        "what cloudflared said comes first: {finished:#?}"
    );
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(10),
        "{took:?}"
    );
    let tunnels = tunnel_pids(&pids);
    assert_eq!(tunnels.len(), 2, "{tunnels:?}");
    for pid in &tunnels {
        assert!(!running(pid), "tunnel {pid} still runs");
    }
    let state = rig.scenario(&["state"]).assert_success().stdout_words();
    assert!(
        state.contains(&format!("oauth {}", rig.oauth.url)),
        "the rig was not re-pointed: {state}"
    );
}

#[test]
fn tunnel_sh_starts_no_tunnel_when_the_rig_does_not_answer() {
    // Arrange: ports nothing listens on.
    let dir = WorkDir::new();
    let pids = pid_dir(&dir);
    let closed = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("find a free port")
            .port()
            .to_string()
    };

    // Act
    let finished = Launch::script(&dir, "tunnel.sh")
        .env("CLOUDFLARED", stand_in().to_str().unwrap())
        .env("CLOUDFLARED_STANDIN_PIDS", pids.to_str().unwrap())
        .env("MCP_OAUTH_SIM", BIN)
        .env("OAUTH_PORT", &closed())
        .env("MCP_PORT", &closed())
        .run();

    // Assert
    assert_eq!(finished.status.code(), Some(1), "{finished:#?}");
    let last = finished.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("tunnel.sh: the rig does not answer on ports "),
        "{finished:#?}"
    );
    assert!(last.contains("start it first"), "{finished:#?}");
    assert_eq!(tunnel_pids(&pids), Vec::<String>::new());
}
