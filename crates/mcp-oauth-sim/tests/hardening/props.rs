//! Property tests of whole requests: a random method, path, headers and body sent to each
//! server must never get a 5xx (nor kill a connection without an answer), and the rig must serve a
//! full flow afterwards.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value};

use crate::support::*;

/// Requests per server. Each takes about a millisecond on loopback; the bound keeps the suite
/// well under its time budget on two cores.
const CASES_PER_SERVER: u32 = 256;

const AS_PATHS: &[&str] = &[
    "/.well-known/oauth-authorization-server",
    "/register",
    "/authorize",
    "/token",
    "/introspect",
    "/revoke",
    "/control",
    "/control/state",
    "/control/rotate",
    "/control/expires-in",
    "/control/clock",
    "/control/consent",
    "/control/seed-refresh",
    "/control/reuse-detection",
    "/control/profile",
    "/control/clients",
    "/.well-known/openid-configuration",
    "/control/faults",
    "/control/faults/1",
    "/control/events",
    "/",
];

const MCP_PATHS: &[&str] = &[
    "/mcp",
    "/.well-known/oauth-protected-resource",
    "/.well-known/oauth-protected-resource/mcp",
    "/control",
    "/control/state",
    "/control/force-403",
    "/control/introspection-failure",
    "/control/tool-scopes",
    "/control/profile",
    "/control/migrate",
    "/control/faults",
    "/control/events",
    "/",
];

/// Parameter and field names the endpoints read, so that random bodies reach past the first
/// check. Nothing here can add a fault rule (no `endpoint`/`respond`), so the rig cannot be
/// told to fail on purpose.
const NAMES: &[&str] = &[
    "grant_type",
    "code",
    "code_verifier",
    "code_challenge",
    "code_challenge_method",
    "redirect_uri",
    "redirect_uris",
    "client_id",
    "client_secret",
    "refresh_token",
    "response_type",
    "scope",
    "state",
    "resource",
    "token",
    "token_type_hint",
    "token_endpoint_auth_method",
    "grant_types",
    "client_name",
    "on",
    "seconds",
    "advance_seconds",
    "grant_scope",
    "mode",
    "jsonrpc",
    "id",
    "method",
    "params",
    "name",
    "arguments",
    "message",
];

/// Values the endpoints know, mixed with random text.
const WORDS: &[&str] = &[
    "authorization_code",
    "refresh_token",
    "code",
    "S256",
    "plain",
    "none",
    "client_secret_basic",
    "mcp:tools",
    "http://127.0.0.1:8765/callback",
    "javascript:alert(1)",
    "2.0",
    "tools/call",
    "tools/list",
    "initialize",
    "echo",
    "whoami",
    "add",
    "503",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(WORDS).prop_map(str::to_owned),
        ".{0,40}",
        "[A-Za-z0-9._~+/=-]{0,60}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|n| serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(NAMES), inner), 0..6).prop_map(|pairs| {
                Value::Object(
                    pairs
                        .into_iter()
                        .map(|(key, value)| (key.to_owned(), value))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

fn form() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((prop::sample::select(NAMES), text()), 0..8).prop_map(|pairs| {
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        urlencode(&pairs).into_bytes()
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        prop::collection::vec(any::<u8>(), 0..512),
        form(),
        json_value().prop_map(|value| value.to_string().into_bytes()),
    ]
}

fn method() -> impl Strategy<Value = &'static str> {
    prop::sample::select(
        &[
            "GET", "POST", "POST", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "BREW",
        ][..],
    )
}

/// A header value: visible ASCII, spaces and obs-text bytes (what a header may carry).
fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        text().prop_map(String::into_bytes),
        prop::collection::vec(prop_oneof![0x20u8..0x7f, 0x80u8..=0xff, Just(b'\t')], 0..80),
    ]
}

