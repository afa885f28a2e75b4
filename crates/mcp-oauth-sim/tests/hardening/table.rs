//! The bad-input table: for every endpoint of both servers, requests a careless or hostile
//! client sends, each with the status and error code the specs name. Failures are collected,
//! not fatal one by one, so that one run shows every wrong answer.

use std::time::Instant;

use serde_json::json;

use crate::support::*;

/// A 2 MiB body: twice the cap every endpoint reads.
const TWO_MIB: usize = 2 * 1024 * 1024;

/// Runs cases and keeps score.
struct Table<'a> {
    rig: &'a Rig,
    cases: usize,
    failures: Vec<String>,
}

impl<'a> Table<'a> {
    fn new(rig: &'a Rig) -> Self {
        Self {
            rig,
            cases: 0,
            failures: Vec::new(),
        }
    }

    async fn case(&mut self, name: &str, request: Req, expect: Expect) {
        self.cases += 1;
        let outcome = match self.rig.send(request).await {
            Ok(answer) => expect.check(&answer),
            Err(error) => Err(error),
        };
        if let Err(why) = outcome {
            self.failures.push(format!("{name}: {why}"));
        }
    }

    /// A case sent as raw bytes over a fresh connection, judged by the status line alone.
    async fn raw(
        &mut self,
        name: &str,
        addr: std::net::SocketAddr,
        request: Vec<u8>,
        expected: u16,
    ) {
        self.cases += 1;
        match raw_status(addr, &request).await {
            Ok(status) if status == expected => {}
            Ok(status) => self
                .failures
                .push(format!("{name}: expected {expected}, got {status}")),
            Err(error) => self.failures.push(format!("{name}: {error}")),
        }
    }

    async fn all(&mut self, cases: Vec<(&str, Req, Expect)>) {
        for (name, request, expect) in cases {
            self.case(name, request, expect).await;
        }
    }
}

/// Clients and tokens the cases need.
struct Fixture {
    /// A public client with two redirect URIs, and its tokens (all scopes).
    public: String,
    access: String,
    refresh: String,
    /// An access token of `public` with the tools scope only (no `whoami`).
    narrow_access: String,
    /// Another public client.
    other: String,
    /// Confidential clients: `client_secret_basic` and `client_secret_post`.
    basic: (String, String),
    post: (String, String),
}

