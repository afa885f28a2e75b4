//! Which redirect URIs a client may register, and when a requested one matches.

use url::{Host, Url};

/// Checks a redirect URI offered at registration. Allowed: `https` URLs; `http` URLs on a loopback
/// host (RFC 8252 §7.3); and private-use schemes (RFC 8252 §7.1) such as
/// `com.example.app:/callback` or `cursor://…`, which desktop clients register. Never a fragment,
/// never a scheme that runs or embeds content.
pub fn check_registrable(uri: &str) -> Result<(), String> {
    let url =
        Url::parse(uri).map_err(|error| format!("'{uri}' is not an absolute URI ({error})"))?;
    if url.fragment().is_some() {
        return Err(format!(
            "'{uri}' has a fragment, which a redirect URI must not have"
        ));
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if url.host().is_some_and(|host| is_loopback(&host)) => Ok(()),
        "http" => Err(format!(
            "'{uri}' uses http on a non-loopback host; use https, or http on localhost/127.0.0.1/[::1]"
        )),
        "javascript" | "data" | "file" | "vbscript" | "about" | "blob" | "ws" | "wss" | "https" => {
            Err(format!(
                "'{uri}' uses a scheme that cannot be a redirect URI"
            ))
        }
        "ftp" | "mailto" | "tel" | "urn" => Err(format!(
            "'{uri}' uses a scheme that cannot be a redirect URI"
        )),
        // A private-use scheme, handed by the OS to the app that claimed it.
        _ => Ok(()),
    }
}

/// Whether a redirect URI sent to `/authorize` matches a registered one: exact string match,
/// except that for `http` on a loopback IP or `localhost` any port matches (RFC 8252 §7.3), since
/// native clients listen on a port the OS picks at run time.
pub fn matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(registered), Ok(requested)) = (Url::parse(registered), Url::parse(requested)) else {
        return false;
    };
    registered.scheme() == "http"
        && requested.scheme() == "http"
        && registered.host().is_some_and(|host| is_loopback(&host))
        && registered.host() == requested.host()
        && registered.path() == requested.path()
        && registered.query() == requested.query()
        && registered.fragment().is_none()
        && requested.fragment().is_none()
        && registered.username() == requested.username()
        && registered.password() == requested.password()
}

/// Whether `requested` is an `http` URI on a loopback host (`127.0.0.1`, `localhost`, `[::1]`),
/// any port and path, without user info or fragment: the rule of a client pre-registered with
/// `"any-loopback"`.
pub fn is_any_loopback(requested: &str) -> bool {
    let Ok(url) = Url::parse(requested) else {
        return false;
    };
    url.scheme() == "http"
        && url.host().is_some_and(|host| is_loopback(&host))
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none()
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrable_uris() {
        for ok in [
            "https://app.example.com/callback",
            "http://localhost:3000/callback",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
            "com.example.app:/oauth2redirect",
            "cursor://anysphere.cursor-retrieval/oauth/callback",
            "myapp:/callback",
        ] {
            assert!(check_registrable(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com/callback",
            "https://app.example.com/cb#frag",
            "javascript:alert(1)",
            "data:text/html,hi",
            "file:///etc/passwd",
            "mailto:someone@example.com",
            "/relative/callback",
            "not a uri",
        ] {
            assert!(check_registrable(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn exact_match_is_required_off_loopback() {
        let registered = "https://app.example.com/callback";
        assert!(matches(registered, registered));
        assert!(!matches(registered, "https://app.example.com/callbac"));
        assert!(!matches(registered, "https://app.example.com/callback/"));
        assert!(!matches(
            registered,
            "https://app.example.com:8443/callback"
        ));
        assert!(!matches(registered, "https://app.example.com/callback?x=1"));
        assert!(!matches(registered, "https://app.example.com/callback#x"));
    }

    #[test]
    fn any_loopback_takes_every_port_and_path_on_loopback_only() {
        for ok in [
            "http://127.0.0.1:1234/callback",
            "http://localhost/x/y?z=1",
            "http://[::1]:9/",
        ] {
            assert!(is_any_loopback(ok), "{ok}");
        }
        for bad in [
            "https://127.0.0.1/cb",
            "http://example.com/cb",
            "http://127.0.0.1/cb#f",
            "http://u:p@127.0.0.1/cb",
            "myapp:/cb",
        ] {
            assert!(!is_any_loopback(bad), "{bad}");
        }
    }

    #[test]
    fn loopback_matches_on_any_port_but_nothing_else_varies() {
        assert!(matches("http://127.0.0.1/cb", "http://127.0.0.1:49152/cb"));
        assert!(matches(
            "http://localhost:3000/cb",
            "http://localhost:61234/cb"
        ));
        assert!(matches("http://[::1]:1/cb", "http://[::1]:2/cb"));
        assert!(!matches("http://127.0.0.1/cb", "http://localhost:49152/cb"));
        assert!(!matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:49152/cb2"
        ));
        assert!(!matches(
            "http://127.0.0.1/cb",
            "https://127.0.0.1:49152/cb"
        ));
        assert!(!matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:49152/cb#x"
        ));
        assert!(!matches(
            "http://127.0.0.1/cb?a=1",
            "http://127.0.0.1:5/cb?a=2"
        ));
    }
}
