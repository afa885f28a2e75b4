//! Integration tests of the MCP server: the real authorization server and the real MCP server,
//! each on its own 127.0.0.1:0 listener, with real HTTP between them, driven over HTTP by
//! reqwest exactly as a client would.

mod support;

mod auth;
mod authorization_servers;
mod base_url;
mod cohost;
mod control;
mod drain;
mod faults;
mod journal;
mod metadata;
mod migration;
mod outage;
mod profile;
mod saved;
mod scope;
mod step_up;
mod tls;
mod tools;
