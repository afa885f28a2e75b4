//! The MCP server's profile: how it lays out discovery and shapes its challenges — where the
//! protected-resource metadata is served and what it says, what a 401 and a 403 name, which
//! JSON-RPC methods need no token, which scopes every tool call needs.
//!
//! One [`Profile`] is the start-up setting ([`Config::profile`](crate::Config::profile)), the
//! `profile` of `GET /control/state`, the answer of `GET /control/profile` and, as a partial
//! object, the arguments of `POST /control/profile`: one serde shape for all of them, so the
//! binary can take it as a JSON setting and the control client can read it back.
//!
//! The default profile is the server's behaviour before profiles existed, byte for byte.

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};
use sim_http::form::is_scope_token;

use crate::config::MCP_PATH;
use crate::urls::{PRM_PATH, PRM_ROOT_PATH};

/// Entries a list of the profile holds at most: more is never a test, only a mistake or an
/// attack on the control plane.
pub const MAX_ENTRIES: usize = 32;

/// The longest custom metadata path, `prm_resource` or method pattern accepted.
pub const MAX_PATH_LEN: usize = 256;

/// The longest `prm_resource`.
pub const MAX_RESOURCE_LEN: usize = 2048;

/// How the MCP server lays out discovery and shapes its challenges. Every field has a default,
/// so any subset is a valid start-up setting; unknown fields are refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    /// Where the protected-resource metadata is served, in order; the first is the URL a
    /// challenge's `resource_metadata` names. Every other metadata path answers 404 (or goes to
    /// the co-hosted server). `[]`: nowhere.
    pub prm: Vec<PrmLocation>,
    /// The `resource` the root form declares.
    pub prm_root_resource: RootResource,
    /// A `resource` every form declares instead of the real one (the resource-mismatch trap).
    /// Tokens are still judged by the real one.
    pub prm_resource: Option<String>,
    /// The metadata's `scopes_supported`: `None` (JSON `null`) the announced scopes
    /// ([`Config::scopes`](crate::Config::scopes)), or as chosen, independently of what the
    /// authorization server grants.
    pub prm_scopes_supported: Option<ScopesSupported>,
    /// Whether 401 and 403 challenges carry `resource_metadata`.
    pub resource_metadata: bool,
    /// The `scope` of every 401 challenge.
    pub challenge_scope: ChallengeScope,
    /// Whether the missing-token 401 carries `error="invalid_token"` and an
    /// `error_description`, as the conformance suite's mock server sends it. RFC 6750 §3.1 says
    /// a request without credentials should get no error code, hence off by default.
    pub challenge_error: bool,
    /// The `scope` a 403 `insufficient_scope` names.
    pub insufficient_scope: InsufficientScope,
    /// JSON-RPC methods served without a token (lazy authentication); a trailing `*` matches a
    /// prefix (`notifications/*`). A token, if sent, is still checked. A `tools/call` served
    /// so has no token whose scopes could be checked, and `whoami` has nobody to describe.
    pub unauthenticated: Vec<String>,
    /// The scopes every `tools/call` needs. `None` (JSON `null`): the configured
    /// [`Config::required_scopes`](crate::Config::required_scopes); the state always shows the
    /// list in force. Any scope token, announced or not, so that a client can be made to ask
    /// for a scope nobody advertises.
    pub required_scopes: Option<Vec<String>>,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            prm: vec![PrmLocation::Path, PrmLocation::Root],
            prm_root_resource: RootResource::McpUrl,
            prm_resource: None,
            prm_scopes_supported: None,
            resource_metadata: true,
            challenge_scope: ChallengeScope::Required,
            challenge_error: false,
            insufficient_scope: InsufficientScope::RequiredAndGranted,
            unauthenticated: Vec::new(),
            required_scopes: None,
        }
    }
}

/// Where protected-resource metadata is served (RFC 9728 §3.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum PrmLocation {
    /// `path`: `/.well-known/oauth-protected-resource/mcp`, the path-inserted form.
    Path,
    /// `root`: `/.well-known/oauth-protected-resource`, which clients probe next.
    Root,
    /// `custom:/a/path`: a path only the challenge's `resource_metadata` can lead to.
    Custom(String),
}

