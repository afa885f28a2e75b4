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
use std::time::Duration;

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::{Control, ControlError, Service};

/// The optional narrowing of a rule: every field given must equal the request's.
pub use sim_http::faults::Match;

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

/// A rule to add.
#[derive(Clone, Debug, Serialize)]
#[must_use]
pub struct Fault {
    /// `metadata`, `register`, `authorize`, `token`, `introspect`, `revoke` on the authorization
    /// server; `prm`, `mcp` on the MCP server.
    pub endpoint: String,
    #[serde(rename = "match", skip_serializing_if = "is_any")]
    pub matching: Match,
    pub respond: Respond,
    /// How many times it fires before it disappears; `None`: until deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
}

fn is_any(matching: &Match) -> bool {
    *matching == Match::default()
}

impl Fault {
    /// A rule answering every request to `endpoint` with `respond`, until deleted.
    pub fn new(endpoint: impl Into<String>, respond: Respond) -> Self {
        Self {
            endpoint: endpoint.into(),
            matching: Match::default(),
            respond,
            times: None,
        }
    }

    /// Fires `times` times, then disappears.
    pub fn times(mut self, times: u64) -> Self {
        self.times = Some(times);
        self
    }

    /// Only token requests of this grant type (`token`).
    pub fn grant_type(mut self, grant_type: impl Into<String>) -> Self {
        self.matching.grant_type = Some(grant_type.into());
        self
    }

    /// Only requests of this client (`authorize`, `token`, `revoke`, `mcp`).
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.matching.client_id = Some(client_id.into());
        self
    }

    /// Only MCP requests of this JSON-RPC method (`mcp`), e.g. `tools/call`.
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.matching.method = Some(method.into());
        self
    }

    /// Only calls of this tool (`mcp`).
    pub fn tool(mut self, tool: impl Into<String>) -> Self {
        self.matching.tool = Some(tool.into());
        self
    }
}

/// How a rule answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Wire", into = "Wire")]
pub enum Respond {
    /// An error in the endpoint's own shape (OAuth JSON, an error redirect from `/authorize`,
    /// an RFC 6750 challenge from `/mcp`). Without `error`, the server picks one for the status
    /// (`temporarily_unavailable` for 429 and 5xx, `server_error` for 500).
    Error {
        status: u16,
        error: Option<String>,
        description: Option<String>,
    },
    /// `429` or `503` with `Retry-After: seconds`.
    RetryAfter { status: u16, seconds: u64 },
    /// Wait, then answer normally.
    Delay { millis: u64 },
    /// `200` declared as JSON, cut off mid-object.
    Malformed,
    /// Close the connection without answering.
    Drop,
}

impl Respond {
    /// An error answer with the server's default error code for `status`.
    pub fn status(status: u16) -> Self {
        Self::Error {
            status,
            error: None,
            description: None,
        }
    }

    /// An error answer with this error code.
    pub fn error(status: u16, error: impl Into<String>) -> Self {
        Self::Error {
            status,
            error: Some(error.into()),
            description: None,
        }
    }

    /// `status` (429 or 503) with `Retry-After`.
    pub fn retry_after(status: u16, seconds: u64) -> Self {
        Self::RetryAfter { status, seconds }
    }

    /// Answer normally, `delay` late (whole milliseconds).
    pub fn delay(delay: Duration) -> Self {
        Self::Delay {
            millis: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// `respond` on the wire: one kind of answer, given by which fields are present.
#[derive(Default, Serialize, Deserialize)]
struct Wire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    malformed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    drop: Option<bool>,
}

impl From<Wire> for Respond {
    fn from(wire: Wire) -> Self {
        if let Some(millis) = wire.delay_ms {
            Self::Delay { millis }
        } else if wire.malformed == Some(true) {
            Self::Malformed
        } else if wire.drop == Some(true) {
            Self::Drop
        } else if let Some(seconds) = wire.retry_after {
            Self::RetryAfter {
                status: wire.status.unwrap_or(429),
                seconds,
            }
        } else {
            Self::Error {
                status: wire.status.unwrap_or_default(),
                error: wire.error,
                description: wire.error_description,
            }
        }
    }
}

impl From<Respond> for Wire {
    fn from(respond: Respond) -> Self {
        match respond {
            Respond::Error {
                status,
                error,
                description,
            } => Self {
                status: Some(status),
                error,
                error_description: description,
                ..Self::default()
            },
            Respond::RetryAfter { status, seconds } => Self {
                status: Some(status),
                retry_after: Some(seconds),
                ..Self::default()
            },
            Respond::Delay { millis } => Self {
                delay_ms: Some(millis),
                ..Self::default()
            },
            Respond::Malformed => Self {
                malformed: Some(true),
                ..Self::default()
            },
            Respond::Drop => Self {
                drop: Some(true),
                ..Self::default()
            },
        }
    }
}

impl fmt::Display for Respond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Error { status, error, .. } => {
                write!(f, "{status}")?;
                if let Some(error) = error {
                    write!(f, " {error}")?;
                }
                Ok(())
            }
            Self::RetryAfter { status, seconds } => {
                write!(f, "{status} with Retry-After: {seconds}")
            }
            Self::Delay { millis } => write!(f, "delay {millis} ms"),
            Self::Malformed => f.write_str("200 with a truncated JSON body"),
            Self::Drop => f.write_str("connection dropped"),
        }
    }
}

/// A rule a server holds, as `GET /control/faults` lists it.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct FaultRule {
    pub id: u64,
    /// The switch this rule stands for (`deny-consent`, `invalid-grant`, `force-403`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    pub endpoint: String,
    #[serde(default, rename = "match", skip_serializing_if = "is_any")]
    pub matching: Match,
    pub respond: Respond,
    /// How many times it was set to fire; `None`: until deleted.
    #[serde(default)]
    pub times: Option<u64>,
    /// How many more times it fires; `None`: until deleted.
    #[serde(default)]
    pub remaining: Option<u64>,
    /// How many times it has fired.
    #[serde(default)]
    pub fired: u64,
}

impl fmt::Display for FaultRule {
    /// `#3 token grant_type=refresh_token → 503 temporarily_unavailable (1 of 2 left, fired 1)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} {}", self.id, self.endpoint)?;
        if let Some(preset) = &self.preset {
            write!(f, " [{preset}]")?;
        }
        let Match {
            grant_type,
            client_id,
            method,
            tool,
        } = &self.matching;
        for (key, value) in [
            ("grant_type", grant_type),
            ("client_id", client_id),
            ("method", method),
            ("tool", tool),
        ] {
            if let Some(value) = value {
                write!(f, " {key}={value}")?;
            }
        }
        write!(f, " → {} (", self.respond)?;
        match (self.remaining, self.times) {
            (Some(remaining), Some(times)) => write!(f, "{remaining} of {times} left")?,
            _ => f.write_str("until deleted")?,
        }
        write!(f, ", fired {})", self.fired)
    }
}

/// `{"faults": [...]}`, as every `/control/faults` call answers.
#[derive(Deserialize)]
pub(crate) struct Listing {
    pub faults: Vec<FaultRule>,
}

/// Both servers' fault rules.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RigFaults {
    pub oauth: Vec<FaultRule>,
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
