//! The control flips of a soak, and what they make expected.
//!
//! Each failure switch has a [`Window`]: opened just before the switch goes on, closed once the
//! call turning it off has been answered. A user stamps the window before a request; an error the
//! switch explains is expected only if the window was open, or opened, between the stamp and the
//! answer. Anything else is unexpected.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;
use serde_json::{Value, json};
use url::Url;

use super::Tally;
use crate::http::{Conn, Connector, origin_of, path_and_query, post};
use crate::{Error, Failure};

/// When one switch was on. See the module documentation.
#[derive(Debug, Default)]
pub struct Window {
    opened: AtomicU64,
    open: AtomicBool,
}

/// A window as a user saw it before a request.
#[derive(Clone, Copy, Debug)]
pub struct Stamp {
    opened: u64,
    open: bool,
}

impl Window {
    pub fn open(&self) {
        self.open.store(true, Ordering::SeqCst);
        self.opened.fetch_add(1, Ordering::SeqCst);
    }

    pub fn close(&self) {
        self.open.store(false, Ordering::SeqCst);
    }

    pub fn stamp(&self) -> Stamp {
        Stamp {
            opened: self.opened.load(Ordering::SeqCst),
            open: self.open.load(Ordering::SeqCst),
        }
    }

    /// Whether the switch was on at any time since `stamp`.
    pub fn since(&self, stamp: Stamp) -> bool {
        stamp.open
            || self.open.load(Ordering::SeqCst)
            || self.opened.load(Ordering::SeqCst) != stamp.opened
    }
}

/// The switches a soak flips, shared by every user.
#[derive(Debug, Default)]
pub struct Switches {
    /// `revoke-access`: access tokens issued before it answer 401.
    pub revoke: Window,
    /// `invalid-grant`: refresh grants answer `invalid_grant`.
    pub dead_refresh: Window,
    /// A fault rule: the token endpoint answers 503.
    pub token_fault: Window,
    /// `force-403`: tool calls answer 403 `insufficient_scope`.
    pub bad_scope: Window,
    /// A fault rule: tool calls answer 503.
    pub mcp_fault: Window,
}

/// Picks one window out of the switches.
type Pick = fn(&Switches) -> &Window;

/// One step of the flip cycle: which server, the call, and the window it opens or closes.
struct Step {
    mcp: bool,
    method: Method,
    path: &'static str,
    body: Value,
    window: Option<(Pick, Edge)>,
}

#[derive(Clone, Copy)]
enum Edge {
    /// Open before the call.
    Opens,
    /// Close after the answer.
    Closes,
    /// Open before, close after (an instant switch such as a revocation).
    Pulses,
}

fn step(mcp: bool, path: &'static str, body: Value) -> Step {
    Step {
        mcp,
        method: Method::POST,
        path,
        body,
        window: None,
    }
}

impl Step {
    fn toggles(mut self, window: Pick, edge: Edge) -> Self {
        self.window = Some((window, edge));
        self
    }

    fn delete(mut self) -> Self {
        self.method = Method::DELETE;
        self
    }
}

/// The cycle the flipper repeats: every switch on, then off again, one call per tick.
fn cycle() -> Vec<Step> {
    let tool_503 = json!({
        "endpoint": "mcp", "match": {"method": "tools/call"},
        "respond": {"status": 503, "error": "temporarily_unavailable"}, "times": 3,
    });
    let token_503 = json!({
        "endpoint": "token",
        "respond": {"status": 503, "error": "temporarily_unavailable"}, "times": 3,
    });
    vec![
        step(false, "/control/rotate", json!({"on": true})),
        step(false, "/control/expires-in", json!({"seconds": 2})),
        step(false, "/control/revoke-access", json!({})).toggles(|s| &s.revoke, Edge::Pulses),
        step(false, "/control/expires-in", json!({"seconds": 3600})),
        step(false, "/control/invalid-grant", json!({"on": true}))
            .toggles(|s| &s.dead_refresh, Edge::Opens),
        step(false, "/control/invalid-grant", json!({"on": false}))
            .toggles(|s| &s.dead_refresh, Edge::Closes),
        step(false, "/control/faults", token_503).toggles(|s| &s.token_fault, Edge::Opens),
        step(false, "/control/faults", Value::Null)
            .delete()
            .toggles(|s| &s.token_fault, Edge::Closes),
        step(true, "/control/force-403", json!({"on": true}))
            .toggles(|s| &s.bad_scope, Edge::Opens),
        step(true, "/control/force-403", json!({"on": false}))
            .toggles(|s| &s.bad_scope, Edge::Closes),
        step(true, "/control/faults", tool_503).toggles(|s| &s.mcp_fault, Edge::Opens),
        step(true, "/control/faults", Value::Null)
            .delete()
            .toggles(|s| &s.mcp_fault, Edge::Closes),
        step(false, "/control/rotate", json!({"on": false})),
    ]
}

/// Both control planes, over one keep-alive connection each.
pub struct Controls {
    auth: Conn,
    auth_base: String,
    mcp: Conn,
    mcp_base: String,
}

