//! One file per scenario, each `pub async fn run(Scheme)`, numbered as in the result files: the
//! seed table's 1–8, then 9–11 driven by fault rules, per-tool scopes and the request journal.

pub mod as_down;
pub mod consent_denied;
pub mod dead_refresh;
pub mod first_connection;
pub mod insufficient_scope;
pub mod rate_limited;
pub mod refresh_on_expiry;
pub mod revoked_token;
pub mod rotation;
pub mod seeded_refresh;
pub mod step_up;
