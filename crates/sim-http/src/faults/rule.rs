//! Fault rules on the wire: what a tester posts to `/control/faults` ([`RuleSpec`]), how a rule
//! answers ([`Respond`]) and a rule as the server lists it ([`Rule`]). The servers and the
//! control client use these same types, so a rule means one thing on both sides.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{MAX_DELAY_MS, Subject};

/// The optional narrowing of a rule; every field given must equal the request's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Match {
    /// Only token requests of this `grant_type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_type: Option<String>,
    /// Only requests of this client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Only MCP requests of this JSON-RPC method, e.g. `tools/call`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Only calls of this tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// Only requests whose `scope` holds this scope token among others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl Match {
    pub(super) fn admits(&self, subject: &Subject<'_>) -> bool {
        fn same(wanted: &Option<String>, got: Option<&str>) -> bool {
            wanted.as_deref().is_none_or(|wanted| got == Some(wanted))
        }
        same(&self.grant_type, subject.grant_type)
            && same(&self.client_id, subject.client_id)
            && same(&self.method, subject.method)
            && same(&self.tool, subject.tool)
            && self.scope.as_deref().is_none_or(|wanted| {
                subject
                    .scope
                    .is_some_and(|scope| scope.split(' ').any(|token| token == wanted))
            })
    }

    /// The keys given, with their values.
    fn given(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("grant_type", &self.grant_type),
            ("client_id", &self.client_id),
            ("method", &self.method),
            ("tool", &self.tool),
            ("scope", &self.scope),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.as_deref().map(|value| (key, value)))
    }

    pub(super) fn keys(&self) -> impl Iterator<Item = &'static str> {
        self.given().map(|(key, _)| key)
    }

    fn is_any(&self) -> bool {
        *self == Self::default()
    }
}

/// How a rule answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "RespondSpec", into = "RespondSpec")]
pub enum Respond {
    /// An error in the endpoint's own shape: OAuth JSON, a redirect carrying `error` for
    /// `/authorize`, a `WWW-Authenticate` challenge for a protected resource. Asked for without
    /// `error`, the server picks one for the status (`temporarily_unavailable` for 429 and 5xx,
    /// `server_error` for 500), and lists the rule with it.
    Error {
        /// The status answered, 400 to 599.
        status: u16,
        /// The error code answered; `None` answers `server_error`.
        error: Option<String>,
        /// The `error_description` answered; `None` answers `injected by fault rule {id}`.
        description: Option<String>,
    },
    /// `429` or `503` with `Retry-After: seconds`.
    RetryAfter {
        /// `429` or `503`.
        status: u16,
        /// The `Retry-After` value, in seconds.
        seconds: u64,
    },
    /// Wait, then answer normally.
    Delay {
        /// How long to wait, in milliseconds.
        millis: u64,
    },
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

