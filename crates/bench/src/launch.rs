//! Startup-to-ready: from spawning a server to every one of its ports answering an HTTP
//! request (any status: a 404 is an answer).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use url::Url;

use crate::Error;
use crate::http::{Conn, Connector, get, origin_of, path_and_query};

/// How long one readiness probe may wait for an answer.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// The pause between probes of a port that refused: short, since startup is what is measured.
const PROBE_PAUSE: Duration = Duration::from_micros(250);

/// A server that was started and is ready.
#[derive(Debug)]
pub struct Launched {
    pub pid: u32,
    pub ready_after: Duration,
}

/// Spawns `command` with its output to `log`, and waits until each of `ready` answers. The
/// process is left running (it is not a child anyone waits for: the caller stops it by PID).
pub async fn launch(
    command: &[String],
    ready: &[Url],
    log: Option<File>,
    timeout: Duration,
) -> Result<Launched, Error> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| Error::Usage("no command to launch".into()))?;
    let (stdout, stderr) = match log {
        Some(file) => (Stdio::from(file.try_clone()?), Stdio::from(file)),
        None => (Stdio::null(), Stdio::null()),
    };
    let mut spawn = Command::new(program);
    spawn
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    let (child, ready_after) = start(spawn, ready, timeout).await?;
    Ok(Launched {
        pid: child.id(),
        ready_after,
    })
}

/// Spawns `command` as it is configured and waits until each of `ready` answers; says how long
/// that took. The child is the caller's to stop; if it is not ready within `timeout` it is killed.
pub async fn start(
    mut command: Command,
    ready: &[Url],
    timeout: Duration,
) -> Result<(Child, Duration), Error> {
    let program = command.get_program().to_string_lossy().into_owned();
    let mut probes = ready
        .iter()
        .map(|url| {
            Ok((
                Conn::new(origin_of(url)?, Connector::default()),
                path_and_query(url),
            ))
        })
        .collect::<Result<Vec<_>, Error>>()?;

    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|error| Error::Usage(format!("cannot start {program}: {error}")))?;
    while !probes.is_empty() {
        let mut waiting = Vec::with_capacity(probes.len());
        for (mut conn, path) in probes {
            let answered = tokio::time::timeout(PROBE_TIMEOUT, conn.send(get(&path)))
                .await
                .is_ok_and(|reply| reply.is_ok());
            if !answered {
                waiting.push((conn, path));
            }
        }
        probes = waiting;
        if probes.is_empty() {
            break;
        }
        if let Some(status) = child.try_wait()? {
            return Err(Error::Protocol(format!(
                "{program} exited ({status}) before it was ready"
            )));
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Protocol(format!(
                "{program} was not ready within {timeout:?}"
            )));
        }
        std::thread::sleep(PROBE_PAUSE);
    }
    Ok((child, started.elapsed()))
}

/// The rig binary, started for a run on two free loopback ports, in an empty directory and
/// with a clean environment (no `.env`, no certificates, no control token), so that it serves
/// plain HTTP with open control planes. Dropping it kills the process.
pub struct Rig {
    child: Child,
    dir: PathBuf,
    pub mcp_url: Url,
    pub ready_after: Duration,
}

impl Rig {
    pub async fn start(binary: &Path) -> Result<Self, Error> {
        let [oauth_port, mcp_port] = [free_port()?, free_port()?];
        let dir =
            std::env::temp_dir().join(format!("sim-bench-rig-{}-{oauth_port}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .env_clear()
            .env("OAUTH_PORT", oauth_port.to_string())
            .env("MCP_PORT", mcp_port.to_string())
            .env("DASHBOARD_PORT", "0")
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let url = |port: u16, path: &str| {
            Url::parse(&format!("http://127.0.0.1:{port}{path}"))
                .map_err(|error| Error::Usage(error.to_string()))
        };
        let ready = [url(oauth_port, "/")?, url(mcp_port, "/")?];
        let (child, ready_after) = start(command, &ready, Duration::from_secs(20)).await?;
        Ok(Self {
            child,
            dir,
            mcp_url: url(mcp_port, "/mcp")?,
            ready_after,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A loopback port nothing listens on right now.
fn free_port() -> Result<u16, Error> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
