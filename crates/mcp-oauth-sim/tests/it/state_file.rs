//! `STATE_FILE` through the binary, as docs/https-and-tunnels.md ("Keep state across a
//! restart") promises it: a clean stop writes the final state and a restart on the same or new
//! ports carries on without a new consent; a `kill -9` loses at most the last second; a write
//! that died half-way leaves the previous file whole; a file that cannot be used stops the start
//! and is left as it was; the file holds no token, code or secret and is readable by its owner
//! only; what expired is dropped on load.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mcp_oauth_sim::state_file::temporary_beside;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sim_test_kit::oauth::{Flow, Pkce};

use crate::support::*;

/// The state file's name, relative to the rig's working directory as a person would give it.
const STATE: &str = "rig-state.json";

/// A fault rule of the authorization server that no step of these tests sets off.
const TOKEN_RULE: &str =
    r#"{"endpoint":"token","match":{"grant_type":"client_credentials"},"respond":{"status":503}}"#;

/// A fault rule of the MCP server that no step of these tests sets off (they call `echo`).
const MCP_RULE: &str = r#"{"endpoint":"mcp","match":{"tool":"add"},"respond":{"status":500}}"#;

/// `serve` in `dir` with `STATE_FILE` set, on `ports`.
fn serve<'a>(dir: &WorkDir, ports: impl IntoIterator<Item = &'a str>) -> Serving {
    Launch::new(dir)
        .args(ports)
        .env("STATE_FILE", STATE)
        .serve()
}

/// `serve` on `ports`: an earlier rig's [`Serving::port_args`], once it has stopped.
fn serve_on(dir: &WorkDir, ports: &[String; 4]) -> Serving {
    serve(dir, ports.iter().map(String::as_str))
}

fn caller_of(rig: &Serving) -> Caller {
    Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url)
}

