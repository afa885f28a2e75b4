//! `mcp-oauth-sim scenario`: flips a failure on the running rig through the typed control
//! client, then prints what the rig looks like now; or reads the journal (`events`, `watch`).
//!
//! The switches are the library's typed [`Scenario`]s, applied with [`Control::apply`]: each
//! is one or two control calls, so everything here can also be done with curl
//! (`scripts/scenario.sh` does exactly that) or from Rust.

use std::sync::LazyLock;

use anyhow::bail;
use clap::builder::PossibleValue;
use clap::{Args, ValueEnum};
use mcp_oauth_sim::control::Watched;
use mcp_oauth_sim::control::conformance::{Context, Situation};
use mcp_oauth_sim::control::scenario::Name;
use mcp_oauth_sim::control::without_user::GeneratedKey;
use mcp_oauth_sim::{Control, Scenario};
use serde_json::json;

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

/// What `scenario` is asked to do: print something, flip a [`Scenario`] of the library, or
/// make a credential for the client under test.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Preset {
    Read(Reader),
    Flip(Name),
    Make(Maker),
}

/// What `scenario` makes and prints: keys and assertions for clients without a user.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Maker {
    /// ID [ES256|EdDSA]: pre-register a private_key_jwt client with a fresh key; print its private key.
    KeyedClient,
    /// ISSUER [ES256|EdDSA] [id-jag]: trust ISSUER's jwt-bearer assertions, with a key the rig makes.
    TrustIssuer,
    /// ISSUER SUB [valid|wrong-audience|expired|unknown-key]: print an assertion of ISSUER for SUB.
    Assertion,
    /// ISSUER AUD [SUB]: print an ID token signed by the rig's issuer ISSUER (its name) for client AUD.
    IdToken,
}

/// What `scenario` only reads and prints.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Reader {
    /// Print both servers' state.
    State,
    /// Print both servers' fault rules.
    Faults,
    /// Print both journals, merged by time (--since N, --json).
    Events,
    /// Follow both journals live, a line per request, until Ctrl-C (--json: JSON lines).
    Watch,
}

/// The scenarios in `--help` order: the state first, the switches, the fault rules, the
/// journal.
static PRESETS: LazyLock<Vec<Preset>> = LazyLock::new(|| {
    let mut presets = vec![Preset::Read(Reader::State)];
    for name in Name::value_variants() {
        if *name == Name::ClearFaults {
            presets.push(Preset::Read(Reader::Faults));
        }
        presets.push(Preset::Flip(*name));
    }
    presets.extend([Preset::Read(Reader::Events), Preset::Read(Reader::Watch)]);
    presets.extend(Maker::value_variants().iter().copied().map(Preset::Make));
    presets
});

