//! PKCE (RFC 7636), S256 only: OAuth 2.1 and the MCP spec refuse `plain`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use sim_http::secret::constant_time_eq;

/// The one method the rig accepts.
pub const S256: &str = "S256";

/// Whether `verifier` has the form RFC 7636 §4.1 prescribes: 43 to 128 unreserved characters.
pub fn is_valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len()) && verifier.bytes().all(is_unreserved)
}

/// Whether `challenge` can be an S256 challenge: the base64url (unpadded) form of a SHA-256
/// digest, which is always 43 characters.
pub fn is_valid_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && URL_SAFE_NO_PAD
            .decode(challenge)
            .is_ok_and(|digest| digest.len() == 32)
}

/// The S256 challenge of a verifier.
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `verifier` is the one `challenge` was made from.
pub fn verify_s256(verifier: &str, challenge: &str) -> bool {
    constant_time_eq(&s256_challenge(verifier), challenge)
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn s256_matches_the_rfc_example() {
        assert_eq!(s256_challenge(VERIFIER), CHALLENGE);
        assert!(verify_s256(VERIFIER, CHALLENGE));
    }

    #[test]
    fn wrong_verifier_or_plain_challenge_fails() {
        let other = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK";
        assert!(!verify_s256(other, CHALLENGE));
        // A client that sent the verifier itself as the challenge (`plain`) does not verify.
        assert!(!verify_s256(VERIFIER, VERIFIER));
    }

    #[test]
    fn verifier_form_is_enforced() {
        assert!(is_valid_verifier(VERIFIER));
        assert!(is_valid_verifier(&"a".repeat(128)));
        assert!(!is_valid_verifier(&"a".repeat(42)));
        assert!(!is_valid_verifier(&"a".repeat(129)));
        assert!(!is_valid_verifier(&format!("{}+/", &VERIFIER[..41])));
    }

    #[test]
    fn challenge_form_is_enforced() {
        assert!(is_valid_s256_challenge(CHALLENGE));
        assert!(!is_valid_s256_challenge(&CHALLENGE[..42]));
        assert!(!is_valid_s256_challenge(&format!("{}=", &CHALLENGE[..42])));
        assert!(!is_valid_s256_challenge(&"a".repeat(44)));
    }
}
