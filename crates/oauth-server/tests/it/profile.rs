//! An issuer's profile (`POST /control/profile`, `Config::profile`): where its metadata is, what
//! it declares, where its endpoints are, the `iss` of its redirects, its scopes and its
//! registration policy — each seen as a client sees it, over HTTP.

use oauth_server::profile::{Iss, MetadataLocation};
use oauth_server::{Config, IssuerConfig, Profile};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Pkce, REDIRECT_URI, Rig, query_param};

const OAUTH: &str = "/.well-known/oauth-authorization-server";
const OIDC: &str = "/.well-known/openid-configuration";

/// Sets `patch` on `main`'s profile, which must be accepted; answers the state.
async fn profile(rig: &Rig, patch: Value) -> Value {
    let (status, state) = rig.control("/control/profile", Some(patch)).await;
    assert_eq!(status, StatusCode::OK, "{state}");
    state
}

/// Sets `patch`, which must be refused; answers the reason.
async fn refused(rig: &Rig, patch: Value) -> String {
    let response = rig
        .http
        .post(rig.url("/control/profile"))
        .json(&patch)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{patch}");
    response.text().await.unwrap()
}

async fn status_of(rig: &Rig, path: &str) -> StatusCode {
    rig.http.get(rig.url(path)).send().await.unwrap().status()
}

fn issuer(rig: &Rig) -> String {
    rig.server.issuer().to_owned()
}

#[tokio::test]
async fn the_state_shows_the_default_profile_with_every_field() {
    let rig = Rig::start().await;
    let state = rig.state().await;
    assert_eq!(
        state["profile"],
        json!({
            "metadata": ["oauth"],
            "metadata_issuer": null,
            "endpoint_prefix": null,
            "iss_parameter_supported": true,
            "iss": "correct",
            "scopes": ["mcp:tools"],
            "scopes_supported": null,
            "registration": true,
            "auth_methods": ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"],
            "assign_auth_method": null,
            "enforce_auth_method": false,
            "require_resource": false,
            "client_id_metadata_document_supported": true,
            "client_id_metadata_documents": true,
            "grant_types": ["authorization_code", "refresh_token", "client_credentials",
                            "urn:ietf:params:oauth:grant-type:jwt-bearer"],
            "id_jag_client_id": null,
        })
    );
    let (status, shown) = rig.get_json("/control/profile").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown, state["profile"]);
    assert_eq!(state["clients"], json!([]));
    assert_eq!(state["counters"]["foreign_client_ids"], json!(0));
}

#[tokio::test]
async fn each_metadata_location_is_served_only_when_listed() {
    let rig = Rig::start().await;
    assert_eq!(status_of(&rig, OIDC).await, StatusCode::NOT_FOUND);
    // The keys are served whatever the metadata: an identity-provider role needs them without
    // an OIDC document, and they are public.
    assert_eq!(
        status_of(&rig, "/.well-known/jwks.json").await,
        StatusCode::OK
    );

    profile(&rig, json!({"metadata": ["oidc-inserted"]})).await;
    assert_eq!(status_of(&rig, OAUTH).await, StatusCode::NOT_FOUND);
    let (status, document) = rig.get_json(OIDC).await;
    assert_eq!(status, StatusCode::OK);
    let issuer = issuer(&rig);
    assert_eq!(document["issuer"], json!(issuer));
    assert_eq!(
        document["jwks_uri"],
        json!(format!("{issuer}/.well-known/jwks.json"))
    );
    assert_eq!(document["subject_types_supported"], json!(["public"]));
    assert_eq!(
        document["id_token_signing_alg_values_supported"],
        json!(["ES256"])
    );
    assert_eq!(document["response_types_supported"], json!(["code"]));
    assert_eq!(
        document["authorization_endpoint"],
        json!(format!("{issuer}/authorize"))
    );

    let (status, keys) = rig.get_json("/.well-known/jwks.json").await;
    assert_eq!(status, StatusCode::OK);
    let key = &keys["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str()),
        (Some("EC"), Some("P-256"))
    );
    assert_eq!(key["x"].as_str().map(str::len), Some(43), "{keys}");
    assert_eq!(key["y"].as_str().map(str::len), Some(43), "{keys}");
    assert!(key.get("d").is_none(), "only the public half: {keys}");

    profile(&rig, json!({"metadata": ["oauth", "oidc-appended"]})).await;
    let (status, plain) = rig.get_json(OAUTH).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        plain.get("jwks_uri").is_none(),
        "the RFC 8414 form stays plain"
    );
    assert_eq!(
        status_of(&rig, OIDC).await,
        StatusCode::OK,
        "root: both forms coincide"
    );
}

