//! Client ID metadata documents: a `client_id` that is a URL is fetched over real HTTP(S) from a
//! document host on loopback, validated, cached by its headers and the clock, and every way the
//! fetch can go wrong is an error page at `/authorize` and `invalid_client` at `/token`.

use std::time::{Duration, Instant};

use oauth_server::{Config, Fetch};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sim_http::fetch::{Allowed, FetchPolicy};
use sim_test_kit::documents::{Answer, DocumentHost, client_document};
use sim_test_kit::pki::TestPki;

use crate::support::{Pkce, REDIRECT_URI, Rig, TestClient, location, query_param};

const DOCUMENT: &str = "/client.json";

/// A rig trusting `pki`'s CA for fetches, under `policy`, and an HTTPS document host.
pub(crate) async fn rig_and_host(policy: FetchPolicy) -> (Rig, DocumentHost, TestPki) {
    let pki = TestPki::generate("documents");
    let rig = Rig::start_with(Config {
        fetch: Fetch {
            policy,
            roots: vec![pki.ca_der.clone()],
        },
        ..Config::default()
    })
    .await;
    let host = DocumentHost::start(Some(&pki)).await;
    (rig, host, pki)
}

fn short_timeout() -> FetchPolicy {
    FetchPolicy {
        timeout: Duration::from_millis(400),
        ..FetchPolicy::default()
    }
}

fn client(id: &str) -> TestClient {
    TestClient {
        id: id.to_owned(),
        secret: None,
    }
}

/// `/authorize` must refuse with a page (never a redirect) saying `says`; answers the page.
async fn refused_at_authorize(rig: &Rig, client_id: &str, says: &str) -> String {
    let response = rig
        .authorize_raw(&client(client_id), &Pkce::new(), &[])
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("location").is_none(), "no redirect");
    let page = response.text().await.unwrap();
    assert!(page.contains(says), "the page should say {says:?}: {page}");
    page
}

/// `/token` must answer `401 invalid_client` saying `says`.
async fn refused_at_token(rig: &Rig, client_id: &str, says: &str) {
    let (status, body) = rig
        .exchange(&client(client_id), "no-such-code", &Pkce::new())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_client", "{body}");
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.contains(says),
        "{description:?} should say {says:?}"
    );
}

