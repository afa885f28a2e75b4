//! Building answers: JSON, OAuth errors, redirects, pages, challenges and CORS.
//!
//! Every response of the rig is built here, so headers such as `Cache-Control: no-store` on
//! credentials and CORS on discovery are decided in one place.

use bytes::Bytes;
use http::StatusCode;
use http::header::{self, HeaderValue};
use http_body_util::{BodyExt, Full};
use serde::Serialize;

use crate::{Body, Response};

/// A body holding `bytes`.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// An empty body.
pub fn empty_body() -> Body {
    full(Bytes::new())
}

/// A response with no body.
pub fn empty(status: StatusCode) -> Response {
    let mut response = Response::new(empty_body());
    *response.status_mut() = status;
    response
}

/// A JSON response.
pub fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    // Serializing our own plain structs cannot fail; if it ever did, say so instead of panicking.
    let body = serde_json::to_vec(value).unwrap_or_else(|error| {
        format!(r#"{{"error":"server_error","error_description":"{error}"}}"#).into_bytes()
    });
    json_text(status, body)
}

/// A JSON response whose body is already written.
pub fn json_text(status: StatusCode, body: impl Into<Bytes>) -> Response {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A JSON response that caches must not keep: for anything holding credentials (RFC 6749 §5.1).
pub fn json_no_store<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    no_store(json(status, value))
}

/// Marks a response as not to be stored by any cache.
pub fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The body of an OAuth error (RFC 6749 §5.2, RFC 7591 §3.2.2).
#[derive(Debug, Clone, Serialize)]
pub struct OAuthErrorBody<'a> {
    /// The error code, e.g. `invalid_grant`.
    pub error: &'a str,
    /// A sentence for the developer reading it; left out when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<&'a str>,
}

/// An OAuth error answer: JSON `{error, error_description}`, never cached.
pub fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let description = (!description.is_empty()).then_some(description);
    json_no_store(
        status,
        &OAuthErrorBody {
            error,
            error_description: description,
        },
    )
}

/// A plain JSON error for the non-OAuth parts (control plane, 404s): `{"error": message}`.
pub fn plain_error(status: StatusCode, message: &str) -> Response {
    json(status, &serde_json::json!({ "error": message }))
}

/// `404 Not Found` for an unknown path.
pub fn not_found(path: &str) -> Response {
    plain_error(StatusCode::NOT_FOUND, &format!("no such endpoint: {path}"))
}

/// `405 Method Not Allowed` with the `Allow` header listing what is.
pub fn method_not_allowed(allow: &'static str) -> Response {
    let mut response = plain_error(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("method not allowed; use {allow}"),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

/// A `302 Found` redirect. Redirects of the authorization endpoint carry codes, so they are
/// never cached.
pub fn redirect(location: &str) -> Response {
    let mut response = no_store(empty(StatusCode::FOUND));
    match HeaderValue::from_str(location) {
        Ok(value) => {
            response.headers_mut().insert(header::LOCATION, value);
            response
        }
        // Callers build locations from parsed URLs, which are always valid header values.
        Err(_) => page(
            StatusCode::BAD_REQUEST,
            "Bad redirect",
            "the redirect URI is not usable",
        ),
    }
}

/// A small HTML page, for answers a person sees in a browser (the authorization endpoint's
/// errors). Both strings are escaped.
pub fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><p>{message}</p></body></html>\n",
        title = escape_html(title),
        message = escape_html(message),
    );
    let mut response = Response::new(full(html));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '&' => escaped.push_str("&amp;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(ch),
        }
    }
    escaped
}

/// Formats a `WWW-Authenticate` challenge (RFC 9110 §11.6.1): `Scheme k="v", k2="v2"`, each value a
/// quoted string with `"` and `\` escaped.
pub fn challenge(scheme: &str, params: &[(&str, &str)]) -> String {
    let mut out = String::from(scheme);
    for (index, (name, value)) in params.iter().enumerate() {
        out.push_str(if index == 0 { " " } else { ", " });
        out.push_str(name);
        out.push_str("=\"");
        for ch in value.chars() {
            if ch == '"' || ch == '\\' {
                out.push('\\');
            }
            out.push(ch);
        }
        out.push('"');
    }
    out
}

/// Request headers a browser-based client sends to the rig's CORS-enabled endpoints.
const CORS_ALLOW_HEADERS: &str =
    "Authorization, Content-Type, Accept, MCP-Protocol-Version, Mcp-Session-Id, Last-Event-ID";
/// Response headers a browser-based client must be able to read.
const CORS_EXPOSE_HEADERS: &str = "WWW-Authenticate, Mcp-Session-Id, MCP-Protocol-Version";

/// Lets any origin read the response: discovery, registration and token endpoints are called by
/// browser-based clients such as MCP Inspector.
pub fn with_cors(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(CORS_EXPOSE_HEADERS),
    );
    response
}

/// The answer to a CORS preflight (`OPTIONS`) for an endpoint allowing `methods`.
pub fn preflight(methods: &'static str) -> Response {
    let mut response = with_cors(empty(StatusCode::NO_CONTENT));
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(methods),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(CORS_ALLOW_HEADERS),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_quotes_and_escapes_values() {
        assert_eq!(
            challenge("Bearer", &[("error", "invalid_token"), ("scope", "a b")]),
            r#"Bearer error="invalid_token", scope="a b""#
        );
        assert_eq!(
            challenge("Basic", &[("realm", r#"x"y\z"#)]),
            r#"Basic realm="x\"y\\z""#
        );
        assert_eq!(challenge("Bearer", &[]), "Bearer");
    }

    #[test]
    fn page_escapes_markup() {
        let response = page(
            StatusCode::BAD_REQUEST,
            "Bad",
            "<script>alert('x')</script>",
        );
        let body = futures_body(response);
        assert!(body.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(!body.contains("<script>"));
    }

    #[test]
    fn oauth_error_is_json_and_never_cached() {
        let response = oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "code was used");
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let body: serde_json::Value = serde_json::from_str(&futures_body(response)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": "invalid_grant", "error_description": "code was used"})
        );
    }

    #[test]
    fn oauth_error_without_description_omits_it() {
        let body = futures_body(oauth_error(StatusCode::BAD_REQUEST, "invalid_request", ""));
        assert_eq!(body, r#"{"error":"invalid_request"}"#);
    }

    fn futures_body(response: Response) -> String {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let bytes = runtime
            .block_on(response.into_body().collect())
            .unwrap()
            .to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }
}

/// Property tests: a challenge's quoted values always read back as the original text.
#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    /// Reads the quoted values of a challenge made by [`challenge`], undoing its escapes.
    fn quoted_values(challenge: &str) -> Vec<String> {
        let mut values = Vec::new();
        let mut chars = challenge.chars();
        while chars.by_ref().any(|ch| ch == '"') {
            let mut value = String::new();
            while let Some(ch) = chars.next() {
                match ch {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    _ => value.push(ch),
                }
            }
            values.push(value);
        }
        values
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 512,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn quoted_values_read_back_as_given(values in prop::collection::vec("\\PC{0,24}", 1..4)) {
            let params: Vec<(&str, &str)> = values.iter().map(|value| ("p", value.as_str())).collect();
            let made = challenge("Bearer", &params);
            prop_assert!(made.starts_with("Bearer p=\""));
            prop_assert_eq!(quoted_values(&made), values);
        }
    }
}
