//! Starting a server on port 0, waiting with a bound, and speaking raw HTTP/1.1.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use http::Request;
use hyper::body::Incoming;
use sim_http::{Response, ServeOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The longest any single step of a test may take before the test fails.
pub const STEP: Duration = Duration::from_secs(3);

/// A `sim_http::serve` loop running on `127.0.0.1:0` in a background task.
///
/// Dropping it drops the shutdown sender, which also stops the server.
pub struct TestServer {
    /// Where the server listens.
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    served: JoinHandle<io::Result<()>>,
}

impl TestServer {
    /// Binds port 0 on loopback and serves `handler` with `options` until shutdown.
    pub async fn start<H, F>(handler: H, options: ServeOptions) -> Self
    where
        H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Response> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("listener address");
        let (shutdown, stop) = oneshot::channel::<()>();
        let served = tokio::spawn(sim_http::serve(listener, handler, options, async {
            // A dropped sender stops the server as well as an explicit signal.
            let _ = stop.await;
        }));
        Self {
            addr,
            shutdown: Some(shutdown),
            served,
        }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Signals shutdown without waiting for the server to stop.
    pub fn trigger_shutdown(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            shutdown.send(()).expect("the server is still running");
        }
    }

    /// Signals shutdown (if not yet done) and waits, bounded, for `serve` to return.
    pub async fn stop(mut self) -> io::Result<()> {
        self.trigger_shutdown();
        within(STEP, "serve returns after shutdown", &mut self.served)
            .await
            .expect("the serve task does not panic")
    }
}

/// Awaits `future`, failing the test with `what` if it takes longer than `limit`.
pub async fn within<T>(limit: Duration, what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {limit:?} waiting for: {what}"),
    }
}

/// A reqwest client for plain HTTP that never reaches for a proxy from the environment.
pub fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("plain reqwest client")
}

/// A response read off a raw connection.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// The header block, lower-cased, one `name: value` a line.
    pub head: String,
    pub body: Vec<u8>,
}

/// Sends a `GET path` on a raw HTTP/1.1 connection, leaving it open (keep-alive).
pub async fn send_get(stream: &mut TcpStream, path: &str) -> io::Result<()> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).await
}

/// Reads one response with a `Content-Length` body off a raw HTTP/1.1 connection, and not a byte
/// more, so that the connection can carry another request.
pub async fn read_response(stream: &mut TcpStream) -> io::Result<RawResponse> {
    let mut received = Vec::new();
    let head_end = loop {
        if let Some(end) = find(&received, b"\r\n\r\n") {
            break end;
        }
        let mut byte = [0u8; 1];
        if stream.read(&mut byte).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before a response head",
            ));
        }
        received.push(byte[0]);
    };
    let head = String::from_utf8_lossy(&received[..head_end]).to_ascii_lowercase();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no status code"))?;
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map_or(Ok(0), |value| value.trim().parse())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad content-length"))?;
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await?;
    Ok(RawResponse { status, head, body })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
