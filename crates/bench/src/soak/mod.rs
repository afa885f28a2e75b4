//! The soak: many mixed users against the rig for a bounded time while its switches flip, then
//! the clock past every expiry, to see that nothing fails unexpectedly and that memory comes back.
//!
//! - [`user`]: one client's loop (discovery, registration, authorization, tool calls, refreshes).
//! - [`switches`]: the control flips, and the windows that make an error expected.
//! - [`rss`]: resident memory of the server process.
//!
//! One of the users is the flipper: every `flip_every` it flips one switch (rotation, a short
//! access-token lifetime, revocation, a dead refresh token, a 503 fault on `/token`, `force-403`,
//! a 503 fault on tool calls) and later flips it back. An error a switch explains — a 401 after a
//! revocation or on an expired token, `invalid_grant` while refresh tokens are dead, a 503 while
//! a fault rule is in place, a 403 while `force-403` is on — is counted as expected; every other
//! error is unexpected.
//!
//! After the load, every switch goes off, the authorization server's clock moves past the
//! longest lifetime (refresh tokens, 30 days), and the soak waits for the sweeper to empty the
//! store before reading the final RSS. The clock is then reset.

pub mod rss;
pub mod switches;
pub mod user;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::Method;
use serde_json::json;
use url::Url;

use crate::http::Connector;
use crate::{Error, Failure, discovery};
use switches::{Controls, Switches};
use user::User;

/// How a soak runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Users at once, the flipper included (at least 2).
    pub users: usize,
    /// How long the load lasts.
    pub duration: Duration,
    /// The pause between two control flips.
    pub flip_every: Duration,
    /// How long to wait, after the clock moved, for the store to be swept empty.
    pub settle_timeout: Duration,
    /// How long after the store empties the rig is left alone before its last RSS reading:
    /// what a burst held besides its tokens (idle connections) goes once the rig is quiet.
    pub quiet: Duration,
    /// One operation taking longer fails as `timeout`.
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            users: 64,
            duration: Duration::from_secs(60),
            flip_every: Duration::from_millis(250),
            settle_timeout: Duration::from_secs(40),
            // The rig's sweeper runs every 15 s and hands memory back on the tick after a
            // large sweep too.
            quiet: Duration::from_secs(16),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Operations and errors of some users, merged into one at the end.
#[derive(Debug, Default)]
pub struct Tally {
    /// Successful operations by kind: `call`, `open`, `refresh`, `authorize`, `flip`.
    pub ok: BTreeMap<&'static str, u64>,
    /// Errors a switch explains, by kind (`call:401`, `refresh:400:invalid_grant`, …).
    pub expected: BTreeMap<String, u64>,
    /// Every other error, by kind.
    pub unexpected: BTreeMap<String, u64>,
    /// The first detail of each unexpected kind.
    pub samples: BTreeMap<String, String>,
    /// HTTP requests sent.
    pub requests: u64,
}

impl Tally {
    pub fn ok(&mut self, operation: &'static str) {
        *self.ok.entry(operation).or_default() += 1;
    }

    pub fn fail(&mut self, failure: Failure, expected: bool) {
        // A bare status is a tool call's.
        let key = if failure.key.starts_with(|ch: char| ch.is_ascii_digit()) {
            format!("call:{}", failure.key)
        } else {
            failure.key
        };
        if expected {
            *self.expected.entry(key).or_default() += 1;
        } else {
            *self.unexpected.entry(key.clone()).or_default() += 1;
            self.samples.entry(key).or_insert(failure.detail);
        }
    }

    fn merge(&mut self, other: Tally) {
        for (key, count) in other.ok {
            *self.ok.entry(key).or_default() += count;
        }
        for (key, count) in other.expected {
            *self.expected.entry(key).or_default() += count;
        }
        for (key, count) in other.unexpected {
            *self.unexpected.entry(key).or_default() += count;
        }
        for (key, sample) in other.samples {
            self.samples.entry(key).or_insert(sample);
        }
        self.requests += other.requests;
    }

