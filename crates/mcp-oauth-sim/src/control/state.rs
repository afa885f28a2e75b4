//! The servers' `GET /control/state` documents and the way `scenario` prints them. The documents
//! are the servers' own types ([`oauth_server::Snapshot`], [`mcp_server::Snapshot`]): fields
//! added after a field's first release default when absent, so this client reads an older rig's
//! state too.

use std::fmt;

use serde_json::{Value, json};

use super::{Control, ControlError, Service};

impl Control {
    /// Both servers' state documents as they are, with every issuer beside `main` and both
    /// servers' fault rules: `{"oauth": …, "mcp": …, "issuers": […], "faults": {"oauth": […],
    /// "mcp": […]}}`, what `scenario state --json` prints and the dashboard shows.
    pub async fn state_document(&self) -> Result<Value, ControlError> {
        let (oauth, mcp, faults) = tokio::try_join!(
            self.raw_state(Service::OAuth),
            self.raw_state(Service::Mcp),
            self.all_faults(),
        )?;
        let own = oauth["name"].as_str().unwrap_or(oauth_server::MAIN_ISSUER);
        let mut issuers = Vec::new();
        for name in oauth["issuers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|place| place["name"].as_str())
            .filter(|name| *name != own)
        {
            issuers.push(self.issuer(name).raw_state(Service::OAuth).await?);
        }
        Ok(json!({ "oauth": oauth, "mcp": mcp, "issuers": issuers, "faults": faults }))
    }
}

/// Both servers' state, as `scenario state` prints it.
#[derive(Clone, Debug)]
pub struct RigState {
    /// The authorization server's (its `main` issuer's).
    pub oauth: OAuthState,
    /// Every other issuer the authorization server hosts, in the order it lists them.
    pub issuers: Vec<OAuthState>,
    /// The MCP server's.
    pub mcp: McpState,
}

/// The authorization server's `GET /control/state` (of one issuer): the server's own type.
pub use oauth_server::Snapshot as OAuthState;
pub use oauth_server::snapshot::{
    ClockOffset, Consent, StoreLimits, StoreSizes, Tallies as OAuthCounters, TokenRequests,
};
pub use oauth_server::{ReuseDetection, Toggles as OAuthToggles};

/// The MCP server's `GET /control/state`: the server's own type.
pub use mcp_server::snapshot::{Tallies as McpCounters, Toggles as McpToggles};
pub use mcp_server::{IntrospectionFailure, Snapshot as McpState};

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

impl fmt::Display for RigState {
    /// The state as a tester reads it: switches by their scenario names, then what happened;
    /// each issuer beyond `main` after it, the same way.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_issuer(f, &self.oauth)?;
        for issuer in &self.issuers {
            write_issuer(f, issuer)?;
        }
        let McpState {
            resource,
            toggles,
            counters,
            introspection_failure,
            tool_scopes,
            ..
        } = &self.mcp;
        writeln!(f, "mcp    {resource}")?;
        let step_up = if tool_scopes.is_empty() {
            "none".to_owned()
        } else {
            tool_scopes
                .iter()
                .map(|(tool, scopes)| format!("{tool}={}", scopes.replace(' ', "+")))
                .collect::<Vec<_>>()
                .join(",")
        };
        writeln!(
            f,
            "  bad-scope {}   step-up {}   failed token checks answer {}",
            on_off(toggles.force_403),
            step_up,
            introspection_failure,
        )?;
        write!(
            f,
            "  requests {}  tool calls {}  401 {}  400 {}  403 {}  503 {}  introspections {} ({} failed)  faults fired {}",
            counters.requests,
            counters.tool_calls,
            counters.unauthorized,
            counters.bad_requests,
            counters.forbidden,
            counters.unavailable,
            counters.introspections,
            counters.introspection_failures,
            counters.faults_fired,
        )
    }
}

/// One issuer's part of [`RigState`]'s text.
fn write_issuer(f: &mut fmt::Formatter<'_>, oauth: &OAuthState) -> fmt::Result {
    let OAuthState {
        issuer,
        toggles,
        store,
        counters,
        scopes,
        seed_refresh_token,
        clock,
        consent,
        reuse_detection,
        ..
    } = oauth;
    match &oauth.name {
        name if name.is_empty() || name == oauth_server::MAIN_ISSUER => {
            writeln!(f, "oauth  {issuer}")?
        }
        name => writeln!(f, "oauth  {issuer}  (issuer {name})")?,
    }
    writeln!(
        f,
        "  rotate {:<5} dead-refresh {:<5} deny-consent {:<5} access-token TTL {} s",
        on_off(toggles.rotate_refresh_tokens),
        on_off(toggles.invalid_grant),
        on_off(toggles.deny_consent),
        toggles.access_token_ttl_seconds,
    )?;
    let reuse = if reuse_detection.on {
        format!("on (grace {} s)", reuse_detection.grace_seconds)
    } else {
        "off".to_owned()
    };
    writeln!(
        f,
        "  clock {:+} s   narrow-consent {}   reuse-detect {}",
        clock.offset_seconds,
        consent.grant_scope.as_deref().unwrap_or("off"),
        reuse,
    )?;
    writeln!(
        f,
        "  live: {} clients, {} codes, {} access tokens, {} refresh tokens",
        store.clients, store.codes, store.access_tokens, store.refresh_tokens
    )?;
    writeln!(
        f,
        "  registrations {}  authorizations {} ({} denied)  token requests: {} code, {} refresh, {} other ({} failed)",
        counters.registrations,
        counters.authorizations,
        counters.consent_denials,
        counters.token_requests.authorization_code,
        counters.token_requests.refresh_token,
        counters.token_requests.other,
        counters.token_errors,
    )?;
    writeln!(
        f,
        "  introspections {} ({} active)  revocations {}  reuse detected {}  faults fired {}",
        counters.introspections,
        counters.active_introspections,
        counters.revocations,
        counters.reuse_detections,
        counters.faults_fired,
    )?;
    writeln!(
        f,
        "  scopes {}  start-up seed {}",
        scopes.join(" "),
        seed_refresh_token.as_deref().unwrap_or("none"),
    )?;
    Ok(())
}
