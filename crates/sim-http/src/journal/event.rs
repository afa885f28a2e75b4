//! One journal entry: what a request did, as the servers record it and the control client reads
//! it back.

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime};

use http::Method;
use serde::{Deserialize, Serialize};

use crate::Response;
use crate::faults::DropConnection;
use crate::log::{short_grant, short_id};

/// One request, as the journal records it: the wire type of `/control/events`, written by the
/// servers and read back by the control client (`mcp_oauth_sim::Event` is this type). Every
/// field is optional when read (`serde(default)`), so a client and a rig of different versions
/// still agree.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Event {
    /// Its number in the server's journal (each server numbers its own from 1).
    pub seq: u64,
    /// Wall-clock time the request finished, RFC 3339 in UTC with microseconds.
    pub at: String,
    /// `oauth` or `mcp`. Borrowed when a server records it, owned when a client reads it.
    pub service: Cow<'static, str>,
    /// The authorization server's issuer the request was for, by name (`main`, …); absent on
    /// the MCP server and for requests that reached no issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The HTTP method.
    pub method: String,
    /// The request path, without the query, cut at [`MAX_PATH`] characters.
    pub path: String,
    /// The status answered; 0 for a connection dropped by a fault rule.
    pub status: u16,
    /// Time to answer, in milliseconds.
    pub ms: f64,
    /// The client: the registered client the request named on the authorization server, the
    /// token's client on the MCP server.
    pub client_id: Option<String>,
    /// The grant of a token request: `authorization_code`, `refresh_token` or `other`.
    pub grant_type: Option<String>,
    /// The JSON-RPC method of an MCP request.
    pub rpc_method: Option<String>,
    /// The tool named by a `tools/call`.
    pub tool: Option<String>,
    /// The id of the fault rule that fired on this request.
    pub fault: Option<u64>,
    /// The OAuth or RFC 6750 error code answered, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The resource owner a token stood for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The credential the request presented (refresh token, code, bearer), redacted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presented: Option<String>,
    /// The refresh token (or else access token) the answer issued, redacted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued: Option<String>,
    /// Anything else the server noted, e.g. `consent narrowed`, `inactive`, or a fault rule's
    /// `delayed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What the request asked for, as a tester judging a client needs it (the conformance
    /// suite's checks read these).
    #[serde(flatten)]
    pub asked: Asked,
}

/// What a request asked for, beyond who and which grant: the parameters by which a client is
/// judged. A field is absent when the request did not carry it (or it does not apply); none
/// holds a secret.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Asked {
    /// `scope` as sent to `/authorize`, `/token` or `/register`; `""` when sent empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The RFC 8707 `resource` values sent to `/authorize` or `/token`, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<Vec<String>>,
    /// `/authorize`: the `code_challenge_method` (`S256`, `plain`, …), or `none` when no
    /// `code_challenge` came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pkce_method: Option<String>,
    /// `/authorize`: whether a `state` came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<bool>,
    /// `/authorize`: the `iss` the redirect carried back (RFC 9207); absent when it carried none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// `/token`, `/revoke`: how the client authenticated, whatever it was registered with
    /// (`none`, `client_secret_basic`, `client_secret_post`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_auth: Option<String>,
    /// `/register`: the `grant_types` asked for, as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<String>>,
    /// `/register`: the `application_type` (SEP-837: `native` or `web`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_type: Option<String>,
    /// `/register`: the `token_endpoint_auth_method` asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    /// `/register`: the `redirect_uris`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uris: Option<Vec<String>>,
    /// `/authorize`, `/token`, `/revoke`: how the issuer knows the client (`dynamic`,
    /// `pre-registered`, `document`), when it knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration: Option<String>,
    /// The `client_name` the client registered or its metadata document declares.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// A client ID metadata document the request needed: `fetched` (now), `cached` (reused) or
    /// `refused` (the reason is the event's `note`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    /// The MCP server: the scheme of the `Authorization` header (`Bearer`, `DPoP`, …), absent
    /// when there was none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_scheme: Option<String>,
    /// `/token`, `/revoke`: the claims of a `private_key_jwt` client assertion that could be
    /// read (never the assertion itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_assertion: Option<Assertion>,
    /// `/token`: the claims of the jwt-bearer grant's `assertion`, or of the `subject_token` a
    /// token exchange presented.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assertion: Option<Assertion>,
}