#[tokio::test]
async fn a_client_whose_id_is_its_document_url_runs_the_whole_flow_over_https() {
    // Arrange
    let (rig, host, _pki) = rig_and_host(FetchPolicy::default()).await;
    let id = host.client(DOCUMENT, &[REDIRECT_URI], vec![]);
    let (_, metadata) = rig
        .get_json("/.well-known/oauth-authorization-server")
        .await;

    // Act: authorize, exchange the code, refresh, all as the document's client.
    let pkce = Pkce::new();
    let redirect = rig.authorize(&client(&id), &pkce, &[]).await;
    let code = query_param(&redirect, "code").expect("a code");
    let (status, tokens) = rig.exchange(&client(&id), &code, &pkce).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap_or_default();
    let (refreshed, _) = rig.refresh(&client(&id), refresh_token).await;

    // Assert
    assert_eq!(metadata["client_id_metadata_document_supported"], true);
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(refreshed, StatusCode::OK);
    assert!(
        rig.is_active(tokens["access_token"].as_str().unwrap())
            .await
    );
    assert_eq!(host.hits(DOCUMENT), 1, "fetched once, then cached");
    let state = rig.state().await;
    let cached = &state["documents"]["cached"][0];
    assert_eq!(cached["client_id"], id.as_str());
    assert_eq!(cached["client_name"], "Test client");
    assert_eq!(
        (cached["fetches"].clone(), cached["uses"].clone()),
        (json!(1), json!(3))
    );
    assert_eq!(state["counters"]["document_fetches"], 1);
    assert_eq!(
        state["counters"]["registrations"], 0,
        "no dynamic registration"
    );
    let events = rig.events(0).await;
    let authorize = events.iter().find(|e| e["path"] == "/authorize").unwrap();
    assert_eq!(authorize["registration"], "document", "{authorize}");
    assert_eq!(authorize["document"], "fetched");
    assert_eq!(authorize["client_name"], "Test client");
    assert_eq!(authorize["client_id"], id.as_str());
    assert_eq!(
        authorize["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    let token = events.iter().find(|e| e["path"] == "/token").unwrap();
    assert_eq!(
        (token["registration"].clone(), token["document"].clone()),
        (json!("document"), json!("cached"))
    );
}

#[tokio::test]
async fn a_document_is_held_to_what_it_declares() {
    // Arrange: a document of the code grant alone, listing one exact redirect URI.
    let (rig, host, _pki) = rig_and_host(FetchPolicy::default()).await;
    let id = host.url(DOCUMENT);
    let mut document = client_document(&id, &["https://app.example/callback"]);
    document["grant_types"] = json!(["authorization_code"]);
    host.set(
        DOCUMENT,
        Answer::Json {
            status: 200,
            headers: vec![],
            body: document,
        },
    );

    // Act
    let elsewhere = refused_at_authorize(&rig, &id, "not among the redirect_uris").await;
    let pkce = Pkce::new();
    let redirect = rig
        .authorize(
            &client(&id),
            &pkce,
            &[("redirect_uri", "https://app.example/callback")],
        )
        .await;
    let code = query_param(&redirect, "code").unwrap();
    let (status, tokens) = rig
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &pkce.verifier),
            ("redirect_uri", "https://app.example/callback"),
            ("client_id", &id),
        ])
        .await;

    // Assert
    assert!(
        elsewhere.contains("https://app.example/callback"),
        "{elsewhere}"
    );
    assert_eq!(redirect.host_str(), Some("app.example"));
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(
        tokens.get("refresh_token").is_none(),
        "the document did not ask for refresh: {tokens}"
    );
}

#[tokio::test]
async fn every_fetch_fault_is_an_error_page_and_invalid_client_saying_what_went_wrong() {
    let (rig, host, _pki) = rig_and_host(short_timeout()).await;
    let id = host.client(DOCUMENT, &[REDIRECT_URI], vec![]);
    for (fault, says) in [
        (json!({"fault": "unreachable"}), "unreachable"),
        (json!({"fault": "slow"}), "no complete answer within 400ms"),
        (json!({"fault": "http-error", "status": 503}), "503"),
        (json!({"fault": "not-json"}), "not JSON"),
        (json!({"fault": "too-large"}), "larger than 5120 bytes"),
        (
            json!({"fault": "client-id-mismatch"}),
            "is not the URL it was fetched from",
        ),
        (json!({"fault": "client-secret"}), "contains client_secret"),
    ] {
        // Arrange: the fault spoils the next two fetches of this URL.
        let mut spec = fault.clone();
        spec["url"] = json!(id);
        spec["times"] = json!(2);
        let (status, body) = rig.control("/control/documents/faults", Some(spec)).await;
        assert_eq!(status, StatusCode::OK, "{body}");

        // Act and assert: both endpoints refuse, saying why; the fault is then used up.
        refused_at_authorize(&rig, &id, says).await;
        refused_at_token(&rig, &id, says).await;
        let (_, documents) = rig.get_json("/control/documents").await;
        assert_eq!(documents["faults"], json!([]), "{fault}: used up");
    }
    // The missing redirect URI is found at /authorize only: /token has no redirect to check.
    rig.control(
        "/control/documents/faults",
        Some(json!({"fault": "redirect-uri-missing", "times": 1})),
    )
    .await;
    refused_at_authorize(&rig, &id, "https://elsewhere.example/callback").await;

    // With the faults gone, the same client is fine, and the counters saw everything.
    let redirect = rig.authorize(&client(&id), &Pkce::new(), &[]).await;
    assert!(query_param(&redirect, "code").is_some());
    let state = rig.state().await;
    // Two refusals for each fault; the missing redirect URI is the client's, not the fetch's.
    assert_eq!(
        state["counters"]["document_refusals"], 14,
        "{}",
        state["counters"]
    );
    assert_eq!(state["counters"]["authorizations"], 1);
}

