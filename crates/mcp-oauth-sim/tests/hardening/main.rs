//! Hardening: both servers fed bad input. Every answer must be the status and error code the
//! specs name (SPEC-CHECKLIST.md), never a 5xx, and the rig must still serve a whole flow
//! afterwards.
//!
//! # Layout
//! - `support`: the rig (`Sim::builder()` on 127.0.0.1), a raw request type, the expected
//!   answer of a case and the check of an actual answer against it, and a full flow.
//! - `table`: the bad-input table, endpoint by endpoint: wrong methods, parameters, content
//!   types, bodies, headers, PKCE, codes, redirect URIs, client authentication, bearer schemes,
//!   JSON-RPC garbage and control-plane JSON. It prints how many cases ran and how many failed.
//! - `props`: property tests of whole requests (random method, path, headers, body) against
//!   each endpoint, asserting no 5xx and a rig still alive.

mod props;
mod support;
mod table;