impl PrmLocation {
    /// The path this location serves.
    pub fn path(&self) -> &str {
        match self {
            Self::Path => PRM_PATH,
            Self::Root => PRM_ROOT_PATH,
            Self::Custom(path) => path,
        }
    }
}

impl TryFrom<String> for PrmLocation {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        match value.as_str() {
            "path" => Ok(Self::Path),
            "root" => Ok(Self::Root),
            _ => match value.strip_prefix("custom:") {
                Some(path) => check_custom_path(path).map(|()| Self::Custom(path.to_owned())),
                None => Err(format!(
                    "'{}' is not a metadata location (path, root or custom:/a/path)",
                    shorten(&value)
                )),
            },
        }
    }
}

impl From<PrmLocation> for String {
    fn from(location: PrmLocation) -> Self {
        match location {
            PrmLocation::Path => "path".to_owned(),
            PrmLocation::Root => "root".to_owned(),
            PrmLocation::Custom(path) => format!("custom:{path}"),
        }
    }
}

/// A custom metadata path must be one a client would request as written, and must not take
/// the place of a path the server routes itself.
fn check_custom_path(path: &str) -> Result<(), String> {
    let shown = shorten(path);
    if !path.starts_with('/') {
        return Err(format!("custom path '{shown}' must start with '/'"));
    }
    if path.len() > MAX_PATH_LEN {
        return Err(format!(
            "custom path '{shown}' is longer than {MAX_PATH_LEN} bytes"
        ));
    }
    // Unreserved characters and sub-delimiters that need no escaping: anything else a client
    // would percent-encode, so the path it requests would not be this one.
    let plain = |byte: u8| byte.is_ascii_alphanumeric() || b"/-._~!$&'()+,;=:@".contains(&byte);
    if !path.bytes().all(plain) {
        return Err(format!(
            "custom path '{shown}' may hold only letters, digits, '/' and -._~!$&'()+,;=:@"
        ));
    }
    // Clients resolve dot segments and merge slashes before they ask.
    if path
        .split('/')
        .skip(1)
        .any(|segment| matches!(segment, "" | "." | ".."))
        && path != "/"
    {
        return Err(format!(
            "custom path '{shown}' has an empty, '.' or '..' segment"
        ));
    }
    if path == MCP_PATH || path.starts_with("/control") {
        return Err(format!(
            "custom path '{shown}' is the MCP endpoint or the control plane"
        ));
    }
    if path == PRM_PATH || path == PRM_ROOT_PATH {
        return Err(format!(
            "custom path '{shown}' is a standard location; say path or root"
        ));
    }
    Ok(())
}

/// The `resource` the root form of the metadata declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RootResource {
    /// `mcp-url`: `<base>/mcp`, like every other form.
    #[serde(rename = "mcp-url")]
    McpUrl,
    /// `origin`: `<base>`, as the conformance suite's mock declares it at the root.
    #[serde(rename = "origin")]
    Origin,
}

/// The metadata's `scopes_supported` when not the announced scopes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WordOrList", into = "WordOrList")]
pub enum ScopesSupported {
    /// `"omit"`: no `scopes_supported` at all.
    Omit,
    /// These scopes, whatever the server announces or requires (`[]` included).
    List(Vec<String>),
}

impl TryFrom<WordOrList> for ScopesSupported {
    type Error = String;

    fn try_from(value: WordOrList) -> Result<Self, String> {
        match value {
            WordOrList::Word(word) if word == "omit" => Ok(Self::Omit),
            WordOrList::Word(word) => Err(format!(
                "'{}' is not a scopes_supported value (a list of scopes, \"omit\" or null)",
                shorten(&word)
            )),
            WordOrList::List(scopes) => Ok(Self::List(scopes)),
        }
    }
}

impl From<ScopesSupported> for WordOrList {
    fn from(value: ScopesSupported) -> Self {
        match value {
            ScopesSupported::Omit => Self::Word("omit".to_owned()),
            ScopesSupported::List(scopes) => Self::List(scopes),
        }
    }
}

/// The `scope` of every 401 challenge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WordOrList", into = "WordOrList")]
pub enum ChallengeScope {
    /// `"required"`: what this very request needs — the required scopes (or every announced
    /// scope when none is required), and for a `tools/call` without a token its tool's too.
    Required,
    /// `"omit"`: no `scope`, so a client must fall back to `scopes_supported`.
    Omit,
    /// These scopes, whatever the request needs.
    List(Vec<String>),
}

