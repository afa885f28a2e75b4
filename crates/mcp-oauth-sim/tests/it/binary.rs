//! The binary as a person runs it: the ready lines, one log line per request, configuration from
//! flags, the environment and `.env`, signals, and start-up failures.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn serve_on_port_zero_prints_both_urls_and_serves_both() {
    // Arrange
    let dir = WorkDir::new();

    // Act
    let mut rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();

    // Assert
    let issuer = rig.oauth.url.clone();
    let mcp_url = rig.mcp.url.clone();
    assert_eq!(
        issuer,
        format!("http://localhost:{}", rig.oauth.port()),
        "{:?}",
        rig.stdout_so_far()
    );
    assert_ne!(rig.oauth.port(), 0);
    assert_eq!(mcp_url, format!("http://localhost:{}/mcp", rig.mcp.port()));
    assert_eq!(
        rig.stdout_so_far()[0],
        format!("[oauth] authorization server {issuer} (http)")
    );
    let caller = Caller::new(http_client(), &issuer, &mcp_url);
    let (status, metadata) = caller
        .get_json(&format!("{issuer}/.well-known/oauth-authorization-server"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(metadata["issuer"], issuer);
    let (status, prm) = caller
        .get_json(&format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            caller.mcp_origin()
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(prm["resource"], mcp_url);
    assert_eq!(prm["authorization_servers"], json!([issuer]));
    rig.line_starting("[oauth] GET /.well-known/oauth-authorization-server 200");
    rig.line_starting("[mcp] GET /.well-known/oauth-protected-resource/mcp 200");
}

#[tokio::test]
async fn a_client_given_the_printed_mcp_url_logs_in_and_calls_a_tool_with_a_log_line_per_step() {
    // Arrange
    let dir = WorkDir::new();
    let mut rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);

    // Act
    let (unauthorized, challenge) = caller.challenge().await;
    let tokens = caller.log_in(&rig.mcp.url).await;
    let (initialized, _) = caller.initialize(&tokens.access).await;
    let (status, response) = caller.echo(&tokens.access, "through the binary").await;

    // Assert
    assert_eq!(unauthorized, StatusCode::UNAUTHORIZED);
    assert!(
        challenge.contains(&format!(
            "resource_metadata=\"http://localhost:{}/.well-known/oauth-protected-resource/mcp\"",
            rig.mcp.port()
        )),
        "{challenge}"
    );
    assert_eq!(initialized, StatusCode::OK);
    assert_eq!(status, StatusCode::OK, "{response}");
    assert_eq!(tool_text(&response), "through the binary");
    rig.line_starting("[mcp] POST /mcp 401");
    rig.line_starting("[oauth] POST /register 201");
    rig.line_starting("[oauth] GET /authorize 302");
    let token_line = rig.line_starting("[oauth] POST /token 200");
    assert!(
        token_line.contains("grant=authorization_code"),
        "{token_line}"
    );
    assert!(
        !token_line.contains(&tokens.access) && !token_line.contains(&tokens.refresh),
        "a log line carries no token: {token_line}"
    );
    let tool_line =
        rig.line_where(|line| line.starts_with("[mcp] POST /mcp 200") && line.contains("echo"));
    assert!(tool_line.ends_with("ms"), "{tool_line}");
    let noise: Vec<&String> = rig
        .stdout_so_far()
        .iter()
        .filter(|line| !line.starts_with('['))
        .collect();
    assert!(
        noise.is_empty(),
        "at the default level stdout has our lines only, no library chatter: {noise:?}"
    );
}

#[tokio::test]
async fn log_json_writes_each_request_as_a_json_line_with_service_method_path_and_status() {
    // Arrange
    let dir = WorkDir::new();
    let mut rig = Launch::new(&dir)
        .args(EPHEMERAL_PORTS)
        .env("LOG", "json")
        .serve();
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);

    // Act
    caller
        .get_json(&format!(
            "{}/.well-known/oauth-authorization-server",
            rig.oauth.url
        ))
        .await;
    caller.challenge().await;

    // Assert: every line is JSON, the ready lines included, so a machine can read all of them.
    let ready: Vec<Value> = rig
        .stdout_so_far()
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{line:?}: {error}")))
        .collect();
    assert!(
        ready.iter().any(|entry| entry["msg"]
            .as_str()
            .is_some_and(|msg| msg.starts_with("[mcp] protected MCP server "))),
        "{ready:?}"
    );
    let mut requests = Vec::new();
    for _ in 0..2 {
        let line = rig.line_where(|line| line.contains(r#""service":"#));
        let entry: Value =
            serde_json::from_str(&line).unwrap_or_else(|error| panic!("{line:?}: {error}"));
        requests.push(entry);
    }
    let oauth = requests
        .iter()
        .find(|entry| entry["service"] == "oauth")
        .unwrap_or_else(|| panic!("no oauth line in {requests:?}"));
    assert_eq!(oauth["method"], "GET", "{oauth}");
    assert_eq!(
        oauth["path"], "/.well-known/oauth-authorization-server",
        "{oauth}"
    );
    assert_eq!(oauth["status"], 200, "{oauth}");
    assert_eq!(oauth["level"], "info", "{oauth}");
    assert!(oauth["ms"].is_number(), "{oauth}");
    let mcp = requests
        .iter()
        .find(|entry| entry["service"] == "mcp")
        .unwrap_or_else(|| panic!("no mcp line in {requests:?}"));
    assert_eq!(mcp["method"], "POST", "{mcp}");
    assert_eq!(mcp["path"], "/mcp", "{mcp}");
    assert_eq!(mcp["status"], 401, "{mcp}");
}

#[test]
fn sigterm_stops_the_rig_and_exits_zero() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();

    // Act
    let finished = rig.stop_with("TERM");

    // Assert
    assert!(finished.status.success(), "{finished:#?}");
    assert!(finished.stdout.contains("[sim] stopping"), "{finished:#?}");
    assert_eq!(finished.stderr, "", "{finished:#?}");
}

#[test]
fn ctrl_c_stops_the_rig_and_exits_zero() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir).args(EPHEMERAL_PORTS).serve();

    // Act
    let finished = rig.stop_with("INT");

    // Assert
    assert!(finished.status.success(), "{finished:#?}");
    assert!(finished.stdout.contains("[sim] stopping"), "{finished:#?}");
}

