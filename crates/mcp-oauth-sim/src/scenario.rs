//! `mcp-oauth-sim scenario`: flips a failure on the running rig through the typed control
//! client, then prints what the rig looks like now; or reads the journal (`events`, `watch`).
//!
//! Each preset is one or two control calls, so everything here can also be done with curl
//! (`scripts/scenario.sh` does exactly that) or from Rust through [`Control`].

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use mcp_oauth_sim::control::{Fault, Respond, Watched};
use mcp_oauth_sim::{Control, IntrospectionFailure, Service};
use serde_json::{Value, json};

use crate::shutdown_signal;

#[derive(Args)]
pub struct ScenarioArgs {
    #[arg(value_enum)]
    name: Preset,
    /// What the scenario takes: on|off, a number, a token, a tool and a scope, … (see above).
    #[arg(value_name = "VALUE", allow_negative_numbers = true)]
    values: Vec<String>,
    /// Print JSON: the state documents, the fault lists, events as an array or JSON lines.
    #[arg(long)]
    json: bool,
    /// `events`: only events numbered N and later (each server numbers its own).
    #[arg(long, value_name = "N")]
    since: Option<u64>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Preset {
    /// Print both servers' state.
    State,
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
    /// Print both servers' fault rules.
    Faults,
    /// Delete every fault rule on both servers, the switches' own included.
    ClearFaults,
    /// oauth|mcp JSON: add a fault rule, e.g. '{"endpoint":"token","respond":{"status":503}}'.
    Fault,
    /// oauth|mcp ID: delete one fault rule.
    DeleteFault,
    /// Print both journals, merged by time (--since N, --json).
    Events,
    /// Follow both journals live, a line per request, until Ctrl-C (--json: JSON lines).
    Watch,
}

impl Preset {
    fn name(self) -> String {
        let value = self.to_possible_value().expect("no skipped variants");
        value.get_name().to_owned()
    }

