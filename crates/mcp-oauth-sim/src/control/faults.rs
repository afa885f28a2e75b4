//! Fault rules as the control client sends and reads them.
//!
//! A rule names an endpoint, optionally narrows the requests it applies to, says how to answer
//! and how many times. Build one in code,
//!
//! ```
//! use mcp_oauth_sim::control::{Fault, Respond};
//! // The next two refresh grants answer 503; the third goes through.
//! let rule = Fault::new("token", Respond::status(503))
//!     .grant_type("refresh_token")
//!     .times(2);
//! # let _ = rule;
//! ```
//!
//! or pass the JSON a tester would post to [`crate::Control::add_fault`]; the servers check it
//! either way (`sim_http::faults` is the engine).

use std::fmt;

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::{Control, ControlError, Service};

/// The optional narrowing of a rule, and how a rule answers: the servers' own types.
pub use sim_http::faults::{Match, Respond};

impl Control {
    /// Adds a fault rule to `service`: a [`Fault`], or the JSON a tester would post
    /// (`{"endpoint": …, "match": …, "respond": …, "times": …}`). Answers the rule with its id.
    pub async fn add_fault(
        &self,
        service: Service,
        rule: &impl Serialize,
    ) -> Result<FaultRule, ControlError> {
        let body = serde_json::to_value(rule).map_err(|error| {
            ControlError::Client(format!("the fault rule is not JSON: {error}"))
        })?;
        self.call(service, Method::POST, "faults", Some(body)).await
    }

    /// The fault rules `service` holds, presets included, oldest first.
    pub async fn faults(&self, service: Service) -> Result<Vec<FaultRule>, ControlError> {
        let listing: Listing = self.get(service, "faults").await?;
        Ok(listing.faults)
    }

    /// Both servers' fault rules.
    pub async fn all_faults(&self) -> Result<RigFaults, ControlError> {
        let (oauth, mcp) =
            tokio::try_join!(self.faults(Service::OAuth), self.faults(Service::Mcp))?;
        Ok(RigFaults { oauth, mcp })
    }

    /// Deletes rule `id` of `service`; answers the rules left.
    pub async fn delete_fault(
        &self,
        service: Service,
        id: u64,
    ) -> Result<Vec<FaultRule>, ControlError> {
        let listing: Listing = self
            .call(service, Method::DELETE, &format!("faults/{id}"), None)
            .await?;
        Ok(listing.faults)
    }

    /// Deletes every fault rule of both servers, presets included (so `deny-consent`,
    /// `dead-refresh` and `bad-scope` turn off too).
    pub async fn clear_faults(&self) -> Result<RigFaults, ControlError> {
        let clear = |service| async move {
            let listing: Listing = self.call(service, Method::DELETE, "faults", None).await?;
            Ok::<_, ControlError>(listing.faults)
        };
        let (oauth, mcp) = tokio::try_join!(clear(Service::OAuth), clear(Service::Mcp))?;
        Ok(RigFaults { oauth, mcp })
    }
}

/// A rule to add: the JSON a tester would post, built in code.
pub type Fault = sim_http::faults::RuleSpec;

/// A rule a server holds, as `GET /control/faults` lists it.
pub type FaultRule = sim_http::faults::Rule;

/// `{"faults": [...]}`, as every `/control/faults` call answers.
#[derive(Deserialize)]
pub(crate) struct Listing {
    pub faults: Vec<FaultRule>,
}

/// Both servers' fault rules.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RigFaults {
    /// The authorization server's (its `main` issuer's), oldest first.
    pub oauth: Vec<FaultRule>,
    /// The MCP server's, oldest first.
    pub mcp: Vec<FaultRule>,
}

impl fmt::Display for RigFaults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, rules) in [("oauth", &self.oauth), ("mcp", &self.mcp)] {
            if rules.is_empty() {
                writeln!(f, "{name:<6} no fault rules")?;
            }
            for rule in rules {
                writeln!(f, "{name:<6} {rule}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    #[test]
    fn a_built_rule_is_the_json_a_tester_would_post() {
        let rule = Fault::new("token", Respond::status(503))
            .grant_type("refresh_token")
            .times(2);
        assert_eq!(
            serde_json::to_value(&rule).unwrap(),
            json!({"endpoint": "token", "match": {"grant_type": "refresh_token"},
                   "respond": {"status": 503}, "times": 2})
        );
        let slow = Fault::new("token", Respond::delay(Duration::from_millis(1500)));
        assert_eq!(
            serde_json::to_value(&slow).unwrap(),
            json!({"endpoint": "token", "respond": {"delay_ms": 1500}})
        );
    }

    #[test]
    fn listed_rules_read_back_and_print_on_one_line() {
        for (respond, shown) in [
            (
                json!({"status": 503, "error": "temporarily_unavailable"}),
                "503 temporarily_unavailable",
            ),
            (
                json!({"status": 429, "retry_after": 1}),
                "429 with Retry-After: 1",
            ),
            (json!({"delay_ms": 250}), "delay 250 ms"),
            (json!({"malformed": true}), "200 with a truncated JSON body"),
            (json!({"drop": true}), "connection dropped"),
        ] {
            let rule: FaultRule = serde_json::from_value(json!({
                "id": 3, "endpoint": "mcp", "match": {"tool": "add"}, "respond": respond,
                "times": 2, "remaining": 1, "fired": 1
            }))
            .unwrap();
            assert_eq!(
                rule.to_string(),
                format!("#3 mcp tool=add → {shown} (1 of 2 left, fired 1)")
            );
            assert_eq!(serde_json::to_value(&rule.respond).unwrap(), respond);
        }
        let preset: FaultRule = serde_json::from_value(json!({
            "id": 1, "preset": "deny-consent", "endpoint": "authorize",
            "respond": {"status": 400, "error": "access_denied"},
            "times": null, "remaining": null, "fired": 0
        }))
        .unwrap();
        assert_eq!(
            preset.to_string(),
            "#1 authorize [deny-consent] → 400 access_denied (until deleted, fired 0)"
        );
    }
}
