//! The situations the MCP conformance suite (`@modelcontextprotocol/conformance`) grades clients
//! on, staged on the rig: each [`Situation`] is the suite's scenario of that name, made of the
//! rig's knobs (profiles, issuers, pre-registered clients, fault rules), and judged from the two
//! journals the way the suite's checks judge its mock servers' logs.
//!
//! The suite runs each scenario against fixed mock servers inside its own harness; the rig puts
//! any real client in the same situation, on a running rig, beside the failures the suite never
//! stages (rotation, expiry, outages). Applying a situation resets the rig first: each of the
//! suite's scenarios starts from fresh servers, and so does the client under test.
//!
//! ```
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let sim = mcp_oauth_sim::Sim::builder().start().await?;
//! use mcp_oauth_sim::control::conformance::Situation;
//! let situation = Situation::parse("auth/iss-wrong-issuer").expect("a suite scenario");
//! sim.control().stage(situation).await?;
//! // ... point the client at sim.mcp_url() and let it try ...
//! let verdict = sim.control().judge(situation).await?;
//! // No client came here, so the verdict fails and its problems say what it missed; a client
//! // that sends the code although `iss` is wrong fails it too.
//! assert!(!verdict.passed(), "{:?}", verdict.problems());
//! # Ok(()) }
//! ```

use std::fmt;

use serde::Serialize;
use serde_json::{Value, json};

pub use super::without_user::Context;
use super::without_user::WithoutUser;
use super::{Control, ControlError, Event, Fault, Respond, Service};

/// One of the suite's client-auth scenarios the rig stages: the core, back-compat and
/// 2026-07-28 lists, and the extensions for clients without a user (DPoP's two are not staged).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Situation {
    /// PRM at the path form only (the root form is a trap), AS metadata at RFC 8414.
    MetadataDefault,
    /// No `resource_metadata` in the 401; AS metadata only as OIDC discovery at the root.
    MetadataVar1,
    /// PRM only at the root (resource = origin), an issuer with a path (`/tenant1`).
    MetadataVar2,
    /// PRM at a custom path named only by the 401; the issuer's OIDC metadata path-appended.
    MetadataVar3,
    /// The AS advertises client ID metadata documents (and still registration): the client
    /// should use its document's URL as `client_id`.
    BasicCimd,
    /// The 401 names `mcp:basic`; PRM lists no scopes.
    ScopeFromWwwAuthenticate,
    /// The 401 names no scope; PRM lists `mcp:basic mcp:read mcp:write`.
    ScopeFromScopesSupported,
    /// No scope anywhere: the client must ask for none.
    ScopeOmittedWhenUndefined,
    /// Lazy auth, 401 `mcp:basic`, then a 403 naming only `mcp:write` for tools/call.
    ScopeStepUp,
    /// Every authenticated request is 403 `mcp:admin`: the client must give up after 3 tries.
    ScopeRetryLimit,
    /// The AS supports and assigns only `client_secret_basic`, and requires `resource`.
    TokenEndpointAuthBasic,
    /// The AS supports and assigns only `client_secret_post`, and requires `resource`.
    TokenEndpointAuthPost,
    /// The AS supports and assigns only `none`, and requires `resource`.
    TokenEndpointAuthNone,
    /// No dynamic registration: a pre-registered confidential client (Basic) only.
    PreRegistration,
    /// 2025-03-26: no PRM; the AS on the MCP origin, metadata at the root, endpoints under /oauth.
    #[value(name = "2025-03-26-oauth-metadata-backcompat")]
    OauthMetadataBackcompat,
    /// 2025-03-26: no PRM and no AS metadata; /authorize, /token, /register on the MCP origin.
    #[value(name = "2025-03-26-oauth-endpoint-fallback")]
    OauthEndpointFallback,
    /// PRM's `resource` is another server's: the client must not authorize.
    ResourceMismatch,
    /// The AS offers `offline_access` (PRM does not): the client may ask for it.
    OfflineAccessScope,
    /// Nobody offers `offline_access`: the client must not ask for it.
    OfflineAccessNotSupported,
    /// PRM moves to a second AS after the first authenticated call.
    AuthorizationServerMigration,
    /// `iss` advertised and correct.
    IssSupported,
    /// `iss` neither advertised nor sent: the client proceeds.
    IssNotAdvertised,
    /// `iss` advertised but missing from the redirect: the client must stop.
    IssSupportedMissing,
    /// `iss` advertised and another issuer's: the client must stop.
    IssWrongIssuer,
    /// `iss` not advertised, yet sent with another issuer's value: the client must stop.
    IssUnexpected,
    /// `iss` is the issuer with a trailing slash: the client must not normalise it.
    IssNormalized,
    /// The AS metadata declares another issuer: the client must not use it.
    MetadataIssuerMismatch,
    /// Client credentials with a secret in a Basic header; the only grant offered.
    ClientCredentialsBasic,
    /// Client credentials with a `private_key_jwt` assertion signed by a key the rig made.
    ClientCredentialsJwt,
    /// A workload's assertion from a trusted identity provider, with the jwt-bearer grant.
    WifJwtBearer,
    /// An enterprise IdP's ID token, exchanged for an ID-JAG, presented with the jwt-bearer
    /// grant.
    EnterpriseManagedAuthorization,
}

/// How a check came out, with the suite's meaning: a run passes only without any
/// [`Status::Failure`] or [`Status::Warning`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// What the suite requires happened.
    Success,
    /// A SHOULD was not met; the suite fails the run on it.
    Warning,
    /// A MUST was not met.
    Failure,
    /// Noted, not graded (a MAY).
    Info,
}

/// One check, named by the suite's check id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The suite's check id (`sep-2468-client-reject-missing-iss`, …).
    pub id: &'static str,
    /// How it came out.
    pub status: Status,
    /// What the journals showed.
    pub detail: String,
}

/// What a client did in a situation, judged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The suite's scenario name, `auth/…`.
    pub scenario: String,
    /// Every check, in the suite's order.
    pub checks: Vec<Check>,
}

impl Verdict {
    /// Whether the suite would pass the run: no failure and no warning.
    pub fn passed(&self) -> bool {
        self.checks
            .iter()
            .all(|check| matches!(check.status, Status::Success | Status::Info))
    }

    /// The checks that fail the run, as `id: detail` lines.
    pub fn problems(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|check| matches!(check.status, Status::Failure | Status::Warning))
            .map(|check| format!("{}: {}", check.id, check.detail))
            .collect()
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let outcome = if self.passed() { "passes" } else { "fails" };
        writeln!(f, "{} {outcome}", self.scenario)?;
        for check in &self.checks {
            let status = match check.status {
                Status::Success => "ok  ",
                Status::Warning => "WARN",
                Status::Failure => "FAIL",
                Status::Info => "info",
            };
            writeln!(f, "  {status} {} — {}", check.id, check.detail)?;
        }
        Ok(())
    }
}

/// The names the presets give the issuers they add.
pub mod issuers {
    /// The path issuer of metadata-var2 and -var3 (`/tenant1` of the AS's port).
    pub const TENANT: &str = "tenant1";
    /// The second authorization server of the migration, on a port of its own.
    pub const SECOND: &str = "as2";
    /// The authorization server on the MCP server's origin (2025-03-26 layouts).
    pub const LEGACY: &str = "legacy";
}

/// The client the pre-registration situation registers, as the suite names it.
pub const PRE_REGISTERED_CLIENT: (&str, &str) = ("pre-registered-client", "pre-registered-secret");

