//! Startup-to-ready: from spawning a server to every one of its ports answering an HTTP
//! request (any status: a 404 is an answer).

use std::fs::File;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use url::Url;

use crate::Error;
use crate::http::{Conn, Connector, Origin, get, path_and_query};

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
    let mut probes = ready
        .iter()
        .map(|url| {
            Ok((
                Conn::new(Origin::of(url)?, Connector::default()),
                path_and_query(url),
            ))
        })
        .collect::<Result<Vec<_>, Error>>()?;

    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
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
    Ok(Launched {
        pid: child.id(),
        ready_after: started.elapsed(),
    })
}
