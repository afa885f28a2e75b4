//! `GET /api/state` and `POST /api/scenario`: the rig's state, and a scenario flipped on it,
//! answered with the equivalent `cargo scenario` and `curl` lines.

use clap::ValueEnum;
use http::{Request, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::{Value, json};
use sim_http::Response;
use sim_http::response::{json as json_response, plain_error};

use super::{MAX_BODY, State};
use crate::control::recording::quote;
use crate::control::scenario::Name;
use crate::{Control, ControlError, Scenario};

/// The body of `POST /api/scenario`: a scenario's name and its words, as `scenario` takes them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Action {
    name: String,
    #[serde(default)]
    values: Vec<String>,
}

/// The rig's control client, sending the token the servers require now.
pub(super) fn control(state: &State) -> Control {
    if let Some(token) = state.guard.token() {
        state.control.adopt_token(token);
    }
    state.control.clone()
}

/// `GET /api/state`: what `scenario state --json` prints.
pub(super) async fn state(state: &State) -> Response {
    match control(state).state_document().await {
        Ok(document) => json_response(StatusCode::OK, &document),
        Err(error) => failed(&error, Vec::new()),
    }
}

/// `POST /api/scenario {"name", "values"}`: parsed as the `scenario` command parses its words,
/// applied the way it applies them (`conformance` staged, `tunnel` re-pointed), answered with
/// the state afterwards, the `cargo scenario` line and the `curl` lines of the calls sent.
pub(super) async fn scenario(state: &State, request: Request<Incoming>) -> Response {
    let body = match sim_http::body::read(request.into_body(), MAX_BODY).await {
        Ok(body) => body,
        Err(error) => return plain_error(error.status(), &error.to_string()),
    };
    let action: Action = match serde_json::from_slice(&body) {
        Ok(action) => action,
        Err(error) => {
            return plain_error(
                StatusCode::BAD_REQUEST,
                &format!("the body must be {{\"name\": …, \"values\": […]}}: {error}"),
            );
        }
    };
    let Ok(name) = Name::from_str(&action.name, false) else {
        let known: Vec<&str> = Name::value_variants()
            .iter()
            .map(|name| name.as_str())
            .collect();
        return plain_error(
            StatusCode::BAD_REQUEST,
            &format!(
                "'{}' is not a scenario; the scenarios are {}",
                action.name,
                known.join(", ")
            ),
        );
    };
    let scenario = match Scenario::parse(name, &action.values) {
        Ok(scenario) => scenario,
        Err(error) => return plain_error(StatusCode::BAD_REQUEST, &error.to_string()),
    };
    let with_token = state.guard.requires_token();
    let (control, recorder) = control(state).recording();
    let mut answer = json!({});
    let applied = match &scenario {
        Scenario::Conformance(situation) => control.stage(*situation).await.map(|context| {
            if !context.is_empty() {
                answer["context"] = json!(context);
            }
        }),
        Scenario::Tunnel(to) => control.re_point(to).await.map(|re_pointed| {
            if let Some(token) = re_pointed.control_token {
                // Told once, here and in the rig's log, as `scenario tunnel` tells it.
                answer["control_token"] = json!(token);
            }
        }),
        scenario => control.apply(scenario).await.map(|added| {
            if let Some(rule) = added {
                answer["added"] = json!(rule);
            }
        }),
    };
    let curl: Vec<String> = recorder
        .take()
        .iter()
        .map(|sent| sent.curl(with_token))
        .collect();
    if let Err(error) = applied {
        return failed(&error, curl);
    }
    let document = match control.state_document().await {
        Ok(document) => document,
        Err(error) => return failed(&error, curl),
    };
    answer["state"] = document;
    answer["cli"] = json!(cli_line(name, &action.values, &state.scenario_flags));
    answer["curl"] = json!(curl);
    if let Some(caveat) = scenario.caveat() {
        answer["caveat"] = json!(caveat);
    }
    json_response(StatusCode::OK, &answer)
}

/// The `cargo scenario` line that does the same.
fn cli_line(name: Name, values: &[String], flags: &[String]) -> String {
    let mut line = format!("cargo scenario {}", name.as_str());
    for word in values.iter().chain(flags) {
        line.push(' ');
        line.push_str(&quote(word));
    }
    line
}

/// A control call that failed: what the rig refused is the caller's mistake (`400`, or the
/// rig's own 4xx), a rig that cannot be reached a `502`.
fn failed(error: &ControlError, curl: Vec<String>) -> Response {
    let status = match error {
        ControlError::Refused { status, .. } if status.is_client_error() => {
            if *status == StatusCode::UNAUTHORIZED {
                StatusCode::BAD_REQUEST
            } else {
                *status
            }
        }
        ControlError::Refused { .. } | ControlError::BadAnswer { .. } => StatusCode::BAD_GATEWAY,
        ControlError::Unreachable { .. } | ControlError::Client(_) => StatusCode::BAD_GATEWAY,
    };
    let body: Value = json!({ "error": error.to_string(), "curl": curl });
    json_response(status, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_line_quotes_what_the_shell_would_change() {
        let words = |text: &[&str]| text.iter().map(|word| word.to_string()).collect::<Vec<_>>();
        assert_eq!(
            cli_line(Name::Rotate, &words(&["on"]), &[]),
            "cargo scenario rotate on"
        );
        assert_eq!(
            cli_line(
                Name::Fault,
                &words(&["mcp", r#"{"endpoint":"mcp"}"#]),
                &words(&["--oauth-port", "1234"])
            ),
            r#"cargo scenario fault mcp '{"endpoint":"mcp"}' --oauth-port 1234"#
        );
    }
}
