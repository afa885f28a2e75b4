//! Local certificates: a CA of our own and a leaf for the loopback names, so that both servers can
//! serve HTTPS that a client verifies properly instead of switching verification off.
//!
//! A CA (rather than a self-signed leaf) because clients trust a CA file the same way they trust a
//! system CA (`NODE_EXTRA_CA_CERTS`, `SSL_CERT_FILE`, `curl --cacert`), and a fresh leaf can be
//! issued without asking anyone to trust anything again.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, IsCa, Issuer,
    KeyPair, KeyUsagePurpose,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sim_http::tls::{Tls, TlsError};

/// The CA certificate, in the certificate directory.
pub const CA_FILE: &str = "ca.pem";
/// The leaf certificate chain (leaf, then CA).
pub const CERT_FILE: &str = "localhost.pem";
/// The leaf's private key (PKCS #8).
pub const KEY_FILE: &str = "localhost-key.pem";
/// The CA's private key, kept so that the next leaf can be signed by the same CA.
const CA_KEY_FILE: &str = "ca-key.pem";

/// The names the leaf is valid for: every way a local client addresses the rig.
pub const LEAF_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Why certificates could not be made, written or read.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// rcgen could not make a key or sign a certificate.
    #[error("cannot generate certificates: {0}")]
    Generate(#[from] rcgen::Error),
    /// A certificate or key file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        source: io::Error,
    },
    /// A PEM file could not be read or parsed.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong reading it.
        source: rustls_pki_types::pem::Error,
    },
    /// The certificates do not make a TLS configuration (a key that does not match, …).
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// A CA and a leaf signed by it, in memory.
#[derive(Clone)]
pub struct Pki {
    ca_pem: String,
    ca_key_pem: String,
    leaf_pem: String,
    leaf_key_pem: String,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pki(..)")
    }
}

impl Pki {
    /// A new CA and a leaf for [`LEAF_NAMES`].
    pub fn generate() -> Result<Self, CertError> {
        let ca_key = KeyPair::generate()?;
        let ca_key_pem = ca_key.serialize_pem();
        let ca = CertifiedIssuer::self_signed(ca_params(), ca_key)?;
        Self::issue_leaf(&ca, ca.pem(), ca_key_pem)
    }

    /// A new leaf signed by a CA read from PEM, so that a regenerated leaf is trusted wherever
    /// the CA already is.
    ///
    /// The issuer is rebuilt from the same parameters the CA was made with (name, key
    /// identifier method, key usages) and its key, which is all a signature needs; so only a
    /// CA this module wrote can be renewed from.
    fn renew(ca_pem: &str, ca_key_pem: &str) -> Result<Self, CertError> {
        let ca = Issuer::new(ca_params(), KeyPair::from_pem(ca_key_pem)?);
        Self::issue_leaf(&ca, ca_pem.to_owned(), ca_key_pem.to_owned())
    }

    fn issue_leaf(
        ca: &Issuer<'_, KeyPair>,
        ca_pem: String,
        ca_key_pem: String,
    ) -> Result<Self, CertError> {
        let mut params = CertificateParams::new(
            LEAF_NAMES
                .iter()
                .map(|name| (*name).to_owned())
                .collect::<Vec<_>>(),
        )?;
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "mcp-oauth-sim localhost");
        let key = KeyPair::generate()?;
        let leaf = params.signed_by(&key, ca)?;
        Ok(Self {
            // The chain a server presents: the leaf, then the CA, which some clients like to see.
            leaf_pem: format!("{}{ca_pem}", leaf.pem()),
            ca_pem,
            ca_key_pem,
            leaf_key_pem: key.serialize_pem(),
        })
    }

    /// The CA certificate as PEM: what a client must trust.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The CA certificate as DER.
    pub fn ca_der(&self) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(self.ca_pem.as_bytes())
            .expect("a PEM this module wrote parses")
    }

    /// A server TLS configuration presenting the leaf.
    pub fn tls(&self) -> Result<Tls, CertError> {
        let chain = CertificateDer::pem_slice_iter(self.leaf_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("a PEM this module wrote parses");
        let key = PrivateKeyDer::from_pem_slice(self.leaf_key_pem.as_bytes())
            .expect("a PEM this module wrote parses");
        Ok(Tls::from_der(chain, key)?)
    }

    /// Writes the four files into `dir`, creating it; private keys readable by the owner only.
    pub fn write(&self, dir: &Path) -> Result<(), CertError> {
        fs::create_dir_all(dir).map_err(|source| CertError::Write {
            path: dir.to_owned(),
            source,
        })?;
        for (name, contents, private) in [
            (CA_FILE, &self.ca_pem, false),
            (CA_KEY_FILE, &self.ca_key_pem, true),
            (CERT_FILE, &self.leaf_pem, false),
            (KEY_FILE, &self.leaf_key_pem, true),
        ] {
            let path = dir.join(name);
            write_file(&path, contents, private)
                .map_err(|source| CertError::Write { path, source })?;
        }
        Ok(())
    }
}

