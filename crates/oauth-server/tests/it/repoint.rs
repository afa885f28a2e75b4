//! Re-pointing a running server to a new public URL (a tunnel's, which changes on every restart
//! of the tunnel), and grants that follow a protected resource to its new identifier.

use oauth_server::{Config, IssuerConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sim_http::fetch::FetchPolicy;

use crate::support::{Pkce, REDIRECT_URI, Rig, query_param, tokens};

const TUNNEL: &str = "https://lucky-words.trycloudflare.com";

async fn metadata(rig: &Rig, path: &str) -> Value {
    let (status, document) = rig
        .get_json(&format!("/.well-known/oauth-authorization-server{path}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{document}");
    document
}

/// A refresh that asks for a token for `resource`.
async fn refresh_for(
    rig: &Rig,
    client: &str,
    refresh: &str,
    resource: &str,
) -> (StatusCode, Value) {
    rig.token(&[
        ("grant_type", "refresh_token"),
        ("client_id", client),
        ("refresh_token", refresh),
        ("resource", resource),
    ])
    .await
}

#[tokio::test]
async fn a_re_point_changes_every_url_and_iss_at_once_and_keeps_clients_and_tokens() {
    let config = Config {
        issuers: vec![IssuerConfig::parse("tenant1=/tenant1").unwrap()],
        ..Config::default()
    };
    let rig = Rig::start_with(config).await;
    let client = rig.public_client().await;
    let before = rig.full_flow(&client).await;
    let old_issuer = rig.server.issuer();

    let (status, answer) = rig
        .control(
            "/control/base-url",
            Some(json!({ "base_url": format!("{TUNNEL}/") })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let token = answer["control_token"]
        .as_str()
        .expect("a public URL makes the control plane require a token, told once")
        .to_owned();

    let main = metadata(&rig, "").await;
    assert_eq!(main["issuer"], json!(TUNNEL), "trailing slash dropped");
    assert_eq!(main["token_endpoint"], json!(format!("{TUNNEL}/token")));
    let tenant = metadata(&rig, "/tenant1").await;
    assert_eq!(tenant["issuer"], json!(format!("{TUNNEL}/tenant1")));
    assert_eq!(rig.server.issuer(), TUNNEL);
    let places: Vec<_> = rig
        .server
        .issuers()
        .into_iter()
        .map(|place| place.issuer)
        .collect();
    assert_eq!(places, [TUNNEL.to_owned(), format!("{TUNNEL}/tenant1")]);

    // The same client, its tokens and its refresh token carry on; what is issued names the new
    // issuer.
    let active = rig.introspect(&before.access).await;
    assert_eq!(active["active"], json!(true));
    assert_eq!(active["iss"], json!(TUNNEL));
    let (status, refreshed) = rig
        .refresh(&client, before.refresh.as_deref().unwrap())
        .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let pkce = Pkce::new();
    let redirect = rig.authorize(&client, &pkce, &[]).await;
    assert_eq!(query_param(&redirect, "iss").as_deref(), Some(TUNNEL));

    // From now on the plain control plane wants the token; with it, back to start-up's URL.
    let (status, _) = rig.control_text("/control/state", json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let response = rig
        .http
        .post(rig.url("/control/base-url"))
        .bearer_auth(&token)
        .json(&json!({ "base_url": null }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    assert!(answer.get("control_token").is_none(), "{answer}");
    assert_eq!(metadata(&rig, "").await["issuer"], json!(old_issuer));
    assert_eq!(
        metadata(&rig, "/tenant1").await["issuer"],
        json!(format!("{old_issuer}/tenant1"))
    );
}

#[tokio::test]
async fn a_loopback_re_point_leaves_the_control_plane_open_and_bad_urls_change_nothing() {
    let rig = Rig::start().await;
    let issuer = rig.server.issuer();
    for (body, why) in [
        (
            json!({ "base_url": "ftp://x.example" }),
            "must be an http(s) URL",
        ),
        (json!({ "base_url": "https://x.example/?a=1" }), "query"),
        (
            json!({ "base_url": "https://x.example", "port": 1 }),
            "no issuer is served on port 1",
        ),
        (json!({}), "base_url"),
    ] {
        let (status, message) = rig.control_text("/control/base-url", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(message.contains(why), "{body}: {message}");
    }
    assert_eq!(rig.server.issuer(), issuer, "nothing changed");

    let local = "http://127.0.0.1:9999";
    let (status, answer) = rig
        .control("/control/base-url", Some(json!({ "base_url": local })))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer.get("control_token").is_none(), "loopback: {answer}");
    assert_eq!(answer["re_pointed"][0]["issuer"], json!(local));
    assert_eq!(rig.state().await["issuer"], json!(local));
}

#[tokio::test]
async fn an_issuer_on_a_port_of_its_own_is_re_pointed_by_its_port_and_keeps_it_after_a_reset() {
    let config = Config {
        issuers: vec![IssuerConfig::parse("second=:0").unwrap()],
        ..Config::default()
    };
    let rig = Rig::start_with(config).await;
    let second = rig.server.issuer_named("second").unwrap();
    let main_issuer = rig.server.issuer();
    let body = json!({ "base_url": "http://second.localhost:7000", "port": second.port });
    let (status, answer) = rig.control("/control/base-url", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let second_rig = rig.at(second.port, "");
    assert_eq!(
        metadata(&second_rig, "").await["issuer"],
        json!("http://second.localhost:7000")
    );
    assert_eq!(
        rig.server.issuer(),
        main_issuer,
        "only that listener's issuers"
    );

    // Where the rig is reachable is not a failure switch: a reset keeps it.
    let (status, _) = rig.control("/control/reset", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        rig.server.issuer_named("second").unwrap().issuer,
        "http://second.localhost:7000"
    );
}

#[tokio::test]
async fn a_grant_follows_a_renamed_resource_through_each_rename_and_no_further() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let old = "http://localhost:9101/mcp";
    let new = "https://mcp-one.trycloudflare.com/mcp";
    let newer = "https://mcp-two.trycloudflare.com/mcp";
    let pkce = Pkce::new();
    let redirect = rig.authorize(&client, &pkce, &[("resource", old)]).await;
    let code = query_param(&redirect, "code").unwrap();
    let (status, body) = rig.exchange(&client, &code, &pkce).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refresh = tokens(body).refresh.unwrap();

    let (status, refused) = refresh_for(&rig, &client.id, &refresh, new).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(refused["error"], json!("invalid_target"), "not granted yet");

    for (from, to) in [(old, new), (new, newer)] {
        let (status, answer) = rig
            .control(
                "/control/renamed-resources",
                Some(json!({ "from": from, "to": to })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    for resource in [new, newer, old] {
        let (status, refreshed) = refresh_for(&rig, &client.id, &refresh, resource).await;
        assert_eq!(status, StatusCode::OK, "{resource}: {refreshed}");
        let access = refreshed["access_token"].as_str().unwrap();
        assert_eq!(rig.introspect(access).await["aud"], json!(resource));
    }
    let (status, refused) =
        refresh_for(&rig, &client.id, &refresh, "https://elsewhere.example/mcp").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(refused["error"], json!("invalid_target"));

    let (status, listed) = rig.get_json("/control/renamed-resources").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["renamed_resources"].as_array().unwrap().len(), 2);
    let (status, _) = rig.delete("/control/renamed-resources").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = refresh_for(&rig, &client.id, &refresh, new).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "forgotten");
}

#[tokio::test]
async fn renamed_resources_are_bounded_and_checked() {
    let rig = Rig::start().await;
    for index in 0..40 {
        let body = json!({
            "from": format!("https://a{index}.example/mcp"),
            "to": format!("https://b{index}.example/mcp"),
        });
        let (status, _) = rig.control("/control/renamed-resources", Some(body)).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (_, listed) = rig.get_json("/control/renamed-resources").await;
    let listed = listed["renamed_resources"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 32, "the oldest went");
    assert_eq!(listed[0]["from"], json!("https://a8.example/mcp"));
    for bad in [
        json!({ "from": "not a uri", "to": "https://b.example" }),
        json!({ "from": "https://a.example#f", "to": "https://b.example" }),
        json!({ "from": "https://a.example", "to": "https://a.example" }),
        json!({ "from": "https://a.example" }),
    ] {
        let (status, _) = rig
            .control_text("/control/renamed-resources", bad.clone())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn a_re_point_to_a_public_url_stops_document_fetches_from_inside_addresses() {
    // Arrange: a rig on loopback, which fetches a document from loopback as it should.
    let (rig, host, _pki) = crate::documents::rig_and_host(FetchPolicy::default()).await;
    let before = host.client("/before.json", &[REDIRECT_URI], vec![]);
    let after = host.client("/after.json", &[REDIRECT_URI], vec![]);
    let redirect = rig.authorize(&client(&before), &Pkce::new(), &[]).await;
    assert!(query_param(&redirect, "code").is_some(), "{redirect}");

    // Act
    let (status, answer) = rig
        .control("/control/base-url", Some(json!({ "base_url": TUNNEL })))
        .await;
    let refused = rig.authorize_raw(&client(&after), &Pkce::new(), &[]).await;

    // Assert: as at a start-up in tunnel mode, anyone who can reach the rig could otherwise
    // make it fetch from this machine's network.
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let page = refused.text().await.unwrap();
    assert!(page.contains("which is not a public address"), "{page}");
    assert_eq!(host.hits("/after.json"), 0, "refused before connecting");
}

fn client(id: &str) -> crate::support::TestClient {
    crate::support::TestClient {
        id: id.to_owned(),
        secret: None,
    }
}
