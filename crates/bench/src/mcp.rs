//! MCP over Streamable HTTP, as much as a benchmark needs: a session (for servers that keep
//! one, `initialize` then `Mcp-Session-Id` on every request; stateless servers send no id),
//! `tools/call` requests, and answers that come as JSON or as a server-sent event stream.

use std::borrow::Cow;

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Request, StatusCode, Uri};
use http_body_util::Full;
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::Failure;
use crate::http::Conn;

/// What a Streamable HTTP client accepts.
pub const ACCEPT: &str = "application/json, text/event-stream";
/// The protocol version offered at `initialize`.
pub const PROTOCOL_VERSION: &str = "2025-06-18";
pub const SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");
pub const PROTOCOL_VERSION_HEADER: HeaderName = HeaderName::from_static("mcp-protocol-version");

/// The `initialize` request a client opens with.
pub fn initialize_body() -> String {
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": { "name": "sim-bench", "version": env!("CARGO_PKG_VERSION") },
        },
    })
    .to_string()
}

/// What a session adds to each request.
#[derive(Clone, Debug)]
pub struct Session {
    /// `None` for a stateless server.
    pub id: Option<HeaderValue>,
    pub protocol_version: HeaderValue,
}

/// Builds the requests of one worker: the path, the bearer token and the session are fixed,
/// the JSON-RPC id counts up.
pub struct Caller {
    uri: Uri,
    authorization: HeaderValue,
    session: Session,
    /// The `tools/call` body up to its id, which comes last.
    call_prefix: Bytes,
    next_id: u64,
}

impl Caller {
    /// `tool_call_prefix` is what [`tool_call_prefix`] made.
    pub fn new(path: &str, token: &str, tool_call_prefix: Bytes) -> Result<Self, Failure> {
        Ok(Self {
            uri: path
                .parse()
                .map_err(|_| Failure::new("usage", format!("bad path {path}")))?,
            authorization: bearer(token)?,
            session: Session {
                id: None,
                protocol_version: HeaderValue::from_static(PROTOCOL_VERSION),
            },
            call_prefix: tool_call_prefix,
            next_id: 1,
        })
    }

    /// Uses another token from now on (a new flow's).
    pub fn authorize(&mut self, token: &str) -> Result<(), Failure> {
        self.authorization = bearer(token)?;
        Ok(())
    }

    /// `initialize` and `notifications/initialized`: the session, if the server keeps one, and
    /// the protocol version it chose.
    pub async fn open(&mut self, conn: &mut Conn) -> Result<(), Failure> {
        let reply = conn
            .send(self.request(Bytes::from(initialize_body())))
            .await
            .map_err(|error| Failure::transport("initialize", error))?;
        if reply.status != StatusCode::OK {
            return Err(Failure::new(
                format!("initialize:{}", reply.status.as_u16()),
                reply.excerpt(),
            ));
        }
        let message = response_message(reply.header(header::CONTENT_TYPE), &reply.body)
            .map_err(|detail| Failure::new("initialize:garbage", detail))?;
        #[derive(Deserialize)]
        struct Initialized {
            result: InitializeResult,
        }
        #[derive(Deserialize)]
        struct InitializeResult {
            // Required of a server; the ceiling endpoint answers everything with a tool result.
            #[serde(rename = "protocolVersion", default)]
            protocol_version: Option<String>,
        }
        let initialized: Initialized = serde_json::from_slice(&message)
            .map_err(|error| Failure::new("initialize:garbage", error.to_string()))?;
        self.session = Session {
            id: reply.headers.get(SESSION_ID).cloned(),
            protocol_version: match initialized.result.protocol_version {
                Some(version) => HeaderValue::from_str(&version)
                    .map_err(|_| Failure::new("initialize:garbage", "bad protocolVersion"))?,
                None => HeaderValue::from_static(PROTOCOL_VERSION),
            },
        };
        let notification = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        let reply = conn
            .send(self.request(Bytes::from_static(notification.as_bytes())))
            .await
            .map_err(|error| Failure::transport("initialized", error))?;
        if !reply.status.is_success() {
            return Err(Failure::new(
                format!("initialized:{}", reply.status.as_u16()),
                reply.excerpt(),
            ));
        }
        Ok(())
    }

    /// Sends one `tools/call` and checks that it succeeded.
    pub async fn call(&mut self, conn: &mut Conn) -> Result<(), Failure> {
        let id = self.next_id;
        self.next_id += 1;
        let mut body = Vec::with_capacity(self.call_prefix.len() + 21);
        body.extend_from_slice(&self.call_prefix);
        body.extend_from_slice(id.to_string().as_bytes());
        body.push(b'}');
        let reply = conn
            .send(self.request(Bytes::from(body)))
            .await
            .map_err(|error| Failure::transport("", error))?;
        if reply.status != StatusCode::OK {
            return Err(Failure::new(
                reply.status.as_u16().to_string(),
                reply.excerpt(),
            ));
        }
        check_tool_result(reply.header(header::CONTENT_TYPE), &reply.body)
    }

    fn request(&self, body: Bytes) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = self.uri.clone();
        let headers = request.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::ACCEPT, HeaderValue::from_static(ACCEPT));
        headers.insert(header::AUTHORIZATION, self.authorization.clone());
        headers.insert(
            PROTOCOL_VERSION_HEADER,
            self.session.protocol_version.clone(),
        );
        if let Some(id) = &self.session.id {
            headers.insert(SESSION_ID, id.clone());
        }
        request
    }
}

fn bearer(token: &str) -> Result<HeaderValue, Failure> {
    HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| Failure::new("usage", "the token is not a valid header value"))
}

