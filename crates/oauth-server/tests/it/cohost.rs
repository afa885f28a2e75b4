//! Co-hosting (the 2025-03-26 layout): an issuer served on a listener another server owns,
//! through [`oauth_server::CohostHandler`]; and client ids carried from one issuer to another.

use oauth_server::{Cohost, Config, IssuerConfig, Profile};
use reqwest::StatusCode;
use serde_json::json;
use sim_http::{Running, ServeOptions};

use crate::support::{Pkce, Rig, query_param};

/// The rig with an issuer `colo` co-hosted at the root of a stand-in for the MCP server's
/// listener (which hands every request to the handler), with `profile`.
async fn cohosted(profile: Profile) -> (Rig, Rig, Running<std::io::Error>) {
    let listener = sim_http::loopback().await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = Config {
        cohosts: vec![Cohost {
            port,
            origin: format!("http://localhost:{port}"),
        }],
        issuers: vec![IssuerConfig {
            profile: Some(profile),
            ..IssuerConfig::parse(&format!("colo=:{port}")).unwrap()
        }],
        ..Config::default()
    };
    let rig = Rig::start_with(config).await;
    let handler = rig.server.cohost();
    let serving = Running::spawn(move |stop| {
        let handler = move |request| {
            let handler = handler.clone();
            async move { handler.handle(port, request).await }
        };
        sim_http::serve(listener, handler, ServeOptions::default(), stop)
    });
    let colo = rig.at(port, "");
    (rig, colo, serving)
}

#[tokio::test]
async fn a_cohosted_issuer_is_served_through_the_handler_with_the_cohost_origin() {
    let (rig, colo, _serving) = cohosted(Profile::default()).await;
    let port = rig.server.issuer_named("colo").unwrap().port;
    let origin = format!("http://localhost:{port}");
    assert_eq!(rig.server.issuer_named("colo").unwrap().issuer, origin);

    let (status, document) = colo
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(document["issuer"], json!(origin));
    let client = colo.public_client().await;
    let tokens = colo.full_flow(&client).await;
    assert!(colo.is_active(&tokens.access).await);
    // The control plane is not the other server's to hand over.
    let response = colo
        .http
        .get(colo.url("/control/state"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let events = rig.events(0).await;
    assert!(
        events.iter().any(|event| event["service"] == json!("oauth")
            && event["issuer"] == json!("colo")
            && event["path"] == json!("/token")),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_cohosted_root_issuer_may_serve_no_metadata_and_only_the_default_endpoints() {
    let profile: Profile = serde_json::from_value(json!({"metadata": [], "iss": "omit"})).unwrap();
    let (_rig, colo, _serving) = cohosted(profile).await;
    let (status, _) = colo
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let client = colo.public_client().await;
    let redirect = colo.authorize(&client, &Pkce::new(), &[]).await;
    assert!(query_param(&redirect, "code").is_some());
    assert_eq!(query_param(&redirect, "iss"), None);
}

#[tokio::test]
async fn metadata_nowhere_is_refused_for_an_issuer_no_one_could_fall_back_to() {
    let started = oauth_server::AuthServer::start(Config {
        issuers: vec![IssuerConfig {
            profile: Some(serde_json::from_value(json!({"metadata": []})).unwrap()),
            ..IssuerConfig::parse("t=/t").unwrap()
        }],
        ..Config::default()
    })
    .await;
    let error = started.err().expect("refused").to_string();
    assert!(
        error.contains("nothing could discover this issuer"),
        "{error}"
    );
}

#[tokio::test]
async fn a_client_id_of_another_issuer_is_noted_and_counted() {
    let rig = Rig::start_with(Config {
        issuers: vec![IssuerConfig::parse("as2=/as2").unwrap()],
        ..Config::default()
    })
    .await;
    let as2 = rig.at(rig.server.addr().port(), "/as2");
    let leaked = rig.public_client().await;

    let response = as2.authorize_raw(&leaked, &Pkce::new(), &[]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let (status, _) = as2
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("client_id", &leaked.id),
        ])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (_, state) = rig.get_json("/control/issuers/as2/state").await;
    assert_eq!(state["counters"]["foreign_client_ids"], json!(2));
    assert_eq!(
        rig.state().await["counters"]["foreign_client_ids"],
        json!(0)
    );
    let events = rig.events(0).await;
    let noted = events
        .iter()
        .filter(|event| event["note"] == json!("client of issuer 'main'"))
        .count();
    assert_eq!(noted, 2, "{events:?}");
}
