//! The JOSE the clients without a user need: public keys a client or an assertion issuer
//! registers (a JWK Set inline or at a URL), JWTs checked against them, and key pairs the rig
//! makes to sign its own tokens (ID tokens, ID-JAGs) or to hand to a client under test.
//!
//! Signatures and keys are `jsonwebtoken`'s; what is checked here is what it leaves to the
//! caller: the size of what comes in, which algorithms and keys are acceptable, and the claims,
//! timed by the rig's clock rather than the system's, so that moving the clock ages assertions
//! too.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm as JwkAlgorithm, PublicKeyUse,
    ThumbprintHash,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use url::Url;

/// The signing algorithms accepted and advertised
/// (`token_endpoint_auth_signing_alg_values_supported`).
pub const ALGORITHMS: [&str; 3] = ["ES256", "RS256", "EdDSA"];

/// The longest JWT read: a signed assertion is a few hundred bytes, an RSA one about a
/// kilobyte; anything near this is not an assertion.
pub const MAX_JWT_BYTES: usize = 8 * 1024;

/// Keys one JWK Set may hold.
pub const MAX_KEYS: usize = 16;

/// How far ahead an assertion's `exp` may be: an assertion is for one request, so a long-lived
/// one is a bearer credential in disguise.
pub const MAX_LIFETIME_SECS: u64 = 3600;

/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: u64 = 30;

/// The smallest RSA modulus accepted, in bytes (2048 bits).
const MIN_RSA_MODULUS: usize = 256;

/// Where a client's (or an assertion issuer's) public keys are.
#[derive(Clone, Debug)]
pub enum ClientKeys {
    /// Registered with the client (`jwks`).
    Inline(Arc<JwkSet>),
    /// Fetched from `jwks_uri` when needed, under the document-fetch policy.
    Uri(Url),
}

impl ClientKeys {
    /// The keys of registration metadata: `jwks` or `jwks_uri`, not both (RFC 7591 §2). `None`
    /// when neither is there.
    pub fn from_metadata(
        jwks: Option<&Value>,
        jwks_uri: Option<&Value>,
    ) -> Result<Option<Self>, String> {
        match (jwks, jwks_uri) {
            (Some(_), Some(_)) => Err("jwks and jwks_uri are exclusive; send one".to_owned()),
            (Some(jwks), None) => Ok(Some(Self::Inline(Arc::new(parse_jwks(jwks)?)))),
            (None, Some(Value::String(uri))) => {
                let url = Url::parse(uri).map_err(|error| format!("jwks_uri: {error}"))?;
                if !matches!(url.scheme(), "https" | "http") || url.fragment().is_some() {
                    return Err("jwks_uri must be an http(s) URL without a fragment".to_owned());
                }
                Ok(Some(Self::Uri(url)))
            }
            (None, Some(_)) => Err("jwks_uri must be a string".to_owned()),
            (None, None) => Ok(None),
        }
    }

    /// As the state shows it: the inline set, or the URL.
    pub fn describe(&self) -> Value {
        match self {
            Self::Inline(set) => serde_json::to_value(set.as_ref()).unwrap_or(Value::Null),
            Self::Uri(url) => Value::from(url.as_str()),
        }
    }
}

/// Reads a JWK Set of public signing keys: EC P-256, RSA of at least 2048 bits, or Ed25519. A
/// private member (`d`, RSA's primes) refuses the set: a client must never send its private key.
pub fn parse_jwks(value: &Value) -> Result<JwkSet, String> {
    let keys = value
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("jwks must be an object with a \"keys\" list")?;
    if keys.is_empty() || keys.len() > MAX_KEYS {
        return Err(format!("jwks must hold 1 to {MAX_KEYS} keys"));
    }
    let mut set = JwkSet::default();
    for key in keys {
        let object = key.as_object().ok_or("jwks: every key must be an object")?;
        if ["d", "p", "q", "dp", "dq", "qi", "k"]
            .iter()
            .any(|private| object.contains_key(*private))
        {
            return Err(
                "jwks: a key holds private material; register the public key only".to_owned(),
            );
        }
        let jwk: Jwk = serde_json::from_value(key.clone())
            .map_err(|error| format!("jwks: not a JWK: {error}"))?;
        check_key(&jwk)?;
        set.keys.push(jwk);
    }
    Ok(set)
}

