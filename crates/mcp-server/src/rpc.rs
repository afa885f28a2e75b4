//! A glance at a JSON-RPC body before rmcp reads it: which method, which tool. Fault rules and
//! per-tool scopes match on them, and the log line and the journal name both. Anything
//! unreadable is left for rmcp to refuse with its own error.

use serde::Deserialize;

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

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    params: Option<Params>,
}

#[derive(Deserialize)]
struct Params {
    #[serde(default)]
    name: Option<serde_json::Value>,
}

pub fn glance(body: &[u8]) -> Glance {
    let Ok(message) = serde_json::from_slice::<Message>(body) else {
        return Glance::default();
    };
    let tool = match message.params.and_then(|params| params.name) {
        Some(serde_json::Value::String(name)) => printable(&name),
        _ => String::new(),
    };
    Glance {
        method: message.method.as_deref().map(printable).unwrap_or_default(),
        tool,
    }
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
        );
        assert!(glance.is_tool_call());
        assert_eq!(glance.tool, "echo");
    }

    #[test]
    fn other_methods_and_garbage_are_not_tool_calls() {
        assert_eq!(
            glance(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#).method,
            "tools/list"
        );
        assert_eq!(glance(b"not json"), Glance::default());
        assert_eq!(glance(br#"[{"method":"tools/call"}]"#), Glance::default());
        assert!(!glance(br#"{"method":42}"#).is_tool_call());
    }

    #[test]
    fn log_hostile_strings_are_tamed() {
        let glance = glance(br#"{"method":"tools/call\n[oauth] fake","params":{"name":"a b"}}"#);
        assert_eq!(glance.method, "tools/call?[oauth]?fake");
        assert_eq!(glance.tool, "a?b");
        assert!(!glance.is_tool_call());
    }
}
