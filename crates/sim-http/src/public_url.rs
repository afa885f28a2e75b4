//! The one rule for a URL a server announces (an issuer, a base URL, an endpoint).

use url::Url;

/// Parses `value` as an absolute `http(s)` URL with a host and without query or fragment;
/// the error names `what` the value was meant to be.
pub fn parse(what: &str, value: &str) -> Result<Url, String> {
    let url =
        Url::parse(value).map_err(|error| format!("{what} '{value}' is not a URL: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("{what} '{value}' must be an http(s) URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "{what} '{value}' must not have a query or fragment"
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_http_and_https_origins_and_paths() {
        for ok in ["http://localhost:9100", "https://x.example/base"] {
            assert!(parse("issuer", ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_other_schemes_queries_fragments_and_garbage_naming_the_value() {
        for bad in [
            "ftp://x",
            "https://x/?a=1",
            "https://x/#f",
            "not a url",
            "mailto:a@b",
        ] {
            let error = parse("issuer", bad).unwrap_err();
            assert!(error.starts_with(&format!("issuer '{bad}'")), "{error}");
        }
    }
}
