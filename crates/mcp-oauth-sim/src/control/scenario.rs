//! The scenarios: the rig's named failures, typed, and what each does to the running rig. The
//! `scenario` command parses them from its words ([`Scenario::parse`]), a Rust test builds them
//! directly, and both apply them with [`Control::apply`], so every entry point flips a failure
//! the same way.
//!
//! ```
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let sim = mcp_oauth_sim::Sim::builder().start().await?;
//! use mcp_oauth_sim::Scenario;
//! sim.control().apply(&Scenario::Rotate(true)).await?;
//! sim.control().apply(&Scenario::AsDown(2)).await?; // the next two token requests answer 503
//! assert!(sim.control().oauth_state().await?.toggles.rotate_refresh_tokens);
//! # Ok(()) }
//! ```

use oauth_server::documents::FetchFault;
use serde_json::{Value, json};

use super::conformance::Situation;
use super::faults::{Fault, FaultRule, Respond};
use super::{Control, ControlError, Service};
use crate::IntrospectionFailure;

/// A scenario's name, as the `scenario` command takes it; the doc comment of each is its
/// `--help` line. One name per switch: where a switch has a control path, the path is
/// `/control/<name>` on its server too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Name {
    /// on|off: every refresh returns a new refresh token and retires the old one.
    Rotate,
    /// SECONDS: lifetime of access tokens issued from now on.
    ExpireAccess,
    /// Every live access token becomes inactive; the next MCP call gets 401.
    Revoke,
    /// on|off: every refresh grant answers invalid_grant.
    DeadRefresh,
    /// on|off: /authorize redirects back with access_denied.
    DenyConsent,
    /// on|off: tool calls answer 403 insufficient_scope.
    BadScope,
    /// TOKEN: make TOKEN a valid refresh token for any client.
    SeedRefresh,
    /// Both servers back to start-up; every client must register and consent again.
    Reset,
    /// N: the next N token requests answer 503 temporarily_unavailable (Retry-After: 1).
    AsDown,
    /// MS|off: token requests are answered MS milliseconds late, until turned off.
    SlowToken,
    /// N: the next N token requests answer 429 with Retry-After: 1.
    RateLimit,
    /// [503|401|off]: the AS's /introspect answers 503; MCP requests get 503 (or 401).
    IntrospectDown,
    /// +SECONDS|-SECONDS|reset: move the AS's clock (codes and tokens expire by it).
    Clock,
    /// TOOL SCOPE|off: calls of TOOL also need SCOPE (403 insufficient_scope naming it).
    StepUp,
    /// SCOPE|off: /authorize grants only SCOPE, whatever the client asked for.
    NarrowConsent,
    /// on|off [GRACE]: a rotated-out refresh token used after GRACE seconds revokes its grant.
    ReuseDetect,
    /// Delete every fault rule on both servers, the switches' own included.
    ClearFaults,
    /// oauth|mcp JSON: add a fault rule, e.g. '{"endpoint":"token","respond":{"status":503}}'.
    Fault,
    /// oauth|mcp ID: delete one fault rule.
    DeleteFault,
    /// NAME|list|check NAME: reset, then stage the conformance suite's scenario NAME (auth/…).
    Conformance,
    /// oauth|mcp JSON: change a server's knobs, e.g. oauth '{"iss":"wrong"}' (null: start-up value).
    Profile,
    /// on|off|unadvertised: client ID metadata documents offered and fetched, refused, or fetched unannounced.
    Cimd,
    /// KIND [URL] [N] | off: spoil document fetches (unreachable, slow, http-error, not-json, too-large, client-id-mismatch, redirect-uri-missing, client-secret).
    DocumentFault,
    /// [URL]: a cached client ID metadata document (every one) counts as changed and is fetched again.
    DocumentChanged,
    /// OAUTH_URL MCP_URL [reject-old-audience] | local: re-point both servers' public URLs live (a tunnel's); tokens stay.
    Tunnel,
    /// auto|page [N]: consent approved automatically, or asked on the consent page (for the next N authorizations).
    ConsentMode,
}