/// The custom PRM path of metadata-var3.
const CUSTOM_PRM: &str = "/custom/metadata/location.json";
/// The other server's URL the suite uses for wrong values.
const EVIL: &str = "https://evil.example.com";
/// The issuer the poisoned metadata of metadata-issuer-mismatch declares.
const ATTACKER: &str = "https://attacker.example.com";
/// Where the poisoned metadata parks the endpoints, so that any use of them shows.
const MISMATCHED_PREFIX: &str = "/mismatched-as";

const LAZY: [&str; 2] = ["initialize", "notifications/*"];

/// Where a preset's extra issuer is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// Under a path of the AS's main port.
    Path(&'static str),
    /// On a free port of its own.
    OwnPort,
    /// At the root of the MCP server's origin.
    McpOrigin,
}

/// Everything a situation changes, on top of a reset rig.
#[derive(Debug, Default)]
struct Plan {
    /// `main`'s profile patch.
    oauth: Option<Value>,
    /// The MCP server's profile patch.
    mcp: Option<Value>,
    /// An issuer to add, where, with its profile.
    issuer: Option<(&'static str, Place, Value)>,
    /// The issuers the MCP server trusts, by name, when not `main` alone.
    trust: Option<&'static str>,
    /// Migrate the MCP server to this issuer after N authenticated requests.
    migrate: Option<(&'static str, u64)>,
    /// A pre-registered client for `main`.
    client: Option<Value>,
    /// A fault rule for the MCP server.
    mcp_fault: Option<Fault>,
}

impl Situation {
    /// Every situation, in the suite's order.
    pub const ALL: [Situation; 31] = [
        Self::MetadataDefault,
        Self::MetadataVar1,
        Self::MetadataVar2,
        Self::MetadataVar3,
        Self::BasicCimd,
        Self::ScopeFromWwwAuthenticate,
        Self::ScopeFromScopesSupported,
        Self::ScopeOmittedWhenUndefined,
        Self::ScopeStepUp,
        Self::ScopeRetryLimit,
        Self::TokenEndpointAuthBasic,
        Self::TokenEndpointAuthPost,
        Self::TokenEndpointAuthNone,
        Self::PreRegistration,
        Self::OauthMetadataBackcompat,
        Self::OauthEndpointFallback,
        Self::ResourceMismatch,
        Self::OfflineAccessScope,
        Self::OfflineAccessNotSupported,
        Self::AuthorizationServerMigration,
        Self::IssSupported,
        Self::IssNotAdvertised,
        Self::IssSupportedMissing,
        Self::IssWrongIssuer,
        Self::IssUnexpected,
        Self::IssNormalized,
        Self::MetadataIssuerMismatch,
        Self::ClientCredentialsBasic,
        Self::ClientCredentialsJwt,
        Self::WifJwtBearer,
        Self::EnterpriseManagedAuthorization,
    ];

    /// The suite's name without `auth/`: `iss-wrong-issuer`.
    pub fn name(self) -> &'static str {
        match self {
            Self::MetadataDefault => "metadata-default",
            Self::MetadataVar1 => "metadata-var1",
            Self::MetadataVar2 => "metadata-var2",
            Self::MetadataVar3 => "metadata-var3",
            Self::BasicCimd => "basic-cimd",
            Self::ScopeFromWwwAuthenticate => "scope-from-www-authenticate",
            Self::ScopeFromScopesSupported => "scope-from-scopes-supported",
            Self::ScopeOmittedWhenUndefined => "scope-omitted-when-undefined",
            Self::ScopeStepUp => "scope-step-up",
            Self::ScopeRetryLimit => "scope-retry-limit",
            Self::TokenEndpointAuthBasic => "token-endpoint-auth-basic",
            Self::TokenEndpointAuthPost => "token-endpoint-auth-post",
            Self::TokenEndpointAuthNone => "token-endpoint-auth-none",
            Self::PreRegistration => "pre-registration",
            Self::OauthMetadataBackcompat => "2025-03-26-oauth-metadata-backcompat",
            Self::OauthEndpointFallback => "2025-03-26-oauth-endpoint-fallback",
            Self::ResourceMismatch => "resource-mismatch",
            Self::OfflineAccessScope => "offline-access-scope",
            Self::OfflineAccessNotSupported => "offline-access-not-supported",
            Self::AuthorizationServerMigration => "authorization-server-migration",
            Self::IssSupported => "iss-supported",
            Self::IssNotAdvertised => "iss-not-advertised",
            Self::IssSupportedMissing => "iss-supported-missing",
            Self::IssWrongIssuer => "iss-wrong-issuer",
            Self::IssUnexpected => "iss-unexpected",
            Self::IssNormalized => "iss-normalized",
            Self::MetadataIssuerMismatch => "metadata-issuer-mismatch",
            Self::ClientCredentialsBasic => "client-credentials-basic",
            Self::ClientCredentialsJwt => "client-credentials-jwt",
            Self::WifJwtBearer => "wif-jwt-bearer",
            Self::EnterpriseManagedAuthorization => "enterprise-managed-authorization",
        }
    }

    /// The suite's full name: `auth/iss-wrong-issuer`.
    pub fn suite_name(self) -> String {
        format!("auth/{}", self.name())
    }

    /// The situation the suite calls `name`, with or without `auth/`.
    pub fn parse(name: &str) -> Option<Self> {
        let name = name.strip_prefix("auth/").unwrap_or(name);
        Self::ALL
            .into_iter()
            .find(|situation| situation.name() == name)
    }

    /// The situations of clients without a user, which [`without_user`] stages and judges.
    fn without_user(self) -> Option<WithoutUser> {
        Some(match self {
            Self::ClientCredentialsBasic => WithoutUser::ClientCredentialsBasic,
            Self::ClientCredentialsJwt => WithoutUser::ClientCredentialsJwt,
            Self::WifJwtBearer => WithoutUser::WifJwtBearer,
            Self::EnterpriseManagedAuthorization => WithoutUser::EnterpriseManaged,
            _ => return None,
        })
    }

    /// The revision of the MCP specification that introduced it; `extension` for the
    /// situations of an authorization extension.
    pub fn revision(self) -> &'static str {
        if self.without_user().is_some() {
            return "extension";
        }
        match self {
            Self::OauthMetadataBackcompat | Self::OauthEndpointFallback => "2025-03-26",
            Self::TokenEndpointAuthBasic
            | Self::TokenEndpointAuthPost
            | Self::TokenEndpointAuthNone => "2025-06-18",
            Self::MetadataDefault
            | Self::MetadataVar1
            | Self::MetadataVar2
            | Self::MetadataVar3
            | Self::BasicCimd
            | Self::ScopeFromWwwAuthenticate
            | Self::ScopeFromScopesSupported
            | Self::ScopeOmittedWhenUndefined
            | Self::ScopeStepUp
            | Self::ScopeRetryLimit
            | Self::PreRegistration => "2025-11-25",
            _ => "2026-07-28",
        }
    }

