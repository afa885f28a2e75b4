//! The dashboard over real HTTP against `Sim`: the page and its headers, `POST /api/scenario`
//! and its equivalent lines, the guard (CSRF header, Origin, host names, the session a control
//! token buys), bad input, and both journals on `/api/events`.

use std::time::Duration;

use mcp_oauth_sim::Sim;
use mcp_oauth_sim::control::RePoint;
use mcp_oauth_sim::dashboard::{CSRF_HEADER, MAX_SESSIONS, MAX_STREAMS, SESSION_COOKIE};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use serde_json::{Value, json};

use crate::support::*;

/// The dashboard's `Origin`, as a browser on the page sends it.
fn origin(sim: &Sim) -> String {
    sim.dashboard_url().trim_end_matches('/').to_owned()
}

/// The page's CSRF token, from its `<meta>`.
fn csrf_of(html: &str) -> String {
    let marker = r#"<meta name="dashboard-csrf" content=""#;
    let start = html.find(marker).expect("the page has the CSRF meta") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// `GET /` with `cookie`, answering the status, headers and HTML.
async fn page(sim: &Sim, cookie: Option<&str>) -> (StatusCode, HeaderMap, String) {
    let mut request = http_client().get(sim.dashboard_url());
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let response = request.send().await.expect("GET /");
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.text().await.unwrap())
}

/// `POST /api/scenario` as the page sends it.
async fn flip(
    sim: &Sim,
    csrf: Option<&str>,
    cookie: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut request = http_client()
        .post(format!("{}api/scenario", sim.dashboard_url()))
        .header(header::ORIGIN, origin(sim))
        .json(&body);
    if let Some(csrf) = csrf {
        request = request.header(CSRF_HEADER, csrf);
    }
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let response = request.send().await.expect("POST /api/scenario");
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, body)
}

async fn rotation(sim: &Sim) -> bool {
    sim.control()
        .oauth_state()
        .await
        .unwrap()
        .toggles
        .rotate_refresh_tokens
}

/// Signs in with `token`; answers the status and the `Set-Cookie` header.
async fn sign_in(sim: &Sim, token: &str) -> (StatusCode, Option<String>) {
    let response = http_client()
        .post(format!("{}session", sim.dashboard_url()))
        .header(header::ORIGIN, origin(sim))
        .form(&[("token", token)])
        .send()
        .await
        .expect("POST /session");
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .map(|value| value.to_str().unwrap().to_owned());
    (response.status(), cookie)
}

/// The `name=value` part of a `Set-Cookie`, as a browser sends it back.
fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

/// Runs `line` with `sh`, off the test's runtime (which serves the rig), with
/// `CONTROL_TOKEN` set to `token`.
async fn run_shell(line: &str, token: Option<&str>) -> std::process::Output {
    let (line, token) = (line.to_owned(), token.map(str::to_owned));
    tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new("sh");
        command.args(["-c", &line]).env_remove("CONTROL_TOKEN");
        if let Some(token) = token {
            command.env("CONTROL_TOKEN", token);
        }
        command.output().expect("sh runs curl")
    })
    .await
    .unwrap()
}

fn assert_secured(headers: &HeaderMap, what: &str) {
    assert_eq!(
        headers[header::CONTENT_SECURITY_POLICY],
        "default-src 'self'; frame-ancestors 'none'",
        "{what}"
    );
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY", "{what}");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store", "{what}");
    assert_eq!(headers[header::REFERRER_POLICY], "same-origin", "{what}");
}