    pub fn unexpected_count(&self) -> u64 {
        self.unexpected.values().sum()
    }

    pub fn expected_count(&self) -> u64 {
        self.expected.values().sum()
    }
}

/// What a soak saw.
#[derive(Debug)]
pub struct Report {
    pub users: usize,
    /// How long the load lasted.
    pub elapsed: Duration,
    pub tally: Tally,
    /// The process whose memory was measured.
    pub pid: u32,
    /// RSS in bytes before the load, its peak during it, right after it, once the store was
    /// swept, and after the quiet time that follows (`None` where `/proc` does not say).
    pub rss_start: Option<u64>,
    pub rss_peak: Option<u64>,
    pub rss_loaded: Option<u64>,
    pub rss_end: Option<u64>,
    pub rss_quiet: Option<u64>,
    /// The quiet time.
    pub quiet: Duration,
    /// Tokens in the authorization server's memory right after the load, and at the end.
    pub tokens_loaded: u64,
    pub tokens_end: u64,
    /// How long the sweep took once the clock had moved.
    pub settled_after: Duration,
}

impl Report {
    pub fn to_text(&self) -> String {
        let tally = &self.tally;
        let seconds = self.elapsed.as_secs_f64();
        let mut out = format!(
            "soak: {users} users (one flipping switches) for {seconds:.1} s\n\
             requests {requests} ({rate:.0}/s)\n\
             ok: {ok}\n\
             expected errors (explained by a switch): {expected_total} {expected}\n\
             unexpected errors: {unexpected_total} {unexpected}\n",
            users = self.users,
            requests = tally.requests,
            rate = tally.requests as f64 / seconds.max(f64::EPSILON),
            ok = list(
                tally
                    .ok
                    .iter()
                    .map(|(key, count)| (key.to_string(), *count))
            ),
            expected_total = tally.expected_count(),
            expected = list(tally.expected.iter().map(|(k, c)| (k.clone(), *c))),
            unexpected_total = tally.unexpected_count(),
            unexpected = list(tally.unexpected.iter().map(|(k, c)| (k.clone(), *c))),
        );
        for (key, sample) in &tally.samples {
            let _ = writeln!(out, "  {key}: {sample}");
        }
        let _ = writeln!(
            out,
            "RSS MB (pid {pid}): start {start}, peak {peak}, after the load {loaded}, \
             end {end}, quiet {quiet} ({quiet_seconds:.0} s later)\n\
             tokens held: {loaded_tokens} after the load, {end_tokens} at the end \
             (swept {settled:.1} s after the clock passed every expiry)",
            pid = self.pid,
            start = megabytes(self.rss_start),
            peak = megabytes(self.rss_peak),
            loaded = megabytes(self.rss_loaded),
            end = megabytes(self.rss_end),
            quiet = megabytes(self.rss_quiet),
            quiet_seconds = self.quiet.as_secs_f64(),
            loaded_tokens = self.tokens_loaded,
            end_tokens = self.tokens_end,
            settled = self.settled_after.as_secs_f64(),
        );
        out
    }
}

fn list(items: impl Iterator<Item = (String, u64)>) -> String {
    let items: Vec<String> = items.map(|(key, count)| format!("{key} {count}")).collect();
    if items.is_empty() {
        "(none)".to_owned()
    } else {
        format!("({})", items.join(", "))
    }
}

fn megabytes(bytes: Option<u64>) -> String {
    bytes.map_or_else(
        || "n/a".to_owned(),
        |bytes| format!("{:.1}", bytes as f64 / 1_000_000.0),
    )
}

