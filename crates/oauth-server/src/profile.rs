//! An issuer's profile: the knobs that shape what a client sees of it — where its metadata is
//! discovered and what it declares, where its endpoints are, the `iss` of its redirects, the
//! scopes it knows and announces, and its registration and client-authentication policy.
//!
//! One declaration serves the start-up setting (`Config::profile`, `IssuerConfig::profile`),
//! `POST /control/profile` (a patch: [`Profile::merge`]) and the `profile` of the state. Every
//! field parses through one function, so an error names the field wherever the value came from.

use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use sim_http::form::is_scope_token;

pub use crate::store::{AuthMethod, GrantType};

/// What the knobs of one issuer are set to. The default is the rig as it was before profiles:
/// RFC 8414 metadata only, the correct `iss`, dynamic registration, every auth method.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Profile {
    /// Where the metadata document is served; `[]`: nowhere (only for an issuer co-hosted at the
    /// root of another server's origin, whose clients fall back to the default endpoints).
    pub metadata: Vec<MetadataLocation>,
    /// The `issuer` the document declares instead of the real one (metadata-issuer-mismatch).
    pub metadata_issuer: Option<String>,
    /// `authorize`, `token`, `register` and `revoke` move under `{path}{prefix}`.
    pub endpoint_prefix: Option<String>,
    /// `authorization_response_iss_parameter_supported` in the metadata.
    pub iss_parameter_supported: Declared,
    /// The `iss` of every `/authorize` redirect (RFC 9207), error redirects included.
    pub iss: Iss,
    /// The scopes this issuer knows and grants; `None` (only before an issuer is built): the
    /// configured `SCOPES`. `offline_access` is always known besides.
    pub scopes: Option<Vec<String>>,
    /// What the metadata's `scopes_supported` says, independently of what is granted.
    pub scopes_supported: ScopesSupported,
    /// Dynamic client registration (RFC 7591). Off: no `registration_endpoint`, `/register` 404s.
    pub registration: bool,
    /// `token_endpoint_auth_methods_supported` (and revocation's); registration asking for
    /// another is refused unless [`Profile::assign_auth_method`] is set.
    pub auth_methods: Vec<AuthMethod>,
    /// Registration assigns this method whatever was asked (a secret iff it is not `none`).
    pub assign_auth_method: Option<AuthMethod>,
    /// A client must authenticate with the method it registered: off, a secret client may send
    /// its secret either way (Basic or in the body), as most servers allow; on, the other way
    /// is `invalid_client`, as a strict server answers.
    pub enforce_auth_method: bool,
    /// `/authorize` and the code grant at `/token` refuse a request without `resource`.
    pub require_resource: bool,
    /// `client_id_metadata_document_supported` in the metadata.
    pub client_id_metadata_document_supported: Declared,
    /// A `client_id` that is a URL is resolved by fetching its client ID metadata document;
    /// off, such an id is looked up among the registered clients like any other (and is unknown).
    pub client_id_metadata_documents: bool,
    /// The grants `/token` accepts and `grant_types_supported` lists. Token exchange makes the
    /// issuer an enterprise identity provider that turns ID tokens into ID-JAGs.
    pub grant_types: Vec<GrantType>,
    /// The `client_id` claim of the ID-JAGs this issuer issues: the requesting application's id
    /// at the resource's authorization server, which an enterprise IdP knows from its own
    /// configuration. Absent: the id of the client that asked, if it authenticated.
    pub id_jag_client_id: Option<String>,
}

/// The grants an issuer accepts unless told otherwise: the user's, and the two without a user
/// (a jwt-bearer assertion still needs a trusted issuer).
pub const DEFAULT_GRANTS: [GrantType; 4] = [
    GrantType::AuthorizationCode,
    GrantType::RefreshToken,
    GrantType::ClientCredentials,
    GrantType::JwtBearer,
];

