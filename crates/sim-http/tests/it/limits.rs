//! Resource limits: the connection cap and the header-read timeout against slow clients.

use std::time::{Duration, Instant};

use http::{Request, StatusCode};
use hyper::body::Incoming;
use sim_http::{ServeOptions, response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{STEP, TestServer, read_response, send_get, within};

/// How long a test waits to be sure that something does not happen.
const QUIET: Duration = Duration::from_millis(300);

async fn ok(_request: Request<Incoming>) -> sim_http::Response {
    response::json(StatusCode::OK, &serde_json::json!({ "ok": true }))
}

/// Reads until the server closes the connection, and says how long that took. A read error
/// (a reset) counts as closed; a `408` answer followed by a close is accepted too.
async fn closed_by_server(stream: &mut TcpStream) -> Duration {
    let started = Instant::now();
    let mut received = Vec::new();
    within(Duration::from_secs(1), "the server to close", async {
        let mut buf = [0u8; 256];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        received.is_empty() || received.starts_with(b"HTTP/1.1 408"),
        "the server answered instead of closing: {}",
        String::from_utf8_lossy(&received)
    );
    started.elapsed()
}

#[tokio::test]
async fn second_connection_waits_while_the_only_slot_is_held_and_is_served_once_it_frees() {
    // Arrange
    let options = ServeOptions {
        max_connections: 1,
        ..ServeOptions::default()
    };
    let server = TestServer::start(ok, options).await;
    let mut first = within(STEP, "first connect", TcpStream::connect(server.addr))
        .await
        .unwrap();
    send_get(&mut first, "/first").await.unwrap();
    let answer = within(STEP, "first response", read_response(&mut first))
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "the first connection is served");
    // `first` stays open: HTTP/1.1 keep-alive holds the slot.

    // Act
    let mut second = within(STEP, "second connect", TcpStream::connect(server.addr))
        .await
        .expect("the kernel backlog completes the handshake");
    send_get(&mut second, "/second").await.unwrap();
    let while_held = tokio::time::timeout(QUIET, read_response(&mut second)).await;
    drop(first);
    let once_freed = within(
        STEP,
        "second response after the slot frees",
        read_response(&mut second),
    )
    .await;

    // Assert
    assert!(
        while_held.is_err(),
        "the second connection was served while the slot was held: {while_held:?}"
    );
    assert_eq!(once_freed.unwrap().status, 200);
}

#[tokio::test]
async fn partial_request_line_is_closed_after_the_header_read_timeout() {
    // Arrange
    let options = ServeOptions {
        header_read_timeout: Duration::from_millis(200),
        ..ServeOptions::default()
    };
    let server = TestServer::start(ok, options).await;
    let mut stream = within(STEP, "connect", TcpStream::connect(server.addr))
        .await
        .unwrap();

    // Act: a slow-loris client starts a request and never finishes it.
    stream.write_all(b"GET /slow HTTP/1.1\r\nHo").await.unwrap();
    let closed_after = closed_by_server(&mut stream).await;

    // Assert
    assert!(
        closed_after >= Duration::from_millis(150),
        "closed after {closed_after:?}, before the timeout could have fired"
    );
}

#[tokio::test]
async fn connection_that_sends_nothing_is_closed_after_the_header_read_timeout() {
    // Arrange
    let options = ServeOptions {
        header_read_timeout: Duration::from_millis(200),
        ..ServeOptions::default()
    };
    let server = TestServer::start(ok, options).await;
    let mut stream = within(STEP, "connect", TcpStream::connect(server.addr))
        .await
        .unwrap();

    // Act: connect, then stay silent.
    let closed_after = closed_by_server(&mut stream).await;

    // Assert
    assert!(
        closed_after >= Duration::from_millis(150),
        "closed after {closed_after:?}, before the timeout could have fired"
    );
}

#[tokio::test]
async fn half_an_http2_preface_is_closed_after_the_header_read_timeout() {
    // Arrange
    let options = ServeOptions {
        header_read_timeout: Duration::from_millis(200),
        ..ServeOptions::default()
    };
    let server = TestServer::start(ok, options).await;
    let mut stream = within(STEP, "connect", TcpStream::connect(server.addr))
        .await
        .unwrap();

    // Act: bytes that could still become the h2 preface, so the protocol is never decided.
    stream.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    let closed_after = closed_by_server(&mut stream).await;

    // Assert
    assert!(
        closed_after >= Duration::from_millis(150),
        "closed after {closed_after:?}, before the timeout could have fired"
    );
}

#[tokio::test]
async fn idle_keep_alive_connection_is_closed_after_the_header_read_timeout() {
    // Arrange
    let options = ServeOptions {
        header_read_timeout: Duration::from_millis(200),
        ..ServeOptions::default()
    };
    let server = TestServer::start(ok, options).await;
    let mut stream = within(STEP, "connect", TcpStream::connect(server.addr))
        .await
        .unwrap();
    send_get(&mut stream, "/").await.unwrap();
    let answer = within(STEP, "response", read_response(&mut stream))
        .await
        .unwrap();
    assert_eq!(answer.status, 200);

    // Act: keep the connection open without a next request.
    let closed_after = closed_by_server(&mut stream).await;

    // Assert
    assert!(
        closed_after >= Duration::from_millis(150),
        "closed after {closed_after:?}, before the timeout could have fired"
    );
}

#[tokio::test]
async fn slow_loris_sending_partial_headers_does_not_starve_the_next_client_at_the_cap() {
    second_client_is_served_after_a_slow_client_at_the_cap(
        "partial headers",
        b"GET / HTTP/1.1\r\n",
    )
    .await;
}

#[tokio::test]
async fn silent_client_does_not_starve_the_next_client_at_the_cap() {
    second_client_is_served_after_a_slow_client_at_the_cap("nothing", b"").await;
}

/// At a cap of one connection, a client that sends `opening` and then nothing holds the only
/// slot; the next client must still be served once the header-read timeout frees it.
async fn second_client_is_served_after_a_slow_client_at_the_cap(kind: &str, opening: &[u8]) {
    // Arrange
    let options = ServeOptions {
        max_connections: 1,
        header_read_timeout: Duration::from_millis(200),
        ..ServeOptions::default()
    };
    let server = TestServer::start(ok, options).await;
    let mut loris = within(STEP, "loris connect", TcpStream::connect(server.addr))
        .await
        .unwrap();
    loris.write_all(opening).await.unwrap();
    let mut patient = within(STEP, "second connect", TcpStream::connect(server.addr))
        .await
        .unwrap();

    // Act
    send_get(&mut patient, "/").await.unwrap();
    let answer = within(
        STEP,
        "the second client is served once the loris times out",
        read_response(&mut patient),
    )
    .await;

    // Assert
    assert_eq!(
        answer.unwrap().status,
        200,
        "after a slow client sending {kind}"
    );
    drop(loris);
}