#[test]
fn a_port_in_use_is_one_error_line_naming_it_and_a_failing_exit() {
    // Arrange
    let dir = WorkDir::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let port = taken.local_addr().unwrap().port().to_string();

    // Act
    let finished = Launch::new(&dir)
        .args(["--oauth-port", &port, "--mcp-port", "0"])
        .run();

    // Assert
    assert_eq!(finished.status.code(), Some(1), "{finished:#?}");
    let lines: Vec<&str> = finished.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{finished:#?}");
    assert!(
        lines[0].starts_with(&format!(
            "error: cannot listen on 127.0.0.1:{port} (OAUTH_PORT)"
        )),
        "{finished:#?}"
    );
    assert!(
        !finished.stdout.contains("[oauth] authorization server"),
        "{finished:#?}"
    );
}

#[test]
fn a_bad_variable_exits_non_zero_with_an_error_naming_it() {
    // (variable, value, what the message must say, exit code: 2 for what clap refuses)
    let cases = [
        ("OAUTH_PORT", "ninety", "OAUTH_PORT", 2),
        ("MCP_PORT", "70000", "MCP_PORT", 2),
        ("BIND", "not-an-address", "BIND", 2),
        ("TOKEN_TTL_SECONDS", "-5", "TOKEN_TTL_SECONDS", 2),
        (
            "MCP_BASE_URL",
            "abc.trycloudflare.com",
            "MCP_BASE_URL 'abc.trycloudflare.com' is not a URL",
            1,
        ),
        (
            "OAUTH_BASE_URL",
            "ftp://auth.example.test",
            "OAUTH_BASE_URL 'ftp://auth.example.test' must be an http(s) URL",
            1,
        ),
        (
            "OAUTH_INTERNAL_URL",
            "http://127.0.0.1:9100/?x=1",
            "OAUTH_INTERNAL_URL",
            1,
        ),
        (
            "TLS_CERT_FILE",
            "cert.pem",
            "TLS_CERT_FILE is set but TLS_KEY_FILE is not",
            1,
        ),
        ("LOG", "info,[[[", "is not a log level or filter", 1),
        (
            "TOOL_SCOPES",
            "add",
            "TOOL_SCOPES 'add' is not tool=scope (e.g. add=mcp:write,whoami=mcp:admin)",
            1,
        ),
        (
            "TOOL_SCOPES",
            "fetch=mcp:web",
            "TOOL_SCOPES names unknown tool 'fetch'; the tools are echo, add, whoami",
            1,
        ),
        (
            "TOOL_SCOPES",
            "add=",
            "TOOL_SCOPES gives tool 'add' no scope",
            1,
        ),
        (
            "ISSUERS",
            "tenant1",
            "ISSUERS: issuer 'tenant1' must be NAME=/PATH, NAME=:PORT or NAME=:PORT/PATH",
            1,
        ),
        (
            "ISSUERS",
            "main=/x",
            "ISSUERS: 'main' is the default issuer's name",
            1,
        ),
        (
            "MCP_AUTHORIZATION_SERVERS",
            "nobody",
            "MCP_AUTHORIZATION_SERVERS names 'nobody', which is not an issuer (main)",
            1,
        ),
        ("JOURNAL_SIZE", "many", "JOURNAL_SIZE", 2),
        (
            "JOURNAL_SIZE",
            "0",
            "JOURNAL_SIZE must be from 1 to 100000, not 0",
            1,
        ),
        (
            "JOURNAL_SIZE",
            "100001",
            "JOURNAL_SIZE must be from 1 to 100000, not 100001",
            1,
        ),
        ("MAX_CLIENTS", "lots", "MAX_CLIENTS", 2),
        ("MAX_TOKENS", "-1", "MAX_TOKENS", 2),
        (
            "MAX_CLIENTS",
            "0",
            "MAX_CLIENTS must be from 1 to 1000000, not 0",
            1,
        ),
        (
            "MAX_TOKENS",
            "1",
            "MAX_TOKENS must be from 2 to 10000000, not 1",
            1,
        ),
        (
            "MAX_CODES",
            "1000001",
            "MAX_CODES must be from 1 to 1000000, not 1000001",
            1,
        ),
    ];
    for (name, value, message, code) in cases {
        // Arrange
        let dir = WorkDir::new();

        // Act: ports 0 unless the case is about a port, so that nothing collides if a value
        // were wrongly accepted.
        let finished = Launch::new(&dir)
            .env("OAUTH_PORT", "0")
            .env("MCP_PORT", "0")
            .env(name, value)
            .run();

        // Assert
        assert_eq!(
            finished.status.code(),
            Some(code),
            "{name}={value}: {finished:#?}"
        );
        let first = finished.stderr.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("error: "),
            "{name}={value}: {finished:#?}"
        );
        assert!(
            first.contains(message),
            "{name}={value}: expected {message:?} in {first:?}"
        );
        if code == 1 {
            assert_eq!(
                finished.stderr.lines().count(),
                1,
                "{name}={value}: {finished:#?}"
            );
        }
        assert!(
            !finished.stdout.contains("[oauth] authorization server"),
            "{name}={value}: {finished:#?}"
        );
    }
}