impl Controls {
    /// The control planes of the authorization server `issuer` and of the MCP server at
    /// `mcp_url`.
    pub fn new(connector: &Connector, issuer: &str, mcp_url: &Url) -> Result<Self, Error> {
        let issuer_url = Url::parse(issuer)
            .map_err(|error| Error::Protocol(format!("issuer '{issuer}': {error}")))?;
        Ok(Self {
            auth: Conn::new(origin_of(&issuer_url)?, connector.clone()),
            auth_base: path_and_query(&issuer_url).trim_end_matches('/').to_owned(),
            mcp: Conn::new(origin_of(mcp_url)?, connector.clone()),
            mcp_base: String::new(),
        })
    }

    pub fn requests(&self) -> u64 {
        self.auth.sent() + self.mcp.sent()
    }

    /// Sends one control call and returns its JSON answer; anything but 2xx is an error.
    pub async fn call(
        &mut self,
        mcp: bool,
        method: Method,
        path: &str,
        body: &Value,
    ) -> Result<Value, Failure> {
        let (conn, base) = if mcp {
            (&mut self.mcp, &self.mcp_base)
        } else {
            (&mut self.auth, &self.auth_base)
        };
        let target = format!("{base}{path}");
        let mut request = post(
            &target,
            "application/json",
            Bytes::from(if body.is_null() {
                String::new()
            } else {
                body.to_string()
            }),
        );
        *request.method_mut() = method;
        let key = format!("control:{path}");
        let reply = conn
            .send(request)
            .await
            .map_err(|error| Failure::new(format!("{key}:io"), error.to_string()))?;
        if !reply.status.is_success() {
            return Err(Failure::new(
                format!("{key}:{}", reply.status.as_u16()),
                reply.excerpt(),
            ));
        }
        serde_json::from_slice(&reply.body)
            .map_err(|error| Failure::new(format!("{key}:garbage"), error.to_string()))
    }

    /// The authorization server's `GET /control/state`.
    pub async fn auth_state(&mut self) -> Result<Value, Failure> {
        let path = "/control/state";
        let target = format!("{}{path}", self.auth_base);
        let reply = self
            .auth
            .send(crate::http::get(&target))
            .await
            .map_err(|error| Failure::new("state:io", error.to_string()))?;
        serde_json::from_slice(&reply.body)
            .map_err(|error| Failure::new("state:garbage", error.to_string()))
    }

    /// Every switch the soak flips back off, fault rules deleted.
    pub async fn all_off(&mut self) -> Result<(), Failure> {
        for (mcp, method, path, body) in [
            (false, Method::POST, "/control/rotate", json!({"on": false})),
            (
                false,
                Method::POST,
                "/control/expires-in",
                json!({"seconds": 3600}),
            ),
            (
                false,
                Method::POST,
                "/control/invalid-grant",
                json!({"on": false}),
            ),
            (false, Method::DELETE, "/control/faults", Value::Null),
            (
                true,
                Method::POST,
                "/control/force-403",
                json!({"on": false}),
            ),
            (true, Method::DELETE, "/control/faults", Value::Null),
        ] {
            self.call(mcp, method, path, &body).await?;
        }
        Ok(())
    }
}

/// Flips one switch every `every` until `until`, keeping the windows of [`Switches`] in step.
pub async fn flip(
    controls: &mut Controls,
    switches: &Switches,
    every: Duration,
    until: Instant,
    tally: &mut Tally,
) {
    let steps = cycle();
    let mut next = 0;
    while Instant::now() < until {
        let step = &steps[next % steps.len()];
        next += 1;
        let window = step.window.map(|(pick, edge)| (pick(switches), edge));
        if let Some((window, Edge::Opens | Edge::Pulses)) = window {
            window.open();
        }
        let answer = controls
            .call(step.mcp, step.method.clone(), step.path, &step.body)
            .await;
        if let Some((window, Edge::Closes | Edge::Pulses)) = window {
            window.close();
        }
        match answer {
            Ok(_) => tally.ok("flip"),
            Err(failure) => tally.fail(failure, false),
        }
        tokio::time::sleep(every).await;
    }
    // Leave no switch on for the users still finishing their last operation.
    for step in &steps {
        if let Some((pick, Edge::Closes)) = step.window {
            match controls
                .call(step.mcp, step.method.clone(), step.path, &step.body)
                .await
            {
                Ok(_) => tally.ok("flip"),
                Err(failure) => tally.fail(failure, false),
            }
            pick(switches).close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_covers_requests_that_overlapped_it() {
        let window = Window::default();
        let before = window.stamp();
        assert!(!window.since(before), "nothing happened");
        window.open();
        let during = window.stamp();
        assert!(window.since(before), "opened after the stamp");
        window.close();
        assert!(window.since(during), "open at the stamp");
        assert!(window.since(before), "opened and closed since the stamp");
        assert!(!window.since(window.stamp()), "closed before the stamp");
    }

    #[test]
    fn every_window_the_cycle_opens_it_also_closes() {
        let switches = Switches::default();
        for step in cycle() {
            if let Some((pick, edge)) = step.window {
                match edge {
                    Edge::Opens => pick(&switches).open(),
                    Edge::Closes => pick(&switches).close(),
                    Edge::Pulses => {}
                }
            }
        }
        for window in [
            &switches.revoke,
            &switches.dead_refresh,
            &switches.token_fault,
            &switches.bad_scope,
            &switches.mcp_fault,
        ] {
            assert!(!window.stamp().open);
        }
    }
}
