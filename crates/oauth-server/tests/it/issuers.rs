//! Several issuers in one server: a path issuer on the main listener, an issuer on a port of its
//! own, each with metadata, endpoints, clients, tokens and switches of its own; added, addressed
//! and removed through the control plane.

use oauth_server::{Config, IssuerConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Pkce, Rig, query_param};

/// `main`, `tenant1` under `/tenant1` of the main listener, and `second` on a free port.
async fn three_issuers() -> (Rig, Rig, Rig) {
    let config = Config {
        issuers: vec![
            IssuerConfig::parse("tenant1=/tenant1").unwrap(),
            IssuerConfig::parse("second=:0").unwrap(),
        ],
        ..Config::default()
    };
    let main = Rig::start_with(config).await;
    let port = main.server.addr().port();
    let second_port = main.server.issuer_named("second").unwrap().port;
    assert_ne!(second_port, port, "second has a listener of its own");
    let tenant = main.at(port, "/tenant1");
    let second = main.at(second_port, "");
    (main, tenant, second)
}

fn issuer_of(rig: &Rig, name: &str) -> String {
    rig.server.issuer_named(name).unwrap().issuer
}

#[tokio::test]
async fn each_issuer_serves_its_own_metadata_at_the_rfc_8414_location() {
    let (main, tenant, second) = three_issuers().await;
    let port = main.server.addr().port();
    let second_port = second.server.issuer_named("second").unwrap().port;

    let (_, main_doc) = main
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    let (status, tenant_doc) = main
        .get_json("/.well-known/oauth-authorization-server/tenant1")
        .await;
    let (_, second_doc) = second
        .get_json("/.well-known/oauth-authorization-server")
        .await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(main_doc["issuer"], format!("http://localhost:{port}"));
    let tenant_issuer = format!("http://localhost:{port}/tenant1");
    assert_eq!(tenant_doc["issuer"], json!(tenant_issuer));
    assert_eq!(
        tenant_doc["token_endpoint"],
        json!(format!("{tenant_issuer}/token"))
    );
    assert_eq!(
        tenant_doc["registration_endpoint"],
        json!(format!("{tenant_issuer}/register"))
    );
    assert_eq!(
        second_doc["issuer"],
        json!(format!("http://localhost:{second_port}"))
    );
    assert_eq!(issuer_of(&main, "tenant1"), tenant_issuer);
    // The path issuer's metadata is not at the root, and its endpoints are not at the root either.
    let (status, _) = tenant
        .get_json("/.well-known/oauth-authorization-server/tenant1/x")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_path_issuer_runs_the_whole_flow_and_sends_its_own_iss() {
    let (_main, tenant, _second) = three_issuers().await;
    let client = tenant.public_client().await;
    let pkce = Pkce::new();

    let redirect = tenant.authorize(&client, &pkce, &[]).await;
    let code = query_param(&redirect, "code").unwrap();
    let (status, body) = tenant.exchange(&client, &code, &pkce).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        query_param(&redirect, "iss").as_deref(),
        Some(issuer_of(&tenant, "tenant1").as_str())
    );
    let refreshed = tenant
        .refresh(&client, body["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(refreshed.0, StatusCode::OK, "{}", refreshed.1);
}

#[tokio::test]
async fn nothing_of_one_issuer_is_known_to_another() {
    let (main, tenant, second) = three_issuers().await;
    let client = tenant.public_client().await;
    let tokens = tenant.full_flow(&client).await;
    let refresh = tokens.refresh.clone().unwrap();

    // Tokens: active only where they were issued.
    assert!(tenant.is_active(&tokens.access).await);
    assert!(!main.is_active(&tokens.access).await);
    assert!(!second.is_active(&tokens.access).await);
    // The client: unknown elsewhere.
    let pkce = Pkce::new();
    let refused = main.authorize_raw(&client, &pkce, &[]).await;
    assert_eq!(
        refused.status(),
        StatusCode::BAD_REQUEST,
        "a page, never a redirect"
    );
    // The refresh token: invalid elsewhere.
    let (status, body) = second.refresh(&client, &refresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_client");
    // And each issuer counts only its own.
    let (_, tenant_state) = main.get_json("/control/issuers/tenant1/state").await;
    let main_state = main.state().await;
    assert_eq!(tenant_state["store"]["clients"], json!(1), "{tenant_state}");
    assert_eq!(tenant_state["name"], "tenant1");
    assert_eq!(main_state["store"]["clients"], json!(0), "{main_state}");
}

#[tokio::test]
async fn a_switch_flipped_by_name_acts_on_that_issuer_alone() {
    let (main, tenant, _second) = three_issuers().await;
    let (status, state) = main
        .control(
            "/control/issuers/tenant1/invalid-grant",
            Some(json!({"on": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{state}");
    assert_eq!(state["toggles"]["invalid_grant"], json!(true));

    let on_main = main.public_client().await;
    let main_tokens = main.full_flow(&on_main).await;
    let on_tenant = tenant.public_client().await;
    let tenant_tokens = tenant.full_flow(&on_tenant).await;

    let (main_status, _) = main.refresh(&on_main, &main_tokens.refresh.unwrap()).await;
    let (tenant_status, body) = tenant
        .refresh(&on_tenant, &tenant_tokens.refresh.unwrap())
        .await;
    assert_eq!(main_status, StatusCode::OK);
    assert_eq!(tenant_status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(main.state().await["toggles"]["invalid_grant"], json!(false));
}

#[tokio::test]
async fn the_shared_journal_names_the_issuer_of_every_request() {
    let (main, tenant, second) = three_issuers().await;
    main.get_json("/.well-known/oauth-authorization-server")
        .await;
    tenant
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    second.public_client().await;

    let events = main.events(0).await;
    let issuers: Vec<(&str, &str)> = events
        .iter()
        .map(|event| {
            (
                event["issuer"].as_str().unwrap_or("?"),
                event["path"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    assert_eq!(
        issuers,
        [
            ("main", "/.well-known/oauth-authorization-server"),
            ("tenant1", "/.well-known/oauth-authorization-server/tenant1"),
            ("second", "/register"),
        ]
    );
}

#[tokio::test]
async fn an_issuer_added_at_run_time_gets_a_port_and_removing_it_closes_the_port() {
    let rig = Rig::start().await;
    let (status, body) = rig
        .control(
            "/control/issuers",
            Some(json!({"name": "later", "port": 0, "path": "/t"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let added = body["issuers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|issuer| issuer["name"] == "later")
        .cloned()
        .expect("listed");
    let port = added["port"].as_u64().unwrap() as u16;
    assert_eq!(added["issuer"], json!(format!("http://localhost:{port}/t")));
    assert_eq!(
        added["introspection_url"],
        json!(format!("http://127.0.0.1:{port}/t/introspect"))
    );
    let later = rig.at(port, "/t");
    let tokens = later.full_flow(&later.public_client().await).await;
    assert!(later.is_active(&tokens.access).await);

    let (status, body) = rig.delete("/control/issuers/later").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["issuers"].as_array().unwrap().len(), 1, "{body}");
    let gone = rig
        .http
        .get(later.url("/.well-known/oauth-authorization-server"))
        .send()
        .await;
    assert!(gone.is_err(), "the port is closed: {gone:?}");
}

#[tokio::test]
async fn reset_restores_the_start_up_issuers_and_empties_each() {
    let (main, tenant, _second) = three_issuers().await;
    tenant.public_client().await;
    main.control(
        "/control/issuers",
        Some(json!({"name": "extra", "path": "/extra"})),
    )
    .await;
    main.delete("/control/issuers/second").await;

    let (status, state) = main.control("/control/reset", Some(json!({}))).await;

    assert_eq!(status, StatusCode::OK, "{state}");
    let names: Vec<&str> = state["issuers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|issuer| issuer["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["main", "tenant1", "second"]);
    let (_, tenant_state) = main.get_json("/control/issuers/tenant1/state").await;
    assert_eq!(tenant_state["store"]["clients"], json!(0));
}

#[tokio::test]
async fn bad_issuer_requests_get_a_4xx_that_says_why_and_change_nothing() {
    let (main, _tenant, _second) = three_issuers().await;
    let cases: [(Value, &str); 6] = [
        (json!({"name": "Bad Name", "path": "/x"}), "must be 1 to 32"),
        (json!({"name": "main", "path": "/x"}), "default issuer"),
        (
            json!({"name": "tenant1", "path": "/other"}),
            "already named",
        ),
        (
            json!({"name": "twin", "path": "/tenant1"}),
            "where 'tenant1' is",
        ),
        (
            json!({"name": "ctl", "path": "/control/x"}),
            "may not start with /control",
        ),
        (json!({"name": "rooted"}), "needs a path or a port"),
    ];
    for (body, why) in cases {
        let response = main
            .http
            .post(main.url("/control/issuers"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let text = response.text().await.unwrap();
        assert!(text.contains(why), "{body}: {text}");
    }
    let (status, _) = main.delete("/control/issuers/main").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "main is never removed");
    let (status, _) = main.delete("/control/issuers/nobody").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = main.get_json("/control/issuers/nobody/state").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listed) = main.get_json("/control/issuers").await;
    assert_eq!(listed["issuers"].as_array().unwrap().len(), 3, "{listed}");
}

#[tokio::test]
async fn two_issuers_on_one_port_of_their_own_share_its_listener() {
    // A port free a moment ago; the server binds it at start-up.
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let config = Config {
        issuers: vec![
            IssuerConfig::parse(&format!("a=:{port}")).unwrap(),
            IssuerConfig::parse(&format!("b=:{port}/b")).unwrap(),
        ],
        ..Config::default()
    };
    let main = Rig::start_with(config).await;

    let (_, a) = main
        .at(port, "")
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    let (_, b) = main
        .at(port, "/b")
        .get_json("/.well-known/oauth-authorization-server")
        .await;

    assert_eq!(a["issuer"], json!(format!("http://localhost:{port}")));
    assert_eq!(b["issuer"], json!(format!("http://localhost:{port}/b")));
}

#[tokio::test]
async fn without_the_control_token_no_issuer_is_added_and_no_port_is_bound() {
    let rig = Rig::start_with(Config {
        control: sim_http::control::ControlGuard::with_token("s3cret-control"),
        ..Config::default()
    })
    .await;
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let add = json!({"name": "sneaky", "port": port});

    let refused = rig
        .http
        .post(rig.url("/control/issuers"))
        .json(&add)
        .send()
        .await
        .unwrap();
    let listed = rig
        .http
        .get(rig.url("/control/issuers"))
        .bearer_auth("s3cret-control")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();

    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(listed["issuers"].as_array().unwrap().len(), 1, "{listed}");
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
        "port {port} was not bound"
    );
}