#[tokio::test]
async fn a_path_issuer_serves_the_oidc_forms_at_their_own_places_and_never_at_the_root() {
    let config = Config {
        issuers: vec![IssuerConfig {
            profile: Some(Profile {
                metadata: vec![MetadataLocation::OidcAppended],
                ..Profile::default()
            }),
            ..IssuerConfig::parse("tenant1=/tenant1").unwrap()
        }],
        ..Config::default()
    };
    let rig = Rig::start_with(config).await;
    let tenant = format!("{}/tenant1", issuer(&rig));

    let (status, document) = rig.get_json(&format!("/tenant1{OIDC}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(document["issuer"], json!(tenant));
    assert_eq!(document["token_endpoint"], json!(format!("{tenant}/token")));
    for absent in [
        format!("{OIDC}/tenant1"),
        format!("{OAUTH}/tenant1"),
        OIDC.to_owned(),
    ] {
        assert_eq!(
            status_of(&rig, &absent).await,
            StatusCode::NOT_FOUND,
            "{absent}"
        );
    }
    // main's RFC 8414 document at the root is main's, never tenant1's.
    let (_, root) = rig.get_json(OAUTH).await;
    assert_eq!(root["issuer"], json!(issuer(&rig)));
    assert_eq!(
        status_of(&rig, "/tenant1/.well-known/jwks.json").await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_declared_issuer_can_differ_from_the_real_one_without_moving_anything() {
    let rig = Rig::start().await;
    profile(
        &rig,
        json!({"metadata_issuer": "https://attacker.example.com"}),
    )
    .await;
    let (_, document) = rig.get_json(OAUTH).await;
    assert_eq!(document["issuer"], json!("https://attacker.example.com"));
    assert_eq!(
        document["token_endpoint"],
        json!(format!("{}/token", issuer(&rig)))
    );
    let client = rig.public_client().await;
    let redirect = rig.authorize(&client, &Pkce::new(), &[]).await;
    assert_eq!(query_param(&redirect, "iss"), Some(issuer(&rig)));
}

#[tokio::test]
async fn an_endpoint_prefix_moves_the_endpoints_and_the_metadata_follows() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    profile(&rig, json!({"endpoint_prefix": "/mismatched-as"})).await;
    let issuer = issuer(&rig);

    let (_, document) = rig.get_json(OAUTH).await;
    for (field, path) in [
        ("authorization_endpoint", "/mismatched-as/authorize"),
        ("token_endpoint", "/mismatched-as/token"),
        ("registration_endpoint", "/mismatched-as/register"),
        ("revocation_endpoint", "/mismatched-as/revoke"),
        ("introspection_endpoint", "/introspect"),
    ] {
        assert_eq!(document[field], json!(format!("{issuer}{path}")), "{field}");
    }
    let pkce = Pkce::new();
    let old = rig.authorize_raw(&client, &pkce, &[]).await;
    assert_eq!(old.status(), StatusCode::NOT_FOUND);
    let (status, _) = rig.register(json!({"redirect_uris": [REDIRECT_URI]})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let moved = rig.at(rig.server.addr().port(), "/mismatched-as");
    let tokens = moved.full_flow(&client).await;
    assert!(rig.is_active(&tokens.access).await, "introspect stays put");
}

#[tokio::test]
async fn each_iss_mode_is_sent_on_success_and_on_error_redirects() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    let issuer = issuer(&rig);
    for (mode, expected) in [
        ("correct", Some(issuer.clone())),
        ("omit", None),
        ("trailing-slash", Some(format!("{issuer}/"))),
        ("wrong", Some("https://evil.example.com".to_owned())),
        ("value:not a url", Some("not a url".to_owned())),
    ] {
        profile(&rig, json!({"iss": mode})).await;
        let pkce = Pkce::new();
        let success = rig.authorize(&client, &pkce, &[]).await;
        assert!(query_param(&success, "code").is_some(), "{mode}");
        assert_eq!(query_param(&success, "iss"), expected, "{mode} on success");
        let error = rig
            .authorize(&client, &pkce, &[("response_type", "token")])
            .await;
        assert_eq!(
            query_param(&error, "error").as_deref(),
            Some("unsupported_response_type")
        );
        assert_eq!(query_param(&error, "iss"), expected, "{mode} on an error");
    }
}

#[tokio::test]
async fn iss_parameter_supported_is_true_false_or_absent() {
    let rig = Rig::start().await;
    for (value, shown) in [(json!(false), json!(false)), (json!("omit"), Value::Null)] {
        profile(&rig, json!({"iss_parameter_supported": value})).await;
        let (_, document) = rig.get_json(OAUTH).await;
        assert_eq!(
            document
                .get("authorization_response_iss_parameter_supported")
                .cloned()
                .unwrap_or(Value::Null),
            shown
        );
    }
}

#[tokio::test]
async fn scopes_are_what_is_granted_and_scopes_supported_what_is_announced() {
    let rig = Rig::start().await;
    profile(
        &rig,
        json!({"scopes": ["mcp:basic", "mcp:write"], "scopes_supported": ["mcp:profile"]}),
    )
    .await;
    let (_, document) = rig.get_json(OAUTH).await;
    assert_eq!(document["scopes_supported"], json!(["mcp:profile"]));
    let client = rig.public_client().await;
    let tokens = rig.full_flow(&client).await;
    assert_eq!(tokens.body["scope"], json!("mcp:basic mcp:write"));
    let pkce = Pkce::new();
    let refused = rig
        .authorize(&client, &pkce, &[("scope", "mcp:tools")])
        .await;
    assert_eq!(
        query_param(&refused, "error").as_deref(),
        Some("invalid_scope")
    );
    let offline = rig
        .authorize(&client, &pkce, &[("scope", "mcp:basic offline_access")])
        .await;
    assert!(
        query_param(&offline, "code").is_some(),
        "offline_access stays known"
    );

    profile(&rig, json!({"scopes_supported": "omit"})).await;
    let (_, document) = rig.get_json(OAUTH).await;
    assert!(document.get("scopes_supported").is_none(), "{document}");
    profile(&rig, json!({"scopes_supported": null})).await;
    let (_, document) = rig.get_json(OAUTH).await;
    assert_eq!(
        document["scopes_supported"],
        json!(["mcp:basic", "mcp:write"])
    );
}

#[tokio::test]
async fn registration_off_hides_the_endpoint_and_answers_404() {
    let rig = Rig::start().await;
    profile(&rig, json!({"registration": false})).await;
    let (_, document) = rig.get_json(OAUTH).await;
    assert!(
        document.get("registration_endpoint").is_none(),
        "{document}"
    );
    let response = rig
        .http
        .post(rig.url("/register"))
        .json(&json!({"redirect_uris": [REDIRECT_URI]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_advertised_auth_methods_bound_what_registration_accepts() {
    let rig = Rig::start().await;
    profile(&rig, json!({"auth_methods": ["client_secret_post"]})).await;
    let (_, document) = rig.get_json(OAUTH).await;
    assert_eq!(
        document["token_endpoint_auth_methods_supported"],
        json!(["client_secret_post"])
    );
    assert_eq!(
        document["revocation_endpoint_auth_methods_supported"],
        json!(["client_secret_post"])
    );
    let (status, body) = rig
        .register(json!({"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], json!("invalid_client_metadata"));
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("client_secret_post"),
        "{body}"
    );
    // Asking for nothing gets what is offered, and the answer says which.
    let (status, body) = rig.register(json!({"redirect_uris": [REDIRECT_URI]})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["token_endpoint_auth_method"],
        json!("client_secret_post")
    );
    assert!(body["client_secret"].is_string());
}

#[tokio::test]
async fn with_enforce_auth_method_a_secret_sent_the_other_way_is_invalid_client() {
    // Arrange: a client registered for Basic, and the token request's body with its secret.
    let rig = Rig::start().await;
    let client = rig.client_with("client_secret_basic").await;
    let secret = client.secret.clone().unwrap();
    let in_the_body = [
        ("grant_type", "refresh_token"),
        ("refresh_token", "no-such-token"),
        ("client_id", client.id.as_str()),
        ("client_secret", secret.as_str()),
    ];

    // Act: lenient (the default), then strict.
    let (lenient, lenient_body) = rig.token(&in_the_body).await;
    profile(&rig, json!({"enforce_auth_method": true})).await;
    let (strict, strict_body) = rig.token(&in_the_body).await;
    let response = rig
        .http
        .post(rig.url("/token"))
        .basic_auth(&client.id, Some(&secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "no-such-token"),
        ])
        .send()
        .await
        .unwrap();
    let basic = response.status();
    let basic_body: serde_json::Value = response.json().await.unwrap();

    // Assert: authenticated either way by default (then the unknown token); strict, only Basic.
    assert_eq!(lenient, StatusCode::BAD_REQUEST, "{lenient_body}");
    assert_eq!(lenient_body["error"], "invalid_grant", "{lenient_body}");
    assert_eq!(strict, StatusCode::UNAUTHORIZED, "{strict_body}");
    assert_eq!(strict_body["error"], "invalid_client");
    assert!(
        strict_body["error_description"]
            .as_str()
            .unwrap()
            .contains("registered client_secret_basic"),
        "{strict_body}"
    );
    assert_eq!(basic, StatusCode::BAD_REQUEST, "{basic_body}");
    assert_eq!(basic_body["error"], "invalid_grant", "{basic_body}");
}

#[tokio::test]
async fn an_assigned_auth_method_overrides_what_was_asked_and_decides_the_secret() {
    let rig = Rig::start().await;
    profile(
        &rig,
        json!({"auth_methods": ["client_secret_basic"], "assign_auth_method": "client_secret_basic"}),
    )
    .await;
    let (status, body) = rig
        .register(json!({"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["token_endpoint_auth_method"],
        json!("client_secret_basic")
    );
    assert!(body["client_secret"].is_string(), "{body}");

    profile(&rig, json!({"assign_auth_method": "none"})).await;
    let (status, body) = rig
        .register(json!({"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "client_secret_post"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["token_endpoint_auth_method"], json!("none"));
    assert!(body.get("client_secret").is_none(), "{body}");
}

#[tokio::test]
async fn require_resource_refuses_authorize_and_token_without_one() {
    let rig = Rig::start().await;
    let client = rig.public_client().await;
    profile(&rig, json!({"require_resource": true})).await;
    let pkce = Pkce::new();
    let refused = rig.authorize(&client, &pkce, &[]).await;
    assert_eq!(
        query_param(&refused, "error").as_deref(),
        Some("invalid_target")
    );
    assert_eq!(query_param(&refused, "state").as_deref(), Some("st4te"));

    let resource = "https://mcp.example.com/mcp";
    let redirect = rig
        .authorize(&client, &pkce, &[("resource", resource)])
        .await;
    let code = query_param(&redirect, "code").unwrap();
    let (status, body) = rig.exchange(&client, &code, &pkce).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], json!("invalid_target"));
    let (status, body) = rig
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &pkce.verifier),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", &client.id),
            ("resource", resource),
        ])
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the refusal left the code usable: {body}"
    );
}

#[tokio::test]
async fn bad_knob_values_are_400s_naming_the_field_and_change_nothing() {
    let rig = Rig::start().await;
    for (patch, named) in [
        (json!({"iss": "sometimes"}), "iss"),
        (json!({"metadata": ["rfc8414"]}), "metadata"),
        (json!({"registration": "off"}), "registration"),
        (json!({"endpoint_prefix": "/control/x"}), "endpoint_prefix"),
        (json!({"auth_methods": []}), "auth_methods"),
        (json!({"scopes": ["has space"]}), "scopes"),
        (json!({"metadata_issuer": 7}), "metadata_issuer"),
        (json!({"registration": false, "colour": "red"}), "colour"),
    ] {
        let why = refused(&rig, patch.clone()).await;
        assert!(why.contains(named), "{patch}: {why}");
    }
    let why = refused(&rig, json!({"metadata": []})).await;
    assert!(why.contains("nothing could discover this issuer"), "{why}");
    assert_eq!(rig.state().await["profile"]["registration"], json!(true));
}

#[tokio::test]
async fn a_prefix_that_lands_on_another_issuer_is_refused() {
    let rig = Rig::start_with(Config {
        issuers: vec![IssuerConfig::parse("tenant1=/tenant1").unwrap()],
        ..Config::default()
    })
    .await;
    let why = refused(&rig, json!({"endpoint_prefix": "/tenant1"})).await;
    assert!(why.contains("tenant1"), "{why}");
}

#[tokio::test]
async fn null_and_reset_bring_back_the_configured_profile() {
    let configured = Profile {
        iss: Iss::Omit,
        ..Profile::default()
    };
    let rig = Rig::start_with(Config {
        profile: configured,
        ..Config::default()
    })
    .await;
    let client = rig.public_client().await;
    let state = profile(&rig, json!({"iss": "wrong", "registration": false})).await;
    assert_eq!(state["profile"]["iss"], json!("wrong"));
    let state = profile(&rig, json!({"iss": null})).await;
    assert_eq!(state["profile"]["iss"], json!("omit"));
    assert_eq!(state["profile"]["registration"], json!(false));

    let (status, _) = rig.control("/control/issuers/main/reset", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rig.state().await["profile"]["registration"], json!(true));
    profile(&rig, json!({"iss": "correct"})).await;
    let (status, _) = rig.control("/control/reset", None).await;
    assert_eq!(status, StatusCode::OK);
    let state = rig.state().await;
    assert_eq!(state["profile"]["iss"], json!("omit"));
    let client2 = rig.public_client().await;
    assert_ne!(client.id, client2.id);
    let redirect = rig.authorize(&client2, &Pkce::new(), &[]).await;
    assert_eq!(query_param(&redirect, "iss"), None);
}

#[tokio::test]
async fn an_added_issuer_takes_its_profile_and_is_addressed_by_name() {
    let rig = Rig::start().await;
    let (status, body) = rig
        .control(
            "/control/issuers",
            Some(json!({"name": "t2", "path": "/t2", "profile": {"iss": "omit", "registration": false}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, shown) = rig.get_json("/control/issuers/t2/profile").await;
    assert_eq!(shown["iss"], json!("omit"));
    assert_eq!(shown["registration"], json!(false));
    let (status, state) = rig
        .control(
            "/control/issuers/t2/profile",
            Some(json!({"registration": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["name"], json!("t2"));
    assert_eq!(state["profile"]["registration"], json!(true));
    assert_eq!(
        rig.state().await["profile"]["iss"],
        json!("correct"),
        "main untouched"
    );

    let response = rig
        .http
        .post(rig.url("/control/issuers"))
        .json(&json!({"name": "t3", "path": "/t3", "profile": {"iss": "never"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("iss"));
}

#[tokio::test]
async fn the_journal_records_what_authorize_token_and_register_asked_for() {
    let rig = Rig::start().await;
    profile(&rig, json!({"iss": "trailing-slash"})).await;
    let (status, body) = rig
        .register(json!({
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["authorization_code", "refresh_token"],
            "application_type": "native",
            "scope": "mcp:tools",
        }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let client_id = body["client_id"].as_str().unwrap().to_owned();
    let secret = body["client_secret"].as_str().unwrap().to_owned();
    let pkce = Pkce::new();
    let resource = "https://mcp.example.com/mcp";
    let redirect = rig
        .http
        .get(rig.url("/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT_URI),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", "S256"),
            ("scope", "mcp:tools"),
            ("resource", resource),
        ])
        .send()
        .await
        .unwrap();
    let code = query_param(&crate::support::location(&redirect), "code").unwrap();
    let response = rig
        .http
        .post(rig.url("/token"))
        .basic_auth(&client_id, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", &pkce.verifier),
            ("redirect_uri", REDIRECT_URI),
            ("resource", resource),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let events = rig.events(0).await;
    let at = |path: &str| {
        events
            .iter()
            .find(|event| event["path"] == json!(path))
            .unwrap_or_else(|| panic!("no {path} in {events:?}"))
            .clone()
    };
    let register = at("/register");
    assert_eq!(register["client_id"], json!(client_id), "the id issued");
    assert_eq!(
        register["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(register["application_type"], json!("native"));
    assert_eq!(
        register["token_endpoint_auth_method"],
        json!("client_secret_basic")
    );
    assert_eq!(register["redirect_uris"], json!([REDIRECT_URI]));
    assert_eq!(register["scope"], json!("mcp:tools"));
    let authorize = at("/authorize");
    assert_eq!(authorize["scope"], json!("mcp:tools"));
    assert_eq!(authorize["resource"], json!([resource]));
    assert_eq!(authorize["pkce_method"], json!("S256"));
    assert_eq!(authorize["state"], json!(false));
    assert_eq!(authorize["iss"], json!(format!("{}/", issuer(&rig))));
    let token = at("/token");
    assert_eq!(token["client_auth"], json!("client_secret_basic"));
    assert_eq!(token["resource"], json!([resource]));
    assert!(token.get("scope").is_none(), "{token}");
}