#[tokio::test]
async fn dotenv_in_the_working_directory_is_read_and_flags_beat_env_which_beats_dotenv() {
    // Arrange
    let dir = WorkDir::new();
    dir.write(
        ".env",
        "# as .env.example lays it out\n\
         OAUTH_PORT=0\n\
         MCP_PORT=0\n\
         SCOPES=from-dotenv\n\
         TOKEN_TTL_SECONDS=111\n\
         SEED_REFRESH_TOKEN=seeded-from-dotenv-0123456789\n\
         CONTROL_TOKEN=\n",
    );

    // Act
    let rig = Launch::new(&dir)
        .env("SCOPES", "from-env")
        .env("TOKEN_TTL_SECONDS", "222")
        .args(["--scopes", "from-flag"])
        .serve();

    // Assert
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);
    let (_, metadata) = caller
        .get_json(&format!(
            "{}/.well-known/oauth-authorization-server",
            rig.oauth.url
        ))
        .await;
    assert_eq!(
        metadata["scopes_supported"],
        json!(["from-flag"]),
        "flag beats env"
    );
    // CONTROL_TOKEN= in .env counts as unset: the control plane of a local rig is open.
    let (status, state) = caller
        .get_json(&format!("{}/control/state", rig.oauth.url))
        .await;
    assert_eq!(status, StatusCode::OK, "{state}");
    assert_eq!(
        state["toggles"]["access_token_ttl_seconds"], 222,
        "env beats .env: {state}"
    );
    assert!(
        state["seed_refresh_token"].is_string(),
        ".env alone sets the seed: {state}"
    );
    let client_id = caller.register().await;
    let (status, body) = caller
        .refresh(&client_id, "seeded-from-dotenv-0123456789")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["expires_in"], 222, "{body}");
}

