//! Integration tests of `sim_http::serve`: the real accept loop over real loopback sockets.
//!
//! # Layout
//! - [`harness`]: [`harness::TestServer`], the one way these tests start a server (port 0, a
//!   shutdown sender), plus bounded waiting and a minimal raw HTTP/1.1 client for the tests that
//!   must control the wire byte by byte.
//! - A throwaway CA and a `localhost` leaf come from `sim_test_kit::pki`, written as PEM files
//!   into a temporary directory.
//! - One module per behaviour of the server: [`plain`], [`tls`], [`body_cap`], [`shutdown`],
//!   [`limits`] (connection cap, header-read timeout) and [`cors`].
//!
//! Every wait is bounded by a timeout of a few seconds, so a regression fails instead of hanging.

mod body_cap;
mod cors;
mod harness;
mod limits;
mod plain;
mod shutdown;
mod tls;