impl Name {
    /// The name as typed: `dead-refresh`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rotate => "rotate",
            Self::ExpireAccess => "expire-access",
            Self::Revoke => "revoke",
            Self::DeadRefresh => "dead-refresh",
            Self::DenyConsent => "deny-consent",
            Self::BadScope => "bad-scope",
            Self::SeedRefresh => "seed-refresh",
            Self::Reset => "reset",
            Self::AsDown => "as-down",
            Self::SlowToken => "slow-token",
            Self::RateLimit => "rate-limit",
            Self::IntrospectDown => "introspect-down",
            Self::Clock => "clock",
            Self::StepUp => "step-up",
            Self::NarrowConsent => "narrow-consent",
            Self::ReuseDetect => "reuse-detect",
            Self::ClearFaults => "clear-faults",
            Self::Fault => "fault",
            Self::DeleteFault => "delete-fault",
            Self::Conformance => "conformance",
            Self::Profile => "profile",
            Self::Cimd => "cimd",
            Self::DocumentFault => "document-fault",
            Self::DocumentChanged => "document-changed",
            Self::Tunnel => "tunnel",
            Self::ConsentMode => "consent-mode",
        }
    }

    /// How many values it takes at most.
    pub fn arity(self) -> usize {
        match self {
            Self::Revoke | Self::Reset | Self::ClearFaults => 0,
            Self::Fault
            | Self::DeleteFault
            | Self::ReuseDetect
            | Self::Conformance
            | Self::Profile
            | Self::ConsentMode => 2,
            Self::DocumentFault | Self::Tunnel => 3,
            Self::StepUp | Self::NarrowConsent => usize::MAX,
            _ => 1,
        }
    }
}

/// How far to move the authorization server's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockMove {
    /// Forward (or back, never behind system time) by this many seconds.
    Advance(i64),
    /// Back on system time.
    Reset,
}

/// What the default issuer does with client ID metadata documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cimd {
    /// Advertised in the metadata, and fetched.
    On,
    /// Declared unsupported, and a URL client id is an unknown client.
    Off,
    /// Absent from the metadata, yet fetched: a client that uses a document unasked.
    Unadvertised,
}

/// A failure to flip on the running rig, with what it takes.
#[derive(Clone, Debug, PartialEq)]
pub enum Scenario {
    /// Refresh grants return a new refresh token and retire the presented one.
    Rotate(bool),
    /// Lifetime of access tokens issued from now on, in seconds.
    ExpireAccess(u64),
    /// Every live access token becomes inactive.
    Revoke,
    /// Every refresh grant answers `invalid_grant` (the `invalid-grant` preset).
    DeadRefresh(bool),
    /// `/authorize` answers `access_denied` (the `deny-consent` preset).
    DenyConsent(bool),
    /// Every `tools/call` answers `403 insufficient_scope` (the `force-403` preset).
    BadScope(bool),
    /// This string becomes a valid refresh token for any client.
    SeedRefresh(String),
    /// Both servers back to start-up.
    Reset,
    /// The next N token requests answer `503 temporarily_unavailable`.
    AsDown(u64),
    /// Token requests answered this many milliseconds late (`None`: on time again). One delay
    /// at a time: a new one replaces the old.
    SlowToken(Option<u64>),
    /// The next N token requests answer `429` with `Retry-After: 1`.
    RateLimit(u64),
    /// The AS's `/introspect` answers 503 and the MCP server answers what the mode says
    /// (`None`: introspection works again, and the mode is back to 503).
    IntrospectDown(Option<IntrospectionFailure>),
    /// Move the authorization server's clock.
    Clock(ClockMove),
    /// Calls of `tool` also need `scopes` (space-separated; `None`: only the required ones).
    StepUp {
        /// `echo`, `add` or `whoami`.
        tool: String,
        /// The scopes it needs besides the required ones.
        scopes: Option<String>,
    },
    /// `/authorize` grants exactly this scope (`None`: what was asked).
    NarrowConsent(Option<String>),
    /// Refresh-token reuse detection, with a grace period in seconds.
    ReuseDetect {
        /// Whether a rotated-out refresh token presented again revokes its grant.
        on: bool,
        /// How long after its rotation it is still honoured as a retry.
        grace_seconds: u64,
    },
    /// Every fault rule of both servers deleted, presets included.
    ClearFaults,
    /// A fault rule added to a server: a [`Fault`] or the JSON a tester would post.
    Fault {
        /// Which server.
        service: Service,
        /// The rule, as JSON.
        rule: Value,
    },
    /// One fault rule deleted.
    DeleteFault {
        /// Which server.
        service: Service,
        /// The rule's id.
        id: u64,
    },
    /// Both servers reset, then put in a situation of the MCP conformance suite.
    Conformance(Situation),
    /// A server's knobs changed: the fields given replace the current ones (`null`: the
    /// start-up value).
    Profile {
        /// Which server (the AS's default issuer, or the MCP server).
        service: Service,
        /// The fields to change, as JSON.
        patch: Value,
    },
    /// What the default issuer does with client ID metadata documents.
    Cimd(Cimd),
    /// Document fetches spoiled as `fault` says (`None`: every fetch fault removed).
    DocumentFault {
        /// The fault; `None` removes them all.
        fault: Option<FetchFault>,
        /// Only the document at this URL.
        url: Option<String>,
        /// For this many fetches; for ever when `None`.
        times: Option<u32>,
    },
    /// The cached document at this URL (every one: `None`) counts as changed.
    DocumentChanged(Option<String>),
    /// Both servers answer under new public URLs from now on, as when a tunnel in front of
    /// them restarted with new ones: see [`Control::re_point`].
    Tunnel(RePoint),
    /// How the default issuer asks for consent: automatically (`page: false`), or on the
    /// consent page, for the next `next` authorizations or until changed.
    ConsentMode {
        /// Whether the consent page is shown.
        page: bool,
        /// Only for this many authorizations, then automatic again.
        next: Option<u64>,
    },
}

