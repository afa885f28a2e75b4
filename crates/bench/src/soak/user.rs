//! One soak user: a public client that discovers the rig, registers, authorizes, and then keeps
//! calling tools, refreshing and authorizing again, the way a well-behaved MCP client does —
//! a 401 makes it refresh, a dead refresh token makes it authorize again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use url::Url;

use super::Tally;
use super::switches::{Stamp, Switches};
use crate::Failure;
use crate::discovery;
use crate::http::{Conn, Connector, origin_of, path_and_query};
use crate::mcp::Caller;
use crate::oauth::{self, Authorizer, Grant};

/// The access token a user holds, and what it needs to judge a 401 on it.
struct Held {
    /// The revocation window when the token was asked for.
    revoke: Stamp,
    /// When it expires at the latest, by this side's clock (measured from before the request).
    deadline: Option<Instant>,
}

pub struct User {
    authorizer: Authorizer,
    caller: Caller,
    mcp: Conn,
    switches: Arc<Switches>,
    held: Option<Held>,
    refresh: Option<String>,
    opened: bool,
    timeout: Duration,
    /// Requests of discovery and registration.
    setup_requests: u64,
}

impl User {
    /// Discovery and registration: a new client, as an MCP client meeting the server first.
    pub async fn join(
        connector: &Connector,
        mcp_url: &Url,
        switches: Arc<Switches>,
        timeout: Duration,
    ) -> Result<Self, Failure> {
        let setup = async {
            let discovered = discovery::discover(connector, mcp_url)
                .await
                .map_err(|error| Failure::new("discovery", error.to_string()))?;
            let endpoint = discovered
                .registration_endpoint
                .clone()
                .ok_or_else(|| Failure::new("register", "no registration endpoint"))?;
            let registration = oauth::register(connector, &endpoint, oauth::REDIRECT_URI)
                .await
                .map_err(|error| Failure::new("register", error.to_string()))?;
            let authorizer = Authorizer::new(connector, discovered, registration)
                .map_err(|error| Failure::new("usage", error.to_string()))?;
            Ok::<_, Failure>(authorizer)
        };
        let authorizer = tokio::time::timeout(timeout, setup)
            .await
            .unwrap_or_else(|_| Err(Failure::new("register:timeout", "setup took too long")))?;
        let origin =
            origin_of(mcp_url).map_err(|error| Failure::new("usage", error.to_string()))?;
        let tool_call =
            crate::mcp::tool_call_prefix("echo", &serde_json::json!({"message": "soak"}));
        Ok(Self {
            authorizer,
            caller: Caller::new(&path_and_query(mcp_url), "none-yet", tool_call)?,
            mcp: Conn::new(origin, connector.clone()),
            switches,
            held: None,
            refresh: None,
            opened: false,
            timeout,
            // The 401 challenge, two metadata documents, the registration.
            setup_requests: 4,
        })
    }

    /// HTTP requests this user sent.
    pub fn requests(&self) -> u64 {
        self.setup_requests + self.authorizer.requests() + self.mcp.sent()
    }

    /// Operations until `until`: tool calls mostly, refreshes, and new authorizations.
    pub async fn run(&mut self, until: Instant, tally: &mut Tally) {
        while Instant::now() < until {
            let roll = rand::rng().random_range(0..100);
            match (&self.held, &self.refresh) {
                (None, Some(_)) => self.refresh(tally).await,
                (None, None) => self.authorize(tally).await,
                (Some(_), _) if roll < 70 => self.call(tally).await,
                (Some(_), Some(_)) if roll < 88 => self.refresh(tally).await,
                (Some(_), _) => self.authorize(tally).await,
            }
        }
    }

    /// A new authorization: `/authorize` and the code exchange.
    async fn authorize(&mut self, tally: &mut Tally) {
        let revoke = self.switches.revoke.stamp();
        let fault = self.switches.token_fault.stamp();
        let asked = Instant::now();
        match Failure::within(self.timeout, self.authorizer.grant()).await {
            Ok(grant) => {
                self.keep(grant, revoke, asked, tally);
                tally.ok("authorize");
            }
            Err(failure) => {
                let expected = failure.key == "token:503" && self.switches.token_fault.since(fault);
                self.after_transport_failure(&failure).await;
                tally.fail(failure, expected);
            }
        }
    }

    async fn refresh(&mut self, tally: &mut Tally) {
        let Some(token) = self.refresh.clone() else {
            return;
        };
        let revoke = self.switches.revoke.stamp();
        let dead = self.switches.dead_refresh.stamp();
        let fault = self.switches.token_fault.stamp();
        let asked = Instant::now();
        match Failure::within(self.timeout, self.authorizer.refresh(&token)).await {
            Ok(grant) => {
                self.keep(grant, revoke, asked, tally);
                tally.ok("refresh");
            }
            Err(failure) => {
                let expected = match failure.key.as_str() {
                    "refresh:400:invalid_grant" => self.switches.dead_refresh.since(dead),
                    "refresh:503:temporarily_unavailable" => self.switches.token_fault.since(fault),
                    _ => false,
                };
                if failure.key == "refresh:400:invalid_grant" {
                    // A dead refresh token: authorize again, as a client must.
                    self.refresh = None;
                    self.held = None;
                }
                self.after_transport_failure(&failure).await;
                tally.fail(failure, expected);
            }
        }
    }

    /// A token response: the new access token for the calls, and the newest refresh token (the
    /// old one is dead when the server rotates).
    fn keep(&mut self, grant: Grant, revoke: Stamp, asked: Instant, tally: &mut Tally) {
        if let Err(failure) = self.caller.authorize(&grant.access_token) {
            tally.fail(failure, false);
            return;
        }
        if grant.refresh_token.is_some() {
            self.refresh = grant.refresh_token;
        }
        self.held = Some(Held {
            revoke,
            deadline: grant
                .expires_in
                .map(|seconds| asked + Duration::from_secs(seconds)),
        });
    }

    /// A `tools/call` (after `initialize`, the first time).
    async fn call(&mut self, tally: &mut Tally) {
        let bad_scope = self.switches.bad_scope.stamp();
        let fault = self.switches.mcp_fault.stamp();
        let operation = if self.opened { "call" } else { "open" };
        let outcome = if self.opened {
            Failure::within(self.timeout, self.caller.call(&mut self.mcp)).await
        } else {
            let opened = Failure::within(self.timeout, self.caller.open(&mut self.mcp)).await;
            self.opened = opened.is_ok();
            opened
        };
        let failure = match outcome {
            Ok(()) => {
                tally.ok(operation);
                return;
            }
            Err(failure) => failure,
        };
        let status = failure.key.rsplit(':').next().unwrap_or_default();
        let expected = match status {
            "401" => {
                let now = Instant::now();
                let held = self.held.take();
                held.is_some_and(|held| {
                    self.switches.revoke.since(held.revoke)
                        || held.deadline.is_some_and(|deadline| now >= deadline)
                })
            }
            "403" => self.switches.bad_scope.since(bad_scope),
            "503" => self.switches.mcp_fault.since(fault),
            _ => false,
        };
        if failure.is_transport() {
            self.mcp.reset();
        }
        tally.fail(failure, expected);
    }

    async fn after_transport_failure(&mut self, failure: &Failure) {
        if failure.is_transport() {
            self.authorizer.reset();
            // A server that is down refuses at once: do not spin.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}