impl Default for Profile {
    fn default() -> Self {
        Self {
            metadata: vec![MetadataLocation::Oauth],
            metadata_issuer: None,
            endpoint_prefix: None,
            iss_parameter_supported: Declared::True,
            iss: Iss::Correct,
            scopes: None,
            scopes_supported: ScopesSupported::Known,
            registration: true,
            auth_methods: AuthMethod::ALL.to_vec(),
            assign_auth_method: None,
            enforce_auth_method: false,
            require_resource: false,
            // The registration the 2025-11-25 and later revisions recommend, on by default: a
            // client without a document URL still registers dynamically.
            client_id_metadata_document_supported: Declared::True,
            client_id_metadata_documents: true,
            grant_types: DEFAULT_GRANTS.to_vec(),
            id_jag_client_id: None,
        }
    }
}

/// Where a metadata document is served, for an issuer with path `{path}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MetadataLocation {
    /// `/.well-known/oauth-authorization-server{path}` (RFC 8414 §3.1).
    Oauth,
    /// `/.well-known/openid-configuration{path}`, an OIDC discovery document.
    OidcInserted,
    /// `{path}/.well-known/openid-configuration` (OpenID Connect Discovery §4).
    OidcAppended,
}

impl MetadataLocation {
    /// Whether the document served there is also an OIDC discovery document.
    pub fn is_oidc(self) -> bool {
        self != Self::Oauth
    }
}

/// A boolean a metadata document declares: `true`, `false` or `"omit"` (absent), as
/// `authorization_response_iss_parameter_supported` and
/// `client_id_metadata_document_supported` are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Declared {
    /// Declared `true`.
    True,
    /// Declared `false`.
    False,
    /// Not in the document.
    Omit,
}

/// The `iss` parameter of `/authorize` redirects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Iss {
    /// The issuer identifier, exactly.
    Correct,
    /// No `iss` parameter.
    Omit,
    /// The issuer with a `/` appended, which a client must not normalize away.
    TrailingSlash,
    /// Another issuer: `https://evil.example.com`.
    Wrong,
    /// Any string (`value:<string>`).
    Value(String),
}

/// The URL [`Iss::Wrong`] sends.
pub const WRONG_ISSUER: &str = "https://evil.example.com";

impl Iss {
    /// The `iss` a redirect of the issuer `issuer` carries, if any.
    pub fn for_issuer(&self, issuer: &str) -> Option<String> {
        match self {
            Self::Correct => Some(issuer.to_owned()),
            Self::Omit => None,
            Self::TrailingSlash => Some(format!("{issuer}/")),
            Self::Wrong => Some(WRONG_ISSUER.to_owned()),
            Self::Value(value) => Some(value.clone()),
        }
    }
}

/// The metadata's `scopes_supported`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScopesSupported {
    /// The scopes the issuer knows (`null`).
    Known,
    /// Not in the document (`"omit"`).
    Omit,
    /// Exactly this list, whatever is granted.
    List(Vec<String>),
}

/// Scope tokens one list holds at most, and the longest token: a profile is bounded.
const MAX_SCOPES: usize = 64;
const MAX_SCOPE_LEN: usize = 128;
/// The longest URL or free string a knob takes.
const MAX_TEXT_LEN: usize = 2048;

/// Every field, in the order of the knob table in docs/conformance.md: what an unknown-field
/// error lists.
pub const FIELDS: [&str; 16] = [
    "metadata",
    "metadata_issuer",
    "endpoint_prefix",
    "iss_parameter_supported",
    "iss",
    "scopes",
    "scopes_supported",
    "registration",
    "auth_methods",
    "assign_auth_method",
    "enforce_auth_method",
    "require_resource",
    "client_id_metadata_document_supported",
    "client_id_metadata_documents",
    "grant_types",
    "id_jag_client_id",
];