#[tokio::test]
async fn tool_scopes_from_the_environment_are_announced_by_both_servers_and_required_by_their_tool()
{
    // Arrange
    let dir = WorkDir::new();

    // Act
    let rig = Launch::new(&dir)
        .args(EPHEMERAL_PORTS)
        .env("TOOL_SCOPES", "add=mcp:write+mcp:admin, whoami=mcp:admin")
        .serve();

    // Assert
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);
    let announced = json!(["mcp:tools", "mcp:write", "mcp:admin"]);
    let (_, metadata) = caller
        .get_json(&format!(
            "{}/.well-known/oauth-authorization-server",
            rig.oauth.url
        ))
        .await;
    assert_eq!(metadata["scopes_supported"], announced);
    let (_, prm) = caller
        .get_json(&format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            caller.mcp_origin()
        ))
        .await;
    assert_eq!(prm["scopes_supported"], announced);
    let (_, state) = caller
        .get_json(&format!("{}/control/state", rig.mcp.local_origin()))
        .await;
    assert_eq!(
        state["tool_scopes"],
        json!({"add": "mcp:write mcp:admin", "whoami": "mcp:admin"}),
        "{state}"
    );
    let shown = rig.scenario(&["state"]).assert_success().stdout_words();
    assert!(
        shown.contains("step-up add=mcp:write+mcp:admin,whoami=mcp:admin"),
        "{shown}"
    );
}

#[tokio::test]
async fn issuers_from_the_environment_are_served_and_the_mcp_server_trusts_the_one_named() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir)
        .args(EPHEMERAL_PORTS)
        .env("ISSUERS", "tenant1=/tenant1, other=:0")
        .env("MCP_AUTHORIZATION_SERVERS", "tenant1")
        .serve();
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);

    // Act
    let (_, listed) = caller
        .get_json(&format!("{}/control/issuers", rig.oauth.url))
        .await;
    let (status, tenant) = caller
        .get_json(&format!(
            "{}/.well-known/oauth-authorization-server/tenant1",
            rig.oauth.url
        ))
        .await;
    let (_, prm) = caller
        .get_json(&format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            rig.mcp.url.trim_end_matches("/mcp")
        ))
        .await;

    // Assert
    let names: Vec<&str> = listed["issuers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|issuer| issuer["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["main", "tenant1", "other"], "{listed}");
    assert_eq!(status, StatusCode::OK);
    let issuer = format!("http://localhost:{}/tenant1", rig.oauth.port());
    assert_eq!(tenant["issuer"], json!(issuer));
    assert_eq!(prm["authorization_servers"], json!([issuer]), "{prm}");
    assert_ne!(listed["issuers"][2]["port"], json!(rig.oauth.port()));
}

#[tokio::test]
async fn store_caps_from_the_environment_reach_the_authorization_server() {
    // Arrange
    let dir = WorkDir::new();
    let mut rig = Launch::new(&dir)
        .args(EPHEMERAL_PORTS)
        .env("MAX_CLIENTS", "1")
        .env("MAX_TOKENS", "20")
        .args(["--max-codes", "30"])
        .serve();
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);

    // Act: a second client takes the only place of the first, which holds nothing.
    let first = caller.register().await;
    caller.register().await;
    let (status, state) = caller
        .get_json(&format!("{}/control/state", rig.oauth.url))
        .await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{state}");
    assert_eq!(
        state["limits"],
        json!({"max_clients": 1, "max_tokens": 20, "max_codes": 30}),
        "{state}"
    );
    assert_eq!(state["store"]["clients"], 1, "{state}");
    let evicted = format!("note=evicted={}", &first[..8]);
    let line =
        rig.line_where(|line| line.contains("POST /register 201") && line.contains(&evicted));
    assert!(line.starts_with("[oauth] "), "{line}");
}

