//! `/control/*`: the failure switches of the authorization server. JSON in, and every switch
//! answers the resulting state, so a tester sees at once what they changed. Fault rules
//! (`/control/faults`) and the journal (`/control/events`) answer in their own shapes.
//!
//! The plain paths act on the default issuer, `main`; `/control/issuers/{name}/…` acts on the
//! issuer of that name, and `/control/issuers` lists, adds and removes issuers. The clock and
//! the journal are shared by all issuers, so they answer the same under every issuer's path;
//! `POST /control/reset` resets the whole server, `POST /control/issuers/{name}/reset` one issuer.

use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use serde::{Deserialize, Deserializer};
use sim_http::Response;
use sim_http::control::{self, Alias, Call, Entry, Switch};
use sim_http::faults;
use sim_http::response::{json, plain_error};

use crate::clients::PreRegistered;
use crate::config::{IssuerConfig, MAX_TTL_SECS};
use crate::consent::ConsentMode;
use crate::documents::FaultSpec;
use crate::endpoints::assertions;
use crate::faults::{DENY_CONSENT, INVALID_GRANT, deny_consent, invalid_grant};
use crate::host::Host;
use crate::snapshot::Snapshot;
use crate::state::{Place, ReuseDetection, State};

pub const PREFIX: &str = "/control";

/// The longest grace period of reuse detection: an hour is already generous for a retry.
const MAX_GRACE_SECS: u64 = 3600;

