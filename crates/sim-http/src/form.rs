//! Strict parsing of `application/x-www-form-urlencoded` parameters and JSON bodies.
//!
//! OAuth has rules a generic form parser does not enforce: a parameter sent without a value is
//! treated as omitted, and a parameter sent twice is an error (RFC 6749 §3.1) — except the few
//! that the specs allow to repeat, such as RFC 8707's `resource`. Invalid UTF-8 is an error
//! rather than being silently replaced.

use http::HeaderMap;
use percent_encoding::percent_decode;
use serde::de::{DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A form or query parameter that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// A parameter's name or value is not UTF-8 once percent-decoded; holds its name.
    #[error("parameter '{0}' is not valid UTF-8 once decoded")]
    InvalidUtf8(String),
    /// A parameter that may appear only once was sent twice; holds its name.
    #[error("parameter '{0}' is included more than once")]
    Duplicate(String),
}

/// Parsed parameters, in the order they were sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a urlencoded string (a body or a URI's query). `+` is a space.
    pub fn parse(input: &[u8]) -> Result<Self, FormError> {
        let mut pairs = Vec::new();
        for pair in input
            .split(|&byte| byte == b'&')
            .filter(|pair| !pair.is_empty())
        {
            let (name, value) = match pair.iter().position(|&byte| byte == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &[][..]),
            };
            let name = decode(name).map_err(|()| FormError::InvalidUtf8(lossy(name)))?;
            let value = decode(value).map_err(|()| FormError::InvalidUtf8(name.clone()))?;
            pairs.push((name, value));
        }
        Ok(Self(pairs))
    }

    /// Parses the query of a request URI (no query → no parameters).
    pub fn from_query(uri: &http::Uri) -> Result<Self, FormError> {
        Self::parse(uri.query().unwrap_or_default().as_bytes())
    }

    /// The value of a parameter that may appear at most once. Empty values count as absent.
    pub fn single<'a>(&'a self, name: &'a str) -> Result<Option<&'a str>, FormError> {
        let mut values = self.values(name);
        let first = values.next();
        if values.next().is_some() {
            return Err(FormError::Duplicate(name.to_owned()));
        }
        Ok(first)
    }

    /// Every non-empty value of a parameter that may repeat.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(key, value)| key == name && !value.is_empty())
            .map(|(_, value)| value.as_str())
    }

    /// Whether a parameter was sent (even with an empty value).
    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|(key, _)| key == name)
    }

    /// All pairs, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

/// Decodes one urlencoded component (`+` is a space, `%XX` a byte); `None` if the result is not
/// UTF-8. RFC 6749 §2.3.1 applies this to the client id and secret inside HTTP Basic credentials.
pub fn decode_component(raw: &str) -> Option<String> {
    decode(raw.as_bytes()).ok()
}

fn decode(raw: &[u8]) -> Result<String, ()> {
    // Tokens, ids and codes are base64url: nothing to decode, one copy.
    if !raw.iter().any(|&byte| byte == b'+' || byte == b'%') {
        return std::str::from_utf8(raw).map(str::to_owned).map_err(|_| ());
    }
    let spaced: Vec<u8> = raw
        .iter()
        .map(|&byte| if byte == b'+' { b' ' } else { byte })
        .collect();
    let bytes: Vec<u8> = percent_decode(&spaced).collect();
    String::from_utf8(bytes).map_err(|_| ())
}

fn lossy(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

/// Whether the request's `Content-Type` has the given media type, ignoring parameters such as
/// `charset` and letter case.
pub fn has_content_type(headers: &HeaderMap, media_type: &str) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|value| value.trim().eq_ignore_ascii_case(media_type))
}

/// Parses a JSON body into `T`, with a message that says what was wrong and where. Parsed as
/// [`json_value`] is, so an object naming a key twice is refused.
pub fn json<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    T::deserialize(json_value(body)?).map_err(|error| format!("invalid JSON: {error}"))
}

/// Parses a JSON body, refusing an object that names a key twice: parsers disagree on which of
/// the two counts (RFC 8259 §4), so the rig could otherwise read a request differently from the
/// client that sent it, or from a proxy that checked it.
pub fn json_value(body: &[u8]) -> Result<Value, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("request body is empty; a JSON document is required".to_owned());
    }
    let invalid = |error: serde_json::Error| format!("invalid JSON: {error}");
    let mut parser = serde_json::Deserializer::from_slice(body);
    let value = parser.deserialize_any(UniqueKeys).map_err(invalid)?;
    parser.end().map_err(invalid)?;
    Ok(value)
}