#[tokio::test]
async fn consent_and_users_from_the_environment_show_the_consent_page() {
    // Arrange
    let dir = WorkDir::new();
    let users = r#"[{"sub":"admin-1","name":"Ada Admin"},{"sub":"reader","scopes":["mcp:tools"]}]"#;
    let rig = Launch::new(&dir)
        .args(EPHEMERAL_PORTS)
        .env("CONSENT", "page")
        .env("USERS", users)
        .serve();
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);
    let flow = sim_test_kit::oauth::Flow::new(caller.http.clone(), &rig.oauth.url);

    // Act
    let client_id = caller.register().await;
    let page = flow
        .authorize_raw(&client_id, &sim_test_kit::oauth::Pkce::new(), &[])
        .await;
    let (_, state) = caller
        .get_json(&format!("{}/control/state", rig.oauth.url))
        .await;

    // Assert
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    for shown in ["Ada Admin", "admin-1", "reader", "name=\"ticket\""] {
        assert!(html.contains(shown), "{shown}: {html}");
    }
    assert_eq!(state["consent"]["mode"], "page", "{state}");
    assert_eq!(state["consent"]["pending"], 1, "{state}");
}

#[test]
fn a_bad_consent_mode_or_user_list_is_one_error_line() {
    for (name, value, said) in [
        (
            "CONSENT",
            "sometimes",
            "CONSENT: consent mode 'sometimes' must be auto or page",
        ),
        ("USERS", "[]", "USERS: users must list 1 to 100 users"),
        (
            "USERS",
            r#"[{"sub":"a"},{"sub":"a"}]"#,
            "USERS: user sub 'a' is listed twice",
        ),
        ("USERS", r#"[{"id":"a"}]"#, "USERS: unknown field `id`"),
    ] {
        let dir = WorkDir::new();
        let finished = Launch::new(&dir)
            .args(EPHEMERAL_PORTS)
            .env(name, value)
            .run();
        assert_eq!(finished.status.code(), Some(1), "{finished:#?}");
        assert_eq!(finished.stderr.lines().count(), 1, "{finished:#?}");
        assert!(finished.stderr.contains(said), "{said}: {finished:#?}");
    }
}

#[test]
fn a_malformed_dotenv_is_one_error_line_quoting_the_line() {
    // Arrange
    let dir = WorkDir::new();
    dir.write(".env", "OAUTH_PORT=0\nthis is not an assignment\n");

    // Act
    let finished = Launch::new(&dir).run();

    // Assert
    assert_eq!(finished.status.code(), Some(1), "{finished:#?}");
    assert_eq!(finished.stderr.lines().count(), 1, "{finished:#?}");
    assert!(
        finished.stderr.starts_with("error: cannot read .env: "),
        "{finished:#?}"
    );
    assert!(
        finished.stderr.contains("this is not an assignment"),
        "{finished:#?}"
    );
}

#[test]
fn a_dotenv_in_a_parent_directory_is_not_read() {
    // Arrange: a parent whose .env would make any start fail.
    let parent = WorkDir::new();
    parent.write(".env", "OAUTH_PORT=not-a-port\n");
    let sub = parent.path().join("sub");
    std::fs::create_dir(&sub).expect("create a subdirectory");

    // Act
    let finished = Launch::in_dir(&sub).args(["certs"]).run();

    // Assert
    finished.assert_success();
    assert!(sub.join("certs").join("ca.pem").is_file(), "{finished:#?}");
}

#[test]
fn env_example_shows_every_variable_the_binary_reads() {
    // Arrange
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.env.example"),
    )
    .expect("read .env.example");

    // Act
    let variables = variables();
    let missing: Vec<&str> = variables
        .iter()
        .map(String::as_str)
        .filter(|name| {
            !example
                .lines()
                .any(|line| line.starts_with(&format!("{name}=")))
        })
        .collect();

    // Assert
    assert!(missing.is_empty(), ".env.example lacks {missing:?}");
}