/// Every control call, with what it takes: answered by `GET /control`.
const INDEX: [Entry; 44] = [
    (
        "GET",
        "/control/state",
        "toggles, settings, store sizes and counters",
    ),
    (
        "POST",
        "/control/rotate",
        r#"{"on": bool} — rotate refresh tokens on every refresh"#,
    ),
    (
        "POST",
        "/control/expire-access",
        r#"{"seconds": N} — lifetime of access tokens issued from now on (also /control/expires-in)"#,
    ),
    (
        "POST",
        "/control/revoke",
        "every live access token becomes inactive (also /control/revoke-access)",
    ),
    (
        "POST",
        "/control/dead-refresh",
        r#"{"on": bool} — every refresh grant answers invalid_grant (a preset fault rule; also /control/invalid-grant)"#,
    ),
    (
        "POST",
        "/control/deny-consent",
        r#"{"on": bool} — /authorize answers access_denied (a preset fault rule)"#,
    ),
    (
        "POST",
        "/control/seed-refresh",
        r#"{"token": "…"} — make a string a valid refresh token"#,
    ),
    (
        "POST",
        "/control/clock",
        r#"{"advance_seconds": N} (N may be negative, back to system time at most) or {"reset": true} — move the clock every expiry reads"#,
    ),
    (
        "POST",
        "/control/narrow-consent",
        r#"{"grant_scope": "a b" | null} — /authorize grants exactly this scope, whatever was asked (also /control/consent)"#,
    ),
    (
        "POST",
        "/control/consent-mode",
        r#"{"mode": "auto" | "page", "next": N} — approve at once, or show the consent page (for the next N authorizations only, then auto again; without next: until changed)"#,
    ),
    (
        "POST",
        "/control/reuse-detect",
        r#"{"on": bool, "grace_seconds": G} — a rotated-out refresh token presented after G s revokes its grant (also /control/reuse-detection)"#,
    ),
    (
        "GET",
        "/control/profile",
        "the issuer's profile: where its metadata is and what it declares, iss, scopes, registration, client authentication and grants",
    ),
    (
        "POST",
        "/control/profile",
        r#"{"metadata": [...], "iss": "…", "scopes": [...], "auth_methods": [...], "grant_types": [...], …} — any subset of the fields GET /control/profile shows; null: back to the configured value"#,
    ),
    (
        "GET",
        "/control/clients",
        "the pre-registered clients, secrets redacted",
    ),
    (
        "POST",
        "/control/clients",
        r#"{"client_id": "…", "client_secret": "…", "auth_method": "none|client_secret_basic|client_secret_post|private_key_jwt", "jwks": {…} | "jwks_uri": URL | "generate_key": "ES256|EdDSA", "redirect_uris": [...] | "any-loopback", "grant_types": [...], "scope": "…", "client_name": "…"} — pre-register a client (forgotten by a reset); generate_key answers its private key"#,
    ),
    (
        "GET",
        "/control/assertion-issuers",
        "the issuers whose jwt-bearer assertions this issuer accepts",
    ),
    (
        "POST",
        "/control/assertion-issuers",
        r#"{"issuer": "…", "kind": "workload|id-jag", "jwks": {…} | "jwks_uri": URL | "rig_issuer": NAME | "generate_key": "ES256|EdDSA", "subjects": [...], "resources": [...]} — trust an assertion issuer; generate_key answers its private key"#,
    ),
    (
        "DELETE",
        "/control/assertion-issuers",
        "trust no assertion issuer",
    ),
    (
        "POST",
        "/control/assertions",
        r#"{"issuer": "…", "sub": "…", "audience": "…", "variant": "valid|wrong-audience|expired|unknown-key", "lifetime_seconds": N, "claims": {…}} — mint an assertion of a trusted issuer whose key the rig made"#,
    ),
    (
        "POST",
        "/control/id-tokens",
        r#"{"aud": "…", "sub": "…", "lifetime_seconds": N, "claims": {…}} — an ID token signed by this issuer, for a client to exchange for an ID-JAG"#,
    ),
    (
        "DELETE",
        "/control/clients/{id}",
        "forget a pre-registered client",
    ),
    (
        "GET",
        "/control/documents",
        "the client ID metadata documents cached (fetches, uses, freshness) and the fetch faults",
    ),
    (
        "POST",
        "/control/documents/faults",
        r#"{"fault": "unreachable|slow|http-error|not-json|too-large|client-id-mismatch|redirect-uri-missing|client-secret", "url": URL, "times": N, "status": S} — spoil document fetches (of one URL; N times; S for http-error)"#,
    ),
    (
        "DELETE",
        "/control/documents/faults",
        "delete every fetch fault",
    ),
    (
        "DELETE",
        "/control/documents/faults/{id}",
        "delete one fetch fault",
    ),
    (
        "POST",
        "/control/documents/changed",
        r#"{"url": URL | null} — the cached document (every one: null) counts as changed: its next use fetches it again"#,
    ),
    (
        "DELETE",
        "/control/documents",
        "forget every cached document",
    ),
    (
        "GET",
        "/control/faults",
        "the fault rules, presets included",
    ),
    (
        "POST",
        "/control/faults",
        r#"{"endpoint": "metadata|register|authorize|token|introspect|revoke", "match": {"grant_type", "client_id", "scope"}, "respond": {"status", "error", "error_description"} | {"status": 429, "retry_after": S} | {"delay_ms": N} | {"malformed": true} | {"drop": true}, "times": N} — add a fault rule"#,
    ),
    ("DELETE", "/control/faults", "delete every fault rule"),
    ("DELETE", "/control/faults/{id}", "delete one fault rule"),
    (
        "GET",
        "/control/events",
        "?since=SEQ&limit=N — the journal of requests, credentials redacted",
    ),
    (
        "GET",
        "/control/events/stream",
        "the journal live, as Server-Sent Events",
    ),
    (
        "POST",
        "/control/reset",
        "clients, codes, tokens, settings, fault rules, events, clock and counters back to start-up; the start-up issuers only",
    ),
    (
        "POST",
        "/control/base-url",
        r#"{"base_url": "https://…" | null, "port": N} — re-point the issuers of a listener (the main one without port) to a new public URL, live; null: http(s)://localhost:PORT; a public URL makes /control require a token"#,
    ),
    (
        "GET",
        "/control/renamed-resources",
        "the resources renamed: a grant for `from` also covers `to`",
    ),
    (
        "POST",
        "/control/renamed-resources",
        r#"{"from": "…", "to": "…"} — a grant for the resource `from` also covers `to` (the MCP server re-pointed)"#,
    ),
    (
        "DELETE",
        "/control/renamed-resources",
        "forget the renamed resources",
    ),
    (
        "GET",
        "/control/issuers",
        "every issuer: name, issuer URL, path, port and internal introspection URL",
    ),
    (
        "POST",
        "/control/issuers",
        r#"{"name": "…", "path": "/…", "port": N, "profile": {…}, "clients": [...]} — host another issuer, under a path and/or on a port of its own (0: any free port)"#,
    ),
    (
        "DELETE",
        "/control/issuers/{name}",
        "stop hosting an issuer; everything it held is forgotten",
    ),
    (
        "ANY",
        "/control/issuers/{name}/…",
        "any call above, for that issuer (the clock and the events are shared)",
    ),
    (
        "POST",
        "/control/issuers/{name}/reset",
        "that issuer's clients, codes, tokens, settings, fault rules and counters back to start-up",
    ),
    ("GET", "/control", "this list"),
];

