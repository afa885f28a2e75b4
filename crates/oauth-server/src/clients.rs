//! Pre-registered clients: clients an issuer knows without dynamic registration, as a
//! conformance run or a client configured with a fixed id and secret expects (`auth/pre-registration`,
//! the AS `authorization-code-grant` scenario).
//!
//! Those of the start-up configuration come back after every reset; those added through
//! `POST /control/clients` are forgotten by one. None is ever evicted to make room for a
//! registration, so an issuer holds at most [`MAX_PRE_REGISTERED`].

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use sim_http::secret::redact;

use crate::redirect_uri::check_registrable;
use crate::store::{AuthMethod, Client, ClientKind, GrantType};

/// Pre-registered clients one issuer holds at most: they are never evicted.
pub const MAX_PRE_REGISTERED: usize = 256;

/// Redirect URIs one pre-registered client lists at most.
const MAX_REDIRECT_URIS: usize = 16;

/// A client the issuer knows from its configuration, not from `/register`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreRegistered {
    /// Its id: 1 to 255 visible ASCII characters.
    pub client_id: String,
    /// Its secret, required exactly when `auth_method` is not `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// How it authenticates at the token endpoint.
    pub auth_method: AuthMethod,
    /// Where `/authorize` may send it back.
    pub redirect_uris: RedirectUris,
    /// The grants it may use; `authorization_code` is required.
    #[serde(default = "both_grants")]
    pub grant_types: Vec<GrantType>,
    /// A name to show, as `client_name` of a registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
}

fn both_grants() -> Vec<GrantType> {
    GrantType::ALL.to_vec()
}

/// The redirect URIs of a pre-registered client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedirectUris {
    /// These, matched as registered ones are (exactly, any port on loopback).
    List(Vec<String>),
    /// `"any-loopback"`: any `http://127.0.0.1|localhost|[::1]:<port>/<path>`, as a native
    /// client configured before it knows its port needs.
    AnyLoopback,
}

const ANY_LOOPBACK: &str = "any-loopback";

impl Serialize for RedirectUris {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::List(uris) => uris.serialize(serializer),
            Self::AnyLoopback => serializer.serialize_str(ANY_LOOPBACK),
        }
    }
}

impl<'de> Deserialize<'de> for RedirectUris {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(any) if any == ANY_LOOPBACK => Ok(Self::AnyLoopback),
            Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(uri) => Ok(uri),
                    _ => Err(D::Error::custom(
                        "redirect_uris: every URI must be a string",
                    )),
                })
                .collect::<Result<_, _>>()
                .map(Self::List),
            _ => Err(D::Error::custom(
                "redirect_uris must be a list of URIs or \"any-loopback\"",
            )),
        }
    }
}