#[tokio::test]
async fn the_page_and_its_assets_come_with_the_security_headers_and_every_control() {
    let sim = Sim::builder().start().await.unwrap();

    let (status, headers, html) = page(&sim, None).await;

    assert_eq!(status, StatusCode::OK);
    assert_secured(&headers, "/");
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(!html.contains("<script>"), "no inline script");
    assert!(
        html.contains(r#"<script src="/assets/dashboard.js" defer>"#),
        "{html}"
    );
    assert_eq!(csrf_of(&html).len(), 43);
    for id in [
        "scenario-rotate-on",
        "scenario-rotate-off",
        "scenario-revoke-apply",
        "scenario-reset-apply",
        "scenario-clear-faults-apply",
        "scenario-expire-access-values",
        "scenario-step-up-apply",
        "scenario-clock-forward-60",
        "scenario-clock-back-60",
        "scenario-clock-reset",
        "scenario-introspect-down-503",
        "conformance-situation",
        "conformance-stage",
        "fault-list",
        "fault-add",
        "fault-rule",
        "tunnel-oauth-url",
        "tunnel-mcp-url",
        "tunnel-apply",
        "equivalent-cli",
        "equivalent-curl",
        "lanes",
        "filter-client",
        "filter-issuer",
        "filter-status",
    ] {
        assert!(html.contains(&format!(r#"id="{id}""#)), "no #{id}");
    }
    for situation in mcp_oauth_sim::control::conformance::Situation::ALL {
        assert!(html.contains(&format!(r#"value="{}""#, situation.name())));
    }
    for asset in ["assets/dashboard.js", "assets/dashboard.css"] {
        let response = http_client()
            .get(format!("{}{asset}", sim.dashboard_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        assert_secured(response.headers(), asset);
    }
    let missing = http_client()
        .get(format!("{}nope", sim.dashboard_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_secured(missing.headers(), "a 404");
}

#[tokio::test]
async fn rotate_on_from_the_page_changes_the_state_and_answers_the_lines_that_do_the_same() {
    // Arrange
    let sim = Sim::builder().start().await.unwrap();
    let (_, _, html) = page(&sim, None).await;
    let csrf = csrf_of(&html);

    // Act
    let (status, answer) = flip(
        &sim,
        Some(&csrf),
        None,
        json!({"name": "rotate", "values": ["on"]}),
    )
    .await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(rotation(&sim).await);
    assert_eq!(
        answer["state"]["oauth"]["toggles"]["rotate_refresh_tokens"],
        true
    );
    let state: Value = http_client()
        .get(format!("{}api/state", sim.dashboard_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["oauth"]["toggles"]["rotate_refresh_tokens"], true);
    for key in ["oauth", "mcp", "issuers", "faults"] {
        assert!(!state[key].is_null(), "{key} in {state}");
    }
    let (oauth, mcp) = (sim.oauth_addr().port(), sim.mcp_addr().port());
    assert_eq!(
        answer["cli"],
        format!("cargo scenario rotate on --oauth-port {oauth} --mcp-port {mcp}")
    );
    assert_eq!(
        answer["curl"],
        json!([format!(
            r#"curl -s -XPOST http://localhost:{oauth}/control/rotate -d '{{"on":true}}'"#
        )])
    );

    // And the curl line does what the page did: rotation off, then the line, and it is on.
    sim.control().rotate_refresh_tokens(false).await.unwrap();
    let line = answer["curl"][0].as_str().unwrap();
    let ran = run_shell(line, None).await;
    assert!(ran.status.success(), "{ran:?}");
    assert!(
        rotation(&sim).await,
        "{}",
        String::from_utf8_lossy(&ran.stdout)
    );
}

#[tokio::test]
async fn a_fault_rule_added_and_deleted_from_the_page_shows_each_call_it_made() {
    let sim = Sim::builder().start().await.unwrap();
    let csrf = csrf_of(&page(&sim, None).await.2);

    let rule = r#"{"endpoint":"token","respond":{"status":503},"times":1}"#;
    let (status, added) = flip(
        &sim,
        Some(&csrf),
        None,
        json!({"name": "fault", "values": ["oauth", rule]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{added}");
    let id = added["added"]["id"].as_u64().expect("the rule's id");
    assert_eq!(added["state"]["faults"]["oauth"][0]["id"], id);
    assert!(
        added["cli"]
            .as_str()
            .unwrap()
            .starts_with(&format!("cargo scenario fault oauth '{rule}'"))
    );
    let (status, deleted) = flip(
        &sim,
        Some(&csrf),
        None,
        json!({"name": "delete-fault", "values": ["oauth", id.to_string()]}),
    )
    .await;

    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(deleted["state"]["faults"]["oauth"], json!([]));
    let line = deleted["curl"][0].as_str().unwrap();
    assert!(
        line.starts_with("curl -s -XDELETE http://localhost:")
            && line.ends_with(&format!("/control/faults/{id}")),
        "{line}"
    );
}

#[tokio::test]
async fn a_change_without_the_csrf_header_or_with_a_wrong_one_is_403_and_changes_nothing() {
    let sim = Sim::builder().start().await.unwrap();
    let rotate = json!({"name": "rotate", "values": ["on"]});

    for csrf in [None, Some("wrong"), Some("")] {
        let (status, answer) = flip(&sim, csrf, None, rotate.clone()).await;

        assert_eq!(status, StatusCode::FORBIDDEN, "{csrf:?}");
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .contains("X-Dashboard-Csrf")
        );
    }
    assert!(!rotation(&sim).await);
}

#[tokio::test]
async fn a_change_from_a_foreign_origin_or_a_rebound_host_name_is_403() {
    let sim = Sim::builder().start().await.unwrap();
    let csrf = csrf_of(&page(&sim, None).await.2);
    let url = format!("{}api/scenario", sim.dashboard_url());

    let foreign = http_client()
        .post(&url)
        .header(header::ORIGIN, "http://evil.example")
        .header(CSRF_HEADER, &csrf)
        .json(&json!({"name": "rotate", "values": ["on"]}))
        .send()
        .await
        .unwrap();
    // A page of another site whose name resolves to 127.0.0.1 (DNS rebinding).
    let rebound = http_client()
        .get(sim.dashboard_url())
        .header(
            header::HOST,
            format!("evil.example:{}", sim.dashboard_addr().port()),
        )
        .send()
        .await
        .unwrap();

    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    let body: Value = foreign.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("Origin"), "{body}");
    assert_eq!(rebound.status(), StatusCode::FORBIDDEN);
    assert!(!rebound.text().await.unwrap().contains("dashboard-csrf"));
    assert!(!rotation(&sim).await);
}

#[tokio::test]
async fn with_a_control_token_the_page_asks_for_it_once_and_the_session_opens_the_api() {
    // Arrange
    let sim = Sim::builder()
        .control_token("s3cret-t0ken")
        .start()
        .await
        .unwrap();

    // Act / Assert: no session, no page and no API.
    let (status, headers, html) = page(&sim, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_secured(&headers, "the login page");
    assert!(html.contains(r#"id="login-form""#) && html.contains(r#"name="token""#));
    assert!(!html.contains("dashboard-csrf"));
    let state = http_client()
        .get(format!("{}api/state", sim.dashboard_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(state.status(), StatusCode::UNAUTHORIZED);
    let (status, _) = flip(
        &sim,
        Some("x"),
        None,
        json!({"name": "rotate", "values": ["on"]}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A wrong token gets the form again, and no cookie.
    let (status, cookie) = sign_in(&sim, "s3cret-t0ke").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(cookie.is_none());

    // The right one: a cookie a script cannot read and no other site sends.
    let (status, cookie) = sign_in(&sim, "s3cret-t0ken").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = cookie.expect("a session cookie");
    assert!(
        cookie.starts_with(&format!("{SESSION_COOKIE}=")),
        "{cookie}"
    );
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    let session = cookie_pair(&cookie);
    let (status, _, html) = page(&sim, Some(&session)).await;
    assert_eq!(status, StatusCode::OK);
    let csrf = csrf_of(&html);
    let (status, answer) = flip(
        &sim,
        Some(&csrf),
        Some(&session),
        json!({"name": "rotate", "values": ["on"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(rotation(&sim).await);
    let line = answer["curl"][0].as_str().unwrap();
    assert!(
        line.contains(r#"-H "Authorization: Bearer $CONTROL_TOKEN""#),
        "{line}"
    );
    assert!(!answer.to_string().contains("s3cret-t0ken"), "{answer}");
    // The line works with the token in the environment.
    sim.control().rotate_refresh_tokens(false).await.unwrap();
    let ran = run_shell(line, Some("s3cret-t0ken")).await;
    assert!(ran.status.success(), "{ran:?}");
    assert!(rotation(&sim).await);
    // The open dashboard's CSRF token is no session's.
    let (status, _) = flip(&sim, Some(&csrf), None, json!({"name": "revoke"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sessions_are_bounded_and_the_oldest_is_signed_out() {
    let sim = Sim::builder().control_token("t0ken").start().await.unwrap();
    let (_, first) = sign_in(&sim, "t0ken").await;
    let first = cookie_pair(&first.unwrap());
    let mut last = String::new();

    for _ in 0..MAX_SESSIONS {
        last = cookie_pair(&sign_in(&sim, "t0ken").await.1.unwrap());
    }

    assert_eq!(page(&sim, Some(&first)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(page(&sim, Some(&last)).await.0, StatusCode::OK);
    let forged = format!("{SESSION_COOKIE}=forged");
    assert_eq!(page(&sim, Some(&forged)).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_json_an_unknown_scenario_and_too_many_values_are_400_json_never_5xx() {
    let sim = Sim::builder().start().await.unwrap();
    let csrf = csrf_of(&page(&sim, None).await.2);
    let url = format!("{}api/scenario", sim.dashboard_url());
    let raw = async |body: &'static str| {
        let response = http_client()
            .post(&url)
            .header(CSRF_HEADER, &csrf)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (
            status,
            response.json::<Value>().await.expect("a JSON error"),
        )
    };

    for body in [
        "{not json",
        "[]",
        r#"{"name": 3}"#,
        r#"{"name":"rotate","extra":1}"#,
    ] {
        let (status, answer) = raw(body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert!(answer["error"].is_string());
    }
    for (body, says) in [
        (json!({"name": "explode"}), "is not a scenario"),
        (
            json!({"name": "revoke", "values": ["now"]}),
            "takes 0 value(s)",
        ),
        (
            json!({"name": "rotate", "values": ["on", "off"]}),
            "takes 1 value(s)",
        ),
        (
            json!({"name": "rotate", "values": ["maybe"]}),
            "needs on|off",
        ),
        (
            json!({"name": "conformance", "values": ["auth/nope"]}),
            "not a scenario",
        ),
        (
            json!({"name": "fault", "values": ["oauth", "{\"endpoint\":\"nowhere\"}"]}),
            "",
        ),
        (json!({"name": "delete-fault", "values": ["mcp", "99"]}), ""),
    ] {
        let (status, answer) = flip(&sim, Some(&csrf), None, body.clone()).await;
        assert!(status.is_client_error(), "{body}: {status} {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(says),
            "{body}: {answer}"
        );
    }
    let huge = format!(
        r#"{{"name":"seed-refresh","values":["{}"]}}"#,
        "x".repeat(100_000)
    );
    let response = http_client()
        .post(&url)
        .header(CSRF_HEADER, &csrf)
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let wrong_method = http_client().get(&url).send().await.unwrap();
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.headers()[header::ALLOW], "POST");
}

#[tokio::test]
async fn staging_a_conformance_situation_answers_its_context() {
    let sim = Sim::builder().start().await.unwrap();
    let csrf = csrf_of(&page(&sim, None).await.2);

    let (status, answer) = flip(
        &sim,
        Some(&csrf),
        None,
        json!({"name": "conformance", "values": ["pre-registration"]}),
    )
    .await;

    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer["context"]["client_id"].is_string(), "{answer}");
    let curl = answer["curl"].as_array().unwrap();
    assert!(
        curl[0].as_str().unwrap().contains("/control/reset"),
        "{curl:?}"
    );
    assert!(curl.len() >= 3, "reset both, then the knobs: {curl:?}");
}

/// Reads `/api/events` until `done` holds for what arrived, or fails after a while.
async fn read_events_until(
    response: &mut reqwest::Response,
    done: impl Fn(&str) -> bool,
) -> String {
    let mut seen = String::new();
    let read = async {
        while let Some(chunk) = response.chunk().await.expect("the stream goes on") {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if done(&seen) {
                return;
            }
        }
    };
    if tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .is_err()
    {
        panic!("not seen in time; the stream said:\n{seen}");
    }
    seen
}

#[tokio::test]
async fn a_client_flow_shows_up_on_the_event_stream_as_it_happens() {
    // Arrange: a request before the page opens (the backlog), the stream, then a whole flow.
    let sim = Sim::builder().start().await.unwrap();
    let caller = Caller::new(http_client(), sim.issuer(), sim.mcp_url());
    let _ = caller.challenge().await;
    let mut stream = http_client()
        .get(format!("{}api/events", sim.dashboard_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(stream.headers()[header::CONTENT_TYPE], "text/event-stream");
    assert_secured(stream.headers(), "/api/events");

    // Act
    let tokens = caller.log_in(&sim.mcp_url()).await;
    let (status, _) = caller.echo(&tokens.access, "hello").await;
    assert_eq!(status, StatusCode::OK);

    // Assert
    let client = tokens.client_id.clone();
    let seen = read_events_until(&mut stream, |seen| {
        seen.contains(r#""tool":"echo""#) && seen.contains(&client)
    })
    .await;
    let events: Vec<Value> = seen
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .map(|data| serde_json::from_str(data).unwrap())
        .collect();
    let first = &events[0];
    assert_eq!(
        (first["service"].as_str(), first["status"].as_u64()),
        (Some("mcp"), Some(401))
    );
    for (service, path) in [
        ("oauth", "/register"),
        ("oauth", "/authorize"),
        ("oauth", "/token"),
    ] {
        assert!(
            events.iter().any(|event| event["service"] == service
                && event["path"] == path
                && event["client_id"] == client.as_str()),
            "{service} {path} in {events:#?}"
        );
    }
    let exchange = events
        .iter()
        .find(|event| event["grant_type"] == "authorization_code")
        .unwrap();
    let issued = exchange["issued"].as_str().expect("a token prefix");
    assert!(
        issued.ends_with('…') && issued.chars().count() <= 7,
        "{issued}"
    );
    assert!(!seen.contains(&tokens.access) && !seen.contains(&tokens.refresh));
}

#[tokio::test]
async fn event_streams_are_bounded() {
    let sim = Sim::builder().start().await.unwrap();
    let url = format!("{}api/events", sim.dashboard_url());
    let mut open = Vec::new();
    for _ in 0..MAX_STREAMS {
        let response = http_client().get(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        open.push(response);
    }

    let refused = http_client().get(&url).send().await.unwrap();

    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    drop(open);
    // A slot comes back once a page goes.
    let mut again = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..50 {
        again = http_client().get(&url).send().await.unwrap().status();
        if again == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(again, StatusCode::OK);
}

#[tokio::test]
async fn a_re_point_to_a_public_url_makes_an_open_dashboard_require_a_session_from_then_on() {
    // Arrange
    let sim = Sim::builder().start().await.unwrap();
    let csrf = csrf_of(&page(&sim, None).await.2);

    // Act: the tunnel, from the page.
    let (status, answer) = flip(
        &sim,
        Some(&csrf),
        None,
        json!({"name": "tunnel", "values": ["https://auth.example", "https://mcp.example"]}),
    )
    .await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{answer}");
    let token = answer["control_token"]
        .as_str()
        .expect("the new token, told once")
        .to_owned();
    assert_eq!(answer["state"]["oauth"]["issuer"], "https://auth.example");
    assert_eq!(page(&sim, None).await.0, StatusCode::UNAUTHORIZED);
    let (status, _) = flip(&sim, Some(&csrf), None, json!({"name": "revoke"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, cookie) = sign_in(&sim, &token).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let session = cookie_pair(&cookie.unwrap());
    let csrf = csrf_of(&page(&sim, Some(&session)).await.2);
    let (status, answer) = flip(
        &sim,
        Some(&csrf),
        Some(&session),
        json!({"name": "tunnel", "values": ["local"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer.get("control_token").is_none());
    // Back on loopback, /control keeps its token (it is never dropped), so the page does too.
    assert_eq!(page(&sim, None).await.0, StatusCode::UNAUTHORIZED);
    let _ = RePoint::local();
}

#[tokio::test]
async fn stop_ends_open_event_streams_at_once() {
    let sim = Sim::builder().start().await.unwrap();
    let _stream = http_client()
        .get(format!("{}api/events", sim.dashboard_url()))
        .send()
        .await
        .unwrap();

    let stopped = tokio::time::timeout(Duration::from_secs(3), sim.stop()).await;

    assert!(matches!(stopped, Ok(Ok(()))), "{stopped:?}");
}

#[tokio::test]
async fn over_https_the_dashboard_speaks_tls_and_its_session_cookie_is_secure() {
    let sim = Sim::builder()
        .https()
        .unwrap()
        .control_token("t0ken")
        .start()
        .await
        .unwrap();
    let http = client_trusting_only(sim.ca_pem().unwrap().as_bytes());
    assert!(sim.dashboard_url().starts_with("https://localhost:"));

    let login = http.get(sim.dashboard_url()).send().await.unwrap();
    let signed_in = http
        .post(format!("{}session", sim.dashboard_url()))
        .form(&[("token", "t0ken")])
        .send()
        .await
        .unwrap();

    assert_eq!(login.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let cookie = signed_in.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.ends_with("; Secure"), "{cookie}");
}