/// The switches' earlier paths (each still works): the paths are the `scenario` names now.
const ALIASES: [Alias; 5] = [
    ("/control/expires-in", "/control/expire-access"),
    ("/control/revoke-access", "/control/revoke"),
    ("/control/invalid-grant", "/control/dead-refresh"),
    ("/control/consent", "/control/narrow-consent"),
    ("/control/reuse-detection", "/control/reuse-detect"),
];

/// Where the issuers are managed and addressed.
const ISSUERS: &str = "/control/issuers";

/// Where a listener's public URL is changed.
const BASE_URL: &str = "/control/base-url";

/// The arguments of `POST /control/base-url`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BaseUrl {
    /// Required, `null` included: `{}` is more likely a mistake than a return to loopback.
    #[serde(deserialize_with = "nullable")]
    base_url: Option<String>,
    /// The listener; the main one when absent.
    #[serde(default)]
    port: Option<u16>,
}

/// `POST /control/base-url`: re-points a listener's issuers, and makes the control plane
/// require a token from now on if the rig was on loopback only, the new URL is reachable from
/// outside and no token was required, exactly as a start-up with that URL would. The token is in this answer and in the log, and
/// nowhere after.
fn base_url_call(host: &Host, call: &Call) -> Response {
    if call.method != Method::POST {
        return sim_http::response::method_not_allowed("POST");
    }
    let BaseUrl { base_url, port } = match call.arguments() {
        Ok(arguments) => arguments,
        Err(message) => return plain_error(StatusCode::BAD_REQUEST, &message),
    };
    let local = |places: &[Place]| {
        places
            .iter()
            .all(|place| sim_http::public_url::is_loopback(&place.issuer))
    };
    let was_local = local(&host.places());
    let re_pointed = match host.set_base_url(port, base_url.as_deref()) {
        Ok(places) => places,
        Err(message) => return plain_error(StatusCode::BAD_REQUEST, &message),
    };
    // From loopback only: a server configured with a public URL and an open control plane was
    // set up so by its embedder, and stays so.
    let public = was_local && !local(&re_pointed);
    if public {
        // Anyone who learns the URL can now make the rig fetch a document: no more inside
        // addresses, as at a start-up in tunnel mode.
        host.confine_fetches();
    }
    let mut answer = serde_json::json!({ "re_pointed": re_pointed, "issuers": host.places() });
    if let Some(token) = public.then(|| host.config.control.expose()).flatten() {
        answer["control_token"] = token.into();
    }
    json(StatusCode::OK, &answer)
}

/// Where one fetch fault is addressed, by id.
const DOCUMENT_FAULT: &str = "/control/documents/faults/";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Changed {
    /// Required, `null` included, as `grant_scope` is: `{}` is more likely a mistake.
    #[serde(deserialize_with = "nullable")]
    url: Option<String>,
}

