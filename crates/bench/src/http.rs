//! Keep-alive HTTP/1.1 connections, one per worker: the least work a client can do per request,
//! so that the client is not what a benchmark measures.
//!
//! A [`Conn`] talks to one origin. It connects on first use, reuses the connection for every
//! request, and reconnects when the server closed it between two requests. Plain HTTP and HTTPS
//! (the platform's roots plus an optional extra CA) are both served by hyper's client connection.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::Error;

/// Larger answers than this are not what a benchmark expects from an MCP or OAuth endpoint.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub use sim_http::outbound::{Origin, path_and_query};

/// The origin of `url`, or why it has none a benchmark can reach.
pub fn origin_of(url: &url::Url) -> Result<Origin, Error> {
    Origin::of(url).map_err(Error::Usage)
}

/// Opens connections; shared by every worker: the rig's own outbound connector, with the
/// benchmark's connect timeout.
#[derive(Clone)]
pub struct Connector(sim_http::outbound::Connector);

impl Default for Connector {
    /// The platform's roots only.
    fn default() -> Self {
        Self(sim_http::outbound::Connector::default().connect_timeout(CONNECT_TIMEOUT))
    }
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
        Ok(Self(
            sim_http::outbound::Connector::new(extra_roots).connect_timeout(CONNECT_TIMEOUT),
        ))
    }

    async fn connect(&self, origin: &Origin) -> Result<SendRequest<Full<Bytes>>, Error> {
        self.0
            .connect(origin)
            .await
            .map_err(|error| Error::Transport(error.to_string()))
    }
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
