//! The journal (`/control/events`): what each request did, in order, secrets redacted; paging;
//! the live stream.

use std::time::Duration;

use oauth_server::{AuthServer, Config};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Pkce, REDIRECT_URI, Rig, query_param, tokens};

fn redacted(secret: &str) -> String {
    format!("{}…", &secret[..6])
}

#[tokio::test]
async fn a_full_flow_is_recorded_in_order_with_every_secret_redacted() {
    let rig = Rig::start().await;
    rig.control("/control/rotate", Some(json!({"on": true})))
        .await;
    let client = rig.client_with("client_secret_post").await;
    let secret = client.secret.clone().unwrap();
    let pkce = Pkce::new();
    let redirect = rig.authorize(&client, &pkce, &[]).await;
    let code = query_param(&redirect, "code").unwrap();
    let (status, body) = rig
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &pkce.verifier),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", &client.id),
            ("client_secret", &secret),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let first = tokens(body);
    let first_refresh = first.refresh.clone().unwrap();
    let (status, body) = rig
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &first_refresh),
            ("client_id", &client.id),
            ("client_secret", &secret),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second = tokens(body);
    let second_refresh = second.refresh.clone().unwrap();
    assert!(rig.is_active(&second.access).await);
    let response = rig
        .post_form(
            "/revoke",
            &[
                ("token", second_refresh.as_str()),
                ("client_id", &client.id),
                ("client_secret", &secret),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let (status, page) = rig.get_json("/control/events").await;
    assert_eq!(status, StatusCode::OK);
    let events = page["events"].as_array().unwrap();
    let steps: Vec<_> = events
        .iter()
        .map(|event| {
            (
                event["method"].as_str().unwrap(),
                event["path"].as_str().unwrap(),
                event["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("POST", "/control/rotate", 200),
            ("POST", "/register", 201),
            ("GET", "/authorize", 302),
            ("POST", "/token", 200),
            ("POST", "/token", 200),
            ("POST", "/introspect", 200),
            ("POST", "/revoke", 200),
        ]
    );
    let seqs: Vec<_> = events
        .iter()
        .map(|event| event["seq"].as_u64().unwrap())
        .collect();
    assert!(
        seqs.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "{seqs:?}"
    );
    assert_eq!(page["next"], json!(seqs.last().unwrap() + 1));

    let [
        _,
        register,
        authorize,
        code_grant,
        refresh_grant,
        introspect,
        revoke,
    ] = events.as_slice()
    else {
        unreachable!()
    };
    for event in [
        register,
        authorize,
        code_grant,
        refresh_grant,
        introspect,
        revoke,
    ] {
        assert_eq!(event["service"], json!("oauth"));
        assert_eq!(event["client_id"], json!(client.id), "the full id: {event}");
        assert!(event["ms"].as_f64().unwrap() >= 0.0);
        assert!(event["at"].as_str().unwrap().ends_with('Z'));
    }
    assert_eq!(authorize["issued"], json!(redacted(&code)));
    assert_eq!(code_grant["grant_type"], json!("authorization_code"));
    assert_eq!(code_grant["presented"], json!(redacted(&code)));
    assert_eq!(code_grant["issued"], json!(redacted(&first_refresh)));
    assert_eq!(code_grant["subject"], json!("demo-user"));
    assert_eq!(refresh_grant["grant_type"], json!("refresh_token"));
    assert_eq!(refresh_grant["presented"], json!(redacted(&first_refresh)));
    assert_eq!(refresh_grant["issued"], json!(redacted(&second_refresh)));
    assert_eq!(introspect["presented"], json!(redacted(&second.access)));
    assert_eq!(introspect["subject"], json!("demo-user"));
    assert_eq!(revoke["presented"], json!(redacted(&second_refresh)));
    assert_eq!(revoke["note"], json!("refresh_token"));

    let whole = serde_json::to_string(&page).unwrap();
    for secret in [
        code.as_str(),
        &pkce.verifier,
        &secret,
        &first.access,
        &first_refresh,
        &second.access,
        &second_refresh,
    ] {
        assert!(!whole.contains(secret), "{secret} appears whole in {whole}");
    }
}

#[tokio::test]
async fn errors_are_recorded_with_their_code() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let (status, _) = rig.refresh(&client, "made-up-refresh-token").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let events = rig.events(0).await;
    let refused = events.last().unwrap();
    assert_eq!(refused["error"], json!("invalid_grant"));
    assert_eq!(refused["presented"], json!("made-u…"));
    assert_eq!(refused["fault"], Value::Null);
    assert!(refused.get("issued").is_none());
}

#[tokio::test]
async fn control_reads_are_not_recorded_but_control_changes_are() {
    let rig = Rig::start().await;
    rig.state().await;
    rig.get_json("/control").await;
    rig.get_json("/control/faults").await;
    rig.events(0).await;
    rig.control("/control/expires-in", Some(json!({"seconds": 60})))
        .await;
    rig.delete("/control/faults").await;
    let preflight = rig
        .http
        .request(reqwest::Method::OPTIONS, rig.url("/token"))
        .header("origin", "https://inspector.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    let paths: Vec<_> = rig
        .events(0)
        .await
        .iter()
        .map(|event| {
            format!(
                "{} {}",
                event["method"].as_str().unwrap(),
                event["path"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        paths,
        ["POST /control/expires-in", "DELETE /control/faults"]
    );
}

#[tokio::test]
async fn since_and_next_page_through_the_journal() {
    let rig = Rig::start().await;
    for _ in 0..3 {
        rig.get_json("/.well-known/oauth-authorization-server")
            .await;
    }
    let (_, page) = rig.get_json("/control/events?since=0&limit=2").await;
    let seqs: Vec<_> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2]);
    assert_eq!(page["next"], json!(3));
    let (_, page) = rig.get_json("/control/events?since=3").await;
    assert_eq!(page["events"].as_array().unwrap().len(), 1);
    assert_eq!(page["next"], json!(4));
    let (_, page) = rig.get_json("/control/events?since=4").await;
    assert_eq!(page["events"], json!([]));
    assert_eq!(page["next"], json!(4));

    let (status, _) = rig.get_json("/control/events?since=-1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_journal_keeps_the_configured_number_of_events() {
    let rig = Rig::start_with(Config {
        journal_size: 2,
        ..Config::default()
    })
    .await;
    for _ in 0..3 {
        rig.get_json("/.well-known/oauth-authorization-server")
            .await;
    }
    let (_, page) = rig.get_json("/control/events").await;
    assert_eq!(page["events"].as_array().unwrap().len(), 2);
    assert_eq!(page["missed"], json!(1));
    for size in [0, sim_http::journal::MAX_CAPACITY + 1] {
        let refused = AuthServer::start(Config {
            journal_size: size,
            ..Config::default()
        })
        .await;
        assert!(refused.is_err(), "{size}");
    }
}

#[tokio::test]
async fn reset_empties_the_journal_and_numbering_goes_on() {
    let rig = Rig::start().await;
    rig.public_client().await;
    rig.control("/control/reset", None).await;
    let events = rig.events(0).await;
    assert_eq!(events.len(), 1, "only the reset itself: {events:?}");
    assert_eq!(events[0]["path"], json!("/control/reset"));
    assert_eq!(events[0]["seq"], json!(2));
}

/// Reads a Server-Sent Events stream until its complete frames hold `needle`, for at most five
/// seconds; returns those frames.
async fn read_until(response: &mut reqwest::Response, needle: &str) -> String {
    let mut seen = String::new();
    let complete = |seen: &str| {
        seen.rsplit_once("\n\n")
            .map(|(frames, _)| frames.to_owned())
            .filter(|frames| frames.contains(needle))
    };
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some(frames) = complete(&seen) {
                return frames;
            }
            let chunk = response.chunk().await.unwrap().expect("stream still open");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {needle} within 5 s"))
}

#[tokio::test]
async fn the_stream_delivers_events_as_they_happen() {
    let rig = Rig::start().await;
    let mut stream = rig
        .http
        .get(rig.url("/control/events/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    read_until(&mut stream, ": mcp-oauth-sim events").await;

    let client = rig.public_client().await;
    let frames = read_until(&mut stream, "/register").await;
    let frame = frames
        .split("\n\n")
        .find(|frame| frame.contains("/register"))
        .unwrap();
    assert!(frame.contains("event: request\n"), "{frame}");
    let data = frame
        .lines()
        .find_map(|line| line.strip_prefix("data: "))
        .unwrap();
    let event: Value = serde_json::from_str(data).unwrap();
    assert_eq!(event["path"], json!("/register"));
    assert_eq!(event["client_id"], json!(client.id));
}

#[tokio::test]
async fn stopping_the_server_ends_open_streams() {
    let server = AuthServer::start(Config::default()).await.unwrap();
    let http = reqwest::Client::new();
    let mut stream = http
        .get(format!("http://{}/control/events/stream", server.addr()))
        .send()
        .await
        .unwrap();
    read_until(&mut stream, ": mcp-oauth-sim events").await;
    tokio::time::timeout(Duration::from_secs(3), server.stop())
        .await
        .expect("stop does not wait for the stream")
        .unwrap();
    let end = tokio::time::timeout(Duration::from_secs(3), stream.chunk())
        .await
        .expect("the stream ends");
    assert!(matches!(end, Ok(None) | Err(_)), "{end:?}");
}
