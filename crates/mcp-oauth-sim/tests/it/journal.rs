//! `scenario events` and `scenario watch` through the binary: what a client did, as the rig's
//! journals recorded it, after the fact and live.

use serde_json::Value;

use crate::support::*;

#[tokio::test]
async fn events_prints_a_flow_in_order_one_line_per_request_without_whole_secrets() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);
    caller.challenge().await;
    let tokens = caller.log_in(&rig.mcp.url).await;
    caller.echo(&tokens.access, "journaled").await;
    caller.refresh(&tokens.client_id, &tokens.refresh).await;

    // Act
    let text = rig.scenario(&["events"]);
    let json = rig.scenario(&["events", "--json"]);
    let later = rig.scenario(&["events", "--since", "1000"]);

    // Assert
    let text = text.assert_success().stdout.clone();
    let lines: Vec<&str> = text.lines().collect();
    let position = |wanted: &str| {
        lines
            .iter()
            .position(|line| line.contains(wanted))
            .unwrap_or_else(|| panic!("no line with {wanted:?} in\n{text}"))
    };
    let client = &tokens.client_id[..8];
    let challenge = position("[mcp] #1 POST /mcp 401 error=no_token");
    let register = position(&format!("POST /register 201 client={client}"));
    let code = position("POST /token 200 grant=authorization_code");
    let call = position(&format!(
        "POST /mcp 200 client={client} rpc=tools/call tool=echo sub=demo-user"
    ));
    let refresh = position("POST /token 200 grant=refresh_token");
    assert!(
        challenge < register && register < code && code < call && call < refresh,
        "{text}"
    );
    assert!(
        lines[refresh].contains(&format!("presented={}…", &tokens.refresh[..6])),
        "{text}"
    );
    assert!(
        lines[call].contains(&format!("presented={}…", &tokens.access[..6])),
        "{text}"
    );
    assert!(lines.iter().all(|line| line.ends_with("ms")), "{text}");
    for secret in [&tokens.access, &tokens.refresh] {
        assert!(!text.contains(secret.as_str()), "a whole token in {text}");
    }
    let events: Value = serde_json::from_str(&json.assert_success().stdout).expect("JSON");
    let events = events.as_array().expect("an array of events");
    let services: Vec<&str> = events
        .iter()
        .filter_map(|e| e["service"].as_str())
        .collect();
    assert!(
        services.contains(&"oauth") && services.contains(&"mcp"),
        "{events:?}"
    );
    let times: Vec<&str> = events.iter().filter_map(|e| e["at"].as_str()).collect();
    assert!(
        times.windows(2).all(|pair| pair[0] <= pair[1]),
        "merged by time: {times:?}"
    );
    let later = later.assert_success();
    assert_eq!(later.stdout, "");
    assert!(later.stderr.starts_with("no events"), "{later:#?}");
}

#[tokio::test]
async fn watch_prints_a_line_for_each_request_while_it_runs_and_stops_on_sigterm() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);
    let text_dir = WorkDir::new();
    let json_dir = WorkDir::new();
    let mut text = rig.scenario_command(&text_dir, &["watch"]).start();
    let mut json = rig
        .scenario_command(&json_dir, &["watch", "--json"])
        .start();
    text.wait_for_stderr("watching both servers' requests");
    json.wait_for_stderr("watching both servers' requests");

    // Act
    caller
        .get_json(&format!(
            "{}/.well-known/oauth-authorization-server",
            rig.oauth.url
        ))
        .await;
    caller.challenge().await;
    // Each server's stream is its own connection, so the two lines may arrive in either order.
    let first =
        text.line_where(|line| line.starts_with("[oauth] #") || line.starts_with("[mcp] #"));
    let other = if first.starts_with("[oauth]") {
        "[mcp] #"
    } else {
        "[oauth] #"
    };
    let second = text.line_where(|line| line.starts_with(other));
    let (metadata_line, mcp_line) = if first.starts_with("[oauth]") {
        (first, second)
    } else {
        (second, first)
    };
    let json_line = json.line_where(|line| line.contains(r#""service":"mcp""#));
    let stopped = text.stop_with("TERM");
    let interrupted = json.stop_with("INT");

    // Assert
    assert!(
        metadata_line.contains(" GET /.well-known/oauth-authorization-server 200 "),
        "{metadata_line}"
    );
    assert!(
        mcp_line.contains(" POST /mcp 401 error=no_token "),
        "{mcp_line}"
    );
    let event: Value = serde_json::from_str(&json_line).expect("a JSON line");
    assert_eq!(event["status"], 401, "{event}");
    assert_eq!(event["path"], "/mcp", "{event}");
    assert!(stopped.status.success(), "{stopped:#?}");
    assert!(interrupted.status.success(), "{interrupted:#?}");
}

#[tokio::test]
async fn watch_ends_by_itself_when_the_rig_stops() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();
    let watch_dir = WorkDir::new();
    let mut watch = rig.scenario_command(&watch_dir, &["watch"]).start();
    watch.wait_for_stderr("watching both servers' requests");

    // Act
    rig.stop_with("TERM").assert_success();
    let finished = watch.finish();

    // Assert
    assert!(finished.status.success(), "{finished:#?}");
    assert!(finished.stderr.contains("the rig stopped"), "{finished:#?}");
}

#[tokio::test]
async fn a_small_journal_size_keeps_only_the_latest_requests() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir)
        .args(EPHEMERAL_PORTS)
        .env("JOURNAL_SIZE", "2")
        .serve();
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);
    let metadata = format!("{}/.well-known/oauth-authorization-server", rig.oauth.url);

    // Act
    for _ in 0..5 {
        caller.get_json(&metadata).await;
    }
    let (_, page) = caller
        .get_json(&format!(
            "{}/control/events?since=1",
            rig.oauth.local_origin()
        ))
        .await;

    // Assert
    assert_eq!(page["events"].as_array().map(Vec::len), Some(2), "{page}");
    assert_eq!(page["events"][0]["seq"], 4, "{page}");
    assert_eq!(page["missed"], 3, "{page}");
    assert_eq!(page["next"], 6, "{page}");
}