/// Where one pre-registered client is addressed, by id.
const CLIENT: &str = "/control/clients/";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Lifetime {
    seconds: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Seed {
    token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockMove {
    advance_seconds: Option<i64>,
    reset: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Consent {
    /// Required, `null` included: `{}` is more likely a mistake than a request to stop narrowing.
    #[serde(deserialize_with = "nullable")]
    grant_scope: Option<String>,
}

/// The arguments of `POST /control/consent-mode`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsentModeSwitch {
    mode: ConsentMode,
    #[serde(default)]
    next: Option<u32>,
}

fn nullable<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Option::deserialize(deserializer)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReuseSwitch {
    on: bool,
    #[serde(default)]
    grace_seconds: u64,
}

pub async fn handle(host: &Host, request: Request<Incoming>) -> Response {
    let mut call = match Call::read(&host.config.control, request).await {
        Ok(call) => call,
        Err(answer) => return answer,
    };
    if call.path == BASE_URL {
        return base_url_call(host, &call);
    }
    let Some(rest) = call.path.strip_prefix(ISSUERS) else {
        let main = host.main_issuer();
        return issuer_call(host, &main, &call, Scope::Server).await;
    };
    let rest = rest.to_owned();
    let (name, tail) = match rest.strip_prefix('/') {
        None if rest.is_empty() => return issuers_call(host, &call).await,
        None => return control::unrouted(&call.path, &INDEX),
        Some(named) => named
            .split_once('/')
            .map_or((named, ""), |(name, tail)| (name, tail)),
    };
    if tail.is_empty() && call.method == Method::DELETE {
        return match call.no_arguments() {
            Ok(()) => match host.remove(name).await {
                Ok(_) => issuers(host),
                Err(message) if host.issuer(name).is_some() => {
                    plain_error(StatusCode::BAD_REQUEST, &message)
                }
                Err(message) => plain_error(StatusCode::NOT_FOUND, &message),
            },
            Err(message) => plain_error(StatusCode::BAD_REQUEST, &message),
        };
    }
    let Some(issuer) = host.issuer(name) else {
        return plain_error(
            StatusCode::NOT_FOUND,
            &format!("no issuer is named '{name}'; GET {ISSUERS} lists them"),
        );
    };
    // The issuer's own plane is the plain one, addressed through its name.
    call.path = if tail.is_empty() {
        PREFIX.to_owned()
    } else {
        format!("{PREFIX}/{tail}")
    };
    issuer_call(host, &issuer, &call, Scope::Issuer).await
}

/// Whether a call reached an issuer through the plain paths, which also stand for the server.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Server,
    Issuer,
}

/// `GET` and `POST /control/issuers`.
async fn issuers_call(host: &Host, call: &Call) -> Response {
    match call.method {
        Method::GET => issuers(host),
        Method::POST => match call.arguments::<IssuerConfig>() {
            Ok(issuer) => match host.add(&issuer).await {
                Ok(_) => issuers(host),
                Err(message) => plain_error(StatusCode::BAD_REQUEST, &message),
            },
            Err(message) => plain_error(StatusCode::BAD_REQUEST, &message),
        },
        _ => sim_http::response::method_not_allowed("GET, POST"),
    }
}

fn renamed(state: &State) -> Response {
    json(
        StatusCode::OK,
        &serde_json::json!({ "renamed_resources": state.renamed_resources() }),
    )
}

fn issuers(host: &Host) -> Response {
    json(
        StatusCode::OK,
        &serde_json::json!({ "issuers": host.places() }),
    )
}

async fn issuer_call(host: &Host, state: &State, call: &Call, scope: Scope) -> Response {
    if let Some(answer) = faults::control(&state.faults, call) {
        return answer;
    }
    if let Some(answer) = host.journal.control(call) {
        return answer;
    }
    if let Some(answer) = assertions::call(state, call) {
        return answer;
    }
    let outcome = match (&call.method, control::canonical(&call.path, &ALIASES)) {
        (&Method::GET, "/control") => return control::index("oauth", &INDEX, &ALIASES),
        (&Method::GET, "/control/state") => Ok(()),
        (&Method::GET, "/control/profile") => return json(StatusCode::OK, &state.live().profile),
        (&Method::POST, "/control/profile") => call
            .arguments::<serde_json::Value>()
            .and_then(|patch| host.change_profile(state, patch)),
        (&Method::GET, "/control/clients") => {
            return json(
                StatusCode::OK,
                &serde_json::json!({ "clients": state.pre_registered() }),
            );
        }
        (&Method::POST, "/control/clients") => call
            .arguments::<PreRegistered>()
            .and_then(|client| state.pre_register(&client)),
        (&Method::DELETE, path) if path.starts_with(CLIENT) => {
            let id = &path[CLIENT.len()..];
            if let Err(message) = call.no_arguments() {
                return plain_error(StatusCode::BAD_REQUEST, &message);
            }
            // The id as sent, else percent-decoded (an id may hold characters a path escapes).
            let decoded = sim_http::form::decode_component(id);
            if !state.forget_pre_registered(id)
                && !decoded.is_some_and(|id| state.forget_pre_registered(&id))
            {
                return plain_error(
                    StatusCode::NOT_FOUND,
                    &format!("no pre-registered client has id '{id}'"),
                );
            }
            Ok(())
        }
        (&Method::GET, "/control/renamed-resources") => return renamed(state),
        (&Method::POST, "/control/renamed-resources") => {
            match call
                .arguments()
                .and_then(|renamed| state.rename_resource(renamed))
            {
                Ok(()) => return renamed(state),
                Err(message) => Err(message),
            }
        }
        (&Method::DELETE, "/control/renamed-resources") => match call.no_arguments() {
            Ok(()) => {
                state.forget_renamed_resources();
                return renamed(state);
            }
            Err(message) => Err(message),
        },
        (method, path)
            if path == "/control/documents" || path.starts_with("/control/documents/") =>
        {
            return documents_call(state, call, method, path);
        }
        (&Method::POST, "/control/rotate") => call.arguments().map(|Switch { on }| {
            state.update_settings(|settings| settings.rotate_refresh_tokens = on)
        }),
        (&Method::POST, "/control/expire-access") => {
            call.arguments().and_then(|Lifetime { seconds }| {
                let seconds = u64::try_from(seconds)
                    .map_err(|_| "seconds must be a non-negative integer".to_owned())?;
                if seconds > MAX_TTL_SECS {
                    return Err(format!("seconds must be at most {MAX_TTL_SECS}"));
                }
                state.update_settings(|settings| settings.access_token_ttl_seconds = seconds);
                Ok(())
            })
        }
        (&Method::POST, "/control/revoke") => call
            .no_arguments()
            .map(|()| state.store.access_tokens.clear()),
        (&Method::POST, "/control/dead-refresh") => call.arguments().and_then(|Switch { on }| {
            state
                .faults
                .set_preset(INVALID_GRANT, on.then(invalid_grant))
        }),
        (&Method::POST, "/control/deny-consent") => call
            .arguments()
            .and_then(|Switch { on }| state.faults.set_preset(DENY_CONSENT, on.then(deny_consent))),
        (&Method::POST, "/control/seed-refresh") => call.arguments().and_then(|Seed { token }| {
            if token.is_empty() || token.len() > 4096 || token.chars().any(char::is_whitespace) {
                return Err("token must be 1 to 4096 characters without whitespace".to_owned());
            }
            state.seed_refresh_token(token);
            Ok(())
        }),
        (&Method::POST, "/control/clock") => call.arguments().and_then(
            |ClockMove {
                 advance_seconds,
                 reset,
             }| { move_clock(state, advance_seconds, reset) },
        ),
        (&Method::POST, "/control/narrow-consent") => {
            call.arguments().and_then(|Consent { grant_scope }| {
                let grant_scope = grant_scope
                    .map(|scope| checked_scope(state, &scope))
                    .transpose()?;
                state.update_settings(|settings| settings.grant_scope = grant_scope);
                Ok(())
            })
        }
        (&Method::POST, "/control/consent-mode") => call
            .arguments()
            .and_then(|ConsentModeSwitch { mode, next }| state.consents.set_mode(mode, next)),
        (&Method::POST, "/control/reuse-detect") => {
            call.arguments()
                .and_then(|ReuseSwitch { on, grace_seconds }| {
                    if grace_seconds > MAX_GRACE_SECS {
                        return Err(format!("grace_seconds must be at most {MAX_GRACE_SECS}"));
                    }
                    state.detect_reuse(ReuseDetection { on, grace_seconds });
                    Ok(())
                })
        }
        (&Method::POST, "/control/reset") => match call.no_arguments() {
            Ok(()) if scope == Scope::Server => host.reset().await,
            Ok(()) => {
                state.reset();
                Ok(())
            }
            Err(message) => Err(message),
        },
        (_, path) => return control::unrouted(path, &INDEX),
    };
    match outcome {
        Ok(()) if scope == Scope::Server => {
            let snapshot = Snapshot {
                issuers: Some(host.places()),
                ..state.snapshot()
            };
            json(StatusCode::OK, &snapshot)
        }
        Ok(()) => json(StatusCode::OK, &state.snapshot()),
        Err(message) => plain_error(StatusCode::BAD_REQUEST, &message),
    }
}

/// `/control/documents…`: every call answers the documents and faults as they now are.
fn documents_call(state: &State, call: &Call, method: &Method, path: &str) -> Response {
    let documents = &state.documents;
    let outcome = match (method, path) {
        (&Method::GET, "/control/documents") => Ok(()),
        (&Method::DELETE, "/control/documents") => {
            call.no_arguments().map(|()| documents.forget_cached())
        }
        (&Method::POST, "/control/documents/faults") => call
            .arguments::<FaultSpec>()
            .and_then(|spec| documents.add_fault(spec).map(drop)),
        (&Method::DELETE, "/control/documents/faults") => {
            call.no_arguments().map(|()| documents.clear_faults())
        }
        (&Method::DELETE, path) if path.starts_with(DOCUMENT_FAULT) => {
            if let Err(message) = call.no_arguments() {
                return plain_error(StatusCode::BAD_REQUEST, &message);
            }
            let id = &path[DOCUMENT_FAULT.len()..];
            match id.parse::<u64>() {
                Ok(id) if documents.remove_fault(id) => Ok(()),
                _ => {
                    return plain_error(
                        StatusCode::NOT_FOUND,
                        &format!("no fetch fault has id '{id}'"),
                    );
                }
            }
        }
        (&Method::POST, "/control/documents/changed") => {
            call.arguments().and_then(|Changed { url }| {
                match (documents.mark_changed(url.as_deref()), url) {
                    (0, Some(url)) => Err(format!("no cached document is at '{url}'")),
                    _ => Ok(()),
                }
            })
        }
        (_, path) => return control::unrouted(path, &INDEX),
    };
    match outcome {
        Ok(()) => json(StatusCode::OK, &state.documents_state()),
        Err(message) => plain_error(StatusCode::BAD_REQUEST, &message),
    }
}

/// `POST /control/clock`: exactly one of a move and a reset.
fn move_clock(state: &State, advance: Option<i64>, reset: Option<bool>) -> Result<(), String> {
    match (advance, reset) {
        (Some(seconds), None) => {
            let current = state.clock.offset_millis();
            let offset = new_offset(current, seconds)?;
            state.clock.set_offset_millis(offset);
            Ok(())
        }
        (None, Some(true)) => {
            state.clock.reset();
            Ok(())
        }
        _ => Err(r#"send {"advance_seconds": N} or {"reset": true}"#.to_owned()),
    }
}

/// The clock's offset in milliseconds after moving it by `seconds` from `current`: at most ten
/// years either way per move, and never behind system time (the rig's clock cannot run late).
fn new_offset(current: i64, seconds: i64) -> Result<i64, String> {
    let limit = MAX_TTL_SECS as i64;
    if !(-limit..=limit).contains(&seconds) {
        return Err(format!("advance_seconds must be from -{limit} to {limit}"));
    }
    let offset = current.saturating_add(seconds * 1000);
    if offset < 0 {
        return Err(format!(
            "the clock cannot go behind system time: it is {} s ahead, so advance_seconds must \
             be at least -{}",
            current / 1000,
            current / 1000
        ));
    }
    Ok(offset)
}

/// A scope the server may grant: known scope tokens, without duplicates, in the order given.
fn checked_scope(state: &State, scope: &str) -> Result<String, String> {
    let mut granted: Vec<&str> = Vec::new();
    for token in scope.split_whitespace() {
        if !state.knows_scope(token) {
            return Err(format!(
                "unknown scope '{token}'; known: {}",
                state.all_scopes()
            ));
        }
        if !granted.contains(&token) {
            granted.push(token);
        }
    }
    if granted.is_empty() {
        return Err("grant_scope must name at least one scope (null turns narrowing off)".into());
    }
    Ok(granted.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_moves_either_way_but_never_behind_system_time() {
        assert_eq!(new_offset(0, 60), Ok(60_000));
        assert_eq!(new_offset(60_000, -30), Ok(30_000));
        assert_eq!(new_offset(60_000, -60), Ok(0));
        assert!(
            new_offset(60_000, -61)
                .unwrap_err()
                .contains("at least -60")
        );
        assert!(new_offset(0, MAX_TTL_SECS as i64 + 1).is_err());
        assert!(new_offset(0, i64::MIN).is_err());
    }

    #[test]
    fn consent_scope_must_be_known_and_is_deduplicated() {
        let state = State::new(
            crate::state::Place::test(),
            crate::Config {
                scopes: vec!["a".into(), "b".into()],
                ..crate::Config::default()
            },
            sim_http::Clock::new(),
        );
        assert_eq!(checked_scope(&state, " b  a b").as_deref(), Ok("b a"));
        assert!(checked_scope(&state, "a c").unwrap_err().contains("'c'"));
        assert!(checked_scope(&state, "  ").is_err());
    }

    #[test]
    fn consent_needs_grant_scope_even_if_null() {
        assert!(serde_json::from_str::<Consent>("{}").is_err());
        let off: Consent = serde_json::from_str(r#"{"grant_scope": null}"#).unwrap();
        assert_eq!(off.grant_scope, None);
    }

    #[test]
    fn the_index_names_each_call_once() {
        let mut calls: Vec<_> = INDEX
            .iter()
            .map(|(method, path, _)| (method, path))
            .collect();
        let listed = calls.len();
        calls.sort();
        calls.dedup();
        assert_eq!(calls.len(), listed);
    }
}
