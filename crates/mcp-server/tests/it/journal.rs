//! The journal on the MCP port: every request recorded in order with what it did, no secret
//! whole, read by pages or followed live.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

fn events_of(page: &Value) -> Vec<Value> {
    page["events"]
        .as_array()
        .unwrap_or_else(|| panic!("no events in {page}"))
        .clone()
}

/// Reads an event stream until `wanted` appears in it, for at most five seconds.
async fn read_stream_until(response: &mut reqwest::Response, wanted: &str) -> String {
    let mut seen = String::new();
    let reading = async {
        while !seen.contains(wanted) {
            match response.chunk().await.unwrap() {
                Some(chunk) => seen.push_str(&String::from_utf8_lossy(&chunk)),
                None => break,
            }
        }
    };
    let finished = tokio::time::timeout(Duration::from_secs(5), reading).await;
    assert!(finished.is_ok(), "{wanted:?} did not arrive; saw {seen:?}");
    seen
}

#[tokio::test]
async fn a_sequence_of_mcp_calls_is_recorded_in_order_with_the_bearer_redacted() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;

    // Act
    rig.post_mcp(
        None,
        &json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize" }),
    )
    .await;
    rig.initialize(&tokens.access).await;
    rig.rpc(&tokens.access, "tools/list", json!({})).await;
    rig.call_tool(&tokens.access, "echo", json!({ "message": "hi" }))
        .await;
    rig.post_mcp(
        Some("unknown-token-0123456789"),
        &json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" }),
    )
    .await;
    let page = rig.events("").await;

    // Assert
    let events = events_of(&page);
    let summary: Vec<(u64, &str, &str, u64, &str, &str)> = events
        .iter()
        .map(|event| {
            (
                event["seq"].as_u64().unwrap(),
                event["method"].as_str().unwrap(),
                event["path"].as_str().unwrap(),
                event["status"].as_u64().unwrap(),
                event["rpc_method"].as_str().unwrap_or(""),
                event["tool"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (1, "POST", "/mcp", 401, "", ""),
            (2, "POST", "/mcp", 200, "initialize", ""),
            (3, "POST", "/mcp", 200, "tools/list", ""),
            (4, "POST", "/mcp", 200, "tools/call", "echo"),
            (5, "POST", "/mcp", 401, "", ""),
        ]
    );
    assert_eq!(page["next"], 6, "{page}");
    let redacted = format!("{}…", &tokens.access[..6]);
    for event in &events[1..4] {
        assert_eq!(event["service"], "mcp", "{event}");
        assert_eq!(event["presented"], redacted, "{event}");
        assert_eq!(event["client_id"], tokens.client_id, "{event}");
        assert!(event["subject"].is_string(), "{event}");
        assert!(event["ms"].as_f64().is_some(), "{event}");
        assert!(event["at"].as_str().unwrap().ends_with('Z'), "{event}");
        assert!(event.get("error").is_none(), "{event}");
    }
    assert_eq!(events[0]["error"], "no_token", "{}", events[0]);
    assert!(events[0].get("presented").is_none(), "{}", events[0]);
    assert_eq!(events[4]["error"], "invalid_token", "{}", events[4]);
    assert_eq!(events[4]["presented"], "unknow…", "{}", events[4]);
    let text = page.to_string();
    for secret in [&tokens.access, &tokens.refresh] {
        assert!(!text.contains(secret.as_str()), "a whole token in {text}");
    }
    assert!(!text.contains("unknown-token-0123456789"), "{text}");
}

#[tokio::test]
async fn control_writes_are_recorded_but_control_reads_and_preflights_are_not() {
    // Arrange
    let rig = Rig::start().await;

    // Act
    rig.mcp_state().await;
    rig.mcp_get("/control/faults").await;
    rig.mcp_control("/control/force-403", json!({ "on": false }))
        .await;
    rig.http
        .request(reqwest::Method::OPTIONS, rig.mcp_url())
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    rig.get_mcp_path("/.well-known/oauth-protected-resource")
        .await;
    let events = events_of(&rig.events("").await);

    // Assert
    let recorded: Vec<(&str, &str, u64)> = events
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
        recorded,
        [
            ("POST", "/control/force-403", 200),
            ("GET", "/.well-known/oauth-protected-resource", 200),
        ]
    );
}