/// What the journal keeps of a JWT a client presented: who issued it, for whom, its id and
/// type, enough to tell one assertion from another without the credential itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Assertion {
    /// Its `iss` claim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Its `sub` claim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Its `aud` claim, a list even when it was one string.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aud: Vec<String>,
    /// Its `jti` claim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The header's `typ` (`oauth-id-jag+jwt` for an ID-JAG).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// Seconds from the request to its `exp`, negative once expired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
}

impl fmt::Display for Event {
    /// One line, like the request log:
    /// `[oauth] #12 POST /token 200 grant=refresh_token client=abcd1234 presented=k3Jf2a… fault=3 0.4ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] #{} {} {} {}",
            self.service, self.seq, self.method, self.path, self.status
        )?;
        let client = self.client_id.as_deref().map(short_id);
        let fault = self.fault.map(|id| id.to_string());
        // Who signed the assertion a token request presented (its claims are in the JSON).
        let assertion = self
            .asked
            .assertion
            .as_ref()
            .and_then(|seen| seen.iss.as_deref());
        for (key, value) in [
            (
                "issuer",
                self.issuer.as_deref().filter(|name| *name != "main"),
            ),
            ("grant", self.grant_type.as_deref().map(short_grant)),
            ("client", client.as_deref()),
            ("rpc", self.rpc_method.as_deref()),
            ("tool", self.tool.as_deref()),
            ("sub", self.subject.as_deref()),
            ("error", self.error.as_deref()),
            ("presented", self.presented.as_deref()),
            ("issued", self.issued.as_deref()),
            ("fault", fault.as_deref()),
            ("scope", self.asked.scope.as_deref()),
            ("auth", self.asked.client_auth.as_deref()),
            ("assertion", assertion),
            ("note", self.note.as_deref()),
        ] {
            if let Some(value) = value.filter(|value| !value.is_empty()) {
                write!(f, " {key}={value}")?;
            }
        }
        write!(f, " {:.1}ms", self.ms)
    }
}

/// The longest path an event keeps: paths come from clients.
pub const MAX_PATH: usize = 256;

/// Whether a request goes into the journal: every one but the reads of the control plane
/// (polling the journal must not fill it) and CORS preflights.
pub fn records(method: &Method, path: &str) -> bool {
    let control_read = (*method == Method::GET || *method == Method::HEAD)
        && (path == "/control" || path.starts_with("/control/"));
    !control_read && *method != Method::OPTIONS
}

impl Event {
    /// The event of a request answered with `response` after `elapsed`, for the server to add
    /// what it learned. The path is cut at [`MAX_PATH`] characters, the time rounded to
    /// hundredths of a millisecond, and a dropped connection, which answered nothing, has
    /// status 0.
    pub fn answered(
        service: &'static str,
        method: &Method,
        mut path: String,
        response: &Response,
        elapsed: Duration,
    ) -> Self {
        if let Some((cut, _)) = path.char_indices().nth(MAX_PATH) {
            path.truncate(cut);
            path.push('…');
        }
        let dropped = response.extensions().get::<DropConnection>().is_some();
        Self {
            service: Cow::Borrowed(service),
            method: method.to_string(),
            path,
            status: if dropped {
                0
            } else {
                response.status().as_u16()
            },
            ms: (elapsed.as_secs_f64() * 100_000.0).round() / 100.0,
            ..Self::default()
        }
    }
}

/// `2026-11-22T04:31:02.123456Z`: microseconds, so that events of the two servers merged by
/// time keep their order even when they are less than a millisecond apart (a call's answer and
/// the refresh the client sends right after it).
pub(super) fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_micros(time).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_names_a_urn_grant_by_its_last_part_and_who_signed_its_assertion() {
        let event = Event {
            service: "oauth".into(),
            seq: 4,
            method: "POST".into(),
            path: "/token".into(),
            status: 200,
            grant_type: Some("urn:ietf:params:oauth:grant-type:jwt-bearer".into()),
            asked: Asked {
                assertion: Some(Assertion {
                    iss: Some("https://idp.example".into()),
                    jti: Some("j1".into()),
                    ..Assertion::default()
                }),
                ..Asked::default()
            },
            ..Event::default()
        };
        assert_eq!(
            event.to_string(),
            "[oauth] #4 POST /token 200 grant=jwt-bearer assertion=https://idp.example 0.0ms"
        );
        // The JSON keeps the grant's full name and the assertion's claims.
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(
            json["grant_type"],
            "urn:ietf:params:oauth:grant-type:jwt-bearer"
        );
        assert_eq!(json["assertion"]["jti"], "j1");
    }
}
