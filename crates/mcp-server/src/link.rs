//! The link to the authorization server: keep-alive HTTP/1.1 connections (plain or TLS) to the
//! introspection endpoint, pooled.
//!
//! Every MCP request makes one introspection call, so this is the hottest client path of the
//! rig. A general-purpose client (proxy lookup, redirect and retry layers, URL parsing per call)
//! cost about three times what the call itself costs; here a call is a pooled connection, a
//! prebuilt request and a body read. No proxy and no redirects: the two servers talk directly.

use std::sync::Mutex;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls_pki_types::{CertificateDer, ServerName};
use sim_http::log::root_cause;
use tokio::net::TcpStream;
use url::Url;

/// Idle connections kept at most; more are closed when returned.
const MAX_IDLE: usize = 256;

/// Why a request could not be made.
#[derive(Debug)]
pub enum LinkError {
    /// No connection could be opened (refused, unresolvable, TLS handshake failed).
    Connect(String),
    /// The connection failed while the request was under way.
    Transport(String),
    /// The answer's body is longer than the caller accepts.
    TooLarge,
}

/// Pooled connections to one origin, sending requests to one path.
pub struct Link {
    host: String,
    port: u16,
    authority: HeaderValue,
    path: Uri,
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
}

impl Link {
    /// A link to `url` (`http` or `https`). HTTPS trusts the platform's roots and `roots`.
    pub fn new(url: &str, roots: &[CertificateDer<'static>]) -> Result<Self, String> {
        let url = Url::parse(url).map_err(|error| error.to_string())?;
        let host = url.host_str().ok_or("the URL has no host")?;
        let port = url.port_or_known_default().ok_or("the URL has no port")?;
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        // `[::1]` is how a URL writes an IPv6 host; sockets and TLS want `::1`.
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let tls = match url.scheme() {
            "http" => None,
            "https" => Some((
                sim_http::tls::client_connector(roots.iter().cloned())?,
                ServerName::try_from(host.clone()).map_err(|error| error.to_string())?,
            )),
            other => return Err(format!("unsupported scheme '{other}'")),
        };
        Ok(Self {
            authority: HeaderValue::from_str(&authority).map_err(|error| error.to_string())?,
            path: path
                .parse()
                .map_err(|error: http::uri::InvalidUri| error.to_string())?,
            host,
            port,
            tls,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// POSTs a form `body` and reads the answer, refusing a body over `limit` bytes. A pooled
    /// connection that the server closed while it was idle is skipped, and a request it could
    /// not send goes out on another connection, so that a restarted server is reached at once.
    pub async fn post_form(
        &self,
        body: Bytes,
        limit: usize,
    ) -> Result<(StatusCode, Bytes), LinkError> {
        let mut request = self.request(body);
        loop {
            let (mut sender, fresh) = match self.checkout() {
                Some(sender) => (sender, false),
                None => (self.connect().await?, true),
            };
            if let Err(error) = sender.ready().await {
                if fresh {
                    return Err(LinkError::Connect(root_cause(&error)));
                }
                continue;
            }
            match sender.try_send_request(request).await {
                Ok(response) => {
                    let status = response.status();
                    let body = read_body(response.into_body(), limit).await?;
                    // Back to the pool only once the answer is read: a connection still busy
                    // would make the next caller wait instead of opening another.
                    self.checkin(sender);
                    return Ok((status, body));
                }
                Err(mut error) => match error.take_message() {
                    Some(unsent) if !fresh => request = unsent,
                    _ => return Err(LinkError::Transport(root_cause(error.error()))),
                },
            }
        }
    }

    fn request(&self, body: Bytes) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.path.clone();
        let headers = request.headers_mut();
        headers.insert(header::HOST, self.authority.clone());
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        request
    }

    /// Forgets pooled connections the server has closed (the authorization server closes one
    /// left idle past its header-read timeout). Each holds its request channel until dropped, so
    /// this runs periodically: a rig gone quiet after a burst lets go of the burst's connections.
    pub fn forget_closed(&self) {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .retain(|sender| !sender.is_closed());
    }

    fn checkout(&self) -> Option<SendRequest<Full<Bytes>>> {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        while let Some(sender) = idle.pop() {
            if !sender.is_closed() {
                return Some(sender);
            }
        }
        None
    }

    fn checkin(&self, sender: SendRequest<Full<Bytes>>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(sender);
        }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, LinkError> {
        let stream = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|error| LinkError::Connect(error.to_string()))?;
        stream.set_nodelay(true).ok();
        match &self.tls {
            None => handshake(stream).await,
            Some((connector, name)) => {
                let stream = connector
                    .connect(name.clone(), stream)
                    .await
                    .map_err(|error| LinkError::Connect(root_cause(&error)))?;
                handshake(stream).await
            }
        }
    }
}

async fn read_body(body: Incoming, limit: usize) -> Result<Bytes, LinkError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(LinkError::TooLarge),
        Err(error) => Err(LinkError::Transport(root_cause(&*error))),
    }
}

async fn handshake<S>(stream: S) -> Result<SendRequest<Full<Bytes>>, LinkError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| LinkError::Connect(root_cause(&error)))?;
    tokio::spawn(async move {
        // Ends when the server closes the connection or the last sender is dropped.
        let _ = connection.await;
    });
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_sends_to_the_path_with_the_authority_of_the_url() {
        let link = Link::new("http://127.0.0.1:9100/introspect", &[]).unwrap();
        let request = link.request(Bytes::from_static(b"token=x"));
        assert_eq!(request.uri(), "/introspect");
        assert_eq!(request.headers()[header::HOST], "127.0.0.1:9100");
        assert_eq!(
            request.headers()[header::CONTENT_TYPE],
            "application/x-www-form-urlencoded"
        );
        let link = Link::new("https://[::1]/oauth/introspect?x=1", &[]).unwrap();
        assert_eq!((link.host.as_str(), link.port), ("::1", 443));
        assert_eq!(link.request(Bytes::new()).uri(), "/oauth/introspect?x=1");
        assert!(Link::new("ftp://127.0.0.1/introspect", &[]).is_err());
    }

    fn pooled(link: &Link) -> usize {
        link.idle.lock().unwrap().len()
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
        let link = Link::new(&format!("http://127.0.0.1:{port}/introspect"), &[]).unwrap();
        let (status, _) = link
            .post_form(Bytes::from_static(b"token=x"), 64)
            .await
            .unwrap();
        assert_eq!(status, StatusCode::OK);
        link.forget_closed();
        assert_eq!(pooled(&link), 1, "an open connection stays pooled");

        close.send(()).unwrap();
        server.await.unwrap();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
        while pooled(&link) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            link.forget_closed();
        }

        assert_eq!(pooled(&link), 0, "the closed connection is forgotten");
    }
}
