//! Reading the bearer token of a request (RFC 6750 §2.1).
//!
//! Only the `Authorization` header counts: a token in the query string or the body is ignored,
//! as the MCP specification requires, so such a request is treated as carrying no token at all.

use http::header::{self, HeaderMap};

/// Longer than any token our authorization server issues by two orders of magnitude; longer
/// tokens are refused without bothering the authorization server.
pub const MAX_TOKEN_LEN: usize = 4096;

/// What a request's `Authorization` header says.
#[derive(Debug, PartialEq, Eq)]
pub enum Presented<'a> {
    /// No header, or another scheme: the client did not try bearer authentication.
    Nothing,
    /// A bearer header that does not follow RFC 6750's syntax.
    Malformed(&'static str),
    /// A well-formed token too long to be one of ours.
    TooLong,
    Token(&'a str),
}

pub fn presented(headers: &HeaderMap) -> Presented<'_> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Presented::Nothing;
    };
    if values.next().is_some() {
        return Presented::Malformed("more than one Authorization header");
    }
    let Ok(value) = value.to_str() else {
        return Presented::Malformed("the Authorization header is not ASCII");
    };
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Presented::Nothing;
    }
    // RFC 9110 lets any amount of space separate the scheme from the credentials.
    let token = rest.trim_matches(' ');
    if token.is_empty() {
        return Presented::Malformed("the bearer token is empty");
    }
    if token.contains([' ', '\t', ',']) {
        return Presented::Malformed("more than one bearer token");
    }
    if !is_b64token(token) {
        return Presented::Malformed("the bearer token has characters RFC 6750 does not allow");
    }
    if token.len() > MAX_TOKEN_LEN {
        return Presented::TooLong;
    }
    Presented::Token(token)
}

/// RFC 6750 §2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-._~+/".contains(&byte))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::AUTHORIZATION, value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn scheme_is_case_insensitive_and_spacing_is_tolerated() {
        for value in ["Bearer abc", "bearer abc", "BEARER abc", "Bearer   abc"] {
            assert_eq!(
                presented(&with(&[value])),
                Presented::Token("abc"),
                "{value}"
            );
        }
        assert_eq!(
            presented(&with(&["Bearer a-b.c_d~e+f/g=="])),
            Presented::Token("a-b.c_d~e+f/g==")
        );
    }

    #[test]
    fn no_header_or_another_scheme_is_no_attempt() {
        assert_eq!(presented(&HeaderMap::new()), Presented::Nothing);
        assert_eq!(
            presented(&with(&["Basic dXNlcjpwYXNz"])),
            Presented::Nothing
        );
        assert_eq!(presented(&with(&["abc"])), Presented::Nothing);
    }

    #[test]
    fn malformed_bearer_headers_are_named() {
        for value in [
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearer a,b",
            "Bearer a\"b",
            "Bearer ===",
            "Bearer a=b",
        ] {
            assert!(
                matches!(presented(&with(&[value])), Presented::Malformed(_)),
                "{value}"
            );
        }
        assert_eq!(
            presented(&with(&["Bearer a", "Bearer b"])),
            Presented::Malformed("more than one Authorization header")
        );
    }

    #[test]
    fn overlong_tokens_are_refused_before_introspection() {
        let long = format!("Bearer {}", "a".repeat(MAX_TOKEN_LEN + 1));
        assert_eq!(presented(&with(&[&long])), Presented::TooLong);
        let fits = format!("Bearer {}", "a".repeat(MAX_TOKEN_LEN));
        assert!(matches!(presented(&with(&[&fits])), Presented::Token(_)));
    }
}
