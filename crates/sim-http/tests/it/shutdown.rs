//! Graceful drain: on shutdown the server stops accepting, finishes what is in flight, and returns.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Request, StatusCode};
use hyper::body::Incoming;
use sim_http::{Response, ServeOptions, response};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::harness::{STEP, TestServer, plain_client, within};

/// Tells the test when the handler has started, so it can act while a request is in flight.
#[derive(Clone, Default)]
struct Started(Arc<Notify>);

impl Started {
    fn signal(&self) {
        self.0.notify_one();
    }

    async fn wait(&self) {
        within(STEP, "the handler starts", self.0.notified()).await;
    }
}

/// Polls until connecting to `addr` is refused, i.e. the listener is closed. A connect that
/// raced the close (accepted into the backlog, then reset) is retried.
async fn until_connections_are_refused(addr: std::net::SocketAddr) -> io::Error {
    within(STEP, "connections to be refused", async {
        loop {
            match TcpStream::connect(addr).await {
                Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => return error,
                _ => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    })
    .await
}

#[tokio::test]
async fn request_in_flight_at_shutdown_completes_and_serve_returns_ok() {
    // Arrange
    let started = Started::default();
    let handler = {
        let started = started.clone();
        move |_request: Request<Incoming>| {
            let started = started.clone();
            async move {
                started.signal();
                tokio::time::sleep(Duration::from_millis(300)).await;
                response::json(StatusCode::OK, &serde_json::json!({ "slow": true }))
            }
        }
    };
    let mut server = TestServer::start(handler, ServeOptions::default()).await;
    let in_flight = tokio::spawn(plain_client().get(server.url("/slow")).send());
    started.wait().await;

    // Act
    server.trigger_shutdown();
    let answer = within(STEP, "the in-flight request", in_flight)
        .await
        .unwrap()
        .expect("the in-flight request is not cut off");
    let body: serde_json::Value = answer.json().await.expect("the whole body arrives");
    let addr = server.addr;
    let served = server.stop().await;

    // Assert
    assert_eq!(body["slow"], true);
    served.expect("serve returns Ok after draining");
    let refused = TcpStream::connect(addr)
        .await
        .expect_err("no new connection is accepted after shutdown");
    assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
}

#[tokio::test]
async fn listener_closes_as_soon_as_shutdown_starts_while_requests_still_drain() {
    // Arrange
    let started = Started::default();
    let release = Arc::new(Notify::new());
    let handler = {
        let started = started.clone();
        let release = release.clone();
        move |_request: Request<Incoming>| {
            let started = started.clone();
            let release = release.clone();
            async move {
                started.signal();
                release.notified().await;
                response::json(StatusCode::OK, &serde_json::json!({ "released": true }))
            }
        }
    };
    let mut server = TestServer::start(handler, ServeOptions::default()).await;
    let in_flight = tokio::spawn(plain_client().get(server.url("/held")).send());
    started.wait().await;

    // Act
    server.trigger_shutdown();
    let refused = until_connections_are_refused(server.addr).await;
    release.notify_one();
    let answer = within(STEP, "the held request", in_flight)
        .await
        .unwrap()
        .expect("the held request completes once released");

    // Assert
    assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(
        answer.json::<serde_json::Value>().await.unwrap()["released"],
        true
    );
    server.stop().await.expect("serve returns Ok");
}

#[tokio::test]
async fn shutdown_gives_up_on_a_request_that_outlasts_the_drain_timeout() {
    // Arrange
    let started = Started::default();
    let handler = {
        let started = started.clone();
        move |_request: Request<Incoming>| {
            let started = started.clone();
            async move {
                started.signal();
                std::future::pending::<Response>().await
            }
        }
    };
    let options = ServeOptions {
        drain_timeout: Duration::from_millis(200),
        ..ServeOptions::default()
    };
    let server = TestServer::start(handler, options).await;
    let in_flight = tokio::spawn(plain_client().get(server.url("/never")).send());
    started.wait().await;
    let shutdown_at = Instant::now();

    // Act
    let served = server.stop().await;
    let stopped_after = shutdown_at.elapsed();
    let cut_off = within(STEP, "the abandoned request fails", in_flight)
        .await
        .unwrap();

    // Assert
    served.expect("serve returns Ok even when the drain times out");
    assert!(
        stopped_after >= Duration::from_millis(150),
        "serve returned after {stopped_after:?}, without waiting for the drain"
    );
    assert!(
        stopped_after < Duration::from_secs(2),
        "serve took {stopped_after:?} to give up on the drain"
    );
    cut_off.expect_err("the connection is closed, not answered");
}

#[tokio::test]
async fn idle_keep_alive_connection_does_not_hold_up_shutdown() {
    // Arrange
    let handler =
        |_request: Request<Incoming>| async { response::json(StatusCode::OK, &"idle soon") };
    let server = TestServer::start(handler, ServeOptions::default()).await;
    let client = plain_client();
    let answer = within(STEP, "a first request", client.get(server.url("/")).send())
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let shutdown_at = Instant::now();

    // Act: the client keeps its pooled connection open while the server stops.
    let served = server.stop().await;

    // Assert: an idle connection is closed at once, not waited on for the drain timeout (5 s).
    served.expect("serve returns Ok");
    assert!(
        shutdown_at.elapsed() < Duration::from_secs(1),
        "shutdown waited {:?} on an idle connection",
        shutdown_at.elapsed()
    );
    drop(client);
}
