//! One file per endpoint.

pub mod control;
pub mod mcp;
pub mod metadata;