/// The `tools/call` request for `tool` with `arguments` (a JSON object), up to the id: the body
/// is this, the id, and `}`.
pub fn tool_call_prefix(tool: &str, arguments: &serde_json::Value) -> Bytes {
    let name = serde_json::Value::from(tool);
    Bytes::from(format!(
        r#"{{"jsonrpc":"2.0","method":"tools/call","params":{{"name":{name},"arguments":{arguments}}},"id":"#
    ))
}

/// Whether a `tools/call` answer is a successful result: a JSON-RPC error counts as
/// `rpc-error`, a tool result flagged `isError` as `tool-error`.
pub fn check_tool_result(content_type: Option<&str>, body: &[u8]) -> Result<(), Failure> {
    let message =
        response_message(content_type, body).map_err(|detail| Failure::new("garbage", detail))?;
    let response: Response = serde_json::from_slice(&message)
        .map_err(|error| Failure::new("garbage", error.to_string()))?;
    match response {
        Response { error: Some(_), .. } => Err(Failure::new(
            "rpc-error",
            String::from_utf8_lossy(&message).into_owned(),
        )),
        Response {
            result: Some(ToolResult { is_error: true }),
            ..
        } => Err(Failure::new(
            "tool-error",
            String::from_utf8_lossy(&message).into_owned(),
        )),
        Response {
            result: Some(_), ..
        } => Ok(()),
        Response { .. } => Err(Failure::new("garbage", "neither result nor error")),
    }
}

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    result: Option<ToolResult>,
    #[serde(default)]
    error: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct ToolResult {
    #[serde(rename = "isError", default)]
    is_error: bool,
}

/// The JSON-RPC response in an answer: the body itself when it is JSON, or the first event of
/// a `text/event-stream` whose data is a response (requests and notifications the server sends
/// on the stream before it are skipped).
pub fn response_message<'a>(
    content_type: Option<&str>,
    body: &'a [u8],
) -> Result<Cow<'a, [u8]>, String> {
    let is_stream = content_type.is_some_and(|value| {
        value
            .split(';')
            .next()
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("text/event-stream"))
    });
    if !is_stream {
        return Ok(Cow::Borrowed(body));
    }
    let text = std::str::from_utf8(body).map_err(|_| "the event stream is not UTF-8")?;
    let mut data = String::new();
    // A final blank line ends the last event even if the server left it out.
    for line in text.split('\n').chain(std::iter::once("")) {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            if !data.is_empty() && is_response(&data) {
                return Ok(Cow::Owned(data.into_bytes()));
            }
            data.clear();
        } else if let Some(value) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(value.strip_prefix(' ').unwrap_or(value));
        }
    }
    Err("the event stream carries no JSON-RPC response".to_owned())
}

fn is_response(data: &str) -> bool {
    #[derive(Deserialize)]
    struct Message {
        #[serde(default)]
        id: Option<IgnoredAny>,
        #[serde(default)]
        method: Option<IgnoredAny>,
    }
    serde_json::from_str::<Message>(data)
        .is_ok_and(|message| message.id.is_some() && message.method.is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"{"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"hi"}],"isError":false}}"#;

    #[test]
    fn json_answers_are_checked_for_errors() {
        assert!(check_tool_result(Some("application/json"), OK.as_bytes()).is_ok());
        let no_flag = r#"{"jsonrpc":"2.0","id":3,"result":{"content":[]}}"#;
        assert!(check_tool_result(None, no_flag.as_bytes()).is_ok());
        let tool_error = r#"{"jsonrpc":"2.0","id":3,"result":{"content":[],"isError":true}}"#;
        assert_eq!(
            check_tool_result(None, tool_error.as_bytes())
                .unwrap_err()
                .key,
            "tool-error"
        );
        let rpc_error = r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"x"}}"#;
        assert_eq!(
            check_tool_result(None, rpc_error.as_bytes())
                .unwrap_err()
                .key,
            "rpc-error"
        );
        assert_eq!(
            check_tool_result(None, b"<html>").unwrap_err().key,
            "garbage"
        );
    }

    #[test]
    fn event_streams_yield_the_response_after_notifications() {
        let stream = format!(
            "event: message\r\ndata: {{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{{}}}}\r\n\r\n\
             event: message\nid: 17\ndata: {OK}\n\n"
        );
        let message = response_message(Some("text/event-stream"), stream.as_bytes()).unwrap();
        assert_eq!(&*message, OK.as_bytes());
        assert!(
            check_tool_result(Some("text/event-stream; charset=utf-8"), stream.as_bytes()).is_ok()
        );
    }

    #[test]
    fn event_data_may_span_lines_and_lack_the_final_blank_line() {
        let stream = "data: {\"jsonrpc\":\"2.0\",\ndata: \"id\":1,\"result\":{}}";
        let message = response_message(Some("text/event-stream"), stream.as_bytes()).unwrap();
        assert_eq!(&*message, b"{\"jsonrpc\":\"2.0\",\n\"id\":1,\"result\":{}}");
        assert!(response_message(Some("text/event-stream"), b": keep-alive\n\n").is_err());
    }

    #[test]
    fn tool_call_bodies_end_with_the_id() {
        let prefix = tool_call_prefix("echo", &serde_json::json!({"message": "a\"b"}));
        let body = [&prefix[..], b"42}"].concat();
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["id"], 42);
        assert_eq!(value["method"], "tools/call");
        assert_eq!(value["params"]["name"], "echo");
        assert_eq!(value["params"]["arguments"]["message"], "a\"b");
    }
}