    /// What a passing client does, in a sentence.
    pub fn passing(self) -> &'static str {
        if let Some(situation) = self.without_user() {
            return situation.passing();
        }
        match self {
            Self::MetadataDefault => {
                "fetches PRM at /.well-known/oauth-protected-resource/mcp (never the root form \
                 first), then the AS metadata at RFC 8414, registers, authorizes and exchanges the code"
            }
            Self::MetadataVar1 => {
                "finds PRM by probing the path form (the 401 does not name it), falls back to OIDC \
                 discovery at /.well-known/openid-configuration, then completes the flow"
            }
            Self::MetadataVar2 => {
                "falls back to the root PRM, reads the issuer with a path, fetches \
                 /.well-known/oauth-authorization-server/tenant1 (never the root form) and \
                 completes the flow under /tenant1"
            }
            Self::MetadataVar3 => {
                "follows resource_metadata to the custom PRM path, then finds the issuer's OIDC \
                 metadata at /tenant1/.well-known/openid-configuration and completes the flow"
            }
            Self::BasicCimd => {
                "uses the URL of its client ID metadata document as client_id instead of \
                 registering; the AS fetches the document and it validates"
            }
            Self::ScopeFromWwwAuthenticate => {
                "asks /authorize for the scope the 401 names (mcp:basic)"
            }
            Self::ScopeFromScopesSupported => {
                "with no scope in the 401, asks for every scope PRM lists (mcp:basic mcp:read mcp:write)"
            }
            Self::ScopeOmittedWhenUndefined => {
                "with no scope in the 401, PRM or AS metadata, sends /authorize no scope at all"
            }
            Self::ScopeStepUp => {
                "initializes without a token, authorizes with mcp:basic on the 401, then on the 403 \
                 authorizes again with mcp:write, keeping mcp:basic (SEP-2350)"
            }
            Self::ScopeRetryLimit => {
                "authorizes at most three times against a 403 that never clears, then gives up"
            }
            Self::TokenEndpointAuthBasic => {
                "authenticates at /token with client_secret_basic, the method the AS assigned, and \
                 sends the same valid resource to /authorize and /token"
            }
            Self::TokenEndpointAuthPost => {
                "authenticates at /token with client_secret_post, the method the AS assigned, and \
                 sends the same valid resource to /authorize and /token"
            }
            Self::TokenEndpointAuthNone => {
                "authenticates at /token as a public client (none), as assigned, and sends the \
                 same valid resource to /authorize and /token"
            }
            Self::PreRegistration => {
                "uses the pre-registered client (pre-registered-client / pre-registered-secret, \
                 client_secret_basic) without trying to register"
            }
            Self::OauthMetadataBackcompat => {
                "with no PRM, reads AS metadata on the MCP origin and uses its /oauth/* endpoints"
            }
            Self::OauthEndpointFallback => {
                "with no PRM and no AS metadata, uses /authorize, /token and /register on the MCP origin"
            }
            Self::ResourceMismatch => {
                "refuses PRM whose resource is not the MCP URL it was given: never reaches /authorize"
            }
            Self::OfflineAccessScope => {
                "registers with the refresh_token grant and may ask for offline_access, which the \
                 AS offers"
            }
            Self::OfflineAccessNotSupported => {
                "does not ask for offline_access, which nobody offers"
            }
            Self::AuthorizationServerMigration => {
                "after the resource moves to as2, registers again at as2 and never shows as2 the \
                 client id main issued"
            }
            Self::IssSupported => "checks iss and exchanges the code",
            Self::IssNotAdvertised => "with iss neither advertised nor sent, exchanges the code",
            Self::IssSupportedMissing => {
                "refuses the redirect without iss (advertised): no token request"
            }
            Self::IssWrongIssuer => {
                "refuses the redirect whose iss is another issuer: no token request"
            }
            Self::IssUnexpected => {
                "refuses an iss it was not told to expect that names another issuer: no token request"
            }
            Self::IssNormalized => {
                "compares iss byte for byte: a trailing slash is another issuer, no token request"
            }
            Self::MetadataIssuerMismatch => {
                "refuses AS metadata whose issuer is not the one PRM named: no register, authorize \
                 or token request"
            }
            Self::ClientCredentialsBasic
            | Self::ClientCredentialsJwt
            | Self::WifJwtBearer
            | Self::EnterpriseManagedAuthorization => "",
        }
    }

    /// Whether the client is expected to end with an error (the suite's `allowClientError`).
    pub fn client_errs(self) -> bool {
        matches!(
            self,
            Self::ScopeRetryLimit
                | Self::ResourceMismatch
                | Self::IssSupportedMissing
                | Self::IssWrongIssuer
                | Self::IssUnexpected
                | Self::IssNormalized
                | Self::MetadataIssuerMismatch
        )
    }

    /// The knobs, as the suite's mock servers differ from the rig's defaults.
    fn plan(self) -> Plan {
        let tenant = |metadata: &str| {
            Some((
                issuers::TENANT,
                Place::Path("/tenant1"),
                json!({ "metadata": [metadata] }),
            ))
        };
        let legacy_mcp = json!({
            "prm": [],
            "resource_metadata": false,
            "challenge_scope": "omit",
            "challenge_error": true,
        });
        let endpoint_auth = |method: &str| Plan {
            oauth: Some(json!({
                "auth_methods": [method],
                "assign_auth_method": method,
                "require_resource": true,
            })),
            ..Plan::default()
        };
        let iss = |advertised: Value, sent: &str| Plan {
            oauth: Some(json!({ "iss_parameter_supported": advertised, "iss": sent })),
            ..Plan::default()
        };
        match self {
            Self::MetadataDefault => Plan {
                mcp: Some(json!({ "prm": ["path"] })),
                ..Plan::default()
            },
            Self::MetadataVar1 => Plan {
                oauth: Some(json!({ "metadata": ["oidc-inserted"] })),
                mcp: Some(json!({
                    "prm": ["path"],
                    "resource_metadata": false,
                    "challenge_error": true,
                })),
                ..Plan::default()
            },
            Self::MetadataVar2 => Plan {
                mcp: Some(json!({
                    "prm": ["root"],
                    "prm_root_resource": "origin",
                    "resource_metadata": false,
                })),
                issuer: tenant("oauth"),
                trust: Some(issuers::TENANT),
                ..Plan::default()
            },
            Self::MetadataVar3 => Plan {
                mcp: Some(json!({ "prm": [format!("custom:{CUSTOM_PRM}")] })),
                issuer: tenant("oidc-appended"),
                trust: Some(issuers::TENANT),
                ..Plan::default()
            },
            Self::BasicCimd => Plan {
                oauth: Some(json!({
                    "auth_methods": ["none"],
                    "client_id_metadata_document_supported": true,
                    "client_id_metadata_documents": true,
                })),
                ..Plan::default()
            },
            Self::ScopeFromWwwAuthenticate => Plan {
                oauth: Some(json!({ "scopes": ["mcp:basic"], "scopes_supported": "omit" })),
                mcp: Some(json!({
                    "challenge_scope": ["mcp:basic"],
                    "prm_scopes_supported": "omit",
                    "required_scopes": ["mcp:basic"],
                })),
                ..Plan::default()
            },
            Self::ScopeFromScopesSupported => Plan {
                oauth: Some(json!({
                    "scopes": ["mcp:basic", "mcp:read", "mcp:write"],
                    "scopes_supported": "omit",
                })),
                mcp: Some(json!({
                    "challenge_scope": "omit",
                    "prm_scopes_supported": ["mcp:basic", "mcp:read", "mcp:write"],
                    "required_scopes": [],
                })),
                ..Plan::default()
            },
            Self::ScopeOmittedWhenUndefined => Plan {
                oauth: Some(json!({ "scopes_supported": "omit" })),
                mcp: Some(json!({
                    "challenge_scope": "omit",
                    "prm_scopes_supported": "omit",
                    "required_scopes": [],
                })),
                ..Plan::default()
            },
            Self::ScopeStepUp => Plan {
                oauth: Some(json!({
                    "scopes": ["mcp:basic", "mcp:write", "mcp:profile"],
                    "scopes_supported": "omit",
                })),
                mcp: Some(json!({
                    "unauthenticated": LAZY,
                    "challenge_scope": ["mcp:basic"],
                    "required_scopes": ["mcp:write"],
                    "insufficient_scope": "missing",
                    "prm_scopes_supported": ["mcp:profile"],
                })),
                ..Plan::default()
            },
            Self::ScopeRetryLimit => Plan {
                oauth: Some(json!({ "scopes": ["mcp:admin"], "scopes_supported": "omit" })),
                mcp: Some(json!({
                    "unauthenticated": LAZY,
                    "challenge_scope": ["mcp:admin"],
                    "required_scopes": ["mcp:admin"],
                    "insufficient_scope": "required",
                    "prm_scopes_supported": ["mcp:admin"],
                })),
                mcp_fault: Some(Fault::new(
                    "mcp",
                    Respond::error_described(
                        403,
                        "insufficient_scope",
                        "Scope upgrade will never succeed",
                    ),
                )),
                ..Plan::default()
            },
            Self::TokenEndpointAuthBasic => endpoint_auth("client_secret_basic"),
            Self::TokenEndpointAuthPost => endpoint_auth("client_secret_post"),
            Self::TokenEndpointAuthNone => endpoint_auth("none"),
            Self::PreRegistration => Plan {
                oauth: Some(json!({
                    "registration": false,
                    "auth_methods": ["client_secret_basic"],
                })),
                client: Some(json!({
                    "client_id": PRE_REGISTERED_CLIENT.0,
                    "client_secret": PRE_REGISTERED_CLIENT.1,
                    "auth_method": "client_secret_basic",
                    "redirect_uris": "any-loopback",
                })),
                ..Plan::default()
            },
            Self::OauthMetadataBackcompat => Plan {
                mcp: Some(legacy_mcp),
                issuer: Some((
                    issuers::LEGACY,
                    Place::McpOrigin,
                    json!({ "endpoint_prefix": "/oauth" }),
                )),
                trust: Some(issuers::LEGACY),
                ..Plan::default()
            },
            Self::OauthEndpointFallback => Plan {
                mcp: Some(legacy_mcp),
                issuer: Some((
                    issuers::LEGACY,
                    Place::McpOrigin,
                    json!({ "metadata": [], "iss": "omit", "iss_parameter_supported": "omit" }),
                )),
                trust: Some(issuers::LEGACY),
                ..Plan::default()
            },
            Self::ResourceMismatch => Plan {
                oauth: Some(json!({ "auth_methods": ["none"], "assign_auth_method": "none" })),
                mcp: Some(json!({ "prm": ["path"], "prm_resource": format!("{EVIL}/mcp") })),
                ..Plan::default()
            },
            Self::OfflineAccessScope => Plan {
                oauth: Some(json!({
                    "scopes": ["mcp:basic"],
                    "scopes_supported": ["mcp:basic", "offline_access"],
                    "auth_methods": ["none"],
                    "assign_auth_method": "none",
                    "client_id_metadata_document_supported": true,
                })),
                mcp: Some(json!({
                    "challenge_scope": "omit",
                    "prm_scopes_supported": ["mcp:basic"],
                    "required_scopes": ["mcp:basic"],
                })),
                ..Plan::default()
            },
            Self::OfflineAccessNotSupported => Plan {
                oauth: Some(json!({
                    "scopes": ["mcp:basic", "mcp:read"],
                    "scopes_supported": ["mcp:basic", "mcp:read"],
                })),
                mcp: Some(json!({
                    "challenge_scope": "omit",
                    "prm_scopes_supported": ["mcp:basic", "mcp:read"],
                    "required_scopes": ["mcp:basic"],
                })),
                ..Plan::default()
            },
            Self::AuthorizationServerMigration => Plan {
                mcp: Some(json!({ "unauthenticated": LAZY })),
                issuer: Some((issuers::SECOND, Place::OwnPort, json!({}))),
                migrate: Some((issuers::SECOND, 1)),
                ..Plan::default()
            },
            Self::IssSupported => iss(json!(true), "correct"),
            Self::IssNotAdvertised => iss(json!("omit"), "omit"),
            Self::IssSupportedMissing => iss(json!(true), "omit"),
            Self::IssWrongIssuer => iss(json!(true), "wrong"),
            Self::IssUnexpected => iss(json!("omit"), "wrong"),
            Self::IssNormalized => iss(json!(true), "trailing-slash"),
            Self::MetadataIssuerMismatch => Plan {
                oauth: Some(json!({
                    "metadata_issuer": ATTACKER,
                    "endpoint_prefix": MISMATCHED_PREFIX,
                    "iss": format!("value:{ATTACKER}"),
                })),
                ..Plan::default()
            },
            // Staged by `without_user`, which needs the control calls' answers.
            Self::ClientCredentialsBasic
            | Self::ClientCredentialsJwt
            | Self::WifJwtBearer
            | Self::EnterpriseManagedAuthorization => Plan::default(),
        }
    }

    /// Judges what the client did from the two journals (every event since the situation was
    /// staged): the suite's checks for this scenario, computed from the rig's requests.
    pub fn judge(self, oauth: &[Event], mcp: &[Event]) -> Verdict {
        let seen = Seen { oauth, mcp };
        let mut checks = Vec::new();
        let mut check = |id: &'static str, status: Status, detail: String| {
            checks.push(Check { id, status, detail });
        };
        if let Some(situation) = self.without_user() {
            situation.judge(oauth, &mut check);
            return Verdict {
                scenario: self.suite_name(),
                checks,
            };
        }
        let authorizes = seen.at("/authorize");
        let code_tokens: Vec<&Event> = seen
            .at("/token")
            .into_iter()
            .filter(|event| event.grant_type.as_deref() == Some("authorization_code"))
            .collect();
        let registrations = seen.at("/register");
        let present = |events: &[&Event], what: &str| {
            if events.is_empty() {
                (Status::Failure, format!("no {what}"))
            } else {
                (Status::Success, format!("{} {what}", events.len()))
            }
        };
        let flow = |check: &mut dyn FnMut(&'static str, Status, String)| {
            let (status, detail) = present(&registrations, "registration request");
            check("client-registration", status, detail);
            let (status, detail) = present(&authorizes, "authorization request");
            check("authorization-request", status, detail);
            let (status, detail) = present(&code_tokens, "authorization_code token request");
            check("token-request", status, detail);
        };
        let pkce = |check: &mut dyn FnMut(&'static str, Status, String)| {
            for event in &authorizes {
                let method = event.asked.pkce_method.as_deref().unwrap_or("none");
                let status = if method == "S256" {
                    Status::Success
                } else {
                    Status::Failure
                };
                check(
                    "pkce-s256-method-used",
                    status,
                    format!("code_challenge_method {method}"),
                );
            }
        };
        let metadata_at = |check: &mut dyn FnMut(&'static str, Status, String), path: &str| {
            let fetched = seen.fetched(Service::OAuth, path);
            let status = if fetched {
                Status::Success
            } else {
                Status::Failure
            };
            check(
                "authorization-server-metadata",
                status,
                format!(
                    "GET {path} {}",
                    if fetched {
                        "answered 200"
                    } else {
                        "never made"
                    }
                ),
            );
        };
        let first_scope = |index: usize| -> Option<String> {
            authorizes
                .get(index)
                .map(|event| event.asked.scope.clone().unwrap_or_default())
        };
        let has_scope = |scope: &str, wanted: &str| scope.split(' ').any(|s| s == wanted);
        let no_token_after_authorize = |check: &mut dyn FnMut(&'static str, Status, String),
                                        id: &'static str| {
            let (status, detail) = match (authorizes.is_empty(), code_tokens.is_empty()) {
                (true, _) => (
                    Status::Failure,
                    "the client never reached /authorize".into(),
                ),
                (false, true) => (
                    Status::Success,
                    "reached /authorize, then made no token request".to_owned(),
                ),
                (false, false) => (
                    Status::Failure,
                    format!(
                        "sent the code to /token anyway ({} request(s))",
                        code_tokens.len()
                    ),
                ),
            };
            check(id, status, detail);
        };
        let token_made = |check: &mut dyn FnMut(&'static str, Status, String), id: &'static str| {
            let (status, detail) = if code_tokens.is_empty() {
                (Status::Failure, "no token request".to_owned())
            } else {
                (Status::Success, "exchanged the code".to_owned())
            };
            check(id, status, detail);
        };

        match self {
            Self::MetadataDefault => {
                seen.prm_path_requested(&mut check);
                metadata_at(&mut check, "/.well-known/oauth-authorization-server");
                flow(&mut check);
                if seen.requested(Service::Mcp, "/.well-known/oauth-protected-resource") {
                    check(
                        "prm-priority-order",
                        Status::Failure,
                        "asked for the root PRM, which this layout does not serve".into(),
                    );
                }
            }
            Self::MetadataVar1 => {
                seen.prm_path_requested(&mut check);
                metadata_at(&mut check, "/.well-known/openid-configuration");
                flow(&mut check);
            }
            Self::MetadataVar2 => {
                metadata_at(
                    &mut check,
                    "/.well-known/oauth-authorization-server/tenant1",
                );
                flow(&mut check);
                seen.no_root_metadata(&mut check);
            }
            Self::MetadataVar3 => {
                metadata_at(&mut check, "/tenant1/.well-known/openid-configuration");
                flow(&mut check);
                seen.no_root_metadata(&mut check);
            }
            Self::ScopeFromWwwAuthenticate => match first_scope(0) {
                None => check(
                    "scope-from-www-authenticate",
                    Status::Failure,
                    "no authorization request".into(),
                ),
                Some(scope) if has_scope(&scope, "mcp:basic") => check(
                    "scope-from-www-authenticate",
                    Status::Success,
                    format!("asked for '{scope}'"),
                ),
                Some(scope) => check(
                    "scope-from-www-authenticate",
                    Status::Warning,
                    format!("asked for '{scope}', not the challenge's mcp:basic"),
                ),
            },
            Self::ScopeFromScopesSupported => match first_scope(0) {
                None => check(
                    "scope-from-scopes-supported",
                    Status::Failure,
                    "no authorization request".into(),
                ),
                Some(scope) => {
                    let missing: Vec<&str> = ["mcp:basic", "mcp:read", "mcp:write"]
                        .into_iter()
                        .filter(|wanted| !has_scope(&scope, wanted))
                        .collect();
                    if missing.is_empty() {
                        check(
                            "scope-from-scopes-supported",
                            Status::Success,
                            format!("asked for '{scope}'"),
                        );
                    } else {
                        check(
                            "scope-from-scopes-supported",
                            Status::Warning,
                            format!("asked for '{scope}', missing {}", missing.join(" ")),
                        );
                    }
                }
            },
            Self::ScopeOmittedWhenUndefined => match first_scope(0) {
                None => check(
                    "scope-omitted-when-undefined",
                    Status::Failure,
                    "no authorization request".into(),
                ),
                Some(scope) if scope.trim().is_empty() => check(
                    "scope-omitted-when-undefined",
                    Status::Success,
                    "sent no scope".into(),
                ),
                Some(scope) => check(
                    "scope-omitted-when-undefined",
                    Status::Warning,
                    format!("asked for '{scope}' although nothing names a scope"),
                ),
            },
            Self::ScopeStepUp => {
                match first_scope(0) {
                    Some(scope) if has_scope(&scope, "mcp:basic") => check(
                        "scope-step-up-initial",
                        Status::Success,
                        format!("first authorization asked for '{scope}'"),
                    ),
                    Some(scope) => check(
                        "scope-step-up-initial",
                        Status::Warning,
                        format!("first authorization asked for '{scope}', not mcp:basic"),
                    ),
                    None => check(
                        "scope-step-up-initial",
                        Status::Failure,
                        "no authorization request".into(),
                    ),
                }
                match first_scope(1) {
                    None => check(
                        "scope-step-up-escalation",
                        Status::Failure,
                        "no second authorization request after the 403".into(),
                    ),
                    Some(scope) => {
                        let escalated = has_scope(&scope, "mcp:write");
                        check(
                            "scope-step-up-escalation",
                            if escalated {
                                Status::Success
                            } else {
                                Status::Warning
                            },
                            format!("second authorization asked for '{scope}'"),
                        );
                        let kept = has_scope(&scope, "mcp:basic");
                        check(
                            "sep-2350-scope-union-on-reauth",
                            if kept {
                                Status::Success
                            } else {
                                Status::Warning
                            },
                            if kept {
                                "kept mcp:basic".to_owned()
                            } else {
                                "dropped mcp:basic on re-authorization".to_owned()
                            },
                        );
                    }
                }
            }
            Self::ScopeRetryLimit => {
                let tries = authorizes.len();
                let status = if (1..=3).contains(&tries) {
                    Status::Success
                } else {
                    Status::Failure
                };
                check(
                    "scope-retry-limit",
                    status,
                    format!("{tries} authorization request(s) against a 403 that never clears"),
                );
            }
            Self::TokenEndpointAuthBasic
            | Self::TokenEndpointAuthPost
            | Self::TokenEndpointAuthNone => {
                let wanted = match self {
                    Self::TokenEndpointAuthBasic => "client_secret_basic",
                    Self::TokenEndpointAuthPost => "client_secret_post",
                    _ => "none",
                };
                match code_tokens.first() {
                    None => check(
                        "token-endpoint-auth-method",
                        Status::Failure,
                        "no token request".into(),
                    ),
                    Some(token) => {
                        let used = token.asked.client_auth.as_deref().unwrap_or("none");
                        check(
                            "token-endpoint-auth-method",
                            if used == wanted {
                                Status::Success
                            } else {
                                Status::Failure
                            },
                            format!("authenticated with {used}; the AS assigned {wanted}"),
                        );
                    }
                }
                seen.resource_checks(&authorizes, &code_tokens, &mut check);
            }
            Self::PreRegistration => {
                let (status, detail) = match code_tokens.first() {
                    None => (Status::Failure, "no token request".to_owned()),
                    Some(token) => {
                        let used = token.asked.client_auth.as_deref().unwrap_or("none");
                        let client = token.client_id.as_deref().unwrap_or("");
                        if used == "client_secret_basic"
                            && client == PRE_REGISTERED_CLIENT.0
                            && token.status == 200
                        {
                            (
                                Status::Success,
                                "Basic with the pre-registered credentials".to_owned(),
                            )
                        } else {
                            (
                                Status::Failure,
                                format!(
                                    "authenticated as '{client}' with {used}, answered {}",
                                    token.status
                                ),
                            )
                        }
                    }
                };
                check("pre-registration-auth", status, detail);
            }
            Self::OauthMetadataBackcompat => {
                metadata_at(&mut check, "/.well-known/oauth-authorization-server");
                flow(&mut check);
            }
            Self::OauthEndpointFallback => flow(&mut check),
            Self::BasicCimd => {
                let by_document = authorizes
                    .iter()
                    .find(|event| event.asked.registration.as_deref() == Some("document"));
                let refused = authorizes
                    .iter()
                    .find(|event| event.asked.document.as_deref() == Some("refused"));
                let (status, detail) = match (by_document, refused, authorizes.first()) {
                    (Some(event), _, _) => (
                        Status::Success,
                        format!(
                            "client_id {} is a URL whose document validated",
                            event.client_id.as_deref().unwrap_or_default()
                        ),
                    ),
                    (None, Some(event), _) => (
                        Status::Failure,
                        format!(
                            "client_id {} is a URL whose document was refused: {}",
                            event.client_id.as_deref().unwrap_or_default(),
                            event.note.as_deref().unwrap_or_default()
                        ),
                    ),
                    (None, None, Some(event)) => (
                        Status::Warning,
                        format!(
                            "client_id {} is not a client ID metadata document URL ({})",
                            event.client_id.as_deref().unwrap_or_default(),
                            event
                                .asked
                                .registration
                                .as_deref()
                                .unwrap_or("unknown client")
                        ),
                    ),
                    (None, None, None) => (Status::Failure, "no authorization request".to_owned()),
                };
                check("cimd-client-id-used", status, detail);
            }
            Self::ResourceMismatch => {
                let (status, detail) = if authorizes.is_empty() {
                    (Status::Success, "never reached /authorize".to_owned())
                } else {
                    (
                        Status::Failure,
                        "authorized although PRM names another resource".to_owned(),
                    )
                };
                check("resource-mismatch-rejected", status, detail);
            }
            Self::OfflineAccessScope => {
                // Registered dynamically, the grants are the registration's; by document, the
                // document's, as the AS read them at /authorize.
                let by_document: Vec<&Event> = authorizes
                    .iter()
                    .copied()
                    .filter(|event| event.asked.registration.as_deref() == Some("document"))
                    .collect();
                let (path, declared) = if registrations.is_empty() {
                    ("document", &by_document)
                } else {
                    ("registration", &registrations)
                };
                let asked_refresh = declared.iter().any(|event| {
                    event
                        .asked
                        .grant_types
                        .iter()
                        .flatten()
                        .any(|grant| grant == "refresh_token")
                });
                let (status, detail) = match (declared.is_empty(), asked_refresh) {
                    (true, _) => (
                        Status::Info,
                        "no registration request and no client ID metadata document".to_owned(),
                    ),
                    (false, true) => (
                        Status::Success,
                        format!("{path} lists the refresh_token grant"),
                    ),
                    (false, false) => (
                        Status::Warning,
                        format!("{path} does not list the refresh_token grant"),
                    ),
                };
                check("sep-2207-client-metadata-grant-types", status, detail);
                match first_scope(0) {
                    None => check(
                        "sep-2207-offline-access-requested",
                        Status::Failure,
                        "no authorization request".into(),
                    ),
                    Some(scope) => check(
                        "sep-2207-offline-access-requested",
                        if has_scope(&scope, "offline_access") {
                            Status::Success
                        } else {
                            Status::Info
                        },
                        format!("asked for '{scope}'"),
                    ),
                }
            }
            Self::OfflineAccessNotSupported => {
                let (status, detail) = match first_scope(0) {
                    None => (Status::Failure, "no authorization request".to_owned()),
                    Some(scope) if has_scope(&scope, "offline_access") => (
                        Status::Failure,
                        format!("asked for '{scope}', offline_access included"),
                    ),
                    Some(scope) => (Status::Success, format!("asked for '{scope}'")),
                };
                check("sep-2207-offline-access-not-requested", status, detail);
            }
            Self::AuthorizationServerMigration => {
                let second = |event: &&Event| event.issuer.as_deref() == Some(issuers::SECOND);
                let registered_again = registrations.iter().any(second);
                check(
                    "sep-2352-reregister-on-as-change",
                    if registered_again {
                        Status::Success
                    } else {
                        Status::Failure
                    },
                    if registered_again {
                        "registered at as2".to_owned()
                    } else {
                        "never registered at as2".to_owned()
                    },
                );
                let main_clients: Vec<&str> = registrations
                    .iter()
                    .filter(|event| !second(event))
                    .filter_map(|event| event.client_id.as_deref())
                    .collect();
                let leaked: Vec<&Event> = seen
                    .oauth
                    .iter()
                    .filter(|event| second(event))
                    .filter(|event| {
                        event
                            .client_id
                            .as_deref()
                            .is_some_and(|id| main_clients.contains(&id))
                            || event
                                .note
                                .as_deref()
                                .is_some_and(|note| note.contains("client of issuer"))
                    })
                    .collect();
                for id in [
                    "sep-2352-no-reuse-on-as-change",
                    "sep-2352-no-cross-as-credential-reuse",
                ] {
                    check(
                        id,
                        if leaked.is_empty() {
                            Status::Success
                        } else {
                            Status::Failure
                        },
                        if leaked.is_empty() {
                            "as2 never saw a client id main issued".to_owned()
                        } else {
                            format!(
                                "as2 saw main's client id at {}",
                                leaked
                                    .iter()
                                    .map(|event| event.path.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        },
                    );
                }
            }
            Self::IssSupported => token_made(&mut check, "sep-2468-client-compare-iss-supported"),
            Self::IssNotAdvertised => token_made(&mut check, "sep-2468-client-proceed-no-iss"),
            Self::IssSupportedMissing => {
                no_token_after_authorize(&mut check, "sep-2468-client-reject-missing-iss");
            }
            Self::IssWrongIssuer => {
                no_token_after_authorize(&mut check, "sep-2468-client-compare-iss-supported");
            }
            Self::IssUnexpected => {
                no_token_after_authorize(&mut check, "sep-2468-client-compare-iss-unadvertised");
            }
            Self::IssNormalized => {
                no_token_after_authorize(&mut check, "sep-2468-client-no-normalization");
            }
            Self::MetadataIssuerMismatch => {
                let fetched =
                    seen.fetched(Service::OAuth, "/.well-known/oauth-authorization-server");
                let used: Vec<&str> = seen
                    .oauth
                    .iter()
                    .filter(|event| {
                        ["/register", "/authorize", "/token"]
                            .iter()
                            .any(|endpoint| event.path.ends_with(endpoint))
                    })
                    .map(|event| event.path.as_str())
                    .collect();
                let (status, detail) = match (fetched, used.is_empty()) {
                    (false, _) => (Status::Failure, "never fetched the AS metadata".to_owned()),
                    (true, true) => (
                        Status::Success,
                        "fetched the metadata and used none of its endpoints".to_owned(),
                    ),
                    (true, false) => (
                        Status::Failure,
                        format!("used the poisoned metadata: {}", used.join(", ")),
                    ),
                };
                check("sep-2468-client-validate-metadata-issuer", status, detail);
            }
            // Judged by `without_user`, above.
            Self::ClientCredentialsBasic
            | Self::ClientCredentialsJwt
            | Self::WifJwtBearer
            | Self::EnterpriseManagedAuthorization => {}
        }
        if !matches!(
            self,
            Self::ResourceMismatch | Self::MetadataIssuerMismatch | Self::OauthEndpointFallback
        ) {
            pkce(&mut check);
        }
        Verdict {
            scenario: self.suite_name(),
            checks,
        }
    }
}

/// The journals of one run, read the way the suite reads its mock servers' logs.
struct Seen<'a> {
    oauth: &'a [Event],
    mcp: &'a [Event],
}