impl Profile {
    /// Applies `patch`, a JSON object holding any subset of the fields: a given field replaces
    /// the current value, `null` brings back `configured`'s. Nothing changes unless every
    /// field is valid; the error names the first field that is not.
    pub fn merge(&mut self, patch: Value, configured: &Profile) -> Result<(), String> {
        let Value::Object(patch) = patch else {
            return Err("the profile must be a JSON object".to_owned());
        };
        let mut next = self.clone();
        next.apply(patch, configured)?;
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// Checks what no single field can: the combinations.
    pub fn validate(&self) -> Result<(), String> {
        if self.auth_methods.is_empty() {
            return Err("auth_methods: at least one method is required".to_owned());
        }
        if let Some(scopes) = &self.scopes {
            if scopes.is_empty() {
                return Err("scopes: at least one scope is required".to_owned());
            }
            check_scopes("scopes", scopes)?;
        }
        if let ScopesSupported::List(scopes) = &self.scopes_supported {
            check_scopes("scopes_supported", scopes)?;
        }
        if let Some(prefix) = &self.endpoint_prefix {
            check_prefix(prefix)?;
        }
        if let Some(issuer) = &self.metadata_issuer {
            check_url(issuer)?;
        }
        if let Iss::Value(value) = &self.iss
            && value.len() > MAX_TEXT_LEN
        {
            return Err(format!("iss: at most {MAX_TEXT_LEN} characters"));
        }
        Ok(())
    }

    /// Whether the metadata is served at `location`.
    pub fn serves(&self, location: MetadataLocation) -> bool {
        self.metadata.contains(&location)
    }

    /// Whether an OIDC document (and so the JWKS) is served anywhere.
    pub fn serves_oidc(&self) -> bool {
        self.metadata.iter().any(|location| location.is_oidc())
    }

    /// The path the moved endpoints are under, below the issuer's path: `""` or the prefix.
    pub fn prefix(&self) -> &str {
        self.endpoint_prefix.as_deref().unwrap_or("")
    }

    /// Sets each field of `patch` on `self`, `null` taking `configured`'s value.
    fn apply(&mut self, patch: Map<String, Value>, configured: &Profile) -> Result<(), String> {
        for (field, value) in patch {
            let null = value.is_null();
            let named = |error: String| format!("{field}: {error}");
            match field.as_str() {
                "metadata" if null => self.metadata = configured.metadata.clone(),
                "metadata" => self.metadata = locations(value).map_err(named)?,
                "metadata_issuer" if null => {
                    self.metadata_issuer = configured.metadata_issuer.clone();
                }
                "metadata_issuer" => {
                    let issuer = string(value).map_err(named)?;
                    check_url(&issuer)?;
                    self.metadata_issuer = Some(issuer);
                }
                "endpoint_prefix" if null => {
                    self.endpoint_prefix = configured.endpoint_prefix.clone();
                }
                "endpoint_prefix" => {
                    let prefix = string(value).map_err(named)?;
                    check_prefix(&prefix)?;
                    self.endpoint_prefix = Some(prefix);
                }
                "iss_parameter_supported" if null => {
                    self.iss_parameter_supported = configured.iss_parameter_supported;
                }
                "iss_parameter_supported" => {
                    self.iss_parameter_supported = Declared::parse(&value).map_err(named)?;
                }
                "iss" if null => self.iss = configured.iss.clone(),
                "iss" => self.iss = Iss::parse(&value).map_err(named)?,
                "scopes" if null => self.scopes = configured.scopes.clone(),
                "scopes" => {
                    let scopes = strings(value).map_err(named)?;
                    if scopes.is_empty() {
                        return Err(named("at least one scope is required".into()));
                    }
                    check_scopes("scopes", &scopes)?;
                    self.scopes = Some(scopes);
                }
                "scopes_supported" if null => {
                    self.scopes_supported = configured.scopes_supported.clone();
                }
                "scopes_supported" => {
                    self.scopes_supported = ScopesSupported::parse(value).map_err(named)?;
                }
                "registration" if null => self.registration = configured.registration,
                "registration" => self.registration = boolean(&value).map_err(named)?,
                "auth_methods" if null => self.auth_methods = configured.auth_methods.clone(),
                "auth_methods" => self.auth_methods = auth_methods(value).map_err(named)?,
                "assign_auth_method" if null => {
                    self.assign_auth_method = configured.assign_auth_method;
                }
                "assign_auth_method" => {
                    self.assign_auth_method = Some(auth_method(&value).map_err(named)?);
                }
                "enforce_auth_method" if null => {
                    self.enforce_auth_method = configured.enforce_auth_method;
                }
                "enforce_auth_method" => {
                    self.enforce_auth_method = boolean(&value).map_err(named)?
                }
                "require_resource" if null => self.require_resource = configured.require_resource,
                "require_resource" => self.require_resource = boolean(&value).map_err(named)?,
                "client_id_metadata_document_supported" if null => {
                    self.client_id_metadata_document_supported =
                        configured.client_id_metadata_document_supported;
                }
                "client_id_metadata_document_supported" => {
                    self.client_id_metadata_document_supported =
                        Declared::parse(&value).map_err(named)?;
                }
                "client_id_metadata_documents" if null => {
                    self.client_id_metadata_documents = configured.client_id_metadata_documents;
                }
                "client_id_metadata_documents" => {
                    self.client_id_metadata_documents = boolean(&value).map_err(named)?;
                }
                "grant_types" if null => self.grant_types = configured.grant_types.clone(),
                "grant_types" => self.grant_types = grant_types(value).map_err(named)?,
                "id_jag_client_id" if null => {
                    self.id_jag_client_id = configured.id_jag_client_id.clone();
                }
                "id_jag_client_id" => {
                    let id = string(value).map_err(named)?;
                    if !(1..=255).contains(&id.len()) || !id.bytes().all(|b| b.is_ascii_graphic()) {
                        return Err(named("must be 1 to 255 visible ASCII characters".into()));
                    }
                    self.id_jag_client_id = Some(id);
                }
                _ => {
                    return Err(format!(
                        "unknown field '{field}'; the fields are {}",
                        FIELDS.join(", ")
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A whole profile, as a start-up setting or `"profile"` of `POST /control/issuers`: the given
/// fields on top of the default, through the same parsing as a patch, so errors name the field.
impl<'de> Deserialize<'de> for Profile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let mut profile = Profile::default();
        let defaults = Profile::default();
        profile.merge(value, &defaults).map_err(D::Error::custom)?;
        Ok(profile)
    }
}

fn string(value: Value) -> Result<String, String> {
    match value {
        Value::String(text) if text.len() <= MAX_TEXT_LEN => Ok(text),
        Value::String(_) => Err(format!("at most {MAX_TEXT_LEN} characters")),
        other => Err(format!("must be a string, not {other}")),
    }
}

fn boolean(value: &Value) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| format!("must be true or false, not {value}"))
}

fn strings(value: Value) -> Result<Vec<String>, String> {
    let Value::Array(items) = value else {
        return Err(format!("must be a list of strings, not {value}"));
    };
    if items.len() > MAX_SCOPES {
        return Err(format!("at most {MAX_SCOPES} entries"));
    }
    items.into_iter().map(string).collect()
}

fn locations(value: Value) -> Result<Vec<MetadataLocation>, String> {
    let mut found = Vec::new();
    for name in strings(value)? {
        let location = MetadataLocation::deserialize(Value::from(name.as_str())).map_err(|_| {
            format!("'{name}' is not a location; use oauth, oidc-inserted or oidc-appended")
        })?;
        if !found.contains(&location) {
            found.push(location);
        }
    }
    Ok(found)
}

fn auth_method(value: &Value) -> Result<AuthMethod, String> {
    value.as_str().and_then(AuthMethod::parse).ok_or_else(|| {
        format!(
            "{value} is not a method; use none, client_secret_basic, client_secret_post or \
             private_key_jwt"
        )
    })
}

fn auth_methods(value: Value) -> Result<Vec<AuthMethod>, String> {
    let Value::Array(items) = value else {
        return Err(format!("must be a list of methods, not {value}"));
    };
    let mut methods = Vec::new();
    for item in &items {
        let method = auth_method(item)?;
        if !methods.contains(&method) {
            methods.push(method);
        }
    }
    if methods.is_empty() {
        return Err("at least one method is required".into());
    }
    Ok(methods)
}

fn grant_types(value: Value) -> Result<Vec<GrantType>, String> {
    let mut grants = Vec::new();
    for name in strings(value)? {
        let grant = GrantType::parse(&name).ok_or_else(|| {
            let known: Vec<&str> = GrantType::ALL.iter().map(|grant| grant.as_str()).collect();
            format!("'{name}' is not a grant; use {}", known.join(", "))
        })?;
        if !grants.contains(&grant) {
            grants.push(grant);
        }
    }
    if grants.is_empty() {
        return Err("at least one grant is required".into());
    }
    Ok(grants)
}

fn check_scopes(field: &str, scopes: &[String]) -> Result<(), String> {
    if scopes.len() > MAX_SCOPES {
        return Err(format!("{field}: at most {MAX_SCOPES} scopes"));
    }
    match scopes
        .iter()
        .find(|scope| scope.len() > MAX_SCOPE_LEN || !is_scope_token(scope))
    {
        Some(bad) => Err(format!("{field}: '{bad}' is not a scope token")),
        None => Ok(()),
    }
}

fn check_url(issuer: &str) -> Result<(), String> {
    let url = url::Url::parse(issuer)
        .map_err(|error| format!("metadata_issuer: '{issuer}' is not a URL ({error})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!(
            "metadata_issuer: '{issuer}' must be an http(s) URL"
        ));
    }
    Ok(())
}

/// `/seg[/seg…]`: at most four segments of URL-safe characters, nothing the control plane or
/// the well-known paths would read as theirs.
fn check_prefix(prefix: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "endpoint_prefix: '{prefix}' must be '/seg' or '/seg/seg' (at most 4 segments of \
             letters, digits and -._~, not /control or /.well-known)"
        )
    };
    let rest = prefix.strip_prefix('/').ok_or_else(bad)?;
    let segments: Vec<&str> = rest.split('/').collect();
    let segment_ok = |segment: &&str| {
        !segment.is_empty()
            && *segment != "."
            && *segment != ".."
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    };
    if prefix.len() > 128
        || segments.len() > 4
        || !segments.iter().all(segment_ok)
        || matches!(segments[0], "control" | ".well-known")
    {
        return Err(bad());
    }
    Ok(())
}

impl Declared {
    fn parse(value: &Value) -> Result<Self, String> {
        match value {
            Value::Bool(true) => Ok(Self::True),
            Value::Bool(false) => Ok(Self::False),
            Value::String(omit) if omit == "omit" => Ok(Self::Omit),
            other => Err(format!("must be true, false or \"omit\", not {other}")),
        }
    }
}

impl Serialize for Declared {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::True => serializer.serialize_bool(true),
            Self::False => serializer.serialize_bool(false),
            Self::Omit => serializer.serialize_str("omit"),
        }
    }
}