/// Reads a fetched JWK Set; the error says what was wrong with the answer.
pub fn parse_jwks_bytes(body: &[u8]) -> Result<JwkSet, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|error| format!("not JSON: {error}"))?;
    parse_jwks(&value)
}

fn check_key(jwk: &Jwk) -> Result<(), String> {
    match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => Ok(()),
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => Ok(()),
        AlgorithmParameters::RSA(rsa) => {
            let modulus = URL_SAFE_NO_PAD
                .decode(&rsa.n)
                .map_err(|_| "jwks: an RSA modulus is not base64url".to_owned())?;
            let significant = modulus.iter().skip_while(|byte| **byte == 0).count();
            if significant < MIN_RSA_MODULUS {
                return Err("jwks: an RSA key must be at least 2048 bits".to_owned());
            }
            Ok(())
        }
        _ => Err("jwks: only EC P-256, RSA and Ed25519 (OKP) signing keys are accepted".to_owned()),
    }
}

/// The algorithms a key can verify.
fn key_fits(jwk: &Jwk, alg: Algorithm) -> bool {
    let family = matches!(
        (&jwk.algorithm, alg),
        (AlgorithmParameters::EllipticCurve(_), Algorithm::ES256)
            | (AlgorithmParameters::RSA(_), Algorithm::RS256)
            | (AlgorithmParameters::OctetKeyPair(_), Algorithm::EdDSA)
    );
    let declared = jwk.common.key_algorithm.is_none_or(|declared| {
        matches!(
            (declared, alg),
            (JwkAlgorithm::ES256, Algorithm::ES256)
                | (JwkAlgorithm::RS256, Algorithm::RS256)
                | (JwkAlgorithm::EdDSA, Algorithm::EdDSA)
        )
    });
    let for_signing = !matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption));
    family && declared && for_signing
}

/// The PKCS#8 v1 PEM of an Ed25519 key from its v2 DER (RFC 8410 §7: `OneAsymmetricKey` with
/// the public key): the 32-byte seed under the v1 header.
fn ed25519_v1_pem(v2: &[u8]) -> Option<String> {
    // SEQUENCE { INTEGER 1, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING seed } ...
    const V2_PREFIX: [u8; 16] = [
        0x30, 0x51, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    const V1_PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    let seed = v2.strip_prefix(&V2_PREFIX)?.get(..32)?;
    let der: Vec<u8> = V1_PREFIX.iter().chain(seed).copied().collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    Some(format!(
        "-----BEGIN PRIVATE KEY-----\n{encoded}\n-----END PRIVATE KEY-----\n"
    ))
}

/// A JWT read without its signature checked: what says which client or issuer to check it
/// against. Both parts are JSON objects.
#[derive(Debug)]
pub struct Unverified {
    /// The JOSE header.
    pub header: Map<String, Value>,
    /// The claims set.
    pub claims: Map<String, Value>,
}

/// Reads a compact JWS's header and claims, bounded; the error is for the answer.
pub fn peek(token: &str) -> Result<Unverified, String> {
    if token.len() > MAX_JWT_BYTES {
        return Err(format!("the JWT is longer than {MAX_JWT_BYTES} bytes"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not a JWT: a compact JWS has three dot-separated parts".to_owned());
    };
    let object = |part: &str, what: &str| -> Result<Map<String, Value>, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| format!("not a JWT: its {what} is not base64url"))?;
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(object)) => Ok(object),
            _ => Err(format!("not a JWT: its {what} is not a JSON object")),
        }
    };
    let header = object(header, "header")?;
    let claims = object(claims, "claims")?;
    match header.get("alg").and_then(Value::as_str) {
        None => return Err("the JWT header has no alg".to_owned()),
        Some(alg) if alg.eq_ignore_ascii_case("none") => {
            return Err("alg none is refused: the JWT must be signed".to_owned());
        }
        Some(alg) if !ALGORITHMS.contains(&alg) => {
            return Err(format!(
                "alg {alg} is not accepted; use one of {}",
                ALGORITHMS.join(", ")
            ));
        }
        Some(_) => {}
    }
    if signature.is_empty() {
        return Err("the JWT has no signature".to_owned());
    }
    Ok(Unverified { header, claims })
}