#[tokio::test]
async fn a_fault_shows_in_the_event_of_the_request_it_fired_on() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;
    let rule = rig
        .add_fault(json!({
            "endpoint": "mcp", "match": { "tool": "add" },
            "respond": { "status": 429, "retry_after": 1 }, "times": 1,
        }))
        .await;
    let drop = rig
        .add_fault(json!({ "endpoint": "mcp", "respond": { "drop": true }, "times": 1 }))
        .await;

    // Act
    rig.call_tool(&tokens.access, "add", json!({ "a": 1, "b": 1 }))
        .await;
    raw_exchange(
        rig.mcp.addr(),
        &raw_tool_call(rig.mcp.addr(), &tokens.access),
    )
    .await;
    let events = events_of(&rig.events("?since=3").await);

    // Assert
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0]["fault"], rule["id"], "{}", events[0]);
    assert_eq!(events[0]["status"], 429, "{}", events[0]);
    assert_eq!(
        events[0]["error"], "temporarily_unavailable",
        "{}",
        events[0]
    );
    assert_eq!(events[0]["tool"], "add", "{}", events[0]);
    assert_eq!(events[1]["fault"], drop["id"], "{}", events[1]);
    assert_eq!(
        events[1]["status"], 0,
        "nothing was answered: {}",
        events[1]
    );
    assert_eq!(events[1]["note"], "dropped", "{}", events[1]);
}

#[tokio::test]
async fn pages_follow_the_cursor_and_a_small_journal_reports_what_it_missed() {
    // Arrange
    let rig = Rig::start_with(
        oauth_server::Config::default(),
        mcp_server::Config {
            journal_size: 3,
            ..mcp_server::Config::default()
        },
    )
    .await;
    for _ in 0..5 {
        rig.get_mcp_path("/.well-known/oauth-protected-resource/mcp")
            .await;
    }

    // Act
    let all = rig.events("").await;
    let limited = rig.events("?since=4&limit=1").await;
    let rest = rig.events(&format!("?since={}", limited["next"])).await;
    let caught_up = rig.events(&format!("?since={}", rest["next"])).await;
    let (bad, _) = rig.mcp_get("/control/events?since=x").await;

    // Assert
    let seqs = |page: &Value| -> Vec<u64> {
        events_of(page)
            .iter()
            .map(|event| event["seq"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(seqs(&all), [3, 4, 5]);
    assert_eq!(all["missed"], 2, "{all}");
    assert_eq!(seqs(&limited), [4]);
    assert_eq!(limited["next"], 5);
    assert_eq!(seqs(&rest), [5]);
    assert!(seqs(&caught_up).is_empty());
    assert_eq!(caught_up["next"], 6);
    assert_eq!(bad, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn reset_empties_the_journal_and_numbering_goes_on() {
    // Arrange
    let rig = Rig::start().await;
    rig.get_mcp_path("/.well-known/oauth-protected-resource/mcp")
        .await;
    rig.get_mcp_path("/.well-known/oauth-protected-resource/mcp")
        .await;

    // Act
    rig.mcp_control("/control/reset", json!({})).await;
    rig.get_mcp_path("/.well-known/oauth-protected-resource/mcp")
        .await;
    let events = events_of(&rig.events("").await);

    // Assert
    // The reset call itself is recorded after the journal was emptied.
    let seqs: Vec<(u64, &str)> = events
        .iter()
        .map(|event| {
            (
                event["seq"].as_u64().unwrap(),
                event["path"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seqs,
        [
            (3, "/control/reset"),
            (4, "/.well-known/oauth-protected-resource/mcp")
        ]
    );
}

#[tokio::test]
async fn the_event_stream_delivers_requests_live() {
    // Arrange
    let rig = Rig::start().await;
    let tokens = rig.token().await;
    rig.get_mcp_path("/.well-known/oauth-protected-resource/mcp")
        .await;
    let mut stream = rig
        .http
        .get(rig.mcp_path("/control/events/stream?since=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let replayed = read_stream_until(&mut stream, "oauth-protected-resource").await;

    // Act
    rig.rpc(&tokens.access, "tools/list", json!({})).await;
    let live = read_stream_until(&mut stream, r#""rpc_method":"tools/list""#).await;

    // Assert
    assert!(replayed.contains("id: 1\nevent: request\n"), "{replayed}");
    assert!(live.contains("id: 2\nevent: request\n"), "{live}");
    assert!(!live.contains(&tokens.access), "{live}");
}

#[tokio::test]
async fn an_open_event_stream_ends_when_the_server_stops() {
    // Arrange
    let rig = Rig::start().await;
    let mut stream = rig
        .http
        .get(rig.mcp_path("/control/events/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let Rig { mcp, auth, .. } = rig;

    // Act
    let stopped = tokio::time::timeout(Duration::from_secs(3), mcp.stop()).await;
    let ended = tokio::time::timeout(Duration::from_secs(3), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;

    // Assert
    assert!(stopped.is_ok(), "the stop waited for the stream");
    assert!(ended.is_ok(), "the stream stayed open");
    drop(auth);
}