impl TryFrom<WordOrList> for ChallengeScope {
    type Error = String;

    fn try_from(value: WordOrList) -> Result<Self, String> {
        match value {
            WordOrList::Word(word) if word == "required" => Ok(Self::Required),
            WordOrList::Word(word) if word == "omit" => Ok(Self::Omit),
            WordOrList::Word(word) => Err(format!(
                "'{}' is not a challenge scope (\"required\", \"omit\" or a list of scopes)",
                shorten(&word)
            )),
            WordOrList::List(scopes) => Ok(Self::List(scopes)),
        }
    }
}

impl From<ChallengeScope> for WordOrList {
    fn from(value: ChallengeScope) -> Self {
        match value {
            ChallengeScope::Required => Self::Word("required".to_owned()),
            ChallengeScope::Omit => Self::Word("omit".to_owned()),
            ChallengeScope::List(scopes) => Self::List(scopes),
        }
    }
}

/// The `scope` a 403 `insufficient_scope` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InsufficientScope {
    /// `missing`: only the scopes the token lacks.
    #[serde(rename = "missing")]
    Missing,
    /// `required`: every scope the call needs, granted or not.
    #[serde(rename = "required")]
    Required,
    /// `required+granted`: every scope the call needs, then those the token already has, so
    /// that a client re-authorizing with it loses nothing (MCP step-up).
    #[serde(rename = "required+granted")]
    RequiredAndGranted,
}

impl InsufficientScope {
    /// The scopes to name, in order, for a call needing `required` with a token granted
    /// `granted`.
    pub fn scopes<'a>(self, required: &'a [String], granted: &[&'a str]) -> Vec<&'a str> {
        let required = required.iter().map(String::as_str);
        let mut named: Vec<&str> = match self {
            Self::Missing => required.filter(|scope| !granted.contains(scope)).collect(),
            Self::Required | Self::RequiredAndGranted => required.collect(),
        };
        if self == Self::RequiredAndGranted {
            for scope in granted {
                if !named.contains(scope) {
                    named.push(scope);
                }
            }
        }
        named
    }
}

/// A word or a list of strings, the JSON shape of several fields; read by hand so that a bad
/// value gets an error saying what was expected.
#[derive(Clone, Debug)]
pub enum WordOrList {
    /// A JSON string.
    Word(String),
    /// A JSON array of strings.
    List(Vec<String>),
}

impl Serialize for WordOrList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Word(word) => serializer.serialize_str(word),
            Self::List(list) => list.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for WordOrList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Expecting;

        impl<'de> Visitor<'de> for Expecting {
            type Value = WordOrList;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }

            fn visit_str<E: de::Error>(self, word: &str) -> Result<WordOrList, E> {
                Ok(WordOrList::Word(word.to_owned()))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<WordOrList, A::Error> {
                let mut list = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    if list.len() == MAX_ENTRIES {
                        return Err(de::Error::custom(format!(
                            "a list holds at most {MAX_ENTRIES} entries"
                        )));
                    }
                    list.push(item);
                }
                Ok(WordOrList::List(list))
            }
        }

        deserializer.deserialize_any(Expecting)
    }
}