impl Fixture {
    async fn new(rig: &Rig) -> Self {
        let public = rig.public_client().await;
        let code = rig.code(&public, Some(REDIRECT_URI), None).await;
        let tokens = rig.redeem(&public, &code, Some(REDIRECT_URI)).await;
        let code = rig
            .code(&public, Some(REDIRECT_URI), Some(TOOLS_SCOPE))
            .await;
        let narrow = rig.redeem(&public, &code, Some(REDIRECT_URI)).await;
        Self {
            access: string(&tokens, "access_token"),
            refresh: string(&tokens, "refresh_token"),
            narrow_access: string(&narrow, "access_token"),
            public,
            other: rig.public_client().await,
            basic: rig.confidential_client("client_secret_basic").await,
            post: rig.confidential_client("client_secret_post").await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_gets_the_specs_status_and_error_and_the_rig_still_serves_a_full_flow() {
    // Arrange
    let started = Instant::now();
    let rig = Rig::start().await;
    let fixture = Fixture::new(&rig).await;
    let mut table = Table::new(&rig);

    // Act
    metadata_and_unknown_paths(&mut table).await;
    register(&mut table).await;
    authorize(&mut table, &fixture).await;
    token_request_shape(&mut table, &fixture).await;
    token_code_grant(&mut table, &fixture).await;
    token_refresh_grant(&mut table, &fixture).await;
    token_client_authentication(&mut table, &fixture).await;
    token_without_user(&mut table, &fixture).await;
    introspect(&mut table, &fixture).await;
    revoke(&mut table, &fixture).await;
    mcp_bearer(&mut table, &fixture).await;
    mcp_transport(&mut table, &fixture).await;
    mcp_json_rpc(&mut table, &fixture).await;
    control_plane(&mut table).await;
    sizes_and_headers(&mut table, &fixture).await;
    let flow = rig.full_flow().await;

    // Assert
    println!(
        "bad-input table: {} cases, {} failures ({:.1} s)",
        table.cases,
        table.failures.len(),
        started.elapsed().as_secs_f64()
    );
    for failure in &table.failures {
        println!("  FAILED {failure}");
    }
    assert!(
        table.failures.is_empty(),
        "{} of {} cases failed:\n{}",
        table.failures.len(),
        table.cases,
        table.failures.join("\n")
    );
    flow.expect("after the table, a full flow still works");
}

async fn metadata_and_unknown_paths(table: &mut Table<'_>) {
    let rig = table.rig;
    let as_metadata = rig.auth("/.well-known/oauth-authorization-server");
    let prm = rig.mcp("/.well-known/oauth-protected-resource/mcp");
    table
        .all(vec![
            ("AS metadata: POST", Req::post(&as_metadata), status(405)),
            (
                "AS metadata: DELETE",
                Req::new("DELETE", &as_metadata),
                status(405),
            ),
            (
                "AS metadata: PATCH with a body",
                Req::new("PATCH", &as_metadata).json("{}"),
                status(405),
            ),
            (
                "AS metadata: query of invalid UTF-8 is ignored",
                Req::get(format!("{as_metadata}?x=%FF")),
                status(200),
            ),
            ("AS: unknown path", Req::get(rig.auth("/nope")), plain(404)),
            (
                "AS: path under the metadata",
                Req::get(format!("{as_metadata}/extra")),
                plain(404),
            ),
            (
                "AS: percent-encoded garbage path",
                Req::get(rig.auth("/%FF%00token")),
                plain(404),
            ),
            ("PRM: POST", Req::post(&prm), status(405)),
            (
                "PRM root: PUT",
                Req::new("PUT", rig.mcp("/.well-known/oauth-protected-resource")),
                status(405),
            ),
            ("PRM: DELETE", Req::new("DELETE", &prm), status(405)),
            (
                "PRM: unknown resource path",
                Req::get(rig.mcp("/.well-known/oauth-protected-resource/other")),
                plain(404),
            ),
            (
                "MCP: unknown path",
                Req::get(rig.mcp("/mcp/extra")),
                plain(404),
            ),
        ])
        .await;
}

async fn register(table: &mut Table<'_>) {
    let url = table.rig.auth("/register");
    let post = || Req::post(&url);
    let meta = |body: serde_json::Value| post().json(body.to_string());
    let bad_meta = oauth(400, "invalid_client_metadata");
    let bad_uri = oauth(400, "invalid_redirect_uri");
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    table
        .all(vec![
            ("register: GET", Req::get(&url), status(405)),
            ("register: PUT", Req::new("PUT", &url).json("{}"), status(405)),
            ("register: no Content-Type", post().body(r#"{"redirect_uris":["https://a.example/cb"]}"#), bad_meta),
            ("register: form Content-Type", post().form("redirect_uris=https://a.example/cb"), bad_meta),
            ("register: text/plain", post().header("content-type", "text/plain").body("{}"), bad_meta),
            ("register: empty body", post().json(""), bad_meta),
            ("register: malformed JSON", post().json(r#"{"redirect_uris": ["#), bad_meta),
            ("register: trailing garbage after JSON", post().json(r#"{"redirect_uris":["https://a.example/cb"]} x"#), bad_meta),
            ("register: invalid UTF-8", post().json(b"{\"client_name\":\"\xff\xfe\",\"redirect_uris\":[\"https://a.example/cb\"]}".to_vec()), bad_meta),
            ("register: a JSON array", post().json("[]"), bad_meta),
            ("register: a JSON string", post().json(r#""client""#), bad_meta),
            ("register: nested 100k deep", post().json(nested), bad_meta),
            (
                "register: duplicate keys",
                post().json(r#"{"redirect_uris":["https://a.example/cb"],"redirect_uris":["javascript:alert(1)"]}"#),
                bad_meta,
            ),
            ("register: redirect_uris missing", meta(json!({"client_name": "x"})), bad_uri),
            ("register: redirect_uris empty", meta(json!({"redirect_uris": []})), bad_uri),
            ("register: redirect_uris a string", meta(json!({"redirect_uris": "https://a.example/cb"})), bad_uri),
            ("register: redirect_uris of numbers", meta(json!({"redirect_uris": [1]})), bad_uri),
            ("register: javascript: redirect", meta(json!({"redirect_uris": ["javascript:alert(1)"]})), bad_uri),
            ("register: data: redirect", meta(json!({"redirect_uris": ["data:text/html,hi"]})), bad_uri),
            ("register: redirect with a fragment", meta(json!({"redirect_uris": ["https://a.example/cb#x"]})), bad_uri),
            ("register: http off loopback", meta(json!({"redirect_uris": ["http://a.example/cb"]})), bad_uri),
            ("register: relative redirect", meta(json!({"redirect_uris": ["/cb"]})), bad_uri),
            ("register: empty string redirect", meta(json!({"redirect_uris": [""]})), bad_uri),
            (
                "register: private_key_jwt without keys",
                meta(json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"})),
                bad_meta,
            ),
            (
                "register: unknown auth method",
                meta(json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "client_secret_jwt"})),
                bad_meta,
            ),
            (
                "register: a private key in jwks",
                meta(json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
                            "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "d": "AA"}]}})),
                bad_meta,
            ),
            (
                "register: jwks and jwks_uri both",
                meta(json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
                            "jwks": {"keys": []}, "jwks_uri": "https://a.example/jwks"})),
                bad_meta,
            ),
            (
                "register: jwks not an object",
                meta(json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt", "jwks": "keys"})),
                bad_meta,
            ),
            (
                "register: client_credentials for a public client",
                meta(json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"})),
                bad_meta,
            ),
            (
                "register: auth method not a string",
                meta(json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": 1})),
                bad_meta,
            ),
            (
                "register: unsupported grant type",
                meta(json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["password"]})),
                bad_meta,
            ),
            (
                "register: refresh grant without code grant",
                meta(json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["refresh_token"]})),
                bad_meta,
            ),
            (
                "register: response type token",
                meta(json!({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]})),
                bad_meta,
            ),
            (
                "register: client_name a number",
                meta(json!({"redirect_uris": ["https://a.example/cb"], "client_name": 42})),
                bad_meta,
            ),
            (
                "register: scope with a quote",
                meta(json!({"redirect_uris": ["https://a.example/cb"], "scope": "a\"b"})),
                bad_meta,
            ),
            (
                "register: contacts not strings",
                meta(json!({"redirect_uris": ["https://a.example/cb"], "contacts": [{}]})),
                bad_meta,
            ),
        ])
        .await;
}

/// `GET /authorize` for the fixture's public client, with `changes` applied to a valid request:
/// `(name, None)` removes a parameter, `(name, Some(v))` replaces it (or adds it).
fn authorize_request(rig: &Rig, client_id: &str, changes: &[(&str, Option<&str>)]) -> Req {
    let challenge = challenge_of(VERIFIER);
    let mut params: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT_URI),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("state", "s"),
    ];
    for (name, value) in changes {
        params.retain(|(key, _)| key != name);
        if let Some(value) = value {
            params.push((name, value));
        }
    }
    Req::get(format!("{}?{}", rig.auth("/authorize"), urlencode(&params)))
}

async fn authorize(table: &mut Table<'_>, fixture: &Fixture) {
    let rig = table.rig;
    let url = rig.auth("/authorize");
    let with = |changes: &[(&str, Option<&str>)]| authorize_request(rig, &fixture.public, changes);
    // A raw query appended to a valid request, for duplicates and undecodable bytes.
    let plus = |raw: &str| {
        let Req { url, .. } = with(&[]);
        Req::get(format!("{url}&{raw}"))
    };
    let valid_form = {
        let Req { url, .. } = with(&[]);
        url.split_once('?')
            .map(|(_, query)| query.to_owned())
            .unwrap_or_default()
    };
    let invalid = redirect("invalid_request");
    table
        .all(vec![
            ("authorize: PUT", Req::new("PUT", &url), status(405)),
            ("authorize: DELETE", Req::new("DELETE", &url), status(405)),
            ("authorize: no parameters", Req::get(&url), page()),
            (
                "authorize: client_id missing",
                with(&[("client_id", None)]),
                page(),
            ),
            (
                "authorize: client_id empty",
                with(&[("client_id", Some(""))]),
                page(),
            ),
            (
                "authorize: client_id duplicated",
                plus(&format!("client_id={}", fixture.public)),
                page(),
            ),
            (
                "authorize: client_id unknown",
                with(&[("client_id", Some("nobody"))]),
                page(),
            ),
            (
                "authorize: client_id invalid UTF-8",
                Req::get(format!("{url}?client_id=%FF%FE&response_type=code")),
                page(),
            ),
            (
                "authorize: redirect_uri off by a character",
                with(&[("redirect_uri", Some("http://127.0.0.1:8765/callbacK"))]),
                page(),
            ),
            (
                "authorize: redirect_uri with a trailing slash",
                with(&[("redirect_uri", Some("http://127.0.0.1:8765/callback/"))]),
                page(),
            ),
            (
                "authorize: redirect_uri with a fragment",
                with(&[("redirect_uri", Some("http://127.0.0.1:8765/callback#x"))]),
                page(),
            ),
            (
                "authorize: redirect_uri with a query added",
                with(&[("redirect_uri", Some("http://127.0.0.1:8765/callback?x=1"))]),
                page(),
            ),
            (
                "authorize: redirect_uri javascript:",
                with(&[("redirect_uri", Some("javascript:alert(1)"))]),
                page(),
            ),
            (
                "authorize: https redirect_uri off by a character",
                with(&[("redirect_uri", Some("https://app.example.test/callbacl"))]),
                page(),
            ),
            (
                "authorize: https redirect_uri on another port",
                with(&[(
                    "redirect_uri",
                    Some("https://app.example.test:8443/callback"),
                )]),
                page(),
            ),
            (
                "authorize: redirect_uri on localhost for 127.0.0.1",
                with(&[("redirect_uri", Some("http://localhost:8765/callback"))]),
                page(),
            ),
            (
                "authorize: redirect_uri duplicated",
                plus(&format!(
                    "redirect_uri={}",
                    urlencode_component(REDIRECT_URI)
                )),
                page(),
            ),
            (
                "authorize: redirect_uri omitted with two registered",
                with(&[("redirect_uri", None)]),
                page(),
            ),
            (
                "authorize: loopback redirect on another port is fine",
                with(&[("redirect_uri", Some("http://127.0.0.1:1234/callback"))]),
                status(302),
            ),
            (
                "authorize: response_type missing",
                with(&[("response_type", None)]),
                invalid,
            ),
            (
                "authorize: response_type token",
                with(&[("response_type", Some("token"))]),
                redirect("unsupported_response_type"),
            ),
            (
                "authorize: response_type duplicated",
                plus("response_type=code"),
                invalid,
            ),
            (
                "authorize: code_challenge missing",
                with(&[("code_challenge", None)]),
                invalid,
            ),
            (
                "authorize: code_challenge empty",
                with(&[("code_challenge", Some(""))]),
                invalid,
            ),
            (
                "authorize: code_challenge duplicated",
                plus(&format!("code_challenge={}", challenge_of(OTHER_VERIFIER))),
                invalid,
            ),
            (
                "authorize: code_challenge 42 characters",
                with(&[("code_challenge", Some(&challenge_of(VERIFIER)[..42]))]),
                invalid,
            ),
            (
                "authorize: code_challenge not base64url",
                with(&[("code_challenge", Some(&"!".repeat(43)))]),
                invalid,
            ),
            (
                "authorize: code_challenge_method plain",
                with(&[("code_challenge_method", Some("plain"))]),
                invalid,
            ),
            (
                "authorize: plain with the verifier as challenge",
                with(&[
                    ("code_challenge_method", Some("plain")),
                    ("code_challenge", Some(VERIFIER)),
                ]),
                invalid,
            ),
            (
                "authorize: code_challenge_method missing",
                with(&[("code_challenge_method", None)]),
                invalid,
            ),
            (
                "authorize: code_challenge_method s256",
                with(&[("code_challenge_method", Some("s256"))]),
                invalid,
            ),
            (
                "authorize: unknown scope",
                with(&[("scope", Some("mcp:tools root"))]),
                redirect("invalid_scope"),
            ),
            (
                "authorize: scope duplicated",
                plus("scope=mcp:tools&scope=mcp:tools"),
                invalid,
            ),
            (
                "authorize: relative resource",
                with(&[("resource", Some("/mcp"))]),
                redirect("invalid_target"),
            ),
            (
                "authorize: resource with a fragment",
                with(&[("resource", Some("https://a.example/mcp#x"))]),
                redirect("invalid_target"),
            ),
            (
                "authorize: a parameter of invalid UTF-8",
                plus("scope=%FF"),
                page(),
            ),
            ("authorize: POST JSON", Req::post(&url).json("{}"), page()),
            (
                "authorize: POST no Content-Type",
                Req::post(&url).body(valid_form.clone()),
                page(),
            ),
            (
                "authorize: POST form of invalid UTF-8",
                Req::post(&url).form(b"client_id=\xff".to_vec()),
                page(),
            ),
            (
                "authorize: POST form is fine",
                Req::post(&url).form(valid_form),
                status(302),
            ),
        ])
        .await;
}

async fn token_request_shape(table: &mut Table<'_>, fixture: &Fixture) {
    let url = table.rig.auth("/token");
    let post = || Req::post(&url);
    let form = |pairs: &[(&str, &str)]| post().form(urlencode(pairs));
    let id = fixture.public.as_str();
    let invalid = oauth(400, "invalid_request");
    let unsupported = oauth(400, "unsupported_grant_type");
    table
        .all(vec![
            ("token: GET", Req::get(&url), status(405)),
            (
                "token: PUT",
                Req::new("PUT", &url).form("grant_type=x"),
                status(405),
            ),
            (
                "token: no Content-Type",
                post().body(format!("grant_type=refresh_token&client_id={id}")),
                invalid,
            ),
            (
                "token: JSON body",
                post().json(json!({"grant_type": "refresh_token", "client_id": id}).to_string()),
                invalid,
            ),
            (
                "token: text/plain",
                post()
                    .header("content-type", "text/plain")
                    .body("grant_type=refresh_token"),
                invalid,
            ),
            (
                "token: multipart",
                post()
                    .header("content-type", "multipart/form-data; boundary=x")
                    .body("--x--"),
                invalid,
            ),
            ("token: empty body", post().form(""), invalid),
            ("token: only separators", post().form("&&&==&="), invalid),
            (
                "token: grant_type missing",
                form(&[("client_id", id)]),
                invalid,
            ),
            (
                "token: grant_type empty",
                form(&[("grant_type", ""), ("client_id", id)]),
                invalid,
            ),
            (
                "token: grant_type duplicated",
                form(&[
                    ("grant_type", "refresh_token"),
                    ("grant_type", "refresh_token"),
                    ("client_id", id),
                ]),
                invalid,
            ),
            (
                "token: grant_type invalid UTF-8",
                post().form(format!("grant_type=%FF&client_id={id}")),
                invalid,
            ),
            (
                "token: raw invalid UTF-8 bytes",
                post().form(
                    [
                        b"grant_type=refresh_token&client_id=".as_slice(),
                        b"\xff\xfe",
                    ]
                    .concat(),
                ),
                invalid,
            ),
            (
                "token: unknown grant_type",
                form(&[("grant_type", "password"), ("client_id", id)]),
                unsupported,
            ),
            (
                "token: password",
                form(&[("grant_type", "password"), ("client_id", id)]),
                unsupported,
            ),
            (
                "token: implicit",
                form(&[("grant_type", "implicit"), ("client_id", id)]),
                unsupported,
            ),
            (
                "token: grant_type in another case",
                form(&[("grant_type", "Authorization_Code"), ("client_id", id)]),
                unsupported,
            ),
            (
                "token: device code",
                form(&[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                    ("client_id", id),
                ]),
                unsupported,
            ),
            (
                "token: client_id missing",
                form(&[("grant_type", "refresh_token"), ("refresh_token", "x")]),
                oauth(401, "invalid_client"),
            ),
            (
                "token: client_id unknown",
                form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", "x"),
                    ("client_id", "nobody"),
                ]),
                oauth(401, "invalid_client"),
            ),
            (
                "token: client_id duplicated",
                form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", "x"),
                    ("client_id", id),
                    ("client_id", id),
                ]),
                invalid,
            ),
            (
                "token: client_id empty",
                form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", "x"),
                    ("client_id", ""),
                ]),
                oauth(401, "invalid_client"),
            ),
        ])
        .await;
}

