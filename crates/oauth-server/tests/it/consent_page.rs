//! The consent page (`CONSENT=page`, `POST /control/consent-mode`): who asks, the scopes as
//! checkboxes, a user to act as, Approve and Deny posted to `/authorize/decision` with a
//! single-use ticket and a CSRF token; and every bad decision refused with a 4xx page.

use std::collections::BTreeMap;

use oauth_server::{Config, ConsentMode, User};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use serde_json::{Value, json};
use url::Url;

use crate::support::{Pkce, REDIRECT_URI, Rig, TestClient, query_param};

const SCOPES: &str = "mcp:tools mcp:write mcp:admin";

/// Three scopes; `demo-user` may have them all, `reader` only `mcp:tools`, `nobody` none.
fn config(mode: ConsentMode) -> Config {
    Config {
        scopes: SCOPES.split(' ').map(str::to_owned).collect(),
        consent: mode,
        users: vec![
            User::demo(),
            User {
                sub: "reader".into(),
                name: Some("Read-only Rita".into()),
                scopes: Some(vec!["mcp:tools".into()]),
            },
            User {
                sub: "nobody".into(),
                name: None,
                scopes: Some(Vec::new()),
            },
        ],
        ..Config::default()
    }
}

/// A consent page as answered, and its form read back by the stable names.
struct Page {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    html: String,
    /// The absolute URL the form posts to.
    action: Url,
    ticket: String,
    csrf: String,
    /// The scope checkboxes' values, each with whether it is ticked.
    scopes: Vec<(String, bool)>,
    /// The user radios' values (subjects), each with whether it is checked.
    users: Vec<(String, bool)>,
}

impl Page {
    /// The form fields, as a browser sends them for `decision` with `user` and `scopes`.
    fn form(&self, decision: &str, user: &str, scopes: &[&str]) -> Vec<(String, String)> {
        let mut form = vec![
            ("ticket".to_owned(), self.ticket.clone()),
            ("csrf".to_owned(), self.csrf.clone()),
            ("user".to_owned(), user.to_owned()),
            ("decision".to_owned(), decision.to_owned()),
        ];
        form.extend(scopes.iter().map(|scope| ("scope".into(), (*scope).into())));
        form
    }

    /// Approve as the first user with every scope ticked, as the page stands.
    fn approve_all(&self) -> Vec<(String, String)> {
        let ticked: Vec<&str> = self
            .scopes
            .iter()
            .map(|(scope, _)| scope.as_str())
            .collect();
        self.form("approve", &self.users[0].0, &ticked)
    }
}