impl Profile {
    /// Checks every value that can be wrong on its own; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        bounded("prm", self.prm.len())?;
        for (index, location) in self.prm.iter().enumerate() {
            if let PrmLocation::Custom(path) = location {
                check_custom_path(path).map_err(|why| format!("prm: {why}"))?;
            }
            if self.prm[..index].contains(location) {
                return Err(format!(
                    "prm: '{}' is listed twice",
                    String::from(location.clone())
                ));
            }
        }
        if let Some(resource) = &self.prm_resource
            && (resource.is_empty()
                || resource.len() > MAX_RESOURCE_LEN
                || resource.chars().any(char::is_control))
        {
            return Err(format!(
                "prm_resource: give 1 to {MAX_RESOURCE_LEN} characters without control \
                 characters, or null"
            ));
        }
        if let Some(ScopesSupported::List(scopes)) = &self.prm_scopes_supported {
            scope_tokens("prm_scopes_supported", scopes)?;
        }
        if let ChallengeScope::List(scopes) = &self.challenge_scope {
            scope_tokens("challenge_scope", scopes)?;
        }
        bounded("unauthenticated", self.unauthenticated.len())?;
        for method in &self.unauthenticated {
            check_method_pattern(method)?;
        }
        if let Some(scopes) = &self.required_scopes {
            scope_tokens("required_scopes", scopes)?;
        }
        Ok(())
    }

    /// Applies `POST /control/profile`: each field of `patch` replaces the current value, a
    /// `null` one goes back to its value in `configured`. Nothing changes unless `patch` is an
    /// object of known fields and the result is valid; the error names the field.
    pub fn merge(&mut self, patch: Value, configured: &Profile) -> Result<(), String> {
        let Value::Object(patch) = patch else {
            return Err("the profile must be a JSON object".to_owned());
        };
        let mut merged = fields(self);
        let configured = fields(configured);
        for (field, value) in patch {
            let Some(back) = configured.get(&field) else {
                return Err(format!(
                    "unknown field '{}'; the fields are {}",
                    shorten(&field),
                    configured.keys().cloned().collect::<Vec<_>>().join(", ")
                ));
            };
            let value = if value.is_null() { back.clone() } else { value };
            merged.insert(field.clone(), value);
            // Read after each field, so that the error is this field's: every other one is
            // valid already.
            Profile::deserialize(Value::Object(merged.clone()))
                .map_err(|error| format!("{field}: {error}"))?;
        }
        let profile = Profile::deserialize(Value::Object(merged)).map_err(|e| e.to_string())?;
        profile.validate()?;
        *self = profile;
        Ok(())
    }

    /// The location serving `path`, if metadata is served there now.
    pub fn serving(&self, path: &str) -> Option<&PrmLocation> {
        self.prm.iter().find(|location| location.path() == path)
    }

    /// The path a challenge's `resource_metadata` names: the first location, if challenges
    /// carry it and metadata is served at all.
    pub fn metadata_path(&self) -> Option<&str> {
        self.prm
            .first()
            .filter(|_| self.resource_metadata)
            .map(PrmLocation::path)
    }

    /// Whether `method` is served without a token.
    pub fn is_unauthenticated(&self, method: &str) -> bool {
        !method.is_empty()
            && self
                .unauthenticated
                .iter()
                .any(|pattern| match pattern.strip_suffix('*') {
                    Some(prefix) => method.starts_with(prefix),
                    None => method == pattern,
                })
    }
}

/// Every field of `profile` as JSON: the serialized form names each field, `null` included.
fn fields(profile: &Profile) -> Map<String, Value> {
    match serde_json::to_value(profile) {
        Ok(Value::Object(fields)) => fields,
        // A struct of strings, lists and booleans always serializes to an object.
        _ => Map::new(),
    }
}

fn bounded(field: &str, len: usize) -> Result<(), String> {
    if len > MAX_ENTRIES {
        return Err(format!("{field}: list at most {MAX_ENTRIES} entries"));
    }
    Ok(())
}

fn scope_tokens(field: &str, scopes: &[String]) -> Result<(), String> {
    bounded(field, scopes.len())?;
    match scopes.iter().find(|scope| !is_scope_token(scope)) {
        Some(bad) => Err(format!(
            "{field}: '{}' is not a valid scope token",
            shorten(bad)
        )),
        None => Ok(()),
    }
}

/// A JSON-RPC method name as a client sends it, with at most one `*`, at the end.
fn check_method_pattern(pattern: &str) -> Result<(), String> {
    let name = pattern.strip_suffix('*').unwrap_or(pattern);
    let valid = !pattern.is_empty()
        && pattern.len() <= 64
        && name
            .bytes()
            .all(|byte| byte.is_ascii_graphic() && byte != b'*');
    if valid {
        return Ok(());
    }
    Err(format!(
        "unauthenticated: '{}' is not a method name (printable, at most 64 characters, a '*' \
         only at the end)",
        shorten(pattern)
    ))
}

