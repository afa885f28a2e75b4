use reqwest::StatusCode;
use serde_json::Value;
use sim_http::tls::Tls;
use sim_test_kit::pki::TestPki;

/// A CA and a localhost leaf it signed: the CA as PEM, the leaf as a server acceptor.
fn ca_and_leaf() -> (String, Tls) {
    let pki = TestPki::generate("oauth-server test CA");
    (pki.ca_pem.clone(), pki.tls())
}

#[tokio::test]
async fn over_tls_the_default_issuer_is_https_and_a_client_trusting_the_ca_completes_a_flow() {
    let (ca_pem, tls) = ca_and_leaf();
    let server = oauth_server::AuthServer::start(oauth_server::Config {
        tls: Some(tls),
        ..Default::default()
    })
    .await
    .unwrap();
    let port = server.addr().port();
    assert_eq!(server.issuer(), format!("https://localhost:{port}"));

    let http = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap()])
        .resolve("localhost", server.addr())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata: Value = http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            server.issuer()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        metadata["token_endpoint"],
        format!("https://localhost:{port}/token")
    );

    let untrusting = reqwest::Client::builder()
        .tls_certs_only([])
        .resolve("localhost", server.addr())
        .build()
        .unwrap();
    assert!(untrusting.get(server.issuer()).send().await.is_err());
    let plain = reqwest::get(format!("http://{}/control/state", server.addr())).await;
    assert!(
        plain.is_err() || plain.unwrap().status() != StatusCode::OK,
        "no plain HTTP on a TLS port"
    );
}
