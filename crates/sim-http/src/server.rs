//! The accept loop shared by both servers.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::Response;
use crate::faults::DropConnection;
use crate::tls::Tls;

/// What a handler may want to know about the connection a request came in on. Inserted into every
/// request's extensions.
#[derive(Clone, Copy, Debug)]
pub struct ConnInfo {
    /// The peer's address.
    pub remote: SocketAddr,
    /// Whether the connection is TLS.
    pub tls: bool,
}

/// Tunables of [`serve`]. The defaults suit a test rig on a developer machine.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Serve HTTPS with this acceptor instead of plain HTTP.
    pub tls: Option<Tls>,
    /// Connections served at once. Further connections wait in the kernel's backlog rather than
    /// being accepted, so a flood cannot exhaust file descriptors or memory.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers (and a TLS handshake) before the
    /// connection is closed: a slow-loris client cannot pin a connection slot forever. For the
    /// first request it counts from the accept, so a client that connects and stays silent is
    /// closed too.
    pub header_read_timeout: Duration,
    /// How long shutdown waits for in-flight requests before closing their connections.
    pub drain_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            tls: None,
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(5),
        }
    }
}

/// Serves `handler` on `listener` until `shutdown` completes, then stops accepting and lets
/// in-flight requests finish (bounded by [`ServeOptions::drain_timeout`]).
///
/// The listener is bound by the caller, so its address is known before serving starts (tests bind
/// port 0 and read the port back). Errors accepting one connection are logged and skipped; only a
/// listener that cannot accept at all ends the loop early.
pub async fn serve<H, F>(
    listener: TcpListener,
    handler: H,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()>
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(256);
    let builder = Arc::new(builder);

    let permits = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    // Owned so that connections still open after the drain timeout can be closed.
    let mut connections = tokio::task::JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);

    loop {
        // Take a connection slot before accepting, so that at the cap new clients queue in the
        // backlog instead of being accepted and starved.
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            // A finished connection's task keeps its memory until joined; joining each as it
            // ends, rather than when the next client arrives, lets a rig that has gone quiet
            // after a burst shrink back instead of holding every connection of the burst.
            Some(_) = connections.join_next() => continue,
            () = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            // Cancelling `accept` loses no connection, and the slot is taken again at once.
            Some(_) = connections.join_next() => continue,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) if is_transient(&error) => {
                    tracing::warn!("accept failed: {error}");
                    // Typically EMFILE: back off briefly instead of spinning.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                Err(error) => return Err(error),
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);

        let info = ConnInfo {
            remote,
            tls: options.tls.is_some(),
        };
        let handler = handler.clone();
        let requested = Arc::new(AtomicBool::new(false));
        let service = hyper::service::service_fn({
            let requested = requested.clone();
            move |mut request: Request<Incoming>| {
                requested.store(true, Ordering::Relaxed);
                request.extensions_mut().insert(info);
                let response = handler(request);
                async move {
                    let response = response.await;
                    // An error from the service makes hyper close the connection without
                    // writing anything (h2: reset the stream): the `drop` fault.
                    if response.extensions().get::<DropConnection>().is_some() {
                        return Err(Dropped);
                    }
                    Ok(response)
                }
            }
        });
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let tls = options.tls.clone();
        let header_read_timeout = options.header_read_timeout;

        let connection = async move {
            let result = match tls {
                None => {
                    let conn =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    watcher.watch(conn.into_owned()).await
                }
                Some(acceptor) => {
                    match tokio::time::timeout(
                        header_read_timeout,
                        acceptor.acceptor().accept(stream),
                    )
                    .await
                    {
                        Ok(Ok(stream)) => {
                            let conn = builder
                                .serve_connection_with_upgrades(TokioIo::new(stream), service);
                            watcher.watch(conn.into_owned()).await
                        }
                        Ok(Err(error)) => {
                            tracing::debug!("TLS handshake with {remote} failed: {error}");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!("TLS handshake with {remote} timed out");
                            return;
                        }
                    }
                }
            };
            if let Err(error) = result {
                tracing::debug!("connection from {remote} ended: {error}");
            }
        };
        connections.spawn(async move {
            let _permit = permit;
            tokio::select! {
                () = connection => {}
                () = no_request_within(header_read_timeout, &requested) => {
                    tracing::debug!("{remote} sent no request in time; closing");
                }
            }
        });
    }

    drop(listener);
    if tokio::time::timeout(options.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::debug!("drain timed out; closing remaining connections");
    }
    connections.shutdown().await;
    Ok(())
}

/// The service's error for a response marked [`DropConnection`].
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by a fault rule")
    }
}

impl std::error::Error for Dropped {}

/// Completes if no request has reached the service `timeout` after the connection was accepted.
///
/// hyper's own header-read timeout only runs once the connection is known to speak HTTP/1, and
/// telling HTTP/1 from h2 waits for the client's first bytes without any time limit. Without this
/// bound a client that connects and stays silent (or sends half an h2 preface) would hold a
/// connection slot forever.
async fn no_request_within(timeout: Duration, requested: &AtomicBool) {
    tokio::time::sleep(timeout).await;
    if requested.load(Ordering::Relaxed) {
        std::future::pending::<()>().await;
    }
}

/// Accept errors that concern one connection or a momentary resource shortage, not the listener.
fn is_transient(error: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        error.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock
    ) || error
        .raw_os_error()
        .is_some_and(|code| code == 23 || code == 24) // ENFILE, EMFILE
}