async fn token_code_grant(table: &mut Table<'_>, fixture: &Fixture) {
    let rig = table.rig;
    let url = rig.auth("/token");
    let id = fixture.public.as_str();
    let redeem = |code: &str, verifier: &str, redirect_uri: Option<&str>, client_id: &str| {
        let mut pairs = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", verifier),
            ("client_id", client_id),
        ];
        if let Some(redirect_uri) = redirect_uri {
            pairs.push(("redirect_uri", redirect_uri));
        }
        Req::post(&url).form(urlencode(&pairs))
    };
    let invalid = oauth(400, "invalid_request");
    let invalid_grant = oauth(400, "invalid_grant");

    // Parameter shape: refused before the code is touched, so one code serves them all.
    let code = rig.code(id, Some(REDIRECT_URI), None).await;
    let long = "a".repeat(129);
    let with_code = |extra: &str| {
        Req::post(&url).form(format!(
            "grant_type=authorization_code&client_id={id}&code_verifier={VERIFIER}&redirect_uri={}&{extra}",
            urlencode_component(REDIRECT_URI)
        ))
    };
    table
        .all(vec![
            ("code grant: code missing", with_code(""), invalid),
            ("code grant: code empty", with_code("code="), invalid),
            ("code grant: code duplicated", with_code(&format!("code={code}&code={code}")), invalid),
            ("code grant: verifier missing", Req::post(&url).form(urlencode(&[("grant_type", "authorization_code"), ("code", &code), ("client_id", id)])), invalid),
            ("code grant: verifier too short", redeem(&code, &VERIFIER[..42], Some(REDIRECT_URI), id), invalid),
            ("code grant: verifier too long", redeem(&code, &long, Some(REDIRECT_URI), id), invalid),
            ("code grant: verifier with a space", redeem(&code, &format!("{} x", &VERIFIER[..44]), Some(REDIRECT_URI), id), invalid),
            ("code grant: verifier duplicated", with_code(&format!("code={code}&code_verifier={VERIFIER}")), invalid),
            ("code grant: redirect_uri duplicated", redeem(&code, VERIFIER, Some(REDIRECT_URI), id).body(format!(
                "grant_type=authorization_code&code={code}&code_verifier={VERIFIER}&client_id={id}&redirect_uri=a&redirect_uri=b"
            )), invalid),
        ])
        .await;
    // The same code still works after all that.
    table
        .case(
            "code grant: the code survived malformed attempts",
            redeem(&code, VERIFIER, Some(REDIRECT_URI), id),
            status(200),
        )
        .await;

    // Each of these burns its code.
    let wrong = rig.code(id, Some(REDIRECT_URI), None).await;
    // A live code whose verifier is OTHER_VERIFIER, whose verifier is then tried on another.
    let _other = rig
        .code_with(id, Some(REDIRECT_URI), None, OTHER_VERIFIER)
        .await;
    let verifier_of_another = rig.code(id, Some(REDIRECT_URI), None).await;
    let plain = rig.code(id, Some(REDIRECT_URI), None).await;
    let reused = rig.code(id, Some(REDIRECT_URI), None).await;
    rig.redeem(id, &reused, Some(REDIRECT_URI)).await;
    let other_client = rig.code(id, Some(REDIRECT_URI), None).await;
    let off_by_one = rig.code(id, Some(REDIRECT_URI), None).await;
    let fragment = rig.code(id, Some(REDIRECT_URI), None).await;
    let omitted = rig.code(id, Some(REDIRECT_URI), None).await;
    let unsent = rig.code(id, Some(HTTPS_REDIRECT_URI), None).await;
    table
        .all(vec![
            ("code grant: wrong verifier", redeem(&wrong, OTHER_VERIFIER, Some(REDIRECT_URI), id), invalid_grant),
            ("code grant: verifier of another code", redeem(&verifier_of_another, OTHER_VERIFIER, Some(REDIRECT_URI), id), invalid_grant),
            ("code grant: plain (the challenge as verifier)", redeem(&plain, &challenge_of(VERIFIER), Some(REDIRECT_URI), id), invalid_grant),
            ("code grant: code reused", redeem(&reused, VERIFIER, Some(REDIRECT_URI), id), invalid_grant),
            ("code grant: code of another client", redeem(&other_client, VERIFIER, Some(REDIRECT_URI), &fixture.other), invalid_grant),
            ("code grant: redirect_uri off by a character", redeem(&off_by_one, VERIFIER, Some("http://127.0.0.1:8765/callbacK"), id), invalid_grant),
            ("code grant: redirect_uri with a fragment", redeem(&fragment, VERIFIER, Some("http://127.0.0.1:8765/callback#x"), id), invalid_grant),
            ("code grant: redirect_uri omitted though sent", redeem(&omitted, VERIFIER, None, id), invalid_grant),
            ("code grant: redirect_uri of another registration", redeem(&unsent, VERIFIER, Some(REDIRECT_URI), id), invalid_grant),
            ("code grant: unknown code", redeem("no-such-code", VERIFIER, Some(REDIRECT_URI), id), invalid_grant),
            ("code grant: code of invalid UTF-8", Req::post(&url).form(format!(
                "grant_type=authorization_code&code=%C3%28&code_verifier={VERIFIER}&client_id={id}"
            )), invalid),
        ])
        .await;
    // A burnt code stays burnt, even with the right verifier.
    table
        .case(
            "code grant: a code burnt by a wrong verifier",
            redeem(&wrong, VERIFIER, Some(REDIRECT_URI), id),
            invalid_grant,
        )
        .await;

    // Expiry: codes live ten minutes on the rig's clock.
    let expired = rig.code(id, Some(REDIRECT_URI), None).await;
    rig.sim
        .control()
        .advance_clock(601)
        .await
        .expect("advance the clock");
    table
        .case(
            "code grant: code expired",
            redeem(&expired, VERIFIER, Some(REDIRECT_URI), id),
            invalid_grant,
        )
        .await;
    rig.sim
        .control()
        .reset_clock()
        .await
        .expect("reset the clock");
}

