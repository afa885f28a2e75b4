//! The dashboard's HTML, from maud templates (every interpolated value escaped): the page and
//! the login form. The live parts are `assets/dashboard.js`, which reads the ids and `data-*`
//! attributes written here; the browser tests read the same ones.
//!
//! Ids: a scenario's row is `scenario-<name>` (`data-scenario="<name>"`); its buttons are
//! `scenario-<name>-<value>` for a fixed value (`on`, `off`) and `scenario-<name>-apply`
//! with the words of `scenario-<name>-values`. See docs/dashboard.md for the whole list.

use clap::ValueEnum;
use http::StatusCode;
use http::header::{self, HeaderValue};
use maud::{DOCTYPE, Markup, html};
use sim_http::Response;
use sim_http::response::full;

use super::State;
use crate::control::conformance::Situation;
use crate::control::scenario::Name;

/// What a scenario's row offers.
enum Kind {
    /// `on` and `off` buttons.
    Switch,
    /// One button: it takes no value.
    Bare,
    /// Buttons with these fixed words, and a field for any others.
    Presets(&'static [(&'static str, &'static str)]),
    /// A field for its words (split at spaces), and a button.
    Words(&'static str),
    /// Drawn in a section of its own (fault rules, conformance, tunnel, profile).
    Own,
}

fn kind(name: Name) -> Kind {
    match name {
        Name::Rotate | Name::DeadRefresh | Name::DenyConsent | Name::BadScope => Kind::Switch,
        Name::Revoke | Name::Reset | Name::ClearFaults => Kind::Bare,
        Name::Clock => Kind::Presets(&[
            ("forward-60", "+60"),
            ("forward-3600", "+3600"),
            ("back-60", "-60"),
            ("reset", "reset"),
        ]),
        Name::IntrospectDown => Kind::Presets(&[("503", "503"), ("401", "401"), ("off", "off")]),
        Name::Cimd => Kind::Presets(&[
            ("on", "on"),
            ("off", "off"),
            ("unadvertised", "unadvertised"),
        ]),
        Name::ExpireAccess => Kind::Words("seconds, e.g. 5"),
        Name::SeedRefresh => Kind::Words("a refresh token"),
        Name::AsDown | Name::RateLimit => Kind::Words("requests, e.g. 2"),
        Name::SlowToken => Kind::Words("milliseconds or off"),
        Name::StepUp => Kind::Words("tool scope, e.g. add mcp:write (or: add off)"),
        Name::NarrowConsent => Kind::Words("scope or off"),
        Name::ReuseDetect => Kind::Words("on|off [grace seconds]"),
        Name::DocumentFault => Kind::Words("kind [url] [count], or off"),
        Name::DocumentChanged => Kind::Words("[url]"),
        Name::ConsentMode => Kind::Presets(&[("auto", "auto"), ("page", "page")]),
        Name::Fault | Name::DeleteFault | Name::Conformance | Name::Profile | Name::Tunnel => {
            Kind::Own
        }
    }
}

/// Which group of the page a scenario is drawn in.
fn group(name: Name) -> &'static str {
    match name {
        Name::BadScope | Name::StepUp | Name::IntrospectDown => "mcp",
        Name::Reset | Name::ClearFaults => "rig",
        _ => "oauth",
    }
}

fn help(name: Name) -> String {
    name.to_possible_value()
        .and_then(|value| value.get_help().map(ToString::to_string))
        .unwrap_or_default()
}

/// The page, for a browser holding `csrf`.
pub(super) fn dashboard(state: &State, csrf: &str) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="dashboard-csrf" content=(csrf);
                meta name="dashboard-token-required" content=(state.guard.requires_token());
                title { "mcp-oauth-sim dashboard" }
                link rel="stylesheet" href="/assets/dashboard.css";
                script src="/assets/dashboard.js" defer {}
            }
            body {
                header {
                    h1 { "mcp-oauth-sim" }
                    p id="rig-urls" {
                        "issuer " code id="rig-issuer" { "…" }
                        " · MCP " code id="rig-mcp-url" { "…" }
                    }
                }
                section id="equivalent" aria-live="polite" {
                    h2 { "Equivalent command" }
                    p id="action-error" class="error" hidden {}
                    p id="action-note" class="note" hidden {}
                    p id="control-token-notice" class="error" hidden {}
                    pre id="equivalent-cli" { "(flip something: its cargo scenario line shows here)" }
                    pre id="equivalent-curl" {}
                }
                main {
                    section id="switches" {
                        @for (group_id, title) in [("oauth", "Authorization server"), ("mcp", "MCP server"), ("rig", "Both servers")] {
                            div class="group" id=(format!("group-{group_id}")) data-group=(group_id) {
                                h2 { (title) }
                                @for name in Name::value_variants().iter().filter(|name| group(**name) == group_id) {
                                    (row(*name))
                                }
                            }
                        }
                    }
                    (conformance())
                    (faults())
                    (tunnel_and_profile())
                    section id="state" {
                        h2 { "State" }
                        dl id="state-summary" {}
                        details {
                            summary { "as scenario state --json prints it" }
                            pre id="state-json" {}
                        }
                    }
                    (timeline())
                }
            }
        }
    };
    html_response(StatusCode::OK, markup)
}