/// Where a [`Control::re_point`] moves the rig.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RePoint {
    /// The authorization server's new public URL: `main`'s issuer (`None`: back to start-up's).
    pub oauth_url: Option<String>,
    /// The MCP server's new public origin (`None`: back to the loopback names).
    pub mcp_url: Option<String>,
    /// Whether tokens issued for the MCP server's old URL stay good for it (its old audiences
    /// stay accepted, and a grant for the old resource covers the new one). `true` unless a
    /// tester wants a client to see the change; a real server that moved would usually do the
    /// same.
    pub keep_old_audience: bool,
}

impl RePoint {
    /// Back to the start-up URLs.
    pub fn local() -> Self {
        Self {
            oauth_url: None,
            mcp_url: None,
            keep_old_audience: true,
        }
    }
}

/// Why the words given do not make a scenario: the message a user reads.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ScenarioError(String);

impl Scenario {
    /// Its name.
    pub fn name(&self) -> Name {
        match self {
            Self::Rotate(_) => Name::Rotate,
            Self::ExpireAccess(_) => Name::ExpireAccess,
            Self::Revoke => Name::Revoke,
            Self::DeadRefresh(_) => Name::DeadRefresh,
            Self::DenyConsent(_) => Name::DenyConsent,
            Self::BadScope(_) => Name::BadScope,
            Self::SeedRefresh(_) => Name::SeedRefresh,
            Self::Reset => Name::Reset,
            Self::AsDown(_) => Name::AsDown,
            Self::SlowToken(_) => Name::SlowToken,
            Self::RateLimit(_) => Name::RateLimit,
            Self::IntrospectDown(_) => Name::IntrospectDown,
            Self::Clock(_) => Name::Clock,
            Self::StepUp { .. } => Name::StepUp,
            Self::NarrowConsent(_) => Name::NarrowConsent,
            Self::ReuseDetect { .. } => Name::ReuseDetect,
            Self::ClearFaults => Name::ClearFaults,
            Self::Fault { .. } => Name::Fault,
            Self::DeleteFault { .. } => Name::DeleteFault,
            Self::Conformance(_) => Name::Conformance,
            Self::Profile { .. } => Name::Profile,
            Self::Cimd(_) => Name::Cimd,
            Self::DocumentFault { .. } => Name::DocumentFault,
            Self::DocumentChanged(_) => Name::DocumentChanged,
            Self::Tunnel(_) => Name::Tunnel,
            Self::ConsentMode { .. } => Name::ConsentMode,
        }
    }