async fn token_refresh_grant(table: &mut Table<'_>, fixture: &Fixture) {
    let url = table.rig.auth("/token");
    let form = |pairs: &[(&str, &str)]| Req::post(&url).form(urlencode(pairs));
    let id = fixture.public.as_str();
    let refresh = fixture.refresh.as_str();
    let grant = ("grant_type", "refresh_token");
    let invalid_grant = oauth(400, "invalid_grant");
    table
        .all(vec![
            (
                "refresh: refresh_token missing",
                form(&[grant, ("client_id", id)]),
                oauth(400, "invalid_request"),
            ),
            (
                "refresh: refresh_token empty",
                form(&[grant, ("client_id", id), ("refresh_token", "")]),
                oauth(400, "invalid_request"),
            ),
            (
                "refresh: refresh_token duplicated",
                form(&[
                    grant,
                    ("client_id", id),
                    ("refresh_token", refresh),
                    ("refresh_token", refresh),
                ]),
                oauth(400, "invalid_request"),
            ),
            (
                "refresh: unknown refresh token",
                form(&[grant, ("client_id", id), ("refresh_token", "nope")]),
                invalid_grant,
            ),
            (
                "refresh: refresh token of another client",
                form(&[
                    grant,
                    ("client_id", &fixture.other),
                    ("refresh_token", refresh),
                ]),
                invalid_grant,
            ),
            (
                "refresh: an access token as refresh token",
                form(&[grant, ("client_id", id), ("refresh_token", &fixture.access)]),
                invalid_grant,
            ),
            (
                "refresh: widening the scope",
                form(&[
                    grant,
                    ("client_id", id),
                    ("refresh_token", refresh),
                    ("scope", "mcp:tools root"),
                ]),
                oauth(400, "invalid_scope"),
            ),
            (
                "refresh: resource outside the grant",
                form(&[
                    grant,
                    ("client_id", id),
                    ("refresh_token", refresh),
                    ("resource", "https://elsewhere.example/mcp"),
                ]),
                oauth(400, "invalid_target"),
            ),
            (
                "refresh: relative resource",
                form(&[
                    grant,
                    ("client_id", id),
                    ("refresh_token", refresh),
                    ("resource", "mcp"),
                ]),
                oauth(400, "invalid_target"),
            ),
            (
                "refresh: confidential client without its secret",
                form(&[
                    grant,
                    ("client_id", &fixture.post.0),
                    ("refresh_token", refresh),
                ]),
                oauth(401, "invalid_client"),
            ),
            (
                "refresh: the token still works after all that",
                form(&[grant, ("client_id", id), ("refresh_token", refresh)]),
                status(200),
            ),
        ])
        .await;
}

