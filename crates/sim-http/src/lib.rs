#![warn(missing_docs)]
//! HTTP plumbing shared by the two mcp-oauth-sim servers.
//!
//! Both the authorization server and the MCP server are plain hyper services routed with a
//! `match (method, path)`. Everything they have in common lives here, so that each server crate is
//! only about its protocol.
//!
//! # Layout
//! - [`serve`]: the accept loop — HTTP/1.1 and h2 on one port, optional TLS, a connection cap, a
//!   header-read timeout and a graceful drain on shutdown.
//! - [`tls`]: a TLS acceptor from PEM files, and the client side for links to our servers.
//! - [`body`] and [`form`]: bounded body reading and strict `x-www-form-urlencoded` / JSON parsing.
//! - [`response`]: JSON, redirect, page and OAuth-error answers, CORS.
//! - [`control`]: the guard in front of every `/control` plane.
//! - [`counter`]: the counts behind each server's `/control/state`.
//! - [`faults`]: the fault engine behind `/control/faults` and the failure switches.
//! - [`journal`]: the bounded, live record of requests behind `/control/events`.
//! - [`clock`]: the rig's clock, which a tester can move forward.
//! - [`log`]: one log line per request, and the helpers that keep it short.
//! - [`observe`]: what every request leaves behind: its facts, its log line, its journal event.
//! - [`outbound`]: the one outbound HTTP client: pooled keep-alive connections to an origin.
//! - [`fetch`]: one bounded GET of a document a client names, under an address policy.
//! - [`public_url`]: the rule for a URL a server announces.
//! - [`Running`]: a server in a background task, stopped when its handle drops.
//! - [`secret`]: random tokens and constant-time comparison.
//!
//! # Example
//! ```
//! use sim_http::{response, serve, ServeOptions};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! # #[tokio::main]
//! # async fn main() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let handler = |_req: http::Request<hyper::body::Incoming>| async {
//!     response::json(http::StatusCode::OK, &serde_json::json!({"ok": true}))
//! };
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let shutdown = async move {
//!     let _ = stopped.await;
//! };
//! let server = tokio::spawn(serve(listener, handler, ServeOptions::default(), shutdown));
//! // Any HTTP/1.1 client will do; here, a bare socket.
//! let mut socket = tokio::net::TcpStream::connect(addr).await?;
//! socket.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await?;
//! let mut answer = String::new();
//! socket.read_to_string(&mut answer).await?;
//! assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
//! assert!(answer.ends_with(r#"{"ok":true}"#), "{answer}");
//! let _ = stop.send(()); // stops accepting; in-flight requests finish
//! server.await??;
//! # Ok(()) }
//! ```

pub mod body;
pub mod clock;
pub mod control;
pub mod counter;
pub mod faults;
pub mod fetch;
pub mod form;
pub mod journal;
pub mod log;
pub mod observe;
pub mod outbound;
pub mod public_url;
pub mod response;
mod running;
pub mod secret;
mod server;
pub mod tls;

pub use clock::Clock;
pub use running::{AbortOnDrop, Handle, Running, StopSignal, loopback};
pub use server::{ConnInfo, ServeOptions, serve};

/// The response body type of every handler: boxed so that our own small JSON answers and rmcp's
/// streaming answers share one type.
pub type Body = http_body_util::combinators::BoxBody<bytes::Bytes, std::convert::Infallible>;

/// A response built by a handler.
pub type Response = http::Response<Body>;