/// The attributes of each `<input>` and `<form>` tag; maud writes them `name="value"`.
fn tags(html: &str) -> Vec<BTreeMap<String, String>> {
    html.split('<')
        .filter(|tag| tag.starts_with("input ") || tag.starts_with("form "))
        .map(|tag| {
            let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
            let mut attributes = BTreeMap::new();
            for part in tag.split(' ').skip(1) {
                let (name, value) = part.split_once('=').unwrap_or((part, "\"\""));
                let value = value.trim_matches('"');
                attributes.insert(name.to_owned(), unescape(value));
            }
            attributes
        })
        .collect()
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The text of the element with `id`.
fn text_of(html: &str, id: &str) -> String {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    let rest = &html[start..];
    let open = rest.find('>').unwrap() + 1;
    let mut depth = 0;
    let mut text = String::new();
    let mut inside_tag = false;
    for (offset, ch) in rest[open..].char_indices() {
        match ch {
            '<' => {
                inside_tag = true;
                let tail = &rest[open + offset..];
                if tail.starts_with("</") {
                    if depth == 0 {
                        break;
                    }
                    depth -= 1;
                } else {
                    depth += 1;
                }
            }
            '>' => inside_tag = false,
            _ if !inside_tag => text.push(ch),
            _ => {}
        }
    }
    unescape(&text)
}

/// Runs `/authorize` for `client` and reads the consent page it must answer.
async fn open_page(rig: &Rig, client: &TestClient, pkce: &Pkce, extra: &[(&str, &str)]) -> Page {
    let response = rig.authorize_raw(client, pkce, extra).await;
    let url = response.url().clone();
    let status = response.status();
    let headers = response.headers().clone();
    let html = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{html}");
    let tags = tags(&html);
    let value = |name: &str| {
        tags.iter()
            .find(|tag| tag.get("name").map(String::as_str) == Some(name))
            .and_then(|tag| tag.get("value").cloned())
            .unwrap_or_else(|| panic!("no {name} field in {html}"))
    };
    let choices = |name: &str| {
        tags.iter()
            .filter(|tag| tag.get("name").map(String::as_str) == Some(name))
            .map(|tag| (tag["value"].clone(), tag.contains_key("checked")))
            .collect()
    };
    let form = tags
        .iter()
        .find(|tag| tag.get("id").map(String::as_str) == Some("consent-form"))
        .expect("the form");
    Page {
        status,
        action: url.join(&form["action"]).unwrap(),
        ticket: value("ticket"),
        csrf: value("csrf"),
        scopes: choices("scope"),
        users: choices("user"),
        headers,
        html,
    }
}

/// POSTs a decision form to `action`.
async fn decide(rig: &Rig, action: &Url, form: &[(String, String)]) -> reqwest::Response {
    rig.http
        .post(action.clone())
        .form(form)
        .send()
        .await
        .unwrap()
}

/// The redirect a decision answered: its Location.
fn redirected(response: &reqwest::Response) -> Url {
    assert_eq!(response.status(), StatusCode::FOUND, "{response:?}");
    Url::parse(response.headers()[LOCATION].to_str().unwrap()).unwrap()
}

/// Asserts a refusal: the status, an HTML page that says `why`, no redirect, the page headers.
async fn assert_refused(response: reqwest::Response, status: StatusCode, why: &str) {
    assert_eq!(response.status(), status);
    assert!(
        response.headers().get(LOCATION).is_none(),
        "never a redirect"
    );
    assert_frameless(response.headers());
    let html = response.text().await.unwrap();
    assert!(text_of(&html, "reason").contains(why), "{why}: {html}");
}

/// The headers every page of the consent flow has.
fn assert_frameless(headers: &reqwest::header::HeaderMap) {
    assert_eq!(headers[CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(headers[CACHE_CONTROL], "no-store");
    assert_eq!(headers["x-frame-options"], "DENY");
    let policy = headers["content-security-policy"].to_str().unwrap();
    for directive in [
        "frame-ancestors 'none'",
        "default-src 'none'",
        "style-src 'unsafe-inline'",
    ] {
        assert!(policy.contains(directive), "{policy}");
    }
    assert_eq!(headers["referrer-policy"], "no-referrer");
}

async fn exchange(rig: &Rig, client: &TestClient, redirect: &Url, pkce: &Pkce) -> Value {
    let code = query_param(redirect, "code").expect("a code");
    let (status, body) = rig.exchange(client, &code, pkce).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn approving_issues_a_code_for_the_chosen_user_and_the_ticked_scopes() {
    // Arrange
    let rig = Rig::start_with(config(ConsentMode::Page)).await;
    let client = rig.public_client().await;
    let pkce = Pkce::new();
    let page = open_page(&rig, &client, &pkce, &[("scope", "mcp:tools mcp:write")]).await;
    assert_eq!(rig.state().await["consent"]["pending"], json!(1));

    // Act
    let form = page.form("approve", "reader", &["mcp:tools"]);
    let redirect = redirected(&decide(&rig, &page.action, &form).await);

    // Assert: exactly the redirect automatic consent gives, and the grant the person chose.
    assert!(redirect.as_str().starts_with(REDIRECT_URI), "{redirect}");
    assert_eq!(query_param(&redirect, "state").as_deref(), Some("st4te"));
    assert_eq!(
        query_param(&redirect, "iss"),
        Some(rig.server.issuer().to_owned())
    );
    let tokens = exchange(&rig, &client, &redirect, &pkce).await;
    assert_eq!(tokens["scope"], json!("mcp:tools"));
    let introspected = rig
        .introspect(tokens["access_token"].as_str().unwrap())
        .await;
    assert_eq!(introspected["sub"], json!("reader"));
    assert_eq!(introspected["scope"], json!("mcp:tools"));
    let state = rig.state().await;
    assert_eq!(state["counters"]["authorizations"], json!(1));
    assert_eq!(state["consent"]["pending"], json!(0));
    let events = rig.events(0).await;
    let noted: Vec<&Value> = events.iter().map(|event| &event["note"]).collect();
    assert!(noted.contains(&&json!("consent page shown")), "{events:?}");
    assert!(
        noted.contains(&&json!("consent page: approved, narrowed")),
        "{events:?}"
    );
}

#[tokio::test]
async fn approving_everything_as_the_first_user_grants_what_was_asked() {
    let rig = Rig::start_with(config(ConsentMode::Page)).await;
    let client = rig.public_client().await;
    let pkce = Pkce::new();
    let page = open_page(&rig, &client, &pkce, &[]).await;
    assert_eq!(
        page.scopes.len(),
        3,
        "no scope asked: every scope is offered"
    );

    let redirect = redirected(&decide(&rig, &page.action, &page.approve_all()).await);

    let tokens = exchange(&rig, &client, &redirect, &pkce).await;
    assert_eq!(tokens["scope"], json!(SCOPES));
    let introspected = rig
        .introspect(tokens["access_token"].as_str().unwrap())
        .await;
    assert_eq!(introspected["sub"], json!("demo-user"));
}

#[tokio::test]
async fn denying_redirects_access_denied_with_state_and_iss() {
    let rig = Rig::start_with(config(ConsentMode::Page)).await;
    let client = rig.public_client().await;
    let page = open_page(&rig, &client, &Pkce::new(), &[]).await;

    let redirect = redirected(&decide(&rig, &page.action, &page.form("deny", "", &[])).await);

    assert!(redirect.as_str().starts_with(REDIRECT_URI), "{redirect}");
    assert_eq!(
        query_param(&redirect, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(&redirect, "code"), None);
    assert_eq!(query_param(&redirect, "state").as_deref(), Some("st4te"));
    assert_eq!(
        query_param(&redirect, "iss"),
        Some(rig.server.issuer().to_owned())
    );
    let counters = &rig.state().await["counters"];
    assert_eq!(counters["consent_denials"], json!(1));
    assert_eq!(counters["authorizations"], json!(0));
}

#[tokio::test]
async fn unticking_a_scope_narrows_the_grant_and_the_refresh_stays_within_it() {
    let rig = Rig::start_with(config(ConsentMode::Page)).await;
    let client = rig.public_client().await;
    let pkce = Pkce::new();
    let page = open_page(&rig, &client, &pkce, &[("scope", SCOPES)]).await;

    let form = page.form("approve", "demo-user", &["mcp:tools", "mcp:admin"]);
    let redirect = redirected(&decide(&rig, &page.action, &form).await);

    let tokens = exchange(&rig, &client, &redirect, &pkce).await;
    assert_eq!(tokens["scope"], json!("mcp:tools mcp:admin"));
    let (status, body) = rig
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", &client.id),
            ("scope", "mcp:write"),
        ])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], json!("invalid_scope"));
}

#[tokio::test]
async fn a_users_scopes_cap_the_grant_and_a_user_with_none_gets_access_denied() {
    let rig = Rig::start_with(config(ConsentMode::Page)).await;
    let client = rig.public_client().await;

    // `reader` may only have mcp:tools: the rest of what was ticked is not granted.
    let pkce = Pkce::new();
    let page = open_page(&rig, &client, &pkce, &[("scope", SCOPES)]).await;
    let ticked = ["mcp:tools", "mcp:write", "mcp:admin"];
    let redirect =
        redirected(&decide(&rig, &page.action, &page.form("approve", "reader", &ticked)).await);
    assert_eq!(
        exchange(&rig, &client, &redirect, &pkce).await["scope"],
        json!("mcp:tools")
    );

    // `nobody` may have no scope: the answer is a denial.
    let page = open_page(&rig, &client, &Pkce::new(), &[("scope", SCOPES)]).await;
    let redirect =
        redirected(&decide(&rig, &page.action, &page.form("approve", "nobody", &ticked)).await);
    assert_eq!(
        query_param(&redirect, "error").as_deref(),
        Some("access_denied")
    );
    assert!(
        query_param(&redirect, "error_description")
            .unwrap()
            .contains("'nobody' may be granted none")
    );
    assert_eq!(query_param(&redirect, "state").as_deref(), Some("st4te"));
}

#[tokio::test]
async fn the_page_shows_who_asks_the_scopes_ticked_and_every_user() {
    let rig = Rig::start_with(config(ConsentMode::Page)).await;
    let client = rig.public_client().await;

    let page = open_page(
        &rig,
        &client,
        &Pkce::new(),
        &[("scope", "mcp:tools mcp:write")],
    )
    .await;

    assert_eq!(page.status, StatusCode::OK);
    assert_frameless(&page.headers);
    assert_eq!(text_of(&page.html, "client-name"), "test client");
    assert_eq!(text_of(&page.html, "client-id"), client.id);
    assert_eq!(text_of(&page.html, "client-kind"), "dynamic");
    assert_eq!(text_of(&page.html, "redirect-host"), "127.0.0.1:8765");
    assert_eq!(text_of(&page.html, "redirect-uri"), REDIRECT_URI);
    assert_eq!(
        page.scopes,
        [
            ("mcp:tools".to_owned(), true),
            ("mcp:write".to_owned(), true)
        ]
    );
    assert_eq!(
        page.users,
        [
            ("demo-user".to_owned(), true),
            ("reader".to_owned(), false),
            ("nobody".to_owned(), false)
        ]
    );
    assert!(text_of(&page.html, "users").contains("Read-only Rita"));
    assert_eq!(page.action.path(), "/authorize/decision");
    assert_eq!(page.ticket.len(), 43);
    assert_eq!(page.csrf.len(), 43);
    assert_ne!(page.ticket, page.csrf);
    for id in ["approve", "deny", "scope-0", "scope-1", "user-0"] {
        assert!(page.html.contains(&format!("id=\"{id}\"")), "#{id}");
    }
    assert!(!page.html.contains("<script"), "no script at all");
}

#[tokio::test]
async fn a_pre_registered_client_without_a_name_is_shown_by_its_id() {
    let rig = Rig::start_with(config(ConsentMode::Page)).await;
    let (status, body) = rig
        .control(
            "/control/clients",
            Some(json!({
                "client_id": "cli-tool",
                "auth_method": "none",
                "redirect_uris": [REDIRECT_URI],
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let client = TestClient {
        id: "cli-tool".into(),
        secret: None,
    };

    let page = open_page(&rig, &client, &Pkce::new(), &[]).await;

    assert_eq!(text_of(&page.html, "client-name"), "cli-tool");
    assert_eq!(text_of(&page.html, "client-kind"), "pre-registered");
}

#[tokio::test]
async fn next_one_shows_the_page_once_then_authorizations_are_automatic_again() {
    let rig = Rig::start_with(config(ConsentMode::Auto)).await;
    let client = rig.public_client().await;
    let (status, state) = rig
        .control(
            "/control/consent-mode",
            Some(json!({"mode": "page", "next": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{state}");
    assert_eq!(state["consent"]["mode"], json!("page"));
    assert_eq!(state["consent"]["next"], json!(1));

    let page = open_page(&rig, &client, &Pkce::new(), &[]).await;
    let after = rig.state().await;
    let pkce = Pkce::new();
    let automatic = rig.authorize(&client, &pkce, &[]).await;

    assert_eq!(after["consent"]["mode"], json!("auto"));
    assert_eq!(after["consent"]["next"], json!(null));
    exchange(&rig, &client, &automatic, &pkce).await;
    // The page already shown can still be answered.
    redirected(&decide(&rig, &page.action, &page.approve_all()).await);
}

#[tokio::test]
async fn the_mode_switches_at_run_time_and_a_reset_goes_back_to_the_configured_one() {
    let rig = Rig::start_with(config(ConsentMode::Page)).await;
    let client = rig.public_client().await;
    assert_eq!(rig.state().await["consent"]["mode"], json!("page"));
    open_page(&rig, &client, &Pkce::new(), &[]).await;

    let (status, state) = rig
        .control("/control/consent-mode", Some(json!({"mode": "auto"})))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["consent"]["mode"], json!("auto"));
    let pkce = Pkce::new();
    let redirect = rig.authorize(&client, &pkce, &[]).await;
    exchange(&rig, &client, &redirect, &pkce).await;

    let (_, state) = rig.control("/control/reset", None).await;
    assert_eq!(state["consent"]["mode"], json!("page"));
    assert_eq!(
        state["consent"]["pending"],
        json!(0),
        "a reset drops the tickets"
    );

    for wrong in [
        json!({"mode": "sometimes"}),
        json!({"mode": "page", "next": 0}),
        json!({"mode": "auto", "next": 2}),
        json!({"mode": "page", "next": -1}),
        json!({}),
        json!({"mode": "page", "extra": true}),
    ] {
        let (status, _) = rig
            .control_text("/control/consent-mode", wrong.clone())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{wrong}");
    }
}

#[tokio::test]
async fn a_fault_answers_before_the_page_exactly_as_in_auto_mode() {
    let rig = Rig::start_with(config(ConsentMode::Page)).await;
    let client = rig.public_client().await;
    rig.control("/control/deny-consent", Some(json!({"on": true})))
        .await;

    let redirect = rig.authorize(&client, &Pkce::new(), &[]).await;

    assert_eq!(
        query_param(&redirect, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(&redirect, "state").as_deref(), Some("st4te"));
    let state = rig.state().await;
    assert_eq!(state["consent"]["pending"], json!(0), "no page, no ticket");
    assert_eq!(state["counters"]["consent_denials"], json!(1));
}

#[tokio::test]
async fn the_decision_goes_beside_a_moved_authorization_endpoint() {
    let rig = Rig::start_with(config(ConsentMode::Page)).await;
    let client = rig.public_client().await;
    let (status, body) = rig
        .control(
            "/control/profile",
            Some(json!({"endpoint_prefix": "/oauth"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let pkce = Pkce::new();
    let response = rig
        .http
        .get(rig.url("/oauth/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", client.id.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_challenge", pkce.challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    let html = response.text().await.unwrap();
    let form = tags(&html)
        .into_iter()
        .find(|tag| tag.get("id").map(String::as_str) == Some("consent-form"))
        .expect("the form");
    assert_eq!(form["action"], "/oauth/authorize/decision");
    let field = |name: &str| {
        tags(&html)
            .into_iter()
            .find(|tag| tag.get("name").map(String::as_str) == Some(name))
            .unwrap()["value"]
            .clone()
    };
    let approved = rig
        .http
        .post(rig.url(&form["action"]))
        .form(&[
            ("ticket", field("ticket")),
            ("csrf", field("csrf")),
            ("decision", "approve".into()),
            ("user", "demo-user".into()),
            ("scope", "mcp:tools".into()),
        ])
        .send()
        .await
        .unwrap();
    let redirect = redirected(&approved);
    assert!(query_param(&redirect, "code").is_some(), "{redirect}");

    let unprefixed = rig
        .http
        .post(rig.url("/authorize/decision"))
        .form(&[("ticket", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(unprefixed.status(), StatusCode::NOT_FOUND);
}

// Bad input: each decision below is refused with a 4xx page, never a redirect, never a 5xx.

/// A page-mode rig, a client and a page open for it.
async fn rig_with_page() -> (Rig, TestClient, Page) {
    let rig = Rig::start_with(config(ConsentMode::Page)).await;
    let client = rig.public_client().await;
    let page = open_page(&rig, &client, &Pkce::new(), &[("scope", "mcp:tools")]).await;
    (rig, client, page)
}

/// Replaces (or with `None` drops) the field `name` of `form`.
fn with(form: &[(String, String)], name: &str, value: Option<&str>) -> Vec<(String, String)> {
    let mut changed: Vec<(String, String)> = form
        .iter()
        .filter(|(field, _)| field != name)
        .cloned()
        .collect();
    if let Some(value) = value {
        changed.push((name.to_owned(), value.to_owned()));
    }
    changed
}

#[tokio::test]
async fn a_forged_ticket_is_refused() {
    let (rig, _, page) = rig_with_page().await;
    let forged = with(&page.approve_all(), "ticket", Some("made-up-ticket"));

    let response = decide(&rig, &page.action, &forged).await;

    assert_refused(
        response,
        StatusCode::BAD_REQUEST,
        "no pending authorization",
    )
    .await;
    let dropped = with(&page.approve_all(), "ticket", None);
    let response = decide(&rig, &page.action, &dropped).await;
    assert_refused(response, StatusCode::BAD_REQUEST, "no ticket").await;
    // The real ticket still works.
    redirected(&decide(&rig, &page.action, &page.approve_all()).await);
}

#[tokio::test]
async fn a_replayed_decision_is_refused_the_ticket_is_single_use() {
    let (rig, _, page) = rig_with_page().await;
    redirected(&decide(&rig, &page.action, &page.approve_all()).await);

    let again = decide(&rig, &page.action, &page.approve_all()).await;
    assert_refused(again, StatusCode::BAD_REQUEST, "answered already").await;
    let deny = decide(&rig, &page.action, &page.form("deny", "", &[])).await;
    assert_refused(deny, StatusCode::BAD_REQUEST, "answered already").await;
    assert_eq!(rig.state().await["counters"]["authorizations"], json!(1));
}

#[tokio::test]
async fn an_expired_ticket_is_refused_once_the_clock_moves_past_ten_minutes() {
    let (rig, _, page) = rig_with_page().await;
    let (status, _) = rig
        .control("/control/clock", Some(json!({"advance_seconds": 601})))
        .await;
    assert_eq!(status, StatusCode::OK);

    let late = decide(&rig, &page.action, &page.approve_all()).await;

    assert_refused(late, StatusCode::BAD_REQUEST, "expired").await;
    let again = decide(&rig, &page.action, &page.approve_all()).await;
    assert_refused(again, StatusCode::BAD_REQUEST, "no pending authorization").await;
}

#[tokio::test]
async fn a_missing_or_wrong_csrf_token_is_refused() {
    let (rig, _, page) = rig_with_page().await;

    let missing = with(&page.approve_all(), "csrf", None);
    assert_refused(
        decide(&rig, &page.action, &missing).await,
        StatusCode::FORBIDDEN,
        "no CSRF token",
    )
    .await;
    let twice = [page.approve_all(), vec![("csrf".into(), page.csrf.clone())]].concat();
    assert_refused(
        decide(&rig, &page.action, &twice).await,
        StatusCode::FORBIDDEN,
        "no CSRF token",
    )
    .await;
    let mut wrong_csrf = page.csrf.clone();
    wrong_csrf.replace_range(
        0..1,
        if wrong_csrf.starts_with('A') {
            "B"
        } else {
            "A"
        },
    );
    let wrong = with(&page.approve_all(), "csrf", Some(&wrong_csrf));
    assert_refused(
        decide(&rig, &page.action, &wrong).await,
        StatusCode::FORBIDDEN,
        "does not belong",
    )
    .await;
    let denied = with(&page.form("deny", "", &[]), "csrf", Some(""));
    assert_refused(
        decide(&rig, &page.action, &denied).await,
        StatusCode::FORBIDDEN,
        "no CSRF token",
    )
    .await;

    // None of that used the ticket up.
    redirected(&decide(&rig, &page.action, &page.approve_all()).await);
}

#[tokio::test]
async fn the_csrf_token_of_another_clients_ticket_is_refused() {
    let (rig, _, mine) = rig_with_page().await;
    let other = rig.public_client().await;
    let theirs = open_page(&rig, &other, &Pkce::new(), &[]).await;

    // My ticket with their token, and theirs with mine.
    let crossed = with(&mine.approve_all(), "csrf", Some(&theirs.csrf));
    let answer = decide(&rig, &mine.action, &crossed).await;
    assert_refused(answer, StatusCode::FORBIDDEN, "does not belong").await;
    let crossed = with(&theirs.approve_all(), "csrf", Some(&mine.csrf));
    let answer = decide(&rig, &theirs.action, &crossed).await;
    assert_refused(answer, StatusCode::FORBIDDEN, "does not belong").await;

    // Each pair of its own still decides its own client's authorization.
    let redirect = redirected(&decide(&rig, &theirs.action, &theirs.approve_all()).await);
    assert!(query_param(&redirect, "code").is_some());
    redirected(&decide(&rig, &mine.action, &mine.approve_all()).await);
    assert_eq!(rig.state().await["counters"]["authorizations"], json!(2));
}

#[tokio::test]
async fn a_user_not_configured_is_refused_and_the_ticket_stays() {
    let (rig, _, page) = rig_with_page().await;

    let stranger = page.form("approve", "mallory", &["mcp:tools"]);
    let answer = decide(&rig, &page.action, &stranger).await;
    assert_refused(answer, StatusCode::BAD_REQUEST, "'mallory' is not one of").await;
    let nobody = with(&page.approve_all(), "user", None);
    let answer = decide(&rig, &page.action, &nobody).await;
    assert_refused(answer, StatusCode::BAD_REQUEST, "choose a user").await;

    redirected(&decide(&rig, &page.action, &page.approve_all()).await);
}

#[tokio::test]
async fn a_scope_the_ticket_did_not_ask_for_or_none_at_all_is_refused() {
    let (rig, _, page) = rig_with_page().await;

    // The ticket asked for mcp:tools only: mcp:admin is known, but not asked.
    let more = page.form("approve", "demo-user", &["mcp:tools", "mcp:admin"]);
    let answer = decide(&rig, &page.action, &more).await;
    assert_refused(
        answer,
        StatusCode::BAD_REQUEST,
        "'mcp:admin' was not asked for",
    )
    .await;
    let none = page.form("approve", "demo-user", &[]);
    let answer = decide(&rig, &page.action, &none).await;
    assert_refused(answer, StatusCode::BAD_REQUEST, "tick at least one scope").await;
    let odd = with(&page.approve_all(), "decision", Some("maybe"));
    let answer = decide(&rig, &page.action, &odd).await;
    assert_refused(answer, StatusCode::BAD_REQUEST, "approve or deny").await;

    let redirect = redirected(&decide(&rig, &page.action, &page.approve_all()).await);
    assert!(query_param(&redirect, "code").is_some());
}

#[tokio::test]
async fn a_body_too_large_another_content_type_or_method_is_refused() {
    let (rig, _, page) = rig_with_page().await;

    let padded = with(&page.approve_all(), "padding", Some(&"x".repeat(20_000)));
    let answer = decide(&rig, &page.action, &padded).await;
    assert_refused(answer, StatusCode::PAYLOAD_TOO_LARGE, "exceeds").await;
    let json_body = rig
        .http
        .post(page.action.clone())
        .json(&json!({"ticket": page.ticket, "csrf": page.csrf}))
        .send()
        .await
        .unwrap();
    assert_refused(json_body, StatusCode::UNSUPPORTED_MEDIA_TYPE, "form").await;
    let get = rig.http.get(page.action.clone()).send().await.unwrap();
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(get.headers()["allow"], "POST");

    redirected(&decide(&rig, &page.action, &page.approve_all()).await);
}

#[tokio::test]
async fn a_thousand_pending_tickets_are_bounded_the_oldest_dropped_and_the_server_keeps_serving() {
    let rig = Rig::start_with(config(ConsentMode::Page)).await;
    let client = rig.public_client().await;
    let first = open_page(&rig, &client, &Pkce::new(), &[]).await;
    let pkces: Vec<Pkce> = (0..1000).map(|_| Pkce::new()).collect();
    let requests = pkces
        .iter()
        .map(|pkce| rig.authorize_raw(&client, pkce, &[]));
    for response in futures::future::join_all(requests).await {
        assert_eq!(response.status(), StatusCode::OK);
    }

    let newest = open_page(&rig, &client, &Pkce::new(), &[]).await;

    assert_eq!(rig.state().await["consent"]["pending"], json!(1000));
    let dropped = decide(&rig, &first.action, &first.approve_all()).await;
    assert_refused(dropped, StatusCode::BAD_REQUEST, "dropped to make room").await;
    redirected(&decide(&rig, &newest.action, &newest.approve_all()).await);
    let (status, _) = rig
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_hostile_client_name_scope_and_redirect_uri_are_shown_escaped() {
    // A scope token may hold `<`, `>`, `'` and `/`: a tester's profile could name one.
    let hostile_scope = "<script>alert('scope')</script>";
    let rig = Rig::start_with(Config {
        scopes: vec!["mcp:tools".into(), hostile_scope.into()],
        consent: ConsentMode::Page,
        ..Config::default()
    })
    .await;
    let hostile_uri = "http://127.0.0.1:8765/cb?x=\"><script>alert('uri')</script>";
    let hostile_name = "<script>alert('name')</script><img src=x onerror=alert(1)>\"'&";
    let (status, body) = rig
        .register(json!({
            "redirect_uris": [hostile_uri],
            "token_endpoint_auth_method": "none",
            "client_name": hostile_name,
        }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let client = TestClient {
        id: body["client_id"].as_str().unwrap().to_owned(),
        secret: None,
    };

    let page = open_page(
        &rig,
        &client,
        &Pkce::new(),
        &[
            ("redirect_uri", hostile_uri),
            ("scope", &format!("mcp:tools {hostile_scope}")),
        ],
    )
    .await;

    assert!(!page.html.contains("<script"), "{}", page.html);
    assert!(!page.html.contains("<img"), "{}", page.html);
    assert!(page.html.contains("&lt;script&gt;"), "{}", page.html);
    assert_eq!(text_of(&page.html, "client-name"), hostile_name);
    assert_eq!(text_of(&page.html, "redirect-uri"), hostile_uri);
    assert_eq!(
        page.scopes[1].0, hostile_scope,
        "the value survives escaping"
    );
    // Approving it works, and the scope is granted as the string it is.
    let form = page.form("approve", "demo-user", &[hostile_scope]);
    let redirect = redirected(&decide(&rig, &page.action, &form).await);
    assert!(redirect.as_str().starts_with("http://127.0.0.1:8765/cb?x="));
    assert!(query_param(&redirect, "code").is_some());
}

#[tokio::test]
async fn the_mode_is_per_issuer_and_an_issuers_decision_goes_under_its_path() {
    let main = Rig::start_with(config(ConsentMode::Auto)).await;
    let (status, body) = main
        .control(
            "/control/issuers",
            Some(json!({"name": "tenant", "path": "/tenant"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, state) = main
        .control(
            "/control/issuers/tenant/consent-mode",
            Some(json!({"mode": "page"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{state}");
    assert_eq!(state["consent"]["mode"], json!("page"));
    let tenant = main.at(main.server.addr().port(), "/tenant");

    let client = tenant.public_client().await;
    let pkce = Pkce::new();
    let page = open_page(&tenant, &client, &pkce, &[]).await;
    let redirect = redirected(&decide(&tenant, &page.action, &page.approve_all()).await);

    assert_eq!(page.action.path(), "/tenant/authorize/decision");
    exchange(&tenant, &client, &redirect, &pkce).await;
    assert_eq!(main.state().await["consent"]["mode"], json!("auto"));
    let pkce = Pkce::new();
    let main_client = main.public_client().await;
    main.authorize(&main_client, &pkce, &[]).await;
    // Another issuer's ticket is not this one's.
    let elsewhere = main.url("/authorize/decision");
    let answer = decide(&main, &Url::parse(&elsewhere).unwrap(), &page.approve_all()).await;
    assert_refused(answer, StatusCode::BAD_REQUEST, "no pending authorization").await;
}

#[tokio::test]
async fn garbage_decision_bodies_are_refused_with_a_4xx_never_a_5xx() {
    let (rig, _, page) = rig_with_page().await;
    let bodies: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"\xff\xfe\xfd".to_vec(),
        b"ticket=%ZZ&csrf=%".to_vec(),
        b"&&&===&".to_vec(),
        format!("ticket={}&ticket={}", page.ticket, page.ticket).into_bytes(),
        "scope=a&".repeat(1500).into_bytes(),
        format!(
            "ticket={}&csrf={}&decision=approve&user=demo-user&user=reader",
            page.ticket, page.csrf
        )
        .into_bytes(),
    ];
    for body in bodies {
        let response = rig
            .http
            .post(page.action.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(status.is_client_error(), "{status} for {body:?}");
        assert!(response.headers().get(LOCATION).is_none());
    }
    redirected(&decide(&rig, &page.action, &page.approve_all()).await);
}

#[tokio::test]
async fn an_authorization_a_fault_answers_does_not_count_against_next() {
    let rig = Rig::start_with(config(ConsentMode::Auto)).await;
    let client = rig.public_client().await;
    rig.control(
        "/control/consent-mode",
        Some(json!({"mode": "page", "next": 1})),
    )
    .await;
    rig.control("/control/deny-consent", Some(json!({"on": true})))
        .await;

    let denied = rig.authorize(&client, &Pkce::new(), &[]).await;
    let (_, state) = rig
        .control("/control/deny-consent", Some(json!({"on": false})))
        .await;

    assert_eq!(
        query_param(&denied, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(state["consent"]["next"], json!(1), "{state}");
    open_page(&rig, &client, &Pkce::new(), &[]).await;
    assert_eq!(rig.state().await["consent"]["mode"], json!("auto"));
}