/// Soaks the rig whose MCP endpoint is `mcp_url`, measuring the memory of process `pid` (the
/// rig's, or this one's when the rig runs in-process). The control planes must be open (no
/// control token).
pub async fn run(
    connector: &Connector,
    mcp_url: &Url,
    pid: u32,
    options: &Options,
) -> Result<Report, Error> {
    if options.users < 2 {
        return Err(Error::Usage("a soak needs at least 2 users".into()));
    }
    let discovered = discovery::discover(connector, mcp_url).await?;
    let mut controls = Controls::new(connector, &discovered.issuer, mcp_url)?;
    controls.all_off().await?;
    let switches = Arc::new(Switches::default());

    let rss_start = rss::read(pid);
    let sampler = rss::Sampler::start(pid);
    let started = Instant::now();
    let until = started + options.duration;
    let mut users = tokio::task::JoinSet::new();
    for _ in 1..options.users {
        let (connector, mcp_url, switches) =
            (connector.clone(), mcp_url.clone(), Arc::clone(&switches));
        let timeout = options.timeout;
        users.spawn(async move {
            let mut tally = Tally::default();
            match User::join(&connector, &mcp_url, switches, timeout).await {
                Ok(mut user) => {
                    user.run(until, &mut tally).await;
                    tally.requests += user.requests();
                }
                Err(failure) => tally.fail(failure, false),
            }
            tally
        });
    }
    let mut tally = Tally::default();
    switches::flip(
        &mut controls,
        &switches,
        options.flip_every,
        until,
        &mut tally,
    )
    .await;
    while let Some(joined) = users.join_next().await {
        match joined {
            Ok(user) => tally.merge(user),
            Err(error) => tally.fail(Failure::new("panic", error.to_string()), false),
        }
    }
    let elapsed = started.elapsed();
    let rss_peak = sampler.peak().await;
    let rss_loaded = rss::read(pid);

    let tokens_loaded = stored_tokens(&mut controls).await?;
    let (settled_after, tokens_end) = settle(&mut controls, options.settle_timeout).await?;
    // The authorization server hands freed memory back to the OS just after a large sweep, on a
    // blocking thread; reading RSS the moment the store is empty would see the heap before that.
    tokio::time::sleep(RELEASE_GRACE).await;
    let rss_end = rss::read(pid);
    tokio::time::sleep(options.quiet).await;
    tally.requests += controls.requests();
    Ok(Report {
        users: options.users,
        elapsed,
        tally,
        pid,
        rss_start,
        rss_peak: rss_peak.max(rss_loaded),
        rss_loaded,
        rss_end,
        rss_quiet: rss::read(pid),
        quiet: options.quiet,
        tokens_loaded,
        tokens_end,
        settled_after,
    })
}

/// How long after the store empties the end RSS is read.
const RELEASE_GRACE: Duration = Duration::from_secs(1);

/// Tokens the authorization server holds, expired but unswept ones included.
async fn stored_tokens(controls: &mut Controls) -> Result<u64, Error> {
    let state = controls.auth_state().await?;
    state["stored"]["tokens"].as_u64().ok_or_else(|| {
        Error::Protocol("the authorization server's state has no stored.tokens".into())
    })
}

/// Every switch off, the clock past the longest lifetime, then waiting (at most `timeout`) for
/// the sweeper to empty the store; the clock is reset after. Says how long the sweep took and
/// how many tokens were left.
async fn settle(controls: &mut Controls, timeout: Duration) -> Result<(Duration, u64), Error> {
    controls.all_off().await?;
    let month_and_a_day = 31 * 24 * 3600;
    controls
        .call(
            false,
            Method::POST,
            "/control/clock",
            &json!({"advance_seconds": month_and_a_day}),
        )
        .await?;
    let moved = Instant::now();
    let mut left = stored_tokens(controls).await?;
    while left > 0 && moved.elapsed() < timeout {
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = stored_tokens(controls).await?;
    }
    let settled_after = moved.elapsed();
    controls
        .call(
            false,
            Method::POST,
            "/control/clock",
            &json!({"reset": true}),
        )
        .await?;
    Ok((settled_after, left))
}