async fn token_client_authentication(table: &mut Table<'_>, fixture: &Fixture) {
    let url = table.rig.auth("/token");
    let (basic_id, basic_secret) = (&fixture.basic.0, &fixture.basic.1);
    let (post_id, post_secret) = (&fixture.post.0, &fixture.post.1);
    let body = "grant_type=refresh_token&refresh_token=nope";
    let refresh = || Req::post(&url).form(body);
    let encoded = |credentials: &str| {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        )
    };
    table
        .all(vec![
            ("client auth: Basic not base64", refresh().header("authorization", "Basic !!!not-base64"), basic_challenge()),
            ("client auth: Basic without credentials", refresh().header("authorization", "Basic"), basic_challenge()),
            ("client auth: Basic without a colon", refresh().header("authorization", encoded(basic_id)), basic_challenge()),
            ("client auth: Basic with an empty id", refresh().header("authorization", encoded(&format!(":{basic_secret}"))), basic_challenge()),
            ("client auth: Basic of invalid UTF-8", refresh().header("authorization", format!("Basic {}", {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.encode(b"\xff\xfe:\xfd")
            })), basic_challenge()),
            ("client auth: Basic header of non-ASCII bytes", refresh().header("authorization", b"Basic \xe9\xe9".as_slice()), basic_challenge()),
            ("client auth: Basic with the wrong secret", refresh().basic(basic_id, "wrong"), basic_challenge()),
            ("client auth: Basic with an unknown client", refresh().basic("nobody", basic_secret), basic_challenge()),
            ("client auth: Basic with an empty secret", refresh().basic(basic_id, ""), basic_challenge()),
            ("client auth: Basic of a public client with a secret", refresh().basic(&fixture.public, "secret"), basic_challenge()),
            ("client auth: Basic and client_secret together", Req::post(&url).form(format!("{body}&client_secret={basic_secret}")).basic(basic_id, basic_secret), oauth(400, "invalid_request")),
            ("client auth: Basic and another client_id in the body", Req::post(&url).form(format!("{body}&client_id={post_id}")).basic(basic_id, basic_secret), oauth(400, "invalid_request")),
            ("client auth: client_secret_post with the wrong secret", Req::post(&url).form(format!("{body}&client_id={post_id}&client_secret=wrong")), oauth(401, "invalid_client")),
            ("client auth: client_secret without client_id", Req::post(&url).form(format!("{body}&client_secret={post_secret}")), oauth(400, "invalid_request")),
            ("client auth: client_secret duplicated", Req::post(&url).form(format!("{body}&client_id={post_id}&client_secret={post_secret}&client_secret={post_secret}")), oauth(400, "invalid_request")),
            ("client auth: a bearer header is no client authentication", refresh().header("authorization", "Bearer abc"), oauth(401, "invalid_client")),
            ("client auth: right Basic secret, unknown refresh token", refresh().basic(basic_id, basic_secret), oauth(400, "invalid_grant")),
            ("client auth: right post secret, unknown refresh token", Req::post(&url).form(format!("{body}&client_id={post_id}&client_secret={post_secret}")), oauth(400, "invalid_grant")),
        ])
        .await;
}

