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

/// Whether `url` names this machine (`localhost`, `*.localhost`, a loopback address): a rig
/// announcing only such URLs is reachable by this machine's user alone, one announcing any other
/// is reachable from outside (through a tunnel, which connects over loopback itself).
pub fn is_loopback(url: &str) -> bool {
    let Ok(url) = Url::parse(url) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Domain(name)) => {
            name.eq_ignore_ascii_case("localhost")
                || name.to_ascii_lowercase().ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
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

    #[test]
    fn loopback_names_and_addresses_are_this_machine_and_the_rest_is_outside() {
        for local in [
            "http://localhost:9100",
            "https://rig.localhost",
            "http://127.0.0.9:1",
            "http://[::1]:9101",
        ] {
            assert!(is_loopback(local), "{local}");
        }
        for outside in [
            "https://abc.trycloudflare.com",
            "http://10.0.0.1",
            "http://localhost.example",
            "garbage",
        ] {
            assert!(!is_loopback(outside), "{outside}");
        }
    }
}