impl<'de> Deserialize<'de> for Declared {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::parse(&Value::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

impl Iss {
    fn parse(value: &Value) -> Result<Self, String> {
        let invalid = || {
            format!(
                "must be \"correct\", \"omit\", \"trailing-slash\", \"wrong\" or \
                 \"value:<any string>\", not {value}"
            )
        };
        let text = value.as_str().ok_or_else(invalid)?;
        match text {
            "correct" => Ok(Self::Correct),
            "omit" => Ok(Self::Omit),
            "trailing-slash" => Ok(Self::TrailingSlash),
            "wrong" => Ok(Self::Wrong),
            _ => match text.strip_prefix("value:") {
                Some(value) if value.len() <= MAX_TEXT_LEN => Ok(Self::Value(value.to_owned())),
                Some(_) => Err(format!("at most {MAX_TEXT_LEN} characters")),
                None => Err(invalid()),
            },
        }
    }
}

impl fmt::Display for Iss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Correct => f.write_str("correct"),
            Self::Omit => f.write_str("omit"),
            Self::TrailingSlash => f.write_str("trailing-slash"),
            Self::Wrong => f.write_str("wrong"),
            Self::Value(value) => write!(f, "value:{value}"),
        }
    }
}

impl Serialize for Iss {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Iss {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::parse(&Value::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

impl ScopesSupported {
    fn parse(value: Value) -> Result<Self, String> {
        match value {
            Value::Null => Ok(Self::Known),
            Value::String(omit) if omit == "omit" => Ok(Self::Omit),
            list @ Value::Array(_) => {
                let scopes = strings(list)?;
                check_scopes("scopes_supported", &scopes)?;
                Ok(Self::List(scopes))
            }
            other => Err(format!(
                "must be a list of scopes, \"omit\" or null, not {other}"
            )),
        }
    }
}

impl Serialize for ScopesSupported {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Known => serializer.serialize_none(),
            Self::Omit => serializer.serialize_str("omit"),
            Self::List(scopes) => scopes.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for ScopesSupported {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::parse(Value::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_default_shows_every_field() {
        assert_eq!(
            serde_json::to_value(Profile::default()).unwrap(),
            json!({
                "metadata": ["oauth"],
                "metadata_issuer": null,
                "endpoint_prefix": null,
                "iss_parameter_supported": true,
                "iss": "correct",
                "scopes": null,
                "scopes_supported": null,
                "registration": true,
                "auth_methods": ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"],
                "assign_auth_method": null,
                "enforce_auth_method": false,
                "require_resource": false,
                "client_id_metadata_document_supported": true,
                "client_id_metadata_documents": true,
                "grant_types": ["authorization_code", "refresh_token", "client_credentials",
                                "urn:ietf:params:oauth:grant-type:jwt-bearer"],
                "id_jag_client_id": null,
            })
        );
    }

    #[test]
    fn a_shown_profile_reads_back_as_itself() {
        let mut profile = Profile::default();
        profile
            .merge(
                json!({
                    "metadata": ["oidc-appended", "oauth"],
                    "iss": "value:x y",
                    "iss_parameter_supported": "omit",
                    "scopes_supported": "omit",
                    "scopes": ["a", "b"],
                    "assign_auth_method": "client_secret_post",
                    "endpoint_prefix": "/oauth/v1",
                    "metadata_issuer": "https://attacker.example.com",
                }),
                &Profile::default(),
            )
            .unwrap();
        let shown = serde_json::to_value(&profile).unwrap();
        let read: Profile = serde_json::from_value(shown).unwrap();
        assert_eq!(read, profile);
    }

    #[test]
    fn null_brings_back_the_configured_value() {
        let configured = Profile {
            registration: false,
            iss: Iss::Omit,
            ..Profile::default()
        };
        let mut profile = configured.clone();
        profile
            .merge(json!({"registration": true, "iss": "wrong"}), &configured)
            .unwrap();
        assert!(profile.registration);
        profile
            .merge(json!({"registration": null, "iss": null}), &configured)
            .unwrap();
        assert_eq!(profile, configured);
    }

    #[test]
    fn a_bad_field_names_itself_and_changes_nothing() {
        let mut profile = Profile::default();
        for (patch, named) in [
            (json!({"registration": true, "bogus": 1}), "bogus"),
            (json!({"registration": false, "iss": "maybe"}), "iss"),
            (json!({"metadata": ["oauth", "nowhere"]}), "metadata"),
            (json!({"auth_methods": []}), "auth_methods"),
            (
                json!({"auth_methods": ["client_secret_jwt"]}),
                "auth_methods",
            ),
            (json!({"grant_types": ["password"]}), "grant_types"),
            (json!({"grant_types": []}), "grant_types"),
            (json!({"id_jag_client_id": ""}), "id_jag_client_id"),
            (json!({"endpoint_prefix": "oauth"}), "endpoint_prefix"),
            (json!({"endpoint_prefix": "/control"}), "endpoint_prefix"),
            (json!({"metadata_issuer": "ftp://x"}), "metadata_issuer"),
            (json!({"scopes": []}), "scopes"),
            (json!({"scopes": ["a b"]}), "scopes"),
            (json!({"scopes_supported": 3}), "scopes_supported"),
            (
                json!({"iss_parameter_supported": "yes"}),
                "iss_parameter_supported",
            ),
            (json!({"require_resource": "yes"}), "require_resource"),
        ] {
            let error = profile
                .merge(patch.clone(), &Profile::default())
                .unwrap_err();
            assert!(error.contains(named), "{patch}: {error}");
            assert_eq!(profile, Profile::default(), "{patch}");
        }
    }
}
