//! A look at a JSON-RPC body before rmcp reads it: which method, which tool. Fault rules and
//! per-tool scopes match on them, and the log line and the journal name both.
//!
//! The look is also the gate: a body that is not exactly one well-formed JSON-RPC message is
//! refused here with a 400 and the JSON-RPC error code for it, so that the scope check never
//! passes a body that rmcp would read differently (a key named twice, a batch), and a client
//! sees `400 Parse error` rather than rmcp's `415` for a JSON body it cannot read.

use http::StatusCode;
use serde_json::{Value, json};
use sim_http::Response;
use sim_http::form;

/// What the body asks for, as far as the log line, the journal and the fault rules care.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Glance {
    /// The JSON-RPC method, made safe for a log line.
    pub method: String,
    /// The tool named by a `tools/call`.
    pub tool: String,
}

impl Glance {
    pub fn is_tool_call(&self) -> bool {
        self.method == "tools/call"
    }
}

/// Why a body is not one JSON-RPC message.
#[derive(Debug, PartialEq, Eq)]
pub enum Unreadable {
    /// Not JSON, or JSON naming a key twice: JSON-RPC's parse error.
    Parse(String),
    /// JSON, but not a JSON-RPC message this server takes: JSON-RPC's invalid request.
    Invalid(&'static str),
}

impl Unreadable {
    /// The JSON-RPC error code.
    pub fn code(&self) -> i64 {
        match self {
            Self::Parse(_) => -32700,
            Self::Invalid(_) => -32600,
        }
    }

    /// `400` with a JSON-RPC error response without an id, as the Streamable HTTP transport
    /// allows for input the server cannot accept.
    pub fn into_response(self) -> Response {
        let code = self.code();
        let message = match self {
            Self::Parse(why) => format!("Parse error: {why}"),
            Self::Invalid(why) => format!("Invalid Request: {why}"),
        };
        sim_http::response::json(
            StatusCode::BAD_REQUEST,
            &json!({
                "jsonrpc": "2.0",
                "id": null,
                "error": { "code": code, "message": message },
            }),
        )
    }
}

/// Reads one JSON-RPC message (request, notification or response) and glances at it.
pub fn glance(body: &[u8]) -> Result<Glance, Unreadable> {
    let message = match form::json_value(body).map_err(Unreadable::Parse)? {
        Value::Object(message) => message,
        Value::Array(_) => return Err(Unreadable::Invalid("batches are not supported")),
        _ => return Err(Unreadable::Invalid("a message must be a JSON object")),
    };
    if message.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(Unreadable::Invalid(r#"jsonrpc must be "2.0""#));
    }
    let id = message.get("id");
    if id.is_some_and(|id| !id.is_string() && !id.is_i64() && !id.is_u64()) {
        return Err(Unreadable::Invalid("id must be a string or an integer"));
    }
    let method = match message.get("method") {
        Some(Value::String(method)) => method,
        None if id.is_some()
            && (message.contains_key("result") || message.contains_key("error")) =>
        {
            return Ok(Glance::default());
        }
        _ => return Err(Unreadable::Invalid("method must be a string")),
    };
    let tool = match message.get("params") {
        None => String::new(),
        Some(Value::Object(params)) => match params.get("name") {
            Some(Value::String(name)) => printable(name),
            _ => String::new(),
        },
        Some(_) => return Err(Unreadable::Invalid("params must be an object")),
    };
    Ok(Glance {
        method: printable(method),
        tool,
    })
}

/// Client-chosen strings reach the log line: keep them short and on one line.
fn printable(value: &str) -> String {
    value
        .chars()
        .take(64)
        .map(|ch| if ch.is_ascii_graphic() { ch } else { '?' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_method_and_tool() {
        let glance = glance(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}"#,
        )
        .unwrap();
        assert!(glance.is_tool_call());
        assert_eq!(glance.tool, "echo");
    }

    #[test]
    fn other_methods_and_garbage_are_not_tool_calls() {
        assert_eq!(
            glance(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
                .unwrap()
                .method,
            "tools/list"
        );
        assert_eq!(
            glance(br#"{"jsonrpc":"2.0","id":1,"result":{}}"#),
            Ok(Glance::default())
        );
    }

    #[test]
    fn garbage_is_a_parse_error_and_odd_messages_are_invalid_requests() {
        let code = |body: &[u8]| glance(body).unwrap_err().code();
        assert_eq!(code(b"not json"), -32700);
        assert_eq!(code(b""), -32700);
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call"}"#),
            -32700
        );
        assert_eq!(
            code(br#"[{"jsonrpc":"2.0","id":1,"method":"tools/call"}]"#),
            -32600
        );
        assert_eq!(code(br#"{"jsonrpc":"2.0","id":1,"method":42}"#), -32600);
        assert_eq!(
            code(br#"{"jsonrpc":"1.0","id":1,"method":"tools/list"}"#),
            -32600
        );
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":{},"method":"tools/list"}"#),
            -32600
        );
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":[]}"#),
            -32600
        );
        assert_eq!(code(b"42"), -32600);
    }

    #[test]
    fn log_hostile_strings_are_tamed() {
        let glance = glance(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call\n[oauth] fake","params":{"name":"a b"}}"#,
        )
        .unwrap();
        assert_eq!(glance.method, "tools/call?[oauth]?fake");
        assert_eq!(glance.tool, "a?b");
        assert!(!glance.is_tool_call());
    }
}

/// Property tests: any body is read or refused without panicking, and what a glance names is
/// what the message says.
#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 512,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn any_body_is_read_or_refused_without_panicking(body in prop::collection::vec(any::<u8>(), 0..256)) {
            if let Ok(glance) = glance(&body) {
                prop_assert!(glance.method.len() <= 64 && glance.tool.len() <= 64);
            }
        }

        #[test]
        fn a_tool_call_names_its_tool(name in "\\PC{0,80}", id in any::<i64>()) {
            let body = json!({
                "jsonrpc": "2.0",
                "id": id,
                "method": "tools/call",
                "params": {"name": name, "arguments": {}},
            });
            let glance = glance(body.to_string().as_bytes()).unwrap();
            prop_assert!(glance.is_tool_call());
            prop_assert_eq!(glance.tool, printable(&name));
        }
    }
}
