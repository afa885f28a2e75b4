//! Plain HTTP: the handler's answer reaches the client, and the handler learns about the connection.

use http::{Request, StatusCode, Version};
use hyper::body::Incoming;
use sim_http::{ConnInfo, Response, ServeOptions, response};
use tokio::net::TcpStream;

use crate::harness::{STEP, TestServer, plain_client, read_response, send_get, within};

/// Answers with what the server told the handler about the connection.
async fn describe_connection(request: Request<Incoming>) -> Response {
    match request.extensions().get::<ConnInfo>() {
        Some(info) => response::json(
            StatusCode::OK,
            &serde_json::json!({
                "remote": info.remote.to_string(),
                "tls": info.tls,
                "path": request.uri().path(),
            }),
        ),
        None => response::plain_error(StatusCode::INTERNAL_SERVER_ERROR, "no ConnInfo"),
    }
}

#[tokio::test]
async fn http1_request_gets_the_handlers_json_answer_with_conn_info_of_a_plain_connection() {
    // Arrange
    let server = TestServer::start(describe_connection, ServeOptions::default()).await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .http1_only()
        .build()
        .unwrap();

    // Act
    let answer = within(STEP, "GET /hello", client.get(server.url("/hello")).send())
        .await
        .expect("request succeeds");

    // Assert
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.version(), Version::HTTP_11);
    assert_eq!(answer.headers()["content-type"], "application/json");
    let body: serde_json::Value = within(STEP, "JSON body", answer.json()).await.unwrap();
    assert_eq!(body["tls"], false);
    assert_eq!(body["path"], "/hello");
    let remote: std::net::SocketAddr = body["remote"].as_str().unwrap().parse().unwrap();
    assert!(remote.ip().is_loopback(), "remote {remote} is not loopback");
    assert_ne!(remote.port(), server.addr.port());
    server.stop().await.expect("serve returns Ok");
}

#[tokio::test]
async fn conn_info_remote_is_exactly_the_clients_socket_address() {
    // Arrange
    let server = TestServer::start(describe_connection, ServeOptions::default()).await;
    let mut stream = within(STEP, "connect", TcpStream::connect(server.addr))
        .await
        .unwrap();
    let client_addr = stream.local_addr().unwrap();

    // Act
    send_get(&mut stream, "/whoami").await.unwrap();
    let answer = within(STEP, "raw response", read_response(&mut stream))
        .await
        .unwrap();

    // Assert
    assert_eq!(answer.status, 200);
    assert!(
        answer.head.contains("content-type: application/json"),
        "head: {}",
        answer.head
    );
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(body["remote"], client_addr.to_string());
    assert_eq!(body["tls"], false);
}

#[tokio::test]
async fn plain_http2_with_prior_knowledge_is_served_on_the_same_port() {
    // Arrange
    let server = TestServer::start(describe_connection, ServeOptions::default()).await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .build()
        .unwrap();

    // Act
    let answer = within(STEP, "h2c GET", client.get(server.url("/h2c")).send())
        .await
        .expect("request succeeds");

    // Assert
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.version(), Version::HTTP_2);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["tls"], false);
    assert_eq!(body["path"], "/h2c");
}

#[tokio::test]
async fn one_keep_alive_connection_carries_several_requests() {
    // Arrange
    let server = TestServer::start(describe_connection, ServeOptions::default()).await;
    let client = plain_client();

    // Act
    let mut remotes = Vec::new();
    for path in ["/one", "/two", "/three"] {
        let answer = within(STEP, path, client.get(server.url(path)).send())
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        let body: serde_json::Value = answer.json().await.unwrap();
        remotes.push(body["remote"].as_str().unwrap().to_owned());
    }

    // Assert: the pooled connection was reused, so the peer address never changed.
    assert!(
        remotes.windows(2).all(|pair| pair[0] == pair[1]),
        "remotes differ: {remotes:?}"
    );
}
