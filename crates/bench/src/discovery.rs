//! Standard discovery, as an MCP client does it: the 401 challenge's `resource_metadata`
//! (RFC 9728 §5.1), the protected-resource metadata, then the authorization server's metadata
//! (RFC 8414, with the OpenID Connect fallbacks the MCP specification lists).

use bytes::Bytes;
use http::StatusCode;
use http::header::{self, HeaderValue};
use serde::Deserialize;
use url::Url;

use crate::Error;
use crate::http::{Conn, Connector, get, origin_of, path_and_query, post};
use crate::mcp;

/// What a client needs to know to obtain a token for an MCP server.
#[derive(Clone, Debug)]
pub struct Discovered {
    /// The resource identifier (RFC 8707) to ask a token for.
    pub resource: String,
    pub issuer: String,
    pub authorization_endpoint: Url,
    pub token_endpoint: Url,
    pub registration_endpoint: Option<Url>,
    /// The scope to request: the challenge's, else every scope the metadata lists.
    pub scope: Option<String>,
}

#[derive(Deserialize)]
struct ResourceMetadata {
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    authorization_servers: Vec<String>,
    #[serde(default)]
    scopes_supported: Vec<String>,
}

#[derive(Deserialize)]
struct ServerMetadata {
    #[serde(default)]
    issuer: Option<String>,
    authorization_endpoint: Url,
    token_endpoint: Url,
    #[serde(default)]
    registration_endpoint: Option<Url>,
}

/// Discovers the authorization server protecting the MCP server at `mcp_url`.
pub async fn discover(connector: &Connector, mcp_url: &Url) -> Result<Discovered, Error> {
    let mut conn = Conn::new(origin_of(mcp_url)?, connector.clone());
    let mut request = post(
        &path_and_query(mcp_url),
        "application/json",
        Bytes::from(mcp::initialize_body()),
    );
    request
        .headers_mut()
        .insert(header::ACCEPT, HeaderValue::from_static(mcp::ACCEPT));
    let reply = conn.send(request).await?;
    if reply.status != StatusCode::UNAUTHORIZED {
        return Err(Error::Protocol(format!(
            "{mcp_url} answered an unauthenticated request with {}, not 401: is it protected?",
            reply.status
        )));
    }
    let challenge = reply.header(header::WWW_AUTHENTICATE).unwrap_or_default();
    let challenge_scope = challenge_param(challenge, "scope");
    let candidates = match challenge_param(challenge, "resource_metadata") {
        Some(url) => vec![Url::parse(&url).map_err(|error| {
            Error::Protocol(format!("resource_metadata '{url}' is not a URL: {error}"))
        })?],
        None => well_known(mcp_url, "oauth-protected-resource"),
    };
    let (prm_url, prm): (Url, ResourceMetadata) = fetch_first(connector, &candidates).await?;
    let issuer = prm
        .authorization_servers
        .first()
        .ok_or_else(|| Error::Protocol(format!("{prm_url} names no authorization_servers")))?;
    let issuer_url = Url::parse(issuer)
        .map_err(|error| Error::Protocol(format!("issuer '{issuer}' is not a URL: {error}")))?;
    let mut candidates = well_known(&issuer_url, "oauth-authorization-server");
    candidates.extend(openid_configuration(&issuer_url));
    let (_, metadata): (Url, ServerMetadata) = fetch_first(connector, &candidates).await?;
    let scope = challenge_scope
        .or_else(|| (!prm.scopes_supported.is_empty()).then(|| prm.scopes_supported.join(" ")));
    Ok(Discovered {
        resource: prm.resource.unwrap_or_else(|| mcp_url.to_string()),
        issuer: metadata.issuer.unwrap_or_else(|| issuer.clone()),
        authorization_endpoint: metadata.authorization_endpoint,
        token_endpoint: metadata.token_endpoint,
        registration_endpoint: metadata.registration_endpoint,
        scope,
    })
}

/// GETs each URL in turn and parses the first that answers 200.
async fn fetch_first<T: for<'de> Deserialize<'de>>(
    connector: &Connector,
    candidates: &[Url],
) -> Result<(Url, T), Error> {
    let mut tried = Vec::new();
    for url in candidates {
        let mut conn = Conn::new(origin_of(url)?, connector.clone());
        let reply = conn.send(get(&path_and_query(url))).await?;
        if reply.status == StatusCode::OK {
            let document = serde_json::from_slice(&reply.body).map_err(|error| {
                Error::Protocol(format!("{url} is not the metadata expected: {error}"))
            })?;
            return Ok((url.clone(), document));
        }
        tried.push(format!("{url} ({})", reply.status.as_u16()));
    }
    Err(Error::Protocol(format!(
        "no metadata found at {}",
        tried.join(", ")
    )))
}

/// RFC 8414 §3 / RFC 9728 §3: the well-known suffix is inserted between the host and the path.
fn well_known(url: &Url, suffix: &str) -> Vec<Url> {
    let path = url.path().trim_end_matches('/');
    let mut inserted = url.clone();
    inserted.set_query(None);
    inserted.set_fragment(None);
    inserted.set_path(&format!("/.well-known/{suffix}{path}"));
    let mut candidates = vec![inserted.clone()];
    if !path.is_empty() {
        inserted.set_path(&format!("/.well-known/{suffix}"));
        candidates.push(inserted);
    }
    candidates
}

