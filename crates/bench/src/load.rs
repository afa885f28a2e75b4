//! The load loops: `concurrency` workers, each on its own keep-alive connection(s), each
//! sending one operation after the other until the deadline (or its operation cap).

use std::time::{Duration, Instant};

use bytes::Bytes;
use url::Url;

use crate::discovery::Discovered;
use crate::http::{Conn, Connector, origin_of, path_and_query};
use crate::mcp::Caller;
use crate::oauth::{Authorizer, Registration};
use crate::stats::{Recorder, Report};
use crate::{Error, Failure};

/// How long and how hard a run goes.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    pub concurrency: usize,
    /// The measured window.
    pub duration: Duration,
    /// Load sent before the window opens, not counted.
    pub warmup: Duration,
    /// Operations per worker at most.
    pub max_per_worker: u64,
    /// One operation taking longer fails as `timeout`.
    pub timeout: Duration,
}

impl Load {
    /// A short run for tests.
    pub fn brief(concurrency: usize, duration: Duration) -> Self {
        Self {
            concurrency,
            duration,
            warmup: Duration::ZERO,
            max_per_worker: 1_000_000,
            timeout: Duration::from_secs(5),
        }
    }
}

/// When measuring starts and stops.
#[derive(Clone, Copy)]
struct Window {
    opens: Instant,
    closes: Instant,
}

impl Window {
    fn after_warmup(load: &Load) -> Self {
        let opens = Instant::now() + load.warmup;
        Self {
            opens,
            closes: opens + load.duration,
        }
    }
}

/// What every `tools/call` worker shares.
#[derive(Clone)]
pub struct CallTarget {
    pub connector: Connector,
    pub mcp_url: Url,
    /// From [`crate::mcp::tool_call_prefix`].
    pub tool_call: Bytes,
}

/// `tools/call` with `token` at `load.concurrency` for `load.duration`.
pub async fn calls(target: &CallTarget, token: &str, load: Load) -> Result<Report, Error> {
    let origin = origin_of(&target.mcp_url)?;
    let path = path_and_query(&target.mcp_url);
    let window = Window::after_warmup(&load);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..load.concurrency {
        let mut conn = Conn::new(origin.clone(), target.connector.clone());
        let caller = Caller::new(&path, token, target.tool_call.clone());
        workers.spawn(async move {
            let mut recorder = Recorder::with_capacity(4096);
            let mut caller = match caller {
                Ok(caller) => caller,
                Err(failure) => {
                    recorder.fail(failure);
                    return recorder;
                }
            };
            if let Err(failure) = Failure::within(load.timeout, caller.open(&mut conn)).await {
                recorder.fail(failure);
                return recorder;
            }
            let mut pacer = Pacer::new(window, load.max_per_worker);
            while let Some(started) = pacer.next() {
                let outcome = Failure::within(load.timeout, caller.call(&mut conn)).await;
                if outcome.as_ref().is_err_and(Failure::is_transport) {
                    conn.reset();
                }
                pacer.record(&mut recorder, started, outcome).await;
            }
            recorder
        });
    }
    Ok(finish("calls", load, window, workers).await)
}

/// Complete flows at `load.concurrency` for `load.duration`: a fresh code and token each time,
/// then one `tools/call` with that token. The session (if the server keeps them) is opened
/// with the first flow's token and kept.
pub async fn flows(
    target: &CallTarget,
    discovered: &Discovered,
    registration: &Registration,
    load: Load,
) -> Result<Report, Error> {
    let origin = origin_of(&target.mcp_url)?;
    let path = path_and_query(&target.mcp_url);
    let window = Window::after_warmup(&load);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..load.concurrency {
        let mut authorizer =
            Authorizer::new(&target.connector, discovered.clone(), registration.clone())?;
        let mut conn = Conn::new(origin.clone(), target.connector.clone());
        let caller = Caller::new(&path, "pending", target.tool_call.clone());
        workers.spawn(async move {
            let mut recorder = Recorder::with_capacity(4096);
            let mut caller = match caller {
                Ok(caller) => caller,
                Err(failure) => {
                    recorder.fail(failure);
                    return recorder;
                }
            };
            let mut opened = false;
            let mut pacer = Pacer::new(window, load.max_per_worker);
            while let Some(started) = pacer.next() {
                let flow = async {
                    let token = authorizer.access_token().await?;
                    caller.authorize(&token)?;
                    if !opened {
                        caller.open(&mut conn).await?;
                        opened = true;
                    }
                    caller
                        .call(&mut conn)
                        .await
                        .map_err(|failure| failure.during("call"))
                };
                let outcome = Failure::within(load.timeout, flow).await;
                if outcome.as_ref().is_err_and(Failure::is_transport) {
                    conn.reset();
                    authorizer.reset();
                }
                pacer.record(&mut recorder, started, outcome).await;
            }
            recorder
        });
    }
    Ok(finish("flows", load, window, workers).await)
}

/// Paces one worker: hands out start times until the window closes or the cap is reached,
/// and records the operations that started inside the window.
struct Pacer {
    window: Window,
    left: u64,
}

impl Pacer {
    fn new(window: Window, cap: u64) -> Self {
        Self { window, left: cap }
    }

    /// The start of the next operation, if there is to be one.
    fn next(&mut self) -> Option<Instant> {
        let now = Instant::now();
        if self.left == 0 || now >= self.window.closes {
            return None;
        }
        self.left -= 1;
        Some(now)
    }

    async fn record(
        &self,
        recorder: &mut Recorder,
        started: Instant,
        outcome: Result<(), Failure>,
    ) {
        let transport_failed = outcome.as_ref().is_err_and(Failure::is_transport);
        if started >= self.window.opens {
            recorder.record(started.elapsed(), outcome);
        }
        if transport_failed {
            // A server that is down refuses at once: do not spin.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

async fn finish(
    mode: &'static str,
    load: Load,
    window: Window,
    mut workers: tokio::task::JoinSet<Recorder>,
) -> Report {
    let mut recorders = Vec::with_capacity(load.concurrency);
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok(recorder) => recorders.push(recorder),
            Err(error) => {
                let mut recorder = Recorder::default();
                recorder.fail(Failure::new("panic", error.to_string()));
                recorders.push(recorder);
            }
        }
    }
    // Operations in flight at the deadline finish after it; a cap may end the run before.
    let elapsed = Instant::now()
        .min(window.closes)
        .saturating_duration_since(window.opens);
    Report::merge(mode, load.concurrency, elapsed, recorders)
}