    /// How many values it takes at most.
    fn arity(self) -> usize {
        match self {
            Self::State
            | Self::Revoke
            | Self::Reset
            | Self::Faults
            | Self::ClearFaults
            | Self::Events
            | Self::Watch => 0,
            Self::Fault | Self::DeleteFault | Self::ReuseDetect => 2,
            Self::StepUp | Self::NarrowConsent => usize::MAX,
            _ => 1,
        }
    }
}

/// Runs `scenario` against the rig `control` reaches.
pub async fn run(control: &Control, args: ScenarioArgs) -> anyhow::Result<()> {
    let ScenarioArgs {
        name,
        values,
        json,
        since,
    } = args;
    if values.len() > name.arity() {
        bail!(
            "{} takes {} value(s), not {}: {}",
            name.name(),
            name.arity(),
            values.len(),
            values.join(" ")
        );
    }
    if since.is_some() && name != Preset::Events {
        bail!("--since goes with events only");
    }
    match name {
        Preset::Faults => return print_faults(control, json).await,
        Preset::Events => return print_events(control, since.unwrap_or(0), json).await,
        Preset::Watch => return watch(control, json).await,
        _ => {}
    }
    flip(control, name, &values).await?;
    print_state(control, json).await?;
    match name {
        Preset::Reset => eprintln!(
            "warning: every client, code and token is forgotten: clients must register and \
             consent again (stored refresh tokens are dead)"
        ),
        Preset::ExpireAccess => eprintln!(
            "note: the new lifetime applies to access tokens issued from now on (the next \
             refresh or authorization); `scenario revoke` makes clients fetch one now"
        ),
        Preset::StepUp => eprintln!(
            "note: tools/list still works; a client must ask for the scope the 403 names \
             (re-authorize with it) to call the tool"
        ),
        _ => {}
    }
    Ok(())
}

/// Performs one preset's control calls (none for `state`).
async fn flip(control: &Control, name: Preset, values: &[String]) -> anyhow::Result<()> {
    let needs = |what: &str| format!("{} needs {what}", name.name());
    let first = values.first().map(String::as_str);
    let on = || switch(first).with_context(|| needs("on|off"));
    let count = || {
        first
            .and_then(|value| value.parse::<u64>().ok())
            .filter(|count| *count > 0)
            .with_context(|| needs("a number of requests (1 or more)"))
    };
    match name {
        Preset::State => {}
        Preset::Rotate => {
            control.rotate_refresh_tokens(on()?).await?;
        }
        Preset::ExpireAccess => {
            let seconds = first
                .and_then(|value| value.parse::<u64>().ok())
                .with_context(|| needs("a number of seconds"))?;
            control.access_token_ttl(seconds).await?;
        }
        Preset::Revoke => {
            control.revoke_access_tokens().await?;
        }
        Preset::DeadRefresh => {
            control.invalid_grant(on()?).await?;
        }
        Preset::DenyConsent => {
            control.deny_consent(on()?).await?;
        }
        Preset::BadScope => {
            control.force_403(on()?).await?;
        }
        Preset::SeedRefresh => {
            let token = first.with_context(|| needs("a token"))?;
            control.seed_refresh_token(token).await?;
        }
        Preset::Reset => {
            control.reset().await?;
        }
        Preset::AsDown => {
            let rule = Fault::new("token", Respond::status(503)).times(count()?);
            control.add_fault(Service::OAuth, &rule).await?;
        }
        Preset::RateLimit => {
            let rule = Fault::new("token", Respond::retry_after(429, 1)).times(count()?);
            control.add_fault(Service::OAuth, &rule).await?;
        }
        Preset::SlowToken => {
            let millis = match first {
                Some("off" | "0") => None,
                Some(value) => Some(
                    value
                        .parse::<u64>()
                        .ok()
                        .with_context(|| needs("milliseconds or off"))?,
                ),
                None => bail!(needs("milliseconds or off")),
            };
            // One delay at a time: the new one replaces the old.
            delete_where(control, Service::OAuth, |rule| {
                rule.endpoint == "token" && matches!(rule.respond, Respond::Delay { .. })
            })
            .await?;
            if let Some(millis) = millis {
                let rule = Fault::new("token", Respond::Delay { millis });
                control.add_fault(Service::OAuth, &rule).await?;
            }
        }
        Preset::IntrospectDown => {
            let mode = match first {
                Some("off") => None,
                None => Some(IntrospectionFailure::Unavailable),
                Some(mode) => Some(
                    mode.parse::<IntrospectionFailure>()
                        .ok()
                        .with_context(|| needs("503, 401 or off (default 503)"))?,
                ),
            };
            delete_where(control, Service::OAuth, |rule| {
                rule.endpoint == "introspect"
            })
            .await?;
            control
                .introspection_failure(mode.unwrap_or_default())
                .await?;
            if mode.is_some() {
                let rule = Fault::new("introspect", Respond::status(503));
                control.add_fault(Service::OAuth, &rule).await?;
            }
        }
        Preset::Clock => match first {
            Some("reset") => {
                control.reset_clock().await?;
            }
            value => {
                let seconds = value
                    .and_then(|value| value.strip_prefix('+').unwrap_or(value).parse::<i64>().ok())
                    .with_context(|| needs("+SECONDS, -SECONDS or reset"))?;
                control.advance_clock(seconds).await?;
            }
        },
        Preset::StepUp => {
            let (tool, scopes) = values
                .split_first()
                .filter(|(_, scopes)| !scopes.is_empty())
                .with_context(|| needs("a tool and a scope (or off)"))?;
            let scopes = scopes.join(" ").replace('+', " ");
            let scopes = (scopes != "off").then_some(scopes);
            control.tool_scopes([(tool.as_str(), scopes)]).await?;
        }
        Preset::NarrowConsent => {
            let scope = values.join(" ");
            match scope.as_str() {
                "" => bail!(needs("a scope or off")),
                "off" => control.narrow_consent(None).await?,
                scope => control.narrow_consent(Some(scope)).await?,
            };
        }
        Preset::ReuseDetect => {
            let grace = match values.get(1) {
                None => 0,
                Some(grace) => grace
                    .parse::<u64>()
                    .ok()
                    .with_context(|| needs("on|off and optionally a grace in seconds"))?,
            };
            control.reuse_detection(on()?, grace).await?;
        }
        Preset::ClearFaults => {
            control.clear_faults().await?;
        }
        Preset::Fault => {
            let usage = || needs("a service (oauth or mcp) and a JSON rule");
            let [service, rule] = values else {
                bail!(usage());
            };
            let service: Service = service.parse().map_err(anyhow::Error::msg)?;
            let rule: Value = serde_json::from_str(rule)
                .with_context(|| format!("{}: the rule is not JSON", usage()))?;
            let added = control.add_fault(service, &rule).await?;
            say!("added {service} {added}");
        }
        Preset::DeleteFault => {
            let usage = || needs("a service (oauth or mcp) and a rule id");
            let [service, id] = values else {
                bail!(usage());
            };
            let service: Service = service.parse().map_err(anyhow::Error::msg)?;
            let id = id.parse::<u64>().ok().with_context(usage)?;
            control.delete_fault(service, id).await?;
        }
        Preset::Faults | Preset::Events | Preset::Watch => unreachable!("not a switch"),
    }
    Ok(())
}

fn switch(value: Option<&str>) -> Option<bool> {
    match value?.to_ascii_lowercase().as_str() {
        "on" | "true" | "1" | "yes" => Some(true),
        "off" | "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// Deletes `service`'s rules that `doomed` picks.
async fn delete_where(
    control: &Control,
    service: Service,
    doomed: impl Fn(&mcp_oauth_sim::control::FaultRule) -> bool,
) -> anyhow::Result<()> {
    for rule in control.faults(service).await? {
        if doomed(&rule) {
            control.delete_fault(service, rule.id).await?;
        }
    }
    Ok(())
}

/// The state after the switch, fetched once, in the form asked for, with the fault rules in
/// place when there are any.
async fn print_state(control: &Control, json: bool) -> anyhow::Result<()> {
    if json {
        let (oauth, mcp, faults) = tokio::try_join!(
            control.raw_state(Service::OAuth),
            control.raw_state(Service::Mcp),
            control.all_faults(),
        )?;
        let all = json!({ "oauth": oauth, "mcp": mcp, "faults": faults });
        say!("{}", serde_json::to_string_pretty(&all)?);
    } else {
        let (state, faults) = tokio::try_join!(control.state(), control.all_faults())?;
        say!("{state}");
        if !faults.oauth.is_empty() || !faults.mcp.is_empty() {
            say!("fault rules\n{}", faults.to_string().trim_end());
        }
    }
    Ok(())
}

async fn print_faults(control: &Control, json: bool) -> anyhow::Result<()> {
    let faults = control.all_faults().await?;
    if json {
        say!("{}", serde_json::to_string_pretty(&faults)?);
    } else {
        say!("{}", faults.to_string().trim_end());
    }
    Ok(())
}

async fn print_events(control: &Control, since: u64, json: bool) -> anyhow::Result<()> {
    let events = control.all_events(since).await?;
    if json {
        say!("{}", serde_json::to_string_pretty(&events)?);
        return Ok(());
    }
    if events.is_empty() {
        eprintln!("no events (requests to /control that only read are not recorded)");
    }
    for event in events {
        say!("{event}");
    }
    Ok(())
}

/// Prints both journals' events as they happen, until Ctrl-C, SIGTERM, or the rig stopping.
async fn watch(control: &Control, json: bool) -> anyhow::Result<()> {
    let stop = shutdown_signal()?;
    let mut stream = control.watch_all().await?;
    eprintln!("watching both servers' requests (Ctrl-C to stop)");
    let follow = async {
        while let Some(item) = stream.next().await {
            match item {
                Ok(Watched::Event(event)) if json => {
                    say!("{}", serde_json::to_string(&event).unwrap_or_default());
                }
                Ok(Watched::Event(event)) => say!("{event}"),
                Ok(Watched::Missed { service, missed }) => {
                    eprintln!(
                        "[{service}] {missed} events missed: this terminal fell behind the rig"
                    )
                }
                Err(error) => eprintln!("warning: {error}"),
            }
        }
    };
    tokio::select! {
        () = follow => eprintln!("the rig stopped"),
        () = stop => {}
    }
    Ok(())
}