#[tokio::test]
async fn a_fault_for_one_url_spares_the_others_and_faults_can_be_listed_and_deleted() {
    let (rig, host, _pki) = rig_and_host(FetchPolicy::default()).await;
    let spoiled = host.client("/spoiled.json", &[REDIRECT_URI], vec![]);
    let fine = host.client("/fine.json", &[REDIRECT_URI], vec![]);
    let (_, documents) = rig
        .control(
            "/control/documents/faults",
            Some(json!({"fault": "unreachable", "url": spoiled})),
        )
        .await;
    let id = documents["faults"][0]["id"].as_u64().unwrap();

    refused_at_authorize(&rig, &spoiled, "unreachable").await;
    refused_at_authorize(&rig, &spoiled, "unreachable").await;
    let redirect = rig.authorize(&client(&fine), &Pkce::new(), &[]).await;
    let (status, after_delete) = rig.delete(&format!("/control/documents/faults/{id}")).await;
    let healed = rig.authorize(&client(&spoiled), &Pkce::new(), &[]).await;

    assert!(query_param(&redirect, "code").is_some());
    assert_eq!(documents["faults"][0]["remaining"], Value::Null, "for ever");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(after_delete["faults"], json!([]));
    assert!(query_param(&healed, "code").is_some());
    assert_eq!(
        host.hits("/spoiled.json"),
        1,
        "an unreachable fault never reaches the host"
    );
    let missing = rig
        .http
        .delete(rig.url(&format!("/control/documents/faults/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    for bad in [
        json!({"fault": "gone"}),
        json!({"fault": "slow", "status": 500}),
        json!({"fault": "slow", "times": 0}),
        json!({"fault": "http-error", "status": 200}),
        json!({"fault": "slow", "url": "https://app.example"}),
    ] {
        let (status, _) = rig
            .control_text("/control/documents/faults", bad.clone())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn the_cache_follows_the_caching_headers_and_the_clock_and_a_reset_empties_it() {
    // Arrange: one document fresh for a minute, one never to be reused.
    let (rig, host, _pki) = rig_and_host(FetchPolicy::default()).await;
    let minute = host.client(
        "/minute.json",
        &[REDIRECT_URI],
        vec![("cache-control", "max-age=60".into())],
    );
    let never = host.client(
        "/never.json",
        &[REDIRECT_URI],
        vec![("cache-control", "no-store".into())],
    );
    let authorize = |id: String| {
        let rig = &rig;
        async move { rig.authorize(&client(&id), &Pkce::new(), &[]).await }
    };

    // Act
    authorize(minute.clone()).await;
    authorize(minute.clone()).await;
    let within = host.hits("/minute.json");
    rig.control("/control/clock", Some(json!({"advance_seconds": 61})))
        .await;
    authorize(minute.clone()).await;
    let after_expiry = host.hits("/minute.json");
    let (_, marked) = rig
        .control("/control/documents/changed", Some(json!({"url": minute})))
        .await;
    authorize(minute.clone()).await;
    let after_change = host.hits("/minute.json");
    authorize(never.clone()).await;
    authorize(never.clone()).await;
    let before_reset = rig.state().await;
    rig.control("/control/reset", None).await;
    let after_reset = rig.state().await;

    // Assert
    assert_eq!((within, after_expiry, after_change), (1, 2, 3));
    assert_eq!(marked["cached"][0]["fresh_for_seconds"], 0);
    assert_eq!(
        host.hits("/never.json"),
        2,
        "no-store is fetched on every use"
    );
    let cached = before_reset["documents"]["cached"].as_array().unwrap();
    assert_eq!(
        cached.len(),
        1,
        "only the cacheable one is cached: {cached:?}"
    );
    assert_eq!(cached[0]["fetches"], 3);
    let fresh = cached[0]["fresh_for_seconds"].as_u64().unwrap();
    assert!((58..=60).contains(&fresh), "{fresh}");
    assert_eq!(after_reset["documents"]["cached"], json!([]));
    let (status, _) = rig
        .control_text("/control/documents/changed", json!({"url": minute}))
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "nothing cached to mark any more"
    );
}

#[tokio::test]
async fn hostile_documents_cost_no_more_than_the_caps_and_everyone_else_is_served_meanwhile() {
    // Arrange: a document host that answers in every unfriendly way.
    let (rig, host, _pki) = rig_and_host(short_timeout()).await;
    let target = host.client("/target.json", &[REDIRECT_URI], vec![]);
    host.set(
        "/huge.json",
        Answer::Raw {
            status: 200,
            content_type: "application/json",
            body: vec![b' '; 1 << 20],
        },
    );
    host.set(
        "/drip.json",
        Answer::Drip {
            body: client_document(&host.url("/drip.json"), &[REDIRECT_URI])
                .to_string()
                .into_bytes(),
            every: Duration::from_millis(50),
        },
    );
    host.set(
        "/redirect.json",
        Answer::Redirect {
            location: target.clone(),
        },
    );
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    host.set(
        "/nested.json",
        Answer::Raw {
            status: 200,
            content_type: "application/json",
            body: nested.into_bytes(),
        },
    );
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in client_document(&host.url("/utf16.json"), &[REDIRECT_URI])
        .to_string()
        .encode_utf16()
    {
        utf16.extend(unit.to_le_bytes());
    }
    host.set(
        "/utf16.json",
        Answer::Raw {
            status: 200,
            content_type: "application/json; charset=utf-16",
            body: utf16,
        },
    );
    host.set(
        "/html.json",
        Answer::Raw {
            status: 200,
            content_type: "text/html",
            body: b"<html>hi</html>".to_vec(),
        },
    );
    host.set(
        "/array.json",
        Answer::Json {
            status: 200,
            headers: vec![],
            body: json!([1, 2]),
        },
    );
    host.set(
        "/gone.json",
        Answer::Json {
            status: 404,
            headers: vec![],
            body: json!({}),
        },
    );

    // Act: every hostile document at once, while a registered client runs its flow.
    let registered = rig.public_client().await;
    let started = Instant::now();
    let hostile = [
        ("/huge.json", "larger than 5120 bytes"),
        ("/drip.json", "no complete answer within 400ms"),
        ("/redirect.json", "redirects are not followed"),
        ("/nested.json", "larger than"),
        ("/utf16.json", "not JSON"),
        ("/html.json", "not JSON"),
        ("/array.json", "not an object"),
        ("/gone.json", "404"),
    ];
    let urls: Vec<(String, &str)> = hostile
        .iter()
        .map(|(path, says)| (host.url(path), *says))
        .collect();
    let refusals = futures::future::join_all(
        urls.iter()
            .map(|(url, says)| refused_at_authorize(&rig, url, says)),
    );
    let (_, meanwhile) = tokio::join!(refusals, async {
        let flow_started = Instant::now();
        rig.full_flow(&registered).await;
        flow_started.elapsed()
    });

    // Assert
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "bounded by the deadline: {:?}",
        started.elapsed()
    );
    assert!(
        meanwhile < Duration::from_millis(350),
        "others wait for no fetch: {meanwhile:?}"
    );
    assert_eq!(
        host.hits("/target.json"),
        0,
        "the redirect was not followed"
    );
    let deep_text = format!(
        "{{\"client_id\":\"{}\",\"x\":{}{}}}",
        host.url("/deep.json"),
        "[".repeat(1000),
        "]".repeat(1000)
    );
    host.set(
        "/deep.json",
        Answer::Raw {
            status: 200,
            content_type: "application/json",
            body: deep_text.into_bytes(),
        },
    );
    refused_at_authorize(&rig, &host.url("/deep.json"), "not JSON").await;
    assert_eq!(rig.state().await["counters"]["document_refusals"], 9);
}

#[tokio::test]
async fn an_exposed_rig_fetches_no_inside_address_unless_it_is_listed() {
    // Arrange: the policy of a rig reachable from outside.
    let exposed = FetchPolicy {
        any_address: false,
        ..FetchPolicy::default()
    };
    let (rig, host, pki) = rig_and_host(exposed.clone()).await;
    let id = host.client(DOCUMENT, &[REDIRECT_URI], vec![]);

    // Act and assert: `localhost` resolves to loopback, which is refused by its address.
    let page = refused_at_authorize(&rig, &id, "which is not a public address").await;
    assert!(page.contains("FETCH_ALLOW_HOSTS"), "{page}");
    assert_eq!(host.hits(DOCUMENT), 0, "refused before connecting");

    // Listed, by name or by range, it is fetched.
    for allowed in ["localhost", "127.0.0.0/8"] {
        let listed = FetchPolicy {
            allowed: vec![
                Allowed::parse(allowed).unwrap(),
                Allowed::parse("::1").unwrap(),
            ],
            ..exposed.clone()
        };
        let rig = Rig::start_with(Config {
            fetch: Fetch {
                policy: listed,
                roots: vec![pki.ca_der.clone()],
            },
            ..Config::default()
        })
        .await;
        let redirect = rig.authorize(&client(&id), &Pkce::new(), &[]).await;
        assert!(query_param(&redirect, "code").is_some(), "{allowed}");
    }
}

#[tokio::test]
async fn plain_http_urls_are_refused_unless_allowed_and_other_ids_go_to_the_registry() {
    // Arrange: a document served over plain HTTP.
    let plain = DocumentHost::start(None).await;
    let id = plain.client(DOCUMENT, &[REDIRECT_URI], vec![]);
    let strict = Rig::start().await;
    let lenient = Rig::start_with(Config {
        fetch: Fetch {
            policy: FetchPolicy {
                allow_http: true,
                ..FetchPolicy::default()
            },
            roots: vec![],
        },
        ..Config::default()
    })
    .await;

    // Act and assert
    let page = refused_at_authorize(&strict, &id, "plain http URLs are not fetched").await;
    assert!(page.contains("FETCH_ALLOW_HTTP=true"), "{page}");
    refused_at_token(&strict, &id, "FETCH_ALLOW_HTTP").await;
    let redirect = lenient.authorize(&client(&id), &Pkce::new(), &[]).await;
    assert!(query_param(&redirect, "code").is_some());
    refused_at_authorize(&strict, "https://app.example", "has no path").await;
    refused_at_authorize(&strict, "https://app.example/c.json#frag", "fragment").await;
    refused_at_authorize(&strict, "not-a-url-client", "register the client first").await;

    // Documents off: a URL is an id like any other, and unknown.
    let (status, _) = lenient
        .control("/control/profile", Some(json!({"client_id_metadata_documents": false, "client_id_metadata_document_supported": "omit"})))
        .await;
    assert_eq!(status, StatusCode::OK);
    refused_at_authorize(&lenient, &id, "does not fetch client ID metadata documents").await;
    let (_, metadata) = lenient
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert!(
        metadata
            .get("client_id_metadata_document_supported")
            .is_none(),
        "{metadata}"
    );
    assert_eq!(
        plain.hits(DOCUMENT),
        1,
        "only the lenient rig with documents on fetched"
    );
    let redirect_location = location(
        &lenient
            .authorize_raw(&lenient.public_client().await, &Pkce::new(), &[])
            .await,
    );
    assert!(
        query_param(&redirect_location, "code").is_some(),
        "registration still works"
    );
}
