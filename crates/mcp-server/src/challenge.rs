//! The one mapping from a refused MCP request to its HTTP answer: RFC 6750 challenges, and 503
//! when the authorization server cannot be asked.

use http::StatusCode;
use http::header::{self, HeaderValue};
use sim_http::Response;
use sim_http::response::{challenge, json};

/// Why `/mcp` refused a request.
#[derive(Debug)]
pub enum Denial {
    /// No bearer token: the client did not know authentication was needed (no `error`).
    NoToken,
    /// A bearer header that breaks RFC 6750's syntax.
    Malformed(&'static str),
    /// The token is expired, revoked, unknown, or for another resource — or it could not be
    /// checked and the tester asked for a 401 in that case.
    InvalidToken(&'static str),
    /// The token lacks a scope the call needs. `scope` is every scope the call needs, those
    /// already granted included (RFC 6750 §3.1, MCP step-up).
    InsufficientScope { why: &'static str, scope: String },
    /// A fault rule's 401 or 403, answered as the real refusal of that status is, with the
    /// rule's error code and description. `scope` as for the real one: the announced scopes for
    /// a 401, every scope the call needs for a 403.
    Injected {
        status: StatusCode,
        error: String,
        description: String,
        scope: String,
    },
    /// The token could not be checked: the authorization server is down, slow or broken.
    Unavailable(String),
}

impl Denial {
    /// The error code, for the log line and the body.
    pub fn code(&self) -> &str {
        match self {
            Self::NoToken => "no_token",
            Self::Malformed(_) => "invalid_request",
            Self::InvalidToken(_) => "invalid_token",
            Self::InsufficientScope { .. } => "insufficient_scope",
            Self::Injected { error, .. } => error,
            Self::Unavailable(_) => "temporarily_unavailable",
        }
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NoToken | Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            Self::Injected { status, .. } => *status,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The answer. Every challenge carries what `context` says — where the protected-resource
    /// metadata is and the scopes a client should ask for — so that a client can start or
    /// repeat authorization from this answer alone. A refusal for a missing scope names its
    /// own scopes instead.
    pub fn into_response(self, context: &Context<'_>) -> Response {
        let status = self.status();
        let code = self.code();
        let metadata_url = context.metadata_url;
        let scope = context.scope;
        let (description, params) = match &self {
            Self::NoToken if context.error_without_token => (
                NO_TOKEN,
                Some(invalid("invalid_token", NO_TOKEN, metadata_url, scope)),
            ),
            Self::NoToken => {
                let mut params = Vec::new();
                with_metadata(&mut params, metadata_url);
                with_scope(&mut params, scope);
                (NO_TOKEN, Some(params))
            }
            Self::Malformed(why) | Self::InvalidToken(why) => {
                (*why, Some(invalid(code, why, metadata_url, scope)))
            }
            Self::InsufficientScope { why, scope } => {
                (*why, Some(insufficient(code, why, metadata_url, scope)))
            }
            Self::Injected {
                description,
                scope: own,
                ..
            } => {
                let params = if status == StatusCode::FORBIDDEN {
                    insufficient(code, description, metadata_url, own)
                } else {
                    invalid(code, description, metadata_url, own)
                };
                (description.as_str(), Some(params))
            }
            Self::Unavailable(why) => (why.as_str(), None),
        };
        let mut response = json(
            status,
            &serde_json::json!({ "error": code, "error_description": description }),
        );
        let headers = response.headers_mut();
        if let Some(params) = params
            && let Ok(value) = HeaderValue::from_str(&challenge("Bearer", &params))
        {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// What the description of a missing token says, in the body and (when asked) the challenge.
const NO_TOKEN: &str = "this MCP server requires an OAuth bearer token";

/// What every challenge of one answer carries besides the refusal itself, as the profile
/// shapes it.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The absolute URL of the protected-resource metadata; `None`: challenges do not name it.
    pub metadata_url: Option<&'a str>,
    /// The space-separated scopes a 401 names; empty: none.
    pub scope: &'a str,
    /// Whether the missing-token 401 carries `error="invalid_token"` and a description.
    pub error_without_token: bool,
}

type Params<'a> = Vec<(&'a str, &'a str)>;

fn with_scope<'a>(params: &mut Params<'a>, scope: &'a str) {
    if !scope.is_empty() {
        params.push(("scope", scope));
    }
}

fn with_metadata<'a>(params: &mut Params<'a>, metadata_url: Option<&'a str>) {
    if let Some(url) = metadata_url {
        params.push(("resource_metadata", url));
    }
}

/// The challenge of a refused token (RFC 6750 §3.1): the error first, then where to start over.
fn invalid<'a>(
    code: &'a str,
    why: &'a str,
    metadata_url: Option<&'a str>,
    scope: &'a str,
) -> Params<'a> {
    let mut params = vec![("error", code), ("error_description", why)];
    with_metadata(&mut params, metadata_url);
    with_scope(&mut params, scope);
    params
}

/// The challenge of a missing scope: the scopes to ask for come right after the error, as the
/// MCP step-up flow reads them.
fn insufficient<'a>(
    code: &'a str,
    why: &'a str,
    metadata_url: Option<&'a str>,
    scope: &'a str,
) -> Params<'a> {
    let mut params = vec![("error", code)];
    with_scope(&mut params, scope);
    with_metadata(&mut params, metadata_url);
    params.push(("error_description", why));
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRM: &str = "http://localhost:9101/.well-known/oauth-protected-resource/mcp";

