//! The real rmcp client (the `rmcp` crate's OAuth state machine and Streamable HTTP transport)
//! against the rig, one test per scenario, over HTTP and over HTTPS with the rig's generated
//! CA. Each test starts its own `Sim`, so they run in parallel; each passing test leaves a JSON
//! result for the README's "Tested clients" table.
//!
//! The client is driven the way an application embeds rmcp, minus the browser: the
//! authorization URL is fetched without following redirects and the `Location` it answers is
//! handed to rmcp's callback handler. Where rmcp does something other than what the scenario
//! table in `CLIENTS.md` expects, the test asserts what rmcp really does and says so.
//!
//! # Layout
//! - `rig`: HTTP or HTTPS, and a `Sim` started for it.
//! - `app`: the application around rmcp: one reqwest client for everything (trusting the CA),
//!   a credential store the test can read and fill, headless authorization, tool calls.
//! - `journal`: the rig's request journals, read as the sequence of requests the client made.
//! - `record`: the result file a passing scenario writes (`target/client-matrix/rmcp/…`).
//! - `scenarios`: one file per scenario, each an `async fn run(Scheme)`.
//! - `conformance`: every situation of the MCP conformance suite the rig stages, judged.
//! - `documents`: rmcp naming a client ID metadata document, and the fetch going wrong.
//! - `machine`: clients without a user through rmcp (client credentials, enterprise-managed
//!   authorization), shared by `conformance` and `client_credentials`.
//! - `client_credentials`: rmcp's client credentials (a secret, `private_key_jwt`) against the
//!   rig's plain features, and the refusals it meets.
//!
//! - `tunnel`: rmcp when the rig's URLs move (a tunnel restarted) and across a restart with
//!   the state file.
//!
//! Run one scheme with `cargo test -p mcp-oauth-sim --test rmcp_client https::`.

mod app;
mod client_credentials;
mod conformance;
mod documents;
mod issuers;
mod journal;
mod machine;
mod record;
mod rig;
mod scenarios;
mod tunnel;

/// Each scenario becomes two tests, `http::<name>` and `https::<name>`.
macro_rules! matrix {
    ($($test:ident => $scenario:ident),* $(,)?) => {
        mod http {
            $(
                #[tokio::test]
                async fn $test() {
                    crate::scenarios::$scenario::run(crate::rig::Scheme::Http).await;
                }
            )*
        }
        mod https {
            $(
                #[tokio::test]
                async fn $test() {
                    crate::scenarios::$scenario::run(crate::rig::Scheme::Https).await;
                }
            )*
        }
    };
}

matrix! {
    s1_discovers_registers_authorizes_and_calls_tools_from_the_mcp_url_alone => first_connection,
    s2_refreshes_a_short_lived_access_token_before_each_request => refresh_on_expiry,
    s3_recovers_from_a_revoked_access_token_by_refreshing_and_retrying => revoked_token,
    s4_stores_and_uses_each_rotated_refresh_token => rotation,
    s5_dead_refresh_token_surfaces_auth_required_then_reauthorization_works => dead_refresh,
    s6_denied_consent_fails_the_callback_and_issues_no_token => consent_denied,
    s7_insufficient_scope_is_a_terminal_error_without_any_oauth_traffic => insufficient_scope,
    s8_stored_credentials_with_a_seeded_refresh_token_refresh_and_call => seeded_refresh,
    s9_refresh_answered_503_fails_the_call_before_sending_and_the_next_call_recovers => as_down,
    s10_refresh_answered_429_fails_at_once_without_honoring_retry_after_then_recovers => rate_limited,
    s11_insufficient_scope_for_one_tool_then_a_scope_upgrade_on_the_live_session => step_up,
}
