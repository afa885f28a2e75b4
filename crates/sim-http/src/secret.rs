//! Random tokens and secret comparison.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRngCore;
use rand::rngs::OsRng;
use subtle::ConstantTimeEq;

/// A fresh 256-bit token from the operating system's RNG, base64url without padding (43 chars).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // An OS RNG that cannot deliver is not something a token issuer can work around.
    OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system's RNG failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Compares two secrets without leaking, through timing, how much of them matched.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// A token shortened for logs and journals: enough to tell tokens apart, too little to use one.
pub fn redact(secret: &str) -> String {
    let prefix: String = secret.chars().take(6).collect();
    format!("{prefix}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_url_safe_and_distinct() {
        let a = random_token();
        let b = random_token();
        assert_eq!(a.len(), 43);
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(a, b);
    }

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq("s3cret", "s3cret"));
        assert!(!constant_time_eq("s3cret", "s3creT"));
        assert!(!constant_time_eq("s3cret", "s3cret-longer"));
        assert!(!constant_time_eq("", "x"));
    }

    #[test]
    fn redact_keeps_a_short_prefix_only() {
        assert_eq!(redact("abcdefghijklmnop"), "abcdef…");
        assert_eq!(redact("ab"), "ab…");
    }
}