    /// An error answer with this error code and description.
    pub fn error_described(
        status: u16,
        error: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        Self::Error {
            status,
            error: Some(error.into()),
            description: Some(description.into()),
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

    /// The answer a server holds for `spec`, checked: exactly one kind of answer, values in
    /// range, an error code for every error status (the default one filled in), and text that
    /// fits a JSON string and a challenge parameter unescaped.
    pub fn checked(spec: RespondSpec) -> Result<Self, String> {
        let RespondSpec {
            status,
            error,
            error_description,
            retry_after,
            delay_ms,
            malformed,
            drop,
        } = spec;
        let error_given = error.is_some() || error_description.is_some();
        let kinds = [
            status.is_some() || error_given,
            delay_ms.is_some(),
            malformed == Some(true),
            drop == Some(true),
        ];
        let only = |ok: bool| {
            ok.then_some(()).ok_or_else(|| {
                "respond takes one kind of answer: {status, error, error_description}, \
                 {status: 429, retry_after}, {delay_ms}, {malformed: true} or {drop: true}"
                    .to_owned()
            })
        };
        if matches!(malformed, Some(false)) || matches!(drop, Some(false)) {
            return Err("malformed and drop can only be true".to_owned());
        }
        if let Some(seconds) = retry_after {
            only(!error_given && kinds[1..].iter().all(|kind| !kind))?;
            let status = status.unwrap_or(429);
            if status != 429 && status != 503 {
                return Err("retry_after goes with status 429 or 503".to_owned());
            }
            if seconds > 86_400 {
                return Err("retry_after must be at most 86400 seconds".to_owned());
            }
            return Ok(Self::RetryAfter { status, seconds });
        }
        only(kinds.iter().filter(|kind| **kind).count() == 1)?;
        if let Some(millis) = delay_ms {
            if millis > MAX_DELAY_MS {
                return Err(format!("delay_ms must be at most {MAX_DELAY_MS}"));
            }
            return Ok(Self::Delay { millis });
        }
        if malformed == Some(true) {
            return Ok(Self::Malformed);
        }
        if drop == Some(true) {
            return Ok(Self::Drop);
        }
        let status = status.ok_or("an error answer needs a status (400 to 599)")?;
        if !(400..=599).contains(&status) {
            return Err("status must be from 400 to 599".into());
        }
        let error = match error {
            Some(error) => error,
            None if status == 500 => "server_error".to_owned(),
            None if status >= 500 || status == 429 => "temporarily_unavailable".to_owned(),
            None => {
                return Err(format!(
                    "error is required for a {} answer",
                    status_name(status)
                ));
            }
        };
        // RFC 6749 §5.2: printable ASCII without `"` and `\`, so it fits a JSON string and a
        // challenge parameter unescaped.
        let printable = |text: &str| {
            text.bytes()
                .all(|byte| (0x20..=0x7e).contains(&byte) && byte != b'"' && byte != b'\\')
        };
        if error.is_empty() || error.len() > 128 || !printable(&error) || error.contains(' ') {
            return Err(
                "error must be 1 to 128 printable ASCII characters, no spaces or quotes".into(),
            );
        }
        let description = error_description.filter(|description| !description.is_empty());
        if let Some(description) = &description
            && (description.len() > 512 || !printable(description))
        {
            return Err(
                "error_description must be at most 512 printable ASCII characters, no quotes"
                    .into(),
            );
        }
        Ok(Self::Error {
            status,
            error: Some(error),
            description,
        })
    }
}

/// `400 Bad Request`, as `http` names a status.
fn status_name(status: u16) -> String {
    http::StatusCode::from_u16(status).map_or_else(|_| status.to_string(), |code| code.to_string())
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

/// `respond` as it is written: one kind of answer, given by which fields are present.
/// [`Respond::checked`] is the server's reading of it; a client reads the server's listing
/// through [`Respond`]'s `Deserialize`, which trusts it.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RespondSpec {
    /// The status of an error answer (400 to 599), or of a `retry_after` one (429 or 503,
    /// 429 if omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The error code of an error answer; required below 500, except for 429.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The `error_description` of an error answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    /// Seconds for `Retry-After`, at most 86400: answer 429 or 503 with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// Milliseconds to wait before answering normally, at most [`MAX_DELAY_MS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// `true`: answer `200` with JSON cut off mid-object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub malformed: Option<bool>,
    /// `true`: close the connection without answering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop: Option<bool>,
}

impl From<RespondSpec> for Respond {
    fn from(spec: RespondSpec) -> Self {
        if let Some(millis) = spec.delay_ms {
            Self::Delay { millis }
        } else if spec.malformed == Some(true) {
            Self::Malformed
        } else if spec.drop == Some(true) {
            Self::Drop
        } else if let Some(seconds) = spec.retry_after {
            Self::RetryAfter {
                status: spec.status.unwrap_or(429),
                seconds,
            }
        } else {
            Self::Error {
                status: spec.status.unwrap_or_default(),
                error: spec.error,
                description: spec.error_description,
            }
        }
    }
}

impl From<Respond> for RespondSpec {
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

/// A rule as a tester posts it to `/control/faults`; build one in code with [`RuleSpec::new`]
/// and the narrowing methods.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[must_use]
pub struct RuleSpec {
    /// `metadata`, `register`, `authorize`, `token`, `introspect`, `revoke` on the authorization
    /// server; `prm`, `mcp` on the MCP server.
    pub endpoint: String,
    /// Which of the endpoint's requests it applies to; written `match`, omitted for all.
    #[serde(default, rename = "match", skip_serializing_if = "Match::is_any")]
    pub matching: Match,
    /// How it answers.
    pub respond: RespondSpec,
    /// How many times it fires before it disappears; `None`: until deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
}

impl RuleSpec {
    /// A rule answering every request to `endpoint` with `respond`, until deleted.
    pub fn new(endpoint: impl Into<String>, respond: Respond) -> Self {
        Self {
            endpoint: endpoint.into(),
            matching: Match::default(),
            respond: respond.into(),
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

    /// Only token requests asking for `scope` (among others).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.matching.scope = Some(scope.into());
        self
    }
}

/// A rule the engine holds, as `GET /control/faults` lists it.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Rule {
    /// Its number on this server, for `DELETE /control/faults/{id}`.
    pub id: u64,
    /// The switch this rule stands for (`deny-consent`, `invalid-grant`, `force-403`), if it is
    /// a preset. Borrowed on the server, owned when a client reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<Cow<'static, str>>,
    /// The endpoint it targets, as in [`RuleSpec::endpoint`].
    pub endpoint: String,
    /// Which of the endpoint's requests it applies to; written `match`, omitted for all.
    #[serde(default, rename = "match", skip_serializing_if = "Match::is_any")]
    pub matching: Match,
    /// How it answers.
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

impl Rule {
    /// A rule built in code, firing until deleted: what a preset puts in place.
    pub fn new(endpoint: &str, matching: Match, respond: Respond) -> Rule {
        Rule {
            id: 0,
            preset: None,
            endpoint: endpoint.to_owned(),
            matching,
            respond,
            times: None,
            remaining: None,
            fired: 0,
        }
    }
}

impl fmt::Display for Rule {
    /// `#3 token grant_type=refresh_token → 503 temporarily_unavailable (1 of 2 left, fired 1)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} {}", self.id, self.endpoint)?;
        if let Some(preset) = &self.preset {
            write!(f, " [{preset}]")?;
        }
        for (key, value) in self.matching.given() {
            write!(f, " {key}={value}")?;
        }
        write!(f, " → {} (", self.respond)?;
        match (self.remaining, self.times) {
            (Some(remaining), Some(times)) => write!(f, "{remaining} of {times} left")?,
            _ => f.write_str("until deleted")?,
        }
        write!(f, ", fired {})", self.fired)
    }
}
