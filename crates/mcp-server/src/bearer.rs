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

/// Property tests: any header value is read without panicking, and a token is only ever what
/// RFC 6750 allows.
#[cfg(test)]
mod props {
    use super::*;
    use http::HeaderValue;
    use proptest::prelude::*;

    fn with_value(value: &[u8]) -> Option<HeaderMap> {
        let value = HeaderValue::from_bytes(value).ok()?;
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value);
        Some(headers)
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 512,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn any_header_value_is_read_without_panicking(
            value in prop::collection::vec(any::<u8>(), 0..80),
            prefix in prop::sample::select(&["", "Bearer ", "bearer  ", "Basic "][..]),
        ) {
            let value = [prefix.as_bytes(), &value].concat();
            if let Some(headers) = with_value(&value)
                && let Presented::Token(token) = presented(&headers)
            {
                prop_assert!(is_b64token(token) && token.len() <= MAX_TOKEN_LEN);
                prop_assert!(value[..7].eq_ignore_ascii_case(b"bearer "));
            }
        }

        #[test]
        fn a_well_formed_token_is_read_back(
            scheme in "[Bb][Ee][Aa][Rr][Ee][Rr]",
            spaces in " {1,4}",
            token in "[A-Za-z0-9._~+/-]{1,64}={0,2}",
        ) {
            let headers = with_value(format!("{scheme}{spaces}{token}").as_bytes()).unwrap();
            prop_assert_eq!(presented(&headers), Presented::Token(&token));
        }
    }
}