/// POSTs `body` to a control path of the server at `origin`, asserting it was accepted.
async fn control(caller: &Caller, origin: &str, path: &str, body: &str) -> Value {
    let response = caller
        .http
        .post(format!("{origin}{path}"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap_or_else(|error| panic!("POST {path}: {error}"));
    let status = response.status();
    let answer = body_json(response).await;
    assert!(status.is_success(), "{path}: {status} {answer}");
    answer
}

/// The authorization server's `GET /control/state`.
async fn oauth_state(caller: &Caller) -> Value {
    let (status, state) = caller
        .get_json(&format!("{}/control/state", caller.auth))
        .await;
    assert_eq!(status, StatusCode::OK, "{state}");
    state
}

/// The fault rules listed by the server at `origin`.
async fn faults(caller: &Caller, origin: &str) -> Value {
    let (status, listed) = caller.get_json(&format!("{origin}/control/faults")).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    listed["faults"].clone()
}

/// The authorization server's introspection of `token` (RFC 7662).
async fn introspect(caller: &Caller, token: &str) -> Value {
    let response = caller
        .http
        .post(format!("{}/introspect", caller.auth))
        .form(&[("token", token)])
        .send()
        .await
        .expect("POST /introspect");
    let status = response.status();
    let answer = body_json(response).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

/// Asserts `echo` with `token` answers `message`.
async fn assert_echoes(caller: &Caller, token: &str, message: &str) {
    let (status, response) = caller.echo(token, message).await;
    assert_eq!(status, StatusCode::OK, "{message}: {response}");
    assert_eq!(tool_text(&response), message);
}

/// A refresh that must succeed; answers the new access and refresh tokens.
async fn refreshed(caller: &Caller, client_id: &str, refresh: &str) -> (String, String) {
    let (status, body) = caller.refresh(client_id, refresh).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the refresh token refreshes: {body}"
    );
    let token = |name: &str| {
        body[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} in {body}"))
            .to_owned()
    };
    (token("access_token"), token("refresh_token"))
}

/// Waits (at most 5 s) until the state file in `dir` contains `text`: the rig writes within a
/// second of a change.
fn wait_for_file_holding(dir: &WorkDir, text: &str) {
    let path = dir.path().join(STATE);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if std::fs::read_to_string(&path).is_ok_and(|saved| saved.contains(text)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} never held {text} within 5 s",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What a client held when its rig stopped.
struct Held {
    client_id: String,
    access: String,
    refresh: String,
}

/// Asserts a restarted rig honours what a client held — the access token introspects active
/// and calls `echo`, the refresh token refreshes (rotated: the rotation switch came back) and
/// its new access token calls `echo` too — and that the switch and both fault rules are back,
/// with no new consent. Answers what the client holds now.
async fn assert_carries_on(caller: &Caller, held: &Held, run: &str) -> Held {
    let introspected = introspect(caller, &held.access).await;
    assert_eq!(introspected["active"], true, "{run}: {introspected}");
    assert_echoes(
        caller,
        &held.access,
        &format!("{run}: the old access token"),
    )
    .await;

    let (access, refresh) = refreshed(caller, &held.client_id, &held.refresh).await;
    assert_ne!(refresh, held.refresh, "{run}: rotation is on, so a new one");
    assert_echoes(
        caller,
        &access,
        &format!("{run}: the refreshed access token"),
    )
    .await;

    let state = oauth_state(caller).await;
    assert_eq!(state["toggles"]["rotate_refresh_tokens"], true, "{run}");
    assert_eq!(
        state["counters"]["authorizations"], 0,
        "{run}: no new consent: {state}"
    );
    let oauth_rules = faults(caller, &caller.auth).await;
    assert_eq!(
        oauth_rules[0]["match"],
        json!({"grant_type": "client_credentials"}),
        "{run}: {oauth_rules}"
    );
    assert_eq!(oauth_rules.as_array().map(Vec::len), Some(1), "{run}");
    let mcp_rules = faults(caller, &caller.mcp_origin()).await;
    assert_eq!(
        mcp_rules[0]["match"],
        json!({"tool": "add"}),
        "{run}: {mcp_rules}"
    );
    assert_eq!(mcp_rules.as_array().map(Vec::len), Some(1), "{run}");
    Held {
        client_id: held.client_id.clone(),
        access,
        refresh,
    }
}

/// The whole promise of a clean stop by `signal`: tokens made, a switch flipped and fault rules
/// added just before the stop (well within the second before the next periodic write) are all
/// there after a restart on the same ports, and after one more on new ports.
async fn a_clean_stop_by(signal: &str) {
    // Arrange
    let dir = WorkDir::new();
    let first = serve(&dir, EPHEMERAL_PORTS);
    let caller = caller_of(&first);
    let tokens = caller.log_in(&first.mcp.url).await;
    let before = oauth_state(&caller).await;
    assert_eq!(before["toggles"]["rotate_refresh_tokens"], false);
    assert_eq!(before["counters"]["authorizations"], 1);
    let first_ports = first.port_args();

    // Act: the switch and the rules just before the stop, so the stop's write must carry them.
    control(&caller, &caller.auth, "/control/rotate", r#"{"on":true}"#).await;
    control(&caller, &caller.auth, "/control/faults", TOKEN_RULE).await;
    control(&caller, &caller.mcp_origin(), "/control/faults", MCP_RULE).await;
    let stopped = first.stop_with(signal);
    let second = serve_on(&dir, &first_ports);
    let on_same_ports = caller_of(&second);

    // Assert
    assert!(stopped.status.success(), "{stopped:#?}");
    let held = Held {
        client_id: tokens.client_id,
        access: tokens.access,
        refresh: tokens.refresh,
    };
    let held = assert_carries_on(&on_same_ports, &held, "same ports").await;
    let stopped = second.stop_with(signal);
    assert!(stopped.status.success(), "{stopped:#?}");

    let third = serve(&dir, EPHEMERAL_PORTS);
    assert_ne!(
        third.mcp.url, on_same_ports.mcp,
        "the OS picked new ports this time"
    );
    let on_new_ports = caller_of(&third);
    assert_carries_on(&on_new_ports, &held, "new ports").await;
}

#[tokio::test]
async fn sigterm_writes_the_final_state_and_a_restart_on_the_same_or_new_ports_carries_on() {
    a_clean_stop_by("TERM").await;
}

#[tokio::test]
async fn ctrl_c_writes_the_final_state_and_a_restart_on_the_same_or_new_ports_carries_on() {
    a_clean_stop_by("INT").await;
}

#[tokio::test]
async fn kill_9_loses_only_what_came_after_the_last_write_and_tokens_written_before_work() {
    // Arrange
    let dir = WorkDir::new();
    let first = serve(&dir, EPHEMERAL_PORTS);
    let caller = caller_of(&first);
    let tokens = caller.log_in(&first.mcp.url).await;
    wait_for_file_holding(&dir, &tokens.client_id);
    let ports = first.port_args();

    // Act
    let killed = first.stop_with("KILL");
    let second = serve_on(&dir, &ports);
    let caller = caller_of(&second);

    // Assert
    assert!(!killed.status.success(), "{killed:#?}");
    assert!(
        !killed.stdout.contains("[sim] stopping"),
        "no clean stop: {killed:#?}"
    );
    let introspected = introspect(&caller, &tokens.access).await;
    assert_eq!(introspected["active"], true, "{introspected}");
    assert_echoes(&caller, &tokens.access, "after kill -9").await;
    let (access, _) = refreshed(&caller, &tokens.client_id, &tokens.refresh).await;
    assert_echoes(&caller, &access, "refreshed after kill -9").await;
    assert_eq!(oauth_state(&caller).await["counters"]["authorizations"], 0);
}

#[tokio::test]
async fn a_half_written_temporary_beside_a_good_file_is_ignored_and_the_first_write_replaces_it() {
    // Arrange: a good file from a clean stop, then what a crash in the middle of the next
    // write leaves beside it.
    let dir = WorkDir::new();
    let first = serve(&dir, EPHEMERAL_PORTS);
    let caller = caller_of(&first);
    let tokens = caller.log_in(&first.mcp.url).await;
    let ports = first.port_args();
    first.stop_with("TERM").assert_success();
    let path = dir.path().join(STATE);
    let good = std::fs::read(&path).expect("the stop wrote the file");
    let leftover = temporary_beside(&path);
    assert_eq!(leftover, dir.path().join(format!("{STATE}.writing")));
    std::fs::write(&leftover, &good[..good.len() / 2]).unwrap();

    // Act
    let second = serve_on(&dir, &ports);
    let caller = caller_of(&second);

    // Assert: the good file was loaded, the leftover never read; the write at start (before
    // the ready lines) wrote its own temporary over the leftover and renamed it into place.
    let introspected = introspect(&caller, &tokens.access).await;
    assert_eq!(introspected["active"], true, "{introspected}");
    refreshed(&caller, &tokens.client_id, &tokens.refresh).await;
    assert!(
        !leftover.exists(),
        "the leftover was replaced by a whole write and renamed away"
    );
    let now: Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).expect("the file is whole JSON");
    assert_eq!(now["version"], 1);
}

/// Runs `serve` with `STATE_FILE` set to `name` in `dir`, which must fail; asserts one
/// `error:` line naming the variable and the file (and saying `says`), a non-zero exit and no
/// ready line.
fn assert_refused(dir: &WorkDir, name: &str, says: &str) {
    let finished = Launch::new(dir)
        .args(EPHEMERAL_PORTS)
        .env("STATE_FILE", name)
        .run();
    assert_eq!(finished.status.code(), Some(1), "{says}: {finished:#?}");
    let lines: Vec<&str> = finished.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{says}: {finished:#?}");
    assert!(
        lines[0].starts_with(&format!("error: STATE_FILE {name}")),
        "{says}: {finished:#?}"
    );
    assert!(lines[0].contains(says), "{says}: {finished:#?}");
    assert!(!finished.stderr.contains("panicked"), "{finished:#?}");
    assert!(
        !finished.stdout.contains("[oauth] authorization server"),
        "{says}: {finished:#?}"
    );
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A state file written by a rig that held one client's tokens, as text.
fn a_real_state_file() -> String {
    let dir = WorkDir::new();
    let rig = serve(&dir, EPHEMERAL_PORTS);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(caller_of(&rig).log_in(&rig.mcp.url));
    rig.stop_with("TERM").assert_success();
    dir.read(STATE)
}

#[test]
fn a_state_file_that_cannot_be_used_stops_the_start_with_one_error_line_and_is_left_as_it_was() {
    // Arrange: a version-1 file of the right shape whose access token is not keyed by a digest.
    let real = a_real_state_file();
    let mut bad_key: Value = serde_json::from_str(&real).unwrap();
    let tokens = bad_key["oauth"]["issuers"][0]["access_tokens"]
        .as_object_mut()
        .expect("saved access tokens");
    let (_, token) = tokens.iter().next().expect("one access token");
    let token = token.clone();
    tokens.clear();
    tokens.insert("a-token-in-the-clear".into(), token);
    let bad_key = bad_key.to_string();
    let cases: [(&str, &str); 5] = [
        (r#"{"version": 1, "oauth": {"issu"#, "is not a state file"),
        (
            r#"{"version": 99, "written_at": 0, "oauth": {}, "mcp": {}}"#,
            "has version 99; this mcp-oauth-sim reads version 1. It was left as it is",
        ),
        (r#"{"clients": []}"#, "has no version"),
        (
            r#"{"version": 1, "oauth": 42}"#,
            "is version 1 but cannot be read",
        ),
        (&bad_key, "a-token-in-the-clear"),
    ];

    for (content, says) in cases {
        let dir = WorkDir::new();
        dir.write(STATE, content);

        // Act
        assert_refused(&dir, STATE, says);

        // Assert
        assert_eq!(dir.read(STATE), content, "{says}: left byte for byte");
        assert_eq!(
            listing(dir.path()),
            [STATE],
            "{says}: nothing written beside it"
        );
    }
}

#[test]
fn a_state_file_path_that_is_a_directory_stops_the_start_and_the_directory_is_untouched() {
    // Arrange: permission bits do not stop root, a directory does.
    let dir = WorkDir::new();
    let directory: PathBuf = dir.path().join(STATE);
    std::fs::create_dir(&directory).unwrap();
    std::fs::write(directory.join("kept.txt"), "a tester's file").unwrap();

    // Act
    assert_refused(&dir, STATE, "cannot be read: Is a directory");

    // Assert
    assert_eq!(listing(dir.path()), [STATE]);
    assert_eq!(listing(&directory), ["kept.txt"]);
    assert_eq!(
        std::fs::read_to_string(directory.join("kept.txt")).unwrap(),
        "a tester's file"
    );
}

#[test]
fn a_state_file_in_a_directory_that_does_not_exist_is_one_error_line_not_a_panic() {
    // Arrange
    let dir = WorkDir::new();
    let name = format!("missing/{STATE}");

    // Act: there is no file, so nothing is loaded; the first write, made at start so that a
    // path that cannot be written is found then, fails.
    assert_refused(&dir, &name, "cannot be written: No such file or directory");

    // Assert
    assert!(listing(dir.path()).is_empty(), "no directory was made");
}

/// The lowercase hex of the SHA-256 of `text`.
fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[tokio::test]
async fn the_state_file_holds_tokens_codes_and_client_secrets_only_as_digests_with_mode_0600() {
    // Arrange: a confidential client with tokens, a redeemed code and a code not redeemed.
    let dir = WorkDir::new();
    let rig = serve(&dir, EPHEMERAL_PORTS);
    let caller = caller_of(&rig);
    let flow = Flow::new(caller.http.clone(), &caller.auth);
    let registered = caller
        .http
        .post(format!("{}/register", caller.auth))
        .json(&json!({
            "client_name": "state file secrets",
            "redirect_uris": [REDIRECT_URI],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "client_secret_post",
        }))
        .send()
        .await
        .expect("POST /register");
    assert_eq!(registered.status(), StatusCode::CREATED);
    let registered = body_json(registered).await;
    let client_id = registered["client_id"].as_str().unwrap().to_owned();
    let secret = registered["client_secret"].as_str().unwrap().to_owned();
    let resource = [("resource", rig.mcp.url.as_str())];
    let pkce = Pkce::new();
    let code = flow.code(&client_id, &pkce, &resource).await;
    let (status, body) = flow
        .exchange(
            &client_id,
            &code,
            &pkce,
            &[("client_secret", &secret), resource[0]],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = body["access_token"].as_str().unwrap().to_owned();
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let unredeemed = flow.code(&client_id, &Pkce::new(), &resource).await;

    // Act
    rig.stop_with("TERM").assert_success();

    // Assert
    let path = dir.path().join(STATE);
    let saved = dir.read(STATE);
    for (what, value) in [
        ("access token", &access),
        ("refresh token", &refresh),
        ("redeemed code", &code),
        ("unredeemed code", &unredeemed),
        ("client secret", &secret),
    ] {
        assert!(!saved.contains(value.as_str()), "the {what} is in the file");
        assert!(
            saved.contains(&sha256_hex(value)),
            "the {what}'s digest is in the file: it was saved, as a digest"
        );
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
}

#[tokio::test]
async fn an_access_token_that_expired_while_the_rig_was_down_is_dropped_on_load_and_refresh_works()
{
    // Arrange: access tokens of one second; the refresh token lives 30 days.
    let dir = WorkDir::new();
    let first = serve(&dir, EPHEMERAL_PORTS);
    let caller = caller_of(&first);
    control(
        &caller,
        &caller.auth,
        "/control/expire-access",
        r#"{"seconds":1}"#,
    )
    .await;
    let tokens = caller.log_in(&first.mcp.url).await;
    let issued = Instant::now();
    let ports = first.port_args();
    first.stop_with("TERM").assert_success();
    std::thread::sleep(Duration::from_millis(1100).saturating_sub(issued.elapsed()));

    // Act
    let mut second = serve_on(&dir, &ports);
    let note = second.line_starting("[state] issuer 'main':");
    let caller = caller_of(&second);

    // Assert
    assert!(note.contains("1 expired entries dropped"), "{note}");
    let state = oauth_state(&caller).await;
    assert_eq!(state["store"]["access_tokens"], 0, "{state}");
    assert_eq!(introspect(&caller, &tokens.access).await["active"], false);
    let (status, _) = caller.echo(&tokens.access, "expired").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    control(
        &caller,
        &caller.auth,
        "/control/expire-access",
        r#"{"seconds":3600}"#,
    )
    .await;
    let (access, _) = refreshed(&caller, &tokens.client_id, &tokens.refresh).await;
    assert_echoes(&caller, &access, "refreshed after the expiry").await;
}

#[tokio::test]
async fn a_clock_moved_before_the_stop_stays_moved_so_what_it_expired_stays_expired() {
    // Arrange: two hours on, past the access token's hour but not the refresh token's 30 days.
    let dir = WorkDir::new();
    let first = serve(&dir, EPHEMERAL_PORTS);
    let caller = caller_of(&first);
    let tokens = caller.log_in(&first.mcp.url).await;
    control(
        &caller,
        &caller.auth,
        "/control/clock",
        r#"{"advance_seconds":7200}"#,
    )
    .await;
    let ports = first.port_args();
    first.stop_with("TERM").assert_success();

    // Act
    let second = serve_on(&dir, &ports);
    let caller = caller_of(&second);

    // Assert
    let state = oauth_state(&caller).await;
    assert_eq!(state["clock"]["offset_seconds"], 7200, "{state}");
    assert_eq!(state["store"]["access_tokens"], 0, "{state}");
    assert_eq!(introspect(&caller, &tokens.access).await["active"], false);
    let (access, _) = refreshed(&caller, &tokens.client_id, &tokens.refresh).await;
    assert_eq!(introspect(&caller, &access).await["active"], true);
    assert_echoes(&caller, &access, "refreshed on the moved clock").await;
}
