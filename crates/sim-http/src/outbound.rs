//! The one outbound HTTP client of the rig: keep-alive HTTP/1.1 connections, plain or TLS, to
//! one origin, with nothing a general-purpose client adds (proxy lookup, redirects, retries,
//! URL parsing per call). The MCP server's introspection link and `sim-bench`'s load
//! connections are built from it, and so is whatever the authorization server fetches.
//!
//! - [`Origin`]: scheme, host, port and the `Host` header, from a URL.
//! - [`Connector`]: opens a connection to an origin (TCP, TLS against the platform's roots plus
//!   extra ones, the HTTP/1.1 handshake).
//! - [`Pool`]: connections to one origin shared by concurrent callers, each request's answer
//!   read whole within a size limit. Redirects are never followed: a 3xx is an answer.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use url::Url;

use crate::log::root_cause;

/// A connection's request channel.
pub type Sender = SendRequest<Full<Bytes>>;

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// No connection could be opened (refused, unresolvable, timed out, TLS handshake failed).
    #[error("{0}")]
    Connect(String),
    /// The connection failed while the request was under way.
    #[error("{0}")]
    Transport(String),
    /// The answer's body is longer than the caller accepts.
    #[error("the answer is larger than accepted")]
    TooLarge,
}

/// Where requests go: scheme, host and port, and the `Host` header that names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// Whether to speak TLS: the URL was `https`.
    pub tls: bool,
    /// The host as a socket wants it: `::1`, not `[::1]`.
    pub host: String,
    /// The URL's port, or 80 or 443 by its scheme.
    pub port: u16,
    /// The `Host` header value.
    pub authority: HeaderValue,
}

impl Origin {
    /// The origin of an `http` or `https` URL.
    pub fn of(url: &Url) -> Result<Self, String> {
        let tls = match url.scheme() {
            "http" => false,
            "https" => true,
            other => return Err(format!("{url}: unsupported scheme '{other}'")),
        };
        let host = url.host_str().ok_or_else(|| format!("{url}: no host"))?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| format!("{url}: no port"))?;
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        Ok(Self {
            tls,
            // `[::1]` is how a URL spells an IPv6 host; a socket address wants `::1`.
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
            authority: HeaderValue::from_str(&authority)
                .map_err(|_| format!("{url}: unusable host"))?,
        })
    }
}

/// The path and query of `url`, as a request line wants them.
pub fn path_and_query(url: &Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}

/// Opens connections. TLS trusts the platform's roots and the extra ones given, and is set up
/// on first use, so a plain-HTTP client never loads the platform's roots.
#[derive(Clone, Default)]
pub struct Connector {
    extra_roots: Arc<Vec<CertificateDer<'static>>>,
    tls: Arc<OnceLock<Result<tokio_rustls::TlsConnector, String>>>,
    /// How long opening a connection (TLS included) may take; `None`: the caller bounds it.
    connect_timeout: Option<Duration>,
}

impl Connector {
    /// A connector trusting `extra_roots` besides the platform's.
    pub fn new(extra_roots: Vec<CertificateDer<'static>>) -> Self {
        Self {
            extra_roots: Arc::new(extra_roots),
            ..Self::default()
        }
    }