/// Checks `token`'s signature with one of `keys` (the one its `kid` names, else any that fits
/// its `alg`). Only the signature: the claims are the caller's, with [`Claims`].
pub fn verify(token: &str, keys: &JwkSet) -> Result<Unverified, String> {
    let read = peek(token)?;
    let header =
        jsonwebtoken::decode_header(token).map_err(|error| format!("the JWT header: {error}"))?;
    let alg = header.alg;
    // The key the token names; failing that, the keys that carry no id (a set may leave them
    // out), which the signature then decides between.
    let candidates: Vec<&Jwk> = match header.kid.as_deref().and_then(|kid| keys.find(kid)) {
        Some(named) => vec![named],
        None => keys
            .keys
            .iter()
            .filter(|jwk| header.kid.is_none() || jwk.common.key_id.is_none())
            .collect(),
    };
    let candidates: Vec<&Jwk> = candidates
        .into_iter()
        .filter(|jwk| key_fits(jwk, alg))
        .collect();
    if candidates.is_empty() {
        return Err(match &header.kid {
            Some(kid) => format!("no registered {alg:?} key has kid '{kid}'"),
            None => format!("no registered key can verify {alg:?}"),
        });
    }
    let mut validation = Validation::new(alg);
    // The claims are checked by the caller against the rig's clock and its own rules.
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.leeway = 0;
    for jwk in candidates {
        let Ok(key) = DecodingKey::from_jwk(jwk) else {
            continue;
        };
        if jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation).is_ok() {
            return Ok(read);
        }
    }
    Err("the signature does not verify with any registered key".to_owned())
}

/// The claims of a JWT, read as the checks need them.
pub struct Claims<'a>(pub &'a Map<String, Value>);

impl Claims<'_> {
    /// A string claim.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }

    /// `aud`, a string or a list of strings.
    pub fn audiences(&self) -> Vec<&str> {
        match self.0.get("aud") {
            Some(Value::String(aud)) => vec![aud.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// Whether `aud` names one of `accepted`.
    pub fn audience_is_one_of(&self, accepted: &[&str]) -> bool {
        self.audiences()
            .iter()
            .any(|audience| accepted.contains(audience))
    }

    fn seconds(&self, name: &str) -> Result<Option<u64>, String> {
        match self.0.get(name) {
            None => Ok(None),
            Some(value) => value
                .as_u64()
                .or_else(|| value.as_f64().filter(|v| *v >= 0.0).map(|v| v as u64))
                .map(Some)
                .ok_or_else(|| format!("{name} must be a NumericDate (seconds)")),
        }
    }

    /// `exp` present, not past and at most `max_lifetime` ahead; `nbf` and `iat` not in the
    /// future; all with [`LEEWAY_SECS`]. `now` is the rig clock, in seconds.
    pub fn check_times(&self, now: u64, max_lifetime: u64) -> Result<(), String> {
        let exp = self.seconds("exp")?.ok_or("the JWT has no exp")?;
        if exp.saturating_add(LEEWAY_SECS) <= now {
            return Err(format!("the JWT expired {} s ago", now - exp));
        }
        if exp > now.saturating_add(max_lifetime).saturating_add(LEEWAY_SECS) {
            return Err(format!(
                "the JWT's exp is {} s ahead; at most {max_lifetime} s is accepted",
                exp - now
            ));
        }
        for name in ["nbf", "iat"] {
            if let Some(at) = self.seconds(name)?
                && at > now.saturating_add(LEEWAY_SECS)
            {
                return Err(format!("the JWT's {name} is {} s in the future", at - now));
            }
        }
        Ok(())
    }

    /// When it expires, in seconds (after [`Claims::check_times`], present).
    pub fn exp(&self) -> u64 {
        self.seconds("exp").ok().flatten().unwrap_or(0)
    }
}

/// The algorithms the rig makes key pairs for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyAlgorithm {
    /// ECDSA with P-256 and SHA-256.
    #[default]
    ES256,
    /// Ed25519.
    EdDSA,
}

impl KeyAlgorithm {
    /// Its JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }
}

/// A key pair the rig made: it signs with it, and hands out the private half only to the
/// tester who asked for it.
pub struct KeyPair {
    alg: Algorithm,
    encoding: EncodingKey,
    private_pem: String,
    public: Jwk,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("alg", &self.alg)
            .field("kid", &self.kid())
            .finish_non_exhaustive()
    }
}