#[test]
fn env_example_and_the_settings_table_give_each_variable_its_declared_default_and_nothing_else() {
    // Arrange: the one declaration (the flags), and the two documents written from it.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let example = std::fs::read_to_string(root.join(".env.example")).expect("read .env.example");
    let table =
        std::fs::read_to_string(root.join("docs/settings.md")).expect("read docs/settings.md");
    let declared = mcp_oauth_sim::flags::defaults();

    // Act: `NAME=VALUE` lines of .env.example; the variable rows of docs/settings.md's table.
    let example: Vec<(&str, &str)> = example
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .collect();
    let rows: Vec<(Vec<&str>, &str)> = table
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.split(" | ").collect();
            let names = cells[0]
                .trim_start_matches("| ")
                .split(", ")
                .map(|name| name.trim_matches('`'))
                .collect();
            (names, cells[1])
        })
        .collect();

    // Assert
    let names: Vec<&str> = declared.iter().map(|(name, _)| name.as_str()).collect();
    for (name, _) in &example {
        assert!(
            names.contains(name),
            ".env.example sets {name}, which the rig does not read"
        );
    }
    for (row, _) in &rows {
        for name in row {
            assert!(
                names.contains(name),
                "docs/settings.md documents {name}, which the rig does not read"
            );
        }
    }
    for (name, default) in &declared {
        let shown = example
            .iter()
            .find(|(line, _)| line == name)
            .map(|(_, value)| *value);
        assert_eq!(
            shown,
            Some(default.as_deref().unwrap_or("")),
            ".env.example must show {name} with its default"
        );
        let (_, cell) = rows
            .iter()
            .find(|(row, _)| row.contains(&name.as_str()))
            .unwrap_or_else(|| panic!("docs/settings.md's table has no row for {name}"));
        if let Some(default) = default {
            assert!(
                cell.contains(&format!("`{default}`")),
                "docs/settings.md gives {name} the default {cell}, the flag {default}"
            );
        }
    }
}

#[tokio::test]
async fn profiles_and_pre_registered_clients_from_the_environment_shape_both_servers() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir)
        .args(EPHEMERAL_PORTS)
        .env("AS_PROFILE", r#"{"registration": false, "iss": "omit"}"#)
        .env("MCP_PROFILE", r#"{"prm": ["root"], "challenge_scope": "omit"}"#)
        .env(
            "CLIENTS",
            r#"[{"client_id": "app", "client_secret": "s3cret", "auth_method": "client_secret_basic", "redirect_uris": "any-loopback"}]"#,
        )
        .serve();
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);
    let mcp_origin = rig.mcp.url.trim_end_matches("/mcp").to_owned();

    // Act
    let (_, metadata) = caller
        .get_json(&format!(
            "{}/.well-known/oauth-authorization-server",
            rig.oauth.url
        ))
        .await;
    let (path_form, _) = caller
        .get_json(&format!(
            "{mcp_origin}/.well-known/oauth-protected-resource/mcp"
        ))
        .await;
    let (root_form, _) = caller
        .get_json(&format!(
            "{mcp_origin}/.well-known/oauth-protected-resource"
        ))
        .await;
    let (_, oauth_state) = caller
        .get_json(&format!("{}/control/state", rig.oauth.url))
        .await;

    // Assert
    assert!(
        metadata.get("registration_endpoint").is_none(),
        "{metadata}"
    );
    assert_eq!(path_form, StatusCode::NOT_FOUND);
    assert_eq!(root_form, StatusCode::OK);
    assert_eq!(oauth_state["profile"]["iss"], "omit");
    assert_eq!(oauth_state["clients"][0]["client_id"], "app");
    assert_ne!(
        oauth_state["clients"][0]["client_secret"], "s3cret",
        "the state shows the secret redacted"
    );
}

#[tokio::test]
async fn a_conformance_situation_from_the_environment_is_staged_at_start_up() {
    // Arrange
    let dir = WorkDir::new();
    let rig = Launch::new(&dir)
        .args(EPHEMERAL_PORTS)
        .env("CONFORMANCE", "auth/iss-wrong-issuer")
        .serve();
    let caller = Caller::new(http_client(), &rig.oauth.url, &rig.mcp.url);

    // Act
    let (_, state) = caller
        .get_json(&format!("{}/control/state", rig.oauth.url))
        .await;

    // Assert
    assert_eq!(state["profile"]["iss"], "wrong", "{state}");
    assert_eq!(state["profile"]["iss_parameter_supported"], true);
}

#[test]
fn an_unknown_conformance_situation_is_one_error_line_naming_the_variable() {
    let dir = WorkDir::new();
    let finished = Launch::new(&dir)
        .args(EPHEMERAL_PORTS)
        .env("CONFORMANCE", "auth/no-such-thing")
        .run();
    assert!(!finished.status.success(), "{finished:#?}");
    assert!(
        finished
            .stderr
            .starts_with("error: CONFORMANCE: 'auth/no-such-thing' is not a situation"),
        "{finished:#?}"
    );
}