    /// Gives up opening a connection after `timeout`.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    fn tls(&self) -> Result<&tokio_rustls::TlsConnector, OutboundError> {
        self.tls
            .get_or_init(|| crate::tls::client_connector(self.extra_roots.iter().cloned()))
            .as_ref()
            .map_err(|error| OutboundError::Connect(format!("TLS client: {error}")))
    }

    /// A new connection to `origin`, ready for a request.
    pub async fn connect(&self, origin: &Origin) -> Result<Sender, OutboundError> {
        let open = self.open(origin);
        let mut sender = match self.connect_timeout {
            None => open.await?,
            Some(timeout) => tokio::time::timeout(timeout, open).await.map_err(|_| {
                OutboundError::Connect(format!(
                    "connecting to {}:{} timed out after {timeout:?}",
                    origin.host, origin.port
                ))
            })??,
        };
        sender
            .ready()
            .await
            .map_err(|error| OutboundError::Connect(root_cause(&error)))?;
        Ok(sender)
    }

    /// A new connection to `origin` at `addr`, an address its host was resolved to by the
    /// caller (which checked it), ready for a request: TLS still names the origin's host.
    pub async fn connect_at(
        &self,
        origin: &Origin,
        addr: SocketAddr,
    ) -> Result<Sender, OutboundError> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|error| OutboundError::Connect(format!("{addr}: {error}")))?;
        let mut sender = self.over(origin, stream).await?;
        sender
            .ready()
            .await
            .map_err(|error| OutboundError::Connect(root_cause(&error)))?;
        Ok(sender)
    }

    async fn open(&self, origin: &Origin) -> Result<Sender, OutboundError> {
        let stream = TcpStream::connect((origin.host.as_str(), origin.port))
            .await
            .map_err(|error| {
                OutboundError::Connect(format!("{}:{}: {error}", origin.host, origin.port))
            })?;
        self.over(origin, stream).await
    }

    /// The HTTP/1.1 handshake over `stream`, in TLS when the origin is `https`.
    async fn over(&self, origin: &Origin, stream: TcpStream) -> Result<Sender, OutboundError> {
        stream.set_nodelay(true).ok();
        if !origin.tls {
            return handshake(stream).await;
        }
        let name = ServerName::try_from(origin.host.clone())
            .map_err(|error| OutboundError::Connect(format!("{}: {error}", origin.host)))?;
        let stream = self
            .tls()?
            .connect(name, stream)
            .await
            .map_err(|error| OutboundError::Connect(root_cause(&error)))?;
        handshake(stream).await
    }
}

async fn handshake<S>(stream: S) -> Result<Sender, OutboundError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| OutboundError::Connect(root_cause(&error)))?;
    tokio::spawn(async move {
        // Ends when the server closes the connection or the last sender is dropped.
        let _ = connection.await;
    });
    Ok(sender)
}

/// A whole answer.
#[derive(Debug)]
pub struct Reply {
    /// The status answered; a 3xx is not followed.
    pub status: StatusCode,
    /// The answer's headers.
    pub headers: HeaderMap,
    /// The whole body, within the caller's limit.
    pub body: Bytes,
}

/// Reads a body whole, refusing one over `limit` bytes.
pub async fn read_body(body: Incoming, limit: usize) -> Result<Bytes, OutboundError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(OutboundError::TooLarge),
        Err(error) => Err(OutboundError::Transport(root_cause(&*error))),
    }
}

/// Idle connections a pool keeps at most; more are closed when returned.
const MAX_IDLE: usize = 256;

/// Keep-alive connections to one origin, shared by concurrent callers.
pub struct Pool {
    origin: Origin,
    connector: Connector,
    idle: Mutex<Vec<Sender>>,
}