    const CONTEXT: Context<'static> = Context {
        metadata_url: Some(PRM),
        scope: "mcp:tools",
        error_without_token: false,
    };

    fn www_authenticate(denial: Denial) -> (StatusCode, String) {
        www_authenticate_in(denial, &CONTEXT)
    }

    fn www_authenticate_in(denial: Denial, context: &Context<'_>) -> (StatusCode, String) {
        let response = denial.into_response(context);
        let value = response
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (response.status(), value)
    }

    #[test]
    fn missing_token_challenge_has_no_error_code() {
        assert_eq!(
            www_authenticate(Denial::NoToken),
            (
                StatusCode::UNAUTHORIZED,
                format!(r#"Bearer resource_metadata="{PRM}", scope="mcp:tools""#)
            )
        );
    }

    #[test]
    fn invalid_token_is_401_and_malformed_is_400() {
        let (status, value) = www_authenticate(Denial::InvalidToken("expired"));
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(value.starts_with(r#"Bearer error="invalid_token", error_description="expired""#));
        assert!(value.contains(&format!(r#"resource_metadata="{PRM}""#)));
        let (status, value) = www_authenticate(Denial::Malformed("two tokens"));
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(value.starts_with(r#"Bearer error="invalid_request""#));
    }

    #[test]
    fn insufficient_scope_names_the_scope_and_the_metadata() {
        let (status, value) = www_authenticate(Denial::InsufficientScope {
            why: "forced",
            scope: "mcp:tools".into(),
        });
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(
            value.starts_with(&format!(
                r#"Bearer error="insufficient_scope", scope="mcp:tools", resource_metadata="{PRM}""#
            )),
            "{value}"
        );
    }

    #[test]
    fn injected_refusals_take_the_shape_of_the_real_ones_with_the_rules_error() {
        let injected = |status: StatusCode| Denial::Injected {
            status,
            error: "insufficient_scope".into(),
            description: "injected by fault rule 4".into(),
            scope: "mcp:tools mcp:write".into(),
        };
        let (status, value) = www_authenticate(injected(StatusCode::FORBIDDEN));
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            value,
            format!(
                r#"Bearer error="insufficient_scope", scope="mcp:tools mcp:write", resource_metadata="{PRM}", error_description="injected by fault rule 4""#
            )
        );
        let (status, value) = www_authenticate(Denial::Injected {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_token".into(),
            description: "gone".into(),
            scope: "mcp:tools".into(),
        });
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            value,
            format!(
                r#"Bearer error="invalid_token", error_description="gone", resource_metadata="{PRM}", scope="mcp:tools""#
            )
        );
    }

    #[test]
    fn unavailable_is_503_without_a_challenge() {
        let context = Context {
            scope: "",
            ..CONTEXT
        };
        let response = Denial::Unavailable("connection refused".into()).into_response(&context);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(!response.headers().contains_key(header::WWW_AUTHENTICATE));
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }

    #[test]
    fn the_profile_may_drop_the_metadata_and_the_scope_or_add_an_error() {
        let bare = Context {
            metadata_url: None,
            scope: "",
            error_without_token: false,
        };
        assert_eq!(www_authenticate_in(Denial::NoToken, &bare).1, "Bearer");
        let mock = Context {
            error_without_token: true,
            ..CONTEXT
        };
        assert_eq!(
            www_authenticate_in(Denial::NoToken, &mock).1,
            format!(
                r#"Bearer error="invalid_token", error_description="{NO_TOKEN}", resource_metadata="{PRM}", scope="mcp:tools""#
            )
        );
        let (_, value) = www_authenticate_in(
            Denial::InsufficientScope {
                why: "short",
                scope: "b".into(),
            },
            &bare,
        );
        assert_eq!(
            value,
            r#"Bearer error="insufficient_scope", scope="b", error_description="short""#
        );
    }
}
