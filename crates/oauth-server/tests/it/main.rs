//! Integration tests of the authorization server: the real server on 127.0.0.1:0, driven over
//! HTTP by reqwest exactly as a client would.

mod support;

mod authorize;
mod clients;
mod clock;
mod cohost;
mod consent;
mod consent_page;
mod control;
mod documents;
mod entropy;
mod faults;
mod introspect_revoke;
mod issuers;
mod journal;
mod memory;
mod metadata;
mod profile;
mod races;
mod register;
mod repoint;
mod reuse_detection;
mod saved;
mod tls;
mod token;
mod without_user;