/// The OpenID Connect discovery locations the MCP specification has clients try after RFC 8414.
fn openid_configuration(issuer: &Url) -> Vec<Url> {
    let path = issuer.path().trim_end_matches('/');
    let mut url = issuer.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.set_path(&format!("/.well-known/openid-configuration{path}"));
    let mut candidates = vec![url.clone()];
    if !path.is_empty() {
        url.set_path(&format!("{path}/.well-known/openid-configuration"));
        candidates.push(url);
    }
    candidates
}

/// The value of the auth-param `name` in a `WWW-Authenticate` header (RFC 9110 §11.6.1),
/// whichever challenge carries it: quoted strings are unescaped, token values taken as they are.
pub fn challenge_param(header: &str, name: &str) -> Option<String> {
    let bytes = header.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        // Skip separators, then read a token: a scheme, a token68 or a parameter name.
        while at < bytes.len() && matches!(bytes[at], b' ' | b'\t' | b',') {
            at += 1;
        }
        let start = at;
        while at < bytes.len() && !matches!(bytes[at], b' ' | b'\t' | b',' | b'=') {
            at += 1;
        }
        let token = &header[start..at];
        let mut after = at;
        while after < bytes.len() && matches!(bytes[after], b' ' | b'\t') {
            after += 1;
        }
        if after >= bytes.len() || bytes[after] != b'=' {
            continue; // a scheme name
        }
        at = after + 1;
        while at < bytes.len() && matches!(bytes[at], b' ' | b'\t') {
            at += 1;
        }
        let value = if bytes.get(at) == Some(&b'"') {
            let mut value = String::new();
            let mut chars = header[at + 1..].char_indices();
            let mut end = header.len();
            while let Some((offset, ch)) = chars.next() {
                match ch {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => {
                        end = at + 1 + offset + 1;
                        break;
                    }
                    _ => value.push(ch),
                }
            }
            at = end;
            value
        } else {
            let start = at;
            while at < bytes.len() && !matches!(bytes[at], b' ' | b'\t' | b',') {
                at += 1;
            }
            header[start..at].to_owned()
        };
        if token.eq_ignore_ascii_case(name) {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_metadata_is_read_from_the_challenge() {
        let header = r#"Bearer resource_metadata="http://localhost:9101/.well-known/oauth-protected-resource/mcp", scope="mcp:tools""#;
        assert_eq!(
            challenge_param(header, "resource_metadata").as_deref(),
            Some("http://localhost:9101/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(
            challenge_param(header, "scope").as_deref(),
            Some("mcp:tools")
        );
        assert_eq!(challenge_param(header, "error"), None);
    }

    #[test]
    fn challenge_params_tolerate_case_tokens_escapes_and_other_challenges() {
        let header = r#"Basic realm="a, b", Bearer error=invalid_token, RESOURCE_METADATA = "http://x/\"q\"", scope="a b""#;
        assert_eq!(
            challenge_param(header, "error").as_deref(),
            Some("invalid_token")
        );
        assert_eq!(
            challenge_param(header, "resource_metadata").as_deref(),
            Some(r#"http://x/"q""#)
        );
        assert_eq!(challenge_param(header, "realm").as_deref(), Some("a, b"));
        assert_eq!(challenge_param(header, "scope").as_deref(), Some("a b"));
        // The SDK's order: error first, resource_metadata last.
        let sdk = r#"Bearer error="invalid_token", error_description="Missing Authorization header", resource_metadata="http://localhost:3000/.well-known/oauth-protected-resource/mcp""#;
        assert_eq!(
            challenge_param(sdk, "resource_metadata").as_deref(),
            Some("http://localhost:3000/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(challenge_param("Bearer", "scope"), None);
        assert_eq!(challenge_param("", "scope"), None);
        assert_eq!(
            challenge_param(r#"Bearer scope="unterminated"#, "scope").as_deref(),
            Some("unterminated")
        );
    }

    #[test]
    fn well_known_urls_insert_the_suffix_before_the_path() {
        let urls = well_known(
            &Url::parse("http://localhost:3000/mcp").unwrap(),
            "oauth-protected-resource",
        );
        let urls: Vec<&str> = urls.iter().map(Url::as_str).collect();
        assert_eq!(
            urls,
            [
                "http://localhost:3000/.well-known/oauth-protected-resource/mcp",
                "http://localhost:3000/.well-known/oauth-protected-resource",
            ]
        );
        let issuer = Url::parse("http://localhost:3001/").unwrap();
        let urls = well_known(&issuer, "oauth-authorization-server");
        assert_eq!(
            urls[0].as_str(),
            "http://localhost:3001/.well-known/oauth-authorization-server"
        );
        assert_eq!(urls.len(), 1);
        let tenant = Url::parse("https://id.example/tenant1").unwrap();
        let urls: Vec<String> = openid_configuration(&tenant)
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            urls,
            [
                "https://id.example/.well-known/openid-configuration/tenant1",
                "https://id.example/tenant1/.well-known/openid-configuration",
            ]
        );
    }
}
