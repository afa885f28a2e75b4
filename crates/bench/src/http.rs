//! Keep-alive HTTP/1.1 connections, one per worker: the least work a client can do per request,
//! so that the client is not what a benchmark measures.
//!
//! A [`Conn`] talks to one origin. It connects on first use, reuses the connection for every
//! request, and reconnects when the server closed it between two requests. Plain HTTP and HTTPS
//! (the platform's roots plus an optional extra CA) are both served by hyper's client connection.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use url::Url;

use crate::Error;

/// Larger answers than this are not what a benchmark expects from an MCP or OAuth endpoint.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where requests go: scheme, host and port, and the `Host` header that names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// The `Host` header value.
    pub authority: HeaderValue,
}

impl Origin {
    pub fn of(url: &Url) -> Result<Self, Error> {
        let tls = match url.scheme() {
            "http" => false,
            "https" => true,
            other => return Err(Error::Usage(format!("{url}: unsupported scheme '{other}'"))),
        };
        let host = url
            .host_str()
            .ok_or_else(|| Error::Usage(format!("{url}: no host")))?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| Error::Usage(format!("{url}: no port")))?;
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
                .map_err(|_| Error::Usage(format!("{url}: unusable host")))?,
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

/// Opens connections; shared by every worker. TLS is configured on first use, so a plain HTTP
/// run never loads the platform's roots.
#[derive(Clone, Default)]
pub struct Connector {
    extra_roots: Arc<Vec<CertificateDer<'static>>>,
    tls: Arc<OnceLock<Result<tokio_rustls::TlsConnector, String>>>,
}

impl Connector {
    /// Trusts the platform's roots, and the certificates of the PEM file `cacert` if given.
    pub fn new(cacert: Option<&Path>) -> Result<Self, Error> {
        let extra_roots = match cacert {
            None => Vec::new(),
            Some(path) => CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|error| Error::Usage(format!("{}: {error}", path.display())))?,
        };
        Ok(Self {
            extra_roots: Arc::new(extra_roots),
            tls: Arc::default(),
        })
    }

    fn tls(&self) -> Result<&tokio_rustls::TlsConnector, Error> {
        self.tls
            .get_or_init(|| sim_http::tls::client_connector(self.extra_roots.iter().cloned()))
            .as_ref()
            .map_err(|error| Error::Usage(format!("TLS client: {error}")))
    }

    async fn connect(&self, origin: &Origin) -> Result<SendRequest<Full<Bytes>>, Error> {
        let connect = TcpStream::connect((origin.host.as_str(), origin.port));
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| Error::Transport(format!("connecting to {} timed out", origin.host)))?
            .map_err(|error| {
                Error::Transport(format!("{}:{}: {error}", origin.host, origin.port))
            })?;
        stream.set_nodelay(true).ok();
        if !origin.tls {
            return handshake(stream).await;
        }
        let name = ServerName::try_from(origin.host.clone())
            .map_err(|error| Error::Usage(format!("{}: {error}", origin.host)))?;
        let stream = self
            .tls()?
            .connect(name, stream)
            .await
            .map_err(|error| Error::Transport(format!("TLS with {}: {error}", origin.host)))?;
        handshake(stream).await
    }
}

async fn handshake<S>(stream: S) -> Result<SendRequest<Full<Bytes>>, Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| Error::Transport(error.to_string()))?;
    tokio::spawn(async move {
        // The connection ends when the sender is dropped or the server closes it.
        let _ = connection.await;
    });
    Ok(sender)
}

/// A whole response.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn header(&self, name: impl header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The start of the body, for error messages.
    pub fn excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        text.chars().take(200).collect()
    }
}

/// One keep-alive connection to one origin.
pub struct Conn {
    origin: Origin,
    connector: Connector,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// Requests sent (or attempted) on this connection, reconnections included.
    sent: u64,
}

impl Conn {
    /// A connection to `origin`, opened on the first request.
    pub fn new(origin: Origin, connector: Connector) -> Self {
        Self {
            origin,
            connector,
            sender: None,
            sent: 0,
        }
    }

    /// How many requests [`Conn::send`] was asked to send.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Drops the connection (after a timeout its state is unknown); the next request opens one.
    pub fn reset(&mut self) {
        self.sender = None;
    }

    /// Sends `request` (origin-form URI) and reads the whole answer. The `Host` header is added.
    pub async fn send(&mut self, mut request: Request<Full<Bytes>>) -> Result<Reply, Error> {
        self.sent += 1;
        request
            .headers_mut()
            .insert(header::HOST, self.origin.authority.clone());
        let sender = self.ready().await?;
        let response = match sender.send_request(request).await {
            Ok(response) => response,
            Err(error) => {
                // The next request starts on a fresh connection.
                self.sender = None;
                return Err(Error::Transport(error.to_string()));
            }
        };
        let (parts, body) = response.into_parts();
        let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) => {
                self.sender = None;
                return Err(Error::Transport(format!("reading the answer: {error}")));
            }
        };
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// A sender ready for a request: the open connection, or a new one if the server closed it
    /// (nothing was sent on it yet, so reconnecting is always safe).
    async fn ready(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, Error> {
        let alive = match &mut self.sender {
            Some(sender) => sender.ready().await.is_ok(),
            None => false,
        };
        if !alive {
            self.sender = None;
            let mut sender = self.connector.connect(&self.origin).await?;
            sender
                .ready()
                .await
                .map_err(|error| Error::Transport(format!("{}: {error}", self.origin.host)))?;
            self.sender = Some(sender);
        }
        Ok(self.sender.as_mut().expect("connected above"))
    }
}

/// A GET request for `path`.
pub fn get(path: &str) -> Request<Full<Bytes>> {
    let mut request = Request::new(Full::new(Bytes::new()));
    *request.uri_mut() = path.parse().unwrap_or_default();
    request
}

/// A POST request for `path` with `body` of `content_type`.
pub fn post(path: &str, content_type: &'static str, body: Bytes) -> Request<Full<Bytes>> {
    let mut request = Request::new(Full::new(body));
    *request.method_mut() = http::Method::POST;
    *request.uri_mut() = path.parse().unwrap_or_default();
    request
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    request
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
}
