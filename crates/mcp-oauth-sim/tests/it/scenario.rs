//! `mcp-oauth-sim scenario` against a rig the binary started: each switch flips, `state` shows
//! it, and mistakes are one clear error.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

/// Runs `scenario <args>` against `rig` from another fresh directory, as a second terminal would.
fn scenario(rig: &Serving, args: &[&str]) -> Finished {
    rig.scenario(args)
}

#[tokio::test]
async fn scenario_flips_each_switch_on_a_running_rig_and_state_shows_it() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);
    let before = scenario(&rig, &["state"]);
    let tokens = caller.log_in(&rig.mcp.url).await;

    // Act
    let flips = [
        (&["rotate", "on"][..], "rotate on"),
        (&["expire-access", "42"][..], "access-token TTL 42 s"),
        (&["deny-consent", "on"][..], "deny-consent on"),
        (&["bad-scope", "on"][..], "bad-scope on"),
        (&["dead-refresh", "on"][..], "dead-refresh on"),
        (
            &["revoke"][..],
            "1 clients, 0 codes, 0 access tokens, 1 refresh tokens",
        ),
        (
            &["seed-refresh", "seeded-by-the-scenario-command"][..],
            "1 clients, 0 codes, 0 access tokens, 2 refresh tokens",
        ),
    ];
    let mut answers = Vec::new();
    for (args, shown) in flips {
        answers.push((args, shown, scenario(&rig, args)));
    }
    let after = scenario(&rig, &["state"]);

    // Assert
    before.assert_success();
    let before = before.stdout_words();
    for off in [
        format!("oauth {}", rig.oauth.url),
        "rotate off".into(),
        "dead-refresh off".into(),
        "deny-consent off".into(),
        "access-token TTL 3600 s".into(),
        format!("mcp {}", rig.mcp.url),
        "bad-scope off".into(),
    ] {
        assert!(before.contains(&off), "{off:?} not in {before}");
    }
    for (args, shown, answer) in &answers {
        answer.assert_success();
        assert!(
            answer.stdout_words().contains(shown),
            "scenario {args:?} answers the state: {shown:?} not in {}",
            answer.stdout
        );
    }
    let after = after.assert_success().stdout_words();
    for shown in [
        "rotate on dead-refresh on deny-consent on access-token TTL 42 s",
        "live: 1 clients, 0 codes, 0 access tokens, 2 refresh tokens",
        "bad-scope on",
    ] {
        assert!(after.contains(shown), "{shown:?} not in {after}");
    }
    let (status, _) = caller.echo(&tokens.access, "revoked").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "revoke took the token");
}

#[tokio::test]
async fn scenario_notes_what_expire_access_and_reset_mean_and_reset_turns_everything_off() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);
    caller.log_in(&rig.mcp.url).await;
    scenario(&rig, &["rotate", "on"]).assert_success();
    scenario(&rig, &["bad-scope", "on"]).assert_success();

    // Act
    let expire = scenario(&rig, &["expire-access", "5"]);
    let reset = scenario(&rig, &["reset"]);

    // Assert
    expire.assert_success();
    assert!(
        expire
            .stderr
            .starts_with("note: the new lifetime applies to access tokens issued from now on"),
        "{expire:#?}"
    );
    let words = reset.assert_success().stdout_words();
    for off in [
        "rotate off",
        "dead-refresh off",
        "deny-consent off",
        "access-token TTL 3600 s",
        "bad-scope off",
        "live: 0 clients, 0 codes, 0 access tokens, 0 refresh tokens",
    ] {
        assert!(words.contains(off), "{off:?} not in {words}");
    }
    assert!(
        reset
            .stderr
            .starts_with("warning: every client, code and token is forgotten"),
        "{reset:#?}"
    );
}

