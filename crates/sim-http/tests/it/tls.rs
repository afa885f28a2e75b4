//! HTTPS with a certificate from PEM files: trust, ALPN, and errors that name the bad file.

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Request, StatusCode, Version};
use hyper::body::Incoming;
use rustls_pki_types::ServerName;
use sim_http::tls::Tls;
use sim_http::{ConnInfo, Response, ServeOptions, response};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::harness::{STEP, TestServer, within};
use sim_test_kit::pki::{TempDir, TestPki};

async fn describe_connection(request: Request<Incoming>) -> Response {
    let tls = request.extensions().get::<ConnInfo>().map(|info| info.tls);
    response::json(StatusCode::OK, &serde_json::json!({ "tls": tls }))
}

/// A TLS server whose certificate, signed by `pki`'s CA, was loaded from PEM files.
async fn start_tls_server(pki: &TestPki, options: ServeOptions) -> TestServer {
    let dir = TempDir::new("tls");
    let cert = dir.write("leaf.pem", &pki.leaf_pem);
    let key = dir.write("leaf-key.pem", &pki.leaf_key_pem);
    let tls = Tls::from_pem_files(&cert, &key).expect("leaf and key load");
    TestServer::start(
        describe_connection,
        ServeOptions {
            tls: Some(tls),
            ..options
        },
    )
    .await
}

/// A client that trusts only `ca`, and reaches `localhost` on the server's loopback address.
fn client_trusting(ca: reqwest::Certificate, server: &TestServer) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([ca])
        .resolve("localhost", server.addr)
}

fn https_localhost(server: &TestServer, path: &str) -> String {
    format!("https://localhost:{}{path}", server.addr.port())
}

#[tokio::test]
async fn client_trusting_only_the_test_ca_gets_an_h2_answer_negotiated_by_alpn() {
    // Arrange
    let pki = TestPki::generate("sim-http test CA");
    let server = start_tls_server(&pki, ServeOptions::default()).await;
    let client = client_trusting(pki.ca_certificate(), &server)
        .build()
        .unwrap();

    // Act
    let answer = within(
        STEP,
        "GET over TLS",
        client.get(https_localhost(&server, "/secure")).send(),
    )
    .await
    .expect("a client trusting the CA connects");

    // Assert
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.version(), Version::HTTP_2);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["tls"], true);
    server.stop().await.expect("serve returns Ok");
}

#[tokio::test]
async fn http1_only_client_is_served_http1_over_tls() {
    // Arrange
    let pki = TestPki::generate("sim-http test CA");
    let server = start_tls_server(&pki, ServeOptions::default()).await;
    let client = client_trusting(pki.ca_certificate(), &server)
        .http1_only()
        .build()
        .unwrap();

    // Act
    let answer = within(
        STEP,
        "HTTP/1.1 GET over TLS",
        client.get(https_localhost(&server, "/h1")).send(),
    )
    .await
    .expect("an HTTP/1.1 client connects");

    // Assert
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.version(), Version::HTTP_11);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["tls"], true);
}

#[tokio::test]
async fn leaf_certificate_is_valid_for_the_loopback_ip_address_too() {
    // Arrange
    let pki = TestPki::generate("sim-http test CA");
    let server = start_tls_server(&pki, ServeOptions::default()).await;
    let client = client_trusting(pki.ca_certificate(), &server)
        .build()
        .unwrap();

    // Act
    let answer = within(
        STEP,
        "GET https://127.0.0.1",
        client
            .get(format!("https://127.0.0.1:{}/ip", server.addr.port()))
            .send(),
    )
    .await
    .expect("the IP address SAN verifies");

    // Assert
    assert_eq!(answer.status(), StatusCode::OK);
}

#[tokio::test]
async fn client_that_does_not_trust_the_ca_fails_the_handshake_and_the_server_keeps_serving() {
    // Arrange
    let pki = TestPki::generate("sim-http test CA");
    let stranger = TestPki::generate("some other CA");
    let server = start_tls_server(&pki, ServeOptions::default()).await;
    let distrustful = client_trusting(stranger.ca_certificate(), &server)
        .build()
        .unwrap();
    let trusting = client_trusting(pki.ca_certificate(), &server)
        .build()
        .unwrap();

    // Act
    let refused = within(
        STEP,
        "GET with an untrusted certificate",
        distrustful.get(https_localhost(&server, "/")).send(),
    )
    .await;
    let served = within(
        STEP,
        "GET after a failed handshake",
        trusting.get(https_localhost(&server, "/")).send(),
    )
    .await;

    // Assert
    let error = refused.expect_err("a client not trusting the CA must not connect");
    assert!(error.is_connect(), "not a connect error: {error:?}");
    let chain = error_chain(&error);
    assert!(
        chain.contains("UnknownIssuer") || chain.contains("certificate"),
        "the failure is not about the certificate: {chain}"
    );
    assert_eq!(served.expect("trusting client").status(), StatusCode::OK);
}