/// Builds a [`Value`] like serde_json's own, except that a repeated key is an error.
struct UniqueKeys;

impl<'de> DeserializeSeed<'de> for UniqueKeys {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueKeys {
    type Value = Value;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(UniqueKeys)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!(
                    "key '{key}' appears more than once"
                )));
            }
            let value = map.next_value_seed(UniqueKeys)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
pub fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope.bytes().all(|byte| {
            byte == 0x21 || (0x23..=0x5B).contains(&byte) || (0x5D..=0x7E).contains(&byte)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_and_percent_escapes() {
        let params = Params::parse(b"a=hello+world&b=%2Fcb%3Fx%3D1").unwrap();
        assert_eq!(params.single("a"), Ok(Some("hello world")));
        assert_eq!(params.single("b"), Ok(Some("/cb?x=1")));
    }

    #[test]
    fn empty_value_counts_as_absent() {
        let params = Params::parse(b"client_id=&state").unwrap();
        assert_eq!(params.single("client_id"), Ok(None));
        assert_eq!(params.single("state"), Ok(None));
        assert!(params.contains("client_id"));
    }

    #[test]
    fn repeated_parameter_is_an_error_for_single_but_listed_by_values() {
        let params = Params::parse(b"resource=a&resource=b&x=1&x=2").unwrap();
        assert_eq!(params.single("x"), Err(FormError::Duplicate("x".into())));
        assert_eq!(params.values("resource").collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn invalid_utf8_is_refused_not_replaced() {
        assert_eq!(
            Params::parse(b"token=%FF%FE"),
            Err(FormError::InvalidUtf8("token".into()))
        );
        assert!(Params::parse(b"ok=%E2%9C%93").is_ok());
    }

    #[test]
    fn content_type_ignores_charset_and_case() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            "Application/X-WWW-Form-Urlencoded; charset=UTF-8"
                .parse()
                .unwrap(),
        );
        assert!(has_content_type(
            &headers,
            "application/x-www-form-urlencoded"
        ));
        assert!(!has_content_type(&headers, "application/json"));
    }

    #[test]
    fn json_errors_say_what_is_wrong() {
        assert!(
            json::<serde_json::Value>(b"")
                .unwrap_err()
                .contains("empty")
        );
        assert!(
            json::<serde_json::Value>(b"{")
                .unwrap_err()
                .starts_with("invalid JSON")
        );
    }

    #[test]
    fn json_refuses_a_key_named_twice_at_any_depth() {
        assert!(
            json_value(br#"{"a":1,"a":2}"#)
                .unwrap_err()
                .contains("'a' appears more than once")
        );
        assert!(json_value(br#"{"x":[{"b":1,"b":1}]}"#).is_err());
        assert!(json_value(br#"{"a":{"a":1},"b":[1,{"a":2}]} "#).is_ok());
        assert!(json_value(b"[1] x").is_err());
        let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(
            json_value(nested.as_bytes())
                .unwrap_err()
                .contains("recursion")
        );
    }
}

/// Property tests: the parsers take any input without panicking, and read back what a client
/// encodes.
#[cfg(test)]
mod props {
    use super::*;
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    use proptest::prelude::*;

    fn encode(text: &str) -> String {
        utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
    }

    fn json_values() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            "\\PC{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("\\PC{0,6}", inner, 0..6)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 512,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn any_bytes_parse_or_fail_without_panicking(input in prop::collection::vec(any::<u8>(), 0..256)) {
            if let Ok(params) = Params::parse(&input) {
                for (name, _) in params.pairs() {
                    let _ = params.single(name);
                    prop_assert!(params.contains(name));
                }
            }
        }

        #[test]
        fn encoded_pairs_are_read_back_in_order(
            pairs in prop::collection::vec(("\\PC{1,12}", "\\PC{0,12}"), 0..8)
        ) {
            let encoded: Vec<String> = pairs
                .iter()
                .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
                .collect();
            let params = Params::parse(encoded.join("&").as_bytes()).unwrap();
            prop_assert_eq!(params.pairs(), pairs.as_slice());
        }

        #[test]
        fn json_value_reads_what_serde_json_writes(value in json_values()) {
            prop_assert_eq!(json_value(value.to_string().as_bytes()), Ok(value));
        }

        #[test]
        fn json_value_takes_any_bytes_without_panicking(input in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = json_value(&input);
        }
    }
}