    /// The scenario `name` with the words that follow it on the command line.
    pub fn parse(name: Name, values: &[String]) -> Result<Self, ScenarioError> {
        if values.len() > name.arity() {
            return Err(ScenarioError(format!(
                "{} takes {} value(s), not {}: {}",
                name.as_str(),
                name.arity(),
                values.len(),
                values.join(" ")
            )));
        }
        let needs = |what: &str| ScenarioError(format!("{} needs {what}", name.as_str()));
        let first = values.first().map(String::as_str);
        let on = || switch(first).ok_or_else(|| needs("on|off"));
        let count = || {
            first
                .and_then(|value| value.parse::<u64>().ok())
                .filter(|count| *count > 0)
                .ok_or_else(|| needs("a number of requests (1 or more)"))
        };
        let service = |value: &str| value.parse::<Service>().map_err(ScenarioError);
        Ok(match name {
            Name::Rotate => Self::Rotate(on()?),
            Name::ExpireAccess => Self::ExpireAccess(
                first
                    .and_then(|value| value.parse::<u64>().ok())
                    .ok_or_else(|| needs("a number of seconds"))?,
            ),
            Name::Revoke => Self::Revoke,
            Name::DeadRefresh => Self::DeadRefresh(on()?),
            Name::DenyConsent => Self::DenyConsent(on()?),
            Name::BadScope => Self::BadScope(on()?),
            Name::SeedRefresh => Self::SeedRefresh(first.ok_or_else(|| needs("a token"))?.into()),
            Name::Reset => Self::Reset,
            Name::AsDown => Self::AsDown(count()?),
            Name::RateLimit => Self::RateLimit(count()?),
            Name::SlowToken => Self::SlowToken(match first {
                Some("off" | "0") => None,
                Some(value) => Some(
                    value
                        .parse::<u64>()
                        .map_err(|_| needs("milliseconds or off"))?,
                ),
                None => return Err(needs("milliseconds or off")),
            }),
            Name::IntrospectDown => Self::IntrospectDown(match first {
                Some("off") => None,
                None => Some(IntrospectionFailure::Unavailable),
                Some(mode) => Some(
                    mode.parse::<IntrospectionFailure>()
                        .map_err(|_| needs("503, 401 or off (default 503)"))?,
                ),
            }),
            Name::Clock => Self::Clock(match first {
                Some("reset") => ClockMove::Reset,
                value => ClockMove::Advance(
                    value
                        .and_then(|value| {
                            value.strip_prefix('+').unwrap_or(value).parse::<i64>().ok()
                        })
                        .ok_or_else(|| needs("+SECONDS, -SECONDS or reset"))?,
                ),
            }),
            Name::StepUp => {
                let (tool, scopes) = values
                    .split_first()
                    .filter(|(_, scopes)| !scopes.is_empty())
                    .ok_or_else(|| needs("a tool and a scope (or off)"))?;
                let scopes = scopes.join(" ").replace('+', " ");
                Self::StepUp {
                    tool: tool.clone(),
                    scopes: (scopes != "off").then_some(scopes),
                }
            }
            Name::NarrowConsent => match values.join(" ").as_str() {
                "" => return Err(needs("a scope or off")),
                "off" => Self::NarrowConsent(None),
                scope => Self::NarrowConsent(Some(scope.to_owned())),
            },
            Name::ReuseDetect => Self::ReuseDetect {
                on: on()?,
                grace_seconds: match values.get(1) {
                    None => 0,
                    Some(grace) => grace
                        .parse::<u64>()
                        .map_err(|_| needs("on|off and optionally a grace in seconds"))?,
                },
            },
            Name::ClearFaults => Self::ClearFaults,
            Name::Fault => {
                let usage = || needs("a service (oauth or mcp) and a JSON rule");
                let [named, rule] = values else {
                    return Err(usage());
                };
                let rule = serde_json::from_str(rule).map_err(|error| {
                    ScenarioError(format!("{}: the rule is not JSON: {error}", usage().0))
                })?;
                Self::Fault {
                    service: service(named)?,
                    rule,
                }
            }
            Name::ConsentMode => {
                let usage = || needs("auto, or page [N]");
                match values {
                    [mode] if mode == "auto" => Self::ConsentMode {
                        page: false,
                        next: None,
                    },
                    [mode] if mode == "page" => Self::ConsentMode {
                        page: true,
                        next: None,
                    },
                    [mode, count] if mode == "page" => Self::ConsentMode {
                        page: true,
                        next: Some(
                            count
                                .parse::<u64>()
                                .ok()
                                .filter(|count| *count > 0)
                                .ok_or_else(|| needs("page N with N a number (1 or more)"))?,
                        ),
                    },
                    _ => return Err(usage()),
                }
            }
            Name::Tunnel => {
                let usage = || needs("OAUTH_URL MCP_URL [reject-old-audience], or local");
                match values {
                    [local] if local == "local" => Self::Tunnel(RePoint::local()),
                    [oauth, mcp] => Self::Tunnel(RePoint {
                        oauth_url: Some(oauth.clone()),
                        mcp_url: Some(mcp.clone()),
                        keep_old_audience: true,
                    }),
                    [oauth, mcp, reject] if reject == "reject-old-audience" => {
                        Self::Tunnel(RePoint {
                            oauth_url: Some(oauth.clone()),
                            mcp_url: Some(mcp.clone()),
                            keep_old_audience: false,
                        })
                    }
                    _ => return Err(usage()),
                }
            }
            Name::Conformance => {
                let usage = || {
                    needs(
                        "a scenario of the conformance suite (`scenario conformance list` lists them)",
                    )
                };
                let [named] = values else {
                    return Err(usage());
                };
                let situation = Situation::parse(named).ok_or_else(|| {
                    ScenarioError(format!(
                        "'{named}' is not a scenario the rig stages; `scenario conformance list` \
                         lists them"
                    ))
                })?;
                Self::Conformance(situation)
            }
            Name::Profile => {
                let usage = || needs("a service (oauth or mcp) and a JSON object of knobs");
                let [named, patch] = values else {
                    return Err(usage());
                };
                let patch: Value = serde_json::from_str(patch).map_err(|error| {
                    ScenarioError(format!("{}: the knobs are not JSON: {error}", usage().0))
                })?;
                if !patch.is_object() {
                    return Err(usage());
                }
                Self::Profile {
                    service: service(named)?,
                    patch,
                }
            }
            Name::Cimd => Self::Cimd(match first {
                Some("unadvertised") => Cimd::Unadvertised,
                _ => match on() {
                    Ok(true) => Cimd::On,
                    Ok(false) => Cimd::Off,
                    Err(_) => return Err(needs("on, off or unadvertised")),
                },
            }),
            Name::DocumentFault => {
                let usage = || {
                    let kinds: Vec<&str> =
                        FetchFault::ALL.iter().map(|kind| kind.as_str()).collect();
                    needs(&format!(
                        "off or a fault ({}), then optionally a URL and a count",
                        kinds.join(", ")
                    ))
                };
                let (kind, rest) = values.split_first().ok_or_else(usage)?;
                if kind == "off" {
                    if !rest.is_empty() {
                        return Err(usage());
                    }
                    Self::DocumentFault {
                        fault: None,
                        url: None,
                        times: None,
                    }
                } else {
                    let fault = FetchFault::ALL
                        .into_iter()
                        .find(|candidate| candidate.as_str() == kind)
                        .ok_or_else(usage)?;
                    let (mut url, mut times) = (None, None);
                    for value in rest {
                        match value.parse::<u32>() {
                            Ok(count) if count > 0 && times.is_none() => times = Some(count),
                            Err(_) if url.is_none() => url = Some(value.clone()),
                            _ => return Err(usage()),
                        }
                    }
                    Self::DocumentFault {
                        fault: Some(fault),
                        url,
                        times,
                    }
                }
            }
            Name::DocumentChanged => Self::DocumentChanged(first.map(str::to_owned)),
            Name::DeleteFault => {
                let usage = || needs("a service (oauth or mcp) and a rule id");
                let [named, id] = values else {
                    return Err(usage());
                };
                Self::DeleteFault {
                    service: service(named)?,
                    id: id.parse::<u64>().map_err(|_| usage())?,
                }
            }
        })
    }