/// The grants without a user and `private_key_jwt`: hostile assertions, each a clear OAuth error.
async fn token_without_user(table: &mut Table<'_>, fixture: &Fixture) {
    use base64::Engine;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let url = table.rig.auth("/token");
    let form = |body: String| Req::post(&url).form(body);
    let bearer = |assertion: &str| {
        form(format!(
            "grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion={assertion}"
        ))
    };
    let assertion_type = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    let with_assertion = |assertion: &str, kind: &str| {
        form(format!(
            "grant_type=client_credentials&client_assertion_type={kind}&client_assertion={assertion}"
        ))
    };
    let claims = b64(br#"{"iss":"https://nobody.example","sub":"x","aud":"x","exp":9999999999}"#);
    let unsigned = format!("{}.{claims}.", b64(br#"{"alg":"none"}"#));
    let hmac = format!("{}.{claims}.c2ln", b64(br#"{"alg":"HS256"}"#));
    let untrusted = format!("{}.{claims}.c2ln", b64(br#"{"alg":"ES256"}"#));
    let huge = format!("{}.{}.c2ln", b64(br#"{"alg":"ES256"}"#), "A".repeat(9000));
    let (basic_id, basic_secret) = (&fixture.basic.0, &fixture.basic.1);
    let grant = oauth(400, "invalid_grant");
    let client = oauth(401, "invalid_client");
    let request = oauth(400, "invalid_request");
    table
        .all(vec![
            ("client_credentials: no client authentication", form("grant_type=client_credentials".into()), client),
            ("client_credentials: a public client", form(format!("grant_type=client_credentials&client_id={}", fixture.public)), oauth(400, "unauthorized_client")),
            ("client_credentials: a client not registered for it", form("grant_type=client_credentials".into()).basic(basic_id, basic_secret), oauth(400, "unauthorized_client")),
            ("jwt-bearer: no assertion", form("grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer".into()), request),
            ("jwt-bearer: assertion twice", form(format!("grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion={untrusted}&assertion={untrusted}")), request),
            ("jwt-bearer: not a JWT", bearer("garbage"), grant),
            ("jwt-bearer: alg none", bearer(&unsigned), grant),
            ("jwt-bearer: HS256", bearer(&hmac), grant),
            ("jwt-bearer: an untrusted issuer", bearer(&untrusted), grant),
            ("jwt-bearer: 9 KB", bearer(&huge), grant),
            ("token-exchange: not offered by this issuer", form("grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token=x".into()), oauth(400, "unsupported_grant_type")),
            ("client assertion: not a JWT, no client_id", with_assertion("garbage", assertion_type), client),
            ("client assertion: alg none", with_assertion(&unsigned, assertion_type), client),
            ("client assertion: the wrong type", with_assertion(&untrusted, "urn:example:saml"), client),
            ("client assertion: the type without an assertion", form(format!("grant_type=client_credentials&client_assertion_type={assertion_type}")), request),
            ("client assertion: with Basic too", with_assertion(&untrusted, assertion_type).basic(basic_id, basic_secret), request),
            ("client assertion: for a client with a secret", form(format!("grant_type=client_credentials&client_id={basic_id}&client_assertion_type={assertion_type}&client_assertion={untrusted}")), client),
        ])
        .await;
    let rig = table.rig;
    let post = |path: &str, body: &str| Req::post(rig.auth(path)).json(body.as_bytes().to_vec());
    let bad = plain(400);
    table
        .all(vec![
            ("control: trust an issuer without keys", post("/control/assertion-issuers", r#"{"issuer":"https://i.example"}"#), bad),
            ("control: trust an issuer with two sources of keys", post("/control/assertion-issuers", r#"{"issuer":"https://i.example","generate_key":"ES256","rig_issuer":"main"}"#), bad),
            ("control: an assertion of an unknown issuer", post("/control/assertions", r#"{"issuer":"https://nobody.example","sub":"x"}"#), bad),
            ("control: an ID token without aud", post("/control/id-tokens", r#"{"sub":"x"}"#), bad),
            ("control: a key of an unknown algorithm", post("/control/clients", r#"{"client_id":"k","grant_types":["client_credentials"],"generate_key":"RS999"}"#), bad),
        ])
        .await;
}

async fn introspect(table: &mut Table<'_>, fixture: &Fixture) {
    let url = table.rig.auth("/introspect");
    let invalid = oauth(400, "invalid_request");
    table
        .all(vec![
            (
                "introspect: PUT",
                Req::new("PUT", &url).form("token=x"),
                status(405),
            ),
            ("introspect: DELETE", Req::new("DELETE", &url), status(405)),
            (
                "introspect: token missing",
                Req::post(&url).form(""),
                invalid,
            ),
            (
                "introspect: token empty",
                Req::post(&url).form("token="),
                invalid,
            ),
            (
                "introspect: token duplicated",
                Req::post(&url).form("token=a&token=b"),
                invalid,
            ),
            (
                "introspect: JSON body",
                Req::post(&url).json(r#"{"token":"a"}"#),
                invalid,
            ),
            (
                "introspect: no Content-Type",
                Req::post(&url).body("token=a"),
                invalid,
            ),
            (
                "introspect: invalid UTF-8",
                Req::post(&url).form(b"token=\xff".to_vec()),
                invalid,
            ),
            ("introspect: GET without token", Req::get(&url), invalid),
            (
                "introspect: GET token of invalid UTF-8",
                Req::get(format!("{url}?token=%FF")),
                invalid,
            ),
            (
                "introspect: GET token duplicated",
                Req::get(format!("{url}?token=a&token=b")),
                invalid,
            ),
            (
                "introspect: unknown token is inactive",
                Req::post(&url).form("token=nope"),
                status(200),
            ),
            (
                "introspect: a refresh token is inactive",
                Req::post(&url).form(urlencode(&[("token", &fixture.refresh)])),
                status(200),
            ),
        ])
        .await;
}

async fn revoke(table: &mut Table<'_>, fixture: &Fixture) {
    let url = table.rig.auth("/revoke");
    let invalid = oauth(400, "invalid_request");
    let (basic_id, _) = &fixture.basic;
    table
        .all(vec![
            (
                "revoke: GET",
                Req::get(format!("{url}?token=x")),
                status(405),
            ),
            ("revoke: token missing", Req::post(&url).form(""), invalid),
            (
                "revoke: token empty",
                Req::post(&url).form("token="),
                invalid,
            ),
            (
                "revoke: token duplicated",
                Req::post(&url).form("token=a&token=b"),
                invalid,
            ),
            (
                "revoke: token_type_hint duplicated",
                Req::post(&url)
                    .form("token=a&token_type_hint=refresh_token&token_type_hint=access_token"),
                invalid,
            ),
            (
                "revoke: JSON body",
                Req::post(&url).json(r#"{"token":"a"}"#),
                invalid,
            ),
            (
                "revoke: invalid UTF-8",
                Req::post(&url).form(b"token=\xff\xfe".to_vec()),
                invalid,
            ),
            (
                "revoke: Basic with the wrong secret",
                Req::post(&url).form("token=a").basic(basic_id, "wrong"),
                basic_challenge(),
            ),
            (
                "revoke: Basic malformed",
                Req::post(&url)
                    .form("token=a")
                    .header("authorization", "Basic %%%"),
                basic_challenge(),
            ),
            (
                "revoke: unknown token is fine",
                Req::post(&url).form("token=nope"),
                status(200),
            ),
            (
                "revoke: refresh token of another client",
                Req::post(&url).form(urlencode(&[
                    ("token", &fixture.refresh),
                    ("client_id", &fixture.other),
                ])),
                oauth(400, "unauthorized_client"),
            ),
        ])
        .await;
}

async fn mcp_bearer(table: &mut Table<'_>, fixture: &Fixture) {
    let rig = table.rig;
    let list = tools_list();
    let call = |authorization: &[u8]| {
        Req::mcp_call(rig, None, &list).header("authorization", authorization)
    };
    let token = fixture.access.as_str();
    let malformed = bearer(400, Some("invalid_request"));
    let invalid_token = bearer(401, Some("invalid_token"));
    let whoami = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "whoami", "arguments": {}}}).to_string();
    table
        .all(vec![
            (
                "mcp bearer: no token",
                Req::mcp_call(rig, None, &list),
                bearer(401, None),
            ),
            (
                "mcp bearer: token in the query only",
                Req::post(rig.mcp(&format!("/mcp?access_token={token}")))
                    .streamable()
                    .json(list.clone()),
                bearer(401, None),
            ),
            (
                "mcp bearer: lower-case scheme",
                call(format!("bearer {token}").as_bytes()),
                rpc_result(),
            ),
            (
                "mcp bearer: upper-case scheme",
                call(format!("BEARER {token}").as_bytes()),
                rpc_result(),
            ),
            (
                "mcp bearer: extra spaces",
                call(format!("Bearer    {token}  ").as_bytes()),
                rpc_result(),
            ),
            (
                "mcp bearer: two tokens",
                call(format!("Bearer {token} {token}").as_bytes()),
                malformed,
            ),
            (
                "mcp bearer: two tokens with a comma",
                call(format!("Bearer {token},{token}").as_bytes()),
                malformed,
            ),
            (
                "mcp bearer: two Authorization headers",
                call(format!("Bearer {token}").as_bytes()).bearer(token),
                malformed,
            ),
            ("mcp bearer: scheme only", call(b"Bearer"), malformed),
            (
                "mcp bearer: scheme and spaces",
                call(b"Bearer   "),
                malformed,
            ),
            (
                "mcp bearer: a quote in the token",
                call(b"Bearer a\"b"),
                malformed,
            ),
            ("mcp bearer: only padding", call(b"Bearer ==="), malformed),
            (
                "mcp bearer: non-ASCII bytes",
                call(b"Bearer \xe9t\xe9"),
                malformed,
            ),
            (
                "mcp bearer: tab after the scheme",
                call(format!("Bearer\t{token}").as_bytes()),
                bearer(401, None),
            ),
            (
                "mcp bearer: Basic scheme",
                call(b"Basic dXNlcjpwYXNz"),
                bearer(401, None),
            ),
            (
                "mcp bearer: no scheme",
                call(token.as_bytes()),
                bearer(401, None),
            ),
            (
                "mcp bearer: unknown token",
                call(b"Bearer no-such-token"),
                invalid_token,
            ),
            (
                "mcp bearer: a refresh token",
                call(format!("Bearer {}", fixture.refresh).as_bytes()),
                invalid_token,
            ),
            (
                "mcp bearer: a 5000-character token",
                call(format!("Bearer {}", "a".repeat(5000)).as_bytes()),
                invalid_token,
            ),
            (
                "mcp bearer: the token with one character changed",
                call(format!("Bearer {}x", &token[..token.len() - 1]).as_bytes()),
                invalid_token,
            ),
            (
                "mcp bearer: narrow token calls whoami",
                Req::mcp_call(rig, Some(&fixture.narrow_access), &whoami),
                bearer(403, Some("insufficient_scope")),
            ),
        ])
        .await;
}

async fn mcp_transport(table: &mut Table<'_>, fixture: &Fixture) {
    let rig = table.rig;
    let url = rig.mcp("/mcp");
    let token = fixture.access.as_str();
    let list = tools_list();
    table
        .all(vec![
            (
                "mcp: GET without a token is challenged first",
                Req::get(&url),
                bearer(401, None),
            ),
            (
                "mcp: GET with a token (stateless)",
                Req::get(&url).streamable().bearer(token),
                status(405),
            ),
            (
                "mcp: DELETE with a token (stateless)",
                Req::new("DELETE", &url).streamable().bearer(token),
                status(405),
            ),
            (
                "mcp: PUT with a token",
                Req::new("PUT", &url)
                    .streamable()
                    .bearer(token)
                    .json(list.clone()),
                status(405),
            ),
            (
                "mcp: no Accept",
                Req::post(&url).bearer(token).json(list.clone()),
                status(406),
            ),
            (
                "mcp: Accept JSON only",
                Req::post(&url)
                    .bearer(token)
                    .header("accept", "application/json")
                    .json(list.clone()),
                status(406),
            ),
            (
                "mcp: text/plain body",
                Req::post(&url)
                    .streamable()
                    .bearer(token)
                    .header("content-type", "text/plain")
                    .body(list.clone()),
                status(415),
            ),
            (
                "mcp: form body",
                Req::post(&url).streamable().bearer(token).form("a=b"),
                status(415),
            ),
            (
                "mcp: unknown protocol version",
                Req::post(&url)
                    .bearer(token)
                    .header("accept", "application/json, text/event-stream")
                    .header("mcp-protocol-version", "1999-01-01")
                    .json(list.clone()),
                status(400),
            ),
            (
                "mcp: foreign Origin",
                Req::mcp_call(rig, Some(token), &list).header("origin", "https://evil.example"),
                status(403),
            ),
            (
                "mcp: foreign Host",
                Req::mcp_call(rig, Some(token), &list).header("host", "evil.example"),
                status(403),
            ),
        ])
        .await;
}

async fn mcp_json_rpc(table: &mut Table<'_>, fixture: &Fixture) {
    let rig = table.rig;
    let send = |token: &str, body: &[u8]| {
        Req::post(rig.mcp("/mcp"))
            .streamable()
            .bearer(token)
            .json(body.to_vec())
    };
    let full = fixture.access.as_str();
    let narrow = fixture.narrow_access.as_str();
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let parse_error = rpc(400, -32700);
    let invalid = rpc(400, -32600);
    table
        .all(vec![
            ("json-rpc: not JSON", send(full, b"hello"), parse_error),
            ("json-rpc: empty body", send(full, b""), parse_error),
            ("json-rpc: truncated", send(full, br#"{"jsonrpc":"2.0","id":1,"method":"tools/list""#), parse_error),
            ("json-rpc: invalid UTF-8", send(full, b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/\xff\"}"), parse_error),
            ("json-rpc: nested 100k deep", send(full, nested.as_bytes()), parse_error),
            ("json-rpc: an empty object", send(full, b"{}"), invalid),
            ("json-rpc: a number", send(full, b"42"), invalid),
            ("json-rpc: version 1.0", send(full, br#"{"jsonrpc":"1.0","id":1,"method":"tools/list"}"#), invalid),
            ("json-rpc: no version", send(full, br#"{"id":1,"method":"tools/list"}"#), invalid),
            ("json-rpc: method a number", send(full, br#"{"jsonrpc":"2.0","id":1,"method":7}"#), invalid),
            ("json-rpc: id an object", send(full, br#"{"jsonrpc":"2.0","id":{},"method":"tools/list"}"#), invalid),
            ("json-rpc: empty batch", send(full, b"[]"), invalid),
            ("json-rpc: batch of two", send(full, format!("[{},{}]", tools_list(), tools_list()).as_bytes()), invalid),
            (
                "json-rpc: batch smuggling a scoped tool call",
                send(narrow, br#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":{}}}]"#),
                invalid,
            ),
            (
                "json-rpc: duplicate method key",
                send(full, br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call"}"#),
                parse_error,
            ),
            (
                "json-rpc: duplicate tool name smuggling a scoped tool",
                send(narrow, br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"whoami","arguments":{}}}"#),
                parse_error,
            ),
            (
                "json-rpc: duplicate id key",
                send(full, br#"{"jsonrpc":"2.0","id":1,"id":2,"method":"tools/list"}"#),
                parse_error,
            ),
            ("json-rpc: unknown method", send(full, br#"{"jsonrpc":"2.0","id":1,"method":"no/such"}"#), rpc(200, -32601)),
            ("json-rpc: unknown tool", send(full, br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"nope","arguments":{}}}"#), rpc(200, -32602)),
            ("json-rpc: tool name a number", send(full, br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":5}}"#), rpc(200, -32601)),
            ("json-rpc: echo without arguments", send(full, br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}"#), tool_error()),
            ("json-rpc: echo with a number", send(full, br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":5}}}"#), tool_error()),
            ("json-rpc: add of huge numbers", send(full, br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":1e308,"b":1e308}}}"#), status(200)),
            ("json-rpc: params an array", send(full, br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":[]}"#), invalid),
            ("json-rpc: a notification is accepted", send(full, br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#), status(202)),
            ("json-rpc: a response to a stateless server", send(full, br#"{"jsonrpc":"2.0","id":9,"result":{}}"#), invalid),
            ("json-rpc: an error response from the client", send(full, br#"{"jsonrpc":"2.0","id":9,"error":{"code":1,"message":"x"}}"#), invalid),
            ("json-rpc: id null", send(full, br#"{"jsonrpc":"2.0","id":null,"method":"tools/list"}"#), invalid),
            ("json-rpc: id a float", send(full, br#"{"jsonrpc":"2.0","id":1.5,"method":"tools/list"}"#), invalid),
        ])
        .await;
}

async fn control_plane(table: &mut Table<'_>) {
    let rig = table.rig;
    let auth = |path: &str| rig.auth(path);
    let mcp = |path: &str| rig.mcp(path);
    let post = |url: String, body: &[u8]| Req::post(url).json(body.to_vec());
    let bad = plain(400);
    table
        .all(vec![
            (
                "control: malformed JSON",
                post(auth("/control/rotate"), b"{"),
                bad,
            ),
            (
                "control: empty body for a switch",
                post(auth("/control/rotate"), b""),
                bad,
            ),
            (
                "control: a string for a bool",
                post(auth("/control/rotate"), br#"{"on":"yes"}"#),
                bad,
            ),
            (
                "control: an unknown field",
                post(auth("/control/rotate"), br#"{"on":true,"off":false}"#),
                bad,
            ),
            (
                "control: an array",
                post(auth("/control/rotate"), b"[true]"),
                bad,
            ),
            (
                "control: invalid UTF-8",
                post(auth("/control/rotate"), b"{\"on\":\"\xff\"}"),
                bad,
            ),
            (
                "control: duplicate keys",
                post(auth("/control/rotate"), br#"{"on":true,"on":false}"#),
                bad,
            ),
            (
                "control: GET of a POST call",
                Req::get(auth("/control/rotate")),
                plain(405),
            ),
            (
                "control: unknown call",
                post(auth("/control/nope"), b"{}"),
                plain(404),
            ),
            (
                "control: negative lifetime",
                post(auth("/control/expires-in"), br#"{"seconds":-5}"#),
                bad,
            ),
            (
                "control: lifetime past u64",
                post(
                    auth("/control/expires-in"),
                    br#"{"seconds":18446744073709551616}"#,
                ),
                bad,
            ),
            (
                "control: lifetime a float",
                post(auth("/control/expires-in"), br#"{"seconds":1.5}"#),
                bad,
            ),
            (
                "control: lifetime of ten millennia",
                post(auth("/control/expires-in"), br#"{"seconds":315360000000}"#),
                bad,
            ),
            (
                "control: clock past i64",
                post(
                    auth("/control/clock"),
                    br#"{"advance_seconds":9223372036854775807}"#,
                ),
                bad,
            ),
            (
                "control: clock to before the epoch",
                post(
                    auth("/control/clock"),
                    br#"{"advance_seconds":-9223372036854775808}"#,
                ),
                bad,
            ),
            (
                "control: clock move and reset",
                post(
                    auth("/control/clock"),
                    br#"{"advance_seconds":1,"reset":true}"#,
                ),
                bad,
            ),
            (
                "control: clock without arguments",
                post(auth("/control/clock"), b"{}"),
                bad,
            ),
            (
                "control: consent without grant_scope",
                post(auth("/control/consent"), b"{}"),
                bad,
            ),
            (
                "control: consent of an unknown scope",
                post(auth("/control/consent"), br#"{"grant_scope":"root"}"#),
                bad,
            ),
            (
                "control: seed an empty refresh token",
                post(auth("/control/seed-refresh"), br#"{"token":""}"#),
                bad,
            ),
            (
                "control: seed a token with a space",
                post(auth("/control/seed-refresh"), br#"{"token":"a b"}"#),
                bad,
            ),
            (
                "control: reuse grace of a day",
                post(
                    auth("/control/reuse-detection"),
                    br#"{"on":true,"grace_seconds":86400}"#,
                ),
                bad,
            ),
            (
                "control: revoke-access with arguments",
                post(auth("/control/revoke-access"), br#"{"all":true}"#),
                bad,
            ),
            (
                "control: reset with an array",
                post(auth("/control/reset"), b"[1]"),
                bad,
            ),
            (
                "control: fault of garbage",
                post(auth("/control/faults"), b"garbage"),
                bad,
            ),
            (
                "control: fault for no endpoint",
                post(
                    auth("/control/faults"),
                    br#"{"endpoint":"nowhere","respond":{"status":503}}"#,
                ),
                bad,
            ),
            (
                "control: fault of status 999",
                post(
                    auth("/control/faults"),
                    br#"{"endpoint":"token","respond":{"status":999}}"#,
                ),
                bad,
            ),
            (
                "control: fault of status 0",
                post(
                    auth("/control/faults"),
                    br#"{"endpoint":"token","respond":{"status":0}}"#,
                ),
                bad,
            ),
            (
                "control: fault of two answers",
                post(
                    auth("/control/faults"),
                    br#"{"endpoint":"token","respond":{"status":503,"drop":true}}"#,
                ),
                bad,
            ),
            (
                "control: fault of a day's delay",
                post(
                    auth("/control/faults"),
                    br#"{"endpoint":"token","respond":{"delay_ms":86400000}}"#,
                ),
                bad,
            ),
            (
                "control: delete fault of no number",
                Req::new("DELETE", auth("/control/faults/abc")),
                plain(404),
            ),
            (
                "control: delete fault past u64",
                Req::new("DELETE", auth("/control/faults/99999999999999999999999")),
                plain(404),
            ),
            (
                "control: delete an unknown fault",
                Req::new("DELETE", auth("/control/faults/424242")),
                plain(404),
            ),
            (
                "control: events since a word",
                Req::get(auth("/control/events?since=abc")),
                bad,
            ),
            (
                "control: events of a negative limit",
                Req::get(auth("/control/events?limit=-1")),
                bad,
            ),
            (
                "control: events since invalid UTF-8",
                Req::get(auth("/control/events?since=%FF")),
                bad,
            ),
            (
                "control: events stream since a word",
                Req::get(auth("/control/events/stream?since=x")),
                bad,
            ),
            (
                "control: events stream resumed after the last id there is",
                Req::get(auth("/control/events/stream"))
                    .header("last-event-id", "18446744073709551615"),
                status(200),
            ),
            (
                "mcp control: events stream resumed after the last id there is",
                Req::get(mcp("/control/events/stream"))
                    .header("last-event-id", "18446744073709551615"),
                status(200),
            ),
            (
                "control: events since past u64",
                Req::get(auth("/control/events?since=18446744073709551616")),
                bad,
            ),
            (
                "control: from a browser",
                post(auth("/control/rotate"), br#"{"on":true}"#)
                    .header("origin", "https://evil.example"),
                plain(403),
            ),
            (
                "mcp control: force-403 of a number",
                post(mcp("/control/force-403"), br#"{"on":1}"#),
                bad,
            ),
            (
                "mcp control: unknown outage mode",
                post(mcp("/control/introspection-failure"), br#"{"mode":"500"}"#),
                bad,
            ),
            (
                "mcp control: tool scopes of a number",
                post(mcp("/control/tool-scopes"), br#"{"echo":5}"#),
                bad,
            ),
            (
                "mcp control: tool scopes of an unknown tool",
                post(mcp("/control/tool-scopes"), br#"{"nope":"mcp:x"}"#),
                bad,
            ),
            (
                "mcp control: tool scope with a quote",
                post(mcp("/control/tool-scopes"), br#"{"echo":"a\"b"}"#),
                bad,
            ),
            (
                "mcp control: reset with arguments",
                post(mcp("/control/reset"), br#"{"hard":true}"#),
                bad,
            ),
            (
                "mcp control: fault of garbage",
                post(mcp("/control/faults"), b"{]"),
                bad,
            ),
            (
                "mcp control: from a browser",
                Req::get(mcp("/control/state")).header("origin", "null"),
                plain(403),
            ),
            (
                "mcp control: unknown call",
                Req::get(mcp("/control/nope")),
                plain(404),
            ),
        ])
        .await;
}

async fn sizes_and_headers(table: &mut Table<'_>, fixture: &Fixture) {
    let rig = table.rig;
    let big_form = || {
        let mut body = b"token=".to_vec();
        body.resize(TWO_MIB, b'a');
        body
    };
    let big_json = || {
        let mut body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":""#.to_vec();
        body.resize(TWO_MIB, b'a');
        body.extend_from_slice(br#""}}}"#);
        body
    };
    let too_large = oauth(413, "invalid_request");
    let many_headers = (0..150).fold(
        Req::get(rig.mcp("/.well-known/oauth-protected-resource/mcp")),
        |request, n| request.header(&format!("x-junk-{n}"), "1"),
    );
    let huge_header = |url: String| Req::get(url).header("x-junk", "a".repeat(64 * 1024));
    table
        .all(vec![
            (
                "size: 2 MiB to /token",
                Req::post(rig.auth("/token")).form(big_form()),
                too_large,
            ),
            (
                "size: 2 MiB to /introspect",
                Req::post(rig.auth("/introspect")).form(big_form()),
                too_large,
            ),
            (
                "size: 2 MiB to /revoke",
                Req::post(rig.auth("/revoke")).form(big_form()),
                too_large,
            ),
            (
                "size: 2 MiB to /register",
                Req::post(rig.auth("/register")).json(big_json()),
                too_large,
            ),
            (
                "size: 2 MiB to /authorize",
                Req::post(rig.auth("/authorize")).form(big_form()),
                status(413),
            ),
            (
                "size: 2 MiB to AS /control",
                Req::post(rig.auth("/control/rotate")).json(big_json()),
                plain(413),
            ),
            (
                "size: 2 MiB to /mcp",
                Req::mcp_call(rig, Some(&fixture.access), "").json(big_json()),
                status(413),
            ),
            (
                "size: 2 MiB to MCP /control",
                Req::post(rig.mcp("/control/force-403")).json(big_json()),
                plain(413),
            ),
            (
                "size: a 64 KiB header to AS metadata",
                huge_header(rig.auth("/.well-known/oauth-authorization-server")),
                status(200),
            ),
            (
                "size: a 64 KiB header to PRM",
                huge_header(rig.mcp("/.well-known/oauth-protected-resource/mcp")),
                status(200),
            ),
            ("size: 150 headers", many_headers, status(431)),
            (
                "size: a 2 KiB path",
                Req::get(rig.auth(&format!("/{}", "p".repeat(2048)))),
                plain(404),
            ),
            (
                "size: a 64 KiB query to /authorize",
                Req::get(format!(
                    "{}?client_id={}",
                    rig.auth("/authorize"),
                    "c".repeat(60_000)
                )),
                page(),
            ),
        ])
        .await;
    // Headers past hyper's buffer (about 408 KiB) are refused before any handler runs. Sent
    // over a bare socket, in one write, as a hostile client would.
    let huge = |path: &str| {
        let mut head = format!("POST {path} HTTP/1.1\r\nhost: localhost\r\ncontent-length: 0\r\n")
            .into_bytes();
        for n in 0..8 {
            head.extend_from_slice(format!("x-junk-{n}: {}\r\n", "a".repeat(64 * 1024)).as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        head
    };
    table
        .raw(
            "size: 512 KiB of headers to the AS",
            rig.sim.oauth_addr(),
            huge("/token"),
            431,
        )
        .await;
    table
        .raw(
            "size: 512 KiB of headers to the MCP server",
            rig.sim.mcp_addr(),
            huge("/mcp"),
            431,
        )
        .await;
}
