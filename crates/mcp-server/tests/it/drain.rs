//! Graceful shutdown of the MCP server: a tool call in flight when stopping begins is answered in
//! full, its introspection call included; only then does the server stop.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_call_in_flight_when_the_mcp_server_stops_is_answered_in_full() {
    // Arrange: the introspection of the next call is held back for 500 ms by the AS.
    let rig = Rig::start().await;
    let tokens = rig.token().await;
    let (status, rule) = rig
        .auth_control(
            "/control/faults",
            json!({ "endpoint": "introspect", "respond": { "delay_ms": 500 }, "times": 1 }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    let message = json!({
        "jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": { "name": "echo", "arguments": { "message": "finish me" } },
    });
    let (http, url) = (rig.http.clone(), rig.mcp_url());
    let in_flight =
        tokio::spawn(async move { post_mcp(&http, &url, Some(&tokens.access), &message).await });
    // Long enough for the request to reach the delayed introspection, well short of 500 ms.
    tokio::time::sleep(Duration::from_millis(150)).await;

    // Act
    let stopping = Instant::now();
    let mcp = rig.mcp;
    let addr = mcp.addr();
    mcp.stop().await.expect("the MCP server stops cleanly");
    let stopped_after = stopping.elapsed();
    let response = in_flight.await.unwrap();

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_body(response).await;
    assert_eq!(tool_text(&body), "finish me", "{body}");
    assert!(
        stopped_after >= Duration::from_millis(200),
        "stop returned after {stopped_after:?}, before the call could have finished"
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no new connection after stopping"
    );
}
