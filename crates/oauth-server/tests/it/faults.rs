//! Fault rules (`/control/faults`): each kind of answer on each kind of endpoint, `times`,
//! `match`, the rule list, and the presets the original switches became.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Pkce, REDIRECT_URI, Rig, TestClient, query_param};

/// The endpoints that answer OAuth JSON, with a request each accepts at its fault point.
const JSON_ENDPOINTS: [&str; 5] = ["metadata", "register", "token", "introspect", "revoke"];

/// Sends `endpoint` a plain request, as a client would.
async fn hit(rig: &Rig, endpoint: &str, client: &TestClient) -> reqwest::Response {
    let http = &rig.http;
    let request = match endpoint {
        "metadata" => http.get(rig.url("/.well-known/oauth-authorization-server")),
        "register" => http
            .post(rig.url("/register"))
            .json(&json!({"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none"})),
        "token" => http.post(rig.url("/token")).form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "not-a-token"),
            ("client_id", &client.id),
        ]),
        "introspect" => http
            .post(rig.url("/introspect"))
            .form(&[("token", "not-a-token")]),
        "revoke" => http
            .post(rig.url("/revoke"))
            .form(&[("token", "not-a-token"), ("client_id", &client.id)]),
        other => panic!("no request for {other}"),
    };
    request.send().await.unwrap()
}

async fn json_of(response: reqwest::Response) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.json().await.unwrap())
}

#[tokio::test]
async fn an_error_fault_answers_oauth_json_on_every_json_endpoint() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    for endpoint in JSON_ENDPOINTS {
        let id = rig
            .fault(json!({"endpoint": endpoint, "respond": {"status": 503}, "times": 1}))
            .await;
        let (status, headers, body) = json_of(hit(&rig, endpoint, &client).await).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{endpoint}");
        assert_eq!(headers["retry-after"], "1", "{endpoint}");
        assert_eq!(headers["cache-control"], "no-store", "{endpoint}");
        assert_eq!(
            body,
            json!({"error": "temporarily_unavailable",
                   "error_description": format!("injected by fault rule {id}")}),
            "{endpoint}"
        );

        rig.fault(json!({"endpoint": endpoint, "times": 1, "respond":
            {"status": 400, "error": "invalid_request", "error_description": "injected"}}))
            .await;
        let (status, _, body) = json_of(hit(&rig, endpoint, &client).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{endpoint}");
        assert_eq!(
            body,
            json!({"error": "invalid_request", "error_description": "injected"}),
            "{endpoint}"
        );
    }
    let state = rig.state().await;
    assert_eq!(state["counters"]["faults_fired"], json!(10));
    assert_eq!(state["fault_rules"], json!(0));
}

#[tokio::test]
async fn an_error_fault_on_authorize_redirects_with_error_state_and_iss() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    rig.fault(json!({"endpoint": "authorize", "respond":
        {"status": 503, "error": "temporarily_unavailable", "error_description": "try later"}}))
        .await;
    let redirect = rig.authorize(&client, &Pkce::new(), &[]).await;
    assert!(redirect.as_str().starts_with(REDIRECT_URI), "{redirect}");
    assert_eq!(
        query_param(&redirect, "error").as_deref(),
        Some("temporarily_unavailable")
    );
    assert_eq!(
        query_param(&redirect, "error_description").as_deref(),
        Some("try later")
    );
    assert_eq!(query_param(&redirect, "state").as_deref(), Some("st4te"));
    assert_eq!(
        query_param(&redirect, "iss").as_deref(),
        Some(rig.server.issuer().as_str())
    );
    assert!(query_param(&redirect, "code").is_none());
    assert_eq!(rig.state().await["store"]["codes"], json!(0));
}