#[tokio::test]
async fn scenario_json_prints_both_servers_state_documents() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();

    // Act
    let finished = scenario(&rig, &["bad-scope", "on", "--json"]);

    // Assert
    finished.assert_success();
    let state: Value = serde_json::from_str(&finished.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", finished.stdout));
    let oauth = &state["oauth"];
    assert_eq!(oauth["issuer"], rig.oauth.url.as_str(), "{state}");
    let toggles = &oauth["toggles"];
    assert_eq!(toggles["rotate_refresh_tokens"], false, "{state}");
    assert_eq!(toggles["access_token_ttl_seconds"], 3600, "{state}");
    assert_eq!(toggles["invalid_grant"], false, "{state}");
    assert_eq!(toggles["deny_consent"], false, "{state}");
    assert!(oauth["store"]["clients"].is_number(), "{state}");
    assert!(oauth["counters"]["token_requests"].is_object(), "{state}");
    assert!(oauth["seed_refresh_token"].is_null(), "{state}");
    let mcp = &state["mcp"];
    assert_eq!(mcp["toggles"]["force_403"], true, "{state}");
    assert!(mcp["counters"]["tool_calls"].is_number(), "{state}");
}

#[tokio::test]
async fn scenario_without_the_value_it_needs_exits_non_zero_and_changes_nothing() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();
    let cases = [
        (&["rotate"][..], "error: rotate needs on|off"),
        (&["rotate", "maybe"][..], "error: rotate needs on|off"),
        (&["dead-refresh"][..], "error: dead-refresh needs on|off"),
        (&["deny-consent"][..], "error: deny-consent needs on|off"),
        (&["bad-scope"][..], "error: bad-scope needs on|off"),
        (
            &["expire-access", "soon"][..],
            "error: expire-access needs a number of seconds",
        ),
        (&["seed-refresh"][..], "error: seed-refresh needs a token"),
    ];

    for (args, message) in cases {
        // Act
        let finished = scenario(&rig, args);

        // Assert
        assert_eq!(finished.status.code(), Some(1), "{args:?}: {finished:#?}");
        assert_eq!(finished.stderr.trim_end(), message, "{args:?}");
    }
    let state = scenario(&rig, &["state"]).assert_success().stdout_words();
    assert!(
        state.contains("rotate off dead-refresh off deny-consent off"),
        "{state}"
    );
    assert!(state.contains("bad-scope off"), "{state}");
}

#[test]
fn scenario_with_no_rig_listening_says_it_cannot_reach_it() {
    // Arrange: two ports nothing listens on (just released).
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("find a free port")
            .port()
            .to_string()
    };
    let (oauth, mcp) = (free(), free());
    let dir = WorkDir::new();

    // Act
    let finished = Launch::new(&dir)
        .args([
            "scenario",
            "state",
            "--oauth-port",
            &oauth,
            "--mcp-port",
            &mcp,
        ])
        .run();

    // Assert
    assert_eq!(finished.status.code(), Some(1), "{finished:#?}");
    assert_eq!(finished.stderr.lines().count(), 1, "{finished:#?}");
    assert!(
        finished
            .stderr
            .starts_with("error: cannot reach http://localhost:"),
        "{finished:#?}"
    );
    assert!(
        finished
            .stderr
            .contains("is mcp-oauth-sim running with these ports and scheme?"),
        "{finished:#?}"
    );
}

#[tokio::test]
async fn scenario_sh_flips_switches_with_curl_and_prints_both_states() {
    // Arrange: the script finds the rig through the same variables the binary reads.
    let dir = WorkDir::new();
    let rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();
    let oauth_port = rig.oauth.port().to_string();
    let mcp_port = rig.mcp.port().to_string();
    let script = |args: &[&str]| {
        Launch::script(&dir, "scenario.sh")
            .args(args.iter().copied())
            .env("OAUTH_PORT", &oauth_port)
            .env("MCP_PORT", &mcp_port)
            .run()
    };
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);
    let state = || async {
        let (_, oauth) = caller
            .get_json(&format!("{}/control/state", rig.oauth.local_origin()))
            .await;
        let (_, mcp) = caller
            .get_json(&format!("{}/control/state", rig.mcp.local_origin()))
            .await;
        (oauth, mcp)
    };

    // Act
    let rotate = script(&["rotate", "on"]);
    let bad_scope = script(&["bad-scope", "on"]);
    let expire = script(&["expire-access", "7"]);
    let after_flips = state().await;
    let mistake = script(&["rotate", "sideways"]);
    let reset = script(&["reset"]);
    let after_reset = state().await;

    // Assert
    for answer in [&rotate, &bad_scope, &expire, &reset] {
        answer.assert_success();
        assert!(
            answer.stdout.contains("\"service\": \"oauth\"")
                && answer.stdout.contains("\"service\": \"mcp\""),
            "prints both states: {answer:#?}"
        );
    }
    assert_eq!(after_flips.0["toggles"]["rotate_refresh_tokens"], true);
    assert_eq!(after_flips.0["toggles"]["access_token_ttl_seconds"], 7);
    assert_eq!(after_flips.1["toggles"]["force_403"], true);
    assert!(!mistake.status.success(), "{mistake:#?}");
    assert!(mistake.stderr.contains("on|off"), "{mistake:#?}");
    assert!(reset.stderr.contains("consent again"), "{reset:#?}");
    assert_eq!(after_reset.0["toggles"]["rotate_refresh_tokens"], false);
    assert_eq!(after_reset.1["toggles"]["force_403"], false);
}

