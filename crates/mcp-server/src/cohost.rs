//! A server co-hosted on the MCP server's origin: the 2025-03-26 layout, in which the
//! authorization server lives at the MCP server's origin (its metadata at the root, or only
//! `/authorize`, `/token` and `/register` there).
//!
//! The MCP server keeps its own paths — `/mcp`, `/control…` and the metadata locations the
//! profile serves now — and hands every other request over as it came. It does not log or
//! journal what it hands over: the co-hosted server records its own requests, and a request
//! seen in both journals would be counted twice by whoever judges a client from them.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::Request;
use hyper::body::Incoming;
use sim_http::Response;

/// A future that answers a request, boxed so that any server's handler fits (the same type as
/// `futures::future::BoxFuture<'static, T>`).
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The handler of the co-hosted server, called with each request the MCP server does not
/// route itself. Cheap to clone.
#[derive(Clone)]
pub struct Cohost(Arc<dyn Fn(Request<Incoming>) -> BoxFuture<Response> + Send + Sync>);

impl Cohost {
    /// A co-host answering with `handler`.
    pub fn new(
        handler: impl Fn(Request<Incoming>) -> BoxFuture<Response> + Send + Sync + 'static,
    ) -> Self {
        Self(Arc::new(handler))
    }

    /// The co-hosted server's answer to `request`.
    pub async fn handle(&self, request: Request<Incoming>) -> Response {
        (self.0)(request).await
    }
}

impl fmt::Debug for Cohost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cohost(..)")
    }
}
