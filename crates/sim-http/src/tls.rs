//! TLS from PEM files, and the client side for links between our own servers.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// Why a certificate or key could not be loaded. The message names the file, so that the binary
/// can print it as the one line a user sees.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file could not be read or parsed as PEM certificates.
    #[error("cannot read certificate file {path}: {source}")]
    Certificate {
        /// The certificate file.
        path: PathBuf,
        /// What went wrong reading it.
        source: rustls_pki_types::pem::Error,
    },
    /// The certificate file was read but holds no certificate; holds its path.
    #[error("certificate file {0} holds no certificate")]
    NoCertificate(PathBuf),
    /// The key file could not be read or holds no PEM private key.
    #[error("cannot read private key file {path}: {source}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// What went wrong reading it.
        source: rustls_pki_types::pem::Error,
    },
    /// rustls refused the certificate chain and key, e.g. a key that does not match the
    /// certificate.
    #[error("certificate and key do not form a usable TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// A server-side TLS configuration, ready to accept connections.
#[derive(Clone)]
pub struct Tls(TlsAcceptor);

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls(..)")
    }
}

impl Tls {
    /// Serves the certificate chain in `cert` (leaf first) with the private key in `key`.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        acceptor_from_pem_files(cert, key).map(Self)
    }

    /// Serves an already parsed chain and key.
    pub fn from_der(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, TlsError> {
        acceptor(chain, key).map(Self)
    }

    pub(crate) fn acceptor(&self) -> &TlsAcceptor {
        &self.0
    }
}

fn acceptor_from_pem_files(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|source| TlsError::Certificate {
            path: cert.to_owned(),
            source,
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(cert.to_owned()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|source| TlsError::Key {
        path: key.to_owned(),
        source,
    })?;
    acceptor(chain, key)
}

/// Offers h2 and HTTP/1.1 by ALPN.
fn acceptor(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<TlsAcceptor, TlsError> {
    // Name the crypto provider explicitly: when several are compiled in (reqwest and rmcp pull in
    // their own), rustls refuses to guess a process default.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A TLS client configuration that trusts the platform's roots plus `extra_roots` (the rig's own
/// CA, a served chain), for clients that speak HTTPS to one of our servers or a peer. HTTP/1.1
/// only: no ALPN is offered.
pub fn client_connector(
    extra_roots: impl IntoIterator<Item = CertificateDer<'static>>,
) -> Result<TlsConnector, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(
        extra_roots,
        Arc::clone(&provider),
    )
    .map_err(|error| error.to_string())?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}