/// One scenario's row.
fn row(name: Name) -> Markup {
    let id = name.as_str();
    html! {
        @match kind(name) {
            Kind::Own => {}
            Kind::Switch => {
                div class="scenario" id=(format!("scenario-{id}")) data-scenario=(id) {
                    span class="name" { (id) }
                    span class="value" data-state-of=(id) {}
                    button type="button" id=(format!("scenario-{id}-on")) data-scenario=(id) data-values="on" { "on" }
                    button type="button" id=(format!("scenario-{id}-off")) data-scenario=(id) data-values="off" { "off" }
                    small { (help(name)) }
                }
            }
            Kind::Bare => {
                div class="scenario" id=(format!("scenario-{id}")) data-scenario=(id) {
                    span class="name" { (id) }
                    button type="button" id=(format!("scenario-{id}-apply")) data-scenario=(id) data-values="" { (id) }
                    small { (help(name)) }
                }
            }
            Kind::Presets(presets) => {
                form class="scenario" id=(format!("scenario-{id}")) data-scenario=(id) {
                    span class="name" { (id) }
                    span class="value" data-state-of=(id) {}
                    @for (suffix, words) in presets {
                        button type="button" id=(format!("scenario-{id}-{suffix}")) data-scenario=(id) data-values=(words) { (words) }
                    }
                    input type="text" name="values" id=(format!("scenario-{id}-values")) aria-label=(format!("{id} values"));
                    button type="submit" id=(format!("scenario-{id}-apply")) { "apply" }
                    small { (help(name)) }
                }
            }
            Kind::Words(placeholder) => {
                form class="scenario" id=(format!("scenario-{id}")) data-scenario=(id) {
                    span class="name" { (id) }
                    span class="value" data-state-of=(id) {}
                    input type="text" name="values" id=(format!("scenario-{id}-values")) placeholder=(placeholder) aria-label=(format!("{id} values"));
                    button type="submit" id=(format!("scenario-{id}-apply")) { "apply" }
                    small { (help(name)) }
                }
            }
        }
    }
}

fn conformance() -> Markup {
    html! {
        section id="conformance" {
            h2 { "Conformance situations" }
            p { small { (help(Name::Conformance)) } }
            select id="conformance-situation" aria-label="situation" {
                @for situation in Situation::ALL {
                    option value=(situation.name()) data-revision=(situation.revision()) title=(situation.passing()) {
                        (situation.suite_name())
                    }
                }
            }
            button type="button" id="conformance-stage" { "stage" }
        }
    }
}

fn faults() -> Markup {
    html! {
        section id="faults" {
            h2 { "Fault rules" }
            ul id="fault-list" {}
            form id="fault-add" {
                select id="fault-service" aria-label="service" {
                    option value="oauth" { "oauth" }
                    option value="mcp" { "mcp" }
                }
                textarea id="fault-rule" rows="2" aria-label="rule (JSON)" {
                    r#"{"endpoint":"token","respond":{"status":503},"times":1}"#
                }
                button type="submit" id="fault-add-submit" { "add rule" }
            }
            p { small { (help(Name::Fault)) } }
        }
    }
}

fn tunnel_and_profile() -> Markup {
    html! {
        section id="tunnel" {
            h2 { "Tunnel" }
            form id="tunnel-form" {
                input type="url" id="tunnel-oauth-url" placeholder="https://auth.example" aria-label="authorization server URL";
                input type="url" id="tunnel-mcp-url" placeholder="https://mcp.example" aria-label="MCP server URL";
                label { input type="checkbox" id="tunnel-reject-old-audience"; " reject-old-audience" }
                button type="submit" id="tunnel-apply" { "re-point" }
                button type="button" id="tunnel-local" { "back to local" }
            }
            p { small { (help(Name::Tunnel)) } }
        }
        section id="profile" {
            h2 { "Profile" }
            form id="profile-form" {
                select id="profile-service" aria-label="service" {
                    option value="oauth" { "oauth" }
                    option value="mcp" { "mcp" }
                }
                input type="text" id="profile-patch" placeholder=r#"{"iss":"omit"}"# aria-label="knobs (JSON)";
                button type="submit" id="profile-apply" { "change" }
            }
            p { small { (help(Name::Profile)) } }
        }
    }
}

fn timeline() -> Markup {
    html! {
        section id="timeline" {
            h2 { "Timeline " span id="timeline-status" data-status="connecting" { "connecting" } }
            div id="timeline-filters" {
                label { "client " select id="filter-client" { option value="" { "all" } } }
                label { "issuer " select id="filter-issuer" { option value="" { "all" } } }
                label { "status "
                    select id="filter-status" {
                        option value="" { "all" }
                        option value="ok" { "below 400" }
                        option value="refused" { "400 and above" }
                        option value="fault" { "fired faults" }
                    }
                }
                button type="button" id="timeline-clear" { "clear" }
            }
            div id="lanes" {}
        }
    }
}

/// The login form of a guarded dashboard, with `problem` above it.
pub(super) fn login(status: StatusCode, problem: Option<&str>) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "mcp-oauth-sim dashboard: sign in" }
                link rel="stylesheet" href="/assets/dashboard.css";
            }
            body {
                main id="login" {
                    h1 { "mcp-oauth-sim dashboard" }
                    p { "The rig's control plane requires its token (" code { "CONTROL_TOKEN" } ", or the one the rig printed). Enter it once; this browser keeps a session." }
                    @if let Some(problem) = problem {
                        p id="login-error" class="error" { (problem) }
                    }
                    form id="login-form" method="post" action="/session" {
                        input type="password" id="login-token" name="token" autocomplete="off" aria-label="control token" required;
                        button type="submit" id="login-submit" { "sign in" }
                    }
                }
            }
        }
    };
    html_response(status, markup)
}

fn html_response(status: StatusCode, markup: Markup) -> Response {
    let mut response = Response::new(full(markup.into_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}
