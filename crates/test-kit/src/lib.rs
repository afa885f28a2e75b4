//! What the rig's test suites share, so that no suite writes its own copy: the OAuth flow a
//! client runs against the authorization server ([`oauth`]), a throwaway certificate authority
//! ([`pki`]), exchanges over a bare socket ([`raw`]), a host for the documents a client points
//! the authorization server at ([`documents`]), and a tunnel's stand-in ([`forward`]).
//!
//! Each suite keeps its own rig type (which servers it starts, how it names URLs); this crate
//! holds the steps those types are made of. `publish = false`: it is a dev-dependency only.

pub mod documents;
pub mod forward;
pub mod oauth;
pub mod pki;
pub mod raw;
