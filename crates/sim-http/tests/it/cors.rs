//! CORS through the server: preflight answers and `with_cors` on ordinary answers.

use http::{Method, Request, StatusCode, header};
use hyper::body::Incoming;
use sim_http::{Response, ServeOptions, response};

use crate::harness::{STEP, TestServer, plain_client, within};

/// An endpoint open to browsers: preflight on `OPTIONS`, a CORS-enabled answer on `GET`.
async fn discovery(request: Request<Incoming>) -> Response {
    match *request.method() {
        Method::OPTIONS => response::preflight("GET, OPTIONS"),
        Method::GET => response::with_cors(response::json(
            StatusCode::OK,
            &serde_json::json!({ "issuer": "http://localhost" }),
        )),
        _ => response::method_not_allowed("GET, OPTIONS"),
    }
}

fn header_list(answer: &reqwest::Response, name: header::HeaderName) -> Vec<String> {
    answer
        .headers()
        .get(&name)
        .unwrap_or_else(|| panic!("missing {name}"))
        .to_str()
        .unwrap()
        .split(',')
        .map(|item| item.trim().to_ascii_lowercase())
        .collect()
}

#[tokio::test]
async fn preflight_allows_any_origin_the_methods_and_the_authorization_header() {
    // Arrange
    let server = TestServer::start(discovery, ServeOptions::default()).await;

    // Act
    let answer = within(
        STEP,
        "OPTIONS preflight",
        plain_client()
            .request(Method::OPTIONS, server.url("/.well-known/oauth"))
            .header(header::ORIGIN, "http://inspector.example")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "authorization, mcp-protocol-version",
            )
            .send(),
    )
    .await
    .unwrap();

    // Assert
    assert_eq!(answer.status(), StatusCode::NO_CONTENT);
    assert_eq!(answer.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let methods = header_list(&answer, header::ACCESS_CONTROL_ALLOW_METHODS);
    assert!(methods.contains(&"get".to_owned()), "methods: {methods:?}");
    assert!(
        methods.contains(&"options".to_owned()),
        "methods: {methods:?}"
    );
    let allowed = header_list(&answer, header::ACCESS_CONTROL_ALLOW_HEADERS);
    for requested in ["authorization", "mcp-protocol-version", "content-type"] {
        assert!(
            allowed.contains(&requested.to_owned()),
            "{requested} not allowed: {allowed:?}"
        );
    }
    assert!(
        answer
            .headers()
            .contains_key(header::ACCESS_CONTROL_MAX_AGE)
    );
}

#[tokio::test]
async fn with_cors_lets_any_origin_read_the_answer_and_its_challenge_header() {
    // Arrange
    let server = TestServer::start(discovery, ServeOptions::default()).await;

    // Act
    let answer = within(
        STEP,
        "GET with Origin",
        plain_client()
            .get(server.url("/.well-known/oauth"))
            .header(header::ORIGIN, "http://inspector.example")
            .send(),
    )
    .await
    .unwrap();

    // Assert
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let exposed = header_list(&answer, header::ACCESS_CONTROL_EXPOSE_HEADERS);
    assert!(
        exposed.contains(&"www-authenticate".to_owned()),
        "exposed: {exposed:?}"
    );
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["issuer"], "http://localhost");
}