/// Writes certificates into `dir`: a new leaf from the CA already there (so trust set up before
/// keeps working) unless `new_ca`, else a new CA and leaf. Returns whether the CA is new.
pub fn write_dir(dir: &Path, new_ca: bool) -> Result<bool, CertError> {
    let existing = if new_ca {
        None
    } else {
        fs::read_to_string(dir.join(CA_FILE))
            .ok()
            .zip(fs::read_to_string(dir.join(CA_KEY_FILE)).ok())
    };
    let (pki, new_ca) = match existing {
        Some((ca, key)) => match Pki::renew(&ca, &key) {
            Ok(pki) => (pki, false),
            // An unreadable CA is replaced rather than fatal: the command exists to get a
            // working set of files.
            Err(_) => (Pki::generate()?, true),
        },
        None => (Pki::generate()?, true),
    };
    pki.write(dir)?;
    Ok(new_ca)
}

/// The certificate and key files in `dir`, if both exist: their presence switches HTTPS on.
pub fn files_in(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let cert = dir.join(CERT_FILE);
    let key = dir.join(KEY_FILE);
    (cert.is_file() && key.is_file()).then_some((cert, key))
}

/// Every certificate in a PEM file, for trusting it (a CA file, or a chain whose last member is
/// the issuer).
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, CertError> {
    CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|source| CertError::Read {
            path: path.to_owned(),
            source,
        })
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
        .distinguished_name
        .push(DnType::CommonName, "mcp-oauth-sim local CA");
    params
}

fn write_file(path: &Path, contents: &str, private: bool) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    io::Write::write_all(&mut options.open(path)?, contents.as_bytes())
}

/// The certificates directory a start looks in unless `CERTS_DIR` says otherwise.
pub const DEFAULT_DIR: &str = "certs";

/// How to make clients trust the CA in `dir`, printed after `certs`: the curl line names the
/// authorization server's port, and the last line says which start picks the files up — only
/// `./certs` is found without `CERTS_DIR`.
pub fn trust_instructions(dir: &Path, oauth_port: u16) -> String {
    let ca = dir.join(CA_FILE);
    let ca = fs::canonicalize(&ca).unwrap_or(ca);
    let ca = ca.display();
    let next_start = if dir == Path::new(DEFAULT_DIR) {
        "The next `mcp-oauth-sim` start from this directory (it looks in ./certs) serves HTTPS \
         on both ports."
            .to_owned()
    } else {
        format!(
            "A start with CERTS_DIR={dir} (or --certs-dir {dir}) serves HTTPS on both ports; \
             without it, only ./certs is looked in.",
            dir = dir.display()
        )
    };
    format!(
        "Trust the CA, once per client:\n  \
         Node (TypeScript SDK, MCP Inspector):  export NODE_EXTRA_CA_CERTS={ca}\n  \
         Python (httpx), OpenSSL tools:         export SSL_CERT_FILE={ca}\n  \
         curl:                                  curl --cacert {ca} https://localhost:{oauth_port}/.well-known/oauth-authorization-server\n  \
         Rust (reqwest):                        Certificate::from_pem(&std::fs::read(\"{ca}\")?)\n  \
         macOS keychain (browsers, Claude Code): sudo security add-trusted-cert -d -r trustRoot \\\n      \
         -k /Library/Keychains/System.keychain {ca}\n\
         {next_start}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_name_the_port_and_the_start_that_finds_the_files() {
        let default = trust_instructions(Path::new(DEFAULT_DIR), 9100);
        assert!(
            default.contains("https://localhost:9100/.well-known"),
            "{default}"
        );
        assert!(
            default.contains("start from this directory (it looks in ./certs)"),
            "{default}"
        );
        let other = trust_instructions(Path::new("/tmp/rig-certs"), 19100);
        assert!(
            other.contains("https://localhost:19100/.well-known"),
            "{other}"
        );
        assert!(
            other.contains("A start with CERTS_DIR=/tmp/rig-certs (or --certs-dir /tmp/rig-certs)"),
            "{other}"
        );
        assert!(!other.contains("in this directory"), "{other}");
    }

    #[test]
    fn renewing_keeps_the_ca_and_replaces_the_leaf() {
        let dir = std::env::temp_dir().join(format!("sim-certs-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        assert!(
            write_dir(&dir, false).unwrap(),
            "a fresh directory gets a new CA"
        );
        let ca = fs::read_to_string(dir.join(CA_FILE)).unwrap();
        let leaf = fs::read_to_string(dir.join(CERT_FILE)).unwrap();
        assert!(!write_dir(&dir, false).unwrap(), "the CA is reused");
        assert_eq!(fs::read_to_string(dir.join(CA_FILE)).unwrap(), ca);
        assert_ne!(fs::read_to_string(dir.join(CERT_FILE)).unwrap(), leaf);
        assert!(files_in(&dir).is_some());
        assert!(write_dir(&dir, true).unwrap(), "--new-ca replaces the CA");
        assert_ne!(fs::read_to_string(dir.join(CA_FILE)).unwrap(), ca);
        assert_eq!(read_certificates(&dir.join(CERT_FILE)).unwrap().len(), 2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the key is private: {mode:o}");
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_files_mean_plain_http() {
        assert!(files_in(Path::new("/nonexistent/certs")).is_none());
    }
}