impl KeyPair {
    /// A fresh key pair from the OS RNG, its RFC 7638 thumbprint as `kid`.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self, String> {
        let failed = |error: String| format!("cannot make a {} key: {error}", algorithm.as_str());
        let (signature, alg) = match algorithm {
            KeyAlgorithm::ES256 => (&rcgen::PKCS_ECDSA_P256_SHA256, Algorithm::ES256),
            KeyAlgorithm::EdDSA => (&rcgen::PKCS_ED25519, Algorithm::EdDSA),
        };
        let pair = rcgen::KeyPair::generate_for(signature).map_err(|e| failed(e.to_string()))?;
        let private_pem = match algorithm {
            KeyAlgorithm::ES256 => pair.serialize_pem(),
            // rcgen writes Ed25519 keys as PKCS#8 v2 (the public key inside), which OpenSSL 3.0
            // and so Node cannot read: hand out the v1 form, the seed alone, which every
            // library reads (and which the signer below reads too).
            KeyAlgorithm::EdDSA => ed25519_v1_pem(&pair.serialize_der())
                .ok_or_else(|| failed("an unexpected Ed25519 key document".into()))?,
        };
        let encoding = match algorithm {
            KeyAlgorithm::ES256 => EncodingKey::from_ec_pem(private_pem.as_bytes()),
            KeyAlgorithm::EdDSA => EncodingKey::from_ed_pem(private_pem.as_bytes()),
        }
        .map_err(|e| failed(e.to_string()))?;
        // From the raw public key rather than `Jwk::from_encoding_key`, which reads Ed25519 keys
        // only in the PKCS#8 v1 form and rcgen writes v2.
        let raw = pair.public_key_raw();
        let public = match (algorithm, raw) {
            (KeyAlgorithm::ES256, [4, point @ ..]) if point.len() == 64 => json!({
                "kty": "EC", "crv": "P-256", "alg": "ES256",
                "x": URL_SAFE_NO_PAD.encode(&point[..32]),
                "y": URL_SAFE_NO_PAD.encode(&point[32..]),
            }),
            (KeyAlgorithm::EdDSA, key) if key.len() == 32 => json!({
                "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "x": URL_SAFE_NO_PAD.encode(key),
            }),
            _ => return Err(failed("an unexpected public key".into())),
        };
        let mut public: Jwk = serde_json::from_value(public).map_err(|e| failed(e.to_string()))?;
        let kid = public
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|e| failed(e.to_string()))?;
        public.common.key_id = Some(kid);
        public.common.public_key_use = Some(PublicKeyUse::Signature);
        Ok(Self {
            alg,
            encoding,
            private_pem,
            public,
        })
    }

    /// Its key id.
    pub fn kid(&self) -> &str {
        self.public.common.key_id.as_deref().unwrap_or_default()
    }

    /// Its JOSE algorithm name.
    pub fn algorithm(&self) -> &'static str {
        match self.alg {
            Algorithm::EdDSA => "EdDSA",
            _ => "ES256",
        }
    }

    /// The private key, PKCS#8 PEM: for the client under test, never for a log.
    pub fn private_pem(&self) -> &str {
        &self.private_pem
    }

    /// The public key.
    pub fn public_jwk(&self) -> &Jwk {
        &self.public
    }

    /// The public key as a one-key JWK Set.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.public.clone()],
        }
    }

    /// A JWT of `claims`, its header naming `typ` and this key's `kid`.
    pub fn sign(&self, typ: &str, claims: &Value) -> Result<String, String> {
        self.sign_as(typ, claims, self.kid())
    }

    /// A JWT of `claims` whose header names `kid`, whoever's key that is: what a forger who
    /// knows a registered key's id sends.
    pub fn sign_as(&self, typ: &str, claims: &Value, kid: &str) -> Result<String, String> {
        let mut header = Header::new(self.alg);
        header.typ = Some(typ.to_owned());
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|error| format!("cannot sign: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn signed(pair: &KeyPair, claims: Value) -> String {
        pair.sign("JWT", &claims).unwrap()
    }

    #[test]
    fn a_generated_key_verifies_what_it_signed_and_nothing_else() {
        for algorithm in [KeyAlgorithm::ES256, KeyAlgorithm::EdDSA] {
            let pair = KeyPair::generate(algorithm).unwrap();
            let other = KeyPair::generate(algorithm).unwrap();
            let token = signed(&pair, json!({"iss": "a", "exp": 10}));
            let read = verify(&token, &pair.jwks()).unwrap();
            assert_eq!(read.claims["iss"], "a");
            assert_eq!(read.header["kid"], pair.kid());
            let refused = verify(&token, &other.jwks()).unwrap_err();
            assert!(refused.contains("kid"), "{refused}");
            // The same key without its kid: tried by algorithm, and the signature decides.
            let mut anonymous = other.jwks();
            anonymous.keys[0].common.key_id = None;
            let refused = verify(&token, &anonymous).unwrap_err();
            assert!(refused.contains("signature"), "{refused}");
        }
    }

    #[test]
    fn an_ed25519_key_is_handed_out_in_the_pkcs8_v1_form_every_library_reads() {
        let pair = KeyPair::generate(KeyAlgorithm::EdDSA).unwrap();
        let body: String = pair
            .private_pem()
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        // SEQUENCE of 46 bytes, version 0: the seed alone, no public key.
        assert_eq!(&der[..5], &[0x30, 0x2e, 0x02, 0x01, 0x00]);
        assert_eq!(der.len(), 48);
        assert!(EncodingKey::from_ed_pem(pair.private_pem().as_bytes()).is_ok());
    }

    #[test]
    fn a_tampered_payload_and_alg_none_are_refused() {
        let pair = KeyPair::generate(KeyAlgorithm::ES256).unwrap();
        let token = signed(&pair, json!({"sub": "alice", "exp": 10}));
        let parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"sub":"mallory","exp":10}"#);
        let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);
        assert!(verify(&tampered, &pair.jwks()).is_err());
        let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        let unsigned = format!("{none}.{}.", parts[1]);
        assert!(peek(&unsigned).unwrap_err().contains("alg none"));
        let hs = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256"}"#);
        assert!(
            peek(&format!("{hs}.{}.c2ln", parts[1]))
                .unwrap_err()
                .contains("HS256")
        );
        assert!(peek("a.b").unwrap_err().contains("three"));
        assert!(
            peek(&"x".repeat(MAX_JWT_BYTES + 1))
                .unwrap_err()
                .contains("longer")
        );
    }

    #[test]
    fn times_are_read_against_the_given_clock() {
        let now = 1_000_000;
        let claims = |value: Value| value.as_object().unwrap().clone();
        let check = |value: Value| Claims(&claims(value)).check_times(now, 300);
        assert!(check(json!({"exp": now + 60})).is_ok());
        assert!(
            check(json!({"exp": now - LEEWAY_SECS - 1}))
                .unwrap_err()
                .contains("expired")
        );
        assert!(
            check(json!({"exp": now + 3600}))
                .unwrap_err()
                .contains("ahead")
        );
        assert!(check(json!({})).unwrap_err().contains("no exp"));
        assert!(
            check(json!({"exp": "soon"}))
                .unwrap_err()
                .contains("NumericDate")
        );
        assert!(
            check(json!({"exp": now + 60, "iat": now + 600}))
                .unwrap_err()
                .contains("iat")
        );
    }

    #[test]
    fn a_key_set_with_private_or_weak_keys_is_refused() {
        let pair = KeyPair::generate(KeyAlgorithm::ES256).unwrap();
        let public = serde_json::to_value(pair.jwks()).unwrap();
        assert_eq!(parse_jwks(&public).unwrap().keys.len(), 1);
        let mut private = public.clone();
        private["keys"][0]["d"] = json!("AAAA");
        assert!(parse_jwks(&private).unwrap_err().contains("private"));
        let weak = json!({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]});
        assert!(parse_jwks(&weak).unwrap_err().contains("2048"));
        let secret = json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]});
        assert!(parse_jwks(&secret).is_err());
        assert!(parse_jwks(&json!({"keys": []})).is_err());
        assert!(parse_jwks(&json!([1])).is_err());
        let many = json!({"keys": vec![public["keys"][0].clone(); MAX_KEYS + 1]});
        assert!(parse_jwks(&many).is_err());
    }

    #[test]
    fn metadata_names_keys_one_way() {
        let jwks =
            serde_json::to_value(KeyPair::generate(KeyAlgorithm::EdDSA).unwrap().jwks()).unwrap();
        let uri = json!("https://client.example/jwks.json");
        assert!(ClientKeys::from_metadata(Some(&jwks), Some(&uri)).is_err());
        assert!(matches!(
            ClientKeys::from_metadata(None, Some(&uri)).unwrap(),
            Some(ClientKeys::Uri(_))
        ));
        assert!(ClientKeys::from_metadata(None, Some(&json!("file:///etc/passwd"))).is_err());
        assert!(ClientKeys::from_metadata(None, None).unwrap().is_none());
    }
}