#[tokio::test]
async fn an_authorize_fault_never_redirects_to_an_unregistered_uri() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    rig.fault(json!({"endpoint": "authorize", "respond":
        {"status": 400, "error": "access_denied"}}))
        .await;
    let response = rig
        .authorize_raw(
            &client,
            &Pkce::new(),
            &[("redirect_uri", "https://evil.example/callback")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(!response.headers().contains_key("location"));
    let rules = rig.faults().await;
    assert_eq!(rules[0]["fired"], json!(0), "the rule did not fire");
}

#[tokio::test]
async fn a_retry_after_fault_is_429_with_retry_after() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    for endpoint in ["token", "metadata"] {
        rig.fault(
            json!({"endpoint": endpoint, "respond": {"status": 429, "retry_after": 7},
                         "times": 1}),
        )
        .await;
        let (status, headers, body) = json_of(hit(&rig, endpoint, &client).await).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{endpoint}");
        assert_eq!(headers["retry-after"], "7", "{endpoint}");
        assert_eq!(
            body["error"],
            json!("temporarily_unavailable"),
            "{endpoint}"
        );
    }
    rig.fault(json!({"endpoint": "authorize", "respond": {"status": 429, "retry_after": 2}}))
        .await;
    let response = rig.authorize_raw(&client, &Pkce::new(), &[]).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "2");
}

#[tokio::test]
async fn a_delay_fault_delays_then_answers_normally() {
    let rig = Rig::start().await;
    let delay = Duration::from_millis(150);
    rig.fault(json!({"endpoint": "metadata", "respond": {"delay_ms": 150}, "times": 1}))
        .await;
    let started = Instant::now();
    let (status, metadata) = rig
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert!(started.elapsed() >= delay, "{:?}", started.elapsed());
    assert_eq!(status, StatusCode::OK);
    assert_eq!(metadata["issuer"], json!(rig.server.issuer()));

    let client = rig.public_client().await;
    rig.fault(json!({"endpoint": "token", "respond": {"delay_ms": 150}}))
        .await;
    let started = Instant::now();
    let tokens = rig.full_flow(&client).await;
    assert!(started.elapsed() >= delay);
    assert!(rig.is_active(&tokens.access).await);
}

#[tokio::test]
async fn a_malformed_fault_is_200_with_unparsable_json() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    for endpoint in ["token", "introspect"] {
        rig.fault(json!({"endpoint": endpoint, "respond": {"malformed": true}, "times": 1}))
            .await;
        let response = hit(&rig, endpoint, &client).await;
        assert_eq!(response.status(), StatusCode::OK, "{endpoint}");
        assert_eq!(response.headers()["content-type"], "application/json");
        let body = response.text().await.unwrap();
        assert!(
            serde_json::from_str::<Value>(&body).is_err(),
            "{endpoint}: {body}"
        );
    }
}

#[tokio::test]
async fn a_drop_fault_closes_the_connection_without_an_answer() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    rig.fault(json!({"endpoint": "token", "respond": {"drop": true}, "times": 1}))
        .await;
    // A fresh connection, so that no client-side retry on a pooled one can hide the drop.
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let outcome = fresh
        .post(rig.url("/token"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await;
    let error = outcome.expect_err("no answer");
    assert!(!error.is_timeout(), "closed, not left hanging: {error}");

    let (status, body) = rig.refresh(&client, "not-a-token").await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the rule was used up: {body}"
    );
    let events = rig.events(0).await;
    let dropped = events
        .iter()
        .find(|event| event["path"] == "/token")
        .unwrap();
    assert_eq!(dropped["status"], json!(0));
    assert_eq!(dropped["note"], json!("dropped"));
}

