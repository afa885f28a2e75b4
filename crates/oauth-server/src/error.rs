//! The one place where an OAuth failure becomes an HTTP answer (RFC 6749 §5.2, RFC 7591 §3.2.2,
//! RFC 7009 §2.2.1, RFC 8707 §2).

use http::StatusCode;
use http::header::{HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use sim_http::Response;
use sim_http::body::BodyError;
use sim_http::form::FormError;
use sim_http::response::{challenge, oauth_error};

/// An error answered as OAuth JSON by the token, registration, introspection and revocation
/// endpoints. (The authorization endpoint answers by page or redirect instead; see
/// `endpoints::authorize`.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// `invalid_request` (400): the request is malformed, e.g. the wrong `Content-Type`, a
    /// missing or repeated parameter, a bad `code_verifier`, two client authentication methods
    /// at once, or a body that broke off.
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// Client authentication failed. `basic` says whether the client tried HTTP Basic, in which
    /// case the answer carries a `WWW-Authenticate: Basic` challenge (RFC 6749 §5.2).
    #[error("invalid_client: {description}")]
    InvalidClient {
        /// The `error_description`: why authentication failed, e.g. `unknown client`.
        description: String,
        /// Whether the client tried HTTP Basic, so the answer carries a `Basic` challenge.
        basic: bool,
    },
    /// `invalid_grant` (400): the authorization code is unknown, already used, expired, another
    /// client's, or does not match its `redirect_uri` or PKCE challenge; or the refresh token is
    /// unknown, expired, revoked, rotated out, another client's, or replayed past its grace.
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    /// `unauthorized_client` (400): a refresh grant from a client not registered for
    /// `refresh_token`, or a revocation of a token issued to another client.
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(String),
    /// `unsupported_grant_type` (400): a `grant_type` other than `authorization_code` and
    /// `refresh_token`.
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(String),
    /// `invalid_scope` (400): a refresh asked for a scope the original grant did not include.
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    /// `invalid_target` (400, RFC 8707): a `resource` that is not an absolute URI without a
    /// fragment, or is not among the grant's resources.
    #[error("invalid_target: {0}")]
    InvalidTarget(String),
    /// `invalid_redirect_uri` (400, RFC 7591): a registration without `redirect_uris`, or with
    /// one that is not a string or may not be registered.
    #[error("invalid_redirect_uri: {0}")]
    InvalidRedirectUri(String),
    /// `invalid_client_metadata` (400, RFC 7591): a registration body that is not a JSON object
    /// sent as `application/json`, or has a field of the wrong type or an unsupported value.
    #[error("invalid_client_metadata: {0}")]
    InvalidClientMetadata(String),
    /// A store is at its configured cap. Not the client's fault, so a 503 the client may retry.
    #[error("temporarily_unavailable: {0}")]
    TemporarilyUnavailable(String),
    /// `invalid_request` with status 413: the body exceeds 1 MiB
    /// ([`sim_http::body::MAX_BODY_BYTES`]).
    #[error("request body too large")]
    PayloadTooLarge,
}

impl OAuthError {
    /// The `error` code of the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) | Self::PayloadTooLarge => "invalid_request",
            Self::InvalidClient { .. } => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::UnsupportedGrantType(_) => "unsupported_grant_type",
            Self::InvalidScope(_) => "invalid_scope",
            Self::InvalidTarget(_) => "invalid_target",
            Self::InvalidRedirectUri(_) => "invalid_redirect_uri",
            Self::InvalidClientMetadata(_) => "invalid_client_metadata",
            Self::TemporarilyUnavailable(_) => "temporarily_unavailable",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::InvalidClient { .. } => StatusCode::UNAUTHORIZED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TemporarilyUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn description(&self) -> &str {
        match self {
            Self::InvalidRequest(text)
            | Self::InvalidGrant(text)
            | Self::UnauthorizedClient(text)
            | Self::UnsupportedGrantType(text)
            | Self::InvalidScope(text)
            | Self::InvalidTarget(text)
            | Self::InvalidRedirectUri(text)
            | Self::InvalidClientMetadata(text)
            | Self::TemporarilyUnavailable(text) => text,
            Self::InvalidClient { description, .. } => description,
            Self::PayloadTooLarge => "request body exceeds 1 MiB",
        }
    }

    /// The HTTP answer: status, `no-store` JSON body and, where due, a challenge, or for a 503
    /// `Retry-After: 1` (a full store may have room a moment later, as tokens expire).
    pub fn into_response(self) -> Response {
        let mut response = oauth_error(self.status(), self.code(), self.description());
        match self {
            Self::InvalidClient { basic: true, .. } => {
                let value = challenge("Basic", &[("realm", "mcp-oauth-sim")]);
                if let Ok(value) = HeaderValue::from_str(&value) {
                    response.headers_mut().insert(WWW_AUTHENTICATE, value);
                }
            }
            Self::TemporarilyUnavailable(_) => {
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }

    pub(crate) fn invalid_client(description: impl Into<String>, basic: bool) -> Self {
        Self::InvalidClient {
            description: description.into(),
            basic,
        }
    }
}

impl From<FormError> for OAuthError {
    fn from(error: FormError) -> Self {
        Self::InvalidRequest(error.to_string())
    }
}

impl From<BodyError> for OAuthError {
    fn from(error: BodyError) -> Self {
        match error {
            BodyError::TooLarge => Self::PayloadTooLarge,
            BodyError::Unreadable(text) => Self::InvalidRequest(text),
        }
    }
}