/// Headers drawn from those the servers read, with `token` among the candidate credentials.
fn headers(token: String) -> impl Strategy<Value = Vec<(&'static str, Vec<u8>)>> {
    let name = prop::sample::select(
        &[
            "content-type",
            "authorization",
            "accept",
            "mcp-protocol-version",
            "origin",
            "last-event-id",
            "mcp-session-id",
            "x-forwarded-host",
            "cookie",
        ][..],
    );
    let known = prop::sample::select(
        &[
            "application/json",
            "application/x-www-form-urlencoded",
            "application/json, text/event-stream",
            "text/event-stream",
            "2025-06-18",
            "Basic dXNlcjpwYXNz",
            "Bearer",
            "18446744073709551615",
        ][..],
    )
    .prop_map(|value| value.as_bytes().to_vec());
    let bearer = Just(format!("Bearer {token}").into_bytes());
    prop::collection::vec((name, prop_oneof![known, bearer, header_value()]), 0..6)
}

fn path(paths: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(paths).prop_map(str::to_owned),
        1 => (prop::sample::select(paths), "[A-Za-z0-9%/._~-]{0,20}").prop_map(|(path, tail)| format!("{path}{tail}")),
        1 => (prop::sample::select(paths), form()).prop_map(|(path, query)| {
            format!("{path}?{}", String::from_utf8_lossy(&query))
        }),
    ]
}

/// One random request to `origin`.
fn request(
    origin: String,
    paths: &'static [&'static str],
    token: String,
) -> impl Strategy<Value = Req> {
    (method(), path(paths), headers(token), body()).prop_map(
        move |(method, path, headers, body)| {
            let mut request = Req::new(method, format!("{origin}{path}")).body(body);
            for (name, value) in headers {
                if let Ok(value) = reqwest::header::HeaderValue::from_bytes(&value) {
                    request
                        .headers
                        .push((reqwest::header::HeaderName::from_static(name), value));
                }
            }
            request
        },
    )
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: CASES_PER_SERVER,
        failure_persistence: None,
        ..Config::default()
    })
}

/// Sends random requests to one server; fails on a 5xx or on no answer at all.
fn fuzz(
    runtime: &tokio::runtime::Runtime,
    rig: &Rig,
    strategy: impl Strategy<Value = Req>,
) -> Result<(), String> {
    runner()
        .run(&strategy, |request| {
            let shown = format!("{} {}", request.method, request.url);
            let answer = runtime
                .block_on(rig.send(request))
                .map_err(|error| TestCaseError::fail(format!("{shown}: {error}")))?;
            prop_assert!(
                answer.status < 500,
                "{shown} answered {}: {}",
                answer.status,
                answer.text()
            );
            Ok(())
        })
        .map_err(|error| error.to_string())
}

#[test]
fn random_requests_to_either_server_never_get_a_5xx_and_the_rig_survives_them() {
    // Arrange
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let rig = runtime.block_on(Rig::start());
    let token = runtime.block_on(async {
        let client_id = rig.public_client().await;
        let code = rig.code(&client_id, Some(REDIRECT_URI), None).await;
        string(
            &rig.redeem(&client_id, &code, Some(REDIRECT_URI)).await,
            "access_token",
        )
    });

    // Act
    let auth = fuzz(
        &runtime,
        &rig,
        request(rig.auth.clone(), AS_PATHS, token.clone()),
    );
    let mcp = fuzz(
        &runtime,
        &rig,
        request(rig.mcp_origin.clone(), MCP_PATHS, token),
    );
    let flow = runtime.block_on(async {
        rig.sim
            .control()
            .reset()
            .await
            .map_err(|error| error.to_string())?;
        rig.full_flow().await
    });

    // Assert
    println!(
        "random requests: {CASES_PER_SERVER} per server, authorization server {}, MCP server {}",
        if auth.is_ok() { "ok" } else { "FAILED" },
        if mcp.is_ok() { "ok" } else { "FAILED" },
    );
    auth.expect("the authorization server");
    mcp.expect("the MCP server");
    flow.expect("a full flow after the random requests");
}