    /// What a tester should know after applying it, if anything.
    pub fn caveat(&self) -> Option<&'static str> {
        match self {
            Self::Reset => Some(
                "warning: every client, code and token is forgotten: clients must register and \
                 consent again (stored refresh tokens are dead)",
            ),
            Self::ExpireAccess(_) => Some(
                "note: the new lifetime applies to access tokens issued from now on (the next \
                 refresh or authorization); `scenario revoke` makes clients fetch one now",
            ),
            Self::StepUp { .. } => Some(
                "note: tools/list still works; a client must ask for the scope the 403 names \
                 (re-authorize with it) to call the tool",
            ),
            Self::Tunnel(RePoint {
                keep_old_audience: true,
                ..
            }) => Some(
                "note: clients, tokens and switches stay; give the client the new MCP URL. Its \
                 tokens keep working, and a refresh for the new URL needs no new consent",
            ),
            Self::Tunnel(_) => Some(
                "note: tokens issued for the old MCP URL are refused now (401 invalid_token) and \
                 cannot be refreshed for the new one: a client must authorize again",
            ),
            _ => None,
        }
    }
}

/// `on`, `true`, `1`, `yes` and their opposites, in any case.
fn switch(value: Option<&str>) -> Option<bool> {
    match value?.to_ascii_lowercase().as_str() {
        "on" | "true" | "1" | "yes" => Some(true),
        "off" | "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

impl Control {
    /// Flips `scenario` on the rig: one or a few control calls. Answers the fault rule it
    /// added, if it added one.
    pub async fn apply(&self, scenario: &Scenario) -> Result<Option<FaultRule>, ControlError> {
        let mut added = None;
        match scenario {
            Scenario::Rotate(on) => {
                self.rotate_refresh_tokens(*on).await?;
            }
            Scenario::ExpireAccess(seconds) => {
                self.access_token_ttl(*seconds).await?;
            }
            Scenario::Revoke => {
                self.revoke_access_tokens().await?;
            }
            Scenario::DeadRefresh(on) => {
                self.invalid_grant(*on).await?;
            }
            Scenario::DenyConsent(on) => {
                self.deny_consent(*on).await?;
            }
            Scenario::BadScope(on) => {
                self.force_403(*on).await?;
            }
            Scenario::SeedRefresh(token) => {
                self.seed_refresh_token(token).await?;
            }
            Scenario::Reset => {
                self.reset().await?;
            }
            Scenario::AsDown(times) => {
                let rule = Fault::new("token", Respond::status(503)).times(*times);
                added = Some(self.add_fault(Service::OAuth, &rule).await?);
            }
            Scenario::RateLimit(times) => {
                let rule = Fault::new("token", Respond::retry_after(429, 1)).times(*times);
                added = Some(self.add_fault(Service::OAuth, &rule).await?);
            }
            Scenario::SlowToken(millis) => {
                self.delete_faults_where(Service::OAuth, |rule| {
                    rule.endpoint == "token" && matches!(rule.respond, Respond::Delay { .. })
                })
                .await?;
                if let Some(millis) = millis {
                    let rule = Fault::new("token", Respond::Delay { millis: *millis });
                    added = Some(self.add_fault(Service::OAuth, &rule).await?);
                }
            }
            Scenario::IntrospectDown(mode) => {
                self.delete_faults_where(Service::OAuth, |rule| rule.endpoint == "introspect")
                    .await?;
                self.introspection_failure(mode.unwrap_or_default()).await?;
                if mode.is_some() {
                    let rule = Fault::new("introspect", Respond::status(503));
                    added = Some(self.add_fault(Service::OAuth, &rule).await?);
                }
            }
            Scenario::Clock(ClockMove::Reset) => {
                self.reset_clock().await?;
            }
            Scenario::Clock(ClockMove::Advance(seconds)) => {
                self.advance_clock(*seconds).await?;
            }
            Scenario::StepUp { tool, scopes } => {
                self.tool_scopes([(tool.as_str(), scopes.as_deref())])
                    .await?;
            }
            Scenario::NarrowConsent(scope) => {
                self.narrow_consent(scope.as_deref()).await?;
            }
            Scenario::ReuseDetect { on, grace_seconds } => {
                self.reuse_detection(*on, *grace_seconds).await?;
            }
            Scenario::ClearFaults => {
                self.clear_faults().await?;
                self.clear_document_faults().await?;
            }
            Scenario::Fault { service, rule } => {
                added = Some(self.add_fault(*service, rule).await?);
            }
            Scenario::DeleteFault { service, id } => {
                self.delete_fault(*service, *id).await?;
            }
            Scenario::Conformance(situation) => {
                self.stage(*situation).await?;
            }
            Scenario::Tunnel(re_point) => {
                self.re_point(re_point).await?;
            }
            Scenario::ConsentMode { page, next } => {
                let mut body = json!({ "mode": if *page { "page" } else { "auto" } });
                if let Some(next) = next {
                    body["next"] = json!(next);
                }
                self.oauth_post("consent-mode", body).await?;
            }
            Scenario::Cimd(mode) => {
                let (declared, fetched) = match mode {
                    Cimd::On => (json!(true), true),
                    Cimd::Off => (json!(false), false),
                    Cimd::Unadvertised => (json!("omit"), true),
                };
                self.oauth_profile(json!({
                    "client_id_metadata_document_supported": declared,
                    "client_id_metadata_documents": fetched,
                }))
                .await?;
            }
            Scenario::DocumentFault { fault: None, .. } => {
                self.clear_document_faults().await?;
            }
            Scenario::DocumentFault {
                fault: Some(fault),
                url,
                times,
            } => {
                self.document_fault(json!({ "fault": fault, "url": url, "times": times }))
                    .await?;
            }
            Scenario::DocumentChanged(url) => {
                self.document_changed(url.as_deref()).await?;
            }
            Scenario::Profile { service, patch } => match service {
                Service::OAuth => {
                    self.oauth_profile(patch.clone()).await?;
                }
                Service::Mcp => {
                    self.mcp_profile(patch.clone()).await?;
                }
            },
        }
        Ok(added)
    }

    /// Deletes `service`'s rules that `doomed` picks.
    async fn delete_faults_where(
        &self,
        service: Service,
        doomed: impl Fn(&FaultRule) -> bool,
    ) -> Result<(), ControlError> {
        for rule in self.faults(service).await? {
            if doomed(&rule) {
                self.delete_fault(service, rule.id).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn the_command_words_make_typed_scenarios() {
        let cases = [
            (Name::Rotate, "on", Scenario::Rotate(true)),
            (Name::ExpireAccess, "5", Scenario::ExpireAccess(5)),
            (Name::SlowToken, "off", Scenario::SlowToken(None)),
            (Name::SlowToken, "250", Scenario::SlowToken(Some(250))),
            (
                Name::IntrospectDown,
                "",
                Scenario::IntrospectDown(Some(IntrospectionFailure::Unavailable)),
            ),
            (Name::Clock, "+30", Scenario::Clock(ClockMove::Advance(30))),
            (Name::Clock, "reset", Scenario::Clock(ClockMove::Reset)),
            (
                Name::StepUp,
                "add mcp:write+mcp:admin",
                Scenario::StepUp {
                    tool: "add".into(),
                    scopes: Some("mcp:write mcp:admin".into()),
                },
            ),
            (
                Name::Cimd,
                "unadvertised",
                Scenario::Cimd(Cimd::Unadvertised),
            ),
            (Name::Cimd, "off", Scenario::Cimd(Cimd::Off)),
            (
                Name::DocumentFault,
                "slow https://app.example/c.json 2",
                Scenario::DocumentFault {
                    fault: Some(FetchFault::Slow),
                    url: Some("https://app.example/c.json".into()),
                    times: Some(2),
                },
            ),
            (
                Name::DocumentFault,
                "off",
                Scenario::DocumentFault {
                    fault: None,
                    url: None,
                    times: None,
                },
            ),
            (Name::DocumentChanged, "", Scenario::DocumentChanged(None)),
            (
                Name::ReuseDetect,
                "on 5",
                Scenario::ReuseDetect {
                    on: true,
                    grace_seconds: 5,
                },
            ),
        ];
        for (name, values, expected) in cases {
            let parsed = Scenario::parse(name, &words(values)).unwrap();
            assert_eq!(parsed, expected, "{} {values}", name.as_str());
            assert_eq!(parsed.name(), name);
        }
    }

    #[test]
    fn bad_words_say_what_the_scenario_needs() {
        for (name, values, why) in [
            (Name::Rotate, "maybe", "rotate needs on|off"),
            (
                Name::AsDown,
                "0",
                "as-down needs a number of requests (1 or more)",
            ),
            (Name::Revoke, "now", "revoke takes 0 value(s), not 1: now"),
            (Name::Cimd, "maybe", "cimd needs on, off or unadvertised"),
            (
                Name::DocumentFault,
                "gone",
                "document-fault needs off or a fault (unreachable",
            ),
            (
                Name::DocumentFault,
                "slow 2 3",
                "document-fault needs off or a fault",
            ),
            (
                Name::Fault,
                "oauth {",
                "fault needs a service (oauth or mcp) and a JSON rule",
            ),
        ] {
            let error = Scenario::parse(name, &words(values))
                .unwrap_err()
                .to_string();
            assert!(error.starts_with(why), "{error}");
        }
    }

    #[test]
    fn every_name_is_its_clap_name() {
        use clap::ValueEnum;
        for name in Name::value_variants() {
            let clap_name = name.to_possible_value().unwrap();
            assert_eq!(clap_name.get_name(), name.as_str());
        }
    }
}
