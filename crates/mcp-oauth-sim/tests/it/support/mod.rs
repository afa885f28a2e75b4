//! How the tests run the binary and speak to a rig.
//!
//! - `launch`: the binary as a child process in a fresh directory, killed on drop.
//! - `caller`: a stand-in for the client under test (registration, PKCE, tokens, MCP calls).

mod caller;
mod launch;

pub use caller::*;
pub use launch::*;
