//! What the MCP server keeps across a restart: the switches and settings a tester set, and the
//! audiences its tokens were bound to. The caller writes the file (and versions it); this
//! module only turns the running state into a [`SavedMcp`] and back.
//!
//! Not saved: the trusted authorization servers (the launcher derives them from the issuers it
//! hosts) and a pending migration with them, the journal and the counters (a record of what
//! happened, not a setting).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sim_http::faults::{Faults, RuleSpec};

use crate::config::{check_tool_scopes, parse_base};
use crate::faults::{FORCE_403, TARGETS, force_403};
use crate::profile::Profile;
use crate::snapshot::IntrospectionFailure;
use crate::state::State;

/// The MCP server's saved state. Field names are stable (snake_case); a field missing from the
/// file takes its start-up value.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct SavedMcp {
    /// The profile in force, `required_scopes` as the list in force.
    pub profile: Profile,
    /// The scopes each tool needs besides the required ones (tool → scopes).
    pub tool_scopes: BTreeMap<String, Vec<String>>,
    /// The fault rules, oldest first.
    pub faults: Vec<SavedFault>,
    /// How a token that could not be checked is answered.
    pub introspection_failure: IntrospectionFailure,
    /// The base URL in force when saved (`None`: loopback). For the record only: a restore does
    /// not apply it, the start-up configuration decides the URLs.
    pub base_url: Option<String>,
    /// Whether a change of base URL kept the old audiences; a restore brings
    /// `former_audiences` back only if so.
    pub keep_old_audience: bool,
    /// Every origin whose tokens were accepted when saved, oldest first: the former ones and
    /// the ones in force (the base URL and the loopback names on the old port), so that a
    /// token bound to the old URL still works after a restart on other ports.
    pub former_audiences: Vec<String>,
}

impl Default for SavedMcp {
    /// A server as it starts without configuration.
    fn default() -> Self {
        Self {
            profile: Profile::default(),
            tool_scopes: BTreeMap::new(),
            faults: Vec::new(),
            introspection_failure: IntrospectionFailure::default(),
            base_url: None,
            keep_old_audience: true,
            former_audiences: Vec::new(),
        }
    }
}

/// A saved fault rule: `{"preset": "force-403"}` or `{"rule": {…}}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SavedFault {
    /// A preset switched on, by name: restored as the preset, so that its switch shows on.
    Preset(String),
    /// A rule a tester added, as `POST /control/faults` takes it; `times` is what was left.
    /// Boxed: a rule is much larger than a preset's name.
    Rule(Box<RuleSpec>),
}

impl State {
    /// The switches, settings and audiences to keep across a restart.
    pub fn save(&self) -> SavedMcp {
        let urls = &self.public().urls;
        let faults = self
            .faults
            .list()
            .into_iter()
            .filter(|rule| rule.remaining != Some(0))
            .map(|rule| match rule.preset {
                Some(preset) => SavedFault::Preset(preset.into_owned()),
                None => SavedFault::Rule(Box::new(RuleSpec {
                    endpoint: rule.endpoint,
                    matching: rule.matching,
                    respond: rule.respond.into(),
                    times: rule.remaining,
                })),
            })
            .collect();
        SavedMcp {
            profile: Profile::clone(&self.profile()),
            tool_scopes: self.tool_scopes_in_force(),
            faults,
            introspection_failure: self.outage_answer(),
            base_url: urls.base_url().map(str::to_owned),
            keep_old_audience: urls.keep_old_audience(),
            former_audiences: urls.remembered(),
        }
    }

    /// Puts `saved` in place of the profile, tool scopes, fault rules, introspection-failure
    /// mode and former audiences (the URLs stay as configured). Everything is checked first:
    /// on an error nothing changes, and the error names the entry.
    pub fn restore(&self, saved: SavedMcp) -> Result<(), String> {
        saved
            .profile
            .validate()
            .map_err(|why| format!("profile: {why}"))?;
        let mut tool_scopes = BTreeMap::new();
        for (tool, scopes) in &saved.tool_scopes {
            let scopes = check_tool_scopes(tool, &scopes.join(" "), &self.config.scopes)
                .map_err(|why| format!("tool_scopes: {why}"))?;
            tool_scopes.insert(tool.clone(), scopes);
        }
        // Checked on an engine of their own, which knows the same endpoints and limits.
        let checked = Faults::new(TARGETS);
        for fault in &saved.faults {
            add(&checked, fault.clone()).map_err(|why| format!("faults: {why}"))?;
        }
        let former = saved
            .former_audiences
            .iter()
            .map(|origin| {
                parse_base(origin)
                    .map(|url| url.origin().ascii_serialization())
                    .map_err(|why| format!("former_audiences: {why}"))
            })
            .collect::<Result<Vec<_>, _>>()?;

        self.replace_profile(saved.profile);
        self.replace_tool_scopes(tool_scopes);
        self.faults.clear();
        for fault in saved.faults {
            // Cannot fail: the same rules were just accepted by an empty engine.
            let _ = add(&self.faults, fault);
        }
        self.set_outage_answer(saved.introspection_failure);
        self.remember(former, saved.keep_old_audience);
        Ok(())
    }
}

fn add(faults: &Faults, fault: SavedFault) -> Result<(), String> {
    match fault {
        SavedFault::Preset(preset) if preset == FORCE_403 => {
            faults.set_preset(FORCE_403, Some(force_403()))
        }
        SavedFault::Preset(preset) => {
            let shown: String = preset.chars().take(64).collect();
            Err(format!(
                "unknown preset '{shown}'; this server's preset is {FORCE_403}"
            ))
        }
        SavedFault::Rule(spec) => faults.add(*spec).map(drop),
    }
}
