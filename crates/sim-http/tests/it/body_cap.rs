//! The body cap through the server: oversized bodies are refused with 413, however they are framed.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body::Frame;
use hyper::body::Incoming;
use sim_http::body::{self, MAX_BODY_BYTES};
use sim_http::{ConnInfo, Response, ServeOptions, response};

use crate::harness::{STEP, TestServer, plain_client, within};

const TWO_MIB: usize = 2 * 1024 * 1024;

/// Reads the body under the rig's cap and answers with its length, or with the cap's status.
/// Either way it says how the request was framed, so a test can check it sent what it meant to,
/// and which peer port sent it, so a test can tell a reused connection from a new one.
async fn read_capped(request: Request<Incoming>) -> Response {
    let remote_port = request
        .extensions()
        .get::<ConnInfo>()
        .expect("serve inserts the connection's info")
        .remote
        .port();
    let framing = if request.headers().contains_key(header::CONTENT_LENGTH) {
        "content-length"
    } else if request.headers().contains_key(header::TRANSFER_ENCODING) {
        "chunked"
    } else {
        "none"
    };
    let mut answer = match body::read(request.into_body(), MAX_BODY_BYTES).await {
        Ok(bytes) => response::json(StatusCode::OK, &serde_json::json!({ "len": bytes.len() })),
        Err(error) => response::plain_error(error.status(), &error.to_string()),
    };
    answer.headers_mut().insert(
        "x-request-framing",
        header::HeaderValue::from_static(framing),
    );
    answer
        .headers_mut()
        .insert("x-peer-port", header::HeaderValue::from(remote_port));
    answer
}

/// A body of `total` bytes in 64 KiB chunks with no length known up front, which HTTP/1.1 sends
/// with `Transfer-Encoding: chunked`.
fn chunked_body(total: usize) -> reqwest::Body {
    const CHUNK: usize = 64 * 1024;
    let chunks = (0..total.div_ceil(CHUNK)).map(move |index| {
        let len = CHUNK.min(total - index * CHUNK);
        Ok::<_, Infallible>(Frame::data(Bytes::from(vec![b'a'; len])))
    });
    reqwest::Body::wrap(http_body_util::StreamBody::new(futures::stream::iter(
        chunks,
    )))
}

#[tokio::test]
async fn two_mib_body_with_content_length_is_refused_with_413() {
    // Arrange
    let server = TestServer::start(read_capped, ServeOptions::default()).await;
    let client = plain_client();

    // Act
    let answer = within(
        STEP,
        "POST 2 MiB with Content-Length",
        client
            .post(server.url("/upload"))
            .body(vec![b'a'; TWO_MIB])
            .send(),
    )
    .await
    .expect("the server answers instead of dropping the connection");

    // Assert
    assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.headers()["x-request-framing"], "content-length");
}

#[tokio::test]
async fn two_mib_chunked_body_is_refused_with_413() {
    // Arrange
    let server = TestServer::start(read_capped, ServeOptions::default()).await;
    let client = plain_client();

    // Act
    let answer = within(
        STEP,
        "POST 2 MiB chunked",
        client
            .post(server.url("/upload"))
            .body(chunked_body(TWO_MIB))
            .send(),
    )
    .await
    .expect("the server answers instead of dropping the connection");

    // Assert
    assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.headers()["x-request-framing"], "chunked");
}

#[tokio::test]
async fn small_body_is_read_whole_with_either_framing() {
    // Arrange
    let server = TestServer::start(read_capped, ServeOptions::default()).await;
    let client = plain_client();

    // Act
    let with_length = within(
        STEP,
        "POST small with Content-Length",
        client
            .post(server.url("/upload"))
            .body(vec![b'a'; 1000])
            .send(),
    )
    .await
    .unwrap();
    let chunked = within(
        STEP,
        "POST small chunked",
        client
            .post(server.url("/upload"))
            .body(chunked_body(100_000))
            .send(),
    )
    .await
    .unwrap();

    // Assert
    assert_eq!(with_length.status(), StatusCode::OK);
    assert_eq!(with_length.headers()["x-request-framing"], "content-length");
    let body: serde_json::Value = with_length.json().await.unwrap();
    assert_eq!(body["len"], 1000);
    assert_eq!(chunked.status(), StatusCode::OK);
    assert_eq!(chunked.headers()["x-request-framing"], "chunked");
    let body: serde_json::Value = chunked.json().await.unwrap();
    assert_eq!(body["len"], 100_000);
}

#[tokio::test]
async fn body_of_exactly_the_cap_is_accepted() {
    // Arrange
    let server = TestServer::start(read_capped, ServeOptions::default()).await;
    let client = plain_client();

    // Act
    let answer = within(
        STEP,
        "POST exactly MAX_BODY_BYTES chunked",
        client
            .post(server.url("/upload"))
            .body(chunked_body(MAX_BODY_BYTES))
            .send(),
    )
    .await
    .unwrap();

    // Assert
    assert_eq!(answer.status(), StatusCode::OK);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["len"], MAX_BODY_BYTES);
}

#[tokio::test]
async fn a_refused_upload_is_read_to_its_end_so_the_413_arrives_and_the_connection_lives_on() {
    // A Content-Length over the cap is refused before the body arrives. Were the connection then
    // closed with the upload still in flight, the kernel would reset it, and a reset often
    // destroys the 413 before the client reads it. The server reads the rest first, which also
    // leaves the connection fit for the next request: the same peer port answers both.
    let server = TestServer::start(read_capped, ServeOptions::default()).await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(1)
        .http1_only()
        .build()
        .unwrap();

    // Act
    let refused = within(
        STEP,
        "POST 2 MiB with Content-Length",
        client
            .post(server.url("/upload"))
            .body(vec![b'a'; TWO_MIB])
            .send(),
    )
    .await
    .expect("the server answers instead of resetting the connection");
    let refused_port = refused.headers()["x-peer-port"].clone();
    assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
    refused.bytes().await.unwrap();
    let next = within(
        STEP,
        "POST small after the refusal",
        client.post(server.url("/upload")).body("ok").send(),
    )
    .await
    .unwrap();

    // Assert
    assert_eq!(next.status(), StatusCode::OK);
    assert_eq!(
        next.headers()["x-peer-port"],
        refused_port,
        "the refused connection was kept alive and reused"
    );
}