#[tokio::test]
async fn scenario_sh_presets_add_fault_rules_move_the_clock_and_read_the_journal_with_curl() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir)
        .args(EPHEMERAL_PORTS)
        .env("SCOPES", "mcp:tools mcp:write")
        .serve();
    let oauth_port = rig.oauth.port().to_string();
    let mcp_port = rig.mcp.port().to_string();
    let script = |args: &[&str]| {
        Launch::script(&dir, "scenario.sh")
            .args(args.iter().copied())
            .env("OAUTH_PORT", &oauth_port)
            .env("MCP_PORT", &mcp_port)
    };
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);
    let state = |service: &Announced| {
        let url = format!("{}/control/state", service.local_origin());
        let caller = &caller;
        async move { caller.get_json(&url).await.1 }
    };
    let tokens = caller.log_in(&rig.mcp.url).await;

    // Act
    let as_down = script(&["as-down", "1"]).run();
    let (down, _) = caller.refresh(&tokens.client_id, &tokens.refresh).await;
    let (up, _) = caller.refresh(&tokens.client_id, &tokens.refresh).await;
    let clock = script(&["clock", "+60"]).run();
    let clock_state = state(&rig.oauth).await;
    script(&["clock", "reset"]).run().assert_success();
    let step_up = script(&["step-up", "add", "mcp:write"]).run();
    let narrow = script(&["narrow-consent", "mcp:tools"]).run();
    let reuse = script(&["reuse-detect", "on", "5"]).run();
    let oauth_state = state(&rig.oauth).await;
    let mcp_state = state(&rig.mcp).await;
    let introspect_down = script(&["introspect-down", "401"]).run();
    let (unauthorized, _) = caller.echo(&tokens.access, "cannot be checked").await;
    script(&["introspect-down", "off"]).run().assert_success();
    let (checked, _) = caller.echo(&tokens.access, "checked again").await;
    script(&["slow-token", "50"]).run().assert_success();
    let faults = script(&["faults"]).run();
    script(&["slow-token", "off"]).run().assert_success();
    let rule = r#"{"endpoint":"prm","respond":{"status":503},"times":1}"#;
    let fault = script(&["fault", "mcp", rule]).run();
    let cleared = script(&["clear-faults"]).run();
    let events = script(&["events"]).run();
    let bad_count = script(&["as-down", "lots"]).run();

    // Assert
    as_down.assert_success();
    assert!(as_down.stdout.contains(r#""times":1"#), "{as_down:#?}");
    assert_eq!(down, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(up, StatusCode::OK);
    clock.assert_success();
    assert_eq!(clock_state["clock"]["offset_seconds"], 60, "{clock_state}");
    for answer in [
        &step_up,
        &narrow,
        &reuse,
        &introspect_down,
        &fault,
        &cleared,
    ] {
        answer.assert_success();
    }
    assert_eq!(mcp_state["tool_scopes"]["add"], "mcp:write", "{mcp_state}");
    assert_eq!(
        oauth_state["consent"]["grant_scope"], "mcp:tools",
        "{oauth_state}"
    );
    assert_eq!(oauth_state["reuse_detection"]["on"], true, "{oauth_state}");
    assert_eq!(
        oauth_state["reuse_detection"]["grace_seconds"], 5,
        "{oauth_state}"
    );
    assert_eq!(unauthorized, StatusCode::UNAUTHORIZED);
    assert_eq!(checked, StatusCode::OK);
    assert!(
        faults.assert_success().stdout.contains("delay_ms"),
        "{faults:#?}"
    );
    assert!(fault.stdout.contains(r#""endpoint":"prm""#), "{fault:#?}");
    let (_, after) = caller
        .get_json(&format!("{}/control/faults", rig.mcp.local_origin()))
        .await;
    assert_eq!(after["faults"], json!([]), "clear-faults: {after}");
    let events = events.assert_success();
    assert!(events.stdout.contains("/token"), "{events:#?}");
    assert!(!events.stdout.contains(&tokens.refresh), "{events:#?}");
    assert!(!bad_count.status.success(), "{bad_count:#?}");
    assert!(
        bad_count.stderr.contains("number of requests"),
        "{bad_count:#?}"
    );
}

#[tokio::test]
async fn scenario_sh_watch_follows_both_streams_with_curl_until_sigterm() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);
    let mut watch = Launch::script(&dir, "scenario.sh")
        .arg("watch")
        .env("OAUTH_PORT", &rig.oauth.port().to_string())
        .env("MCP_PORT", &rig.mcp.port().to_string())
        .start();
    watch.wait_for_stderr("watching both servers' requests");
    let metadata = format!("{}/.well-known/oauth-authorization-server", rig.oauth.url);

    // Act: curl connects in the background, so ask until a request shows up.
    let mut seen = None;
    for _ in 0..50 {
        caller.get_json(&metadata).await;
        seen = watch.line_within(Duration::from_millis(200), |line| {
            line.starts_with("[oauth] ") && line.contains("/.well-known/oauth-authorization-server")
        });
        if seen.is_some() {
            break;
        }
    }
    let finished = watch.stop_with("TERM");

    // Assert
    assert!(seen.is_some(), "no event line: {finished:#?}");
    assert!(finished.status.success(), "{finished:#?}");
}

#[tokio::test]
async fn scenario_output_into_a_closed_pipe_ends_quietly_instead_of_panicking() {
    // `mcp-oauth-sim scenario state | head -1`: the reader is gone before the state is printed.
    let dir = WorkDir::new();
    let rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();
    let mut child = std::process::Command::new(BIN)
        .current_dir(dir.path())
        .arg("scenario")
        .arg("state")
        .args(rig.port_args())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the scenario command");
    // Closed before the command has fetched the state, so its first write meets a broken pipe.
    drop(child.stdout.take());

    let output = child.wait_with_output().expect("the command ends");

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn scenario_profile_changes_a_servers_knobs_and_conformance_stages_lists_and_checks() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);

    // Act
    let knobs = scenario(&rig, &["profile", "mcp", r#"{"challenge_scope":"omit"}"#]);
    let (_, mcp_state) = caller
        .get_json(&format!(
            "{}/control/state",
            rig.mcp.url.trim_end_matches("/mcp")
        ))
        .await;
    let bad = scenario(&rig, &["profile", "oauth", r#"{"iss":"sideways"}"#]);
    let listed = scenario(&rig, &["conformance", "list"]);
    let staged = scenario(&rig, &["conformance", "auth/resource-mismatch"]);
    // Nobody tried to authorize: the situation's one check passes.
    let checked = scenario(&rig, &["conformance", "check", "resource-mismatch"]);
    let unjudged = scenario(&rig, &["conformance", "check", "iss-supported"]);

    // Assert
    knobs.assert_success();
    assert_eq!(
        mcp_state["profile"]["challenge_scope"], "omit",
        "{mcp_state}"
    );
    assert!(!bad.status.success());
    assert!(bad.stderr.contains("iss"), "{bad:#?}");
    listed.assert_success();
    assert_eq!(listed.stdout.lines().count(), 31, "{listed:#?}");
    staged.assert_success();
    assert!(
        staged.stderr.contains("a passing client refuses PRM"),
        "{staged:#?}"
    );
    checked.assert_success();
    assert!(
        checked.stdout.contains("resource-mismatch-rejected"),
        "{checked:#?}"
    );
    assert!(
        !unjudged.status.success(),
        "no token request: iss-supported fails"
    );
    assert!(
        unjudged
            .stderr
            .contains("sep-2468-client-compare-iss-supported")
    );
}

#[tokio::test]
async fn scenario_cimd_and_document_faults_change_the_issuer_and_show_in_its_state() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);
    let url = "https://app.example/client.json";
    let state = async || {
        caller
            .get_json(&format!("{}/control/state", rig.oauth.url))
            .await
            .1
    };

    // Act
    let unadvertised = scenario(&rig, &["cimd", "unadvertised"]);
    let (_, metadata) = caller
        .get_json(&format!(
            "{}/.well-known/oauth-authorization-server",
            rig.oauth.url
        ))
        .await;
    let faulted = scenario(&rig, &["document-fault", "slow", url, "2"]);
    let with_fault = state().await;
    let changed = scenario(&rig, &["document-changed"]);
    let cleared = scenario(&rig, &["document-fault", "off"]);
    let without_fault = state().await;
    let off = scenario(&rig, &["cimd", "off"]);
    let after_off = state().await;
    let bad = scenario(&rig, &["document-fault", "sideways"]);

    // Assert
    for done in [&unadvertised, &faulted, &changed, &cleared, &off] {
        done.assert_success();
    }
    assert!(
        metadata
            .get("client_id_metadata_document_supported")
            .is_none(),
        "{metadata}"
    );
    let fault = &with_fault["documents"]["faults"][0];
    assert_eq!(
        (
            fault["fault"].clone(),
            fault["url"].clone(),
            fault["remaining"].clone()
        ),
        (json!("slow"), json!(url), json!(2))
    );
    assert_eq!(without_fault["documents"]["faults"], json!([]));
    assert_eq!(
        after_off["profile"]["client_id_metadata_document_supported"],
        false
    );
    assert_eq!(after_off["profile"]["client_id_metadata_documents"], false);
    assert!(!bad.status.success());
    assert!(
        bad.stderr.contains("redirect-uri-missing"),
        "the kinds are listed: {bad:#?}"
    );
}

#[tokio::test]
async fn scenario_stages_a_situation_without_a_user_with_its_context_and_makes_credentials() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);

    // Act: stage client-credentials-basic and use the context it prints, as a client would.
    let staged = scenario(&rig, &["conformance", "client-credentials-basic", "--json"]);
    staged.assert_success();
    let printed: Value = serde_json::from_str(&staged.stdout).expect("one JSON object");
    let context = &printed["context"];
    let (id, secret) = (
        context["client_id"].as_str().unwrap(),
        context["client_secret"].as_str().unwrap(),
    );
    let token = caller
        .http
        .post(format!("{}/token", rig.oauth.url))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let token_status = token.status();
    let tokens = body_json(token).await;
    let (_, whoami) = caller
        .rpc(
            tokens["access_token"].as_str().unwrap_or_default(),
            "tools/call",
            json!({ "name": "whoami", "arguments": {} }),
        )
        .await;
    let checked = scenario(&rig, &["conformance", "check", "client-credentials-basic"]);
    // A trusted issuer with a key the rig makes, and an assertion of it, from the CLI, on a
    // rig back to its defaults (the situation offered client_credentials alone).
    scenario(&rig, &["reset"]).assert_success();
    let keyed = scenario(&rig, &["keyed-client", "agent-1"]);
    let trusted = scenario(&rig, &["trust-issuer", "https://idp.example", "EdDSA"]);
    let minted = scenario(&rig, &["assertion", "https://idp.example", "workload-7"]);
    let bearer = caller
        .token_response(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", minted.stdout.trim()),
        ])
        .await;
    let bearer_status = bearer.status();
    let bearer = body_json(bearer).await;
    let wrong = scenario(&rig, &["assertion", "https://unknown.example", "x"]);

    // Assert
    assert!(staged.stderr.contains("give the client: {"), "{staged:#?}");
    assert_eq!(token_status, StatusCode::OK, "{tokens}");
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    assert_eq!(
        whoami["result"]["structuredContent"]["subject"], id,
        "{whoami}"
    );
    checked.assert_success();
    keyed.assert_success();
    assert!(keyed.stdout.contains("client_id agent-1"), "{keyed:#?}");
    assert!(keyed.stdout.contains("BEGIN PRIVATE KEY"), "{keyed:#?}");
    trusted.assert_success();
    assert!(trusted.stdout.contains("alg EdDSA"), "{trusted:#?}");
    minted.assert_success();
    assert_eq!(bearer_status, StatusCode::OK, "{bearer}");
    let active = caller
        .http
        .post(format!("{}/introspect", rig.oauth.url))
        .form(&[("token", bearer["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(body_json(active).await["sub"], "workload-7");
    assert!(!wrong.status.success());
    assert!(wrong.stderr.contains("not a trusted"), "{wrong:#?}");
}
