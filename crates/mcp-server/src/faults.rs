//! The MCP server's side of the fault engine ([`sim_http::faults`]): the endpoints rules may
//! target, its one preset (`force-403`), and firing a rule with what happened noted for the log
//! line and the journal.

use sim_http::Response;
use sim_http::faults::{ErrorAnswer, Match, Respond, Rule, Subject, Target};

use crate::router::Facts;
use crate::state::State;

/// `prm`: every metadata location the profile serves, before anything else. `mcp`: requests whose token is valid, once
/// the JSON-RPC body is read, so a rule may match the client, the method and the tool.
pub const TARGETS: &[Target] = &[("prm", &[]), ("mcp", &["client_id", "method", "tool"])];

/// The preset behind `POST /control/force-403`.
pub const FORCE_403: &str = "force-403";

/// What `force-403` puts in place: every `tools/call` answers 403 `insufficient_scope`,
/// whatever the token holds.
pub fn force_403() -> Rule {
    Rule::new(
        "mcp",
        Match {
            method: Some("tools/call".to_owned()),
            ..Match::default()
        },
        Respond::error_described(
            403,
            "insufficient_scope",
            "forced by the control plane (force-403)",
        ),
    )
}

/// Applies the first rule for `subject`, if any, noting it in `facts`. `Some` is the answer to
/// send instead of the normal one; `None` means carry on (no rule, or a delay already waited).
/// `render` turns an injected error into the endpoint's own shape.
pub async fn fire(
    state: &State,
    subject: &Subject<'_>,
    facts: &mut Facts,
    render: impl FnOnce(&ErrorAnswer<'_>, &mut Facts) -> Response,
) -> Option<Response> {
    let fired = state
        .faults
        .fire(subject, |answer| render(answer, facts))
        .await?;
    state.counters.faults_fired.bump();
    facts.fired(&fired);
    if fired.preset.as_deref() == Some(FORCE_403) {
        facts.note = "forced".into();
    }
    fired.response
}