impl Pool {
    /// A pool for `origin`, connecting with `connector`.
    pub fn new(origin: Origin, connector: Connector) -> Self {
        Self {
            origin,
            connector,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// The origin every request of this pool goes to.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Sends `request` (origin-form URI; the `Host` header is added) and reads the answer,
    /// refusing a body over `limit` bytes. A pooled connection that the server closed while it
    /// was idle is skipped, and a request it could not send goes out on another connection, so
    /// that a restarted server is reached at once.
    pub async fn send(
        &self,
        mut request: Request<Full<Bytes>>,
        limit: usize,
    ) -> Result<Reply, OutboundError> {
        request
            .headers_mut()
            .insert(header::HOST, self.origin.authority.clone());
        loop {
            let (mut sender, fresh) = match self.checkout() {
                Some(sender) => (sender, false),
                None => (self.connector.connect(&self.origin).await?, true),
            };
            if !fresh && sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(request).await {
                Ok(response) => {
                    let (parts, body) = response.into_parts();
                    let body = read_body(body, limit).await?;
                    // Back to the pool only once the answer is read: a connection still busy
                    // would make the next caller wait instead of opening another.
                    self.checkin(sender);
                    return Ok(Reply {
                        status: parts.status,
                        headers: parts.headers,
                        body,
                    });
                }
                Err(mut error) => match error.take_message() {
                    Some(unsent) if !fresh => request = unsent,
                    _ => return Err(OutboundError::Transport(root_cause(error.error()))),
                },
            }
        }
    }

    /// Forgets pooled connections the server has closed. Each holds its request channel until
    /// dropped, so a server calls this periodically: a rig gone quiet after a burst lets go of
    /// the burst's connections.
    pub fn forget_closed(&self) {
        self.lock().retain(|sender| !sender.is_closed());
    }

    /// Connections kept idle now.
    pub fn idle(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Sender>> {
        // A poisoned lock only means a panic elsewhere mid-push; the list is well formed.
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn checkout(&self) -> Option<Sender> {
        let mut idle = self.lock();
        while let Some(sender) = idle.pop() {
            if !sender.is_closed() {
                return Some(sender);
            }
        }
        None
    }

    fn checkin(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.lock();
        if idle.len() < MAX_IDLE {
            idle.push(sender);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_carry_the_host_header_clients_send() {
        let origin = Origin::of(&Url::parse("http://localhost:3000/mcp").unwrap()).unwrap();
        assert_eq!(origin.authority, "localhost:3000");
        assert_eq!(
            (origin.host.as_str(), origin.port, origin.tls),
            ("localhost", 3000, false)
        );
        let origin = Origin::of(&Url::parse("https://example.com/mcp").unwrap()).unwrap();
        assert_eq!(origin.authority, "example.com");
        assert_eq!((origin.port, origin.tls), (443, true));
        let origin = Origin::of(&Url::parse("http://[::1]:9/").unwrap()).unwrap();
        assert_eq!(
            (origin.host.as_str(), origin.authority.to_str().unwrap()),
            ("::1", "[::1]:9")
        );
        assert!(Origin::of(&Url::parse("ftp://example.com/").unwrap()).is_err());
    }

    #[test]
    fn request_targets_keep_the_query() {
        let url = Url::parse("http://a/authorize?x=1&y=%20").unwrap();
        assert_eq!(path_and_query(&url), "/authorize?x=1&y=%20");
        assert_eq!(path_and_query(&Url::parse("http://a").unwrap()), "/");
    }

    #[tokio::test]
    async fn connections_the_server_closed_are_forgotten_without_waiting_for_a_request() {
        // A server that answers one request on a keep-alive connection, then closes it, as the
        // authorization server does with a connection left idle.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (close, closing) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = vec![0; 4096];
            let _ = stream.read(&mut request).await.unwrap();
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
                .await
                .unwrap();
            let _ = closing.await;
        });
        let url = Url::parse(&format!("http://127.0.0.1:{port}/introspect")).unwrap();
        let pool = Pool::new(Origin::of(&url).unwrap(), Connector::default());
        let mut request = Request::new(Full::new(Bytes::from_static(b"token=x")));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = "/introspect".parse().unwrap();
        let reply = pool.send(request, 64).await.unwrap();
        assert_eq!(reply.status, StatusCode::OK);
        pool.forget_closed();
        assert_eq!(pool.idle(), 1, "an open connection stays pooled");

        close.send(()).unwrap();
        server.await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while pool.idle() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
            pool.forget_closed();
        }

        assert_eq!(pool.idle(), 0, "the closed connection is forgotten");
    }

    #[tokio::test]
    async fn an_answer_over_the_limit_is_refused_and_a_refused_connection_says_so() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = vec![0; 4096];
            let _ = stream.read(&mut request).await.unwrap();
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n")
                .await;
            let _ = stream.write_all(&[b'x'; 100]).await;
        });
        let url = Url::parse(&format!("http://127.0.0.1:{port}/doc")).unwrap();
        let pool = Pool::new(Origin::of(&url).unwrap(), Connector::default());
        let mut request = Request::new(Full::new(Bytes::new()));
        *request.uri_mut() = "/doc".parse().unwrap();
        assert_eq!(
            pool.send(request, 10).await.unwrap_err(),
            OutboundError::TooLarge
        );

        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let closed_port = closed.local_addr().unwrap().port();
        drop(closed);
        let url = Url::parse(&format!("http://127.0.0.1:{closed_port}/")).unwrap();
        let pool = Pool::new(
            Origin::of(&url).unwrap(),
            Connector::default().connect_timeout(Duration::from_secs(2)),
        );
        let refused = pool
            .send(Request::new(Full::new(Bytes::new())), 10)
            .await
            .unwrap_err();
        assert!(matches!(refused, OutboundError::Connect(_)), "{refused:?}");
    }
}