impl PreRegistered {
    /// Checks every field; the error names the client and the field.
    pub fn validate(&self) -> Result<(), String> {
        let id = &self.client_id;
        if !(1..=255).contains(&id.len()) || !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!(
                "client_id '{id}' must be 1 to 255 visible ASCII characters"
            ));
        }
        let named = |what: String| format!("client '{id}': {what}");
        match (&self.client_secret, self.auth_method) {
            (Some(_), AuthMethod::None) => {
                return Err(named(
                    "client_secret: a client with auth_method none has no secret".into(),
                ));
            }
            (None, method) if method != AuthMethod::None => {
                return Err(named(format!(
                    "client_secret is required with auth_method {}",
                    method.as_str()
                )));
            }
            (Some(secret), _) if !(1..=512).contains(&secret.len()) => {
                return Err(named("client_secret must be 1 to 512 characters".into()));
            }
            _ => {}
        }
        if let RedirectUris::List(uris) = &self.redirect_uris {
            if uris.is_empty() || uris.len() > MAX_REDIRECT_URIS {
                return Err(named(format!(
                    "redirect_uris must list 1 to {MAX_REDIRECT_URIS} URIs, or be \"any-loopback\""
                )));
            }
            for uri in uris {
                check_registrable(uri).map_err(|why| named(format!("redirect_uris: {why}")))?;
            }
        }
        if !self.grant_types.contains(&GrantType::AuthorizationCode) {
            return Err(named(
                "grant_types must include authorization_code: it is the only way to obtain \
                 tokens here"
                    .into(),
            ));
        }
        if self
            .client_name
            .as_ref()
            .is_some_and(|name| name.len() > 256)
        {
            return Err(named("client_name must be at most 256 characters".into()));
        }
        Ok(())
    }

    /// As the state and `GET /control/clients` list it: the secret redacted.
    pub fn redacted(&self) -> Self {
        Self {
            client_secret: self.client_secret.as_deref().map(redact),
            ..self.clone()
        }
    }

    /// The store's client, pinned so that it is never evicted.
    pub(crate) fn client(&self) -> Arc<Client> {
        let (redirect_uris, any_loopback) = match &self.redirect_uris {
            RedirectUris::List(uris) => (uris.clone(), false),
            RedirectUris::AnyLoopback => (Vec::new(), true),
        };
        let grant_types = self.grant_types.clone();
        let mut registration = Map::new();
        registration.insert("client_id".into(), Value::from(self.client_id.clone()));
        registration.insert(
            "token_endpoint_auth_method".into(),
            Value::from(self.auth_method.as_str()),
        );
        let grant_names: Vec<&str> = grant_types.iter().map(|grant| grant.as_str()).collect();
        registration.insert("grant_types".into(), Value::from(grant_names));
        registration.insert("redirect_uris".into(), Value::from(redirect_uris.clone()));
        if let Some(name) = &self.client_name {
            registration.insert("client_name".into(), Value::from(name.clone()));
        }
        Arc::new(Client {
            id: self.client_id.clone(),
            secret: self.client_secret.clone(),
            auth_method: self.auth_method,
            redirect_uris,
            any_loopback,
            kind: ClientKind::PreRegistered,
            grant_types,
            registration,
            last_used: AtomicU64::new(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parsed(value: Value) -> PreRegistered {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_json_shape_reads_with_both_grants_by_default() {
        let client = parsed(json!({
            "client_id": "pre-registered-client",
            "client_secret": "pre-registered-secret",
            "auth_method": "client_secret_basic",
            "redirect_uris": "any-loopback",
        }));
        assert_eq!(client.redirect_uris, RedirectUris::AnyLoopback);
        assert_eq!(client.grant_types, GrantType::ALL.to_vec());
        assert!(client.validate().is_ok());
        assert_eq!(
            serde_json::to_value(&client).unwrap()["redirect_uris"],
            json!("any-loopback")
        );
    }

    #[test]
    fn a_secret_is_required_exactly_for_the_secret_methods() {
        let base = json!({"client_id": "c", "auth_method": "client_secret_post",
                          "redirect_uris": ["http://127.0.0.1/cb"]});
        assert!(
            parsed(base.clone())
                .validate()
                .unwrap_err()
                .contains("client_secret")
        );
        let mut public = base;
        public["auth_method"] = json!("none");
        public["client_secret"] = json!("s");
        assert!(
            parsed(public)
                .validate()
                .unwrap_err()
                .contains("client_secret")
        );
    }

    #[test]
    fn bad_redirect_uris_and_ids_are_refused() {
        for bad in [
            json!({"client_id": "c", "auth_method": "none", "redirect_uris": []}),
            json!({"client_id": "c", "auth_method": "none", "redirect_uris": ["http://example.com/cb"]}),
            json!({"client_id": "a b", "auth_method": "none", "redirect_uris": "any-loopback"}),
            json!({"client_id": "c", "auth_method": "none", "redirect_uris": "any-loopback",
                   "grant_types": ["refresh_token"]}),
        ] {
            assert!(parsed(bad.clone()).validate().is_err(), "{bad}");
        }
        assert!(
            serde_json::from_value::<PreRegistered>(json!({
                "client_id": "c", "auth_method": "none", "redirect_uris": "anywhere"
            }))
            .is_err()
        );
    }
}