impl Seen<'_> {
    fn events(&self, service: Service) -> &[Event] {
        match service {
            Service::OAuth => self.oauth,
            Service::Mcp => self.mcp,
        }
    }

    /// The AS requests to an endpoint, wherever an issuer or a prefix put it.
    fn at(&self, endpoint: &str) -> Vec<&Event> {
        self.oauth
            .iter()
            .filter(|event| event.path.ends_with(endpoint) && !event.path.contains("/.well-known/"))
            .collect()
    }

    fn requested(&self, service: Service, path: &str) -> bool {
        self.events(service)
            .iter()
            .any(|event| event.method == "GET" && event.path == path)
    }

    fn fetched(&self, service: Service, path: &str) -> bool {
        self.events(service)
            .iter()
            .any(|event| event.method == "GET" && event.path == path && event.status == 200)
    }

    fn prm_path_requested(&self, check: &mut dyn FnMut(&'static str, Status, String)) {
        let path = "/.well-known/oauth-protected-resource/mcp";
        let fetched = self.fetched(Service::Mcp, path);
        check(
            "prm-pathbased-requested",
            if fetched {
                Status::Success
            } else {
                Status::Failure
            },
            format!(
                "GET {path} {}",
                if fetched {
                    "answered 200"
                } else {
                    "never made"
                }
            ),
        );
    }

    /// For an issuer with a path, the root RFC 8414 form is the wrong place to look.
    fn no_root_metadata(&self, check: &mut dyn FnMut(&'static str, Status, String)) {
        if self.requested(Service::OAuth, "/.well-known/oauth-authorization-server") {
            check(
                "authorization-server-metadata-wrong-path",
                Status::Failure,
                "asked the root /.well-known/oauth-authorization-server for an issuer with a path"
                    .into(),
            );
        }
    }

    /// RFC 8707 on both requests, the same valid URI on each.
    fn resource_checks(
        &self,
        authorizes: &[&Event],
        tokens: &[&Event],
        check: &mut dyn FnMut(&'static str, Status, String),
    ) {
        let first = |events: &[&Event]| {
            events
                .first()
                .and_then(|event| event.asked.resource.clone())
                .unwrap_or_default()
        };
        let (at_authorize, at_token) = (first(authorizes), first(tokens));
        for (id, resources) in [
            ("resource-parameter-in-authorization", &at_authorize),
            ("resource-parameter-in-token", &at_token),
        ] {
            check(
                id,
                if resources.is_empty() {
                    Status::Failure
                } else {
                    Status::Success
                },
                if resources.is_empty() {
                    "no resource".to_owned()
                } else {
                    format!("resource {}", resources.join(" "))
                },
            );
        }
        let valid = at_authorize
            .iter()
            .chain(&at_token)
            .all(|resource| url::Url::parse(resource).is_ok_and(|url| url.fragment().is_none()));
        check(
            "resource-parameter-valid-uri",
            if valid {
                Status::Success
            } else {
                Status::Failure
            },
            if valid {
                "absolute URIs without a fragment".to_owned()
            } else {
                "a resource is not an absolute URI without a fragment".to_owned()
            },
        );
        let consistent = at_authorize == at_token;
        check(
            "resource-parameter-consistency",
            if consistent {
                Status::Success
            } else {
                Status::Failure
            },
            if consistent {
                "the same on /authorize and /token".to_owned()
            } else {
                format!("/authorize had {:?}, /token {:?}", at_authorize, at_token)
            },
        );
    }
}

impl Control {
    /// Puts the rig in `situation`: a reset of both servers, then the knobs it needs. Answers
    /// the suite's context: what the client under test is to be given (the pre-registered
    /// client's credentials, a private key, assertions, an ID token); empty when nothing.
    pub async fn stage(&self, situation: Situation) -> Result<Context, ControlError> {
        let plan = situation.plan();
        self.reset().await?;
        if let Some(without_user) = situation.without_user() {
            return without_user.stage(self).await;
        }
        if let Some((name, place, profile)) = &plan.issuer {
            let mut body = json!({ "name": name, "profile": profile });
            match place {
                Place::Path(path) => body["path"] = json!(path),
                Place::OwnPort => body["port"] = json!(0),
                Place::McpOrigin => body["port"] = json!(self.mcp_port()?),
            }
            self.host_issuer(body).await?;
        }
        if let Some(patch) = &plan.oauth {
            self.oauth_profile(patch.clone()).await?;
        }
        if let Some(patch) = &plan.mcp {
            self.mcp_profile(patch.clone()).await?;
        }
        if let Some(client) = &plan.client {
            self.add_client(client.clone()).await?;
        }
        if let Some(name) = plan.trust {
            self.trust_issuers(&[name]).await?;
        }
        if let Some((name, after)) = plan.migrate {
            self.migrate(&[name], after).await?;
        }
        if let Some(fault) = &plan.mcp_fault {
            self.add_fault(Service::Mcp, fault).await?;
        }
        let mut context = Context::new();
        if situation == Situation::PreRegistration {
            let (id, secret) = PRE_REGISTERED_CLIENT;
            context.insert("client_id".into(), json!(id));
            context.insert("client_secret".into(), json!(secret));
        }
        Ok(context)
    }

    /// Judges what the client did since [`Control::stage`] (the reset emptied the journals).
    pub async fn judge(&self, situation: Situation) -> Result<Verdict, ControlError> {
        let (oauth, mcp) = tokio::try_join!(
            self.drain_events(Service::OAuth, 0),
            self.drain_events(Service::Mcp, 0)
        )?;
        Ok(situation.judge(&oauth, &mcp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_http::journal::Asked;

    fn oauth(method: &str, path: &str, status: u16) -> Event {
        Event {
            service: "oauth".into(),
            issuer: Some("main".into()),
            method: method.into(),
            path: path.into(),
            status,
            ..Event::default()
        }
    }

    fn authorize(scope: Option<&str>) -> Event {
        Event {
            asked: Asked {
                scope: scope.map(str::to_owned),
                pkce_method: Some("S256".into()),
                state: Some(true),
                ..Asked::default()
            },
            ..oauth("GET", "/authorize", 302)
        }
    }

    fn code_token() -> Event {
        Event {
            grant_type: Some("authorization_code".into()),
            ..oauth("POST", "/token", 200)
        }
    }

    fn statuses(verdict: &Verdict) -> Vec<(&'static str, Status)> {
        verdict
            .checks
            .iter()
            .map(|check| (check.id, check.status))
            .collect()
    }

    #[test]
    fn every_situation_is_named_once_and_parses_with_or_without_the_prefix() {
        for situation in Situation::ALL {
            assert_eq!(Situation::parse(situation.name()), Some(situation));
            assert_eq!(Situation::parse(&situation.suite_name()), Some(situation));
            use clap::ValueEnum;
            let clap_name = situation.to_possible_value().unwrap();
            assert_eq!(clap_name.get_name(), situation.name());
        }
        assert_eq!(
            Situation::parse("auth/dpop"),
            None,
            "an extension the rig does not stage"
        );
    }

    /// An `/authorize` of a client the AS knows in `registration`'s way, with `grants`.
    fn authorize_as(client_id: &str, registration: &str, grants: &[&str]) -> Event {
        let mut event = authorize(None);
        event.client_id = Some(client_id.into());
        event.asked.registration = Some(registration.into());
        event.asked.document = (registration == "document").then(|| "fetched".into());
        event.asked.grant_types = (registration == "document")
            .then(|| grants.iter().map(|grant| grant.to_string()).collect());
        event
    }

    #[test]
    fn basic_cimd_wants_a_client_id_whose_document_validated() {
        let url = "https://app.example/client.json";
        let by_document = Situation::BasicCimd.judge(&[authorize_as(url, "document", &[])], &[]);
        let registered = Situation::BasicCimd.judge(&[authorize_as("abc", "dynamic", &[])], &[]);
        let mut refused = oauth("GET", "/authorize", 400);
        refused.client_id = Some(url.into());
        refused.asked.document = Some("refused".into());
        refused.note = Some("the document has no redirect_uris".into());
        let refused = Situation::BasicCimd.judge(&[refused], &[]);
        let never = Situation::BasicCimd.judge(&[], &[]);

        let cimd = |verdict: &Verdict| statuses(verdict)[0];
        assert_eq!(cimd(&by_document), ("cimd-client-id-used", Status::Success));
        assert!(by_document.passed(), "{by_document}");
        assert_eq!(cimd(&registered), ("cimd-client-id-used", Status::Warning));
        assert!(
            registered.checks[0].detail.contains("dynamic"),
            "{registered}"
        );
        assert_eq!(cimd(&refused), ("cimd-client-id-used", Status::Failure));
        assert!(
            refused.checks[0].detail.contains("no redirect_uris"),
            "{refused}"
        );
        assert_eq!(cimd(&never), ("cimd-client-id-used", Status::Failure));
    }

    #[test]
    fn offline_access_reads_the_grants_of_a_document_when_nothing_registered() {
        let url = "https://app.example/client.json";
        let grants = |grants: &[&str]| {
            let verdict =
                Situation::OfflineAccessScope.judge(&[authorize_as(url, "document", grants)], &[]);
            verdict.checks[0].clone()
        };
        let both = grants(&["authorization_code", "refresh_token"]);
        let code_only = grants(&["authorization_code"]);

        assert_eq!(both.id, "sep-2207-client-metadata-grant-types");
        assert_eq!(both.status, Status::Success, "{}", both.detail);
        assert!(both.detail.starts_with("document"), "{}", both.detail);
        assert_eq!(code_only.status, Status::Warning, "{}", code_only.detail);
    }

    #[test]
    fn a_reject_scenario_passes_only_when_authorize_is_not_followed_by_a_token_request() {
        let situation = Situation::IssWrongIssuer;
        let refused = situation.judge(&[authorize(None)], &[]);
        let sent_anyway = situation.judge(&[authorize(None), code_token()], &[]);
        let never_tried = situation.judge(&[], &[]);

        assert!(refused.passed(), "{refused}");
        assert!(!sent_anyway.passed());
        assert!(
            sent_anyway.problems()[0].contains("sent the code to /token anyway"),
            "{sent_anyway}"
        );
        assert!(!never_tried.passed());
    }

    #[test]
    fn step_up_warns_when_the_second_authorization_drops_the_first_scope() {
        let kept = Situation::ScopeStepUp.judge(
            &[
                authorize(Some("mcp:basic")),
                authorize(Some("mcp:basic mcp:write")),
            ],
            &[],
        );
        let dropped = Situation::ScopeStepUp.judge(
            &[authorize(Some("mcp:basic")), authorize(Some("mcp:write"))],
            &[],
        );

        assert!(kept.passed(), "{kept}");
        assert!(
            statuses(&dropped).contains(&("sep-2350-scope-union-on-reauth", Status::Warning)),
            "{dropped}"
        );
        assert!(!dropped.passed());
    }

    #[test]
    fn a_plain_challenge_fails_pkce() {
        let mut plain = authorize(None);
        plain.asked.pkce_method = Some("plain".into());
        let verdict = Situation::IssSupported.judge(&[plain, code_token()], &[]);
        assert!(
            statuses(&verdict).contains(&("pkce-s256-method-used", Status::Failure)),
            "{verdict}"
        );
    }

    #[test]
    fn the_default_layout_fails_a_client_that_asks_for_the_root_prm() {
        let mcp = |path: &str, status| Event {
            service: "mcp".into(),
            method: "GET".into(),
            path: path.into(),
            status,
            ..Event::default()
        };
        let flow = [
            oauth("GET", "/.well-known/oauth-authorization-server", 200),
            Event {
                client_id: Some("c1".into()),
                ..oauth("POST", "/register", 201)
            },
            authorize(Some("mcp:tools")),
            code_token(),
        ];
        let good = [mcp("/.well-known/oauth-protected-resource/mcp", 200)];
        let root_first = [
            mcp("/.well-known/oauth-protected-resource", 404),
            mcp("/.well-known/oauth-protected-resource/mcp", 200),
        ];

        assert!(Situation::MetadataDefault.judge(&flow, &good).passed());
        let verdict = Situation::MetadataDefault.judge(&flow, &root_first);
        assert!(
            statuses(&verdict).contains(&("prm-priority-order", Status::Failure)),
            "{verdict}"
        );
    }

    #[test]
    fn migration_flags_a_client_id_of_main_seen_at_the_second_issuer() {
        let registered = Event {
            client_id: Some("main-client".into()),
            ..oauth("POST", "/register", 201)
        };
        let leaked = Event {
            issuer: Some(issuers::SECOND.into()),
            client_id: Some("main-client".into()),
            ..oauth("GET", "/authorize", 400)
        };
        let verdict = Situation::AuthorizationServerMigration.judge(&[registered, leaked], &[]);
        let statuses = statuses(&verdict);
        assert!(statuses.contains(&("sep-2352-reregister-on-as-change", Status::Failure)));
        assert!(statuses.contains(&("sep-2352-no-cross-as-credential-reuse", Status::Failure)));
    }

    #[test]
    fn token_endpoint_auth_needs_the_assigned_method_and_a_consistent_resource() {
        let resource = |value: &str| Some(vec![value.to_owned()]);
        let mut asked = authorize(None);
        asked.asked.resource = resource("http://localhost:9101/mcp");
        let mut token = code_token();
        token.asked.client_auth = Some("client_secret_post".into());
        token.asked.resource = resource("http://localhost:9101/mcp#x");

        let verdict = Situation::TokenEndpointAuthBasic.judge(&[asked, token], &[]);

        let statuses = statuses(&verdict);
        assert!(statuses.contains(&("token-endpoint-auth-method", Status::Failure)));
        assert!(statuses.contains(&("resource-parameter-in-authorization", Status::Success)));
        assert!(statuses.contains(&("resource-parameter-valid-uri", Status::Failure)));
        assert!(statuses.contains(&("resource-parameter-consistency", Status::Failure)));
    }
}