#[tokio::test]
async fn tls_client_that_never_sends_a_client_hello_is_disconnected_after_the_header_read_timeout()
{
    // Arrange
    let pki = TestPki::generate("sim-http test CA");
    let server = start_tls_server(
        &pki,
        ServeOptions {
            header_read_timeout: Duration::from_millis(200),
            ..ServeOptions::default()
        },
    )
    .await;
    let mut stream = within(STEP, "connect", TcpStream::connect(server.addr))
        .await
        .unwrap();
    let started = Instant::now();

    // Act
    let mut buf = [0u8; 64];
    let read = within(
        Duration::from_secs(1),
        "server closes",
        stream.read(&mut buf),
    )
    .await;

    // Assert
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "expected the connection to be closed, read {read:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "closed after {:?}, before the timeout",
        started.elapsed()
    );
}

#[tokio::test]
async fn tls_client_that_completes_the_handshake_then_stays_silent_is_disconnected() {
    // Arrange
    let pki = TestPki::generate("sim-http test CA");
    let server = start_tls_server(
        &pki,
        ServeOptions {
            header_read_timeout: Duration::from_millis(300),
            ..ServeOptions::default()
        },
    )
    .await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca_der.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let started = Instant::now();
    let tcp = within(STEP, "connect", TcpStream::connect(server.addr))
        .await
        .unwrap();
    let mut stream = within(
        STEP,
        "TLS handshake",
        connector.connect(ServerName::try_from("localhost").unwrap(), tcp),
    )
    .await
    .expect("the handshake succeeds");

    // Act: send no request at all.
    let mut buf = [0u8; 64];
    let read = within(
        Duration::from_secs(1),
        "server closes",
        stream.read(&mut buf),
    )
    .await;

    // Assert
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "expected the connection to be closed, read {read:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "closed after {:?}, before the timeout",
        started.elapsed()
    );
}

#[test]
fn from_pem_files_names_a_missing_certificate_file() {
    // Arrange
    let dir = TempDir::new("missing-cert");
    let pki = TestPki::generate("sim-http test CA");
    let key = dir.write("key.pem", &pki.leaf_key_pem);
    let missing = dir.path().join("no-such-cert.pem");

    // Act
    let error = Tls::from_pem_files(&missing, &key).expect_err("a missing file is an error");

    // Assert
    let message = error.to_string();
    assert!(
        message.contains(&missing.display().to_string()),
        "message does not name the file: {message}"
    );
}

#[test]
fn from_pem_files_names_a_certificate_file_that_holds_no_certificate() {
    // Arrange
    let dir = TempDir::new("no-cert");
    let pki = TestPki::generate("sim-http test CA");
    let key = dir.write("key.pem", &pki.leaf_key_pem);
    // A PEM file, but with only a key in it.
    let not_a_cert = dir.write("only-a-key.pem", &pki.leaf_key_pem);

    // Act
    let error = Tls::from_pem_files(&not_a_cert, &key).expect_err("no certificate is an error");

    // Assert
    let message = error.to_string();
    assert!(
        message.contains(&not_a_cert.display().to_string()),
        "message does not name the file: {message}"
    );
    assert!(message.contains("no certificate"), "message: {message}");
}

#[test]
fn from_pem_files_names_a_missing_key_file() {
    // Arrange
    let dir = TempDir::new("missing-key");
    let pki = TestPki::generate("sim-http test CA");
    let cert = dir.write("cert.pem", &pki.leaf_pem);
    let missing = dir.path().join("no-such-key.pem");

    // Act
    let error = Tls::from_pem_files(&cert, &missing).expect_err("a missing key is an error");

    // Assert
    let message = error.to_string();
    assert!(
        message.contains(&missing.display().to_string()),
        "message does not name the file: {message}"
    );
}

/// The error and all its sources, for asserting on the cause of a failure.
fn error_chain(error: &reqwest::Error) -> String {
    let mut chain = format!("{error:?}");
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(&format!(" <- {cause:?}"));
        source = cause.source();
    }
    chain
}
