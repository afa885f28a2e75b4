//! Everything the server hands out as a credential — client ids and secrets, codes, access and
//! refresh tokens — is 32 fresh random bytes, base64url: nothing a client could guess or derive.

use std::collections::HashSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::support::{Pkce, Rig, query_param};

fn assert_256_random_bits(what: &str, value: &str, seen: &mut HashSet<String>) {
    let bytes = URL_SAFE_NO_PAD
        .decode(value)
        .unwrap_or_else(|error| panic!("{what} {value} is not base64url: {error}"));
    assert_eq!(bytes.len(), 32, "{what} {value}");
    assert!(
        seen.insert(value.to_owned()),
        "{what} {value} was handed out twice"
    );
}

#[tokio::test]
async fn client_ids_secrets_codes_and_tokens_are_distinct_256_bit_values() {
    // Arrange
    let rig = Rig::start().await;
    let mut seen = HashSet::new();

    for _ in 0..20 {
        // Act
        let client = rig.client_with("client_secret_post").await;
        let pkce = Pkce::new();
        let redirect = rig.authorize(&client, &pkce, &[]).await;
        let code = query_param(&redirect, "code").unwrap();
        let (_, body) = rig
            .token(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", &pkce.verifier),
                ("redirect_uri", crate::support::REDIRECT_URI),
                ("client_id", &client.id),
                ("client_secret", client.secret.as_deref().unwrap()),
            ])
            .await;

        // Assert
        assert_256_random_bits("client id", &client.id, &mut seen);
        assert_256_random_bits(
            "client secret",
            client.secret.as_deref().unwrap(),
            &mut seen,
        );
        assert_256_random_bits("code", &code, &mut seen);
        for field in ["access_token", "refresh_token"] {
            let token = body[field]
                .as_str()
                .unwrap_or_else(|| panic!("{field}: {body}"));
            assert_256_random_bits(field, token, &mut seen);
        }
    }
}