#[tokio::test]
async fn times_counts_down_and_the_rule_then_disappears() {
    let rig = Rig::start().await;
    let (status, rule) = rig
        .add_fault(json!({"endpoint": "introspect", "respond": {"status": 503}, "times": 2}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(rule["times"], json!(2));
    assert_eq!(rule["remaining"], json!(2));
    assert_eq!(rule["fired"], json!(0));

    let introspect = || rig.post_form("/introspect", &[("token", "x")]);
    assert_eq!(introspect().await.status(), StatusCode::SERVICE_UNAVAILABLE);
    let rules = rig.faults().await;
    assert_eq!(rules[0]["remaining"], json!(1));
    assert_eq!(rules[0]["fired"], json!(1));
    assert_eq!(introspect().await.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(rig.faults().await.is_empty());
    assert_eq!(introspect().await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_rule_without_times_fires_until_deleted() {
    let rig = Rig::start().await;
    let id = rig
        .fault(json!({"endpoint": "register", "respond": {"status": 503}}))
        .await;
    for _ in 0..3 {
        let (status, _) = rig.register(json!({"redirect_uris": [REDIRECT_URI]})).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    }
    let rules = rig.faults().await;
    assert_eq!(rules[0]["times"], Value::Null);
    assert_eq!(rules[0]["remaining"], Value::Null);
    assert_eq!(rules[0]["fired"], json!(3));
    let (status, _) = rig.delete(&format!("/control/faults/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    rig.public_client().await;
}

#[tokio::test]
async fn match_narrows_a_rule_to_a_grant_type_and_a_client() {
    let rig = Rig::start().await;
    let target = rig.public_client().await;
    let bystander = rig.public_client().await;
    let target_tokens = rig.full_flow(&target).await;
    let bystander_tokens = rig.full_flow(&bystander).await;
    rig.fault(json!({"endpoint": "token",
                     "match": {"grant_type": "refresh_token", "client_id": target.id},
                     "respond": {"status": 400, "error": "invalid_grant"}}))
        .await;

    let (status, body) = rig
        .refresh(&target, target_tokens.refresh.as_deref().unwrap())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], json!("invalid_grant"));
    let (status, _) = rig
        .refresh(&bystander, bystander_tokens.refresh.as_deref().unwrap())
        .await;
    assert_eq!(status, StatusCode::OK, "another client is spared");
    rig.full_flow(&target).await;

    let rules = rig.faults().await;
    assert_eq!(rules[0]["fired"], json!(1), "the code grant is spared too");
    assert_eq!(
        rules[0]["match"],
        json!({"grant_type": "refresh_token", "client_id": target.id})
    );
    let counters = &rig.state().await["counters"];
    assert_eq!(counters["forced_invalid_grants"], json!(1));
}

#[tokio::test]
async fn a_client_id_match_on_revoke_and_authorize() {
    let rig = Rig::start().await;
    let target = rig.public_client().await;
    let bystander = rig.public_client().await;
    for endpoint in ["revoke", "authorize"] {
        rig.fault(
            json!({"endpoint": endpoint, "match": {"client_id": target.id},
                         "respond": {"status": 400, "error": "invalid_request"}}),
        )
        .await;
    }
    let revoke = async |client: &TestClient| {
        rig.post_form("/revoke", &[("token", "x"), ("client_id", &client.id)])
            .await
            .status()
    };
    assert_eq!(revoke(&target).await, StatusCode::BAD_REQUEST);
    assert_eq!(revoke(&bystander).await, StatusCode::OK);
    let redirect = rig.authorize(&target, &Pkce::new(), &[]).await;
    assert_eq!(
        query_param(&redirect, "error").as_deref(),
        Some("invalid_request")
    );
    rig.code(&bystander, &Pkce::new()).await;
}

#[tokio::test]
async fn rules_are_listed_deleted_one_by_one_and_cleared() {
    let rig = Rig::start().await;
    let first = rig
        .fault(json!({"endpoint": "metadata", "respond": {"malformed": true}}))
        .await;
    let second = rig
        .fault(json!({"endpoint": "token", "respond": {"drop": true}, "times": 3}))
        .await;
    let rules = rig.faults().await;
    assert_eq!(
        rules,
        [
            json!({"id": first, "endpoint": "metadata", "respond": {"malformed": true},
                   "times": null, "remaining": null, "fired": 0}),
            json!({"id": second, "endpoint": "token", "respond": {"drop": true},
                   "times": 3, "remaining": 3, "fired": 0}),
        ]
    );
    assert_eq!(rig.state().await["fault_rules"], json!(2));

    let (status, body) = rig.delete(&format!("/control/faults/{first}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["faults"].as_array().unwrap().len(), 1);
    let (status, body) = rig.delete(&format!("/control/faults/{first}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body["error"].as_str().unwrap().contains("no fault rule"));

    let (status, body) = rig.delete("/control/faults").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"faults": []}));
}

#[tokio::test]
async fn bad_rules_are_400_with_a_reason() {
    let rig = Rig::start().await;
    for (body, reason) in [
        ("{not json", ""),
        (
            r#"{"endpoint": "prm", "respond": {"status": 503}}"#,
            "unknown endpoint",
        ),
        (
            r#"{"endpoint": "metadata", "match": {"client_id": "x"}, "respond": {"status": 503}}"#,
            "match.client_id does not apply",
        ),
        (
            r#"{"endpoint": "token", "match": {"tool": "add"}, "respond": {"status": 503}}"#,
            "match.tool does not apply",
        ),
        (
            r#"{"endpoint": "token", "match": {"scopes": "x"}, "respond": {"status": 503}}"#,
            "",
        ),
        (
            r#"{"endpoint": "authorize", "match": {"scope": "x"}, "respond": {"status": 503}}"#,
            "match.scope does not apply",
        ),
        (r#"{"endpoint": "token", "respond": {}}"#, "one kind"),
        (
            r#"{"endpoint": "token", "respond": {"status": 503}, "times": 0}"#,
            "at least 1",
        ),
    ] {
        let response = rig
            .http
            .post(rig.url("/control/faults"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let answer: Value = response.json().await.unwrap();
        let message = answer["error"].as_str().unwrap();
        assert!(message.contains(reason), "{body}: {message}");
    }
    assert!(rig.faults().await.is_empty());
    let (status, _) = rig.delete("/control/faults/not-a-number").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_switches_are_preset_rules_and_the_toggles_follow_them() {
    let rig = Rig::start().await;
    rig.control("/control/deny-consent", Some(json!({"on": true})))
        .await;
    let (_, state) = rig
        .control("/control/invalid-grant", Some(json!({"on": true})))
        .await;
    assert_eq!(state["toggles"]["deny_consent"], json!(true));
    assert_eq!(state["toggles"]["invalid_grant"], json!(true));
    assert_eq!(state["fault_rules"], json!(2));
    let rules = rig.faults().await;
    assert_eq!(rules[0]["preset"], json!("deny-consent"));
    assert_eq!(rules[0]["endpoint"], json!("authorize"));
    assert_eq!(rules[0]["respond"]["error"], json!("access_denied"));
    assert_eq!(rules[1]["preset"], json!("invalid-grant"));
    assert_eq!(rules[1]["match"], json!({"grant_type": "refresh_token"}));

    // Turning a switch on twice keeps one rule.
    rig.control("/control/deny-consent", Some(json!({"on": true})))
        .await;
    assert_eq!(rig.faults().await.len(), 2);

    let (status, _) = rig.delete("/control/faults").await;
    assert_eq!(status, StatusCode::OK);
    let toggles = &rig.state().await["toggles"];
    assert_eq!(toggles["deny_consent"], json!(false));
    assert_eq!(toggles["invalid_grant"], json!(false));
}

#[tokio::test]
async fn fault_answers_reach_the_journal_and_the_counters() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    rig.control("/control/deny-consent", Some(json!({"on": true})))
        .await;
    let redirect = rig.authorize(&client, &Pkce::new(), &[]).await;
    assert_eq!(
        query_param(&redirect, "error").as_deref(),
        Some("access_denied")
    );
    let id = rig.faults().await[0]["id"].as_u64().unwrap();
    let events = rig.events(0).await;
    let authorize = events.last().unwrap();
    assert_eq!(authorize["path"], json!("/authorize"));
    assert_eq!(authorize["status"], json!(302));
    assert_eq!(authorize["fault"], json!(id));
    assert_eq!(authorize["error"], json!("access_denied"));
    assert_eq!(authorize["client_id"], json!(client.id));
    let counters = &rig.state().await["counters"];
    assert_eq!(counters["consent_denials"], json!(1));
    assert_eq!(counters["faults_fired"], json!(1));
}

#[tokio::test]
async fn reset_clears_every_rule() {
    let rig = Rig::start().await;
    rig.fault(json!({"endpoint": "token", "respond": {"status": 503}}))
        .await;
    rig.control("/control/invalid-grant", Some(json!({"on": true})))
        .await;
    let (_, state) = rig.control("/control/reset", None).await;
    assert_eq!(state["fault_rules"], json!(0));
    assert_eq!(state["toggles"]["invalid_grant"], json!(false));
    assert!(rig.faults().await.is_empty());
    let client = rig.public_client().await;
    let tokens = rig.full_flow(&client).await;
    let (status, _) = rig
        .refresh(&client, tokens.refresh.as_deref().unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
}