impl ValueEnum for Preset {
    fn value_variants<'a>() -> &'a [Self] {
        &PRESETS
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        match self {
            Self::Read(reader) => reader.to_possible_value(),
            Self::Flip(name) => name.to_possible_value(),
            Self::Make(maker) => maker.to_possible_value(),
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
    if name == Preset::Flip(Name::Conformance) {
        match values.as_slice() {
            [list] if list == "list" => return list_situations(json),
            [check, situation] if check == "check" => {
                return check_situation(control, situation, json).await;
            }
            _ => {}
        }
    }
    if let Preset::Make(maker) = name {
        return make(control, maker, &values, json).await;
    }
    let scenario = match name {
        Preset::Flip(name) => Some(Scenario::parse(name, &values)?),
        Preset::Make(_) => None,
        Preset::Read(_) if !values.is_empty() => {
            let name = name.to_possible_value().expect("no skipped variants");
            bail!(
                "{} takes 0 value(s), not {}: {}",
                name.get_name(),
                values.len(),
                values.join(" ")
            );
        }
        Preset::Read(_) => None,
    };
    if since.is_some() && name != Preset::Read(Reader::Events) {
        bail!("--since goes with events only");
    }
    match name {
        Preset::Read(Reader::Faults) => return print_faults(control, json).await,
        Preset::Read(Reader::Events) => {
            return print_events(control, since.unwrap_or(0), json).await;
        }
        Preset::Read(Reader::Watch) => return watch(control, json).await,
        _ => {}
    }
    // Staging answers the suite's context, which the tester hands to the client under test.
    let mut context = None;
    let mut control_token = None;
    match &scenario {
        Some(Scenario::Conformance(situation)) => {
            context = Some(control.stage(*situation).await?);
        }
        Some(Scenario::Tunnel(to)) => {
            control_token = control.re_point(to).await?.control_token;
            if let (Some(token), false) = (&control_token, json) {
                // The one time the token is told besides the rig's log.
                say!("control token: {token}");
                eprintln!(
                    "the rig is reachable from outside now, so /control requires this token; \
                     for the scenario command: export CONTROL_TOKEN={token}"
                );
            }
        }
        Some(scenario) => {
            let added = control.apply(scenario).await?;
            if let (Scenario::Fault { service, .. }, Some(rule)) = (scenario, added) {
                say!("added {service} {rule}");
            }
        }
        None => {}
    }
    print_state(control, json, context.as_ref(), control_token.as_deref()).await?;
    if let Some(caveat) = scenario.as_ref().and_then(Scenario::caveat) {
        eprintln!("{caveat}");
    }
    if let (Some(Scenario::Conformance(situation)), Some(context)) = (&scenario, &context) {
        staged(*situation, context)?;
    }
    Ok(())
}

/// What a tester needs once a situation is staged: what to expect of the client, and how to
/// judge it.
fn staged(situation: Situation, context: &Context) -> anyhow::Result<()> {
    eprintln!(
        "staged {} ({})",
        situation.suite_name(),
        situation.revision()
    );
    eprintln!("a passing client {}", situation.passing());
    if !context.is_empty() {
        // One line of JSON: the suite's MCP_CONFORMANCE_CONTEXT, as its harness would pass it.
        eprintln!("give the client: {}", serde_json::to_string(context)?);
    }
    eprintln!(
        "then: mcp-oauth-sim scenario conformance check {}",
        situation.name()
    );
    Ok(())
}

/// `keyed-client`, `trust-issuer`, `assertion`, `id-token`: makes the credential and prints
/// what the client under test needs (with `--json`, the whole answer).
async fn make(
    control: &Control,
    maker: Maker,
    values: &[String],
    json: bool,
) -> anyhow::Result<()> {
    let value = |index: usize| values.get(index).map(String::as_str);
    let usage = |words: &str| anyhow::anyhow!("usage: scenario {} {words}", maker_name(maker));
    let algorithm = |given: Option<&str>| -> anyhow::Result<&'static str> {
        match given {
            None | Some("ES256") => Ok("ES256"),
            Some("EdDSA") => Ok("EdDSA"),
            Some(other) => {
                bail!("'{other}' is not a key algorithm the rig makes; use ES256 or EdDSA")
            }
        }
    };
    let print_key = |who: &str, key: &GeneratedKey| -> anyhow::Result<()> {
        if json {
            say!("{}", serde_json::to_string_pretty(&key.as_json())?);
        } else {
            say!(
                "{who}\nalg {} kid {}\n{}",
                key.alg,
                key.kid,
                key.private_key_pem.trim_end()
            );
        }
        Ok(())
    };
    match maker {
        Maker::KeyedClient => {
            let (Some(id), None) = (value(0), value(2)) else {
                return Err(usage("ID [ES256|EdDSA]"));
            };
            let key = control
                .add_keyed_client(json!({
                    "client_id": id,
                    "generate_key": algorithm(value(1))?,
                    "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
                    "redirect_uris": "any-loopback",
                }))
                .await?;
            print_key(&format!("client_id {id} (private_key_jwt)"), &key)?;
        }
        Maker::TrustIssuer => {
            let Some(issuer) = value(0) else {
                return Err(usage("ISSUER [ES256|EdDSA] [id-jag]"));
            };
            let kind = match value(2) {
                None | Some("workload") => "workload",
                Some("id-jag") => "id-jag",
                Some(other) => bail!("'{other}' is not a kind; use workload or id-jag"),
            };
            let key = control
                .trust_assertion_issuer(json!({
                    "issuer": issuer,
                    "kind": kind,
                    "generate_key": algorithm(value(1))?,
                }))
                .await?
                .ok_or_else(|| anyhow::anyhow!("the rig answered no key for '{issuer}'"))?;
            print_key(&format!("trusted issuer {issuer} ({kind})"), &key)?;
        }
        Maker::Assertion => {
            let (Some(issuer), Some(sub), None) = (value(0), value(1), value(3)) else {
                return Err(usage(
                    "ISSUER SUB [valid|wrong-audience|expired|unknown-key]",
                ));
            };
            let variant = value(2).unwrap_or("valid");
            let assertion = control
                .mint_assertion(json!({ "issuer": issuer, "sub": sub, "variant": variant }))
                .await?;
            say!("{assertion}");
        }
        Maker::IdToken => {
            let (Some(issuer), Some(aud), None) = (value(0), value(1), value(3)) else {
                return Err(usage("ISSUER AUD [SUB]"));
            };
            let mut request = json!({ "aud": aud });
            if let Some(sub) = value(2) {
                request["sub"] = json!(sub);
            }
            say!("{}", control.issuer(issuer).mint_id_token(request).await?);
        }
    }
    Ok(())
}

fn maker_name(maker: Maker) -> String {
    maker
        .to_possible_value()
        .map(|value| value.get_name().to_owned())
        .unwrap_or_default()
}

/// `scenario conformance list`: every situation, a line each.
fn list_situations(json: bool) -> anyhow::Result<()> {
    if json {
        let all: Vec<_> = Situation::ALL
            .iter()
            .map(|situation| {
                json!({
                    "scenario": situation.suite_name(),
                    "revision": situation.revision(),
                    "passing": situation.passing(),
                })
            })
            .collect();
        say!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(());
    }
    for situation in Situation::ALL {
        say!(
            "{:<42} {}  {}",
            situation.suite_name(),
            situation.revision(),
            situation.passing()
        );
    }
    Ok(())
}

/// `scenario conformance check NAME`: the suite's checks, computed from the journals. Fails
/// (exit 1) when the suite would fail the run.
async fn check_situation(control: &Control, name: &str, json: bool) -> anyhow::Result<()> {
    let Some(situation) = Situation::parse(name) else {
        bail!("'{name}' is not a scenario the rig stages; `scenario conformance list` lists them");
    };
    let verdict = control.judge(situation).await?;
    if json {
        say!("{}", serde_json::to_string_pretty(&verdict)?);
    } else {
        say!("{}", verdict.to_string().trim_end());
    }
    if !verdict.passed() {
        bail!(
            "{} fails: {}",
            verdict.scenario,
            verdict.problems().join("; ")
        );
    }
    Ok(())
}

/// The state after the switch, fetched once, in the form asked for, with the fault rules in
/// place when there are any.
/// Both servers' state and the fault rules; with `--json`, one object, which carries a staged
/// situation's `context` too.
async fn print_state(
    control: &Control,
    json: bool,
    context: Option<&Context>,
    control_token: Option<&str>,
) -> anyhow::Result<()> {
    if json {
        let mut all = control.state_document().await?;
        if let Some(context) = context {
            all["context"] = json!(context);
        }
        if let Some(token) = control_token {
            all["control_token"] = json!(token);
        }
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
