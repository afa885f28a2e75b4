//! End-to-end tests of the launcher: the binary as a person runs it (`serve`, `certs`,
//! `scenario`, configuration, signals, failures) and the `Sim` library face. One test binary, so
//! the crate links once.
//!
//! # Layout
//! - `support`: fresh working directories, the binary as a child process, and a stand-in for
//!   the client under test.
//! - `binary`: ready lines, request log lines, `.env` and precedence, signals, start-up errors.
//! - `scenario`: every switch flipped on a running rig, `state`, `--json`, mistakes;
//!   `scripts/scenario.sh`.
//! - `presets`: the failure presets (`as-down`, `clock`, `step-up`, …) and fault rules through
//!   the binary, each shown to change what a client sees.
//! - `journal`: `scenario events` and `scenario watch`, `JOURNAL_SIZE`.
//! - `tls`: `certs` then HTTPS, verified with `ca.pem` only; the library's generated CA.
//! - `tunnel`: public base URLs, loopback introspection, the guarded control plane;
//!   `scripts/tunnel.sh` with a stand-in for cloudflared.
//! - `sim`: a full flow through `Sim`, each typed `Control` switch, drop and stop.
//! - `dashboard`: the dashboard over HTTP: the page, `/api/scenario` and its equivalent lines,
//!   the guard (CSRF, Origin, sessions), `/api/events`.
//! - `control`: the typed `Control` calls for fault rules, the clock, consent, reuse detection,
//!   tool scopes, the journal and its live stream.

mod binary;
mod control;
mod dashboard;
mod docs;
mod journal;
mod presets;
mod scenario;
mod sim;
mod state_file;
mod support;
mod tls;
mod tunnel;
