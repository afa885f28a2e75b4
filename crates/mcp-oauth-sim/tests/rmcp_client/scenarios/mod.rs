//! One file per scenario of the seed table, each `pub async fn run(Scheme)`, numbered as in the
//! result files.

pub mod consent_denied;
pub mod dead_refresh;
pub mod first_connection;
pub mod insufficient_scope;
pub mod refresh_on_expiry;
pub mod revoked_token;
pub mod rotation;
pub mod seeded_refresh;