/// A client-chosen string, short enough to quote in an error.
fn shorten(value: &str) -> String {
    const SHOWN: usize = 64;
    if value.chars().count() <= SHOWN {
        return value.to_owned();
    }
    let mut shown: String = value.chars().take(SHOWN).collect();
    shown.push('…');
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_default_profile_has_the_documented_json_shape() {
        assert_eq!(
            serde_json::to_value(Profile::default()).unwrap(),
            json!({
                "prm": ["path", "root"],
                "prm_root_resource": "mcp-url",
                "prm_resource": null,
                "prm_scopes_supported": null,
                "resource_metadata": true,
                "challenge_scope": "required",
                "challenge_error": false,
                "insufficient_scope": "required+granted",
                "unauthenticated": [],
                "required_scopes": null,
            })
        );
        let read: Profile = serde_json::from_value(json!({})).unwrap();
        assert_eq!(read, Profile::default());
    }

    #[test]
    fn every_shape_reads_back_as_written() {
        let profile = Profile {
            prm: vec![PrmLocation::Custom("/meta/prm".into()), PrmLocation::Root],
            prm_root_resource: RootResource::Origin,
            prm_resource: Some("https://evil.example.com/mcp".into()),
            prm_scopes_supported: Some(ScopesSupported::Omit),
            resource_metadata: false,
            challenge_scope: ChallengeScope::List(vec!["a".into(), "b".into()]),
            challenge_error: true,
            insufficient_scope: InsufficientScope::Missing,
            unauthenticated: vec!["initialize".into(), "notifications/*".into()],
            required_scopes: Some(vec!["mcp:basic".into()]),
        };
        let json = serde_json::to_value(&profile).unwrap();
        assert_eq!(json["prm"], json!(["custom:/meta/prm", "root"]));
        assert_eq!(json["challenge_scope"], json!(["a", "b"]));
        assert_eq!(json["prm_scopes_supported"], "omit");
        assert_eq!(serde_json::from_value::<Profile>(json).unwrap(), profile);
        profile.validate().unwrap();
    }

    #[test]
    fn merge_replaces_given_fields_and_null_goes_back_to_the_configured_value() {
        let configured = Profile {
            challenge_error: true,
            required_scopes: Some(vec!["mcp:tools".into()]),
            ..Profile::default()
        };
        let mut profile = configured.clone();
        profile
            .merge(
                json!({"challenge_error": false, "prm": [], "required_scopes": ["x"]}),
                &configured,
            )
            .unwrap();
        assert!(!profile.challenge_error);
        assert!(profile.prm.is_empty());
        profile
            .merge(
                json!({"challenge_error": null, "required_scopes": null}),
                &configured,
            )
            .unwrap();
        assert_eq!(profile.prm, Vec::<PrmLocation>::new());
        assert!(profile.challenge_error);
        assert_eq!(profile.required_scopes, configured.required_scopes);
    }

    #[test]
    fn merge_is_all_or_nothing_and_names_the_field() {
        let configured = Profile::default();
        for (patch, named) in [
            (json!({"prm": ["path"], "nope": 1}), "unknown field 'nope'"),
            (
                json!({"prm": ["path"], "challenge_error": "yes"}),
                "challenge_error:",
            ),
            (json!({"challenge_scope": "some"}), "challenge_scope:"),
            (json!({"insufficient_scope": "all"}), "insufficient_scope:"),
            (json!({"prm": ["custom:mcp"]}), "prm:"),
            (json!({"prm": ["custom:/mcp"]}), "prm:"),
            (json!({"prm": ["custom:/control/x"]}), "prm:"),
            (json!({"prm": ["custom:/a b"]}), "prm:"),
            (json!({"prm": ["custom:/a/../b"]}), "prm:"),
            (json!({"prm": ["path", "path"]}), "prm:"),
            (json!({"prm": "path"}), "prm:"),
            (
                json!({"prm_scopes_supported": ["a b"]}),
                "prm_scopes_supported:",
            ),
            (
                json!({"prm_scopes_supported": "none"}),
                "prm_scopes_supported:",
            ),
            (json!({"prm_resource": ""}), "prm_resource:"),
            (json!({"unauthenticated": ["a*b"]}), "unauthenticated:"),
            (json!({"unauthenticated": [""]}), "unauthenticated:"),
            (json!({"required_scopes": ["\"q\""]}), "required_scopes:"),
            (
                json!({"required_scopes": vec!["a"; MAX_ENTRIES + 1]}),
                "required_scopes:",
            ),
        ] {
            let mut profile = Profile::default();
            let error = profile.merge(patch.clone(), &configured).unwrap_err();
            assert!(error.contains(named), "{patch}: {error}");
            assert_eq!(profile, Profile::default(), "{patch} changed something");
        }
        let long = format!("custom:/{}", "a".repeat(MAX_PATH_LEN));
        assert!(
            Profile::default()
                .merge(json!({"prm": [long]}), &configured)
                .is_err()
        );
        assert!(Profile::default().merge(json!([]), &configured).is_err());
    }

    #[test]
    fn unauthenticated_patterns_match_exactly_or_by_prefix() {
        let profile = Profile {
            unauthenticated: vec!["initialize".into(), "notifications/*".into()],
            ..Profile::default()
        };
        assert!(profile.is_unauthenticated("initialize"));
        assert!(profile.is_unauthenticated("notifications/initialized"));
        assert!(!profile.is_unauthenticated("initialized"));
        assert!(!profile.is_unauthenticated("tools/list"));
        assert!(!profile.is_unauthenticated(""));
    }

    #[test]
    fn insufficient_scope_modes_name_what_they_say() {
        let required = ["a".to_owned(), "b".to_owned()];
        let granted = ["a", "c"];
        assert_eq!(
            InsufficientScope::Missing.scopes(&required, &granted),
            ["b"]
        );
        assert_eq!(
            InsufficientScope::Required.scopes(&required, &granted),
            ["a", "b"]
        );
        assert_eq!(
            InsufficientScope::RequiredAndGranted.scopes(&required, &granted),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn the_challenge_names_the_first_location_only_when_asked_to() {
        let mut profile = Profile {
            prm: vec![PrmLocation::Custom("/x".into()), PrmLocation::Path],
            ..Profile::default()
        };
        assert_eq!(profile.metadata_path(), Some("/x"));
        assert_eq!(profile.serving(PRM_PATH), Some(&PrmLocation::Path));
        assert_eq!(profile.serving(PRM_ROOT_PATH), None);
        profile.resource_metadata = false;
        assert_eq!(profile.metadata_path(), None);
        profile.resource_metadata = true;
        profile.prm.clear();
        assert_eq!(profile.metadata_path(), None);
    }
}

/// Property tests: any patch is merged or refused without panicking, a refused one changes
/// nothing, and whatever is accepted is valid and reads back as written.
#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const FIELDS: [&str; 11] = [
        "prm",
        "prm_root_resource",
        "prm_resource",
        "prm_scopes_supported",
        "resource_metadata",
        "challenge_scope",
        "challenge_error",
        "insufficient_scope",
        "unauthenticated",
        "required_scopes",
        "other",
    ];

    fn word() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(
                &[
                    "path",
                    "root",
                    "omit",
                    "required",
                    "missing",
                    "origin",
                    "mcp-url",
                    "required+granted",
                    "custom:/p",
                    "custom:/mcp",
                    "custom:x",
                    "initialize",
                    "notifications/*",
                    "a*b",
                    "",
                    "mcp:tools",
                ][..]
            )
            .prop_map(str::to_owned),
            "\\PC{0,12}",
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            word().prop_map(Value::String),
            prop::collection::vec(word().prop_map(Value::String), 0..4).prop_map(Value::Array),
            Just(json!({"a": 1})),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 512,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn any_patch_is_merged_or_refused_without_panicking(
            patch in prop::collection::btree_map(prop::sample::select(&FIELDS[..]), value(), 0..5),
        ) {
            let patch: Map<String, Value> =
                patch.into_iter().map(|(field, value)| (field.to_owned(), value)).collect();
            let configured = Profile::default();
            let mut profile = Profile::default();
            match profile.merge(Value::Object(patch), &configured) {
                Ok(()) => {
                    prop_assert!(profile.validate().is_ok());
                    let json = serde_json::to_value(&profile).unwrap();
                    prop_assert_eq!(serde_json::from_value::<Profile>(json).unwrap(), profile);
                }
                Err(_) => prop_assert_eq!(profile, Profile::default()),
            }
        }
    }
}
