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
use sim_http::form::is_scope_token;
use sim_http::secret::redact;

use crate::jose::ClientKeys;
use crate::redirect_uri::check_registrable;
use crate::store::{AuthMethod, Client, ClientKind, ClientSecret, GrantType};

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
    /// Its secret, required exactly when `auth_method` is a secret method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// How it authenticates at the token endpoint.
    pub auth_method: AuthMethod,
    /// Its public keys, for `private_key_jwt`: a JWK Set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    /// Where its public keys are, for `private_key_jwt`, fetched under the document-fetch
    /// policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Where `/authorize` may send it back; needed with `authorization_code` only.
    #[serde(default = "no_redirect_uris")]
    pub redirect_uris: RedirectUris,
    /// The grants it may use.
    #[serde(default = "user_grants")]
    pub grant_types: Vec<GrantType>,
    /// The scopes it may have without a user (`client_credentials`), space-separated; absent:
    /// any the issuer knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// A name to show, as `client_name` of a registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
}

fn user_grants() -> Vec<GrantType> {
    GrantType::USER.to_vec()
}

fn no_redirect_uris() -> RedirectUris {
    RedirectUris::List(Vec::new())
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
        let method = self.auth_method;
        match (&self.client_secret, method.has_secret()) {
            (Some(_), false) => {
                return Err(named(format!(
                    "client_secret: a client with auth_method {} has no secret",
                    method.as_str()
                )));
            }
            (None, true) => {
                return Err(named(format!(
                    "client_secret is required with auth_method {}",
                    method.as_str()
                )));
            }
            (Some(secret), true) if !(1..=512).contains(&secret.len()) => {
                return Err(named("client_secret must be 1 to 512 characters".into()));
            }
            _ => {}
        }
        let keys = self.keys().map_err(&named)?;
        match (keys.is_some(), method == AuthMethod::PrivateKeyJwt) {
            (false, true) => {
                return Err(named(
                    "auth_method private_key_jwt needs jwks or jwks_uri (or generate_key)".into(),
                ));
            }
            (true, false) => {
                return Err(named(
                    "jwks and jwks_uri are for auth_method private_key_jwt only".into(),
                ));
            }
            _ => {}
        }
        if self.grant_types.is_empty() {
            return Err(named("grant_types must name at least one grant".into()));
        }
        let code = self.grant_types.contains(&GrantType::AuthorizationCode);
        if self.grant_types.contains(&GrantType::RefreshToken) && !code {
            return Err(named(
                "grant_types: refresh_token needs authorization_code, the only grant here that \
                 issues refresh tokens"
                    .into(),
            ));
        }
        match &self.redirect_uris {
            RedirectUris::List(uris) if uris.is_empty() && code => {
                return Err(named(format!(
                    "redirect_uris must list 1 to {MAX_REDIRECT_URIS} URIs, or be \"any-loopback\", \
                     for the authorization_code grant"
                )));
            }
            RedirectUris::List(uris) => {
                if uris.len() > MAX_REDIRECT_URIS {
                    return Err(named(format!(
                        "redirect_uris lists at most {MAX_REDIRECT_URIS} URIs"
                    )));
                }
                for uri in uris {
                    check_registrable(uri).map_err(|why| named(format!("redirect_uris: {why}")))?;
                }
            }
            RedirectUris::AnyLoopback => {}
        }
        let without_user = [GrantType::ClientCredentials, GrantType::TokenExchange];
        if !method.is_confidential()
            && let Some(grant) = self
                .grant_types
                .iter()
                .find(|grant| without_user.contains(grant))
        {
            return Err(named(format!(
                "grant_types: {} is for confidential clients; auth_method none cannot use it",
                grant.as_str()
            )));
        }
        if let Some(scope) = &self.scope
            && (scope.len() > 1024 || !scope.split(' ').all(is_scope_token))
        {
            return Err(named(
                "scope must be space-separated scope tokens, at most 1024 characters".into(),
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

    /// Its public keys, checked.
    pub fn keys(&self) -> Result<Option<ClientKeys>, String> {
        let uri = self.jwks_uri.clone().map(Value::from);
        ClientKeys::from_metadata(self.jwks.as_ref(), uri.as_ref())
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
        let optional = [
            ("client_name", self.client_name.clone().map(Value::from)),
            ("jwks", self.jwks.clone()),
            ("jwks_uri", self.jwks_uri.clone().map(Value::from)),
            ("scope", self.scope.clone().map(Value::from)),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                registration.insert(name.into(), value);
            }
        }
        Arc::new(Client {
            id: self.client_id.clone(),
            secret: self.client_secret.as_deref().map(ClientSecret::new),
            auth_method: self.auth_method,
            redirect_uris,
            any_loopback,
            kind: ClientKind::PreRegistered,
            grant_types,
            // Checked by `validate` before any client is made.
            keys: self.keys().ok().flatten(),
            scope: self.scope.clone(),
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
    fn the_json_shape_reads_with_the_user_grants_by_default() {
        let client = parsed(json!({
            "client_id": "pre-registered-client",
            "client_secret": "pre-registered-secret",
            "auth_method": "client_secret_basic",
            "redirect_uris": "any-loopback",
        }));
        assert_eq!(client.redirect_uris, RedirectUris::AnyLoopback);
        assert_eq!(client.grant_types, GrantType::USER.to_vec());
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

    #[test]
    fn a_client_without_a_user_needs_no_redirect_uri_but_a_credential() {
        let machine = json!({"client_id": "m", "auth_method": "client_secret_basic",
                             "client_secret": "s", "grant_types": ["client_credentials"]});
        assert!(parsed(machine.clone()).validate().is_ok());
        let mut public = machine.clone();
        public["auth_method"] = json!("none");
        public.as_object_mut().unwrap().remove("client_secret");
        assert!(
            parsed(public)
                .validate()
                .unwrap_err()
                .contains("confidential")
        );
        let mut keyless = machine.clone();
        keyless["auth_method"] = json!("private_key_jwt");
        keyless.as_object_mut().unwrap().remove("client_secret");
        assert!(
            parsed(keyless.clone())
                .validate()
                .unwrap_err()
                .contains("jwks")
        );
        keyless["jwks_uri"] = json!("https://m.example/jwks.json");
        assert!(parsed(keyless).validate().is_ok());
        let mut code = machine;
        code["grant_types"] = json!(["authorization_code"]);
        assert!(
            parsed(code)
                .validate()
                .unwrap_err()
                .contains("redirect_uris")
        );
    }
}
