//! What a [`Control`] sends, recorded: the dashboard shows every change it made as the `curl`
//! lines of the control calls really sent, so the lines cannot drift from what the page did.
//!
//! ```
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let sim = mcp_oauth_sim::Sim::builder().start().await?;
//! let (control, recorder) = sim.control().recording();
//! control.rotate_refresh_tokens(true).await?;
//! let sent = recorder.take();
//! assert_eq!(sent.len(), 1);
//! assert!(sent[0].curl(false).ends_with(r#"/control/rotate -d '{"on":true}'"#));
//! # Ok(()) }
//! ```

use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::Value;

use super::Control;

/// One control call that changes something (anything but a `GET`), as sent.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sent {
    /// `POST` or `DELETE`.
    pub method: String,
    /// The whole URL called.
    pub url: String,
    /// The JSON body, if the call had one.
    pub body: Option<Value>,
}

impl Sent {
    /// The call as a shell line: `curl -s -XPOST URL -d 'JSON'`; with `token`, the control
    /// token is sent from `$CONTROL_TOKEN` (never the token itself).
    pub fn curl(&self, token: bool) -> String {
        let mut line = format!("curl -s -X{} {}", self.method, quote(&self.url));
        if token {
            line.push_str(" -H \"Authorization: Bearer $CONTROL_TOKEN\"");
        }
        if let Some(body) = &self.body {
            line.push_str(" -d ");
            line.push_str(&quote(&body.to_string()));
        }
        line
    }
}

/// A word as the shell reads it back unchanged: as it is when it holds only safe characters,
/// else in single quotes.
pub fn quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_./:=+,@%".contains(&byte));
    if safe {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The calls a recording [`Control`] and its clones sent, oldest first.
#[derive(Clone, Debug, Default)]
pub struct Recorder(Arc<Mutex<Vec<Sent>>>);

impl Recorder {
    /// Every call recorded so far, emptying the record.
    pub fn take(&self) -> Vec<Sent> {
        std::mem::take(&mut *self.lock())
    }

    pub(super) fn record(&self, sent: Sent) {
        let mut sent_so_far = self.lock();
        // A page's action is a few calls; a bound keeps a forgotten recorder small.
        if sent_so_far.len() < 256 {
            sent_so_far.push(sent);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Sent>> {
        // A poisoned lock only means a panic elsewhere mid-push.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Control {
    /// A clone of this client that records every call it (or a clone of it) sends that is not
    /// a `GET`, and the record.
    pub fn recording(&self) -> (Control, Recorder) {
        let recorder = Recorder::default();
        let control = Control {
            recorder: Some(recorder.clone()),
            ..self.clone()
        };
        (control, recorder)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_call_prints_as_a_curl_line_with_its_body_quoted() {
        let sent = Sent {
            method: "POST".into(),
            url: "http://localhost:9100/control/fault".into(),
            body: Some(json!({"note": "it's"})),
        };
        assert_eq!(
            sent.curl(true),
            r#"curl -s -XPOST http://localhost:9100/control/fault -H "Authorization: Bearer $CONTROL_TOKEN" -d '{"note":"it'\''s"}'"#
        );
        let bare = Sent {
            method: "DELETE".into(),
            url: "http://localhost:9101/control/faults/3".into(),
            body: None,
        };
        assert_eq!(
            bare.curl(false),
            "curl -s -XDELETE http://localhost:9101/control/faults/3"
        );
    }

    #[test]
    fn words_are_quoted_only_when_the_shell_would_change_them() {
        assert_eq!(quote("+30"), "+30");
        assert_eq!(quote("auth/iss-supported"), "auth/iss-supported");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("$HOME"), "'$HOME'");
        assert_eq!(quote(r#"{"x":1}"#), r#"'{"x":1}'"#);
    }
}
